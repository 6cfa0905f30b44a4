package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

const (
	alertTopic = "arn:aws:sns:us-east-1:123456789012:detect-alerts"
	alertRole  = "arn:aws:iam::123456789012:role/detect-alerts"
)

func profileArn(account, name string) string {
	return "arn:aws:iot:" + region + ":" + account + ":securityprofile/" + name
}

func targetArn(account, resource string) string {
	return "arn:aws:iot:" + region + ":" + account + ":" + resource
}

// countLessThan is a behaviour "metric < n" over durationSeconds 300.
func countLessThan(name, metric string, n int64) types.Behavior {
	return types.Behavior{Name: aws.String(name), Metric: aws.String(metric), Criteria: &types.BehaviorCriteria{
		ComparisonOperator: types.ComparisonOperatorLessThan, Value: &types.MetricValue{Count: aws.Int64(n)}, DurationSeconds: aws.Int32(300)}}
}

// wantInvalid fails the test unless err is InvalidRequestException with
// a message containing message.
func wantInvalid(t *testing.T, what string, err error, message string) {
	t.Helper()
	wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
	if msg := errorMessage(err); !strings.Contains(msg, message) {
		t.Errorf("%s: message %q, want %q", what, msg, message)
	}
}

// jsonOf is v as JSON, to compare SDK shapes whole.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// detectFixtures makes the custom metrics and the dimension the tests'
// behaviours name.
func detectFixtures(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	for name, typ := range map[string]types.CustomMetricType{"temperature": types.CustomMetricTypeNumber, "peers": types.CustomMetricTypeIpAddressList,
		"apps": types.CustomMetricTypeStringList, "loads": types.CustomMetricTypeNumberList} {
		if _, err := e.a.CreateCustomMetric(ctx, &iot.CreateCustomMetricInput{MetricName: aws.String(name), MetricType: typ,
			ClientRequestToken: aws.String("token-" + name)}); err != nil {
			t.Fatalf("CreateCustomMetric(%s): %v", name, err)
		}
	}
	if _, err := e.a.CreateDimension(ctx, &iot.CreateDimensionInput{Name: aws.String("telemetry"), Type: types.DimensionTypeTopicFilter,
		StringValues: []string{"telemetry/#"}, ClientRequestToken: aws.String("token-dim")}); err != nil {
		t.Fatalf("CreateDimension: %v", err)
	}
}

// everyKindOfBehavior covers each value kind, durations, dimensions,
// statistical thresholds and custom metrics.
func everyKindOfBehavior() []types.Behavior {
	return []types.Behavior{
		countLessThan("msgs", "aws:num-messages-sent", 100),
		{Name: aws.String("msgs-telemetry"), Metric: aws.String("aws:num-messages-sent"),
			MetricDimension: &types.MetricDimension{DimensionName: aws.String("telemetry"), Operator: types.DimensionValueOperatorNotIn},
			Criteria: &types.BehaviorCriteria{ComparisonOperator: types.ComparisonOperatorGreaterThan, Value: &types.MetricValue{Count: aws.Int64(0)},
				DurationSeconds: aws.Int32(600), ConsecutiveDatapointsToAlarm: aws.Int32(2), ConsecutiveDatapointsToClear: aws.Int32(10)},
			SuppressAlerts: aws.Bool(true)},
		{Name: aws.String("bytes-p90"), Metric: aws.String("aws:all-bytes-out"), Criteria: &types.BehaviorCriteria{
			ComparisonOperator: types.ComparisonOperatorGreaterThan, DurationSeconds: aws.Int32(3600),
			StatisticalThreshold: &types.StatisticalThreshold{Statistic: aws.String("p99.9")}}},
		{Name: aws.String("source"), Metric: aws.String("aws:source-ip-address"), Criteria: &types.BehaviorCriteria{
			ComparisonOperator: types.ComparisonOperatorNotInCidrSet, Value: &types.MetricValue{Cidrs: []string{"10.0.0.0/8", "2001:db8::/32"}}}},
		{Name: aws.String("ports"), Metric: aws.String("aws:listening-tcp-ports"), Criteria: &types.BehaviorCriteria{
			ComparisonOperator: types.ComparisonOperatorInPortSet, Value: &types.MetricValue{Ports: []int32{0, 443, 65535}}}},
		{Name: aws.String("temp"), Metric: aws.String("temperature"), Criteria: &types.BehaviorCriteria{
			ComparisonOperator: types.ComparisonOperatorGreaterThanEquals, Value: &types.MetricValue{Number: aws.Float64(42.5)}}},
		{Name: aws.String("peers"), Metric: aws.String("peers"), Criteria: &types.BehaviorCriteria{
			ComparisonOperator: types.ComparisonOperatorInCidrSet, Value: &types.MetricValue{Cidrs: []string{"192.168.0.0/16"}}}},
		{Name: aws.String("apps"), Metric: aws.String("apps"), Criteria: &types.BehaviorCriteria{
			ComparisonOperator: types.ComparisonOperatorNotInSet, Value: &types.MetricValue{Strings: []string{"sshd"}}}},
		{Name: aws.String("loads"), Metric: aws.String("loads"), Criteria: &types.BehaviorCriteria{
			ComparisonOperator: types.ComparisonOperatorInSet, Value: &types.MetricValue{Numbers: []float64{1, 2.5}}}},
	}
}

func TestSecurityProfileLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	detectFixtures(t, e)
	behaviors := everyKindOfBehavior()
	alerts := map[string]types.AlertTarget{"SNS": {AlertTargetArn: aws.String(alertTopic), RoleArn: aws.String(alertRole)}}
	retain := []types.MetricToRetain{{Metric: aws.String("aws:num-messages-received"),
		MetricDimension: &types.MetricDimension{DimensionName: aws.String("telemetry")}, ExportMetric: aws.Bool(true)}}
	export := &types.MetricsExportConfig{MqttTopic: aws.String("fleet/metrics-export"), RoleArn: aws.String(alertRole)}
	out, err := e.a.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("fleet"),
		SecurityProfileDescription: aws.String("the fleet's normal"), Behaviors: behaviors, AlertTargets: alerts,
		AdditionalMetricsToRetainV2: retain, MetricsExportConfig: export, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("ops")}}})
	if err != nil {
		t.Fatalf("CreateSecurityProfile: %v", err)
	}
	if aws.ToString(out.SecurityProfileName) != "fleet" || aws.ToString(out.SecurityProfileArn) != profileArn(accountA, "fleet") {
		t.Fatalf("CreateSecurityProfile = %s %s", aws.ToString(out.SecurityProfileName), aws.ToString(out.SecurityProfileArn))
	}
	d, err := e.a.DescribeSecurityProfile(ctx, &iot.DescribeSecurityProfileInput{SecurityProfileName: aws.String("fleet")})
	if err != nil {
		t.Fatalf("DescribeSecurityProfile: %v", err)
	}
	for _, c := range []struct{ field, got, want string }{
		{"behaviors", jsonOf(t, d.Behaviors), jsonOf(t, behaviors)},
		{"alertTargets", jsonOf(t, d.AlertTargets), jsonOf(t, alerts)},
		{"additionalMetricsToRetainV2", jsonOf(t, d.AdditionalMetricsToRetainV2), jsonOf(t, retain)},
		{"metricsExportConfig", jsonOf(t, d.MetricsExportConfig), jsonOf(t, export)},
		{"description", aws.ToString(d.SecurityProfileDescription), "the fleet's normal"},
		{"arn", aws.ToString(d.SecurityProfileArn), profileArn(accountA, "fleet")},
	} {
		if c.got != c.want {
			t.Errorf("describe: %s = %s, want %s", c.field, c.got, c.want)
		}
	}
	if d.Version != 1 || d.CreationDate == nil || !d.CreationDate.Equal(aws.ToTime(d.LastModifiedDate)) {
		t.Errorf("describe: version %d, creationDate %v, lastModifiedDate %v", d.Version, d.CreationDate, d.LastModifiedDate)
	}

	// Each update is a new version; a stale expectedVersion changes nothing.
	_, err = e.a.UpdateSecurityProfile(ctx, &iot.UpdateSecurityProfileInput{SecurityProfileName: aws.String("fleet"),
		SecurityProfileDescription: aws.String("stale"), ExpectedVersion: aws.Int64(7)})
	wantCode(t, err, "VersionConflictException", http.StatusConflict)
	u, err := e.a.UpdateSecurityProfile(ctx, &iot.UpdateSecurityProfileInput{SecurityProfileName: aws.String("fleet"),
		Behaviors: behaviors[:1], DeleteAlertTargets: true, ExpectedVersion: aws.Int64(1)})
	if err != nil {
		t.Fatalf("UpdateSecurityProfile: %v", err)
	}
	if u.Version != 2 || len(u.Behaviors) != 1 || u.AlertTargets != nil || aws.ToString(u.SecurityProfileDescription) != "the fleet's normal" ||
		len(u.AdditionalMetricsToRetainV2) != 1 || !u.CreationDate.Equal(aws.ToTime(d.CreationDate)) {
		t.Errorf("UpdateSecurityProfile = version %d, behaviors %s, alertTargets %v, description %q", u.Version, jsonOf(t, u.Behaviors),
			u.AlertTargets, aws.ToString(u.SecurityProfileDescription))
	}
	u, err = e.a.UpdateSecurityProfile(ctx, &iot.UpdateSecurityProfileInput{SecurityProfileName: aws.String("fleet"),
		DeleteAdditionalMetricsToRetain: true, DeleteMetricsExportConfig: true, DeleteBehaviors: true})
	if err != nil {
		t.Fatalf("UpdateSecurityProfile (deletes): %v", err)
	}
	if u.Version != 3 || u.Behaviors != nil || u.AdditionalMetricsToRetainV2 != nil || u.MetricsExportConfig != nil {
		t.Errorf("UpdateSecurityProfile (deletes) = version %d, %s", u.Version, jsonOf(t, u))
	}
	_, err = e.a.UpdateSecurityProfile(ctx, &iot.UpdateSecurityProfileInput{SecurityProfileName: aws.String("missing"),
		SecurityProfileDescription: aws.String("x")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)

	// Delete: a stale version is a conflict; a missing profile is no error.
	_, err = e.a.DeleteSecurityProfile(ctx, &iot.DeleteSecurityProfileInput{SecurityProfileName: aws.String("fleet"), ExpectedVersion: aws.Int64(2)})
	wantCode(t, err, "VersionConflictException", http.StatusConflict)
	if _, err := e.a.DeleteSecurityProfile(ctx, &iot.DeleteSecurityProfileInput{SecurityProfileName: aws.String("fleet"),
		ExpectedVersion: aws.Int64(3)}); err != nil {
		t.Fatalf("DeleteSecurityProfile: %v", err)
	}
	_, err = e.a.DescribeSecurityProfile(ctx, &iot.DescribeSecurityProfileInput{SecurityProfileName: aws.String("fleet")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	if _, err := e.a.DeleteSecurityProfile(ctx, &iot.DeleteSecurityProfileInput{SecurityProfileName: aws.String("fleet")}); err != nil {
		t.Fatalf("DeleteSecurityProfile of a deleted profile: %v", err)
	}
	// The name is free again, without the old profile's tags.
	if _, err := e.a.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("fleet")}); err != nil {
		t.Fatalf("CreateSecurityProfile again: %v", err)
	}
	tags, err := e.a.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(profileArn(accountA, "fleet"))})
	if err != nil || len(tags.Tags) != 0 {
		t.Errorf("tags of the new profile = %v, %v; want none", tags, err)
	}
	_, err = e.a.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("fleet")})
	wantCode(t, err, "ResourceAlreadyExistsException", http.StatusConflict)
}

// TestSecurityProfileUpdateRefusesSetAndDelete: a delete flag with a value
// for the same member is InvalidRequest and changes nothing.
func TestSecurityProfileUpdateRefusesSetAndDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alerts := map[string]types.AlertTarget{"SNS": {AlertTargetArn: aws.String(alertTopic), RoleArn: aws.String(alertRole)}}
	if _, err := e.a.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("p"),
		Behaviors: []types.Behavior{countLessThan("b", "aws:num-disconnects", 3)}, AlertTargets: alerts}); err != nil {
		t.Fatal(err)
	}
	export := &types.MetricsExportConfig{MqttTopic: aws.String("t"), RoleArn: aws.String(alertRole)}
	for name, in := range map[string]iot.UpdateSecurityProfileInput{
		"behaviors":                   {Behaviors: []types.Behavior{countLessThan("c", "aws:num-disconnects", 1)}, DeleteBehaviors: true},
		"alertTargets":                {AlertTargets: alerts, DeleteAlertTargets: true},
		"additionalMetricsToRetain":   {AdditionalMetricsToRetain: []string{"aws:num-disconnects"}, DeleteAdditionalMetricsToRetain: true},
		"additionalMetricsToRetainV2": {AdditionalMetricsToRetainV2: []types.MetricToRetain{{Metric: aws.String("aws:num-disconnects")}}, DeleteAdditionalMetricsToRetain: true},
		"metricsExportConfig":         {MetricsExportConfig: export, DeleteMetricsExportConfig: true},
	} {
		in.SecurityProfileName = aws.String("p")
		_, err := e.a.UpdateSecurityProfile(ctx, &in)
		wantInvalid(t, name, err, "Cannot both set")
	}
	d, err := e.a.DescribeSecurityProfile(ctx, &iot.DescribeSecurityProfileInput{SecurityProfileName: aws.String("p")})
	if err != nil || d.Version != 1 || len(d.Behaviors) != 1 || aws.ToString(d.Behaviors[0].Name) != "b" || len(d.AlertTargets) != 1 {
		t.Fatalf("profile after refused updates = %s, %v", jsonOf(t, d), err)
	}
}

// badBehaviors are behaviours Create, Update and Validate refuse, with a
// part of the message each gets.
func badBehaviors() map[string]struct {
	behaviors []types.Behavior
	message   string
} {
	b := func(metric string, c *types.BehaviorCriteria) types.Behavior {
		return types.Behavior{Name: aws.String("bad"), Metric: aws.String(metric), Criteria: c}
	}
	lt := types.ComparisonOperatorLessThan
	count := &types.MetricValue{Count: aws.Int64(1)}
	type tc = struct {
		behaviors []types.Behavior
		message   string
	}
	many := make([]types.Behavior, 11)
	for i := range many {
		many[i] = types.Behavior{Name: aws.String("b" + string(rune('a'+i))), Metric: aws.String("aws:source-ip-address"),
			Criteria: &types.BehaviorCriteria{ComparisonOperator: types.ComparisonOperatorInCidrSet, Value: &types.MetricValue{}}}
		for j := range 100 {
			many[i].Criteria.Value.Cidrs = append(many[i].Criteria.Value.Cidrs, "10.0."+strconv.Itoa(j)+".0/24")
		}
	}
	return map[string]tc{
		"duplicate name":   {[]types.Behavior{countLessThan("x", "aws:num-disconnects", 1), countLessThan("x", "aws:num-disconnects", 2)}, "Behavior name x is used more than once"},
		"unknown metric":   {[]types.Behavior{b("aws:bogus", &types.BehaviorCriteria{ComparisonOperator: lt, Value: count})}, "Behavior bad is malformed. Metric aws:bogus is neither"},
		"unknown custom":   {[]types.Behavior{b("nope", &types.BehaviorCriteria{ComparisonOperator: lt, Value: count})}, "Metric nope is neither"},
		"no metric":        {[]types.Behavior{{Name: aws.String("bad"), Criteria: &types.BehaviorCriteria{ComparisonOperator: lt, Value: count}}}, "metric must be specified"},
		"no criteria":      {[]types.Behavior{b("aws:num-disconnects", nil)}, "criteria must be specified"},
		"wrong operator":   {[]types.Behavior{b("aws:num-disconnects", &types.BehaviorCriteria{ComparisonOperator: types.ComparisonOperatorInSet, Value: count})}, "comparisonOperator in-set is not valid for metric aws:num-disconnects"},
		"no operator":      {[]types.Behavior{b("aws:num-disconnects", &types.BehaviorCriteria{Value: count})}, "comparisonOperator must be specified"},
		"wrong value kind": {[]types.Behavior{b("aws:num-disconnects", &types.BehaviorCriteria{ComparisonOperator: lt, Value: &types.MetricValue{Number: aws.Float64(1)}})}, "should set exactly count"},
		"two value kinds":  {[]types.Behavior{b("aws:num-disconnects", &types.BehaviorCriteria{ComparisonOperator: lt, Value: &types.MetricValue{Count: aws.Int64(1), Number: aws.Float64(1)}})}, "should set exactly count, not [count, number]"},
		"number for custom number-list": {[]types.Behavior{b("loads", &types.BehaviorCriteria{ComparisonOperator: types.ComparisonOperatorInSet, Value: &types.MetricValue{Number: aws.Float64(1)}})},
			"should set exactly numbers"},
		"no value":      {[]types.Behavior{b("aws:num-disconnects", &types.BehaviorCriteria{ComparisonOperator: lt})}, "value must be specified"},
		"bad cidr":      {[]types.Behavior{b("aws:source-ip-address", &types.BehaviorCriteria{ComparisonOperator: types.ComparisonOperatorInCidrSet, Value: &types.MetricValue{Cidrs: []string{"10.0.0.300/8"}}})}, `"10.0.0.300/8" is not a valid CIDR`},
		"empty strings": {[]types.Behavior{b("apps", &types.BehaviorCriteria{ComparisonOperator: types.ComparisonOperatorInSet, Value: &types.MetricValue{Strings: []string{}}})}, "value strings should not be empty"},
		"duration of list metric": {[]types.Behavior{b("aws:listening-tcp-ports", &types.BehaviorCriteria{ComparisonOperator: types.ComparisonOperatorInPortSet,
			Value: &types.MetricValue{Ports: []int32{22}}, DurationSeconds: aws.Int32(300)})}, "durationSeconds is not supported for metric aws:listening-tcp-ports"},
		"odd duration": {[]types.Behavior{b("aws:num-disconnects", &types.BehaviorCriteria{ComparisonOperator: lt, Value: count, DurationSeconds: aws.Int32(301)})}, "durationSeconds 301 should be one of [300 600 900 1800 3600]"},
		"statistic of a list metric": {[]types.Behavior{b("aws:source-ip-address", &types.BehaviorCriteria{ComparisonOperator: types.ComparisonOperatorInCidrSet,
			StatisticalThreshold: &types.StatisticalThreshold{Statistic: aws.String("p50")}})}, "statisticalThreshold is not supported for metric aws:source-ip-address"},
		"statistic with value": {[]types.Behavior{b("aws:num-disconnects", &types.BehaviorCriteria{ComparisonOperator: lt, Value: count, DurationSeconds: aws.Int32(300),
			StatisticalThreshold: &types.StatisticalThreshold{Statistic: aws.String("p50")}})}, "value and statisticalThreshold cannot both be specified"},
		"statistic without duration": {[]types.Behavior{b("aws:num-disconnects", &types.BehaviorCriteria{ComparisonOperator: lt,
			StatisticalThreshold: &types.StatisticalThreshold{Statistic: aws.String("p50")}})}, "durationSeconds must be specified with statisticalThreshold"},
		"dimension of a metric without": {[]types.Behavior{{Name: aws.String("bad"), Metric: aws.String("aws:num-disconnects"),
			MetricDimension: &types.MetricDimension{DimensionName: aws.String("telemetry")}, Criteria: &types.BehaviorCriteria{ComparisonOperator: lt, Value: count}}},
			"metricDimension is not supported for metric aws:num-disconnects"},
		"dimension of a custom metric": {[]types.Behavior{{Name: aws.String("bad"), Metric: aws.String("temperature"),
			MetricDimension: &types.MetricDimension{DimensionName: aws.String("telemetry")},
			Criteria:        &types.BehaviorCriteria{ComparisonOperator: lt, Value: &types.MetricValue{Number: aws.Float64(1)}}}},
			"metricDimension cannot be used with custom metric temperature"},
		"missing dimension": {[]types.Behavior{{Name: aws.String("bad"), Metric: aws.String("aws:num-messages-sent"),
			MetricDimension: &types.MetricDimension{DimensionName: aws.String("nowhere")}, Criteria: &types.BehaviorCriteria{ComparisonOperator: lt, Value: count}}},
			"Dimension nowhere does not exist"},
		"machine learning": {[]types.Behavior{{Name: aws.String("bad"), Metric: aws.String("aws:num-messages-sent"),
			Criteria: &types.BehaviorCriteria{MlDetectionConfig: &types.MachineLearningDetectionConfig{ConfidenceLevel: types.ConfidenceLevelHigh}}}},
			"Machine learning behaviors are not supported by Warden"},
		"over 1000 value elements": {many, "at most 1000 value elements"},
	}
}

func TestSecurityProfileBehaviorValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	detectFixtures(t, e)
	if _, err := e.a.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("existing"),
		Behaviors: []types.Behavior{countLessThan("b", "aws:num-disconnects", 3)}}); err != nil {
		t.Fatal(err)
	}
	valid, err := e.a.ValidateSecurityProfileBehaviors(ctx, &iot.ValidateSecurityProfileBehaviorsInput{Behaviors: everyKindOfBehavior()})
	if err != nil || !valid.Valid || len(valid.ValidationErrors) != 0 {
		t.Fatalf("ValidateSecurityProfileBehaviors(valid) = %s, %v", jsonOf(t, valid), err)
	}
	for name, tc := range badBehaviors() {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			v, err := e.a.ValidateSecurityProfileBehaviors(ctx, &iot.ValidateSecurityProfileBehaviorsInput{Behaviors: tc.behaviors})
			if err != nil {
				t.Fatalf("ValidateSecurityProfileBehaviors: %v", err)
			}
			if v.Valid || len(v.ValidationErrors) == 0 || !strings.Contains(aws.ToString(v.ValidationErrors[0].ErrorMessage), tc.message) {
				t.Errorf("ValidateSecurityProfileBehaviors = %s, want invalid with %q", jsonOf(t, v), tc.message)
			}
			_, err = e.a.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("refused"), Behaviors: tc.behaviors})
			wantInvalid(t, "CreateSecurityProfile", err, tc.message)
			_, err = e.a.DescribeSecurityProfile(ctx, &iot.DescribeSecurityProfileInput{SecurityProfileName: aws.String("refused")})
			wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
			_, err = e.a.UpdateSecurityProfile(ctx, &iot.UpdateSecurityProfileInput{SecurityProfileName: aws.String("existing"), Behaviors: tc.behaviors})
			wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
			d, err := e.a.DescribeSecurityProfile(ctx, &iot.DescribeSecurityProfileInput{SecurityProfileName: aws.String("existing")})
			if err != nil || d.Version != 1 || len(d.Behaviors) != 1 {
				t.Fatalf("existing profile after a refused update = %s, %v", jsonOf(t, d), err)
			}
		})
	}
	// Validate lists every problem, Create names the first.
	two := []types.Behavior{
		{Name: aws.String("one"), Metric: aws.String("aws:bogus")},
		{Name: aws.String("two"), Metric: aws.String("aws:num-disconnects"), Criteria: &types.BehaviorCriteria{ComparisonOperator: types.ComparisonOperatorLessThan,
			Value: &types.MetricValue{Count: aws.Int64(1)}, ConsecutiveDatapointsToAlarm: aws.Int32(3), DurationSeconds: aws.Int32(7)}},
	}
	v, err := e.a.ValidateSecurityProfileBehaviors(ctx, &iot.ValidateSecurityProfileBehaviorsInput{Behaviors: two})
	if err != nil || len(v.ValidationErrors) != 2 ||
		aws.ToString(v.ValidationErrors[0].ErrorMessage) != "Behavior one is malformed. Metric aws:bogus is neither an AWS IoT Device Defender metric nor a custom metric of the account" ||
		aws.ToString(v.ValidationErrors[1].ErrorMessage) != "Behavior two is malformed. durationSeconds 7 should be one of [300 600 900 1800 3600]" {
		t.Errorf("ValidateSecurityProfileBehaviors(two bad) = %s, %v", jsonOf(t, v), err)
	}
	// Another account's custom metrics and dimensions are not the caller's.
	_, err = e.b.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("p"), Behaviors: everyKindOfBehavior()[5:6]})
	wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
}

// TestSecurityProfileBehaviorsOutsideTheModel: what the model's constraints
// refuse inside behaviours is a validation error of Validate (as AWS
// answers), and InvalidRequest naming the member for Create and Update.
func TestSecurityProfileBehaviorsOutsideTheModel(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.a.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("existing"),
		Behaviors: []types.Behavior{countLessThan("b", "aws:num-disconnects", 3)}}); err != nil {
		t.Fatal(err)
	}
	withCriteria := func(name string, edit func(c *types.BehaviorCriteria)) types.Behavior {
		b := countLessThan(name, "aws:num-disconnects", 1)
		edit(b.Criteria)
		return b
	}
	cidrs := func(cidr string) types.Behavior {
		return types.Behavior{Name: aws.String("b"), Metric: aws.String("aws:destination-ip-addresses"), Criteria: &types.BehaviorCriteria{
			ComparisonOperator: types.ComparisonOperatorInCidrSet, Value: &types.MetricValue{Cidrs: []string{"10.0.0.0/8", cidr}}}}
	}
	var tooMany []types.Behavior
	for i := range 101 {
		tooMany = append(tooMany, countLessThan(fmt.Sprintf("b%d", i), "aws:num-disconnects", 1))
	}
	for name, tc := range map[string]struct {
		behaviors []types.Behavior
		messages  []string // what Validate lists
		member    string   // what Create's InvalidRequest names
	}{
		"consecutiveDatapointsToAlarm 100000": {
			[]types.Behavior{withCriteria("Authorization", func(c *types.BehaviorCriteria) { c.ConsecutiveDatapointsToAlarm = aws.Int32(100000) })},
			[]string{"Behavior Authorization is malformed. consecutiveDatapointsToAlarm 100000 should be in range[1,10]"},
			"behaviors.1.member.criteria.consecutiveDatapointsToAlarm"},
		"name with a space": {[]types.Behavior{countLessThan("a b", "aws:num-disconnects", 1)},
			[]string{`Behavior a b is malformed. name "a b" should match the pattern [a-zA-Z0-9:_-]+`}, "behaviors.1.member.name"},
		"name of 129 characters": {[]types.Behavior{countLessThan(strings.Repeat("n", 129), "aws:num-disconnects", 1)},
			[]string{fmt.Sprintf(`Behavior %[1]s is malformed. name "%[1]s" should have a length in range[1,128]`, strings.Repeat("n", 129))},
			"behaviors.1.member.name"},
		"port 65536": {[]types.Behavior{{Name: aws.String("b"), Metric: aws.String("aws:listening-udp-ports"), Criteria: &types.BehaviorCriteria{
			ComparisonOperator: types.ComparisonOperatorInPortSet, Value: &types.MetricValue{Ports: []int32{53, 65536}}}}},
			[]string{"Behavior b is malformed. ports 65536 should be in range[0,65535]"}, "behaviors.1.member.criteria.value.ports.2.member"},
		"unknown statistic": {[]types.Behavior{withCriteria("b", func(c *types.BehaviorCriteria) {
			c.Value, c.StatisticalThreshold = nil, &types.StatisticalThreshold{Statistic: aws.String("p42")}
		})}, []string{`Behavior b is malformed. statistic "p42" should match the pattern (p0|p0\.1|p0\.01|p1|p10|p50|p90|p99|p99\.9|p99\.99|p100)`},
			"behaviors.1.member.criteria.statisticalThreshold.statistic"},
		"unknown comparisonOperator": {[]types.Behavior{withCriteria("b", func(c *types.BehaviorCriteria) { c.ComparisonOperator = "about-equal" })},
			[]string{"Behavior b is malformed. comparisonOperator about-equal should be one of [less-than, less-than-equals, greater-than, " +
				"greater-than-equals, in-cidr-set, not-in-cidr-set, in-port-set, not-in-port-set, in-set, not-in-set]"},
			"behaviors.1.member.criteria.comparisonOperator"},
		"cidr of 1 character": {[]types.Behavior{cidrs("1")},
			[]string{`Behavior b is malformed. cidrs "1" should have a length in range[2,43]`}, "behaviors.1.member.criteria.value.cidrs.2.member"},
		"cidr of 44 characters": {[]types.Behavior{cidrs(strings.Repeat("a", 44))},
			[]string{fmt.Sprintf(`Behavior b is malformed. cidrs "%s" should have a length in range[2,43]`, strings.Repeat("a", 44))},
			"behaviors.1.member.criteria.value.cidrs.2.member"},
		"101 behaviours": {tooMany, []string{"A security profile can have at most 100 behaviors; 101 were given."}, "behaviors"},
		// Every problem is listed: two in one behaviour, one in another,
		// and a well-formed behaviour's own rule.
		"several": {[]types.Behavior{
			withCriteria("x!", func(c *types.BehaviorCriteria) { c.ConsecutiveDatapointsToClear = aws.Int32(0) }),
			withCriteria("y", func(c *types.BehaviorCriteria) { c.ConsecutiveDatapointsToAlarm = aws.Int32(11) }),
			withCriteria("z", func(c *types.BehaviorCriteria) { c.DurationSeconds = aws.Int32(7) }),
		}, []string{
			`Behavior x! is malformed. name "x!" should match the pattern [a-zA-Z0-9:_-]+`,
			"Behavior x! is malformed. consecutiveDatapointsToClear 0 should be in range[1,10]",
			"Behavior y is malformed. consecutiveDatapointsToAlarm 11 should be in range[1,10]",
			"Behavior z is malformed. durationSeconds 7 should be one of [300 600 900 1800 3600]",
		}, "behaviors.1.member.name"},
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			v, err := e.a.ValidateSecurityProfileBehaviors(ctx, &iot.ValidateSecurityProfileBehaviorsInput{Behaviors: tc.behaviors})
			if err != nil {
				t.Fatalf("ValidateSecurityProfileBehaviors: %v", err)
			}
			var got []string
			for _, ve := range v.ValidationErrors {
				got = append(got, aws.ToString(ve.ErrorMessage))
			}
			if v.Valid || !slices.Equal(got, tc.messages) {
				t.Errorf("ValidateSecurityProfileBehaviors: valid %v, errors\n%q\nwant\n%q", v.Valid, got, tc.messages)
			}
			_, err = e.a.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("p"), Behaviors: tc.behaviors})
			wantInvalid(t, "CreateSecurityProfile", err, "at '"+tc.member+"'")
			_, err = e.a.UpdateSecurityProfile(ctx, &iot.UpdateSecurityProfileInput{SecurityProfileName: aws.String("existing"), Behaviors: tc.behaviors})
			wantInvalid(t, "UpdateSecurityProfile", err, "at '"+tc.member+"'")
		})
	}
	_, err := e.a.DescribeSecurityProfile(ctx, &iot.DescribeSecurityProfileInput{SecurityProfileName: aws.String("p")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	d, err := e.a.DescribeSecurityProfile(ctx, &iot.DescribeSecurityProfileInput{SecurityProfileName: aws.String("existing")})
	if err != nil || d.Version != 1 {
		t.Fatalf("existing profile after refused updates = %s, %v", jsonOf(t, d), err)
	}
}

// TestValidateSecurityProfileBehaviorsRequest: what is wrong with the
// request itself, rather than with a behaviour, is still InvalidRequest.
func TestValidateSecurityProfileBehaviorsRequest(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ body, message string }{
		{`not json`, "The request body must be a JSON object."},
		{`{"behaviors": [`, "Could not decode the request body"},
		{`{}`, "Value null at 'behaviors' failed to satisfy constraint: Member must not be null"},
		{`{"behaviors": "b"}`, "Value at 'behaviors' failed to satisfy constraint: Member must be a list, not a JSON string"},
	} {
		body := []byte(tc.body)
		req := e.newRequest(t, http.MethodPost, "/security-profile-behaviors/validate", body)
		signA.sign(t, req, body)
		resp := e.send(t, req)
		if resp.status != http.StatusBadRequest || resp.header.Get("x-amzn-ErrorType") != "InvalidRequestException" ||
			!strings.Contains(string(resp.body), tc.message) {
			t.Errorf("%s: %d %s %s, want InvalidRequestException with %q", tc.body, resp.status, resp.header.Get("x-amzn-ErrorType"), resp.body, tc.message)
		}
	}
	// A behaviour of the wrong JSON types is invalid, each problem named.
	body := []byte(`{"behaviors": [null, {"name": "b", "metric": 7, "criteria": {"consecutiveDatapointsToAlarm": 1.5}}]}`)
	req := e.newRequest(t, http.MethodPost, "/security-profile-behaviors/validate", body)
	signA.sign(t, req, body)
	resp := e.send(t, req)
	want := `{"valid":false,"validationErrors":[{"errorMessage":"Behavior  is malformed. behavior should be an object, not a JSON null"},` +
		`{"errorMessage":"Behavior b is malformed. metric should be a string, not a JSON number"},` +
		`{"errorMessage":"Behavior b is malformed. consecutiveDatapointsToAlarm 1.5 should be an integer"}]}`
	if resp.status != http.StatusOK || strings.TrimSpace(string(resp.body)) != want {
		t.Errorf("wrong types: %d %s\nwant %s", resp.status, resp.body, want)
	}
}

func TestSecurityProfileAlertTargetsAndMetricsToRetain(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		in      iot.CreateSecurityProfileInput
		message string
	}{
		"not SNS": {iot.CreateSecurityProfileInput{AlertTargets: map[string]types.AlertTarget{"EMAIL": {AlertTargetArn: aws.String(alertTopic), RoleArn: aws.String(alertRole)}}},
			"Member must satisfy enum value set: [SNS]"},
		"no topic ARN": {iot.CreateSecurityProfileInput{AlertTargets: map[string]types.AlertTarget{"SNS": {AlertTargetArn: aws.String("arn:aws:sqs:us-east-1:123456789012:q"), RoleArn: aws.String(alertRole)}}},
			"is not an SNS topic ARN"},
		"no role ARN": {iot.CreateSecurityProfileInput{AlertTargets: map[string]types.AlertTarget{"SNS": {AlertTargetArn: aws.String(alertTopic), RoleArn: aws.String("arn:aws:iam::123456789012:user/me")}}},
			"is not an IAM role ARN"},
		"unknown metric to retain":    {iot.CreateSecurityProfileInput{AdditionalMetricsToRetain: []string{"aws:bogus"}}, "Metric to retain aws:bogus"},
		"unknown metric to retain v2": {iot.CreateSecurityProfileInput{AdditionalMetricsToRetainV2: []types.MetricToRetain{{Metric: aws.String("nope")}}}, "Metric to retain nope"},
		"missing dimension to retain": {iot.CreateSecurityProfileInput{AdditionalMetricsToRetainV2: []types.MetricToRetain{{Metric: aws.String("aws:num-messages-sent"),
			MetricDimension: &types.MetricDimension{DimensionName: aws.String("nowhere")}}}}, "Dimension nowhere does not exist"},
	} {
		tc.in.SecurityProfileName = aws.String("p")
		_, err := e.a.CreateSecurityProfile(ctx, &tc.in)
		wantInvalid(t, name, err, tc.message)
	}
	list, err := e.a.ListSecurityProfiles(ctx, &iot.ListSecurityProfilesInput{})
	if err != nil || len(list.SecurityProfileIdentifiers) != 0 {
		t.Fatalf("ListSecurityProfiles after refused creates = %s, %v", jsonOf(t, list), err)
	}
}

func TestListSecurityProfilesFilters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	detectFixtures(t, e)
	behaviors := everyKindOfBehavior()
	for name, bs := range map[string][]types.Behavior{"a-dim": behaviors[1:2], "b-temp": behaviors[5:6], "c-plain": behaviors[:1], "d-both": behaviors} {
		if _, err := e.a.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String(name), Behaviors: bs}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(in iot.ListSecurityProfilesInput) []string {
		t.Helper()
		var out []string
		p := iot.NewListSecurityProfilesPaginator(e.a, &in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListSecurityProfiles: %v", err)
			}
			for _, id := range page.SecurityProfileIdentifiers {
				if aws.ToString(id.Arn) != profileArn(accountA, aws.ToString(id.Name)) {
					t.Errorf("identifier %s: wrong ARN", jsonOf(t, id))
				}
				out = append(out, aws.ToString(id.Name))
			}
		}
		return out
	}
	for _, c := range []struct {
		in   iot.ListSecurityProfilesInput
		want string
	}{
		{iot.ListSecurityProfilesInput{MaxResults: aws.Int32(1)}, "a-dim b-temp c-plain d-both"},
		{iot.ListSecurityProfilesInput{DimensionName: aws.String("telemetry")}, "a-dim d-both"},
		{iot.ListSecurityProfilesInput{MetricName: aws.String("temperature"), MaxResults: aws.Int32(1)}, "b-temp d-both"},
		{iot.ListSecurityProfilesInput{MetricName: aws.String("aws:num-messages-sent")}, "a-dim c-plain d-both"},
	} {
		if got := strings.Join(list(c.in), " "); got != c.want {
			t.Errorf("ListSecurityProfiles(%s) = %s, want %s", jsonOf(t, c.in), got, c.want)
		}
	}
	_, err := e.a.ListSecurityProfiles(ctx, &iot.ListSecurityProfilesInput{DimensionName: aws.String("telemetry"), MetricName: aws.String("temperature")})
	wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)
	_, err = e.a.ListSecurityProfiles(ctx, &iot.ListSecurityProfilesInput{DimensionName: aws.String("nowhere")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	_, err = e.a.ListSecurityProfiles(ctx, &iot.ListSecurityProfilesInput{MetricName: aws.String("nothing")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	if got := list(iot.ListSecurityProfilesInput{}); len(got) != 4 {
		t.Fatalf("profiles = %v", got)
	}
	if other, err := e.b.ListSecurityProfiles(ctx, &iot.ListSecurityProfilesInput{}); err != nil || len(other.SecurityProfileIdentifiers) != 0 {
		t.Errorf("account B sees %s, %v", jsonOf(t, other), err)
	}

	// What a profile names cannot be deleted.
	_, err = e.a.DeleteCustomMetric(ctx, &iot.DeleteCustomMetricInput{MetricName: aws.String("temperature")})
	wantInvalid(t, "DeleteCustomMetric in use", err, "Custom metric temperature is used by security profile b-temp")
	_, err = e.a.DeleteDimension(ctx, &iot.DeleteDimensionInput{Name: aws.String("telemetry")})
	wantInvalid(t, "DeleteDimension in use", err, "Dimension telemetry is used by security profile a-dim")
	if _, err := e.a.DescribeCustomMetric(ctx, &iot.DescribeCustomMetricInput{MetricName: aws.String("temperature")}); err != nil {
		t.Fatalf("the custom metric after a refused delete: %v", err)
	}
	for _, p := range []string{"b-temp", "d-both"} {
		if _, err := e.a.DeleteSecurityProfile(ctx, &iot.DeleteSecurityProfileInput{SecurityProfileName: aws.String(p)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.a.DeleteCustomMetric(ctx, &iot.DeleteCustomMetricInput{MetricName: aws.String("temperature")}); err != nil {
		t.Fatalf("DeleteCustomMetric once no profile names it: %v", err)
	}
}

func TestSecurityProfileTargets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, g := range []struct{ name, parent string }{{"site", ""}, {"floor", "site"}, {"room", "floor"}} {
		in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(g.name)}
		if g.parent != "" {
			in.ParentGroupName = aws.String(g.parent)
		}
		if _, err := e.a.CreateThingGroup(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"p1", "p2", "p3", "p4", "p5", "p6"} {
		if _, err := e.a.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}
	attach := func(name, target string) error {
		_, err := e.a.AttachSecurityProfile(ctx, &iot.AttachSecurityProfileInput{SecurityProfileName: aws.String(name),
			SecurityProfileTargetArn: aws.String(target)})
		return err
	}
	site, floor, room := targetArn(accountA, "thinggroup/site"), targetArn(accountA, "thinggroup/floor"), targetArn(accountA, "thinggroup/room")
	all, registered, unregistered := targetArn(accountA, "all/things"), targetArn(accountA, "all/registered-things"), targetArn(accountA, "all/unregistered-things")
	for _, n := range []string{"p1", "p2", "p3", "p4", "p5"} {
		if err := attach(n, site); err != nil {
			t.Fatalf("attach %s: %v", n, err)
		}
	}
	if err := attach("p1", site); err != nil {
		t.Fatalf("attaching p1 again: %v", err)
	}
	wantCode(t, attach("p6", site), "LimitExceededException", http.StatusGone)
	for _, c := range []struct{ name, target string }{{"p6", floor}, {"p6", all}, {"p2", registered}, {"p3", unregistered}} {
		if err := attach(c.name, c.target); err != nil {
			t.Fatalf("attach %s to %s: %v", c.name, c.target, err)
		}
	}
	wantCode(t, attach("p1", targetArn(accountA, "thinggroup/nowhere")), "ResourceNotFoundException", http.StatusNotFound)
	wantCode(t, attach("missing", all), "ResourceNotFoundException", http.StatusNotFound)
	for _, bad := range []string{targetArn(accountB, "thinggroup/site"), "arn:aws:iot:eu-west-1:" + accountA + ":all/things",
		targetArn(accountA, "thing/t1"), targetArn(accountA, "all/devices"), "site"} {
		wantInvalid(t, "attach to "+bad, attach("p1", bad), "is neither a thing group ARN")
	}

	targetsOf := func(name string) []string {
		t.Helper()
		var out []string
		p := iot.NewListTargetsForSecurityProfilePaginator(e.a, &iot.ListTargetsForSecurityProfileInput{SecurityProfileName: aws.String(name),
			MaxResults: aws.Int32(1)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListTargetsForSecurityProfile(%s): %v", name, err)
			}
			for _, tg := range page.SecurityProfileTargets {
				out = append(out, aws.ToString(tg.Arn))
			}
		}
		return out
	}
	if got := strings.Join(targetsOf("p6"), " "); got != all+" "+floor {
		t.Errorf("targets of p6 = %s", got)
	}
	_, err := e.a.ListTargetsForSecurityProfile(ctx, &iot.ListTargetsForSecurityProfileInput{SecurityProfileName: aws.String("missing")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)

	forTarget := func(target string, recursive bool) string {
		t.Helper()
		var out []string
		p := iot.NewListSecurityProfilesForTargetPaginator(e.a, &iot.ListSecurityProfilesForTargetInput{SecurityProfileTargetArn: aws.String(target),
			Recursive: recursive, MaxResults: aws.Int32(2)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListSecurityProfilesForTarget(%s): %v", target, err)
			}
			for _, m := range page.SecurityProfileTargetMappings {
				name := aws.ToString(m.SecurityProfileIdentifier.Name)
				if aws.ToString(m.SecurityProfileIdentifier.Arn) != profileArn(accountA, name) {
					t.Errorf("mapping %s: wrong ARN", jsonOf(t, m))
				}
				out = append(out, name+"@"+strings.TrimPrefix(aws.ToString(m.Target.Arn), targetArn(accountA, "")))
			}
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		target    string
		recursive bool
		want      string
	}{
		{room, false, ""},
		{room, true, "p6@thinggroup/floor p1@thinggroup/site p2@thinggroup/site p3@thinggroup/site p4@thinggroup/site p5@thinggroup/site p6@all/things p2@all/registered-things"},
		{floor, false, "p6@thinggroup/floor"},
		{unregistered, true, "p3@all/unregistered-things p6@all/things"},
		{all, true, "p6@all/things"},
	} {
		if got := forTarget(c.target, c.recursive); got != c.want {
			t.Errorf("ListSecurityProfilesForTarget(%s, recursive %v) = %q, want %q", c.target, c.recursive, got, c.want)
		}
	}
	_, err = e.a.ListSecurityProfilesForTarget(ctx, &iot.ListSecurityProfilesForTargetInput{SecurityProfileTargetArn: aws.String(targetArn(accountA, "thinggroup/nowhere"))})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	_, err = e.b.ListSecurityProfilesForTarget(ctx, &iot.ListSecurityProfilesForTargetInput{SecurityProfileTargetArn: aws.String(all)})
	wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)

	// Detach: p1 leaves the site, making room for p6.
	if _, err := e.a.DetachSecurityProfile(ctx, &iot.DetachSecurityProfileInput{SecurityProfileName: aws.String("p1"), SecurityProfileTargetArn: aws.String(site)}); err != nil {
		t.Fatalf("DetachSecurityProfile: %v", err)
	}
	if err := attach("p6", site); err != nil {
		t.Fatalf("attach p6 after a detach: %v", err)
	}
	_, err = e.a.DetachSecurityProfile(ctx, &iot.DetachSecurityProfileInput{SecurityProfileName: aws.String("missing"), SecurityProfileTargetArn: aws.String(site)})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	_, err = e.a.DetachSecurityProfile(ctx, &iot.DetachSecurityProfileInput{SecurityProfileName: aws.String("p2"), SecurityProfileTargetArn: aws.String(targetArn(accountB, "all/things"))})
	wantCode(t, err, "InvalidRequestException", http.StatusBadRequest)

	// Deleting a group detaches its profiles.
	for _, g := range []string{"room", "floor"} {
		if _, err := e.a.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String(g)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(targetsOf("p6"), " "); got != all+" "+site {
		t.Errorf("targets of p6 after floor went = %s", got)
	}
	if _, err := e.a.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("floor")}); err != nil {
		t.Fatal(err)
	}
	if got := forTarget(floor, false); got != "" {
		t.Errorf("a new group floor has profiles %q", got)
	}
	// Deleting a profile detaches it everywhere.
	if _, err := e.a.DeleteSecurityProfile(ctx, &iot.DeleteSecurityProfileInput{SecurityProfileName: aws.String("p6")}); err != nil {
		t.Fatal(err)
	}
	if got := forTarget(all, false); got != "" {
		t.Errorf("all/things after p6 went: %q", got)
	}
}

func TestSecurityProfileTags(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	arn := profileArn(accountA, "tagged")
	if _, err := e.a.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("tagged"),
		Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{{Key: aws.String("b"), Value: aws.String("2")}}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := e.a.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"a"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	tags, err := e.a.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "b" || aws.ToString(tags.Tags[0].Value) != "2" {
		t.Fatalf("ListTagsForResource = %s, %v", jsonOf(t, tags), err)
	}
	_, err = e.a.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(profileArn(accountA, "missing")),
		Tags: []types.Tag{{Key: aws.String("b"), Value: aws.String("2")}}})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	_, err = e.b.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
	// Too many tags at create: refused, nothing stored.
	many := make([]types.Tag, 51)
	for i := range many {
		many[i] = types.Tag{Key: aws.String("k" + strconv.Itoa(i)), Value: aws.String("v")}
	}
	_, err = e.a.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("overtagged"), Tags: many})
	if err == nil {
		t.Fatal("CreateSecurityProfile with 51 tags succeeded")
	}
	_, err = e.a.DescribeSecurityProfile(ctx, &iot.DescribeSecurityProfileInput{SecurityProfileName: aws.String("overtagged")})
	wantCode(t, err, "ResourceNotFoundException", http.StatusNotFound)
}
