package sns_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/warden-iot/warden"
)

// TestSNSEndpointPasswordMasked: an endpoint's basic-auth password shows
// as **** in ListSubscriptions, ListSubscriptionsByTopic and the change
// log, as SNS shows it, while deliveries still send the real one.
func TestSNSEndpointPasswordMasked(t *testing.T) {
	e := newSNSEnv(t)
	sub := newSubscriber(t)
	hostPath := strings.TrimPrefix(sub.url(), "http://")
	endpoint := "http://alice:s3cret-pw@" + hostPath
	masked := "http://alice:****@" + hostPath
	topic := e.createTopic("secured")
	if _, err := e.a.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"),
		Endpoint: aws.String(endpoint)}); err != nil {
		t.Fatal(err)
	}
	e.runOnce()
	conf := sub.next(t, time.Second)
	if got, want := conf.Header.Get("Authorization"), "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:s3cret-pw")); got != want {
		t.Errorf("delivery Authorization %q, want %q", got, want)
	}

	all, err := e.a.ListSubscriptions(e.ctx, &awssns.ListSubscriptionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	byTopic, err := e.a.ListSubscriptionsByTopic(e.ctx, &awssns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	if err != nil {
		t.Fatal(err)
	}
	for name, subs := range map[string]int{"ListSubscriptions": len(all.Subscriptions), "ListSubscriptionsByTopic": len(byTopic.Subscriptions)} {
		if subs != 1 {
			t.Fatalf("%s: %d subscriptions, want 1", name, subs)
		}
	}
	for _, got := range []string{aws.ToString(all.Subscriptions[0].Endpoint), aws.ToString(byTopic.Subscriptions[0].Endpoint)} {
		if got != masked {
			t.Errorf("listed endpoint %q, want %q", got, masked)
		}
	}
	changes, err := e.store.Changes(e.ctx, warden.ChangeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	sawSubscribe := false
	for _, ch := range changes {
		if strings.Contains(ch.Before+ch.After, "s3cret-pw") {
			t.Errorf("change log entry %s holds the password: %s", ch.Operation, ch.After)
		}
		if ch.Operation == "Subscribe" {
			sawSubscribe = strings.Contains(ch.After, masked)
		}
	}
	if !sawSubscribe {
		t.Errorf("no Subscribe change with the masked endpoint in %+v", changes)
	}
}
