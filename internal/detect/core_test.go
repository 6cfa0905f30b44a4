package detect

import (
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

var testScope = warden.Scope{Account: "123456789012", Region: "us-east-1"}

// t0 is a window boundary (a multiple of 3600 s).
var t0 = time.Unix(1_800_000_000-1_800_000_000%3600, 0).UTC()

func countCriteria(op string, n int64) *warden.BehaviorCriteria {
	return &warden.BehaviorCriteria{ComparisonOperator: op, Value: &warden.MetricValue{Count: &n}}
}

func newTestCore(t *testing.T, targets []string, behaviors ...warden.Behavior) *core {
	t.Helper()
	return newTestCoreCfg(t, warden.DetectConfiguration{
		Profiles: []warden.SecurityProfile{{Name: "p", Behaviors: behaviors,
			AlertTargets: map[string]warden.AlertTarget{"SNS": {AlertTargetArn: "arn:aws:sns:us-east-1:123456789012:t", RoleArn: "arn:aws:iam::123456789012:role/r"}}}},
		Targets: map[string][]string{"p": targets},
	})
}

func newTestCoreCfg(t *testing.T, cfg warden.DetectConfiguration) *core {
	t.Helper()
	c := newCore(nil)
	c.setConfig(testScope, &cfg, t0)
	return c
}

func allThings() []string { return []string{testScope.IoTARN(warden.TargetAllThings)} }

// take returns and forgets the transitions decided so far.
func (c *core) take() []warden.DetectTransition {
	c.out.releaseLastValues()
	ts := c.out.transitions[testScope]
	c.out.reset()
	return ts
}

func publish(thing, topic string, size int) warden.DataPlaneEvent {
	return warden.DataPlaneEvent{Scope: testScope, Type: warden.EventPublishIn, Status: warden.StatusSuccess,
		ClientID: thing, ThingName: thing, Topic: topic, PayloadBytes: size}
}

func connect(thing string) warden.DataPlaneEvent {
	return warden.DataPlaneEvent{Scope: testScope, Type: warden.EventConnect, Status: warden.StatusSuccess,
		ClientID: thing, ThingName: thing, SourceIP: "10.1.2.3"}
}

func wantTypes(t *testing.T, got []warden.DetectTransition, types ...string) {
	t.Helper()
	if len(got) != len(types) {
		t.Fatalf("transitions %+v, want types %q", got, types)
	}
	for i, tr := range got {
		if tr.Type != types[i] {
			t.Fatalf("transition %d is %q (%+v), want %q", i, tr.Type, tr, types[i])
		}
	}
}

func TestMessageSizeIsJudgedPerMessage(t *testing.T) {
	c := newTestCore(t, allThings(), warden.Behavior{Name: "size", Metric: metricBytes, Criteria: countCriteria("less-than", 100)})
	c.observe(publish("d1", "a/b", 99), t0.Add(time.Second))
	wantTypes(t, c.take())
	c.observe(publish("d1", "a/b", 100), t0.Add(2*time.Second))
	got := c.take()
	wantTypes(t, got, warden.ViolationInAlarm)
	if got[0].ThingName != "d1" || *got[0].Value.Count != 100 || got[0].SecurityProfileName != "p" || got[0].Behavior.Name != "size" {
		t.Fatalf("in-alarm %+v", got[0])
	}
	c.observe(publish("d1", "a/b", 500), t0.Add(3*time.Second))
	c.observe(publish("d1", "a/b", 700), t0.Add(3*time.Second))
	got = c.take()
	wantTypes(t, got, "") // the two updates of the last value coalesce
	if *got[0].Value.Count != 700 {
		t.Fatalf("last value %d, want 700", *got[0].Value.Count)
	}
	c.observe(publish("d1", "a/b", 5), t0.Add(4*time.Second))
	wantTypes(t, c.take(), warden.ViolationCleared)
}

func TestMessagesSentOverAWindow(t *testing.T) {
	c := newTestCore(t, allThings(), warden.Behavior{Name: "sent", Metric: metricSent,
		Criteria: &warden.BehaviorCriteria{ComparisonOperator: "less-than-equals", Value: &warden.MetricValue{Count: ptr[int64](5)},
			DurationSeconds: ptr(300)}})
	c.observe(connect("d1"), t0.Add(10*time.Second))
	for i := 0; i < 6; i++ {
		c.observe(publish("d1", "a", 1), t0.Add(20*time.Second))
	}
	c.tick(t0.Add(299 * time.Second))
	wantTypes(t, c.take())
	c.tick(t0.Add(300 * time.Second))
	got := c.take()
	wantTypes(t, got, warden.ViolationInAlarm)
	if *got[0].Value.Count != 6 || !got[0].At.Equal(t0.Add(300*time.Second)) {
		t.Fatalf("in-alarm %+v, want 6 at the window's end", got[0])
	}
	if ds := c.out.datums; len(ds) != 0 {
		t.Fatalf("datums not reset: %v", ds)
	}
	// A connected device with no traffic has a 0 datapoint: it clears.
	c.tick(t0.Add(601 * time.Second))
	wantTypes(t, c.take(), warden.ViolationCleared)
}

func TestConsecutiveDatapoints(t *testing.T) {
	c := newTestCore(t, allThings(), warden.Behavior{Name: "size", Metric: metricBytes,
		Criteria: &warden.BehaviorCriteria{ComparisonOperator: "less-than", Value: &warden.MetricValue{Count: ptr[int64](10)},
			ConsecutiveDatapointsToAlarm: ptr(2), ConsecutiveDatapointsToClear: ptr(3)}})
	at := t0.Add(time.Second)
	step := func(size int, want ...string) {
		t.Helper()
		c.observe(publish("d", "t", size), at)
		wantTypes(t, c.take(), want...)
	}
	step(50)
	step(1) // the run is broken
	step(50)
	step(50, warden.ViolationInAlarm)
	step(1)
	step(1)
	step(50, "")
	step(1)
	step(1)
	step(1, warden.ViolationCleared)
}

func TestDimensions(t *testing.T) {
	cfg := warden.DetectConfiguration{
		Profiles: []warden.SecurityProfile{{Name: "p", Behaviors: []warden.Behavior{
			{Name: "in", Metric: metricBytes, MetricDimension: &warden.MetricDimension{DimensionName: "own"}, Criteria: countCriteria("less-than", 10)},
			{Name: "out", Metric: metricBytes, MetricDimension: &warden.MetricDimension{DimensionName: "own", Operator: "NOT_IN"}, Criteria: countCriteria("less-than", 1000)},
		}}},
		Targets:    map[string][]string{"p": allThings()},
		Dimensions: map[string]warden.Dimension{"own": {Name: "own", Type: "TOPIC_FILTER", StringValues: []string{"dev/${iot:ClientId}/#", "x/+/y"}}},
	}
	c := newTestCoreCfg(t, cfg)
	c.observe(publish("d1", "dev/d2/z", 50), t0) // another device's topic: NOT_IN, under 1000
	wantTypes(t, c.take())
	c.observe(publish("d1", "x/q/y", 50), t0)
	got := c.take()
	wantTypes(t, got, warden.ViolationInAlarm)
	if got[0].Behavior.Name != "in" {
		t.Fatalf("violation of %q, want in", got[0].Behavior.Name)
	}
	c.observe(publish("d1", "other", 5000), t0)
	got = c.take()
	wantTypes(t, got, warden.ViolationInAlarm)
	if got[0].Behavior.Name != "out" {
		t.Fatalf("violation of %q, want out", got[0].Behavior.Name)
	}
	c.observe(publish("d1", "dev/d1", 5), t0) // matches dev/d1/# (# includes the parent level)
	got = c.take()
	wantTypes(t, got, warden.ViolationCleared)
	if got[0].Behavior.Name != "in" {
		t.Fatalf("cleared %q, want in", got[0].Behavior.Name)
	}
}

func TestTopicMatches(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true}, {"a/b", "a/c", false}, {"a/+", "a/b", true}, {"a/+", "a/b/c", false},
		{"a/#", "a/b/c", true}, {"a/#", "a", true}, {"#", "a/b", true}, {"+/+", "a/b", true}, {"+", "a/b", false},
		{"#", "$aws/x", false}, {"$aws/#", "$aws/x", true}, {"a/+/c", "a//c", true}, {"a", "a/b", false},
	} {
		if got := topicMatches(tc.filter, tc.topic); got != tc.want {
			t.Errorf("topicMatches(%q, %q) = %v", tc.filter, tc.topic, got)
		}
	}
}

func TestAuthorizationFailures(t *testing.T) {
	c := newTestCore(t, allThings(), warden.Behavior{Name: "authz", Metric: metricAuthz,
		Criteria: &warden.BehaviorCriteria{ComparisonOperator: "less-than", Value: &warden.MetricValue{Count: ptr[int64](3)}, DurationSeconds: ptr(300)}})
	denied := func(typ string) warden.DataPlaneEvent {
		return warden.DataPlaneEvent{Scope: testScope, Type: typ, Status: warden.StatusFailure, ClientID: "d", ThingName: "d",
			Topic: "t", Topics: []string{"f/1", "f/2"}, Reason: reasonAuthz}
	}
	c.observe(denied(warden.EventPublishIn), t0)
	c.observe(denied(warden.EventConnect), t0)
	c.tick(t0.Add(300 * time.Second))
	wantTypes(t, c.take())
	c.observe(denied(warden.EventPublishIn), t0.Add(301*time.Second))
	c.observe(denied(warden.EventSubscribe), t0.Add(302*time.Second)) // two filters: two failures
	other := denied(warden.EventPublishIn)
	other.Reason = "THROTTLED"
	c.observe(other, t0.Add(303*time.Second))
	c.tick(t0.Add(600 * time.Second))
	got := c.take()
	wantTypes(t, got, warden.ViolationInAlarm)
	if *got[0].Value.Count != 3 {
		t.Fatalf("failures %d, want 3", *got[0].Value.Count)
	}
}

func TestStatisticalBehavior(t *testing.T) {
	c := newTestCore(t, allThings(), warden.Behavior{Name: "stat", Metric: metricSent,
		Criteria: &warden.BehaviorCriteria{ComparisonOperator: "less-than-equals", DurationSeconds: ptr(300),
			StatisticalThreshold: &warden.StatisticalThreshold{Statistic: "p90"}}})
	for i := 1; i <= 10; i++ {
		d := string(rune('a' + i - 1))
		for j := 0; j < i*i; j++ {
			c.observe(publish(d, "t", 1), t0.Add(time.Second))
		}
	}
	c.tick(t0.Add(300 * time.Second))
	got := c.take()
	// p90 of 1, 4, …, 100 (nearest rank) is 81: only j's 100 is above it.
	wantTypes(t, got, warden.ViolationInAlarm)
	if got[0].ThingName != "j" || *got[0].Value.Count != 100 {
		t.Fatalf("violation %+v, want j with 100", got[0])
	}
	if got[0].Behavior.CriteriaType() != warden.CriteriaStatistical {
		t.Fatalf("criteria type %s", got[0].Behavior.CriteriaType())
	}
}

func TestPercentile(t *testing.T) {
	vs := []float64{5, 1, 3, 2, 4}
	for p, want := range map[float64]float64{0: 1, 10: 1, 50: 3, 90: 5, 100: 5, 99.9: 5, 20: 1, 21: 2} {
		if got := percentile(append([]float64(nil), vs...), p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
}

func TestSetOperators(t *testing.T) {
	for _, tc := range []struct {
		op      string
		value   warden.MetricValue
		point   warden.MetricValue
		conform bool
	}{
		{"in-cidr-set", warden.MetricValue{Cidrs: []string{"10.0.0.0/8"}}, warden.MetricValue{Cidrs: []string{"10.1.2.3"}}, true},
		{"in-cidr-set", warden.MetricValue{Cidrs: []string{"10.0.0.0/8"}}, warden.MetricValue{Cidrs: []string{"10.1.2.3", "11.0.0.1"}}, false},
		{"not-in-cidr-set", warden.MetricValue{Cidrs: []string{"10.0.0.0/8", "2001:db8::/32"}}, warden.MetricValue{Cidrs: []string{"2001:db8::1"}}, false},
		{"not-in-cidr-set", warden.MetricValue{Cidrs: []string{"10.0.0.0/8"}}, warden.MetricValue{Cidrs: []string{"192.168.0.1"}}, true},
		{"in-cidr-set", warden.MetricValue{Cidrs: []string{"10.0.0.0/8"}}, warden.MetricValue{}, true},
		{"in-port-set", warden.MetricValue{Ports: []int{22, 443}}, warden.MetricValue{Ports: []int{443}}, true},
		{"in-port-set", warden.MetricValue{Ports: []int{22, 443}}, warden.MetricValue{Ports: []int{443, 8080}}, false},
		{"not-in-port-set", warden.MetricValue{Ports: []int{23}}, warden.MetricValue{Ports: []int{23}}, false},
		{"not-in-port-set", warden.MetricValue{Ports: []int{23}}, warden.MetricValue{Ports: []int{}}, true},
		{"in-set", warden.MetricValue{Strings: []string{"a", "b"}}, warden.MetricValue{Strings: []string{"b"}}, true},
		{"not-in-set", warden.MetricValue{Strings: []string{"a", "b"}}, warden.MetricValue{Strings: []string{"c", "a"}}, false},
		{"in-set", warden.MetricValue{Numbers: []float64{1.5}}, warden.MetricValue{Numbers: []float64{1.5, 2}}, false},
		{"less-than", warden.MetricValue{Number: ptr(2.5)}, warden.MetricValue{Number: ptr(2.4)}, true},
		{"greater-than-equals", warden.MetricValue{Count: ptr[int64](3)}, warden.MetricValue{Count: ptr[int64](2)}, false},
		{"greater-than", warden.MetricValue{Count: ptr[int64](3)}, warden.MetricValue{Count: ptr[int64](4)}, true},
		{"less-than-equals", warden.MetricValue{Count: ptr[int64](3)}, warden.MetricValue{Count: ptr[int64](3)}, true},
	} {
		p := &profile{name: "p"}
		b, ok := compileBehavior(p, warden.Behavior{Name: "b", Metric: "aws:listening-tcp-ports",
			Criteria: &warden.BehaviorCriteria{ComparisonOperator: tc.op, Value: &tc.value}}, &warden.DetectConfiguration{})
		if !ok {
			t.Fatalf("%s: not compiled", tc.op)
		}
		if got := b.conforms(tc.point, 0); got != tc.conform {
			t.Errorf("%s %+v against %+v: conforms %v, want %v", tc.op, tc.point, tc.value, got, tc.conform)
		}
	}
}

func TestSourceIPAndReports(t *testing.T) {
	cfg := warden.DetectConfiguration{
		Profiles: []warden.SecurityProfile{{Name: "p", Behaviors: []warden.Behavior{
			{Name: "ip", Metric: metricSourceIP, Criteria: &warden.BehaviorCriteria{ComparisonOperator: "in-cidr-set", Value: &warden.MetricValue{Cidrs: []string{"192.168.0.0/16"}}}},
			{Name: "ports", Metric: "aws:listening-tcp-ports", Criteria: &warden.BehaviorCriteria{ComparisonOperator: "in-port-set", Value: &warden.MetricValue{Ports: []int{443}}}},
			{Name: "temp", Metric: "temperature", Criteria: &warden.BehaviorCriteria{ComparisonOperator: "less-than", Value: &warden.MetricValue{Number: ptr(80.0)}}},
		}}},
		Targets:       map[string][]string{"p": allThings()},
		CustomMetrics: map[string]warden.CustomMetric{"temperature": {Name: "temperature", Type: "number"}},
	}
	c := newTestCoreCfg(t, cfg)
	c.observe(connect("d"), t0)
	got := c.take()
	wantTypes(t, got, warden.ViolationInAlarm)
	if got[0].Behavior.Name != "ip" || got[0].Value.Cidrs[0] != "10.1.2.3" {
		t.Fatalf("source ip violation %+v", got[0])
	}
	report := func(v map[string]warden.MetricValue, want ...string) []warden.DetectTransition {
		t.Helper()
		c.report(warden.DeviceMetricsReport{Scope: testScope, ThingName: "d", At: t0, Values: v,
			CustomTypes: map[string]string{"temperature": warden.ValueNumber}}, t0.Add(time.Minute))
		got := c.take()
		wantTypes(t, got, want...)
		return got
	}
	got = report(map[string]warden.MetricValue{"aws:listening-tcp-ports": {Ports: []int{443, 22}}, "temperature": {Number: ptr(81.0)}},
		warden.ViolationInAlarm, warden.ViolationInAlarm)
	if got[0].Behavior.Name != "ports" || got[1].Behavior.Name != "temp" {
		t.Fatalf("report violations %+v", got)
	}
	// An empty port list conforms and clears.
	got = report(map[string]warden.MetricValue{"aws:listening-tcp-ports": {Ports: []int{}}}, warden.ViolationCleared)
	if got[0].Behavior.Name != "ports" {
		t.Fatalf("cleared %+v", got[0])
	}
}

func TestInvalidationAfterSilence(t *testing.T) {
	c := newTestCore(t, allThings(), warden.Behavior{Name: "size", Metric: metricBytes, Criteria: countCriteria("less-than", 10)})
	c.observe(publish("d", "t", 50), t0)
	wantTypes(t, c.take(), warden.ViolationInAlarm)
	c.tick(t0.Add(warden.ViolationInvalidateAfter - time.Second))
	wantTypes(t, c.take())
	c.tick(t0.Add(warden.ViolationInvalidateAfter))
	wantTypes(t, c.take(), warden.ViolationInvalidated)
	c.tick(t0.Add(warden.ViolationInvalidateAfter + time.Hour))
	wantTypes(t, c.take())
}

func TestTargets(t *testing.T) {
	b := warden.Behavior{Name: "size", Metric: metricBytes, Criteria: countCriteria("less-than", 10)}
	cfg := warden.DetectConfiguration{
		Profiles: []warden.SecurityProfile{{Name: "reg", Behaviors: []warden.Behavior{b}}, {Name: "unreg", Behaviors: []warden.Behavior{b}},
			{Name: "group", Behaviors: []warden.Behavior{b}}},
		Targets: map[string][]string{"reg": {testScope.IoTARN(warden.TargetRegisteredThings)},
			"unreg": {testScope.IoTARN(warden.TargetUnregisteredThings)}, "group": {warden.ThingGroupARN(testScope, "root")}},
	}
	groups := map[string][]string{"g1": {"child", "root"}}
	c := newCore(func(s warden.Scope, thing string) []string { return groups[thing] })
	c.setConfig(testScope, &cfg, t0)
	profiles := func(e warden.DataPlaneEvent) []string {
		c.observe(e, t0)
		var ps []string
		for _, tr := range c.take() {
			ps = append(ps, tr.SecurityProfileName+":"+tr.ThingName)
		}
		return ps
	}
	if got := profiles(publish("g1", "t", 50)); len(got) != 2 || got[0] != "reg:g1" || got[1] != "group:g1" {
		t.Fatalf("registered thing in a child group: %v", got)
	}
	if got := profiles(publish("lone", "t", 50)); len(got) != 1 || got[0] != "reg:lone" {
		t.Fatalf("registered thing in no group: %v", got)
	}
	unreg := publish("", "t", 50)
	unreg.ClientID = "client-7"
	if got := profiles(unreg); len(got) != 1 || got[0] != "unreg:client-7" {
		t.Fatalf("unregistered device: %v", got)
	}
	// Leaving the group: the lookup is redone after a membership change.
	groups["g1"] = nil
	c.groupChanged(testScope)
	c.observe(publish("g1", "t", 1), t0)
	got := c.take()
	wantTypes(t, got, warden.ViolationCleared)
	if got[0].SecurityProfileName != "reg" {
		t.Fatalf("cleared %+v", got[0])
	}
}

func TestRemovedBehaviorIsInvalidated(t *testing.T) {
	c := newTestCore(t, allThings(), warden.Behavior{Name: "size", Metric: metricBytes, Criteria: countCriteria("less-than", 10)})
	c.observe(publish("d", "t", 50), t0)
	wantTypes(t, c.take(), warden.ViolationInAlarm)
	cfg := warden.DetectConfiguration{Profiles: []warden.SecurityProfile{{Name: "p", Behaviors: []warden.Behavior{
		{Name: "other", Metric: metricBytes, Criteria: countCriteria("less-than", 1000)}}}}, Targets: map[string][]string{"p": allThings()}}
	c.setConfig(testScope, &cfg, t0.Add(time.Second))
	got := c.take()
	wantTypes(t, got, warden.ViolationInvalidated)
	if got[0].Behavior.Name != "size" {
		t.Fatalf("invalidated %+v", got[0])
	}
	c.observe(publish("d", "t", 50), t0.Add(2*time.Second))
	wantTypes(t, c.take())
}

func TestDisconnectDuration(t *testing.T) {
	c := newTestCore(t, allThings(), warden.Behavior{Name: "down", Metric: metricDownTime,
		Criteria: &warden.BehaviorCriteria{ComparisonOperator: "less-than", Value: &warden.MetricValue{Count: ptr[int64](60)}, DurationSeconds: ptr(300)}})
	c.observe(connect("d"), t0)
	disc := connect("d")
	disc.Type = warden.EventDisconnect
	c.observe(disc, t0.Add(100*time.Second))
	c.observe(connect("d"), t0.Add(150*time.Second)) // 50 s down
	c.observe(disc, t0.Add(280*time.Second))         // 20 s down in this window, 30 in the next
	c.tick(t0.Add(300 * time.Second))
	if got := c.take(); len(got) != 1 || got[0].Type != warden.ViolationInAlarm || *got[0].Value.Count != 70 {
		t.Fatalf("first window %+v, want in-alarm with 70 s", got)
	}
	c.observe(connect("d"), t0.Add(330*time.Second))
	c.tick(t0.Add(600 * time.Second))
	if got := c.take(); len(got) != 1 || got[0].Type != warden.ViolationCleared || *got[0].Value.Count != 30 {
		t.Fatalf("second window %+v, want cleared with 30 s", got)
	}
}

func TestRestoreClearsARestoredAlarm(t *testing.T) {
	b := warden.Behavior{Name: "size", Metric: metricBytes, Criteria: countCriteria("less-than", 10)}
	c := newTestCore(t, allThings(), b)
	c.restore(testScope, []warden.Violation{{ThingName: "d", SecurityProfileName: "p", Behavior: b, LastViolationTime: t0}}, t0)
	c.observe(publish("d", "t", 50), t0.Add(time.Second))
	wantTypes(t, c.take(), "")
	c.observe(publish("d", "t", 1), t0.Add(2*time.Second))
	wantTypes(t, c.take(), warden.ViolationCleared)
}

func TestRetainedMetricsAreRecorded(t *testing.T) {
	cfg := warden.DetectConfiguration{
		Profiles: []warden.SecurityProfile{{Name: "p", AdditionalMetricsToRetainV2: []warden.MetricToRetain{{Metric: metricReceived}},
			Behaviors: []warden.Behavior{{Name: "size", Metric: metricBytes, Criteria: countCriteria("less-than", 1000)}}}},
		Targets: map[string][]string{"p": allThings()},
	}
	c := newTestCoreCfg(t, cfg)
	out := publish("d", "t", 5)
	out.Type = warden.EventPublishOut
	c.observe(out, t0.Add(time.Second))
	c.observe(out, t0.Add(time.Second))
	c.observe(publish("d", "t", 5), t0.Add(time.Second))
	c.tick(t0.Add(300 * time.Second))
	ds := c.out.datums[testScope]
	byMetric := map[string]int64{}
	for _, d := range ds {
		byMetric[d.Metric] += *d.Value.Count
	}
	if len(ds) != 2 || byMetric[metricReceived] != 2 || byMetric[metricBytes] != 5 {
		t.Fatalf("datums %+v", ds)
	}
	if ts := c.take(); len(ts) != 0 {
		t.Fatalf("a retained metric made transitions: %+v", ts)
	}
}

func TestTransitionsCarryTheAlertTarget(t *testing.T) {
	c := newTestCore(t, allThings(), warden.Behavior{Name: "size", Metric: metricBytes, Criteria: countCriteria("less-than", 10)})
	c.observe(publish("d", "t", 50), t0)
	got := c.take()
	wantTypes(t, got, warden.ViolationInAlarm)
	if a := got[0].AlertTarget; a == nil || a.AlertTargetArn != "arn:aws:sns:us-east-1:123456789012:t" {
		t.Fatalf("alert target %+v", a)
	}
}

func TestFilterMatchesTheClientIDVariable(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"dev/${iot:ClientId}/#", "dev/c1/x", true}, {"dev/${iot:ClientId}/#", "dev/c2/x", false},
		{"${iot:ClientId}/up", "c1/up", true}, {"a/${iot:ClientId}", "a/c1", true}, {"a/${iot:ClientId}", "a/c1/b", false},
		{"a/x-${iot:ClientId}", "a/x-c1", true}, {"a/x-${iot:ClientId}", "a/x-c2", false}, {"plain/+", "plain/q", true},
		{"${iot:ClientId}/${iot:ClientId}", "c1/c1", true}, {"${iot:ClientId}/${iot:ClientId}", "c1/c2", false},
	} {
		if got := newTopicFilter(tc.filter).matches(tc.topic, "c1"); got != tc.want {
			t.Errorf("%q matches %q for c1: %v", tc.filter, tc.topic, got)
		}
	}
}

func TestAClockJumpKeepsTheWindowsData(t *testing.T) {
	c := newTestCore(t, allThings(), warden.Behavior{Name: "sent", Metric: metricSent,
		Criteria: &warden.BehaviorCriteria{ComparisonOperator: "less-than", Value: &warden.MetricValue{Count: ptr[int64](3)}, DurationSeconds: ptr(300),
			ConsecutiveDatapointsToClear: ptr(10)}})
	for range 5 {
		c.observe(publish("d", "t", 1), t0.Add(time.Second))
	}
	c.tick(t0.Add(24 * time.Hour))
	// The window with 5 messages alarms, then 9 empty windows do not yet
	// clear (10 are needed), the rest are skipped.
	got := c.take()
	wantTypes(t, got, warden.ViolationInAlarm)
	if *got[0].Value.Count != 5 || !got[0].At.Equal(t0.Add(300*time.Second)) {
		t.Fatalf("in-alarm %+v", got[0])
	}
	c.tick(t0.Add(24*time.Hour + 300*time.Second))
	wantTypes(t, c.take(), warden.ViolationCleared)
}

func TestObserveDropsOnAFullQueue(t *testing.T) {
	ev := New(Options{QueueSize: 2})
	ev.active.Store(&map[warden.Scope]bool{testScope: true})
	done := make(chan struct{})
	go func() {
		for range 5 {
			ev.Observe(publish("d", "t", 1))
		}
		ev.Observe(warden.DataPlaneEvent{Type: warden.EventPublishIn, ClientID: "no-scope"}) // not queued at all
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Observe blocked on a full queue")
	}
	if ev.Dropped() != 3 || len(ev.queue) != 2 {
		t.Fatalf("dropped %d, queued %d; want 3 and 2", ev.Dropped(), len(ev.queue))
	}
}

func TestAPendingLastValueNeverFollowsTheClear(t *testing.T) {
	c := newTestCore(t, allThings(), warden.Behavior{Name: "size", Metric: metricBytes, Criteria: countCriteria("less-than", 10)})
	c.observe(publish("d", "t", 50), t0)
	wantTypes(t, c.take(), warden.ViolationInAlarm)
	c.observe(publish("d", "t", 60), t0) // held as the violation's last value
	c.observe(publish("d", "t", 1), t0)  // clears: the held value is dropped
	wantTypes(t, c.take(), warden.ViolationCleared)
	c.observe(publish("d", "t", 70), t0)
	c.observe(publish("d", "t", 80), t0)
	got := c.take()
	wantTypes(t, got, warden.ViolationInAlarm, "")
	if *got[1].Value.Count != 80 {
		t.Fatalf("last value %+v", got[1])
	}
}
