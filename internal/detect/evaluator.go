// Package detect is the Device Defender Detect evaluator: it observes the
// device endpoint's data-plane events and the devices' metrics reports,
// turns them into datapoints, judges them against the behaviours of the
// security profiles that apply to each device and records violations.
//
// One goroutine owns all evaluation state; Observe and ObserveReport only
// queue (a full queue drops and counts). Configuration is reloaded when the
// change log shows a security profile, dimension or custom metric changed
// (and every ReloadEvery as a safety net), so an API change applies within
// about a second on every node.
package detect

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warden-iot/warden"
)

// Store is what the evaluator needs of the store.
type Store interface {
	DetectConfiguration(ctx context.Context, s warden.Scope) (warden.DetectConfiguration, error)
	DetectScopes(ctx context.Context) ([]warden.Scope, error)
	ApplyDetectTransitions(ctx context.Context, s warden.Scope, ts []warden.DetectTransition) ([]warden.ViolationEvent, error)
	RecordMetricValues(ctx context.Context, s warden.Scope, ds []warden.MetricDatum) error
	ActiveViolations(ctx context.Context, s warden.Scope, f warden.ViolationFilter, p warden.Page) ([]warden.Violation, string, error)
	Changes(ctx context.Context, f warden.ChangeFilter) ([]warden.Change, error)
	ThingGroupsForThing(ctx context.Context, s warden.Scope, thingName string, p warden.Page) ([]string, string, error)
	ThingGroup(ctx context.Context, s warden.Scope, name string) (warden.ThingGroup, error)
	// RolePermits answers whether a metrics export's role may publish.
	RolePermits(ctx context.Context, account, roleArn string, needs []warden.Permission, strictRoles bool) (*warden.Permission, error)
}

// Publisher publishes a message to a scope's devices as the iot-data
// Publish operation does (broker.Broker.PublishData).
type Publisher func(ctx context.Context, s warden.Scope, m warden.DataMessage) error

// Options configure an Evaluator.
type Options struct {
	Store  Store
	Logger *slog.Logger
	// Now is the evaluator's clock (default time.Now): events are timed
	// by it when observed (not by their own At) and windows closed by it.
	Now func() time.Time
	// QueueSize bounds the events and reports waiting (default 16384).
	QueueSize int
	// TickEvery is how often windows are closed (default 1 s; 0 keeps the
	// default, a negative value turns the ticker off for tests that call
	// Tick).
	TickEvery time.Duration
	// PollEvery is how often the change log is read (default 500 ms).
	PollEvery time.Duration
	// ReloadEvery is how often every scope's configuration is read again
	// whatever the change log says (default 30 s).
	ReloadEvery time.Duration
	// GroupCacheTTL bounds how long a thing's groups are cached (default 1
	// minute; membership changes seen in the change log drop it at once).
	GroupCacheTTL time.Duration
	// StrictRoles is the server's --strict-roles, for the alerts' and
	// metrics exports' roles.
	StrictRoles bool
	// Publish publishes metrics exports (nil: exports are collected and
	// dropped).
	Publish Publisher
	// ExportEvery is the metrics export batch period (default
	// DefaultExportEvery); batches end on its multiples of the clock.
	ExportEvery time.Duration
	// ExportMaxBytes bounds an export message (default
	// DefaultExportMaxBytes); a larger batch is split.
	ExportMaxBytes int
	// OnEvents is called after violation events were written: their SNS
	// alerts are in the outbox, and without a nudge the deliverer finds
	// them only at its next poll (up to a second later).
	OnEvents func()
}

// Evaluator is the Detect evaluator.
type Evaluator struct {
	o      Options
	store  Store
	log    *slog.Logger
	now    func() time.Time
	core   *core
	queue  chan item
	ctl    chan func()
	active atomic.Pointer[map[warden.Scope]bool] // scopes with profiles

	dropped     atomic.Int64
	processed   atomic.Int64
	writeErrors atomic.Int64
	lastDropLog atomic.Int64

	exportsPublished atomic.Int64
	exportsSkipped   atomic.Int64

	// Owned by the loop goroutine.
	configs    map[warden.Scope]*warden.DetectConfiguration
	cursor     int64               // change-log seq below which all was read
	seenSeqs   map[int64]time.Time // seqs above cursor read, and when
	groupCache map[deviceKey]cachedGroups
	parents    map[warden.Scope]map[string]string
	lastReload time.Time
	// lastValuesAt is when pending last values were last written.
	lastValuesAt time.Time
	// nextExport is when the metrics export batch period ends.
	nextExport time.Time

	mu      sync.Mutex
	started bool
	stopped bool
	stop    chan struct{}
	done    chan struct{}
}

type item struct {
	e  warden.DataPlaneEvent
	r  *warden.DeviceMetricsReport
	at time.Time // the evaluator's clock when it was observed
}

type cachedGroups struct {
	groups []string
	at     time.Time
}

// seqSettle is how long a change-log seq range is read again: on
// PostgreSQL a lower seq can commit after a higher one was read.
const seqSettle = 5 * time.Second

// flushAt is how many decisions are written at once under load.
const flushAt = 2048

var (
	_ warden.DataPlaneObserver    = (*Evaluator)(nil)
	_ warden.DeviceReportObserver = (*Evaluator)(nil)
)

// New returns an Evaluator; Start loads the configuration and begins.
func New(o Options) *Evaluator {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 16384
	}
	if o.TickEvery == 0 {
		o.TickEvery = time.Second
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 500 * time.Millisecond
	}
	if o.ReloadEvery <= 0 {
		o.ReloadEvery = 30 * time.Second
	}
	if o.GroupCacheTTL <= 0 {
		o.GroupCacheTTL = time.Minute
	}
	if o.ExportEvery <= 0 {
		o.ExportEvery = DefaultExportEvery
	}
	if o.ExportMaxBytes <= 0 {
		o.ExportMaxBytes = DefaultExportMaxBytes
	}
	ev := &Evaluator{o: o, store: o.Store, log: o.Logger, now: o.Now, queue: make(chan item, o.QueueSize),
		ctl: make(chan func()), configs: map[warden.Scope]*warden.DetectConfiguration{},
		seenSeqs: map[int64]time.Time{}, groupCache: map[deviceKey]cachedGroups{},
		parents: map[warden.Scope]map[string]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	ev.core = newCore(ev.resolveGroups)
	ev.nextExport = o.Now().Truncate(o.ExportEvery).Add(o.ExportEvery)
	ev.active.Store(&map[warden.Scope]bool{})
	return ev
}

// Observe queues a data-plane event of a scope with security profiles; it
// never blocks.
func (ev *Evaluator) Observe(e warden.DataPlaneEvent) {
	if e.Scope == (warden.Scope{}) || !(*ev.active.Load())[e.Scope] {
		return
	}
	switch e.Type {
	case warden.EventUnsubscribe:
		return
	case warden.EventSubscribe:
		if e.Status == warden.StatusSuccess {
			return
		}
	}
	ev.enqueue(item{e: e, at: ev.now()})
}

// ObserveReport queues an accepted device metrics report; it never blocks.
func (ev *Evaluator) ObserveReport(r warden.DeviceMetricsReport) {
	if !(*ev.active.Load())[r.Scope] {
		return
	}
	ev.enqueue(item{r: &r, at: ev.now()})
}

func (ev *Evaluator) enqueue(it item) {
	select {
	case ev.queue <- it:
	default:
		n := ev.dropped.Add(1)
		now := time.Now().UnixNano()
		last := ev.lastDropLog.Load()
		if now-last >= int64(time.Second) && ev.lastDropLog.CompareAndSwap(last, now) {
			ev.log.Warn("detect queue full: event dropped", "dropped_total", n, "queue_size", cap(ev.queue))
		}
	}
}

// Dropped is how many events and reports were dropped on a full queue.
func (ev *Evaluator) Dropped() int64 { return ev.dropped.Load() }

// Processed is how many events and reports were evaluated.
func (ev *Evaluator) Processed() int64 { return ev.processed.Load() }

// Start loads every scope's configuration and active violations, then
// starts the evaluation goroutine (once).
func (ev *Evaluator) Start() {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.started || ev.stopped {
		return
	}
	ev.started = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ls, ok := ev.store.(interface {
		LastChangeSeq(ctx context.Context) (int64, error)
	}); ok {
		if seq, err := ls.LastChangeSeq(ctx); err == nil {
			ev.cursor = seq
		}
	}
	ev.reloadAll(ctx, true)
	go ev.run()
}

// Stop evaluates and writes what is queued, then ends the goroutine. Stop
// the broker first.
func (ev *Evaluator) Stop() {
	ev.mu.Lock()
	if ev.stopped {
		ev.mu.Unlock()
		return
	}
	ev.stopped = true
	started := ev.started
	ev.mu.Unlock()
	close(ev.stop)
	if started {
		<-ev.done
	}
}

// Tick evaluates what is queued, closes the windows that ended by now,
// writes the outcome and publishes the metrics exports of a batch period
// that ended before it returns (tests drive windows with it and an
// injected clock).
func (ev *Evaluator) Tick(now time.Time) {
	ev.do(func() {
		ev.drain()
		ev.core.tick(now)
		ev.flush(true)
		if !now.Before(ev.nextExport) {
			ev.export(now)
		}
	})
}

// Sync evaluates and writes what is queued, and applies configuration
// changes already in the change log, before it returns.
func (ev *Evaluator) Sync() {
	ev.do(func() {
		ev.poll()
		ev.drain()
		ev.flush(true)
	})
}

// do runs f on the evaluation goroutine and waits for it (before Start,
// on the caller's: nothing else runs).
func (ev *Evaluator) do(f func()) {
	ev.mu.Lock()
	started := ev.started
	ev.mu.Unlock()
	if !started {
		f()
		return
	}
	done := make(chan struct{})
	select {
	case ev.ctl <- func() { f(); close(done) }:
		<-done
	case <-ev.done:
	}
}

func (ev *Evaluator) run() {
	defer close(ev.done)
	var tick <-chan time.Time
	if ev.o.TickEvery > 0 {
		t := time.NewTicker(ev.o.TickEvery)
		defer t.Stop()
		tick = t.C
	}
	poll := time.NewTicker(ev.o.PollEvery)
	defer poll.Stop()
	for {
		select {
		case <-ev.stop:
			ev.drain()
			ev.flush(true)
			return
		case it := <-ev.queue:
			ev.handle(it)
			ev.drain()
		case <-tick:
			// Windows end on minute boundaries: between them a tick has
			// nothing to do.
			now := ev.now()
			if now.Unix() >= ev.core.nextEnd {
				ev.core.tick(now)
			}
			if !now.Before(ev.nextExport) {
				ev.export(now)
			}
		case <-poll.C:
			ev.poll()
		case f := <-ev.ctl:
			f()
		}
		ev.flush(false)
	}
}

func (ev *Evaluator) handle(it item) {
	if it.r != nil {
		ev.core.report(*it.r, it.at)
	} else {
		ev.core.observe(it.e, it.at)
	}
	ev.processed.Add(1)
}

// drain evaluates what is queued, writing every flushAt decisions.
func (ev *Evaluator) drain() {
	for {
		select {
		case it := <-ev.queue:
			ev.handle(it)
			if ev.core.out.count >= flushAt {
				ev.flush(false)
			}
		default:
			return
		}
	}
}

// lastValueEvery is how often pending last values of violations are
// written.
const lastValueEvery = time.Second

// flush writes the decisions: transitions first, then datapoints, each
// scope's in one call; pending last values once lastValueEvery passed
// (or with force). A scope whose write failed keeps its decisions for
// the next flush (up to a bound, then they are given up).
func (ev *Evaluator) flush(force bool) {
	out := &ev.core.out
	if len(out.lastValues) > 0 && (force || time.Since(ev.lastValuesAt) >= lastValueEvery) {
		out.releaseLastValues()
		ev.lastValuesAt = time.Now()
	}
	if out.count == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	failed, events := false, 0
	for s, ts := range out.transitions {
		for i := range ts {
			ts[i].StrictRoles = ev.o.StrictRoles
		}
		es, err := ev.store.ApplyDetectTransitions(ctx, s, ts)
		if err != nil {
			failed = ev.writeFailed("violations", s, len(ts), err) || failed
			continue
		}
		events += len(es)
		delete(out.transitions, s)
	}
	if events > 0 && ev.o.OnEvents != nil {
		ev.o.OnEvents()
	}
	for s, ds := range out.datums {
		if err := ev.store.RecordMetricValues(ctx, s, ds); err != nil {
			failed = ev.writeFailed("metric values", s, len(ds), err) || failed
			continue
		}
		delete(out.datums, s)
	}
	if !failed || out.count > 100*flushAt {
		out.reset()
		return
	}
	// Kept for a retry.
	out.seen = map[datumKey]struct{}{}
}

func (ev *Evaluator) writeFailed(what string, s warden.Scope, n int, err error) bool {
	ev.writeErrors.Add(1)
	ev.log.Error("detect: writing "+what+" failed", "account", s.Account, "region", s.Region, "count", n, "err", err.Error())
	return true
}

// poll reads the change log: a changed security profile, dimension or
// custom metric reloads its scope's configuration; a changed thing or
// thing group drops the scope's cached memberships.
func (ev *Evaluator) poll() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := time.Now()
	if now.Sub(ev.lastReload) >= ev.o.ReloadEvery {
		ev.reloadAll(ctx, false)
	}
	reload := map[warden.Scope]bool{}
	after := ev.cursor
	for {
		page, err := ev.store.Changes(ctx, warden.ChangeFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			ev.log.Warn("detect: reading the change log failed", "err", err.Error())
			return
		}
		for _, c := range page {
			after = c.Seq
			if _, seen := ev.seenSeqs[c.Seq]; seen {
				continue
			}
			ev.seenSeqs[c.Seq] = now
			s, typ, id, ok := warden.ParseIoTARN(c.ResourceArn)
			if !ok {
				continue
			}
			switch typ {
			case "securityprofile", "dimension", "custommetric":
				reload[s] = true
			case "thing":
				ev.groupsChanged(s, id)
			case "thinggroup":
				ev.groupsChanged(s, "")
			}
		}
		if len(page) < 1000 {
			break
		}
	}
	for seq, at := range ev.seenSeqs {
		if now.Sub(at) > seqSettle {
			ev.cursor = max(ev.cursor, seq)
			delete(ev.seenSeqs, seq)
		}
	}
	for seq := range ev.seenSeqs {
		if seq <= ev.cursor {
			delete(ev.seenSeqs, seq)
		}
	}
	for s := range reload {
		ev.reload(ctx, s, false)
	}
	if len(reload) > 0 {
		ev.publishActive()
	}
}

// reloadAll reads every scope's configuration (and, at start, its active
// violations).
func (ev *Evaluator) reloadAll(ctx context.Context, restore bool) {
	ev.lastReload = time.Now()
	scopes, err := ev.store.DetectScopes(ctx)
	if err != nil {
		ev.log.Warn("detect: listing scopes failed", "err", err.Error())
		return
	}
	listed := map[warden.Scope]bool{}
	for _, s := range scopes {
		listed[s] = true
		ev.reload(ctx, s, restore)
	}
	for s := range ev.configs {
		if !listed[s] {
			ev.reload(ctx, s, false)
		}
	}
	ev.publishActive()
}

// reload reads one scope's configuration and applies it if it changed.
func (ev *Evaluator) reload(ctx context.Context, s warden.Scope, restore bool) {
	cfg, err := ev.store.DetectConfiguration(ctx, s)
	if err != nil {
		ev.log.Warn("detect: reading the configuration failed", "account", s.Account, "region", s.Region, "err", err.Error())
		return
	}
	if old := ev.configs[s]; old != nil && reflect.DeepEqual(*old, cfg) {
		return
	}
	if len(cfg.Profiles) == 0 {
		delete(ev.configs, s)
	} else {
		ev.configs[s] = &cfg
	}
	ev.core.setConfig(s, &cfg, ev.now())
	if !restore || len(cfg.Profiles) == 0 {
		return
	}
	p := warden.Page{Limit: 250}
	for {
		vs, next, err := ev.store.ActiveViolations(ctx, s, warden.ViolationFilter{}, p)
		if err != nil {
			ev.log.Warn("detect: reading active violations failed", "account", s.Account, "region", s.Region, "err", err.Error())
			return
		}
		ev.core.restore(s, vs, ev.now())
		if next == "" {
			return
		}
		p.After = next
	}
}

func (ev *Evaluator) publishActive() {
	m := make(map[warden.Scope]bool, len(ev.configs))
	for s := range ev.configs {
		m[s] = true
	}
	ev.active.Store(&m)
}

// groupsChanged forgets the cached groups of thing ("": of every thing
// and the group hierarchy) and makes the scope's devices look again.
func (ev *Evaluator) groupsChanged(s warden.Scope, thing string) {
	if _, ok := ev.configs[s]; !ok {
		return
	}
	if thing != "" {
		delete(ev.groupCache, deviceKey{s, thing})
	} else {
		for k := range ev.groupCache {
			if k.scope == s {
				delete(ev.groupCache, k)
			}
		}
		delete(ev.parents, s)
	}
	ev.core.groupChanged(s)
}

// resolveGroups lists the groups a thing is in and their ancestors
// (cached; the core asks only when a scope targets thing groups).
func (ev *Evaluator) resolveGroups(s warden.Scope, thing string) []string {
	k := deviceKey{s, thing}
	if c, ok := ev.groupCache[k]; ok && time.Since(c.at) < ev.o.GroupCacheTTL {
		return c.groups
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var direct []string
	p := warden.Page{Limit: 250}
	for {
		gs, next, err := ev.store.ThingGroupsForThing(ctx, s, thing, p)
		if err != nil {
			ev.log.Warn("detect: reading a thing's groups failed", "thing", thing, "err", err.Error())
			return ev.groupCache[k].groups
		}
		direct = append(direct, gs...)
		if next == "" {
			break
		}
		p.After = next
	}
	parents := ev.parents[s]
	if parents == nil {
		parents = map[string]string{}
		ev.parents[s] = parents
	}
	seen := map[string]bool{}
	var all []string
	for _, g := range direct {
		for g != "" && !seen[g] {
			seen[g] = true
			all = append(all, g)
			parent, ok := parents[g]
			if !ok {
				tg, err := ev.store.ThingGroup(ctx, s, g)
				if err != nil {
					break
				}
				parent = tg.ParentName
				parents[g] = parent
			}
			g = parent
		}
	}
	if len(ev.groupCache) > 100000 {
		clear(ev.groupCache)
	}
	ev.groupCache[k] = cachedGroups{all, time.Now()}
	return all
}
