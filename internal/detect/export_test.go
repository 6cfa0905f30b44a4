package detect

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

var exportConfig = &warden.MetricsExportConfig{MQTTTopic: "dd/export", RoleArn: "arn:aws:iam::123456789012:role/export"}

func exportingCore(t *testing.T, sp warden.SecurityProfile) *core {
	t.Helper()
	sp.Name = "p"
	return newTestCoreCfg(t, warden.DetectConfiguration{Profiles: []warden.SecurityProfile{sp},
		Targets: map[string][]string{"p": allThings()}})
}

// exportsOf collects the batch and indexes its entries by thing and
// metric (several entries of one: in time order).
func exportsOf(t *testing.T, c *core, now time.Time) map[string][]ExportedMetric {
	t.Helper()
	batches := c.collectExports(now)
	if len(batches) > 1 {
		t.Fatalf("%d batches, want at most 1", len(batches))
	}
	out := map[string][]ExportedMetric{}
	for _, b := range batches {
		if b.config != *exportConfig || b.profile != "p" {
			t.Fatalf("batch of %s to %+v", b.profile, b.config)
		}
		for _, m := range b.metrics {
			k := m.Thing + " " + m.Name
			out[k] = append(out[k], m)
		}
	}
	return out
}

func TestExportAggregatesCloudSideMetricsOverTheBatch(t *testing.T) {
	yes := ptr(true)
	c := exportingCore(t, warden.SecurityProfile{
		// Two behaviours on the sent count: it is still counted once.
		Behaviors: []warden.Behavior{
			{Name: "sent", Metric: metricSent, Criteria: countCriteria("less-than", 100), ExportMetric: yes},
			{Name: "sent2", Metric: metricSent, Criteria: countCriteria("less-than", 50)},
			{Name: "received", Metric: metricReceived, Criteria: countCriteria("less-than", 100)},
		},
		AdditionalMetricsToRetainV2: []warden.MetricToRetain{
			{Metric: metricBytes, ExportMetric: yes}, {Metric: metricSourceIP, ExportMetric: yes},
			{Metric: metricDownTime, ExportMetric: yes}, {Metric: "aws:listening-tcp-ports", ExportMetric: yes},
		},
		MetricsExportConfig: exportConfig,
	})
	c.observe(connect("d1"), t0.Add(time.Second))
	for i, size := range []int{10, 30, 20} {
		c.observe(publish("d1", "a/b", size), t0.Add(time.Duration(2+i)*time.Second))
	}
	c.observe(warden.DataPlaneEvent{Scope: testScope, Type: warden.EventPublishOut, Status: warden.StatusSuccess,
		ClientID: "d1", ThingName: "d1", Topic: "x"}, t0.Add(5*time.Second))
	c.observe(connect("d2"), t0.Add(5*time.Second))
	c.observe(warden.DataPlaneEvent{Scope: testScope, Type: warden.EventDisconnect, Status: warden.StatusSuccess,
		ClientID: "d2", ThingName: "d2"}, t0.Add(20*time.Second))
	for i, port := range []int{22, 443} {
		c.report(warden.DeviceMetricsReport{Scope: testScope, ThingName: "d1",
			Values: map[string]warden.MetricValue{"aws:listening-tcp-ports": {Ports: []int{port}}}}, t0.Add(time.Duration(30+i)*time.Second))
	}
	end := t0.Add(time.Minute)
	got := exportsOf(t, c, end)

	if m := got["d1 "+metricSent]; len(m) != 1 || *m[0].Value.Count != 3 || m[0].Timestamp != end.UnixMilli() || m[0].Version != 1 {
		t.Fatalf("sent %+v, want one entry counting 3 at the batch's end", m)
	}
	if m := got["d1 "+metricBytes]; len(m) != 1 || *m[0].Value.Count != 60 || *m[0].Value.Minimum != 10 || *m[0].Value.Maximum != 30 {
		t.Fatalf("message byte size %+v, want sum 60, min 10, max 30", m)
	}
	if m := got["d1 "+metricSourceIP]; len(m) != 1 || len(m[0].Value.Cidrs) != 1 || m[0].Value.Cidrs[0] != "10.1.2.3" {
		t.Fatalf("source IP %+v", m)
	}
	if m := got["d1 "+metricReceived]; m != nil {
		t.Fatalf("a metric not exported was: %+v", m)
	}
	// d2 has been disconnected since second 20; d1 is connected.
	if m := got["d2 "+metricDownTime]; len(m) != 1 || *m[0].Value.Count != 40 {
		t.Fatalf("disconnect duration %+v, want 40 s", m)
	}
	if m := got["d1 "+metricDownTime]; m != nil {
		t.Fatalf("a connected device's disconnect duration: %+v", m)
	}
	// Device-side values are not aggregated: one entry per report, at its time.
	m := got["d1 aws:listening-tcp-ports"]
	if len(m) != 2 || m[0].Value.Ports[0] != 22 || m[1].Value.Ports[0] != 443 || m[1].Timestamp != t0.Add(31*time.Second).UnixMilli() {
		t.Fatalf("listening ports %+v, want the two reports as sent", m)
	}

	// The next batch starts empty (but for the still disconnected d2).
	got = exportsOf(t, c, end.Add(time.Minute))
	if len(got) != 1 || *got["d2 "+metricDownTime][0].Value.Count != 100 {
		t.Fatalf("second batch %+v, want only d2's disconnect duration", got)
	}
}

func TestExportNeedsTheProfilesConfigAndKeepsDimensions(t *testing.T) {
	yes := ptr(true)
	cfg := warden.DetectConfiguration{
		Profiles: []warden.SecurityProfile{
			{Name: "p", Behaviors: []warden.Behavior{{Name: "sent", Metric: metricSent, ExportMetric: yes, Criteria: countCriteria("less-than", 9),
				MetricDimension: &warden.MetricDimension{DimensionName: "telemetry", Operator: "NOT_IN"}}},
				// IN written two ways: exported once.
				AdditionalMetricsToRetainV2: []warden.MetricToRetain{
					{Metric: metricSent, MetricDimension: &warden.MetricDimension{DimensionName: "telemetry"}, ExportMetric: yes},
					{Metric: metricSent, MetricDimension: &warden.MetricDimension{DimensionName: "telemetry", Operator: "IN"}, ExportMetric: yes}},
				MetricsExportConfig: exportConfig},
			// Stored before the rule: exportMetric without a config exports nothing.
			{Name: "q", Behaviors: []warden.Behavior{{Name: "sent", Metric: metricSent, ExportMetric: yes, Criteria: countCriteria("less-than", 9)}}},
		},
		Targets:    map[string][]string{"p": allThings(), "q": allThings()},
		Dimensions: map[string]warden.Dimension{"telemetry": {Name: "telemetry", Type: "TOPIC_FILTER", StringValues: []string{"telemetry/#"}}},
	}
	c := newTestCoreCfg(t, cfg)
	c.observe(publish("d1", "telemetry/1", 5), t0.Add(time.Second))
	c.observe(publish("d1", "cmd/1", 5), t0.Add(2*time.Second))
	c.observe(publish("d1", "cmd/2", 5), t0.Add(3*time.Second))
	got := exportsOf(t, c, t0.Add(time.Minute))
	m := got["d1 "+metricSent]
	if len(got) != 1 || len(m) != 2 {
		t.Fatalf("exports %+v, want d1's messages sent IN and NOT_IN telemetry", got)
	}
	for _, x := range m {
		want := map[string]int64{"IN": 1, "NOT_IN": 2}[x.Dimension.Operator]
		if x.Dimension.Name != "telemetry" || *x.Value.Count != want {
			t.Fatalf("%+v: count %d, want %d", x.Dimension, *x.Value.Count, want)
		}
	}
}

func TestExportPayloadsAreSplitUnderTheLimit(t *testing.T) {
	var metrics []ExportedMetric
	for i := range 50 {
		metrics = append(metrics, ExportedMetric{Name: metricSent, Thing: fmt.Sprintf("thing-%02d", i), Version: 1,
			Value: ExportedValue{MetricValue: warden.MetricValue{Count: ptr(int64(i))}}})
	}
	const limit = 600
	payloads, tooBig := exportPayloads(metrics, limit)
	if tooBig != 0 || len(payloads) < 2 {
		t.Fatalf("%d payloads, %d too big; want several", len(payloads), tooBig)
	}
	var seen []string
	for _, p := range payloads {
		if len(p) > limit {
			t.Fatalf("payload of %d bytes over %d", len(p), limit)
		}
		var msg ExportMessage
		if err := json.Unmarshal(p, &msg); err != nil || msg.Version != "1.0" || len(msg.Metrics) == 0 {
			t.Fatalf("payload %s: %v", p, err)
		}
		for _, m := range msg.Metrics {
			seen = append(seen, m.Thing)
		}
	}
	if len(seen) != 50 || seen[0] != "thing-00" || seen[49] != "thing-49" {
		t.Fatalf("entries across payloads %v, want all 50 in order", seen)
	}
	// An entry larger than any message is left out, the others kept.
	huge := ExportedMetric{Name: "big", Thing: "t", Value: ExportedValue{MetricValue: warden.MetricValue{Strings: []string{string(make([]byte, limit))}}}}
	payloads, tooBig = exportPayloads([]ExportedMetric{huge, metrics[0]}, limit)
	if tooBig != 1 || len(payloads) != 1 {
		t.Fatalf("%d payloads, %d too big; want 1 and 1", len(payloads), tooBig)
	}
	if DefaultExportMaxBytes != 128*1024 {
		t.Fatalf("default export message limit %d", DefaultExportMaxBytes)
	}
}
