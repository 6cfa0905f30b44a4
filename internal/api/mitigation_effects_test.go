package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/engine"
)

// mitTopic creates an SNS topic in account A and returns its ARN.
func mitTopic(t *testing.T, m *mitEnv, name string) string {
	t.Helper()
	if _, _, err := m.store.CreateTopic(context.Background(), mitScopeA, warden.Topic{Name: name, CreatedAt: time.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	return mitScopeA.SNSARN(name)
}

// mitChanges lists the change-log rows of arn made by executions of taskID.
func mitChanges(t *testing.T, m *mitEnv, arn, taskID string) []warden.Change {
	t.Helper()
	all, err := m.store.Changes(context.Background(), warden.ChangeFilter{ResourceArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	var out []warden.Change
	for _, c := range all {
		if strings.HasPrefix(c.Actor, "execution:"+taskID+"/") {
			out = append(out, c)
		}
	}
	return out
}

// runOne starts task id on one finding with the mapping and runs it; it
// returns the finding's executions.
func (m *mitEnv) runOne(id, findingID string, mapping map[string][]string) string {
	m.t.Helper()
	m.mustStart(id, mitByFindings(findingID), mapping)
	m.run()
	return mitExecSummary(m.executions(id, findingID))
}

func TestMitigationEffectDeviceCertificate(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	m.action("deactivate", deviceCertParams())
	m.action("publish", snsParams(mitTopic(t, m, "findings")))

	f, cert := m.certFinding()
	if got := m.runOne("active", f, mitMapping(mitExpiring, "deactivate,publish")); got != "deactivate:COMPLETED publish:COMPLETED" {
		t.Fatalf("ACTIVE certificate: %s", got)
	}
	if got := m.certStatus(cert); got != types.CertificateStatusInactive {
		t.Fatalf("certificate %s, want INACTIVE", got)
	}
	if n := len(mitChanges(t, m, mitScopeA.CertificateARN(cert), "active")); n != 1 {
		t.Fatalf("%d changes, want 1", n)
	}
	// Already INACTIVE: completed, no change.
	if got := m.runOne("inactive", f, mitMapping(mitExpiring, "deactivate")); got != "deactivate:COMPLETED" {
		t.Fatalf("INACTIVE certificate: %s", got)
	}
	if n := len(mitChanges(t, m, mitScopeA.CertificateARN(cert), "inactive")); n != 0 {
		t.Fatalf("%d changes to an INACTIVE certificate, want 0", n)
	}
	// REVOKED: FAILED, and the actions after it SKIPPED; the task FAILED.
	fr, revoked := m.certFinding()
	certSetStatus(t, m.a, revoked, types.CertificateStatusRevoked)
	if got := m.runOne("revoked", fr, mitMapping(mitExpiring, "deactivate,publish")); got != "deactivate:FAILED:INVALID_STATE_OF_RESOURCE publish:SKIPPED" {
		t.Fatalf("REVOKED certificate: %s", got)
	}
	if got := m.certStatus(revoked); got != types.CertificateStatusRevoked {
		t.Fatalf("revoked certificate is now %s", got)
	}
	d := m.describeTask("revoked")
	if d.TaskStatus != types.AuditMitigationActionsTaskStatusFailed || d.EndTime == nil {
		t.Fatalf("task %s, want FAILED with an endTime", d.TaskStatus)
	}
	if got := m.stats("revoked", mitExpiring); got != "1/0/1/0/0" {
		t.Fatalf("statistics %s, want 1/0/1/0/0", got)
	}
	x := m.executions("revoked", fr)[0]
	if !strings.Contains(aws.ToString(x.Message), "REVOKED") || x.EndTime == nil {
		t.Fatalf("failed execution %+v: message should say why", x)
	}
	// Gone: FAILED.
	fg := m.finding(mitFindingSpec{check: mitExpiring, resourceType: "DEVICE_CERTIFICATE", ident: `{"deviceCertificateId":"` + strings.Repeat("0", 64) + `"}`})
	if got := m.runOne("gone", fg, mitMapping(mitExpiring, "deactivate")); got != "deactivate:FAILED:INVALID_STATE_OF_RESOURCE" {
		t.Fatalf("missing certificate: %s", got)
	}
	// Named by ARN only.
	byArn := mitCert(t, m.a)
	fa := m.finding(mitFindingSpec{check: mitExpiring, resourceType: "DEVICE_CERTIFICATE",
		ident: `{"deviceCertificateArn":"` + mitScopeA.CertificateARN(byArn) + `"}`})
	if got := m.runOne("arn", fa, mitMapping(mitExpiring, "deactivate")); got != "deactivate:COMPLETED" || m.certStatus(byArn) != types.CertificateStatusInactive {
		t.Fatalf("certificate named by ARN: %s, %s", got, m.certStatus(byArn))
	}
	// A finding naming no certificate.
	fn := m.finding(mitFindingSpec{check: mitExpiring, resourceType: "DEVICE_CERTIFICATE", ident: `{"clientId":"c"}`})
	if got := m.runOne("nocert", fn, mitMapping(mitExpiring, "deactivate")); got != "deactivate:FAILED:INVALID_STATE_OF_RESOURCE" {
		t.Fatalf("finding without a certificate: %s", got)
	}
	_ = ctx
}

func TestMitigationEffectCACertificate(t *testing.T) {
	m := newMitEnv(t)
	ca := certNewCA(t, "mitigation test CA")
	caID := certRegisterCA(t, m.a, ca, true)
	m.action("deactivate-ca", sixParams()[1].params)
	f := m.finding(mitFindingSpec{check: mitCAExp, resourceType: "CA_CERTIFICATE", ident: `{"caCertificateId":"` + caID + `"}`})
	if got := m.runOne("t1", f, mitMapping(mitCAExp, "deactivate-ca")); got != "deactivate-ca:COMPLETED" {
		t.Fatalf("ACTIVE CA: %s", got)
	}
	if got := caDescribe(t, m.a, caID).CertificateDescription.Status; got != types.CACertificateStatusInactive {
		t.Fatalf("CA is %s, want INACTIVE", got)
	}
	changes := mitChanges(t, m, mitScopeA.CACertificateARN(caID), "t1")
	if len(changes) != 1 || changes[0].Operation != "UpdateCACertificate" {
		t.Fatalf("changes %+v, want one UpdateCACertificate", changes)
	}
	if got := m.runOne("t2", f, mitMapping(mitCAExp, "deactivate-ca")); got != "deactivate-ca:COMPLETED" {
		t.Fatalf("INACTIVE CA: %s", got)
	}
	if n := len(mitChanges(t, m, mitScopeA.CACertificateARN(caID), "t2")); n != 0 {
		t.Fatalf("%d changes to an INACTIVE CA, want 0", n)
	}
	gone := m.finding(mitFindingSpec{check: mitCAExp, resourceType: "CA_CERTIFICATE", ident: `{"caCertificateId":"` + strings.Repeat("a", 64) + `"}`})
	if got := m.runOne("t3", gone, mitMapping(mitCAExp, "deactivate-ca")); got != "deactivate-ca:FAILED:INVALID_STATE_OF_RESOURCE" {
		t.Fatalf("missing CA: %s", got)
	}
}

func TestMitigationEffectAddThingsToThingGroup(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	attach := func(thing, cert string) {
		t.Helper()
		if _, err := m.a.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(thing)}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.a.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing),
			Principal: aws.String(mitScopeA.CertificateARN(cert))}); err != nil {
			t.Fatal(err)
		}
	}
	thGroup(t, m.a, "quarantine", "")
	thGroup(t, m.a, "audit-hold", "")
	m.action("quarantine", &types.MitigationActionParams{AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{
		ThingGroupNames: []string{"quarantine", "audit-hold"}}})
	m.action("deactivate", deviceCertParams())

	f, cert := m.certFinding()
	attach("device-a", cert)
	attach("device-b", cert)
	if got := m.runOne("t1", f, mitMapping(mitExpiring, "quarantine,deactivate")); got != "quarantine:COMPLETED deactivate:COMPLETED" {
		t.Fatalf("executions %s", got)
	}
	for _, thing := range []string{"device-a", "device-b"} {
		if got := thGroupsOf(t, m.a, accountA, thing); !slices.Equal(sortedCopy(got), []string{"audit-hold", "quarantine"}) {
			t.Fatalf("%s is in %v, want audit-hold and quarantine", thing, got)
		}
		if n := len(mitChanges(t, m, thArn(accountA, thing), "t1")); n != 2 {
			t.Fatalf("%s: %d changes by the execution, want 2", thing, n)
		}
	}
	// Again: nothing to add, completed.
	if got := m.runOne("t2", f, mitMapping(mitExpiring, "quarantine")); got != "quarantine:COMPLETED" {
		t.Fatalf("again: %s", got)
	}
	// A certificate with no things: completed, nothing to do.
	fe, _ := m.certFinding()
	if got := m.runOne("t3", fe, mitMapping(mitExpiring, "quarantine")); got != "quarantine:COMPLETED" {
		t.Fatalf("no things: %s", got)
	}

	// A thing at the 10-group limit fails the execution, and what the
	// execution had done for the thing before it is undone.
	f4, cert4 := m.certFinding()
	attach("aa-first", cert4)
	attach("zz-full", cert4)
	for i := range 10 {
		g := fmt.Sprintf("full-%d", i)
		thGroup(t, m.a, g, "")
		thMustAdd(t, m.a, "zz-full", g)
	}
	if got := m.runOne("t4", f4, mitMapping(mitExpiring, "quarantine,deactivate")); got != "quarantine:FAILED:INVALID_STATE_OF_RESOURCE deactivate:SKIPPED" {
		t.Fatalf("thing at its limit: %s", got)
	}
	if got := thGroupsOf(t, m.a, accountA, "aa-first"); len(got) != 0 {
		t.Fatalf("aa-first is in %v after the failed execution, want none (rolled back)", got)
	}
	if n := len(mitChanges(t, m, thArn(accountA, "aa-first"), "t4")); n != 0 {
		t.Fatalf("%d changes of a rolled-back execution", n)
	}
	if got := m.certStatus(cert4); got != types.CertificateStatusActive {
		t.Fatalf("certificate after a failed first action is %s, want ACTIVE", got)
	}
	x := m.executions("t4", f4)[0]
	if !strings.Contains(aws.ToString(x.Message), "zz-full") {
		t.Fatalf("message %q should name the thing", aws.ToString(x.Message))
	}

	// One group per hierarchy.
	thGroup(t, m.a, "parent", "")
	thGroup(t, m.a, "child-a", "parent")
	thGroup(t, m.a, "child-b", "parent")
	m.action("to-child-b", &types.MitigationActionParams{AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{ThingGroupNames: []string{"child-b"}}})
	f5, cert5 := m.certFinding()
	attach("in-child-a", cert5)
	thMustAdd(t, m.a, "in-child-a", "child-a")
	if got := m.runOne("t5", f5, mitMapping(mitExpiring, "to-child-b")); got != "to-child-b:FAILED:INVALID_STATE_OF_RESOURCE" {
		t.Fatalf("hierarchy conflict: %s", got)
	}
	// A missing group.
	m.action("to-nowhere", &types.MitigationActionParams{AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{ThingGroupNames: []string{"nowhere"}}})
	if got := m.runOne("t6", f5, mitMapping(mitExpiring, "to-nowhere")); got != "to-nowhere:FAILED:INVALID_STATE_OF_RESOURCE" {
		t.Fatalf("missing group: %s", got)
	}
}

func TestMitigationEffectAddThingsOverrideDynamicGroups(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	f, cert := m.certFinding()
	if _, err := m.a.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("d1"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"fleet": "x"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.a.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("d1"),
		Principal: aws.String(mitScopeA.CertificateARN(cert))}); err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		g := fmt.Sprintf("static-%d", i)
		thGroup(t, m.a, g, "")
		thMustAdd(t, m.a, "d1", g)
	}
	thDynamic(t, m.a, "dyn", "attributes.fleet:x")
	if got := thGroupsOf(t, m.a, accountA, "d1"); len(got) != 10 {
		t.Fatalf("d1 is in %d groups, want 10", len(got))
	}
	thGroup(t, m.a, "quarantine", "")
	m.action("keep", &types.MitigationActionParams{AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{ThingGroupNames: []string{"quarantine"}}})
	m.action("override", &types.MitigationActionParams{AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{
		ThingGroupNames: []string{"quarantine"}, OverrideDynamicGroups: aws.Bool(true)}})
	if got := m.runOne("t1", f, mitMapping(mitExpiring, "keep")); got != "keep:FAILED:INVALID_STATE_OF_RESOURCE" {
		t.Fatalf("without overrideDynamicGroups: %s", got)
	}
	if got := m.runOne("t2", f, mitMapping(mitExpiring, "override")); got != "override:COMPLETED" {
		t.Fatalf("with overrideDynamicGroups: %s", got)
	}
	groups := thGroupsOf(t, m.a, accountA, "d1")
	if !slices.Contains(groups, "quarantine") || slices.Contains(groups, "dyn") {
		t.Fatalf("d1 is in %v, want quarantine instead of dyn", groups)
	}
}

func TestMitigationEffectReplaceDefaultPolicyVersion(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`
	if _, err := m.a.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("broad"), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	m.action("blank", sixParams()[3].params)
	policyFinding := func(name string) string {
		return m.finding(mitFindingSpec{check: mitPolicy, resourceType: "IOT_POLICY", reason: "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS",
			ident: `{"policyVersionIdentifier":{"policyName":"` + name + `","policyVersionId":"1"}}`})
	}
	f := policyFinding("broad")
	if got := m.runOne("t1", f, mitMapping(mitPolicy, "blank")); got != "blank:COMPLETED" {
		t.Fatalf("executions %s", got)
	}
	p, err := m.a.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("broad")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(p.DefaultVersionId) != "2" || aws.ToString(p.PolicyDocument) != warden.BlankPolicyDocument {
		t.Fatalf("default version %s document %s, want 2 and %s", aws.ToString(p.DefaultVersionId), aws.ToString(p.PolicyDocument), warden.BlankPolicyDocument)
	}
	changes := mitChanges(t, m, mitScopeA.IoTARN("policy/broad"), "t1")
	if len(changes) != 1 || changes[0].Operation != "CreatePolicyVersion" {
		t.Fatalf("changes %+v, want one CreatePolicyVersion", changes)
	}
	// At 5 versions: FAILED, nothing changed.
	for range 3 {
		if _, err := m.a.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("broad"), PolicyDocument: aws.String(doc)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.runOne("t2", f, mitMapping(mitPolicy, "blank")); got != "blank:FAILED:INVALID_STATE_OF_RESOURCE" {
		t.Fatalf("policy at 5 versions: %s", got)
	}
	versions, err := m.a.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String("broad")})
	if err != nil || len(versions.PolicyVersions) != 5 {
		t.Fatalf("versions %+v %v, want 5", versions, err)
	}
	if got := m.runOne("t3", policyFinding("missing"), mitMapping(mitPolicy, "blank")); got != "blank:FAILED:INVALID_STATE_OF_RESOURCE" {
		t.Fatalf("missing policy: %s", got)
	}
}

func TestMitigationEffectEnableIoTLogging(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	m.action("logs", sixParams()[4].params)
	f := m.finding(mitFindingSpec{check: mitLogging, resourceType: "ACCOUNT_SETTINGS", ident: `{"account":"` + accountA + `"}`, reason: "LOGGING_DISABLED"})
	if got := m.runOne("t1", f, mitMapping(mitLogging, "logs")); got != "logs:COMPLETED" {
		t.Fatalf("executions %s", got)
	}
	out, err := m.a.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.RoleArn) != logRole || out.DefaultLogLevel != types.LogLevelWarn || out.DisableAllLogs {
		t.Fatalf("logging options %+v, want role %s, WARN, enabled", out, logRole)
	}
	if n := len(mitChanges(t, m, mitScopeA.IoTARN("logging/v2"), "t1")); n != 1 {
		t.Fatalf("%d logging changes, want 1", n)
	}
}

func TestMitigationEffectPublishFindingToSNS(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	topic := mitTopic(t, m, "findings")
	m.action("publish", snsParams(topic))
	f, cert := m.certFinding()
	m.exec(`UPDATE audit_findings SET task_start_time = 1572007300584, finding_time = 1572007301019,
		related_resources = '[{"resourceType":"CLIENT_ID","resourceIdentifier":{"clientId":"c1"}}]' WHERE finding_id = ?`, f)
	if got := m.runOne("t1", f, mitMapping(mitExpiring, "publish")); got != "publish:COMPLETED" {
		t.Fatalf("executions %s", got)
	}
	msgs, err := m.store.RecentSNSMessages(ctx, mitScopeA, "findings", 0, 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("messages %+v %v, want 1", msgs, err)
	}
	want := `{"findingId":"` + f + `","findingTime":1572007301019,"severity":"MEDIUM","taskStartTime":1572007300584,` +
		`"nonCompliantResource":{"resourceType":"DEVICE_CERTIFICATE","resourceIdentifier":{"deviceCertificateId":"` + cert + `"}},` +
		`"relatedResources":[{"resourceType":"CLIENT_ID","resourceIdentifier":{"clientId":"c1"}}],` +
		`"taskId":"` + mitAudit + `","checkName":"` + mitExpiring + `","reasonForNonComplianceCode":"` + mitReason + `",` +
		`"reasonForNonCompliance":"seeded by the test"}`
	if msgs[0].Message != want || msgs[0].Subject != "" {
		t.Fatalf("message\n got %s\nwant %s (subject %q)", msgs[0].Message, want, msgs[0].Subject)
	}
	var decoded map[string]any
	if err := json.Unmarshal([]byte(msgs[0].Message), &decoded); err != nil {
		t.Fatal(err)
	}
	// Unknown topic: FAILED.
	m.action("publish-nowhere", snsParams(mitScopeA.SNSARN("nowhere")))
	if got := m.runOne("t2", f, mitMapping(mitExpiring, "publish-nowhere")); got != "publish-nowhere:FAILED:INVALID_STATE_OF_RESOURCE" {
		t.Fatalf("unknown topic: %s", got)
	}
	// Another account's topic is not this account's.
	m.action("publish-b", snsParams("arn:aws:sns:us-east-1:111122223333:findings"))
	if got := m.runOne("t3", f, mitMapping(mitExpiring, "publish-b")); got != "publish-b:FAILED:INVALID_STATE_OF_RESOURCE" {
		t.Fatalf("another account's topic: %s", got)
	}
}

func TestMitigationPermissions(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	topic := mitTopic(t, m, "findings")
	m.action("deactivate", deviceCertParams())
	m.action("publish", snsParams(topic))
	m.actionWithRole("foreign", "arn:aws:iam::111122223333:role/warden-test", deviceCertParams())
	m.actionWithRole("other-role", roleArn2, deviceCertParams())
	m.action("logs", sixParams()[4].params)

	// No role at all in the account: its own role ARNs are trusted...
	f1, c1 := m.certFinding()
	if got := m.runOne("tofu", f1, mitMapping(mitExpiring, "deactivate")); got != "deactivate:COMPLETED" {
		t.Fatalf("trust on first use: %s", got)
	}
	// ...but never another account's role.
	f2, c2 := m.certFinding()
	if got := m.runOne("foreign", f2, mitMapping(mitExpiring, "foreign")); got != "foreign:FAILED:INSUFFICIENT_PERMISSIONS" {
		t.Fatalf("another account's role: %s", got)
	}
	if msg := aws.ToString(m.executions("foreign", f2)[0].Message); !strings.Contains(msg, "sts:AssumeRole") {
		t.Fatalf("message %q should name sts:AssumeRole", msg)
	}
	if got := m.certStatus(c2); got != types.CertificateStatusActive {
		t.Fatalf("certificate %s after a denied execution", got)
	}
	// With --strict-roles, no trust on first use.
	m.engOpt = engine.Options{StrictRoles: true}
	f3, _ := m.certFinding()
	if got := m.runOne("strict", f3, mitMapping(mitExpiring, "deactivate")); got != "deactivate:FAILED:INSUFFICIENT_PERMISSIONS" {
		t.Fatalf("strict roles without roles: %s", got)
	}
	m.engOpt = engine.Options{}

	// Once the account has a role, roles need policies granting what §3 lists.
	if _, err := m.store.CreateRole(ctx, accountA, warden.Role{Name: "warden-test", Path: "/", ID: warden.NewRoleID(),
		AssumeRolePolicyDocument: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}`,
		MaxSessionDuration:       3600, CreateDate: time.Now()}); err != nil {
		t.Fatal(err)
	}
	put := func(doc string) {
		t.Helper()
		if err := m.store.PutRolePolicy(ctx, accountA, "warden-test", "mitigation", doc, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	put(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sns:Publish","Resource":"*"}]}`)
	f4, c4 := m.certFinding()
	if got := m.runOne("denied", f4, mitMapping(mitExpiring, "publish,deactivate")); got != "publish:COMPLETED deactivate:FAILED:INSUFFICIENT_PERMISSIONS" {
		t.Fatalf("role without iot:UpdateCertificate: %s", got)
	}
	msg := aws.ToString(m.executions("denied", f4)[1].Message)
	if !strings.Contains(msg, "iot:UpdateCertificate") || !strings.Contains(msg, mitScopeA.CertificateARN(c4)) {
		t.Fatalf("message %q should name iot:UpdateCertificate on the certificate", msg)
	}
	if got := m.certStatus(c4); got != types.CertificateStatusActive {
		t.Fatalf("certificate %s after a denied execution", got)
	}
	// A role that does not exist, now that roles are checked.
	f5, _ := m.certFinding()
	if got := m.runOne("missing-role", f5, mitMapping(mitExpiring, "other-role")); got != "other-role:FAILED:INSUFFICIENT_PERMISSIONS" {
		t.Fatalf("missing role: %s", got)
	}
	// Granted on this certificate only: one finding passes, the other fails,
	// in the same batch.
	f6, c6 := m.certFinding()
	put(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:UpdateCertificate","Resource":"` + mitScopeA.CertificateARN(c6) + `"}]}`)
	m.mustStart("one-cert", mitByFindings(f6, f4), mitMapping(mitExpiring, "deactivate"))
	m.run()
	if got := mitExecSummary(m.executions("one-cert", f6)) + " | " + mitExecSummary(m.executions("one-cert", f4)); got !=
		"deactivate:COMPLETED | deactivate:FAILED:INSUFFICIENT_PERMISSIONS" {
		t.Fatalf("per-resource grant: %s", got)
	}
	if m.certStatus(c6) != types.CertificateStatusInactive || m.certStatus(c4) != types.CertificateStatusActive {
		t.Fatalf("certificates %s %s, want INACTIVE ACTIVE", m.certStatus(c6), m.certStatus(c4))
	}
	// ENABLE_IOT_LOGGING needs iam:PassRole on the logging role too.
	fl := m.finding(mitFindingSpec{check: mitLogging, resourceType: "ACCOUNT_SETTINGS", ident: `{"account":"` + accountA + `"}`, reason: "LOGGING_DISABLED"})
	put(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:SetV2LoggingOptions","Resource":"*"}]}`)
	if got := m.runOne("logs-denied", fl, mitMapping(mitLogging, "logs")); got != "logs:FAILED:INSUFFICIENT_PERMISSIONS" {
		t.Fatalf("logging without iam:PassRole: %s", got)
	}
	if msg := aws.ToString(m.executions("logs-denied", fl)[0].Message); !strings.Contains(msg, "iam:PassRole") || !strings.Contains(msg, logRole) {
		t.Fatalf("message %q should name iam:PassRole on %s", msg, logRole)
	}
	put(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:SetV2LoggingOptions","iam:PassRole"],"Resource":"*"}]}`)
	if got := m.runOne("logs-granted", fl, mitMapping(mitLogging, "logs")); got != "logs:COMPLETED" {
		t.Fatalf("logging with its permissions: %s", got)
	}
	_ = c1
}
