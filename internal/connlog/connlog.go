// Package connlog keeps the connection log of the device endpoint: an
// observer of the broker's data-plane events that queues connects and
// disconnects without blocking, writes them to the store in batches, and
// prunes rows older than warden.ConnectionLogRetention.
package connlog

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warden-iot/warden"
)

// Options configure a Log.
type Options struct {
	Store warden.ConnectionLogStore
	Log   *slog.Logger
	// Now is the clock of pruning (default time.Now).
	Now func() time.Time
	// QueueSize bounds the events waiting to be written (default 65536);
	// events past it are dropped and counted.
	QueueSize int
	// BatchSize is the most events one transaction writes (default 512).
	BatchSize int
	// PruneEvery is how often rows past the retention are deleted
	// (default one hour); Retention is that age (default
	// warden.ConnectionLogRetention).
	PruneEvery time.Duration
	Retention  time.Duration
	// PruneTick, when set, replaces the pruning ticker: a prune runs for
	// every value received, none at Start (tests drive pruning with it; on
	// an unbuffered channel, a send returns once the previous prune ended).
	PruneTick <-chan time.Time
}

// Log is the connection log's observer and writer. Observe may be called
// from any goroutine; Start begins writing and pruning, Close flushes what
// was queued and stops.
type Log struct {
	store      warden.ConnectionLogStore
	log        *slog.Logger
	now        func() time.Time
	batchSize  int
	pruneEvery time.Duration
	retention  time.Duration
	pruneTick  <-chan time.Time

	queue   chan warden.DataPlaneEvent
	dropped atomic.Int64
	written atomic.Int64
	// lastDropLog is when a drop was last logged (unix nanoseconds): a
	// flood of drops logs once a second, not once an event.
	lastDropLog atomic.Int64

	// closing makes Observe drop events once Close began.
	closing atomic.Bool
	mu      sync.Mutex
	started bool
	closed  bool
	stop    chan struct{}
	done    sync.WaitGroup
}

var _ warden.DataPlaneObserver = (*Log)(nil)

// New returns a Log; Start makes it write.
func New(o Options) *Log {
	l := &Log{store: o.Store, log: o.Log, now: o.Now, batchSize: o.BatchSize, pruneEvery: o.PruneEvery,
		retention: o.Retention, pruneTick: o.PruneTick, stop: make(chan struct{})}
	if l.log == nil {
		l.log = slog.Default()
	}
	if l.now == nil {
		l.now = time.Now
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 65536
	}
	if l.batchSize <= 0 {
		l.batchSize = 512
	}
	if l.pruneEvery <= 0 {
		l.pruneEvery = time.Hour
	}
	if l.retention <= 0 {
		l.retention = warden.ConnectionLogRetention
	}
	l.queue = make(chan warden.DataPlaneEvent, o.QueueSize)
	return l
}

// Observe queues connect and disconnect events of registered certificates;
// it never blocks: when the queue is full the event is dropped and counted.
func (l *Log) Observe(e warden.DataPlaneEvent) {
	if e.Scope == (warden.Scope{}) || (e.Type != warden.EventConnect && e.Type != warden.EventDisconnect) || l.closing.Load() {
		return
	}
	select {
	case l.queue <- e:
	default:
		n := l.dropped.Add(1)
		now := time.Now().UnixNano()
		last := l.lastDropLog.Load()
		if now-last >= int64(time.Second) && l.lastDropLog.CompareAndSwap(last, now) {
			l.log.Warn("connection log queue full: event dropped", "dropped_total", n, "queue_size", cap(l.queue),
				"event", e.Type, "client_id", e.ClientID)
		}
	}
}

// Dropped is how many events were dropped because the queue was full.
func (l *Log) Dropped() int64 { return l.dropped.Load() }

// Written is how many events were handed to the store successfully.
func (l *Log) Written() int64 { return l.written.Load() }

// Start begins the writer and the pruning loop (once).
func (l *Log) Start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started || l.closed {
		return
	}
	l.started = true
	l.done.Add(2)
	go l.writeLoop()
	go l.pruneLoop()
}

// Close stops taking events, writes what is queued and waits for the
// writer and the pruning loop to end. Stop the broker first: events it
// observes after Close are ignored.
func (l *Log) Close() error {
	l.closing.Store(true)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	started := l.started
	l.mu.Unlock()
	close(l.stop)
	if started {
		l.done.Wait()
	} else {
		l.drain()
	}
	return nil
}

func (l *Log) writeLoop() {
	defer l.done.Done()
	batch := make([]warden.DataPlaneEvent, 0, l.batchSize)
	for {
		select {
		case e := <-l.queue:
			batch = append(batch[:0], e)
			batch = l.fill(batch)
			l.write(batch)
		case <-l.stop:
			l.drain()
			return
		}
	}
}

// fill adds to batch what is queued already, up to the batch size: under
// load one transaction carries many events, when idle each goes at once.
func (l *Log) fill(batch []warden.DataPlaneEvent) []warden.DataPlaneEvent {
	for len(batch) < l.batchSize {
		select {
		case e := <-l.queue:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// drain writes everything still queued.
func (l *Log) drain() {
	batch := make([]warden.DataPlaneEvent, 0, l.batchSize)
	for {
		batch = l.fill(batch[:0])
		if len(batch) == 0 {
			return
		}
		l.write(batch)
	}
}

// write stores one batch. A failure is logged and the batch given up: the
// log is evidence for audits, not worth stalling the queue behind a store
// that is down.
func (l *Log) write(batch []warden.DataPlaneEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.store.RecordConnections(ctx, batch); err != nil {
		l.dropped.Add(int64(len(batch)))
		l.log.Error("connection log write failed: events dropped", "events", len(batch), "err", err.Error())
		return
	}
	l.written.Add(int64(len(batch)))
}

func (l *Log) pruneLoop() {
	defer l.done.Done()
	tick := l.pruneTick
	if tick == nil {
		t := time.NewTicker(l.pruneEvery)
		defer t.Stop()
		tick = t.C
		l.Prune(context.Background()) // a server started after a long stop prunes now
	}
	for {
		select {
		case <-tick:
			l.Prune(context.Background())
		case <-l.stop:
			return
		}
	}
}

// Prune deletes the rows whose last event is older than the retention.
func (l *Log) Prune(ctx context.Context) {
	cutoff := l.now().Add(-l.retention)
	n, err := l.store.PruneConnections(ctx, cutoff)
	if err != nil {
		l.log.Error("connection log pruning failed", "err", err.Error())
		return
	}
	if n > 0 {
		l.log.Info("connection log pruned", "rows", n, "before", cutoff.UTC().Format(time.RFC3339))
	}
}
