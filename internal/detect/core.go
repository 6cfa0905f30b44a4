package detect

import (
	"time"

	"github.com/warden-iot/warden"
)

// The evaluation core: compiled configuration, per-device window state and
// the consecutive-datapoint state machine. It does no I/O: it is fed
// events, reports and clock ticks and collects transitions and datapoints
// in out; one goroutine owns it.

// Cloud-side metric names.
const (
	metricBytes      = "aws:message-byte-size"
	metricSent       = "aws:num-messages-sent"
	metricReceived   = "aws:num-messages-received"
	metricAuthz      = "aws:num-authorization-failures"
	metricSourceIP   = "aws:source-ip-address"
	metricAttempts   = "aws:num-connection-attempts"
	metricDisconnect = "aws:num-disconnects"
	metricDownTime   = "aws:disconnect-duration"
)

const reasonAuthz = "AUTHORIZATION_FAILURE"

// maxCatchUp is the most windows one device's behaviour is judged for at
// once when the clock jumped (the first has the data, the others are
// empty): more than the largest consecutive count (10) changes nothing.
const maxCatchUp = 10

// idleDevice is how long a disconnected device with no violation is kept
// after its last event; longer than the longest window.
const idleDevice = 2 * time.Hour

// profile is a security profile compiled for one scope.
type profile struct {
	name                                string
	alert                               *warden.AlertTarget
	allThings, registered, unregistered bool
	groups                              map[string]struct{}
	behaviors                           []*behavior
	// export is where the exported metrics go (nil: none are).
	export *warden.MetricsExportConfig
}

type scopeConfig struct {
	gen        uint64
	profiles   []*profile
	usesGroups bool
	keys       map[stateKey]*behavior
}

type stateKey struct{ profile, behavior string }

type deviceKey struct {
	scope warden.Scope
	id    string
}

// bstate is one device's state for one behaviour.
type bstate struct {
	window  int64 // start (epoch seconds) of the window being summed
	sum     float64
	had     bool // data arrived in the window
	violRun int
	confRun int
	inAlarm bool
	// lastData is the time of the last datapoint (for invalidation).
	lastData time.Time
	// The largest message of the period starting at peakWindow, for a
	// per-message behaviour: what is recorded instead of every message.
	peak       float64
	peakHad    bool
	peakWindow int64
}

type watch struct {
	b  *behavior
	st *bstate
}

type device struct {
	key        deviceKey
	clientID   string
	registered bool
	gen        uint64 // scope config generation the watch list is of
	groupGen   uint64
	watch      []watch
	states     map[stateKey]*bstate
	conns      int
	// disconnectedAt is when the last connection ended (zero while
	// connected or unknown).
	disconnectedAt time.Time
	lastSeen       time.Time
}

// GroupResolver lists the thing groups a thing is in, with their
// ancestors.
type GroupResolver func(s warden.Scope, thing string) []string

type core struct {
	scopes   map[warden.Scope]*scopeConfig
	devices  map[deviceKey]*device
	groups   GroupResolver
	groupGen map[warden.Scope]uint64
	gen      uint64
	nextEnd  int64 // epoch second at which windows may have ended
	out      output
	// exported collects the exported metrics' values of the batch period.
	exported exportBatches
}

// output collects what the core decided since the last flush.
type output struct {
	transitions map[warden.Scope][]warden.DetectTransition
	datums      map[warden.Scope][]warden.MetricDatum
	seen        map[datumKey]struct{}
	count       int
	// lastValues are the "" transitions (a device in alarm violating
	// again), the last of each violation, written at most once a second:
	// a flood of violating messages updates a violation's last value, not
	// a row per message. Another transition of the same violation
	// replaces its pending one, so their order is kept.
	lastValues map[lastKey]warden.DetectTransition
}

type datumKey struct {
	dev                    *device
	metric, dimOp, dimName string
	at                     int64
}

type lastKey struct {
	dev deviceKey
	key stateKey
}

func newCore(groups GroupResolver) *core {
	c := &core{scopes: map[warden.Scope]*scopeConfig{}, devices: map[deviceKey]*device{}, groups: groups,
		groupGen: map[warden.Scope]uint64{}, exported: exportBatches{}}
	c.out.reset()
	return c
}

// reset forgets what was written (pending last values stay).
func (o *output) reset() {
	o.transitions = map[warden.Scope][]warden.DetectTransition{}
	o.datums = map[warden.Scope][]warden.MetricDatum{}
	o.seen = map[datumKey]struct{}{}
	o.count = 0
	if o.lastValues == nil {
		o.lastValues = map[lastKey]warden.DetectTransition{}
	}
}

func (o *output) transition(dev *device, b *behavior, typ string, v warden.MetricValue, at time.Time) {
	t := warden.DetectTransition{ThingName: dev.key.id, SecurityProfileName: b.profile.name, Behavior: b.raw,
		Type: typ, Value: &v, At: at, AlertTarget: b.profile.alert}
	lk := lastKey{dev.key, b.key}
	if typ == "" {
		o.lastValues[lk] = t
		return
	}
	delete(o.lastValues, lk)
	o.transitions[dev.key.scope] = append(o.transitions[dev.key.scope], t)
	o.count++
}

// releaseLastValues moves the pending last values to the transitions
// written next.
func (o *output) releaseLastValues() {
	for lk, t := range o.lastValues {
		o.transitions[lk.dev.scope] = append(o.transitions[lk.dev.scope], t)
		o.count++
	}
	clear(o.lastValues)
}

func (o *output) datum(dev *device, b *behavior, v warden.MetricValue, at time.Time) {
	d := warden.MetricDatum{ThingName: dev.key.id, Metric: b.metric, Time: at, Value: v}
	if b.dim != nil {
		d.DimensionName, d.DimensionOperator = b.dim.name, "IN"
		if b.dim.notIn {
			d.DimensionOperator = "NOT_IN"
		}
	}
	k := datumKey{dev, d.Metric, d.DimensionOperator, d.DimensionName, at.UnixNano()}
	if _, dup := o.seen[k]; dup {
		return
	}
	o.seen[k] = struct{}{}
	o.datums[dev.key.scope] = append(o.datums[dev.key.scope], d)
	o.count++
}

// setConfig replaces a scope's configuration (nil or no profiles: none).
// In-alarm states of behaviours that no longer exist are invalidated.
func (c *core) setConfig(s warden.Scope, cfg *warden.DetectConfiguration, now time.Time) {
	c.gen++
	old := c.scopes[s]
	var sc *scopeConfig
	if cfg != nil && len(cfg.Profiles) > 0 {
		sc = compileScope(cfg, c.gen)
		c.scopes[s] = sc
	} else {
		delete(c.scopes, s)
	}
	for k, dev := range c.devices {
		if k.scope != s {
			continue
		}
		for sk, st := range dev.states {
			if sc != nil && sc.keys[sk] != nil {
				continue
			}
			if st.inAlarm {
				c.out.transition(dev, old.behavior(sk), warden.ViolationInvalidated, warden.MetricValue{}, now)
			}
			delete(dev.states, sk)
		}
		dev.gen = 0
		if sc == nil {
			delete(c.devices, k)
		}
	}
}

// behavior is the compiled behaviour of k, or a stand-in naming it (a
// restored violation's behaviour that is gone).
func (sc *scopeConfig) behavior(k stateKey) *behavior {
	if sc != nil && sc.keys[k] != nil {
		return sc.keys[k]
	}
	return &behavior{profile: &profile{name: k.profile}, raw: warden.Behavior{Name: k.behavior}, key: k}
}

func compileScope(cfg *warden.DetectConfiguration, gen uint64) *scopeConfig {
	sc := &scopeConfig{gen: gen, keys: map[stateKey]*behavior{}}
	for _, sp := range cfg.Profiles {
		p := &profile{name: sp.Name, groups: map[string]struct{}{}}
		if t, ok := sp.AlertTargets["SNS"]; ok {
			p.alert = &t
		}
		for _, arn := range cfg.Targets[sp.Name] {
			_, typ, id, ok := warden.ParseIoTARN(arn)
			switch {
			case !ok:
			case typ+"/"+id == warden.TargetAllThings:
				p.allThings = true
			case typ+"/"+id == warden.TargetRegisteredThings:
				p.registered = true
			case typ+"/"+id == warden.TargetUnregisteredThings:
				p.unregistered = true
			case typ == "thinggroup":
				p.groups[id] = struct{}{}
				sc.usesGroups = true
			}
		}
		for _, b := range sp.Behaviors {
			if cb, ok := compileBehavior(p, b, cfg); ok {
				p.behaviors = append(p.behaviors, cb)
				sc.keys[cb.key] = cb
			}
		}
		retained := map[string]bool{}
		for _, b := range p.behaviors {
			retained[retainKey(b.metric, b.raw.MetricDimension)] = true
		}
		for _, m := range retainedMetrics(sp) {
			k := retainKey(m.Metric, m.MetricDimension)
			if retained[k] {
				continue
			}
			retained[k] = true
			// A retained metric is a behaviour without criteria, under a
			// name no behaviour can have (names are [a-zA-Z0-9:_-]).
			if cb, ok := compileBehavior(p, warden.Behavior{Name: "retain " + k, Metric: m.Metric,
				MetricDimension: m.MetricDimension}, cfg); ok {
				p.behaviors = append(p.behaviors, cb)
			}
		}
		markExported(p, sp)
		sc.profiles = append(sc.profiles, p)
	}
	return sc
}

func retainedMetrics(sp warden.SecurityProfile) []warden.MetricToRetain {
	ms := append([]warden.MetricToRetain(nil), sp.AdditionalMetricsToRetainV2...)
	for _, m := range sp.AdditionalMetricsToRetain {
		ms = append(ms, warden.MetricToRetain{Metric: m})
	}
	return ms
}

func retainKey(metric string, d *warden.MetricDimension) string {
	if d == nil {
		return metric
	}
	return metric + " " + d.DimensionName + " " + d.Operator
}

// applies reports whether profile p applies to the device.
func (p *profile) applies(dev *device, groups []string) bool {
	if p.allThings || (dev.registered && p.registered) || (!dev.registered && p.unregistered) {
		return true
	}
	for _, g := range groups {
		if _, ok := p.groups[g]; ok {
			return true
		}
	}
	return false
}

// device returns the device's entry, creating it; its watch list is
// brought up to date with the configuration.
func (c *core) device(sc *scopeConfig, s warden.Scope, id string, registered bool, clientID string, now time.Time) *device {
	k := deviceKey{s, id}
	dev := c.devices[k]
	if dev == nil {
		dev = &device{key: k, registered: registered, states: map[stateKey]*bstate{}}
		c.devices[k] = dev
	} else if dev.registered != registered {
		dev.registered, dev.gen = registered, 0
	}
	if clientID != "" {
		dev.clientID = clientID
	}
	dev.lastSeen = now
	c.refresh(sc, dev, now)
	return dev
}

// refresh rebuilds the device's watch list when the configuration or the
// scope's group memberships changed.
func (c *core) refresh(sc *scopeConfig, dev *device, now time.Time) {
	gg := c.groupGen[dev.key.scope]
	if dev.gen == sc.gen && dev.groupGen == gg {
		return
	}
	dev.gen, dev.groupGen = sc.gen, gg
	var groups []string
	if sc.usesGroups && dev.registered && c.groups != nil {
		groups = c.groups(dev.key.scope, dev.key.id)
	}
	dev.watch = dev.watch[:0]
	for _, p := range sc.profiles {
		if !p.applies(dev, groups) {
			continue
		}
		for _, b := range p.behaviors {
			st := dev.states[b.key]
			if st == nil {
				st = &bstate{}
				dev.states[b.key] = st
			}
			if b.duration > 0 && st.window == 0 {
				st.window = align(now.Unix(), b.duration)
			}
			dev.watch = append(dev.watch, watch{b, st})
		}
	}
}

func align(t, d int64) int64 { return t - t%d }

// observe turns one data-plane event into datapoints.
func (c *core) observe(e warden.DataPlaneEvent, now time.Time) {
	sc := c.scopes[e.Scope]
	if sc == nil {
		return
	}
	if now.Unix() >= c.nextEnd {
		c.tick(now)
	}
	id, registered := e.ThingName, e.ThingName != ""
	if !registered {
		id = e.ClientID
	}
	if id == "" {
		return
	}
	dev := c.device(sc, e.Scope, id, registered, e.ClientID, now)
	if e.Type != warden.EventConnect && e.Type != warden.EventDisconnect && dev.conns == 0 {
		// Connected before Warden (or this evaluator) saw it connect.
		dev.conns, dev.disconnectedAt = 1, time.Time{}
	}
	failedAuthz := e.Status == warden.StatusFailure && e.Reason == reasonAuthz
	switch e.Type {
	case warden.EventConnect:
		c.add(dev, metricAttempts, "", 1, now)
		if failedAuthz {
			c.add(dev, metricAuthz, "", 1, now)
		}
		if e.Status != warden.StatusSuccess {
			break
		}
		dev.conns++
		if !dev.disconnectedAt.IsZero() {
			for _, w := range dev.watch {
				if w.b.metric == metricDownTime && w.b.duration > 0 {
					from := max(dev.disconnectedAt.Unix(), w.st.window)
					w.st.sum += float64(max(0, now.Unix()-from))
					w.st.had = true
				}
			}
			dev.disconnectedAt = time.Time{}
		}
		if e.SourceIP != "" {
			c.point(dev, metricSourceIP, warden.MetricValue{Cidrs: []string{e.SourceIP}}, now)
		}
	case warden.EventDisconnect:
		dev.conns = max(0, dev.conns-1)
		if dev.conns == 0 {
			dev.disconnectedAt = now
		}
		c.add(dev, metricDisconnect, "", 1, now)
	case warden.EventPublishIn:
		if e.Status == warden.StatusSuccess {
			c.add(dev, metricSent, e.Topic, 1, now)
			c.add(dev, metricBytes, e.Topic, float64(e.PayloadBytes), now)
		} else if failedAuthz {
			c.add(dev, metricAuthz, e.Topic, 1, now)
		}
	case warden.EventPublishOut:
		c.add(dev, metricReceived, e.Topic, 1, now)
	case warden.EventSubscribe:
		if failedAuthz {
			for _, t := range e.Topics {
				c.add(dev, metricAuthz, t, 1, now)
			}
		}
	}
}

// add counts amount for every behaviour of the device on metric: into
// the window's total, or, without a duration, as a datapoint of its own.
func (c *core) add(dev *device, metric, topic string, amount float64, now time.Time) {
	for _, w := range dev.watch {
		b := w.b
		if b.metric != metric {
			continue
		}
		if b.dim != nil && !b.dim.counts(topic, dev.clientID) {
			continue
		}
		if b.export {
			c.exportAmount(dev, b, amount)
		}
		if b.duration > 0 {
			w.st.sum += amount
			w.st.had = true
			continue
		}
		if b.metric == metricBytes && !b.statistical && conformsNumber(b.op, amount, b.threshold) && !w.st.inAlarm {
			// The common case without building a value: a normal message
			// of a device not in alarm.
			w.st.lastData = now
			c.peak(dev, w, amount, now)
			w.st.confRun++
			w.st.violRun = 0
			continue
		}
		c.judge(dev, w, countValue(amount), now, 0)
	}
}

// point is a datapoint of a metric without a duration (source IP).
func (c *core) point(dev *device, metric string, v warden.MetricValue, now time.Time) {
	for _, w := range dev.watch {
		if w.b.metric != metric {
			continue
		}
		if w.b.export {
			c.exportCidrs(dev, w.b, v.Cidrs)
		}
		if w.b.duration == 0 {
			c.judge(dev, w, v, now, 0)
		}
	}
}

func countValue(x float64) warden.MetricValue {
	n := int64(x)
	return warden.MetricValue{Count: &n}
}

// valueOf is a window's total as its behaviour's value kind.
func (b *behavior) valueOf(sum float64) warden.MetricValue {
	if b.kind == warden.ValueNumber {
		return warden.MetricValue{Number: &sum}
	}
	return countValue(sum)
}

// judge records a datapoint and steps the behaviour's alarm state:
// consecutiveDatapointsToAlarm violating datapoints in a row raise the
// alarm, consecutiveDatapointsToClear conforming ones clear it; a
// violating datapoint while in alarm updates the last value ("").
func (c *core) judge(dev *device, w watch, v warden.MetricValue, at time.Time, threshold float64) {
	b, st := w.b, w.st
	st.lastData = at
	if b.metric == metricBytes && b.duration == 0 {
		x, _ := numeric(v)
		c.peak(dev, w, x, at)
	} else {
		c.out.datum(dev, b, v, at)
	}
	if b.retainOnly {
		return
	}
	if !b.conforms(v, threshold) {
		st.violRun++
		st.confRun = 0
		switch {
		case st.inAlarm:
			c.out.transition(dev, b, "", v, at)
		case st.violRun >= b.alarmN:
			st.inAlarm = true
			c.out.transition(dev, b, warden.ViolationInAlarm, v, at)
		}
		return
	}
	st.confRun++
	st.violRun = 0
	if st.inAlarm && st.confRun >= b.clearN {
		st.inAlarm = false
		c.out.transition(dev, b, warden.ViolationCleared, v, at)
	}
}

// report judges a device metrics report: each report is one datapoint per
// metric, except for statistical behaviours, which sum reports over their
// window like cloud-side metrics.
func (c *core) report(r warden.DeviceMetricsReport, now time.Time) {
	sc := c.scopes[r.Scope]
	if sc == nil || r.ThingName == "" {
		return
	}
	if now.Unix() >= c.nextEnd {
		c.tick(now)
	}
	registered := true
	if dev := c.devices[deviceKey{r.Scope, r.ThingName}]; dev != nil {
		registered = dev.registered
	}
	dev := c.device(sc, r.Scope, r.ThingName, registered, "", now)
	for _, w := range dev.watch {
		b := w.b
		if b.side == warden.MetricCloudSide {
			continue
		}
		v, ok := r.Values[b.metric]
		if !ok {
			continue
		}
		if b.side == warden.MetricCustom && r.CustomTypes[b.metric] != b.kind {
			continue
		}
		if b.export {
			c.exportPoint(dev, b, v, now)
		}
		if b.duration > 0 && b.statistical {
			if x, ok := numeric(v); ok {
				w.st.sum += x
				w.st.had = true
			}
			continue
		}
		c.judge(dev, w, v, now, 0)
	}
}

// peak keeps the largest message of the period (retainWindow) and
// records the previous period's once a message of a later one arrives (or
// tick sees the period over): a datapoint per message would be a row per
// message.
func (c *core) peak(dev *device, w watch, x float64, at time.Time) {
	st := w.st
	window := align(at.Unix(), retainWindow)
	if st.peakHad && st.peakWindow != window {
		c.flushPeak(dev, w)
	}
	if !st.peakHad || x > st.peak {
		st.peak = x
	}
	st.peakHad, st.peakWindow = true, window
}

func (c *core) flushPeak(dev *device, w watch) {
	st := w.st
	c.out.datum(dev, w.b, countValue(st.peak), time.Unix(st.peakWindow+retainWindow, 0).UTC())
	st.peak, st.peakHad = 0, false
}

type closedWindow struct {
	dev *device
	w   watch
	at  time.Time
	sum float64
}

// tick closes the windows that ended by now (judging statistical
// behaviours against the percentile of every device's total), invalidates
// alarms of devices without data for warden.ViolationInvalidateAfter and
// forgets idle devices.
func (c *core) tick(now time.Time) {
	t := now.Unix()
	c.nextEnd = align(t, 60) + 60
	stats := map[*behavior][]closedWindow{}
	for k, dev := range c.devices {
		sc := c.scopes[k.scope]
		if sc == nil {
			delete(c.devices, k)
			continue
		}
		c.refresh(sc, dev, now)
		for _, w := range dev.watch {
			b, st := w.b, w.st
			if st.peakHad && st.peakWindow+retainWindow <= t {
				c.flushPeak(dev, w)
			}
			if b.duration == 0 || st.window+b.duration > t {
				continue
			}
			for closed := 0; st.window+b.duration <= t; closed++ {
				if closed == maxCatchUp {
					// The windows in between would repeat the last.
					st.window = align(t, b.duration)
					break
				}
				start, end := st.window, st.window+b.duration
				active := st.had || dev.conns > 0 || dev.disconnectedAt.Unix() > start
				if b.metric == metricDownTime && active && !dev.disconnectedAt.IsZero() {
					st.sum += float64(end - max(dev.disconnectedAt.Unix(), start))
				}
				// Device-side statistical behaviours count devices that reported.
				if b.side != warden.MetricCloudSide {
					active = st.had
				}
				if active {
					cw := closedWindow{dev, w, time.Unix(end, 0).UTC(), st.sum}
					if b.statistical {
						stats[b] = append(stats[b], cw)
					} else {
						c.judge(dev, w, b.valueOf(st.sum), cw.at, 0)
					}
				}
				st.window, st.sum, st.had = end, 0, false
			}
		}
		alarmed := false
		for sk, st := range dev.states {
			if !st.inAlarm {
				continue
			}
			if now.Sub(st.lastData) >= warden.ViolationInvalidateAfter {
				c.out.transition(dev, sc.behavior(sk), warden.ViolationInvalidated, warden.MetricValue{}, now)
				st.inAlarm, st.violRun, st.confRun = false, 0, 0
				continue
			}
			alarmed = true
		}
		if !alarmed && dev.conns == 0 && now.Sub(dev.lastSeen) >= idleDevice {
			delete(c.devices, k)
		}
	}
	for b, cws := range stats {
		values := make([]float64, len(cws))
		for i, cw := range cws {
			values[i] = cw.sum
		}
		threshold := percentile(values, b.percentile)
		for _, cw := range cws {
			c.judge(cw.dev, cw.w, b.valueOf(cw.sum), cw.at, threshold)
		}
	}
}

// restore marks the scope's active violations as alarms of their devices,
// so that a restarted evaluator clears and invalidates them.
func (c *core) restore(s warden.Scope, vs []warden.Violation, now time.Time) {
	sc := c.scopes[s]
	if sc == nil {
		return
	}
	for _, v := range vs {
		k := deviceKey{s, v.ThingName}
		dev := c.devices[k]
		if dev == nil {
			// Whether it is registered is learnt from its first event.
			dev = &device{key: k, registered: true, states: map[stateKey]*bstate{}, lastSeen: now}
			c.devices[k] = dev
		}
		sk := stateKey{v.SecurityProfileName, v.Behavior.Name}
		st := dev.states[sk]
		if st == nil {
			st = &bstate{}
			dev.states[sk] = st
		}
		st.inAlarm = true
		st.lastData = v.LastViolationTime
		if b := sc.keys[sk]; b != nil {
			st.violRun = b.alarmN
		}
	}
}

// groupChanged makes every device of the scope look its groups up again.
func (c *core) groupChanged(s warden.Scope) { c.groupGen[s]++ }
