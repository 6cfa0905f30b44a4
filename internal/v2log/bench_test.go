package v2log_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/v2log"
)

func benchEvent() warden.DataPlaneEvent {
	return warden.DataPlaneEvent{Scope: scopeA, Type: warden.EventPublishIn, Status: warden.StatusSuccess, ClientID: "c",
		PrincipalID: "p", SourceIP: "10.0.0.1", SourcePort: 1, Protocol: "MQTT", Topic: "dt/c/temp", At: time.Now()}
}

// benchWorker feeds b.N publish events through the default queue as fast
// as the worker takes them (a dropped event is offered again) and times the
// worker judging (and, at INFO, storing) them all.
func benchWorker(b *testing.B, level string) {
	f := newFixture(b)
	f.options(scopeA, warden.V2LoggingOptions{DefaultLogLevel: level})
	o := v2log.New(v2log.Options{Store: f.store, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	e := benchEvent()
	b.ResetTimer()
	start := time.Now()
	o.Start()
	for range b.N {
		for d := o.Dropped(); ; d = o.Dropped() {
			o.Observe(e)
			if o.Dropped() == d {
				break
			}
			time.Sleep(100 * time.Microsecond) // the queue is full
		}
	}
	o.Stop()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkWorkerFiltered: events the account's level does not admit.
func BenchmarkWorkerFiltered(b *testing.B) { benchWorker(b, warden.LogLevelError) }

// BenchmarkWorkerStored: every event becomes an entry in the server log and the store.
func BenchmarkWorkerStored(b *testing.B) { benchWorker(b, warden.LogLevelInfo) }

// BenchmarkObserve is the broker's cost per event: one non-blocking send.
func BenchmarkObserve(b *testing.B) {
	o := v2log.New(v2log.Options{QueueSize: b.N})
	e := benchEvent()
	b.ResetTimer()
	for range b.N {
		o.Observe(e)
	}
}
