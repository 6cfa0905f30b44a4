package broker_test

import (
	"encoding/json"
	"testing"
	"time"

	paho3 "github.com/eclipse/paho.mqtt.golang"
)

// A persistent 3.1.1 session (cleanSession=0) keeps its subscription and
// the QoS 1 messages published while it was away.
func TestPersistentSession(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(allowAll)
	msgs := make(chan paho3.Message, 10)
	connect := func() paho3.Client {
		o := paho3.NewClientOptions().AddBroker("ssl://" + e.broker.Addr()).SetClientID("keeper").
			SetTLSConfig(e.tlsConfig(d)).SetProtocolVersion(4).SetAutoReconnect(false).SetCleanSession(false).
			SetDefaultPublishHandler(func(_ paho3.Client, m paho3.Message) { msgs <- m })
		c := paho3.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		return c
	}
	c := connect()
	if tok := c.Subscribe("inbox/keeper", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	c.Disconnect(100)
	pub := e.mustConnect3(d, "sender")
	if err := pub.publish(t, "inbox/keeper", 1, false, "while away"); err != nil {
		t.Fatal(err)
	}
	c = connect()
	defer c.Disconnect(0)
	select {
	case m := <-msgs:
		if string(m.Payload()) != "while away" {
			t.Fatalf("got %q", m.Payload())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the message published while the session was away was not delivered on reconnect")
	}
}

// A refused CONNECT publishes connect_failed.
func TestConnectFailedEvent(t *testing.T) {
	e := newEnv(t)
	watcherDevice := e.newDevice(allowAll)
	watcher := e.mustConnect3(watcherDevice, "watcher")
	watcher.subscribe(t, "$aws/events/presence/connect_failed/+", 1)
	d := e.newDevice(policy(allow("iot:Connect", arn("client", "only-this"))))
	if _, err := e.connect3(d, "not-this"); err == nil {
		t.Fatal("connected")
	}
	m := receive3(t, watcher, 5*time.Second)
	var body map[string]any
	if err := json.Unmarshal(m.Payload(), &body); err != nil {
		t.Fatal(err)
	}
	if m.Topic() != "$aws/events/presence/connect_failed/not-this" || body["eventType"] != "connect_failed" ||
		body["connectFailureReason"] != "AUTHORIZATION_FAILED" || body["principalIdentifier"] != d.id || body["clientId"] != "not-this" {
		t.Fatalf("%s: %s", m.Topic(), m.Payload())
	}
}
