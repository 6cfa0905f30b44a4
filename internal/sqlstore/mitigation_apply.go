package sqlstore

// Applying claimed executions: one executor per action type, each run
// inside the transaction that records its execution's outcome.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/warden-iot/warden"
)

// mitFinding is one finding of a claim with its task and audit data.
type mitFinding struct {
	task    *mitTaskRow
	seq     int64
	attempt int64
	execs   []warden.ClaimedExecution
	data    *mitFindingData // nil: the finding no longer exists
	// eff[i] is what action i does, planErr[i] why it cannot be done.
	eff     []warden.MitigationEffect
	planErr []error
}

// mitFindingData is an audit_findings row.
type mitFindingData struct {
	seq int64
	warden.MitigationFinding
}

// mitApplier applies one claim in one transaction.
type mitApplier struct {
	ctx   context.Context
	tx    writeTx
	owner string
	opt   warden.MitigationApplyOptions
	// savepoints: wrap each execution that may fail after writing in a
	// savepoint (else watch the change counter; see applyClaim).
	savepoints bool
	now        time.Time
	// roles: per "<account> <role ARN>", whether the role allows every
	// permission the batch needs (then no execution asks again).
	roles map[string]bool
	stats map[mitStatKey]*warden.MitigationTaskStatistics
	out   warden.MitigationOutcome
	// certStatus caches the status of device certificates the batch read
	// or deactivated; deactivateCertificate keeps it current (it is the
	// only executor that changes a device certificate).
	certStatus map[mitKey]string
	// thingGroups caches, per existing thing, the groups it is in (by
	// name), and groups the facts of the groups the batch adds things to.
	// Both are read once per batch and kept current by addThingsToGroups,
	// the only executor that changes memberships.
	thingGroups map[mitKey][]warden.GroupMembership
	groups      map[mitKey]warden.GroupMembership
	// done collects findings whose executions ended alike, for flush.
	done map[mitDoneKey]*mitDone
}

type mitKey struct {
	scope warden.Scope
	id    string
}

type mitStatKey struct {
	task  int64
	check string
}

// exec runs a statement of the batch. Statements are compiled once per
// connection (the SQLite wrapper's cache, pgx's), not once per batch.
func (a *mitApplier) exec(query string, args ...any) (sql.Result, error) {
	return a.tx.ExecContext(a.ctx, query, args...)
}

// ApplyMitigationClaim applies a claim; see warden.MitigationQueue.
func (db *DB) ApplyMitigationClaim(ctx context.Context, c *warden.MitigationClaim, opt warden.MitigationApplyOptions, now time.Time) (warden.MitigationOutcome, error) {
	if c == nil || len(c.Executions) == 0 {
		return warden.MitigationOutcome{}, nil
	}
	// A batch is short and must not stop half-way for a cancelled caller:
	// it commits or rolls back whole. Without cancellation the driver also
	// skips a watcher goroutine per statement.
	ctx = context.WithoutCancel(ctx)
	// PostgreSQL has no change counter to watch, and a failed statement
	// aborts the whole transaction anyway: it always uses savepoints.
	out, err := db.applyClaim(ctx, c, opt, now, db.postgres)
	if errors.Is(err, errMitNeedSavepoints) {
		out, err = db.applyClaim(ctx, c, opt, now, true)
	}
	return out, err
}

// errMitNeedSavepoints ends a batch applied without savepoints in which an
// execution failed after it had written: the batch is rolled back and
// applied again with a savepoint around every execution.
var errMitNeedSavepoints = errors.New("an execution failed after writing; apply the batch again with savepoints")

// applyClaim applies a claim in one transaction. Without savepoints (the
// first try), an executor that may fail after writing is watched with
// SQLite's change counter instead: savepoints make SQLite copy every page a
// later execution touches into a sub-journal, which dominated the cost of
// SNS and policy executions.
func (db *DB) applyClaim(ctx context.Context, c *warden.MitigationClaim, opt warden.MitigationApplyOptions, now time.Time, savepoints bool) (warden.MitigationOutcome, error) {
	var out warden.MitigationOutcome
	err := db.inTx(ctx, func(tx writeTx) (err error) {
		// A panicking executor must not leave the only writer connection
		// inside an open transaction: it becomes the batch's error.
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("mitigation batch panicked: %v", p)
			}
		}()
		if err := db.lockMitigationWrites(ctx, tx); err != nil {
			return err
		}
		a := &mitApplier{ctx: ctx, tx: tx, owner: c.Owner, opt: opt, now: now, savepoints: savepoints,
			roles: map[string]bool{}, stats: map[mitStatKey]*warden.MitigationTaskStatistics{}, certStatus: map[mitKey]string{},
			thingGroups: map[mitKey][]warden.GroupMembership{}, groups: map[mitKey]warden.GroupMembership{}, done: map[mitDoneKey]*mitDone{}}
		if err := a.run(c); err != nil {
			return err
		}
		out = a.out
		return nil
	})
	if err != nil {
		return warden.MitigationOutcome{}, err
	}
	return out, nil
}

// FailMitigationClaim records a claim's executions as FAILED; see
// warden.MitigationQueue.
func (db *DB) FailMitigationClaim(ctx context.Context, c *warden.MitigationClaim, errorCode, message string, now time.Time) error {
	ctx = context.WithoutCancel(ctx)
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		if err := db.lockMitigationWrites(ctx, tx); err != nil {
			return err
		}
		a := &mitApplier{ctx: ctx, tx: tx, owner: c.Owner, now: now,
			stats: map[mitStatKey]*warden.MitigationTaskStatistics{}, done: map[mitDoneKey]*mitDone{}}
		findings, err := a.load(c)
		if err != nil {
			return err
		}
		for _, f := range findings {
			outcomes := make([]mitOutcome, len(f.execs))
			for i := range outcomes {
				outcomes[i] = mitOutcome{warden.ExecutionFailed, errorCode, warden.TruncateExecutionMessage(message)}
			}
			a.stat(f).Failed++
			if err := a.complete(f, outcomes); err != nil {
				return err
			}
		}
		return a.finish()
	}), "fail mitigation claim")
}

func (a *mitApplier) run(c *warden.MitigationClaim) error {
	findings, err := a.load(c)
	if err != nil {
		return err
	}
	if err := a.checkRolesForBatch(findings); err != nil {
		return err
	}
	if err := a.readBatchThings(findings); err != nil {
		return err
	}
	for _, f := range findings {
		if err := a.applyFinding(f); err != nil {
			return err
		}
	}
	return a.finish()
}

// finish records the collected outcomes, adds the batch's statistics and
// ends the tasks it completed.
func (a *mitApplier) finish() error {
	if err := a.flush(); err != nil {
		return err
	}
	tasks := map[int64]bool{}
	for k, d := range a.stats {
		if err := addMitTaskStats(a.ctx, a.tx, k.task, k.check, *d); err != nil {
			return err
		}
		tasks[k.task] = true
	}
	for seq := range tasks {
		ended, err := finishMitTaskIfDone(a.ctx, a.tx, seq, a.now)
		if err != nil {
			return err
		}
		if ended {
			a.out.TasksEnded++
		}
	}
	return nil
}

// load groups the claim by finding and reads the tasks and findings.
func (a *mitApplier) load(c *warden.MitigationClaim) ([]*mitFinding, error) {
	tasks := map[int64]*mitTaskRow{}
	var findings []*mitFinding
	bySeq := map[int64][]*mitFinding{}
	for _, e := range c.Executions {
		n := len(findings)
		if n == 0 || findings[n-1].task.seq != e.TaskSeq || findings[n-1].seq != e.FindingSeq {
			t, ok := tasks[e.TaskSeq]
			if !ok {
				var err error
				t, err = scanMitTask(a.tx.QueryRowContext(a.ctx, `SELECT `+mitTaskColumns+` FROM mitigation_tasks WHERE seq = ?`, e.TaskSeq))
				if errors.Is(err, sql.ErrNoRows) {
					return nil, warden.ErrMitigationLeaseLost
				}
				if err != nil {
					return nil, err
				}
				tasks[e.TaskSeq] = t
			}
			f := &mitFinding{task: t, seq: e.FindingSeq, attempt: e.Attempt}
			findings = append(findings, f)
			bySeq[e.FindingSeq] = append(bySeq[e.FindingSeq], f)
		}
		f := findings[len(findings)-1]
		f.execs = append(f.execs, e)
	}
	seqs := make([]any, 0, len(bySeq))
	for seq := range bySeq {
		seqs = append(seqs, seq)
	}
	const chunk = 500
	for start := 0; start < len(seqs); start += chunk {
		part := seqs[start:min(start+chunk, len(seqs))]
		data, err := queryAll(a.ctx, a.tx, func(r rowScanner) (*mitFindingData, error) {
			d := &mitFindingData{}
			err := r.Scan(&d.seq, &d.ID, &d.AuditTaskID, &d.CheckName, &d.Severity, &d.ResourceType, &d.ResourceIdentifier,
				&d.AdditionalInfo, &d.RelatedResources, &d.ReasonCode, &d.Reason, &d.TaskStartTime, &d.FindingTime)
			return d, err
		}, `SELECT seq, finding_id, task_id, check_name, severity, resource_type,
				resource_identifier, additional_info, related_resources, reason_code, reason, task_start_time, finding_time
			FROM audit_findings WHERE seq IN (`+mitPlaceholders(len(part))+`)`, part...)
		if err != nil {
			return nil, err
		}
		for _, d := range data {
			d.Target = warden.ParseMitigationTarget(d.ResourceIdentifier)
			for _, f := range bySeq[d.seq] {
				f.data = d
			}
		}
	}
	return findings, nil
}

// check is the finding's audit check (as fanned out).
func (f *mitFinding) check() string {
	if f.data != nil {
		return f.data.CheckName
	}
	return ""
}

// checkRolesForBatch asks, once per role, whether the role allows every
// permission the whole batch needs. A role that does is not asked again
// for this batch; for one that does not, each execution asks on its own,
// so that only those missing a permission fail.
func (a *mitApplier) checkRolesForBatch(findings []*mitFinding) error {
	type roleKey struct{ account, role string }
	needs := map[roleKey][]warden.Permission{}
	seen := map[roleKey]map[warden.Permission]bool{}
	for _, f := range findings {
		if f.data == nil {
			continue
		}
		f.eff = make([]warden.MitigationEffect, len(f.execs))
		f.planErr = make([]error, len(f.execs))
		for i, e := range f.execs {
			act := f.task.action(f.data.CheckName, e.ActionIndex)
			if act == nil {
				f.planErr[i] = fmt.Errorf("task %s has no action %d for check %s", f.task.task.TaskID, e.ActionIndex, f.data.CheckName)
				continue
			}
			if act.ActionParams.Type() == "" {
				f.planErr[i] = fmt.Errorf("action %s has no known type", act.Name)
				continue
			}
			eff, err := warden.PlanMitigation(f.task.scope, &act.ActionParams, &f.data.MitigationFinding,
				func(arn string) ([]string, error) { return a.principalThings(f.task.scope, arn) })
			if err != nil {
				var werr *warden.Error
				if !errors.As(err, &werr) {
					return err
				}
				f.planErr[i] = err
				continue
			}
			f.eff[i] = eff
			k := roleKey{f.task.scope.Account, act.RoleArn}
			if seen[k] == nil {
				seen[k] = map[warden.Permission]bool{}
			}
			for _, p := range warden.MitigationPermissions(eff.Type, eff.Resources) {
				if !seen[k][p] {
					seen[k][p] = true
					needs[k] = append(needs[k], p)
				}
			}
		}
	}
	for k, ps := range needs {
		missing, err := RolePermitsTx(a.ctx, a.tx, k.account, k.role, ps, a.opt.StrictRoles)
		if err != nil {
			return err
		}
		a.roles[k.account+" "+k.role] = missing == nil
	}
	return nil
}

// permitted returns "" when act's role allows the execution, else why not.
func (a *mitApplier) permitted(f *mitFinding, act *mitTaskAction, res warden.MitigationResources) (string, error) {
	if a.roles[f.task.scope.Account+" "+act.RoleArn] {
		return "", nil
	}
	missing, err := RolePermitsTx(a.ctx, a.tx, f.task.scope.Account, act.RoleArn,
		warden.MitigationPermissions(act.ActionParams.Type(), res), a.opt.StrictRoles)
	if err != nil || missing == nil {
		return "", err
	}
	return warden.MitigationPermissionDenied(f.task.scope.Account, act.RoleArn, *missing), nil
}

// mitOutcome is what became of one execution.
type mitOutcome struct {
	status, code, message string
}

// applyFinding applies one finding's actions in order and records them.
func (a *mitApplier) applyFinding(f *mitFinding) error {
	outcomes := make([]mitOutcome, len(f.execs))
	st := a.stat(f)
	// A finding of a task canceled while it was claimed is applied all the
	// same: cancel leaves executions under a live lease to finish.
	switch {
	case f.data == nil:
		for i := range outcomes {
			outcomes[i] = mitOutcome{status: warden.ExecutionSkipped}
		}
		outcomes[0] = mitOutcome{warden.ExecutionFailed, warden.ExecErrInvalidStateOfResource,
			"The audit finding no longer exists."}
		st.Failed++
	default:
		failed := false
		for i, e := range f.execs {
			if failed {
				outcomes[i] = mitOutcome{status: warden.ExecutionSkipped}
				continue
			}
			o, err := a.applyAction(f, i, e)
			if err != nil {
				return err
			}
			outcomes[i] = o
			failed = o.status == warden.ExecutionFailed
		}
		if failed {
			st.Failed++
		} else {
			st.Succeeded++
		}
	}
	a.out.Findings++
	a.out.Executions += len(f.execs)
	return a.complete(f, outcomes)
}

func (a *mitApplier) stat(f *mitFinding) *warden.MitigationTaskStatistics {
	check := f.check()
	if check == "" && len(f.execs) > 0 {
		// The finding is gone; its executions still know their check.
		_ = a.tx.QueryRowContext(a.ctx, `SELECT check_name FROM mitigation_executions WHERE task_seq = ? AND finding_seq = ? AND action_index = ?`,
			f.task.seq, f.seq, f.execs[0].ActionIndex).Scan(&check)
	}
	k := mitStatKey{f.task.seq, check}
	d := a.stats[k]
	if d == nil {
		d = &warden.MitigationTaskStatistics{}
		a.stats[k] = d
	}
	return d
}

const mitSavepoint = "mitigation_execution"

// applyAction runs one execution. An executor's *warden.Error is the
// execution's FAILED outcome and must leave nothing written: executors that
// check before they write need nothing for that; for the others a savepoint
// is rolled back, or (without savepoints) a write before the failure sends
// the batch back to be applied with savepoints. Other errors are the
// database's and end the whole batch.
func (a *mitApplier) applyAction(f *mitFinding, i int, e warden.ClaimedExecution) (mitOutcome, error) {
	if err := f.planErr[i]; err != nil {
		var werr *warden.Error
		if errors.As(err, &werr) {
			return mitOutcome{warden.ExecutionFailed, warden.ExecErrInvalidStateOfResource, werr.Message}, nil
		}
		return mitOutcome{warden.ExecutionFailed, warden.ExecErrInvalidStateOfResource, err.Error()}, nil
	}
	act := f.task.action(f.data.CheckName, e.ActionIndex)
	eff := &f.eff[i]
	why, err := a.permitted(f, act, eff.Resources)
	if err != nil {
		return mitOutcome{}, err
	}
	if why != "" {
		return mitOutcome{warden.ExecutionFailed, warden.ExecErrInsufficientPermissions, why}, nil
	}
	ctx := warden.WithActor(a.ctx, "execution:"+warden.ExecutionID(f.task.task.TaskID, f.data.ID, act.Name))
	checksFirst := mitChecksFirst[eff.Type]
	savepoint := a.savepoints && !checksFirst
	watch := !a.savepoints && !checksFirst
	var changes int64
	if savepoint {
		if _, err := a.exec(`SAVEPOINT ` + mitSavepoint); err != nil {
			return mitOutcome{}, err
		}
	}
	if watch {
		var err error
		if changes, err = a.totalChanges(); err != nil {
			return mitOutcome{}, err
		}
	}
	applyErr := a.apply(ctx, f.task.scope, eff)
	var werr *warden.Error
	switch {
	case applyErr == nil:
		if savepoint {
			if _, err := a.exec(`RELEASE SAVEPOINT ` + mitSavepoint); err != nil {
				return mitOutcome{}, err
			}
		}
		return mitOutcome{status: warden.ExecutionCompleted}, nil
	case errors.As(applyErr, &werr):
		if savepoint {
			if _, err := a.exec(`ROLLBACK TO SAVEPOINT ` + mitSavepoint); err != nil {
				return mitOutcome{}, err
			}
			if _, err := a.exec(`RELEASE SAVEPOINT ` + mitSavepoint); err != nil {
				return mitOutcome{}, err
			}
		}
		if watch {
			after, err := a.totalChanges()
			if err != nil {
				return mitOutcome{}, err
			}
			if after != changes {
				return mitOutcome{}, errMitNeedSavepoints
			}
		}
		return mitOutcome{warden.ExecutionFailed, warden.ExecErrInvalidStateOfResource, warden.TruncateExecutionMessage(werr.Message)}, nil
	}
	return mitOutcome{}, applyErr
}

// totalChanges is SQLite's count of rows this connection has inserted,
// updated or deleted.
func (a *mitApplier) totalChanges() (int64, error) {
	var n int64
	err := a.tx.QueryRowContext(a.ctx, `SELECT total_changes()`).Scan(&n)
	return n, err
}

// complete records a finding's outcomes, fenced by its claim: every row
// must still be PENDING under this owner and attempt.
func (a *mitApplier) complete(f *mitFinding, outcomes []mitOutcome) error {
	end := millis(a.now)
	same := true
	for _, o := range outcomes[1:] {
		if o != outcomes[0] {
			same = false
		}
	}
	if same {
		// Findings whose executions all end alike are recorded together,
		// in one statement per chunk, by flush.
		k := mitDoneKey{f.task.seq, f.attempt, outcomes[0]}
		d := a.done[k]
		if d == nil {
			d = &mitDone{}
			a.done[k] = d
		}
		d.findings = append(d.findings, f.seq)
		d.executions += len(f.execs)
		return nil
	}
	for i, e := range f.execs {
		o := outcomes[i]
		res, err := a.exec(`UPDATE mitigation_executions SET status = ?, end_time = ?, error_code = ?, message = ?,
				lease_owner = '', lease_expires = 0
			WHERE task_seq = ? AND finding_seq = ? AND action_index = ? AND status = 'PENDING' AND lease_owner = ? AND attempt = ?`,
			o.status, end, o.code, o.message, f.task.seq, f.seq, e.ActionIndex, a.owner, e.Attempt)
		if err := mitFenced(res, err, 1); err != nil {
			return err
		}
	}
	return nil
}

// mitDoneKey groups findings recorded by one statement.
type mitDoneKey struct {
	task, attempt int64
	outcome       mitOutcome
}

type mitDone struct {
	findings   []int64
	executions int
}

// flush records the findings complete collected, fenced: every one of
// their executions must still be PENDING under this owner and attempt.
func (a *mitApplier) flush() error {
	const chunk = 500
	for k, d := range a.done {
		changed := 0
		for start := 0; start < len(d.findings); start += chunk {
			part := d.findings[start:min(start+chunk, len(d.findings))]
			args := []any{k.outcome.status, millis(a.now), k.outcome.code, k.outcome.message, k.task, a.owner, k.attempt}
			for _, seq := range part {
				args = append(args, seq)
			}
			res, err := a.exec(`UPDATE mitigation_executions SET status = ?, end_time = ?, error_code = ?, message = ?,
					lease_owner = '', lease_expires = 0
				WHERE task_seq = ? AND status = 'PENDING' AND lease_owner = ? AND attempt = ?
				AND finding_seq IN (`+mitPlaceholders(len(part))+`)`, args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			changed += int(n)
		}
		if changed != d.executions {
			return warden.ErrMitigationLeaseLost
		}
	}
	a.done = map[mitDoneKey]*mitDone{}
	return nil
}

func mitFenced(res sql.Result, err error, want int) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != int64(want) {
		return warden.ErrMitigationLeaseLost
	}
	return nil
}

// ---------------------------------------------------------------- executors

// mitChecksFirst are the action types whose apply returns a *warden.Error
// only before its first write, so it needs no savepoint to be undone.
var mitChecksFirst = map[string]bool{
	warden.ActionUpdateDeviceCertificate: true,
	warden.ActionAddThingsToThingGroup:   true,
}

// apply makes the change eff decided in a.tx.
func (a *mitApplier) apply(ctx context.Context, s warden.Scope, eff *warden.MitigationEffect) error {
	var err error
	switch eff.Type {
	case warden.ActionUpdateDeviceCertificate:
		err = a.deactivateCertificate(ctx, s, eff.CertificateID)
	case warden.ActionUpdateCACertificate:
		_, err = updateCACertificateStatusTx(ctx, a.tx, s, eff.CertificateID, warden.CertInactive, a.now)
	case warden.ActionAddThingsToThingGroup:
		err = a.addThingsToGroups(ctx, s, eff.Things, eff.Groups, eff.OverrideDynamicGroups)
	case warden.ActionReplaceDefaultPolicyVersion:
		_, err = createPolicyVersionTx(ctx, a.tx, s, eff.PolicyName, warden.BlankPolicyDocument, true, a.now)
	case warden.ActionEnableIoTLogging:
		err = setV2LoggingTx(ctx, a.tx, s, eff.Logging, a.now)
	case warden.ActionPublishFindingToSNS:
		if _, err = EnqueuePublishTx(ctx, a.tx, s, eff.Resources.TopicArn, "", eff.Message, a.now); err == nil {
			a.out.Published++
		}
	}
	return err
}

// principalThings lists the things a certificate ARN is attached to.
func (a *mitApplier) principalThings(s warden.Scope, principal string) ([]string, error) {
	return queryStrings(a.ctx, a.tx, `SELECT thing_name FROM thing_principals WHERE account = ? AND region = ? AND principal = ? ORDER BY thing_name`,
		s.Account, s.Region, principal)
}

// deactivateCertificate is updateCertificateStatusTx(id, INACTIVE) — the
// same checks, row change, change-log row and errors — with statements
// prepared once per batch: compiling the helper's statements for every
// execution cost three times what executing them does. Every check runs
// before the first write. TestDeactivateCertificateMatchesHelper keeps the
// two equal.
func (a *mitApplier) deactivateCertificate(ctx context.Context, s warden.Scope, id string) error {
	const update = `UPDATE certificates SET status = ?, customer_version = customer_version + 1,
		generation_id = ?, updated_at = ? WHERE account = ? AND region = ? AND id = ? AND status = ?`
	k := mitKey{s, id}
	status, known := a.certStatus[k]
	if !known {
		// Most certificates a mitigation deactivates are ACTIVE: try that
		// first, and read the status only when it is not.
		res, err := a.exec(update, warden.CertInactive, warden.NewUUID(), millis(a.now), s.Account, s.Region, id, warden.CertActive)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			a.certStatus[k] = warden.CertInactive
			return a.logChange(ctx, s, s.CertificateARN(id), "UpdateCertificate", certState{Status: warden.CertActive}, certState{Status: warden.CertInactive})
		}
		err = a.tx.QueryRowContext(a.ctx, `SELECT status FROM certificates WHERE account = ? AND region = ? AND id = ?`,
			s.Account, s.Region, id).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			status = ""
		} else if err != nil {
			return err
		}
		a.certStatus[k] = status
	}
	if status == "" {
		return warden.ErrCertificateNotFound(id)
	}
	if status == warden.CertInactive {
		return nil
	}
	if err := warden.CheckCertificateTransition(id, status, warden.CertInactive); err != nil {
		return err
	}
	res, err := a.exec(update, warden.CertInactive, warden.NewUUID(), millis(a.now), s.Account, s.Region, id, status)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("certificate %s changed concurrently (%d rows, %v)", id, n, err)
	}
	a.certStatus[k] = warden.CertInactive
	return a.logChange(ctx, s, s.CertificateARN(id), "UpdateCertificate", certState{Status: status}, certState{Status: warden.CertInactive})
}

// logChange is logChange at the batch's time.
func (a *mitApplier) logChange(ctx context.Context, s warden.Scope, arn, operation string, before, after any) error {
	return logChange(ctx, a.tx, s, arn, operation, before, after, a.now)
}

// addThingsToGroups is addThingToGroupTx for every thing and group in
// order — the same rules (warden.PlanStaticJoins), rows, change-log rows
// and first error — with every check made before the first write (so it
// needs no savepoint) and the facts read once per batch: the groups, the
// things, and their memberships, kept current as the batch changes them.
// TestAddThingsToGroupsMatchesHelper keeps the two equal.
func (a *mitApplier) addThingsToGroups(ctx context.Context, s warden.Scope, things, groups []string, override bool) error {
	in := make(map[string][]warden.GroupMembership, len(things))
	for _, thing := range things {
		exists, err := a.thingExists(s, thing)
		if err != nil {
			return err
		}
		if exists {
			in[thing] = a.thingGroups[mitKey{s, thing}]
		}
	}
	facts := make(map[string]warden.GroupMembership, len(groups))
	for _, group := range groups {
		g, exists, err := a.group(s, group)
		if err != nil {
			return err
		}
		if exists {
			facts[group] = g
		}
	}
	changes, after, err := warden.PlanStaticJoins(things, groups, in, facts, override)
	if err != nil {
		return err
	}
	for _, c := range changes {
		if !c.Leave {
			if _, err := a.exec(`INSERT INTO thing_group_members (account, region, group_name, thing_name, dynamic, created_at)
				VALUES (?, ?, ?, ?, ?, ?)`, s.Account, s.Region, c.Group, c.Thing, 0, millis(a.now)); err != nil {
				return err
			}
			if err := a.logChange(ctx, s, warden.ThingARN(s, c.Thing), "AddThingToThingGroup", nil,
				warden.MembershipDocument{ThingGroupName: c.Group}); err != nil {
				return err
			}
			continue
		}
		if _, err := a.exec(`DELETE FROM thing_group_members WHERE account = ? AND region = ? AND group_name = ? AND thing_name = ?`,
			s.Account, s.Region, c.Group, c.Thing); err != nil {
			return err
		}
		if err := a.logChange(ctx, s, warden.ThingARN(s, c.Thing), "RemoveThingFromThingGroup",
			warden.MembershipDocument{ThingGroupName: c.Group, Dynamic: true}, nil); err != nil {
			return err
		}
	}
	for thing, m := range after {
		a.thingGroups[mitKey{s, thing}] = m
	}
	return nil
}

// group returns a thing group's facts, read once per batch.
func (a *mitApplier) group(s warden.Scope, name string) (warden.GroupMembership, bool, error) {
	k := mitKey{s, name}
	if g, ok := a.groups[k]; ok {
		return g, g.Group != "", nil
	}
	g := warden.GroupMembership{Group: name}
	var dynamic int
	err := a.tx.QueryRowContext(a.ctx, `SELECT root_name, dynamic, seq FROM thing_groups WHERE account = ? AND region = ? AND name = ?`,
		s.Account, s.Region, name).Scan(&g.Root, &dynamic, &g.Seq)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		g = warden.GroupMembership{}
	case err != nil:
		return g, false, err
	default:
		g.Dynamic = dynamic != 0
	}
	a.groups[k] = g
	return g, g.Group != "", nil
}

func (a *mitApplier) thingExists(s warden.Scope, name string) (bool, error) {
	if _, ok := a.thingGroups[mitKey{s, name}]; ok {
		return true, nil
	}
	if err := a.readThings(s, []string{name}); err != nil {
		return false, err
	}
	_, ok := a.thingGroups[mitKey{s, name}]
	return ok, nil
}

// readThings reads which of names exist and the groups they are in, in
// two queries.
func (a *mitApplier) readThings(s warden.Scope, names []string) error {
	const chunk = 500
	for start := 0; start < len(names); start += chunk {
		part := make([]any, 0, min(chunk, len(names)-start))
		for _, n := range names[start:min(start+chunk, len(names))] {
			part = append(part, n)
		}
		args := append([]any{s.Account, s.Region}, part...)
		existing, err := queryStrings(a.ctx, a.tx, `SELECT name FROM things WHERE account = ? AND region = ? AND name IN (`+
			mitPlaceholders(len(part))+`)`, args...)
		if err != nil {
			return err
		}
		for _, n := range existing {
			a.thingGroups[mitKey{s, n}] = []warden.GroupMembership{}
		}
		type thingGroup struct {
			thing string
			warden.GroupMembership
		}
		memberships, err := queryAll(a.ctx, a.tx, func(r rowScanner) (m thingGroup, err error) {
			var dynamic int
			err = r.Scan(&m.thing, &m.Group, &dynamic, &m.Root, &m.Seq)
			m.Dynamic = dynamic != 0
			return m, err
		}, `SELECT m.thing_name, m.group_name, m.dynamic, g.root_name, g.seq
			FROM thing_group_members m JOIN thing_groups g ON g.account = m.account AND g.region = m.region AND g.name = m.group_name
			WHERE m.account = ? AND m.region = ? AND m.thing_name IN (`+mitPlaceholders(len(part))+`) ORDER BY m.thing_name, m.group_name`, args...)
		if err != nil {
			return err
		}
		for _, m := range memberships {
			k := mitKey{s, m.thing}
			a.thingGroups[k] = append(a.thingGroups[k], m.GroupMembership)
		}
	}
	return nil
}

// readBatchThings reads, once per scope, the things of the batch's
// ADD_THINGS_TO_THING_GROUP executions with their groups.
func (a *mitApplier) readBatchThings(findings []*mitFinding) error {
	names := map[warden.Scope][]string{}
	seen := map[mitKey]bool{}
	for _, f := range findings {
		for i := range f.eff {
			for _, thing := range f.eff[i].Things {
				k := mitKey{f.task.scope, thing}
				if !seen[k] {
					seen[k] = true
					names[k.scope] = append(names[k.scope], k.id)
				}
			}
		}
	}
	for s, list := range names {
		if err := a.readThings(s, list); err != nil {
			return err
		}
	}
	return nil
}
