-- +goose Up
-- The registry tables that more than one part of the registry refers to.
-- Each part adds its own tables (and columns) in later migrations.
CREATE TABLE things (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    account         TEXT NOT NULL,
    region          TEXT NOT NULL,
    name            TEXT NOT NULL,
    id              TEXT NOT NULL,
    thing_type_name TEXT NOT NULL DEFAULT '',
    attributes      TEXT NOT NULL DEFAULT '{}',
    version         BIGINT NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (account, region, name)
);

CREATE TABLE certificates (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    account           TEXT NOT NULL,
    region            TEXT NOT NULL,
    id                TEXT NOT NULL,
    status            TEXT NOT NULL,
    pem               TEXT NOT NULL,
    ca_certificate_id TEXT NOT NULL DEFAULT '',
    certificate_mode  TEXT NOT NULL DEFAULT 'DEFAULT',
    customer_version  BIGINT NOT NULL DEFAULT 1,
    generation_id     TEXT NOT NULL,
    not_before        BIGINT NOT NULL,
    not_after         BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    UNIQUE (account, region, id)
);
CREATE INDEX certificates_by_ca ON certificates (account, region, ca_certificate_id, seq);

-- A principal (a certificate ARN) attached to a thing.
CREATE TABLE thing_principals (
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    thing_name TEXT NOT NULL,
    principal  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account, region, thing_name, principal)
);
CREATE INDEX thing_principals_by_principal ON thing_principals (account, region, principal, thing_name);

-- A policy attached to a target (a certificate ARN, or a thing group ARN).
CREATE TABLE policy_targets (
    account     TEXT NOT NULL,
    region      TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    target      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (account, region, policy_name, target)
);
CREATE INDEX policy_targets_by_target ON policy_targets (account, region, target, policy_name);

-- +goose Down
DROP TABLE policy_targets;
DROP TABLE thing_principals;
DROP TABLE certificates;
DROP TABLE things;
