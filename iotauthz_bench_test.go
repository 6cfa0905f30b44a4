package warden

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"
)

// iotBenchPolicies is a typical device policy set: a certificate policy
// with the variables AWS's examples use, a thing-group policy and a
// quarantine-style deny that does not apply.
func iotBenchPolicies(b testing.TB) []IoTPolicy {
	return iotTestPolicies(b,
		`{"Version":"2012-10-17","Statement":[
		  {"Effect":"Allow","Action":"iot:Connect","Resource":"`+iotTestARN+`client/${iot:Connection.Thing.ThingName}",
		   "Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}},
		  {"Effect":"Allow","Action":"iot:Publish","Resource":["`+iotTestARN+`topic/dt/${iot:ClientId}/*","`+iotTestARN+`topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"]},
		  {"Effect":"Allow","Action":"iot:Subscribe","Resource":"`+iotTestARN+`topicfilter/cmd/${iot:ClientId}/*"},
		  {"Effect":"Allow","Action":"iot:Receive","Resource":"`+iotTestARN+`topic/cmd/${iot:ClientId}/*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"`+iotTestARN+`topic/fleet/*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"`+iotTestARN+`topic/quarantine/*"}]}`,
	)
}

// BenchmarkAuthorizeIoT is the broker's uncached path, one decision per
// publish:
//
//	go test -run '^$' -bench AuthorizeIoT -benchmem .
func BenchmarkAuthorizeIoT(b *testing.B) {
	pols := iotBenchPolicies(b)
	c := &IoTAuthzContext{ClientID: "dev-1", CertificateID: "abc", Thing: &Thing{Name: "dev-1"}, ThingAttached: true,
		SourceIP: netip.MustParseAddr("10.0.0.1")}
	cases := []struct{ name, action, resource string }{
		{"publish-variable-allowed", ActionIoTPublish, iotTestARN + "topic/dt/dev-1/temp"},
		{"publish-literal-allowed", ActionIoTPublish, iotTestARN + "topic/fleet/news"},
		{"publish-denied", ActionIoTPublish, iotTestARN + "topic/quarantine/x"},
		{"publish-implicit", ActionIoTPublish, iotTestARN + "topic/other/x"},
		{"connect-condition", ActionIoTConnect, iotTestARN + "client/dev-1"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				AuthorizeIoT(pols, tc.action, tc.resource, c)
			}
		})
	}
}

// FuzzAuthorizeIoT evaluates random documents (or, when one does not parse,
// a template with the input as its resource and condition value) against
// random resources and client ids: no panic, consistent lists, and no
// input taking more than a second.
func FuzzAuthorizeIoT(f *testing.F) {
	for _, seed := range [][3]string{
		{allow("iot:Publish", "topic/${iot:ClientId}/*"), iotTestARN + "topic/c/x", "c"},
		{`arn:aws:iot:*:*:topic/${iot:Connection.Thing.Attributes[a]}/$(*)*?`, iotTestARN + "topic/v/*xy", "c"},
		{`${iot:Certificate.Subject.CommonName.List}${`, "x", "*"},
		{`*` + `?*?*?*?*?*?*?*?*?*?*?*?*?*` + `b`, "arn:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "a"},
		{allowIf("iot:Connect", "*", `{"ForAllValues:StringLike":{"iot:ConnectAttributes":"${iot:ClientId}*"},"Null":{"k":"true"}}`), iotTestARN + "client/c", "c"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	cert := iotTestCert(f)
	f.Fuzz(func(t *testing.T, doc, resource, clientID string) {
		start := time.Now()
		parsed, err := ParsePolicyDocument(doc)
		if err != nil {
			v, _ := json.Marshal(doc)
			parsed, err = ParsePolicyDocument(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":["arn:` + string(v[1:len(v)-1]) + `"],
				"Condition":{"StringLike":{"iot:ClientId":` + string(v) + `},"ForAnyValue:StringEquals":{"iot:Certificate.AvailableKeys":` + string(v) + `}}},
				{"Effect":"Deny","Action":"iot:Receive","NotResource":"arn:` + string(v[1:len(v)-1]) + `"}]}`)
			if err != nil {
				return
			}
		}
		pols := []IoTPolicy{{Name: "a", Document: parsed}, {Name: "b", Document: parsed}}
		c := &IoTAuthzContext{ClientID: clientID, CertificateID: "id", Certificate: cert,
			Thing: &Thing{Name: clientID, TypeName: clientID, Attributes: map[string]string{"a": clientID}}, ThingAttached: true,
			SourceIP: netip.MustParseAddr("192.0.2.1"), ConnectAttributes: []string{"LastWill"}, LastWillTopic: resource}
		for _, action := range []string{ActionIoTConnect, ActionIoTPublish, ActionIoTReceive, ActionIoTSubscribe} {
			d := AuthorizeIoT(pols, action, resource, c)
			if n := len(d.Allowed) + len(d.ExplicitDeny) + len(d.ImplicitDeny); n != len(pols) {
				t.Fatalf("%d policies in the lists, want %d: %+v", n, len(pols), d)
			}
			want := DecisionImplicitDeny
			if len(d.ExplicitDeny) > 0 {
				want = DecisionExplicitDeny
			} else if len(d.Allowed) > 0 {
				want = DecisionAllowed
			}
			if d.Decision != want {
				t.Fatalf("decision %s, lists say %s: %+v", d.Decision, want, d)
			}
		}
		if el := time.Since(start); el > time.Second {
			t.Fatalf("took %v", el)
		}
	})
}

// TestAuthorizeIoTAllocations guards the uncached path's allocations: the
// one array of policy names, and one string per expanded variable entry.
func TestAuthorizeIoTAllocations(t *testing.T) {
	if raceSlowdown > 1 {
		t.Skip("the race detector changes allocation counts")
	}
	pols := iotBenchPolicies(t)
	c := &IoTAuthzContext{ClientID: "dev-1", CertificateID: "abc", Thing: &Thing{Name: "dev-1"}, ThingAttached: true}
	for _, tc := range []struct {
		resource string
		max      float64
	}{
		{iotTestARN + "topic/fleet/news", 2}, // one $aws entry shares the prefix and is expanded
		{iotTestARN + "topic/dt/dev-1/t", 2},
		{iotTestARN + "client/dev-1", 1},
	} {
		n := testing.AllocsPerRun(200, func() { AuthorizeIoT(pols, ActionIoTPublish, tc.resource, c) })
		if n > tc.max {
			t.Errorf("%s: %.0f allocations per decision, want at most %.0f", tc.resource, n, tc.max)
		}
	}
}
