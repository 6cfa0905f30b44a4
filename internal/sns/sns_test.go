package sns_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/outbound"
	"github.com/warden-iot/warden/internal/sns"
	"github.com/warden-iot/warden/internal/wardentest"
)

func TestSNSTopicLifecycle(t *testing.T) {
	e := newSNSEnv(t)
	arn := "arn:aws:sns:us-east-1:123456789012:findings"

	out, err := e.a.CreateTopic(e.ctx, &awssns.CreateTopicInput{Name: aws.String("findings"),
		Attributes: map[string]string{"DisplayName": "Findings"},
		Tags:       []snstypes.Tag{{Key: aws.String("team"), Value: aws.String("sec")}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.TopicArn); got != arn {
		t.Fatalf("CreateTopic TopicArn = %q, want %q", got, arn)
	}
	// Idempotent by name: the same call, or one without attributes, returns
	// the same topic; different attributes are refused.
	for _, in := range []*awssns.CreateTopicInput{
		{Name: aws.String("findings"), Attributes: map[string]string{"DisplayName": "Findings"}},
		{Name: aws.String("findings")},
	} {
		again, err := e.a.CreateTopic(e.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(again.TopicArn); got != arn {
			t.Fatalf("second CreateTopic TopicArn = %q, want %q", got, arn)
		}
	}
	_, err = e.a.CreateTopic(e.ctx, &awssns.CreateTopicInput{Name: aws.String("findings"), Attributes: map[string]string{"DisplayName": "Other"}})
	wardentest.WantCode(t, err, "InvalidParameter", 400)

	list, err := e.a.ListTopics(e.ctx, &awssns.ListTopicsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Topics) != 1 || aws.ToString(list.Topics[0].TopicArn) != arn || list.NextToken != nil {
		t.Fatalf("ListTopics = %+v, want just %s", list.Topics, arn)
	}

	attrs, err := e.a.GetTopicAttributes(e.ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"TopicArn": arn, "Owner": wardentest.AccountA, "DisplayName": "Findings",
		"SubscriptionsPending": "0", "SubscriptionsConfirmed": "0", "SubscriptionsDeleted": "0"} {
		if got := attrs.Attributes[k]; got != want {
			t.Errorf("attribute %s = %q, want %q", k, got, want)
		}
	}
	var policy map[string]any
	if err := json.Unmarshal([]byte(attrs.Attributes["Policy"]), &policy); err != nil || policy["Version"] != "2008-10-17" {
		t.Errorf("Policy = %s, want SNS's default policy", attrs.Attributes["Policy"])
	}
	if !strings.Contains(attrs.Attributes["EffectiveDeliveryPolicy"], `"numRetries":6`) {
		t.Errorf("EffectiveDeliveryPolicy = %s, want Warden's default (numRetries 6)", attrs.Attributes["EffectiveDeliveryPolicy"])
	}

	for _, set := range []struct{ name, value string }{
		{"DisplayName", "Security findings"},
		{"SignatureVersion", "2"},
		{"DeliveryPolicy", `{"http":{"defaultHealthyRetryPolicy":{"numRetries":3,"minDelayTarget":20,"maxDelayTarget":20}}}`},
	} {
		if _, err := e.a.SetTopicAttributes(e.ctx, &awssns.SetTopicAttributesInput{TopicArn: aws.String(arn),
			AttributeName: aws.String(set.name), AttributeValue: aws.String(set.value)}); err != nil {
			t.Fatalf("SetTopicAttributes %s: %v", set.name, err)
		}
	}
	attrs, err = e.a.GetTopicAttributes(e.ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if attrs.Attributes["DisplayName"] != "Security findings" || attrs.Attributes["SignatureVersion"] != "2" ||
		!strings.Contains(attrs.Attributes["EffectiveDeliveryPolicy"], `"numRetries":3`) {
		t.Fatalf("after SetTopicAttributes: %v", attrs.Attributes)
	}

	if _, err := e.a.DeleteTopic(e.ctx, &awssns.DeleteTopicInput{TopicArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	// As SNS: deleting a topic that does not exist is no error.
	if _, err := e.a.DeleteTopic(e.ctx, &awssns.DeleteTopicInput{TopicArn: aws.String(arn)}); err != nil {
		t.Fatalf("second DeleteTopic: %v", err)
	}
	_, err = e.a.GetTopicAttributes(e.ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(arn)})
	wardentest.WantCode(t, err, "NotFound", 404)

	changes, err := e.store.Changes(e.ctx, warden.ChangeFilter{ResourceArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, c := range changes {
		if c.Actor != wardentest.KeyA {
			t.Errorf("change %s by %q, want %q", c.Operation, c.Actor, wardentest.KeyA)
		}
		ops = append(ops, c.Operation)
	}
	want := []string{"CreateTopic", "SetTopicAttributes", "SetTopicAttributes", "SetTopicAttributes", "DeleteTopic"}
	if !reflect.DeepEqual(ops, want) {
		t.Fatalf("change log %v, want %v", ops, want)
	}
}

func TestSNSListPagination(t *testing.T) {
	e := newSNSEnv(t)
	const n = 205
	for i := range n {
		e.createTopic(fmt.Sprintf("t%03d", i))
	}
	var got []string
	var token *string
	pages := 0
	for {
		out, err := e.a.ListTopics(e.ctx, &awssns.ListTopicsInput{NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(out.Topics) > 100 {
			t.Fatalf("page of %d topics, want at most 100", len(out.Topics))
		}
		for _, tp := range out.Topics {
			got = append(got, aws.ToString(tp.TopicArn))
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if pages != 3 || len(got) != n || got[0] != "arn:aws:sns:us-east-1:123456789012:t000" || got[n-1] != "arn:aws:sns:us-east-1:123456789012:t204" {
		t.Fatalf("got %d topics in %d pages (%v ... ), want %d in 3", len(got), pages, got[:1], n)
	}
	_, err := e.a.ListTopics(e.ctx, &awssns.ListTopicsInput{NextToken: aws.String("forged")})
	wardentest.WantCode(t, err, "InvalidParameter", 400)

	// Subscriptions page the same way, overall and by topic; a token of one
	// listing is refused by another.
	topic := "arn:aws:sns:us-east-1:123456789012:t000"
	for i := range 150 {
		if _, err := e.a.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"),
			Endpoint: aws.String(fmt.Sprintf("http://127.0.0.1:9/%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := e.a.ListSubscriptionsByTopic(e.ctx, &awssns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.a.ListSubscriptionsByTopic(e.ctx, &awssns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic), NextToken: first.NextToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Subscriptions) != 100 || len(second.Subscriptions) != 50 || second.NextToken != nil {
		t.Fatalf("pages of %d and %d subscriptions (next %v), want 100 and 50", len(first.Subscriptions), len(second.Subscriptions), second.NextToken)
	}
	if s := first.Subscriptions[0]; aws.ToString(s.SubscriptionArn) != "PendingConfirmation" || aws.ToString(s.Endpoint) != "http://127.0.0.1:9/0" ||
		aws.ToString(s.Protocol) != "http" || aws.ToString(s.Owner) != wardentest.AccountA || aws.ToString(s.TopicArn) != topic {
		t.Fatalf("first subscription %+v", s)
	}
	_, err = e.a.ListSubscriptions(e.ctx, &awssns.ListSubscriptionsInput{NextToken: first.NextToken})
	wardentest.WantCode(t, err, "InvalidParameter", 400)
	all, err := e.a.ListSubscriptions(e.ctx, &awssns.ListSubscriptionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Subscriptions) != 100 || all.NextToken == nil {
		t.Fatalf("ListSubscriptions page of %d (next %v), want 100 and a NextToken", len(all.Subscriptions), all.NextToken)
	}
}

// TestSNSSubscribeConfirmPublish is the whole flow with a real HTTP
// subscriber that validates everything it gets.
func TestSNSSubscribeConfirmPublish(t *testing.T) {
	e := newSNSEnv(t)
	topic := e.createTopic("alerts")
	sub := newSubscriber(t)

	out, err := e.a.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"), Endpoint: aws.String(sub.url())})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.SubscriptionArn); got != "pending confirmation" {
		t.Fatalf("Subscribe answered %q, want \"pending confirmation\"", got)
	}
	if n := e.runOnce(); n != 1 {
		t.Fatalf("deliverer handled %d, want the 1 confirmation", n)
	}
	conf := sub.next(t, time.Second)
	if conf.Type() != "SubscriptionConfirmation" {
		t.Fatalf("first message %s, want SubscriptionConfirmation", conf.Type())
	}
	if conf.Field("TopicArn") != topic || !strings.Contains(conf.Field("Message"), topic) {
		t.Fatalf("confirmation %s", conf.Body)
	}
	wantURL := e.server.URL + "/?Action=ConfirmSubscription&TopicArn=" + url.QueryEscape(topic) + "&Token=" + conf.Field("Token")
	if got := conf.Field("SubscribeURL"); got != wantURL {
		t.Fatalf("SubscribeURL = %s, want %s", got, wantURL)
	}
	attrs, _ := e.a.GetTopicAttributes(e.ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(topic)})
	if attrs.Attributes["SubscriptionsPending"] != "1" {
		t.Fatalf("SubscriptionsPending = %s, want 1", attrs.Attributes["SubscriptionsPending"])
	}
	// Nothing reaches a subscription that is not confirmed.
	if _, err := e.a.Publish(e.ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("too early")}); err != nil {
		t.Fatal(err)
	}
	if n := e.runOnce(); n != 0 {
		t.Fatalf("deliverer handled %d for an unconfirmed subscription, want 0", n)
	}

	subArn := confirmByURL(t, conf.Field("SubscribeURL"))
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(topic) + `:[0-9a-f-]{36}$`).MatchString(subArn) {
		t.Fatalf("SubscriptionArn %q", subArn)
	}
	// Confirming again is harmless.
	if again := confirmByURL(t, conf.Field("SubscribeURL")); again != subArn {
		t.Fatalf("second confirmation answered %s, want %s", again, subArn)
	}
	list, err := e.a.ListSubscriptionsByTopic(e.ctx, &awssns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	if err != nil || len(list.Subscriptions) != 1 || aws.ToString(list.Subscriptions[0].SubscriptionArn) != subArn {
		t.Fatalf("ListSubscriptionsByTopic = %+v, %v; want the confirmed %s", list, err, subArn)
	}

	for _, version := range []string{"1", "2"} {
		if _, err := e.a.SetTopicAttributes(e.ctx, &awssns.SetTopicAttributesInput{TopicArn: aws.String(topic),
			AttributeName: aws.String("SignatureVersion"), AttributeValue: aws.String(version)}); err != nil {
			t.Fatal(err)
		}
		pub, err := e.a.Publish(e.ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Subject: aws.String("Finding " + version),
			Message: aws.String("device-42 is <misbehaving> & \"loud\"\nline two")})
		if err != nil {
			t.Fatal(err)
		}
		if n := e.runOnce(); n != 1 {
			t.Fatalf("deliverer handled %d, want 1", n)
		}
		m := sub.next(t, time.Second)
		id := aws.ToString(pub.MessageId)
		for k, want := range map[string]string{"Type": "Notification", "MessageId": id, "TopicArn": topic,
			"Subject": "Finding " + version, "Message": "device-42 is <misbehaving> & \"loud\"\nline two", "SignatureVersion": version} {
			if got := m.Field(k); got != want {
				t.Errorf("envelope %s = %q, want %q", k, got, want)
			}
		}
		for k, want := range map[string]string{"x-amz-sns-message-type": "Notification", "x-amz-sns-message-id": id,
			"x-amz-sns-topic-arn": topic, "x-amz-sns-subscription-arn": subArn} {
			if got := m.Header.Get(k); got != want {
				t.Errorf("header %s = %q, want %q", k, got, want)
			}
		}
		if !strings.HasPrefix(m.Field("UnsubscribeURL"), e.server.URL+"/?Action=Unsubscribe&SubscriptionArn="+url.QueryEscape(subArn)+"&Token=") {
			t.Errorf("UnsubscribeURL = %s", m.Field("UnsubscribeURL"))
		}
	}
	// The messages are kept for `warden sns tail`, with how they went.
	msgs, err := e.store.RecentSNSMessages(e.ctx, scopeA, "alerts", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 || msgs[0].Message != "too early" || msgs[0].Fanout != 0 || msgs[2].Fanout != 1 || msgs[2].Pending != 0 || msgs[2].Failed != 0 {
		t.Fatalf("recent messages %+v", msgs)
	}
	if d, _ := e.store.SNSDeliveries(e.ctx, warden.SNSDeliveryFilter{}); len(d) != 0 {
		t.Fatalf("outbox holds %d rows after delivery, want 0", len(d))
	}
}

func TestSNSConfirmSubscriptionAction(t *testing.T) {
	e := newSNSEnv(t)
	topic := e.createTopic("alerts")
	sub := newSubscriber(t)
	out, err := e.a.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("https"),
		Endpoint: aws.String("https://127.0.0.1:1/hook"), ReturnSubscriptionArn: true})
	if err != nil {
		t.Fatal(err)
	}
	pendingArn := aws.ToString(out.SubscriptionArn)
	if !strings.HasPrefix(pendingArn, topic+":") {
		t.Fatalf("Subscribe with ReturnSubscriptionArn answered %q, want the ARN", pendingArn)
	}
	_, err = e.a.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"), Endpoint: aws.String(sub.url())})
	if err != nil {
		t.Fatal(err)
	}
	e.runOnce() // the https confirmation fails (nothing listens) and is retried later
	conf := sub.next(t, time.Second)

	_, err = e.a.ConfirmSubscription(e.ctx, &awssns.ConfirmSubscriptionInput{TopicArn: aws.String(topic), Token: aws.String("0123")})
	wardentest.WantCode(t, err, "InvalidParameter", 400)
	_, err = e.b.ConfirmSubscription(e.ctx, &awssns.ConfirmSubscriptionInput{TopicArn: aws.String(topic), Token: aws.String(conf.Field("Token"))})
	wardentest.WantCode(t, err, "NotFound", 404)

	got, err := e.a.ConfirmSubscription(e.ctx, &awssns.ConfirmSubscriptionInput{TopicArn: aws.String(topic),
		Token: aws.String(conf.Field("Token")), AuthenticateOnUnsubscribe: aws.String("true")})
	if err != nil {
		t.Fatal(err)
	}
	subArn := aws.ToString(got.SubscriptionArn)
	// A subscription confirmed with AuthenticateOnUnsubscribe refuses the
	// unsigned UnsubscribeURL.
	if _, err := e.a.Publish(e.ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("m")}); err != nil {
		t.Fatal(err)
	}
	e.runOnce()
	m := sub.next(t, time.Second)
	if status, body := get(t, m.Field("UnsubscribeURL")); status != 403 || !strings.Contains(body, "<Code>AuthorizationError</Code>") {
		t.Fatalf("UnsubscribeURL answered %d %s, want 403 AuthorizationError", status, body)
	}
	if _, err := e.a.Unsubscribe(e.ctx, &awssns.UnsubscribeInput{SubscriptionArn: aws.String(subArn)}); err != nil {
		t.Fatalf("signed Unsubscribe: %v", err)
	}
}

func get(t testing.TB, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSNSUnsubscribe(t *testing.T) {
	e := newSNSEnv(t)
	topic := e.createTopic("alerts")
	sub := newSubscriber(t)
	subArn := e.subscribeConfirmed(topic, sub)

	// Signed Unsubscribe: the subscriber is sent an UnsubscribeConfirmation
	// whose SubscribeURL restores the subscription.
	if _, err := e.a.Unsubscribe(e.ctx, &awssns.UnsubscribeInput{SubscriptionArn: aws.String(subArn)}); err != nil {
		t.Fatal(err)
	}
	e.runOnce()
	unconf := sub.next(t, time.Second)
	if unconf.Type() != "UnsubscribeConfirmation" || unconf.Header.Get("x-amz-sns-subscription-arn") != subArn ||
		!strings.Contains(unconf.Field("Message"), subArn) {
		t.Fatalf("got %s %s, want an UnsubscribeConfirmation of %s", unconf.Type(), unconf.Body, subArn)
	}
	list, _ := e.a.ListSubscriptionsByTopic(e.ctx, &awssns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	if len(list.Subscriptions) != 0 {
		t.Fatalf("ListSubscriptionsByTopic after Unsubscribe: %+v", list.Subscriptions)
	}
	attrs, _ := e.a.GetTopicAttributes(e.ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(topic)})
	if attrs.Attributes["SubscriptionsDeleted"] != "1" || attrs.Attributes["SubscriptionsConfirmed"] != "0" {
		t.Fatalf("counts after Unsubscribe: %v", attrs.Attributes)
	}
	_, err := e.a.Unsubscribe(e.ctx, &awssns.UnsubscribeInput{SubscriptionArn: aws.String(subArn)})
	wardentest.WantCode(t, err, "NotFound", 404)
	if _, err := e.a.Publish(e.ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	if n := e.runOnce(); n != 0 {
		t.Fatalf("deliverer handled %d after Unsubscribe, want 0", n)
	}
	if restored := confirmByURL(t, unconf.Field("SubscribeURL")); restored != subArn {
		t.Fatalf("restore answered %s, want %s", restored, subArn)
	}

	// The UnsubscribeURL of a notification unsubscribes without signing, but
	// only with its token.
	if _, err := e.a.Publish(e.ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("back")}); err != nil {
		t.Fatal(err)
	}
	e.runOnce()
	m := sub.next(t, time.Second)
	if m.Field("Message") != "back" {
		t.Fatalf("got %q after restoring, want \"back\"", m.Field("Message"))
	}
	forged := regexp.MustCompile(`Token=[0-9a-f]+`).ReplaceAllString(m.Field("UnsubscribeURL"), "Token=00")
	if status, body := get(t, forged); status != 403 || !strings.Contains(body, "AuthorizationError") {
		t.Fatalf("forged UnsubscribeURL answered %d %s, want 403 AuthorizationError", status, body)
	}
	if status, body := get(t, m.Field("UnsubscribeURL")); status != 200 || !strings.Contains(body, "<UnsubscribeResponse") {
		t.Fatalf("UnsubscribeURL answered %d %s", status, body)
	}
	e.runOnce()
	if got := sub.next(t, time.Second); got.Type() != "UnsubscribeConfirmation" {
		t.Fatalf("got %s, want UnsubscribeConfirmation", got.Type())
	}
	all, _ := e.a.ListSubscriptions(e.ctx, &awssns.ListSubscriptionsInput{})
	if len(all.Subscriptions) != 0 {
		t.Fatalf("ListSubscriptions after the UnsubscribeURL: %+v", all.Subscriptions)
	}
	// Subscribing the endpoint again starts a new subscription.
	again := e.subscribeConfirmed(topic, sub)
	if again == subArn {
		t.Fatalf("resubscribing reused the ARN %s", again)
	}

	// A pending subscription is simply removed: no confirmation is sent.
	out, err := e.a.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"),
		Endpoint: aws.String(sub.url() + "?second"), ReturnSubscriptionArn: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Unsubscribe(e.ctx, &awssns.UnsubscribeInput{SubscriptionArn: out.SubscriptionArn}); err != nil {
		t.Fatal(err)
	}
	if n := e.runOnce(); n != 0 {
		t.Fatalf("deliverer handled %d after unsubscribing a pending subscription, want 0", n)
	}
	changes, _ := e.store.Changes(e.ctx, warden.ChangeFilter{ResourceArn: subArn})
	var ops []string
	for _, c := range changes {
		ops = append(ops, c.Operation+"/"+c.Actor)
	}
	want := []string{"Subscribe/" + wardentest.KeyA, "ConfirmSubscription/SubscribeURL", "Unsubscribe/" + wardentest.KeyA,
		"ConfirmSubscription/SubscribeURL", "Unsubscribe/UnsubscribeURL"}
	if !reflect.DeepEqual(ops, want) {
		t.Fatalf("change log of the subscription %v, want %v", ops, want)
	}
}

// TestSNSRetrySameMessageID: a subscriber that fails twice then succeeds
// gets the message three times with one MessageId, along the policy's
// delays.
func TestSNSRetrySameMessageID(t *testing.T) {
	e := newSNSEnv(t)
	topic := e.createTopic("alerts")
	sub := newSubscriber(t)
	e.subscribeConfirmed(topic, sub)
	// SNS's own default: 3 retries, 20 s apart.
	if _, err := e.a.SetTopicAttributes(e.ctx, &awssns.SetTopicAttributesInput{TopicArn: aws.String(topic),
		AttributeName:  aws.String("DeliveryPolicy"),
		AttributeValue: aws.String(`{"http":{"defaultHealthyRetryPolicy":{"numRetries":3,"minDelayTarget":20,"maxDelayTarget":20}}}`)}); err != nil {
		t.Fatal(err)
	}
	sub.failNext.Store(2)
	pub, err := e.a.Publish(e.ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("retry me")})
	if err != nil {
		t.Fatal(err)
	}
	want := aws.ToString(pub.MessageId)
	var statuses []int
	for i := range 3 {
		if n := e.runOnce(); n != 1 {
			t.Fatalf("round %d: deliverer handled %d, want 1", i, n)
		}
		m := sub.next(t, time.Second)
		if got := m.Field("MessageId"); got != want {
			t.Fatalf("attempt %d MessageId %s, want %s", i+1, got, want)
		}
		statuses = append(statuses, m.Status)
		if i < 2 {
			if n := e.runOnce(); n != 0 {
				t.Fatalf("retry %d came before its delay", i+1)
			}
			e.clock.Advance(19 * time.Second)
			if n := e.runOnce(); n != 0 {
				t.Fatalf("retry %d came before its 20 s delay", i+1)
			}
			e.clock.Advance(time.Second)
		}
	}
	if !reflect.DeepEqual(statuses, []int{500, 500, 200}) {
		t.Fatalf("subscriber answered %v, want [500 500 200]", statuses)
	}
	sub.none(t, 50*time.Millisecond)
	if d, _ := e.store.SNSDeliveries(e.ctx, warden.SNSDeliveryFilter{}); len(d) != 0 {
		t.Fatalf("outbox holds %+v after the delivery, want nothing", d)
	}
}

// TestSNSDeliveryGivesUp: after the policy's last attempt the delivery is
// kept as failed; a 4xx answer is not retried, as SNS.
func TestSNSDeliveryGivesUp(t *testing.T) {
	e := newSNSEnv(t)
	topic := e.createTopic("alerts")
	down, gone := newSubscriber(t), newSubscriber(t)
	e.subscribeConfirmed(topic, down)
	e.subscribeConfirmed(topic, gone)
	if _, err := e.a.SetTopicAttributes(e.ctx, &awssns.SetTopicAttributesInput{TopicArn: aws.String(topic),
		AttributeName:  aws.String("DeliveryPolicy"),
		AttributeValue: aws.String(`{"http":{"defaultHealthyRetryPolicy":{"numRetries":2,"numNoDelayRetries":1,"minDelayTarget":1,"maxDelayTarget":1}}}`)}); err != nil {
		t.Fatal(err)
	}
	down.status.Store(503)
	gone.status.Store(410)
	if _, err := e.a.Publish(e.ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("doomed")}); err != nil {
		t.Fatal(err)
	}
	// Attempt 1 to both, the immediate retry to the 503 one, then a retry
	// after 1 s.
	if n := e.runOnce(); n != 3 {
		t.Fatalf("first round handled %d, want 3 (two attempts, one immediate retry)", n)
	}
	e.clock.Advance(time.Second)
	if n := e.runOnce(); n != 1 {
		t.Fatalf("second round handled %d, want the last retry", n)
	}
	e.clock.Advance(time.Hour)
	if n := e.runOnce(); n != 0 {
		t.Fatalf("handled %d after the policy was exhausted, want 0", n)
	}
	if got := len(down.got); got != 3 {
		t.Errorf("503 subscriber got %d attempts, want 3", got)
	}
	if got := len(gone.got); got != 1 {
		t.Errorf("410 subscriber got %d attempts, want 1", got)
	}
	failed, err := e.store.SNSDeliveries(e.ctx, warden.SNSDeliveryFilter{Status: warden.DeliveryFailed})
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 2 {
		t.Fatalf("failed deliveries %+v, want 2", failed)
	}
	for _, d := range failed {
		if !strings.Contains(d.LastError, "HTTP status 5xx") && !strings.Contains(d.LastError, "HTTP status 4xx") {
			t.Errorf("LastError %q", d.LastError)
		}
	}
	msgs, _ := e.store.RecentSNSMessages(e.ctx, scopeA, "alerts", 0, 1)
	if len(msgs) != 1 || msgs[0].Fanout != 2 || msgs[0].Failed != 2 || msgs[0].Pending != 0 {
		t.Fatalf("recent message %+v, want fanout 2, failed 2", msgs)
	}
}

// TestSNSRestartDelivers: a message published while no deliverer runs is
// delivered, with its MessageId, after the process restarts.
func TestSNSRestartDelivers(t *testing.T) {
	e := newSNSEnvWith(t, nil, sns.DeliveryOptions{Poll: 50 * time.Millisecond})
	topic := e.createTopic("alerts")
	sub := newSubscriber(t)
	sub.confirm = true
	e.deliverer.Start()
	if _, err := e.a.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"), Endpoint: aws.String(sub.url())}); err != nil {
		t.Fatal(err)
	}
	if m := sub.next(t, 5*time.Second); m.Type() != "SubscriptionConfirmation" {
		t.Fatalf("got %s", m.Type())
	}
	waitFor(t, 5*time.Second, "the subscription to be confirmed", func() bool {
		attrs, err := e.a.GetTopicAttributes(e.ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(topic)})
		return err == nil && attrs.Attributes["SubscriptionsConfirmed"] == "1"
	})
	e.deliverer.Stop()

	pub, err := e.a.Publish(e.ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("survives restarts")})
	if err != nil {
		t.Fatal(err)
	}
	sub.none(t, 200*time.Millisecond)
	e.restart()
	if d, _ := e.store.SNSDeliveries(e.ctx, warden.SNSDeliveryFilter{Status: warden.DeliveryPending}); len(d) != 1 {
		t.Fatalf("after restart the outbox holds %d pending rows, want 1", len(d))
	}
	e.deliverer.Start()
	m := sub.next(t, 5*time.Second)
	if m.Field("MessageId") != aws.ToString(pub.MessageId) || m.Field("Message") != "survives restarts" {
		t.Fatalf("after restart got %s, want MessageId %s", m.Body, aws.ToString(pub.MessageId))
	}
	// The certificate of the signature is served by the restarted server
	// (the subscriber fetched it from the new SigningCertURL).
	if !strings.HasPrefix(m.Field("SigningCertURL"), e.server.URL+"/") {
		t.Fatalf("SigningCertURL %s, want one of %s", m.Field("SigningCertURL"), e.server.URL)
	}
}

var waitFor = wardentest.WaitFor

// TestSNSSlowSubscriberDoesNotHoldUpOthers: with the background loop, a
// subscriber that never answers in time takes only its own slots; the fast
// one gets every message promptly and Publish stays fast.
func TestSNSSlowSubscriberDoesNotHoldUpOthers(t *testing.T) {
	e := newSNSEnvWith(t, nil, sns.DeliveryOptions{Timeout: time.Second, PerSubscription: 2, MaxInFlight: 4})
	topic := e.createTopic("alerts")
	slow, fast := newSubscriber(t), newSubscriber(t)
	slow.confirm, fast.confirm = true, true
	e.deliverer.Start()
	for _, s := range []*subscriber{slow, fast} {
		if _, err := e.a.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"), Endpoint: aws.String(s.url())}); err != nil {
			t.Fatal(err)
		}
		s.next(t, 5*time.Second)
	}
	waitFor(t, 5*time.Second, "both subscriptions to be confirmed", func() bool {
		attrs, err := e.a.GetTopicAttributes(e.ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(topic)})
		return err == nil && attrs.Attributes["SubscriptionsConfirmed"] == "2"
	})
	slow.delay.Store(int64(10 * time.Second)) // far beyond the 1 s timeout
	const n = 30
	start := time.Now()
	for i := range n {
		if _, err := e.a.Publish(e.ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("%d publishes took %s with a stuck subscriber", n, d)
	}
	seen := map[string]bool{}
	for range n {
		m := fast.next(t, 3*time.Second)
		seen[m.Field("Message")] = true
	}
	if len(seen) != n {
		t.Fatalf("fast subscriber got %d distinct messages, want %d", len(seen), n)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Fatalf("fast subscriber needed %s while the slow one hung", elapsed)
	}
}

func TestSNSIsolation(t *testing.T) {
	e := newSNSEnv(t)
	topicA := e.createTopic("shared-name")
	sub := newSubscriber(t)
	e.subscribeConfirmed(topicA, sub)
	before := e.snapshot(scopeA)

	west := e.client(wardentest.KeyA, wardentest.SecretA, "us-west-2")
	for name, c := range map[string]*awssns.Client{"account B": e.b, "account A in us-west-2": west} {
		_, err := c.GetTopicAttributes(e.ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(topicA)})
		wardentest.WantCode(t, err, "NotFound", 404)
		_, err = c.Publish(e.ctx, &awssns.PublishInput{TopicArn: aws.String(topicA), Message: aws.String("x")})
		wardentest.WantCode(t, err, "NotFound", 404)
		_, err = c.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topicA), Protocol: aws.String("http"), Endpoint: aws.String(sub.url())})
		wardentest.WantCode(t, err, "NotFound", 404)
		_, err = c.ListSubscriptionsByTopic(e.ctx, &awssns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topicA)})
		wardentest.WantCode(t, err, "NotFound", 404)
		_, err = c.SetTopicAttributes(e.ctx, &awssns.SetTopicAttributesInput{TopicArn: aws.String(topicA), AttributeName: aws.String("DisplayName"), AttributeValue: aws.String("x")})
		wardentest.WantCode(t, err, "NotFound", 404)
		_, err = c.DeleteTopic(e.ctx, &awssns.DeleteTopicInput{TopicArn: aws.String(topicA)})
		wardentest.WantCode(t, err, "NotFound", 404)
		list, err := c.ListTopics(e.ctx, &awssns.ListTopicsInput{})
		if err != nil || len(list.Topics) != 0 {
			t.Fatalf("%s ListTopics = %+v, %v; want none", name, list, err)
		}
		subs, err := c.ListSubscriptions(e.ctx, &awssns.ListSubscriptionsInput{})
		if err != nil || len(subs.Subscriptions) != 0 {
			t.Fatalf("%s ListSubscriptions = %+v, %v; want none", name, subs, err)
		}
	}
	if after := e.snapshot(scopeA); !reflect.DeepEqual(before, after) {
		t.Fatalf("other scopes changed account A: %+v -> %+v", before, after)
	}
	// The same name elsewhere is another topic.
	out, err := e.b.CreateTopic(e.ctx, &awssns.CreateTopicInput{Name: aws.String("shared-name")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.TopicArn); got != "arn:aws:sns:us-east-1:111122223333:shared-name" {
		t.Fatalf("account B's topic ARN %s", got)
	}
	if _, err := e.b.Publish(e.ctx, &awssns.PublishInput{TopicArn: out.TopicArn, Message: aws.String("for B only")}); err != nil {
		t.Fatal(err)
	}
	if n := e.runOnce(); n != 0 {
		t.Fatalf("B's publish reached %d of A's subscribers", n)
	}
}

func TestSNSBadInput(t *testing.T) {
	e := newSNSEnv(t)
	topic := e.createTopic("alerts")
	sub := newSubscriber(t)
	e.subscribeConfirmed(topic, sub)
	missing := "arn:aws:sns:us-east-1:123456789012:missing"
	big := strings.Repeat("a", 256*1024+1)
	s := func(v string) *string { return &v }
	sub1 := func(in awssns.SubscribeInput) error { _, err := e.a.Subscribe(e.ctx, &in); return err }
	pub := func(in awssns.PublishInput) error { _, err := e.a.Publish(e.ctx, &in); return err }
	cases := []struct {
		name   string
		call   func() error
		code   string
		status int
	}{
		{"publish to an unknown topic", func() error { return pub(awssns.PublishInput{TopicArn: s(missing), Message: s("m")}) }, "NotFound", 404},
		{"subscribe to an unknown topic", func() error {
			return sub1(awssns.SubscribeInput{TopicArn: s(missing), Protocol: s("http"), Endpoint: s(sub.url())})
		}, "NotFound", 404},
		{"attributes of an unknown topic", func() error {
			_, err := e.a.GetTopicAttributes(e.ctx, &awssns.GetTopicAttributesInput{TopicArn: s(missing)})
			return err
		}, "NotFound", 404},
		{"set attributes of an unknown topic", func() error {
			_, err := e.a.SetTopicAttributes(e.ctx, &awssns.SetTopicAttributesInput{TopicArn: s(missing), AttributeName: s("DisplayName"), AttributeValue: s("x")})
			return err
		}, "NotFound", 404},
		{"subscriptions of an unknown topic", func() error {
			_, err := e.a.ListSubscriptionsByTopic(e.ctx, &awssns.ListSubscriptionsByTopicInput{TopicArn: s(missing)})
			return err
		}, "NotFound", 404},
		{"confirm on an unknown topic", func() error {
			_, err := e.a.ConfirmSubscription(e.ctx, &awssns.ConfirmSubscriptionInput{TopicArn: s(missing), Token: s("abc")})
			return err
		}, "NotFound", 404},
		{"unsubscribe an unknown subscription", func() error {
			_, err := e.a.Unsubscribe(e.ctx, &awssns.UnsubscribeInput{SubscriptionArn: s(topic + ":4f1e4a8e-0000-4000-8000-000000000000")})
			return err
		}, "NotFound", 404},
		{"protocol email", func() error {
			return sub1(awssns.SubscribeInput{TopicArn: s(topic), Protocol: s("email"), Endpoint: s("a@example.com")})
		}, "InvalidParameter", 400},
		{"protocol sqs", func() error {
			return sub1(awssns.SubscribeInput{TopicArn: s(topic), Protocol: s("sqs"), Endpoint: s("arn:aws:sqs:us-east-1:123456789012:q")})
		}, "InvalidParameter", 400},
		{"protocol HTTP in capitals", func() error {
			return sub1(awssns.SubscribeInput{TopicArn: s(topic), Protocol: s("HTTP"), Endpoint: s(sub.url())})
		}, "InvalidParameter", 400},
		{"endpoint not a URL", func() error {
			return sub1(awssns.SubscribeInput{TopicArn: s(topic), Protocol: s("http"), Endpoint: s("not a url")})
		}, "InvalidParameter", 400},
		{"endpoint of another scheme", func() error {
			return sub1(awssns.SubscribeInput{TopicArn: s(topic), Protocol: s("http"), Endpoint: s("ftp://example.com/")})
		}, "InvalidParameter", 400},
		{"https protocol, http endpoint", func() error {
			return sub1(awssns.SubscribeInput{TopicArn: s(topic), Protocol: s("https"), Endpoint: s(sub.url())})
		}, "InvalidParameter", 400},
		{"endpoint without host", func() error {
			return sub1(awssns.SubscribeInput{TopicArn: s(topic), Protocol: s("http"), Endpoint: s("http:///path")})
		}, "InvalidParameter", 400},
		{"no endpoint", func() error { return sub1(awssns.SubscribeInput{TopicArn: s(topic), Protocol: s("http")}) }, "InvalidParameter", 400},
		{"unsupported subscription attribute", func() error {
			return sub1(awssns.SubscribeInput{TopicArn: s(topic), Protocol: s("http"), Endpoint: s(sub.url() + "/x"), Attributes: map[string]string{"FilterPolicy": "{}"}})
		}, "InvalidParameter", 400},
		{"message over 256 KiB", func() error { return pub(awssns.PublishInput{TopicArn: s(topic), Message: s(big)}) }, "InvalidParameter", 400},
		{"message and attributes over 256 KiB", func() error {
			return pub(awssns.PublishInput{TopicArn: s(topic), Message: s(big[:256*1024-4]), MessageAttributes: map[string]snstypes.MessageAttributeValue{
				"k": {DataType: s("String"), StringValue: s("four")}}})
		}, "InvalidParameter", 400},
		{"empty message", func() error { return pub(awssns.PublishInput{TopicArn: s(topic), Message: s("")}) }, "InvalidParameter", 400},
		{"subject with a line break", func() error { return pub(awssns.PublishInput{TopicArn: s(topic), Message: s("m"), Subject: s("a\nb")}) }, "InvalidParameter", 400},
		{"subject of 100 characters", func() error {
			return pub(awssns.PublishInput{TopicArn: s(topic), Message: s("m"), Subject: s(strings.Repeat("s", 100))})
		}, "InvalidParameter", 400},
		{"json structure without default", func() error {
			return pub(awssns.PublishInput{TopicArn: s(topic), Message: s(`{"http":"x"}`), MessageStructure: s("json")})
		}, "InvalidParameter", 400},
		{"message attribute without value", func() error {
			return pub(awssns.PublishInput{TopicArn: s(topic), Message: s("m"), MessageAttributes: map[string]snstypes.MessageAttributeValue{"k": {DataType: s("String")}}})
		}, "InvalidParameter", 400},
		{"FIFO parameters", func() error {
			return pub(awssns.PublishInput{TopicArn: s(topic), Message: s("m"), MessageGroupId: s("g")})
		}, "InvalidParameter", 400},
		{"SMS", func() error { return pub(awssns.PublishInput{PhoneNumber: s("+15555550100"), Message: s("m")}) }, "InvalidParameter", 400},
		{"malformed topic ARN", func() error {
			return pub(awssns.PublishInput{TopicArn: s("arn:aws:iot:us-east-1:123456789012:x"), Message: s("m")})
		}, "InvalidParameter", 400},
		{"topic name with a dot", func() error {
			_, err := e.a.CreateTopic(e.ctx, &awssns.CreateTopicInput{Name: s("a.b")})
			return err
		}, "InvalidParameter", 400},
		{"topic name of 257 characters", func() error {
			_, err := e.a.CreateTopic(e.ctx, &awssns.CreateTopicInput{Name: s(strings.Repeat("n", 257))})
			return err
		}, "InvalidParameter", 400},
		{"FIFO topic", func() error {
			_, err := e.a.CreateTopic(e.ctx, &awssns.CreateTopicInput{Name: s("q"), Attributes: map[string]string{"FifoTopic": "true"}})
			return err
		}, "InvalidParameter", 400},
		{"unknown topic attribute at create", func() error {
			_, err := e.a.CreateTopic(e.ctx, &awssns.CreateTopicInput{Name: s("q"), Attributes: map[string]string{"Colour": "blue"}})
			return err
		}, "InvalidParameter", 400},
		{"SignatureVersion 3", func() error {
			_, err := e.a.SetTopicAttributes(e.ctx, &awssns.SetTopicAttributesInput{TopicArn: s(topic), AttributeName: s("SignatureVersion"), AttributeValue: s("3")})
			return err
		}, "InvalidParameter", 400},
		{"delivery policy over an hour", func() error {
			_, err := e.a.SetTopicAttributes(e.ctx, &awssns.SetTopicAttributesInput{TopicArn: s(topic), AttributeName: s("DeliveryPolicy"),
				AttributeValue: s(`{"http":{"defaultHealthyRetryPolicy":{"numRetries":100,"minDelayTarget":3600,"maxDelayTarget":3600}}}`)})
			return err
		}, "InvalidParameter", 400},
		{"policy that is not JSON", func() error {
			_, err := e.a.SetTopicAttributes(e.ctx, &awssns.SetTopicAttributesInput{TopicArn: s(topic), AttributeName: s("Policy"), AttributeValue: s("{")})
			return err
		}, "InvalidParameter", 400},
		{"malformed subscription ARN", func() error {
			_, err := e.a.Unsubscribe(e.ctx, &awssns.UnsubscribeInput{SubscriptionArn: s("pending confirmation")})
			return err
		}, "InvalidParameter", 400},
		{"bad confirmation token", func() error {
			_, err := e.a.ConfirmSubscription(e.ctx, &awssns.ConfirmSubscriptionInput{TopicArn: s(topic), Token: s("nope")})
			return err
		}, "InvalidParameter", 400},
		{"bad NextToken", func() error {
			_, err := e.a.ListSubscriptionsByTopic(e.ctx, &awssns.ListSubscriptionsByTopicInput{TopicArn: s(topic), NextToken: s("x.y")})
			return err
		}, "InvalidParameter", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot(scopeA)
			wardentest.WantCode(t, tc.call(), tc.code, tc.status)
			if after := e.snapshot(scopeA); !reflect.DeepEqual(before, after) {
				t.Fatalf("a rejected request stored something: %+v -> %+v", before, after)
			}
		})
	}
	// Exactly 256 KiB is accepted and delivered whole.
	if err := pub(awssns.PublishInput{TopicArn: s(topic), Message: s(big[:256*1024])}); err != nil {
		t.Fatalf("a 256 KiB message: %v", err)
	}
	e.runOnce()
	if m := sub.next(t, time.Second); len(m.Field("Message")) != 256*1024 {
		t.Fatalf("delivered %d bytes, want %d", len(m.Field("Message")), 256*1024)
	}
}

// TestSNSProtocolErrors: the query protocol's own errors reach SDKs in SNS's
// XML format.
func TestSNSProtocolErrors(t *testing.T) {
	e := newSNSEnv(t)
	bad := e.client(wardentest.KeyA, "wrong-secret-wrong-secret-wrong-secret00", wardentest.Region)
	_, err := bad.ListTopics(e.ctx, &awssns.ListTopicsInput{})
	wardentest.WantCode(t, err, "SignatureDoesNotMatch", 403)
	unknown := e.client("AKIAUNKNOWNUNKNOWN00", wardentest.SecretA, wardentest.Region)
	_, err = unknown.ListTopics(e.ctx, &awssns.ListTopicsInput{})
	wardentest.WantCode(t, err, "InvalidClientTokenId", 403)

	// An action Warden does not serve.
	_, err = e.a.ListPlatformApplications(e.ctx, &awssns.ListPlatformApplicationsInput{})
	wardentest.WantCode(t, err, "InvalidAction", 400)

	// The certificate URL of another key is unknown; the real one is served
	// unsigned.
	if status, _ := get(t, e.server.URL+"/SimpleNotificationService-0000.pem"); status != 404 {
		t.Fatalf("unknown certificate answered %d, want 404", status)
	}
	if status, body := get(t, e.handler.SigningCertURL()); status != 200 || !strings.HasPrefix(body, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("SigningCertURL answered %d %.40s", status, body)
	}
	// The unsigned URLs are GETs only; anything else still needs a signature.
	resp, err := http.Post(e.server.URL+"/?Action=ConfirmSubscription", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("unsigned POST answered %d, want 403", resp.StatusCode)
	}
}

// TestSNSMessageFeatures: message attributes, MessageStructure json and raw
// message delivery.
func TestSNSMessageFeatures(t *testing.T) {
	e := newSNSEnv(t)
	topic := e.createTopic("alerts")
	enveloped, raw := newSubscriber(t), newSubscriber(t)
	e.subscribeConfirmed(topic, enveloped)
	if _, err := e.a.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"),
		Endpoint: aws.String(raw.url()), Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
		t.Fatal(err)
	}
	e.runOnce()
	confirmByURL(t, raw.next(t, time.Second).Field("SubscribeURL"))

	if _, err := e.a.Publish(e.ctx, &awssns.PublishInput{TopicArn: aws.String(topic),
		Message: aws.String(`{"default":"plain","http":"for http"}`), MessageStructure: aws.String("json"),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"severity": {DataType: aws.String("String"), StringValue: aws.String("HIGH")},
			"count":    {DataType: aws.String("Number"), StringValue: aws.String("3")},
			"blob":     {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2}},
		}}); err != nil {
		t.Fatal(err)
	}
	e.runOnce()
	m := enveloped.next(t, time.Second)
	if m.Field("Message") != "for http" {
		t.Fatalf("Message %q, want the http entry of the JSON structure", m.Field("Message"))
	}
	attrs, _ := json.Marshal(m.Env["MessageAttributes"])
	want := `{"blob":{"Type":"Binary","Value":"AAEC"},"count":{"Type":"Number","Value":"3"},"severity":{"Type":"String","Value":"HIGH"}}`
	if string(attrs) != want {
		t.Fatalf("MessageAttributes %s, want %s", attrs, want)
	}
	r := raw.next(t, time.Second)
	if string(r.Body) != "for http" || r.Header.Get("x-amz-sns-rawdelivery") != "true" || r.Header.Get("x-amz-sns-message-type") != "Notification" {
		t.Fatalf("raw delivery %q with headers %v", r.Body, r.Header)
	}
}

// TestSNSHTTPSDelivery: an https subscription is confirmed and gets its
// notifications over TLS.
func TestSNSHTTPSDelivery(t *testing.T) {
	sub := newTLSSubscriber(t)
	// Trusts the subscriber's test certificate.
	client := outbound.New(outbound.Options{TLSConfig: sub.srv.Client().Transport.(*http.Transport).TLSClientConfig})
	e := newSNSEnvWith(t, wardentest.NewClock(time.Now().UTC()), sns.DeliveryOptions{Client: client, Timeout: 2 * time.Second})
	topic := e.createTopic("secure")
	if _, err := e.a.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("https"),
		Endpoint: aws.String(sub.url())}); err != nil {
		t.Fatal(err)
	}
	e.runOnce()
	conf := sub.next(t, time.Second)
	if conf.Type() != "SubscriptionConfirmation" || !strings.HasPrefix(sub.url(), "https://") {
		t.Fatalf("got %s at %s", conf.Type(), sub.url())
	}
	subArn := confirmByURL(t, conf.Field("SubscribeURL"))
	if _, err := e.a.Publish(e.ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("over TLS")}); err != nil {
		t.Fatal(err)
	}
	e.runOnce()
	m := sub.next(t, time.Second)
	if m.Field("Message") != "over TLS" || m.Header.Get("x-amz-sns-subscription-arn") != subArn {
		t.Fatalf("got %s", m.Body)
	}
}
