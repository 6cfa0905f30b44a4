package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

func init() {
	taggable["policy"] = `SELECT 1 FROM policies WHERE account = ? AND region = ? AND name = ?`
}

func policyNotFound(name string) error { return warden.NotFound("Policy", name) }

func policyVersionNotFound(name, id string) error {
	return warden.Errorf(warden.CodeResourceNotFound, "Policy %s has no version %s.", name, id)
}

// policyChange and policyVersionChange are the change-log documents of a policy.
type policyChange struct {
	DefaultVersionID string `json:"defaultVersionId"`
	PolicyDocument   string `json:"policyDocument,omitempty"`
}

type policyVersionChange struct {
	VersionID        string `json:"versionId"`
	DefaultVersionID string `json:"defaultVersionId"`
	PolicyDocument   string `json:"policyDocument,omitempty"`
}

type policyAttachment struct {
	Target string `json:"target"`
}

func versionString(n int64) string { return strconv.FormatInt(n, 10) }

// lockPolicy reads the policy's version counters in tx with a write lock on
// its row (a no-op UPDATE), so that concurrent changes of one policy on
// PostgreSQL run one after the other; SQLite has one writer anyway.
func lockPolicy(ctx context.Context, tx writeTx, s warden.Scope, name string) (defaultVersion, nextVersion int64, err error) {
	err = tx.QueryRowContext(ctx, `UPDATE policies SET next_version = next_version
		WHERE account = ? AND region = ? AND name = ? RETURNING default_version, next_version`,
		s.Account, s.Region, name).Scan(&defaultVersion, &nextVersion)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, policyNotFound(name)
	}
	return defaultVersion, nextVersion, err
}

func getPolicy(ctx context.Context, q querier, s warden.Scope, name string) (warden.Policy, error) {
	p := warden.Policy{Name: name}
	var def, created, updated int64
	err := q.QueryRowContext(ctx, `SELECT p.default_version, p.generation_id, p.created_at, p.updated_at, v.document
		FROM policies p JOIN policy_versions v
		  ON v.account = p.account AND v.region = p.region AND v.policy_name = p.name AND v.version = p.default_version
		WHERE p.account = ? AND p.region = ? AND p.name = ?`, s.Account, s.Region, name).
		Scan(&def, &p.GenerationID, &created, &updated, &p.Document)
	if errors.Is(err, sql.ErrNoRows) {
		return p, policyNotFound(name)
	}
	p.DefaultVersionID = versionString(def)
	p.CreationDate, p.LastModifiedDate = fromMillis(created), fromMillis(updated)
	return p, err
}

func getPolicyVersion(ctx context.Context, q querier, s warden.Scope, name, versionID string) (warden.PolicyVersion, error) {
	v := warden.PolicyVersion{PolicyName: name, VersionID: versionID}
	var def int64
	err := q.QueryRowContext(ctx, `SELECT default_version, generation_id FROM policies WHERE account = ? AND region = ? AND name = ?`,
		s.Account, s.Region, name).Scan(&def, &v.GenerationID)
	if errors.Is(err, sql.ErrNoRows) {
		return v, policyNotFound(name)
	}
	if err != nil {
		return v, err
	}
	n, ok := warden.ParsePolicyVersionID(versionID)
	if !ok {
		return v, policyVersionNotFound(name, versionID)
	}
	var created, updated int64
	err = q.QueryRowContext(ctx, `SELECT document, created_at, updated_at FROM policy_versions
		WHERE account = ? AND region = ? AND policy_name = ? AND version = ?`, s.Account, s.Region, name, n).
		Scan(&v.Document, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return v, policyVersionNotFound(name, versionID)
	}
	v.IsDefault = n == def
	v.CreationDate, v.LastModifiedDate = fromMillis(created), fromMillis(updated)
	return v, err
}

// CreatePolicy stores a policy with version 1 as its default.
func (db *DB) CreatePolicy(ctx context.Context, s warden.Scope, name, document string, tags []warden.Tag, now time.Time) (_ warden.Policy, err error) {
	defer wrapErr(&err, "CreatePolicy(%v, %q)", s, name)
	if _, err := warden.ParsePolicyDocument(document); err != nil {
		return warden.Policy{}, err
	}
	p := warden.Policy{Name: name, DefaultVersionID: "1", Document: document, GenerationID: warden.NewPolicyGenerationID(),
		CreationDate: now, LastModifiedDate: now}
	arn := p.ARN(s)
	err = db.inTx(ctx, func(tx writeTx) error {
		if err := requireNoRow(ctx, tx, warden.ErrPolicyExists(name, arn),
			`SELECT 1 FROM policies WHERE account = ? AND region = ? AND name = ?`, s.Account, s.Region, name); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO policies
			(account, region, name, default_version, next_version, generation_id, created_at, updated_at) VALUES (?, ?, ?, 1, 2, ?, ?, ?)`,
			s.Account, s.Region, name, p.GenerationID, millis(now), millis(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO policy_versions
			(account, region, policy_name, version, document, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?)`,
			s.Account, s.Region, name, document, millis(now), millis(now)); err != nil {
			return err
		}
		if err := putTags(ctx, tx, s, arn, tags); err != nil {
			return err
		}
		return logChange(ctx, tx, s, arn, "CreatePolicy", nil, policyChange{DefaultVersionID: "1", PolicyDocument: document}, now)
	})
	if err != nil {
		return warden.Policy{}, err
	}
	return p, nil
}

// Policy returns a policy with its default version's document.
func (db *DB) Policy(ctx context.Context, s warden.Scope, name string) (_ warden.Policy, err error) {
	defer wrapErr(&err, "Policy(%v, %q)", s, name)
	return getPolicy(ctx, db.read, s, name)
}

// DeletePolicy removes a policy that is detached and has only its default version.
func (db *DB) DeletePolicy(ctx context.Context, s warden.Scope, name string, now time.Time) (err error) {
	defer wrapErr(&err, "DeletePolicy(%v, %q)", s, name)
	return db.inTx(ctx, func(tx writeTx) error {
		def, _, err := lockPolicy(ctx, tx, s, name)
		if err != nil {
			return err
		}
		var targets, others int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM policy_targets WHERE account = ? AND region = ? AND policy_name = ?`,
			s.Account, s.Region, name).Scan(&targets); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM policy_versions
			WHERE account = ? AND region = ? AND policy_name = ? AND version <> ?`, s.Account, s.Region, name, def).Scan(&others); err != nil {
			return err
		}
		if err := warden.CheckPolicyDeletable(name, targets, others); err != nil {
			return err
		}
		var document string
		if err := tx.QueryRowContext(ctx, `SELECT document FROM policy_versions
			WHERE account = ? AND region = ? AND policy_name = ? AND version = ?`, s.Account, s.Region, name, def).Scan(&document); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM policy_versions WHERE account = ? AND region = ? AND policy_name = ?`,
			`DELETE FROM policies WHERE account = ? AND region = ? AND name = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, s.Account, s.Region, name); err != nil {
				return err
			}
		}
		arn := warden.PolicyARN(s, name)
		if err := deleteTags(ctx, tx, s, arn); err != nil {
			return err
		}
		return logChange(ctx, tx, s, arn, "DeletePolicy", policyChange{DefaultVersionID: versionString(def), PolicyDocument: document}, nil, now)
	})
}

// Policies lists policies by creation order; the cursor is the sequence
// number of the last policy returned, so creating or deleting policies while
// a client pages neither skips nor repeats one.
func (db *DB) Policies(ctx context.Context, s warden.Scope, ascending bool, p warden.Page) (_ []warden.Policy, _ string, err error) {
	defer wrapErr(&err, "Policies(%v)", s)
	after, cmp, order, err := seqCursor(p.After, ascending, warden.Errorf(warden.CodeInvalidRequest, "invalid marker"))
	if err != nil {
		return nil, "", err
	}
	query := `SELECT seq, name, default_version, generation_id, created_at, updated_at FROM policies
		WHERE account = ? AND region = ? AND seq ` + cmp + ` ? ORDER BY seq ` + order + ` LIMIT ?`
	return seqPage(ctx, db.read, p.Limit, query, []any{s.Account, s.Region, after, p.Limit + 1},
		func(r *sql.Rows) (pol warden.Policy, seq int64, err error) {
			var def, created, updated int64
			err = r.Scan(&seq, &pol.Name, &def, &pol.GenerationID, &created, &updated)
			pol.DefaultVersionID = versionString(def)
			pol.CreationDate, pol.LastModifiedDate = fromMillis(created), fromMillis(updated)
			return pol, seq, err
		})
}

// createPolicyVersionTx adds a version to a policy inside tx and returns its
// id. It is the whole of CreatePolicyVersion, so that the mitigation engine's
// REPLACE_DEFAULT_POLICY_VERSION can apply it in the transaction that
// completes its execution (document warden.BlankPolicyDocument,
// setAsDefault true).
func createPolicyVersionTx(ctx context.Context, tx writeTx, s warden.Scope, policyName, document string, setAsDefault bool, now time.Time) (versionID string, err error) {
	if _, err := warden.ParsePolicyDocument(document); err != nil {
		return "", err
	}
	def, next, err := lockPolicy(ctx, tx, s, policyName)
	if err != nil {
		return "", err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM policy_versions WHERE account = ? AND region = ? AND policy_name = ?`,
		s.Account, s.Region, policyName).Scan(&n); err != nil {
		return "", err
	}
	if n >= warden.MaxPolicyVersions {
		return "", warden.ErrPolicyVersionsLimit(policyName)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO policy_versions
		(account, region, policy_name, version, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.Account, s.Region, policyName, next, document, millis(now), millis(now)); err != nil {
		return "", err
	}
	newDef := def
	if setAsDefault {
		newDef = next
		if _, err := tx.ExecContext(ctx, `UPDATE policy_versions SET updated_at = ?
			WHERE account = ? AND region = ? AND policy_name = ? AND version = ?`,
			millis(now), s.Account, s.Region, policyName, def); err != nil {
			return "", err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE policies SET default_version = ?, next_version = ?, generation_id = ?, updated_at = ?
		WHERE account = ? AND region = ? AND name = ?`,
		newDef, next+1, warden.NewPolicyGenerationID(), millis(now), s.Account, s.Region, policyName); err != nil {
		return "", err
	}
	versionID = versionString(next)
	err = logChange(ctx, tx, s, warden.PolicyARN(s, policyName), "CreatePolicyVersion",
		policyChange{DefaultVersionID: versionString(def)},
		policyVersionChange{VersionID: versionID, DefaultVersionID: versionString(newDef), PolicyDocument: document}, now)
	return versionID, err
}

// CreatePolicyVersion adds a version to a policy.
func (db *DB) CreatePolicyVersion(ctx context.Context, s warden.Scope, name, document string, setAsDefault bool, now time.Time) (_ warden.PolicyVersion, err error) {
	defer wrapErr(&err, "CreatePolicyVersion(%v, %q)", s, name)
	var v warden.PolicyVersion
	err = db.inTx(ctx, func(tx writeTx) error {
		id, err := createPolicyVersionTx(ctx, tx, s, name, document, setAsDefault, now)
		if err != nil {
			return err
		}
		v, err = getPolicyVersion(ctx, tx, s, name, id)
		return err
	})
	return v, err
}

// PolicyVersion returns one version of a policy.
func (db *DB) PolicyVersion(ctx context.Context, s warden.Scope, name, versionID string) (_ warden.PolicyVersion, err error) {
	defer wrapErr(&err, "PolicyVersion(%v, %q, %q)", s, name, versionID)
	return getPolicyVersion(ctx, db.read, s, name, versionID)
}

// PolicyVersions lists a policy's versions, newest first.
func (db *DB) PolicyVersions(ctx context.Context, s warden.Scope, name string) (_ []warden.PolicyVersion, err error) {
	defer wrapErr(&err, "PolicyVersions(%v, %q)", s, name)
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	var def int64
	var gen string
	err = tx.QueryRowContext(ctx, `SELECT default_version, generation_id FROM policies WHERE account = ? AND region = ? AND name = ?`,
		s.Account, s.Region, name).Scan(&def, &gen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, policyNotFound(name)
	}
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, tx, func(r rowScanner) (warden.PolicyVersion, error) {
		var n, created, updated int64
		v := warden.PolicyVersion{PolicyName: name, GenerationID: gen}
		err := r.Scan(&n, &v.Document, &created, &updated)
		v.VersionID, v.IsDefault = versionString(n), n == def
		v.CreationDate, v.LastModifiedDate = fromMillis(created), fromMillis(updated)
		return v, err
	}, `SELECT version, document, created_at, updated_at FROM policy_versions
		WHERE account = ? AND region = ? AND policy_name = ? ORDER BY version DESC`, s.Account, s.Region, name)
}

// lockPolicyVersion locks policy name (see lockPolicy) and finds its
// version versionID: it returns the policy's default version, the version's
// number and its document, or ResourceNotFound for either.
func lockPolicyVersion(ctx context.Context, tx writeTx, s warden.Scope, name, versionID string) (def, n int64, document string, err error) {
	if def, _, err = lockPolicy(ctx, tx, s, name); err != nil {
		return 0, 0, "", err
	}
	n, ok := warden.ParsePolicyVersionID(versionID)
	if !ok {
		return 0, 0, "", policyVersionNotFound(name, versionID)
	}
	err = tx.QueryRowContext(ctx, `SELECT document FROM policy_versions WHERE account = ? AND region = ? AND policy_name = ? AND version = ?`,
		s.Account, s.Region, name, n).Scan(&document)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, "", policyVersionNotFound(name, versionID)
	}
	return def, n, document, err
}

// SetDefaultPolicyVersion makes an existing version the default. Setting the
// current default again changes nothing but is still recorded, as every
// successful Set call is.
func (db *DB) SetDefaultPolicyVersion(ctx context.Context, s warden.Scope, name, versionID string, now time.Time) (err error) {
	defer wrapErr(&err, "SetDefaultPolicyVersion(%v, %q, %q)", s, name, versionID)
	return db.inTx(ctx, func(tx writeTx) error {
		def, n, _, err := lockPolicyVersion(ctx, tx, s, name, versionID)
		if err != nil {
			return err
		}
		if n != def {
			if _, err := tx.ExecContext(ctx, `UPDATE policy_versions SET updated_at = ?
				WHERE account = ? AND region = ? AND policy_name = ? AND version IN (?, ?)`,
				millis(now), s.Account, s.Region, name, def, n); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE policies SET default_version = ?, generation_id = ?, updated_at = ?
				WHERE account = ? AND region = ? AND name = ?`,
				n, warden.NewPolicyGenerationID(), millis(now), s.Account, s.Region, name); err != nil {
				return err
			}
		}
		return logChange(ctx, tx, s, warden.PolicyARN(s, name), "SetDefaultPolicyVersion",
			policyChange{DefaultVersionID: versionString(def)}, policyChange{DefaultVersionID: versionID}, now)
	})
}

// DeletePolicyVersion removes a version other than the default.
func (db *DB) DeletePolicyVersion(ctx context.Context, s warden.Scope, name, versionID string, now time.Time) (err error) {
	defer wrapErr(&err, "DeletePolicyVersion(%v, %q, %q)", s, name, versionID)
	return db.inTx(ctx, func(tx writeTx) error {
		def, n, document, err := lockPolicyVersion(ctx, tx, s, name, versionID)
		if err != nil {
			return err
		}
		if err := warden.CheckPolicyVersionDeletable(name, versionID, n == def); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM policy_versions WHERE account = ? AND region = ? AND policy_name = ? AND version = ?`,
			s.Account, s.Region, name, n); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE policies SET generation_id = ?, updated_at = ? WHERE account = ? AND region = ? AND name = ?`,
			warden.NewPolicyGenerationID(), millis(now), s.Account, s.Region, name); err != nil {
			return err
		}
		return logChange(ctx, tx, s, warden.PolicyARN(s, name), "DeletePolicyVersion",
			policyVersionChange{VersionID: versionID, DefaultVersionID: versionString(def), PolicyDocument: document},
			policyChange{DefaultVersionID: versionString(def)}, now)
	})
}

// requirePolicyTarget checks that target names an existing certificate or
// static thing group of scope s and returns its kind and id. Another scope's
// ARN is reported as missing, so a caller learns nothing about it.
func requirePolicyTarget(ctx context.Context, q querier, s warden.Scope, target string) (kind, id string, err error) {
	scope, kind, id, err := warden.ParsePolicyTarget(target)
	if err != nil {
		return "", "", err
	}
	missing := warden.Errorf(warden.CodeResourceNotFound, "The target %s does not exist.", target)
	if scope != s {
		return "", "", missing
	}
	switch kind {
	case warden.TargetCertificate:
		var one int
		err = q.QueryRowContext(ctx, `SELECT 1 FROM certificates WHERE account = ? AND region = ? AND id = ?`,
			s.Account, s.Region, id).Scan(&one)
	case warden.TargetThingGroup:
		var dynamic int
		err = q.QueryRowContext(ctx, `SELECT dynamic FROM thing_groups WHERE account = ? AND region = ? AND name = ?`,
			s.Account, s.Region, id).Scan(&dynamic)
		if err == nil && dynamic != 0 {
			return kind, id, warden.Errorf(warden.CodeInvalidRequest,
				"Thing group %s is a dynamic thing group; policies can be attached to static thing groups only.", id)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", missing
	}
	return kind, id, err
}

// AttachPolicy attaches a policy to a certificate or static thing group.
func (db *DB) AttachPolicy(ctx context.Context, s warden.Scope, name, target string, now time.Time) (err error) {
	defer wrapErr(&err, "AttachPolicy(%v, %q, %q)", s, name, target)
	return db.inTx(ctx, func(tx writeTx) error {
		if _, _, err := lockPolicy(ctx, tx, s, name); err != nil {
			return err
		}
		if _, _, err := requirePolicyTarget(ctx, tx, s, target); err != nil {
			return err
		}
		attached, err := rowExists(ctx, tx, `SELECT 1 FROM policy_targets WHERE account = ? AND region = ? AND policy_name = ? AND target = ?`,
			s.Account, s.Region, name, target)
		if err != nil || attached {
			return err // attached already: AttachPolicy is idempotent
		}
		if err := requireBelow(ctx, tx, warden.MaxPoliciesPerTarget, func(int) error { return warden.ErrTargetPoliciesLimit(target) },
			`SELECT COUNT(*) FROM policy_targets WHERE account = ? AND region = ? AND target = ?`, s.Account, s.Region, target); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO policy_targets (account, region, policy_name, target, created_at) VALUES (?, ?, ?, ?, ?)`,
			s.Account, s.Region, name, target, millis(now)); err != nil {
			return err
		}
		return logChange(ctx, tx, s, warden.PolicyARN(s, name), "AttachPolicy", nil, policyAttachment{Target: target}, now)
	})
}

// DetachPolicy removes an attachment; detaching what is not attached
// changes nothing and records nothing.
func (db *DB) DetachPolicy(ctx context.Context, s warden.Scope, name, target string, now time.Time) (err error) {
	defer wrapErr(&err, "DetachPolicy(%v, %q, %q)", s, name, target)
	if _, _, _, err := warden.ParsePolicyTarget(target); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx writeTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM policy_targets WHERE account = ? AND region = ? AND policy_name = ? AND target = ?`,
			s.Account, s.Region, name, target)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		return logChange(ctx, tx, s, warden.PolicyARN(s, name), "DetachPolicy", policyAttachment{Target: target}, nil, now)
	})
}

// PolicyTargets lists a policy's targets in order; the cursor is the last target.
func (db *DB) PolicyTargets(ctx context.Context, s warden.Scope, name string, p warden.Page) (_ []string, _ string, err error) {
	defer wrapErr(&err, "PolicyTargets(%v, %q)", s, name)
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = tx.Rollback() }()
	if err := requireRow(ctx, tx, policyNotFound(name), `SELECT 1 FROM policies WHERE account = ? AND region = ? AND name = ?`,
		s.Account, s.Region, name); err != nil {
		return nil, "", err
	}
	return pageStrings(ctx, tx, p, `SELECT target FROM policy_targets
		WHERE account = ? AND region = ? AND policy_name = ? AND target > ? ORDER BY target LIMIT ?`,
		s.Account, s.Region, name, p.After, p.Limit+1)
}

// AttachedPolicies lists the names of the policies attached to target; the
// cursor is the last name.
func (db *DB) AttachedPolicies(ctx context.Context, s warden.Scope, target string, recursive bool, p warden.Page) (_ []string, _ string, err error) {
	defer wrapErr(&err, "AttachedPolicies(%v, %q)", s, target)
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = tx.Rollback() }()
	kind, id, err := requirePolicyTarget(ctx, tx, s, target)
	if err != nil && !(kind == warden.TargetThingGroup && warden.ErrorCode(err) == warden.CodeInvalidRequest) {
		return nil, "", err // a dynamic group exists; it simply has no policies
	}
	targets := []string{target}
	if recursive && kind == warden.TargetThingGroup {
		ancestors, _, err := pageStrings(ctx, tx, warden.Page{Limit: 1000}, `SELECT ancestor FROM thing_group_ancestors
			WHERE account = ? AND region = ? AND descendant = ? AND ancestor <> ? ORDER BY distance LIMIT ?`,
			s.Account, s.Region, id, id, 1001)
		if err != nil {
			return nil, "", err
		}
		for _, a := range ancestors {
			targets = append(targets, s.IoTARN(warden.TargetThingGroup+"/"+a))
		}
	}
	args := []any{s.Account, s.Region}
	for _, t := range targets {
		args = append(args, t)
	}
	args = append(args, p.After, p.Limit+1)
	return pageStrings(ctx, tx, p, `SELECT DISTINCT policy_name FROM policy_targets
		WHERE account = ? AND region = ? AND target IN (?`+strings.Repeat(", ?", len(targets)-1)+`) AND policy_name > ?
		ORDER BY policy_name LIMIT ?`, args...)
}

// pageStrings runs a query of one string column that asks for p.Limit+1
// rows and returns at most p.Limit of them, with the last one as the cursor
// when there are more.
func pageStrings(ctx context.Context, q querier, p warden.Page, query string, args ...any) ([]string, string, error) {
	return keyPage(ctx, q, p.Limit, func(r rowScanner) (string, string, error) {
		s, err := scanString(r)
		return s, s, err
	}, query, args...)
}

// --- logging options ---

type v2LoggingChange struct {
	RoleArn         string `json:"roleArn,omitempty"`
	DefaultLogLevel string `json:"defaultLogLevel,omitempty"`
	DisableAllLogs  bool   `json:"disableAllLogs"`
}

type v1LoggingChange struct {
	RoleArn  string `json:"roleArn"`
	LogLevel string `json:"logLevel,omitempty"`
}

func getV2Logging(ctx context.Context, q querier, s warden.Scope) (warden.V2LoggingOptions, error) {
	var o warden.V2LoggingOptions
	err := q.QueryRowContext(ctx, `SELECT role_arn, default_log_level, disable_all_logs FROM logging_options_v2
		WHERE account = ? AND region = ?`, s.Account, s.Region).Scan(&o.RoleArn, &o.DefaultLogLevel, &o.DisableAllLogs)
	return o, noRowAs(err, warden.Errorf(warden.CodeNotConfigured, "V2 logging options are not configured; set them with SetV2LoggingOptions."))
}

// setV2LoggingTx replaces the V2 logging options inside tx. It is the whole
// of SetV2LoggingOptions, so that the mitigation engine's ENABLE_IOT_LOGGING
// can apply it in the transaction that completes its execution.
func setV2LoggingTx(ctx context.Context, tx writeTx, s warden.Scope, o warden.V2LoggingOptions, now time.Time) error {
	return setV2LoggingAs(ctx, tx, s, o, now, "SetV2LoggingOptions")
}

// setV2LoggingAs replaces the V2 logging options, recording the change as
// operation (SetV2LoggingLevel sets the DEFAULT target's level through it).
func setV2LoggingAs(ctx context.Context, tx writeTx, s warden.Scope, o warden.V2LoggingOptions, now time.Time, operation string) error {
	var before any
	old, err := getV2Logging(ctx, tx, s)
	switch {
	case err == nil:
		before = v2LoggingChange(old)
	case warden.ErrorCode(err) != warden.CodeNotConfigured:
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO logging_options_v2
		(account, region, role_arn, default_log_level, disable_all_logs, updated_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (account, region) DO UPDATE SET role_arn = excluded.role_arn,
		  default_log_level = excluded.default_log_level, disable_all_logs = excluded.disable_all_logs,
		  updated_at = excluded.updated_at`,
		s.Account, s.Region, o.RoleArn, o.DefaultLogLevel, o.DisableAllLogs, millis(now)); err != nil {
		return err
	}
	return logChange(ctx, tx, s, warden.V2LoggingARN(s), operation, before, v2LoggingChange(o), now)
}

// SetV2LoggingOptions replaces the account's V2 logging options.
func (db *DB) SetV2LoggingOptions(ctx context.Context, s warden.Scope, o warden.V2LoggingOptions, now time.Time) (err error) {
	defer wrapErr(&err, "SetV2LoggingOptions(%v)", s)
	return db.inTx(ctx, func(tx writeTx) error { return setV2LoggingTx(ctx, tx, s, o, now) })
}

// V2LoggingOptions returns the V2 logging options or NotConfigured.
func (db *DB) V2LoggingOptions(ctx context.Context, s warden.Scope) (_ warden.V2LoggingOptions, err error) {
	defer wrapErr(&err, "V2LoggingOptions(%v)", s)
	return getV2Logging(ctx, db.read, s)
}

func getV1Logging(ctx context.Context, q querier, s warden.Scope) (warden.LoggingOptions, bool, error) {
	var o warden.LoggingOptions
	err := q.QueryRowContext(ctx, `SELECT role_arn, log_level FROM logging_options_v1 WHERE account = ? AND region = ?`,
		s.Account, s.Region).Scan(&o.RoleArn, &o.LogLevel)
	if errors.Is(err, sql.ErrNoRows) {
		return o, false, nil
	}
	return o, err == nil, err
}

// SetLoggingOptions replaces the account's V1 logging options.
func (db *DB) SetLoggingOptions(ctx context.Context, s warden.Scope, o warden.LoggingOptions, now time.Time) (err error) {
	defer wrapErr(&err, "SetLoggingOptions(%v)", s)
	return db.inTx(ctx, func(tx writeTx) error {
		var before any
		old, ok, err := getV1Logging(ctx, tx, s)
		if err != nil {
			return err
		}
		if ok {
			before = v1LoggingChange(old)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO logging_options_v1 (account, region, role_arn, log_level, updated_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (account, region) DO UPDATE SET role_arn = excluded.role_arn, log_level = excluded.log_level,
			  updated_at = excluded.updated_at`,
			s.Account, s.Region, o.RoleArn, o.LogLevel, millis(now)); err != nil {
			return err
		}
		return logChange(ctx, tx, s, warden.V1LoggingARN(s), "SetLoggingOptions", before, v1LoggingChange(o), now)
	})
}

// LoggingOptions returns the V1 logging options; ok is false before the first set.
func (db *DB) LoggingOptions(ctx context.Context, s warden.Scope) (_ warden.LoggingOptions, _ bool, err error) {
	defer wrapErr(&err, "LoggingOptions(%v)", s)
	return getV1Logging(ctx, db.read, s)
}
