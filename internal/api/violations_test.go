package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/wardentest"
)

func countValue(n int64) *warden.MetricValue { return &warden.MetricValue{Count: &n} }

func messagesBehavior(name string, suppressed bool) warden.Behavior {
	b := warden.Behavior{Name: name, Metric: "aws:num-messages-sent",
		Criteria: &warden.BehaviorCriteria{ComparisonOperator: "greater-than", Value: countValue(10), DurationSeconds: new(300)}}
	if suppressed {
		b.SuppressAlerts = &suppressed
	}
	return b
}

// applyTransitions drives the store as the evaluator does.
func applyTransitions(t *testing.T, e *wardentest.Stack, s warden.Scope, ts ...warden.DetectTransition) []warden.ViolationEvent {
	t.Helper()
	events, err := e.Store.ApplyDetectTransitions(context.Background(), s, ts)
	if err != nil {
		t.Fatalf("ApplyDetectTransitions: %v", err)
	}
	return events
}

var scopeA = warden.Scope{Account: accountA, Region: region}

func listActive(t *testing.T, c *iot.Client, in iot.ListActiveViolationsInput) []types.ActiveViolation {
	t.Helper()
	in.MaxResults = aws.Int32(1) // every list walks its pages
	var out []types.ActiveViolation
	for p := iot.NewListActiveViolationsPaginator(c, &in); p.HasMorePages(); {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListActiveViolations: %v", err)
		}
		out = append(out, page.ActiveViolations...)
	}
	return out
}

func activeKeys(vs []types.ActiveViolation) string {
	var keys []string
	for _, v := range vs {
		keys = append(keys, aws.ToString(v.ThingName)+"/"+aws.ToString(v.SecurityProfileName))
	}
	return strings.Join(keys, " ")
}

func TestListActiveViolations(t *testing.T) {
	e := newEnv(t)
	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	loud, quiet := messagesBehavior("loud", false), messagesBehavior("quiet", true)
	quiet.Criteria = &warden.BehaviorCriteria{StatisticalThreshold: &warden.StatisticalThreshold{Statistic: "p99"}}
	events := applyTransitions(t, e.Stack, scopeA,
		warden.DetectTransition{ThingName: "t1", SecurityProfileName: "p1", Behavior: loud, Type: warden.ViolationInAlarm, Value: countValue(11), At: t0},
		warden.DetectTransition{ThingName: "t1", SecurityProfileName: "p1", Behavior: loud, Value: countValue(12), At: t0.Add(1500 * time.Millisecond)},
		warden.DetectTransition{ThingName: "t2", SecurityProfileName: "p1", Behavior: loud, Type: warden.ViolationInAlarm, Value: countValue(20), At: t0},
		warden.DetectTransition{ThingName: "t1", SecurityProfileName: "p2", Behavior: quiet, Type: warden.ViolationInAlarm, Value: countValue(30), At: t0},
		warden.DetectTransition{ThingName: "t3", SecurityProfileName: "p1", Behavior: loud, Type: warden.ViolationInAlarm, Value: countValue(1), At: t0},
		warden.DetectTransition{ThingName: "t3", SecurityProfileName: "p1", Behavior: loud, Type: warden.ViolationCleared, Value: countValue(1), At: t0.Add(time.Minute)},
	)
	if len(events) != 5 {
		t.Fatalf("events = %+v", events)
	}

	all := listActive(t, e.a, iot.ListActiveViolationsInput{})
	if got, want := activeKeys(all), "t1/p2 t2/p1 t1/p1"; got != want {
		t.Fatalf("active violations = %q, want %q (newest first; t3's cleared)", got, want)
	}
	v := all[2]
	if aws.ToString(v.ViolationId) != events[0].ViolationID || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(aws.ToString(v.ViolationId)) {
		t.Errorf("violationId = %q, want %q", aws.ToString(v.ViolationId), events[0].ViolationID)
	}
	if v.Behavior == nil || aws.ToString(v.Behavior.Name) != "loud" || aws.ToString(v.Behavior.Metric) != "aws:num-messages-sent" ||
		v.Behavior.Criteria.ComparisonOperator != types.ComparisonOperatorGreaterThan || aws.ToInt64(v.Behavior.Criteria.Value.Count) != 10 ||
		aws.ToInt32(v.Behavior.Criteria.DurationSeconds) != 300 {
		t.Errorf("behavior = %+v", v.Behavior)
	}
	if v.LastViolationValue == nil || aws.ToInt64(v.LastViolationValue.Count) != 12 {
		t.Errorf("lastViolationValue = %+v, want count 12", v.LastViolationValue)
	}
	if !aws.ToTime(v.ViolationStartTime).Equal(t0) || !aws.ToTime(v.LastViolationTime).Equal(t0.Add(1500*time.Millisecond)) {
		t.Errorf("times = %v, %v; want %v, %v", aws.ToTime(v.ViolationStartTime), aws.ToTime(v.LastViolationTime), t0, t0.Add(1500*time.Millisecond))
	}
	if v.VerificationState != types.VerificationStateUnknown {
		t.Errorf("verificationState = %q, want UNKNOWN", v.VerificationState)
	}

	for _, c := range []struct {
		in   iot.ListActiveViolationsInput
		want string
	}{
		{iot.ListActiveViolationsInput{ThingName: aws.String("t1")}, "t1/p2 t1/p1"},
		{iot.ListActiveViolationsInput{SecurityProfileName: aws.String("p1")}, "t2/p1 t1/p1"},
		{iot.ListActiveViolationsInput{BehaviorCriteriaType: types.BehaviorCriteriaTypeStatistical}, "t1/p2"},
		{iot.ListActiveViolationsInput{BehaviorCriteriaType: types.BehaviorCriteriaTypeMachineLearning}, ""},
		{iot.ListActiveViolationsInput{ListSuppressedAlerts: aws.Bool(false)}, "t2/p1 t1/p1"},
		{iot.ListActiveViolationsInput{ListSuppressedAlerts: aws.Bool(true)}, "t1/p2 t2/p1 t1/p1"},
		{iot.ListActiveViolationsInput{VerificationState: types.VerificationStateTruePositive}, ""},
	} {
		if got := activeKeys(listActive(t, e.a, c.in)); got != c.want {
			t.Errorf("ListActiveViolations %+v = %q, want %q", c.in, got, c.want)
		}
	}
	if got := listActive(t, e.b, iot.ListActiveViolationsInput{}); len(got) != 0 {
		t.Errorf("account B sees %d of A's violations", len(got))
	}
	_, err := e.a.ListActiveViolations(e.ctx, &iot.ListActiveViolationsInput{NextToken: aws.String("forged")})
	wantCode(t, err, "InvalidRequestException", 400)
}

func TestListViolationEventsAndVerificationState(t *testing.T) {
	e := newEnv(t)
	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	loud := messagesBehavior("loud", false)
	opened := applyTransitions(t, e.Stack, scopeA,
		warden.DetectTransition{ThingName: "t1", SecurityProfileName: "p1", Behavior: loud, Type: warden.ViolationInAlarm, Value: countValue(11), At: t0},
		warden.DetectTransition{ThingName: "t2", SecurityProfileName: "p1", Behavior: loud, Type: warden.ViolationInAlarm, Value: countValue(21), At: t0.Add(time.Minute)},
	)
	applyTransitions(t, e.Stack, scopeA,
		warden.DetectTransition{ThingName: "t1", SecurityProfileName: "p1", Behavior: loud, Type: warden.ViolationCleared, Value: countValue(2), At: t0.Add(2 * time.Minute)},
		warden.DetectTransition{ThingName: "t2", SecurityProfileName: "p1", Behavior: loud, Type: warden.ViolationInvalidated, At: t0.Add(3 * time.Minute)},
	)
	list := func(c *iot.Client, in iot.ListViolationEventsInput) []types.ViolationEvent {
		t.Helper()
		if in.StartTime == nil {
			in.StartTime, in.EndTime = aws.Time(t0.Add(-time.Hour)), aws.Time(t0.Add(time.Hour))
		}
		in.MaxResults = aws.Int32(1)
		var out []types.ViolationEvent
		for p := iot.NewListViolationEventsPaginator(c, &in); p.HasMorePages(); {
			page, err := p.NextPage(e.ctx)
			if err != nil {
				t.Fatalf("ListViolationEvents: %v", err)
			}
			out = append(out, page.ViolationEvents...)
		}
		return out
	}
	keys := func(es []types.ViolationEvent) string {
		var out []string
		for _, e := range es {
			out = append(out, aws.ToString(e.ThingName)+"/"+string(e.ViolationEventType))
		}
		return strings.Join(out, " ")
	}
	all := list(e.a, iot.ListViolationEventsInput{})
	if got, want := keys(all), "t2/alarm-invalidated t1/alarm-cleared t2/in-alarm t1/in-alarm"; got != want {
		t.Fatalf("events = %q, want %q", got, want)
	}
	cleared := all[1]
	if aws.ToString(cleared.ViolationId) != opened[0].ViolationID || aws.ToInt64(cleared.MetricValue.Count) != 2 ||
		!aws.ToTime(cleared.ViolationEventTime).Equal(t0.Add(2*time.Minute)) || aws.ToString(cleared.Behavior.Name) != "loud" ||
		aws.ToString(cleared.SecurityProfileName) != "p1" || cleared.VerificationState != types.VerificationStateUnknown {
		t.Errorf("cleared event = %+v", cleared)
	}
	if got := keys(list(e.a, iot.ListViolationEventsInput{StartTime: aws.Time(t0.Add(time.Minute)), EndTime: aws.Time(t0.Add(2 * time.Minute))})); got != "t1/alarm-cleared t2/in-alarm" {
		t.Errorf("events in [1m, 2m] = %q", got)
	}
	if got := keys(list(e.a, iot.ListViolationEventsInput{ThingName: aws.String("t2")})); got != "t2/alarm-invalidated t2/in-alarm" {
		t.Errorf("events of t2 = %q", got)
	}
	if got := list(e.b, iot.ListViolationEventsInput{}); len(got) != 0 {
		t.Errorf("account B sees %d of A's events", len(got))
	}
	_, err := e.a.ListViolationEvents(e.ctx, &iot.ListViolationEventsInput{StartTime: aws.Time(t0), EndTime: aws.Time(t0.Add(-time.Second))})
	wantCode(t, err, "InvalidRequestException", 400)

	// Verification state: set on the (ended) violation and its events.
	_, err = e.a.PutVerificationStateOnViolation(e.ctx, &iot.PutVerificationStateOnViolationInput{
		ViolationId: aws.String(opened[0].ViolationID), VerificationState: types.VerificationStateFalsePositive,
		VerificationStateDescription: aws.String("a test device")})
	if err != nil {
		t.Fatalf("PutVerificationStateOnViolation: %v", err)
	}
	fp := list(e.a, iot.ListViolationEventsInput{VerificationState: types.VerificationStateFalsePositive})
	if keys(fp) != "t1/alarm-cleared t1/in-alarm" || aws.ToString(fp[0].VerificationStateDescription) != "a test device" {
		t.Errorf("false-positive events = %q %+v", keys(fp), fp)
	}
	// Unknown and foreign violations are InvalidRequest (the model has no
	// ResourceNotFound for the operation); so is an unknown state.
	for _, c := range []struct {
		client *iot.Client
		id     string
		state  types.VerificationState
	}{
		{e.a, "0123456789abcdef0123456789abcdef", types.VerificationStateTruePositive},
		{e.b, opened[1].ViolationID, types.VerificationStateTruePositive},
		{e.a, opened[1].ViolationID, "MAYBE_POSITIVE"},
	} {
		_, err := c.client.PutVerificationStateOnViolation(e.ctx, &iot.PutVerificationStateOnViolationInput{
			ViolationId: aws.String(c.id), VerificationState: c.state})
		wantCode(t, err, "InvalidRequestException", 400)
	}
	if got := keys(list(e.a, iot.ListViolationEventsInput{VerificationState: types.VerificationStateTruePositive})); got != "" {
		t.Errorf("a refused PutVerificationStateOnViolation changed events: %q", got)
	}
}

func TestListActiveViolationsShowsVerificationState(t *testing.T) {
	e := newEnv(t)
	events := applyTransitions(t, e.Stack, scopeA, warden.DetectTransition{ThingName: "t1", SecurityProfileName: "p1",
		Behavior: messagesBehavior("loud", false), Type: warden.ViolationInAlarm, Value: countValue(11), At: time.Now()})
	if _, err := e.a.PutVerificationStateOnViolation(e.ctx, &iot.PutVerificationStateOnViolationInput{
		ViolationId: aws.String(events[0].ViolationID), VerificationState: types.VerificationStateBenignPositive}); err != nil {
		t.Fatal(err)
	}
	got := listActive(t, e.a, iot.ListActiveViolationsInput{VerificationState: types.VerificationStateBenignPositive})
	if len(got) != 1 || got[0].VerificationState != types.VerificationStateBenignPositive || got[0].VerificationStateDescription != nil {
		t.Fatalf("benign active violations = %+v", got)
	}
}

func TestListMetricValues(t *testing.T) {
	e := newEnv(t)
	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	var ds []warden.MetricDatum
	for i := range 5 {
		ds = append(ds, warden.MetricDatum{ThingName: "t1", Metric: "aws:num-messages-sent", Time: t0.Add(time.Duration(i) * time.Minute), Value: *countValue(int64(i))})
	}
	ds = append(ds,
		warden.MetricDatum{ThingName: "t1", Metric: "aws:num-messages-sent", DimensionName: "topics", DimensionOperator: "NOT_IN", Time: t0, Value: *countValue(100)},
		warden.MetricDatum{ThingName: "t1", Metric: "aws:num-messages-sent", DimensionName: "topics", DimensionOperator: "IN", Time: t0, Value: *countValue(200)},
		warden.MetricDatum{ThingName: "t1", Metric: "aws:listening-tcp-ports", Time: t0, Value: warden.MetricValue{Ports: []int{22, 443}}},
	)
	if err := e.Store.RecordMetricValues(e.ctx, scopeA, ds); err != nil {
		t.Fatal(err)
	}
	list := func(c *iot.Client, in iot.ListMetricValuesInput) []types.MetricDatum {
		t.Helper()
		in.MaxResults = aws.Int32(2)
		if in.StartTime == nil {
			in.StartTime, in.EndTime = aws.Time(t0), aws.Time(t0.Add(time.Hour))
		}
		var out []types.MetricDatum
		for p := iot.NewListMetricValuesPaginator(c, &in); p.HasMorePages(); {
			page, err := p.NextPage(e.ctx)
			if err != nil {
				t.Fatalf("ListMetricValues: %v", err)
			}
			out = append(out, page.MetricDatumList...)
		}
		return out
	}
	counts := func(ds []types.MetricDatum) string {
		var out []string
		for _, d := range ds {
			out = append(out, fmt.Sprint(aws.ToInt64(d.Value.Count)))
		}
		return strings.Join(out, " ")
	}
	got := list(e.a, iot.ListMetricValuesInput{ThingName: aws.String("t1"), MetricName: aws.String("aws:num-messages-sent")})
	if counts(got) != "0 1 2 3 4" || !aws.ToTime(got[1].Timestamp).Equal(t0.Add(time.Minute)) {
		t.Errorf("datapoints = %q (%v)", counts(got), got)
	}
	if got := counts(list(e.a, iot.ListMetricValuesInput{ThingName: aws.String("t1"), MetricName: aws.String("aws:num-messages-sent"),
		StartTime: aws.Time(t0.Add(time.Minute)), EndTime: aws.Time(t0.Add(2 * time.Minute))})); got != "1 2" {
		t.Errorf("datapoints in [1m, 2m] = %q", got)
	}
	if got := counts(list(e.a, iot.ListMetricValuesInput{ThingName: aws.String("t1"), MetricName: aws.String("aws:num-messages-sent"),
		DimensionName: aws.String("topics")})); got != "200" {
		t.Errorf("datapoints of dimension topics (IN by default) = %q", got)
	}
	if got := counts(list(e.a, iot.ListMetricValuesInput{ThingName: aws.String("t1"), MetricName: aws.String("aws:num-messages-sent"),
		DimensionName: aws.String("topics"), DimensionValueOperator: types.DimensionValueOperatorNotIn})); got != "100" {
		t.Errorf("datapoints of dimension topics NOT_IN = %q", got)
	}
	if got := list(e.a, iot.ListMetricValuesInput{ThingName: aws.String("t1"), MetricName: aws.String("aws:listening-tcp-ports")}); len(got) != 1 ||
		fmt.Sprint(got[0].Value.Ports) != "[22 443]" {
		t.Errorf("ports = %+v", got)
	}
	if got := list(e.b, iot.ListMetricValuesInput{ThingName: aws.String("t1"), MetricName: aws.String("aws:num-messages-sent")}); len(got) != 0 {
		t.Errorf("account B sees %d of A's datapoints", len(got))
	}
	_, err := e.a.ListMetricValues(e.ctx, &iot.ListMetricValuesInput{ThingName: aws.String("t1"), MetricName: aws.String("m"),
		StartTime: aws.Time(t0), EndTime: aws.Time(t0.Add(-time.Second))})
	wantCode(t, err, "InvalidRequestException", 400)
}

func TestGetBehaviorModelTrainingSummaries(t *testing.T) {
	e := newEnv(t)
	if _, err := e.a.CreateSecurityProfile(e.ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("fleet")}); err != nil {
		t.Fatal(err)
	}
	for _, in := range []*iot.GetBehaviorModelTrainingSummariesInput{{}, {SecurityProfileName: aws.String("fleet"), MaxResults: aws.Int32(10)}} {
		out, err := e.a.GetBehaviorModelTrainingSummaries(e.ctx, in)
		if err != nil {
			t.Fatalf("GetBehaviorModelTrainingSummaries: %v", err)
		}
		if out.Summaries == nil || len(out.Summaries) != 0 || out.NextToken != nil {
			t.Errorf("summaries = %+v, next %v; want an empty list", out.Summaries, out.NextToken)
		}
	}
	_, err := e.a.GetBehaviorModelTrainingSummaries(e.ctx, &iot.GetBehaviorModelTrainingSummariesInput{MaxResults: aws.Int32(11)})
	wantCode(t, err, "InvalidRequestException", 400)
	_, err = e.a.GetBehaviorModelTrainingSummaries(e.ctx, &iot.GetBehaviorModelTrainingSummariesInput{SecurityProfileName: aws.String("none")})
	wantCode(t, err, "ResourceNotFoundException", 404)
}

// alertSubscriber is an HTTP endpoint subscribed to an SNS topic: it
// confirms the subscription and collects the notifications' messages.
type alertSubscriber struct {
	srv      *httptest.Server
	messages chan map[string]any
}

func newAlertSubscriber(t *testing.T) *alertSubscriber {
	s := &alertSubscriber{messages: make(chan map[string]any, 100)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env map[string]any
		if err := json.Unmarshal(body, &env); err != nil {
			t.Errorf("subscriber: %v: %s", err, body)
			return
		}
		if url, _ := env["SubscribeURL"].(string); env["Type"] == "SubscriptionConfirmation" {
			go func() {
				if resp, err := http.Get(url); err == nil {
					resp.Body.Close()
				}
			}()
		}
		s.messages <- env
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// next waits for the next request of type typ.
func (s *alertSubscriber) next(t *testing.T, typ string) map[string]any {
	t.Helper()
	select {
	case env := <-s.messages:
		if env["Type"] != typ {
			t.Fatalf("subscriber got %v, want a %s", env, typ)
		}
		return env
	case <-time.After(5 * time.Second):
		t.Fatalf("subscriber: no %s", typ)
		return nil
	}
}

func TestDetectAlertsReachSNSSubscribers(t *testing.T) {
	st := wardentest.Start(t, wardentest.Config{})
	ctx := context.Background()
	snsA := st.SNSClient(keyA, secretA, region)
	topic, err := snsA.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("detect-alerts")})
	if err != nil {
		t.Fatal(err)
	}
	topicArn := aws.ToString(topic.TopicArn)
	sub := newAlertSubscriber(t)
	if _, err := snsA.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(sub.srv.URL)}); err != nil {
		t.Fatal(err)
	}
	deliver := func() int {
		t.Helper()
		total := 0
		for {
			n, err := st.Deliverer.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return total
			}
			total += n
		}
	}
	deliver()
	sub.next(t, "SubscriptionConfirmation")
	waitConfirmed(t, snsA, topicArn)

	// No IAM role exists in the account yet: its role ARNs are trusted.
	roleArn := "arn:aws:iam::" + accountA + ":role/detect-alerts"
	target := &warden.AlertTarget{AlertTargetArn: topicArn, RoleArn: roleArn}
	at := time.Now().UTC().Truncate(time.Millisecond)
	loud := messagesBehavior("loud", false)
	events := applyTransitions(t, st, scopeA,
		warden.DetectTransition{ThingName: "t1", SecurityProfileName: "p1", Behavior: loud, Type: warden.ViolationInAlarm, Value: countValue(54), At: at, AlertTarget: target},
		// Suppressed: recorded, not sent.
		warden.DetectTransition{ThingName: "t1", SecurityProfileName: "p1", Behavior: messagesBehavior("quiet", true), Type: warden.ViolationInAlarm,
			Value: countValue(55), At: at, AlertTarget: target},
	)
	if len(events) != 2 {
		t.Fatalf("events = %+v", events)
	}
	if n := deliver(); n != 1 {
		t.Fatalf("delivered %d messages, want 1 (the suppressed behaviour's alert is not sent)", n)
	}
	env := sub.next(t, "Notification")
	if env["TopicArn"] != topicArn {
		t.Errorf("TopicArn = %v", env["TopicArn"])
	}
	var msg map[string]any
	if err := json.Unmarshal([]byte(env["Message"].(string)), &msg); err != nil {
		t.Fatalf("message is not JSON: %v: %v", err, env["Message"])
	}
	behavior, _ := msg["behavior"].(map[string]any)
	criteria, _ := behavior["criteria"].(map[string]any)
	value, _ := msg["metricValue"].(map[string]any)
	if msg["violationId"] != events[0].ViolationID || msg["thingName"] != "t1" || msg["securityProfileName"] != "p1" ||
		msg["violationEventType"] != "in-alarm" || behavior["name"] != "loud" || behavior["metric"] != "aws:num-messages-sent" ||
		criteria["comparisonOperator"] != "greater-than" || value["count"] != float64(54) ||
		msg["violationEventTime"] != float64(at.UnixMilli()) {
		t.Errorf("alert message = %v", env["Message"])
	}

	// Once the account has IAM roles, the role must exist and may publish.
	iamA := st.IAMClient(keyA, secretA, region)
	if _, err := iamA.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("detect-alerts"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	cleared := applyTransitions(t, st, scopeA, warden.DetectTransition{ThingName: "t1", SecurityProfileName: "p1", Behavior: loud,
		Type: warden.ViolationCleared, Value: countValue(1), At: time.Now(), AlertTarget: target})
	if len(cleared) != 1 {
		t.Fatalf("a refused alert lost its event: %+v", cleared)
	}
	if n := deliver(); n != 0 {
		t.Fatalf("delivered %d messages for a role without sns:Publish", n)
	}
	if _, err := iamA.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("detect-alerts"), PolicyName: aws.String("publish"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sns:Publish","Resource":"` + topicArn + `"}]}`)}); err != nil {
		t.Fatal(err)
	}
	applyTransitions(t, st, scopeA, warden.DetectTransition{ThingName: "t2", SecurityProfileName: "p1", Behavior: loud,
		Type: warden.ViolationInAlarm, Value: countValue(60), At: time.Now(), AlertTarget: target})
	if n := deliver(); n != 1 {
		t.Fatalf("delivered %d messages, want 1", n)
	}
	if env := sub.next(t, "Notification"); !strings.Contains(env["Message"].(string), `"thingName":"t2"`) {
		t.Errorf("alert = %v", env["Message"])
	}
}

// waitConfirmed waits until the topic's only subscription is confirmed.
func waitConfirmed(t *testing.T, c *awssns.Client, topicArn string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		out, err := c.ListSubscriptionsByTopic(context.Background(), &awssns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topicArn)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Subscriptions) == 1 && strings.HasPrefix(aws.ToString(out.Subscriptions[0].SubscriptionArn), "arn:") {
			return
		}
	}
	t.Fatal("the subscription was not confirmed")
}
