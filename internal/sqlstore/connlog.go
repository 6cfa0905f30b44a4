package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

// RecordConnections writes a batch of connect and disconnect events in one
// transaction: the connects as multi-row INSERTs, then the disconnects as
// multi-row UPDATEs (a round trip per statement is what PostgreSQL charges
// most for). A session has one connect and one disconnect, so doing every
// insert first only differs from the event order when a disconnect was
// observed before its connect, which it then still closes; of two
// disconnects of one session the first counts. On PostgreSQL the batch runs
// at READ COMMITTED: every statement touches only its own sessions' rows, so
// batches of several nodes need not be serialised (and retried) against
// each other.
func (db *DB) RecordConnections(ctx context.Context, events []warden.DataPlaneEvent) (err error) {
	defer wrapErr(&err, "RecordConnections()")
	var connects, disconnects []*warden.DataPlaneEvent
	closing := map[string]bool{}
	for i := range events {
		e := &events[i]
		if e.Scope == (warden.Scope{}) {
			continue
		}
		switch e.Type {
		case warden.EventConnect:
			connects = append(connects, e)
		case warden.EventDisconnect:
			key := e.Scope.Account + "\x00" + e.Scope.Region + "\x00" + e.SessionID
			if !closing[key] {
				closing[key] = true
				disconnects = append(disconnects, e)
			}
		}
	}
	if len(connects) == 0 && len(disconnects) == 0 {
		return nil
	}
	return db.inClaimTx(ctx, func(tx writeTx) error {
		for rest := connects; len(rest) > 0; {
			chunk := rest[:statementRows(len(rest))]
			rest = rest[len(chunk):]
			args := make([]any, 0, 13*len(chunk))
			for _, e := range chunk {
				at := millis(e.At)
				result := warden.StatusSuccess
				var closed any // NULL: open
				if e.Status == warden.StatusFailure {
					result, closed = warden.StatusFailure, at
				}
				args = append(args, e.Scope.Account, e.Scope.Region, e.SessionID, e.ClientID, e.PrincipalID, e.ThingName, e.SourceIP,
					e.SourcePort, at, closed, at, result, e.Reason)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO connection_log (account, region, session_id, client_id, certificate_id,
				thing_name, source_ip, source_port, connected_at, disconnected_at, last_at, result, reason) VALUES `+
				rowMarks(len(chunk), `(?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), ?, ?)`), args...); err != nil {
				return err
			}
		}
		for rest := disconnects; len(rest) > 0; {
			chunk := rest[:statementRows(len(rest))]
			rest = rest[len(chunk):]
			args := make([]any, 0, 5*len(chunk))
			for _, e := range chunk {
				args = append(args, e.Scope.Account, e.Scope.Region, e.SessionID, millis(e.At), e.DisconnectReason)
			}
			// A disconnect never closes a session before it opened.
			if _, err := tx.ExecContext(ctx, `UPDATE connection_log
				SET disconnected_at = CASE WHEN connected_at > d.at THEN connected_at ELSE d.at END,
				last_at = CASE WHEN connected_at > d.at THEN connected_at ELSE d.at END,
				disconnect_reason = d.reason
				FROM (`+rowMarks(len(chunk), `SELECT ? AS account, ? AS region, ? AS session_id, CAST(? AS BIGINT) AS at, ? AS reason`, " UNION ALL ")+`) AS d
				WHERE connection_log.account = d.account AND connection_log.region = d.region
				AND connection_log.session_id = d.session_id AND connection_log.disconnected_at IS NULL`, args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// statementRows is how many of n rows the next multi-row statement takes:
// 64, 16, 4 or 1, so that the statements prepared and cached are few.
func statementRows(n int) int {
	for _, size := range []int{64, 16, 4} {
		if n >= size {
			return size
		}
	}
	return 1
}

// rowMarks repeats row n times, separated by sep (", " by default).
func rowMarks(n int, row string, sep ...string) string {
	between := ", "
	if len(sep) > 0 {
		between = sep[0]
	}
	return strings.TrimSuffix(strings.Repeat(row+between, n), between)
}

// connectionWhere is the WHERE clause of a ConnectionFilter.
func connectionWhere(s warden.Scope, f warden.ConnectionFilter) (string, []any) {
	where := ` WHERE account = ? AND region = ? AND connected_at <= ? AND (disconnected_at IS NULL OR disconnected_at >= ?)`
	args := []any{s.Account, s.Region, millis(f.End), millis(f.Start)}
	where, args = andEq(where, args, "certificate_id", f.CertificateID)
	where, args = andEq(where, args, "client_id", f.ClientID)
	if f.SuccessOnly {
		where += ` AND result = ?`
		args = append(args, warden.StatusSuccess)
	}
	return where, args
}

const connectionColumns = `seq, session_id, client_id, certificate_id, thing_name, source_ip, source_port,
	connected_at, disconnected_at, result, reason, disconnect_reason`

func scanConnection(rows rowScanner, r *warden.ConnectionRecord) (seq, connected int64, err error) {
	var disconnected sql.NullInt64
	*r = warden.ConnectionRecord{}
	if err := rows.Scan(&seq, &r.SessionID, &r.ClientID, &r.CertificateID, &r.ThingName, &r.SourceIP, &r.SourcePort,
		&connected, &disconnected, &r.Result, &r.Reason, &r.DisconnectReason); err != nil {
		return 0, 0, err
	}
	r.ConnectedAt = fromMillis(connected)
	if disconnected.Valid {
		r.DisconnectedAt = fromMillis(disconnected.Int64)
	}
	return seq, connected, nil
}

// Connections lists the scope's rows f selects, newest connect first.
func (db *DB) Connections(ctx context.Context, s warden.Scope, f warden.ConnectionFilter, p warden.Page) (_ []warden.ConnectionRecord, _ string, err error) {
	defer wrapErr(&err, "Connections(%v)", s)
	where, args := connectionWhere(s, f)
	after, afterArgs, err := timeSeqAfter(p.After, "connected_at", "<")
	if err != nil {
		return nil, "", err
	}
	where, args = where+after, append(args, afterArgs...)
	if p.Limit <= 0 {
		p.Limit = 100
	}
	args = append(args, p.Limit+1)
	return keyPage(ctx, db.read, p.Limit, func(rs rowScanner) (r warden.ConnectionRecord, _ string, err error) {
		seq, at, err := scanConnection(rs, &r)
		return r, fmt.Sprintf("%d:%d", at, seq), err
	}, `SELECT `+connectionColumns+` FROM connection_log`+where+` ORDER BY connected_at DESC, seq DESC LIMIT ?`, args...)
}

// ScanConnections streams the rows f selects in the order by.
func (db *DB) ScanConnections(ctx context.Context, s warden.Scope, f warden.ConnectionFilter, by string, fn func(*warden.ConnectionRecord) error) (err error) {
	defer wrapErr(&err, "ScanConnections(%v, %q)", s, by)
	var order string
	switch by {
	case warden.ByCertificate:
		order = ` ORDER BY certificate_id, connected_at, seq`
	case warden.ByClientID:
		order = ` ORDER BY client_id, connected_at, seq`
	default:
		return fmt.Errorf("ScanConnections: unknown order %q", by)
	}
	where, args := connectionWhere(s, f)
	var r warden.ConnectionRecord
	return queryEach(ctx, db.read, func(rs rowScanner) error {
		if _, _, err := scanConnection(rs, &r); err != nil {
			return err
		}
		return fn(&r)
	}, `SELECT `+connectionColumns+` FROM connection_log`+where+order, args...)
}

// PruneConnections deletes the rows whose last event is before cutoff, a
// batch per transaction so that a large backlog does not hold the writer.
func (db *DB) PruneConnections(ctx context.Context, cutoff time.Time) (_ int64, err error) {
	defer wrapErr(&err, "PruneConnections()")
	const batch = 5000
	var total int64
	for {
		var n int64
		err := db.inClaimTx(ctx, func(tx writeTx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM connection_log WHERE seq IN
				(SELECT seq FROM connection_log WHERE last_at < ? ORDER BY last_at, seq LIMIT ?)`, millis(cutoff), batch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < batch {
			return total, nil
		}
	}
}
