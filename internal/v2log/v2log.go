// Package v2log turns data-plane events into AWS IoT V2 log entries: for
// every event it finds the account's effective log level (SetV2LoggingOptions
// and the per-target SetV2LoggingLevel settings) and, when that level admits
// the entry, writes the entry in AWS's log-entry JSON shape to the server log
// and to the store, where `warden logs tail` reads it on any node.
//
// Level resolution (AWS documents no precedence among target types; this is
// Warden's choice, the most specific target wins):
//
//  1. no V2 logging options, or disableAllLogs: nothing is logged;
//  2. a CLIENT_ID level for the event's client id;
//  3. else a PRINCIPAL_ID level for its certificate id;
//  4. else a SOURCE_IP level for its source address;
//  5. else a THING_GROUP level of a group the connection's thing belongs to:
//     in each of the thing's group hierarchies the nearest group with a level
//     wins (a child overrides its parent); across hierarchies the most
//     verbose of those wins;
//  6. else the options' defaultLogLevel ("" logs nothing).
//
// Entries of failed events are ERROR, all others INFO (AWS's examples of
// Connect, Disconnect, Publish-In, Publish-Out and Subscribe are INFO).
package v2log

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warden-iot/warden"
)

// Defaults of Options.
const (
	DefaultQueueSize      = 8192
	DefaultBatchSize      = 256
	DefaultRefresh        = time.Second
	DefaultMaxAge         = 30 * time.Second
	DefaultRetention      = 24 * time.Hour
	DefaultKeepPerAccount = 100_000
	DefaultPruneEvery     = time.Minute
)

// Options configure an Observer; zero values take the defaults.
type Options struct {
	Store  warden.Store
	Logger *slog.Logger
	// QueueSize bounds the events waiting to be logged; beyond it Observe
	// drops events (and counts them) rather than block the broker.
	QueueSize int
	// BatchSize bounds the entries stored in one transaction.
	BatchSize int
	// Refresh is how often the change log is read for changed logging
	// settings and thing-group memberships.
	Refresh time.Duration
	// MaxAge bounds how long cached settings are used without reloading
	// them, whatever the change log says.
	MaxAge time.Duration
	// Retention and KeepPerAccount bound the stored entries: older ones
	// and, per account and region, all but the newest KeepPerAccount are
	// pruned every PruneEvery.
	Retention      time.Duration
	KeepPerAccount int
	PruneEvery     time.Duration
	Now            func() time.Time
}

// Observer is a warden.DataPlaneObserver writing V2 log entries.
type Observer struct {
	opt   Options
	queue chan warden.DataPlaneEvent

	dropped atomic.Uint64
	written atomic.Uint64

	startOnce, stopOnce sync.Once
	stop, done          chan struct{}

	// Owned by the worker goroutine.
	settings      map[warden.Scope]*settings
	groups        map[warden.Scope]map[string]*thingGroups
	changeSeq     int64
	haveChangeSeq bool
	lastPrune     time.Time
	lastDropWarn  time.Time
	droppedWarned uint64
	lastStoreWarn time.Time
}

var _ warden.DataPlaneObserver = (*Observer)(nil)

// New makes an observer; Start starts its worker.
func New(opt Options) *Observer {
	if opt.QueueSize <= 0 {
		opt.QueueSize = DefaultQueueSize
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = DefaultBatchSize
	}
	if opt.Refresh <= 0 {
		opt.Refresh = DefaultRefresh
	}
	if opt.MaxAge <= 0 {
		opt.MaxAge = DefaultMaxAge
	}
	if opt.Retention <= 0 {
		opt.Retention = DefaultRetention
	}
	if opt.KeepPerAccount <= 0 {
		opt.KeepPerAccount = DefaultKeepPerAccount
	}
	if opt.PruneEvery <= 0 {
		opt.PruneEvery = DefaultPruneEvery
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Observer{opt: opt, queue: make(chan warden.DataPlaneEvent, opt.QueueSize),
		stop: make(chan struct{}), done: make(chan struct{}),
		settings: map[warden.Scope]*settings{}, groups: map[warden.Scope]map[string]*thingGroups{}}
}

// Observe queues e; when the queue is full the event is dropped and counted.
func (o *Observer) Observe(e warden.DataPlaneEvent) {
	select {
	case o.queue <- e:
	default:
		o.dropped.Add(1)
	}
}

// Dropped is the number of events dropped because the queue was full.
func (o *Observer) Dropped() uint64 { return o.dropped.Load() }

// Written is the number of log entries written.
func (o *Observer) Written() uint64 { return o.written.Load() }

// Start starts the worker.
func (o *Observer) Start() {
	o.startOnce.Do(func() { go o.run() })
}

// Stop logs what is queued and stops the worker. After Stop, Start does nothing.
func (o *Observer) Stop() {
	o.stopOnce.Do(func() { close(o.stop) })
	o.startOnce.Do(func() { close(o.done) }) // never started: nothing to wait for
	<-o.done
}

func (o *Observer) run() {
	defer close(o.done)
	ctx := context.Background()
	o.readChangeHead(ctx)
	o.lastPrune = o.opt.Now()
	tick := time.NewTicker(o.opt.Refresh)
	defer tick.Stop()
	batch := make([]warden.DataPlaneEvent, 0, o.opt.BatchSize)
	for {
		select {
		case <-o.stop:
			for {
				batch = o.fill(batch[:0])
				if len(batch) == 0 {
					return
				}
				o.process(ctx, batch)
			}
		case e := <-o.queue:
			batch = append(batch[:0], e)
			o.process(ctx, o.fill(batch))
		case <-tick.C:
			o.refresh(ctx)
			o.maintain(ctx)
		}
	}
}

// fill appends queued events to batch without waiting, up to BatchSize.
func (o *Observer) fill(batch []warden.DataPlaneEvent) []warden.DataPlaneEvent {
	for len(batch) < o.opt.BatchSize {
		select {
		case e := <-o.queue:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// process turns a batch of events into entries and writes them.
func (o *Observer) process(ctx context.Context, batch []warden.DataPlaneEvent) {
	var rows []warden.V2LogEntry
	for i := range batch {
		rows = o.entries(ctx, &batch[i], rows)
	}
	if len(rows) == 0 {
		return
	}
	for _, r := range rows {
		o.opt.Logger.LogAttrs(ctx, slog.LevelInfo, "iot log entry", slog.String("account", r.Scope.Account),
			slog.String("region", r.Scope.Region), slog.Any("entry", json.RawMessage(r.Entry)))
	}
	if err := o.opt.Store.AppendV2LogEntries(ctx, rows); err != nil {
		if now := o.opt.Now(); now.Sub(o.lastStoreWarn) >= 10*time.Second {
			o.lastStoreWarn = now
			o.opt.Logger.Warn("could not store IoT log entries", "entries", len(rows), "err", err.Error())
		}
		return
	}
	o.written.Add(uint64(len(rows)))
}

// entry is an AWS IoT V2 log entry, members in the order of AWS's examples.
type entry struct {
	Timestamp        string `json:"timestamp"`
	LogLevel         string `json:"logLevel"`
	TraceID          string `json:"traceId"`
	AccountID        string `json:"accountId"`
	Status           string `json:"status"`
	EventType        string `json:"eventType"`
	Protocol         string `json:"protocol,omitempty"`
	TopicName        string `json:"topicName,omitempty"`
	ClientID         string `json:"clientId,omitempty"`
	PrincipalID      string `json:"principalId,omitempty"`
	SourceIP         string `json:"sourceIp,omitempty"`
	SourcePort       int    `json:"sourcePort,omitempty"`
	Retain           string `json:"retain,omitempty"`
	Reason           string `json:"reason,omitempty"`
	Details          string `json:"details,omitempty"`
	DisconnectReason string `json:"disconnectReason,omitempty"`
}

// TimestampLayout is AWS's log-entry timestamp, "2017-08-10 15:37:23.476" (UTC).
const TimestampLayout = "2006-01-02 15:04:05.000"

// EntryLevel is the level of the entry an event makes: ERROR for a failure,
// INFO for everything else.
func EntryLevel(e *warden.DataPlaneEvent) string {
	if e.Status == warden.StatusFailure {
		return warden.LogLevelError
	}
	return warden.LogLevelInfo
}

// entries appends the stored entries event e makes, if its effective level
// admits them. A subscribe or unsubscribe makes one entry per topic filter,
// sharing a traceId.
func (o *Observer) entries(ctx context.Context, e *warden.DataPlaneEvent, rows []warden.V2LogEntry) []warden.V2LogEntry {
	if e.Scope.Account == "" {
		return rows // an unregistered certificate: no account to log to
	}
	level := EntryLevel(e)
	if !warden.LogLevelAdmits(o.effectiveLevel(ctx, e), level) {
		return rows
	}
	at := e.At
	if at.IsZero() {
		at = o.opt.Now()
	}
	en := entry{Timestamp: at.UTC().Format(TimestampLayout), LogLevel: level, TraceID: warden.NewUUID(),
		AccountID: e.Scope.Account, Status: e.Status, EventType: e.Type, Protocol: e.Protocol,
		ClientID: e.ClientID, PrincipalID: e.PrincipalID, SourceIP: e.SourceIP, SourcePort: e.SourcePort,
		Reason: e.Reason, Details: e.Details, DisconnectReason: e.DisconnectReason}
	if e.Retain && e.Type == warden.EventPublishIn {
		en.Retain = "True"
	}
	topics := []string{e.Topic}
	if len(e.Topics) > 0 {
		topics = e.Topics
	} else if e.Topic == "" && (e.Type == warden.EventSubscribe || e.Type == warden.EventUnsubscribe) {
		return rows // a (un)subscribe of no filter: AWS logs one entry per filter
	}
	for _, t := range topics {
		en.TopicName = t
		b, err := json.Marshal(&en)
		if err != nil {
			continue
		}
		rows = append(rows, warden.V2LogEntry{Scope: e.Scope, At: at, Entry: string(b)})
	}
	return rows
}

// settings are one account's V2 logging settings, as the worker caches them.
type settings struct {
	loaded       time.Time
	configured   bool
	disableAll   bool
	defaultLevel string
	byTarget     map[warden.LogTarget]string
	hasGroups    bool
}

// thingGroups are the group hierarchies of one thing: each chain runs from
// a group the thing is in up to its root.
type thingGroups struct {
	loaded time.Time
	chains [][]string
}

// effectiveLevel resolves the level for e (see the package comment).
func (o *Observer) effectiveLevel(ctx context.Context, e *warden.DataPlaneEvent) string {
	st := o.settingsOf(ctx, e.Scope)
	if st == nil || !st.configured || st.disableAll {
		return warden.LogLevelDisabled
	}
	if len(st.byTarget) > 0 {
		if l, ok := st.byTarget[warden.LogTarget{Type: warden.LogTargetClientID, Name: e.ClientID}]; ok && e.ClientID != "" {
			return l
		}
		if l, ok := st.byTarget[warden.LogTarget{Type: warden.LogTargetPrincipalID, Name: e.PrincipalID}]; ok && e.PrincipalID != "" {
			return l
		}
		if e.SourceIP != "" {
			ip := e.SourceIP
			if a, err := netip.ParseAddr(ip); err == nil {
				ip = a.Unmap().String()
			}
			if l, ok := st.byTarget[warden.LogTarget{Type: warden.LogTargetSourceIP, Name: ip}]; ok {
				return l
			}
		}
		if st.hasGroups && e.ThingName != "" {
			if l, ok := o.groupLevel(ctx, e.Scope, e.ThingName, st); ok {
				return l
			}
		}
	}
	return st.defaultLevel
}

// groupLevel is the THING_GROUP level that covers thing, if any.
func (o *Observer) groupLevel(ctx context.Context, s warden.Scope, thing string, st *settings) (string, bool) {
	tg := o.thingGroupsOf(ctx, s, thing)
	if tg == nil {
		return "", false
	}
	level, found := "", false
	for _, chain := range tg.chains {
		for _, g := range chain {
			if l, ok := st.byTarget[warden.LogTarget{Type: warden.LogTargetThingGroup, Name: g}]; ok {
				if !found {
					level, found = l, true
				} else {
					level = warden.MoreVerboseLogLevel(level, l)
				}
				break // the nearest group of this hierarchy decides it
			}
		}
	}
	return level, found
}

// settingsOf returns s's cached settings, loading them when missing or
// older than MaxAge; nil when they cannot be read.
func (o *Observer) settingsOf(ctx context.Context, s warden.Scope) *settings {
	now := o.opt.Now()
	if st, ok := o.settings[s]; ok && now.Sub(st.loaded) < o.opt.MaxAge {
		return st
	}
	st := &settings{loaded: now, byTarget: map[warden.LogTarget]string{}}
	opts, err := o.opt.Store.V2LoggingOptions(ctx, s)
	switch {
	case warden.ErrorCode(err) == warden.CodeNotConfigured:
		o.settings[s] = st
		return st
	case err != nil:
		o.opt.Logger.Warn("could not read the V2 logging options", "account", s.Account, "region", s.Region, "err", err.Error())
		return nil
	}
	st.configured, st.disableAll, st.defaultLevel = true, opts.DisableAllLogs, opts.DefaultLogLevel
	page := warden.Page{Limit: 250}
	for {
		levels, next, err := o.opt.Store.V2LoggingLevels(ctx, s, "", page)
		if err != nil {
			o.opt.Logger.Warn("could not read the V2 logging levels", "account", s.Account, "region", s.Region, "err", err.Error())
			return nil
		}
		for _, l := range levels {
			if l.Target.Type == warden.LogTargetDefault {
				continue // the options' defaultLogLevel, read above
			}
			st.byTarget[l.Target] = l.Level
			st.hasGroups = st.hasGroups || l.Target.Type == warden.LogTargetThingGroup
		}
		if next == "" {
			break
		}
		page.After = next
	}
	o.settings[s] = st
	return st
}

// maxCachedThings bounds the things whose groups are cached per account.
const maxCachedThings = 100_000

func (o *Observer) thingGroupsOf(ctx context.Context, s warden.Scope, thing string) *thingGroups {
	now := o.opt.Now()
	byThing := o.groups[s]
	if tg, ok := byThing[thing]; ok && now.Sub(tg.loaded) < o.opt.MaxAge {
		return tg
	}
	tg := &thingGroups{loaded: now}
	page := warden.Page{Limit: 250}
	for {
		names, next, err := o.opt.Store.ThingGroupsForThing(ctx, s, thing, page)
		if warden.ErrorCode(err) == warden.CodeResourceNotFound {
			break
		}
		if err != nil {
			o.opt.Logger.Warn("could not read a thing's groups", "account", s.Account, "thing", thing, "err", err.Error())
			return nil
		}
		for _, name := range names {
			g, err := o.opt.Store.ThingGroup(ctx, s, name)
			if err != nil {
				continue // deleted meanwhile
			}
			chain := []string{g.Name}
			for _, a := range slices.Backward(g.RootToParent) {
				chain = append(chain, a)
			}
			tg.chains = append(tg.chains, chain)
		}
		if next == "" {
			break
		}
		page.After = next
	}
	if byThing == nil || len(byThing) >= maxCachedThings {
		byThing = map[string]*thingGroups{}
		o.groups[s] = byThing
	}
	byThing[thing] = tg
	return tg
}

// readChangeHead starts the change-log reading at its current end.
func (o *Observer) readChangeHead(ctx context.Context) {
	seq, err := o.opt.Store.ChangeLogHead(ctx)
	if err != nil {
		o.opt.Logger.Warn("could not read the change log; V2 logging settings are reloaded every refresh", "err", err.Error())
		return
	}
	o.changeSeq, o.haveChangeSeq = seq, true
}

// refresh drops the cached settings and thing groups that the change log
// says have changed since the last refresh.
func (o *Observer) refresh(ctx context.Context) {
	if !o.haveChangeSeq {
		clear(o.settings)
		clear(o.groups)
		o.readChangeHead(ctx)
		return
	}
	const pageSize = 1000
	for {
		changes, err := o.opt.Store.Changes(ctx, warden.ChangeFilter{AfterSeq: o.changeSeq, Limit: pageSize})
		if err != nil {
			o.opt.Logger.Warn("could not read the change log", "err", err.Error())
			return
		}
		for _, c := range changes {
			o.changeSeq = c.Seq
			s, kind, _, ok := warden.ParseIoTARN(c.ResourceArn)
			if !ok {
				continue
			}
			switch kind {
			case "logging":
				delete(o.settings, s)
			case "thing", "thinggroup":
				delete(o.groups, s)
			}
		}
		if len(changes) < pageSize {
			return
		}
	}
}

// maintain prunes the stored entries and reports dropped events.
func (o *Observer) maintain(ctx context.Context) {
	now := o.opt.Now()
	if d := o.dropped.Load(); d != o.droppedWarned && now.Sub(o.lastDropWarn) >= 10*time.Second {
		o.opt.Logger.Warn("IoT log queue full: events dropped", "dropped_total", d, "queue", o.opt.QueueSize)
		o.droppedWarned, o.lastDropWarn = d, now
	}
	if now.Sub(o.lastPrune) < o.opt.PruneEvery {
		return
	}
	o.lastPrune = now
	if _, err := o.opt.Store.PruneV2LogEntries(ctx, now.Add(-o.opt.Retention), o.opt.KeepPerAccount); err != nil {
		o.opt.Logger.Warn("could not prune IoT log entries", "err", err.Error())
	}
}
