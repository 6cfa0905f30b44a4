package engine_test

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/engine"
	"github.com/warden-iot/warden/internal/engine/enginetest"
	"github.com/warden-iot/warden/internal/pgtest"
	"github.com/warden-iot/warden/internal/sqlstore"
	"github.com/warden-iot/warden/internal/wardentest"
)

var scope = warden.Scope{Account: "123456789012", Region: "us-east-1"}

const (
	auditID = "a3aea009955e501a31b764abe1bebd3d"
	check   = "DEVICE_CERTIFICATE_EXPIRING_CHECK"
	role    = "arn:aws:iam::123456789012:role/mitigation"
)

// fixture is a real store on a temporary SQLite file with a clock the
// test moves, and a raw connection for seeding and inspecting rows.
type fixture struct {
	t   testing.TB
	dir string
	db  *sqlstore.DB
	raw *sql.DB
	now time.Time
	ctx context.Context
	// ceilingRunning is set while a benchmark's plain SQL loop runs.
	ceilingRunning *atomic.Bool
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), ctx: context.Background()}
	// WARDEN_BENCH_SYNC=FULL runs the benchmarks as `warden serve` does by
	// default (an fsync per commit); NORMAL survives a killed process.
	sync := "NORMAL"
	if v := os.Getenv("WARDEN_BENCH_SYNC"); v != "" {
		sync = v
	}
	f.db = wardentest.OpenStore(t, f.dir, sync)
	var err error
	if f.raw, err = enginetest.OpenSync(pgtest.Database(t, f.dir), f.dir, sync); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.raw.Close() })
	return f
}

func (f *fixture) clock() time.Time { return f.now }

func (f *fixture) seed(o enginetest.Options) []enginetest.Seeded {
	f.t.Helper()
	o.Scope = scope
	o.Now = f.now
	seeded, err := enginetest.Seed(f.ctx, f.raw, o)
	if err != nil {
		f.t.Fatal(err)
	}
	return seeded
}

func (f *fixture) action(name string, p warden.MitigationActionParams) {
	f.t.Helper()
	if _, _, err := f.db.CreateMitigationAction(f.ctx, scope, warden.MitigationAction{
		Name: name, ID: warden.NewUUID(), RoleArn: role, Params: p, CreationDate: f.now, LastModifiedDate: f.now,
	}, nil); err != nil {
		f.t.Fatal(err)
	}
}

func deactivate() warden.MitigationActionParams {
	return warden.MitigationActionParams{UpdateDeviceCertificateParams: &warden.UpdateCertificateParams{Action: "DEACTIVATE"}}
}

func quarantine(groups ...string) warden.MitigationActionParams {
	return warden.MitigationActionParams{AddThingsToThingGroupParams: &warden.AddThingsToThingGroupParams{ThingGroupNames: groups}}
}

func (f *fixture) start(id string, target warden.MitigationTaskTarget, mapping map[string][]string) warden.MitigationTask {
	f.t.Helper()
	t, created, err := f.db.StartMitigationTask(f.ctx, scope, warden.MitigationTask{
		TaskID: id, Target: target, Mapping: mapping, ClientRequestToken: "token-" + id,
	}, f.now)
	if err != nil || !created {
		f.t.Fatalf("start %s: created=%v err=%v", id, created, err)
	}
	return t
}

func (f *fixture) engine(opt engine.Options) *engine.Engine {
	if opt.Now == nil {
		opt.Now = f.clock
	}
	return engine.New(f.db, opt)
}

func (f *fixture) task(id string) warden.MitigationTask {
	f.t.Helper()
	t, err := f.db.MitigationTask(f.ctx, scope, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return t
}

// count runs a COUNT(*) query.
func (f *fixture) count(query string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.raw.QueryRowContext(f.ctx, query, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (f *fixture) certStatus(id string) string {
	f.t.Helper()
	c, err := f.db.Certificate(f.ctx, scope, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return c.Status
}

func TestEngineDeactivatesEveryCertificateExactlyOnce(t *testing.T) {
	f := newFixture(t)
	seeded := f.seed(enginetest.Options{Findings: 700, SuppressEvery: 100})
	f.action("deactivate", deactivate())
	f.start("t1", warden.MitigationTaskTarget{AuditTaskID: auditID}, map[string][]string{check: {"deactivate"}})
	e := f.engine(engine.Options{Batch: 64, FanOut: 250})
	if err := e.RunUntilIdle(f.ctx); err != nil {
		t.Fatal(err)
	}
	task := f.task("t1")
	if task.Status != warden.MitigationTaskCompleted || task.EndTime.IsZero() {
		t.Fatalf("task status %s end %v, want COMPLETED with an end time", task.Status, task.EndTime)
	}
	want := warden.MitigationTaskStatistics{Total: 700, Succeeded: 693, Skipped: 7}
	if got := task.Statistics[check]; got != want {
		t.Fatalf("statistics %+v, want %+v", got, want)
	}
	for i, s := range seeded {
		wantStatus := warden.CertInactive
		if i%100 == 99 {
			wantStatus = warden.CertActive
		}
		if got := f.certStatus(s.CertificateID); got != wantStatus {
			t.Fatalf("certificate %d is %s, want %s", i, got, wantStatus)
		}
	}
	changes, err := f.db.Changes(f.ctx, warden.ChangeFilter{Scope: &scope})
	if err != nil {
		t.Fatal(err)
	}
	perCert := map[string]int{}
	for _, c := range changes {
		if c.Operation != "UpdateCertificate" {
			continue
		}
		perCert[c.ResourceArn]++
		if !strings.HasPrefix(c.Actor, "execution:t1/") || !strings.HasSuffix(c.Actor, "/deactivate") {
			t.Fatalf("change by actor %q, want execution:t1/<finding>/deactivate", c.Actor)
		}
	}
	if len(perCert) != 693 {
		t.Fatalf("%d certificates changed, want 693", len(perCert))
	}
	for arn, n := range perCert {
		if n != 1 {
			t.Fatalf("%s changed %d times, want once", arn, n)
		}
	}
	if n := f.count(`SELECT COUNT(*) FROM mitigation_executions WHERE status NOT IN ('COMPLETED', 'SKIPPED')`); n != 0 {
		t.Fatalf("%d executions not COMPLETED or SKIPPED", n)
	}
}

// changesBy counts change-log rows of operation made by executions.
func (f *fixture) changesBy(operation string) int {
	return f.count(`SELECT COUNT(*) FROM change_log WHERE operation = ? AND actor LIKE 'execution:%'`, operation)
}

// TestExpiredLeaseIsClaimedAgainAndFenced plays a crashed engine: its claim
// is never applied, so another engine claims the findings once the lease
// expires, and the late engine's apply changes nothing.
func TestExpiredLeaseIsClaimedAgainAndFenced(t *testing.T) {
	f := newFixture(t)
	f.seed(enginetest.Options{Findings: 10, NoThings: true})
	f.action("deactivate", deactivate())
	f.start("t1", warden.MitigationTaskTarget{AuditTaskID: auditID}, map[string][]string{check: {"deactivate"}})
	if _, err := f.db.FanOutMitigationTasks(f.ctx, f.now, 100); err != nil {
		t.Fatal(err)
	}
	const lease = 30 * time.Second
	stale, err := f.db.ClaimMitigationFindings(f.ctx, "dead", f.now, lease, 4)
	if err != nil || stale.Findings() != 4 {
		t.Fatalf("claim: %v findings, %v", stale.Findings(), err)
	}
	if n := f.count(`SELECT COUNT(*) FROM mitigation_executions WHERE lease_owner = 'dead'`); n != 4 {
		t.Fatalf("%d executions leased, want 4", n)
	}
	alive := f.engine(engine.Options{Owner: "alive", Lease: lease})
	f.now = f.now.Add(10 * time.Second)
	if err := alive.RunUntilIdle(f.ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.task("t1"); got.Status != warden.MitigationTaskInProgress || got.Statistics[check].Succeeded != 6 {
		t.Fatalf("with a live lease elsewhere: %s %+v, want IN_PROGRESS with 6 done", got.Status, got.Statistics[check])
	}
	execs, _, err := f.db.MitigationExecutions(f.ctx, scope, warden.MitigationExecutionFilter{TaskID: "t1", Status: warden.ExecutionInProgress}, warden.Page{Limit: 100})
	if err != nil || len(execs) != 4 || execs[0].StartTime.IsZero() {
		t.Fatalf("IN_PROGRESS executions %+v %v, want the 4 leased with a start time", execs, err)
	}
	f.now = f.now.Add(lease)
	if err := alive.RunUntilIdle(f.ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.task("t1"); got.Status != warden.MitigationTaskCompleted || got.Statistics[check].Succeeded != 10 {
		t.Fatalf("after the lease expired: %s %+v, want COMPLETED with 10", got.Status, got.Statistics[check])
	}
	before := f.changesBy("UpdateCertificate")
	if _, err := f.db.ApplyMitigationClaim(f.ctx, stale, warden.MitigationApplyOptions{}, f.now); err != warden.ErrMitigationLeaseLost {
		t.Fatalf("late apply: %v, want ErrMitigationLeaseLost", err)
	}
	if after := f.changesBy("UpdateCertificate"); after != before || after != 10 {
		t.Fatalf("certificate changes %d → %d, want 10 both times", before, after)
	}
}

// TestFenceRejectsAReclaimedBatch: a slow engine whose lease expired and
// whose findings another engine claimed applies nothing, not even the
// findings nobody else took; the other engine's apply wins.
func TestFenceRejectsAReclaimedBatch(t *testing.T) {
	f := newFixture(t)
	f.seed(enginetest.Options{Findings: 6, NoThings: true})
	f.action("deactivate", deactivate())
	f.start("t1", warden.MitigationTaskTarget{AuditTaskID: auditID}, map[string][]string{check: {"deactivate"}})
	if _, err := f.db.FanOutMitigationTasks(f.ctx, f.now, 100); err != nil {
		t.Fatal(err)
	}
	slow, err := f.db.ClaimMitigationFindings(f.ctx, "slow", f.now, time.Second, 6)
	if err != nil {
		t.Fatal(err)
	}
	later := f.now.Add(2 * time.Second)
	fast, err := f.db.ClaimMitigationFindings(f.ctx, "fast", later, time.Minute, 2)
	if err != nil || fast.Findings() != 2 {
		t.Fatalf("reclaim: %d findings, %v", fast.Findings(), err)
	}
	if _, err := f.db.ApplyMitigationClaim(f.ctx, slow, warden.MitigationApplyOptions{}, later); err != warden.ErrMitigationLeaseLost {
		t.Fatalf("slow apply: %v, want ErrMitigationLeaseLost", err)
	}
	if n := f.changesBy("UpdateCertificate"); n != 0 {
		t.Fatalf("%d changes after a fenced-off apply, want 0", n)
	}
	if _, err := f.db.ApplyMitigationClaim(f.ctx, fast, warden.MitigationApplyOptions{}, later); err != nil {
		t.Fatal(err)
	}
	f.now = later.Add(2 * time.Second)
	if err := f.engine(engine.Options{Owner: "third"}).RunUntilIdle(f.ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.changesBy("UpdateCertificate"); n != 6 {
		t.Fatalf("%d certificate changes, want 6", n)
	}
	if got := f.task("t1").Status; got != warden.MitigationTaskCompleted {
		t.Fatalf("task %s, want COMPLETED", got)
	}
}

// TestCancelTakesExpiredLeases: a claim whose lease expired is canceled
// like a PENDING execution, and its late apply is fenced off.
func TestCancelTakesExpiredLeases(t *testing.T) {
	f := newFixture(t)
	f.seed(enginetest.Options{Findings: 4, NoThings: true})
	f.action("deactivate", deactivate())
	f.start("t1", warden.MitigationTaskTarget{AuditTaskID: auditID}, map[string][]string{check: {"deactivate"}})
	if _, err := f.db.FanOutMitigationTasks(f.ctx, f.now, 100); err != nil {
		t.Fatal(err)
	}
	expired, err := f.db.ClaimMitigationFindings(f.ctx, "dead", f.now, time.Second, 2)
	if err != nil {
		t.Fatal(err)
	}
	live, err := f.db.ClaimMitigationFindings(f.ctx, "alive", f.now.Add(2*time.Second), time.Minute, 1)
	if err != nil || live.Findings() != 1 {
		t.Fatalf("claim: %v %v", live, err)
	}
	f.now = f.now.Add(3 * time.Second)
	if err := f.db.CancelMitigationTask(f.ctx, scope, "t1", f.now); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.ApplyMitigationClaim(f.ctx, expired, warden.MitigationApplyOptions{}, f.now); err != warden.ErrMitigationLeaseLost {
		t.Fatalf("apply of an expired, canceled claim: %v", err)
	}
	if _, err := f.db.ApplyMitigationClaim(f.ctx, live, warden.MitigationApplyOptions{}, f.now); err != nil {
		t.Fatalf("apply of a live claim after cancel: %v", err)
	}
	got := f.task("t1")
	if want := (warden.MitigationTaskStatistics{Total: 4, Succeeded: 1, Canceled: 3}); got.Status != warden.MitigationTaskCanceled || got.Statistics[check] != want {
		t.Fatalf("task %s %+v, want CANCELED %+v", got.Status, got.Statistics[check], want)
	}
	if n := f.changesBy("UpdateCertificate"); n != 1 {
		t.Fatalf("%d certificate changes, want 1", n)
	}
}

// TestEnginesShareTheWork runs three engines on one database at once: every
// execution is applied exactly once.
func TestEnginesShareTheWork(t *testing.T) {
	f := newFixture(t)
	f.seed(enginetest.Options{Findings: 600})
	f.action("deactivate", deactivate())
	f.action("quarantine", quarantine("quarantine"))
	if _, _, err := f.db.CreateThingGroup(f.ctx, scope, warden.ThingGroup{Name: "quarantine", ID: warden.NewUUID(),
		CreationDate: f.now, LastModifiedDate: f.now}, nil); err != nil {
		t.Fatal(err)
	}
	f.start("t1", warden.MitigationTaskTarget{AuditTaskID: auditID}, map[string][]string{check: {"deactivate", "quarantine"}})
	var engines []*engine.Engine
	for i := range 3 {
		e := engine.New(f.db, engine.Options{Owner: "engine-" + string(rune('a'+i)), Batch: 16, FanOut: 100, Poll: 5 * time.Millisecond})
		engines = append(engines, e)
		e.Start()
	}
	deadline := time.Now().Add(20 * time.Second)
	for f.task("t1").Status == warden.MitigationTaskInProgress {
		if time.Now().After(deadline) {
			t.Fatalf("task not done: %+v", f.task("t1").Statistics)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, e := range engines {
		e.Stop()
	}
	if got := f.task("t1"); got.Status != warden.MitigationTaskCompleted || got.Statistics[check].Succeeded != 600 {
		t.Fatalf("task %s %+v", got.Status, got.Statistics[check])
	}
	if n := f.changesBy("UpdateCertificate"); n != 600 {
		t.Fatalf("%d certificate changes, want 600", n)
	}
	if n := f.changesBy("AddThingToThingGroup"); n != 600 {
		t.Fatalf("%d memberships, want 600", n)
	}
	if n := f.count(`SELECT COUNT(DISTINCT lease_owner) FROM mitigation_executions`); n != 1 {
		t.Fatalf("leases left: %d distinct owners, want only ''", n)
	}
}

// TestEngineWakesWhenATaskStarts: an idle engine that polls once an hour
// runs a task started through the store at once.
func TestEngineWakesWhenATaskStarts(t *testing.T) {
	f := newFixture(t)
	f.seed(enginetest.Options{Findings: 3, NoThings: true})
	f.action("deactivate", deactivate())
	e := engine.New(f.db, engine.Options{Poll: time.Hour})
	e.Start()
	defer e.Stop()
	time.Sleep(50 * time.Millisecond) // let it go idle
	f.now = time.Now()
	f.start("t1", warden.MitigationTaskTarget{AuditTaskID: auditID}, map[string][]string{check: {"deactivate"}})
	deadline := time.Now().Add(5 * time.Second)
	for f.task("t1").Status != warden.MitigationTaskCompleted {
		if time.Now().After(deadline) {
			t.Fatal("the engine did not wake up")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.Stop()
	e.Stop() // stopping twice is fine
}

// TestFanOutIsChunkedAndCounted checks fan-out across checks in chunks, with
// suppressed findings and a reason-code filter.
func TestFanOutIsChunkedAndCounted(t *testing.T) {
	f := newFixture(t)
	f.seed(enginetest.Options{Findings: 25, NoThings: true, SuppressEvery: 5, ReasonCodeEvery: 4, OtherReasonCode: "CERTIFICATE_PAST_EXPIRATION"})
	f.seed(enginetest.Options{Findings: 7, NoThings: true, Prefix: "k", Check: "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK", ReasonCode: "CERTIFICATE_KEY_VULNERABILITY_CVE-2008-0166"})
	f.action("deactivate", deactivate())
	f.start("t1", warden.MitigationTaskTarget{AuditTaskID: auditID, ReasonCodeFilter: map[string][]string{
		check: {"CERTIFICATE_APPROACHING_EXPIRATION"}, "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK": {"CERTIFICATE_KEY_VULNERABILITY_CVE-2008-0166"}}},
		map[string][]string{check: {"deactivate"}, "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK": {"deactivate"}})
	steps := 0
	for {
		worked, err := f.db.FanOutMitigationTasks(f.ctx, f.now, 4)
		if err != nil {
			t.Fatal(err)
		}
		if !worked {
			break
		}
		steps++
	}
	if steps != 9 { // 32 findings in chunks of 4
		t.Fatalf("%d fan-out steps, want 9", steps)
	}
	// 25 findings: 5 suppressed (every 5th), 6 with the other reason (every
	// 4th), finding 19 both: 10 skipped, 15 to apply.
	got := f.task("t1").Statistics
	if want := (warden.MitigationTaskStatistics{Total: 25, Skipped: 10}); got[check] != want {
		t.Fatalf("%s: %+v, want %+v", check, got[check], want)
	}
	if want := (warden.MitigationTaskStatistics{Total: 7}); got["DEVICE_CERTIFICATE_KEY_QUALITY_CHECK"] != want {
		t.Fatalf("key quality: %+v, want %+v", got["DEVICE_CERTIFICATE_KEY_QUALITY_CHECK"], want)
	}
	if n := f.count(`SELECT COUNT(*) FROM mitigation_executions WHERE status = 'PENDING'`); n != 22 {
		t.Fatalf("%d PENDING executions, want 22", n)
	}
	if n := f.count(`SELECT COUNT(*) FROM mitigation_executions WHERE status = 'SKIPPED'`); n != 4 {
		t.Fatalf("%d SKIPPED executions (suppressed and targeted), want 4", n)
	}
	if err := f.engine(engine.Options{}).RunUntilIdle(f.ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.task("t1"); got.Status != warden.MitigationTaskCompleted || got.Statistics[check].Succeeded != 15 {
		t.Fatalf("task %s %+v", got.Status, got.Statistics)
	}
}

// TestPoisonedFindingIsIsolated: a finding whose application fails in the
// database (here a trigger) does not hold back its batch, is retried on
// later claims, and after MaxAttempts is recorded FAILED.
func TestPoisonedFindingIsIsolated(t *testing.T) {
	f := newFixture(t)
	seeded := f.seed(enginetest.Options{Findings: 5, NoThings: true})
	f.action("deactivate", deactivate())
	poison := []string{`CREATE TRIGGER poison BEFORE UPDATE ON certificates WHEN NEW.id = '` + seeded[2].CertificateID + `'
		BEGIN SELECT RAISE(ABORT, 'poisoned'); END`}
	if pgtest.URL() != "" {
		poison = []string{`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF NEW.id = '` + seeded[2].CertificateID + `' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$`,
			`CREATE TRIGGER poison BEFORE UPDATE ON certificates FOR EACH ROW EXECUTE FUNCTION poison()`}
	}
	for _, q := range poison {
		if _, err := f.raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	f.start("t1", warden.MitigationTaskTarget{AuditTaskID: auditID}, map[string][]string{check: {"deactivate"}})
	e := f.engine(engine.Options{Lease: time.Second})
	for attempt := 1; attempt <= engine.MaxAttempts; attempt++ {
		_, err := e.RunOnce(f.ctx)
		if attempt < engine.MaxAttempts && (err == nil || !strings.Contains(err.Error(), "poisoned")) {
			t.Fatalf("attempt %d: %v, want the poisoned finding's error", attempt, err)
		}
		if attempt == engine.MaxAttempts && err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		if got := f.task("t1").Statistics[check].Succeeded; got != 4 {
			t.Fatalf("attempt %d: %d findings succeeded, want the 4 others", attempt, got)
		}
		f.now = f.now.Add(2 * time.Second)
	}
	got := f.task("t1")
	if got.Status != warden.MitigationTaskFailed || got.Statistics[check] != (warden.MitigationTaskStatistics{Total: 5, Succeeded: 4, Failed: 1}) {
		t.Fatalf("task %s %+v, want FAILED with 4 succeeded and 1 failed", got.Status, got.Statistics[check])
	}
	execs, _, err := f.db.MitigationExecutions(f.ctx, scope, warden.MitigationExecutionFilter{TaskID: "t1", FindingID: seeded[2].FindingID}, warden.Page{Limit: 10})
	if err != nil || len(execs) != 1 || execs[0].Status != warden.ExecutionFailed || execs[0].ErrorCode != warden.ExecErrInternal ||
		!strings.Contains(execs[0].Message, "poisoned") {
		t.Fatalf("poisoned execution %+v %v", execs, err)
	}
	if got := f.certStatus(seeded[2].CertificateID); got != warden.CertActive {
		t.Fatalf("poisoned certificate %s, want ACTIVE", got)
	}
}
