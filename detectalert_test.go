package warden

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"
)

func TestDetectAlertMessage(t *testing.T) {
	count, duration, suppress := int64(54), 300, false
	e := ViolationEvent{ViolationID: "1c9d0a4f0c3e4b1bbd7e0123456789ab", ThingName: "iotconsole-1", SecurityProfileName: "workshop",
		Behavior: Behavior{Name: "Authorization Failures", Metric: "aws:num-authorization-failures", SuppressAlerts: &suppress,
			Criteria: &BehaviorCriteria{ComparisonOperator: "less-than", Value: &MetricValue{Count: new(int64(5))}, DurationSeconds: &duration}},
		MetricValue: &MetricValue{Count: &count}, Type: ViolationInAlarm,
		VerificationState: VerificationTruePositive, Time: time.UnixMilli(1_560_000_300_123)}
	got, err := DetectAlertMessage(&e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"violationId":"1c9d0a4f0c3e4b1bbd7e0123456789ab","thingName":"iotconsole-1","securityProfileName":"workshop",` +
		`"behavior":{"name":"Authorization Failures","metric":"aws:num-authorization-failures",` +
		`"criteria":{"comparisonOperator":"less-than","value":{"count":5},"durationSeconds":300},"suppressAlerts":false},` +
		`"violationEventType":"in-alarm","metricValue":{"count":54},"violationEventTime":1560000300123}`
	if got != want {
		t.Fatalf("message\n got %s\nwant %s", got, want)
	}
	// An invalidation carries no value: the member is left out.
	e.Type, e.MetricValue = ViolationInvalidated, nil
	got, _ = DetectAlertMessage(&e)
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["metricValue"]; ok || m["violationEventType"] != "alarm-invalidated" {
		t.Fatalf("invalidation message = %s", got)
	}
}

func TestNewViolationID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewViolationID()
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) || seen[id] {
			t.Fatalf("violation id %q: want 32 lowercase hex characters, never repeated", id)
		}
		seen[id] = true
	}
}
