package warden

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// DetectLookup finds the custom metrics and dimensions a security profile
// names (DetectResourceStore's lookups); each answers ResourceNotFound for
// an unknown name.
type DetectLookup interface {
	CustomMetric(ctx context.Context, s Scope, name string) (CustomMetric, error)
	Dimension(ctx context.Context, s Scope, name string) (Dimension, error)
}

// DetectStatistics are the statisticalThreshold statistics AWS accepts.
var DetectStatistics = []string{"p0", "p0.1", "p0.01", "p1", "p10", "p50", "p90", "p99", "p99.9", "p99.99", "p100"}

var detectNamePattern = regexp.MustCompile(`^[a-zA-Z0-9:_-]{1,128}$`)

// MessageMLNotSupported refuses machine-learning behaviours: Warden builds
// no ML models.
const MessageMLNotSupported = "Machine learning behaviors are not supported by Warden"

// ValidateBehaviors returns what is wrong with behaviors, one AWS-style
// message per problem (none: valid). lookup may be nil, when no custom
// metric or dimension can be found. err is a failure of the lookup itself.
func ValidateBehaviors(ctx context.Context, lookup DetectLookup, s Scope, behaviors []Behavior) (problems []string, err error) {
	return ValidateMalformedBehaviors(ctx, lookup, s, behaviors, nil)
}

// ValidateMalformedBehaviors is ValidateBehaviors for behaviours the caller
// has checked against the model's constraints: malformed[i], when not
// empty, are behaviour i's problems with them, listed in place of its own
// checks (which assume a well-formed behaviour, as AWS checks the model
// first).
func ValidateMalformedBehaviors(ctx context.Context, lookup DetectLookup, s Scope, behaviors []Behavior, malformed [][]string) (problems []string, err error) {
	if len(behaviors) > MaxBehaviorsPerProfile {
		problems = append(problems, fmt.Sprintf("A security profile can have at most %d behaviors; %d were given.", MaxBehaviorsPerProfile, len(behaviors)))
	}
	seen := map[string]bool{}
	elements := 0
	for i := range behaviors {
		b := &behaviors[i]
		if seen[b.Name] {
			problems = append(problems, fmt.Sprintf("Behavior name %s is used more than once in the profile.", b.Name))
		}
		seen[b.Name] = true
		var msgs []string
		if i < len(malformed) && len(malformed[i]) > 0 {
			msgs = malformed[i]
		} else if msgs, err = validateBehavior(ctx, lookup, s, b); err != nil {
			return nil, err
		}
		for _, m := range msgs {
			problems = append(problems, fmt.Sprintf("Behavior %s is malformed. %s", b.Name, m))
		}
		elements += b.Criteria.valueElements()
	}
	if elements > MaxValueElementsPerProfile {
		problems = append(problems, fmt.Sprintf("A security profile can have at most %d value elements (counts, numbers, strings, CIDRs, ports); the behaviors have %d.",
			MaxValueElementsPerProfile, elements))
	}
	return problems, nil
}

// CheckBehaviors is ValidateBehaviors as a request's error: the first
// problem as InvalidRequest.
func CheckBehaviors(ctx context.Context, lookup DetectLookup, s Scope, behaviors []Behavior) error {
	problems, err := ValidateBehaviors(ctx, lookup, s, behaviors)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return Errorf(CodeInvalidRequest, "%s", problems[0])
	}
	return nil
}

// lookupDetectMetric finds an AWS metric or a custom metric; ok is false
// for neither.
func lookupDetectMetric(ctx context.Context, lookup DetectLookup, s Scope, name string) (_ DetectMetric, ok bool, err error) {
	if m, ok := LookupDetectMetric(name); ok {
		return m, true, nil
	}
	if lookup == nil || strings.HasPrefix(name, "aws:") {
		return DetectMetric{}, false, nil
	}
	cm, err := lookup.CustomMetric(ctx, s, name)
	if ErrorCode(err) == CodeResourceNotFound {
		return DetectMetric{}, false, nil
	}
	if err != nil {
		return DetectMetric{}, false, err
	}
	m, ok := CustomDetectMetric(cm.Name, cm.Type)
	return m, ok, nil
}

// checkDimension is the problem with a metric dimension of metric m, or "".
func checkDimension(ctx context.Context, lookup DetectLookup, s Scope, m DetectMetric, d *MetricDimension) (string, error) {
	switch {
	case m.Side == MetricCustom:
		return "metricDimension cannot be used with custom metric " + m.Name, nil
	case !m.Dimension:
		return "metricDimension is not supported for metric " + m.Name, nil
	case d.Operator != "" && d.Operator != "IN" && d.Operator != "NOT_IN":
		return fmt.Sprintf("metricDimension operator %s should be one of [IN, NOT_IN]", d.Operator), nil
	}
	if lookup != nil {
		_, err := lookup.Dimension(ctx, s, d.DimensionName)
		if ErrorCode(err) != CodeResourceNotFound {
			return "", err
		}
	}
	return fmt.Sprintf("Dimension %s does not exist", d.DimensionName), nil
}

func validateBehavior(ctx context.Context, lookup DetectLookup, s Scope, b *Behavior) (problems []string, err error) {
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if !detectNamePattern.MatchString(b.Name) {
		fail("name %q should be 1 to 128 characters of [a-zA-Z0-9:_-]", b.Name)
	}
	c := b.Criteria
	if c != nil && c.MLDetectionConfig != nil {
		return []string{MessageMLNotSupported}, nil
	}
	if b.Metric == "" {
		return append(problems, "metric must be specified"), nil
	}
	m, ok, err := lookupDetectMetric(ctx, lookup, s, b.Metric)
	if err != nil || !ok {
		return append(problems, fmt.Sprintf("Metric %s is neither an AWS IoT Device Defender metric nor a custom metric of the account", b.Metric)), err
	}
	if b.MetricDimension != nil {
		msg, err := checkDimension(ctx, lookup, s, m, b.MetricDimension)
		if err != nil {
			return nil, err
		}
		if msg != "" {
			fail("%s", msg)
		}
	}
	if c == nil {
		return append(problems, "criteria must be specified"), nil
	}
	if c.ComparisonOperator == "" {
		fail("comparisonOperator must be specified")
	} else if ops := DetectOperators(m.Value); !slices.Contains(ops, c.ComparisonOperator) {
		fail("comparisonOperator %s is not valid for metric %s; it should be one of [%s]", c.ComparisonOperator, m.Name, strings.Join(ops, ", "))
	}
	if c.DurationSeconds != nil {
		if !m.Durations {
			fail("durationSeconds is not supported for metric %s", m.Name)
		} else if !slices.Contains(DetectDurations, *c.DurationSeconds) {
			fail("durationSeconds %d should be one of %v", *c.DurationSeconds, DetectDurations)
		}
	}
	for _, n := range []struct {
		member string
		value  *int
	}{{"consecutiveDatapointsToAlarm", c.ConsecutiveDatapointsToAlarm}, {"consecutiveDatapointsToClear", c.ConsecutiveDatapointsToClear}} {
		if n.value != nil && (*n.value < 1 || *n.value > 10) {
			fail("%s %d should be in range[1,10]", n.member, *n.value)
		}
	}
	if st := c.StatisticalThreshold; st != nil {
		switch {
		case m.Value != ValueCount || !m.Durations:
			fail("statisticalThreshold is not supported for metric %s", m.Name)
		case c.Value != nil:
			fail("value and statisticalThreshold cannot both be specified")
		case c.DurationSeconds == nil:
			fail("durationSeconds must be specified with statisticalThreshold")
		}
		if !slices.Contains(DetectStatistics, st.Statistic) {
			fail("statistic %q should be one of [%s]", st.Statistic, strings.Join(DetectStatistics, ", "))
		}
		return problems, nil
	}
	if msg := checkMetricValue(m, c.Value); msg != "" {
		fail("%s", msg)
	}
	return problems, nil
}

// checkMetricValue is the problem with a static criteria value for metric
// m, or "".
func checkMetricValue(m DetectMetric, v *MetricValue) string {
	if v == nil {
		return "value must be specified"
	}
	var set []string
	for _, member := range []struct {
		name string
		set  bool
	}{{ValueCount, v.Count != nil}, {ValueNumber, v.Number != nil}, {ValueNumbers, v.Numbers != nil},
		{ValueStrings, v.Strings != nil}, {ValueCidrs, v.Cidrs != nil}, {ValuePorts, v.Ports != nil}} {
		if member.set {
			set = append(set, member.name)
		}
	}
	if len(set) != 1 || set[0] != m.Value {
		return fmt.Sprintf("value for metric %s should set exactly %s, not [%s]", m.Name, m.Value, strings.Join(set, ", "))
	}
	switch m.Value {
	case ValueNumbers:
		if len(v.Numbers) == 0 {
			return "value numbers should not be empty"
		}
	case ValueStrings:
		if len(v.Strings) == 0 {
			return "value strings should not be empty"
		}
	case ValueCidrs:
		if len(v.Cidrs) == 0 {
			return "value cidrs should not be empty"
		}
		for _, c := range v.Cidrs {
			if _, err := netip.ParsePrefix(c); err != nil {
				return fmt.Sprintf("value cidrs: %q is not a valid CIDR", c)
			}
		}
	case ValuePorts:
		if len(v.Ports) == 0 {
			return "value ports should not be empty"
		}
		for _, p := range v.Ports {
			if p < 0 || p > 65535 {
				return fmt.Sprintf("value ports: %d should be in range[0,65535]", p)
			}
		}
	}
	return ""
}

// valueElements counts the elements of a criteria value towards
// MaxValueElementsPerProfile.
func (c *BehaviorCriteria) valueElements() int {
	if c == nil || c.Value == nil {
		return 0
	}
	v := c.Value
	n := len(v.Cidrs) + len(v.Ports) + len(v.Numbers) + len(v.Strings)
	if v.Count != nil {
		n++
	}
	if v.Number != nil {
		n++
	}
	return n
}

// CheckMetricsToRetain fails with InvalidRequest unless every metric to
// retain is known and every dimension exists and fits its metric.
func CheckMetricsToRetain(ctx context.Context, lookup DetectLookup, s Scope, names []string, v2 []MetricToRetain) error {
	all := slices.Clone(v2)
	for _, n := range names {
		all = append(all, MetricToRetain{Metric: n})
	}
	for _, r := range all {
		m, ok, err := lookupDetectMetric(ctx, lookup, s, r.Metric)
		if err != nil {
			return err
		}
		if !ok {
			return Errorf(CodeInvalidRequest, "Metric to retain %s is neither an AWS IoT Device Defender metric nor a custom metric of the account.", r.Metric)
		}
		if r.MetricDimension != nil {
			msg, err := checkDimension(ctx, lookup, s, m, r.MetricDimension)
			if err != nil {
				return err
			}
			if msg != "" {
				return Errorf(CodeInvalidRequest, "Metric to retain %s is malformed. %s", r.Metric, msg)
			}
		}
	}
	return nil
}

// CheckAlertTargets fails with InvalidRequest unless each alert target is
// SNS's, an SNS topic published to with an IAM role.
func CheckAlertTargets(targets map[string]AlertTarget) error {
	for kind, t := range targets {
		if kind != "SNS" {
			return Errorf(CodeInvalidRequest, "Alert target type %s is not supported; the only alert target type is SNS.", kind)
		}
		if _, _, ok := ParseTopicARN(t.AlertTargetArn); !ok {
			return Errorf(CodeInvalidRequest, "alertTargetArn %s is not an SNS topic ARN (arn:aws:sns:region:account:topic).", t.AlertTargetArn)
		}
		if _, _, _, ok := ParseRoleARN(t.RoleArn); !ok {
			return Errorf(CodeInvalidRequest, "roleArn %s is not an IAM role ARN (arn:aws:iam::account:role/name).", t.RoleArn)
		}
	}
	return nil
}

// SecurityProfileARN is the ARN of the security profile named name.
func SecurityProfileARN(s Scope, name string) string { return s.IoTARN("securityprofile/" + name) }

// ParseSecurityProfileTarget checks a security-profile target ARN of scope
// s: group is the thing group's name for a thing-group target, "" for an
// account-wide one. Another scope's ARN, or an ARN of anything else, is
// InvalidRequest.
func ParseSecurityProfileTarget(s Scope, arn string) (group string, err error) {
	scope, kind, id, ok := ParseIoTARN(arn)
	bad := Errorf(CodeInvalidRequest,
		"The target %s is neither a thing group ARN (arn:aws:iot:%s:%s:thinggroup/name) nor one of %s, %s, %s of this account and region.",
		shorten(arn), s.Region, s.Account, s.IoTARN(TargetAllThings), s.IoTARN(TargetRegisteredThings), s.IoTARN(TargetUnregisteredThings))
	if !ok || scope != s {
		return "", bad
	}
	switch kind + "/" + id {
	case TargetAllThings, TargetRegisteredThings, TargetUnregisteredThings:
		return "", nil
	}
	if kind != "thinggroup" || !detectNamePattern.MatchString(id) {
		return "", bad
	}
	return id, nil
}

// CoveringTargets are the targets whose profiles also apply to the devices
// of target (a thing group's ARN or an account-wide one), besides target
// itself and, for a group, its ancestors: every group's things are
// registered things, and all/things includes both kinds.
func CoveringTargets(s Scope, target string, group bool) []string {
	all := s.IoTARN(TargetAllThings)
	switch {
	case group:
		return []string{all, s.IoTARN(TargetRegisteredThings)}
	case target == all:
		return nil
	}
	return []string{all}
}
