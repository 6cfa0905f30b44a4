package audit

import (
	"strings"
	"testing"
	"time"

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

// TestPolicyMisconfiguredWildcardCost is the attack of issue 14 #6: a
// policy whose allowed topic filter is a star followed by hundreds of ?,
// beside a Deny of a filter of hundreds of levels, made each of the check's
// ~1,400 covering filters cost a quadratic wildcard match (the issue measured
// 5.6 s for 20 such policies). Now such policies cost about what policies of
// the same size and shape without the ? run cost: within 3× (before the fix
// the ratio here was 7, after it 1.5).
func TestPolicyMisconfiguredWildcardCost(t *testing.T) {
	const short = "arn:aws:iot:*:*:"
	denied := short + "topicfilter/" + strings.Repeat("a/", 680)
	doc := func(allowed string) *warden.PolicyDocument {
		return parse(t, `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"iot:Subscribe","Resource":"`+allowed+`"},
			{"Effect":"Deny","Action":"iot:Subscribe","Resource":"`+denied+`"}]}`)
	}
	hostile := doc(short + "topicfilter/*" + strings.Repeat("?", 440) + "z")
	benign := doc(short + "topicfilter/" + strings.Repeat("b", 442))
	run := func(d *warden.PolicyDocument) time.Duration {
		start := time.Now()
		for range 20 {
			if v, bad := PolicyMisconfigured(d, testScope); bad {
				t.Fatalf("unexpected finding: %s", v.Reason)
			}
		}
		return time.Since(start)
	}
	// The fastest of three rounds of each, interleaved, so that a pause of
	// the machine does not decide the outcome.
	h, b := time.Duration(1<<62), time.Duration(1<<62)
	for range 3 {
		b = min(b, run(benign))
		h = min(h, run(hostile))
	}
	t.Logf("20 policies: hostile %v, benign %v", h, b)
	if limit := 3*raceSlowdown*b + 50*time.Millisecond; h > limit {
		t.Fatalf("20 hostile policies took %v, benign ones %v: want at most %v (3× benign + 50 ms, 12× under the race detector)", h, b, limit)
	}
}
