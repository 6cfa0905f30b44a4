package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

func quarantineAction(name string, groups ...string) warden.MitigationAction {
	return warden.MitigationAction{Name: name, ID: "id-" + name, RoleArn: mitigationRole,
		Params:       warden.MitigationActionParams{AddThingsToThingGroupParams: &warden.AddThingsToThingGroupParams{ThingGroupNames: groups}},
		CreationDate: t0, LastModifiedDate: t0}
}

func detectTask(id string, target warden.DetectMitigationTarget, actions ...string) warden.DetectMitigationTask {
	t := warden.DetectMitigationTask{TaskID: id, ClientRequestToken: "token-" + id, Target: target}
	for _, a := range actions {
		t.Actions = append(t.Actions, warden.MitigationAction{Name: a})
	}
	return t
}

func allDetectExecutions(t *testing.T, st warden.Store, s warden.Scope, f warden.DetectMitigationExecutionFilter) []warden.DetectMitigationExecution {
	t.Helper()
	return walk(t, 2, func(p warden.Page) ([]warden.DetectMitigationExecution, string, error) {
		return st.DetectMitigationExecutions(ctx, s, f, p)
	})
}

// applyAll applies pending executions a few at a time until none is left.
func applyAll(t *testing.T, st warden.Store, now time.Time) {
	t.Helper()
	for range 100 {
		worked, err := st.ApplyDetectMitigations(ctx, now, 2, warden.MitigationApplyOptions{})
		must(t, err)
		if !worked {
			return
		}
	}
	t.Fatal("ApplyDetectMitigations still finds work after 100 batches")
}

// detectMitigationTasks: the rules of a start (actions exist and are
// ADD_THINGS_TO_THING_GROUP, violations exist, the id and token), which
// violations a profile target selects, applying each execution once with
// its outcome and the task's statistics, cancel, the lists, and scopes.
func detectMitigationTasks(t *testing.T, st warden.Store) {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	for _, name := range []string{"t1", "t2"} {
		_, _, err := st.CreateThing(ctx, scope, warden.Thing{Name: name, ID: "id-" + name, CreationDate: t0, LastModifiedDate: t0})
		must(t, err)
	}
	_, _, err := st.CreateThingGroup(ctx, scope, warden.ThingGroup{Name: "quarantine", ID: "id-q", CreationDate: t0, LastModifiedDate: t0}, nil)
	must(t, err)
	for _, a := range []warden.MitigationAction{quarantineAction("quarantine", "quarantine"), quarantineAction("nowhere", "missing-group"), newAction("deactivate")} {
		_, _, err := st.CreateMitigationAction(ctx, scope, a, nil)
		must(t, err)
	}
	_, err = st.CreateSecurityProfile(ctx, scope, warden.SecurityProfile{Name: "p1"}, nil, t0)
	must(t, err)
	loud, quiet := behavior("loud", false), behavior("quiet", true)
	// t1 loud: active; t2 loud: cleared at 20; t3 (no thing) loud: active;
	// t1 quiet (suppressed): active.
	events, err := st.ApplyDetectTransitions(ctx, scope, []warden.DetectTransition{
		transition("t1", "p1", loud, warden.ViolationInAlarm, 11, at(0)),
		transition("t2", "p1", loud, warden.ViolationInAlarm, 12, at(0)),
		transition("t3", "p1", loud, warden.ViolationInAlarm, 13, at(10)),
		transition("t1", "p1", quiet, warden.ViolationInAlarm, 14, at(10)),
	})
	must(t, err)
	_, err = st.ApplyDetectTransitions(ctx, scope, []warden.DetectTransition{transition("t2", "p1", loud, warden.ViolationCleared, 1, at(20))})
	must(t, err)
	violation := map[string]string{} // thing/behaviour → id
	for _, e := range events {
		violation[e.ThingName+"/"+e.Behavior.Name] = e.ViolationID
	}

	// Rules that need stored data: each is InvalidRequest and stores nothing.
	byIDs := warden.DetectMitigationTarget{ViolationIDs: []string{violation["t1/loud"]}}
	for _, c := range []struct {
		what string
		task warden.DetectMitigationTask
		say  string
	}{
		{"a missing action", detectTask("bad", byIDs, "quarantine", "missing"), "missing does not exist"},
		{"an action of another type", detectTask("bad", byIDs, "deactivate"), "allow only ADD_THINGS_TO_THING_GROUP"},
		{"a missing security profile", detectTask("bad", warden.DetectMitigationTarget{SecurityProfileName: "p9"}, "quarantine"), "security profile p9 does not exist"},
		{"a missing violation", detectTask("bad", warden.DetectMitigationTarget{ViolationIDs: []string{violation["t1/loud"], "0123456789abcdef0123456789abcdef"}}, "quarantine"),
			"0123456789abcdef0123456789abcdef"},
	} {
		_, _, err := st.StartDetectMitigationTask(ctx, scope, c.task, t0)
		wantCode(t, "StartDetectMitigationTask with "+c.what, err, warden.CodeInvalidRequest)
		if !strings.Contains(err.Error(), c.say) {
			t.Errorf("StartDetectMitigationTask with %s: %v; want it to say %q", c.what, err, c.say)
		}
	}
	_, err = st.DetectMitigationTask(ctx, scope, "bad")
	wantCode(t, "DetectMitigationTask after failed starts", err, warden.CodeResourceNotFound)

	// A profile target: only active, not suppressed → t1/loud and t3/loud.
	active := detectTask("active", warden.DetectMitigationTarget{SecurityProfileName: "p1"}, "quarantine")
	active.OnlyActiveViolations = true
	stored, created, err := st.StartDetectMitigationTask(ctx, scope, active, at(30))
	if err != nil || !created || stored.Status != warden.DetectTaskInProgress || len(stored.Actions) != 1 ||
		stored.Actions[0].ID != "id-quarantine" || stored.Actions[0].Params.AddThingsToThingGroupParams == nil || !stored.StartTime.Equal(at(30)) {
		t.Fatalf("StartDetectMitigationTask = %+v, created %v, %v", stored, created, err)
	}
	if again, created, err := st.StartDetectMitigationTask(ctx, scope, active, at(31)); err != nil || created || !again.StartTime.Equal(at(30)) {
		t.Fatalf("StartDetectMitigationTask again with its token = %+v, created %v, %v", again, created, err)
	}
	other := active
	other.ClientRequestToken = "another"
	_, _, err = st.StartDetectMitigationTask(ctx, scope, other, at(31))
	wantCode(t, "StartDetectMitigationTask of an existing id with another token", err, warden.CodeTaskAlreadyExists)
	reused := detectTask("reused", byIDs, "quarantine")
	reused.ClientRequestToken = active.ClientRequestToken
	_, _, err = st.StartDetectMitigationTask(ctx, scope, reused, at(31))
	wantCode(t, "StartDetectMitigationTask with another task's token", err, warden.CodeInvalidRequest)

	execs := allDetectExecutions(t, st, scope, warden.DetectMitigationExecutionFilter{TaskID: "active"})
	if got := names(execs, func(e warden.DetectMitigationExecution) string { return e.ThingName + "/" + e.Status }); !equal(got, []string{"t1/IN_PROGRESS", "t3/IN_PROGRESS"}) {
		t.Fatalf("executions before applying = %q", got)
	}
	if execs[0].ViolationID != violation["t1/loud"] || execs[0].ActionName != "quarantine" || !execs[0].StartTime.Equal(at(30)) || !execs[0].EndTime.IsZero() {
		t.Fatalf("execution = %+v", execs[0])
	}
	applyAll(t, st, at(32))
	got, err := st.DetectMitigationTask(ctx, scope, "active")
	if err != nil || got.Status != warden.DetectTaskSuccessful || got.Executed != 1 || got.Skipped != 1 || got.Failed != 0 || !got.EndTime.Equal(at(32)) {
		t.Fatalf("task after applying = %+v, %v", got, err)
	}
	execs = allDetectExecutions(t, st, scope, warden.DetectMitigationExecutionFilter{TaskID: "active"})
	if execs[0].Status != warden.DetectExecutionSuccessful || !execs[0].EndTime.Equal(at(32)) ||
		execs[1].Status != warden.DetectExecutionSkipped || execs[1].ErrorCode != warden.DetectErrThingNotFound {
		t.Fatalf("executions after applying = %+v", execs)
	}
	groups, _, err := st.ThingGroupsForThing(ctx, scope, "t1", warden.Page{Limit: 10})
	if err != nil || !equal(groups, []string{"quarantine"}) {
		t.Fatalf("t1's groups = %q, %v", groups, err)
	}
	changes, err := st.Changes(ctx, warden.ChangeFilter{Scope: &scope, ResourceArn: warden.ThingARN(scope, "t1"), Limit: 100})
	must(t, err)
	if n := len(changes); n == 0 || changes[n-1].Operation != "AddThingToThingGroup" || changes[n-1].Actor != warden.DetectTaskActor("active") {
		t.Fatalf("t1's change log = %+v; want the join by %s last", changes, warden.DetectTaskActor("active"))
	}

	// Every violation of the profile, suppressed ones included: four; a
	// second join of t1 changes nothing and succeeds.
	all := detectTask("all", warden.DetectMitigationTarget{SecurityProfileName: "p1"}, "quarantine", "nowhere")
	all.IncludeSuppressedAlerts = true
	_, _, err = st.StartDetectMitigationTask(ctx, scope, all, at(40))
	must(t, err)
	if got := allDetectExecutions(t, st, scope, warden.DetectMitigationExecutionFilter{TaskID: "all"}); len(got) != 8 {
		t.Fatalf("executions of every violation and two actions = %d, want 8", len(got))
	}
	applyAll(t, st, at(41))
	got, err = st.DetectMitigationTask(ctx, scope, "all")
	// t1 ×2, t2: quarantine succeeds, nowhere fails (no such group); t3: both skipped.
	if err != nil || got.Status != warden.DetectTaskFailed || got.Executed != 3 || got.Failed != 3 || got.Skipped != 2 {
		t.Fatalf("task of every violation = %+v, %v", got, err)
	}
	failed := allDetectExecutions(t, st, scope, warden.DetectMitigationExecutionFilter{TaskID: "all", ThingName: "t2"})
	if len(failed) != 2 || failed[1].Status != warden.DetectExecutionFailed || failed[1].ErrorCode != warden.ExecErrInvalidStateOfResource || failed[1].Message == "" {
		t.Fatalf("t2's executions = %+v", failed)
	}
	if got := allDetectExecutions(t, st, scope, warden.DetectMitigationExecutionFilter{TaskID: "all", ViolationID: violation["t1/quiet"]}); len(got) != 2 || got[0].ThingName != "t1" {
		t.Fatalf("executions of the suppressed violation = %+v", got)
	}

	// Behaviour and event range narrow a profile target; selecting nothing
	// ends the task at once, SUCCESSFUL with zero counts.
	quietOnly := detectTask("quiet", warden.DetectMitigationTarget{SecurityProfileName: "p1", BehaviorName: "quiet"}, "quarantine")
	_, _, err = st.StartDetectMitigationTask(ctx, scope, quietOnly, at(50))
	must(t, err)
	if got, err := st.DetectMitigationTask(ctx, scope, "quiet"); err != nil || got.Status != warden.DetectTaskSuccessful || got.Executed+got.Skipped+got.Failed != 0 || !got.EndTime.Equal(at(50)) {
		t.Fatalf("task selecting only suppressed violations without includeSuppressedAlerts = %+v, %v", got, err)
	}
	ranged := detectTask("ranged", warden.DetectMitigationTarget{SecurityProfileName: "p1"}, "quarantine")
	ranged.OccurrenceStart, ranged.OccurrenceEnd = at(15), at(25) // only t2's clear is in it
	_, _, err = st.StartDetectMitigationTask(ctx, scope, ranged, at(50))
	must(t, err)
	got, err = st.DetectMitigationTask(ctx, scope, "ranged")
	if err != nil || !got.OccurrenceStart.Equal(at(15)) || !got.OccurrenceEnd.Equal(at(25)) {
		t.Fatalf("ranged task = %+v, %v", got, err)
	}
	if got := allDetectExecutions(t, st, scope, warden.DetectMitigationExecutionFilter{TaskID: "ranged"}); len(got) != 1 || got[0].ThingName != "t2" {
		t.Fatalf("executions of violations with an event in the range = %+v", got)
	}

	// Cancel: the pending executions are skipped and never applied.
	must(t, st.CancelDetectMitigationTask(ctx, scope, "ranged", at(51)))
	got, err = st.DetectMitigationTask(ctx, scope, "ranged")
	if err != nil || got.Status != warden.DetectTaskCanceled || got.Skipped != 1 || !got.EndTime.Equal(at(51)) {
		t.Fatalf("canceled task = %+v, %v", got, err)
	}
	if worked, err := st.ApplyDetectMitigations(ctx, at(52), 10, warden.MitigationApplyOptions{}); err != nil || worked {
		t.Fatalf("ApplyDetectMitigations after the cancel: worked %v, %v", worked, err)
	}
	if got := allDetectExecutions(t, st, scope, warden.DetectMitigationExecutionFilter{TaskID: "ranged"}); got[0].Status != warden.DetectExecutionSkipped || got[0].ErrorCode != warden.DetectErrCanceled {
		t.Fatalf("execution of the canceled task = %+v", got[0])
	}
	wantCode(t, "CancelDetectMitigationTask of a canceled task", st.CancelDetectMitigationTask(ctx, scope, "ranged", at(52)), warden.CodeInvalidRequest)
	wantCode(t, "CancelDetectMitigationTask of a finished task", st.CancelDetectMitigationTask(ctx, scope, "active", at(52)), warden.CodeInvalidRequest)
	wantCode(t, "CancelDetectMitigationTask of a missing task", st.CancelDetectMitigationTask(ctx, scope, "missing", at(52)), warden.CodeResourceNotFound)

	// Lists: tasks newest first in their window; executions by time.
	tasks := walk(t, 2, func(p warden.Page) ([]warden.DetectMitigationTask, string, error) {
		return st.DetectMitigationTasks(ctx, scope, at(30), at(50), p)
	})
	wantNames(t, "tasks started in [30, 50]", names(tasks, func(t warden.DetectMitigationTask) string { return t.TaskID }), "ranged", "quiet", "all", "active")
	tasks = walk(t, 2, func(p warden.Page) ([]warden.DetectMitigationTask, string, error) {
		return st.DetectMitigationTasks(ctx, scope, at(35), at(45), p)
	})
	wantNames(t, "tasks started in [35, 45]", names(tasks, func(t warden.DetectMitigationTask) string { return t.TaskID }), "all")
	if got := allDetectExecutions(t, st, scope, warden.DetectMitigationExecutionFilter{Start: at(40), End: at(50), ThingName: "t1"}); len(got) != 4 {
		t.Fatalf("t1's executions started in [40, 50] = %+v", got)
	}
	if got := allDetectExecutions(t, st, scope, warden.DetectMitigationExecutionFilter{TaskID: "missing"}); len(got) != 0 {
		t.Fatalf("executions of a missing task = %+v", got)
	}

	notElsewhere(t, "DetectMitigationTask", warden.CodeResourceNotFound, func(s warden.Scope) error {
		_, err := st.DetectMitigationTask(ctx, s, "active")
		return err
	})
	emptyElsewhere(t, "DetectMitigationTasks", func(s warden.Scope) ([]warden.DetectMitigationTask, error) {
		tasks, _, err := st.DetectMitigationTasks(ctx, s, at(0), at(100), warden.Page{Limit: 10})
		return tasks, err
	})
	emptyElsewhere(t, "DetectMitigationExecutions", func(s warden.Scope) ([]warden.DetectMitigationExecution, error) {
		es, _, err := st.DetectMitigationExecutions(ctx, s, warden.DetectMitigationExecutionFilter{Start: at(0), End: at(100)}, warden.Page{Limit: 10})
		return es, err
	})
	_, _, err = st.StartDetectMitigationTask(ctx, otherAccount, detectTask("x", byIDs, "quarantine"), at(60))
	wantCode(t, "StartDetectMitigationTask of another scope's violation and action", err, warden.CodeInvalidRequest)
}

// detectExecutionsOneByOne: what the runner isolates a failing batch with.
// The pending executions oldest first; one applied alone; one recorded
// FAILED unapplied, which ends its task FAILED; neither again once done.
func detectExecutionsOneByOne(t *testing.T, st warden.Store) {
	_, _, err := st.CreateThingGroup(ctx, scope, warden.ThingGroup{Name: "quarantine", ID: "id-q", CreationDate: t0, LastModifiedDate: t0}, nil)
	must(t, err)
	_, _, err = st.CreateMitigationAction(ctx, scope, quarantineAction("quarantine", "quarantine"), nil)
	must(t, err)
	_, err = st.CreateSecurityProfile(ctx, scope, warden.SecurityProfile{Name: "p1"}, nil, t0)
	must(t, err)
	var ts []warden.DetectTransition
	for _, name := range []string{"t1", "t2"} {
		_, _, err := st.CreateThing(ctx, scope, warden.Thing{Name: name, ID: "id-" + name, CreationDate: t0, LastModifiedDate: t0})
		must(t, err)
		ts = append(ts, transition(name, "p1", behavior("loud", false), warden.ViolationInAlarm, 11, t0))
	}
	_, err = st.ApplyDetectTransitions(ctx, scope, ts)
	must(t, err)
	_, _, err = st.StartDetectMitigationTask(ctx, scope, detectTask("task", warden.DetectMitigationTarget{SecurityProfileName: "p1"}, "quarantine"), t0)
	must(t, err)

	seqs, err := st.PendingDetectExecutions(ctx, 10)
	must(t, err)
	if len(seqs) != 2 || seqs[0] >= seqs[1] {
		t.Fatalf("PendingDetectExecutions = %v, want two, oldest first", seqs)
	}
	if one, err := st.PendingDetectExecutions(ctx, 1); err != nil || len(one) != 1 || one[0] != seqs[0] {
		t.Errorf("PendingDetectExecutions(1) = %v, %v; want [%d]", one, err, seqs[0])
	}
	applied, err := st.ApplyDetectExecution(ctx, seqs[1], t0.Add(time.Minute), warden.MitigationApplyOptions{})
	must(t, err)
	failed, err := st.FailDetectExecution(ctx, seqs[0], warden.ExecErrInternal, "Warden could not apply this action.", t0.Add(2*time.Minute))
	must(t, err)
	if !applied || !failed {
		t.Fatalf("ApplyDetectExecution = %v, FailDetectExecution = %v; want both true", applied, failed)
	}
	es := map[string]warden.DetectMitigationExecution{}
	for _, e := range allDetectExecutions(t, st, scope, warden.DetectMitigationExecutionFilter{TaskID: "task"}) {
		es[e.ThingName] = e
	}
	if e := es["t1"]; e.Status != warden.DetectExecutionFailed || e.ErrorCode != warden.ExecErrInternal ||
		e.Message != "Warden could not apply this action." || !e.EndTime.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("failed execution = %+v", e)
	}
	if e := es["t2"]; e.Status != warden.DetectExecutionSuccessful || e.ErrorCode != "" {
		t.Errorf("applied execution = %+v", e)
	}
	task, err := st.DetectMitigationTask(ctx, scope, "task")
	must(t, err)
	if task.Status != warden.DetectTaskFailed || task.Executed != 1 || task.Failed != 1 || !task.EndTime.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("task = %+v, want FAILED with 1 executed and 1 failed", task)
	}
	members, _, err := st.ThingsInThingGroup(ctx, scope, "quarantine", false, warden.Page{Limit: 10})
	must(t, err)
	wantNames(t, "quarantine", members, "t2")
	// Done executions are neither applied nor failed again.
	for _, seq := range seqs {
		applied, err := st.ApplyDetectExecution(ctx, seq, t0.Add(3*time.Minute), warden.MitigationApplyOptions{})
		must(t, err)
		failed, err := st.FailDetectExecution(ctx, seq, warden.ExecErrInternal, "again", t0.Add(3*time.Minute))
		must(t, err)
		if applied || failed {
			t.Errorf("execution %d done: ApplyDetectExecution = %v, FailDetectExecution = %v; want false", seq, applied, failed)
		}
	}
	if left, err := st.PendingDetectExecutions(ctx, 10); err != nil || len(left) != 0 {
		t.Errorf("PendingDetectExecutions = %v, %v; want none", left, err)
	}
}
