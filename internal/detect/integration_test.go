package detect_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	paho3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/api"
	"github.com/warden-iot/warden/internal/broker"
	"github.com/warden-iot/warden/internal/detect"
	"github.com/warden-iot/warden/internal/sqlstore"
	"github.com/warden-iot/warden/internal/wardentest"
)

var scope = warden.Scope{Account: wardentest.AccountA, Region: wardentest.Region}

// clock is the evaluator's injected clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// env is the API, the real broker over TLS and the evaluator on one store.
type env struct {
	t      *testing.T
	ctx    context.Context
	dir    string
	store  *sqlstore.DB
	broker *broker.Broker
	ev     *detect.Evaluator
	iot    *iot.Client
	stack  *wardentest.Stack
	// events counts the evaluator's OnEvents calls.
	events atomic.Int64
}

// newEnv starts the stack; with c, the evaluator's clock is c and
// windows close only when the test calls Tick.
func newEnv(t *testing.T, c *clock) *env { return startNode(t, "", c) }

// startNode starts a node on data dir dir ("" a new one): the API, the
// broker and an evaluator.
func startNode(t *testing.T, dir string, c *clock) *env { return startNodeWith(t, dir, c, nil) }

// startNodeWith is startNode with the evaluator's options changed by
// tweak (when set).
func startNodeWith(t *testing.T, dir string, c *clock, tweak func(*detect.Options)) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background()}
	stack := wardentest.Start(t, wardentest.Config{Dir: dir, Devices: func(store *sqlstore.DB) (api.Devices, error) {
		o := detect.Options{Store: store, OnEvents: func() { e.events.Add(1) }} // the default poll: API changes within 2 s
		if c != nil {
			o.Now, o.TickEvery = c.now, -1
		}
		// Metrics exports go out as the iot-data Publish operation's do.
		o.Publish = func(ctx context.Context, s warden.Scope, m warden.DataMessage) error {
			return e.broker.PublishData(ctx, s, m)
		}
		if tweak != nil {
			tweak(&o)
		}
		e.ev = detect.New(o)
		e.ev.Start()
		t.Cleanup(e.ev.Stop)
		b, err := broker.New(e.ctx, broker.Config{Store: store, Hostnames: []string{"127.0.0.1"},
			PollInterval: 50 * time.Millisecond, Observers: []warden.DataPlaneObserver{e.ev}, Reports: e.ev})
		if err != nil {
			return nil, err
		}
		if err := b.Listen("127.0.0.1:0"); err != nil {
			_ = b.Close()
			return nil, err
		}
		e.broker = b
		return b, nil
	}})
	e.store, e.dir, e.stack = stack.Store, stack.Dir, stack
	e.iot = stack.IoT(wardentest.KeyA, wardentest.SecretA, wardentest.Region)
	return e
}

const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`

// device creates a certificate with policy doc and, when thing is set, a
// thing attached to it; it returns the certificate.
func (e *env) device(thing, doc string) tls.Certificate {
	e.t.Helper()
	out, err := e.iot.CreateKeysAndCertificate(e.ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		e.t.Fatal(err)
	}
	pair, err := tls.X509KeyPair([]byte(aws.ToString(out.CertificatePem)), []byte(aws.ToString(out.KeyPair.PrivateKey)))
	if err != nil {
		e.t.Fatal(err)
	}
	name := "policy-" + aws.ToString(out.CertificateId)[:12]
	if _, err := e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: &name, PolicyDocument: &doc}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: &name, Target: out.CertificateArn}); err != nil {
		e.t.Fatal(err)
	}
	if thing != "" {
		if _, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: &thing}); err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.iot.AttachThingPrincipal(e.ctx, &iot.AttachThingPrincipalInput{ThingName: &thing, Principal: out.CertificateArn}); err != nil {
			e.t.Fatal(err)
		}
	}
	return pair
}

func (e *env) connect(cert tls.Certificate, clientID string) paho3.Client {
	e.t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(e.broker.CA().Cert)
	o := paho3.NewClientOptions().AddBroker("ssl://" + e.broker.Addr()).SetClientID(clientID).
		SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).SetCleanSession(true).
		SetConnectTimeout(5 * time.Second)
	c := paho3.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		e.t.Fatalf("connect %s: %v", clientID, tok.Error())
	}
	e.t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func publish(t *testing.T, c paho3.Client, topic string, size int) {
	t.Helper()
	tok := c.Publish(topic, 1, false, strings.Repeat("x", size))
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish to %s: %v", topic, tok.Error())
	}
}

// profile creates a security profile with behaviours and attaches it to
// an account-wide target (warden.Target…).
func (e *env) profile(name, target string, behaviors ...types.Behavior) {
	e.t.Helper()
	if _, err := e.iot.CreateSecurityProfile(e.ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: &name, Behaviors: behaviors}); err != nil {
		e.t.Fatal(err)
	}
	arn := scope.IoTARN(target)
	if _, err := e.iot.AttachSecurityProfile(e.ctx, &iot.AttachSecurityProfileInput{SecurityProfileName: &name, SecurityProfileTargetArn: &arn}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) active(profile string) []types.ActiveViolation {
	e.t.Helper()
	out, err := e.iot.ListActiveViolations(e.ctx, &iot.ListActiveViolationsInput{SecurityProfileName: &profile})
	if err != nil {
		e.t.Fatal(err)
	}
	return out.ActiveViolations
}

// waitActive polls ListActiveViolations until it lists want violations or
// within is over.
func (e *env) waitActive(profile string, want int, within time.Duration) []types.ActiveViolation {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		vs := e.active(profile)
		if len(vs) == want {
			return vs
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("profile %s: %d active violations after %v, want %d: %+v", profile, len(vs), within, want, vs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countCriteria(op types.ComparisonOperator, n int64, duration int32) *types.BehaviorCriteria {
	c := &types.BehaviorCriteria{ComparisonOperator: op, Value: &types.MetricValue{Count: aws.Int64(n)}}
	if duration > 0 {
		c.DurationSeconds = aws.Int32(duration)
	}
	return c
}

func TestTooBigMessageIsAViolationWithinTwoSecondsAndClears(t *testing.T) {
	e := newEnv(t, nil)
	c := e.connect(e.device("sensor-1", allowAll), "sensor-1")
	// The profile is made after the evaluator started: the change log
	// brings it.
	e.profile("size", warden.TargetRegisteredThings, types.Behavior{Name: aws.String("small-messages"), Metric: aws.String("aws:message-byte-size"),
		Criteria: countCriteria(types.ComparisonOperatorLessThan, 100, 0)})
	deadline := time.Now().Add(2 * time.Second)
	var vs []types.ActiveViolation
	for len(vs) == 0 && time.Now().Before(deadline) {
		publish(t, c, "telemetry/sensor-1", 500)
		time.Sleep(100 * time.Millisecond)
		vs = e.active("size")
	}
	if len(vs) != 1 {
		t.Fatalf("no violation 2 s after the profile was made: %+v", vs)
	}
	v := vs[0]
	if aws.ToString(v.ThingName) != "sensor-1" || aws.ToString(v.Behavior.Name) != "small-messages" ||
		v.LastViolationValue == nil || aws.ToInt64(v.LastViolationValue.Count) != 500 {
		t.Fatalf("violation %+v", v)
	}
	// The deliverer is nudged for each written event (its SNS alert).
	raised := e.events.Load()
	if raised == 0 {
		t.Fatal("OnEvents was not called for the in-alarm event")
	}
	publish(t, c, "telemetry/sensor-1", 10)
	e.waitActive("size", 0, 2*time.Second)
	e.ev.Sync()
	cleared := e.events.Load()
	if cleared <= raised {
		t.Fatalf("OnEvents calls %d after the alarm-cleared event, %d before", cleared, raised)
	}
	out, err := e.iot.ListViolationEvents(e.ctx, &iot.ListViolationEventsInput{StartTime: aws.Time(time.Now().Add(-time.Hour)),
		EndTime: aws.Time(time.Now().Add(time.Hour)), SecurityProfileName: aws.String("size")})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range out.ViolationEvents {
		kinds = append(kinds, string(ev.ViolationEventType))
	}
	if len(kinds) != 2 || !contains(kinds, "in-alarm") || !contains(kinds, "alarm-cleared") {
		t.Fatalf("violation events %v, want in-alarm and alarm-cleared", kinds)
	}
	// A message under the limit from an unregistered device is not judged
	// by a profile of registered things.
	other := e.connect(e.device("", allowAll), "loose-client")
	publish(t, other, "x", 1000)
	e.ev.Sync()
	if vs := e.active("size"); len(vs) != 0 {
		t.Fatalf("an unregistered device violated a registered-things profile: %+v", vs)
	}
	if n := e.events.Load(); n != cleared {
		t.Fatalf("OnEvents called %d times without a new event", n-cleared)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// windowStart is a 300-s boundary in the future, so that the injected
// clock never goes back from what the stack saw.
func windowStart() time.Time {
	t := time.Now().Add(time.Hour).Unix()
	return time.Unix(t-t%300, 0).UTC()
}

func TestMessagesSentOverAFiveMinuteWindow(t *testing.T) {
	clk := &clock{}
	w := windowStart()
	clk.set(w.Add(10 * time.Second))
	e := newEnv(t, clk)
	e.profile("rate", warden.TargetAllThings, types.Behavior{Name: aws.String("few-messages"), Metric: aws.String("aws:num-messages-sent"),
		Criteria: countCriteria(types.ComparisonOperatorLessThanEquals, 3, 300)})
	e.ev.Sync()
	c := e.connect(e.device("meter-1", allowAll), "meter-1")
	for i := 0; i < 5; i++ {
		publish(t, c, "meter/1", 10)
	}
	e.ev.Tick(w.Add(299 * time.Second))
	if vs := e.active("rate"); len(vs) != 0 {
		t.Fatalf("violation before the window ended: %+v", vs)
	}
	clk.set(w.Add(300 * time.Second))
	e.ev.Tick(w.Add(300 * time.Second))
	vs := e.active("rate")
	if len(vs) != 1 || aws.ToInt64(vs[0].LastViolationValue.Count) != 5 || aws.ToString(vs[0].ThingName) != "meter-1" {
		t.Fatalf("after the window: %+v", vs)
	}
	if got := aws.ToTime(vs[0].ViolationStartTime); !got.Equal(w.Add(300 * time.Second)) {
		t.Fatalf("violation start %v, want the window's end %v", got, w.Add(300*time.Second))
	}
	// The next window: two messages, within the limit, clears.
	clk.set(w.Add(400 * time.Second))
	publish(t, c, "meter/1", 10)
	publish(t, c, "meter/1", 10)
	clk.set(w.Add(600 * time.Second))
	e.ev.Tick(w.Add(600 * time.Second))
	if vs := e.active("rate"); len(vs) != 0 {
		t.Fatalf("not cleared after a conforming window: %+v", vs)
	}
	// The datapoints are kept (the metric is used by a behaviour).
	mv, err := e.iot.ListMetricValues(e.ctx, &iot.ListMetricValuesInput{ThingName: aws.String("meter-1"), MetricName: aws.String("aws:num-messages-sent"),
		StartTime: aws.Time(w), EndTime: aws.Time(w.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	var counts []int64
	for _, d := range mv.MetricDatumList {
		counts = append(counts, aws.ToInt64(d.Value.Count))
	}
	if len(counts) != 2 || !(counts[0] == 5 && counts[1] == 2 || counts[0] == 2 && counts[1] == 5) {
		t.Fatalf("metric values %v, want 5 and 2", counts)
	}
}

func TestAuthorizationFailures(t *testing.T) {
	clk := &clock{}
	w := windowStart()
	clk.set(w.Add(time.Second))
	e := newEnv(t, clk)
	e.profile("authz", warden.TargetAllThings, types.Behavior{Name: aws.String("few-denials"), Metric: aws.String("aws:num-authorization-failures"),
		Criteria: countCriteria(types.ComparisonOperatorLessThan, 2, 300)})
	e.ev.Sync()
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect","iot:Publish","iot:Receive"],"Resource":"*"},
		{"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/allowed/*"}]}`
	c := e.connect(e.device("lock-1", doc), "lock-1")
	for _, f := range []string{"secret/a", "secret/b", "allowed/x"} {
		tok := c.Subscribe(f, 0, nil)
		if !tok.WaitTimeout(5 * time.Second) {
			t.Fatalf("subscribe %s timed out", f)
		}
		if code := tok.(*paho3.SubscribeToken).Result()[f]; (code == 0x80) != strings.HasPrefix(f, "secret/") {
			t.Fatalf("subscribe %s: return code %#x", f, code)
		}
	}
	clk.set(w.Add(300 * time.Second))
	e.ev.Tick(w.Add(300 * time.Second))
	vs := e.active("authz")
	if len(vs) != 1 || aws.ToInt64(vs[0].LastViolationValue.Count) != 2 || aws.ToString(vs[0].ThingName) != "lock-1" {
		t.Fatalf("after two denied subscriptions: %d %+v", aws.ToInt64(vs[0].LastViolationValue.Count), vs)
	}
}

func TestStatisticalBehavior(t *testing.T) {
	clk := &clock{}
	w := windowStart()
	clk.set(w.Add(time.Second))
	e := newEnv(t, clk)
	e.profile("peers", warden.TargetAllThings, types.Behavior{Name: aws.String("like-the-others"), Metric: aws.String("aws:num-messages-sent"),
		Criteria: &types.BehaviorCriteria{ComparisonOperator: types.ComparisonOperatorLessThanEquals, DurationSeconds: aws.Int32(300),
			StatisticalThreshold: &types.StatisticalThreshold{Statistic: aws.String("p50")}}})
	e.ev.Sync()
	// Unregistered devices: judged by client ID.
	for i, n := range []int{1, 2, 12} {
		c := e.connect(e.device("", allowAll), fmt.Sprintf("peer-%d", i))
		for j := 0; j < n; j++ {
			publish(t, c, "peers", 1)
		}
	}
	clk.set(w.Add(300 * time.Second))
	e.ev.Tick(w.Add(300 * time.Second))
	vs := e.active("peers")
	if len(vs) != 1 || aws.ToString(vs[0].ThingName) != "peer-2" || aws.ToInt64(vs[0].LastViolationValue.Count) != 12 {
		t.Fatalf("statistical violations %+v, want peer-2 with 12 (p50 is 2)", vs)
	}
	out, err := e.iot.ListActiveViolations(e.ctx, &iot.ListActiveViolationsInput{BehaviorCriteriaType: types.BehaviorCriteriaTypeStatistical})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ActiveViolations) != 1 {
		t.Fatalf("STATISTICAL filter: %+v", out.ActiveViolations)
	}
}

func TestViolationsSurviveARestartAndClear(t *testing.T) {
	e := newEnv(t, nil)
	e.profile("size", warden.TargetAllThings, types.Behavior{Name: aws.String("small"), Metric: aws.String("aws:message-byte-size"),
		Criteria: countCriteria(types.ComparisonOperatorLessThan, 100, 0)})
	e.ev.Sync()
	c := e.connect(e.device("d1", allowAll), "d1")
	publish(t, c, "t", 200)
	e.waitActive("size", 1, 2*time.Second)
	// A second evaluator on the same store starts from the active
	// violation: its conforming datapoint clears it.
	ev2 := detect.New(detect.Options{Store: e.store, TickEvery: -1})
	ev2.Start()
	defer ev2.Stop()
	ev2.Observe(warden.DataPlaneEvent{Scope: scope, Type: warden.EventPublishIn, Status: warden.StatusSuccess,
		ClientID: "d1", ThingName: "d1", Topic: "t", PayloadBytes: 5})
	ev2.Sync()
	e.waitActive("size", 0, time.Second)
}

func TestDeviceReportsAreJudgedOnArrival(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.iot.CreateCustomMetric(e.ctx, &iot.CreateCustomMetricInput{MetricName: aws.String("temperature"),
		MetricType: types.CustomMetricTypeNumber, ClientRequestToken: aws.String("t1")}); err != nil {
		t.Fatal(err)
	}
	e.profile("host", warden.TargetRegisteredThings,
		types.Behavior{Name: aws.String("only-https"), Metric: aws.String("aws:listening-tcp-ports"),
			Criteria: &types.BehaviorCriteria{ComparisonOperator: types.ComparisonOperatorInPortSet, Value: &types.MetricValue{Ports: []int32{443}}}},
		types.Behavior{Name: aws.String("cool"), Metric: aws.String("temperature"),
			Criteria: &types.BehaviorCriteria{ComparisonOperator: types.ComparisonOperatorLessThan, Value: &types.MetricValue{Number: aws.Float64(80)}}})
	e.ev.Sync()
	c := e.connect(e.device("gateway-1", allowAll), "gateway-1")
	report := func(id int, ports string, temp float64) {
		t.Helper()
		body := fmt.Sprintf(`{"header":{"report_id":%d,"version":"1.0"},"metrics":{"listening_tcp_ports":{"ports":[%s]}},
			"custom_metrics":{"temperature":[{"number":%v}]}}`, id, ports, temp)
		tok := c.Publish("$aws/things/gateway-1/defender/metrics/json", 1, false, body)
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("report: %v", tok.Error())
		}
	}
	report(1, `{"port":443},{"port":22}`, 85.5)
	vs := e.waitActive("host", 2, 2*time.Second)
	for _, v := range vs {
		switch aws.ToString(v.Behavior.Name) {
		case "only-https":
			if got := v.LastViolationValue.Ports; len(got) != 2 {
				t.Fatalf("ports violation value %+v", v.LastViolationValue)
			}
		case "cool":
			if aws.ToFloat64(v.LastViolationValue.Number) != 85.5 {
				t.Fatalf("temperature violation value %+v", v.LastViolationValue)
			}
		default:
			t.Fatalf("violation of %s", aws.ToString(v.Behavior.Name))
		}
	}
	// An empty port list conforms and clears; the temperature stays high.
	report(2, ``, 90)
	vs = e.waitActive("host", 1, 2*time.Second)
	if aws.ToString(vs[0].Behavior.Name) != "cool" || aws.ToFloat64(vs[0].LastViolationValue.Number) != 90 {
		t.Fatalf("after the second report %+v", vs[0])
	}
}

// BenchmarkEvaluatorWithStore is a message's whole cost: queued by
// Observe, judged by 5 profiles × 4 behaviours and its datapoint written
// to the store (batched), on SQLite (or PostgreSQL with
// WARDEN_TEST_DATABASE).
func BenchmarkEvaluatorWithStore(b *testing.B) {
	stack := wardentest.Start(b, wardentest.Config{IoTOnly: true})
	client := stack.IoT(wardentest.KeyA, wardentest.SecretA, wardentest.Region)
	ctx := context.Background()
	for i := range 5 {
		name := fmt.Sprintf("profile-%d", i)
		behaviors := []types.Behavior{
			{Name: aws.String("size"), Metric: aws.String("aws:message-byte-size"), Criteria: countCriteria(types.ComparisonOperatorLessThan, 1<<20, 0)},
			{Name: aws.String("sent"), Metric: aws.String("aws:num-messages-sent"), Criteria: countCriteria(types.ComparisonOperatorLessThan, 1<<40, 300)},
			{Name: aws.String("received"), Metric: aws.String("aws:num-messages-received"), Criteria: countCriteria(types.ComparisonOperatorLessThan, 1<<40, 300)},
			{Name: aws.String("authz"), Metric: aws.String("aws:num-authorization-failures"), Criteria: countCriteria(types.ComparisonOperatorLessThan, 1<<40, 300)},
		}
		if _, err := client.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: &name, Behaviors: behaviors}); err != nil {
			b.Fatal(err)
		}
		arn := scope.IoTARN(warden.TargetAllThings)
		if _, err := client.AttachSecurityProfile(ctx, &iot.AttachSecurityProfileInput{SecurityProfileName: &name, SecurityProfileTargetArn: &arn}); err != nil {
			b.Fatal(err)
		}
	}
	ev := detect.New(detect.Options{Store: stack.Store, QueueSize: 1 << 20, TickEvery: -1})
	ev.Start()
	defer ev.Stop()
	events := make([]warden.DataPlaneEvent, 1000)
	for i := range events {
		id := fmt.Sprintf("device-%d", i)
		events[i] = warden.DataPlaneEvent{Scope: scope, Type: warden.EventPublishIn, Status: warden.StatusSuccess,
			ClientID: id, ThingName: id, Topic: "dev/" + id + "/t", PayloadBytes: 200}
	}
	b.ResetTimer()
	for i := range b.N {
		ev.Observe(events[i%len(events)])
		if i%10000 == 9999 {
			ev.Sync()
		}
	}
	ev.Sync()
	b.StopTimer()
	if ev.Dropped() != 0 || ev.Processed() != int64(b.N) {
		b.Fatalf("dropped %d, processed %d of %d", ev.Dropped(), ev.Processed(), b.N)
	}
}

func TestThingGroupTargetsAndInvalidation(t *testing.T) {
	clk := &clock{}
	w := windowStart()
	clk.set(w.Add(time.Second))
	e := newEnv(t, clk)
	for _, g := range []struct{ name, parent string }{{"site", ""}, {"floor-1", "site"}} {
		in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(g.name)}
		if g.parent != "" {
			in.ParentGroupName = aws.String(g.parent)
		}
		if _, err := e.iot.CreateThingGroup(e.ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	name := "site-size"
	if _, err := e.iot.CreateSecurityProfile(e.ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: &name,
		Behaviors: []types.Behavior{{Name: aws.String("small"), Metric: aws.String("aws:message-byte-size"),
			Criteria: countCriteria(types.ComparisonOperatorLessThan, 100, 0)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.iot.AttachSecurityProfile(e.ctx, &iot.AttachSecurityProfileInput{SecurityProfileName: &name,
		SecurityProfileTargetArn: aws.String(warden.ThingGroupARN(scope, "site"))}); err != nil {
		t.Fatal(err)
	}
	inGroup := e.connect(e.device("lamp-1", allowAll), "lamp-1")
	outside := e.connect(e.device("lamp-2", allowAll), "lamp-2")
	if _, err := e.iot.AddThingToThingGroup(e.ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String("lamp-1"),
		ThingGroupName: aws.String("floor-1")}); err != nil {
		t.Fatal(err)
	}
	e.ev.Sync()
	publish(t, inGroup, "lamp", 500)
	publish(t, outside, "lamp", 500)
	e.ev.Sync()
	vs := e.active(name)
	if len(vs) != 1 || aws.ToString(vs[0].ThingName) != "lamp-1" {
		t.Fatalf("violations of a profile of the parent group: %+v", vs)
	}
	// Silent for 48 hours: the violation is invalidated.
	e.ev.Tick(w.Add(time.Second + warden.ViolationInvalidateAfter - time.Minute))
	if len(e.active(name)) != 1 {
		t.Fatal("invalidated too early")
	}
	e.ev.Tick(w.Add(2*time.Second + warden.ViolationInvalidateAfter))
	if vs := e.active(name); len(vs) != 0 {
		t.Fatalf("not invalidated after 48 hours of silence: %+v", vs)
	}
	out, err := e.iot.ListViolationEvents(e.ctx, &iot.ListViolationEventsInput{StartTime: aws.Time(w.Add(-time.Hour)),
		EndTime: aws.Time(w.Add(72 * time.Hour)), SecurityProfileName: &name})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ViolationEvents) != 2 || out.ViolationEvents[0].ViolationEventType != types.ViolationEventTypeAlarmInvalidated {
		t.Fatalf("events %+v, want in-alarm then alarm-invalidated (newest first)", out.ViolationEvents)
	}
}

// TestProfileChangeReachesAnotherNode: a profile updated through one
// node's API applies within 2 s to a device connected to another node on
// the same store.
func TestProfileChangeReachesAnotherNode(t *testing.T) {
	e := newEnv(t, nil)
	e.profile("limit", warden.TargetAllThings, types.Behavior{Name: aws.String("small"), Metric: aws.String("aws:message-byte-size"),
		Criteria: countCriteria(types.ComparisonOperatorLessThan, 1000, 0)})
	cert := e.device("far-1", allowAll)
	// Node 2: its own store handle, broker and evaluator on the same data.
	node2 := startNode(t, e.dir, nil)
	c := node2.connect(cert, "far-1")
	publish(t, c, "t", 500)
	node2.ev.Sync()
	if vs := e.active("limit"); len(vs) != 0 {
		t.Fatalf("500 bytes violated a 1000-byte limit: %+v", vs)
	}
	if _, err := e.iot.UpdateSecurityProfile(e.ctx, &iot.UpdateSecurityProfileInput{SecurityProfileName: aws.String("limit"),
		Behaviors: []types.Behavior{{Name: aws.String("small"), Metric: aws.String("aws:message-byte-size"),
			Criteria: countCriteria(types.ComparisonOperatorLessThan, 100, 0)}}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		publish(t, c, "t", 500)
		time.Sleep(100 * time.Millisecond)
		if vs := e.active("limit"); len(vs) == 1 {
			if aws.ToInt64(vs[0].Behavior.Criteria.Value.Count) != 100 {
				t.Fatalf("violation of the old behaviour: %+v", vs[0].Behavior.Criteria)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the update did not reach the other node within 2 s")
		}
	}
}
