package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
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
	log     *slog.Logger
	// failures counts, by execution seq, the isolated attempts in a row
	// that failed (in this process: a restart grants MaxAttempts more).
	failures map[int64]int
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
	r := &DetectRunner{st: st, opt: opt, log: log, failures: map[int64]int{}}
	// A batch that fails is rolled back whole (none of its executions is
	// half applied), then its executions are applied one by one.
	r.looper = newLooper("detect mitigation runner", log, opt.Poll, r.RunOnce, st.DetectMitigationWork)
	return r
}

// RunOnce applies one batch; worked is false when nothing was pending. It
// is not safe for concurrent use (run several runners instead).
func (r *DetectRunner) RunOnce(ctx context.Context) (bool, error) {
	opt := warden.MitigationApplyOptions{StrictRoles: r.opt.StrictRoles}
	worked, err := r.st.ApplyDetectMitigations(ctx, r.opt.Now(), r.opt.Batch, opt)
	if err == nil || ctx.Err() != nil {
		return worked, err
	}
	r.log.Error("detect mitigation batch failed; applying its executions one by one", "err", err.Error())
	return true, r.isolate(ctx, opt)
}

// isolate applies the pending executions one by one, so that one that
// cannot be applied does not hold back the others. One that fails stays
// pending, retried after the looper's backoff (the failure may pass), until
// it has failed MaxAttempts times in a row: then it is recorded FAILED
// (INTERNAL_ERROR), as the audit engine records a finding.
func (r *DetectRunner) isolate(ctx context.Context, opt warden.MitigationApplyOptions) error {
	seqs, err := r.st.PendingDetectExecutions(ctx, r.opt.Batch)
	if err != nil {
		return err
	}
	// What is no longer among the first pending was applied or ended
	// elsewhere: its count is no longer "in a row".
	pending := map[int64]bool{}
	for _, seq := range seqs {
		pending[seq] = true
	}
	maps.DeleteFunc(r.failures, func(seq int64, _ int) bool { return !pending[seq] })
	var failures []error
	for _, seq := range seqs {
		if ctx.Err() != nil {
			break
		}
		_, err := r.st.ApplyDetectExecution(ctx, seq, r.opt.Now(), opt)
		if err == nil {
			delete(r.failures, seq) // applied, or no longer pending
			continue
		}
		r.failures[seq]++
		attempts := r.failures[seq]
		if attempts < MaxAttempts {
			failures = append(failures, fmt.Errorf("detect execution %d (attempt %d): %w", seq, attempts, err))
			continue
		}
		delete(r.failures, seq)
		msg := fmt.Sprintf("Warden could not apply this action (%d attempts): %v", attempts, err)
		if _, ferr := r.st.FailDetectExecution(ctx, seq, warden.ExecErrInternal, msg, r.opt.Now()); ferr != nil {
			failures = append(failures, ferr)
		}
	}
	return errors.Join(failures...)
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
