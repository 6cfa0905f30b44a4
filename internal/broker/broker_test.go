package broker_test

import (
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
