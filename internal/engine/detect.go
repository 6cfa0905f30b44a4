package engine

import (
	"context"
	"io"
	"log/slog"
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
	*looper // Notify, Start, Stop
	st      warden.DetectMitigationStore
	opt     DetectOptions
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
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	r := &DetectRunner{st: st, opt: opt}
	// A batch that fails is rolled back whole and retried after a backoff:
	// its executions stay pending, none is half applied.
	r.looper = newLooper("detect mitigation runner", log, opt.Poll, r.RunOnce, st.DetectMitigationWork)
	return r
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
