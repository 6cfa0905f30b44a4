package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/pgtest"
)

// TestInvalidateViolations: the helper security-profile changes use ends
// the active violations of the behaviours named (all with nil) with an
// alarm-invalidated event, and leaves other profiles' alone.
func TestInvalidateViolations(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			var db *DB
			var err error
			if dialect == "postgres" {
				pgtest.SkipUnlessPostgres(t)
				db, err = OpenPostgres(ctx, pgtest.Database(t, t.TempDir()), PostgresOptions{MaxConns: 2, MasterKey: testMasterKey})
			} else {
				db, err = OpenSQLite(ctx, t.TempDir(), SQLiteOptions{Synchronous: "NORMAL", MasterKey: testMasterKey})
			}
			db = closeWithTest(t, db, err)
			s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
			now := time.UnixMilli(1_800_000_000_000).UTC()
			in := func(profile, behavior string) warden.DetectTransition {
				return warden.DetectTransition{ThingName: "t", SecurityProfileName: profile, Behavior: warden.Behavior{Name: behavior},
					Type: warden.ViolationInAlarm, At: now}
			}
			if _, err := db.ApplyDetectTransitions(ctx, s, []warden.DetectTransition{in("p", "a"), in("p", "b"), in("p", "c"), in("q", "a")}); err != nil {
				t.Fatal(err)
			}
			invalidate := func(behaviors []string) []warden.ViolationEvent {
				var events []warden.ViolationEvent
				if err := db.inTx(ctx, func(tx writeTx) (err error) {
					events, err = invalidateViolationsTx(ctx, tx, s, "p", behaviors, now.Add(time.Minute))
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return events
			}
			if got := invalidate([]string{"b"}); len(got) != 1 || got[0].Behavior.Name != "b" || got[0].Type != warden.ViolationInvalidated {
				t.Fatalf("invalidate b = %+v", got)
			}
			if got := invalidate(nil); len(got) != 2 || got[0].Behavior.Name != "a" || got[1].Behavior.Name != "c" {
				t.Fatalf("invalidate all = %+v", got)
			}
			active, _, err := db.ActiveViolations(ctx, s, warden.ViolationFilter{}, warden.Page{Limit: 10})
			if err != nil || len(active) != 1 || active[0].SecurityProfileName != "q" {
				t.Fatalf("active = %+v, %v; want only q's", active, err)
			}
			events, _, err := db.ViolationEvents(ctx, s, warden.ViolationFilter{SecurityProfileName: "p", Start: now, End: now.Add(time.Hour)}, warden.Page{Limit: 10})
			if err != nil || len(events) != 6 || events[0].Type != warden.ViolationInvalidated || !events[0].Time.Equal(now.Add(time.Minute)) {
				t.Fatalf("events of p = %+v, %v", events, err)
			}
		})
	}
}
