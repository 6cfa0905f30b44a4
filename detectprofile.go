package warden

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
