package broker

import (
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/warden-iot/warden"
)

// BenchmarkWarmPublishCheck is the per-publish authorization of a session
// whose decision is cached: mochi's ACL call for a publish, as a device
// publishing to one topic repeatedly makes it.
func BenchmarkWarmPublishCheck(b *testing.B) {
	doc, err := warden.ParsePolicyDocument(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["iot:Connect"],"Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:ClientId}"},
		{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/telemetry/${iot:ClientId}/*"},
		{"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/telemetry/*/secret"}]}`)
	if err != nil {
		b.Fatal(err)
	}
	scope := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	ss := &scopeServer{scope: scope, b: &Broker{now: time.Now}}
	h := &hook{ss: ss}
	s := &session{ss: ss, clientID: "dev-1", decisions: map[decisionKey]bool{},
		principal: iotPrincipal{Context: warden.IoTAuthzContext{Scope: scope, ClientID: "dev-1"},
			Policies: []warden.IoTPolicy{{Name: "p", Document: doc}}}}
	cl := &mqtt.Client{}
	cl.Net.Conn = &deviceConn{sess: s}
	topic := "telemetry/dev-1/temperature"
	if !h.OnACLCheck(cl, topic, true) {
		b.Fatal("publish denied")
	}
	if h.OnACLCheck(cl, "telemetry/dev-1/secret", true) {
		b.Fatal("denied topic allowed")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if !h.OnACLCheck(cl, topic, true) {
			b.Fatal("publish denied")
		}
	}
}

// BenchmarkColdPublishCheck is the same check with the cache dropped each
// time: the evaluator itself.
func BenchmarkColdPublishCheck(b *testing.B) {
	doc, err := warden.ParsePolicyDocument(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/telemetry/${iot:ClientId}/*"}]}`)
	if err != nil {
		b.Fatal(err)
	}
	scope := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	s := &session{ss: &scopeServer{scope: scope}, clientID: "dev-1", decisions: map[decisionKey]bool{},
		principal: iotPrincipal{Context: warden.IoTAuthzContext{Scope: scope, ClientID: "dev-1"},
			Policies: []warden.IoTPolicy{{Name: "p", Document: doc}}}}
	b.ReportAllocs()
	for b.Loop() {
		clear(s.decisions)
		if !s.allowed(warden.ActionIoTPublish, "telemetry/dev-1/t") {
			b.Fatal("denied")
		}
	}
}
