package audit

import (
	"strings"
	"testing"

	"github.com/warden-iot/warden"
)

var testScope = warden.Scope{Account: "123456789012", Region: "us-east-1"}

func parse(t *testing.T, doc string) *warden.PolicyDocument {
	t.Helper()
	d, err := warden.ParsePolicyDocument(doc)
	if err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	return d
}

const arn = "arn:aws:iot:us-east-1:123456789012:"

func TestPolicyOverlyPermissive(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // actions named in the reason; nil = compliant
	}{
		{"iot:* on *", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`,
			[]string{"iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive", "iot:UpdateThingShadow"}},
		{"Publish on *", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"*"}]}`,
			[]string{"iot:Publish"}},
		{"Publish on every topic", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"` + arn + `topic/*"}]}`,
			[]string{"iot:Publish", "iot:Receive"}},
		{"Connect with any client id, wildcard account", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/*"}]}`,
			[]string{"iot:Connect"}},
		{"NotResource leaving almost everything", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Subscribe","NotResource":"` + arn + `topicfilter/admin"}]}`,
			[]string{"iot:Subscribe"}},
		{"NotAction iot:Connect", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iot:Connect","Resource":"*"}]}`,
			[]string{"iot:Publish"}},
		{"Publish* on *", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Pub*","Resource":"*"}]}`,
			[]string{"iot:Publish"}},
		// Compliant ones.
		{"scoped by thing name", `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn + `client/${iot:Connection.Thing.ThingName}"},
			{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"` + arn + `topic/devices/${iot:Connection.Thing.ThingName}/*"},
			{"Effect":"Allow","Action":"iot:Subscribe","Resource":"` + arn + `topicfilter/devices/${iot:Connection.Thing.ThingName}/*"}]}`, nil},
		{"named topics only", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":["` + arn + `topic/telemetry","` + arn + `topic/status"]}]}`, nil},
		{"prefix", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"` + arn + `topic/fleet/a/*"}]}`, nil},
		{"control plane only", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:DescribeThing","iot:ListThings"],"Resource":"*"}]}`, nil},
		{"allow all, deny all data plane", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"},{"Effect":"Deny","Action":"iot:*","Resource":"*"}]}`, nil},
		{"blank policy", warden.BlankPolicyDocument, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, bad := PolicyOverlyPermissive(parse(t, tc.doc), testScope)
			if bad != (tc.want != nil) {
				t.Fatalf("got noncompliant=%v (%s), want %v", bad, v.Reason, tc.want != nil)
			}
			if !bad {
				return
			}
			if v.Code != ReasonBroadDataPlaneAccess || !strings.HasPrefix(v.Reason, "Policy allows broad access to IoT data plane actions: [") {
				t.Errorf("got %+v", v)
			}
			for _, a := range tc.want {
				if !strings.Contains(v.Reason, a+",") && !strings.Contains(v.Reason, a+"]") {
					t.Errorf("reason %q does not list %s", v.Reason, a)
				}
			}
			if tc.name == "NotAction iot:Connect" && strings.Contains(v.Reason, "iot:Connect") {
				t.Errorf("reason %q lists iot:Connect, which NotAction excludes", v.Reason)
			}
		})
	}
}

func TestPolicyMisconfigured(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // reason code, "" = compliant
	}{
		{"MQTT # in deny (AWS's example)", `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"iot:Subscribe","Resource":"` + arn + `topicfilter/building/*"},
			{"Effect":"Deny","Action":"iot:Subscribe","Resource":"` + arn + `topicfilter/building/control_room/#"},
			{"Effect":"Allow","Action":"iot:Receive","Resource":"` + arn + `topic/building/*"}]}`, ReasonMQTTWildcardsInDeny},
		{"MQTT + in deny of a topic", `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"iot:Publish","Resource":"` + arn + `topic/a/*"},
			{"Effect":"Deny","Action":"iot:Publish","Resource":"` + arn + `topic/a/+/secret"}]}`, ReasonMQTTWildcardsInDeny},
		{"deny of a literal filter bypassed by a/#", `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"iot:Subscribe","Resource":"` + arn + `topicfilter/building/*"},
			{"Effect":"Deny","Action":"iot:Subscribe","Resource":"` + arn + `topicfilter/building/control_room"},
			{"Effect":"Allow","Action":"iot:Receive","Resource":"` + arn + `topic/building/*"}]}`, ReasonDenyBypassedByWildcard},
		{"deny bypassed by a single + level", `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"iot:Subscribe","Resource":"` + arn + `topicfilter/site/+/alarms"},
			{"Effect":"Deny","Action":"iot:Subscribe","Resource":"` + arn + `topicfilter/site/hq/alarms"},
			{"Effect":"Allow","Action":"iot:Receive","Resource":"*"}]}`, ReasonDenyBypassedByWildcard},
		// Compliant ones.
		{"deny with policy wildcard", `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"iot:Subscribe","Resource":"` + arn + `topicfilter/building/*"},
			{"Effect":"Deny","Action":"iot:Subscribe","Resource":"` + arn + `topicfilter/building/control_room*"},
			{"Effect":"Allow","Action":"iot:Receive","Resource":"` + arn + `topic/building/*"}]}`, ""},
		{"denied literal filter but its messages cannot be received", `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"iot:Subscribe","Resource":"` + arn + `topicfilter/building/*"},
			{"Effect":"Deny","Action":"iot:Subscribe","Resource":"` + arn + `topicfilter/building/control_room"},
			{"Effect":"Allow","Action":"iot:Receive","Resource":"` + arn + `topic/building/*"},
			{"Effect":"Deny","Action":"iot:Receive","Resource":"` + arn + `topic/building/control_room"}]}`, ""},
		{"denied literal filter, no wildcard subscriptions allowed", `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"iot:Subscribe","Resource":"` + arn + `topicfilter/building/lobby"},
			{"Effect":"Deny","Action":"iot:Subscribe","Resource":"` + arn + `topicfilter/building/control_room"},
			{"Effect":"Allow","Action":"iot:Receive","Resource":"` + arn + `topic/building/*"}]}`, ""},
		{"MQTT wildcards only in an Allow", `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"iot:Subscribe","Resource":"` + arn + `topicfilter/a/#"}]}`, ""},
		{"blank policy", warden.BlankPolicyDocument, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, bad := PolicyMisconfigured(parse(t, tc.doc), testScope)
			if got := map[bool]string{true: v.Code}[bad]; got != tc.want {
				t.Fatalf("got %q (%s), want %q", got, v.Reason, tc.want)
			}
			if bad && !strings.Contains(v.Reason, "statement ") {
				t.Errorf("reason %q does not say which statement", v.Reason)
			}
		})
	}
}
