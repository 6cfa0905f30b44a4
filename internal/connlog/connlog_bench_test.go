package connlog

import (
	"fmt"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

// BenchmarkObserverWrite measures how fast the writer stores connection
// events (half connects, half disconnects of those sessions): b.N events
// are observed into a queue that holds them all, then Close writes them.
func BenchmarkObserverWrite(b *testing.B) {
	db := openStore(b)
	l := New(Options{Store: db, QueueSize: b.N + 1})
	now := time.Now().UTC()
	b.ResetTimer()
	l.Start()
	for i := range b.N {
		if i%2 == 0 {
			l.Observe(connectEvent(i, now))
		} else {
			l.Observe(warden.DataPlaneEvent{Scope: scope, Type: warden.EventDisconnect, SessionID: fmt.Sprintf("session-%04d", i-1), At: now})
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if l.Dropped() != 0 {
		b.Fatalf("%d dropped", l.Dropped())
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
