// Package report reads the metrics reports Device Defender agents publish
// (detect.md §3): a JSON or CBOR document with long or short field names,
// turned into the datapoints of the device-side and custom metrics.
//
// It is strict: a document with a field it does not know, a wrong type, a
// negative count or a port out of range is refused as a whole, as AWS
// refuses it ("Malformed metrics report"), so that no half-read report
// feeds the evaluator.
package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/fxamacker/cbor/v2"
	"github.com/warden-iot/warden"
)

// The formats a report is published in (the last topic level).
const (
	FormatJSON = "json"
	FormatCBOR = "cbor"
)

// Report is a valid metrics report.
type Report struct {
	ID      int64
	Version string
	// Values maps each metric the report feeds (aws:… and custom metric
	// names as sent) to its datapoint.
	Values map[string]warden.MetricValue
	// CustomTypes gives each custom metric's kind (warden.ValueNumber,
	// ValueNumbers, ValueStrings or ValueCidrs).
	CustomTypes map[string]string
}

// Error says why a document is not a valid report; AWS's reply names none
// of it ("Malformed metrics report"), it is for logs and tests.
type Error struct{ Reason string }

func (e *Error) Error() string { return "malformed metrics report: " + e.Reason }

func malformed(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// Parse reads a report published in format (FormatJSON or FormatCBOR).
func Parse(format string, payload []byte) (Report, error) {
	var doc any
	switch format {
	case FormatJSON:
		d := json.NewDecoder(bytes.NewReader(payload))
		d.UseNumber()
		if err := d.Decode(&doc); err != nil {
			return Report{}, malformed("not JSON: %v", err)
		}
		if _, err := d.Token(); err != io.EOF {
			return Report{}, malformed("data after the JSON document")
		}
	case FormatCBOR:
		if err := cborMode.Unmarshal(payload, &doc); err != nil {
			return Report{}, malformed("not CBOR: %v", err)
		}
	default:
		return Report{}, fmt.Errorf("report format %q is neither json nor cbor", format)
	}
	return read(doc)
}

// cborMode decodes maps with text keys (a report's keys are all text) and
// refuses duplicate keys, which JSON cannot express either.
var cborMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DefaultMapType: reflect.TypeFor[map[string]any](),
		DupMapKey:      cbor.DupMapKeyEnforcedAPF,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// name is a field's long and short spelling.
type name struct{ long, short string }

var (
	fHeader      = name{"header", "hed"}
	fReportID    = name{"report_id", "rid"}
	fVersion     = name{"version", "v"}
	fMetrics     = name{"metrics", "met"}
	fCustom      = name{"custom_metrics", "cmet"}
	fTCPConns    = name{"tcp_connections", "tc"}
	fEstablished = name{"established_connections", "ec"}
	fConnections = name{"connections", "cs"}
	fRemoteAddr  = name{"remote_addr", "rad"}
	fLocalPort   = name{"local_port", "lp"}
	fLocalIface  = name{"local_interface", "li"}
	fTotal       = name{"total", "t"}
	fTCPPorts    = name{"listening_tcp_ports", "tp"}
	fUDPPorts    = name{"listening_udp_ports", "up"}
	fPorts       = name{"ports", "pts"}
	fPort        = name{"port", "pt"}
	fInterface   = name{"interface", "if"}
	fNetStats    = name{"network_stats", "ns"}
	fBytesIn     = name{"bytes_in", "bi"}
	fBytesOut    = name{"bytes_out", "bo"}
	fPacketsIn   = name{"packets_in", "pi"}
	fPacketsOut  = name{"packets_out", "po"}
)

// object is a report object whose fields are looked up by either spelling.
type object struct {
	path string
	m    map[string]any
}

// asObject checks v is an object holding only the fields named.
func asObject(path string, v any, fields ...name) (object, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return object{}, malformed("%s is not an object", path)
	}
	for k := range m {
		known := slices.ContainsFunc(fields, func(n name) bool { return k == n.long || k == n.short })
		if !known {
			return object{}, malformed("%s has an unknown field %q", path, k)
		}
	}
	for _, n := range fields {
		_, hasLong := m[n.long]
		_, hasShort := m[n.short]
		if hasLong && hasShort {
			return object{}, malformed("%s has both %s and %s", path, n.long, n.short)
		}
	}
	return object{path, m}, nil
}

// get returns the field n, by either spelling.
func (o object) get(n name) (v any, path string, ok bool) {
	if v, ok := o.m[n.long]; ok {
		return v, o.path + "." + n.long, true
	}
	v, ok = o.m[n.short]
	return v, o.path + "." + n.long, ok
}

func (o object) object(n name, fields ...name) (object, bool, error) {
	v, path, ok := o.get(n)
	if !ok {
		return object{}, false, nil
	}
	obj, err := asObject(path, v, fields...)
	return obj, true, err
}

// count reads a non-negative integer field.
func (o object) count(n name) (int64, bool, error) {
	v, path, ok := o.get(n)
	if !ok {
		return 0, false, nil
	}
	c, err := asCount(path, v)
	return c, true, err
}

func (o object) list(n name) ([]any, bool, error) {
	v, path, ok := o.get(n)
	if !ok {
		return nil, false, nil
	}
	l, isList := v.([]any)
	if !isList {
		return nil, true, malformed("%s is not a list", path)
	}
	return l, true, nil
}

func (o object) str(n name) (string, bool, error) {
	v, path, ok := o.get(n)
	if !ok {
		return "", false, nil
	}
	s, isString := v.(string)
	if !isString {
		return "", true, malformed("%s is not a string", path)
	}
	return s, true, nil
}

// asNumber reads any number, JSON's or CBOR's.
func asNumber(path string, v any) (float64, error) {
	var f float64
	switch n := v.(type) {
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return 0, malformed("%s is out of range", path)
		}
	case uint64:
		f = float64(n)
	case int64:
		f = float64(n)
	case float64:
		f = n
	default:
		return 0, malformed("%s is not a number", path)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, malformed("%s is not a finite number", path)
	}
	return f, nil
}

// asCount reads a non-negative integer.
func asCount(path string, v any) (int64, error) {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			if i < 0 {
				return 0, malformed("%s is negative", path)
			}
			return i, nil
		}
	case uint64:
		if n > math.MaxInt64 {
			return 0, malformed("%s is out of range", path)
		}
		return int64(n), nil
	case int64:
		if n < 0 {
			return 0, malformed("%s is negative", path)
		}
		return n, nil
	}
	f, err := asNumber(path, v)
	switch {
	case err != nil:
		return 0, err
	case f < 0:
		return 0, malformed("%s is negative", path)
	case f != math.Trunc(f) || f >= math.MaxInt64:
		return 0, malformed("%s is not an integer", path)
	}
	return int64(f), nil
}

// asPort reads a port number, 1–65535.
func asPort(path string, v any) (int, error) {
	c, err := asCount(path, v)
	if err != nil {
		return 0, err
	}
	if c < 1 || c > math.MaxUint16 {
		return 0, malformed("%s is not a port (1-65535)", path)
	}
	return int(c), nil
}

var versionPattern = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

func read(doc any) (Report, error) {
	root, err := asObject("report", doc, fHeader, fMetrics, fCustom)
	if err != nil {
		return Report{}, err
	}
	r := Report{Values: map[string]warden.MetricValue{}}
	hed, ok, err := root.object(fHeader, fReportID, fVersion)
	if err != nil {
		return Report{}, err
	}
	if !ok {
		return Report{}, malformed("report has no header")
	}
	if r.ID, ok, err = hed.count(fReportID); err != nil {
		return Report{}, err
	} else if !ok {
		return Report{}, malformed("%s has no report_id", hed.path)
	}
	if r.Version, ok, err = hed.str(fVersion); err != nil {
		return Report{}, err
	} else if !ok || !versionPattern.MatchString(r.Version) {
		return Report{}, malformed(`%s.version is not "Major.Minor"`, hed.path)
	}
	met, hasMetrics, err := root.object(fMetrics, fTCPConns, fTCPPorts, fUDPPorts, fNetStats)
	if err != nil {
		return Report{}, err
	}
	custom, customPath, hasCustom := root.get(fCustom)
	if !hasMetrics && !hasCustom {
		return Report{}, malformed("report has neither metrics nor custom_metrics")
	}
	if hasMetrics {
		if err := readMetrics(met, r.Values); err != nil {
			return Report{}, err
		}
	}
	if hasCustom {
		if r.CustomTypes, err = readCustom(customPath, custom, r.Values); err != nil {
			return Report{}, err
		}
	}
	return r, nil
}

func readMetrics(met object, values map[string]warden.MetricValue) error {
	if ns, ok, err := met.object(fNetStats, fBytesIn, fBytesOut, fPacketsIn, fPacketsOut); err != nil {
		return err
	} else if ok {
		for _, f := range []struct {
			n      name
			metric string
		}{
			{fBytesIn, "aws:all-bytes-in"}, {fBytesOut, "aws:all-bytes-out"},
			{fPacketsIn, "aws:all-packets-in"}, {fPacketsOut, "aws:all-packets-out"},
		} {
			c, ok, err := ns.count(f.n)
			if err != nil {
				return err
			}
			if ok {
				values[f.metric] = warden.MetricValue{Count: &c}
			}
		}
	}
	for _, f := range []struct {
		n          name
		num, ports string
	}{
		{fTCPPorts, "aws:num-listening-tcp-ports", "aws:listening-tcp-ports"},
		{fUDPPorts, "aws:num-listening-udp-ports", "aws:listening-udp-ports"},
	} {
		if err := readListening(met, f.n, f.num, f.ports, values); err != nil {
			return err
		}
	}
	tc, ok, err := met.object(fTCPConns, fEstablished)
	if err != nil || !ok {
		return err
	}
	return readEstablished(tc, values)
}

// readListening reads listening_tcp_ports or listening_udp_ports: the
// number of ports is total, or the ports listed when total is absent; the
// set of ports is given only when the list is (an empty list is a datapoint:
// no port listens).
func readListening(met object, n name, numMetric, portsMetric string, values map[string]warden.MetricValue) error {
	lp, ok, err := met.object(n, fPorts, fTotal)
	if err != nil || !ok {
		return err
	}
	list, hasList, err := lp.list(fPorts)
	if err != nil {
		return err
	}
	ports := []int{}
	for i, item := range list {
		p, err := asObject(fmt.Sprintf("%s.ports[%d]", lp.path, i), item, fPort, fInterface)
		if err != nil {
			return err
		}
		if _, _, err := p.str(fInterface); err != nil {
			return err
		}
		v, path, ok := p.get(fPort)
		if !ok {
			continue // AWS's table does not require it: an interface alone says nothing of ports
		}
		port, err := asPort(path, v)
		if err != nil {
			return err
		}
		ports = append(ports, port)
	}
	slices.Sort(ports)
	ports = slices.Compact(ports)
	total, hasTotal, err := lp.count(fTotal)
	if err != nil {
		return err
	}
	if !hasTotal {
		total = int64(len(ports))
	}
	values[numMetric] = warden.MetricValue{Count: &total}
	if hasList {
		values[portsMetric] = warden.MetricValue{Ports: ports}
	}
	return nil
}

// readEstablished reads tcp_connections.established_connections: the
// number of connections (total, or those listed) and the remote IPs listed.
func readEstablished(tc object, values map[string]warden.MetricValue) error {
	ec, ok, err := tc.object(fEstablished, fConnections, fTotal)
	if err != nil || !ok {
		return err
	}
	list, hasList, err := ec.list(fConnections)
	if err != nil {
		return err
	}
	cidrs := []string{}
	for i, item := range list {
		c, err := asObject(fmt.Sprintf("%s.connections[%d]", ec.path, i), item, fRemoteAddr, fLocalPort, fLocalIface)
		if err != nil {
			return err
		}
		rad, ok, err := c.str(fRemoteAddr)
		if err != nil {
			return err
		}
		if !ok {
			return malformed("%s has no remote_addr", c.path)
		}
		ap, err := netip.ParseAddrPort(rad)
		if err != nil {
			return malformed("%s.remote_addr %q is not ip:port", c.path, rad)
		}
		if lp, ok, err := c.count(fLocalPort); err != nil {
			return err
		} else if ok && lp > math.MaxUint16 {
			return malformed("%s.local_port is not a port", c.path)
		}
		if _, _, err := c.str(fLocalIface); err != nil {
			return err
		}
		cidrs = append(cidrs, hostPrefix(ap.Addr()))
	}
	slices.Sort(cidrs)
	cidrs = slices.Compact(cidrs)
	total, hasTotal, err := ec.count(fTotal)
	if err != nil {
		return err
	}
	if !hasTotal {
		total = int64(len(list))
	}
	values["aws:num-established-tcp-connections"] = warden.MetricValue{Count: &total}
	if hasList {
		values["aws:destination-ip-addresses"] = warden.MetricValue{Cidrs: cidrs}
	}
	return nil
}

// hostPrefix is an address as the CIDR of that one host (/32 or /128); an
// IPv4-mapped IPv6 address is its IPv4 address, a zone is dropped.
func hostPrefix(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()).String()
}

// customNamePattern is CreateCustomMetric's metricName pattern.
var customNamePattern = regexp.MustCompile(`^[a-zA-Z0-9:_-]{1,128}$`)

// readCustom reads custom_metrics: each name maps to a list holding one
// object with one of number, number_list, string_list or ip_list.
func readCustom(path string, v any, values map[string]warden.MetricValue) (map[string]string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, malformed("%s is not an object", path)
	}
	types := make(map[string]string, len(m))
	for metric, entry := range m {
		at := path + "." + metric
		if !customNamePattern.MatchString(metric) || strings.HasPrefix(metric, "aws:") {
			return nil, malformed("%s is not a custom metric name", at)
		}
		list, ok := entry.([]any)
		if !ok || len(list) != 1 {
			return nil, malformed("%s is not a list of one object", at)
		}
		obj, ok := list[0].(map[string]any)
		if !ok || len(obj) != 1 {
			return nil, malformed("%s[0] is not an object with one value", at)
		}
		for kind, x := range obj {
			val, typ, err := customValue(at+"[0]."+kind, kind, x)
			if err != nil {
				return nil, err
			}
			values[metric], types[metric] = val, typ
		}
	}
	return types, nil
}

func customValue(path, kind string, x any) (warden.MetricValue, string, error) {
	switch kind {
	case "number":
		f, err := asNumber(path, x)
		return warden.MetricValue{Number: &f}, warden.ValueNumber, err
	case "number_list", "string_list", "ip_list":
	default:
		return warden.MetricValue{}, "", malformed("%s is not number, number_list, string_list or ip_list", path)
	}
	list, ok := x.([]any)
	if !ok {
		return warden.MetricValue{}, "", malformed("%s is not a list", path)
	}
	switch kind {
	case "number_list":
		ns := make([]float64, len(list))
		for i, e := range list {
			var err error
			if ns[i], err = asNumber(fmt.Sprintf("%s[%d]", path, i), e); err != nil {
				return warden.MetricValue{}, "", err
			}
		}
		return warden.MetricValue{Numbers: ns}, warden.ValueNumbers, nil
	case "string_list":
		ss := make([]string, len(list))
		for i, e := range list {
			if ss[i], ok = e.(string); !ok {
				return warden.MetricValue{}, "", malformed("%s[%d] is not a string", path, i)
			}
		}
		return warden.MetricValue{Strings: ss}, warden.ValueStrings, nil
	}
	cidrs := make([]string, len(list))
	for i, e := range list {
		s, _ := e.(string)
		a, err := netip.ParseAddr(s)
		if err != nil {
			return warden.MetricValue{}, "", malformed("%s[%d] is not an IP address", path, i)
		}
		cidrs[i] = hostPrefix(a)
	}
	return warden.MetricValue{Cidrs: cidrs}, warden.ValueCidrs, nil
}

// IsMalformed reports whether err is a refused document (not a bad format).
func IsMalformed(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
