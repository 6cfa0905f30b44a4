package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/warden-iot/warden"
)

func init() {
	taggable["cacert"] = `SELECT 1 FROM ca_certificates WHERE account = ? AND region = ? AND id = ?`
}

// ---------------------------------------------------------------- registration code, issuing CA

// RegistrationCode returns the scope's registration code, made on first use.
func (db *DB) RegistrationCode(ctx context.Context, s warden.Scope, generate func() string) (_ string, err error) {
	defer wrapErr(&err, "RegistrationCode(%v)", s)
	var code string
	err = db.read.QueryRowContext(ctx, `SELECT code FROM registration_codes WHERE account = ? AND region = ?`,
		s.Account, s.Region).Scan(&code)
	if err == nil {
		return code, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	err = db.inTx(ctx, func(tx writeTx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO registration_codes (account, region, code, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (account, region) DO NOTHING`, s.Account, s.Region, generate(), millis(time.Now())); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT code FROM registration_codes WHERE account = ? AND region = ?`,
			s.Account, s.Region).Scan(&code)
	})
	return code, err
}

// IssuingCA returns the scope's issuing CA, made on first use. The insert
// does nothing when a concurrent first use won, and both then read the
// winner, so a scope never has two issuing CAs.
func (db *DB) IssuingCA(ctx context.Context, s warden.Scope, generate func() (string, string, error)) (_ string, _ string, err error) {
	defer wrapErr(&err, "IssuingCA(%v)", s)
	aad := aadIssuingCA(s.Account, s.Region)
	var certPEM, keyPEM string
	const query = `SELECT cert_pem, key_pem FROM issuing_cas WHERE account = ? AND region = ?`
	err = db.read.QueryRowContext(ctx, query, s.Account, s.Region).Scan(&certPEM, &keyPEM)
	if err == nil {
		keyPEM, err = db.openSecretString(keyPEM, aad)
		return certPEM, keyPEM, err
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", "", err
	}
	err = db.inTx(ctx, func(tx writeTx) error {
		err := tx.QueryRowContext(ctx, query, s.Account, s.Region).Scan(&certPEM, &keyPEM)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		c, k, err := generate()
		if err != nil {
			return err
		}
		sealed, err := db.sealSecret([]byte(k), aad)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO issuing_cas (account, region, cert_pem, key_pem, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (account, region) DO NOTHING`, s.Account, s.Region, c, sealed, millis(time.Now())); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, query, s.Account, s.Region).Scan(&certPEM, &keyPEM)
	})
	if err != nil {
		return "", "", err
	}
	keyPEM, err = db.openSecretString(keyPEM, aad)
	return certPEM, keyPEM, err
}

// ---------------------------------------------------------------- device certificates

const certColumns = `seq, id, status, pem, ca_certificate_id, certificate_mode, customer_version, generation_id,
	not_before, not_after, created_at, updated_at, subject, issuer, serial, key_algorithm, key_size,
	signature_algorithm, public_key, public_key_sha256, crl_distribution_points`

// scanCertificate reads one row of certColumns. Facts.SubjectDER and
// IssuerDER are not stored for device certificates and stay nil.
func scanCertificate(r rowScanner) (warden.Certificate, int64, error) {
	var c warden.Certificate
	var seq, notBefore, notAfter, created, updated int64
	var publicKey, crls string
	err := r.Scan(&seq, &c.ID, &c.Status, &c.PEM, &c.CACertificateID, &c.Mode, &c.CustomerVersion, &c.GenerationID,
		&notBefore, &notAfter, &created, &updated, &c.Facts.Subject, &c.Facts.Issuer, &c.Facts.Serial,
		&c.Facts.KeyAlgorithm, &c.Facts.KeySize, &c.Facts.SignatureAlgorithm, &publicKey, &c.Facts.PublicKeySHA256, &crls)
	if err != nil {
		return c, 0, err
	}
	c.NotBefore, c.NotAfter = fromMillis(notBefore), fromMillis(notAfter)
	c.CreationDate, c.LastModifiedDate = fromMillis(created), fromMillis(updated)
	if err := certDecodeFacts(&c.Facts, publicKey, crls); err != nil {
		return c, 0, fmt.Errorf("stored certificate %s: %w", c.ID, err)
	}
	return c, seq, nil
}

func certDecodeFacts(f *warden.X509Facts, publicKey, crls string) error {
	var err error
	if f.PublicKey, err = base64.StdEncoding.DecodeString(publicKey); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(crls), &f.CRLDistributionPoints); err != nil {
		return err
	}
	f.IsCA = false
	return nil
}

func certEncodeCRLs(f *warden.X509Facts) string {
	if len(f.CRLDistributionPoints) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(f.CRLDistributionPoints)
	return string(b)
}

func getCertificate(ctx context.Context, q querier, s warden.Scope, id string) (warden.Certificate, error) {
	c, _, err := scanCertificate(q.QueryRowContext(ctx,
		`SELECT `+certColumns+` FROM certificates WHERE account = ? AND region = ? AND id = ?`, s.Account, s.Region, id))
	return c, noRowAs(err, warden.ErrCertificateNotFound(id))
}

// certState is the change-log document of a device certificate.
type certState struct {
	Status          string   `json:"status"`
	CACertificateID string   `json:"caCertificateId,omitempty"`
	CertificateMode string   `json:"certificateMode,omitempty"`
	Policies        []string `json:"policies,omitempty"`
}

// certRequireNew fails with ResourceAlreadyExists when the scope has the
// certificate id.
func certRequireNew(ctx context.Context, q querier, s warden.Scope, id string) error {
	exists, err := rowExists(ctx, q, `SELECT 1 FROM certificates WHERE account = ? AND region = ? AND id = ?`, s.Account, s.Region, id)
	if exists {
		return warden.ErrCertificateExists(s, id)
	}
	return err
}

// insertCertificate stores c unless the scope already has it.
func insertCertificate(ctx context.Context, tx writeTx, s warden.Scope, c warden.Certificate, operation string) error {
	if err := certRequireNew(ctx, tx, s, c.ID); err != nil {
		return err
	}
	f := &c.Facts
	if _, err := tx.ExecContext(ctx, `INSERT INTO certificates (account, region, id, status, pem, ca_certificate_id,
		certificate_mode, customer_version, generation_id, not_before, not_after, created_at, updated_at, subject, issuer,
		serial, key_algorithm, key_size, signature_algorithm, public_key, public_key_sha256, crl_distribution_points)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.Account, s.Region, c.ID, c.Status, c.PEM, c.CACertificateID, c.Mode, c.CustomerVersion, c.GenerationID,
		millis(c.NotBefore), millis(c.NotAfter), millis(c.CreationDate), millis(c.LastModifiedDate), f.Subject, f.Issuer,
		f.Serial, f.KeyAlgorithm, f.KeySize, f.SignatureAlgorithm, base64.StdEncoding.EncodeToString(f.PublicKey),
		f.PublicKeySHA256, certEncodeCRLs(f)); err != nil {
		return err
	}
	return logChange(ctx, tx, s, s.CertificateARN(c.ID), operation, nil,
		certState{Status: c.Status, CACertificateID: c.CACertificateID, CertificateMode: c.Mode}, c.CreationDate)
}

// CreateCertificate stores a certificate as given.
func (db *DB) CreateCertificate(ctx context.Context, s warden.Scope, c warden.Certificate, operation string) (err error) {
	defer wrapErr(&err, "CreateCertificate(%v, %q, %q)", s, c.ID, operation)
	return db.inTx(ctx, func(tx writeTx) error { return insertCertificate(ctx, tx, s, c, operation) })
}

// RegisterCertificate stores a device certificate signed by a registered,
// ACTIVE CA certificate of the scope.
func (db *DB) RegisterCertificate(ctx context.Context, s warden.Scope, c warden.Certificate, caCertificateID string) (_ warden.Certificate, err error) {
	defer wrapErr(&err, "RegisterCertificate(%v, %q)", s, caCertificateID)
	device, err := warden.ParseCertificatePEM("certificatePem", c.PEM)
	if err != nil {
		return c, err
	}
	err = db.inTx(ctx, func(tx writeTx) error {
		if err := certRequireNew(ctx, tx, s, c.ID); err != nil {
			return err
		}
		var candidates []warden.CACertificate
		if caCertificateID != "" {
			ca, err := getCACertificate(ctx, tx, s, caCertificateID)
			if warden.ErrorCode(err) == warden.CodeResourceNotFound {
				return warden.Errorf(warden.CodeCertificateValidation,
					"The CA certificate given in caCertificatePem (%s) is not registered.", caCertificateID)
			}
			if err != nil {
				return err
			}
			candidates = append(candidates, ca)
		} else if candidates, err = queryAll(ctx, tx, func(r rowScanner) (warden.CACertificate, error) {
			ca, _, err := scanCACertificate(r)
			return ca, err
		}, `SELECT `+caColumns+` FROM ca_certificates WHERE account = ? AND region = ? AND subject_der = ? ORDER BY seq`,
			s.Account, s.Region, hex.EncodeToString(device.RawIssuer)); err != nil {
			return err
		}
		ca, err := warden.IssuingCA(device, candidates, caCertificateID != "")
		if err != nil {
			return err
		}
		c.CACertificateID, c.Mode = ca.ID, ca.Mode
		return insertCertificate(ctx, tx, s, c, "RegisterCertificate")
	})
	return c, err
}

// Certificate returns one device certificate.
func (db *DB) Certificate(ctx context.Context, s warden.Scope, id string) (_ warden.Certificate, err error) {
	defer wrapErr(&err, "Certificate(%v, %q)", s, id)
	return getCertificate(ctx, db.read, s, id)
}

// DeviceCertificate finds a certificate by id in whichever scope registered
// it. When several scopes registered the same certificate, the earliest
// registration (the lowest seq) is the one a device connects to.
func (db *DB) DeviceCertificate(ctx context.Context, id string) (_ warden.Scope, _ warden.Certificate, _ bool, err error) {
	defer wrapErr(&err, "DeviceCertificate(%q)", id)
	var s warden.Scope
	row := db.read.QueryRowContext(ctx, `SELECT account, region, `+certColumns+` FROM certificates
		WHERE id = ? ORDER BY seq LIMIT 1`, id)
	var c warden.Certificate
	var seq, notBefore, notAfter, created, updated int64
	var publicKey, crls string
	err = row.Scan(&s.Account, &s.Region, &seq, &c.ID, &c.Status, &c.PEM, &c.CACertificateID, &c.Mode, &c.CustomerVersion,
		&c.GenerationID, &notBefore, &notAfter, &created, &updated, &c.Facts.Subject, &c.Facts.Issuer, &c.Facts.Serial,
		&c.Facts.KeyAlgorithm, &c.Facts.KeySize, &c.Facts.SignatureAlgorithm, &publicKey, &c.Facts.PublicKeySHA256, &crls)
	if errors.Is(err, sql.ErrNoRows) {
		return s, c, false, nil
	}
	if err != nil {
		return s, c, false, err
	}
	c.NotBefore, c.NotAfter = fromMillis(notBefore), fromMillis(notAfter)
	c.CreationDate, c.LastModifiedDate = fromMillis(created), fromMillis(updated)
	if err := certDecodeFacts(&c.Facts, publicKey, crls); err != nil {
		return s, c, false, fmt.Errorf("stored certificate %s: %w", c.ID, err)
	}
	return s, c, true, nil
}

// UpdateCertificateStatus changes a certificate's status.
func (db *DB) UpdateCertificateStatus(ctx context.Context, s warden.Scope, id, newStatus string, now time.Time) (_ bool, err error) {
	defer wrapErr(&err, "UpdateCertificateStatus(%v, %q, %q)", s, id, newStatus)
	changed := false
	err = db.inTx(ctx, func(tx writeTx) error {
		var err error
		changed, err = updateCertificateStatusTx(ctx, tx, s, id, newStatus, now)
		return err
	})
	return changed, err
}

// updateCertificateStatusTx is UpdateCertificate inside a caller's
// transaction, so that a mitigation execution can deactivate a certificate
// and record its own completion in one commit. Setting the current status
// again changes nothing and logs nothing.
func updateCertificateStatusTx(ctx context.Context, tx writeTx, s warden.Scope, id, newStatus string, now time.Time) (bool, error) {
	if err := warden.CheckSettableCertificateStatus("newStatus", newStatus); err != nil {
		return false, err
	}
	c, err := getCertificate(ctx, tx, s, id)
	if err != nil {
		return false, err
	}
	if c.Status == newStatus {
		return false, nil
	}
	if err := warden.CheckCertificateTransition(id, c.Status, newStatus); err != nil {
		return false, err
	}
	if newStatus == warden.CertActive && c.CACertificateID != "" {
		var caStatus string
		err := tx.QueryRowContext(ctx, `SELECT status FROM ca_certificates WHERE account = ? AND region = ? AND id = ?`,
			s.Account, s.Region, c.CACertificateID).Scan(&caStatus)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return false, err
		}
		if err := warden.CheckCertificateActivation(id, c.CACertificateID, caStatus); err != nil {
			return false, err
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE certificates SET status = ?, customer_version = customer_version + 1,
		generation_id = ?, updated_at = ? WHERE account = ? AND region = ? AND id = ? AND status = ?`,
		newStatus, warden.NewUUID(), millis(now), s.Account, s.Region, id, c.Status)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, fmt.Errorf("certificate %s changed concurrently (%d rows, %v)", id, n, err)
	}
	return true, logChange(ctx, tx, s, s.CertificateARN(id), "UpdateCertificate",
		certState{Status: c.Status}, certState{Status: newStatus}, now)
}

// DeleteCertificate removes a certificate.
func (db *DB) DeleteCertificate(ctx context.Context, s warden.Scope, id string, force bool, now time.Time) (err error) {
	defer wrapErr(&err, "DeleteCertificate(%v, %q)", s, id)
	return db.inTx(ctx, func(tx writeTx) error {
		c, err := getCertificate(ctx, tx, s, id)
		if err != nil {
			return err
		}
		if err := warden.CheckCertificateDeletable(id, c.Status); err != nil {
			return err
		}
		arn := s.CertificateARN(id)
		var thing string
		err = tx.QueryRowContext(ctx, `SELECT thing_name FROM thing_principals WHERE account = ? AND region = ? AND principal = ?
			ORDER BY thing_name LIMIT 1`, s.Account, s.Region, arn).Scan(&thing)
		if err == nil {
			return warden.Errorf(warden.CodeDeleteConflict,
				"The certificate %s is attached to thing %s; detach it with DetachThingPrincipal first.", id, thing)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		policies, err := queryStrings(ctx, tx, `SELECT policy_name FROM policy_targets WHERE account = ? AND region = ? AND target = ?
			ORDER BY policy_name`, s.Account, s.Region, arn)
		if err != nil {
			return err
		}
		if len(policies) > 0 {
			if !force {
				return warden.Errorf(warden.CodeDeleteConflict,
					"The certificate %s has %d attached policies (%s); detach them or use forceDelete.", id, len(policies), policies[0])
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM policy_targets WHERE account = ? AND region = ? AND target = ?`,
				s.Account, s.Region, arn); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM certificates WHERE account = ? AND region = ? AND id = ?`,
			s.Account, s.Region, id); err != nil {
			return err
		}
		return logChange(ctx, tx, s, arn, "DeleteCertificate",
			certState{Status: c.Status, CACertificateID: c.CACertificateID, CertificateMode: c.Mode, Policies: policies}, nil, now)
	})
}

// errCertMarker answers a certificate list's marker that is not one.
func errCertMarker() error {
	return warden.Errorf(warden.CodeInvalidRequest, "The marker is not valid for this request.")
}

// Certificates lists device certificates by creation order. The cursor is
// the seq of the last certificate returned, so certificates added or
// deleted while a client pages are neither skipped nor repeated.
func (db *DB) Certificates(ctx context.Context, s warden.Scope, f warden.CertificateFilter, p warden.Page) (_ []warden.Certificate, _ string, err error) {
	defer wrapErr(&err, "Certificates(%v)", s)
	after, cmp, order, err := seqCursor(p.After, f.Ascending, errCertMarker())
	if err != nil {
		return nil, "", err
	}
	query := `SELECT ` + certColumns + ` FROM certificates WHERE account = ? AND region = ?`
	args := []any{s.Account, s.Region}
	if f.ByCA {
		query += ` AND ca_certificate_id = ?`
		args = append(args, f.CACertificateID)
	}
	query += ` AND seq ` + cmp + ` ? ORDER BY seq ` + order + ` LIMIT ?`
	args = append(args, after, p.Limit+1)
	return seqPage(ctx, db.read, p.Limit, query, args, func(r *sql.Rows) (warden.Certificate, int64, error) { return scanCertificate(r) })
}

// ---------------------------------------------------------------- CA certificates

const caColumns = `seq, id, status, pem, certificate_mode, auto_registration_status, registration_config,
	customer_version, generation_id, not_before, not_after, created_at, updated_at, subject, subject_der, issuer, serial,
	key_algorithm, key_size, signature_algorithm, public_key, public_key_sha256, crl_distribution_points`

func scanCACertificate(r rowScanner) (warden.CACertificate, int64, error) {
	var c warden.CACertificate
	var seq, notBefore, notAfter, created, updated int64
	var config, subjectDER, publicKey, crls string
	err := r.Scan(&seq, &c.ID, &c.Status, &c.PEM, &c.Mode, &c.AutoRegistrationStatus, &config,
		&c.CustomerVersion, &c.GenerationID, &notBefore, &notAfter, &created, &updated, &c.Facts.Subject, &subjectDER,
		&c.Facts.Issuer, &c.Facts.Serial, &c.Facts.KeyAlgorithm, &c.Facts.KeySize, &c.Facts.SignatureAlgorithm,
		&publicKey, &c.Facts.PublicKeySHA256, &crls)
	if err != nil {
		return c, 0, err
	}
	c.NotBefore, c.NotAfter = fromMillis(notBefore), fromMillis(notAfter)
	c.CreationDate, c.LastModifiedDate = fromMillis(created), fromMillis(updated)
	if err := json.Unmarshal([]byte(config), &c.RegistrationConfig); err != nil {
		return c, 0, fmt.Errorf("stored CA certificate %s: %w", c.ID, err)
	}
	if c.Facts.SubjectDER, err = hex.DecodeString(subjectDER); err != nil {
		return c, 0, fmt.Errorf("stored CA certificate %s: %w", c.ID, err)
	}
	if err := certDecodeFacts(&c.Facts, publicKey, crls); err != nil {
		return c, 0, fmt.Errorf("stored CA certificate %s: %w", c.ID, err)
	}
	c.Facts.IsCA = true
	return c, seq, nil
}

func getCACertificate(ctx context.Context, q querier, s warden.Scope, id string) (warden.CACertificate, error) {
	c, _, err := scanCACertificate(q.QueryRowContext(ctx,
		`SELECT `+caColumns+` FROM ca_certificates WHERE account = ? AND region = ? AND id = ?`, s.Account, s.Region, id))
	return c, noRowAs(err, warden.ErrCACertificateNotFound(id))
}

// caState is the change-log document of a CA certificate; members that did
// not change are left out of UpdateCACertificate's documents.
type caState struct {
	Status                 string                     `json:"status,omitempty"`
	CertificateMode        string                     `json:"certificateMode,omitempty"`
	AutoRegistrationStatus string                     `json:"autoRegistrationStatus,omitempty"`
	RegistrationConfig     *warden.RegistrationConfig `json:"registrationConfig,omitempty"`
}

// RegisterCACertificate stores a CA certificate.
func (db *DB) RegisterCACertificate(ctx context.Context, s warden.Scope, ca warden.CACertificate, verificationCN *string, tags []warden.Tag) (err error) {
	defer wrapErr(&err, "RegisterCACertificate(%v, %q)", s, ca.ID)
	config, err := json.Marshal(&ca.RegistrationConfig)
	if err != nil {
		return err
	}
	return db.inTx(ctx, func(tx writeTx) error {
		arn := s.CACertificateARN(ca.ID)
		if err := requireNoRow(ctx, tx, &warden.Error{Code: warden.CodeResourceAlreadyExists,
			Message:    fmt.Sprintf("The CA certificate %s is already registered.", ca.ID),
			ResourceID: ca.ID, ResourceArn: arn},
			`SELECT 1 FROM ca_certificates WHERE account = ? AND region = ? AND id = ?`, s.Account, s.Region, ca.ID); err != nil {
			return err
		}
		if verificationCN != nil {
			var code string
			err := tx.QueryRowContext(ctx, `SELECT code FROM registration_codes WHERE account = ? AND region = ?`,
				s.Account, s.Region).Scan(&code)
			if errors.Is(err, sql.ErrNoRows) {
				return warden.Errorf(warden.CodeRegistrationCodeInvalid,
					"This account has no registration code yet; call GetRegistrationCode and use it as the verification certificate's common name.")
			}
			if err != nil {
				return err
			}
			if *verificationCN != code {
				return warden.Errorf(warden.CodeRegistrationCodeInvalid,
					"The verification certificate's common name is not this account's registration code.")
			}
		}
		subjectDER := hex.EncodeToString(ca.Facts.SubjectDER)
		if err := requireBelow(ctx, tx, warden.MaxCACertificatesPerSubject, func(int) error { return warden.ErrCASubjectLimit(ca.Facts.Subject) },
			`SELECT COUNT(*) FROM ca_certificates WHERE account = ? AND region = ? AND subject_der = ?`, s.Account, s.Region, subjectDER); err != nil {
			return err
		}
		f := &ca.Facts
		if _, err := tx.ExecContext(ctx, `INSERT INTO ca_certificates (account, region, id, status, pem, certificate_mode,
			auto_registration_status, registration_config, template_name, customer_version, generation_id, not_before,
			not_after, created_at, updated_at, subject, subject_der, issuer, serial, key_algorithm, key_size,
			signature_algorithm, public_key, public_key_sha256, crl_distribution_points)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.Account, s.Region, ca.ID, ca.Status, ca.PEM, ca.Mode, ca.AutoRegistrationStatus, string(config),
			caTemplateName(&ca.RegistrationConfig), ca.CustomerVersion, ca.GenerationID, millis(ca.NotBefore),
			millis(ca.NotAfter), millis(ca.CreationDate), millis(ca.LastModifiedDate), f.Subject, subjectDER, f.Issuer,
			f.Serial, f.KeyAlgorithm, f.KeySize, f.SignatureAlgorithm, base64.StdEncoding.EncodeToString(f.PublicKey),
			f.PublicKeySHA256, certEncodeCRLs(f)); err != nil {
			return err
		}
		if err := putTags(ctx, tx, s, arn, tags); err != nil {
			return err
		}
		after := caState{Status: ca.Status, CertificateMode: ca.Mode, AutoRegistrationStatus: ca.AutoRegistrationStatus}
		if !ca.RegistrationConfig.IsZero() {
			after.RegistrationConfig = &ca.RegistrationConfig
		}
		return logChange(ctx, tx, s, arn, "RegisterCACertificate", nil, after, ca.CreationDate)
	})
}

func caTemplateName(r *warden.RegistrationConfig) string {
	if r.TemplateName == nil {
		return ""
	}
	return *r.TemplateName
}

// CACertificate returns one CA certificate.
func (db *DB) CACertificate(ctx context.Context, s warden.Scope, id string) (_ warden.CACertificate, err error) {
	defer wrapErr(&err, "CACertificate(%v, %q)", s, id)
	return getCACertificate(ctx, db.read, s, id)
}

// UpdateCACertificate changes a CA certificate.
func (db *DB) UpdateCACertificate(ctx context.Context, s warden.Scope, id string, u warden.CACertificateUpdate, now time.Time) (err error) {
	defer wrapErr(&err, "UpdateCACertificate(%v, %q)", s, id)
	return db.inTx(ctx, func(tx writeTx) error {
		_, err := updateCACertificateTx(ctx, tx, s, id, u, now)
		return err
	})
}

// updateCACertificateStatusTx is UpdateCACertificate(newStatus) inside a
// caller's transaction, for mitigation executions.
func updateCACertificateStatusTx(ctx context.Context, tx writeTx, s warden.Scope, id, newStatus string, now time.Time) (bool, error) {
	return updateCACertificateTx(ctx, tx, s, id, warden.CACertificateUpdate{NewStatus: newStatus}, now)
}

// updateCACertificateTx applies u; when nothing differs from the stored
// CA certificate it changes and logs nothing.
func updateCACertificateTx(ctx context.Context, tx writeTx, s warden.Scope, id string, u warden.CACertificateUpdate, now time.Time) (bool, error) {
	if u.NewStatus != "" && u.NewStatus != warden.CertActive && u.NewStatus != warden.CertInactive {
		return false, warden.Errorf(warden.CodeInvalidRequest, "A CA certificate's status can only be set to ACTIVE or INACTIVE, not %s.", u.NewStatus)
	}
	ca, err := getCACertificate(ctx, tx, s, id)
	if err != nil {
		return false, err
	}
	var before, after caState
	next := ca
	if u.NewStatus != "" && u.NewStatus != ca.Status {
		before.Status, after.Status = ca.Status, u.NewStatus
		next.Status = u.NewStatus
	}
	newAuto := u.NewAutoRegistrationStatus
	newConfig := u.RegistrationConfig
	if u.RemoveAutoRegistration {
		newAuto, newConfig = warden.AutoRegistrationDisable, &warden.RegistrationConfig{}
	}
	if newAuto != "" && newAuto != ca.AutoRegistrationStatus {
		before.AutoRegistrationStatus, after.AutoRegistrationStatus = ca.AutoRegistrationStatus, newAuto
		next.AutoRegistrationStatus = newAuto
	}
	oldConfig, _ := json.Marshal(&ca.RegistrationConfig)
	config := oldConfig
	if newConfig != nil {
		if config, err = json.Marshal(newConfig); err != nil {
			return false, err
		}
		if string(config) != string(oldConfig) {
			before.RegistrationConfig, after.RegistrationConfig = &ca.RegistrationConfig, newConfig
			next.RegistrationConfig = *newConfig
		}
	}
	if before == (caState{}) && after == (caState{}) {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE ca_certificates SET status = ?, auto_registration_status = ?,
		registration_config = ?, template_name = ?, customer_version = customer_version + 1, generation_id = ?, updated_at = ?
		WHERE account = ? AND region = ? AND id = ?`,
		next.Status, next.AutoRegistrationStatus, string(config), caTemplateName(&next.RegistrationConfig), warden.NewUUID(),
		millis(now), s.Account, s.Region, id); err != nil {
		return false, err
	}
	return true, logChange(ctx, tx, s, s.CACertificateARN(id), "UpdateCACertificate", before, after, now)
}

// DeleteCACertificate removes an INACTIVE CA certificate that signed no
// registered device certificate.
func (db *DB) DeleteCACertificate(ctx context.Context, s warden.Scope, id string, now time.Time) (err error) {
	defer wrapErr(&err, "DeleteCACertificate(%v, %q)", s, id)
	return db.inTx(ctx, func(tx writeTx) error {
		ca, err := getCACertificate(ctx, tx, s, id)
		if err != nil {
			return err
		}
		if err := warden.CheckCACertificateDeletable(id, ca.Status); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM certificates WHERE account = ? AND region = ? AND ca_certificate_id = ?`,
			s.Account, s.Region, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return warden.Errorf(warden.CodeCertificateState,
				"The CA certificate %s signed %d registered device certificates; delete them before the CA certificate.", id, n)
		}
		arn := s.CACertificateARN(id)
		if _, err := tx.ExecContext(ctx, `DELETE FROM ca_certificates WHERE account = ? AND region = ? AND id = ?`,
			s.Account, s.Region, id); err != nil {
			return err
		}
		if err := deleteTags(ctx, tx, s, arn); err != nil {
			return err
		}
		return logChange(ctx, tx, s, arn, "DeleteCACertificate",
			caState{Status: ca.Status, CertificateMode: ca.Mode, AutoRegistrationStatus: ca.AutoRegistrationStatus}, nil, now)
	})
}

// CACertificates lists CA certificates by creation order.
func (db *DB) CACertificates(ctx context.Context, s warden.Scope, templateName string, ascending bool, p warden.Page) (_ []warden.CACertificate, _ string, err error) {
	defer wrapErr(&err, "CACertificates(%v, %q)", s, templateName)
	after, cmp, order, err := seqCursor(p.After, ascending, errCertMarker())
	if err != nil {
		return nil, "", err
	}
	query := `SELECT ` + caColumns + ` FROM ca_certificates WHERE account = ? AND region = ?`
	args := []any{s.Account, s.Region}
	query, args = andEq(query, args, "template_name", templateName)
	query += ` AND seq ` + cmp + ` ? ORDER BY seq ` + order + ` LIMIT ?`
	args = append(args, after, p.Limit+1)
	return seqPage(ctx, db.read, p.Limit, query, args, func(r *sql.Rows) (warden.CACertificate, int64, error) { return scanCACertificate(r) })
}

// ---------------------------------------------------------------- thing principals

func certRequireThing(ctx context.Context, q querier, s warden.Scope, name string) error {
	return requireRow(ctx, q, warden.ErrThingNotFound(name), `SELECT 1 FROM things WHERE account = ? AND region = ? AND name = ?`,
		s.Account, s.Region, name)
}

// certRequirePrincipal fails with ResourceNotFound unless principal is the
// ARN of a device certificate of scope s. Another scope's ARN is reported
// as missing, so a caller learns nothing about certificates it cannot see.
func certRequirePrincipal(ctx context.Context, q querier, s warden.Scope, principal string) error {
	scope, id, ok := warden.ParseCertificateARN(principal)
	if !ok {
		return warden.Errorf(warden.CodeInvalidRequest, "The principal %s is not a certificate ARN.", principal)
	}
	missing := warden.Errorf(warden.CodeResourceNotFound, "The principal %s does not exist.", principal)
	if scope != s {
		return missing
	}
	return requireRow(ctx, q, missing, `SELECT 1 FROM certificates WHERE account = ? AND region = ? AND id = ?`, s.Account, s.Region, id)
}

type principalState struct {
	Principal          string `json:"principal"`
	ThingPrincipalType string `json:"thingPrincipalType,omitempty"`
}

// AttachThingPrincipal attaches a certificate to a thing. An EXCLUSIVE_THING
// attachment must be the principal's only one; a principal attached
// exclusively cannot be attached to another thing.
func (db *DB) AttachThingPrincipal(ctx context.Context, s warden.Scope, thingName, principal, principalType string, now time.Time) (err error) {
	defer wrapErr(&err, "AttachThingPrincipal(%v, %q, %q, %q)", s, thingName, principal, principalType)
	if principalType == "" {
		principalType = warden.PrincipalNonExclusive
	}
	return db.inTx(ctx, func(tx writeTx) error {
		if err := certRequireThing(ctx, tx, s, thingName); err != nil {
			return err
		}
		if err := certRequirePrincipal(ctx, tx, s, principal); err != nil {
			return err
		}
		attached, err := queryAll(ctx, tx, func(r rowScanner) (a warden.PrincipalAttachment, err error) {
			err = r.Scan(&a.Thing, &a.Type)
			return a, err
		}, `SELECT thing_name, thing_principal_type FROM thing_principals
			WHERE account = ? AND region = ? AND principal = ? ORDER BY thing_name`, s.Account, s.Region, principal)
		if err != nil {
			return err
		}
		current, err := warden.CheckAttachThingPrincipal(principal, thingName, principalType, attached)
		if err != nil || current == principalType {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO thing_principals (account, region, thing_name, principal, created_at, thing_principal_type)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, thing_name, principal) DO UPDATE SET thing_principal_type = excluded.thing_principal_type`,
			s.Account, s.Region, thingName, principal, millis(now), principalType); err != nil {
			return err
		}
		var before any
		if current != "" {
			before = principalState{Principal: principal, ThingPrincipalType: current}
		}
		return logChange(ctx, tx, s, s.IoTARN("thing/"+thingName), "AttachThingPrincipal", before,
			principalState{Principal: principal, ThingPrincipalType: principalType}, now)
	})
}

// DetachThingPrincipal detaches a certificate from a thing.
func (db *DB) DetachThingPrincipal(ctx context.Context, s warden.Scope, thingName, principal string, now time.Time) (err error) {
	defer wrapErr(&err, "DetachThingPrincipal(%v, %q, %q)", s, thingName, principal)
	return db.inTx(ctx, func(tx writeTx) error {
		if err := certRequireThing(ctx, tx, s, thingName); err != nil {
			return err
		}
		if err := certRequirePrincipal(ctx, tx, s, principal); err != nil {
			return err
		}
		var typ string
		err := tx.QueryRowContext(ctx, `SELECT thing_principal_type FROM thing_principals
			WHERE account = ? AND region = ? AND thing_name = ? AND principal = ?`, s.Account, s.Region, thingName, principal).Scan(&typ)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM thing_principals WHERE account = ? AND region = ? AND thing_name = ? AND principal = ?`,
			s.Account, s.Region, thingName, principal); err != nil {
			return err
		}
		return logChange(ctx, tx, s, s.IoTARN("thing/"+thingName), "DetachThingPrincipal",
			principalState{Principal: principal, ThingPrincipalType: typ}, nil, now)
	})
}

// ThingPrincipals lists a thing's principals; the cursor is the last
// principal returned.
func (db *DB) ThingPrincipals(ctx context.Context, s warden.Scope, thingName string, p warden.Page) (_ []warden.ThingPrincipal, _ string, err error) {
	defer wrapErr(&err, "ThingPrincipals(%v, %q)", s, thingName)
	if err := certRequireThing(ctx, db.read, s, thingName); err != nil {
		return nil, "", err
	}
	return keyPage(ctx, db.read, p.Limit, func(r rowScanner) (tp warden.ThingPrincipal, _ string, err error) {
		err = r.Scan(&tp.Principal, &tp.Type)
		return tp, tp.Principal, err
	}, `SELECT principal, thing_principal_type FROM thing_principals
		WHERE account = ? AND region = ? AND thing_name = ? AND principal > ? ORDER BY principal LIMIT ?`,
		s.Account, s.Region, thingName, p.After, p.Limit+1)
}

// PrincipalThings lists the things a certificate is attached to; the cursor
// is the last thing name returned.
func (db *DB) PrincipalThings(ctx context.Context, s warden.Scope, principal string, p warden.Page) (_ []string, _ string, err error) {
	defer wrapErr(&err, "PrincipalThings(%v, %q)", s, principal)
	if err := certRequirePrincipal(ctx, db.read, s, principal); err != nil {
		return nil, "", err
	}
	things, err := queryStrings(ctx, db.read, `SELECT thing_name FROM thing_principals
		WHERE account = ? AND region = ? AND principal = ? AND thing_name > ? ORDER BY thing_name LIMIT ?`,
		s.Account, s.Region, principal, p.After, p.Limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(things) > p.Limit {
		things = things[:p.Limit]
		next = things[len(things)-1]
	}
	return things, next, nil
}
