package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// TestViolationPrunerKeepsTheRetention: the pruner's first round, at
// start, deletes the violation ended before the retention and keeps the
// one that is still active.
func TestViolationPrunerKeepsTheRetention(t *testing.T) {
	ctx := context.Background()
	store, err := sqlstore.OpenSQLite(ctx, t.TempDir(), sqlstore.SQLiteOptions{Synchronous: "NORMAL", MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	now := time.Now().UTC()
	old := now.Add(-warden.ViolationRetention - time.Hour)
	b := warden.Behavior{Name: "b", Metric: "aws:num-messages-sent"}
	if _, err := store.ApplyDetectTransitions(ctx, s, []warden.DetectTransition{
		{ThingName: "old", SecurityProfileName: "p", Behavior: b, Type: warden.ViolationInAlarm, At: old},
		{ThingName: "old", SecurityProfileName: "p", Behavior: b, Type: warden.ViolationCleared, At: old.Add(time.Minute)},
		{ThingName: "new", SecurityProfileName: "p", Behavior: b, Type: warden.ViolationInAlarm, At: now},
	}); err != nil {
		t.Fatal(err)
	}
	p := newViolationPruner(store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	p.now = func() time.Time { return now }
	p.Start()
	deadline := time.Now().Add(5 * time.Second)
	for {
		events, _, err := store.ViolationEvents(ctx, s, warden.ViolationFilter{Start: old.Add(-time.Hour), End: now}, warden.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 1 && events[0].ThingName == "new" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events after pruning = %+v, want only the new violation's", events)
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Stop()
	active, _, err := store.ActiveViolations(ctx, s, warden.ViolationFilter{}, warden.Page{Limit: 10})
	if err != nil || len(active) != 1 || active[0].ThingName != "new" {
		t.Fatalf("active after pruning = %+v, %v", active, err)
	}
}
