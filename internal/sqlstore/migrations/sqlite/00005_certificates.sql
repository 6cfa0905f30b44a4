-- +goose Up
-- Device certificates: what the audit checks need, kept at registration so
-- that no check has to parse PEM again (key quality, shared keys, CRLs).
ALTER TABLE certificates ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN serial TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN key_algorithm TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN key_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE certificates ADD COLUMN signature_algorithm TEXT NOT NULL DEFAULT '';
-- public_key is the base64 DER SubjectPublicKeyInfo, public_key_sha256 its hex SHA-256.
ALTER TABLE certificates ADD COLUMN public_key TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN public_key_sha256 TEXT NOT NULL DEFAULT '';
-- A JSON array of URLs.
ALTER TABLE certificates ADD COLUMN crl_distribution_points TEXT NOT NULL DEFAULT '[]';
CREATE INDEX certificates_by_scope ON certificates (account, region, seq);
CREATE INDEX certificates_by_public_key ON certificates (account, region, public_key_sha256);

-- CA certificates an account registered (RegisterCACertificate).
CREATE TABLE ca_certificates (
    seq                      INTEGER PRIMARY KEY AUTOINCREMENT,
    account                  TEXT NOT NULL,
    region                   TEXT NOT NULL,
    id                       TEXT NOT NULL,
    status                   TEXT NOT NULL,
    pem                      TEXT NOT NULL,
    certificate_mode         TEXT NOT NULL,
    auto_registration_status TEXT NOT NULL,
    -- JSON RegistrationConfig; template_name is copied out for ListCACertificates?templateName=.
    registration_config      TEXT NOT NULL DEFAULT '{}',
    template_name            TEXT NOT NULL DEFAULT '',
    customer_version         BIGINT NOT NULL DEFAULT 1,
    generation_id            TEXT NOT NULL,
    not_before               BIGINT NOT NULL,
    not_after                BIGINT NOT NULL,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL,
    subject                  TEXT NOT NULL,
    -- hex DER subject: device certificates are matched to their CA by it.
    subject_der              TEXT NOT NULL,
    issuer                   TEXT NOT NULL,
    serial                   TEXT NOT NULL,
    key_algorithm            TEXT NOT NULL,
    key_size                 INTEGER NOT NULL,
    signature_algorithm      TEXT NOT NULL,
    public_key               TEXT NOT NULL,
    public_key_sha256        TEXT NOT NULL,
    crl_distribution_points  TEXT NOT NULL DEFAULT '[]',
    UNIQUE (account, region, id)
);
CREATE INDEX ca_certificates_by_scope ON ca_certificates (account, region, seq);
CREATE INDEX ca_certificates_by_subject ON ca_certificates (account, region, subject_der);

-- The CA that signs CreateKeysAndCertificate's certificates, one per
-- account and region, made on first use. It is not a registered CA.
CREATE TABLE issuing_cas (
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    cert_pem   TEXT NOT NULL,
    key_pem    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account, region)
);

-- GetRegistrationCode's code, made on first use and stable afterwards.
CREATE TABLE registration_codes (
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    code       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account, region)
);

-- AttachThingPrincipal?thingPrincipalType= (newer models).
ALTER TABLE thing_principals ADD COLUMN thing_principal_type TEXT NOT NULL DEFAULT 'NON_EXCLUSIVE_THING';

-- +goose Down
ALTER TABLE thing_principals DROP COLUMN thing_principal_type;
DROP TABLE registration_codes;
DROP TABLE issuing_cas;
DROP TABLE ca_certificates;
DROP INDEX certificates_by_public_key;
DROP INDEX certificates_by_scope;
ALTER TABLE certificates DROP COLUMN crl_distribution_points;
ALTER TABLE certificates DROP COLUMN public_key_sha256;
ALTER TABLE certificates DROP COLUMN public_key;
ALTER TABLE certificates DROP COLUMN signature_algorithm;
ALTER TABLE certificates DROP COLUMN key_size;
ALTER TABLE certificates DROP COLUMN key_algorithm;
ALTER TABLE certificates DROP COLUMN serial;
ALTER TABLE certificates DROP COLUMN issuer;
ALTER TABLE certificates DROP COLUMN subject;
