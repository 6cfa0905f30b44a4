package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

const mitigationRole = "arn:aws:iam::123456789012:role/Mitigation"

// newAction is a mitigation action that deactivates certificates.
func newAction(name string) warden.MitigationAction {
	return warden.MitigationAction{Name: name, ID: "id-" + name, RoleArn: mitigationRole,
		Params:       warden.MitigationActionParams{UpdateDeviceCertificateParams: &warden.UpdateCertificateParams{Action: "DEACTIVATE"}},
		CreationDate: t0, LastModifiedDate: t0}
}

// mitigationActions: create is idempotent for an identical action and a
// conflict for a different one; lists page newest first; actions stay in
// their scope.
func mitigationActions(t *testing.T, st warden.Store) {
	for i, name := range []string{"a1", "a2", "a3"} {
		a := newAction(name)
		a.CreationDate = t0.Add(time.Duration(i) * time.Second)
		if _, created, err := st.CreateMitigationAction(ctx, scope, a, nil); err != nil || !created {
			t.Fatalf("CreateMitigationAction(%s): created %v, %v", name, created, err)
		}
	}
	if _, created, err := st.CreateMitigationAction(ctx, scope, newAction("a1"), nil); err != nil || created {
		t.Fatalf("CreateMitigationAction of an identical action: created %v, %v", created, err)
	}
	different := newAction("a1")
	different.RoleArn = "arn:aws:iam::123456789012:role/Other"
	_, _, err := st.CreateMitigationAction(ctx, scope, different, nil)
	wantCode(t, "CreateMitigationAction of a different action of that name", err, warden.CodeResourceAlreadyExists)
	_, err = st.MitigationAction(ctx, scope, "missing")
	wantCode(t, "MitigationAction(missing)", err, warden.CodeResourceNotFound)
	notElsewhere(t, "MitigationAction", warden.CodeResourceNotFound, func(s warden.Scope) error {
		_, err := st.MitigationAction(ctx, s, "a1")
		return err
	})
	emptyElsewhere(t, "MitigationActions", func(s warden.Scope) ([]warden.MitigationAction, error) {
		actions, _, err := st.MitigationActions(ctx, s, "", warden.Page{Limit: 10})
		return actions, err
	})
	listed := walk(t, 2, func(p warden.Page) ([]warden.MitigationAction, string, error) {
		return st.MitigationActions(ctx, scope, "", p)
	})
	wantNames(t, "MitigationActions newest first", names(listed, func(a warden.MitigationAction) string { return a.Name }), "a3", "a2", "a1")

	role := "arn:aws:iam::123456789012:role/Changed"
	updated, err := st.UpdateMitigationAction(ctx, scope, "a1", &role, nil, t0.Add(time.Minute))
	if err != nil || updated.RoleArn != role || updated.Params.UpdateDeviceCertificateParams == nil {
		t.Fatalf("UpdateMitigationAction = %+v, %v", updated, err)
	}
	_, err = st.UpdateMitigationAction(ctx, scope, "missing", &role, nil, t0)
	wantCode(t, "UpdateMitigationAction(missing)", err, warden.CodeResourceNotFound)
	must(t, st.DeleteMitigationAction(ctx, scope, "a1"))
	must(t, st.DeleteMitigationAction(ctx, scope, "a1"))
	_, err = st.MitigationAction(ctx, scope, "a1")
	wantCode(t, "MitigationAction after DeleteMitigationAction", err, warden.CodeResourceNotFound)
}

// StartLoggingAudits configures scope s's audits (a role; the logging and
// the certificate expiry checks enabled) and starts n audits of the
// logging check at now.
func StartLoggingAudits(t testing.TB, st warden.AuditStore, s warden.Scope, n int, now time.Time) {
	t.Helper()
	u := warden.AuditConfigurationUpdate{RoleArn: new("arn:aws:iam::" + s.Account + ":role/audit"),
		Checks: map[string]warden.AuditCheckConfiguration{warden.CheckLoggingDisabled: {Enabled: true},
			warden.CheckDeviceCertificateExpiring: {Enabled: true}}}
	if err := st.UpdateAuditConfiguration(ctx, s, u, now); err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := st.StartAuditTask(ctx, s, []string{warden.CheckLoggingDisabled}, now); err != nil {
			t.Fatal(err)
		}
	}
}

// mitigationTasks: a task id is unique per scope (TaskAlreadyExists with
// another token), a task must target an existing audit, tasks stay in
// their scope.
func mitigationTasks(t *testing.T, st warden.Store) {
	_, err := st.MitigationTask(ctx, scope, "missing")
	wantCode(t, "MitigationTask(missing)", err, warden.CodeResourceNotFound)
	_, _, err = st.CreateMitigationAction(ctx, scope, newAction("deactivate"), nil)
	must(t, err)
	StartLoggingAudits(t, st, scope, 0, t0)
	audit, err := st.StartAuditTask(ctx, scope, []string{warden.CheckDeviceCertificateExpiring}, t0)
	must(t, err)
	task := warden.MitigationTask{TaskID: "task-1", ClientRequestToken: "token-1",
		Target:  warden.MitigationTaskTarget{AuditTaskID: "0123456789abcdef0123456789abcdef"},
		Mapping: map[string][]string{warden.CheckDeviceCertificateExpiring: {"deactivate"}}}
	_, _, err = st.StartMitigationTask(ctx, scope, task, t0)
	wantCode(t, "StartMitigationTask of a missing audit", err, warden.CodeInvalidRequest)
	task.Target.AuditTaskID = audit.ID
	stored, created, err := st.StartMitigationTask(ctx, scope, task, t0)
	if err != nil || !created || stored.TaskID != "task-1" || len(stored.Actions) != 1 {
		t.Fatalf("StartMitigationTask = %+v, created %v, %v", stored, created, err)
	}
	if _, created, err := st.StartMitigationTask(ctx, scope, task, t0); err != nil || created {
		t.Fatalf("StartMitigationTask again with its token: created %v, %v", created, err)
	}
	other := task
	other.ClientRequestToken = "token-2"
	_, _, err = st.StartMitigationTask(ctx, scope, other, t0)
	wantCode(t, "StartMitigationTask of an existing id with another token", err, warden.CodeTaskAlreadyExists)
	if got, err := st.MitigationTask(ctx, scope, "task-1"); err != nil || got.Target.AuditTaskID != audit.ID {
		t.Fatalf("MitigationTask = %+v, %v", got, err)
	}
	notElsewhere(t, "MitigationTask", warden.CodeResourceNotFound, func(s warden.Scope) error {
		_, err := st.MitigationTask(ctx, s, "task-1")
		return err
	})
	window := warden.MitigationTaskFilter{StartedAfter: t0.Add(-time.Hour), EndedBefore: t0.Add(time.Hour)}
	emptyElsewhere(t, "MitigationTasks", func(s warden.Scope) ([]warden.MitigationTask, error) {
		tasks, _, err := st.MitigationTasks(ctx, s, window, warden.Page{Limit: 10})
		return tasks, err
	})
	tasks, _, err := st.MitigationTasks(ctx, scope, window, warden.Page{Limit: 10})
	if err != nil || len(tasks) != 1 || tasks[0].TaskID != "task-1" {
		t.Fatalf("MitigationTasks = %+v, %v", tasks, err)
	}
	must(t, st.CancelMitigationTask(ctx, scope, "task-1", t0.Add(time.Second)))
	if got, err := st.MitigationTask(ctx, scope, "task-1"); err != nil || got.Status != warden.MitigationTaskCanceled {
		t.Fatalf("MitigationTask after CancelMitigationTask = %+v, %v", got, err)
	}
}

// audits: the first configuration needs a role and an enabled check; tasks
// list newest first and page; a canceled task cannot be canceled again;
// scheduled audits and suppressions are unique per scope.
func audits(t *testing.T, st warden.Store) {
	if _, configured, err := st.AuditConfiguration(ctx, scope); err != nil || configured {
		t.Fatalf("AuditConfiguration of a new scope: configured %v, %v", configured, err)
	}
	wantCode(t, "the first UpdateAuditConfiguration without a role", st.UpdateAuditConfiguration(ctx, scope, warden.AuditConfigurationUpdate{
		Checks: map[string]warden.AuditCheckConfiguration{warden.CheckLoggingDisabled: {Enabled: true}}}, t0), warden.CodeInvalidRequest)
	_, err := st.StartAuditTask(ctx, scope, []string{warden.CheckLoggingDisabled}, t0)
	wantCode(t, "StartAuditTask before any configuration", err, warden.CodeInvalidRequest)
	StartLoggingAudits(t, st, scope, 0, t0)
	cfg, configured, err := st.AuditConfiguration(ctx, scope)
	if err != nil || !configured || !cfg.Enabled(warden.CheckLoggingDisabled) {
		t.Fatalf("AuditConfiguration = %+v, configured %v, %v", cfg, configured, err)
	}
	if _, configured, err := st.AuditConfiguration(ctx, otherAccount); err != nil || configured {
		t.Fatalf("AuditConfiguration in another account: configured %v, %v", configured, err)
	}

	var ids []string
	for i := range 3 {
		task, err := st.StartAuditTask(ctx, scope, []string{warden.CheckLoggingDisabled}, t0.Add(time.Duration(i)*time.Second))
		must(t, err)
		ids = append(ids, task.ID)
	}
	got, err := st.AuditTask(ctx, scope, ids[0])
	if err != nil || got.Status != warden.AuditInProgress || len(got.Checks) != 1 {
		t.Fatalf("AuditTask = %+v, %v", got, err)
	}
	_, err = st.AuditTask(ctx, scope, "0123456789abcdef0123456789abcdef")
	wantCode(t, "AuditTask(missing)", err, warden.CodeResourceNotFound)
	notElsewhere(t, "AuditTask", warden.CodeResourceNotFound, func(s warden.Scope) error { _, err := st.AuditTask(ctx, s, ids[0]); return err })
	window := warden.AuditTaskFilter{Start: t0.Add(-time.Hour), End: t0.Add(time.Hour)}
	emptyElsewhere(t, "AuditTasks", func(s warden.Scope) ([]warden.AuditTask, error) {
		tasks, _, err := st.AuditTasks(ctx, s, window, warden.Page{Limit: 10})
		return tasks, err
	})
	listed := walk(t, 2, func(p warden.Page) ([]warden.AuditTask, string, error) { return st.AuditTasks(ctx, scope, window, p) })
	wantNames(t, "AuditTasks newest first", names(listed, func(a warden.AuditTask) string { return a.ID }), ids[2], ids[1], ids[0])
	must(t, st.CancelAuditTask(ctx, scope, ids[0], t0.Add(time.Minute)))
	wantCode(t, "CancelAuditTask of a canceled task", st.CancelAuditTask(ctx, scope, ids[0], t0.Add(time.Minute)), warden.CodeInvalidRequest)
	_, err = st.AuditFinding(ctx, scope, "missing")
	wantCode(t, "AuditFinding(missing)", err, warden.CodeResourceNotFound)

	sched := warden.ScheduledAudit{Name: "daily", Frequency: "DAILY", TargetCheckNames: []string{warden.CheckLoggingDisabled}, Anchor: t0, CreatedAt: t0, UpdatedAt: t0}
	must(t, st.CreateScheduledAudit(ctx, scope, sched, nil))
	wantCode(t, "CreateScheduledAudit of an existing name", st.CreateScheduledAudit(ctx, scope, sched, nil), warden.CodeResourceAlreadyExists)
	if got, err := st.ScheduledAudit(ctx, scope, "daily"); err != nil || got.Frequency != "DAILY" {
		t.Fatalf("ScheduledAudit = %+v, %v", got, err)
	}
	notElsewhere(t, "ScheduledAudit", warden.CodeResourceNotFound, func(s warden.Scope) error {
		_, err := st.ScheduledAudit(ctx, s, "daily")
		return err
	})
	wantCode(t, "DeleteAuditConfiguration with a scheduled audit", st.DeleteAuditConfiguration(ctx, scope, false, t0), warden.CodeInvalidRequest)
	must(t, st.DeleteScheduledAudit(ctx, scope, "daily", t0))
	wantCode(t, "DeleteScheduledAudit again", st.DeleteScheduledAudit(ctx, scope, "daily", t0), warden.CodeResourceNotFound)

	sup := warden.AuditSuppression{CheckName: warden.CheckLoggingDisabled, Resource: warden.ResourceIdentifier{Account: scope.Account},
		SuppressIndefinitely: true}
	must(t, st.CreateAuditSuppression(ctx, scope, sup, "token-1", t0))
	must(t, st.CreateAuditSuppression(ctx, scope, sup, "token-1", t0))
	wantCode(t, "CreateAuditSuppression of an existing one", st.CreateAuditSuppression(ctx, scope, sup, "token-2", t0),
		warden.CodeResourceAlreadyExists)
	notElsewhere(t, "AuditSuppression", warden.CodeResourceNotFound, func(s warden.Scope) error {
		_, err := st.AuditSuppression(ctx, s, sup.CheckName, sup.Resource)
		return err
	})
	must(t, st.DeleteAuditSuppression(ctx, scope, sup.CheckName, sup.Resource, t0))
	_, err = st.AuditSuppression(ctx, scope, sup.CheckName, sup.Resource)
	wantCode(t, "AuditSuppression after DeleteAuditSuppression", err, warden.CodeResourceNotFound)

	must(t, st.DeleteAuditConfiguration(ctx, scope, false, t0))
	wantCode(t, "DeleteAuditConfiguration again", st.DeleteAuditConfiguration(ctx, scope, false, t0), warden.CodeResourceNotFound)
}

// auditClaims: claims go to the account with the fewest running tasks, and
// an account limit skips accounts at the limit.
func auditClaims(t *testing.T, st warden.Store) {
	now := time.Now()
	a := warden.Scope{Account: "111111111111", Region: "us-east-1"}
	b := warden.Scope{Account: "222222222222", Region: "eu-west-1"}
	StartLoggingAudits(t, st, a, 3, now) // A's are older: plain FIFO would run all of them first
	StartLoggingAudits(t, st, b, 2, now)
	claim := func(limit int) string {
		t.Helper()
		c, ok, err := st.ClaimAuditTask(ctx, "runner", time.Minute, 3, limit, now)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return "none"
		}
		return c.Scope.Account
	}
	var got []string
	got = append(got, claim(0), claim(1), claim(1), claim(0), claim(0), claim(0))
	want := []string{a.Account, b.Account, "none", a.Account, b.Account, a.Account}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("claims went to %v, want %v", got, want)
	}
	// An expired lease is no running task: the account is free again.
	if c, ok, err := st.ClaimAuditTask(ctx, "runner", time.Minute, 3, 1, now.Add(2*time.Minute)); err != nil || !ok {
		t.Fatalf("after the leases expired: ok=%v err=%v", ok, err)
	} else if c.Attempt != 2 {
		t.Errorf("reclaimed task's attempt %d, want 2", c.Attempt)
	}
}
