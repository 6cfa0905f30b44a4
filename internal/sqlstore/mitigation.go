package sqlstore

// Audit mitigation actions tasks: the API's side (start, cancel, describe,
// list) and the engine's side (fan-out, claim, apply). Tasks and executions
// are rows and the database is the queue: see warden.MitigationQueue.

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/warden-iot/warden"
)

// mitTaskAction is one action of a task's snapshot (the API's MitigationAction).
type mitTaskAction struct {
	Name         string                        `json:"name"`
	ID           string                        `json:"id"`
	RoleArn      string                        `json:"roleArn"`
	ActionParams warden.MitigationActionParams `json:"actionParams"`
}

// mitTaskRow is a mitigation_tasks row.
type mitTaskRow struct {
	seq                       int64
	scope                     warden.Scope
	task                      warden.MitigationTask
	fanoutDone                bool
	fanoutCheck               int
	fanoutAfter, fanoutMaxSeq int64
	actions                   map[string]*mitTaskAction // by name
	checks                    []string                  // the mapping's checks in fan-out order
	startMillis               int64
	auditTaskID               string
}

const mitTaskColumns = `seq, account, region, task_id, client_request_token, status, target, mapping, actions,
	fanout_done, fanout_check, fanout_after, fanout_max_seq, start_time, end_time`

func scanMitTask(r rowScanner) (*mitTaskRow, error) {
	t := &mitTaskRow{}
	var target, mapping, actions string
	var done int
	var start, end int64
	if err := r.Scan(&t.seq, &t.scope.Account, &t.scope.Region, &t.task.TaskID, &t.task.ClientRequestToken, &t.task.Status,
		&target, &mapping, &actions, &done, &t.fanoutCheck, &t.fanoutAfter, &t.fanoutMaxSeq, &start, &end); err != nil {
		return nil, err
	}
	t.fanoutDone = done != 0
	t.startMillis = start
	t.task.StartTime = fromMillis(start)
	if end != 0 {
		t.task.EndTime = fromMillis(end)
	}
	if err := json.Unmarshal([]byte(target), &t.task.Target); err != nil {
		return nil, fmt.Errorf("stored target of mitigation task %s: %w", t.task.TaskID, err)
	}
	t.auditTaskID = t.task.Target.AuditTaskID
	if err := json.Unmarshal([]byte(mapping), &t.task.Mapping); err != nil {
		return nil, fmt.Errorf("stored mapping of mitigation task %s: %w", t.task.TaskID, err)
	}
	var snapshot []mitTaskAction
	if err := json.Unmarshal([]byte(actions), &snapshot); err != nil {
		return nil, fmt.Errorf("stored actions of mitigation task %s: %w", t.task.TaskID, err)
	}
	t.actions = make(map[string]*mitTaskAction, len(snapshot))
	for i := range snapshot {
		a := &snapshot[i]
		t.actions[a.Name] = a
		t.task.Actions = append(t.task.Actions, warden.MitigationAction{Name: a.Name, ID: a.ID, RoleArn: a.RoleArn, Params: a.ActionParams})
	}
	t.checks = warden.MitigationChecks(t.task.Mapping)
	return t, nil
}

// action returns the snapshot of the index-th action of check's list.
func (t *mitTaskRow) action(check string, index int) *mitTaskAction {
	names := t.task.Mapping[check]
	if index < 0 || index >= len(names) {
		return nil
	}
	return t.actions[names[index]]
}

func mitTaskNotFound(id string) error {
	return warden.Errorf(warden.CodeResourceNotFound, "Audit mitigation actions task %s does not exist.", id)
}

func getMitTask(ctx context.Context, q querier, s warden.Scope, taskID string) (*mitTaskRow, error) {
	t, err := scanMitTask(q.QueryRowContext(ctx, `SELECT `+mitTaskColumns+` FROM mitigation_tasks
		WHERE account = ? AND region = ? AND task_id = ?`, s.Account, s.Region, taskID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, mitTaskNotFound(taskID)
	}
	return t, err
}

func mitTaskStatistics(ctx context.Context, q querier, taskSeq int64) (map[string]warden.MitigationTaskStatistics, error) {
	out := map[string]warden.MitigationTaskStatistics{}
	err := queryEach(ctx, q, func(r rowScanner) error {
		var check string
		var st warden.MitigationTaskStatistics
		err := r.Scan(&check, &st.Total, &st.Succeeded, &st.Failed, &st.Skipped, &st.Canceled)
		out[check] = st
		return err
	}, `SELECT check_name, total, succeeded, failed, skipped, canceled
		FROM mitigation_task_stats WHERE task_seq = ? ORDER BY check_name`, taskSeq)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ---------------------------------------------------------------- wake-ups

// workSignals holds, per open DB and kind of work (audit or Detect
// mitigation), the channel that tells engines in this process that a task
// was started. (A PostgreSQL store would add LISTEN/NOTIFY for other
// processes; until then engines also poll.) Weak keys let a closed DB and
// its entries be collected.
var workSignals sync.Map // workKey → chan struct{}

type workKey struct {
	db   weak.Pointer[DB]
	kind string
}

func (db *DB) workSignal(kind string) chan struct{} {
	key := workKey{weak.Make(db), kind}
	if ch, ok := workSignals.Load(key); ok {
		return ch.(chan struct{})
	}
	ch, loaded := workSignals.LoadOrStore(key, make(chan struct{}, 1))
	if !loaded {
		runtime.AddCleanup(db, func(k workKey) { workSignals.Delete(k) }, key)
	}
	return ch.(chan struct{})
}

func (db *DB) signalWork(kind string) {
	select {
	case db.workSignal(kind) <- struct{}{}:
	default:
	}
}

// MitigationWork receives a value after a task was started on this DB.
func (db *DB) MitigationWork() <-chan struct{} { return db.workSignal("audit") }

func (db *DB) signalMitigationWork() { db.signalWork("audit") }

// ---------------------------------------------------------------- the API's side

// StartMitigationTask stores a new task; see warden.MitigationStore.
func (db *DB) StartMitigationTask(ctx context.Context, s warden.Scope, t warden.MitigationTask, now time.Time) (warden.MitigationTask, bool, error) {
	var out warden.MitigationTask
	created := false
	err := db.inTx(ctx, func(tx writeTx) error {
		existing, err := getMitTask(ctx, tx, s, t.TaskID)
		if err == nil {
			if existing.task.ClientRequestToken != t.ClientRequestToken {
				return warden.Errorf(warden.CodeTaskAlreadyExists,
					"An audit mitigation actions task with id %s already exists, started with a different clientRequestToken.", t.TaskID)
			}
			if existing.task.Statistics, err = mitTaskStatistics(ctx, tx, existing.seq); err != nil {
				return err
			}
			out = existing.task
			return nil
		}
		if warden.ErrorCode(err) != warden.CodeResourceNotFound {
			return err
		}
		var other string
		err = tx.QueryRowContext(ctx, `SELECT task_id FROM mitigation_tasks WHERE account = ? AND region = ? AND client_request_token = ? LIMIT 1`,
			s.Account, s.Region, t.ClientRequestToken).Scan(&other)
		if err == nil {
			return warden.Errorf(warden.CodeInvalidRequest,
				"clientRequestToken %s was already used to start audit mitigation actions task %s; each task needs its own token.",
				t.ClientRequestToken, other)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		snapshot, err := resolveMitTaskActions(ctx, tx, s, t.Mapping)
		if err != nil {
			return err
		}
		findings, maxSeq, err := resolveMitTaskTarget(ctx, tx, s, &t.Target)
		if err != nil {
			return err
		}
		if err := requireBelow(ctx, tx, warden.MaxRunningMitigationTasks, warden.ErrRunningMitigationTasksLimit,
			`SELECT COUNT(*) FROM mitigation_tasks WHERE account = ? AND region = ? AND status = ?`,
			s.Account, s.Region, warden.MitigationTaskInProgress); err != nil {
			return err
		}
		target, err := json.Marshal(&t.Target)
		if err != nil {
			return err
		}
		mapping, err := json.Marshal(t.Mapping)
		if err != nil {
			return err
		}
		actions, err := json.Marshal(snapshot)
		if err != nil {
			return err
		}
		fanoutDone := 0
		if t.Target.AuditTaskID == "" {
			fanoutDone = 1 // the findingIds are fanned out below, in this transaction
		}
		// DO NOTHING: a task of that id committed by another node since
		// this transaction's snapshot then fails it with PostgreSQL's
		// serialization failure, which is retried (and the retry finds the
		// task), instead of a unique violation, which would be a 500.
		var seq int64
		err = tx.QueryRowContext(ctx, `INSERT INTO mitigation_tasks (account, region, task_id, client_request_token, status,
				target, audit_task_id, mapping, actions, fanout_done, fanout_max_seq, start_time)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (account, region, task_id) DO NOTHING RETURNING seq`,
			s.Account, s.Region, t.TaskID, t.ClientRequestToken, warden.MitigationTaskInProgress, string(target),
			t.Target.AuditTaskID, string(mapping), string(actions), fanoutDone, maxSeq, millis(now)).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			// The task was looked up in this transaction: only a
			// concurrent one can have inserted it.
			return fmt.Errorf("mitigation task %s was inserted concurrently", t.TaskID)
		}
		if err != nil {
			return err
		}
		for _, check := range warden.MitigationChecks(t.Mapping) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mitigation_task_stats (task_seq, check_name) VALUES (?, ?)`, seq, check); err != nil {
				return err
			}
		}
		if t.Target.AuditTaskID == "" {
			if err := fanOutMitFindings(ctx, tx, seq, t.Mapping, findings, now); err != nil {
				return err
			}
			if _, err := finishMitTaskIfDone(ctx, tx, seq, now); err != nil {
				return err
			}
		}
		row, err := getMitTask(ctx, tx, s, t.TaskID)
		if err != nil {
			return err
		}
		if row.task.Statistics, err = mitTaskStatistics(ctx, tx, seq); err != nil {
			return err
		}
		out, created = row.task, true
		return nil
	})
	if created {
		db.signalMitigationWork()
	}
	return out, created, wrap(err, "start mitigation task")
}

// resolveMitTaskActions snapshots the mapping's actions, checking that each
// exists and suits its check. Every problem is named in one error.
func resolveMitTaskActions(ctx context.Context, tx writeTx, s warden.Scope, mapping map[string][]string) ([]mitTaskAction, error) {
	var snapshot []mitTaskAction
	actions := map[string]*warden.MitigationAction{} // nil: no such action
	for _, check := range warden.MitigationChecks(mapping) {
		for _, name := range mapping[check] {
			if _, read := actions[name]; read {
				continue
			}
			a, err := getAction(ctx, tx, s, name)
			if warden.ErrorCode(err) == warden.CodeResourceNotFound {
				actions[name] = nil
				continue
			}
			if err != nil {
				return nil, err
			}
			actions[name] = &a
			snapshot = append(snapshot, mitTaskAction{Name: a.Name, ID: a.ID, RoleArn: a.RoleArn, ActionParams: a.Params})
		}
	}
	if err := warden.CheckMitigationMapping(mapping, actions); err != nil {
		return nil, err
	}
	return snapshot, nil
}

// mitTargetFinding is what fan-out needs of one finding.
type mitTargetFinding struct {
	seq        int64
	id         string
	check      string
	reasonCode string
	suppressed bool
}

// resolveMitTaskTarget checks the target's findings or audit. For findingIds it
// returns the findings; for an audit, the last finding seq of the task.
func resolveMitTaskTarget(ctx context.Context, tx writeTx, s warden.Scope, t *warden.MitigationTaskTarget) ([]mitTargetFinding, int64, error) {
	if t.AuditTaskID != "" {
		exists, err := rowExists(ctx, tx, `SELECT 1 FROM audit_tasks WHERE account = ? AND region = ? AND task_id = ?`,
			s.Account, s.Region, t.AuditTaskID)
		if err != nil {
			return nil, 0, err
		}
		if !exists {
			return nil, 0, warden.Errorf(warden.CodeInvalidRequest, "target.auditTaskId: audit task %s does not exist.", t.AuditTaskID)
		}
		// Findings of the audit written after now are not part of the task.
		var maxSeq int64
		err = tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_findings`).Scan(&maxSeq)
		return nil, maxSeq, err
	}
	var out []mitTargetFinding
	var missing []string
	for _, id := range t.FindingIDs {
		f := mitTargetFinding{id: id}
		var suppressed int
		err := tx.QueryRowContext(ctx, `SELECT seq, check_name, reason_code, is_suppressed FROM audit_findings
			WHERE account = ? AND region = ? AND finding_id = ?`, s.Account, s.Region, id).Scan(&f.seq, &f.check, &f.reasonCode, &suppressed)
		if errors.Is(err, sql.ErrNoRows) {
			missing = append(missing, id)
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		f.suppressed = suppressed != 0
		out = append(out, f)
	}
	if len(missing) > 0 {
		return nil, 0, warden.Errorf(warden.CodeInvalidRequest, "target.findingIds: no audit finding has the id %s.", strings.Join(missing, ", "))
	}
	return out, 0, nil
}

// fanOutMitFindings creates the executions of a findingIds target.
func fanOutMitFindings(ctx context.Context, tx writeTx, taskSeq int64, mapping map[string][]string, findings []mitTargetFinding, now time.Time) error {
	stats := map[string]*warden.MitigationTaskStatistics{}
	for _, f := range findings {
		names, ok := mapping[f.check]
		if !ok {
			continue // findings of checks without actions are not part of the task
		}
		st := stats[f.check]
		if st == nil {
			st = &warden.MitigationTaskStatistics{}
			stats[f.check] = st
		}
		st.Total++
		status, end := warden.ExecutionPending, int64(0)
		if f.suppressed {
			status, end = warden.ExecutionSkipped, millis(now)
			st.Skipped++
		}
		for i := range names {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mitigation_executions
				(task_seq, finding_seq, action_index, finding_id, check_name, status, end_time) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT DO NOTHING`, taskSeq, f.seq, i, f.id, f.check, status, end); err != nil {
				return err
			}
		}
	}
	for check, st := range stats {
		if err := addMitTaskStats(ctx, tx, taskSeq, check, *st); err != nil {
			return err
		}
	}
	return nil
}

func addMitTaskStats(ctx context.Context, tx writeTx, taskSeq int64, check string, d warden.MitigationTaskStatistics) error {
	_, err := tx.ExecContext(ctx, `UPDATE mitigation_task_stats SET total = total + ?, succeeded = succeeded + ?,
		failed = failed + ?, skipped = skipped + ?, canceled = canceled + ? WHERE task_seq = ? AND check_name = ?`,
		d.Total, d.Succeeded, d.Failed, d.Skipped, d.Canceled, taskSeq, check)
	return err
}

// finishMitTaskIfDone ends an IN_PROGRESS task whose findings are all fanned
// out and done: FAILED if any finding failed, else COMPLETED.
func finishMitTaskIfDone(ctx context.Context, tx writeTx, taskSeq int64, now time.Time) (bool, error) {
	var status string
	var fanoutDone int
	if err := tx.QueryRowContext(ctx, `SELECT status, fanout_done FROM mitigation_tasks WHERE seq = ?`, taskSeq).
		Scan(&status, &fanoutDone); err != nil {
		return false, err
	}
	if status != warden.MitigationTaskInProgress || fanoutDone == 0 {
		return false, nil
	}
	var open, failed int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(total - succeeded - failed - skipped - canceled), 0), COALESCE(SUM(failed), 0)
		FROM mitigation_task_stats WHERE task_seq = ?`, taskSeq).Scan(&open, &failed); err != nil {
		return false, err
	}
	if open > 0 {
		return false, nil
	}
	final := warden.MitigationTaskCompleted
	if failed > 0 {
		final = warden.MitigationTaskFailed
	}
	_, err := tx.ExecContext(ctx, `UPDATE mitigation_tasks SET status = ?, end_time = ? WHERE seq = ? AND status = ?`,
		final, millis(now), taskSeq, warden.MitigationTaskInProgress)
	return err == nil, err
}

// CancelMitigationTask cancels an IN_PROGRESS task. Its executions that are
// not being applied (PENDING, or claimed under an expired lease) become
// CANCELED; those under a live lease finish, each finding atomically.
func (db *DB) CancelMitigationTask(ctx context.Context, s warden.Scope, taskID string, now time.Time) error {
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		if err := db.lockMitigationWrites(ctx, tx); err != nil {
			return err
		}
		t, err := getMitTask(ctx, tx, s, taskID)
		if err != nil {
			return err
		}
		if t.task.Status != warden.MitigationTaskInProgress {
			return warden.Errorf(warden.CodeInvalidRequest,
				"Audit mitigation actions task %s is %s; only a task that is IN_PROGRESS can be canceled.", taskID, t.task.Status)
		}
		canceled := map[string]int64{}
		err = queryEach(ctx, tx, func(r rowScanner) error {
			var check string
			var n int64
			err := r.Scan(&check, &n)
			canceled[check] = n
			return err
		}, `SELECT check_name, COUNT(*) FROM mitigation_executions
			WHERE task_seq = ? AND action_index = 0 AND status = 'PENDING' AND lease_expires < ?
			GROUP BY check_name`, t.seq, millis(now))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE mitigation_executions SET status = ?, end_time = ?, lease_owner = '', lease_expires = 0
			WHERE task_seq = ? AND status = 'PENDING' AND lease_expires < ?`,
			warden.ExecutionCanceled, millis(now), t.seq, millis(now)); err != nil {
			return err
		}
		for check, n := range canceled {
			if err := addMitTaskStats(ctx, tx, t.seq, check, warden.MitigationTaskStatistics{Canceled: n}); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE mitigation_tasks SET status = ?, end_time = ? WHERE seq = ?`,
			warden.MitigationTaskCanceled, millis(now), t.seq)
		return err
	}), "cancel mitigation task")
}

// MitigationTask returns a task with its statistics.
func (db *DB) MitigationTask(ctx context.Context, s warden.Scope, taskID string) (warden.MitigationTask, error) {
	tx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return warden.MitigationTask{}, wrap(err, "mitigation task")
	}
	defer tx.Rollback()
	t, err := getMitTask(ctx, tx, s, taskID)
	if err != nil {
		return warden.MitigationTask{}, wrap(err, "mitigation task")
	}
	if t.task.Statistics, err = mitTaskStatistics(ctx, tx, t.seq); err != nil {
		return warden.MitigationTask{}, wrap(err, "mitigation task")
	}
	return t.task, nil
}

// MitigationTasks lists tasks newest first; the cursor is the last task's seq.
func (db *DB) MitigationTasks(ctx context.Context, s warden.Scope, f warden.MitigationTaskFilter, p warden.Page) ([]warden.MitigationTask, string, error) {
	after, _, _, err := seqCursor(p.After, false, warden.Errorf(warden.CodeInvalidRequest, "invalid nextToken"))
	if err != nil {
		return nil, "", err
	}
	query := `SELECT seq, task_id, status, start_time FROM mitigation_tasks t
		WHERE account = ? AND region = ? AND seq < ? AND start_time >= ? AND (end_time = 0 OR end_time <= ?)`
	args := []any{s.Account, s.Region, after, millis(f.StartedAfter), millis(f.EndedBefore)}
	query, args = andEq(query, args, "status", f.Status)
	query, args = andEq(query, args, "audit_task_id", f.AuditTaskID)
	if f.FindingID != "" {
		var findingSeq int64
		err := db.read.QueryRowContext(ctx, `SELECT seq FROM audit_findings WHERE account = ? AND region = ? AND finding_id = ?`,
			s.Account, s.Region, f.FindingID).Scan(&findingSeq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, "", nil
		}
		if err != nil {
			return nil, "", wrap(err, "mitigation tasks")
		}
		query += ` AND EXISTS (SELECT 1 FROM mitigation_executions e WHERE e.task_seq = t.seq AND e.finding_seq = ?)`
		args = append(args, findingSeq)
	}
	query += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, p.Limit+1)
	tasks, next, err := seqPage(ctx, db.read, p.Limit, query, args, func(r *sql.Rows) (t warden.MitigationTask, seq int64, err error) {
		var start int64
		err = r.Scan(&seq, &t.TaskID, &t.Status, &start)
		t.StartTime = fromMillis(start)
		return t, seq, err
	})
	return tasks, next, wrap(err, "mitigation tasks")
}

// MitigationExecutions lists a task's executions by finding, then action;
// the cursor is "<finding seq>.<action index>" of the last one returned.
func (db *DB) MitigationExecutions(ctx context.Context, s warden.Scope, f warden.MitigationExecutionFilter, p warden.Page) ([]warden.MitigationExecution, string, error) {
	var afterFinding int64
	afterAction := -1
	if p.After != "" {
		a, b, ok := strings.Cut(p.After, ".")
		var err1, err2 error
		afterFinding, err1 = strconv.ParseInt(a, 10, 64)
		afterAction, err2 = strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil {
			return nil, "", warden.Errorf(warden.CodeInvalidRequest, "invalid nextToken")
		}
	}
	tx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, "", wrap(err, "mitigation executions")
	}
	defer tx.Rollback()
	t, err := getMitTask(ctx, tx, s, f.TaskID)
	if warden.ErrorCode(err) == warden.CodeResourceNotFound {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", wrap(err, "mitigation executions")
	}
	query := `SELECT finding_seq, action_index, finding_id, check_name,
			CASE WHEN status = 'PENDING' AND lease_owner <> '' THEN 'IN_PROGRESS' ELSE status END,
			start_time, end_time, error_code, message
		FROM mitigation_executions WHERE task_seq = ? AND (finding_seq > ? OR finding_seq = ? AND action_index > ?)`
	args := []any{t.seq, afterFinding, afterFinding, afterAction}
	if f.FindingID != "" {
		// The finding's seq finds its executions by the primary key; a
		// finding deleted since is still found by its id, more slowly.
		var findingSeq int64
		err := tx.QueryRowContext(ctx, `SELECT seq FROM audit_findings WHERE account = ? AND region = ? AND finding_id = ?`,
			s.Account, s.Region, f.FindingID).Scan(&findingSeq)
		switch {
		case err == nil:
			query += ` AND finding_seq = ?`
			args = append(args, findingSeq)
		case errors.Is(err, sql.ErrNoRows):
			query += ` AND finding_id = ?`
			args = append(args, f.FindingID)
		default:
			return nil, "", wrap(err, "mitigation executions")
		}
	}
	switch f.Status {
	case "":
	case warden.ExecutionInProgress:
		query += ` AND status = 'PENDING' AND lease_owner <> ''`
	case warden.ExecutionPending:
		query += ` AND status = 'PENDING' AND lease_owner = ''`
	default:
		query += ` AND status = ?`
		args = append(args, f.Status)
	}
	query += ` ORDER BY finding_seq, action_index LIMIT ?`
	args = append(args, p.Limit+1)
	out, next, err := keyPage(ctx, tx, p.Limit, func(r rowScanner) (e warden.MitigationExecution, key string, err error) {
		var finding int64
		var action int
		var check string
		var start, end int64
		if err := r.Scan(&finding, &action, &e.FindingID, &check, &e.Status, &start, &end, &e.ErrorCode, &e.Message); err != nil {
			return e, "", err
		}
		e.TaskID = t.task.TaskID
		if a := t.action(check, action); a != nil {
			e.ActionName, e.ActionID = a.Name, a.ID
		}
		if start != 0 {
			e.StartTime = fromMillis(start)
		}
		if end != 0 {
			e.EndTime = fromMillis(end)
		}
		return e, strconv.FormatInt(finding, 10) + "." + strconv.Itoa(action), nil
	}, query, args...)
	if err != nil {
		return nil, "", wrap(err, "mitigation executions")
	}
	return out, next, nil
}

// ---------------------------------------------------------------- the engine's side

// errMitFanOutRaced is returned when another engine moved a task's fan-out
// first; the transaction is rolled back and the work left to it.
var errMitFanOutRaced = errors.New("mitigation fan-out moved concurrently")

// lockMitigationWrites makes the transactions that change a task's
// executions and statistics (fan-out, batches, cancel) take turns on
// PostgreSQL. They all update the same statistics rows and neighbouring
// execution rows, so under SERIALIZABLE concurrent ones nearly always fail
// and are redone whole (measured: hundreds of retries per 100,000
// executions, and lost leases). Claims, which are most of the coordination,
// still run concurrently.
func (db *DB) lockMitigationWrites(ctx context.Context, tx writeTx) error {
	return db.takeTurns(ctx, tx, "mitigation_task_stats")
}

// takeTurns makes the write transactions that call it with the same table
// run one at a time on PostgreSQL, where concurrent ones would read what the
// others write and most would fail serialization and be retried (SQLite has
// a single writer anyway). It must be the transaction's first statement:
// LOCK takes no snapshot, so the snapshot is taken once the lock is granted
// and sees the previous holder's commit. The mode lets readers through.
func (db *DB) takeTurns(ctx context.Context, tx writeTx, table string) error {
	if !db.postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `LOCK TABLE `+table+` IN SHARE ROW EXCLUSIVE MODE`)
	return err
}

// FanOutMitigationTasks fans out up to maxFindings findings of the oldest
// task with an unfinished fan-out: for each check of its mapping in turn, a
// chunk of the audit's findings of that check, one INSERT … SELECT per
// action. The chunk, the cursor and the statistics move in one transaction,
// and the cursor moves only from the value read (a fence for other engines).
func (db *DB) FanOutMitigationTasks(ctx context.Context, now time.Time, maxFindings int) (bool, error) {
	ctx = context.WithoutCancel(ctx)
	worked := false
	if db.postgres {
		// Every engine step asks; only take the lock below when there is
		// something to fan out.
		pending, err := rowExists(ctx, db.read, `SELECT 1 FROM mitigation_tasks WHERE fanout_done = 0 LIMIT 1`)
		if !pending || err != nil {
			return false, wrap(err, "fan out mitigation tasks")
		}
	}
	err := db.inTx(ctx, func(tx writeTx) error {
		worked = false
		if err := db.lockMitigationWrites(ctx, tx); err != nil {
			return err
		}
		t, err := scanMitTask(tx.QueryRowContext(ctx, `SELECT `+mitTaskColumns+` FROM mitigation_tasks
			WHERE fanout_done = 0 ORDER BY seq LIMIT 1`))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		worked = true
		check, after, room := t.fanoutCheck, t.fanoutAfter, maxFindings
		canceled := t.task.Status == warden.MitigationTaskCanceled
		for room > 0 && check < len(t.checks) {
			name := t.checks[check]
			n, last, err := fanOutMitChunk(ctx, tx, t, name, after, room, canceled, now)
			if err != nil {
				return err
			}
			room -= n
			if room > 0 { // the check has no more findings
				check, after = check+1, 0
			} else {
				after = last
			}
		}
		done := 0
		if check >= len(t.checks) {
			done = 1
		}
		// The fence: nobody moved the cursor, and nobody canceled the task
		// (whose findings would then have to be fanned out CANCELED).
		res, err := tx.ExecContext(ctx, `UPDATE mitigation_tasks SET fanout_check = ?, fanout_after = ?, fanout_done = ?
			WHERE seq = ? AND fanout_done = 0 AND fanout_check = ? AND fanout_after = ? AND status = ?`,
			check, after, done, t.seq, t.fanoutCheck, t.fanoutAfter, t.task.Status)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errMitFanOutRaced
		}
		if done == 1 {
			_, err = finishMitTaskIfDone(ctx, tx, t.seq, now)
		}
		return err
	})
	if errors.Is(err, errMitFanOutRaced) {
		return true, nil
	}
	return worked, wrap(err, "fan out mitigation tasks")
}

// fanOutMitChunk fans out up to limit findings of check with seq > after and
// returns how many it covered and the last one's seq.
func fanOutMitChunk(ctx context.Context, tx writeTx, t *mitTaskRow, check string, after int64, limit int, canceled bool, now time.Time) (int, int64, error) {
	var n int
	var last int64
	var d warden.MitigationTaskStatistics
	err := queryEach(ctx, tx, func(r rowScanner) error {
		var reason string
		var suppressed int
		if err := r.Scan(&last, &reason, &suppressed); err != nil {
			return err
		}
		n++
		d.Total++
		switch {
		case !t.task.Target.Targets(check, reason):
			d.Skipped++ // "skipped because of filter conditions"
		case suppressed != 0:
			d.Skipped++
		case canceled:
			d.Canceled++
		}
		return nil
	}, `SELECT seq, reason_code, is_suppressed FROM audit_findings
		WHERE account = ? AND region = ? AND task_id = ? AND check_name = ? AND seq > ? AND seq <= ?
		ORDER BY seq LIMIT ?`, t.scope.Account, t.scope.Region, t.auditTaskID, check, after, t.fanoutMaxSeq, limit)
	if err != nil {
		return 0, 0, err
	}
	if n == 0 {
		return 0, after, nil
	}
	filter, filterArgs := "", []any(nil)
	if t.task.Target.ReasonCodeFilter != nil {
		codes := t.task.Target.ReasonCodeFilter[check]
		if len(codes) == 0 {
			return n, last, addMitTaskStats(ctx, tx, t.seq, check, d)
		}
		filter = ` AND reason_code IN (` + mitPlaceholders(len(codes)) + `)`
		for _, c := range codes {
			filterArgs = append(filterArgs, c)
		}
	}
	open := warden.ExecutionPending
	openEnd := int64(0)
	if canceled {
		open, openEnd = warden.ExecutionCanceled, millis(now)
	}
	for i := range t.task.Mapping[check] {
		args := []any{t.seq, i, warden.ExecutionSkipped, open, millis(now), openEnd,
			t.scope.Account, t.scope.Region, t.auditTaskID, check, after, last}
		if _, err := tx.ExecContext(ctx, `INSERT INTO mitigation_executions
				(task_seq, finding_seq, action_index, finding_id, check_name, status, end_time)
			SELECT ?, seq, ?, finding_id, check_name,
				CASE WHEN is_suppressed <> 0 THEN ? ELSE ? END, CASE WHEN is_suppressed <> 0 THEN CAST(? AS BIGINT) ELSE CAST(? AS BIGINT) END
			FROM audit_findings
			WHERE account = ? AND region = ? AND task_id = ? AND check_name = ? AND seq > ? AND seq <= ?`+filter+`
			ON CONFLICT DO NOTHING`, append(args, filterArgs...)...); err != nil {
			return 0, 0, err
		}
	}
	return n, last, addMitTaskStats(ctx, tx, t.seq, check, d)
}

func mitPlaceholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// ClaimMitigationFindings leases the executions of up to maxFindings
// claimable findings, oldest task first.
func (db *DB) ClaimMitigationFindings(ctx context.Context, owner string, now time.Time, lease time.Duration, maxFindings int) (*warden.MitigationClaim, error) {
	ctx = context.WithoutCancel(ctx)
	c := &warden.MitigationClaim{Owner: owner}
	err := db.inClaimTx(ctx, func(tx writeTx) error {
		var err error
		c.Executions, err = queryAll(ctx, tx, func(r rowScanner) (e warden.ClaimedExecution, err error) {
			return e, r.Scan(&e.TaskSeq, &e.FindingSeq, &e.ActionIndex, &e.Attempt)
		}, `UPDATE mitigation_executions
			SET lease_owner = ?, lease_expires = ?, attempt = attempt + 1, start_time = ?
			WHERE (task_seq, finding_seq) IN (
				SELECT task_seq, finding_seq FROM mitigation_executions
				WHERE action_index = 0 AND status = 'PENDING' AND lease_expires < ?
				ORDER BY task_seq, finding_seq LIMIT ?`+db.skipLocked()+`)
			AND status = 'PENDING' AND lease_expires < ?
			RETURNING task_seq, finding_seq, action_index, attempt`,
			owner, millis(now.Add(lease)), millis(now), millis(now), maxFindings, millis(now))
		return err
	})
	if err != nil {
		return nil, wrap(err, "claim mitigation findings")
	}
	slices.SortFunc(c.Executions, func(a, b warden.ClaimedExecution) int {
		if a.TaskSeq != b.TaskSeq {
			return cmp.Compare(a.TaskSeq, b.TaskSeq)
		}
		if a.FindingSeq != b.FindingSeq {
			return cmp.Compare(a.FindingSeq, b.FindingSeq)
		}
		return a.ActionIndex - b.ActionIndex
	})
	return c, nil
}
