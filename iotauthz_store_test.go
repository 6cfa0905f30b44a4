package warden_test

import (
	"context"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/pgtest"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// iotStoreFixture is a registry on the real store (SQLite, or PostgreSQL
// with WARDEN_TEST_DATABASE).
type iotStoreFixture struct {
	t   testing.TB
	ctx context.Context
	db  *sqlstore.DB
	s   warden.Scope
	now time.Time
	ca  [2]string
}

func newIoTStoreFixture(t *testing.T) *iotStoreFixture { return newIoTStoreFixtureTB(t) }

func newIoTStoreFixtureTB(t testing.TB) *iotStoreFixture {
	ctx := warden.WithActor(context.Background(), "test")
	db, err := sqlstore.Open(ctx, sqlstore.Options{Database: pgtest.Database(t, t.TempDir()), DataDir: t.TempDir(), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &iotStoreFixture{t: t, ctx: ctx, db: db, s: warden.Scope{Account: "123456789012", Region: "us-east-1"}, now: time.Now().UTC()}
	f.ca[0], f.ca[1], err = warden.NewIssuingCA(f.s, f.now)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *iotStoreFixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *iotStoreFixture) cert() (id, arn string) {
	f.t.Helper()
	ic, err := warden.IssueCertificate(f.ca[0], f.ca[1], f.now)
	f.must(err)
	c := warden.NewCertificateFrom(ic.Cert, warden.CertActive, warden.ModeDefault, f.now)
	f.must(f.db.CreateCertificate(f.ctx, f.s, c, "CreateKeysAndCertificate"))
	return c.ID, f.s.CertificateARN(c.ID)
}

func (f *iotStoreFixture) policy(name, doc string, targets ...string) {
	f.t.Helper()
	_, err := f.db.CreatePolicy(f.ctx, f.s, name, doc, nil, f.now)
	f.must(err)
	for _, target := range targets {
		f.must(f.db.AttachPolicy(f.ctx, f.s, name, target, f.now))
	}
}

func (f *iotStoreFixture) thing(name string, attrs map[string]string) {
	f.t.Helper()
	_, _, err := f.db.CreateThing(f.ctx, f.s, warden.Thing{Name: name, ID: warden.NewUUID(), Attributes: attrs, CreationDate: f.now, LastModifiedDate: f.now})
	f.must(err)
}

func (f *iotStoreFixture) group(name, parent string) string {
	f.t.Helper()
	_, _, err := f.db.CreateThingGroup(f.ctx, f.s, warden.ThingGroup{Name: name, ParentName: parent, ID: warden.NewUUID(), CreationDate: f.now, LastModifiedDate: f.now}, nil)
	f.must(err)
	return warden.ThingGroupARN(f.s, name)
}

func policyNames(p []warden.IoTPolicy) []string {
	var out []string
	for _, x := range p {
		out = append(out, x.Name)
	}
	return out
}

const iotStoreARN = "arn:aws:iot:us-east-1:123456789012:"

func TestLoadIoTPrincipal(t *testing.T) {
	f := newIoTStoreFixture(t)
	certID, certARN := f.cert()
	f.policy("cert-policy", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Connect","Resource":"`+iotStoreARN+`client/${iot:Connection.Thing.ThingName}"},
		{"Effect":"Allow","Action":"iot:Publish","Resource":"`+iotStoreARN+`topic/rooms/${iot:Connection.Thing.Attributes[room]}"},
		{"Effect":"Allow","Action":"iot:Publish","Resource":"`+iotStoreARN+`topic/cn/${iot:Certificate.Subject.CommonName}"}]}`, certARN)
	f.policy("also-cert-policy", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Receive","Resource":"*"}}`, certARN)
	f.policy("unattached", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}`)
	fleet := f.group("fleet", "")
	building := f.group("building", "fleet")
	f.group("other", "")
	f.policy("fleet-policy", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"`+iotStoreARN+`topic/fleet/*"}}`, fleet)
	f.policy("building-policy", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"`+iotStoreARN+`topic/building/*"}}`, building, certARN)
	f.thing("dev1", map[string]string{"room": "r1"})
	f.must(f.db.AddThingToThingGroup(f.ctx, f.s, "dev1", "building", false, f.now))
	f.must(f.db.AttachThingPrincipal(f.ctx, f.s, "dev1", certARN, warden.PrincipalNonExclusive, f.now))
	src := netip.MustParseAddr("192.0.2.9")

	p, err := warden.LoadIoTPrincipal(f.ctx, f.db, f.s, certID, "dev1", nil, src)
	f.must(err)
	if got, want := policyNames(p.Policies), []string{"also-cert-policy", "building-policy", "cert-policy", "fleet-policy"}; !reflect.DeepEqual(got, want) {
		t.Errorf("policies %v, want %v (sorted, each once)", got, want)
	}
	if p.ThingName != "dev1" || !p.Context.ThingAttached || p.Context.Thing == nil || p.Context.Thing.Attributes["room"] != "r1" {
		t.Errorf("thing %q attached=%v %+v", p.ThingName, p.Context.ThingAttached, p.Context.Thing)
	}
	if want := []string{"building", "fleet"}; !reflect.DeepEqual(p.ThingGroups, want) {
		t.Errorf("groups %v, want %v", p.ThingGroups, want)
	}
	if p.Context.ClientID != "dev1" || p.Context.CertificateID != certID || p.Context.SourceIP != src || p.Context.Scope != f.s {
		t.Errorf("context %+v", p.Context)
	}
	if p.Context.Certificate == nil || p.Context.Certificate.Subject.CommonName != "AWS IoT Certificate" {
		t.Fatalf("the stored certificate was not parsed: %+v", p.Context.Certificate)
	}
	for _, tc := range []struct{ action, resource, want string }{
		{warden.ActionIoTConnect, "client/dev1", warden.DecisionAllowed},
		{warden.ActionIoTConnect, "client/dev2", warden.DecisionImplicitDeny},
		{warden.ActionIoTPublish, "topic/rooms/r1", warden.DecisionAllowed},
		{warden.ActionIoTPublish, "topic/rooms/r2", warden.DecisionImplicitDeny},
		{warden.ActionIoTPublish, "topic/cn/AWS IoT Certificate", warden.DecisionAllowed},
		{warden.ActionIoTPublish, "topic/fleet/x", warden.DecisionAllowed},
		{warden.ActionIoTPublish, "topic/building/x", warden.DecisionAllowed},
	} {
		if d := warden.AuthorizeIoT(p.Policies, tc.action, iotStoreARN+tc.resource, &p.Context); d.Decision != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.action, tc.resource, d.Decision, tc.want)
		}
	}

	// A client id that is not an attached thing: no thing, no group policies.
	p, err = warden.LoadIoTPrincipal(f.ctx, f.db, f.s, certID, "someone-else", nil, src)
	f.must(err)
	if got, want := policyNames(p.Policies), []string{"also-cert-policy", "building-policy", "cert-policy"}; !reflect.DeepEqual(got, want) {
		t.Errorf("policies %v, want %v", got, want)
	}
	if p.ThingName != "" || p.Context.Thing != nil || p.Context.ThingAttached || p.ThingGroups != nil {
		t.Errorf("a thing resolved: %q %+v %v", p.ThingName, p.Context.Thing, p.ThingGroups)
	}
	if d := warden.AuthorizeIoT(p.Policies, warden.ActionIoTConnect, iotStoreARN+"client/someone-else", &p.Context); d.Decision != warden.DecisionImplicitDeny {
		t.Errorf("connect without a thing: %s", d.Decision)
	}

	// A thing named like the client but not attached to this certificate.
	f.thing("dev3", nil)
	p, err = warden.LoadIoTPrincipal(f.ctx, f.db, f.s, certID, "dev3", nil, src)
	f.must(err)
	if p.ThingName != "" {
		t.Errorf("resolved %q, a thing the certificate is not attached to", p.ThingName)
	}

	// Quarantine: a group with a deny policy changes what the device may do.
	quarantine := f.group("quarantine", "")
	f.policy("quarantine-policy", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iot:*","Resource":"*"}}`, quarantine)
	f.must(f.db.AddThingToThingGroup(f.ctx, f.s, "dev1", "quarantine", false, f.now))
	p, err = warden.LoadIoTPrincipal(f.ctx, f.db, f.s, certID, "dev1", nil, src)
	f.must(err)
	if d := warden.AuthorizeIoT(p.Policies, warden.ActionIoTPublish, iotStoreARN+"topic/fleet/x", &p.Context); d.Decision != warden.DecisionExplicitDeny ||
		!reflect.DeepEqual(d.ExplicitDeny, []string{"quarantine-policy"}) {
		t.Errorf("after quarantine: %+v", d)
	}
	if want := []string{"building", "fleet", "quarantine"}; !reflect.DeepEqual(p.ThingGroups, want) {
		t.Errorf("groups %v, want %v", p.ThingGroups, want)
	}

	// The presented certificate is used as given.
	ic, err := warden.IssueCertificate(f.ca[0], f.ca[1], f.now)
	f.must(err)
	p, err = warden.LoadIoTPrincipal(f.ctx, f.db, f.s, certID, "dev1", ic.Cert, src)
	f.must(err)
	if p.Context.Certificate != ic.Cert {
		t.Error("the presented certificate was replaced")
	}

	// Unknown certificate.
	_, err = warden.LoadIoTPrincipal(f.ctx, f.db, f.s, "0000000000000000000000000000000000000000000000000000000000000000", "dev1", nil, src)
	if warden.ErrorCode(err) != warden.CodeResourceNotFound {
		t.Errorf("unknown certificate: %v", err)
	}
}

func TestLoadIoTPrincipalExclusiveThing(t *testing.T) {
	f := newIoTStoreFixture(t)
	certID, certARN := f.cert()
	f.thing("bound", map[string]string{"room": "r9"})
	f.thing("client-named", nil)
	g := f.group("g", "")
	f.policy("g-policy", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"`+iotStoreARN+`client/${iot:Connection.Thing.ThingName}"}}`, g)
	f.must(f.db.AddThingToThingGroup(f.ctx, f.s, "bound", "g", false, f.now))
	f.must(f.db.AttachThingPrincipal(f.ctx, f.s, "bound", certARN, warden.PrincipalExclusive, f.now))

	// With an exclusive association the certificate names the thing,
	// whatever the client id.
	p, err := warden.LoadIoTPrincipal(f.ctx, f.db, f.s, certID, "client-named", nil, netip.Addr{})
	f.must(err)
	if p.ThingName != "bound" || !p.Context.ThingAttached || !reflect.DeepEqual(p.ThingGroups, []string{"g"}) {
		t.Fatalf("thing %q attached=%v groups %v", p.ThingName, p.Context.ThingAttached, p.ThingGroups)
	}
	if d := warden.AuthorizeIoT(p.Policies, warden.ActionIoTConnect, iotStoreARN+"client/bound", &p.Context); d.Decision != warden.DecisionAllowed {
		t.Errorf("connect as the bound thing: %+v", d)
	}
}

func TestLoadIoTPolicies(t *testing.T) {
	f := newIoTStoreFixture(t)
	f.policy("b", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}}`)
	f.policy("a", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"*"}}`)
	_, err := f.db.CreatePolicyVersion(f.ctx, f.s, "a", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iot:Publish","Resource":"*"}}`, true, f.now)
	f.must(err)
	pols, err := warden.LoadIoTPolicies(f.ctx, f.db, f.s, []string{"b", "missing", "a", "b"})
	f.must(err)
	if got := policyNames(pols); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("policies %v", got)
	}
	if eff := pols[0].Document.Statements[0].Effect; eff != warden.EffectDeny {
		t.Errorf("policy a was read at a version other than its default: %s", eff)
	}
}

// BenchmarkLoadIoTPrincipal is what a device's CONNECT reads from the
// store: a certificate with two policies, attached to its thing, which is
// in a group under a parent group, each with a policy.
//
//	go test -run '^$' -bench LoadIoTPrincipal -benchmem .
func BenchmarkLoadIoTPrincipal(b *testing.B) {
	f := newIoTStoreFixtureTB(b)
	certID, certARN := f.cert()
	f.policy("p1", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"`+iotStoreARN+`client/${iot:Connection.Thing.ThingName}"},
		{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"`+iotStoreARN+`topic/dt/${iot:ClientId}/*"}]}`, certARN)
	f.policy("p2", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Subscribe","Resource":"`+iotStoreARN+`topicfilter/dt/${iot:ClientId}/*"}}`, certARN)
	f.policy("p3", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"`+iotStoreARN+`topic/fleet/*"}}`, f.group("fleet", ""))
	f.policy("p4", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"`+iotStoreARN+`topic/b/*"}}`, f.group("building", "fleet"))
	f.thing("dev1", map[string]string{"room": "r1"})
	f.must(f.db.AddThingToThingGroup(f.ctx, f.s, "dev1", "building", false, f.now))
	f.must(f.db.AttachThingPrincipal(f.ctx, f.s, "dev1", certARN, warden.PrincipalNonExclusive, f.now))
	src := netip.MustParseAddr("192.0.2.9")
	b.ReportAllocs()
	for b.Loop() {
		p, err := warden.LoadIoTPrincipal(f.ctx, f.db, f.s, certID, "dev1", nil, src)
		if err != nil || len(p.Policies) != 4 {
			b.Fatalf("%v %d", err, len(p.Policies))
		}
	}
}

// TestLoadIoTPrincipalManyThings: a certificate shared by several things
// resolves to the one named by the client id, wherever it is in the list.
func TestLoadIoTPrincipalManyThings(t *testing.T) {
	f := newIoTStoreFixture(t)
	certID, certARN := f.cert()
	for _, name := range []string{"dev-a", "dev-b", "dev-c"} {
		f.thing(name, nil)
		f.must(f.db.AttachThingPrincipal(f.ctx, f.s, name, certARN, warden.PrincipalNonExclusive, f.now))
	}
	f.thing("dev-x", nil)
	for clientID, want := range map[string]string{"dev-a": "dev-a", "dev-c": "dev-c", "dev-x": "", "nothing": "", "": ""} {
		p, err := warden.LoadIoTPrincipal(f.ctx, f.db, f.s, certID, clientID, nil, netip.Addr{})
		f.must(err)
		if p.ThingName != want || p.Context.ThingAttached != (want != "") {
			t.Errorf("client %q: thing %q attached=%v, want %q", clientID, p.ThingName, p.Context.ThingAttached, want)
		}
	}
}
