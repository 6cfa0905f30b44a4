package broker_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	paho5packets "github.com/eclipse/paho.golang/packets"
	paho5 "github.com/eclipse/paho.golang/paho"
)

// Keep-alive below 30 s is raised to 30 (MQTT 5 CONNACK says so), 0 or
// above 1200 become 1200.
func TestKeepAliveClamped(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(allowAll)
	for _, tc := range []struct{ asked, want uint16 }{{5, 30}, {0, 1200}, {1500, 1200}} {
		conn := dial(t, e, d)
		c := paho5.NewClient(paho5.ClientConfig{Conn: paho5packets.NewThreadSafeConn(conn)})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ca, err := c.Connect(ctx, &paho5.Connect{ClientID: "ka", KeepAlive: tc.asked, CleanStart: true})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if ca.Properties == nil || ca.Properties.ServerKeepAlive == nil || *ca.Properties.ServerKeepAlive != tc.want {
			t.Fatalf("keep-alive %d: CONNACK server keep-alive %+v, want %d", tc.asked, ca.Properties, tc.want)
		}
		_ = c.Disconnect(&paho5.Disconnect{})
	}
}

// Topics longer than 256 bytes or deeper than 7 slashes close the
// connection (CLIENT_ERROR); so do more than 8 filters in one SUBSCRIBE.
func TestTopicAndSubscribeLimits(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(allowAll)
	for name, topic := range map[string]string{"long": strings.Repeat("a", 257), "deep": "a/b/c/d/e/f/g/h/i"} {
		c := e.mustConnect5(d, "lim-"+name)
		_, _ = c.publish(t, topic, 0, false, "x")
		c.wantDisconnect(t, 0x90, name+" topic")
	}
	ok := e.mustConnect5(d, "lim-ok")
	if code, _ := ok.publish(t, "$aws/rules/myrule/a/b/c/d/e/f/g", 0, false, "x"); code != 0 {
		t.Fatalf("rule topic with 7 counted slashes refused: %#x", code)
	}
	c := e.mustConnect5(d, "lim-subs")
	var subs []paho5.SubscribeOptions
	for i := range 9 {
		subs = append(subs, paho5.SubscribeOptions{Topic: "t/" + string(rune('a'+i))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { _, _ = c.Subscribe(ctx, &paho5.Subscribe{Subscriptions: subs}) }() // no SUBACK comes
	select {
	case <-c.disconnected:
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("9 filters in one SUBSCRIBE did not close the connection")
	}
	e.events.wait(t, "CLIENT_ERROR disconnect", func(ev eventT) bool {
		return ev.Type == "Disconnect" && ev.ClientID == "lim-subs" && ev.DisconnectReason == "CLIENT_ERROR"
	})
}

// No more than 50 subscriptions per connection.
func TestSubscriptionsPerConnection(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(allowAll)
	c := e.mustConnect3(d, "many")
	for i := range 50 {
		c.subscribe(t, "s/"+strings.Repeat("x", i+1), 0)
	}
	_ = c.Subscribe("s/one-too-many", 0, nil).WaitTimeout(2 * time.Second)
	select {
	case <-c.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("a 51st subscription did not close the connection")
	}
}

// A packet over 128 KB closes the connection; QoS 2 is not supported.
func TestPacketSizeAndQoS2(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(allowAll)
	big := e.mustConnect3(d, "big")
	_ = big.publish(t, "x", 0, false, strings.Repeat("p", 129*1024))
	select {
	case <-big.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("a 129 KB publish did not close the connection")
	}
	q2 := e.mustConnect3(d, "q2")
	_ = q2.publish(t, "x", 2, false, "two")
	select {
	case <-q2.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("a QoS 2 publish did not close the connection")
	}
	// $aws/events is subscribe-only.
	ev := e.mustConnect5(d, "ev")
	if code, err := ev.publish(t, "$aws/events/presence/connected/x", 1, false, "{}"); code != 0x87 {
		t.Fatalf("publish to $aws/events: %#x (%v), want 0x87", code, err)
	}
}

// Lifecycle events arrive on $aws/events/... in AWS's JSON shape.
func TestLifecycleEvents(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(allowAll)
	watcher := e.mustConnect3(d, "watcher")
	watcher.subscribe(t, "$aws/events/presence/+/dev-1", 1)
	watcher.subscribe(t, "$aws/events/subscriptions/+/dev-1", 1)

	dev := e.mustConnect3(d, "dev-1")
	dev.subscribe(t, "cmd/dev-1", 1)
	dev.Disconnect(100)

	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	var connected map[string]any
	for _, want := range []string{"$aws/events/presence/connected/dev-1", "$aws/events/subscriptions/subscribed/dev-1",
		"$aws/events/presence/disconnected/dev-1"} {
		m := receive3(t, watcher, 5*time.Second)
		if m.Topic() != want {
			t.Fatalf("event on %s, want %s", m.Topic(), want)
		}
		var body map[string]any
		if err := json.Unmarshal(m.Payload(), &body); err != nil {
			t.Fatal(err)
		}
		if body["clientId"] != "dev-1" || body["principalIdentifier"] != d.id || !uuid.MatchString(body["sessionIdentifier"].(string)) {
			t.Fatalf("%s: %s", want, m.Payload())
		}
		ts, _ := body["timestamp"].(float64)
		if diff := time.Since(time.UnixMilli(int64(ts))); diff < 0 || diff > time.Minute {
			t.Fatalf("%s: timestamp %v is not epoch ms of now", want, body["timestamp"])
		}
		switch body["eventType"] {
		case "connected":
			connected = body
			if body["ipAddress"] != "127.0.0.1" || body["versionNumber"] == nil {
				t.Fatalf("connected: %s", m.Payload())
			}
		case "subscribed":
			if topics, _ := body["topics"].([]any); len(topics) != 1 || topics[0] != "cmd/dev-1" {
				t.Fatalf("subscribed: %s", m.Payload())
			}
		case "disconnected":
			if body["disconnectReason"] != "CLIENT_INITIATED_DISCONNECT" || body["clientInitiatedDisconnect"] != true ||
				body["sessionIdentifier"] != connected["sessionIdentifier"] || body["versionNumber"] != connected["versionNumber"] {
				t.Fatalf("disconnected: %s (connected: %v)", m.Payload(), connected)
			}
		default:
			t.Fatalf("eventType %v", body["eventType"])
		}
	}
	// Receiving events needs iot:Receive like any topic.
	deaf := e.newDevice(policy(allow("iot:*", "*"), deny("iot:Receive", arn("topic", "$aws/events/*"))))
	w2 := e.mustConnect3(deaf, "deaf")
	w2.subscribe(t, "$aws/events/presence/connected/+", 1)
	e.mustConnect3(d, "dev-2")
	noMessage3(t, w2, "$aws/events/presence/connected/dev-2", 300*time.Millisecond)
}
