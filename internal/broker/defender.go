package broker

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/detect/report"
)

// Device Defender metrics reports (detect.md §3): a device publishes to
// $aws/things/<thing>/defender/metrics/<json|cbor>; Warden answers on the
// topic's /accepted or /rejected and hands accepted reports to
// Config.Reports. The report itself reaches no subscriber.

const (
	defenderPrefix     = "$aws/things/"
	defenderSuffix     = "/defender/metrics/"
	maxThingNameBytes  = 128
	errInvalidPayload  = "InvalidPayload"
	errThrottled       = "Throttled"
	msgMalformedReport = "Malformed metrics report"
	// maxReportClocks bounds the throttle's memory: past it, things whose
	// interval has passed are forgotten.
	maxReportClocks = 100000
)

// reportTopic splits a report topic into the thing name and the format
// (lower case; the troubleshooting page writes JSON and CBOR).
func reportTopic(topic string) (thing, format string, ok bool) {
	rest, ok := strings.CutPrefix(topic, defenderPrefix)
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, defenderSuffix)
	if i < 0 {
		return "", "", false
	}
	thing, format = rest[:i], strings.ToLower(rest[i+len(defenderSuffix):])
	if strings.Contains(thing, "/") || (format != report.FormatJSON && format != report.FormatCBOR) {
		return "", "", false
	}
	return thing, format, true
}

// validReportThing is AWS's rule for a reporting thing's name: no control
// characters, at most 128 bytes of UTF-8.
func validReportThing(name string) bool {
	return name != "" && len(name) <= maxThingNameBytes && utf8.ValidString(name) &&
		!strings.ContainsFunc(name, unicode.IsControl)
}

// reportReply is AWS's answer on …/accepted or …/rejected.
type reportReply struct {
	ThingName     string         `json:"thingName"`
	ReportID      *int64         `json:"reportId,omitempty"`
	Status        string         `json:"status"`
	StatusDetails *reportDetails `json:"statusDetails,omitempty"`
	Timestamp     int64          `json:"timestamp"`
}

type reportDetails struct {
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

// reportThrottle remembers when each thing's last accepted report came.
type reportThrottle struct {
	mu   sync.Mutex
	last map[reportKey]time.Time
}

type reportKey struct {
	scope warden.Scope
	thing string
}

// admit records a report of k at now unless one came less than interval ago.
func (t *reportThrottle) admit(k reportKey, now time.Time, interval time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.last[k]; ok && now.Sub(last) < interval {
		return false
	}
	if t.last == nil {
		t.last = map[reportKey]time.Time{}
	}
	if len(t.last) >= maxReportClocks {
		for key, last := range t.last {
			if now.Sub(last) >= interval {
				delete(t.last, key)
			}
		}
		if len(t.last) >= maxReportClocks {
			clear(t.last)
		}
	}
	t.last[k] = now
	return true
}

// handleReport answers a report published on topic for thing and, when
// accepted, hands it on.
func (b *Broker) handleReport(ss *scopeServer, topic, thing, format string, payload []byte) {
	now := b.now()
	var code, message string
	r, err := report.Parse(format, payload)
	switch {
	case !validReportThing(thing):
		code, message = errInvalidPayload, "Invalid thing name"
	case err != nil:
		b.log.Debug("device metrics report rejected", "thing_name", thing, "err", err.Error())
		code, message = errInvalidPayload, msgMalformedReport
	case b.cfg.ReportInterval > 0 && !b.reportClocks.admit(reportKey{ss.scope, thing}, now, b.cfg.ReportInterval):
		code, message = errThrottled, fmt.Sprintf("Reports may come at most once every %s per thing", b.cfg.ReportInterval)
	}
	reply := reportReply{ThingName: thing, Status: "ACCEPTED", Timestamp: now.UnixMilli()}
	suffix := "/accepted"
	if code != "" {
		reply.Status, reply.StatusDetails, suffix = "REJECTED", &reportDetails{code, message}, "/rejected"
	} else {
		reply.ReportID = &r.ID
		if b.cfg.Reports != nil {
			b.cfg.Reports.ObserveReport(warden.DeviceMetricsReport{Scope: ss.scope, ThingName: thing,
				ReportID: r.ID, At: now, Values: r.Values, CustomTypes: r.CustomTypes})
		}
	}
	// Answered in the report's own format: an agent that sends CBOR reads CBOR.
	var body []byte
	if format == report.FormatCBOR {
		body, err = cbor.Marshal(reply)
	} else {
		body, err = json.Marshal(reply)
	}
	if err != nil {
		b.log.Error("device metrics report reply not encoded", "err", err.Error())
		return
	}
	_ = ss.srv.Publish(topic+suffix, body, false, 1)
}

// reportPublish handles pk when it is a metrics report: the report is
// answered and not forwarded (mochi acknowledges it and delivers nothing).
func (h *hook) reportPublish(pk packets.Packet) bool {
	thing, format, ok := reportTopic(pk.TopicName)
	if !ok {
		return false
	}
	h.ss.b.handleReport(h.ss, pk.TopicName, thing, format, pk.Payload)
	return true
}
