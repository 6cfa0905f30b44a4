package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/pgtest"
)

// TestDetectMitigationsConcurrentEngines applies one task's executions with
// several engines at once — on PostgreSQL on two stores (nodes) of one
// database — and checks that each execution was applied exactly once.
func TestDetectMitigationsConcurrentEngines(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() *DB {
		var db *DB
		var err error
		if pgtest.URL() != "" {
			db, err = OpenPostgres(ctx, pgtest.Database(t, dir), PostgresOptions{MaxConns: 4, MasterKey: testMasterKey})
		} else {
			db, err = OpenSQLite(ctx, dir, SQLiteOptions{Synchronous: "NORMAL", MasterKey: testMasterKey})
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	nodes := []*DB{open()}
	if pgtest.URL() != "" {
		nodes = append(nodes, open())
	}
	db := nodes[0]
	s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	now := time.UnixMilli(1_800_000_000_000).UTC()
	const n = 300
	if _, _, err := db.CreateThingGroup(ctx, s, warden.ThingGroup{Name: "quarantine", ID: "g", CreationDate: now, LastModifiedDate: now}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.CreateMitigationAction(ctx, s, warden.MitigationAction{Name: "quarantine", ID: "a", RoleArn: "arn:aws:iam::123456789012:role/r",
		Params:       warden.MitigationActionParams{AddThingsToThingGroupParams: &warden.AddThingsToThingGroupParams{ThingGroupNames: []string{"quarantine"}}},
		CreationDate: now, LastModifiedDate: now}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateSecurityProfile(ctx, s, warden.SecurityProfile{Name: "p"}, nil, now); err != nil {
		t.Fatal(err)
	}
	b := warden.Behavior{Name: "loud", Metric: "aws:num-messages-sent"}
	var ts []warden.DetectTransition
	for i := range n {
		name := fmt.Sprintf("thing-%03d", i)
		if _, _, err := db.CreateThing(ctx, s, warden.Thing{Name: name, ID: name, CreationDate: now, LastModifiedDate: now}); err != nil {
			t.Fatal(err)
		}
		ts = append(ts, warden.DetectTransition{ThingName: name, SecurityProfileName: "p", Behavior: b, Type: warden.ViolationInAlarm, At: now})
	}
	if _, err := db.ApplyDetectTransitions(ctx, s, ts); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.StartDetectMitigationTask(ctx, s, warden.DetectMitigationTask{TaskID: "race", ClientRequestToken: "race",
		Target: warden.DetectMitigationTarget{SecurityProfileName: "p"}, Actions: []warden.MitigationAction{{Name: "quarantine"}}}, now); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				worked, err := nodes[i%len(nodes)].ApplyDetectMitigations(ctx, now, 7, warden.MitigationApplyOptions{})
				if err != nil {
					errs <- err
					return
				}
				if !worked {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d executions applied by 4 engines in %v", n, time.Since(start))
	task, err := db.DetectMitigationTask(ctx, s, "race")
	if err != nil || task.Status != warden.DetectTaskSuccessful || task.Executed != n || task.Skipped+task.Failed != 0 {
		t.Fatalf("task = %+v, %v", task, err)
	}
	changes, err := db.Changes(ctx, warden.ChangeFilter{Scope: &s, Limit: 10 * n})
	if err != nil {
		t.Fatal(err)
	}
	joins := map[string]int{}
	for _, c := range changes {
		if c.Operation == "AddThingToThingGroup" && c.Actor == warden.DetectTaskActor("race") {
			joins[c.ResourceArn]++
		}
	}
	if len(joins) != n {
		t.Fatalf("%d things joined, want %d", len(joins), n)
	}
	for arn, k := range joins {
		if k != 1 {
			t.Fatalf("%s joined %d times", arn, k)
		}
	}
}
