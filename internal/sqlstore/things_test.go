package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warden-iot/warden/internal/pgtest"

	"github.com/warden-iot/warden"
)

// TestAddThingToGroupTxJoinsTheCallersTransaction checks that the helper a
// mitigation executor uses writes nothing of its own: the membership and its
// change-log row commit or roll back with the caller's transaction.
func TestAddThingToGroupTxJoinsTheCallersTransaction(t *testing.T) {
	ctx := warden.WithActor(context.Background(), "execution:e1")
	db, err := Open(ctx, Options{Database: pgtest.Database(t, t.TempDir()), DataDir: t.TempDir(), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	now := time.Now().UTC()
	if _, _, err := db.CreateThing(ctx, s, warden.Thing{Name: "t", ID: warden.NewUUID(), CreationDate: now, LastModifiedDate: now}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.CreateThingGroup(ctx, s, warden.ThingGroup{Name: "quarantine", ID: warden.NewUUID(), CreationDate: now, LastModifiedDate: now}, nil); err != nil {
		t.Fatal(err)
	}
	state := func() string {
		groups, _, err := db.ThingGroupsForThing(ctx, s, "t", warden.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		changes, err := db.Changes(ctx, warden.ChangeFilter{ResourceArn: warden.ThingARN(s, "t")})
		if err != nil {
			t.Fatal(err)
		}
		last := changes[len(changes)-1]
		return last.Operation + " " + last.After + " " + last.Actor + " groups=" + thingsJoin(groups)
	}
	before := state()

	for _, commit := range []bool{false, true} {
		err := db.inTx(ctx, func(tx writeTx) error {
			added, err := addThingToGroupTx(ctx, tx, s, "t", "quarantine", true, now)
			if err != nil || !added {
				t.Fatalf("addThingToGroupTx: added=%v err=%v", added, err)
			}
			if !commit {
				return thingsErrRollback
			}
			return nil
		})
		if !commit && !errors.Is(err, thingsErrRollback) {
			t.Fatalf("rolled-back transaction: %v", err)
		}
		if commit {
			if err != nil {
				t.Fatal(err)
			}
			if got, want := state(), `AddThingToThingGroup {"thingGroupName":"quarantine"} execution:e1 groups=quarantine`; got != want {
				t.Errorf("after commit: %s, want %s", got, want)
			}
		} else if got := state(); got != before {
			t.Errorf("after rollback: %s, want %s", got, before)
		}
	}
	// A second add inside a transaction reports that nothing changed.
	err = db.inTx(ctx, func(tx writeTx) error {
		added, err := addThingToGroupTx(ctx, tx, s, "t", "quarantine", false, now)
		if err != nil || added {
			t.Errorf("second add: added=%v err=%v", added, err)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

var thingsErrRollback = errors.New("roll back")

func thingsJoin(names []string) string { return strings.Join(names, ",") }

// fillTestStore opens a store with n things whose attribute "v" is "0" or
// "1" alternately.
func fillTestStore(t *testing.T, n int) (*DB, warden.Scope) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, Options{Database: pgtest.Database(t, t.TempDir()), DataDir: t.TempDir(), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	now := time.Now().UTC()
	var b warden.BulkBatch
	for i := range n {
		b.Things = append(b.Things, warden.Thing{Name: fmt.Sprintf("t%04d", i), ID: warden.NewUUID(),
			Attributes: map[string]string{"v": fmt.Sprint(i % 2)}, CreationDate: now, LastModifiedDate: now})
	}
	if _, err := db.BulkInsert(ctx, s, &b, now); err != nil {
		t.Fatal(err)
	}
	return db, s
}

// checkDynamicMembers fails unless the group's members are exactly the
// things its query matches, and the group is ACTIVE.
func checkDynamicMembers(t *testing.T, db *DB, s warden.Scope, group string) {
	t.Helper()
	ctx := context.Background()
	g, err := db.ThingGroup(ctx, s, group)
	if err != nil {
		t.Fatal(err)
	}
	if g.Query.Status != warden.DynamicGroupActive {
		t.Errorf("group %s is %s, want ACTIVE", group, g.Query.Status)
	}
	q, err := warden.ParseFleetQuery(g.Query.QueryString)
	if err != nil {
		t.Fatal(err)
	}
	things, _, err := db.Things(ctx, s, warden.ThingFilter{}, warden.Page{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range things {
		if q.Match(things[i].Fleet()) {
			want = append(want, things[i].Name)
		}
	}
	got, _, err := db.ThingsInThingGroup(ctx, s, group, false, warden.Page{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("group %s has %d members, its query matches %d things", group, len(got), len(want))
	}
}

// TestDynamicGroupFillRacesThingWrites changes things while dynamic groups
// are filled page by page outside the write transaction: whatever the
// interleaving, each group ends with exactly the things its query matches.
func TestDynamicGroupFillRacesThingWrites(t *testing.T) {
	db, s := fillTestStore(t, 1500)
	ctx := context.Background()
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		// Flip things' attribute and create new ones, all over the names.
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			now := time.Now().UTC()
			name := fmt.Sprintf("t%04d", (i*7919)%1500)
			v := fmt.Sprint(i % 2)
			if _, err := db.UpdateThing(ctx, s, name, warden.ThingUpdate{Attributes: map[string]string{"v": v}, Merge: true}, now); err != nil {
				done <- err
				return
			}
			if i%5 == 0 {
				if _, _, err := db.CreateThing(ctx, s, warden.Thing{Name: fmt.Sprintf("t%04d-new", (i*104729)%1500), ID: warden.NewUUID(),
					Attributes: map[string]string{"v": v}, CreationDate: now, LastModifiedDate: now}); err != nil && warden.ErrorCode(err) != warden.CodeResourceAlreadyExists {
					done <- err
					return
				}
			}
		}
	}()
	now := time.Now().UTC()
	if _, _, err := db.CreateThingGroup(ctx, s, warden.ThingGroup{Name: "ones", ID: warden.NewUUID(), CreationDate: now, LastModifiedDate: now,
		Query: &warden.DynamicGroupQuery{IndexName: warden.DefaultIndexName, QueryString: "attributes.v:1", QueryVersion: warden.DefaultQueryVersion}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateThingGroup(ctx, s, "ones", warden.ThingGroupUpdate{Dynamic: true, QueryString: new("attributes.v:0")}, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkDynamicMembers(t, db, s, "ones")
}

// TestResumeDynamicGroupFills: a fill cut short (the group left BUILDING
// with only part of its members) is finished by ResumeDynamicGroupFills.
func TestResumeDynamicGroupFills(t *testing.T) {
	db, s := fillTestStore(t, 300)
	ctx := context.Background()
	now := time.Now().UTC()
	if _, _, err := db.CreateThingGroup(ctx, s, warden.ThingGroup{Name: "ones", ID: warden.NewUUID(), CreationDate: now, LastModifiedDate: now,
		Query: &warden.DynamicGroupQuery{IndexName: warden.DefaultIndexName, QueryString: "attributes.v:1", QueryVersion: warden.DefaultQueryVersion}}, nil); err != nil {
		t.Fatal(err)
	}
	// As a process stopped after the first pages would leave it.
	if err := db.inTx(ctx, func(tx writeTx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE thing_groups SET status = ? WHERE name = 'ones'`, warden.DynamicGroupBuilding); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM thing_group_members WHERE group_name = 'ones' AND thing_name > 't0100'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.ResumeDynamicGroupFills(ctx); err != nil {
		t.Fatal(err)
	}
	checkDynamicMembers(t, db, s, "ones")
}

// TestDynamicGroupFillSeesWritesAfterItsRead changes things of a page after
// the fill read it and before it writes it: the write must go by the things
// as they are, not as they were read.
func TestDynamicGroupFillSeesWritesAfterItsRead(t *testing.T) {
	db, s := fillTestStore(t, 300)
	ctx := context.Background()
	first := true
	fillPageReadHook = func([]string) {
		if !first {
			return
		}
		first = false
		now := time.Now().UTC()
		for name, v := range map[string]string{"t0001": "0", "t0002": "1"} {
			if _, err := db.UpdateThing(ctx, s, name, warden.ThingUpdate{Attributes: map[string]string{"v": v}, Merge: true}, now); err != nil {
				t.Error(err)
			}
		}
		if err := db.DeleteThing(ctx, s, "t0003", nil, now); err != nil {
			t.Error(err)
		}
		if _, _, err := db.CreateThing(ctx, s, warden.Thing{Name: "t0003", ID: warden.NewUUID(),
			Attributes: map[string]string{"v": "0"}, CreationDate: now, LastModifiedDate: now}); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { fillPageReadHook = nil })
	now := time.Now().UTC()
	if _, _, err := db.CreateThingGroup(ctx, s, warden.ThingGroup{Name: "ones", ID: warden.NewUUID(), CreationDate: now, LastModifiedDate: now,
		Query: &warden.DynamicGroupQuery{IndexName: warden.DefaultIndexName, QueryString: "attributes.v:1", QueryVersion: warden.DefaultQueryVersion}}, nil); err != nil {
		t.Fatal(err)
	}
	if first {
		t.Fatal("the hook did not run")
	}
	checkDynamicMembers(t, db, s, "ones")
}
