package detect

import (
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/warden-iot/warden"
)

// behavior is one behaviour of one profile, compiled for judging.
type behavior struct {
	profile *profile
	raw     warden.Behavior
	key     stateKey // profile and behaviour name: what violations are keyed by
	metric  string
	side    string // warden.MetricCloudSide, MetricDeviceSide or MetricCustom
	kind    string // the datapoint's value kind (warden.Value*)
	// duration > 0: datapoints are totals over tumbling windows of that
	// many seconds; 0: each event or report is a datapoint.
	duration int64
	// record only: a metric to retain, no criteria.
	retainOnly bool
	dim        *dimension
	op         string
	// threshold for the ordering operators (STATIC); percentile for
	// STATISTICAL (statistical is then true).
	threshold   float64
	statistical bool
	percentile  float64
	// The set operators' values.
	cidrs   []netip.Prefix
	ports   map[int]struct{}
	numbers map[float64]struct{}
	strs    map[string]struct{}
	alarmN  int
	clearN  int
	// export: the profile exports this metric's values, counted here (one
	// behaviour per metric and dimension, so they are counted once).
	export bool
}

// dimension is a TOPIC_FILTER dimension as a behaviour uses it.
type dimension struct {
	name    string
	notIn   bool
	filters []topicFilter
}

// topicFilter is a dimension's filter; variable: it holds
// ${iot:ClientId}; levels: only as whole levels (matched level by level,
// else substituted per message).
type topicFilter struct {
	text             string
	variable, levels bool
}

func newTopicFilter(f string) topicFilter {
	n := strings.Count(f, warden.ClientIDSubstitution)
	return topicFilter{text: f, variable: n > 0, levels: n > 0 && strings.Count("/"+f+"/", "/"+warden.ClientIDSubstitution+"/") == n}
}

// counts reports whether a message on topic from clientID is counted by
// the dimension: IN when the topic matches a filter, NOT_IN when it
// matches none. An event without a topic (a failed connect) is counted by
// neither.
func (d *dimension) counts(topic, clientID string) bool {
	if topic == "" {
		return false
	}
	matched := false
	for _, f := range d.filters {
		if f.matches(topic, clientID) {
			matched = true
			break
		}
	}
	return matched != d.notIn
}

// matches is topicMatches for a filter that may hold ${iot:ClientId}.
func (f topicFilter) matches(topic, clientID string) bool {
	switch {
	case !f.variable:
		return topicMatches(f.text, topic)
	case f.levels && clientID != "":
		return matchLevels(f.text, topic, clientID)
	}
	return topicMatches(strings.ReplaceAll(f.text, warden.ClientIDSubstitution, clientID), topic)
}

// topicMatches reports whether an MQTT topic matches a filter (+ is one
// level, # the rest); topics starting with $ match only filters that
// start with $ too.
func topicMatches(filter, topic string) bool { return matchLevels(filter, topic, "") }

// matchLevels is topicMatches where, when clientID is set, a filter level
// ${iot:ClientId} matches a topic level equal to it.
func matchLevels(filter, topic, clientID string) bool {
	if strings.HasPrefix(topic, "$") && !strings.HasPrefix(filter, "$") {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl && (clientID == "" || fl != warden.ClientIDSubstitution || tl != clientID) {
			return false
		}
		switch {
		case !fmore && !tmore:
			return true
		case !tmore:
			// "a/#" matches "a".
			return frest == "#"
		case !fmore:
			return false
		}
		filter, topic = frest, trest
	}
}

// compileBehavior compiles b of p; ok is false for a behaviour Warden does
// not evaluate (machine learning, an unknown metric).
func compileBehavior(p *profile, b warden.Behavior, cfg *warden.DetectConfiguration) (*behavior, bool) {
	c := &behavior{profile: p, raw: b, key: stateKey{p.name, b.Name}, metric: b.Metric, alarmN: 1, clearN: 1}
	if m, ok := warden.LookupDetectMetric(b.Metric); ok {
		c.side, c.kind = m.Side, m.Value
	} else if cm, ok := cfg.CustomMetrics[b.Metric]; ok {
		m, ok := warden.CustomDetectMetric(cm.Name, cm.Type)
		if !ok {
			return nil, false
		}
		c.side, c.kind = warden.MetricCustom, m.Value
	} else {
		return nil, false
	}
	if b.MetricDimension != nil && c.side == warden.MetricCloudSide {
		d, ok := cfg.Dimensions[b.MetricDimension.DimensionName]
		if !ok {
			return nil, false
		}
		c.dim = &dimension{name: d.Name, notIn: b.MetricDimension.Operator == "NOT_IN"}
		for _, f := range d.StringValues {
			c.dim.filters = append(c.dim.filters, newTopicFilter(f))
		}
	}
	cr := b.Criteria
	if cr == nil {
		c.retainOnly = true
		if c.side == warden.MetricCloudSide && (c.kind == warden.ValueCount) {
			c.duration = retainWindow
		}
		return c, true
	}
	if cr.MLDetectionConfig != nil {
		return nil, false
	}
	if cr.DurationSeconds != nil && *cr.DurationSeconds > 0 {
		c.duration = int64(*cr.DurationSeconds)
	}
	if cr.ConsecutiveDatapointsToAlarm != nil && *cr.ConsecutiveDatapointsToAlarm > 0 {
		c.alarmN = *cr.ConsecutiveDatapointsToAlarm
	}
	if cr.ConsecutiveDatapointsToClear != nil && *cr.ConsecutiveDatapointsToClear > 0 {
		c.clearN = *cr.ConsecutiveDatapointsToClear
	}
	c.op = cr.ComparisonOperator
	if cr.StatisticalThreshold != nil {
		pct, err := strconv.ParseFloat(strings.TrimPrefix(cr.StatisticalThreshold.Statistic, "p"), 64)
		if err != nil || pct < 0 || pct > 100 || c.duration == 0 {
			return nil, false
		}
		c.statistical, c.percentile = true, pct
		return c, true
	}
	v := cr.Value
	if v == nil {
		return nil, false
	}
	switch c.op {
	case "less-than", "less-than-equals", "greater-than", "greater-than-equals":
		x, ok := numeric(*v)
		if !ok {
			return nil, false
		}
		c.threshold = x
	case "in-cidr-set", "not-in-cidr-set":
		for _, s := range v.Cidrs {
			if p, ok := parsePrefix(s); ok {
				c.cidrs = append(c.cidrs, p)
			}
		}
	case "in-port-set", "not-in-port-set":
		c.ports = make(map[int]struct{}, len(v.Ports))
		for _, p := range v.Ports {
			c.ports[p] = struct{}{}
		}
	case "in-set", "not-in-set":
		c.numbers = make(map[float64]struct{}, len(v.Numbers))
		for _, n := range v.Numbers {
			c.numbers[n] = struct{}{}
		}
		c.strs = make(map[string]struct{}, len(v.Strings))
		for _, s := range v.Strings {
			c.strs[s] = struct{}{}
		}
	default:
		return nil, false
	}
	return c, true
}

// retainWindow is the period of a retained counting metric's datapoints
// (a retained metric has no durationSeconds of its own).
const retainWindow = 300

// numeric is a count or number datapoint as a float.
func numeric(v warden.MetricValue) (float64, bool) {
	switch {
	case v.Count != nil:
		return float64(*v.Count), true
	case v.Number != nil:
		return *v.Number, true
	}
	return 0, false
}

// parsePrefix reads a CIDR or a bare IP address (a /32 or /128).
func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err == nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), true
}

// conforms reports whether a datapoint is normal: a behaviour states
// normal behaviour, so a datapoint failing the comparison violates.
// threshold is the percentile for a statistical behaviour. The set
// operators judge every element: in-… conforms when all are in the set,
// not-in-… when none is, so an empty list always conforms.
func (b *behavior) conforms(v warden.MetricValue, threshold float64) bool {
	if !b.statistical {
		threshold = b.threshold
	}
	switch b.op {
	case "less-than", "less-than-equals", "greater-than", "greater-than-equals":
		x, ok := numeric(v)
		return !ok || conformsNumber(b.op, x, threshold)
	case "in-cidr-set", "not-in-cidr-set":
		want := b.op == "in-cidr-set"
		for _, s := range v.Cidrs {
			p, ok := parsePrefix(s)
			if !ok {
				continue
			}
			if b.inCidrs(p) != want {
				return false
			}
		}
		return true
	case "in-port-set", "not-in-port-set":
		want := b.op == "in-port-set"
		for _, p := range v.Ports {
			if _, in := b.ports[p]; in != want {
				return false
			}
		}
		return true
	case "in-set", "not-in-set":
		want := b.op == "in-set"
		for _, n := range v.Numbers {
			if _, in := b.numbers[n]; in != want {
				return false
			}
		}
		for _, s := range v.Strings {
			if _, in := b.strs[s]; in != want {
				return false
			}
		}
		return true
	}
	return true
}

// conformsNumber is conforms for an ordering operator.
func conformsNumber(op string, x, threshold float64) bool {
	switch op {
	case "less-than":
		return x < threshold
	case "less-than-equals":
		return x <= threshold
	case "greater-than":
		return x > threshold
	}
	return x >= threshold
}

// inCidrs reports whether p lies within one of the behaviour's CIDRs.
func (b *behavior) inCidrs(p netip.Prefix) bool {
	for _, c := range b.cidrs {
		if c.Addr().Is4() == p.Addr().Is4() && c.Bits() <= p.Bits() && c.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// percentile is the nearest-rank pth percentile of values (sorted in
// place): the smallest value with at least p% of the values at or below
// it; p0 is the minimum.
func percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return 0
	}
	slices.Sort(values)
	i := int(math.Ceil(p/100*float64(len(values)))) - 1
	return values[max(0, min(i, len(values)-1))]
}
