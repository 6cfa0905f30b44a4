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

// v2LevelChange is the change-log document of a per-target level.
type v2LevelChange struct {
	TargetType string `json:"targetType"`
	TargetName string `json:"targetName"`
	LogLevel   string `json:"logLevel"`
}

func getV2Level(ctx context.Context, q querier, s warden.Scope, t warden.LogTarget) (level string, ok bool, err error) {
	err = q.QueryRowContext(ctx, `SELECT log_level FROM logging_levels_v2
		WHERE account = ? AND region = ? AND target_type = ? AND target_name = ?`,
		s.Account, s.Region, t.Type, t.Name).Scan(&level)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return level, err == nil, err
}

// SetV2LoggingLevel sets the level of one target. The account's V2 logging
// options must be set first (NotConfigured), as the model's error list for
// the operation suggests.
func (db *DB) SetV2LoggingLevel(ctx context.Context, s warden.Scope, l warden.LogTargetLevel, now time.Time) (err error) {
	defer wrapErr(&err, "SetV2LoggingLevel(%v)", s)
	return db.inTx(ctx, func(tx writeTx) error {
		o, err := getV2Logging(ctx, tx, s)
		if err != nil {
			return err
		}
		if l.Target.Type == warden.LogTargetDefault {
			// The DEFAULT target is the options' defaultLogLevel.
			o.DefaultLogLevel = l.Level
			return setV2LoggingAs(ctx, tx, s, o, now, "SetV2LoggingLevel")
		}
		if l.Target.Type == warden.LogTargetThingGroup {
			if err := requireRow(ctx, tx, warden.Errorf(warden.CodeInvalidRequest, "Thing group %s does not exist.", l.Target.Name),
				`SELECT 1 FROM thing_groups WHERE account = ? AND region = ? AND name = ?`, s.Account, s.Region, l.Target.Name); err != nil {
				return err
			}
		}
		old, existed, err := getV2Level(ctx, tx, s, l.Target)
		if err != nil {
			return err
		}
		var before any
		if existed {
			before = v2LevelChange{l.Target.Type, l.Target.Name, old}
		} else {
			if err := requireBelow(ctx, tx, warden.MaxV2LoggingLevels, warden.ErrV2LoggingLevelsLimit,
				`SELECT COUNT(*) FROM logging_levels_v2 WHERE account = ? AND region = ?`, s.Account, s.Region); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO logging_levels_v2
			(account, region, target_type, target_name, log_level, updated_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (account, region, target_type, target_name) DO UPDATE SET log_level = excluded.log_level,
			  updated_at = excluded.updated_at`,
			s.Account, s.Region, l.Target.Type, l.Target.Name, l.Level, millis(now)); err != nil {
			return err
		}
		return logChange(ctx, tx, s, warden.V2LoggingLevelARN(s, l.Target), "SetV2LoggingLevel", before,
			v2LevelChange{l.Target.Type, l.Target.Name, l.Level}, now)
	})
}

// V2LoggingLevels lists the levels in the order they were first set, after
// the DEFAULT target (the options' defaultLogLevel, when set). Like
// SetV2LoggingLevel it is NotConfigured before the V2 logging options are set.
func (db *DB) V2LoggingLevels(ctx context.Context, s warden.Scope, targetType string, p warden.Page) (_ []warden.LogTargetLevel, _ string, err error) {
	defer wrapErr(&err, "V2LoggingLevels(%v, %q)", s, targetType)
	o, err := getV2Logging(ctx, db.read, s)
	if err != nil {
		return nil, "", err
	}
	var after int64
	if p.After != "" {
		if after, err = strconv.ParseInt(p.After, 10, 64); err != nil || after < 0 {
			return nil, "", warden.Errorf(warden.CodeInvalidRequest, "invalid nextToken")
		}
	}
	type row struct {
		seq int64
		l   warden.LogTargetLevel
	}
	var all []row
	// The DEFAULT row has seq 0: a cursor of "0" resumes after it.
	if p.After == "" && (targetType == "" || targetType == warden.LogTargetDefault) && o.DefaultLogLevel != "" {
		all = append(all, row{0, warden.LogTargetLevel{Target: warden.LogTarget{Type: warden.LogTargetDefault}, Level: o.DefaultLogLevel}})
	}
	if targetType != warden.LogTargetDefault {
		query := `SELECT seq, target_type, target_name, log_level FROM logging_levels_v2 WHERE account = ? AND region = ? AND seq > ?`
		args := []any{s.Account, s.Region, after}
		query, args = andEq(query, args, "target_type", targetType)
		query += ` ORDER BY seq LIMIT ?`
		args = append(args, p.Limit+1)
		if err := queryEach(ctx, db.read, func(rs rowScanner) error {
			var r row
			err := rs.Scan(&r.seq, &r.l.Target.Type, &r.l.Target.Name, &r.l.Level)
			all = append(all, r)
			return err
		}, query, args...); err != nil {
			return nil, "", err
		}
	}
	next := ""
	if len(all) > p.Limit {
		all = all[:p.Limit]
		next = strconv.FormatInt(all[len(all)-1].seq, 10)
	}
	out := make([]warden.LogTargetLevel, len(all))
	for i, r := range all {
		out[i] = r.l
	}
	return out, next, nil
}

// DeleteV2LoggingLevel removes a target's level; a missing one is no error
// and leaves no change-log row.
func (db *DB) DeleteV2LoggingLevel(ctx context.Context, s warden.Scope, t warden.LogTarget, now time.Time) (err error) {
	defer wrapErr(&err, "DeleteV2LoggingLevel(%v)", s)
	if t.Type == warden.LogTargetDefault {
		return warden.Errorf(warden.CodeInvalidRequest, "The DEFAULT log level cannot be deleted; change it with SetV2LoggingOptions or SetV2LoggingLevel.")
	}
	return db.inTx(ctx, func(tx writeTx) error {
		old, existed, err := getV2Level(ctx, tx, s, t)
		if err != nil || !existed {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM logging_levels_v2
			WHERE account = ? AND region = ? AND target_type = ? AND target_name = ?`,
			s.Account, s.Region, t.Type, t.Name); err != nil {
			return err
		}
		return logChange(ctx, tx, s, warden.V2LoggingLevelARN(s, t), "DeleteV2LoggingLevel",
			v2LevelChange{t.Type, t.Name, old}, nil, now)
	})
}

// appendChunk bounds the rows of one INSERT (4 parameters each, far below
// SQLite's and PostgreSQL's limits).
const appendChunk = 256

// AppendV2LogEntries stores a batch of log entries in one transaction.
func (db *DB) AppendV2LogEntries(ctx context.Context, entries []warden.V2LogEntry) (err error) {
	defer wrapErr(&err, "AppendV2LogEntries()")
	if len(entries) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx writeTx) error {
		// Multi-row INSERTs: one statement per appendChunk entries.
		for len(entries) > 0 {
			chunk := entries[:min(len(entries), appendChunk)]
			entries = entries[len(chunk):]
			var q strings.Builder
			q.WriteString(`INSERT INTO v2_log_entries (account, region, at, entry) VALUES `)
			args := make([]any, 0, 4*len(chunk))
			for i, e := range chunk {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?)")
				args = append(args, e.Scope.Account, e.Scope.Region, millis(e.At), e.Entry)
			}
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// V2LogEntries lists stored log entries by seq.
func (db *DB) V2LogEntries(ctx context.Context, f warden.V2LogFilter) (_ []warden.V2LogEntry, err error) {
	defer wrapErr(&err, "V2LogEntries()")
	query := `SELECT seq, account, region, at, entry FROM v2_log_entries WHERE seq > ?`
	args := []any{f.AfterSeq}
	query, args = andEq(query, args, "account", f.Account)
	query, args = andEq(query, args, "region", f.Region)
	if !f.Since.IsZero() {
		query += ` AND at >= ?`
		args = append(args, millis(f.Since))
	}
	query += ` ORDER BY seq`
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return queryAll(ctx, db.read, func(r rowScanner) (e warden.V2LogEntry, err error) {
		var at int64
		err = r.Scan(&e.Seq, &e.Scope.Account, &e.Scope.Region, &at, &e.Entry)
		e.At = fromMillis(at)
		return e, err
	}, query, args...)
}

// pruneBatch bounds the rows one pruning transaction deletes, so that a
// large backlog does not hold SQLite's one writer for long.
const pruneBatch = 5000

// PruneV2LogEntries deletes entries older than before, then the oldest
// entries of every account and region holding more than keep.
func (db *DB) PruneV2LogEntries(ctx context.Context, before time.Time, keep int) (_ int64, err error) {
	defer wrapErr(&err, "PruneV2LogEntries()")
	var total int64
	deleteBatch := func(query string, args ...any) (int64, error) {
		var n int64
		err := db.inTx(ctx, func(tx writeTx) error {
			res, err := tx.ExecContext(ctx, query, args...)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		return n, err
	}
	for {
		n, err := deleteBatch(`DELETE FROM v2_log_entries WHERE seq IN
			(SELECT seq FROM v2_log_entries WHERE at < ? ORDER BY at LIMIT ?)`, millis(before), pruneBatch)
		total += n
		if err != nil || n < pruneBatch {
			if err != nil {
				return total, err
			}
			break
		}
	}
	if keep <= 0 {
		return total, nil
	}
	type scopeCount struct {
		s warden.Scope
		n int64
	}
	over, err := queryAll(ctx, db.read, func(r rowScanner) (sc scopeCount, err error) {
		err = r.Scan(&sc.s.Account, &sc.s.Region, &sc.n)
		return sc, err
	}, `SELECT account, region, COUNT(*) FROM v2_log_entries GROUP BY account, region HAVING COUNT(*) > ?`, keep)
	if err != nil {
		return total, err
	}
	for _, sc := range over {
		// The seq of the newest entry to delete: everything up to it goes.
		var cut int64
		err := db.read.QueryRowContext(ctx, `SELECT seq FROM v2_log_entries WHERE account = ? AND region = ?
			ORDER BY seq DESC LIMIT 1 OFFSET ?`, sc.s.Account, sc.s.Region, keep).Scan(&cut)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return total, err
		}
		for {
			n, err := deleteBatch(`DELETE FROM v2_log_entries WHERE seq IN (SELECT seq FROM v2_log_entries
				WHERE account = ? AND region = ? AND seq <= ? ORDER BY seq LIMIT ?)`, sc.s.Account, sc.s.Region, cut, pruneBatch)
			total += n
			if err != nil {
				return total, err
			}
			if n < pruneBatch {
				break
			}
		}
	}
	return total, nil
}

// ChangeLogHead is the seq of the newest change-log row, 0 when the log is empty.
func (db *DB) ChangeLogHead(ctx context.Context) (_ int64, err error) {
	defer wrapErr(&err, "ChangeLogHead()")
	var seq sql.NullInt64
	err = db.read.QueryRowContext(ctx, `SELECT MAX(seq) FROM change_log`).Scan(&seq)
	return seq.Int64, err
}
