package warden

import (
	"fmt"
	"strings"
)

// Check fails with InvalidRequest when a delete flag comes with a value for
// the same member: the request would both set and empty it.
func (u *SecurityProfileUpdate) Check() error {
	for _, c := range []struct {
		flag, value      bool
		member, flagName string
	}{
		{u.DeleteBehaviors, u.Behaviors != nil, "behaviors", "deleteBehaviors"},
		{u.DeleteAlertTargets, u.AlertTargets != nil, "alertTargets", "deleteAlertTargets"},
		{u.DeleteAdditionalMetricsToRetain, u.AdditionalMetricsToRetain != nil || u.AdditionalMetricsToRetainV2 != nil,
			"additionalMetricsToRetain", "deleteAdditionalMetricsToRetain"},
		{u.DeleteMetricsExportConfig, u.MetricsExportConfig != nil, "metricsExportConfig", "deleteMetricsExportConfig"},
	} {
		if c.flag && c.value {
			return Errorf(CodeInvalidRequest, "Cannot both set %s and delete it (%s) in one request.", c.member, c.flagName)
		}
	}
	return nil
}

// Apply changes p as u says; the version and dates are the store's.
func (u *SecurityProfileUpdate) Apply(p *SecurityProfile) {
	if u.Description != nil {
		p.Description = *u.Description
	}
	switch {
	case u.DeleteBehaviors:
		p.Behaviors = nil
	case u.Behaviors != nil:
		p.Behaviors = *u.Behaviors
	}
	switch {
	case u.DeleteAlertTargets:
		p.AlertTargets = nil
	case u.AlertTargets != nil:
		p.AlertTargets = *u.AlertTargets
	}
	if u.DeleteAdditionalMetricsToRetain {
		p.AdditionalMetricsToRetain, p.AdditionalMetricsToRetainV2 = nil, nil
	}
	if u.AdditionalMetricsToRetain != nil {
		p.AdditionalMetricsToRetain = *u.AdditionalMetricsToRetain
	}
	if u.AdditionalMetricsToRetainV2 != nil {
		p.AdditionalMetricsToRetainV2 = *u.AdditionalMetricsToRetainV2
	}
	switch {
	case u.DeleteMetricsExportConfig:
		p.MetricsExportConfig = nil
	case u.MetricsExportConfig != nil:
		p.MetricsExportConfig = u.MetricsExportConfig
	}
}

// Uses lists the metrics and dimensions p names, in its behaviours and
// metrics to retain, each once.
func (p *SecurityProfile) Uses() (metrics, dimensions []string) {
	seenM, seenD := map[string]bool{}, map[string]bool{}
	add := func(metric string, d *MetricDimension) {
		if metric != "" && !seenM[metric] {
			seenM[metric] = true
			metrics = append(metrics, metric)
		}
		if d != nil && !seenD[d.DimensionName] {
			seenD[d.DimensionName] = true
			dimensions = append(dimensions, d.DimensionName)
		}
	}
	for _, b := range p.Behaviors {
		add(b.Metric, b.MetricDimension)
	}
	for _, m := range p.AdditionalMetricsToRetain {
		add(m, nil)
	}
	for _, m := range p.AdditionalMetricsToRetainV2 {
		add(m.Metric, m.MetricDimension)
	}
	return metrics, dimensions
}

// CheckMetricsExport fails with InvalidRequest when a behaviour or metric
// to retain exports its metric but p has no metricsExportConfig (AWS's
// rule), or when the export's topic or role cannot be used.
func (p *SecurityProfile) CheckMetricsExport() error {
	if c := p.MetricsExportConfig; c != nil {
		if msg := exportTopicProblem(c.MQTTTopic); msg != "" {
			return Errorf(CodeInvalidRequest, "metricsExportConfig.mqttTopic %q is not a topic Device Defender can publish to: %s", c.MQTTTopic, msg)
		}
		if _, _, _, ok := ParseRoleARN(c.RoleArn); !ok {
			return Errorf(CodeInvalidRequest, "metricsExportConfig.roleArn %s is not an IAM role ARN (arn:aws:iam::account:role/name).", c.RoleArn)
		}
		return nil
	}
	for _, b := range p.Behaviors {
		if b.ExportMetric != nil && *b.ExportMetric {
			return Errorf(CodeInvalidRequest, "Behavior %s has exportMetric true but the security profile has no metricsExportConfig.", b.Name)
		}
	}
	for _, m := range p.AdditionalMetricsToRetainV2 {
		if m.ExportMetric != nil && *m.ExportMetric {
			return Errorf(CodeInvalidRequest, "Metric to retain %s has exportMetric true but the security profile has no metricsExportConfig.", m.Metric)
		}
	}
	return nil
}

// MaxTopicBytes and MaxTopicSlashes are AWS IoT Core's limits on a topic
// name (dataplane.md §3): the broker enforces them on every publish, and a
// metrics export topic must meet them.
const (
	MaxTopicBytes   = 256
	MaxTopicSlashes = 7
)

// exportTopicProblem says why topic cannot be published to ("" when it
// can): no wildcards, no reserved ($…) topic, AWS's size limits.
func exportTopicProblem(topic string) string {
	switch {
	case topic == "":
		return "it is empty"
	case strings.ContainsAny(topic, "+#"):
		return "it holds a wildcard (+ or #)"
	case strings.HasPrefix(topic, "$"):
		return "topics starting with $ are reserved"
	case strings.ContainsRune(topic, 0):
		return "it holds a NUL character"
	case len(topic) > MaxTopicBytes:
		return fmt.Sprintf("it is longer than %d bytes", MaxTopicBytes)
	case strings.Count(topic, "/") > MaxTopicSlashes:
		return fmt.Sprintf("it has more than %d slashes", MaxTopicSlashes)
	}
	return ""
}
