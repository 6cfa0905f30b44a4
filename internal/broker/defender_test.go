package broker_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/warden-iot/warden"
)

// reportRecorder keeps the reports the broker accepted.
type reportRecorder struct {
	mu      sync.Mutex
	reports []warden.DeviceMetricsReport
}

func (r *reportRecorder) ObserveReport(rep warden.DeviceMetricsReport) {
	r.mu.Lock()
	r.reports = append(r.reports, rep)
	r.mu.Unlock()
}

func (r *reportRecorder) all() []warden.DeviceMetricsReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]warden.DeviceMetricsReport(nil), r.reports...)
}

// reply is AWS's answer to a report, decoded from JSON or CBOR.
type reply struct {
	ThingName     string `json:"thingName"`
	ReportID      *int64 `json:"reportId"`
	Status        string `json:"status"`
	StatusDetails *struct {
		ErrorCode    string `json:"ErrorCode"`
		ErrorMessage string `json:"ErrorMessage"`
	} `json:"statusDetails"`
	Timestamp int64 `json:"timestamp"`
}

func decodeReply(t *testing.T, topic string, payload []byte) reply {
	t.Helper()
	var r reply
	var err error
	if strings.Contains(strings.ToLower(topic), "/cbor/") {
		err = cbor.Unmarshal(payload, &r)
	} else {
		err = json.Unmarshal(payload, &r)
	}
	if err != nil {
		t.Fatalf("reply on %s (%q) not decoded: %v", topic, payload, err)
	}
	return r
}

// wantAccepted checks an accepted reply for thing and report id.
func wantAccepted(t *testing.T, topic string, payload []byte, thing string, id int64, before time.Time) {
	t.Helper()
	r := decodeReply(t, topic, payload)
	if r.Status != "ACCEPTED" || r.ThingName != thing || r.ReportID == nil || *r.ReportID != id || r.StatusDetails != nil {
		t.Fatalf("reply on %s: %s, want ACCEPTED for %s report %d", topic, payload, thing, id)
	}
	if at := time.UnixMilli(r.Timestamp); at.Before(before.Truncate(time.Millisecond)) || at.After(time.Now()) {
		t.Errorf("reply timestamp %v, want between %v and now", at, before)
	}
}

// wantRejected checks a rejected reply's thing and reason.
func wantRejected(t *testing.T, topic string, payload []byte, thing, code, message string) {
	t.Helper()
	r := decodeReply(t, topic, payload)
	if r.Status != "REJECTED" || r.ThingName != thing || r.ReportID != nil || r.StatusDetails == nil ||
		r.StatusDetails.ErrorCode != code || (message != "" && r.StatusDetails.ErrorMessage != message) || r.Timestamp == 0 {
		t.Fatalf("reply on %s: %s, want REJECTED for %s with %s %q", topic, payload, thing, code, message)
	}
}

const reportJSON = `{"header":{"report_id":1001,"version":"1.0"},
 "metrics":{"network_stats":{"bytes_in":100,"bytes_out":200,"packets_in":3,"packets_out":4},
  "listening_tcp_ports":{"ports":[{"interface":"eth0","port":22}],"total":1},
  "tcp_connections":{"established_connections":{"connections":[{"remote_addr":"203.0.113.5:443","local_port":50000}]}}},
 "custom_metrics":{"temperature":[{"number":21.5}]}}`

func count(n int64) warden.MetricValue { return warden.MetricValue{Count: &n} }

// A JSON report over MQTT 3.1.1 and a CBOR one over MQTT 5 are answered on
// …/accepted in their format, handed to Config.Reports, and forwarded to no
// subscriber of the report topic.
func TestDeviceReportAccepted(t *testing.T) {
	rec := &reportRecorder{}
	e := newEnv(t, envOptions{reports: rec})
	d := e.newDevice(allowAll)
	watcher := e.mustConnect5(d, "watcher")
	watcher.subscribe(t, "$aws/things/+/defender/metrics/+", 1)

	dev := e.mustConnect3(d, "sensor-1")
	dev.subscribe(t, "$aws/things/sensor-1/defender/metrics/json/+", 1)
	before := time.Now()
	if err := dev.publish(t, "$aws/things/sensor-1/defender/metrics/json", 1, false, reportJSON); err != nil {
		t.Fatal(err)
	}
	m := receive3(t, dev, 5*time.Second)
	if m.Topic() != "$aws/things/sensor-1/defender/metrics/json/accepted" {
		t.Fatalf("reply on %s: %s", m.Topic(), m.Payload())
	}
	wantAccepted(t, m.Topic(), m.Payload(), "sensor-1", 1001, before)
	reports := rec.all()
	if len(reports) != 1 {
		t.Fatalf("%d reports observed, want 1", len(reports))
	}
	got := reports[0]
	temp := 21.5
	want := map[string]warden.MetricValue{
		"aws:all-bytes-in": count(100), "aws:all-bytes-out": count(200),
		"aws:all-packets-in": count(3), "aws:all-packets-out": count(4),
		"aws:num-listening-tcp-ports": count(1), "aws:listening-tcp-ports": {Ports: []int{22}},
		"aws:num-established-tcp-connections": count(1), "aws:destination-ip-addresses": {Cidrs: []string{"203.0.113.5/32"}},
		"temperature": {Number: &temp},
	}
	if got.Scope != scope || got.ThingName != "sensor-1" || got.ReportID != 1001 || got.At.Before(before) {
		t.Errorf("observed report %+v, want sensor-1's 1001 in %v", got, scope)
	}
	if !reflect.DeepEqual(got.Values, want) || got.CustomTypes["temperature"] != warden.ValueNumber {
		t.Errorf("observed values %+v types %v, want %+v and temperature a number", got.Values, got.CustomTypes, want)
	}

	// CBOR, short names, the upper-case topic of AWS's troubleshooting page.
	dev5 := e.mustConnect5(d, "sensor-2")
	dev5.subscribe(t, "$aws/things/sensor-2/defender/metrics/CBOR/accepted", 1)
	doc, err := cbor.Marshal(map[string]any{"hed": map[string]any{"rid": 7, "v": "1.0"},
		"met": map[string]any{"up": map[string]any{"pts": []any{map[string]any{"pt": 53}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := dev5.publish(t, "$aws/things/sensor-2/defender/metrics/CBOR", 1, false, string(doc)); code != 0 || err != nil {
		t.Fatalf("CBOR report: PUBACK %#x, %v", code, err)
	}
	m5 := receive5(t, dev5, 5*time.Second)
	if m5.Topic != "$aws/things/sensor-2/defender/metrics/CBOR/accepted" {
		t.Fatalf("reply on %s", m5.Topic)
	}
	wantAccepted(t, m5.Topic, m5.Payload, "sensor-2", 7, before)
	waitFor(t, "the CBOR report observed", func() bool { return len(rec.all()) == 2 })
	if r := rec.all()[1]; r.ThingName != "sensor-2" || !reflect.DeepEqual(r.Values["aws:listening-udp-ports"], warden.MetricValue{Ports: []int{53}}) {
		t.Errorf("observed CBOR report %+v", r)
	}
	noMessage5(t, watcher, "$aws/things/sensor-1/defender/metrics/json", 200*time.Millisecond)
	noMessage5(t, watcher, "$aws/things/sensor-2/defender/metrics/CBOR", 100*time.Millisecond)
	// A publish on the report topic is still a publish: the data plane sees it.
	e.events.wait(t, "the report's Publish-In event", func(ev eventT) bool {
		return ev.Type == warden.EventPublishIn && ev.Topic == "$aws/things/sensor-1/defender/metrics/json" && ev.Status == warden.StatusSuccess
	})
}

// Malformed reports and bad thing names are answered on …/rejected with
// AWS's reason; nothing is observed.
func TestDeviceReportRejected(t *testing.T) {
	rec := &reportRecorder{}
	e := newEnv(t, envOptions{reports: rec})
	d := e.newDevice(allowAll)
	dev := e.mustConnect5(d, "sensor")
	dev.subscribe(t, "$aws/things/#", 1)
	long := strings.Repeat("t", 129)
	for _, tc := range []struct{ name, thing, format, payload, message string }{
		{"custom metric as a bare object", "sensor", "json", `{"hed":{"rid":1,"v":"1.0"},"cmet":{"temp":{"number":1}}}`, "Malformed metrics report"},
		{"no header", "sensor", "json", `{"met":{}}`, "Malformed metrics report"},
		{"not JSON", "sensor", "json", `hello`, "Malformed metrics report"},
		{"JSON on the CBOR topic", "sensor", "cbor", `{"hed":{"rid":1,"v":"1.0"},"met":{}}`, "Malformed metrics report"},
		{"thing name over 128 bytes", long, "json", `{"hed":{"rid":1,"v":"1.0"},"met":{}}`, ""},
		{"thing name with a control character", "bad\x07thing", "json", `{"hed":{"rid":1,"v":"1.0"},"met":{}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "$aws/things/" + tc.thing + "/defender/metrics/" + tc.format
			if code, err := dev.publish(t, topic, 1, false, tc.payload); code != 0 || err != nil {
				t.Fatalf("PUBACK %#x, %v", code, err)
			}
			m := receive5(t, dev, 5*time.Second)
			if m.Topic != topic+"/rejected" {
				t.Fatalf("got %s on %s, want the reply on %s/rejected", m.Payload, m.Topic, topic)
			}
			wantRejected(t, m.Topic, m.Payload, tc.thing, "InvalidPayload", tc.message)
		})
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("%d rejected reports observed", n)
	}
}

// Publishing a report needs iot:Publish on its topic, like any publish; a
// client may report for another thing when its policy allows that topic.
func TestDeviceReportNeedsPublish(t *testing.T) {
	rec := &reportRecorder{}
	e := newEnv(t, envOptions{reports: rec})
	d := e.newDevice(policy(allow("iot:Connect", "*"), allow("iot:Subscribe", "*"), allow("iot:Receive", "*"),
		allow("iot:Publish", arn("topic", "$aws/things/gateway/*")), allow("iot:Publish", arn("topic", "$aws/things/child/*"))))
	dev := e.mustConnect5(d, "gateway")
	dev.subscribe(t, "$aws/things/#", 1)
	body := `{"hed":{"rid":5,"v":"1.0"},"met":{}}`
	if code, _ := dev.publish(t, "$aws/things/other/defender/metrics/json", 1, false, body); code != 0x87 {
		t.Fatalf("denied report: PUBACK %#x, want 0x87", code)
	}
	noMessage5(t, dev, "$aws/things/other/defender/metrics/json/rejected", 300*time.Millisecond)
	if n := len(rec.all()); n != 0 {
		t.Fatalf("%d reports observed after a denied publish", n)
	}
	// Another thing's topic the policy allows: the report is that thing's.
	if code, _ := dev.publish(t, "$aws/things/child/defender/metrics/json", 1, false, body); code != 0 {
		t.Fatalf("report for child: PUBACK %#x", code)
	}
	m := receive5(t, dev, 5*time.Second)
	wantAccepted(t, m.Topic, m.Payload, "child", 5, time.Now().Add(-5*time.Second))
	if r := rec.all(); len(r) != 1 || r[0].ThingName != "child" {
		t.Fatalf("observed %+v, want child's report", r)
	}

	// MQTT 3.1.1: the denied publish closes the connection.
	c3 := e.mustConnect3(d, "gateway3")
	_ = c3.publish(t, "$aws/things/other/defender/metrics/json", 1, false, body)
	select {
	case <-c3.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("denied 3.1.1 report did not close the connection")
	}
	if n := len(rec.all()); n != 1 {
		t.Fatalf("%d reports observed, want only child's", n)
	}
}

// The replies reach only subscribers allowed iot:Receive on them.
func TestDeviceReportReplyNeedsReceive(t *testing.T) {
	e := newEnv(t, envOptions{reports: &reportRecorder{}})
	dev := e.mustConnect5(e.newDevice(allowAll), "sensor")
	dev.subscribe(t, "$aws/things/sensor/defender/metrics/json/+", 1)
	nosy := e.mustConnect5(e.newDevice(policy(allow("iot:*", "*"),
		deny("iot:Receive", arn("topic", "$aws/things/sensor/defender/metrics/json/accepted")))), "nosy")
	if code := nosy.subscribe(t, "$aws/things/sensor/defender/metrics/json/+", 1); code != 1 {
		t.Fatalf("wildcard subscription: SUBACK %#x", code)
	}
	for i, body := range []string{`{"hed":{"rid":1,"v":"1.0"},"met":{}}`, `{"met":{}}`} {
		if code, _ := dev.publish(t, "$aws/things/sensor/defender/metrics/json", 1, false, body); code != 0 {
			t.Fatalf("report %d: PUBACK %#x", i, code)
		}
		m := receive5(t, dev, 5*time.Second)
		if want := []string{"accepted", "rejected"}[i]; !strings.HasSuffix(m.Topic, "/"+want) {
			t.Fatalf("report %d: reply on %s, want %s", i, m.Topic, want)
		}
	}
	// nosy may receive …/rejected but not …/accepted.
	m := receive5(t, nosy, 5*time.Second)
	if !strings.HasSuffix(m.Topic, "/rejected") {
		t.Fatalf("nosy got %s on %s, want only the rejected reply", m.Payload, m.Topic)
	}
	noMessage5(t, nosy, "$aws/things/sensor/defender/metrics/json/accepted", 300*time.Millisecond)
}

// With ReportInterval set, a thing's report within the interval after its
// last accepted one is rejected (Throttled) and not observed; a throttled
// report does not restart the interval; other things are not held back.
func TestDeviceReportThrottled(t *testing.T) {
	rec := &reportRecorder{}
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e := newEnv(t, envOptions{reports: rec, reportInterval: time.Hour, now: now})
	dev := e.mustConnect5(e.newDevice(allowAll), "sensor")
	dev.subscribe(t, "$aws/things/+/defender/metrics/json/+", 1)
	for i, tc := range []struct {
		after        time.Duration
		thing, reply string
	}{
		{0, "a", "accepted"}, {0, "a", "rejected"}, {0, "b", "accepted"},
		{30 * time.Minute, "a", "rejected"}, {61 * time.Minute, "a", "accepted"},
	} {
		offset.Store(int64(tc.after))
		topic := "$aws/things/" + tc.thing + "/defender/metrics/json"
		if code, _ := dev.publish(t, topic, 1, false, fmt.Sprintf(`{"hed":{"rid":%d,"v":"1.0"},"met":{}}`, i)); code != 0 {
			t.Fatalf("report %d: PUBACK %#x", i, code)
		}
		m := receive5(t, dev, 5*time.Second)
		if m.Topic != topic+"/"+tc.reply {
			t.Fatalf("report %d: reply %s on %s, want %s", i, m.Payload, m.Topic, tc.reply)
		}
		if tc.reply == "rejected" {
			wantRejected(t, m.Topic, m.Payload, tc.thing, "Throttled", "")
		}
	}
	var got []string
	for _, r := range rec.all() {
		got = append(got, fmt.Sprintf("%s:%d", r.ThingName, r.ReportID))
	}
	if want := []string{"a:0", "b:2", "a:4"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
}
