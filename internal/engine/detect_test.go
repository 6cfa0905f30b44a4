package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/engine"
	"github.com/warden-iot/warden/internal/pgtest"
)

// refuseThing makes the database itself refuse to add thing to a thing
// group — a real failure of the execution's transaction, which no rule of
// Warden's answers — until the returned function lifts it.
func (f *fixture) refuseThing(thing string) (lift func()) {
	f.t.Helper()
	stmts := []string{`CREATE TRIGGER refuse_thing BEFORE INSERT ON thing_group_members WHEN NEW.thing_name = '` + thing + `'
		BEGIN SELECT RAISE(ABORT, 'membership refused by the test trigger'); END`}
	drop := []string{`DROP TRIGGER refuse_thing`}
	if pgtest.URL() != "" {
		stmts = []string{`CREATE FUNCTION refuse_thing() RETURNS trigger LANGUAGE plpgsql AS
			'BEGIN RAISE EXCEPTION ''membership refused by the test trigger''; END'`,
			`CREATE TRIGGER refuse_thing BEFORE INSERT ON thing_group_members FOR EACH ROW
			WHEN (NEW.thing_name = '` + thing + `') EXECUTE FUNCTION refuse_thing()`}
		drop = []string{`DROP TRIGGER refuse_thing ON thing_group_members`, `DROP FUNCTION refuse_thing()`}
	}
	exec := func(stmts []string) {
		for _, s := range stmts {
			if _, err := f.raw.ExecContext(f.ctx, s); err != nil {
				f.t.Fatalf("%s: %v", s, err)
			}
		}
	}
	exec(stmts)
	return func() { exec(drop) }
}

// detectTask starts a task quarantining the things (in this order), each
// with an active violation of profile p.
func (f *fixture) detectTask(id string, things ...string) {
	f.t.Helper()
	if _, _, err := f.db.CreateThingGroup(f.ctx, scope, warden.ThingGroup{Name: "quarantine", ID: "g", CreationDate: f.now, LastModifiedDate: f.now}, nil); err != nil {
		f.t.Fatal(err)
	}
	f.action("quarantine", quarantine("quarantine"))
	if _, err := f.db.CreateSecurityProfile(f.ctx, scope, warden.SecurityProfile{Name: "p"}, nil, f.now); err != nil {
		f.t.Fatal(err)
	}
	var ts []warden.DetectTransition
	for _, name := range things {
		if _, _, err := f.db.CreateThing(f.ctx, scope, warden.Thing{Name: name, ID: "id-" + name, CreationDate: f.now, LastModifiedDate: f.now}); err != nil {
			f.t.Fatal(err)
		}
		ts = append(ts, warden.DetectTransition{ThingName: name, SecurityProfileName: "p",
			Behavior: warden.Behavior{Name: "loud", Metric: "aws:num-messages-sent"}, Type: warden.ViolationInAlarm, At: f.now})
	}
	if _, err := f.db.ApplyDetectTransitions(f.ctx, scope, ts); err != nil {
		f.t.Fatal(err)
	}
	if _, _, err := f.db.StartDetectMitigationTask(f.ctx, scope, warden.DetectMitigationTask{TaskID: id, ClientRequestToken: "token-" + id,
		Target: warden.DetectMitigationTarget{SecurityProfileName: "p"}, Actions: []warden.MitigationAction{{Name: "quarantine"}}}, f.now); err != nil {
		f.t.Fatal(err)
	}
}

// executions maps thing name to its execution in task id.
func (f *fixture) detectExecutions(id string) map[string]warden.DetectMitigationExecution {
	f.t.Helper()
	es, _, err := f.db.DetectMitigationExecutions(f.ctx, scope, warden.DetectMitigationExecutionFilter{TaskID: id}, warden.Page{Limit: 100})
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]warden.DetectMitigationExecution{}
	for _, e := range es {
		out[e.ThingName] = e
	}
	return out
}

// runDetect runs the runner's steps until it finds nothing to do, and
// returns how many steps failed.
func runDetect(t *testing.T, r *engine.DetectRunner, f *fixture) (failed int) {
	t.Helper()
	for range 20 {
		worked, err := r.RunOnce(f.ctx)
		if err != nil {
			failed++
			continue
		}
		if !worked {
			return failed
		}
	}
	t.Fatal("the detect runner still works after 20 steps")
	return 0
}

// TestDetectRunnerIsolatesAFailingExecution: an execution whose
// transaction keeps failing holds back neither its batch nor the
// executions queued behind it, and is recorded FAILED after MaxAttempts
// attempts in a row.
func TestDetectRunnerIsolatesAFailingExecution(t *testing.T) {
	f := newFixture(t)
	things := []string{"broken", "t1", "t2", "t3", "t4", "t5"}
	f.detectTask("task", things...)
	f.refuseThing("broken")
	r := engine.NewDetect(f.db, engine.DetectOptions{Batch: 2, Now: f.clock})

	// The first step's batch (broken, t1) fails; t1 is applied alone.
	if _, err := r.RunOnce(f.ctx); err == nil || !strings.Contains(err.Error(), "membership refused by the test trigger") {
		t.Fatalf("first step: %v, want the trigger's error", err)
	}
	es := f.detectExecutions("task")
	if es["broken"].Status != warden.DetectExecutionPending || es["t1"].Status != warden.DetectExecutionSuccessful {
		t.Fatalf("after one step: broken %s, t1 %s; want broken pending, t1 applied", es["broken"].Status, es["t1"].Status)
	}
	if failed := runDetect(t, r, f); failed != engine.MaxAttempts-2 {
		t.Errorf("%d more steps failed, want %d", failed, engine.MaxAttempts-2)
	}
	es = f.detectExecutions("task")
	b := es["broken"]
	if b.Status != warden.DetectExecutionFailed || b.ErrorCode != warden.ExecErrInternal ||
		!strings.Contains(b.Message, fmt.Sprintf("(%d attempts)", engine.MaxAttempts)) || !strings.Contains(b.Message, "membership refused by the test trigger") {
		t.Errorf("broken's execution = %+v, want FAILED %s after %d attempts with the database's error", b, warden.ExecErrInternal, engine.MaxAttempts)
	}
	for _, name := range things[1:] {
		if es[name].Status != warden.DetectExecutionSuccessful {
			t.Errorf("%s's execution is %s, want SUCCESSFUL", name, es[name].Status)
		}
	}
	task, err := f.db.DetectMitigationTask(f.ctx, scope, "task")
	if err != nil || task.Status != warden.DetectTaskFailed || task.Executed != 5 || task.Failed != 1 || task.Skipped != 0 || task.EndTime.IsZero() {
		t.Errorf("task = %+v, %v; want FAILED, 5 executed, 1 failed, ended", task, err)
	}
	if n := f.count(`SELECT COUNT(*) FROM thing_group_members WHERE group_name = 'quarantine'`); n != 5 {
		t.Errorf("%d things in quarantine, want 5", n)
	}
}

// TestDetectRunnerRetriesAFailureThatPasses: a failing execution stays
// pending; once the failure passes it is applied.
func TestDetectRunnerRetriesAFailureThatPasses(t *testing.T) {
	f := newFixture(t)
	f.detectTask("task", "broken", "t1")
	lift := f.refuseThing("broken")
	r := engine.NewDetect(f.db, engine.DetectOptions{Batch: 10, Now: f.clock})
	for attempt := 1; attempt < engine.MaxAttempts; attempt++ {
		if _, err := r.RunOnce(f.ctx); err == nil {
			t.Fatalf("attempt %d did not fail", attempt)
		}
	}
	lift()
	if failed := runDetect(t, r, f); failed != 0 {
		t.Errorf("%d steps failed after the failure passed", failed)
	}
	es := f.detectExecutions("task")
	if es["broken"].Status != warden.DetectExecutionSuccessful || es["t1"].Status != warden.DetectExecutionSuccessful {
		t.Errorf("executions %+v, want both SUCCESSFUL", es)
	}
	task, err := f.db.DetectMitigationTask(f.ctx, scope, "task")
	if err != nil || task.Status != warden.DetectTaskSuccessful || task.Executed != 2 {
		t.Errorf("task = %+v, %v; want SUCCESSFUL with 2 executed", task, err)
	}
}
