package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

func init() {
	taggable["scheduledaudit"] = `SELECT 1 FROM scheduled_audits WHERE account = ? AND region = ? AND name = ?`
}

// ---------------------------------------------------------------- account configuration

// auditConfigDoc is the change-log document of an audit configuration.
type auditConfigDoc struct {
	RoleArn string                                    `json:"roleArn,omitempty"`
	SNS     *warden.AuditNotificationTarget           `json:"sns,omitempty"`
	Checks  map[string]warden.AuditCheckConfiguration `json:"checks,omitempty"`
}

func getAuditConfig(ctx context.Context, q querier, s warden.Scope) (warden.AuditConfiguration, bool, error) {
	var cfg warden.AuditConfiguration
	var snsDoc, checks string
	err := q.QueryRowContext(ctx, `SELECT role_arn, sns_target, checks FROM audit_configurations WHERE account = ? AND region = ?`,
		s.Account, s.Region).Scan(&cfg.RoleArn, &snsDoc, &checks)
	if errors.Is(err, sql.ErrNoRows) {
		return warden.AuditConfiguration{Checks: map[string]warden.AuditCheckConfiguration{}}, false, nil
	}
	if err != nil {
		return cfg, false, err
	}
	if snsDoc != "" {
		cfg.SNS = &warden.AuditNotificationTarget{}
		if err := json.Unmarshal([]byte(snsDoc), cfg.SNS); err != nil {
			return cfg, false, fmt.Errorf("stored audit notification target: %w", err)
		}
	}
	if err := json.Unmarshal([]byte(checks), &cfg.Checks); err != nil {
		return cfg, false, fmt.Errorf("stored audit checks: %w", err)
	}
	if cfg.Checks == nil {
		cfg.Checks = map[string]warden.AuditCheckConfiguration{}
	}
	return cfg, true, nil
}

// AuditConfiguration returns the scope's audit configuration.
func (db *DB) AuditConfiguration(ctx context.Context, s warden.Scope) (warden.AuditConfiguration, bool, error) {
	cfg, configured, err := getAuditConfig(ctx, db.read, s)
	return cfg, configured, wrap(err, "audit configuration")
}

// UpdateAuditConfiguration merges an update into the configuration.
func (db *DB) UpdateAuditConfiguration(ctx context.Context, s warden.Scope, u warden.AuditConfigurationUpdate, now time.Time) error {
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		cfg, configured, err := getAuditConfig(ctx, tx, s)
		if err != nil {
			return err
		}
		before := any(nil)
		if configured {
			before = auditConfigDoc{cfg.RoleArn, cfg.SNS, cfg.Checks}
		}
		next, err := warden.ApplyAuditConfigurationUpdate(cfg, configured, u, func() ([]warden.ScheduledAudit, error) {
			return scheduledAuditsOf(ctx, tx, s)
		})
		if err != nil {
			return err
		}
		snsDoc := ""
		if next.SNS != nil {
			b, _ := json.Marshal(next.SNS)
			snsDoc = string(b)
		}
		checks, _ := json.Marshal(next.Checks)
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_configurations (account, region, role_arn, sns_target, checks, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (account, region) DO UPDATE SET role_arn = excluded.role_arn, sns_target = excluded.sns_target,
			  checks = excluded.checks, updated_at = excluded.updated_at`,
			s.Account, s.Region, next.RoleArn, snsDoc, string(checks), millis(now), millis(now)); err != nil {
			return err
		}
		return logChange(ctx, tx, s, warden.AuditConfigurationARN(s), "UpdateAccountAuditConfiguration", before,
			auditConfigDoc{next.RoleArn, next.SNS, next.Checks}, now)
	}), "update audit configuration")
}

// DeleteAuditConfiguration resets the scope to no audit configuration.
func (db *DB) DeleteAuditConfiguration(ctx context.Context, s warden.Scope, deleteScheduledAudits bool, now time.Time) error {
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		cfg, configured, err := getAuditConfig(ctx, tx, s)
		if err != nil {
			return err
		}
		var audits []warden.ScheduledAudit
		if configured {
			if audits, err = scheduledAuditsOf(ctx, tx, s); err != nil {
				return err
			}
		}
		if err := warden.CheckAuditConfigurationDelete(configured, len(audits), deleteScheduledAudits); err != nil {
			return err
		}
		for _, a := range audits {
			if err := deleteScheduledAuditTx(ctx, tx, s, a, now); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit_configurations WHERE account = ? AND region = ?`, s.Account, s.Region); err != nil {
			return err
		}
		return logChange(ctx, tx, s, warden.AuditConfigurationARN(s), "DeleteAccountAuditConfiguration",
			auditConfigDoc{cfg.RoleArn, cfg.SNS, cfg.Checks}, nil, now)
	}), "delete audit configuration")
}

// ---------------------------------------------------------------- tasks

type auditTaskDoc struct {
	TaskType           string   `json:"taskType"`
	TaskStatus         string   `json:"taskStatus"`
	ScheduledAuditName string   `json:"scheduledAuditName,omitempty"`
	Checks             []string `json:"checks,omitempty"`
}

// insertAuditTask stores a new task and its checks with the statuses they
// start with.
func insertAuditTask(ctx context.Context, tx writeTx, s warden.Scope, t *warden.AuditTask) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_tasks (account, region, task_id, task_type, task_status, task_start_time,
		scheduled_audit_name) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.Account, s.Region, t.ID, t.Type, t.Status, millis(t.StartTime), t.ScheduledAuditName); err != nil {
		return err
	}
	for _, c := range t.Checks {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_task_checks (account, region, task_id, check_name, status, error_code, message)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, s.Account, s.Region, t.ID, c.Name, c.Status, c.ErrorCode, c.Message); err != nil {
			return err
		}
	}
	return nil
}

// StartAuditTask stores a new on-demand audit task.
func (db *DB) StartAuditTask(ctx context.Context, s warden.Scope, checks []string, now time.Time) (warden.AuditTask, error) {
	t := warden.NewAuditTask(warden.AuditOnDemand, "", checks, now)
	err := db.inTx(ctx, func(tx writeTx) error {
		cfg, configured, err := getAuditConfig(ctx, tx, s)
		if err != nil {
			return err
		}
		if err := warden.CheckTargetChecksEnabled(&cfg, configured, checks); err != nil {
			return err
		}
		if err := requireBelow(ctx, tx, warden.MaxInProgressOnDemandAudits, warden.ErrOnDemandAuditsLimit,
			`SELECT COUNT(*) FROM audit_tasks WHERE account = ? AND region = ? AND task_type = ? AND task_status = ?`,
			s.Account, s.Region, warden.AuditOnDemand, warden.AuditInProgress); err != nil {
			return err
		}
		if err := insertAuditTask(ctx, tx, s, &t); err != nil {
			return err
		}
		return logChange(ctx, tx, s, warden.AuditTaskARN(s, t.ID), "StartOnDemandAuditTask", nil,
			auditTaskDoc{TaskType: t.Type, TaskStatus: t.Status, Checks: checks}, now)
	})
	return t, wrap(err, "start audit task")
}

func auditTaskNotFound(id string) error {
	return warden.Errorf(warden.CodeResourceNotFound, "The audit task %s does not exist.", id)
}

func getAuditTask(ctx context.Context, q querier, s warden.Scope, id string) (warden.AuditTask, error) {
	t := warden.AuditTask{ID: id}
	var start int64
	err := q.QueryRowContext(ctx, `SELECT task_type, task_status, task_start_time, scheduled_audit_name FROM audit_tasks
		WHERE account = ? AND region = ? AND task_id = ?`, s.Account, s.Region, id).Scan(&t.Type, &t.Status, &start, &t.ScheduledAuditName)
	if errors.Is(err, sql.ErrNoRows) {
		return t, auditTaskNotFound(id)
	}
	if err != nil {
		return t, err
	}
	t.StartTime = fromMillis(start)
	t.Checks, err = queryAll(ctx, q, func(r rowScanner) (c warden.AuditCheckRun, err error) {
		return c, r.Scan(&c.Name, &c.Status, &c.TotalResources, &c.NonCompliantResources, &c.SuppressedNonCompliantResources,
			&c.ErrorCode, &c.Message)
	}, `SELECT check_name, status, total, non_compliant, suppressed, error_code, message
		FROM audit_task_checks WHERE account = ? AND region = ? AND task_id = ? ORDER BY check_name`, s.Account, s.Region, id)
	if err != nil {
		return t, fmt.Errorf("checks of audit task %s: %w", id, err)
	}
	return t, nil
}

// AuditTask returns one task with its checks, read in one snapshot.
func (db *DB) AuditTask(ctx context.Context, s warden.Scope, id string) (warden.AuditTask, error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return warden.AuditTask{}, wrap(err, "audit task")
	}
	defer tx.Rollback()
	t, err := getAuditTask(ctx, tx, s, id)
	return t, wrap(err, "audit task")
}

// AuditTasks lists tasks newest first; the cursor is "start:seq" of the last.
func (db *DB) AuditTasks(ctx context.Context, s warden.Scope, f warden.AuditTaskFilter, p warden.Page) ([]warden.AuditTask, string, error) {
	query := `SELECT seq, task_id, task_type, task_status, task_start_time, scheduled_audit_name FROM audit_tasks
		WHERE account = ? AND region = ? AND task_start_time >= ? AND task_start_time <= ?`
	args := []any{s.Account, s.Region, millis(f.Start), millis(f.End)}
	query, args = andEq(query, args, "task_type", f.Type)
	query, args = andEq(query, args, "task_status", f.Status)
	if p.After != "" {
		start, seq, err := auditCursorPair(p.After)
		if err != nil {
			return nil, "", wrap(err, "audit tasks")
		}
		query += ` AND (task_start_time < ? OR (task_start_time = ? AND seq < ?))`
		args = append(args, start, start, seq)
	}
	query += ` ORDER BY task_start_time DESC, seq DESC LIMIT ?`
	args = append(args, p.Limit+1)
	out, next, err := keyPage(ctx, db.read, p.Limit, func(r rowScanner) (t warden.AuditTask, key string, err error) {
		var seq, start int64
		err = r.Scan(&seq, &t.ID, &t.Type, &t.Status, &start, &t.ScheduledAuditName)
		t.StartTime = fromMillis(start)
		return t, fmt.Sprintf("%d:%d", start, seq), err
	}, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("audit tasks: %w", err)
	}
	return out, next, nil
}

func auditCursorPair(c string) (int64, int64, error) {
	a, b, ok := strings.Cut(c, ":")
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, warden.Errorf(warden.CodeInvalidRequest, "The nextToken is not valid for this request.")
	}
	return x, y, nil
}

// CancelAuditTask cancels an in-progress task.
func (db *DB) CancelAuditTask(ctx context.Context, s warden.Scope, id string, now time.Time) error {
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		t, err := getAuditTask(ctx, tx, s, id)
		if err != nil {
			return err
		}
		if err := t.CheckCancel(); err != nil {
			return err
		}
		// Findings of checks that had not finished go with them: a canceled
		// check reports nothing.
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit_findings WHERE account = ? AND region = ? AND task_id = ? AND check_name IN
			(SELECT check_name FROM audit_task_checks WHERE account = ? AND region = ? AND task_id = ? AND status IN (?, ?))`,
			s.Account, s.Region, id, s.Account, s.Region, id, warden.CheckInProgress, warden.CheckWaitingForData); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE audit_task_checks SET status = ?, total = 0, non_compliant = 0, suppressed = 0
			WHERE account = ? AND region = ? AND task_id = ? AND status IN (?, ?)`,
			warden.CheckCanceled, s.Account, s.Region, id, warden.CheckInProgress, warden.CheckWaitingForData); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE audit_tasks SET task_status = ?, end_time = ?, lease_owner = '', lease_expires = 0
			WHERE account = ? AND region = ? AND task_id = ?`, warden.AuditCanceled, millis(now), s.Account, s.Region, id); err != nil {
			return err
		}
		if err := logChange(ctx, tx, s, warden.AuditTaskARN(s, id), "CancelAuditTask",
			auditTaskDoc{TaskType: t.Type, TaskStatus: t.Status}, auditTaskDoc{TaskType: t.Type, TaskStatus: warden.AuditCanceled}, now); err != nil {
			return err
		}
		_, err = notifyAuditEnd(ctx, tx, s, id, now)
		return err
	}), "cancel audit task")
}

// notifyAuditEnd publishes the summary of task id to the scope's SNS
// notification target, when one is enabled, inside tx. A target topic that
// does not exist (any more) is no error: the audit ended all the same.
func notifyAuditEnd(ctx context.Context, tx writeTx, s warden.Scope, id string, now time.Time) (bool, error) {
	cfg, configured, err := getAuditConfig(ctx, tx, s)
	if err != nil || !configured || cfg.SNS == nil || !cfg.SNS.Enabled || cfg.SNS.TargetArn == "" {
		return false, err
	}
	t, err := getAuditTask(ctx, tx, s, id)
	if err != nil {
		return false, err
	}
	_, err = EnqueuePublishTx(ctx, tx, s, cfg.SNS.TargetArn, "", warden.AuditSummaryMessage(s, &t), now)
	var werr *warden.Error
	if errors.As(err, &werr) {
		return false, nil
	}
	return err == nil, err
}

// ---------------------------------------------------------------- runner

// auditHolds reports whether the claim still holds its task's lease.
func auditHolds(ctx context.Context, tx writeTx, c *warden.AuditTaskClaim) (bool, error) {
	return rowExists(ctx, tx, `SELECT 1 FROM audit_tasks WHERE account = ? AND region = ? AND task_id = ?
		AND task_status = ? AND lease_owner = ? AND attempt = ?`,
		c.Scope.Account, c.Scope.Region, c.Task.ID, warden.AuditInProgress, c.Owner, c.Attempt)
}

// auditClaimLock names the PostgreSQL advisory lock that serializes audit
// claims across nodes, so that each claim counts the tasks every other
// node runs (the per-account limit holds across nodes).
const auditClaimLock = `SELECT pg_advisory_xact_lock(hashtextextended('warden.audit_task_claims', 0))`

// ClaimAuditTask leases a claimable task of the account with the fewest
// tasks running, the oldest of that account's.
func (db *DB) ClaimAuditTask(ctx context.Context, owner string, lease time.Duration, maxAttempts, accountLimit int, now time.Time) (warden.AuditTaskClaim, bool, error) {
	var claim warden.AuditTaskClaim
	found := false
	// A running task holds an unexpired lease; accounts are ranked by how
	// many they hold, on any node.
	query := `WITH running AS (SELECT account, COUNT(*) AS n FROM audit_tasks WHERE task_status = ? AND lease_expires >= ? GROUP BY account)
		SELECT t.seq, t.account, t.region, t.task_id, t.attempt FROM audit_tasks t LEFT JOIN running ON running.account = t.account
		WHERE t.task_status = ? AND t.lease_expires < ?`
	args := []any{warden.AuditInProgress, millis(now), warden.AuditInProgress, millis(now)}
	if accountLimit > 0 {
		query += ` AND COALESCE(running.n, 0) < ?`
		args = append(args, accountLimit)
	}
	query += ` ORDER BY COALESCE(running.n, 0), t.seq LIMIT 1`
	if db.postgres {
		query += ` FOR UPDATE OF t SKIP LOCKED`
	}
	err := db.inClaimTx(ctx, func(tx writeTx) error {
		found = false
		if db.postgres {
			if _, err := tx.ExecContext(ctx, auditClaimLock); err != nil {
				return err
			}
		}
		for {
			var seq int64
			var attempt int
			var s warden.Scope
			var id string
			err := tx.QueryRowContext(ctx, query, args...).Scan(&seq, &s.Account, &s.Region, &id, &attempt)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			if attempt > 0 {
				// Its runner died: start over, so that no finding is counted twice.
				if _, err := tx.ExecContext(ctx, `DELETE FROM audit_findings WHERE account = ? AND region = ? AND task_id = ?`,
					s.Account, s.Region, id); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `UPDATE audit_task_checks SET status = ?, total = 0, non_compliant = 0, suppressed = 0,
					error_code = '', message = '' WHERE account = ? AND region = ? AND task_id = ? AND error_code <> ?`,
					warden.CheckInProgress, s.Account, s.Region, id, warden.CheckErrorDisabled); err != nil {
					return err
				}
			}
			if attempt >= maxAttempts {
				msg := fmt.Sprintf("Warden stopped %d times while running this audit; it was given up.", attempt)
				if err := finishAuditTaskTx(ctx, tx, s, id, warden.AuditFailed, warden.CheckErrorInterrupted, msg, now); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE audit_tasks SET lease_owner = ?, lease_expires = ?, attempt = ? WHERE seq = ?`,
				owner, millis(now.Add(lease)), attempt+1, seq); err != nil {
				return err
			}
			t, err := getAuditTask(ctx, tx, s, id)
			if err != nil {
				return err
			}
			claim = warden.AuditTaskClaim{Scope: s, Task: t, Owner: owner, Attempt: attempt + 1}
			found = true
			return nil
		}
	})
	return claim, found, wrap(err, "claim audit task")
}

// finishAuditTaskTx ends task id with status: its unfinished checks become
// FAILED with errorCode/message, and the end is published.
func finishAuditTaskTx(ctx context.Context, tx writeTx, s warden.Scope, id, status, errorCode, message string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE audit_task_checks SET status = ?, error_code = ?, message = ?
		WHERE account = ? AND region = ? AND task_id = ? AND status IN (?, ?)`,
		warden.CheckFailed, errorCode, message, s.Account, s.Region, id, warden.CheckInProgress, warden.CheckWaitingForData); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE audit_tasks SET task_status = ?, end_time = ?, lease_owner = '', lease_expires = 0
		WHERE account = ? AND region = ? AND task_id = ?`, status, millis(now), s.Account, s.Region, id); err != nil {
		return err
	}
	_, err := notifyAuditEnd(ctx, tx, s, id, now)
	return err
}

// RenewAuditTaskLease extends a claim's lease.
func (db *DB) RenewAuditTaskLease(ctx context.Context, c *warden.AuditTaskClaim, until time.Time) (bool, error) {
	held := false
	err := db.inTx(ctx, func(tx writeTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE audit_tasks SET lease_expires = ? WHERE account = ? AND region = ? AND task_id = ?
			AND task_status = ? AND lease_owner = ? AND attempt = ?`,
			millis(until), c.Scope.Account, c.Scope.Region, c.Task.ID, warden.AuditInProgress, c.Owner, c.Attempt)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		held = n == 1
		return err
	})
	return held, wrap(err, "renew audit task lease")
}

// auditFindingColumns are the columns insertFindings writes, in order.
const auditFindingColumns = `account, region, finding_id, task_id, check_name, severity, resource_type, resource_identifier,
	additional_info, related_resources, reason_code, reason, is_suppressed, task_start_time, finding_time, resource_key`

// auditFindingRowsPerInsert bounds a multi-row INSERT of findings (16
// parameters per row, well under the databases' parameter limits).
const auditFindingRowsPerInsert = 200

func insertFindings(ctx context.Context, tx writeTx, s warden.Scope, findings []warden.AuditFinding) error {
	for start := 0; start < len(findings); start += auditFindingRowsPerInsert {
		chunk := findings[start:min(start+auditFindingRowsPerInsert, len(findings))]
		var q strings.Builder
		q.WriteString(`INSERT INTO audit_findings (` + auditFindingColumns + `) VALUES `)
		args := make([]any, 0, 16*len(chunk))
		for i := range chunk {
			f := &chunk[i]
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			info := "{}"
			if len(f.NonCompliantResource.AdditionalInfo) > 0 {
				b, _ := json.Marshal(f.NonCompliantResource.AdditionalInfo)
				info = string(b)
			}
			related := "[]"
			if len(f.RelatedResources) > 0 {
				b, _ := json.Marshal(f.RelatedResources)
				related = string(b)
			}
			suppressed := 0
			if f.IsSuppressed {
				suppressed = 1
			}
			r := &f.NonCompliantResource.ResourceIdentifier
			args = append(args, s.Account, s.Region, f.FindingID, f.TaskID, f.CheckName, f.Severity, f.NonCompliantResource.ResourceType,
				r.JSON(), info, related, f.ReasonForNonComplianceCode, f.ReasonForNonCompliance, suppressed,
				millis(f.TaskStartTime), millis(f.FindingTime), r.Key())
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// RecordAuditProgress stores findings of a claimed task and the status and
// counts of its checks.
func (db *DB) RecordAuditProgress(ctx context.Context, c *warden.AuditTaskClaim, findings []warden.AuditFinding, checks []warden.AuditCheckRun) (bool, error) {
	held := false
	err := db.inTx(ctx, func(tx writeTx) error {
		var err error
		if held, err = auditHolds(ctx, tx, c); err != nil || !held {
			return err
		}
		if err := insertFindings(ctx, tx, c.Scope, findings); err != nil {
			return err
		}
		for _, r := range checks {
			if _, err := tx.ExecContext(ctx, `UPDATE audit_task_checks SET status = ?, total = ?, non_compliant = ?, suppressed = ?,
				error_code = ?, message = ? WHERE account = ? AND region = ? AND task_id = ? AND check_name = ?`,
				r.Status, r.TotalResources, r.NonCompliantResources, r.SuppressedNonCompliantResources, r.ErrorCode, r.Message,
				c.Scope.Account, c.Scope.Region, c.Task.ID, r.Name); err != nil {
				return err
			}
		}
		return nil
	})
	return held, wrap(err, "record audit progress")
}

// FinishAuditTask ends a claimed task.
func (db *DB) FinishAuditTask(ctx context.Context, c *warden.AuditTaskClaim, status string, now time.Time) (bool, bool, error) {
	held, published := false, false
	err := db.inTx(ctx, func(tx writeTx) error {
		var err error
		if held, err = auditHolds(ctx, tx, c); err != nil || !held {
			return err
		}
		s, id := c.Scope, c.Task.ID
		if _, err := tx.ExecContext(ctx, `UPDATE audit_task_checks SET status = ?, error_code = ?, message = ?
			WHERE account = ? AND region = ? AND task_id = ? AND status IN (?, ?)`,
			warden.CheckFailed, warden.CheckErrorInternal, "The audit ended before this check finished.",
			s.Account, s.Region, id, warden.CheckInProgress, warden.CheckWaitingForData); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE audit_tasks SET task_status = ?, end_time = ?, lease_owner = '', lease_expires = 0
			WHERE account = ? AND region = ? AND task_id = ?`, status, millis(now), s.Account, s.Region, id); err != nil {
			return err
		}
		published, err = notifyAuditEnd(ctx, tx, s, id, now)
		return err
	})
	return held, published, wrap(err, "finish audit task")
}

// PurgeAuditData deletes what is older than the retention period, in
// batches so that no transaction holds the writer for long.
func (db *DB) PurgeAuditData(ctx context.Context, cutoff time.Time) (int64, error) {
	const batch = 5000
	for {
		var n int64
		err := db.inTx(ctx, func(tx writeTx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM audit_findings WHERE seq IN
				(SELECT seq FROM audit_findings WHERE finding_time < ? ORDER BY seq LIMIT ?)`, millis(cutoff), batch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return 0, wrap(err, "purge audit data")
		}
		if n < batch {
			break
		}
	}
	var tasks int64
	err := db.inTx(ctx, func(tx writeTx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit_findings WHERE EXISTS (SELECT 1 FROM audit_tasks t
			WHERE t.account = audit_findings.account AND t.region = audit_findings.region AND t.task_id = audit_findings.task_id
			AND t.task_start_time < ? AND t.task_status <> ?)`, millis(cutoff), warden.AuditInProgress); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit_task_checks WHERE EXISTS (SELECT 1 FROM audit_tasks t
			WHERE t.account = audit_task_checks.account AND t.region = audit_task_checks.region AND t.task_id = audit_task_checks.task_id
			AND t.task_start_time < ? AND t.task_status <> ?)`, millis(cutoff), warden.AuditInProgress); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_tasks WHERE task_start_time < ? AND task_status <> ?`,
			millis(cutoff), warden.AuditInProgress)
		if err != nil {
			return err
		}
		if tasks, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM scheduled_audit_runs WHERE occurrence < ?`, millis(cutoff))
		return err
	})
	return tasks, wrap(err, "purge audit data")
}

// ---------------------------------------------------------------- registry scans

func auditStatusArgs(s warden.Scope, statuses []string) (string, []any) {
	args := []any{s.Account, s.Region}
	marks := make([]string, len(statuses))
	for i, st := range statuses {
		marks[i] = "?"
		args = append(args, st)
	}
	return strings.Join(marks, ", "), args
}

// ScanAuditCertificates streams the scope's device certificates.
func (db *DB) ScanAuditCertificates(ctx context.Context, s warden.Scope, statuses []string, fn func(*warden.Certificate) error) error {
	if len(statuses) == 0 {
		return nil
	}
	marks, args := auditStatusArgs(s, statuses)
	var c warden.Certificate
	var notBefore, notAfter, created int64
	var publicKey, crls string
	return wrap(queryEach(ctx, db.read, func(r rowScanner) (err error) {
		c = warden.Certificate{}
		if err := r.Scan(&c.ID, &c.Status, &c.CACertificateID, &notBefore, &notAfter, &created, &c.Facts.Subject, &c.Facts.Issuer,
			&c.Facts.Serial, &c.Facts.KeyAlgorithm, &c.Facts.KeySize, &publicKey, &c.Facts.PublicKeySHA256, &crls); err != nil {
			return err
		}
		c.NotBefore, c.NotAfter, c.CreationDate = fromMillis(notBefore), fromMillis(notAfter), fromMillis(created)
		if c.Facts.PublicKey, err = base64.StdEncoding.DecodeString(publicKey); err != nil {
			return fmt.Errorf("stored certificate %s: %w", c.ID, err)
		}
		if crls != "[]" && crls != "" {
			if err := json.Unmarshal([]byte(crls), &c.Facts.CRLDistributionPoints); err != nil {
				return fmt.Errorf("stored certificate %s: %w", c.ID, err)
			}
		}
		return fn(&c)
	}, `SELECT id, status, ca_certificate_id, not_before, not_after, created_at, subject, issuer,
		serial, key_algorithm, key_size, public_key, public_key_sha256, crl_distribution_points
		FROM certificates WHERE account = ? AND region = ? AND status IN (`+marks+`) ORDER BY seq`, args...), "scan audit certificates")
}

// AuditCRLDistributionPoints lists the distinct CRL URLs of the scope's
// device certificates whose status is in statuses: the first
// warden.MaxConsultedCRLDistributionPoints of each.
func (db *DB) AuditCRLDistributionPoints(ctx context.Context, s warden.Scope, statuses []string) ([]string, error) {
	if len(statuses) == 0 {
		return nil, nil
	}
	marks, args := auditStatusArgs(s, statuses)
	var out []string
	seen := map[string]bool{} // a fleet may name many distinct URLs: no quadratic search
	err := queryEach(ctx, db.read, func(r rowScanner) error {
		var doc string
		facts := warden.X509Facts{}
		if err := r.Scan(&doc); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(doc), &facts.CRLDistributionPoints); err != nil {
			return fmt.Errorf("stored CRL distribution points: %w", err)
		}
		for _, u := range facts.ConsultedCRLDistributionPoints() {
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
		return nil
	}, `SELECT DISTINCT crl_distribution_points FROM certificates
		WHERE account = ? AND region = ? AND status IN (`+marks+`) AND crl_distribution_points <> '[]'`, args...)
	if err != nil {
		return nil, wrap(err, "audit CRL distribution points")
	}
	slices.Sort(out)
	return out, nil
}

// ScanAuditCACertificates streams the scope's CA certificates.
func (db *DB) ScanAuditCACertificates(ctx context.Context, s warden.Scope, fn func(*warden.CACertificate) error) error {
	return wrap(queryEach(ctx, db.read, func(r rowScanner) error {
		c, _, err := scanCACertificate(r)
		if err != nil {
			return err
		}
		return fn(&c)
	}, `SELECT `+caColumns+` FROM ca_certificates WHERE account = ? AND region = ? ORDER BY seq`, s.Account, s.Region), "scan audit CA certificates")
}

// ScanDefaultPolicyVersions streams the default version of every policy.
func (db *DB) ScanDefaultPolicyVersions(ctx context.Context, s warden.Scope, fn func(*warden.PolicyVersion) error) error {
	var v warden.PolicyVersion
	return wrap(queryEach(ctx, db.read, func(r rowScanner) error {
		var version, created, updated int64
		if err := r.Scan(&v.PolicyName, &version, &v.Document, &v.GenerationID, &created, &updated); err != nil {
			return err
		}
		v.VersionID, v.IsDefault = strconv.FormatInt(version, 10), true
		v.CreationDate, v.LastModifiedDate = fromMillis(created), fromMillis(updated)
		return fn(&v)
	}, `SELECT p.name, v.version, v.document, p.generation_id, v.created_at, v.updated_at
		FROM policies p JOIN policy_versions v ON v.account = p.account AND v.region = p.region AND v.policy_name = p.name
		  AND v.version = p.default_version
		WHERE p.account = ? AND p.region = ? ORDER BY p.seq`, s.Account, s.Region), "scan default policy versions")
}

// ---------------------------------------------------------------- findings

const auditFindingSelect = `SELECT seq, finding_id, task_id, check_name, severity, resource_type, resource_identifier, additional_info,
	related_resources, reason_code, reason, is_suppressed, task_start_time, finding_time FROM audit_findings`

func scanAuditFinding(r rowScanner) (warden.AuditFinding, int64, error) {
	var f warden.AuditFinding
	var seq, start, found int64
	var resource, info, related string
	var suppressed int
	if err := r.Scan(&seq, &f.FindingID, &f.TaskID, &f.CheckName, &f.Severity, &f.NonCompliantResource.ResourceType, &resource, &info,
		&related, &f.ReasonForNonComplianceCode, &f.ReasonForNonCompliance, &suppressed, &start, &found); err != nil {
		return f, 0, err
	}
	f.IsSuppressed = suppressed != 0
	f.TaskStartTime, f.FindingTime = fromMillis(start), fromMillis(found)
	if err := json.Unmarshal([]byte(resource), &f.NonCompliantResource.ResourceIdentifier); err != nil {
		return f, 0, fmt.Errorf("stored finding %s: %w", f.FindingID, err)
	}
	if info != "" && info != "{}" {
		if err := json.Unmarshal([]byte(info), &f.NonCompliantResource.AdditionalInfo); err != nil {
			return f, 0, fmt.Errorf("stored finding %s: %w", f.FindingID, err)
		}
	}
	if related != "" && related != "[]" {
		if err := json.Unmarshal([]byte(related), &f.RelatedResources); err != nil {
			return f, 0, fmt.Errorf("stored finding %s: %w", f.FindingID, err)
		}
	}
	return f, seq, nil
}

// AuditFinding returns one finding.
func (db *DB) AuditFinding(ctx context.Context, s warden.Scope, id string) (warden.AuditFinding, error) {
	f, _, err := scanAuditFinding(db.read.QueryRowContext(ctx, auditFindingSelect+` WHERE account = ? AND region = ? AND finding_id = ?`,
		s.Account, s.Region, id))
	if errors.Is(err, sql.ErrNoRows) {
		return f, warden.Errorf(warden.CodeResourceNotFound, "The audit finding %s does not exist.", id)
	}
	return f, wrap(err, "audit finding")
}

// AuditFindings lists findings. A task's are ordered by check and then as
// found (cursor "t" check NUL seq), a period's by finding time (cursor "f"
// time NUL seq).
func (db *DB) AuditFindings(ctx context.Context, s warden.Scope, f warden.AuditFindingFilter, p warden.Page) ([]warden.AuditFinding, string, error) {
	query := auditFindingSelect + ` WHERE account = ? AND region = ?`
	args := []any{s.Account, s.Region}
	byTask := f.TaskID != ""
	if byTask {
		query += ` AND task_id = ?`
		args = append(args, f.TaskID)
	} else {
		query += ` AND finding_time >= ? AND finding_time <= ?`
		args = append(args, millis(f.Start), millis(f.End))
	}
	query, args = andEq(query, args, "check_name", f.CheckName)
	if f.Resource != nil {
		query += ` AND resource_key = ?`
		args = append(args, f.Resource.Key())
	}
	if f.Suppressed != nil {
		query += ` AND is_suppressed = ?`
		args = append(args, map[bool]int{false: 0, true: 1}[*f.Suppressed])
	}
	badToken := warden.Errorf(warden.CodeInvalidRequest, "The nextToken is not valid for this request.")
	if p.After != "" {
		kind, rest := p.After[:1], p.After[1:]
		key, seqText, ok := strings.Cut(rest, "\x00")
		seq, err := strconv.ParseInt(seqText, 10, 64)
		if !ok || err != nil || (kind == "t") != byTask || (kind != "t" && kind != "f") {
			return nil, "", badToken
		}
		if byTask {
			query += ` AND (check_name > ? OR (check_name = ? AND seq > ?))`
			args = append(args, key, key, seq)
		} else {
			at, err := strconv.ParseInt(key, 10, 64)
			if err != nil {
				return nil, "", badToken
			}
			query += ` AND (finding_time > ? OR (finding_time = ? AND seq > ?))`
			args = append(args, at, at, seq)
		}
	}
	if byTask {
		query += ` ORDER BY check_name, seq`
	} else {
		query += ` ORDER BY finding_time, seq`
	}
	query += ` LIMIT ?`
	args = append(args, p.Limit+1)
	out, next, err := keyPage(ctx, db.read, p.Limit, func(r rowScanner) (warden.AuditFinding, string, error) {
		f, seq, err := scanAuditFinding(r)
		if byTask {
			return f, "t" + f.CheckName + "\x00" + strconv.FormatInt(seq, 10), err
		}
		return f, "f" + strconv.FormatInt(millis(f.FindingTime), 10) + "\x00" + strconv.FormatInt(seq, 10), err
	}, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("audit findings: %w", err)
	}
	return out, next, nil
}

// ---------------------------------------------------------------- suppressions

type auditSuppressionDoc struct {
	ExpirationDate       int64  `json:"expirationDate,omitempty"`
	SuppressIndefinitely bool   `json:"suppressIndefinitely"`
	Description          string `json:"description,omitempty"`
}

func suppressionDoc(sup *warden.AuditSuppression) auditSuppressionDoc {
	d := auditSuppressionDoc{SuppressIndefinitely: sup.SuppressIndefinitely, Description: sup.Description}
	if !sup.ExpirationDate.IsZero() {
		d.ExpirationDate = millis(sup.ExpirationDate)
	}
	return d
}

const auditSuppressionSelect = `SELECT check_name, resource_key, resource_identifier, expiration, suppress_indefinitely, description,
	client_request_token, expiration_sort FROM audit_suppressions`

type suppressionRow struct {
	sup   warden.AuditSuppression
	key   string
	token string
	sort  int64
}

func scanSuppression(r rowScanner) (suppressionRow, error) {
	var row suppressionRow
	var resource string
	var expiration int64
	var forever int
	if err := r.Scan(&row.sup.CheckName, &row.key, &resource, &expiration, &forever, &row.sup.Description, &row.token, &row.sort); err != nil {
		return row, err
	}
	if err := json.Unmarshal([]byte(resource), &row.sup.Resource); err != nil {
		return row, fmt.Errorf("stored suppression: %w", err)
	}
	row.sup.SuppressIndefinitely = forever != 0
	if expiration != 0 {
		row.sup.ExpirationDate = fromMillis(expiration)
	}
	return row, nil
}

func suppressionNotFound(check string) error {
	return warden.Errorf(warden.CodeResourceNotFound, "No audit suppression exists for the check %s and this resource.", check)
}

func getSuppression(ctx context.Context, q querier, s warden.Scope, check string, r *warden.ResourceIdentifier) (suppressionRow, error) {
	row, err := scanSuppression(q.QueryRowContext(ctx, auditSuppressionSelect+` WHERE account = ? AND region = ? AND check_name = ? AND resource_key = ?`,
		s.Account, s.Region, check, r.Key()))
	return row, noRowAs(err, suppressionNotFound(check))
}

// expirationSort orders suppressions by expiration, indefinite ones last.
func expirationSort(sup *warden.AuditSuppression) (expiration, sort int64) {
	if sup.SuppressIndefinitely || sup.ExpirationDate.IsZero() {
		return 0, math.MaxInt64
	}
	return millis(sup.ExpirationDate), millis(sup.ExpirationDate)
}

// CreateAuditSuppression stores a suppression.
func (db *DB) CreateAuditSuppression(ctx context.Context, s warden.Scope, sup warden.AuditSuppression, token string, now time.Time) error {
	key := sup.Resource.Key()
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		var existingCheck, existingKey string
		err := tx.QueryRowContext(ctx, `SELECT check_name, resource_key FROM audit_suppressions WHERE account = ? AND region = ? AND client_request_token = ?`,
			s.Account, s.Region, token).Scan(&existingCheck, &existingKey)
		switch {
		case err == nil && existingCheck == sup.CheckName && existingKey == key:
			return nil // a retry of the request that made it
		case err == nil:
			return warden.Errorf(warden.CodeInvalidRequest, "The clientRequestToken %s was already used to create another audit suppression.", token)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := getSuppression(ctx, tx, s, sup.CheckName, &sup.Resource); err == nil {
			return warden.Errorf(warden.CodeResourceAlreadyExists, "An audit suppression for the check %s and this resource already exists.", sup.CheckName)
		} else if warden.ErrorCode(err) != warden.CodeResourceNotFound {
			return err
		}
		expiration, sort := expirationSort(&sup)
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_suppressions (account, region, check_name, resource_key, resource_identifier,
			expiration, expiration_sort, suppress_indefinitely, description, client_request_token, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.Account, s.Region, sup.CheckName, key, sup.Resource.JSON(), expiration, sort, map[bool]int{false: 0, true: 1}[sup.SuppressIndefinitely],
			sup.Description, token, millis(now), millis(now)); err != nil {
			return err
		}
		return logChange(ctx, tx, s, warden.AuditSuppressionARN(s, sup.CheckName, &sup.Resource), "CreateAuditSuppression", nil, suppressionDoc(&sup), now)
	}), "create audit suppression")
}

// AuditSuppression returns one suppression.
func (db *DB) AuditSuppression(ctx context.Context, s warden.Scope, check string, r warden.ResourceIdentifier) (warden.AuditSuppression, error) {
	row, err := getSuppression(ctx, db.read, s, check, &r)
	return row.sup, wrap(err, "audit suppression")
}

// UpdateAuditSuppression changes a suppression.
func (db *DB) UpdateAuditSuppression(ctx context.Context, s warden.Scope, check string, r warden.ResourceIdentifier, u warden.AuditSuppressionUpdate, now time.Time) error {
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		row, err := getSuppression(ctx, tx, s, check, &r)
		if err != nil {
			return err
		}
		before := suppressionDoc(&row.sup)
		sup, err := warden.ApplyAuditSuppressionUpdate(row.sup, u, now)
		if err != nil {
			return err
		}
		expiration, sort := expirationSort(&sup)
		if _, err := tx.ExecContext(ctx, `UPDATE audit_suppressions SET expiration = ?, expiration_sort = ?, suppress_indefinitely = ?,
			description = ?, updated_at = ? WHERE account = ? AND region = ? AND check_name = ? AND resource_key = ?`,
			expiration, sort, map[bool]int{false: 0, true: 1}[sup.SuppressIndefinitely], sup.Description, millis(now),
			s.Account, s.Region, check, row.key); err != nil {
			return err
		}
		return logChange(ctx, tx, s, warden.AuditSuppressionARN(s, check, &r), "UpdateAuditSuppression", before, suppressionDoc(&sup), now)
	}), "update audit suppression")
}

// DeleteAuditSuppression removes a suppression.
func (db *DB) DeleteAuditSuppression(ctx context.Context, s warden.Scope, check string, r warden.ResourceIdentifier, now time.Time) error {
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		row, err := getSuppression(ctx, tx, s, check, &r)
		if warden.ErrorCode(err) == warden.CodeResourceNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit_suppressions WHERE account = ? AND region = ? AND check_name = ? AND resource_key = ?`,
			s.Account, s.Region, check, row.key); err != nil {
			return err
		}
		return logChange(ctx, tx, s, warden.AuditSuppressionARN(s, check, &r), "DeleteAuditSuppression", suppressionDoc(&row.sup), nil, now)
	}), "delete audit suppression")
}

// AuditSuppressions lists suppressions by expiration; the cursor is
// expiration_sort NUL check NUL resource key of the last one.
func (db *DB) AuditSuppressions(ctx context.Context, s warden.Scope, f warden.AuditSuppressionFilter, p warden.Page) ([]warden.AuditSuppression, string, error) {
	query := auditSuppressionSelect + ` WHERE account = ? AND region = ?`
	args := []any{s.Account, s.Region}
	query, args = andEq(query, args, "check_name", f.CheckName)
	if f.Resource != nil {
		query += ` AND resource_key = ?`
		args = append(args, f.Resource.Key())
	}
	cmp, order := ">", "ASC"
	if !f.Ascending {
		cmp, order = "<", "DESC"
	}
	if p.After != "" {
		parts := strings.SplitN(p.After, "\x00", 3)
		if len(parts) != 3 {
			return nil, "", warden.Errorf(warden.CodeInvalidRequest, "The nextToken is not valid for this request.")
		}
		sort, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			return nil, "", warden.Errorf(warden.CodeInvalidRequest, "The nextToken is not valid for this request.")
		}
		query += ` AND (expiration_sort ` + cmp + ` ? OR (expiration_sort = ? AND (check_name ` + cmp + ` ? OR (check_name = ? AND resource_key ` + cmp + ` ?))))`
		args = append(args, sort, sort, parts[1], parts[1], parts[2])
	}
	query += ` ORDER BY expiration_sort ` + order + `, check_name ` + order + `, resource_key ` + order + ` LIMIT ?`
	args = append(args, p.Limit+1)
	out, next, err := keyPage(ctx, db.read, p.Limit, func(r rowScanner) (warden.AuditSuppression, string, error) {
		row, err := scanSuppression(r)
		return row.sup, strconv.FormatInt(row.sort, 10) + "\x00" + row.sup.CheckName + "\x00" + row.key, err
	}, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("audit suppressions: %w", err)
	}
	return out, next, nil
}

// AllAuditSuppressions lists every suppression of the scope.
func (db *DB) AllAuditSuppressions(ctx context.Context, s warden.Scope) ([]warden.AuditSuppression, error) {
	rows, err := queryAll(ctx, db.read, scanSuppression, auditSuppressionSelect+` WHERE account = ? AND region = ?`, s.Account, s.Region)
	if err != nil {
		return nil, fmt.Errorf("audit suppressions: %w", err)
	}
	var out []warden.AuditSuppression
	for _, row := range rows {
		out = append(out, row.sup)
	}
	return out, nil
}

// ---------------------------------------------------------------- scheduled audits

const scheduledAuditSelect = `SELECT account, region, name, frequency, day_of_month, day_of_week, target_checks, anchor, created_at, updated_at
	FROM scheduled_audits`

func scanScheduledAudit(r rowScanner) (warden.ScopedScheduledAudit, error) {
	var a warden.ScopedScheduledAudit
	var checks string
	var anchor, created, updated int64
	if err := r.Scan(&a.Scope.Account, &a.Scope.Region, &a.Name, &a.Frequency, &a.DayOfMonth, &a.DayOfWeek, &checks, &anchor, &created, &updated); err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(checks), &a.TargetCheckNames); err != nil {
		return a, fmt.Errorf("stored scheduled audit %s: %w", a.Name, err)
	}
	a.Anchor, a.CreatedAt, a.UpdatedAt = fromMillis(anchor), fromMillis(created), fromMillis(updated)
	return a, nil
}

func scheduledAuditsOf(ctx context.Context, q querier, s warden.Scope) ([]warden.ScheduledAudit, error) {
	return queryAll(ctx, q, scanUnscopedAudit, scheduledAuditSelect+` WHERE account = ? AND region = ? ORDER BY name`, s.Account, s.Region)
}

// scanUnscopedAudit is scanScheduledAudit without the scope.
func scanUnscopedAudit(r rowScanner) (warden.ScheduledAudit, error) {
	a, err := scanScheduledAudit(r)
	return a.ScheduledAudit, err
}

func getScheduledAudit(ctx context.Context, q querier, s warden.Scope, name string) (warden.ScheduledAudit, error) {
	a, err := scanScheduledAudit(q.QueryRowContext(ctx, scheduledAuditSelect+` WHERE account = ? AND region = ? AND name = ?`,
		s.Account, s.Region, name))
	return a.ScheduledAudit, noRowAs(err, warden.Errorf(warden.CodeResourceNotFound, "The scheduled audit %s does not exist.", name))
}

type scheduledAuditDoc struct {
	Frequency        string   `json:"frequency"`
	DayOfMonth       string   `json:"dayOfMonth,omitempty"`
	DayOfWeek        string   `json:"dayOfWeek,omitempty"`
	TargetCheckNames []string `json:"targetCheckNames"`
}

func scheduledDoc(a *warden.ScheduledAudit) scheduledAuditDoc {
	return scheduledAuditDoc{a.Frequency, a.DayOfMonth, a.DayOfWeek, a.TargetCheckNames}
}

// CreateScheduledAudit stores a scheduled audit.
func (db *DB) CreateScheduledAudit(ctx context.Context, s warden.Scope, a warden.ScheduledAudit, tags []warden.Tag) error {
	arn := warden.ScheduledAuditARN(s, a.Name)
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		if _, err := getScheduledAudit(ctx, tx, s, a.Name); err == nil {
			return &warden.Error{Code: warden.CodeResourceAlreadyExists, Message: fmt.Sprintf("The scheduled audit %s already exists.", a.Name),
				ResourceID: a.Name, ResourceArn: arn}
		} else if warden.ErrorCode(err) != warden.CodeResourceNotFound {
			return err
		}
		cfg, configured, err := getAuditConfig(ctx, tx, s)
		if err != nil {
			return err
		}
		if err := warden.CheckTargetChecksEnabled(&cfg, configured, a.TargetCheckNames); err != nil {
			return err
		}
		if err := requireBelow(ctx, tx, warden.MaxScheduledAudits, warden.ErrScheduledAuditsLimit,
			`SELECT COUNT(*) FROM scheduled_audits WHERE account = ? AND region = ?`, s.Account, s.Region); err != nil {
			return err
		}
		checks, _ := json.Marshal(a.TargetCheckNames)
		if _, err := tx.ExecContext(ctx, `INSERT INTO scheduled_audits (account, region, name, frequency, day_of_month, day_of_week,
			target_checks, anchor, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.Account, s.Region, a.Name, a.Frequency, a.DayOfMonth, a.DayOfWeek, string(checks), millis(a.Anchor),
			millis(a.CreatedAt), millis(a.UpdatedAt)); err != nil {
			return err
		}
		if err := putTags(ctx, tx, s, arn, tags); err != nil {
			return err
		}
		return logChange(ctx, tx, s, arn, "CreateScheduledAudit", nil, scheduledDoc(&a), a.CreatedAt)
	}), "create scheduled audit")
}

// ScheduledAudit returns one scheduled audit.
func (db *DB) ScheduledAudit(ctx context.Context, s warden.Scope, name string) (warden.ScheduledAudit, error) {
	a, err := getScheduledAudit(ctx, db.read, s, name)
	return a, wrap(err, "scheduled audit")
}

// UpdateScheduledAudit changes a scheduled audit.
func (db *DB) UpdateScheduledAudit(ctx context.Context, s warden.Scope, name string, u warden.ScheduledAuditUpdate, now time.Time) (warden.ScheduledAudit, error) {
	var out warden.ScheduledAudit
	err := db.inTx(ctx, func(tx writeTx) error {
		a, err := getScheduledAudit(ctx, tx, s, name)
		if err != nil {
			return err
		}
		before := scheduledDoc(&a)
		if out, err = warden.ApplyScheduledAuditUpdate(a, u, now); err != nil {
			return err
		}
		if u.TargetCheckNames != nil {
			cfg, configured, err := getAuditConfig(ctx, tx, s)
			if err != nil {
				return err
			}
			if err := warden.CheckTargetChecksEnabled(&cfg, configured, out.TargetCheckNames); err != nil {
				return err
			}
		}
		checks, _ := json.Marshal(out.TargetCheckNames)
		if _, err := tx.ExecContext(ctx, `UPDATE scheduled_audits SET frequency = ?, day_of_month = ?, day_of_week = ?, target_checks = ?,
			anchor = ?, updated_at = ? WHERE account = ? AND region = ? AND name = ?`,
			out.Frequency, out.DayOfMonth, out.DayOfWeek, string(checks), millis(out.Anchor), millis(out.UpdatedAt),
			s.Account, s.Region, name); err != nil {
			return err
		}
		return logChange(ctx, tx, s, warden.ScheduledAuditARN(s, name), "UpdateScheduledAudit", before, scheduledDoc(&out), now)
	})
	return out, wrap(err, "update scheduled audit")
}

func deleteScheduledAuditTx(ctx context.Context, tx writeTx, s warden.Scope, a warden.ScheduledAudit, now time.Time) error {
	arn := warden.ScheduledAuditARN(s, a.Name)
	if _, err := tx.ExecContext(ctx, `DELETE FROM scheduled_audits WHERE account = ? AND region = ? AND name = ?`, s.Account, s.Region, a.Name); err != nil {
		return err
	}
	if err := deleteTags(ctx, tx, s, arn); err != nil {
		return err
	}
	// Its occurrences go too, so that a new scheduled audit of the same
	// name starts afresh.
	if _, err := tx.ExecContext(ctx, `DELETE FROM scheduled_audit_runs WHERE account = ? AND region = ? AND name = ?`, s.Account, s.Region, a.Name); err != nil {
		return err
	}
	return logChange(ctx, tx, s, arn, "DeleteScheduledAudit", scheduledDoc(&a), nil, now)
}

// DeleteScheduledAudit removes a scheduled audit.
func (db *DB) DeleteScheduledAudit(ctx context.Context, s warden.Scope, name string, now time.Time) error {
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		a, err := getScheduledAudit(ctx, tx, s, name)
		if err != nil {
			return err
		}
		return deleteScheduledAuditTx(ctx, tx, s, a, now)
	}), "delete scheduled audit")
}

// ScheduledAudits lists the scope's scheduled audits by name.
func (db *DB) ScheduledAudits(ctx context.Context, s warden.Scope, p warden.Page) ([]warden.ScheduledAudit, string, error) {
	out, next, err := keyPage(ctx, db.read, p.Limit, func(r rowScanner) (warden.ScheduledAudit, string, error) {
		a, err := scanUnscopedAudit(r)
		return a, a.Name, err
	}, scheduledAuditSelect+` WHERE account = ? AND region = ? AND name > ? ORDER BY name LIMIT ?`, s.Account, s.Region, p.After, p.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("scheduled audits: %w", err)
	}
	return out, next, nil
}

// AllScheduledAudits lists the scheduled audits of every scope.
func (db *DB) AllScheduledAudits(ctx context.Context) ([]warden.ScopedScheduledAudit, error) {
	out, err := queryAll(ctx, db.read, scanScheduledAudit, scheduledAuditSelect+` ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("scheduled audits: %w", err)
	}
	return out, nil
}

// FireScheduledAudit starts the task of one occurrence, once.
func (db *DB) FireScheduledAudit(ctx context.Context, s warden.Scope, name string, occurrence, now time.Time) (warden.AuditTask, bool, error) {
	var task warden.AuditTask
	fired := false
	err := db.inTx(ctx, func(tx writeTx) error {
		a, err := getScheduledAudit(ctx, tx, s, name)
		if warden.ErrorCode(err) == warden.CodeResourceNotFound {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		task = warden.NewAuditTask(warden.AuditScheduled, name, a.TargetCheckNames, now)
		res, err := tx.ExecContext(ctx, `INSERT INTO scheduled_audit_runs (account, region, name, occurrence, task_id, created_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, name, occurrence) DO NOTHING`,
			s.Account, s.Region, name, millis(occurrence), task.ID, millis(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		cfg, _, err := getAuditConfig(ctx, tx, s)
		if err != nil {
			return err
		}
		for i := range task.Checks {
			c := &task.Checks[i]
			if !cfg.Enabled(c.Name) {
				c.Status, c.ErrorCode = warden.CheckFailed, warden.CheckErrorDisabled
				c.Message = "The check is not enabled in the account's audit configuration."
			}
		}
		if err := insertAuditTask(ctx, tx, s, &task); err != nil {
			return err
		}
		fired = true
		return nil
	})
	return task, fired, wrap(err, "fire scheduled audit")
}
