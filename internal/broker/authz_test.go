package broker_test

import (
	"testing"
	"time"
)

// A device may publish to telemetry/* only; a denied publish closes a
// 3.1.1 connection and gets PUBACK 0x87 under MQTT 5.
func TestPublishDenied(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(policy(allow("iot:Connect", "*"), allow("iot:Subscribe", "*"), allow("iot:Receive", "*"),
		allow("iot:Publish", arn("topic", "telemetry/*"))))
	sub := e.mustConnect5(d, "watcher")
	sub.subscribe(t, "#", 1)

	c5 := e.mustConnect5(d, "pub5")
	if code, _ := c5.publish(t, "telemetry/a", 1, false, "ok"); code != 0 {
		t.Fatalf("allowed publish: PUBACK %#x", code)
	}
	if m := receive5(t, sub, 5*time.Second); m.Topic != "telemetry/a" {
		t.Fatalf("got %s", m.Topic)
	}
	if code, _ := c5.publish(t, "commands/a", 1, false, "no"); code != 0x87 {
		t.Fatalf("denied MQTT 5 publish: PUBACK %#x, want 0x87", code)
	}
	noMessage5(t, sub, "commands/a", 300*time.Millisecond)
	// The MQTT 5 connection stays: it can still publish what it may.
	if code, _ := c5.publish(t, "telemetry/b", 1, false, "still"); code != 0 {
		t.Fatalf("publish after a denial: PUBACK %#x", code)
	}

	for _, qos := range []byte{0, 1} {
		c3 := e.mustConnect3(d, "pub3")
		_ = c3.publish(t, "commands/a", qos, false, "no")
		select {
		case <-c3.lost:
		case <-time.After(5 * time.Second):
			t.Fatalf("QoS %d: denied 3.1.1 publish did not close the connection", qos)
		}
		e.events.wait(t, "Disconnect event with AUTH_ERROR", func(ev eventT) bool {
			return ev.Type == "Disconnect" && ev.ClientID == "pub3" && ev.DisconnectReason == "AUTH_ERROR"
		})
		e.events.reset()
	}
	noMessage5(t, sub, "commands/a", 200*time.Millisecond)
}

// iot:RetainPublish is needed for a retained publish.
func TestRetainPublishDenied(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(policy(allow("iot:*", "*"), deny("iot:RetainPublish", arn("topic", "state/locked"))))
	c5 := e.mustConnect5(d, "pub5")
	if code, _ := c5.publish(t, "state/open", 1, true, "kept"); code != 0 {
		t.Fatalf("allowed retained publish: %#x", code)
	}
	if code, _ := c5.publish(t, "state/locked", 1, true, "no"); code != 0x87 {
		t.Fatalf("denied retained publish: %#x, want 0x87", code)
	}
	// The retained message is sent to a later subscriber of its topic; the
	// denied one was not kept.
	sub := e.mustConnect3(d, "late")
	sub.subscribe(t, "state/open", 1)
	if m := receive3(t, sub, 5*time.Second); string(m.Payload()) != "kept" || !m.Retained() {
		t.Fatalf("got %q retained=%v", m.Payload(), m.Retained())
	}
	sub.subscribe(t, "state/locked", 1)
	noMessage3(t, sub, "state/locked", 300*time.Millisecond)
}

// A denied SUBSCRIBE filter gets 0x80 (3.1.1) or 0x87 (5); the others in
// the same packet are granted.
func TestSubscribeDenied(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(policy(allow("iot:Connect", "*"), allow("iot:Publish", "*"), allow("iot:Receive", "*"),
		allow("iot:Subscribe", arn("topicfilter", "open/*"))))
	c3 := e.mustConnect3(d, "s3")
	if code := c3.subscribe(t, "secret/#", 1); code != 0x80 {
		t.Fatalf("3.1.1 denied SUBACK %#x, want 0x80", code)
	}
	if code := c3.subscribe(t, "open/#", 1); code != 1 {
		t.Fatalf("3.1.1 allowed SUBACK %#x, want 1", code)
	}
	c5 := e.mustConnect5(d, "s5")
	if code := c5.subscribe(t, "secret/#", 1); code != 0x87 {
		t.Fatalf("MQTT 5 denied SUBACK %#x, want 0x87", code)
	}
	if code := c5.subscribe(t, "open/x", 0); code != 0 {
		t.Fatalf("MQTT 5 allowed SUBACK %#x, want 0", code)
	}
	pub := e.mustConnect3(d, "p")
	_ = pub.publish(t, "secret/x", 1, false, "hidden")
	_ = pub.publish(t, "open/x", 1, false, "shown")
	if m := receive3(t, c3, 5*time.Second); m.Topic() != "open/x" {
		t.Fatalf("3.1.1 got %s", m.Topic())
	}
	if m := receive5(t, c5, 5*time.Second); m.Topic != "open/x" {
		t.Fatalf("5 got %s", m.Topic)
	}
}

// A message goes only to subscribers allowed iot:Receive on its topic,
// even through a wildcard subscription.
func TestReceiveDenied(t *testing.T) {
	e := newEnv(t)
	open := e.newDevice(allowAll)
	limited := e.newDevice(policy(allow("iot:*", "*"), deny("iot:Receive", arn("topic", "a/secret/*"))))
	sub := e.mustConnect3(limited, "limited")
	if code := sub.subscribe(t, "a/#", 1); code != 1 {
		t.Fatalf("SUBACK %#x", code)
	}
	pub := e.mustConnect5(open, "pub")
	for _, topic := range []string{"a/secret/x", "a/public"} {
		if code, _ := pub.publish(t, topic, 1, false, topic); code != 0 {
			t.Fatalf("publish %s: %#x", topic, code)
		}
	}
	if m := receive3(t, sub, 5*time.Second); m.Topic() != "a/public" {
		t.Fatalf("first message on %s, want a/public (a/secret/x must not arrive)", m.Topic())
	}
	noMessage3(t, sub, "a/secret/x", 200*time.Millisecond)
}

// Connect is judged on the client id.
func TestConnectDeniedByPolicy(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(policy(allow("iot:Connect", arn("client", "good-*"))))
	e.mustConnect3(d, "good-1")
	if _, err := e.connect3(d, "bad-1"); err == nil || !isNotAuthorized3(err) {
		t.Fatalf("3.1.1: %v, want not authorized", err)
	}
	if _, ca, err := e.connect5(d, "bad-2"); err == nil || ca == nil || ca.ReasonCode != 0x87 {
		t.Fatalf("5: %+v %v, want CONNACK 0x87", ca, err)
	}
	e.events.wait(t, "Connect Failure event for bad-1", func(ev eventT) bool {
		return ev.Type == "Connect" && ev.Status == "Failure" && ev.ClientID == "bad-1" && ev.PrincipalID == d.id
	})
	// No policy at all: nothing is allowed.
	none := e.newDevice("")
	if _, err := e.connect3(none, "good-2"); err == nil {
		t.Fatal("a certificate without policies connected")
	}
}
