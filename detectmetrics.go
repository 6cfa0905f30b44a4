package warden

// The metrics a behaviour may watch (detect.md §2, §3): AWS's cloud-side
// metrics (computed from the device's traffic), device-side metrics (from
// the device's metrics reports) and custom metrics (also from reports).

// Metric value kinds: the MetricValue member a metric's datapoints and
// criteria values use.
const (
	ValueCount   = "count"
	ValueNumber  = "number"
	ValueNumbers = "numbers"
	ValueStrings = "strings"
	ValueCidrs   = "cidrs"
	ValuePorts   = "ports"
)

// Where a metric's datapoints come from.
const (
	MetricCloudSide  = "cloud"
	MetricDeviceSide = "device"
	MetricCustom     = "custom"
)

// DetectMetric describes one metric.
type DetectMetric struct {
	Name  string
	Side  string // MetricCloudSide, MetricDeviceSide or MetricCustom
	Value string // a Value* kind
	// Durations: the criteria take durationSeconds (the datapoint is the
	// total over the period); without it each event is a datapoint.
	Durations bool
	// Dimension: a TOPIC_FILTER dimension may narrow it.
	Dimension bool
	// ML: machine-learning criteria are allowed (not built: see README).
	ML bool
}

// DetectDurations are the durationSeconds AWS accepts.
var DetectDurations = []int{300, 600, 900, 1800, 3600}

var detectMetrics = map[string]DetectMetric{}

func init() {
	for _, m := range []DetectMetric{
		{Name: "aws:message-byte-size", Side: MetricCloudSide, Value: ValueCount, Durations: true, Dimension: true, ML: true},
		{Name: "aws:num-messages-sent", Side: MetricCloudSide, Value: ValueCount, Durations: true, Dimension: true, ML: true},
		{Name: "aws:num-messages-received", Side: MetricCloudSide, Value: ValueCount, Durations: true, Dimension: true, ML: true},
		{Name: "aws:num-authorization-failures", Side: MetricCloudSide, Value: ValueCount, Durations: true, Dimension: true, ML: true},
		{Name: "aws:source-ip-address", Side: MetricCloudSide, Value: ValueCidrs},
		{Name: "aws:num-connection-attempts", Side: MetricCloudSide, Value: ValueCount, Durations: true, ML: true},
		{Name: "aws:num-disconnects", Side: MetricCloudSide, Value: ValueCount, Durations: true, ML: true},
		// AWS does not define it (detect.md §2); Warden: seconds the device
		// was disconnected in the period.
		{Name: "aws:disconnect-duration", Side: MetricCloudSide, Value: ValueCount, Durations: true},
		{Name: "aws:all-bytes-out", Side: MetricDeviceSide, Value: ValueCount, Durations: true, ML: true},
		{Name: "aws:all-bytes-in", Side: MetricDeviceSide, Value: ValueCount, Durations: true, ML: true},
		{Name: "aws:all-packets-out", Side: MetricDeviceSide, Value: ValueCount, Durations: true, ML: true},
		{Name: "aws:all-packets-in", Side: MetricDeviceSide, Value: ValueCount, Durations: true, ML: true},
		{Name: "aws:num-listening-tcp-ports", Side: MetricDeviceSide, Value: ValueCount, Durations: true, ML: true},
		{Name: "aws:num-listening-udp-ports", Side: MetricDeviceSide, Value: ValueCount, Durations: true, ML: true},
		{Name: "aws:listening-tcp-ports", Side: MetricDeviceSide, Value: ValuePorts},
		{Name: "aws:listening-udp-ports", Side: MetricDeviceSide, Value: ValuePorts},
		{Name: "aws:destination-ip-addresses", Side: MetricDeviceSide, Value: ValueCidrs},
		{Name: "aws:num-established-tcp-connections", Side: MetricDeviceSide, Value: ValueCount, Durations: true, ML: true},
	} {
		detectMetrics[m.Name] = m
	}
}

// LookupDetectMetric returns an AWS metric (aws:…) by name.
func LookupDetectMetric(name string) (DetectMetric, bool) {
	m, ok := detectMetrics[name]
	return m, ok
}

// CustomDetectMetric describes a custom metric of type metricType
// (number, number-list, string-list, ip-address-list).
func CustomDetectMetric(name, metricType string) (DetectMetric, bool) {
	m := DetectMetric{Name: name, Side: MetricCustom}
	switch metricType {
	case "number":
		m.Value, m.ML = ValueNumber, true
	case "number-list":
		m.Value = ValueNumbers
	case "string-list":
		m.Value = ValueStrings
	case "ip-address-list":
		m.Value = ValueCidrs
	default:
		return m, false
	}
	return m, true
}

// DetectOperators lists the comparison operators a value kind allows.
func DetectOperators(value string) []string {
	switch value {
	case ValueCount, ValueNumber:
		return []string{"less-than", "less-than-equals", "greater-than", "greater-than-equals"}
	case ValueCidrs:
		return []string{"in-cidr-set", "not-in-cidr-set"}
	case ValuePorts:
		return []string{"in-port-set", "not-in-port-set"}
	case ValueNumbers, ValueStrings:
		return []string{"in-set", "not-in-set"}
	}
	return nil
}
