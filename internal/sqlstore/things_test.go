package sqlstore

import (
	"context"
	"errors"
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
