package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	paho3 "github.com/eclipse/paho.mqtt.golang"
)

// TestDetectInServe: `warden serve` judges device traffic: a security
// profile made through the API applies to a connected device, whose too
// big message is an active violation within 2 s, and its alert reaches
// the profile's SNS topic's subscriber.
func TestDetectInServe(t *testing.T) {
	ctx := context.Background()
	m, c := startWithDevices(t, Config{})
	tlsConfig := deviceTLS(t, m, c, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`)
	snsClient := awssns.New(awssns.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.URL()), RetryMaxAttempts: 1,
		Credentials: c.Options().Credentials})
	topic, err := snsClient.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("detect-alerts")})
	if err != nil {
		t.Fatal(err)
	}
	notifications := make(chan string, 10)
	subscriber := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct{ Type, SubscribeURL, Message string }
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			t.Errorf("subscriber: %v", err)
			return
		}
		switch env.Type {
		case "SubscriptionConfirmation":
			go func() {
				if resp, err := http.Get(env.SubscribeURL); err == nil {
					resp.Body.Close()
				}
			}()
		case "Notification":
			notifications <- env.Message
		}
	}))
	defer subscriber.Close()
	if _, err := snsClient.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"),
		Endpoint: aws.String(subscriber.URL)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		subs, err := snsClient.ListSubscriptionsByTopic(ctx, &awssns.ListSubscriptionsByTopicInput{TopicArn: topic.TopicArn})
		if err != nil {
			t.Fatal(err)
		}
		if len(subs.Subscriptions) == 1 && strings.HasPrefix(aws.ToString(subs.Subscriptions[0].SubscriptionArn), "arn:") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscription not confirmed: %+v", subs.Subscriptions)
		}
	}
	account := strings.Split(aws.ToString(topic.TopicArn), ":")[4]
	out, err := c.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("size"),
		Behaviors: []types.Behavior{{Name: aws.String("small"), Metric: aws.String("aws:message-byte-size"),
			Criteria: &types.BehaviorCriteria{ComparisonOperator: types.ComparisonOperatorLessThan, Value: &types.MetricValue{Count: aws.Int64(64)}}}},
		// The account has no IAM roles: its role ARNs are trusted.
		AlertTargets: map[string]types.AlertTarget{"SNS": {AlertTargetArn: topic.TopicArn,
			RoleArn: aws.String("arn:aws:iam::" + account + ":role/detect-alerts")}}})
	if err != nil {
		t.Fatal(err)
	}
	target := strings.Replace(aws.ToString(out.SecurityProfileArn), "securityprofile/size", "all/things", 1)
	if _, err := c.AttachSecurityProfile(ctx, &iot.AttachSecurityProfileInput{SecurityProfileName: aws.String("size"),
		SecurityProfileTargetArn: &target}); err != nil {
		t.Fatal(err)
	}
	opts := paho3.NewClientOptions().AddBroker("ssl://" + m.devices.Addr()).SetClientID("probe").SetProtocolVersion(4).
		SetTLSConfig(tlsConfig).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	client := paho3.NewClient(opts)
	if tok := client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer client.Disconnect(0)
	// The profile reaches the evaluator through the change log: publish
	// until the message is judged, for at most 2 s.
	deadline := time.Now().Add(2 * time.Second)
	for {
		if tok := client.Publish("probe/data", 1, false, strings.Repeat("x", 100)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
		time.Sleep(100 * time.Millisecond)
		vs, err := c.ListActiveViolations(ctx, &iot.ListActiveViolationsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(vs.ActiveViolations) == 1 {
			v := vs.ActiveViolations[0]
			if aws.ToString(v.ThingName) != "probe" || aws.ToInt64(v.LastViolationValue.Count) != 100 {
				t.Fatalf("violation %+v", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no violation within 2 s: %+v", vs.ActiveViolations)
		}
	}
	select {
	case msg := <-notifications:
		if !strings.Contains(msg, `"thingName":"probe"`) || !strings.Contains(msg, `"violationEventType":"in-alarm"`) {
			t.Fatalf("alert %s", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no alert reached the topic's subscriber")
	}
}
