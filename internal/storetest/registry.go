package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/warden-iot/warden"
)

// things: create is idempotent for an identical thing and a conflict for a
// different one; updates count versions; lists page by name; a thing is
// visible in its own scope only.
func things(t *testing.T, st warden.Store) {
	thing := warden.Thing{Name: "t1", ID: "id-t1", TypeName: "sensor", Attributes: map[string]string{"a": "1"},
		Version: 1, CreationDate: t0, LastModifiedDate: t0}
	stored, created, err := st.CreateThing(ctx, scope, thing)
	if err != nil || !created || stored.ID != "id-t1" || stored.Version != 1 {
		t.Fatalf("CreateThing = %+v, created %v, %v", stored, created, err)
	}
	if again, created, err := st.CreateThing(ctx, scope, thing); err != nil || created || again.ID != "id-t1" {
		t.Fatalf("CreateThing again = %+v, created %v, %v; want the stored thing", again, created, err)
	}
	different := thing
	different.ID, different.Attributes = "id-other", map[string]string{"a": "2"}
	_, _, err = st.CreateThing(ctx, scope, different)
	wantCode(t, "CreateThing of a different thing of that name", err, warden.CodeResourceAlreadyExists)
	_, err = st.Thing(ctx, scope, "missing")
	wantCode(t, "Thing(missing)", err, warden.CodeResourceNotFound)
	notElsewhere(t, "Thing", warden.CodeResourceNotFound, func(s warden.Scope) error { _, err := st.Thing(ctx, s, "t1"); return err })
	emptyElsewhere(t, "Things", func(s warden.Scope) ([]warden.Thing, error) {
		things, _, err := st.Things(ctx, s, warden.ThingFilter{}, warden.Page{Limit: 10})
		return things, err
	})

	updated, err := st.UpdateThing(ctx, scope, "t1", warden.ThingUpdate{Attributes: map[string]string{"b": "2"}, Merge: true}, t0.Add(1))
	if err != nil || updated.Version != 2 || updated.Attributes["a"] != "1" || updated.Attributes["b"] != "2" {
		t.Fatalf("UpdateThing (merge) = %+v, %v", updated, err)
	}
	stale := int64(1)
	_, err = st.UpdateThing(ctx, scope, "t1", warden.ThingUpdate{ExpectedVersion: &stale}, t0.Add(2))
	wantCode(t, "UpdateThing at a stale version", err, warden.CodeVersionConflict)
	_, err = st.UpdateThing(ctx, scope, "missing", warden.ThingUpdate{}, t0)
	wantCode(t, "UpdateThing(missing)", err, warden.CodeResourceNotFound)

	for i := range 6 {
		_, _, err := st.CreateThing(ctx, scope, warden.Thing{Name: fmt.Sprintf("p%d", i), ID: fmt.Sprint("id-p", i), Version: 1,
			CreationDate: t0, LastModifiedDate: t0})
		must(t, err)
	}
	all := walk(t, 2, func(p warden.Page) ([]warden.Thing, string, error) {
		return st.Things(ctx, scope, warden.ThingFilter{}, p)
	})
	wantNames(t, "Things by name", names(all, func(t warden.Thing) string { return t.Name }), "p0", "p1", "p2", "p3", "p4", "p5", "t1")
	typed, _, err := st.Things(ctx, scope, warden.ThingFilter{TypeName: "sensor"}, warden.Page{Limit: 10})
	must(t, err)
	wantNames(t, "Things of type sensor", names(typed, func(t warden.Thing) string { return t.Name }), "t1")
	b := "2"
	byAttr, _, err := st.Things(ctx, scope, warden.ThingFilter{AttributeName: "b", AttributeValue: &b}, warden.Page{Limit: 10})
	must(t, err)
	wantNames(t, "Things with b=2", names(byAttr, func(t warden.Thing) string { return t.Name }), "t1")

	must(t, st.DeleteThing(ctx, scope, "t1", nil, t0.Add(3)))
	_, err = st.Thing(ctx, scope, "t1")
	wantCode(t, "Thing after DeleteThing", err, warden.CodeResourceNotFound)
	must(t, st.DeleteThing(ctx, scope, "t1", nil, t0.Add(3)))
}

// thingGroups: static groups nest, list by name and hold things; a group
// with children cannot be deleted; groups stay in their scope.
func thingGroups(t *testing.T, st warden.Store) {
	group := func(name, parent string) warden.ThingGroup {
		return warden.ThingGroup{Name: name, ID: "id-" + name, ParentName: parent, Version: 1, CreationDate: t0, LastModifiedDate: t0}
	}
	for _, g := range []warden.ThingGroup{group("root", ""), group("child", "root"), group("leaf", "child"), group("other", "")} {
		if _, created, err := st.CreateThingGroup(ctx, scope, g, nil); err != nil || !created {
			t.Fatalf("CreateThingGroup(%s): created %v, %v", g.Name, created, err)
		}
	}
	if _, created, err := st.CreateThingGroup(ctx, scope, group("root", ""), nil); err != nil || created {
		t.Fatalf("CreateThingGroup of an identical group: created %v, %v", created, err)
	}
	different := group("root", "")
	different.Description = "another"
	_, _, err := st.CreateThingGroup(ctx, scope, different, nil)
	wantCode(t, "CreateThingGroup of a different group of that name", err, warden.CodeResourceAlreadyExists)
	leaf, err := st.ThingGroup(ctx, scope, "leaf")
	if err != nil || !equal(leaf.RootToParent, []string{"root", "child"}) {
		t.Fatalf("ThingGroup(leaf) = %+v, %v; want root, child above it", leaf, err)
	}
	_, err = st.ThingGroup(ctx, scope, "missing")
	wantCode(t, "ThingGroup(missing)", err, warden.CodeResourceNotFound)
	notElsewhere(t, "ThingGroup", warden.CodeResourceNotFound, func(s warden.Scope) error { _, err := st.ThingGroup(ctx, s, "root"); return err })
	emptyElsewhere(t, "ThingGroups", func(s warden.Scope) ([]string, error) {
		names, _, err := st.ThingGroups(ctx, s, warden.ThingGroupFilter{}, warden.Page{Limit: 10})
		return names, err
	})

	all := walk(t, 1, func(p warden.Page) ([]string, string, error) {
		return st.ThingGroups(ctx, scope, warden.ThingGroupFilter{}, p)
	})
	wantNames(t, "ThingGroups", all, "child", "leaf", "other", "root")
	recursive := true
	below, _, err := st.ThingGroups(ctx, scope, warden.ThingGroupFilter{Parent: "root", Recursive: &recursive}, warden.Page{Limit: 10})
	must(t, err)
	wantNames(t, "ThingGroups below root", below, "child", "leaf")

	for _, name := range []string{"a", "b", "c"} {
		_, _, err := st.CreateThing(ctx, scope, warden.Thing{Name: name, ID: "id-" + name, Version: 1, CreationDate: t0, LastModifiedDate: t0})
		must(t, err)
	}
	must(t, st.AddThingToThingGroup(ctx, scope, "a", "leaf", false, t0))
	must(t, st.AddThingToThingGroup(ctx, scope, "a", "leaf", false, t0))
	must(t, st.AddThingToThingGroup(ctx, scope, "b", "child", false, t0))
	must(t, st.AddThingToThingGroup(ctx, scope, "c", "other", false, t0))
	wantCode(t, "AddThingToThingGroup of a missing thing", st.AddThingToThingGroup(ctx, scope, "missing", "leaf", false, t0),
		warden.CodeResourceNotFound)
	wantCode(t, "AddThingToThingGroup to a missing group", st.AddThingToThingGroup(ctx, scope, "a", "missing", false, t0),
		warden.CodeResourceNotFound)
	wantCode(t, "AddThingToThingGroup in another account", st.AddThingToThingGroup(ctx, otherAccount, "a", "leaf", false, t0),
		warden.CodeResourceNotFound)
	members := walk(t, 1, func(p warden.Page) ([]string, string, error) {
		return st.ThingsInThingGroup(ctx, scope, "child", true, p)
	})
	wantNames(t, "ThingsInThingGroup(child, recursive)", members, "b", "a")
	direct, _, err := st.ThingsInThingGroup(ctx, scope, "child", false, warden.Page{Limit: 10})
	must(t, err)
	wantNames(t, "ThingsInThingGroup(child)", direct, "b")
	groupsOfA, _, err := st.ThingGroupsForThing(ctx, scope, "a", warden.Page{Limit: 10})
	must(t, err)
	wantNames(t, "ThingGroupsForThing(a)", groupsOfA, "leaf")
	must(t, st.RemoveThingFromThingGroup(ctx, scope, "a", "leaf", t0))
	groupsOfA, _, err = st.ThingGroupsForThing(ctx, scope, "a", warden.Page{Limit: 10})
	if err != nil || len(groupsOfA) != 0 {
		t.Fatalf("ThingGroupsForThing(a) after removal = %q, %v", groupsOfA, err)
	}

	wantCode(t, "DeleteThingGroup of a group with children", st.DeleteThingGroup(ctx, scope, "root", false, nil, t0), warden.CodeInvalidRequest)
	must(t, st.DeleteThingGroup(ctx, scope, "leaf", false, nil, t0))
	must(t, st.DeleteThingGroup(ctx, scope, "leaf", false, nil, t0))
	_, err = st.ThingGroup(ctx, scope, "leaf")
	wantCode(t, "ThingGroup after DeleteThingGroup", err, warden.CodeResourceNotFound)
}

// dynamicGroups: a dynamic group's members are the things its query
// matches, kept so as things are created, changed and deleted and when the
// query changes; it is deleted only as a dynamic group.
func dynamicGroups(t *testing.T, st warden.Store) {
	color := func(name, c string) {
		t.Helper()
		_, _, err := st.CreateThing(ctx, scope, warden.Thing{Name: name, ID: "id-" + name, Attributes: map[string]string{"color": c},
			Version: 1, CreationDate: t0, LastModifiedDate: t0})
		must(t, err)
	}
	color("a", "red")
	color("b", "blue")
	color("c", "red")
	query := &warden.DynamicGroupQuery{IndexName: warden.DefaultIndexName, QueryString: "attributes.color:red",
		QueryVersion: warden.DefaultQueryVersion}
	if _, created, err := st.CreateThingGroup(ctx, scope, warden.ThingGroup{Name: "reds", ID: "id-reds", Version: 1,
		CreationDate: t0, LastModifiedDate: t0, Query: query}, nil); err != nil || !created {
		t.Fatalf("CreateThingGroup (dynamic): created %v, %v", created, err)
	}
	members := func(want ...string) {
		t.Helper()
		got := walk(t, 1, func(p warden.Page) ([]string, string, error) {
			return st.ThingsInThingGroup(ctx, scope, "reds", false, p)
		})
		wantNames(t, "members of reds", got, want...)
	}
	members("a", "c")
	if g, err := st.ThingGroup(ctx, scope, "reds"); err != nil || !g.Dynamic() || g.Query.Status != warden.DynamicGroupActive {
		t.Fatalf("ThingGroup(reds) = %+v, %v; want an ACTIVE dynamic group", g, err)
	}
	color("d", "red")
	_, err := st.UpdateThing(ctx, scope, "a", warden.ThingUpdate{Attributes: map[string]string{"color": "blue"}, Merge: true}, t0)
	must(t, err)
	must(t, st.DeleteThing(ctx, scope, "c", nil, t0))
	members("d")
	_, err = st.UpdateThingGroup(ctx, scope, "reds", warden.ThingGroupUpdate{Dynamic: true, QueryString: new("attributes.color:blue")}, t0)
	must(t, err)
	members("a", "b")
	if groups, _, err := st.ThingGroupsForThing(ctx, scope, "b", warden.Page{Limit: 10}); err != nil || !equal(groups, []string{"reds"}) {
		t.Fatalf("ThingGroupsForThing(b) = %q, %v", groups, err)
	}
	wantCode(t, "DeleteThingGroup of a dynamic group as static", st.DeleteThingGroup(ctx, scope, "reds", false, nil, t0),
		warden.CodeInvalidRequest)
	must(t, st.DeleteThingGroup(ctx, scope, "reds", true, nil, t0))
	_, err = st.ThingGroup(ctx, scope, "reds")
	wantCode(t, "ThingGroup after DeleteThingGroup", err, warden.CodeResourceNotFound)
}

// newCertificate makes a device certificate issued by a new CA.
func newCertificate(t *testing.T, status string) warden.Certificate {
	t.Helper()
	caPEM, caKey, err := warden.NewIssuingCA(scope, t0)
	must(t, err)
	issued, err := warden.IssueCertificate(caPEM, caKey, t0)
	must(t, err)
	return warden.NewCertificateFrom(issued.Cert, status, warden.ModeDefault, t0)
}

// certificates: a certificate is stored once per scope, changes status,
// attaches to things, and is deleted only when inactive and detached.
func certificates(t *testing.T, st warden.Store) {
	var ids []string
	for range 3 {
		c := newCertificate(t, warden.CertActive)
		must(t, st.CreateCertificate(ctx, scope, c, "CreateKeysAndCertificate"))
		ids = append(ids, c.ID)
	}
	c, err := st.Certificate(ctx, scope, ids[0])
	if err != nil || c.ID != ids[0] || c.Status != warden.CertActive {
		t.Fatalf("Certificate = %+v, %v", c, err)
	}
	wantCode(t, "CreateCertificate again", st.CreateCertificate(ctx, scope, c, "CreateKeysAndCertificate"), warden.CodeResourceAlreadyExists)
	_, err = st.Certificate(ctx, scope, "0000000000000000000000000000000000000000000000000000000000000000")
	wantCode(t, "Certificate(missing)", err, warden.CodeResourceNotFound)
	notElsewhere(t, "Certificate", warden.CodeResourceNotFound, func(s warden.Scope) error { _, err := st.Certificate(ctx, s, ids[0]); return err })
	emptyElsewhere(t, "Certificates", func(s warden.Scope) ([]warden.Certificate, error) {
		certs, _, err := st.Certificates(ctx, s, warden.CertificateFilter{}, warden.Page{Limit: 10})
		return certs, err
	})
	listed := walk(t, 2, func(p warden.Page) ([]warden.Certificate, string, error) {
		return st.Certificates(ctx, scope, warden.CertificateFilter{Ascending: true}, p)
	})
	if got := names(listed, func(c warden.Certificate) string { return c.ID }); len(got) != 3 {
		t.Fatalf("Certificates = %q, want the 3 created", got)
	}

	_, _, err = st.CreateThing(ctx, scope, warden.Thing{Name: "device", ID: "id-device", Version: 1, CreationDate: t0, LastModifiedDate: t0})
	must(t, err)
	arn := scope.CertificateARN(c.ID)
	must(t, st.AttachThingPrincipal(ctx, scope, "device", arn, "", t0))
	must(t, st.AttachThingPrincipal(ctx, scope, "device", arn, "", t0))
	wantCode(t, "AttachThingPrincipal to a missing thing", st.AttachThingPrincipal(ctx, scope, "missing", arn, "", t0), warden.CodeResourceNotFound)
	principals, _, err := st.ThingPrincipals(ctx, scope, "device", warden.Page{Limit: 10})
	if err != nil || len(principals) != 1 || principals[0].Principal != arn {
		t.Fatalf("ThingPrincipals = %+v, %v", principals, err)
	}
	attached, _, err := st.PrincipalThings(ctx, scope, arn, warden.Page{Limit: 10})
	must(t, err)
	wantNames(t, "PrincipalThings", attached, "device")
	wantCode(t, "DeleteThing with a principal attached", st.DeleteThing(ctx, scope, "device", nil, t0), warden.CodeInvalidRequest)

	changed, err := st.UpdateCertificateStatus(ctx, scope, c.ID, warden.CertInactive, t0)
	if err != nil || !changed {
		t.Fatalf("UpdateCertificateStatus: changed %v, %v", changed, err)
	}
	if changed, err := st.UpdateCertificateStatus(ctx, scope, c.ID, warden.CertInactive, t0); err != nil || changed {
		t.Fatalf("UpdateCertificateStatus to the status it has: changed %v, %v", changed, err)
	}
	wantCode(t, "DeleteCertificate while attached", st.DeleteCertificate(ctx, scope, c.ID, false, t0), warden.CodeDeleteConflict)
	must(t, st.DetachThingPrincipal(ctx, scope, "device", arn, t0))
	wantCode(t, "DeleteCertificate of an ACTIVE certificate", st.DeleteCertificate(ctx, scope, ids[1], false, t0), warden.CodeCertificateState)
	must(t, st.DeleteCertificate(ctx, scope, c.ID, false, t0))
	_, err = st.Certificate(ctx, scope, c.ID)
	wantCode(t, "Certificate after DeleteCertificate", err, warden.CodeResourceNotFound)
	_, err = st.CACertificate(ctx, scope, "missing")
	wantCode(t, "CACertificate(missing)", err, warden.CodeResourceNotFound)
}

// deviceCertificate: DeviceCertificate finds a certificate by id in any
// scope; of several registrations, the earliest; the change log's head
// moves with each registration.
func deviceCertificate(t *testing.T, st warden.Store) {
	first := warden.Scope{Account: "222222222222", Region: "eu-west-1"}
	second := warden.Scope{Account: "111111111111", Region: "us-east-1"}
	c := newCertificate(t, warden.CertActive)
	if _, _, found, err := st.DeviceCertificate(ctx, c.ID); err != nil || found {
		t.Fatalf("before registration: found %v, err %v", found, err)
	}
	before, err := st.ChangeLogHead(ctx)
	must(t, err)
	must(t, st.CreateCertificate(ctx, first, c, "CreateKeysAndCertificate"))
	inactive := c
	inactive.Status = warden.CertInactive
	must(t, st.CreateCertificate(ctx, second, inactive, "RegisterCertificateWithoutCA"))
	s, got, found, err := st.DeviceCertificate(ctx, c.ID)
	if err != nil || !found || s != first || got.ID != c.ID || got.Status != warden.CertActive {
		t.Fatalf("got scope %v, %s %s, found %v, err %v; want the first registration (%v, ACTIVE)", s, got.ID, got.Status, found, err, first)
	}
	after, err := st.ChangeLogHead(ctx)
	if err != nil || after < before+2 {
		t.Fatalf("ChangeLogHead %d after two registrations, was %d (err %v)", after, before, err)
	}
}

const policyDocument = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`

// policies: names are unique per scope, versions count up to
// MaxPolicyVersions, the default version cannot be deleted, an attached
// policy cannot be deleted.
func policies(t *testing.T, st warden.Store) {
	p, err := st.CreatePolicy(ctx, scope, "p1", policyDocument, nil, t0)
	if err != nil || p.DefaultVersionID != "1" {
		t.Fatalf("CreatePolicy = %+v, %v", p, err)
	}
	_, err = st.CreatePolicy(ctx, scope, "p1", policyDocument, nil, t0)
	wantCode(t, "CreatePolicy of an existing name", err, warden.CodeResourceAlreadyExists)
	_, err = st.CreatePolicy(ctx, scope, "bad", "{", nil, t0)
	wantCode(t, "CreatePolicy of a malformed document", err, warden.CodeMalformedPolicy)
	_, err = st.Policy(ctx, scope, "missing")
	wantCode(t, "Policy(missing)", err, warden.CodeResourceNotFound)
	notElsewhere(t, "Policy", warden.CodeResourceNotFound, func(s warden.Scope) error { _, err := st.Policy(ctx, s, "p1"); return err })
	emptyElsewhere(t, "Policies", func(s warden.Scope) ([]warden.Policy, error) {
		policies, _, err := st.Policies(ctx, s, true, warden.Page{Limit: 10})
		return policies, err
	})
	for _, name := range []string{"p2", "p3"} {
		_, err := st.CreatePolicy(ctx, scope, name, policyDocument, nil, t0)
		must(t, err)
	}
	listed := walk(t, 2, func(pg warden.Page) ([]warden.Policy, string, error) { return st.Policies(ctx, scope, true, pg) })
	wantNames(t, "Policies oldest first", names(listed, func(p warden.Policy) string { return p.Name }), "p1", "p2", "p3")

	for i := 2; i <= warden.MaxPolicyVersions; i++ {
		v, err := st.CreatePolicyVersion(ctx, scope, "p1", policyDocument, i == 3, t0)
		if err != nil || v.VersionID != fmt.Sprint(i) {
			t.Fatalf("CreatePolicyVersion %d = %+v, %v", i, v, err)
		}
	}
	_, err = st.CreatePolicyVersion(ctx, scope, "p1", policyDocument, false, t0)
	wantCode(t, "CreatePolicyVersion over the limit", err, warden.CodeVersionsLimitExceeded)
	versions, err := st.PolicyVersions(ctx, scope, "p1")
	if err != nil || len(versions) != warden.MaxPolicyVersions {
		t.Fatalf("PolicyVersions = %d versions, %v", len(versions), err)
	}
	if v, err := st.PolicyVersion(ctx, scope, "p1", "3"); err != nil || !v.IsDefault {
		t.Fatalf("PolicyVersion(3) = %+v, %v; want the default", v, err)
	}
	_, err = st.PolicyVersion(ctx, scope, "p1", "9")
	wantCode(t, "PolicyVersion(9)", err, warden.CodeResourceNotFound)
	wantCode(t, "DeletePolicyVersion of the default", st.DeletePolicyVersion(ctx, scope, "p1", "3", t0), warden.CodeDeleteConflict)
	must(t, st.SetDefaultPolicyVersion(ctx, scope, "p1", "1", t0))
	must(t, st.DeletePolicyVersion(ctx, scope, "p1", "3", t0))
	if v, err := st.CreatePolicyVersion(ctx, scope, "p1", policyDocument, false, t0); err != nil || v.VersionID != "6" {
		t.Fatalf("CreatePolicyVersion after a deletion = %+v, %v; want version 6 (ids are never reused)", v, err)
	}
	wantCode(t, "DeletePolicy with versions", st.DeletePolicy(ctx, scope, "p1", t0), warden.CodeDeleteConflict)

	c := newCertificate(t, warden.CertActive)
	must(t, st.CreateCertificate(ctx, scope, c, "CreateKeysAndCertificate"))
	must(t, st.AttachPolicy(ctx, scope, "p2", scope.CertificateARN(c.ID), t0))
	must(t, st.AttachPolicy(ctx, scope, "p2", scope.CertificateARN(c.ID), t0))
	wantCode(t, "AttachPolicy to a missing target", st.AttachPolicy(ctx, scope, "p2", scope.CertificateARN(strings.Repeat("0", 64)), t0),
		warden.CodeResourceNotFound)
	wantCode(t, "DeletePolicy while attached", st.DeletePolicy(ctx, scope, "p2", t0), warden.CodeDeleteConflict)
	must(t, st.DeletePolicy(ctx, scope, "p3", t0))
	_, err = st.Policy(ctx, scope, "p3")
	wantCode(t, "Policy after DeletePolicy", err, warden.CodeResourceNotFound)
}

// logging: the options of each scope are unset until set; per-target
// levels list after the default level in the order first set, and page; a
// thing group target must exist.
func logging(t *testing.T, st warden.Store) {
	_, err := st.V2LoggingOptions(ctx, scope)
	wantCode(t, "V2LoggingOptions before any set", err, warden.CodeNotConfigured)
	v2 := warden.V2LoggingOptions{RoleArn: "arn:aws:iam::123456789012:role/Logging", DefaultLogLevel: "INFO"}
	must(t, st.SetV2LoggingOptions(ctx, scope, v2, t0))
	if got, err := st.V2LoggingOptions(ctx, scope); err != nil || got != v2 {
		t.Fatalf("V2LoggingOptions = %+v, %v; want %+v", got, err, v2)
	}
	notElsewhere(t, "V2LoggingOptions", warden.CodeNotConfigured, func(s warden.Scope) error {
		_, err := st.V2LoggingOptions(ctx, s)
		return err
	})
	if _, ok, err := st.LoggingOptions(ctx, scope); err != nil || ok {
		t.Fatalf("LoggingOptions before any set: ok %v, %v", ok, err)
	}
	v1 := warden.LoggingOptions{RoleArn: "arn:aws:iam::123456789012:role/Logging", LogLevel: "WARN"}
	must(t, st.SetLoggingOptions(ctx, scope, v1, t0))
	if got, ok, err := st.LoggingOptions(ctx, scope); err != nil || !ok || got != v1 {
		t.Fatalf("LoggingOptions = %+v, %v, %v; want %+v", got, ok, err, v1)
	}

	level := func(typ, name, level string) warden.LogTargetLevel {
		return warden.LogTargetLevel{Target: warden.LogTarget{Type: typ, Name: name}, Level: level}
	}
	wantCode(t, "SetV2LoggingLevel of a missing thing group",
		st.SetV2LoggingLevel(ctx, scope, level(warden.LogTargetThingGroup, "missing", "DEBUG"), t0), warden.CodeInvalidRequest)
	for _, l := range []warden.LogTargetLevel{level(warden.LogTargetClientID, "c2", "DEBUG"), level(warden.LogTargetClientID, "c1", "ERROR"),
		level(warden.LogTargetSourceIP, "192.0.2.1", "WARN"), level(warden.LogTargetClientID, "c2", "INFO")} {
		must(t, st.SetV2LoggingLevel(ctx, scope, l, t0))
	}
	levels := walk(t, 1, func(p warden.Page) ([]warden.LogTargetLevel, string, error) {
		return st.V2LoggingLevels(ctx, scope, "", p)
	})
	wantNames(t, "V2LoggingLevels", names(levels, func(l warden.LogTargetLevel) string { return l.Target.Type + "/" + l.Target.Name + "=" + l.Level }),
		"DEFAULT/=INFO", "CLIENT_ID/c2=INFO", "CLIENT_ID/c1=ERROR", "SOURCE_IP/192.0.2.1=WARN")
	notElsewhere(t, "V2LoggingLevels", warden.CodeNotConfigured, func(s warden.Scope) error {
		_, _, err := st.V2LoggingLevels(ctx, s, "", warden.Page{Limit: 10})
		return err
	})
	must(t, st.DeleteV2LoggingLevel(ctx, scope, warden.LogTarget{Type: warden.LogTargetClientID, Name: "c1"}, t0))
	must(t, st.DeleteV2LoggingLevel(ctx, scope, warden.LogTarget{Type: warden.LogTargetClientID, Name: "c1"}, t0))
	clients, _, err := st.V2LoggingLevels(ctx, scope, warden.LogTargetClientID, warden.Page{Limit: 10})
	must(t, err)
	wantNames(t, "V2LoggingLevels of client ids", names(clients, func(l warden.LogTargetLevel) string { return l.Target.Name }), "c2")
}

// tags: a resource's tags list by key and page; an unknown resource is
// ResourceNotFound.
func tags(t *testing.T, st warden.Store) {
	_, err := st.CreatePolicy(ctx, scope, "tagged", policyDocument, []warden.Tag{{Key: "b", Value: "2"}}, t0)
	must(t, err)
	arn := warden.PolicyARN(scope, "tagged")
	must(t, st.TagResource(ctx, scope, arn, []warden.Tag{{Key: "a", Value: "1"}, {Key: "c", Value: "3"}}))
	must(t, st.TagResource(ctx, scope, arn, []warden.Tag{{Key: "b", Value: "two"}}))
	must(t, st.UntagResource(ctx, scope, arn, []string{"c"}))
	got := walk(t, 1, func(p warden.Page) ([]warden.Tag, string, error) { return st.Tags(ctx, scope, arn, p) })
	if len(got) != 2 || got[0] != (warden.Tag{Key: "a", Value: "1"}) || got[1] != (warden.Tag{Key: "b", Value: "two"}) {
		t.Fatalf("Tags = %+v", got)
	}
	wantCode(t, "TagResource of a missing resource", st.TagResource(ctx, scope, warden.PolicyARN(scope, "missing"), nil),
		warden.CodeResourceNotFound)
	_, _, err = st.Tags(ctx, otherAccount, arn, warden.Page{Limit: 10})
	wantCode(t, "Tags in another account", err, warden.CodeResourceNotFound)
}

// changeLog: every change is logged once, in order, under its scope and
// resource; AfterSeq and Limit page through the log; the head is the last
// seq.
func changeLog(t *testing.T, st warden.Store) {
	if head, err := st.ChangeLogHead(ctx); err != nil || head != 0 {
		t.Fatalf("ChangeLogHead of an empty store = %d, %v", head, err)
	}
	for i, s := range []warden.Scope{scope, otherAccount, scope} {
		_, _, err := st.CreateThing(warden.WithActor(ctx, "AKIDEXAMPLE"), s, warden.Thing{Name: fmt.Sprint("c", i), ID: fmt.Sprint("id-c", i),
			Version: 1, CreationDate: t0, LastModifiedDate: t0})
		must(t, err)
	}
	all, err := st.Changes(ctx, warden.ChangeFilter{})
	must(t, err)
	if len(all) != 3 || all[0].Seq >= all[1].Seq || all[1].Seq >= all[2].Seq {
		t.Fatalf("Changes = %+v, want 3 in seq order", all)
	}
	if all[0].Operation != "CreateThing" || all[0].ResourceArn != warden.ThingARN(scope, "c0") || all[0].Actor != "AKIDEXAMPLE" ||
		!all[0].At.Equal(t0) {
		t.Fatalf("the first change = %+v", all[0])
	}
	head, err := st.ChangeLogHead(ctx)
	if err != nil || head != all[2].Seq {
		t.Fatalf("ChangeLogHead = %d, %v; want %d", head, err, all[2].Seq)
	}
	mine, err := st.Changes(ctx, warden.ChangeFilter{Scope: &scope})
	must(t, err)
	wantNames(t, "Changes of scope", names(mine, func(c warden.Change) string { return c.ResourceArn }),
		warden.ThingARN(scope, "c0"), warden.ThingARN(scope, "c2"))
	after, err := st.Changes(ctx, warden.ChangeFilter{AfterSeq: all[0].Seq, Limit: 1})
	if err != nil || len(after) != 1 || after[0].Seq != all[1].Seq {
		t.Fatalf("Changes after the first, limit 1 = %+v, %v", after, err)
	}
	byResource, err := st.Changes(ctx, warden.ChangeFilter{ResourceArn: warden.ThingARN(otherAccount, "c1")})
	if err != nil || len(byResource) != 1 || byResource[0].Seq != all[1].Seq {
		t.Fatalf("Changes of one resource = %+v, %v", byResource, err)
	}
}

// accessKeys: keys are stored with their secrets, listed oldest first,
// deactivated and deleted; only the first CreateFirstAccessKey creates one.
func accessKeys(t *testing.T, st warden.Store) {
	first := warden.AccessKey{ID: "AKIDFIRST", Secret: "secret-1", Account: scope.Account, CreatedAt: t0}
	if created, err := st.CreateFirstAccessKey(ctx, first); err != nil || !created {
		t.Fatalf("CreateFirstAccessKey on an empty store: created %v, %v", created, err)
	}
	if created, err := st.CreateFirstAccessKey(ctx, warden.AccessKey{ID: "AKIDSECOND", Secret: "s", Account: scope.Account, CreatedAt: t0}); err != nil || created {
		t.Fatalf("CreateFirstAccessKey beside a key: created %v, %v", created, err)
	}
	must(t, st.CreateAccessKey(ctx, warden.AccessKey{ID: "AKIDOTHER", Secret: "secret-2", Account: otherAccount.Account, CreatedAt: t0.Add(1)}))
	k, ok, err := st.AccessKey(ctx, "AKIDFIRST")
	if err != nil || !ok || k.Secret != "secret-1" || k.Account != scope.Account || !k.CreatedAt.Equal(t0) || k.Inactive {
		t.Fatalf("AccessKey = %+v, %v, %v", k, ok, err)
	}
	if _, ok, err := st.AccessKey(ctx, "AKIDMISSING"); err != nil || ok {
		t.Fatalf("AccessKey(missing): ok %v, %v", ok, err)
	}
	if found, err := st.SetAccessKeyInactive(ctx, "AKIDFIRST", true); err != nil || !found {
		t.Fatalf("SetAccessKeyInactive: found %v, %v", found, err)
	}
	keys, err := st.AccessKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].ID != "AKIDFIRST" || !keys[0].Inactive || keys[1].ID != "AKIDOTHER" {
		t.Fatalf("AccessKeys = %+v, %v", keys, err)
	}
	if found, err := st.DeleteAccessKey(ctx, "AKIDFIRST"); err != nil || !found {
		t.Fatalf("DeleteAccessKey: found %v, %v", found, err)
	}
	if found, err := st.DeleteAccessKey(ctx, "AKIDFIRST"); err != nil || found {
		t.Fatalf("DeleteAccessKey again: found %v, %v", found, err)
	}
	secret, err := st.ServerSecret(ctx, "s", func() []byte { return []byte("one") })
	must(t, err)
	again, err := st.ServerSecret(ctx, "s", func() []byte { return []byte("two") })
	if err != nil || string(secret) != "one" || string(again) != "one" {
		t.Fatalf("ServerSecret = %q then %q, %v; want the first value kept", secret, again, err)
	}
}
