package engine

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/warden-iot/warden"
)

// DetectOptions tune a DetectRunner; zero values take the defaults.
type DetectOptions struct {
	// Batch is the most executions applied in one transaction (default
	// DefaultBatch).
	Batch int
	// Poll is how often an idle runner looks for work no wake-up announced:
	// tasks started by other processes (default 1 s).
	Poll time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// StrictRoles turns off trust on first use of role ARNs.
	StrictRoles bool
	Logger      *slog.Logger
}

// DetectRunner applies Detect mitigation tasks: it calls
// ApplyDetectMitigations, which applies each execution in the transaction
// that records it, until nothing is pending, then waits for a started task
// or the poll interval. Any number of runners may share a database.
type DetectRunner struct {
	st   warden.DetectMitigationStore
	opt  DetectOptions
	log  *slog.Logger
	wake chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewDetect makes a runner over st; it does nothing until Start or RunOnce.
func NewDetect(st warden.DetectMitigationStore, opt DetectOptions) *DetectRunner {
	if opt.Batch <= 0 {
		opt.Batch = DefaultBatch
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	r := &DetectRunner{st: st, opt: opt, log: opt.Logger, wake: make(chan struct{}, 1)}
	if r.log == nil {
		r.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	return r
}

// Notify wakes the loop to look for work now. It never blocks.
func (r *DetectRunner) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// RunOnce applies one batch; worked is false when nothing was pending.
func (r *DetectRunner) RunOnce(ctx context.Context) (bool, error) {
	return r.st.ApplyDetectMitigations(ctx, r.opt.Now(), r.opt.Batch, warden.MitigationApplyOptions{StrictRoles: r.opt.StrictRoles})
}

// RunUntilIdle calls RunOnce until nothing is pending.
func (r *DetectRunner) RunUntilIdle(ctx context.Context) error {
	for {
		worked, err := r.RunOnce(ctx)
		if err != nil || !worked {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// Start runs the loop in a goroutine until Stop; a second Start does
// nothing.
func (r *DetectRunner) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go r.loop(ctx, r.done)
}

// Stop ends the loop and waits for the batch in hand to commit or roll back.
func (r *DetectRunner) Stop() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.cancel, r.done = nil, nil
	r.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (r *DetectRunner) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	backoff := 100 * time.Millisecond
	for {
		worked, err := r.RunOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := r.opt.Poll
		switch {
		case err != nil:
			// A batch that fails is rolled back whole and retried: its
			// executions stay pending, none is half applied.
			r.log.Error("detect mitigation runner", "err", err.Error())
			wait, backoff = backoff, min(backoff*2, 10*time.Second)
		case worked:
			backoff = 100 * time.Millisecond
			continue
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-r.wake:
		case <-r.st.DetectMitigationWork():
		case <-timer.C:
		}
		timer.Stop()
	}
}
