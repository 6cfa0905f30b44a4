package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

// ApplyDetectTransitions records the evaluator's transitions in one
// transaction, with the SNS alerts of their events.
func (db *DB) ApplyDetectTransitions(ctx context.Context, s warden.Scope, ts []warden.DetectTransition) (_ []warden.ViolationEvent, err error) {
	defer wrapErr(&err, "ApplyDetectTransitions(%v)", s)
	var events []warden.ViolationEvent
	err = db.inTx(ctx, func(tx writeTx) error {
		events = events[:0] // a retried transaction starts over
		// Every transition reads the active violation before it writes:
		// concurrent evaluators take turns instead of failing serialization.
		if err := db.takeTurns(ctx, tx, "detect_violations"); err != nil {
			return err
		}
		for i := range ts {
			e, err := applyTransition(ctx, tx, s, &ts[i])
			if err != nil {
				return err
			}
			if e == nil {
				continue
			}
			events = append(events, *e)
			if err := detectAlert(ctx, tx, s, &ts[i], e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return events, nil
}

// activeViolation is the active violation of a transition's (profile,
// behaviour, thing), if any.
type activeViolation struct {
	id, state, description string
}

func findActive(ctx context.Context, tx writeTx, s warden.Scope, t *warden.DetectTransition) (*activeViolation, error) {
	var a activeViolation
	err := tx.QueryRowContext(ctx, `SELECT violation_id, verification_state, verification_description FROM detect_violations
		WHERE account = ? AND region = ? AND profile_name = ? AND behavior_name = ? AND thing_name = ? AND end_time = 0`,
		s.Account, s.Region, t.SecurityProfileName, t.Behavior.Name, t.ThingName).Scan(&a.id, &a.state, &a.description)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return &a, err
}

// encodeValue is the stored JSON of a metric value ("" for none).
func encodeValue(v *warden.MetricValue) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

func decodeValue(s string) (*warden.MetricValue, error) {
	if s == "" {
		return nil, nil
	}
	var v warden.MetricValue
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("stored metric value: %w", err)
	}
	return &v, nil
}

// applyTransition applies one transition and returns the event it wrote,
// nil when it wrote none: a violating datapoint of a device already in
// alarm (whether the evaluator says in-alarm again or "") only moves the
// last value, and a clear without an active violation does nothing.
func applyTransition(ctx context.Context, tx writeTx, s warden.Scope, t *warden.DetectTransition) (*warden.ViolationEvent, error) {
	switch t.Type {
	case warden.ViolationInAlarm, "", warden.ViolationCleared, warden.ViolationInvalidated:
	default:
		return nil, fmt.Errorf("unknown violation event type %q", t.Type)
	}
	active, err := findActive(ctx, tx, s, t)
	if err != nil {
		return nil, err
	}
	value, err := encodeValue(t.Value)
	if err != nil {
		return nil, err
	}
	at := millis(t.At)
	e := &warden.ViolationEvent{ThingName: t.ThingName, SecurityProfileName: t.SecurityProfileName, Behavior: t.Behavior,
		MetricValue: t.Value, Type: t.Type, VerificationState: warden.VerificationUnknown, Time: t.At.UTC().Truncate(time.Millisecond)}
	switch {
	case (t.Type == warden.ViolationInAlarm || t.Type == "") && active != nil:
		_, err := tx.ExecContext(ctx, `UPDATE detect_violations SET last_value = ?, last_violation_time = ?
			WHERE account = ? AND region = ? AND violation_id = ?`, value, at, s.Account, s.Region, active.id)
		return nil, err
	case t.Type == warden.ViolationInAlarm || t.Type == "":
		behavior, err := json.Marshal(&t.Behavior)
		if err != nil {
			return nil, err
		}
		e.ViolationID, e.Type = warden.NewViolationID(), warden.ViolationInAlarm
		if _, err := tx.ExecContext(ctx, `INSERT INTO detect_violations (account, region, violation_id, thing_name, profile_name,
				behavior_name, behavior, criteria_type, suppressed, last_value, start_time, last_violation_time)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.Account, s.Region, e.ViolationID, t.ThingName, t.SecurityProfileName, t.Behavior.Name, string(behavior),
			t.Behavior.CriteriaType(), boolInt(t.Behavior.Suppressed()), value, at, at); err != nil {
			return nil, err
		}
	case active == nil:
		return nil, nil
	default:
		e.ViolationID, e.VerificationState, e.VerificationStateDescription = active.id, active.state, active.description
		if _, err := tx.ExecContext(ctx, `UPDATE detect_violations SET end_time = ?
			WHERE account = ? AND region = ? AND violation_id = ?`, max(at, 1), s.Account, s.Region, active.id); err != nil {
			return nil, err
		}
	}
	return e, insertEvent(ctx, tx, s, e, value)
}

func insertEvent(ctx context.Context, tx writeTx, s warden.Scope, e *warden.ViolationEvent, value string) error {
	behavior, err := json.Marshal(&e.Behavior)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO detect_violation_events (account, region, violation_id, thing_name, profile_name,
			behavior, criteria_type, suppressed, event_type, metric_value, verification_state, verification_description, event_time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.Account, s.Region, e.ViolationID, e.ThingName, e.SecurityProfileName, string(behavior), e.Behavior.CriteriaType(),
		boolInt(e.Behavior.Suppressed()), e.Type, value, e.VerificationState, e.VerificationStateDescription, millis(e.Time))
	return err
}

// detectAlert publishes event e of transition t to the profile's SNS alert
// target in tx, as an SNS Publish by the target's role would: not for a
// suppressed behaviour, nor when the role may not sns:Publish on the topic
// or the topic does not exist (logged, the violation is recorded all the
// same).
func detectAlert(ctx context.Context, tx writeTx, s warden.Scope, t *warden.DetectTransition, e *warden.ViolationEvent) error {
	target := t.AlertTarget
	if target == nil || t.Behavior.Suppressed() {
		return nil
	}
	needs := warden.MitigationPermissions(warden.ActionPublishFindingToSNS, warden.MitigationResources{TopicArn: target.AlertTargetArn})
	missing, err := RolePermitsTx(ctx, tx, s.Account, target.RoleArn, needs, t.StrictRoles)
	if err != nil {
		return err
	}
	skip := func(why string) {
		slog.Warn("Detect alert not sent", "account", s.Account, "region", s.Region, "securityProfile", t.SecurityProfileName,
			"violationId", e.ViolationID, "topic", target.AlertTargetArn, "role", target.RoleArn, "why", why)
	}
	if missing != nil {
		skip(warden.MitigationPermissionDenied(s.Account, target.RoleArn, *missing))
		return nil
	}
	msg, err := warden.DetectAlertMessage(e)
	if err != nil {
		return err
	}
	_, err = EnqueuePublishTx(ctx, tx, s, target.AlertTargetArn, "", msg, t.At)
	var werr *warden.Error
	if errors.As(err, &werr) {
		// The topic is gone or not the scope's: checked before any write.
		skip(werr.Message)
		return nil
	}
	return err
}

const violationColumns = `seq, violation_id, thing_name, profile_name, behavior, last_value, verification_state,
	verification_description, start_time, last_violation_time, end_time`

func scanViolation(r rowScanner) (v warden.Violation, seq int64, err error) {
	var behavior, value string
	var start, last, end int64
	if err := r.Scan(&seq, &v.ID, &v.ThingName, &v.SecurityProfileName, &behavior, &value, &v.VerificationState,
		&v.VerificationStateDescription, &start, &last, &end); err != nil {
		return v, 0, err
	}
	if err := json.Unmarshal([]byte(behavior), &v.Behavior); err != nil {
		return v, 0, fmt.Errorf("stored behavior of violation %s: %w", v.ID, err)
	}
	if v.LastViolationValue, err = decodeValue(value); err != nil {
		return v, 0, err
	}
	v.StartTime, v.LastViolationTime = fromMillis(start), fromMillis(last)
	if end != 0 {
		v.EndTime = fromMillis(end)
	}
	return v, seq, nil
}

// violationWhere is the condition of f's filters common to violations and
// events.
func violationWhere(s warden.Scope, f *warden.ViolationFilter) (string, []any) {
	where, args := ` WHERE account = ? AND region = ?`, []any{s.Account, s.Region}
	where, args = andEq(where, args, "thing_name", f.ThingName)
	where, args = andEq(where, args, "profile_name", f.SecurityProfileName)
	where, args = andEq(where, args, "criteria_type", f.CriteriaType)
	where, args = andEq(where, args, "verification_state", f.VerificationState)
	if f.ListSuppressedAlerts != nil && !*f.ListSuppressedAlerts {
		where += ` AND suppressed = 0`
	}
	return where, args
}

var errBadViolationToken = warden.Errorf(warden.CodeInvalidRequest, "The nextToken is not valid for this request.")

// ActiveViolations lists the active violations f selects, newest first.
// Suppressed ones are listed unless f.ListSuppressedAlerts is false.
func (db *DB) ActiveViolations(ctx context.Context, s warden.Scope, f warden.ViolationFilter, p warden.Page) (_ []warden.Violation, _ string, err error) {
	defer wrapErr(&err, "ActiveViolations(%v)", s)
	after, _, _, err := seqCursor(p.After, false, errBadViolationToken)
	if err != nil {
		return nil, "", err
	}
	where, args := violationWhere(s, &f)
	args = append(args, after, pageLimit(p)+1)
	return seqPage(ctx, db.read, pageLimit(p), `SELECT `+violationColumns+` FROM detect_violations`+where+
		` AND end_time = 0 AND seq < ? ORDER BY seq DESC LIMIT ?`, args,
		func(r *sql.Rows) (warden.Violation, int64, error) { return scanViolation(r) })
}

// pageLimit is p's limit, 100 when unset.
func pageLimit(p warden.Page) int {
	if p.Limit <= 0 {
		return 100
	}
	return p.Limit
}

// ViolationEvents lists the events f selects in [f.Start, f.End], newest
// first; the cursor is the last event's time and seq.
func (db *DB) ViolationEvents(ctx context.Context, s warden.Scope, f warden.ViolationFilter, p warden.Page) (_ []warden.ViolationEvent, _ string, err error) {
	defer wrapErr(&err, "ViolationEvents(%v)", s)
	where, args := violationWhere(s, &f)
	where += ` AND event_time >= ? AND event_time <= ?`
	args = append(args, millis(f.Start), millis(f.End))
	after, afterArgs, err := timeSeqAfter(p.After, "event_time", "<")
	if err != nil {
		return nil, "", err
	}
	where, args = where+after, append(args, afterArgs...)
	args = append(args, pageLimit(p)+1)
	return keyPage(ctx, db.read, pageLimit(p), func(r rowScanner) (e warden.ViolationEvent, _ string, err error) {
		var seq, at int64
		var behavior, value string
		if err := r.Scan(&seq, &e.ViolationID, &e.ThingName, &e.SecurityProfileName, &behavior, &e.Type, &value,
			&e.VerificationState, &e.VerificationStateDescription, &at); err != nil {
			return e, "", err
		}
		if err := json.Unmarshal([]byte(behavior), &e.Behavior); err != nil {
			return e, "", fmt.Errorf("stored behavior of violation %s: %w", e.ViolationID, err)
		}
		if e.MetricValue, err = decodeValue(value); err != nil {
			return e, "", err
		}
		e.Time = fromMillis(at)
		return e, fmt.Sprintf("%d:%d", at, seq), nil
	}, `SELECT seq, violation_id, thing_name, profile_name, behavior, event_type, metric_value, verification_state,
		verification_description, event_time FROM detect_violation_events`+where+` ORDER BY event_time DESC, seq DESC LIMIT ?`, args...)
}

// PutVerificationState sets the verification state of a violation, active
// or ended, and of its events.
func (db *DB) PutVerificationState(ctx context.Context, s warden.Scope, violationID, state, description string, now time.Time) (err error) {
	defer wrapErr(&err, "PutVerificationState(%v, %q)", s, violationID)
	return db.inTx(ctx, func(tx writeTx) error {
		if err := db.takeTurns(ctx, tx, "detect_violations"); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE detect_violations SET verification_state = ?, verification_description = ?
			WHERE account = ? AND region = ? AND violation_id = ?`, state, description, s.Account, s.Region, violationID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return warden.Errorf(warden.CodeInvalidRequest, "Violation %s does not exist.", violationID)
		}
		_, err = tx.ExecContext(ctx, `UPDATE detect_violation_events SET verification_state = ?, verification_description = ?
			WHERE account = ? AND region = ? AND violation_id = ?`, state, description, s.Account, s.Region, violationID)
		return err
	})
}

// metricValueRows is how many datapoints one INSERT writes.
const metricValueRows = 100

// RecordMetricValues stores datapoints, a multi-row INSERT per hundred.
// Pure inserts: on PostgreSQL they run at READ COMMITTED.
func (db *DB) RecordMetricValues(ctx context.Context, s warden.Scope, ds []warden.MetricDatum) (err error) {
	defer wrapErr(&err, "RecordMetricValues(%v)", s)
	if len(ds) == 0 {
		return nil
	}
	values := make([]string, len(ds))
	for i := range ds {
		if values[i], err = encodeValue(&ds[i].Value); err != nil {
			return err
		}
	}
	return db.inClaimTx(ctx, func(tx writeTx) error {
		for from := 0; from < len(ds); from += metricValueRows {
			chunk := ds[from:min(from+metricValueRows, len(ds))]
			var b strings.Builder
			b.WriteString(`INSERT INTO detect_metric_values (account, region, thing_name, metric, dimension_name, dimension_operator, at, value) VALUES `)
			args := make([]any, 0, 8*len(chunk))
			for i := range chunk {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
				d := &chunk[i]
				operator := d.DimensionOperator
				if d.DimensionName != "" && operator == "" {
					operator = "IN" // the default, as MetricValues reads it
				}
				args = append(args, s.Account, s.Region, d.ThingName, d.Metric, d.DimensionName, operator,
					millis(d.Time), values[from+i])
			}
			if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// MetricValues lists a thing's datapoints of one metric in [f.Start,
// f.End], oldest first. Without a dimension name only the metric's own
// datapoints are listed; with one, those of the operator (IN when unset).
func (db *DB) MetricValues(ctx context.Context, s warden.Scope, f warden.MetricValueFilter, p warden.Page) (_ []warden.MetricDatum, _ string, err error) {
	defer wrapErr(&err, "MetricValues(%v)", s)
	operator := ""
	if f.DimensionName != "" {
		operator = f.DimensionOperator
		if operator == "" {
			operator = "IN"
		}
	}
	where := ` WHERE account = ? AND region = ? AND thing_name = ? AND metric = ? AND dimension_name = ? AND dimension_operator = ?
		AND at >= ? AND at <= ?`
	args := []any{s.Account, s.Region, f.ThingName, f.Metric, f.DimensionName, operator, millis(f.Start), millis(f.End)}
	after, afterArgs, err := timeSeqAfter(p.After, "at", ">")
	if err != nil {
		return nil, "", err
	}
	where, args = where+after, append(args, afterArgs...)
	args = append(args, pageLimit(p)+1)
	return keyPage(ctx, db.read, pageLimit(p), func(r rowScanner) (d warden.MetricDatum, _ string, err error) {
		var seq, at int64
		var value string
		if err := r.Scan(&seq, &d.ThingName, &d.Metric, &d.DimensionName, &d.DimensionOperator, &at, &value); err != nil {
			return d, "", err
		}
		if err := json.Unmarshal([]byte(value), &d.Value); err != nil {
			return d, "", fmt.Errorf("stored metric value: %w", err)
		}
		d.Time = fromMillis(at)
		return d, fmt.Sprintf("%d:%d", at, seq), nil
	}, `SELECT seq, thing_name, metric, dimension_name, dimension_operator, at, value FROM detect_metric_values`+where+
		` ORDER BY at, seq LIMIT ?`, args...)
}

// PruneViolations deletes the ended violations last violated before
// before, and the events and datapoints older than before, a batch per
// transaction so that a large backlog does not hold the writer.
func (db *DB) PruneViolations(ctx context.Context, before time.Time) (err error) {
	defer wrapErr(&err, "PruneViolations()")
	cutoff := millis(before)
	for _, q := range []string{
		`DELETE FROM detect_violations WHERE seq IN (SELECT seq FROM detect_violations
			WHERE last_violation_time < ? AND end_time <> 0 ORDER BY last_violation_time, seq LIMIT ?)`,
		`DELETE FROM detect_violation_events WHERE seq IN (SELECT seq FROM detect_violation_events
			WHERE event_time < ? ORDER BY event_time, seq LIMIT ?)`,
		`DELETE FROM detect_metric_values WHERE seq IN (SELECT seq FROM detect_metric_values
			WHERE at < ? ORDER BY at, seq LIMIT ?)`,
	} {
		const batch = 5000
		for {
			var n int64
			err := db.inClaimTx(ctx, func(tx writeTx) error {
				res, err := tx.ExecContext(ctx, q, cutoff, batch)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return err
			}
			if n < batch {
				break
			}
		}
	}
	return nil
}

// timeSeqAfter is the keyset condition of a list ordered by (column, seq),
// ascending (cmp ">") or descending ("<"), that resumes after the cursor
// "time:seq" of the last row returned; none without a cursor.
func timeSeqAfter(after, column, cmp string) (string, []any, error) {
	if after == "" {
		return "", nil, nil
	}
	at, seq, err := auditCursorPair(after)
	if err != nil {
		return "", nil, err
	}
	return ` AND (` + column + ` ` + cmp + ` ? OR (` + column + ` = ? AND seq ` + cmp + ` ?))`, []any{at, at, seq}, nil
}

// invalidateViolationsTx ends, in tx, the active violations of profile
// (those of the behaviours named, or all when behaviors is nil) with an
// alarm-invalidated event each, and returns the events: for
// DeleteSecurityProfile, and for an update that drops behaviours. No alert
// is sent for them.
func invalidateViolationsTx(ctx context.Context, tx writeTx, s warden.Scope, profile string, behaviors []string, now time.Time) ([]warden.ViolationEvent, error) {
	active, err := queryAll(ctx, tx, func(r rowScanner) (warden.Violation, error) {
		v, _, err := scanViolation(r)
		return v, err
	}, `SELECT `+violationColumns+` FROM detect_violations WHERE account = ? AND region = ? AND profile_name = ? AND end_time = 0 ORDER BY seq`,
		s.Account, s.Region, profile)
	if err != nil {
		return nil, err
	}
	var events []warden.ViolationEvent
	for _, v := range active {
		if behaviors != nil && !slices.Contains(behaviors, v.Behavior.Name) {
			continue
		}
		e := warden.ViolationEvent{ViolationID: v.ID, ThingName: v.ThingName, SecurityProfileName: profile, Behavior: v.Behavior,
			Type: warden.ViolationInvalidated, VerificationState: v.VerificationState,
			VerificationStateDescription: v.VerificationStateDescription, Time: now.UTC().Truncate(time.Millisecond)}
		if _, err := tx.ExecContext(ctx, `UPDATE detect_violations SET end_time = ? WHERE account = ? AND region = ? AND violation_id = ?`,
			max(millis(now), 1), s.Account, s.Region, v.ID); err != nil {
			return nil, err
		}
		if err := insertEvent(ctx, tx, s, &e, ""); err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, nil
}
