package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

// benchConfig is 5 profiles × 4 behaviours on all things: a per-message
// size limit, messages sent and received over 5 minutes (one narrowed by
// a dimension) and authorization failures.
func benchConfig(sizeLimit int64) *warden.DetectConfiguration {
	cfg := &warden.DetectConfiguration{Targets: map[string][]string{},
		Dimensions: map[string]warden.Dimension{"own": {Name: "own", Type: "TOPIC_FILTER",
			StringValues: []string{"dev/${iot:ClientId}/#", "fleet/+/status"}}}}
	for i := range 5 {
		name := fmt.Sprintf("profile-%d", i)
		cfg.Profiles = append(cfg.Profiles, warden.SecurityProfile{Name: name, Behaviors: []warden.Behavior{
			{Name: "size", Metric: metricBytes, Criteria: countCriteria("less-than", sizeLimit)},
			{Name: "sent", Metric: metricSent, MetricDimension: &warden.MetricDimension{DimensionName: "own"},
				Criteria: &warden.BehaviorCriteria{ComparisonOperator: "less-than", Value: &warden.MetricValue{Count: ptr[int64](1 << 40)}, DurationSeconds: ptr(300)}},
			{Name: "received", Metric: metricReceived,
				Criteria: &warden.BehaviorCriteria{ComparisonOperator: "less-than", Value: &warden.MetricValue{Count: ptr[int64](1 << 40)}, DurationSeconds: ptr(300)}},
			{Name: "authz", Metric: metricAuthz,
				Criteria: &warden.BehaviorCriteria{ComparisonOperator: "less-than", Value: &warden.MetricValue{Count: ptr[int64](1 << 40)}, DurationSeconds: ptr(300)}},
		}})
		cfg.Targets[name] = allThings()
	}
	return cfg
}

// BenchmarkEvaluatePublish is the evaluation of one inbound message by a
// device under 5 profiles × 4 behaviours, datapoints collected (no store):
// normal messages, and messages over the size limit (every device in
// alarm, its last value updated by each message).
func BenchmarkEvaluatePublish(b *testing.B) {
	for _, bc := range []struct {
		name  string
		limit int64
	}{{"normal", 1 << 20}, {"violating", 100}} {
		b.Run(bc.name, func(b *testing.B) {
			c := newCore(nil)
			c.setConfig(testScope, benchConfig(bc.limit), t0)
			const devices = 1000
			events := make([]warden.DataPlaneEvent, devices)
			for i := range events {
				id := fmt.Sprintf("device-%d", i)
				events[i] = publish(id, "dev/"+id+"/telemetry", 200)
			}
			now := t0.Add(time.Second)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				c.observe(events[i%devices], now)
				if c.out.count >= flushAt {
					c.out.reset()
				}
			}
		})
	}
}
