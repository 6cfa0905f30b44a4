package warden

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/warden-iot/warden/internal/x509test"
)

const iotTestARN = "arn:aws:iot:us-east-1:123456789012:"

// iotTestCert makes a certificate with several subject attributes, subject
// and issuer alternative names, and serial 123456789012345678901234567890.
func iotTestCert(t testing.TB) *x509.Certificate {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	dirName, err := asn1.Marshal(pkix.Name{CommonName: "Dir CA", Organization: []string{"Acme"}}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	issuerAlt, err := asn1.Marshal([]asn1.RawValue{
		{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("issuer.example.com")},
		{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: []byte("ca@example.com")},
		{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: dirName},
	})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("urn:device:42")
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName: "device-42", Organization: []string{"Acme", "Acme Labs"}, OrganizationalUnit: []string{"Sensors", "Edge"},
			Country: []string{"DE"}, Province: []string{"Berlin"}, SerialNumber: "SN42",
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 12}, Value: "Thermometer"}},
		},
		Issuer:          pkix.Name{CommonName: "Acme CA"},
		NotBefore:       time.Now().Add(-time.Hour),
		NotAfter:        time.Now().Add(time.Hour),
		DNSNames:        []string{"device-42.example.com", "alt.example.com"},
		EmailAddresses:  []string{"ops@example.com"},
		IPAddresses:     []net.IP{net.ParseIP("192.0.2.7")},
		URIs:            []*url.URL{u},
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 18}, Value: issuerAlt}},
	}
	_, caKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Acme CA"}, NotBefore: tmpl.NotBefore, NotAfter: tmpl.NotAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	return x509test.Sign(t, tmpl, ca, pub, caKey)
}

func iotTestPolicies(t testing.TB, docs ...string) []IoTPolicy {
	t.Helper()
	var out []IoTPolicy
	for i, d := range docs {
		doc, err := ParsePolicyDocument(d)
		if err != nil {
			t.Fatalf("policy %d: %v\n%s", i, err, d)
		}
		out = append(out, IoTPolicy{Name: "p" + string(rune('0'+i)), Document: doc})
	}
	return out
}

// iotDoc is a one-statement policy document.
func iotDoc(effect, actionKey, action, resourceKey, resource, condition string) string {
	s := `{"Version":"2012-10-17","Statement":[{"Effect":"` + effect + `","` + actionKey + `":"` + action + `","` + resourceKey + `":"` + resource + `"`
	if condition != "" {
		s += `,"Condition":` + condition
	}
	return s + `}]}`
}

func allow(action, resource string) string {
	return iotDoc("Allow", "Action", action, "Resource", iotTestARN+resource, "")
}

func allowIf(action, resource, condition string) string {
	return iotDoc("Allow", "Action", action, "Resource", iotTestARN+resource, condition)
}

func TestAuthorizeIoT(t *testing.T) {
	cert := iotTestCert(t)
	thing := &Thing{Name: "thing-1", TypeName: "sensor", Attributes: map[string]string{"room": "r1", "floor": "3", "weird": "a+b"}}
	base := IoTAuthzContext{
		ClientID: "thing-1", CertificateID: "abc123", Certificate: cert, Thing: thing, ThingAttached: true,
		SourceIP: netip.MustParseAddr("10.1.2.3"),
	}
	with := func(f func(c *IoTAuthzContext)) *IoTAuthzContext {
		c := base
		f(&c)
		return &c
	}
	noThing := with(func(c *IoTAuthzContext) { c.Thing, c.ThingAttached = nil, false })
	connect := with(func(c *IoTAuthzContext) {
		c.ConnectAttributes = []string{"PersistentConnect", "LastWill"}
		c.LastWillTopic = iotTestARN + "topic/will/thing-1"
	})

	tests := []struct {
		name     string
		docs     []string
		action   string
		resource string // after the ARN prefix
		ctx      *IoTAuthzContext
		want     string
	}{
		{"no policy is an implicit deny", nil, ActionIoTPublish, "topic/a", &base, DecisionImplicitDeny},
		{"allow exact topic", []string{allow("iot:Publish", "topic/a")}, ActionIoTPublish, "topic/a", &base, DecisionAllowed},
		{"allow is for that topic only", []string{allow("iot:Publish", "topic/a")}, ActionIoTPublish, "topic/ab", &base, DecisionImplicitDeny},
		{"allow is for that action only", []string{allow("iot:Publish", "topic/a")}, ActionIoTReceive, "topic/a", &base, DecisionImplicitDeny},
		{"action names ignore case", []string{allow("IOT:publish", "topic/a")}, ActionIoTPublish, "topic/a", &base, DecisionAllowed},
		{"action wildcard", []string{allow("iot:*", "*")}, ActionIoTConnect, "client/x", &base, DecisionAllowed},
		{"action ? wildcard", []string{allow("iot:?eceive", "*")}, ActionIoTReceive, "topic/x", &base, DecisionAllowed},
		{"action * in the middle", []string{allow("iot:*Publish", "*")}, ActionIoTRetainPublish, "topic/x", &base, DecisionAllowed},
		{"deny beats allow across policies", []string{allow("iot:*", "*"), iotDoc("Deny", "Action", "iot:Publish", "Resource", iotTestARN+"topic/a", "")},
			ActionIoTPublish, "topic/a", &base, DecisionExplicitDeny},
		{"deny beats allow in one policy", []string{`{"Version":"2012-10-17","Statement":[
			{"Effect":"Deny","Action":"iot:Publish","Resource":"` + iotTestARN + `topic/a"},
			{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`}, ActionIoTPublish, "topic/a", &base, DecisionExplicitDeny},
		{"deny elsewhere leaves the allow", []string{allow("iot:*", "*"), iotDoc("Deny", "Action", "iot:Publish", "Resource", iotTestARN+"topic/a", "")},
			ActionIoTPublish, "topic/b", &base, DecisionAllowed},
		{"NotAction allows the others", []string{iotDoc("Allow", "NotAction", "iot:Connect", "Resource", "*", "")}, ActionIoTPublish, "topic/a", &base, DecisionAllowed},
		{"NotAction excludes its action", []string{iotDoc("Allow", "NotAction", "iot:Connect", "Resource", "*", "")}, ActionIoTConnect, "client/a", &base, DecisionImplicitDeny},
		{"NotResource allows the others", []string{iotDoc("Allow", "Action", "iot:Publish", "NotResource", iotTestARN+"topic/secret/*", "")}, ActionIoTPublish, "topic/a", &base, DecisionAllowed},
		{"NotResource excludes its resources", []string{iotDoc("Allow", "Action", "iot:Publish", "NotResource", iotTestARN+"topic/secret/*", "")}, ActionIoTPublish, "topic/secret/x/y", &base, DecisionImplicitDeny},
		{"Deny with NotResource", []string{allow("iot:*", "*"), iotDoc("Deny", "Action", "iot:Publish", "NotResource", iotTestARN+"topic/ok/*", "")}, ActionIoTPublish, "topic/other", &base, DecisionExplicitDeny},
		{"* crosses /", []string{allow("iot:Publish", "topic/a/*")}, ActionIoTPublish, "topic/a/b/c/d", &base, DecisionAllowed},
		{"* in the middle crosses /", []string{allow("iot:Publish", "topic/a/*/z")}, ActionIoTPublish, "topic/a/b/c/z", &base, DecisionAllowed},
		{"? is one character", []string{allow("iot:Publish", "topic/a?")}, ActionIoTPublish, "topic/ab", &base, DecisionAllowed},
		{"? is not two", []string{allow("iot:Publish", "topic/a?")}, ActionIoTPublish, "topic/abc", &base, DecisionImplicitDeny},
		{"resources are case-sensitive", []string{allow("iot:Publish", "topic/A")}, ActionIoTPublish, "topic/a", &base, DecisionImplicitDeny},
		{"+ is literal: the same filter", []string{allow("iot:Subscribe", "topicfilter/a/+/b")}, ActionIoTSubscribe, "topicfilter/a/+/b", &base, DecisionAllowed},
		{"+ is literal: not a level", []string{allow("iot:Subscribe", "topicfilter/a/+/b")}, ActionIoTSubscribe, "topicfilter/a/x/b", &base, DecisionImplicitDeny},
		{"# is literal: the same filter", []string{allow("iot:Subscribe", "topicfilter/a/#")}, ActionIoTSubscribe, "topicfilter/a/#", &base, DecisionAllowed},
		{"# is literal: not levels", []string{allow("iot:Subscribe", "topicfilter/a/#")}, ActionIoTSubscribe, "topicfilter/a/x", &base, DecisionImplicitDeny},
		{"deny on a narrow filter does not stop a broad one", []string{allow("iot:Subscribe", "topicfilter/a/*"), iotDoc("Deny", "Action", "iot:Subscribe", "Resource", iotTestARN+"topicfilter/a/secret/*", "")},
			ActionIoTSubscribe, "topicfilter/a/#", &base, DecisionAllowed},
		{"$(*) is a literal star", []string{allow("iot:Publish", "topic/a$(*)")}, ActionIoTPublish, "topic/a*", &base, DecisionAllowed},
		{"$(*) is not a wildcard", []string{allow("iot:Publish", "topic/a$(*)")}, ActionIoTPublish, "topic/ab", &base, DecisionImplicitDeny},
		{"$(?) and $($) with a real wildcard", []string{allow("iot:Publish", "topic/$($)x$(?)/*")}, ActionIoTPublish, "topic/$x?/y", &base, DecisionAllowed},

		// Variables.
		{"ClientId", []string{allow("iot:Connect", "client/${iot:ClientId}")}, ActionIoTConnect, "client/thing-1", &base, DecisionAllowed},
		{"ClientId of another client", []string{allow("iot:Connect", "client/${iot:ClientId}")}, ActionIoTConnect, "client/thing-2", &base, DecisionImplicitDeny},
		{"ClientId in a topic", []string{allow("iot:Publish", "topic/d/${iot:ClientId}/*")}, ActionIoTPublish, "topic/d/thing-1/t", &base, DecisionAllowed},
		{"variable names ignore case", []string{allow("iot:Publish", "topic/${IOT:clientid}")}, ActionIoTPublish, "topic/thing-1", &base, DecisionAllowed},
		{"no ClientId: unresolved", []string{allow("iot:Publish", "topic/${iot:ClientId}")}, ActionIoTPublish, "topic/", with(func(c *IoTAuthzContext) { c.ClientID = "" }), DecisionImplicitDeny},
		{"a ClientId with * is not substituted", []string{allow("iot:Connect", "client/${iot:ClientId}")}, ActionIoTConnect, "client/a*",
			with(func(c *IoTAuthzContext) { c.ClientID = "a*" }), DecisionImplicitDeny},
		{"a ClientId with * leaves the variable text", []string{allow("iot:Publish", "topic/${iot:ClientId}")}, ActionIoTPublish, "topic/${iot:ClientId}",
			with(func(c *IoTAuthzContext) { c.ClientID = "a*" }), DecisionAllowed},
		{"a ClientId with + is not substituted", []string{allow("iot:Subscribe", "topicfilter/my/${iot:ClientId}/t")}, ActionIoTSubscribe, "topicfilter/my/+/t",
			with(func(c *IoTAuthzContext) { c.ClientID = "+" }), DecisionImplicitDeny},
		{"a ClientId over 1024 characters is not substituted", []string{allow("iot:Connect", "client/${iot:ClientId}")}, ActionIoTConnect, "client/" + strings.Repeat("x", 1025),
			with(func(c *IoTAuthzContext) { c.ClientID = strings.Repeat("x", 1025) }), DecisionImplicitDeny},
		{"CertificateId", []string{allow("iot:Publish", "topic/certs/${iot:CertificateId}")}, ActionIoTPublish, "topic/certs/abc123", &base, DecisionAllowed},
		{"ThingName", []string{allow("iot:Connect", "client/${iot:Connection.Thing.ThingName}")}, ActionIoTConnect, "client/thing-1", &base, DecisionAllowed},
		{"ThingName without a thing", []string{allow("iot:Connect", "client/${iot:Connection.Thing.ThingName}")}, ActionIoTConnect, "client/thing-1", noThing, DecisionImplicitDeny},
		{"ThingTypeName", []string{allow("iot:Publish", "topic/${iot:Connection.Thing.ThingTypeName}/*")}, ActionIoTPublish, "topic/sensor/x", &base, DecisionAllowed},
		{"ThingTypeName of a thing without type", []string{allow("iot:Publish", "topic/${iot:Connection.Thing.ThingTypeName}/*")}, ActionIoTPublish, "topic//x",
			with(func(c *IoTAuthzContext) { c.Thing = &Thing{Name: "thing-1"} }), DecisionImplicitDeny},
		{"thing attribute", []string{allow("iot:Publish", "topic/rooms/${iot:Connection.Thing.Attributes[room]}")}, ActionIoTPublish, "topic/rooms/r1", &base, DecisionAllowed},
		{"missing thing attribute", []string{allow("iot:Publish", "topic/rooms/${iot:Connection.Thing.Attributes[nope]}")}, ActionIoTPublish, "topic/rooms/", &base, DecisionImplicitDeny},
		{"thing attribute with + is not substituted", []string{allow("iot:Publish", "topic/${iot:Connection.Thing.Attributes[weird]}")}, ActionIoTPublish, "topic/a+b", &base, DecisionImplicitDeny},
		{"IsAttached true", []string{allowIf("iot:Connect", "client/*", `{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}`)}, ActionIoTConnect, "client/thing-1", &base, DecisionAllowed},
		{"IsAttached false", []string{allowIf("iot:Connect", "client/*", `{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}`)}, ActionIoTConnect, "client/thing-1", noThing, DecisionImplicitDeny},
		{"IsAttached as a variable", []string{allow("iot:Publish", "topic/attached/${iot:Connection.Thing.IsAttached}")}, ActionIoTPublish, "topic/attached/false", noThing, DecisionAllowed},
		{"Subject.CommonName", []string{allow("iot:Connect", "client/${iot:Certificate.Subject.CommonName}")}, ActionIoTConnect, "client/device-42", &base, DecisionAllowed},
		{"Subject.Organization is the first value", []string{allow("iot:Publish", "topic/${iot:Certificate.Subject.Organization}")}, ActionIoTPublish, "topic/Acme", &base, DecisionAllowed},
		{"Subject.Organization.1 is the second", []string{allow("iot:Publish", "topic/${iot:Certificate.Subject.Organization.1}")}, ActionIoTPublish, "topic/Acme Labs", &base, DecisionAllowed},
		{"index out of range", []string{allow("iot:Publish", "topic/${iot:Certificate.Subject.Organization.2}")}, ActionIoTPublish, "topic/", &base, DecisionImplicitDeny},
		{"Subject.OrganizationalUnit.List", []string{allowIf("iot:Publish", "topic/*", `{"ForAnyValue:StringEquals":{"iot:Certificate.Subject.OrganizationalUnit.List":"Edge"}}`)},
			ActionIoTPublish, "topic/x", &base, DecisionAllowed},
		{"a .List is not a resource variable", []string{allow("iot:Publish", "topic/${iot:Certificate.Subject.OrganizationalUnit.List}")}, ActionIoTPublish, "topic/Sensors", &base, DecisionImplicitDeny},
		{"Subject.Country", []string{allow("iot:Publish", "topic/${iot:Certificate.Subject.Country}")}, ActionIoTPublish, "topic/DE", &base, DecisionAllowed},
		{"Subject.State", []string{allow("iot:Publish", "topic/${iot:Certificate.Subject.State}")}, ActionIoTPublish, "topic/Berlin", &base, DecisionAllowed},
		{"Subject.SerialNumber", []string{allow("iot:Publish", "topic/${iot:Certificate.Subject.SerialNumber}")}, ActionIoTPublish, "topic/SN42", &base, DecisionAllowed},
		{"Subject.Title", []string{allow("iot:Publish", "topic/${iot:Certificate.Subject.Title}")}, ActionIoTPublish, "topic/Thermometer", &base, DecisionAllowed},
		{"Subject.Surname is absent", []string{allow("iot:Publish", "topic/${iot:Certificate.Subject.Surname}")}, ActionIoTPublish, "topic/", &base, DecisionImplicitDeny},
		{"Issuer.CommonName", []string{allow("iot:Publish", "topic/${iot:Certificate.Issuer.CommonName}")}, ActionIoTPublish, "topic/Acme CA", &base, DecisionAllowed},
		{"SerialNumber is decimal", []string{allow("iot:Publish", "topic/${iot:Certificate.SerialNumber}")}, ActionIoTPublish, "topic/123456789012345678901234567890", &base, DecisionAllowed},
		{"AlternativeName.DNSName", []string{allow("iot:Publish", "topic/${iot:Certificate.Subject.AlternativeName.DNSName}")}, ActionIoTPublish, "topic/device-42.example.com", &base, DecisionAllowed},
		{"AlternativeName.DNSName.1", []string{allow("iot:Publish", "topic/${iot:Certificate.Subject.AlternativeName.DNSName.1}")}, ActionIoTPublish, "topic/alt.example.com", &base, DecisionAllowed},
		{"AlternativeName.RFC822Name", []string{allow("iot:Publish", "topic/${iot:Certificate.Subject.AlternativeName.RFC822Name}")}, ActionIoTPublish, "topic/ops@example.com", &base, DecisionAllowed},
		{"AlternativeName.IPAddress", []string{allow("iot:Publish", "topic/${iot:Certificate.Subject.AlternativeName.IPAddress}")}, ActionIoTPublish, "topic/192.0.2.7", &base, DecisionAllowed},
		{"AlternativeName.UniformResourceIdentifier", []string{allow("iot:Publish", "topic/${iot:Certificate.Subject.AlternativeName.UniformResourceIdentifier}")}, ActionIoTPublish, "topic/urn:device:42", &base, DecisionAllowed},
		{"Issuer.AlternativeName.DNSName", []string{allow("iot:Publish", "topic/${iot:Certificate.Issuer.AlternativeName.DNSName}")}, ActionIoTPublish, "topic/issuer.example.com", &base, DecisionAllowed},
		{"Issuer.AlternativeName.RFC822Name", []string{allow("iot:Publish", "topic/${iot:Certificate.Issuer.AlternativeName.RFC822Name}")}, ActionIoTPublish, "topic/ca@example.com", &base, DecisionAllowed},
		{"Issuer.AlternativeName.DirectoryName", []string{allowIf("iot:Publish", "topic/*", `{"StringEquals":{"iot:Certificate.Issuer.AlternativeName.DirectoryName":"CN=Dir CA,O=Acme"}}`)}, ActionIoTPublish, "topic/x", &base, DecisionAllowed},
		{"AvailableKeys", []string{allowIf("iot:Publish", "topic/*", `{"ForAnyValue:StringEquals":{"iot:Certificate.AvailableKeys":["iot:Certificate.Subject.Title"]},
			"ForAllValues:StringLike":{"iot:Certificate.AvailableKeys":["iot:Certificate.Subject.*","iot:Certificate.Issuer.*","iot:Certificate.SerialNumber"]}}`)}, ActionIoTPublish, "topic/x", &base, DecisionAllowed},
		{"AvailableKeys lacks an absent field", []string{allowIf("iot:Publish", "topic/*", `{"ForAnyValue:StringEquals":{"iot:Certificate.AvailableKeys":"iot:Certificate.Subject.Surname"}}`)}, ActionIoTPublish, "topic/x", &base, DecisionImplicitDeny},
		{"no certificate: unresolved", []string{allow("iot:Connect", "client/${iot:Certificate.Subject.CommonName}")}, ActionIoTConnect, "client/device-42",
			with(func(c *IoTAuthzContext) { c.Certificate = nil }), DecisionImplicitDeny},
		{"Topic in a condition (UNCONFIRMED)", []string{allowIf("iot:Publish", "topic/*", `{"StringLike":{"iot:Topic":"sensors/*"}}`)}, ActionIoTPublish, "topic/sensors/t", &base, DecisionAllowed},
		{"Topic of a filter", []string{allowIf("iot:Subscribe", "topicfilter/*", `{"StringEquals":{"iot:Topic":"a/+"}}`)}, ActionIoTSubscribe, "topicfilter/a/+", &base, DecisionAllowed},
		{"Topic has no value on Connect", []string{allowIf("iot:Connect", "*", `{"StringLike":{"iot:Topic":"*"}}`)}, ActionIoTConnect, "client/thing-1", &base, DecisionImplicitDeny},
		{"unresolved Deny does not deny (UNCONFIRMED)", []string{allow("iot:*", "*"), iotDoc("Deny", "Action", "iot:Publish", "Resource", iotTestARN+"topic/${iot:Connection.Thing.ThingName}/*", "")},
			ActionIoTPublish, "topic/thing-1/x", noThing, DecisionAllowed},
		{"resolved Deny denies", []string{allow("iot:*", "*"), iotDoc("Deny", "Action", "iot:Publish", "Resource", iotTestARN+"topic/${iot:Connection.Thing.ThingName}/*", "")},
			ActionIoTPublish, "topic/thing-1/x", &base, DecisionExplicitDeny},
		{"unresolved NotResource: the statement does not apply", []string{iotDoc("Allow", "Action", "iot:Publish", "NotResource", iotTestARN+"topic/${iot:Connection.Thing.ThingName}", "")},
			ActionIoTPublish, "topic/other", noThing, DecisionImplicitDeny},
		{"another Resource entry still matches", []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":["` +
			iotTestARN + `topic/${iot:Connection.Thing.ThingName}","` + iotTestARN + `topic/public"]}}`}, ActionIoTPublish, "topic/public", noThing, DecisionAllowed},

		// Conditions.
		{"StringEquals", []string{allowIf("iot:Connect", "*", `{"StringEquals":{"iot:ClientId":["x","thing-1"]}}`)}, ActionIoTConnect, "client/thing-1", &base, DecisionAllowed},
		{"StringEquals fails", []string{allowIf("iot:Connect", "*", `{"StringEquals":{"iot:ClientId":"THING-1"}}`)}, ActionIoTConnect, "client/thing-1", &base, DecisionImplicitDeny},
		{"StringEquals with a variable", []string{allowIf("iot:Connect", "*", `{"StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}`)}, ActionIoTConnect, "client/thing-1", &base, DecisionAllowed},
		{"StringEquals with an unresolved variable", []string{allowIf("iot:Connect", "*", `{"StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}`)}, ActionIoTConnect, "client/thing-1", noThing, DecisionImplicitDeny},
		{"StringNotEquals", []string{allowIf("iot:Connect", "*", `{"StringNotEquals":{"iot:ClientId":["a","b"]}}`)}, ActionIoTConnect, "client/thing-1", &base, DecisionAllowed},
		{"StringNotEquals fails", []string{allowIf("iot:Connect", "*", `{"StringNotEquals":{"iot:ClientId":["a","thing-1"]}}`)}, ActionIoTConnect, "client/thing-1", &base, DecisionImplicitDeny},
		{"StringEqualsIgnoreCase", []string{allowIf("iot:Connect", "*", `{"StringEqualsIgnoreCase":{"iot:ClientId":"THING-1"}}`)}, ActionIoTConnect, "client/thing-1", &base, DecisionAllowed},
		{"StringNotEqualsIgnoreCase", []string{allowIf("iot:Connect", "*", `{"StringNotEqualsIgnoreCase":{"iot:ClientId":"THING-1"}}`)}, ActionIoTConnect, "client/thing-1", &base, DecisionImplicitDeny},
		{"StringLike", []string{allowIf("iot:Connect", "*", `{"StringLike":{"iot:ClientId":"thing-?"}}`)}, ActionIoTConnect, "client/thing-1", &base, DecisionAllowed},
		{"StringNotLike", []string{allowIf("iot:Connect", "*", `{"StringNotLike":{"iot:ClientId":"thing-*"}}`)}, ActionIoTConnect, "client/thing-1", &base, DecisionImplicitDeny},
		{"Null true on an absent key", []string{allowIf("iot:Connect", "*", `{"Null":{"iot:Certificate.Subject.Surname":"true"}}`)}, ActionIoTConnect, "client/x", &base, DecisionAllowed},
		{"Null false on an absent key", []string{allowIf("iot:Connect", "*", `{"Null":{"iot:Certificate.Subject.Surname":"false"}}`)}, ActionIoTConnect, "client/x", &base, DecisionImplicitDeny},
		{"Null false on a present key", []string{allowIf("iot:Connect", "*", `{"Null":{"iot:Certificate.Subject.CommonName":"false"}}`)}, ActionIoTConnect, "client/x", &base, DecisionAllowed},
		{"Bool false", []string{allowIf("iot:Connect", "*", `{"Bool":{"iot:Connection.Thing.IsAttached":false}}`)}, ActionIoTConnect, "client/x", noThing, DecisionAllowed},
		{"IpAddress in a CIDR", []string{allowIf("iot:Connect", "*", `{"IpAddress":{"aws:SourceIp":"10.1.0.0/16"}}`)}, ActionIoTConnect, "client/x", &base, DecisionAllowed},
		{"IpAddress outside", []string{allowIf("iot:Connect", "*", `{"IpAddress":{"aws:SourceIp":["192.168.0.0/16","10.1.2.4"]}}`)}, ActionIoTConnect, "client/x", &base, DecisionImplicitDeny},
		{"IpAddress single address", []string{allowIf("iot:Connect", "*", `{"IpAddress":{"aws:SourceIp":"10.1.2.3"}}`)}, ActionIoTConnect, "client/x", &base, DecisionAllowed},
		{"IpAddress of an IPv4-mapped client", []string{allowIf("iot:Connect", "*", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`)}, ActionIoTConnect, "client/x",
			with(func(c *IoTAuthzContext) { c.SourceIP = netip.MustParseAddr("::ffff:10.1.2.3") }), DecisionAllowed},
		{"NotIpAddress denies", []string{allow("iot:*", "*"), iotDoc("Deny", "Action", "iot:Connect", "Resource", "*", `{"NotIpAddress":{"aws:SourceIp":"192.168.0.0/16"}}`)},
			ActionIoTConnect, "client/x", &base, DecisionExplicitDeny},
		{"no source IP: missing", []string{allowIf("iot:Connect", "*", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`)}, ActionIoTConnect, "client/x",
			with(func(c *IoTAuthzContext) { c.SourceIP = netip.Addr{} }), DecisionImplicitDeny},
		{"ArnEquals on the will topic", []string{allowIf("iot:Connect", "*", `{"ArnEquals":{"iot:LastWillTopic":"`+iotTestARN+`topic/will/${iot:ClientId}"}}`)}, ActionIoTConnect, "client/thing-1", connect, DecisionAllowed},
		{"ArnLike on the will topic", []string{allowIf("iot:Connect", "*", `{"ArnLike":{"iot:LastWillTopic":"`+iotTestARN+`topic/will/*"}}`)}, ActionIoTConnect, "client/thing-1", connect, DecisionAllowed},
		{"ArnLike on another will topic", []string{allowIf("iot:Connect", "*", `{"ArnLike":{"iot:LastWillTopic":"`+iotTestARN+`topic/other/*"}}`)}, ActionIoTConnect, "client/thing-1", connect, DecisionImplicitDeny},
		{"ArnNotLike", []string{allowIf("iot:Connect", "*", `{"ArnNotLike":{"iot:LastWillTopic":"`+iotTestARN+`topic/other/*"}}`)}, ActionIoTConnect, "client/thing-1", connect, DecisionAllowed},
		{"the will topic is a key of Connect only", []string{allowIf("iot:Publish", "*", `{"ArnLike":{"iot:LastWillTopic":"*"}}`)}, ActionIoTPublish, "topic/x", connect, DecisionImplicitDeny},
		{"ArnNotEquals", []string{allowIf("iot:Connect", "*", `{"ArnNotEquals":{"iot:LastWillTopic":"`+iotTestARN+`topic/will/thing-1"}}`)}, ActionIoTConnect, "client/thing-1", connect, DecisionImplicitDeny},
		{"NumericNotEquals", []string{allowIf("iot:Connect", "*", `{"NumericNotEquals":{"iot:Connection.Thing.Attributes[floor]":[1,2]}}`)}, ActionIoTConnect, "client/x", &base, DecisionAllowed},
		{"NumericLessThanEquals", []string{allowIf("iot:Connect", "*", `{"NumericLessThanEquals":{"iot:Connection.Thing.Attributes[floor]":2.5}}`)}, ActionIoTConnect, "client/x", &base, DecisionImplicitDeny},
		{"no will: missing", []string{allowIf("iot:Connect", "*", `{"ArnLike":{"iot:LastWillTopic":"*"}}`)}, ActionIoTConnect, "client/thing-1", &base, DecisionImplicitDeny},
		{"ForAllValues on ConnectAttributes", []string{allowIf("iot:Connect", "*", `{"ForAllValues:StringEquals":{"iot:ConnectAttributes":["PersistentConnect","LastWill"]}}`)}, ActionIoTConnect, "client/x", connect, DecisionAllowed},
		{"ForAllValues with one not listed", []string{allowIf("iot:Connect", "*", `{"ForAllValues:StringEquals":{"iot:ConnectAttributes":["PersistentConnect"]}}`)}, ActionIoTConnect, "client/x", connect, DecisionImplicitDeny},
		{"ForAllValues on an empty set", []string{allowIf("iot:Connect", "*", `{"ForAllValues:StringEquals":{"iot:ConnectAttributes":["PersistentConnect"]}}`)}, ActionIoTConnect, "client/x", &base, DecisionAllowed},
		{"ForAnyValue on ConnectAttributes", []string{allowIf("iot:Connect", "*", `{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":"LastWill"}}`)}, ActionIoTConnect, "client/x", connect, DecisionAllowed},
		{"ForAnyValue on an empty set", []string{allowIf("iot:Connect", "*", `{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":"LastWill"}}`)}, ActionIoTConnect, "client/x", &base, DecisionImplicitDeny},
		{"ForAllValues:StringNotEquals denies a persistent session", []string{allow("iot:*", "*"), iotDoc("Deny", "Action", "iot:Connect", "Resource", "*", `{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":"PersistentConnect"}}`)},
			ActionIoTConnect, "client/x", connect, DecisionExplicitDeny},
		{"ConnectAttributes only on Connect", []string{allowIf("iot:Publish", "*", `{"ForAllValues:StringEquals":{"iot:ConnectAttributes":"LastWill"}}`)}, ActionIoTPublish, "topic/x", connect, DecisionImplicitDeny},
		{"NumericLessThan on an attribute", []string{allowIf("iot:Connect", "*", `{"NumericLessThan":{"iot:Connection.Thing.Attributes[floor]":5}}`)}, ActionIoTConnect, "client/x", &base, DecisionAllowed},
		{"NumericGreaterThan on an attribute", []string{allowIf("iot:Connect", "*", `{"NumericGreaterThan":{"iot:Connection.Thing.Attributes[floor]":5}}`)}, ActionIoTConnect, "client/x", &base, DecisionImplicitDeny},
		{"NumericEquals on text", []string{allowIf("iot:Connect", "*", `{"NumericEquals":{"iot:Connection.Thing.Attributes[room]":1}}`)}, ActionIoTConnect, "client/x", &base, DecisionImplicitDeny},
		{"NumericGreaterThanEquals", []string{allowIf("iot:Connect", "*", `{"NumericGreaterThanEquals":{"iot:Connection.Thing.Attributes[floor]":3}}`)}, ActionIoTConnect, "client/x", &base, DecisionAllowed},
		{"IfExists on an absent key", []string{allowIf("iot:Connect", "*", `{"StringEqualsIfExists":{"iot:Connection.Thing.Attributes[nope]":"x"}}`)}, ActionIoTConnect, "client/x", &base, DecisionAllowed},
		{"IfExists on a present key", []string{allowIf("iot:Connect", "*", `{"StringEqualsIfExists":{"iot:Connection.Thing.Attributes[room]":"x"}}`)}, ActionIoTConnect, "client/x", &base, DecisionImplicitDeny},
		{"unknown key", []string{allowIf("iot:Connect", "*", `{"StringEquals":{"aws:Whatever":"x"}}`)}, ActionIoTConnect, "client/x", &base, DecisionImplicitDeny},
		{"unknown operator", []string{allowIf("iot:Connect", "*", `{"StringSorta":{"iot:ClientId":"thing-1"}}`)}, ActionIoTConnect, "client/thing-1", &base, DecisionImplicitDeny},
		{"two operators are ANDed", []string{allowIf("iot:Connect", "*", `{"StringEquals":{"iot:ClientId":"thing-1"},"IpAddress":{"aws:SourceIp":"192.168.0.0/16"}}`)}, ActionIoTConnect, "client/thing-1", &base, DecisionImplicitDeny},
		{"two keys are ANDed", []string{allowIf("iot:Connect", "*", `{"StringEquals":{"iot:ClientId":"thing-1","iot:CertificateId":"abc123"}}`)}, ActionIoTConnect, "client/thing-1", &base, DecisionAllowed},
		{"nil context resolves nothing", []string{allow("iot:Connect", "client/${iot:ClientId}")}, ActionIoTConnect, "client/", nil, DecisionImplicitDeny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := AuthorizeIoT(iotTestPolicies(t, tc.docs...), tc.action, iotTestARN+tc.resource, tc.ctx)
			if d.Decision != tc.want {
				t.Errorf("decision %s, want %s (%+v)", d.Decision, tc.want, d)
			}
		})
	}
}

func TestAuthorizeIoTDecisionLists(t *testing.T) {
	pols := iotTestPolicies(t,
		allow("iot:Publish", "topic/a"), // p0 allows
		allow("iot:Receive", "topic/a"), // p1 silent
		iotDoc("Deny", "Action", "iot:*", "Resource", "*", `{"StringEquals":{"iot:ClientId":"bad"}}`),         // p2 denies for bad
		allowIf("iot:Publish", "*", `{"StringEquals":{"aws:Nope":"x","iot:Connection.Thing.ThingName":"t"}}`), // p3 missing keys
		allow("iot:*", "*"), // p4 allows
	)
	d := AuthorizeIoT(pols, ActionIoTPublish, iotTestARN+"topic/a", &IoTAuthzContext{ClientID: "good"})
	want := IoTDecision{Decision: DecisionAllowed, Allowed: []string{"p0", "p4"}, ImplicitDeny: []string{"p1", "p2", "p3"},
		MissingContextValues: []string{"aws:Nope", "iot:Connection.Thing.ThingName"}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got %+v\nwant %+v", d, want)
	}
	d = AuthorizeIoT(pols, ActionIoTPublish, iotTestARN+"topic/a", &IoTAuthzContext{ClientID: "bad"})
	if d.Decision != DecisionExplicitDeny || !reflect.DeepEqual(d.ExplicitDeny, []string{"p2"}) || !reflect.DeepEqual(d.Allowed, []string{"p0", "p4"}) {
		t.Errorf("got %+v", d)
	}
	// A nil document says nothing.
	d = AuthorizeIoT([]IoTPolicy{{Name: "x"}}, ActionIoTPublish, iotTestARN+"topic/a", nil)
	if d.Decision != DecisionImplicitDeny || !reflect.DeepEqual(d.ImplicitDeny, []string{"x"}) {
		t.Errorf("got %+v", d)
	}
}

// TestIoTCertValueEscaping checks that certificate values get AWS's
// backslashes and are then substituted (none of , " \ = < > ; stops it).
func TestIoTCertValueEscaping(t *testing.T) {
	cert := &x509.Certificate{Subject: pkix.Name{Names: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: `a,b;c`}}}}
	pols := iotTestPolicies(t, allow("iot:Publish", "topic/${iot:Certificate.Subject.CommonName}"))
	d := AuthorizeIoT(pols, ActionIoTPublish, iotTestARN+`topic/a\,b\;c`, &IoTAuthzContext{Certificate: cert})
	if d.Decision != DecisionAllowed {
		t.Errorf("got %+v", d)
	}
}

func TestIoTCertAvailableKeys(t *testing.T) {
	_, keys, multi, ok := iotCertValue(iotTestCert(t), "AvailableKeys")
	want := []string{
		"iot:Certificate.Subject.Country", "iot:Certificate.Subject.Organization", "iot:Certificate.Subject.OrganizationalUnit",
		"iot:Certificate.Subject.State", "iot:Certificate.Subject.CommonName", "iot:Certificate.Subject.SerialNumber",
		"iot:Certificate.Subject.Title",
		"iot:Certificate.Subject.AlternativeName.RFC822Name", "iot:Certificate.Subject.AlternativeName.DNSName",
		"iot:Certificate.Subject.AlternativeName.UniformResourceIdentifier", "iot:Certificate.Subject.AlternativeName.IPAddress",
		"iot:Certificate.Issuer.CommonName",
		"iot:Certificate.Issuer.AlternativeName.RFC822Name", "iot:Certificate.Issuer.AlternativeName.DNSName",
		"iot:Certificate.Issuer.AlternativeName.DirectoryName",
		"iot:Certificate.SerialNumber",
	}
	if !ok || !multi || !reflect.DeepEqual(keys, want) {
		t.Errorf("got %q (multi %v, ok %v)\nwant %q", keys, multi, ok, want)
	}
}

// TestAuthorizeIoTAll checks how one authInfo's resources combine: a
// policy allowing one resource and denying none is listed as allowing, one
// denying any as denying, and the decision is allowed only when every
// resource is.
func TestAuthorizeIoTAll(t *testing.T) {
	pols := iotTestPolicies(t,
		allow("iot:Publish", "topic/a"),                                         // p0 allows a only
		iotDoc("Deny", "Action", "iot:*", "Resource", iotTestARN+"topic/b", ""), // p1 denies b
		allow("iot:Receive", "*"),                                               // p2 silent
	)
	a, b, c := iotTestARN+"topic/a", iotTestARN+"topic/b", iotTestARN+"topic/c"
	for _, tc := range []struct {
		resources []string
		want      IoTDecision
	}{
		{[]string{a}, IoTDecision{Decision: DecisionAllowed, Allowed: []string{"p0"}, ImplicitDeny: []string{"p1", "p2"}, MissingContextValues: []string{}}},
		{[]string{a, c}, IoTDecision{Decision: DecisionImplicitDeny, Allowed: []string{"p0"}, ImplicitDeny: []string{"p1", "p2"}, MissingContextValues: []string{}}},
		{[]string{a, b}, IoTDecision{Decision: DecisionExplicitDeny, Allowed: []string{"p0"}, ExplicitDeny: []string{"p1"}, ImplicitDeny: []string{"p2"}, MissingContextValues: []string{}}},
	} {
		if got := AuthorizeIoTAll(pols, ActionIoTPublish, tc.resources, nil); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: got %+v\nwant %+v", tc.resources, got, tc.want)
		}
	}
}

func TestParseAuthPrincipal(t *testing.T) {
	s := Scope{Account: "123456789012", Region: "us-east-1"}
	str := func(v string) *string { return &v }
	cert := s.CertificateARN(strings.Repeat("ab", 32))
	if kind, id, err := ParseAuthPrincipal(s, str(cert), nil); err != nil || kind != TargetCertificate || id != strings.Repeat("ab", 32) {
		t.Errorf("certificate: got %q %q %v", kind, id, err)
	}
	if kind, _, err := ParseAuthPrincipal(s, nil, nil); err != nil || kind != "" {
		t.Errorf("none: got %q %v", kind, err)
	}
	for _, tc := range []struct {
		principal, pool *string
		code            Code
	}{
		{nil, str("us-east-1:pool"), CodeInvalidRequest},
		{str("us-east-1:identity"), nil, CodeInvalidRequest},
		{str("arn:aws:iot:us-east-1:123456789012:topic/a"), nil, CodeInvalidRequest},
		{str(Scope{Account: "210987654321", Region: "us-east-1"}.CertificateARN(strings.Repeat("ab", 32))), nil, CodeResourceNotFound},
	} {
		if _, _, err := ParseAuthPrincipal(s, tc.principal, tc.pool); ErrorCode(err) != tc.code {
			t.Errorf("%v %v: got %v, want %s", tc.principal, tc.pool, err, tc.code)
		}
	}
}
