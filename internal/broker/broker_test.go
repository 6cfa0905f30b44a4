package broker_test

import (
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestConnectPublishReceive(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(allowAll)
	sub3 := e.mustConnect3(d, "sub3")
	sub3.subscribe(t, "room/+/temp", 1)
	sub5 := e.mustConnect5(d, "sub5")
	if code := sub5.subscribe(t, "room/#", 1); code != 1 {
		t.Fatalf("SUBACK %#x, want granted QoS 1", code)
	}
	pub := e.mustConnect3(d, "pub3")
	if err := pub.publish(t, "room/1/temp", 1, false, "21.5"); err != nil {
		t.Fatal(err)
	}
	if m := receive3(t, sub3, 5*time.Second); string(m.Payload()) != "21.5" || m.Topic() != "room/1/temp" {
		t.Fatalf("3.1.1 subscriber got %q on %s", m.Payload(), m.Topic())
	}
	if m := receive5(t, sub5, 5*time.Second); string(m.Payload) != "21.5" {
		t.Fatalf("5 subscriber got %q", m.Payload)
	}
	pub5 := e.mustConnect5(d, "pub5")
	if code, err := pub5.publish(t, "room/2/temp", 1, false, "19"); err != nil || code != 0 {
		t.Fatalf("MQTT 5 publish: reason %#x, err %v", code, err)
	}
	if m := receive3(t, sub3, 5*time.Second); string(m.Payload()) != "19" {
		t.Fatalf("3.1.1 subscriber got %q from the MQTT 5 publisher", m.Payload())
	}
}

func TestConnectRefusedByCertificateStatus(t *testing.T) {
	e := newEnv(t)
	for _, status := range []types.CertificateStatus{types.CertificateStatusInactive, types.CertificateStatusRevoked} {
		t.Run(string(status), func(t *testing.T) {
			d := e.newDevice(allowAll)
			e.setStatus(d, status)
			if _, err := e.connect3(d, "c3-"+string(status)); err == nil {
				t.Fatal("3.1.1 connect succeeded")
			} else if !isNotAuthorized3(err) {
				t.Fatalf("3.1.1 connect: %v, want not authorized", err)
			}
			_, ca, err := e.connect5(d, "c5-"+string(status))
			if err == nil {
				t.Fatal("MQTT 5 connect succeeded")
			}
			if ca == nil || ca.ReasonCode != 0x87 {
				t.Fatalf("MQTT 5 CONNACK %+v (%v), want 0x87", ca, err)
			}
		})
	}
}

// Every data-plane event reaches the observers, in the device's scope.
func TestObserversSeeEvents(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(allowAll)
	sub := e.mustConnect3(d, "sub")
	sub.subscribe(t, "obs/#", 1)
	pub := e.mustConnect5(d, "pub")
	if code, _ := pub.publish(t, "obs/1", 1, false, "abc"); code != 0 {
		t.Fatalf("%#x", code)
	}
	receive3(t, sub, 5*time.Second)
	for _, want := range []struct{ typ, client string }{{"Connect", "sub"}, {"Subscribe", "sub"}, {"Connect", "pub"},
		{"Publish-In", "pub"}, {"Publish-Out", "sub"}} {
		ev := e.events.wait(t, want.typ+" of "+want.client, func(ev eventT) bool {
			return ev.Type == want.typ && ev.ClientID == want.client && ev.Status == "Success"
		})
		if ev.Scope != scope || ev.PrincipalID != d.id || ev.SessionID == "" || ev.SourceIP != "127.0.0.1" || ev.Protocol != "MQTT" {
			t.Fatalf("%s event %+v", want.typ, ev)
		}
		if (want.typ == "Publish-In" || want.typ == "Publish-Out") && (ev.Topic != "obs/1" || ev.PayloadBytes != 3) {
			t.Fatalf("%s event %+v", want.typ, ev)
		}
	}
	sub.Disconnect(100)
	e.events.wait(t, "Disconnect of sub", func(ev eventT) bool {
		return ev.Type == "Disconnect" && ev.ClientID == "sub" && ev.DisconnectReason == "CLIENT_INITIATED_DISCONNECT"
	})
}

// MQTT 3.1 (protocol level 3) is refused: AWS speaks 3.1.1 and 5.
func TestMQTT31Refused(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(allowAll)
	conn := dial(t, e, d)
	connect := []byte{0x10, 0x14, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x02, 0, 60, 0, 6, 'o', 'l', 'd', 'c', 'l', 'i'}
	if _, err := conn.Write(connect); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn, ack); err != nil {
		t.Fatal(err)
	}
	if ack[0] != 0x20 || ack[3] != 1 {
		t.Fatalf("CONNACK % x, want return code 1 (unacceptable protocol version)", ack)
	}
}
