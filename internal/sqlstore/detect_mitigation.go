package sqlstore

// Detect mitigation actions tasks: a task's executions, one per (violation,
// action), are created in the transaction that starts it; the engine applies
// them in batches, each execution's effect and outcome in one transaction.

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

// detectTaskRow is a detect_mitigation_tasks row.
type detectTaskRow struct {
	seq     int64
	scope   warden.Scope
	task    warden.DetectMitigationTask
	actions []mitTaskAction
	pending int64
}

const detectTaskColumns = `seq, account, region, task_id, client_request_token, status, target, occurrence_start, occurrence_end,
	only_active, include_suppressed, actions, pending, executed, skipped, failed, start_time, end_time`

func scanDetectTask(r rowScanner) (*detectTaskRow, error) {
	t := &detectTaskRow{}
	var target, actions string
	var occStart, occEnd, start, end int64
	var onlyActive, suppressed int
	if err := r.Scan(&t.seq, &t.scope.Account, &t.scope.Region, &t.task.TaskID, &t.task.ClientRequestToken, &t.task.Status,
		&target, &occStart, &occEnd, &onlyActive, &suppressed, &actions, &t.pending,
		&t.task.Executed, &t.task.Skipped, &t.task.Failed, &start, &end); err != nil {
		return nil, err
	}
	t.task.StartTime = fromMillis(start)
	if end != 0 {
		t.task.EndTime = fromMillis(end)
	}
	if occStart != 0 || occEnd != 0 {
		t.task.OccurrenceStart, t.task.OccurrenceEnd = fromMillis(occStart), fromMillis(occEnd)
	}
	t.task.OnlyActiveViolations, t.task.IncludeSuppressedAlerts = onlyActive != 0, suppressed != 0
	if err := json.Unmarshal([]byte(target), &t.task.Target); err != nil {
		return nil, fmt.Errorf("stored target of detect mitigation task %s: %w", t.task.TaskID, err)
	}
	if err := json.Unmarshal([]byte(actions), &t.actions); err != nil {
		return nil, fmt.Errorf("stored actions of detect mitigation task %s: %w", t.task.TaskID, err)
	}
	for _, a := range t.actions {
		t.task.Actions = append(t.task.Actions, warden.MitigationAction{Name: a.Name, ID: a.ID, RoleArn: a.RoleArn, Params: a.ActionParams})
	}
	return t, nil
}

func detectTaskNotFound(id string) error {
	return warden.Errorf(warden.CodeResourceNotFound, "Detect mitigation actions task %s does not exist.", id)
}

func getDetectTask(ctx context.Context, q querier, s warden.Scope, taskID string) (*detectTaskRow, error) {
	t, err := scanDetectTask(q.QueryRowContext(ctx, `SELECT `+detectTaskColumns+` FROM detect_mitigation_tasks
		WHERE account = ? AND region = ? AND task_id = ?`, s.Account, s.Region, taskID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, detectTaskNotFound(taskID)
	}
	return t, err
}

// DetectMitigationWork receives a value after a Detect task was started on
// this DB.
func (db *DB) DetectMitigationWork() <-chan struct{} { return db.workSignal("detect") }

// StartDetectMitigationTask stores a task and its executions; see
// warden.DetectMitigationStore.
func (db *DB) StartDetectMitigationTask(ctx context.Context, s warden.Scope, t warden.DetectMitigationTask, now time.Time) (warden.DetectMitigationTask, bool, error) {
	var out warden.DetectMitigationTask
	created := false
	err := db.inTx(ctx, func(tx writeTx) error {
		created = false
		existing, err := getDetectTask(ctx, tx, s, t.TaskID)
		if err == nil {
			if existing.task.ClientRequestToken != t.ClientRequestToken {
				return warden.Errorf(warden.CodeTaskAlreadyExists,
					"A Detect mitigation actions task with id %s already exists, started with a different clientRequestToken.", t.TaskID)
			}
			out = existing.task
			return nil
		}
		if warden.ErrorCode(err) != warden.CodeResourceNotFound {
			return err
		}
		var other string
		err = tx.QueryRowContext(ctx, `SELECT task_id FROM detect_mitigation_tasks WHERE account = ? AND region = ? AND client_request_token = ? LIMIT 1`,
			s.Account, s.Region, t.ClientRequestToken).Scan(&other)
		if err == nil {
			return warden.Errorf(warden.CodeInvalidRequest,
				"clientRequestToken %s was already used to start Detect mitigation actions task %s; each task needs its own token.",
				t.ClientRequestToken, other)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		snapshot, err := resolveDetectActions(ctx, tx, s, t.Actions)
		if err != nil {
			return err
		}
		if err := requireDetectViolations(ctx, tx, s, t.Target.ViolationIDs); err != nil {
			return err
		}
		if name := t.Target.SecurityProfileName; name != "" {
			exists, err := rowExists(ctx, tx, `SELECT 1 FROM security_profiles WHERE account = ? AND region = ? AND name = ?`, s.Account, s.Region, name)
			if err != nil {
				return err
			}
			if !exists {
				// The operation models no ResourceNotFound.
				return warden.Errorf(warden.CodeInvalidRequest, "target.securityProfileName: security profile %s does not exist.", name)
			}
		}
		target, err := json.Marshal(&t.Target)
		if err != nil {
			return err
		}
		actions, err := json.Marshal(snapshot)
		if err != nil {
			return err
		}
		var occStart, occEnd int64
		if t.HasOccurrenceRange() {
			occStart, occEnd = millis(t.OccurrenceStart), millis(t.OccurrenceEnd)
		}
		// DO NOTHING: see StartMitigationTask (a concurrent insert becomes a
		// retried serialization failure, not a 500).
		var seq int64
		err = tx.QueryRowContext(ctx, `INSERT INTO detect_mitigation_tasks (account, region, task_id, client_request_token, status,
				target, occurrence_start, occurrence_end, only_active, include_suppressed, actions, start_time)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (account, region, task_id) DO NOTHING RETURNING seq`,
			s.Account, s.Region, t.TaskID, t.ClientRequestToken, warden.DetectTaskInProgress, string(target),
			occStart, occEnd, boolInt(t.OnlyActiveViolations), boolInt(t.IncludeSuppressedAlerts), string(actions), millis(now)).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("detect mitigation task %s was inserted concurrently", t.TaskID)
		}
		if err != nil {
			return err
		}
		pending, err := insertDetectExecutions(ctx, tx, s, seq, &t, snapshot, now)
		if err != nil {
			return err
		}
		// A task that selects no violation has nothing to do: it ends now,
		// SUCCESSFUL with zero counts (as AWS's example shows).
		status, end := warden.DetectTaskInProgress, int64(0)
		if pending == 0 {
			status, end = warden.DetectTaskSuccessful, millis(now)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE detect_mitigation_tasks SET pending = ?, status = ?, end_time = ? WHERE seq = ?`,
			pending, status, end, seq); err != nil {
			return err
		}
		row, err := getDetectTask(ctx, tx, s, t.TaskID)
		if err != nil {
			return err
		}
		out, created = row.task, true
		return nil
	})
	if created {
		db.signalWork("detect")
	}
	return out, created, wrap(err, "start detect mitigation task")
}

// resolveDetectActions snapshots the named actions, checking that each
// exists and is ADD_THINGS_TO_THING_GROUP.
func resolveDetectActions(ctx context.Context, tx writeTx, s warden.Scope, named []warden.MitigationAction) ([]mitTaskAction, error) {
	names := make([]string, len(named))
	found := map[string]*warden.MitigationAction{}
	var snapshot []mitTaskAction
	for i, n := range named {
		names[i] = n.Name
		a, err := getAction(ctx, tx, s, n.Name)
		if warden.ErrorCode(err) == warden.CodeResourceNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		found[n.Name] = &a
		snapshot = append(snapshot, mitTaskAction{Name: a.Name, ID: a.ID, RoleArn: a.RoleArn, ActionParams: a.Params})
	}
	if err := warden.CheckDetectActions(names, found); err != nil {
		return nil, err
	}
	return snapshot, nil
}

// requireDetectViolations checks that every listed violation exists in s.
// StartDetectMitigationActionsTask models no ResourceNotFound: an unknown
// violation is InvalidRequest.
func requireDetectViolations(ctx context.Context, tx writeTx, s warden.Scope, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{s.Account, s.Region}
	for _, id := range ids {
		args = append(args, id)
	}
	known, err := queryStrings(ctx, tx, `SELECT violation_id FROM detect_violations WHERE account = ? AND region = ?
		AND violation_id IN (`+mitPlaceholders(len(ids))+`)`, args...)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, id := range known {
		have[id] = true
	}
	var missing []string
	for _, id := range ids {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return warden.Errorf(warden.CodeInvalidRequest, "target.violationIds: no violation %s exists (violations are kept for 30 days).",
			strings.Join(missing, ", "))
	}
	return nil
}

// insertDetectExecutions creates the task's executions, one per selected
// violation and action, in violation order, in one INSERT … SELECT: the
// violations never pass through memory, however many a profile has. It
// returns how many it created.
func insertDetectExecutions(ctx context.Context, tx writeTx, s warden.Scope, taskSeq int64, t *warden.DetectMitigationTask,
	actions []mitTaskAction, now time.Time) (int64, error) {
	var acts []string
	args := []any{taskSeq, t.TaskID, warden.DetectExecutionPending, millis(now)}
	for i, a := range actions {
		acts = append(acts, `SELECT CAST(? AS INTEGER) AS idx, CAST(? AS TEXT) AS name`)
		args = append(args, i, a.Name)
	}
	where := `v.account = ? AND v.region = ?`
	args = append(args, s.Account, s.Region)
	if ids := t.Target.ViolationIDs; len(ids) > 0 {
		where += ` AND v.violation_id IN (` + mitPlaceholders(len(ids)) + `)`
		for _, id := range ids {
			args = append(args, id)
		}
	} else {
		where += ` AND v.profile_name = ?`
		args = append(args, t.Target.SecurityProfileName)
		if b := t.Target.BehaviorName; b != "" {
			where += ` AND v.behavior_name = ?`
			args = append(args, b)
		}
		if t.OnlyActiveViolations {
			where += ` AND v.end_time = 0`
		}
		if !t.IncludeSuppressedAlerts {
			where += ` AND v.suppressed = 0`
		}
		if t.HasOccurrenceRange() {
			where += ` AND EXISTS (SELECT 1 FROM detect_violation_events e WHERE e.account = v.account AND e.region = v.region
				AND e.violation_id = v.violation_id AND e.event_time >= ? AND e.event_time <= ?)`
			args = append(args, millis(t.OccurrenceStart), millis(t.OccurrenceEnd))
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO detect_mitigation_executions (task_seq, account, region, task_id, violation_id,
			action_index, action_name, thing_name, status, start_time)
		SELECT CAST(? AS BIGINT), v.account, v.region, CAST(? AS TEXT), v.violation_id, a.idx, a.name, v.thing_name, CAST(? AS TEXT), CAST(? AS BIGINT)
		FROM detect_violations v CROSS JOIN (`+strings.Join(acts, ` UNION ALL `)+`) a
		WHERE `+where+` ORDER BY v.seq, a.idx`, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// DetectMitigationTask returns a task or ResourceNotFound.
func (db *DB) DetectMitigationTask(ctx context.Context, s warden.Scope, taskID string) (warden.DetectMitigationTask, error) {
	t, err := getDetectTask(ctx, db.read, s, taskID)
	if err != nil {
		return warden.DetectMitigationTask{}, wrap(err, "detect mitigation task")
	}
	return t.task, nil
}

// DetectMitigationTasks lists the tasks started in [start, end], newest
// first; the cursor is the seq of the last one returned.
func (db *DB) DetectMitigationTasks(ctx context.Context, s warden.Scope, start, end time.Time, p warden.Page) ([]warden.DetectMitigationTask, string, error) {
	after, _, _, err := seqCursor(p.After, false, warden.Errorf(warden.CodeInvalidRequest, "The nextToken is not valid for this request."))
	if err != nil {
		return nil, "", err
	}
	tasks, next, err := seqPage(ctx, db.read, p.Limit, `SELECT `+detectTaskColumns+` FROM detect_mitigation_tasks
		WHERE account = ? AND region = ? AND start_time >= ? AND start_time <= ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
		[]any{s.Account, s.Region, millis(start), millis(end), after, p.Limit + 1},
		func(r *sql.Rows) (warden.DetectMitigationTask, int64, error) {
			t, err := scanDetectTask(r)
			if err != nil {
				return warden.DetectMitigationTask{}, 0, err
			}
			return t.task, t.seq, nil
		})
	return tasks, next, wrap(err, "detect mitigation tasks")
}

// CancelDetectMitigationTask cancels an IN_PROGRESS task: its executions
// not yet applied become SKIPPED (TASK_CANCELED) and are never applied;
// applied ones stay. Unknown → ResourceNotFound; not IN_PROGRESS →
// InvalidRequest.
func (db *DB) CancelDetectMitigationTask(ctx context.Context, s warden.Scope, taskID string, now time.Time) error {
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		t, err := getDetectTask(ctx, tx, s, taskID)
		if err != nil {
			return err
		}
		if t.task.Status != warden.DetectTaskInProgress {
			return warden.Errorf(warden.CodeInvalidRequest,
				"Detect mitigation actions task %s is %s; only a task IN_PROGRESS can be canceled.", taskID, t.task.Status)
		}
		res, err := tx.ExecContext(ctx, `UPDATE detect_mitigation_executions SET status = ?, end_time = ?, error_code = ?, message = ?
			WHERE task_seq = ? AND status = ?`, warden.DetectExecutionSkipped, millis(now), warden.DetectErrCanceled,
			"The task was canceled before this action was applied.", t.seq, warden.DetectExecutionPending)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE detect_mitigation_tasks SET status = ?, end_time = ?, pending = 0, skipped = skipped + ?
			WHERE seq = ?`, warden.DetectTaskCanceled, millis(now), n, t.seq)
		return err
	}), "cancel detect mitigation task")
}

const detectExecColumns = `seq, task_id, violation_id, action_name, thing_name, status, start_time, end_time, error_code, message`

// DetectMitigationExecutions lists executions in the order they were
// created: a task's (an unknown task has none), or those started in
// [f.Start, f.End]; the cursor is the seq of the last one returned.
func (db *DB) DetectMitigationExecutions(ctx context.Context, s warden.Scope, f warden.DetectMitigationExecutionFilter, p warden.Page) ([]warden.DetectMitigationExecution, string, error) {
	after, _, _, err := seqCursor(p.After, true, warden.Errorf(warden.CodeInvalidRequest, "The nextToken is not valid for this request."))
	if err != nil {
		return nil, "", err
	}
	var query string
	var args []any
	if f.TaskID != "" {
		var taskSeq int64
		err := db.read.QueryRowContext(ctx, `SELECT seq FROM detect_mitigation_tasks WHERE account = ? AND region = ? AND task_id = ?`,
			s.Account, s.Region, f.TaskID).Scan(&taskSeq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, "", nil
		}
		if err != nil {
			return nil, "", wrap(err, "detect mitigation executions")
		}
		query, args = `SELECT `+detectExecColumns+` FROM detect_mitigation_executions WHERE task_seq = ? AND seq > ?`, []any{taskSeq, after}
	} else {
		query = `SELECT ` + detectExecColumns + ` FROM detect_mitigation_executions
			WHERE account = ? AND region = ? AND start_time >= ? AND start_time <= ? AND seq > ?`
		args = []any{s.Account, s.Region, millis(f.Start), millis(f.End), after}
	}
	query, args = andEq(query, args, "violation_id", f.ViolationID)
	query, args = andEq(query, args, "thing_name", f.ThingName)
	query += ` ORDER BY seq LIMIT ?`
	args = append(args, p.Limit+1)
	es, next, err := seqPage(ctx, db.read, p.Limit, query, args, func(r *sql.Rows) (e warden.DetectMitigationExecution, seq int64, err error) {
		var start, end int64
		err = r.Scan(&seq, &e.TaskID, &e.ViolationID, &e.ActionName, &e.ThingName, &e.Status, &start, &end, &e.ErrorCode, &e.Message)
		e.StartTime = fromMillis(start)
		if end != 0 {
			e.EndTime = fromMillis(end)
		}
		return e, seq, err
	})
	return es, next, wrap(err, "detect mitigation executions")
}

// ---------------------------------------------------------------- applying

// detectPending is a pending execution as ApplyDetectMitigations claims it.
type detectPending struct {
	seq, taskSeq int64
	violationID  string
	actionIndex  int
	thingName    string
}

// ApplyDetectMitigations applies up to max pending executions in one
// transaction: each execution's thing-group changes, their change-log rows
// and its outcome commit together or not at all, so a killed process leaves
// an execution pending (applied later) or done, never applied twice. On
// PostgreSQL concurrent engines claim disjoint rows (FOR UPDATE SKIP
// LOCKED); SQLite has one writer.
func (db *DB) ApplyDetectMitigations(ctx context.Context, now time.Time, max int, opt warden.MitigationApplyOptions) (bool, error) {
	if db.postgres {
		// Every engine step asks; only write when there is work.
		pending, err := rowExists(ctx, db.read, `SELECT 1 FROM detect_mitigation_executions WHERE status = ? LIMIT 1`, warden.DetectExecutionPending)
		if !pending || err != nil {
			return false, wrap(err, "apply detect mitigations")
		}
	}
	worked, err := db.inDetectClaim(ctx, func(ctx context.Context, tx writeTx, batch []detectPending) error {
		return db.applyDetectBatch(ctx, tx, batch, opt, now)
	}, `ORDER BY seq LIMIT ?`, max)
	return worked, wrap(err, "apply detect mitigations")
}

// PendingDetectExecutions returns the seqs of up to max pending executions,
// oldest first: the runner applies them one by one when their batch failed.
func (db *DB) PendingDetectExecutions(ctx context.Context, max int) ([]int64, error) {
	var seqs []int64
	rows, err := db.read.QueryContext(ctx, `SELECT seq FROM detect_mitigation_executions WHERE status = ? ORDER BY seq LIMIT ?`,
		warden.DetectExecutionPending, max)
	if err != nil {
		return nil, wrap(err, "pending detect executions")
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return nil, wrap(err, "pending detect executions")
		}
		seqs = append(seqs, seq)
	}
	return seqs, wrap(rows.Err(), "pending detect executions")
}

// ApplyDetectExecution is ApplyDetectMitigations for the one execution seq;
// applied is false when it is no longer pending (or another engine holds
// it).
func (db *DB) ApplyDetectExecution(ctx context.Context, seq int64, now time.Time, opt warden.MitigationApplyOptions) (applied bool, err error) {
	applied, err = db.inDetectClaim(ctx, func(ctx context.Context, tx writeTx, batch []detectPending) error {
		return db.applyDetectBatch(ctx, tx, batch, opt, now)
	}, `AND seq = ?`, seq)
	return applied, wrap(err, "apply detect execution")
}

// FailDetectExecution records the pending execution seq as FAILED with
// errorCode and message, unapplied, and ends its task if it was the last;
// failed is false when it is no longer pending.
func (db *DB) FailDetectExecution(ctx context.Context, seq int64, errorCode, message string, now time.Time) (failed bool, err error) {
	failed, err = db.inDetectClaim(ctx, func(ctx context.Context, tx writeTx, batch []detectPending) error {
		tasks, err := detectBatchTasks(ctx, tx, batch)
		if err != nil {
			return err
		}
		return recordDetectOutcomes(ctx, tx, batch, tasks, now, func(*detectTaskRow, detectPending) (mitOutcome, error) {
			return mitOutcome{warden.DetectExecutionFailed, errorCode, message}, nil
		})
	}, `AND seq = ?`, seq)
	return failed, wrap(err, "fail detect execution")
}

// inDetectClaim runs fn in a transaction on the pending executions that
// the query's end (after "WHERE status = ?") selects, locked; claimed is
// false when there were none.
func (db *DB) inDetectClaim(ctx context.Context, fn func(ctx context.Context, tx writeTx, batch []detectPending) error,
	selection string, args ...any) (claimed bool, err error) {
	// A batch commits or rolls back whole, whoever cancels the caller.
	ctx = context.WithoutCancel(ctx)
	err = db.inTx(ctx, func(tx writeTx) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("detect mitigation batch panicked: %v", p)
			}
		}()
		claimed = false
		query := `SELECT seq, task_seq, violation_id, action_index, thing_name FROM detect_mitigation_executions
			WHERE status = ? ` + selection + db.skipLocked()
		batch, err := queryAll(ctx, tx, func(r rowScanner) (e detectPending, err error) {
			err = r.Scan(&e.seq, &e.taskSeq, &e.violationID, &e.actionIndex, &e.thingName)
			return e, err
		}, query, append([]any{warden.DetectExecutionPending}, args...)...)
		if err != nil || len(batch) == 0 {
			return err
		}
		claimed = true
		return fn(ctx, tx, batch)
	})
	return claimed, err
}

// detectCounts is what a batch adds to one task's statistics.
type detectCounts struct{ executed, skipped, failed int64 }

func (db *DB) applyDetectBatch(ctx context.Context, tx writeTx, batch []detectPending, opt warden.MitigationApplyOptions, now time.Time) error {
	// The audit executor's ADD_THINGS_TO_THING_GROUP, with its batch caches
	// of things, memberships and groups.
	a := &mitApplier{ctx: ctx, tx: tx, opt: opt, now: now,
		thingGroups: map[mitKey][]warden.GroupMembership{}, groups: map[mitKey]warden.GroupMembership{}}
	tasks, err := detectBatchTasks(ctx, tx, batch)
	if err != nil {
		return err
	}
	things := map[warden.Scope][]string{}
	for _, e := range batch {
		s := tasks[e.taskSeq].scope
		things[s] = append(things[s], e.thingName)
	}
	for s, names := range things {
		if err := a.readThings(s, names); err != nil {
			return err
		}
	}
	return recordDetectOutcomes(ctx, tx, batch, tasks, now, a.applyDetectExecution)
}

// detectBatchTasks reads the tasks of batch's executions, by seq.
func detectBatchTasks(ctx context.Context, tx writeTx, batch []detectPending) (map[int64]*detectTaskRow, error) {
	tasks := map[int64]*detectTaskRow{}
	for _, e := range batch {
		if _, ok := tasks[e.taskSeq]; ok {
			continue
		}
		t, err := scanDetectTask(tx.QueryRowContext(ctx, `SELECT `+detectTaskColumns+` FROM detect_mitigation_tasks WHERE seq = ?`, e.taskSeq))
		if err != nil {
			return nil, err
		}
		tasks[e.taskSeq] = t
	}
	return tasks, nil
}

// recordDetectOutcomes records each execution's outcome, as outcome gives
// it, in the execution and its task's statistics, and ends the tasks that
// have none left.
func recordDetectOutcomes(ctx context.Context, tx writeTx, batch []detectPending, tasks map[int64]*detectTaskRow, now time.Time,
	outcome func(*detectTaskRow, detectPending) (mitOutcome, error)) error {
	counts := map[int64]*detectCounts{}
	for _, e := range batch {
		o, err := outcome(tasks[e.taskSeq], e)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE detect_mitigation_executions SET status = ?, end_time = ?, error_code = ?, message = ?
			WHERE seq = ? AND status = ?`, o.status, millis(now), o.code, warden.TruncateExecutionMessage(o.message), e.seq, warden.DetectExecutionPending)
		if err := mitFenced(res, err, 1); err != nil {
			// Only a concurrent writer could have ended it, and the claim
			// locked it: never apply what another transaction recorded.
			return fmt.Errorf("detect execution %d changed under its claim: %w", e.seq, err)
		}
		c := counts[e.taskSeq]
		if c == nil {
			c = &detectCounts{}
			counts[e.taskSeq] = c
		}
		switch o.status {
		case warden.DetectExecutionSuccessful:
			c.executed++
		case warden.DetectExecutionSkipped:
			c.skipped++
		default:
			c.failed++
		}
	}
	for seq, c := range counts {
		if _, err := tx.ExecContext(ctx, `UPDATE detect_mitigation_tasks SET pending = pending - ?,
				executed = executed + ?, skipped = skipped + ?, failed = failed + ? WHERE seq = ?`,
			c.executed+c.skipped+c.failed, c.executed, c.skipped, c.failed, seq); err != nil {
			return err
		}
		// Like audit tasks: a task with a failed execution ends FAILED,
		// else SUCCESSFUL.
		if _, err := tx.ExecContext(ctx, `UPDATE detect_mitigation_tasks SET end_time = ?,
				status = CASE WHEN failed > 0 THEN ? ELSE ? END
			WHERE seq = ? AND status = ? AND pending = 0`,
			millis(now), warden.DetectTaskFailed, warden.DetectTaskSuccessful, seq, warden.DetectTaskInProgress); err != nil {
			return err
		}
	}
	return nil
}

// applyDetectExecution adds the execution's thing to its action's groups,
// after checking the action's role; the outcome is returned, not recorded.
// An error is the database's and ends the batch.
func (a *mitApplier) applyDetectExecution(t *detectTaskRow, e detectPending) (mitOutcome, error) {
	s := t.scope
	if t.task.Status != warden.DetectTaskInProgress {
		// Cancel ends every pending execution with its task; this is a
		// task ended some other way with work left, which is not applied.
		return mitOutcome{warden.DetectExecutionSkipped, warden.DetectErrCanceled,
			fmt.Sprintf("The task is %s; this action was not applied.", t.task.Status)}, nil
	}
	if e.actionIndex < 0 || e.actionIndex >= len(t.actions) || t.actions[e.actionIndex].ActionParams.AddThingsToThingGroupParams == nil {
		return mitOutcome{warden.DetectExecutionFailed, warden.ExecErrInternal,
			fmt.Sprintf("Task %s has no ADD_THINGS_TO_THING_GROUP action %d.", t.task.TaskID, e.actionIndex)}, nil
	}
	act := &t.actions[e.actionIndex]
	exists, err := a.thingExists(s, e.thingName)
	if err != nil {
		return mitOutcome{}, err
	}
	if !exists {
		return mitOutcome{warden.DetectExecutionSkipped, warden.DetectErrThingNotFound, fmt.Sprintf(
			"%s is not a registered thing (it was deleted, or the violating device is known only by its client id): there is nothing to add to thing groups.",
			e.thingName)}, nil
	}
	p := act.ActionParams.AddThingsToThingGroupParams
	res := warden.MitigationResources{ThingArns: []string{warden.ThingARN(s, e.thingName)}}
	for _, g := range p.ThingGroupNames {
		res.ThingGroupArns = append(res.ThingGroupArns, warden.ThingGroupARN(s, g))
	}
	missing, err := RolePermitsTx(a.ctx, a.tx, s.Account, act.RoleArn,
		warden.MitigationPermissions(warden.ActionAddThingsToThingGroup, res), a.opt.StrictRoles)
	if err != nil {
		return mitOutcome{}, err
	}
	if missing != nil {
		return mitOutcome{warden.DetectExecutionFailed, warden.ExecErrInsufficientPermissions,
			warden.MitigationPermissionDenied(s.Account, act.RoleArn, *missing)}, nil
	}
	ctx := warden.WithActor(a.ctx, warden.DetectTaskActor(t.task.TaskID))
	// addThingsToGroups checks everything before its first write: a
	// *warden.Error leaves nothing written.
	err = a.addThingsToGroups(ctx, s, []string{e.thingName}, p.ThingGroupNames, p.OverrideDynamicGroups != nil && *p.OverrideDynamicGroups)
	var werr *warden.Error
	switch {
	case err == nil:
		return mitOutcome{status: warden.DetectExecutionSuccessful}, nil
	case errors.As(err, &werr):
		return mitOutcome{warden.DetectExecutionFailed, warden.ExecErrInvalidStateOfResource, werr.Message}, nil
	}
	return mitOutcome{}, err
}
