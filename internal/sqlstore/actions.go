package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/warden-iot/warden"
)

const actionColumns = `seq, name, id, role_arn, params, created_at, updated_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanAction(r rowScanner) (warden.MitigationAction, int64, error) {
	var a warden.MitigationAction
	var seq, created, updated int64
	var params string
	if err := r.Scan(&seq, &a.Name, &a.ID, &a.RoleArn, &params, &created, &updated); err != nil {
		return a, 0, err
	}
	if err := json.Unmarshal([]byte(params), &a.Params); err != nil {
		return a, 0, fmt.Errorf("stored params of action %s: %w", a.Name, err)
	}
	a.CreationDate, a.LastModifiedDate = fromMillis(created), fromMillis(updated)
	return a, seq, nil
}

func actionNotFound(name string) error {
	return warden.Errorf(warden.CodeResourceNotFound, "Mitigation action %s does not exist.", name)
}

func getAction(ctx context.Context, q queryRower, s warden.Scope, name string) (warden.MitigationAction, error) {
	a, _, err := scanAction(q.QueryRowContext(ctx, selectActionSQL, s.Account, s.Region, name))
	return a, noRowAs(err, actionNotFound(name))
}

// insertActionSQL inserts an action unless one of that name exists or the
// account is at its quota: the usual create is one statement, and only when
// nothing was inserted does the store look for the reason.
const insertActionSQL = `INSERT INTO mitigation_actions
	(account, region, name, id, action_type, role_arn, params, created_at, updated_at)
	SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?
	WHERE (SELECT COUNT(*) FROM mitigation_actions WHERE account = ? AND region = ?) < ?
	ON CONFLICT (account, region, name) DO NOTHING`

// CreateMitigationAction stores a new action, or returns the identical one.
func (db *DB) CreateMitigationAction(ctx context.Context, s warden.Scope, a warden.MitigationAction, tags []warden.Tag) (_ warden.MitigationAction, _ bool, err error) {
	defer wrapErr(&err, "CreateMitigationAction(%v, %q)", s, a.Name)
	params, err := json.Marshal(&a.Params)
	if err != nil {
		return a, false, err
	}
	created := false
	err = db.inTx(ctx, func(tx writeTx) error {
		// Every create reads the account's actions to count them, so
		// concurrent creates and deletes would conflict on PostgreSQL.
		if err := db.takeTurns(ctx, tx, "mitigation_actions"); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, insertActionSQL, s.Account, s.Region, a.Name, a.ID, a.Params.Type(), a.RoleArn, string(params),
			millis(a.CreationDate), millis(a.LastModifiedDate), s.Account, s.Region, warden.MaxMitigationActions)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			created = true
			return putTags(ctx, tx, s, a.ARN(s), tags)
		}
		existing, err := getAction(ctx, tx, s, a.Name)
		if warden.ErrorCode(err) == warden.CodeResourceNotFound {
			return warden.Errorf(warden.CodeLimitExceeded,
				"An account can have at most %d mitigation actions; delete one before creating another.", warden.MaxMitigationActions)
		}
		if err != nil {
			return err
		}
		if existing.RoleArn != a.RoleArn || !existing.Params.Equal(&a.Params) {
			return &warden.Error{Code: warden.CodeResourceAlreadyExists,
				Message:    fmt.Sprintf("Mitigation action %s already exists with different parameters.", a.Name),
				ResourceID: existing.ID, ResourceArn: existing.ARN(s)}
		}
		a = existing
		return nil
	})
	return a, created, err
}

// UpdateMitigationAction changes an action's role and/or parameters.
func (db *DB) UpdateMitigationAction(ctx context.Context, s warden.Scope, name string, roleArn *string, params *warden.MitigationActionParams, now time.Time) (_ warden.MitigationAction, err error) {
	defer wrapErr(&err, "UpdateMitigationAction(%v, %q)", s, name)
	var a warden.MitigationAction
	err = db.inTx(ctx, func(tx writeTx) error {
		if err := db.takeTurns(ctx, tx, "mitigation_actions"); err != nil {
			return err
		}
		var err error
		if a, err = getAction(ctx, tx, s, name); err != nil {
			return err
		}
		if roleArn != nil {
			a.RoleArn = *roleArn
		}
		if params != nil {
			a.Params = *params
		}
		a.LastModifiedDate = now
		encoded, err := json.Marshal(&a.Params)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE mitigation_actions SET role_arn = ?, params = ?, action_type = ?, updated_at = ?
			WHERE account = ? AND region = ? AND name = ?`,
			a.RoleArn, string(encoded), a.Params.Type(), millis(now), s.Account, s.Region, name)
		return err
	})
	return a, err
}

// DeleteMitigationAction removes an action and its tags.
func (db *DB) DeleteMitigationAction(ctx context.Context, s warden.Scope, name string) (err error) {
	defer wrapErr(&err, "DeleteMitigationAction(%v, %q)", s, name)
	return db.inTx(ctx, func(tx writeTx) error {
		if err := db.takeTurns(ctx, tx, "mitigation_actions"); err != nil {
			return err
		}
		// The DELETE also says whether the action has tags, which the
		// usual one does not: one statement fewer.
		arn := s.IoTARN("mitigationaction/" + name)
		var tagged bool
		err := tx.QueryRowContext(ctx, `DELETE FROM mitigation_actions WHERE account = ? AND region = ? AND name = ?
			RETURNING EXISTS (SELECT 1 FROM tags t
				WHERE t.account = mitigation_actions.account AND t.region = mitigation_actions.region AND t.resource_arn = ?)`,
			s.Account, s.Region, name, arn).Scan(&tagged)
		if errors.Is(err, sql.ErrNoRows) || err == nil && !tagged {
			return nil
		}
		if err != nil {
			return err
		}
		return deleteTags(ctx, tx, s, arn)
	})
}

const selectActionSQL = `SELECT ` + actionColumns + ` FROM mitigation_actions WHERE account = ? AND region = ? AND name = ?`

// MitigationAction returns one action.
func (db *DB) MitigationAction(ctx context.Context, s warden.Scope, name string) (_ warden.MitigationAction, err error) {
	defer wrapErr(&err, "MitigationAction(%v, %q)", s, name)
	return getAction(ctx, db.read, s, name)
}

// MitigationActions lists actions newest first. The cursor is the sequence
// number of the last action returned, so adding or removing actions while a
// client pages neither skips nor repeats one.
func (db *DB) MitigationActions(ctx context.Context, s warden.Scope, actionType string, p warden.Page) (_ []warden.MitigationAction, _ string, err error) {
	defer wrapErr(&err, "MitigationActions(%v, %q)", s, actionType)
	after, _, _, err := seqCursor(p.After, false, warden.Errorf(warden.CodeInvalidRequest, "invalid nextToken"))
	if err != nil {
		return nil, "", err
	}
	query := `SELECT ` + actionColumns + ` FROM mitigation_actions WHERE account = ? AND region = ? AND seq < ?`
	args := []any{s.Account, s.Region, after}
	query, args = andEq(query, args, "action_type", actionType)
	query += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, p.Limit+1)
	return seqPage(ctx, db.read, p.Limit, query, args, func(r *sql.Rows) (warden.MitigationAction, int64, error) { return scanAction(r) })
}
