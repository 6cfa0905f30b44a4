package detect

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/warden-iot/warden"
)

// Detect metrics export (AWS's "Detect metrics export"): the values of the
// metrics a profile exports are collected over a batch period and
// published as JSON on the profile's metricsExportConfig.mqttTopic, with
// the profile's role, which must be allowed iot:Publish on the topic.
// Cloud-side metrics are summed over the period (message byte size gives
// its minimum, maximum and sum; source IPs the set seen; disconnect
// duration each disconnected device's seconds disconnected); device-side
// and custom metrics are exported as reported, one entry per report.

// Defaults of the export options.
const (
	DefaultExportEvery    = time.Minute
	DefaultExportMaxBytes = 128 * 1024 // AWS's MQTT payload limit
)

// maxExportEntries bounds the values one profile collects in a batch
// period (device reports are kept one by one); later ones are dropped.
const maxExportEntries = 100000

type exportKey struct {
	scope   warden.Scope
	profile string
}

// exportSeries is one thing's metric, with the dimension it is counted
// under.
type exportSeries struct {
	thing, metric, dimName, dimOp string
}

// exportAcc is what a series collected in the period.
type exportAcc struct {
	counted       bool // a cloud-side amount was added
	sum, min, max float64
	cidrs         []string
	points        []exportPoint // device-side and custom: as reported
}

type exportPoint struct {
	v  warden.MetricValue
	at time.Time
}

type exportBatch struct {
	series  map[exportSeries]*exportAcc
	entries int
	dropped int
}

type exportBatches map[exportKey]*exportBatch

// markExported flags, for each metric and dimension the profile exports
// (in a behaviour or a metric to retain), the first of its compiled
// behaviours on it.
func markExported(p *profile, sp warden.SecurityProfile) {
	if sp.MetricsExportConfig == nil {
		return
	}
	cfg := *sp.MetricsExportConfig
	p.export = &cfg
	want := map[string]bool{}
	for _, b := range sp.Behaviors {
		if b.ExportMetric != nil && *b.ExportMetric {
			want[exportedKey(b.Metric, b.MetricDimension)] = true
		}
	}
	for _, m := range sp.AdditionalMetricsToRetainV2 {
		if m.ExportMetric != nil && *m.ExportMetric {
			want[exportedKey(m.Metric, m.MetricDimension)] = true
		}
	}
	for _, b := range p.behaviors {
		if k := exportedKey(b.metric, b.raw.MetricDimension); want[k] {
			b.export = true
			delete(want, k)
		}
	}
}

// exportedKey is retainKey with the dimension's default operator (IN)
// spelt out: a behaviour and a metric to retain may write it differently.
func exportedKey(metric string, d *warden.MetricDimension) string {
	if d != nil && d.Operator == "" {
		d = &warden.MetricDimension{DimensionName: d.DimensionName, Operator: "IN"}
	}
	return retainKey(metric, d)
}

// series returns the accumulator of b's metric for dev (nil when the
// profile's batch is full).
func (c *core) series(dev *device, b *behavior, points int) *exportAcc {
	k := exportKey{dev.key.scope, b.profile.name}
	batch := c.exported[k]
	if batch == nil {
		batch = &exportBatch{series: map[exportSeries]*exportAcc{}}
		c.exported[k] = batch
	}
	s := exportSeries{thing: dev.key.id, metric: b.metric}
	if b.dim != nil {
		s.dimName, s.dimOp = b.dim.name, "IN"
		if b.dim.notIn {
			s.dimOp = "NOT_IN"
		}
	}
	acc := batch.series[s]
	if acc == nil || points > 0 {
		if batch.entries+points >= maxExportEntries {
			batch.dropped++
			return nil
		}
		batch.entries += max(points, 1)
	}
	if acc == nil {
		acc = &exportAcc{}
		batch.series[s] = acc
	}
	return acc
}

// exportAmount adds a cloud-side amount (a message, its bytes, a
// connection attempt...) to the period's sum.
func (c *core) exportAmount(dev *device, b *behavior, amount float64) {
	acc := c.series(dev, b, 0)
	if acc == nil {
		return
	}
	if !acc.counted || amount < acc.min {
		acc.min = amount
	}
	if !acc.counted || amount > acc.max {
		acc.max = amount
	}
	acc.sum += amount
	acc.counted = true
}

// exportCidrs adds the source addresses seen to the period's set.
func (c *core) exportCidrs(dev *device, b *behavior, cidrs []string) {
	acc := c.series(dev, b, 0)
	if acc == nil {
		return
	}
	for _, x := range cidrs {
		if !slices.Contains(acc.cidrs, x) {
			acc.cidrs = append(acc.cidrs, x)
		}
	}
}

// exportPoint keeps a reported value as it is.
func (c *core) exportPoint(dev *device, b *behavior, v warden.MetricValue, at time.Time) {
	if acc := c.series(dev, b, 1); acc != nil {
		acc.points = append(acc.points, exportPoint{v, at})
	}
}

// ExportedMetric is one entry of an export message (AWS's metrics export
// schema).
type ExportedMetric struct {
	Name      string           `json:"name"`
	Thing     string           `json:"thing"`
	Value     ExportedValue    `json:"value"`
	Version   int              `json:"version"`
	Timestamp int64            `json:"timestamp"` // epoch milliseconds
	Dimension *ExportDimension `json:"dimension,omitempty"`
}

// ExportedValue is a metric value; aws:message-byte-size adds the
// smallest and largest message of the period to the sum in count.
type ExportedValue struct {
	warden.MetricValue
	Minimum *int64 `json:"minimum,omitempty"`
	Maximum *int64 `json:"maximum,omitempty"`
}

// ExportDimension names the dimension an entry is counted under.
type ExportDimension struct {
	Name     string `json:"name"`
	Operator string `json:"operator"`
}

// ExportMessage is the JSON published on the export topic.
type ExportMessage struct {
	Version string           `json:"version"`
	Metrics []ExportedMetric `json:"metrics"`
}

// profileExport is one profile's batch, ready to publish.
type profileExport struct {
	scope   warden.Scope
	profile string
	config  warden.MetricsExportConfig
	metrics []ExportedMetric
	dropped int
}

// collectExports ends the batch period at now: it adds each exporting
// profile's disconnected devices' disconnect durations and returns every
// profile's batch (profiles gone or no longer exporting are dropped).
func (c *core) collectExports(now time.Time) []profileExport {
	for _, dev := range c.devices {
		if dev.conns > 0 || dev.disconnectedAt.IsZero() || dev.disconnectedAt.After(now) {
			continue
		}
		for _, w := range dev.watch {
			if w.b.export && w.b.metric == metricDownTime {
				c.exportAmount(dev, w.b, float64(max(0, now.Unix()-dev.disconnectedAt.Unix())))
			}
		}
	}
	var out []profileExport
	ms := now.UnixMilli()
	for k, batch := range c.exported {
		p := c.scopes[k.scope].profile(k.profile)
		if p == nil || p.export == nil {
			continue
		}
		pe := profileExport{scope: k.scope, profile: k.profile, config: *p.export, dropped: batch.dropped}
		for s, acc := range batch.series {
			m := ExportedMetric{Name: s.metric, Thing: s.thing, Version: 1, Timestamp: ms}
			if s.dimName != "" {
				m.Dimension = &ExportDimension{s.dimName, s.dimOp}
			}
			switch {
			case acc.counted:
				m.Value.Count = ptr(int64(acc.sum))
				if s.metric == metricBytes {
					m.Value.Minimum, m.Value.Maximum = ptr(int64(acc.min)), ptr(int64(acc.max))
				}
				pe.metrics = append(pe.metrics, m)
			case acc.cidrs != nil:
				m.Value.Cidrs = acc.cidrs
				pe.metrics = append(pe.metrics, m)
			}
			for _, pt := range acc.points {
				m.Value = ExportedValue{MetricValue: pt.v}
				m.Timestamp = pt.at.UnixMilli()
				pe.metrics = append(pe.metrics, m)
			}
		}
		slices.SortFunc(pe.metrics, func(a, b ExportedMetric) int {
			return cmp.Or(cmp.Compare(a.Thing, b.Thing), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Timestamp, b.Timestamp),
				cmp.Compare(dimensionOf(a), dimensionOf(b)))
		})
		if len(pe.metrics) > 0 {
			out = append(out, pe)
		}
	}
	c.exported = exportBatches{}
	slices.SortFunc(out, func(a, b profileExport) int {
		return cmp.Or(cmp.Compare(a.scope.Account, b.scope.Account), cmp.Compare(a.scope.Region, b.scope.Region),
			cmp.Compare(a.profile, b.profile))
	})
	return out
}

func dimensionOf(m ExportedMetric) string {
	if m.Dimension == nil {
		return ""
	}
	return m.Dimension.Name + " " + m.Dimension.Operator
}

func ptr[T any](v T) *T { return &v }

// profile returns the compiled profile named name (nil: none).
func (sc *scopeConfig) profile(name string) *profile {
	if sc == nil {
		return nil
	}
	for _, p := range sc.profiles {
		if p.name == name {
			return p
		}
	}
	return nil
}

// exportPayloads splits metrics into export messages of at most maxBytes
// each; an entry too big for any message is left out (counted in
// tooBig).
func exportPayloads(metrics []ExportedMetric, maxBytes int) (payloads [][]byte, tooBig int) {
	const head, tail = `{"version":"1.0","metrics":[`, `]}`
	var buf bytes.Buffer
	n := 0
	end := func() {
		if n > 0 {
			buf.WriteString(tail)
			payloads = append(payloads, bytes.Clone(buf.Bytes()))
		}
		buf.Reset()
		n = 0
	}
	for _, m := range metrics {
		entry, err := json.Marshal(m)
		if err != nil || len(head)+len(entry)+len(tail) > maxBytes {
			tooBig++
			continue
		}
		if n > 0 && buf.Len()+1+len(entry)+len(tail) > maxBytes {
			end()
		}
		if n == 0 {
			buf.WriteString(head)
		} else {
			buf.WriteByte(',')
		}
		buf.Write(entry)
		n++
	}
	end()
	return payloads, tooBig
}

// export ends the batch period at now and publishes each profile's batch
// when its role may publish to its topic.
func (ev *Evaluator) export(now time.Time) {
	// The batch is timed by the period's end, though it holds what
	// arrived until now (the next tick after it).
	end := now.Truncate(ev.o.ExportEvery)
	ev.nextExport = end.Add(ev.o.ExportEvery)
	batches := ev.core.collectExports(end)
	if len(batches) == 0 {
		return
	}
	if ev.o.Publish == nil {
		ev.exportsSkipped.Add(int64(len(batches)))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, b := range batches {
		log := ev.log.With("account", b.scope.Account, "region", b.scope.Region, "security_profile", b.profile,
			"topic", b.config.MQTTTopic)
		if b.dropped > 0 {
			log.Warn("detect export: values dropped, too many in one batch period", "dropped", b.dropped)
		}
		topicArn := b.scope.IoTARN("topic/" + b.config.MQTTTopic)
		missing, err := ev.store.RolePermits(ctx, b.scope.Account, b.config.RoleArn,
			[]warden.Permission{{Action: "iot:Publish", Resource: topicArn}}, ev.o.StrictRoles)
		if err == nil && missing != nil {
			err = errors.New(warden.MitigationPermissionDenied(b.scope.Account, b.config.RoleArn, *missing))
		}
		if err != nil {
			ev.exportsSkipped.Add(1)
			log.Warn("detect export: batch not published", "reason", err.Error())
			continue
		}
		payloads, tooBig := exportPayloads(b.metrics, ev.o.ExportMaxBytes)
		if tooBig > 0 {
			log.Warn("detect export: entries larger than a message left out", "count", tooBig)
		}
		for _, p := range payloads {
			err := ev.o.Publish(ctx, b.scope, warden.DataMessage{Topic: b.config.MQTTTopic, Payload: p, QoS: 1,
				ContentType: "application/json", PayloadFormatSet: true, PayloadFormatUTF8: true})
			if err != nil {
				ev.exportsSkipped.Add(1)
				log.Warn("detect export: publishing failed", "err", err.Error())
				break
			}
			ev.exportsPublished.Add(1)
		}
	}
}

// ExportsPublished is how many export messages were published.
func (ev *Evaluator) ExportsPublished() int64 { return ev.exportsPublished.Load() }

// ExportsSkipped is how many export batches or messages were not
// published (role not allowed, no publisher, publishing failed).
func (ev *Evaluator) ExportsSkipped() int64 { return ev.exportsSkipped.Load() }
