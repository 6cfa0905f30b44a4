package e2e_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/pgtest"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// seedViolations writes n things and an active violation of profile
// "fleet" for each, as the evaluator would have recorded them.
func seedViolations(ctx context.Context, raw *sql.DB, s warden.Scope, n int) error {
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().UnixMilli()
	behavior := `{"name":"loud","metric":"aws:num-messages-sent","criteria":{"comparisonOperator":"greater-than","value":{"count":10}}}`
	for i := range n {
		thing := fmt.Sprintf("device-%06d", i)
		if _, err := tx.ExecContext(ctx, `INSERT INTO things (account, region, name, id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			s.Account, s.Region, thing, warden.NewUUID(), now, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO detect_violations (account, region, violation_id, thing_name, profile_name, behavior_name,
				behavior, criteria_type, start_time, last_violation_time) VALUES (?, ?, ?, ?, 'fleet', 'loud', ?, 'STATIC', ?, ?)`,
			s.Account, s.Region, fmt.Sprintf("%032x", i), thing, behavior, now, now); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// createProfile creates security profile name.
func createProfile(t *testing.T, c *iot.Client, name string) {
	t.Helper()
	if _, err := c.CreateSecurityProfile(context.Background(), &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

// TestDetectMitigationSurvivesSIGKILL runs a Detect mitigation task over
// 20,000 violations (WARDEN_CRASH_VIOLATIONS) of one security profile — an
// ADD_THINGS_TO_THING_GROUP action into a quarantine group — in a real
// `warden serve`, kills the server with SIGKILL mid-task, restarts it, and
// checks that the task completes with every thing moved exactly once.
func TestDetectMitigationSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server; skipped in -short mode")
	}
	if pgtest.URL() != "" {
		t.Skip("the SQLite crash test")
	}
	n := crashSize(t, "WARDEN_CRASH_VIOLATIONS", 20000)
	ctx := context.Background()
	dir := t.TempDir()
	bin := buildWarden(t)
	data := filepath.Join(dir, "data")
	scope := warden.Scope{Account: warden.DefaultAccount, Region: "us-east-1"}
	raw := openMigratedSQLite(t, data)
	err := seedViolations(ctx, raw, scope, n)
	raw.Close()
	if err != nil {
		t.Fatal(err)
	}

	srv := mitStartWarden(t, bin, data, "")
	iotc, _ := srv.clients()
	createProfile(t, iotc, "fleet")
	if _, err := iotc.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("quarantine")}); err != nil {
		t.Fatal(err)
	}
	if _, err := iotc.CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{ActionName: aws.String("quarantine"),
		RoleArn:      aws.String("arn:aws:iam::123456789012:role/mitigation"),
		ActionParams: &iottypes.MitigationActionParams{AddThingsToThingGroupParams: &iottypes.AddThingsToThingGroupParams{ThingGroupNames: []string{"quarantine"}}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := iotc.StartDetectMitigationActionsTask(ctx, &iot.StartDetectMitigationActionsTaskInput{TaskId: aws.String("crash"),
		ClientRequestToken: aws.String("crash"), Target: &iottypes.DetectMitigationActionsTaskTarget{SecurityProfileName: aws.String("fleet")},
		Actions: []string{"quarantine"}}); err != nil {
		t.Fatal(err)
	}
	describe := func() *iottypes.DetectMitigationActionsTaskSummary {
		t.Helper()
		d, err := iotc.DescribeDetectMitigationActionsTask(ctx, &iot.DescribeDetectMitigationActionsTaskInput{TaskId: aws.String("crash")})
		if err != nil {
			t.Fatal(err)
		}
		return d.TaskSummary
	}
	killed := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if done := aws.ToInt64(describe().TaskStatistics.ActionsExecuted); done >= int64(n/4) {
			if done >= int64(n) {
				t.Fatalf("the task finished before it could be killed (%d executions)", done)
			}
			srv.kill(t)
			killed = true
			t.Logf("SIGKILL with %d of %d executions done", done, n)
			break
		}
	}
	if !killed {
		t.Fatal("the task did not reach a quarter in 60 s")
	}

	srv = mitStartWarden(t, bin, data, srv.key+" "+srv.secret)
	iotc, _ = srv.clients()
	start := time.Now()
	for {
		s := describe()
		if s.TaskStatus != iottypes.DetectMitigationActionsTaskStatusInProgress {
			st := s.TaskStatistics
			if s.TaskStatus != iottypes.DetectMitigationActionsTaskStatusSuccessful || aws.ToInt64(st.ActionsExecuted) != int64(n) ||
				aws.ToInt64(st.ActionsSkipped)+aws.ToInt64(st.ActionsFailed) != 0 {
				t.Fatalf("task %s with %d/%d/%d, want SUCCESSFUL with %d executed", s.TaskStatus,
					aws.ToInt64(st.ActionsExecuted), aws.ToInt64(st.ActionsSkipped), aws.ToInt64(st.ActionsFailed), n)
			}
			break
		}
		if time.Since(start) > 60*time.Second {
			t.Fatal("the task did not complete within 60 s of the restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("completed %v after the restart", time.Since(start).Round(time.Millisecond))
	srv.stop(t)

	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, sqlstore.SQLiteFile)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := counter(t, db)
	if c := count(`SELECT COUNT(*) FROM detect_mitigation_executions WHERE status <> 'SUCCESSFUL'`); c != 0 {
		t.Fatalf("%d executions not SUCCESSFUL", c)
	}
	if c := count(`SELECT COUNT(*) FROM detect_mitigation_executions`); c != n {
		t.Fatalf("%d executions, want %d", c, n)
	}
	total := count(`SELECT COUNT(*) FROM change_log WHERE operation = 'AddThingToThingGroup' AND actor = 'detect-task:crash'`)
	distinct := count(`SELECT COUNT(DISTINCT resource_arn) FROM change_log WHERE operation = 'AddThingToThingGroup' AND actor = 'detect-task:crash'`)
	if total != n || distinct != n {
		t.Fatalf("%d change-log joins for %d things, want %d and %d (each once)", total, distinct, n, n)
	}
	if c := count(`SELECT COUNT(*) FROM thing_group_members WHERE group_name = 'quarantine'`); c != n {
		t.Fatalf("%d things in quarantine, want %d", c, n)
	}
}

// TestMultiNodeDetectMitigationSurvivesSIGKILL runs three `warden serve`
// nodes on one PostgreSQL schema, starts a Detect mitigation task over
// 10,000 violations through one of them, SIGKILLs another mid-task, and
// checks that the survivors finish it with every thing moved exactly once.
func TestMultiNodeDetectMitigationSurvivesSIGKILL(t *testing.T) {
	mnSkip(t)
	const n = 10000
	ctx := context.Background()
	bin := buildWarden(t)
	root := t.TempDir()
	database := pgtest.Database(t, root)
	scope := warden.Scope{Account: warden.DefaultAccount, Region: "us-east-1"}
	nodes := mnStartNodes(t, bin, database, root, 3)
	key, secret := mnCredentials(t, nodes)
	db := mnOpenDB(t, database)
	if err := seedViolations(ctx, db, scope, n); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`ANALYZE things, detect_violations`); err != nil {
		t.Fatal(err)
	}
	c0, c1 := nodes[0].client(key, secret), nodes[1].client(key, secret)
	createProfile(t, c0, "fleet")
	if _, err := c0.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("quarantine")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c0.CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{ActionName: aws.String("quarantine"),
		RoleArn:      aws.String("arn:aws:iam::123456789012:role/mitigation"),
		ActionParams: &iottypes.MitigationActionParams{AddThingsToThingGroupParams: &iottypes.AddThingsToThingGroupParams{ThingGroupNames: []string{"quarantine"}}},
	}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if _, err := c1.StartDetectMitigationActionsTask(ctx, &iot.StartDetectMitigationActionsTaskInput{TaskId: aws.String("multinode"),
		ClientRequestToken: aws.String("multinode"), Target: &iottypes.DetectMitigationActionsTaskTarget{SecurityProfileName: aws.String("fleet")},
		Actions: []string{"quarantine"}}); err != nil {
		t.Fatal(err)
	}
	describe := func(c *iot.Client) *iottypes.DetectMitigationActionsTaskSummary {
		t.Helper()
		d, err := c.DescribeDetectMitigationActionsTask(ctx, &iot.DescribeDetectMitigationActionsTaskInput{TaskId: aws.String("multinode")})
		if err != nil {
			t.Fatal(err)
		}
		return d.TaskSummary
	}
	victim := nodes[2]
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the task did not reach a fifth of its violations in 60 s")
		}
		done := aws.ToInt64(describe(c0).TaskStatistics.ActionsExecuted)
		if done >= n {
			t.Fatalf("the task finished before a node could be killed (%d executions)", done)
		}
		if done >= n/5 {
			victim.kill(t)
			t.Logf("SIGKILL %s with %d of %d executions done (%v after the start)", victim.name, done, n, time.Since(began).Round(time.Millisecond))
			break
		}
	}
	killedAt := time.Now()
	for {
		s := describe(c0)
		if s.TaskStatus != iottypes.DetectMitigationActionsTaskStatusInProgress {
			if s.TaskStatus != iottypes.DetectMitigationActionsTaskStatusSuccessful || aws.ToInt64(s.TaskStatistics.ActionsExecuted) != n {
				t.Fatalf("task %s with %d executed, want SUCCESSFUL with %d", s.TaskStatus, aws.ToInt64(s.TaskStatistics.ActionsExecuted), n)
			}
			break
		}
		if time.Since(killedAt) > 120*time.Second {
			t.Fatalf("the task did not complete within 120 s of the kill: %d executed", aws.ToInt64(s.TaskStatistics.ActionsExecuted))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("SUCCESSFUL %v after the kill", time.Since(killedAt).Round(time.Millisecond))
	count := counter(t, db)
	if c := count(`SELECT COUNT(*) FROM detect_mitigation_executions WHERE status <> 'SUCCESSFUL'`); c != 0 {
		t.Errorf("%d executions not SUCCESSFUL", c)
	}
	total := count(`SELECT COUNT(*) FROM change_log WHERE operation = 'AddThingToThingGroup' AND actor = 'detect-task:multinode'`)
	distinct := count(`SELECT COUNT(DISTINCT resource_arn) FROM change_log WHERE operation = 'AddThingToThingGroup' AND actor = 'detect-task:multinode'`)
	if total != n || distinct != n {
		t.Errorf("%d change-log joins for %d things, want %d and %d (each once)", total, distinct, n, n)
	}
	if c := count(`SELECT COUNT(*) FROM thing_group_members WHERE group_name = 'quarantine'`); c != n {
		t.Errorf("%d things in quarantine, want %d", c, n)
	}
	mnCheckLogs(t, nodes[:2])
}
