// Package engine applies audit mitigation actions tasks. The database is
// the queue (warden.MitigationQueue): the engine fans each task's findings
// out into execution rows, claims batches of findings under a lease, and
// applies each batch — every effect and every execution's outcome — in one
// transaction fenced by that lease. A killed process loses nothing: its
// uncommitted batch never happened, and its leases expire and are claimed
// again by any engine on the database.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/warden-iot/warden"
)

// Options tune an Engine; zero values take the defaults.
type Options struct {
	// Owner names this engine in the leases it takes (default
	// mitigation-<host>-<pid>-<random>).
	Owner string
	// Lease is how long a claimed batch stays this engine's before any
	// other may claim it again (default 30 s). A batch takes milliseconds;
	// the lease only bounds how long a crashed engine's batch waits.
	Lease time.Duration
	// Batch is about how many executions are claimed and applied in one
	// transaction (default 256): a claim takes whole findings, as many as
	// fit at the last claim's actions per finding (at least one). Small
	// enough that the API's writes, which share SQLite's single writer,
	// wait milliseconds, not seconds; large enough that commits are few.
	Batch int
	// FanOut is the most findings one fan-out step turns into executions
	// (default 1000).
	FanOut int
	// Poll is how often an idle engine looks for work that no Notify
	// announced: tasks started by other processes, expired leases
	// (default 1 s).
	Poll time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// StrictRoles turns off trust on first use of role ARNs (see
	// warden.MitigationApplyOptions).
	StrictRoles bool
	// OnPublished is called after a batch enqueued SNS messages, to wake
	// the deliverer.
	OnPublished func()
	// AfterClaim, when set, runs between a claim and its application (a
	// hook for tests that cancel or crash mid-batch).
	AfterClaim func(ctx context.Context, c *warden.MitigationClaim)
	Logger     *slog.Logger
}

// DefaultBatch is about how many executions a batch applies by default.
const DefaultBatch = 256

// Engine runs the mitigation work of one process. Start runs its loop in
// the background until Stop; tests call RunOnce instead.
type Engine struct {
	*looper // Notify, Start, Stop
	q       warden.MitigationQueue
	opt     Options
	log     *slog.Logger
	// perFinding is the executions per finding of the last claim.
	perFinding float64
}

// New makes an engine over q; it does nothing until Start or RunOnce.
func New(q warden.MitigationQueue, opt Options) *Engine {
	if opt.Owner == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		opt.Owner = fmt.Sprintf("mitigation-%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if opt.Lease <= 0 {
		opt.Lease = 30 * time.Second
	}
	if opt.Batch <= 0 {
		opt.Batch = DefaultBatch
	}
	if opt.FanOut <= 0 {
		opt.FanOut = 1000
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	e := &Engine{q: q, opt: opt, log: opt.Logger, perFinding: 1}
	if e.log == nil {
		e.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	e.looper = newLooper("mitigation engine", e.log.With("owner", opt.Owner), opt.Poll, e.RunOnce, q.MitigationWork)
	return e
}

// Owner is the name this engine's leases carry.
func (e *Engine) Owner() string { return e.opt.Owner }

// RunOnce does one step of work: one fan-out step, then one batch claimed
// and applied. worked is false when there was nothing to do.
func (e *Engine) RunOnce(ctx context.Context) (worked bool, err error) {
	fanned, err := e.q.FanOutMitigationTasks(ctx, e.opt.Now(), e.opt.FanOut)
	if err != nil {
		return false, fmt.Errorf("fan out: %w", err)
	}
	findings := max(1, int(float64(e.opt.Batch)/e.perFinding))
	claim, err := e.q.ClaimMitigationFindings(ctx, e.opt.Owner, e.opt.Now(), e.opt.Lease, findings)
	if err != nil {
		return fanned, fmt.Errorf("claim: %w", err)
	}
	if len(claim.Executions) == 0 {
		return fanned, nil
	}
	e.perFinding = float64(len(claim.Executions)) / float64(claim.Findings())
	if e.opt.AfterClaim != nil {
		e.opt.AfterClaim(ctx, claim)
	}
	out, err := e.q.ApplyMitigationClaim(ctx, claim, warden.MitigationApplyOptions{StrictRoles: e.opt.StrictRoles}, e.opt.Now())
	if errors.Is(err, warden.ErrMitigationLeaseLost) {
		// Another engine (or a cancel) took the batch after our lease
		// expired; nothing of it was applied here.
		e.log.Warn("mitigation batch lost its lease", "owner", e.opt.Owner, "findings", claim.Findings())
		return true, nil
	}
	if err != nil {
		e.log.Error("mitigation batch failed; applying its findings one by one", "owner", e.opt.Owner,
			"findings", claim.Findings(), "err", err.Error())
		return true, e.isolate(ctx, claim)
	}
	if out.Published > 0 && e.opt.OnPublished != nil {
		e.opt.OnPublished()
	}
	e.log.Debug("mitigation batch", "owner", e.opt.Owner, "findings", out.Findings, "executions", out.Executions,
		"published", out.Published, "tasks_ended", out.TasksEnded)
	return true, nil
}

// RunUntilIdle calls RunOnce until it finds nothing to do.
func (e *Engine) RunUntilIdle(ctx context.Context) error {
	for {
		worked, err := e.RunOnce(ctx)
		if err != nil || !worked {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// MaxAttempts is how many claims of a finding may fail to apply before its
// executions are recorded as FAILED (INTERNAL_ERROR) instead of retried.
const MaxAttempts = 3

// isolate applies a batch that failed finding by finding, so that one
// finding that cannot be applied does not hold back the others. A finding
// that still fails is left under its lease, to be claimed again when it
// expires (the failure may pass), until its MaxAttempts-th claim: then its
// executions are recorded as FAILED.
func (e *Engine) isolate(ctx context.Context, claim *warden.MitigationClaim) error {
	var failures []error
	published := 0
	for _, one := range claim.ByFinding() {
		out, err := e.q.ApplyMitigationClaim(ctx, one, warden.MitigationApplyOptions{StrictRoles: e.opt.StrictRoles}, e.opt.Now())
		switch {
		case err == nil:
			published += out.Published
			continue
		case errors.Is(err, warden.ErrMitigationLeaseLost):
			continue
		}
		x := one.Executions[0]
		if x.Attempt < MaxAttempts {
			failures = append(failures, fmt.Errorf("finding %d of task %d (attempt %d): %w", x.FindingSeq, x.TaskSeq, x.Attempt, err))
			continue
		}
		msg := fmt.Sprintf("Warden could not apply the actions of this finding (%d attempts): %v", x.Attempt, err)
		if ferr := e.q.FailMitigationClaim(ctx, one, warden.ExecErrInternal, msg, e.opt.Now()); ferr != nil && !errors.Is(ferr, warden.ErrMitigationLeaseLost) {
			failures = append(failures, ferr)
		}
	}
	if published > 0 && e.opt.OnPublished != nil {
		e.opt.OnPublished()
	}
	return errors.Join(failures...)
}
