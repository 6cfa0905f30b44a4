package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/warden-iot/warden"
)

// violationPruner deletes Detect violations, events and metric datapoints
// older than warden.ViolationRetention, at start and then every interval.
type violationPruner struct {
	store    warden.ViolationStore
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration
	stop     chan struct{}
	done     sync.WaitGroup
}

func newViolationPruner(store warden.ViolationStore, log *slog.Logger) *violationPruner {
	return &violationPruner{store: store, log: log, now: time.Now, interval: time.Hour, stop: make(chan struct{})}
}

// Start runs the pruning loop until Stop.
func (p *violationPruner) Start() {
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(p.interval)
		defer t.Stop()
		for {
			p.Prune(context.Background()) // a server started after a long stop prunes now
			select {
			case <-t.C:
			case <-p.stop:
				return
			}
		}
	}()
}

// Stop ends the loop and waits for a running prune.
func (p *violationPruner) Stop() {
	close(p.stop)
	p.done.Wait()
}

// Prune deletes what is older than the retention.
func (p *violationPruner) Prune(ctx context.Context) {
	before := p.now().Add(-warden.ViolationRetention)
	if err := p.store.PruneViolations(ctx, before); err != nil {
		p.log.Error("Detect violation pruning failed", "err", err.Error())
	}
}
