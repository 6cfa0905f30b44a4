package detect_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	paho3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/detect"
	"github.com/warden-iot/warden/internal/wardentest"
)

const exportTopic = "dd/export"

var exportRoleArn = "arn:aws:iam::" + wardentest.AccountA + ":role/metrics-export"

// exportRole creates the export role allowed iot:Publish on resource
// (which ends the account's trust in role ARNs it has no role for).
func (e *env) exportRole(resource string) {
	e.t.Helper()
	iamA := e.stack.IAMClient(wardentest.KeyA, wardentest.SecretA, wardentest.Region)
	if _, err := iamA.CreateRole(e.ctx, &awsiam.CreateRoleInput{RoleName: aws.String("metrics-export"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		e.t.Fatal(err)
	}
	e.allowExport(resource)
}

func (e *env) allowExport(resource string) {
	e.t.Helper()
	iamA := e.stack.IAMClient(wardentest.KeyA, wardentest.SecretA, wardentest.Region)
	if _, err := iamA.PutRolePolicy(e.ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("metrics-export"), PolicyName: aws.String("publish"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"` + resource + `"}]}`)}); err != nil {
		e.t.Fatal(err)
	}
}

// exportingProfile exports the messages sent (a behaviour) and their byte
// size (a metric to retain), not the messages received, to exportTopic.
func (e *env) exportingProfile(name string) {
	e.t.Helper()
	_, err := e.iot.CreateSecurityProfile(e.ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String(name),
		Behaviors: []types.Behavior{
			{Name: aws.String("few-messages"), Metric: aws.String("aws:num-messages-sent"), ExportMetric: aws.Bool(true),
				Criteria: countCriteria(types.ComparisonOperatorLessThan, 100, 300)},
			{Name: aws.String("few-received"), Metric: aws.String("aws:num-messages-received"),
				Criteria: countCriteria(types.ComparisonOperatorLessThan, 100, 300)},
		},
		AdditionalMetricsToRetainV2: []types.MetricToRetain{{Metric: aws.String("aws:message-byte-size"), ExportMetric: aws.Bool(true)}},
		MetricsExportConfig:         &types.MetricsExportConfig{MqttTopic: aws.String(exportTopic), RoleArn: aws.String(exportRoleArn)},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	arn := scope.IoTARN(warden.TargetAllThings)
	if _, err := e.iot.AttachSecurityProfile(e.ctx, &iot.AttachSecurityProfileInput{SecurityProfileName: aws.String(name),
		SecurityProfileTargetArn: &arn}); err != nil {
		e.t.Fatal(err)
	}
}

// listen subscribes a device of its own to the export topic over TLS.
func (e *env) listen() <-chan []byte {
	e.t.Helper()
	got := make(chan []byte, 100)
	c := e.connect(e.device("listener", allowAll), "listener")
	tok := c.Subscribe(exportTopic, 1, func(_ paho3.Client, m paho3.Message) { got <- m.Payload() })
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		e.t.Fatalf("subscribe: %v", tok.Error())
	}
	return got
}

// receive waits for n export messages and decodes their entries.
func receive(t *testing.T, got <-chan []byte, n int, maxBytes int) []detect.ExportedMetric {
	t.Helper()
	var all []detect.ExportedMetric
	for i := 0; i < n; i++ {
		select {
		case p := <-got:
			if len(p) > maxBytes {
				t.Fatalf("export message of %d bytes, over %d", len(p), maxBytes)
			}
			var msg detect.ExportMessage
			if err := json.Unmarshal(p, &msg); err != nil || msg.Version != "1.0" {
				t.Fatalf("export message %s: %v", p, err)
			}
			all = append(all, msg.Metrics...)
		case <-time.After(5 * time.Second):
			t.Fatalf("%d export messages received, want %d", i, n)
		}
	}
	select {
	case p := <-got:
		t.Fatalf("an export message more than %d: %s", n, p)
	case <-time.After(300 * time.Millisecond):
	}
	return all
}

func noExport(t *testing.T, got <-chan []byte) {
	t.Helper()
	select {
	case p := <-got:
		t.Fatalf("export published: %s", p)
	case <-time.After(500 * time.Millisecond):
	}
}

func TestMetricsExportReachesASubscriberSplitUnderTheLimit(t *testing.T) {
	clk := &clock{}
	w := windowStart()
	clk.set(w.Add(10 * time.Second))
	const maxBytes = 250 // one entry per message
	e := startNodeWith(t, "", clk, func(o *detect.Options) { o.ExportMaxBytes = maxBytes })
	e.exportRole(scope.IoTARN("topic/" + exportTopic))
	e.exportingProfile("exported")
	e.ev.Sync()
	got := e.listen()
	c := e.connect(e.device("meter-1", allowAll), "meter-1")
	for _, size := range []int{10, 30, 20} {
		publish(t, c, "meter/1", size)
	}
	e.ev.Sync()
	e.ev.Tick(w.Add(59 * time.Second))
	noExport(t, got)

	e.ev.Tick(w.Add(60 * time.Second))
	entries := receive(t, got, 2, maxBytes)
	byName := map[string]detect.ExportedMetric{}
	for _, m := range entries {
		if m.Thing != "meter-1" {
			t.Fatalf("entry of %s: %+v", m.Thing, m)
		}
		byName[m.Name] = m
	}
	sent, size := byName["aws:num-messages-sent"], byName["aws:message-byte-size"]
	if len(byName) != 2 || sent.Value.Count == nil || *sent.Value.Count != 3 || sent.Timestamp != w.Add(time.Minute).UnixMilli() {
		t.Fatalf("entries %+v, want messages sent and their size", entries)
	}
	if size.Value.Count == nil || *size.Value.Count != 60 || *size.Value.Minimum != 10 || *size.Value.Maximum != 30 {
		t.Fatalf("message byte size %+v, want sum 60, min 10, max 30", size.Value)
	}
	if e.ev.ExportsPublished() != 2 {
		t.Fatalf("%d exports counted, want 2", e.ev.ExportsPublished())
	}
	// A period without traffic exports nothing.
	e.ev.Tick(w.Add(120 * time.Second))
	noExport(t, got)
}

func TestMetricsExportNeedsARoleThatMayPublish(t *testing.T) {
	clk := &clock{}
	w := windowStart()
	clk.set(w.Add(10 * time.Second))
	e := newEnv(t, clk)
	e.exportRole(scope.IoTARN("topic/somewhere/else"))
	e.exportingProfile("exported")
	e.ev.Sync()
	got := e.listen()
	c := e.connect(e.device("meter-1", allowAll), "meter-1")
	publish(t, c, "meter/1", 10)
	e.ev.Sync()
	e.ev.Tick(w.Add(60 * time.Second))
	noExport(t, got)
	if e.ev.ExportsSkipped() != 1 || e.ev.ExportsPublished() != 0 {
		t.Fatalf("skipped %d, published %d; want 1 and 0", e.ev.ExportsSkipped(), e.ev.ExportsPublished())
	}
	// Once the role may publish there, the next batch goes out.
	e.allowExport(scope.IoTARN("topic/" + exportTopic))
	publish(t, c, "meter/1", 10)
	publish(t, c, "meter/1", 10)
	e.ev.Sync()
	e.ev.Tick(w.Add(120 * time.Second))
	for _, m := range receive(t, got, 1, detect.DefaultExportMaxBytes) {
		if m.Name == "aws:num-messages-sent" && *m.Value.Count != 2 {
			t.Fatalf("messages sent %d, want the 2 of the second period", *m.Value.Count)
		}
	}
}

func TestMetricsExportValidation(t *testing.T) {
	e := newEnv(t, nil)
	invalid := func(what string, err error) {
		t.Helper()
		var ire *types.InvalidRequestException
		if !errors.As(err, &ire) {
			t.Fatalf("%s: %v, want InvalidRequestException", what, err)
		}
	}
	sent := func(export bool) types.Behavior {
		return types.Behavior{Name: aws.String("sent"), Metric: aws.String("aws:num-messages-sent"), ExportMetric: aws.Bool(export),
			Criteria: countCriteria(types.ComparisonOperatorLessThan, 100, 300)}
	}
	create := func(name string, b types.Behavior, retain []types.MetricToRetain, cfg *types.MetricsExportConfig) error {
		_, err := e.iot.CreateSecurityProfile(e.ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String(name),
			Behaviors: []types.Behavior{b}, AdditionalMetricsToRetainV2: retain, MetricsExportConfig: cfg})
		return err
	}
	config := func(topic string) *types.MetricsExportConfig {
		return &types.MetricsExportConfig{MqttTopic: aws.String(topic), RoleArn: aws.String(exportRoleArn)}
	}
	invalid("exportMetric without metricsExportConfig", create("p1", sent(true), nil, nil))
	invalid("retained exportMetric without metricsExportConfig", create("p1", sent(false),
		[]types.MetricToRetain{{Metric: aws.String("aws:message-byte-size"), ExportMetric: aws.Bool(true)}}, nil))
	for _, topic := range []string{"$aws/things/t/shadow/update", "a/+/b", "a/#", "$SYS/x", strings.Repeat("a/", 8) + "b"} {
		invalid("topic "+topic, create("p1", sent(true), nil, config(topic)))
	}
	invalid("role that is no role ARN", create("p1", sent(true), nil,
		&types.MetricsExportConfig{MqttTopic: aws.String(exportTopic), RoleArn: aws.String("arn:aws:sns:us-east-1:123456789012:x")}))
	if _, err := e.iot.DescribeSecurityProfile(e.ctx, &iot.DescribeSecurityProfileInput{SecurityProfileName: aws.String("p1")}); err == nil {
		t.Fatal("a refused create made the profile")
	}

	if err := create("p1", sent(true), nil, config(exportTopic)); err != nil {
		t.Fatal(err)
	}
	// The export configuration cannot go while a behaviour exports.
	_, err := e.iot.UpdateSecurityProfile(e.ctx, &iot.UpdateSecurityProfileInput{SecurityProfileName: aws.String("p1"),
		DeleteMetricsExportConfig: true})
	invalid("deleting the config of an exporting profile", err)
	_, err = e.iot.UpdateSecurityProfile(e.ctx, &iot.UpdateSecurityProfileInput{SecurityProfileName: aws.String("p1"),
		MetricsExportConfig: config("a/+")})
	invalid("updating to a wildcard topic", err)
	out, err := e.iot.DescribeSecurityProfile(e.ctx, &iot.DescribeSecurityProfileInput{SecurityProfileName: aws.String("p1")})
	if err != nil || out.Version != 1 || aws.ToString(out.MetricsExportConfig.MqttTopic) != exportTopic {
		t.Fatalf("after refused updates: %+v, %v", out, err)
	}
	// Without exporting behaviours the configuration may go.
	if _, err := e.iot.UpdateSecurityProfile(e.ctx, &iot.UpdateSecurityProfileInput{SecurityProfileName: aws.String("p1"),
		Behaviors: []types.Behavior{sent(false)}, DeleteMetricsExportConfig: true}); err != nil {
		t.Fatal(err)
	}
	// Nor can an update export without it.
	_, err = e.iot.UpdateSecurityProfile(e.ctx, &iot.UpdateSecurityProfileInput{SecurityProfileName: aws.String("p1"),
		Behaviors: []types.Behavior{sent(true)}})
	invalid("exporting from a profile without config", err)
}

func TestMetricsExportOnTheRealClock(t *testing.T) {
	e := startNodeWith(t, "", nil, func(o *detect.Options) { o.ExportEvery = time.Second })
	e.exportingProfile("exported") // no IAM roles: the account trusts its role ARNs
	e.ev.Sync()
	got := e.listen()
	c := e.connect(e.device("meter-1", allowAll), "meter-1")
	publish(t, c, "meter/1", 42)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case p := <-got:
			var msg detect.ExportMessage
			if err := json.Unmarshal(p, &msg); err != nil {
				t.Fatal(err)
			}
			for _, m := range msg.Metrics {
				if m.Thing == "meter-1" && m.Name == "aws:message-byte-size" && *m.Value.Count == 42 {
					return
				}
			}
		case <-deadline:
			t.Fatal("no export of meter-1's message within 5 s of a 1-s batch period")
		}
	}
}
