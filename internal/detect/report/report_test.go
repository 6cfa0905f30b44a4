package report_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/detect/report"
)

func count(n int64) warden.MetricValue    { return warden.MetricValue{Count: &n} }
func number(f float64) warden.MetricValue { return warden.MetricValue{Number: &f} }

// longReport is AWS's example report with every field, long names.
const longReport = `{
  "header": {"report_id": 1530304554, "version": "1.0"},
  "metrics": {
    "listening_tcp_ports": {"ports": [{"interface": "eth0", "port": 24800}, {"interface": "eth0", "port": 22}, {"interface": "eth1", "port": 22}], "total": 3},
    "listening_udp_ports": {"ports": [{"interface": "eth0", "port": 5353}, {"interface": "eth0", "port": 67}], "total": 2},
    "network_stats": {"bytes_in": 29358693495, "bytes_out": 26485035, "packets_in": 10013573555, "packets_out": 11382615},
    "tcp_connections": {"established_connections": {"connections": [
      {"local_interface": "eth0", "local_port": 80, "remote_addr": "192.168.0.1:8000"},
      {"local_interface": "eth0", "local_port": 80, "remote_addr": "[2001:db8::1]:8000"},
      {"local_interface": "eth0", "local_port": 443, "remote_addr": "192.168.0.1:8001"}], "total": 3}}
  },
  "custom_metrics": {
    "MyMetricOfType_Number": [{"number": 1}],
    "MyMetricOfType_NumberList": [{"number_list": [1, 2.5, 3]}],
    "MyMetricOfType_StringList": [{"string_list": ["value_1", "value_2"]}],
    "MyMetricOfType_IpList": [{"ip_list": ["172.0.0.0", "2001:db8::2"]}]
  }
}`

// shortReport is the same report with the short names.
const shortReport = `{
  "hed": {"rid": 1530304554, "v": "1.0"},
  "met": {
    "tp": {"pts": [{"if": "eth0", "pt": 24800}, {"if": "eth0", "pt": 22}, {"if": "eth1", "pt": 22}], "t": 3},
    "up": {"pts": [{"if": "eth0", "pt": 5353}, {"if": "eth0", "pt": 67}], "t": 2},
    "ns": {"bi": 29358693495, "bo": 26485035, "pi": 10013573555, "po": 11382615},
    "tc": {"ec": {"cs": [
      {"li": "eth0", "lp": 80, "rad": "192.168.0.1:8000"},
      {"li": "eth0", "lp": 80, "rad": "[2001:db8::1]:8000"},
      {"li": "eth0", "lp": 443, "rad": "192.168.0.1:8001"}], "t": 3}}
  },
  "cmet": {
    "MyMetricOfType_Number": [{"number": 1}],
    "MyMetricOfType_NumberList": [{"number_list": [1, 2.5, 3]}],
    "MyMetricOfType_StringList": [{"string_list": ["value_1", "value_2"]}],
    "MyMetricOfType_IpList": [{"ip_list": ["172.0.0.0", "2001:db8::2"]}]
  }
}`

var fullValues = map[string]warden.MetricValue{
	"aws:num-listening-tcp-ports":         count(3),
	"aws:listening-tcp-ports":             {Ports: []int{22, 24800}},
	"aws:num-listening-udp-ports":         count(2),
	"aws:listening-udp-ports":             {Ports: []int{67, 5353}},
	"aws:all-bytes-in":                    count(29358693495),
	"aws:all-bytes-out":                   count(26485035),
	"aws:all-packets-in":                  count(10013573555),
	"aws:all-packets-out":                 count(11382615),
	"aws:num-established-tcp-connections": count(3),
	"aws:destination-ip-addresses":        {Cidrs: []string{"192.168.0.1/32", "2001:db8::1/128"}},
	"MyMetricOfType_Number":               number(1),
	"MyMetricOfType_NumberList":           {Numbers: []float64{1, 2.5, 3}},
	"MyMetricOfType_StringList":           {Strings: []string{"value_1", "value_2"}},
	"MyMetricOfType_IpList":               {Cidrs: []string{"172.0.0.0/32", "2001:db8::2/128"}},
}

var fullTypes = map[string]string{
	"MyMetricOfType_Number":     warden.ValueNumber,
	"MyMetricOfType_NumberList": warden.ValueNumbers,
	"MyMetricOfType_StringList": warden.ValueStrings,
	"MyMetricOfType_IpList":     warden.ValueCidrs,
}

// toCBOR re-encodes a JSON document in CBOR: integers as CBOR integers,
// other numbers as floats.
func toCBOR(t *testing.T, doc string) []byte {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("test document is not JSON: %v", err)
	}
	b, err := cbor.Marshal(fromJSONNumbers(v))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fromJSONNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = fromJSONNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = fromJSONNumbers(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// parseBoth parses doc as JSON and, re-encoded, as CBOR, and fails unless
// both give the same outcome.
func parseBoth(t *testing.T, doc string) (report.Report, error) {
	t.Helper()
	rj, errJ := report.Parse(report.FormatJSON, []byte(doc))
	rc, errC := report.Parse(report.FormatCBOR, toCBOR(t, doc))
	if (errJ == nil) != (errC == nil) {
		t.Fatalf("JSON error %v, CBOR error %v: formats disagree", errJ, errC)
	}
	if errJ == nil && !reflect.DeepEqual(rj, rc) {
		t.Fatalf("JSON gives %+v, CBOR %+v", rj, rc)
	}
	return rj, errJ
}

func TestParseFullReport(t *testing.T) {
	for name, doc := range map[string]string{"long names": longReport, "short names": shortReport} {
		t.Run(name, func(t *testing.T) {
			r, err := parseBoth(t, doc)
			if err != nil {
				t.Fatal(err)
			}
			if r.ID != 1530304554 || r.Version != "1.0" {
				t.Errorf("header: id %d version %q, want 1530304554 1.0", r.ID, r.Version)
			}
			if !reflect.DeepEqual(r.Values, fullValues) {
				t.Errorf("values:\n got %s\nwant %s", show(r.Values), show(fullValues))
			}
			if !reflect.DeepEqual(r.CustomTypes, fullTypes) {
				t.Errorf("custom types %v, want %v", r.CustomTypes, fullTypes)
			}
		})
	}
}

func show(v map[string]warden.MetricValue) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const hed = `"hed":{"rid":7,"v":"1.0"}`

// TestParseDerivedValues: what each metric is when fields are left out.
func TestParseDerivedValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want map[string]warden.MetricValue
	}{
		{"empty metrics", `{` + hed + `,"met":{}}`, map[string]warden.MetricValue{}},
		{"ports without total are counted", `{` + hed + `,"met":{"tp":{"pts":[{"pt":22},{"pt":80}]}}}`,
			map[string]warden.MetricValue{"aws:num-listening-tcp-ports": count(2), "aws:listening-tcp-ports": {Ports: []int{22, 80}}}},
		{"total without ports gives no port set", `{` + hed + `,"met":{"up":{"t":4}}}`,
			map[string]warden.MetricValue{"aws:num-listening-udp-ports": count(4)}},
		{"an empty port list is a datapoint", `{` + hed + `,"met":{"tp":{"pts":[]}}}`,
			map[string]warden.MetricValue{"aws:num-listening-tcp-ports": count(0), "aws:listening-tcp-ports": {Ports: []int{}}}},
		{"a port entry with only its interface", `{` + hed + `,"met":{"tp":{"pts":[{"if":"eth0"}],"t":1}}}`,
			map[string]warden.MetricValue{"aws:num-listening-tcp-ports": count(1), "aws:listening-tcp-ports": {Ports: []int{}}}},
		{"connections without total are counted", `{` + hed + `,"met":{"tc":{"ec":{"cs":[{"rad":"10.0.0.1:1"},{"rad":"10.0.0.1:2"}]}}}}`,
			map[string]warden.MetricValue{"aws:num-established-tcp-connections": count(2), "aws:destination-ip-addresses": {Cidrs: []string{"10.0.0.1/32"}}}},
		{"total without connections", `{` + hed + `,"met":{"tc":{"ec":{"t":9}}}}`,
			map[string]warden.MetricValue{"aws:num-established-tcp-connections": count(9)}},
		{"empty tcp_connections", `{` + hed + `,"met":{"tc":{}}}`, map[string]warden.MetricValue{}},
		{"IPv4-mapped and zoned addresses", `{` + hed + `,"met":{"tc":{"ec":{"cs":[{"rad":"[::ffff:10.0.0.2]:1"},{"rad":"[fe80::1%eth0]:2"}]}}}}`,
			map[string]warden.MetricValue{"aws:num-established-tcp-connections": count(2), "aws:destination-ip-addresses": {Cidrs: []string{"10.0.0.2/32", "fe80::1/128"}}}},
		{"some network stats", `{` + hed + `,"met":{"ns":{"bi":0,"po":5}}}`,
			map[string]warden.MetricValue{"aws:all-bytes-in": count(0), "aws:all-packets-out": count(5)}},
		{"integral float count", `{` + hed + `,"met":{"ns":{"bi":12.0}}}`,
			map[string]warden.MetricValue{"aws:all-bytes-in": count(12)}},
		{"custom metrics only", `{` + hed + `,"cmet":{"temp":[{"number":-3.5}],"tags":[{"string_list":[]}]}}`,
			map[string]warden.MetricValue{"temp": number(-3.5), "tags": {Strings: []string{}}}},
		{"long and short names mixed across objects", `{"header":{"rid":7,"version":"1.0"},"met":{"network_stats":{"bi":1}}}`,
			map[string]warden.MetricValue{"aws:all-bytes-in": count(1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseBoth(t, tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Values, tc.want) {
				t.Errorf("values:\n got %s\nwant %s", show(r.Values), show(tc.want))
			}
		})
	}
}

// TestParseRejects: every rule of the format, broken once.
func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ name, doc, why string }{
		{"not an object", `[1]`, "report is not an object"},
		{"no header", `{"met":{}}`, "report has no header"},
		{"header not an object", `{"hed":1,"met":{}}`, "report.header is not an object"},
		{"no report_id", `{"hed":{"v":"1.0"},"met":{}}`, "report.header has no report_id"},
		{"report_id a string", `{"hed":{"rid":"7","v":"1.0"},"met":{}}`, "report.header.report_id is not a number"},
		{"report_id not an integer", `{"hed":{"rid":7.5,"v":"1.0"},"met":{}}`, "report.header.report_id is not an integer"},
		{"report_id negative", `{"hed":{"rid":-7,"v":"1.0"},"met":{}}`, "report.header.report_id is negative"},
		{"no version", `{"hed":{"rid":7},"met":{}}`, "report.header.version is not \"Major.Minor\""},
		{"version a number", `{"hed":{"rid":7,"v":1.0},"met":{}}`, "report.header.version is not a string"},
		{"version not Major.Minor", `{"hed":{"rid":7,"v":"1"},"met":{}}`, "report.header.version is not \"Major.Minor\""},
		{"version with a patch", `{"hed":{"rid":7,"v":"1.0.1"},"met":{}}`, "report.header.version is not \"Major.Minor\""},
		{"unknown header field", `{"hed":{"rid":7,"v":"1.0","x":1},"met":{}}`, "report.header has an unknown field \"x\""},
		{"long and short name of one field", `{"hed":{"rid":7,"report_id":7,"v":"1.0"},"met":{}}`, "report.header has both report_id and rid"},
		{"neither metrics nor custom_metrics", `{` + hed + `}`, "report has neither metrics nor custom_metrics"},
		{"unknown top-level field", `{` + hed + `,"met":{},"extra":{}}`, "report has an unknown field \"extra\""},
		{"metrics not an object", `{` + hed + `,"met":[]}`, "report.metrics is not an object"},
		{"unknown metrics field", `{` + hed + `,"met":{"cpu":1}}`, "report.metrics has an unknown field \"cpu\""},
		{"negative bytes_in", `{` + hed + `,"met":{"ns":{"bi":-1}}}`, "report.metrics.network_stats.bytes_in is negative"},
		{"fractional bytes_out", `{` + hed + `,"met":{"ns":{"bo":1.5}}}`, "report.metrics.network_stats.bytes_out is not an integer"},
		{"packets_in a string", `{` + hed + `,"met":{"ns":{"pi":"5"}}}`, "report.metrics.network_stats.packets_in is not a number"},
		{"packets_out too large", `{` + hed + `,"met":{"ns":{"po":1e30}}}`, "report.metrics.network_stats.packets_out is not an integer"},
		{"unknown network_stats field", `{` + hed + `,"met":{"ns":{"drops":1}}}`, "report.metrics.network_stats has an unknown field \"drops\""},
		{"ports not a list", `{` + hed + `,"met":{"tp":{"pts":{"pt":22}}}}`, "report.metrics.listening_tcp_ports.ports is not a list"},
		{"port zero", `{` + hed + `,"met":{"tp":{"pts":[{"pt":0}]}}}`, "report.metrics.listening_tcp_ports.ports[0].port is not a port (1-65535)"},
		{"port above 65535", `{` + hed + `,"met":{"up":{"pts":[{"pt":65536}]}}}`, "report.metrics.listening_udp_ports.ports[0].port is not a port (1-65535)"},
		{"port a string", `{` + hed + `,"met":{"tp":{"pts":[{"pt":"22"}]}}}`, "report.metrics.listening_tcp_ports.ports[0].port is not a number"},
		{"interface a number", `{` + hed + `,"met":{"tp":{"pts":[{"pt":22,"if":1}]}}}`, "report.metrics.listening_tcp_ports.ports[0].interface is not a string"},
		{"negative ports total", `{` + hed + `,"met":{"up":{"t":-1}}}`, "report.metrics.listening_udp_ports.total is negative"},
		{"port entry not an object", `{` + hed + `,"met":{"tp":{"pts":[22]}}}`, "report.metrics.listening_tcp_ports.ports[0] is not an object"},
		{"connection without remote_addr", `{` + hed + `,"met":{"tc":{"ec":{"cs":[{"lp":80}]}}}}`, "report.metrics.tcp_connections.established_connections.connections[0] has no remote_addr"},
		{"remote_addr without port", `{` + hed + `,"met":{"tc":{"ec":{"cs":[{"rad":"10.0.0.1"}]}}}}`, "report.metrics.tcp_connections.established_connections.connections[0].remote_addr \"10.0.0.1\" is not ip:port"},
		{"remote_addr IPv6 without brackets", `{` + hed + `,"met":{"tc":{"ec":{"cs":[{"rad":"2001:db8::1:80"}]}}}}`, "report.metrics.tcp_connections.established_connections.connections[0].remote_addr \"2001:db8::1:80\" is not ip:port"},
		{"remote_addr a host name", `{` + hed + `,"met":{"tc":{"ec":{"cs":[{"rad":"example.com:80"}]}}}}`, "report.metrics.tcp_connections.established_connections.connections[0].remote_addr \"example.com:80\" is not ip:port"},
		{"negative local_port", `{` + hed + `,"met":{"tc":{"ec":{"cs":[{"rad":"10.0.0.1:1","lp":-1}]}}}}`, "report.metrics.tcp_connections.established_connections.connections[0].local_port is negative"},
		{"local_port above 65535", `{` + hed + `,"met":{"tc":{"ec":{"cs":[{"rad":"10.0.0.1:1","lp":70000}]}}}}`, "report.metrics.tcp_connections.established_connections.connections[0].local_port is not a port"},
		{"local_interface a list", `{` + hed + `,"met":{"tc":{"ec":{"cs":[{"rad":"10.0.0.1:1","li":[]}]}}}}`, "report.metrics.tcp_connections.established_connections.connections[0].local_interface is not a string"},
		{"negative connections total", `{` + hed + `,"met":{"tc":{"ec":{"t":-2}}}}`, "report.metrics.tcp_connections.established_connections.total is negative"},
		{"connections not a list", `{` + hed + `,"met":{"tc":{"ec":{"cs":"x"}}}}`, "report.metrics.tcp_connections.established_connections.connections is not a list"},
		{"unknown tcp_connections field", `{` + hed + `,"met":{"tc":{"listening":{}}}}`, "report.metrics.tcp_connections has an unknown field \"listening\""},
		{"custom metrics not an object", `{` + hed + `,"cmet":[]}`, "report.custom_metrics is not an object"},
		{"custom metric a bare object", `{` + hed + `,"cmet":{"temp":{"number":1}}}`, "report.custom_metrics.temp is not a list of one object"},
		{"custom metric an empty list", `{` + hed + `,"cmet":{"temp":[]}}`, "report.custom_metrics.temp is not a list of one object"},
		{"custom metric two objects", `{` + hed + `,"cmet":{"temp":[{"number":1},{"number":2}]}}`, "report.custom_metrics.temp is not a list of one object"},
		{"custom metric two kinds", `{` + hed + `,"cmet":{"temp":[{"number":1,"number_list":[1]}]}}`, "report.custom_metrics.temp[0] is not an object with one value"},
		{"custom metric unknown kind", `{` + hed + `,"cmet":{"temp":[{"value":1}]}}`, "report.custom_metrics.temp[0].value is not number, number_list, string_list or ip_list"},
		{"custom number a string", `{` + hed + `,"cmet":{"temp":[{"number":"1"}]}}`, "report.custom_metrics.temp[0].number is not a number"},
		{"custom number_list with a string", `{` + hed + `,"cmet":{"temp":[{"number_list":[1,"2"]}]}}`, "report.custom_metrics.temp[0].number_list[1] is not a number"},
		{"custom string_list with a number", `{` + hed + `,"cmet":{"temp":[{"string_list":["a",1]}]}}`, "report.custom_metrics.temp[0].string_list[1] is not a string"},
		{"custom ip_list with a CIDR", `{` + hed + `,"cmet":{"ips":[{"ip_list":["10.0.0.0/8"]}]}}`, "report.custom_metrics.ips[0].ip_list[0] is not an IP address"},
		{"custom ip_list not a list", `{` + hed + `,"cmet":{"ips":[{"ip_list":"10.0.0.1"}]}}`, "report.custom_metrics.ips[0].ip_list is not a list"},
		{"custom metric name with a space", `{` + hed + `,"cmet":{"my temp":[{"number":1}]}}`, "report.custom_metrics.my temp is not a custom metric name"},
		{"custom metric name aws:", `{` + hed + `,"cmet":{"aws:all-bytes-in":[{"number":1}]}}`, "report.custom_metrics.aws:all-bytes-in is not a custom metric name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseBoth(t, tc.doc)
			if !report.IsMalformed(err) || !strings.HasSuffix(err.Error(), ": "+tc.why) {
				t.Fatalf("error %v, want a malformed report: %s", err, tc.why)
			}
		})
	}
}

// TestParseRejectsEncodings: what only one of the formats can get wrong.
func TestParseRejectsEncodings(t *testing.T) {
	valid := []byte(`{` + hed + `,"met":{}}`)
	if _, err := report.Parse(report.FormatJSON, valid); err != nil {
		t.Fatalf("valid JSON: %v", err)
	}
	// A map of three entries: "hed", then "met" twice.
	dup := []byte{0xa3}
	for _, v := range []any{"hed", map[string]any{"rid": 1, "v": "1.0"}, "met", map[string]any{}, "met", map[string]any{}} {
		b, _ := cbor.Marshal(v)
		dup = append(dup, b...)
	}
	intKeys, _ := cbor.Marshal(map[int]any{1: 2})
	for _, tc := range []struct {
		name, format string
		payload      []byte
		why          string
	}{
		{"JSON with trailing data", report.FormatJSON, append(bytes.Clone(valid), []byte(` {}`)...), "data after the JSON document"},
		{"truncated JSON", report.FormatJSON, valid[:len(valid)-1], "not JSON: unexpected EOF"},
		{"empty JSON", report.FormatJSON, nil, "not JSON: EOF"},
		{"JSON sent on the CBOR topic", report.FormatCBOR, valid, "not CBOR: unexpected EOF"},
		{"CBOR with trailing data", report.FormatCBOR, append(toCBOR(t, string(valid)), 0x00), "extraneous data"},
		{"CBOR with duplicate keys", report.FormatCBOR, dup, "duplicate map key \"met\""},
		{"CBOR with integer keys", report.FormatCBOR, intKeys, "not CBOR"},
		{"CBOR sent on the JSON topic", report.FormatJSON, toCBOR(t, string(valid)), "not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := report.Parse(tc.format, tc.payload)
			if !report.IsMalformed(err) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("error %v, want a malformed report: %s", err, tc.why)
			}
		})
	}
	if _, err := report.Parse("xml", valid); err == nil || report.IsMalformed(err) {
		t.Errorf("unknown format: error %v, want a format error", err)
	}
}

// TestParseCBORNumbers: CBOR's own number encodings read as counts.
func TestParseCBORNumbers(t *testing.T) {
	doc := map[string]any{
		"hed": map[string]any{"rid": uint64(1 << 40), "v": "2.1"},
		"met": map[string]any{"ns": map[string]any{"bi": float32(3), "bo": uint8(4)}},
	}
	b, err := cbor.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Parse(report.FormatCBOR, b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]warden.MetricValue{"aws:all-bytes-in": count(3), "aws:all-bytes-out": count(4)}
	if r.ID != 1<<40 || r.Version != "2.1" || !reflect.DeepEqual(r.Values, want) {
		t.Errorf("got id %d version %q values %s, want %d 2.1 %s", r.ID, r.Version, show(r.Values), int64(1<<40), show(want))
	}
	doc["hed"] = map[string]any{"rid": uint64(1 << 63), "v": "1.0"}
	b, _ = cbor.Marshal(doc)
	if _, err := report.Parse(report.FormatCBOR, b); !report.IsMalformed(err) {
		t.Errorf("report_id 2^63: error %v, want a malformed report", err)
	}
}
