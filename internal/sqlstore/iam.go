package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

// IAM is global: its change-log rows and queries carry the account only.
func iamScope(account string) warden.Scope { return warden.Scope{Account: account} }

const roleColumns = `seq, name, path, id, trust_policy, description, max_session_duration, tags, created_at`

func scanRole(r rowScanner) (warden.Role, int64, error) {
	var role warden.Role
	var seq, created int64
	var tags string
	if err := r.Scan(&seq, &role.Name, &role.Path, &role.ID, &role.AssumeRolePolicyDocument, &role.Description,
		&role.MaxSessionDuration, &tags, &created); err != nil {
		return role, 0, err
	}
	if err := json.Unmarshal([]byte(tags), &role.Tags); err != nil {
		return role, 0, fmt.Errorf("stored tags of role %s: %w", role.Name, err)
	}
	role.CreateDate = fromMillis(created)
	return role, seq, nil
}

func getRole(ctx context.Context, q queryRower, account, name string) (warden.Role, error) {
	r, _, err := scanRole(q.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM iam_roles WHERE account = ? AND name_key = ?`,
		account, warden.RoleNameKey(name)))
	return r, noRowAs(err, warden.NoSuchRole(name))
}

// roleChange is what the change log records of a role.
func roleChange(r *warden.Role) map[string]any {
	return map[string]any{"RoleName": r.Name, "Path": r.Path, "RoleId": r.ID, "AssumeRolePolicyDocument": r.AssumeRolePolicyDocument,
		"Description": r.Description, "MaxSessionDuration": r.MaxSessionDuration, "Tags": r.Tags}
}

// CreateRole stores a new role.
func (db *DB) CreateRole(ctx context.Context, account string, r warden.Role) (_ warden.Role, err error) {
	defer wrapErr(&err, "CreateRole(%q, %q)", account, r.Name)
	if r.Tags == nil {
		r.Tags = []warden.Tag{}
	}
	tags, err := json.Marshal(r.Tags)
	if err != nil {
		return r, err
	}
	err = db.inTx(ctx, func(tx writeTx) error {
		if err := requireNoRow(ctx, tx, warden.Errorf(warden.CodeIAMEntityAlreadyExists, "Role with name %s already exists.", r.Name),
			`SELECT 1 FROM iam_roles WHERE account = ? AND name_key = ?`, account, warden.RoleNameKey(r.Name)); err != nil {
			return err
		}
		if err := requireBelow(ctx, tx, warden.MaxIAMRoles, warden.ErrIAMRolesLimit, `SELECT COUNT(*) FROM iam_roles WHERE account = ?`, account); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO iam_roles
			(account, name_key, name, path, id, trust_policy, description, max_session_duration, tags, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			account, warden.RoleNameKey(r.Name), r.Name, r.Path, r.ID, r.AssumeRolePolicyDocument, r.Description,
			r.MaxSessionDuration, string(tags), millis(r.CreateDate)); err != nil {
			return err
		}
		return logChange(ctx, tx, iamScope(account), r.ARN(account), "CreateRole", nil, roleChange(&r), r.CreateDate)
	})
	return r, err
}

// Role returns one role.
func (db *DB) Role(ctx context.Context, account, name string) (_ warden.Role, err error) {
	defer wrapErr(&err, "Role(%q, %q)", account, name)
	return getRole(ctx, db.read, account, name)
}

// DeleteRole removes a role that has no inline policies left.
func (db *DB) DeleteRole(ctx context.Context, account, name string, now time.Time) (err error) {
	defer wrapErr(&err, "DeleteRole(%q, %q)", account, name)
	return db.inTx(ctx, func(tx writeTx) error {
		r, err := getRole(ctx, tx, account, name)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM iam_role_policies WHERE account = ? AND role_key = ?`,
			account, warden.RoleNameKey(name)).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return warden.Errorf(warden.CodeIAMDeleteConflict, "Cannot delete entity, must delete policies first.")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM iam_roles WHERE account = ? AND name_key = ?`,
			account, warden.RoleNameKey(name)); err != nil {
			return err
		}
		return logChange(ctx, tx, iamScope(account), r.ARN(account), "DeleteRole", roleChange(&r), nil, now)
	})
}

// Roles lists roles by name without regard to case; the cursor is the last
// name key returned, so roles created or deleted while a client pages are
// neither skipped nor repeated.
func (db *DB) Roles(ctx context.Context, account, pathPrefix string, p warden.Page) (_ []warden.Role, _ string, err error) {
	defer wrapErr(&err, "Roles(%q, %q)", account, pathPrefix)
	query := `SELECT ` + roleColumns + `, name_key FROM iam_roles WHERE account = ? AND name_key > ?`
	args := []any{account, p.After}
	if pathPrefix != "" && pathPrefix != "/" {
		// substr, not LIKE: LIKE is case-insensitive in SQLite and treats % and _ specially.
		query += ` AND substr(path, 1, ?) = ?`
		args = append(args, len(pathPrefix), pathPrefix)
	}
	query += ` ORDER BY name_key LIMIT ?`
	args = append(args, p.Limit+1)
	return keyPage(ctx, db.read, p.Limit, func(rs rowScanner) (r warden.Role, key string, err error) {
		var seq, created int64
		var tags string
		err = rs.Scan(&seq, &r.Name, &r.Path, &r.ID, &r.AssumeRolePolicyDocument, &r.Description,
			&r.MaxSessionDuration, &tags, &created, &key)
		r.CreateDate = fromMillis(created)
		return r, key, err
	}, query, args...)
}

// PutRolePolicy adds or replaces an inline policy.
func (db *DB) PutRolePolicy(ctx context.Context, account, roleName, policyName, document string, now time.Time) (err error) {
	defer wrapErr(&err, "PutRolePolicy(%q, %q, %q)", account, roleName, policyName)
	if _, err := warden.ParseIAMPolicy(document); err != nil {
		return err
	}
	chars := warden.PolicyChars(document)
	return db.inTx(ctx, func(tx writeTx) error {
		r, err := getRole(ctx, tx, account, roleName)
		if err != nil {
			return err
		}
		roleKey, key := warden.RoleNameKey(roleName), strings.ToLower(policyName)
		var others int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(chars), 0) FROM iam_role_policies
			WHERE account = ? AND role_key = ? AND name_key <> ?`, account, roleKey, key).Scan(&others); err != nil {
			return err
		}
		if others+int64(chars) > warden.MaxRoleInlinePolicyChars {
			return warden.Errorf(warden.CodeIAMLimitExceeded, "Maximum policy size of %d bytes exceeded for role %s",
				warden.MaxRoleInlinePolicyChars, r.Name)
		}
		var before any
		var storedName, storedDoc string
		err = tx.QueryRowContext(ctx, `SELECT name, document FROM iam_role_policies WHERE account = ? AND role_key = ? AND name_key = ?`,
			account, roleKey, key).Scan(&storedName, &storedDoc)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			storedName = policyName
			if _, err := tx.ExecContext(ctx, `INSERT INTO iam_role_policies
				(account, role_key, name_key, name, document, chars, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				account, roleKey, key, policyName, document, chars, millis(now), millis(now)); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			before = map[string]any{"PolicyName": storedName, "PolicyDocument": storedDoc}
			if _, err := tx.ExecContext(ctx, `UPDATE iam_role_policies SET document = ?, chars = ?, updated_at = ?
				WHERE account = ? AND role_key = ? AND name_key = ?`,
				document, chars, millis(now), account, roleKey, key); err != nil {
				return err
			}
		}
		return logChange(ctx, tx, iamScope(account), r.ARN(account), "PutRolePolicy", before,
			map[string]any{"PolicyName": storedName, "PolicyDocument": document}, now)
	})
}

// RolePolicy returns one inline policy.
func (db *DB) RolePolicy(ctx context.Context, account, roleName, policyName string) (_ warden.RolePolicy, err error) {
	defer wrapErr(&err, "RolePolicy(%q, %q, %q)", account, roleName, policyName)
	tx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return warden.RolePolicy{}, err
	}
	defer tx.Rollback()
	r, err := getRole(ctx, tx, account, roleName)
	if err != nil {
		return warden.RolePolicy{}, err
	}
	p := warden.RolePolicy{RoleName: r.Name}
	err = tx.QueryRowContext(ctx, `SELECT name, document FROM iam_role_policies WHERE account = ? AND role_key = ? AND name_key = ?`,
		account, warden.RoleNameKey(roleName), strings.ToLower(policyName)).Scan(&p.PolicyName, &p.Document)
	return p, noRowAs(err, warden.NoSuchRolePolicy(policyName))
}

// DeleteRolePolicy removes an inline policy.
func (db *DB) DeleteRolePolicy(ctx context.Context, account, roleName, policyName string, now time.Time) (err error) {
	defer wrapErr(&err, "DeleteRolePolicy(%q, %q, %q)", account, roleName, policyName)
	return db.inTx(ctx, func(tx writeTx) error {
		r, err := getRole(ctx, tx, account, roleName)
		if err != nil {
			return err
		}
		roleKey, key := warden.RoleNameKey(roleName), strings.ToLower(policyName)
		var name, doc string
		err = tx.QueryRowContext(ctx, `SELECT name, document FROM iam_role_policies WHERE account = ? AND role_key = ? AND name_key = ?`,
			account, roleKey, key).Scan(&name, &doc)
		if errors.Is(err, sql.ErrNoRows) {
			return warden.NoSuchRolePolicy(policyName)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM iam_role_policies WHERE account = ? AND role_key = ? AND name_key = ?`,
			account, roleKey, key); err != nil {
			return err
		}
		return logChange(ctx, tx, iamScope(account), r.ARN(account), "DeleteRolePolicy",
			map[string]any{"PolicyName": name, "PolicyDocument": doc}, nil, now)
	})
}

// RolePolicies lists a role's inline policy names; the cursor is the last
// name key returned.
func (db *DB) RolePolicies(ctx context.Context, account, roleName string, p warden.Page) (_ []string, _ string, err error) {
	defer wrapErr(&err, "RolePolicies(%q, %q)", account, roleName)
	tx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, "", err
	}
	defer tx.Rollback()
	if _, err := getRole(ctx, tx, account, roleName); err != nil {
		return nil, "", err
	}
	names, next, err := keyPage(ctx, tx, p.Limit, func(r rowScanner) (name, key string, err error) {
		err = r.Scan(&name, &key)
		return name, key, err
	}, `SELECT name, name_key FROM iam_role_policies
		WHERE account = ? AND role_key = ? AND name_key > ? ORDER BY name_key LIMIT ?`,
		account, warden.RoleNameKey(roleName), p.After, p.Limit+1)
	if names == nil && err == nil {
		names = []string{} // an empty list, not none
	}
	return names, next, err
}

// RolePermits is RolePermitsTx in a read transaction of its own.
func (db *DB) RolePermits(ctx context.Context, account, roleArn string, needs []warden.Permission, strictRoles bool) (_ *warden.Permission, err error) {
	defer wrapErr(&err, "RolePermits(%q, %q)", account, roleArn)
	tx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return RolePermitsTx(ctx, tx, account, roleArn, needs, strictRoles)
}

// RolePermitsTx decides, inside the caller's transaction tx, whether the role
// roleArn, which a mitigation action of account names, may do every one of
// needs. It returns the first permission it may not have (nil when all are
// allowed); err is only for database failures.
//
// The rules:
//   - roleArn must be arn:aws:iam::<account>:role<path><name> of the same
//     account: a role of another account, or a string that is no role ARN,
//     never works (missing = sts:AssumeRole on roleArn: Warden cannot
//     assume it).
//   - Trust on first use: when the account has no IAM roles at all and
//     strictRoles is false, every role ARN of the account is trusted with
//     every permission, so that mitigation actions work before anyone has
//     modelled IAM. Creating the account's first role ends this for every
//     role of the account.
//   - Otherwise the role must exist (name without regard to case, path
//     exactly as in the ARN), else missing = sts:AssumeRole on roleArn; and
//     each need is evaluated with warden.Allowed over all of the role's
//     inline policies (explicit Deny wins, then any Allow, else implicit
//     deny; conditions are not evaluated). The trust policy is not
//     evaluated.
func RolePermitsTx(ctx context.Context, tx querier, account, roleArn string, needs []warden.Permission, strictRoles bool) (*warden.Permission, error) {
	assume := &warden.Permission{Action: "sts:AssumeRole", Resource: roleArn}
	roleAccount, path, name, ok := warden.ParseRoleARN(roleArn)
	if !ok || roleAccount != account {
		return assume, nil
	}
	if !strictRoles {
		if hasRoles, err := rowExists(ctx, tx, `SELECT 1 FROM iam_roles WHERE account = ? LIMIT 1`, account); err != nil || !hasRoles {
			return nil, err
		}
	}
	var storedPath string
	err := tx.QueryRowContext(ctx, `SELECT path FROM iam_roles WHERE account = ? AND name_key = ?`,
		account, warden.RoleNameKey(name)).Scan(&storedPath)
	if errors.Is(err, sql.ErrNoRows) || err == nil && storedPath != path {
		return assume, nil
	}
	if err != nil {
		return nil, err
	}
	docs, err := queryAll(ctx, tx, func(r rowScanner) (parsed warden.IAMPolicyDocument, err error) {
		var policyName, doc string
		if err := r.Scan(&policyName, &doc); err != nil {
			return parsed, err
		}
		if parsed, err = warden.ParseIAMPolicy(doc); err != nil {
			return parsed, fmt.Errorf("stored policy %s of role %s: %w", policyName, name, err)
		}
		return parsed, nil
	}, `SELECT name, document FROM iam_role_policies WHERE account = ? AND role_key = ? ORDER BY name_key`,
		account, warden.RoleNameKey(name))
	if err != nil {
		return nil, err
	}
	for i := range needs {
		if !warden.Allowed(docs, needs[i].Action, needs[i].Resource) {
			missing := needs[i]
			return &missing, nil
		}
	}
	return nil, nil
}
