package connlog

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/sqlstore"
	"github.com/warden-iot/warden/internal/wardentest"
)

var scope = warden.Scope{Account: "123456789012", Region: "us-east-1"}

func openStore(t testing.TB) *sqlstore.DB { return wardentest.NewStore(t) }

func connectEvent(i int, at time.Time) warden.DataPlaneEvent {
	return warden.DataPlaneEvent{Scope: scope, Type: warden.EventConnect, Status: warden.StatusSuccess,
		SessionID: fmt.Sprintf("session-%04d", i), ClientID: fmt.Sprintf("client-%04d", i), PrincipalID: "cert", SourceIP: "192.0.2.1",
		SourcePort: 1000 + i, At: at}
}

func rows(t *testing.T, db *sqlstore.DB) []warden.ConnectionRecord {
	t.Helper()
	var out []warden.ConnectionRecord
	p := warden.Page{Limit: 250}
	for {
		page, next, err := db.Connections(context.Background(), scope,
			warden.ConnectionFilter{Start: time.Unix(0, 0), End: time.Now().Add(1000 * time.Hour)}, p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		p.After = next
	}
}

// TestObserverWritesEvents: connects and disconnects observed become rows
// (the rest of the data plane and unregistered certificates do not), and
// Close writes everything observed before it.
func TestObserverWritesEvents(t *testing.T) {
	db := openStore(t)
	l := New(Options{Store: db, BatchSize: 7})
	l.Start()
	now := time.Now().UTC().Truncate(time.Millisecond)
	const n = 300
	for i := range n {
		l.Observe(connectEvent(i, now))
		l.Observe(warden.DataPlaneEvent{Scope: scope, Type: warden.EventPublishIn, SessionID: fmt.Sprintf("session-%04d", i), At: now})
		if i%2 == 0 {
			l.Observe(warden.DataPlaneEvent{Scope: scope, Type: warden.EventDisconnect, SessionID: fmt.Sprintf("session-%04d", i),
				DisconnectReason: "CLIENT_INITIATED_DISCONNECT", At: now.Add(time.Second)})
		}
	}
	unregistered := connectEvent(9999, now)
	unregistered.Scope = warden.Scope{}
	l.Observe(unregistered)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := rows(t, db)
	if len(got) != n {
		t.Fatalf("%d rows after Close, want %d (dropped %d)", len(got), n, l.Dropped())
	}
	open := 0
	for _, r := range got {
		if r.Open() {
			open++
		} else if r.DisconnectReason != "CLIENT_INITIATED_DISCONNECT" || !r.DisconnectedAt.Equal(now.Add(time.Second)) {
			t.Fatalf("closed row %+v", r)
		}
	}
	if open != n/2 {
		t.Fatalf("%d open sessions, want %d", open, n/2)
	}
	if l.Written() != n+n/2 || l.Dropped() != 0 {
		t.Fatalf("written %d dropped %d, want %d and 0", l.Written(), l.Dropped(), n+n/2)
	}
	// Observing after Close neither blocks nor writes.
	l.Observe(connectEvent(5000, now))
	if got := rows(t, db); len(got) != n {
		t.Fatalf("%d rows after a late event, want %d", len(got), n)
	}
}

// TestObserverDropsWhenFull: with the writer not running, a full queue
// drops (and counts) instead of blocking; what was queued is still written
// by Close.
func TestObserverDropsWhenFull(t *testing.T) {
	db := openStore(t)
	l := New(Options{Store: db, QueueSize: 10})
	now := time.Now().UTC()
	done := make(chan struct{})
	go func() {
		for i := range 25 {
			l.Observe(connectEvent(i, now))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Observe blocked on a full queue")
	}
	if l.Dropped() != 15 {
		t.Fatalf("dropped %d, want 15", l.Dropped())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db); len(got) != 10 {
		t.Fatalf("%d rows, want the 10 queued", len(got))
	}
}

// TestPruning drives the pruning loop with its tick and clock: rows whose
// last event is more than 31 days before the clock go, the others stay.
func TestPruning(t *testing.T) {
	db := openStore(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(start.UnixNano())
	tick := make(chan time.Time)
	l := New(Options{Store: db, Now: func() time.Time { return time.Unix(0, clock.Load()).UTC() }, PruneTick: tick})
	ctx := context.Background()
	// old: connected and closed on day 0; open: connected on day 0, still
	// open; recent: connected on day 0, disconnected on day 20.
	ev := []warden.DataPlaneEvent{connectEvent(1, start), connectEvent(2, start), connectEvent(3, start),
		{Scope: scope, Type: warden.EventDisconnect, SessionID: "session-0001", At: start.Add(time.Hour)},
		{Scope: scope, Type: warden.EventDisconnect, SessionID: "session-0003", At: start.Add(20 * 24 * time.Hour)}}
	if err := db.RecordConnections(ctx, ev); err != nil {
		t.Fatal(err)
	}
	l.Start()
	defer l.Close()
	prune := func(day int) []string {
		clock.Store(start.Add(time.Duration(day) * 24 * time.Hour).UnixNano())
		tick <- time.Now()
		tick <- time.Now() // returns once the first prune has finished
		var ids []string
		for _, r := range rows(t, db) {
			ids = append(ids, r.SessionID)
		}
		return ids
	}
	if got := fmt.Sprint(prune(30)); got != "[session-0003 session-0002 session-0001]" {
		t.Fatalf("day 30: %s", got)
	}
	if got := fmt.Sprint(prune(32)); got != "[session-0003]" {
		t.Fatalf("day 32: %s (closed and open sessions last seen on day 0 go)", got)
	}
	if got := fmt.Sprint(prune(52)); got != "[]" {
		t.Fatalf("day 52: %s", got)
	}
}
