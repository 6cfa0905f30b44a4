package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/warden-iot/warden"
)

// Runner defaults.
const (
	DefaultPollInterval = time.Second
	DefaultLease        = 30 * time.Second
	// DefaultMaxAttempts bounds how often a task is started over after its
	// runner died (kill -9, power loss) before it is marked FAILED, so that
	// a task that kills the process cannot loop forever.
	DefaultMaxAttempts = 3
	DefaultWorkers     = 2
	// DefaultFlushEvery is how many findings go into one transaction.
	DefaultFlushEvery = 2000
	// DefaultCheckTimeout bounds one check (checks that share a pass over
	// the registry share it), CRL fetches included.
	DefaultCheckTimeout = 10 * time.Minute
	// DefaultCRLFetchesPerAccount bounds the CRL fetches one account's
	// audits have in flight together.
	DefaultCRLFetchesPerAccount = 8
	purgeInterval               = time.Hour
)

// Options configure a Runner; zero values take the defaults.
type Options struct {
	Store  warden.Store
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Leases, schedules, thresholds
	// and finding times all read it.
	Now func() time.Time
	// Owner names this runner in task leases; default a random id.
	Owner        string
	PollInterval time.Duration
	Lease        time.Duration
	MaxAttempts  int
	Workers      int
	FlushEvery   int
	// CRL tunes the fetching of CRLs (timeouts, size cap, cache).
	CRL CRLOptions
	// CRLFetchesPerAccount bounds the CRL fetches in flight for one
	// account's audits together.
	CRLFetchesPerAccount int
	// CheckTimeout bounds each check: one that runs longer ends FAILED
	// with CheckErrorTimeout.
	CheckTimeout time.Duration
	// WeakKeysDir holds the Debian weak-key list; "" means DefaultWeakKeysDir.
	WeakKeysDir string
	// OnPublish is called after a finished task's summary was queued for
	// SNS delivery (the SNS deliverer's Notify).
	OnPublish func()
}

// Runner runs audit tasks in the background: it claims IN_PROGRESS tasks
// from the store under a lease, runs their checks, writes progress as
// checks complete, and fires scheduled audits when they are due.
//
// A task whose runner died is claimed again once its lease expires and
// runs again from scratch (its partial findings are deleted in the
// claiming transaction); after MaxAttempts claims it is marked FAILED. A
// runner that is stopped gracefully releases its tasks at once.
//
// Accounts share the work: tasks are claimed by turns between accounts,
// the last free worker only goes to an account running no task, an
// account's CRL fetches in flight are bounded, and each check has a time
// limit.
type Runner struct {
	store       warden.Store
	log         *slog.Logger
	now         func() time.Time
	owner       string
	poll        time.Duration
	lease       time.Duration
	maxAttempts int
	workers     int
	flushEvery  int
	crls        *CRLFetcher
	crlSlots    *accountLimiter // CRL fetches in flight, per account
	checkTime   time.Duration
	weakKeys    *WeakKeys
	weakKeysDir string
	onPublish   func()

	mu        sync.Mutex
	fired     map[string]time.Time // scope|name → latest occurrence this runner fired or saw fired
	lastPurge time.Time

	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// New makes a runner; Start runs it in the background, RunOnce in the
// caller's goroutine.
func New(o Options) (*Runner, error) {
	r := &Runner{store: o.Store, log: o.Logger, now: o.Now, owner: o.Owner, poll: o.PollInterval, lease: o.Lease,
		maxAttempts: o.MaxAttempts, workers: o.Workers, flushEvery: o.FlushEvery, weakKeysDir: o.WeakKeysDir,
		checkTime: o.CheckTimeout, onPublish: o.OnPublish, fired: map[string]time.Time{}, wake: make(chan struct{}, 1)}
	if r.log == nil {
		r.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.owner == "" {
		r.owner = "audit-runner-" + warden.NewUUID()
	}
	if r.poll <= 0 {
		r.poll = DefaultPollInterval
	}
	if r.lease <= 0 {
		r.lease = DefaultLease
	}
	if r.maxAttempts <= 0 {
		r.maxAttempts = DefaultMaxAttempts
	}
	if r.workers <= 0 {
		r.workers = DefaultWorkers
	}
	if r.flushEvery <= 0 {
		r.flushEvery = DefaultFlushEvery
	}
	if r.checkTime <= 0 {
		r.checkTime = DefaultCheckTimeout
	}
	if o.CRLFetchesPerAccount <= 0 {
		o.CRLFetchesPerAccount = DefaultCRLFetchesPerAccount
	}
	r.crlSlots = newAccountLimiter(o.CRLFetchesPerAccount)
	if r.weakKeysDir == "" {
		r.weakKeysDir = DefaultWeakKeysDir
	}
	crl := o.CRL
	if crl.Now == nil {
		crl.Now = r.now
	}
	if crl.Logger == nil {
		crl.Logger = r.log
	}
	r.crls = NewCRLFetcher(crl)
	var err error
	if r.weakKeys, err = LoadWeakKeys(r.weakKeysDir); err != nil {
		return nil, fmt.Errorf("load the Debian weak-key list: %w", err)
	}
	if r.weakKeys.Len() == 0 {
		r.log.Info("Debian weak-key list not found; key-quality checks test CVE-2017-15361 only", "dir", r.weakKeysDir)
	}
	return r, nil
}

// Start runs the runner until Stop.
func (r *Runner) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go r.loop(ctx)
}

// Stop stops claiming tasks, interrupts the running ones (releasing their
// leases so that the next start resumes them at once) and waits for them.
func (r *Runner) Stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.cancel = nil
}

// Notify wakes the loop to look for work now. It never blocks.
func (r *Runner) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Runner) loop(ctx context.Context) {
	defer close(r.done)
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, r.workers)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-r.wake:
		}
		r.fireDue(ctx)
		r.purgeIfDue(ctx)
		// Only this goroutine fills slots: free can only grow behind its back.
		for free := r.workers - len(slots); free > 0; free = r.workers - len(slots) {
			slots <- struct{}{}
			// The last free worker is kept for accounts that run no audit
			// (on any node): one account's audits, however slow, cannot
			// hold every worker while another account's audit waits.
			limit := 0
			if free == 1 {
				limit = 1
			}
			c, ok, err := r.store.ClaimAuditTask(ctx, r.owner, r.lease, r.maxAttempts, limit, r.now())
			if err != nil || !ok {
				<-slots
				if err != nil && ctx.Err() == nil {
					r.log.Error("claim audit task", "err", err.Error())
				}
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.runTask(ctx, &c)
				<-slots
				r.Notify()
			}()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(r.poll)
	}
}

// RunOnce fires the scheduled audits that are due and runs every claimable
// task to its end, in the caller's goroutine: tests drive the runner with it.
func (r *Runner) RunOnce(ctx context.Context) error {
	r.fireDue(ctx)
	r.purgeIfDue(ctx)
	for {
		c, ok, err := r.store.ClaimAuditTask(ctx, r.owner, r.lease, r.maxAttempts, 0, r.now())
		if err != nil || !ok {
			return err
		}
		if err := r.runTask(ctx, &c); err != nil {
			return err
		}
	}
}

// runTask runs one claimed task, renewing its lease while it runs. Only a
// store failure is returned; the task is then left for a later claim.
func (r *Runner) runTask(ctx context.Context, c *warden.AuditTaskClaim) (err error) {
	start := time.Now()
	log := r.log.With("task_id", c.Task.ID, "account", c.Scope.Account, "region", c.Scope.Region, "attempt", c.Attempt)
	log.Info("audit started", "type", c.Task.Type, "checks", len(c.Task.Checks))
	rctx, cancel := context.WithCancel(ctx)
	lost := false // written by the heartbeat, read after it ended
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		t := time.NewTicker(r.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				held, err := r.store.RenewAuditTaskLease(rctx, c, r.now().Add(r.lease))
				if err == nil && !held {
					lost = true
					cancel()
					return
				}
			}
		}
	}()
	err = func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		ru := &run{r: r, ctx: rctx, claim: c, s: c.Scope}
		return ru.execute()
	}()
	cancel()
	<-beat
	switch {
	case err == nil:
		log.Info("audit finished", "duration_ms", time.Since(start).Milliseconds())
		return nil
	case errors.Is(err, errLost) || lost:
		log.Info("audit task canceled or taken over")
		return nil
	case ctx.Err() != nil:
		// Stopping: let the next runner (or this one after a restart) take
		// the task at once instead of after the lease.
		if _, rerr := r.store.RenewAuditTaskLease(context.Background(), c, time.UnixMilli(0)); rerr != nil {
			log.Warn("release audit task", "err", rerr.Error())
		}
		log.Info("audit interrupted by shutdown; it will start over")
		return nil
	}
	log.Error("audit failed", "err", err.Error())
	held, published, ferr := r.store.FinishAuditTask(context.Background(), c, warden.AuditFailed, r.now())
	if ferr != nil {
		return errors.Join(err, ferr)
	}
	if held && published && r.onPublish != nil {
		r.onPublish()
	}
	return nil
}

// fireDue starts the task of every scheduled audit whose latest occurrence
// has not fired yet. The store records each occurrence with its task, so
// however many runners and restarts, an occurrence fires once.
func (r *Runner) fireDue(ctx context.Context) {
	audits, err := r.store.AllScheduledAudits(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("list scheduled audits", "err", err.Error())
		}
		return
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range audits {
		occ, ok := LatestOccurrence(&a.ScheduledAudit, now)
		if !ok {
			continue
		}
		key := a.Scope.Account + "|" + a.Scope.Region + "|" + a.Name
		if r.fired[key].Equal(occ) {
			continue
		}
		task, fired, err := r.store.FireScheduledAudit(ctx, a.Scope, a.Name, occ, now)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Error("fire scheduled audit", "name", a.Name, "account", a.Scope.Account, "err", err.Error())
			}
			continue
		}
		r.fired[key] = occ
		if fired {
			r.log.Info("scheduled audit fired", "name", a.Name, "account", a.Scope.Account, "occurrence", occ, "task_id", task.ID)
		}
	}
}

func (r *Runner) purgeIfDue(ctx context.Context) {
	now := r.now()
	r.mu.Lock()
	due := now.Sub(r.lastPurge) >= purgeInterval
	if due {
		r.lastPurge = now
	}
	r.mu.Unlock()
	if !due {
		return
	}
	n, err := r.store.PurgeAuditData(ctx, now.Add(-warden.AuditRetention))
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("purge audit data", "err", err.Error())
		}
		return
	}
	if n > 0 {
		r.log.Info("purged old audits", "tasks", n)
	}
}
