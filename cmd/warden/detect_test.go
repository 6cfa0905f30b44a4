package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	paho3 "github.com/eclipse/paho.mqtt.golang"
)

// TestDetectInServe: `warden serve` judges device traffic: a security
// profile made through the API applies to a connected device, whose too
// big message is an active violation within 2 s.
func TestDetectInServe(t *testing.T) {
	ctx := context.Background()
	m, c := startWithDevices(t, Config{})
	tlsConfig := deviceTLS(t, m, c, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`)
	out, err := c.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("size"),
		Behaviors: []types.Behavior{{Name: aws.String("small"), Metric: aws.String("aws:message-byte-size"),
			Criteria: &types.BehaviorCriteria{ComparisonOperator: types.ComparisonOperatorLessThan, Value: &types.MetricValue{Count: aws.Int64(64)}}}}})
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
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no violation within 2 s: %+v", vs.ActiveViolations)
		}
	}
}
