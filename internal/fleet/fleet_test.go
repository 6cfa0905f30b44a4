package fleet_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/fleet"
	"github.com/warden-iot/warden/internal/sqlstore"
	"github.com/warden-iot/warden/internal/wardentest"
	"github.com/warden-iot/warden/internal/x509test"
)

const (
	fleetAccount = wardentest.AccountA
	fleetRegion  = wardentest.Region
)

var fleetScope = warden.Scope{Account: fleetAccount, Region: fleetRegion}

// fleetEnv is the real API stack over a data dir the generator filled.
type fleetEnv struct {
	store  *sqlstore.DB
	server *httptest.Server
	iot    *iot.Client
}

func fleetOpen(t *testing.T, dir string) *fleetEnv {
	t.Helper()
	s := wardentest.Start(t, wardentest.Config{Dir: dir})
	return &fleetEnv{store: s.Store, server: s.Server, iot: s.IoT(wardentest.KeyA, wardentest.SecretA, fleetRegion)}
}

func fleetOptions(things int, seed uint64) fleet.Options {
	return fleet.Options{Scope: fleetScope, Things: things, Groups: 10, Seed: seed, BatchSize: 500,
		ExpiringShare: 0.05, ExpiredShare: 0.01, OldShare: 0.05, WeakKeyShare: 0.01, PermissivePolicyShare: 0.1}
}

// fleetAllThings pages through ListThings.
func fleetAllThings(t *testing.T, c *iot.Client, in iot.ListThingsInput) []string {
	t.Helper()
	var names []string
	in.MaxResults = aws.Int32(250)
	for {
		out, err := c.ListThings(context.Background(), &in)
		if err != nil {
			t.Fatal(err)
		}
		for _, th := range out.Things {
			names = append(names, aws.ToString(th.ThingName))
		}
		if out.NextToken == nil {
			return names
		}
		in.NextToken = out.NextToken
	}
}

func fleetGroupThings(t *testing.T, c *iot.Client, group string) []string {
	t.Helper()
	var names []string
	in := &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String(group), MaxResults: aws.Int32(250)}
	for {
		out, err := c.ListThingsInThingGroup(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, out.Things...)
		if out.NextToken == nil {
			return names
		}
		in.NextToken = out.NextToken
	}
}

func fleetActorChanges(t *testing.T, db *sqlstore.DB) []warden.Change {
	t.Helper()
	all, err := db.Changes(context.Background(), warden.ChangeFilter{Scope: &fleetScope})
	if err != nil {
		t.Fatal(err)
	}
	var out []warden.Change
	for _, c := range all {
		if c.Actor == fleet.Actor {
			out = append(out, c)
		}
	}
	return out
}

// fleetPermissive reports whether a policy document allows iot:* or
// iot:Publish on every resource.
func fleetPermissive(t *testing.T, doc string) bool {
	t.Helper()
	d, err := warden.ParsePolicyDocument(doc)
	if err != nil {
		t.Fatalf("stored policy document %s: %v", doc, err)
	}
	for _, st := range d.Statements {
		if st.Effect == warden.EffectAllow && slices.Contains(st.Resource, "*") &&
			(slices.Contains(st.Action, "iot:*") || slices.Contains(st.Action, "iot:Publish")) {
			return true
		}
	}
	return false
}

func TestFleetGenerate(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e := fleetOpen(t, dir)
	const n = 2000
	now := time.Now().UTC()
	opt := fleetOptions(n, 1234)
	opt.Now = now
	var progress []int
	opt.Progress = func(done, total int, _ time.Duration) {
		if total != n {
			t.Errorf("progress total %d, want %d", total, n)
		}
		progress = append(progress, done)
	}
	res, err := fleet.Generate(ctx, e.store, opt)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{500, 1000, 1500, 2000}; !slices.Equal(progress, want) {
		t.Errorf("progress %v, want %v", progress, want)
	}

	// The result counts what the options asked for.
	wantRes := fleet.Result{Prefix: "fleet-ya", Seed: 1234, Things: n, Groups: 10, Certificates: n, Expiring: 100, Expired: 20,
		Old: 100, WeakKey: 20, Policies: 200, PermissivePolicies: 20, Attached: n,
		ChangeLogRows: 10 + 1 + 200 + 5*n} // groups, CA, policies, and per thing: thing, membership, certificate, principal, attachment
	got := res
	got.CACertificateID, got.CACertificatePEM, got.CAKeyPEM, got.Elapsed = "", "", "", 0
	got.KeyPool, got.WeakKeyPool, got.Workers = 0, 0, 0
	if got != wantRes {
		t.Errorf("result\n got %+v\nwant %+v", got, wantRes)
	}
	changes := fleetActorChanges(t, e.store)
	if len(changes) != res.ChangeLogRows {
		t.Errorf("change log has %d rows by %s, result says %d", len(changes), fleet.Actor, res.ChangeLogRows)
	}

	// Things, through the API.
	things := fleetAllThings(t, e.iot, iot.ListThingsInput{})
	if len(things) != n {
		t.Fatalf("ListThings: %d things, want %d", len(things), n)
	}
	thing0 := fleet.ThingName(res.Prefix, 0, n)
	if things[0] != thing0 || things[n-1] != fleet.ThingName(res.Prefix, n-1, n) {
		t.Errorf("ListThings from %s to %s, want %s to %s", things[0], things[n-1], thing0, fleet.ThingName(res.Prefix, n-1, n))
	}
	desc, err := e.iot.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(thing0)})
	if err != nil {
		t.Fatal(err)
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if desc.Version != 1 || !uuid.MatchString(aws.ToString(desc.ThingId)) || len(desc.Attributes) != 3 ||
		desc.Attributes["model"] == "" || desc.Attributes["firmware"] == "" || !strings.HasPrefix(desc.Attributes["site"], "site-") ||
		aws.ToString(desc.ThingArn) != "arn:aws:iot:us-east-1:123456789012:thing/"+thing0 {
		t.Errorf("DescribeThing %s: version %d id %s arn %s attributes %v", thing0, desc.Version, aws.ToString(desc.ThingId),
			aws.ToString(desc.ThingArn), desc.Attributes)
	}
	model := desc.Attributes["model"]
	byModel := fleetAllThings(t, e.iot, iot.ListThingsInput{AttributeName: aws.String("model"), AttributeValue: aws.String(model)})
	if len(byModel) == 0 || len(byModel) == n || !slices.Contains(byModel, thing0) {
		t.Errorf("ListThings model=%s: %d things (with %s: %v)", model, len(byModel), thing0, slices.Contains(byModel, thing0))
	}

	// Groups: 10 of 200 things each, each thing in one.
	for g := range 10 {
		group := fleet.GroupName(res.Prefix, g, 10)
		members := fleetGroupThings(t, e.iot, group)
		if len(members) != n/10 {
			t.Errorf("ListThingsInThingGroup %s: %d things, want %d", group, len(members), n/10)
		}
	}
	forThing, err := e.iot.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String(thing0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(forThing.ThingGroups) != 1 || aws.ToString(forThing.ThingGroups[0].GroupName) != fleet.GroupName(res.Prefix, 0, 10) {
		t.Errorf("ListThingGroupsForThing %s: %+v", thing0, forThing.ThingGroups)
	}

	// The CA is registered and ACTIVE.
	ca, err := e.iot.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(res.CACertificateID)})
	if err != nil {
		t.Fatal(err)
	}
	if ca.CertificateDescription.Status != "ACTIVE" || ca.CertificateDescription.CertificateMode != "DEFAULT" ||
		aws.ToString(ca.CertificateDescription.CertificatePem) != res.CACertificatePEM {
		t.Errorf("DescribeCACertificate: status %s mode %s", ca.CertificateDescription.Status, ca.CertificateDescription.CertificateMode)
	}
	caCert, err := warden.ParseCertificatePEM("CA", res.CACertificatePEM)
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode([]byte(res.CAKeyPEM)); block == nil || block.Type != "PRIVATE KEY" {
		t.Errorf("CA key is not a PKCS #8 PEM key")
	}

	// Certificates: every one real, signed by the CA, ACTIVE, with the
	// shares asked for, through the API listing.
	var certIDs []string
	listIn := &iot.ListCertificatesByCAInput{CaCertificateId: aws.String(res.CACertificateID), PageSize: aws.Int32(250)}
	for {
		out, err := e.iot.ListCertificatesByCA(ctx, listIn)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range out.Certificates {
			if c.Status != "ACTIVE" {
				t.Errorf("certificate %s is %s", aws.ToString(c.CertificateId), c.Status)
			}
			certIDs = append(certIDs, aws.ToString(c.CertificateId))
		}
		if out.NextMarker == nil {
			break
		}
		listIn.Marker = out.NextMarker
	}
	if len(certIDs) != n {
		t.Fatalf("ListCertificatesByCA: %d certificates, want %d", len(certIDs), n)
	}
	stored := map[string]warden.Certificate{}
	for page := (warden.Page{Limit: 1000}); ; {
		certs, next, err := e.store.Certificates(ctx, fleetScope, warden.CertificateFilter{Ascending: true}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range certs {
			stored[c.ID] = c
		}
		if next == "" {
			break
		}
		page.After = next
	}
	kinds := map[string][]string{}
	for _, id := range certIDs {
		c, ok := stored[id]
		if !ok {
			t.Fatalf("certificate %s is listed by the API but not stored", id)
		}
		x, err := warden.ParseCertificatePEM("certificate", c.PEM)
		if err != nil {
			t.Fatal(err)
		}
		if warden.CertificateID(x.Raw) != id || !warden.CheckIssuedBy(x, caCert) || x.Subject.CommonName == "" {
			t.Fatalf("certificate %s: id %s, signed by the CA %v", id, warden.CertificateID(x.Raw), warden.CheckIssuedBy(x, caCert))
		}
		if !c.NotBefore.Equal(x.NotBefore) || !c.NotAfter.Equal(x.NotAfter) || c.Facts.PublicKeySHA256 == "" {
			t.Fatalf("certificate %s: stored validity %v-%v, PEM %v-%v", id, c.NotBefore, c.NotAfter, x.NotBefore, x.NotAfter)
		}
		kind := "normal"
		switch {
		case x.NotAfter.Before(now):
			kind = "expired"
		case x.NotAfter.Before(now.AddDate(0, 0, 30)):
			kind = "expiring"
		case x.NotBefore.Before(now.AddDate(0, 0, -365)):
			kind = "old"
		case x.PublicKeyAlgorithm == x509.RSA:
			kind = "weak"
			if c.Facts.KeyAlgorithm != "RSA" || c.Facts.KeySize != 1024 {
				t.Errorf("weak certificate %s: %s %d", id, c.Facts.KeyAlgorithm, c.Facts.KeySize)
			}
		}
		if kind != "weak" && (c.Facts.KeyAlgorithm != "EC" || c.Facts.KeySize != 256) {
			t.Errorf("certificate %s (%s): %s %d, want EC 256", id, kind, c.Facts.KeyAlgorithm, c.Facts.KeySize)
		}
		if (kind == "expired" || kind == "old") != c.CreationDate.Before(now.Add(-time.Hour)) {
			t.Errorf("certificate %s (%s) created %v", id, kind, c.CreationDate)
		}
		kinds[kind] = append(kinds[kind], id)
	}
	for kind, want := range map[string]int{"expired": 20, "expiring": 100, "old": 100, "weak": 20, "normal": n - 240} {
		if len(kinds[kind]) != want {
			t.Errorf("%d %s certificates, want %d", len(kinds[kind]), kind, want)
		}
	}

	// DescribeCertificate of one of each kind; its thing and policy.
	for _, kind := range []string{"normal", "expired", "expiring", "old", "weak"} {
		id := kinds[kind][0]
		out, err := e.iot.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		d := out.CertificateDescription
		x, err := warden.ParseCertificatePEM("certificate", aws.ToString(d.CertificatePem))
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != "ACTIVE" || aws.ToString(d.CaCertificateId) != res.CACertificateID || d.CertificateMode != "DEFAULT" ||
			aws.ToString(d.OwnedBy) != fleetAccount || d.Validity == nil ||
			!aws.ToTime(d.Validity.NotBefore).Equal(x.NotBefore) || !aws.ToTime(d.Validity.NotAfter).Equal(x.NotAfter) {
			t.Errorf("DescribeCertificate %s (%s): status %s ca %s mode %s validity %+v, PEM %v-%v", id, kind, d.Status,
				aws.ToString(d.CaCertificateId), d.CertificateMode, d.Validity, x.NotBefore, x.NotAfter)
		}
		arn := aws.ToString(d.CertificateArn)
		principalThings, err := e.iot.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if len(principalThings.Things) != 1 || principalThings.Things[0] != x.Subject.CommonName {
			t.Errorf("ListPrincipalThings %s: %v, want [%s]", id, principalThings.Things, x.Subject.CommonName)
		}
		principals, err := e.iot.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String(x.Subject.CommonName)})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(principals.Principals, []string{arn}) {
			t.Errorf("ListThingPrincipals %s: %v, want [%s]", x.Subject.CommonName, principals.Principals, arn)
		}
		attached, err := e.iot.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if len(attached.Policies) != 1 || !strings.HasPrefix(aws.ToString(attached.Policies[0].PolicyName), res.Prefix+"-policy-") {
			t.Errorf("ListAttachedPolicies %s: %+v", id, attached.Policies)
		}
	}

	// Policies: 10% permissive, each attached to 10 certificates.
	var permissive, scoped []string
	listPol := &iot.ListPoliciesInput{PageSize: aws.Int32(250)}
	for {
		out, err := e.iot.ListPolicies(ctx, listPol)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range out.Policies {
			name := aws.ToString(p.PolicyName)
			pol, err := e.store.Policy(ctx, fleetScope, name)
			if err != nil {
				t.Fatal(err)
			}
			if fleetPermissive(t, pol.Document) {
				permissive = append(permissive, name)
			} else {
				scoped = append(scoped, name)
			}
			targets, _, err := e.store.PolicyTargets(ctx, fleetScope, name, warden.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(targets) != n/200 {
				t.Errorf("policy %s has %d targets, want %d", name, len(targets), n/200)
			}
		}
		if out.NextMarker == nil {
			break
		}
		listPol.Marker = out.NextMarker
	}
	if len(permissive) != 20 || len(scoped) != 180 {
		t.Errorf("%d permissive and %d scoped policies, want 20 and 180", len(permissive), len(scoped))
	}
	genID := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for _, name := range []string{permissive[0], scoped[0]} {
		p, err := e.iot.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		doc := aws.ToString(p.PolicyDocument)
		if aws.ToString(p.DefaultVersionId) != "1" || !genID.MatchString(aws.ToString(p.GenerationId)) ||
			fleetPermissive(t, doc) != (name == permissive[0]) {
			t.Errorf("GetPolicy %s: version %s generation %s document %s", name, aws.ToString(p.DefaultVersionId),
				aws.ToString(p.GenerationId), doc)
		}
		if name == scoped[0] && !strings.Contains(doc, "arn:aws:iot:us-east-1:123456789012:") {
			t.Errorf("scoped policy %s is not scoped to the account: %s", name, doc)
		}
		targets, err := e.iot.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if len(targets.Targets) != n/200 {
			t.Errorf("ListTargetsForPolicy %s: %d targets, want %d", name, len(targets.Targets), n/200)
		}
	}

	// The change log of one thing holds what the API would have logged.
	thingChanges, err := e.store.Changes(ctx, warden.ChangeFilter{ResourceArn: warden.ThingARN(fleetScope, thing0)})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, c := range thingChanges {
		ops = append(ops, c.Operation)
		if c.Actor != fleet.Actor || c.Before != "" || c.After == "" {
			t.Errorf("change %+v", c)
		}
	}
	if want := []string{"CreateThing", "AddThingToThingGroup", "AttachThingPrincipal"}; !slices.Equal(ops, want) {
		t.Errorf("changes of %s: %v, want %v", thing0, ops, want)
	}

	// The same prefix again is refused, whatever the counts (which change
	// the names' widths), and nothing is written.
	for _, size := range []int{10, n, 20000} {
		again := fleetOptions(size, 1234)
		if _, err := fleet.Generate(ctx, e.store, again); err == nil || !strings.Contains(err.Error(), "exists already") {
			t.Errorf("second run of %d things with the same prefix: err %v, want 'exists already'", size, err)
		}
	}
	if got := len(fleetActorChanges(t, e.store)); got != res.ChangeLogRows {
		t.Errorf("after the refused runs the change log has %d rows, want %d", got, res.ChangeLogRows)
	}
}

// A second run adds a batch with other names, and its things join the
// dynamic groups they match, as CreateThing would have made them.
func TestFleetGenerateTwiceWithDynamicGroup(t *testing.T) {
	ctx := context.Background()
	e := fleetOpen(t, t.TempDir())
	first, err := fleet.Generate(ctx, e.store, fleetOptions(300, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.iot.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{
		ThingGroupName: aws.String("sensors-a1"), QueryString: aws.String("attributes.model:sensor-a1")}); err != nil {
		t.Fatal(err)
	}
	opt := fleetOptions(300, 2)
	opt.KeyPool = 4
	second, err := fleet.Generate(ctx, e.store, opt)
	if err != nil {
		t.Fatal(err)
	}
	if first.Prefix == second.Prefix {
		t.Fatalf("both runs used prefix %s", first.Prefix)
	}
	if things := fleetAllThings(t, e.iot, iot.ListThingsInput{}); len(things) != 600 {
		t.Errorf("ListThings: %d things after two runs, want 600", len(things))
	}
	wantMembers := fleetAllThings(t, e.iot, iot.ListThingsInput{AttributeName: aws.String("model"), AttributeValue: aws.String("sensor-a1")})
	members := fleetGroupThings(t, e.iot, "sensors-a1")
	if len(members) == 0 || !slices.Equal(members, wantMembers) {
		t.Errorf("dynamic group members %d, want the %d things with model sensor-a1", len(members), len(wantMembers))
	}
	joined := 0
	for _, m := range members {
		if strings.HasPrefix(m, second.Prefix+"-") {
			joined++
		}
	}
	if joined == 0 {
		t.Errorf("no thing of the second run joined the dynamic group")
	}
	// The dynamic memberships are in the change log and in the count.
	if got := len(fleetActorChanges(t, e.store)); got != first.ChangeLogRows+second.ChangeLogRows {
		t.Errorf("change log has %d rows by %s, results say %d", got, fleet.Actor, first.ChangeLogRows+second.ChangeLogRows)
	}
	if want := 10 + 1 + 30 + 5*300 + joined; second.ChangeLogRows != want {
		t.Errorf("second run wrote %d change-log rows, want %d", second.ChangeLogRows, want)
	}
	// With a key pool, the normal certificates share 4 public keys.
	keys := map[string]bool{}
	certs, _, err := e.store.Certificates(ctx, fleetScope, warden.CertificateFilter{Ascending: true}, warden.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range certs[300:] {
		if c.Facts.KeyAlgorithm == "EC" {
			keys[c.Facts.PublicKeySHA256] = true
		}
	}
	if len(keys) != 4 {
		t.Errorf("second run used %d EC keys, want a pool of 4", len(keys))
	}
	// A prefix that starts another one's names is not taken for used.
	third := fleetOptions(10, 3)
	third.Prefix = "fleet"
	if _, err := fleet.Generate(ctx, e.store, third); err != nil {
		t.Errorf("prefix fleet next to %s and %s: %v", first.Prefix, second.Prefix, err)
	}
}

func TestFleetOptionsRejected(t *testing.T) {
	ctx := context.Background()
	e := fleetOpen(t, t.TempDir())
	for _, tc := range []struct {
		name string
		edit func(*fleet.Options)
		want string
	}{
		{"no things", func(o *fleet.Options) { o.Things = 0 }, "at least 1"},
		{"shares over 1", func(o *fleet.Options) { o.OldShare, o.ExpiringShare = 0.6, 0.5 }, "over 1"},
		{"negative share", func(o *fleet.Options) { o.PermissivePolicyShare = -0.1 }, "between 0 and 1"},
		{"bad prefix", func(o *fleet.Options) { o.Prefix = "a/b" }, "letters, digits"},
		{"long prefix", func(o *fleet.Options) { o.Prefix = strings.Repeat("p", 120) }, "too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := fleetOptions(10, 9)
			tc.edit(&o)
			_, err := fleet.Generate(ctx, e.store, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if got := len(fleetActorChanges(t, e.store)); got != 0 {
				t.Errorf("%d change-log rows written", got)
			}
		})
	}
}

// BulkInsert refuses batches that break the registry's rules, and writes
// nothing then.
func TestBulkInsertRejects(t *testing.T) {
	ctx := context.Background()
	e := fleetOpen(t, t.TempDir())
	now := time.Now().UTC()
	thing := func(name string) warden.Thing {
		return warden.Thing{Name: name, ID: warden.NewUUID(), CreationDate: now, LastModifiedDate: now}
	}
	if _, err := e.store.BulkInsert(ctx, fleetScope, &warden.BulkBatch{
		Things:      []warden.Thing{thing("existing")},
		ThingGroups: []warden.ThingGroup{{Name: "g1", ID: warden.NewUUID()}, {Name: "g2", ID: warden.NewUUID()}},
		Policies:    []warden.Policy{{Name: "p1", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`}},
	}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := e.iot.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{
		ThingGroupName: aws.String("dyn"), QueryString: aws.String("thingName:x*")}); err != nil {
		t.Fatal(err)
	}
	allChanges := func() int {
		t.Helper()
		all, err := e.store.Changes(ctx, warden.ChangeFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(all)
	}
	before := allChanges()
	for _, tc := range []struct {
		name  string
		batch warden.BulkBatch
		code  warden.Code
	}{
		{"existing thing", warden.BulkBatch{Things: []warden.Thing{thing("new"), thing("existing")}}, warden.CodeResourceAlreadyExists},
		{"thing twice", warden.BulkBatch{Things: []warden.Thing{thing("a"), thing("a")}}, warden.CodeInvalidRequest},
		{"existing group", warden.BulkBatch{ThingGroups: []warden.ThingGroup{{Name: "g1", ID: "x"}}}, warden.CodeResourceAlreadyExists},
		{"child group", warden.BulkBatch{ThingGroups: []warden.ThingGroup{{Name: "c", ID: "x", ParentName: "g1"}}}, warden.CodeInvalidRequest},
		{"existing policy", warden.BulkBatch{Policies: []warden.Policy{{Name: "p1", Document: warden.BlankPolicyDocument}}}, warden.CodeResourceAlreadyExists},
		{"malformed policy", warden.BulkBatch{Policies: []warden.Policy{{Name: "p2", Document: `{}`}}}, warden.CodeMalformedPolicy},
		{"membership of an old thing", warden.BulkBatch{Memberships: []warden.BulkMembership{{Thing: "existing", Group: "g1"}}}, warden.CodeInvalidRequest},
		{"missing group", warden.BulkBatch{Things: []warden.Thing{thing("a")},
			Memberships: []warden.BulkMembership{{Thing: "a", Group: "nope"}}}, warden.CodeInvalidRequest},
		{"dynamic group", warden.BulkBatch{Things: []warden.Thing{thing("a")},
			Memberships: []warden.BulkMembership{{Thing: "a", Group: "dyn"}}}, warden.CodeInvalidRequest},
		{"unknown policy", warden.BulkBatch{Certificates: []warden.Certificate{{ID: strings.Repeat("a", 64), Status: "ACTIVE"}},
			PolicyTargets: []warden.BulkPolicyTarget{{Policy: "nope", CertificateID: strings.Repeat("a", 64)}}}, warden.CodeResourceNotFound},
		{"unregistered CA", warden.BulkBatch{Certificates: []warden.Certificate{{ID: strings.Repeat("a", 64), Status: "ACTIVE",
			CACertificateID: strings.Repeat("b", 64)}}}, warden.CodeCertificateValidation},
		{"principal of an old thing", warden.BulkBatch{Certificates: []warden.Certificate{{ID: strings.Repeat("a", 64), Status: "ACTIVE"}},
			Principals: []warden.BulkPrincipal{{Thing: "existing", CertificateID: strings.Repeat("a", 64)}}}, warden.CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.store.BulkInsert(ctx, fleetScope, &tc.batch, now)
			if code := warden.ErrorCode(err); code != tc.code {
				t.Fatalf("err %v (code %s), want %s", err, code, tc.code)
			}
			if after := allChanges(); after != before {
				t.Errorf("change log grew from %d to %d rows", before, after)
			}
			if things := fleetAllThings(t, e.iot, iot.ListThingsInput{}); !slices.Equal(things, []string{"existing"}) {
				t.Errorf("things after the rejected batch: %v", things)
			}
		})
	}
}

// The generated rows are those the API writes for the same resources:
// a thing, its membership, a certificate registered with the fleet's CA and
// attached to it, and a policy attached to the certificate, made through the
// API, are compared column by column with a generated one.
func TestFleetRowsMatchAPI(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := fleetOpen(t, dir)
	opt := fleetOptions(20, 77)
	opt.ExpiringShare, opt.ExpiredShare, opt.OldShare, opt.WeakKeyShare, opt.PermissivePolicyShare = 0, 0, 0, 0, 0
	opt.Policies = 20 // one certificate each, as the API-made policy has
	res, err := fleet.Generate(ctx, e.store, opt)
	if err != nil {
		t.Fatal(err)
	}
	genThing := fleet.ThingName(res.Prefix, 0, 20)
	group := fleet.GroupName(res.Prefix, 0, 10)
	desc, err := e.iot.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(genThing)})
	if err != nil {
		t.Fatal(err)
	}
	principals, err := e.iot.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String(genThing)})
	if err != nil || len(principals.Principals) != 1 {
		t.Fatalf("ListThingPrincipals %s: %v %v", genThing, principals, err)
	}
	genCertArn := principals.Principals[0]
	attached, err := e.iot.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(genCertArn)})
	if err != nil || len(attached.Policies) != 1 {
		t.Fatalf("ListAttachedPolicies: %v %v", attached, err)
	}
	genPolicy := aws.ToString(attached.Policies[0].PolicyName)
	genDoc, err := e.iot.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: attached.Policies[0].PolicyName})
	if err != nil {
		t.Fatal(err)
	}

	// The same through the API.
	const apiThing, apiPolicy = "api-thing", "api-policy"
	if _, err := e.iot.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(apiThing),
		AttributePayload: &iottypes.AttributePayload{Attributes: desc.Attributes}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.iot.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String(apiThing), ThingGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	const apiGroup = "api-group"
	genGroup, err := e.iot.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(group)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.iot.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String(apiGroup),
		ThingGroupProperties: genGroup.ThingGroupProperties}); err != nil {
		t.Fatal(err)
	}
	certPEM := fleetSign(t, res, apiThing)
	reg, err := e.iot.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(certPEM), SetAsActive: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	apiCertArn := aws.ToString(reg.CertificateArn)
	if _, err := e.iot.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(apiThing), Principal: reg.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.iot.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(apiPolicy), PolicyDocument: genDoc.PolicyDocument}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.iot.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(apiPolicy), Target: reg.CertificateArn}); err != nil {
		t.Fatal(err)
	}

	db := wardentest.RawDB(t, dir)
	// Each query selects the columns that must be equal; variable ones
	// (ids, names, dates, keys) are checked for their form instead.
	genCertID, apiCertID := genCertArn[strings.LastIndex(genCertArn, "/")+1:], aws.ToString(reg.CertificateId)
	for _, q := range []struct {
		query    string
		gen, api []any
	}{
		{`SELECT thing_type_name, attributes, version, created_at = updated_at, length(id) FROM things WHERE name = ?`,
			[]any{genThing}, []any{apiThing}},
		{`SELECT parent_name, root_name = name, depth, replace(description, ?, 'PREFIX'), replace(attributes, ?, 'PREFIX'), dynamic,
			index_name, query_string, query_version, status, version, created_at = updated_at, length(id) FROM thing_groups WHERE name = ?`,
			[]any{res.Prefix, res.Prefix, group}, []any{res.Prefix, res.Prefix, apiGroup}},
		{`SELECT ancestor = descendant, distance FROM thing_group_ancestors WHERE descendant = ?`, []any{group}, []any{apiGroup}},
		{`SELECT string_agg(operation || ' ' || before_doc || ' ' || replace(after_doc, ?, 'NAME'), ' | ') FROM
			(SELECT operation, before_doc, after_doc FROM change_log WHERE resource_arn = ? ORDER BY seq) AS c`,
			[]any{group, warden.ThingGroupARN(fleetScope, group)}, []any{apiGroup, warden.ThingGroupARN(fleetScope, apiGroup)}},
		{`SELECT string_agg(attr_name || '=' || attr_value, ';') FROM (SELECT attr_name, attr_value FROM thing_attributes WHERE thing_name = ? ORDER BY attr_name) AS a`,
			[]any{genThing}, []any{apiThing}},
		{`SELECT group_name, dynamic FROM thing_group_members WHERE thing_name = ?`, []any{genThing}, []any{apiThing}},
		{`SELECT thing_principal_type, principal = ? FROM thing_principals WHERE thing_name = ?`,
			[]any{genCertArn, genThing}, []any{apiCertArn, apiThing}},
		{`SELECT status, ca_certificate_id, certificate_mode, customer_version, length(generation_id), created_at = updated_at,
			issuer, key_algorithm, key_size, signature_algorithm, crl_distribution_points, length(public_key_sha256),
			length(public_key) > 0, length(serial) > 0, subject = 'CN=' || ? || ',O=Warden fleet generator', pem LIKE '-----BEGIN CERTIFICATE-----%'
			FROM certificates WHERE id = ?`, []any{genThing, genCertID}, []any{apiThing, apiCertID}},
		{`SELECT p.default_version, p.next_version, length(p.generation_id), p.created_at = p.updated_at, v.version, v.document,
			v.created_at = p.created_at FROM policies p JOIN policy_versions v ON v.policy_name = p.name WHERE p.name = ?`,
			[]any{genPolicy}, []any{apiPolicy}},
		{`SELECT COUNT(*) FROM policy_targets WHERE policy_name = ? AND target = ?`, []any{genPolicy, genCertArn}, []any{apiPolicy, apiCertArn}},
		{`SELECT string_agg(operation || ' ' || before_doc || ' ' || replace(replace(after_doc, ?, 'CERT'), ?, 'NAME'), ' | ') FROM
			(SELECT operation, before_doc, after_doc FROM change_log WHERE resource_arn = ? ORDER BY seq) AS c`,
			[]any{genCertArn, genThing, warden.ThingARN(fleetScope, genThing)}, []any{apiCertArn, apiThing, warden.ThingARN(fleetScope, apiThing)}},
		{`SELECT string_agg(operation || ' ' || before_doc || ' ' || after_doc, ' | ') FROM
			(SELECT operation, before_doc, after_doc FROM change_log WHERE resource_arn = ? ORDER BY seq) AS c`,
			[]any{genCertArn}, []any{apiCertArn}},
		{`SELECT string_agg(operation || ' ' || before_doc || ' ' || replace(after_doc, ?, 'CERT'), ' | ') FROM
			(SELECT operation, before_doc, after_doc FROM change_log WHERE resource_arn = ? ORDER BY seq) AS c`,
			[]any{genCertArn, warden.PolicyARN(fleetScope, genPolicy)}, []any{apiCertArn, warden.PolicyARN(fleetScope, apiPolicy)}},
	} {
		gen, api := fleetRow(t, db, q.query, q.gen...), fleetRow(t, db, q.query, q.api...)
		if gen == "" || gen != api {
			t.Errorf("%s\ngenerated %s\n      API %s", strings.Join(strings.Fields(q.query), " "), gen, api)
		}
	}
}

// fleetRow runs query and returns its rows as text.
func fleetRow(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(vals...))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, "\n")
}

// fleetSign makes a device certificate for thing signed by the fleet's CA,
// as a manufacturer holding the CA key would.
func fleetSign(t *testing.T, res fleet.Result, thing string) string {
	t.Helper()
	ca, err := warden.ParseCertificatePEM("CA", res.CACertificatePEM)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(res.CAKeyPEM))
	caKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()),
		Subject:   pkix.Name{CommonName: thing, Organization: []string{"Warden fleet generator"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	return warden.EncodeCertificatePEM(x509test.Sign(t, tmpl, ca, &key.PublicKey, caKey).Raw)
}
