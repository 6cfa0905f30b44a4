package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/warden-iot/warden"
)

// logChange appends a change-log row in tx, attributed to the context's actor.
// before and after are marshalled to JSON; nil means "did not exist".
func logChange(ctx context.Context, tx writeTx, s warden.Scope, arn, operation string, before, after any, now time.Time) error {
	doc := func(v any) (string, error) {
		if v == nil {
			return "", nil
		}
		b, err := json.Marshal(v)
		return string(b), err
	}
	b, err := doc(before)
	if err != nil {
		return err
	}
	a, err := doc(after)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO change_log (account, region, resource_arn, operation, before_doc, after_doc, actor, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, s.Account, s.Region, arn, operation, b, a, warden.ActorFrom(ctx), millis(now))
	return err
}

// Changes lists change-log rows oldest first. The log has no index by
// resource (writes would pay for it), so a ResourceArn filter reads the
// whole log after AfterSeq.
func (db *DB) Changes(ctx context.Context, f warden.ChangeFilter) (_ []warden.Change, err error) {
	defer wrapErr(&err, "Changes()")
	query := `SELECT seq, resource_arn, operation, before_doc, after_doc, actor, at FROM change_log WHERE seq > ?`
	args := []any{f.AfterSeq}
	if f.Scope != nil {
		query += ` AND account = ? AND region = ?`
		args = append(args, f.Scope.Account, f.Scope.Region)
	}
	query, args = andEq(query, args, "resource_arn", f.ResourceArn)
	query += ` ORDER BY seq`
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return queryAll(ctx, db.read, func(r rowScanner) (c warden.Change, err error) {
		var at int64
		err = r.Scan(&c.Seq, &c.ResourceArn, &c.Operation, &c.Before, &c.After, &c.Actor, &at)
		c.At = fromMillis(at)
		return c, err
	}, query, args...)
}

// LastChangeSeq is the highest seq in the change log (0 when empty), where
// a reader that only wants changes from now on starts: ChangeLogHead, under
// the name the broker's tail asks for.
func (db *DB) LastChangeSeq(ctx context.Context) (int64, error) { return db.ChangeLogHead(ctx) }
