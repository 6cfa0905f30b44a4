package warden

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Custom metric types (CreateCustomMetric's metricType).
const (
	CustomMetricNumber        = "number"
	CustomMetricNumberList    = "number-list"
	CustomMetricStringList    = "string-list"
	CustomMetricIPAddressList = "ip-address-list"
)

// DimensionTopicFilter is the only dimension type.
const DimensionTopicFilter = "TOPIC_FILTER"

// CustomMetricARN is a custom metric's ARN.
func CustomMetricARN(s Scope, name string) string { return s.IoTARN("custommetric/" + name) }

// DimensionARN is a dimension's ARN.
func DimensionARN(s Scope, name string) string { return s.IoTARN("dimension/" + name) }

// DetectResourceStore keeps custom metrics and dimensions, the named
// resources security profiles' behaviours refer to. Each change is
// recorded in the change log under the resource's ARN.
type DetectResourceStore interface {
	// CreateCustomMetric stores m (Arn and dates filled in from s and now)
	// with its tags. The name in use with the same token, type and display
	// name returns the stored metric (a retry); otherwise it is
	// ResourceAlreadyExists.
	CreateCustomMetric(ctx context.Context, s Scope, m CustomMetric, tags []Tag, token string, now time.Time) (CustomMetric, error)
	// CustomMetric returns one metric or ResourceNotFound.
	CustomMetric(ctx context.Context, s Scope, name string) (CustomMetric, error)
	// UpdateCustomMetric sets the display name (the type is fixed).
	UpdateCustomMetric(ctx context.Context, s Scope, name, displayName string, now time.Time) (CustomMetric, error)
	// DeleteCustomMetric removes the metric, its tags and its datapoints; a
	// missing one is no error.
	DeleteCustomMetric(ctx context.Context, s Scope, name string, now time.Time) error
	// CustomMetrics lists metric names in name order.
	CustomMetrics(ctx context.Context, s Scope, p Page) (names []string, next string, err error)

	// CreateDimension is CreateCustomMetric for dimensions: a retry is the
	// same token, type and string values.
	CreateDimension(ctx context.Context, s Scope, d Dimension, tags []Tag, token string, now time.Time) (Dimension, error)
	Dimension(ctx context.Context, s Scope, name string) (Dimension, error)
	// UpdateDimension replaces the string values.
	UpdateDimension(ctx context.Context, s Scope, name string, values []string, now time.Time) (Dimension, error)
	// DeleteDimension removes the dimension and its tags; a missing one is
	// no error.
	DeleteDimension(ctx context.Context, s Scope, name string, now time.Time) error
	Dimensions(ctx context.Context, s Scope, p Page) (names []string, next string, err error)
}

// CheckCustomMetricName refuses names AWS keeps for its own metrics.
func CheckCustomMetricName(name string) error {
	if strings.HasPrefix(name, "aws:") {
		return Errorf(CodeInvalidRequest, "Custom metric name %s must not start with aws: (reserved for AWS's metrics).", name)
	}
	return nil
}

// ClientIDSubstitution is the one policy variable a dimension's topic
// filters may hold.
const ClientIDSubstitution = "${iot:ClientId}"

// ValidateTopicFilters checks a TOPIC_FILTER dimension's values: each an
// MQTT topic filter whose + and # wildcards stand alone in their level, #
// only last, with no substitution but ${iot:ClientId}.
func ValidateTopicFilters(v *Validator, member string, filters []string) {
	for i, f := range filters {
		if why := topicFilterProblem(f); why != "" {
			v.Problem(fmt.Sprintf("Value '%s' at '%s.%d' is not a valid MQTT topic filter: %s", shorten(f), member, i+1, why))
		}
	}
}

func topicFilterProblem(f string) string {
	if strings.ContainsRune(f, 0) {
		return "it must not contain the null character"
	}
	if rest := strings.ReplaceAll(f, ClientIDSubstitution, ""); strings.Contains(rest, "${") {
		return "the only substitution allowed is " + ClientIDSubstitution
	}
	levels := strings.Split(f, "/")
	for i, level := range levels {
		switch {
		case strings.Contains(level, "#") && (level != "#" || i != len(levels)-1):
			return "# must be the whole last level"
		case strings.Contains(level, "+") && level != "+":
			return "+ must be a whole level"
		}
	}
	return ""
}
