package warden

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

func TestParseMitigationTarget(t *testing.T) {
	for doc, want := range map[string]string{
		`{"deviceCertificateId":"abc"}`:                        "abc",
		`{"deviceCertificateId": "abc", "caCertificateId":""}`: "abc",
		`{"deviceCertificateId":"a\"b"}`:                       `a"b`,
		`not json`:                                             "",
	} {
		if got := ParseMitigationTarget(doc); got.DeviceCertificateID != want {
			t.Errorf("%s: %q, want %q", doc, got.DeviceCertificateID, want)
		}
	}
	p := ParseMitigationTarget(`{"policyVersionIdentifier":{"policyName":"p","policyVersionId":"1"}}`)
	if p.PolicyVersionIdentifier == nil || p.PolicyVersionIdentifier.PolicyName != "p" {
		t.Errorf("policy: %+v", p)
	}
}

func TestPlanMitigation(t *testing.T) {
	s := Scope{Account: "123456789012", Region: "us-east-1"}
	yes := true
	things := func(arn string) ([]string, error) {
		if arn != s.CertificateARN("cert1") {
			t.Errorf("principal %s", arn)
		}
		return []string{"t1", "t2"}, nil
	}
	device := &MitigationFinding{Target: MitigationTarget{DeviceCertificateArn: s.CertificateARN("cert1")}}
	e, err := PlanMitigation(s, &MitigationActionParams{UpdateDeviceCertificateParams: &UpdateCertificateParams{Action: "DEACTIVATE"}}, device, things)
	if err != nil || e.CertificateID != "cert1" || e.Resources.CertificateArn != s.CertificateARN("cert1") {
		t.Errorf("device certificate: %+v %v", e, err)
	}
	e, err = PlanMitigation(s, &MitigationActionParams{AddThingsToThingGroupParams: &AddThingsToThingGroupParams{
		ThingGroupNames: []string{"q"}, OverrideDynamicGroups: &yes}}, device, things)
	if err != nil || !slices.Equal(e.Things, []string{"t1", "t2"}) || !slices.Equal(e.Groups, []string{"q"}) || !e.OverrideDynamicGroups ||
		!slices.Equal(e.Resources.ThingArns, []string{ThingARN(s, "t1"), ThingARN(s, "t2")}) ||
		!slices.Equal(e.Resources.ThingGroupArns, []string{ThingGroupARN(s, "q")}) {
		t.Errorf("add things: %+v %v", e, err)
	}
	boom := errors.New("boom")
	if _, err := PlanMitigation(s, &MitigationActionParams{AddThingsToThingGroupParams: &AddThingsToThingGroupParams{}}, device,
		func(string) ([]string, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("principal things error: %v", err)
	}
	e, err = PlanMitigation(s, &MitigationActionParams{EnableIoTLoggingParams: &EnableIoTLoggingParams{RoleArnForLogging: "role", LogLevel: "INFO"}}, device, things)
	if err != nil || e.Logging != (V2LoggingOptions{RoleArn: "role", DefaultLogLevel: "INFO"}) || e.Resources.LoggingRoleArn != "role" {
		t.Errorf("logging: %+v %v", e, err)
	}
	// A finding that names no resource of the action's kind fails it.
	empty := &MitigationFinding{}
	for _, p := range []MitigationActionParams{
		{UpdateDeviceCertificateParams: &UpdateCertificateParams{}},
		{UpdateCACertificateParams: &UpdateCertificateParams{}},
		{AddThingsToThingGroupParams: &AddThingsToThingGroupParams{}},
		{ReplaceDefaultPolicyVersionParams: &ReplaceDefaultPolicyVersionParams{}},
	} {
		if _, err := PlanMitigation(s, &p, empty, things); ErrorCode(err) != CodeInvalidRequest {
			t.Errorf("%s on an empty finding: %v", p.Type(), err)
		}
	}
	policy := &MitigationFinding{Target: ParseMitigationTarget(`{"policyVersionIdentifier":{"policyName":"p"}}`)}
	if e, err := PlanMitigation(s, &MitigationActionParams{ReplaceDefaultPolicyVersionParams: &ReplaceDefaultPolicyVersionParams{}}, policy, things); err != nil ||
		e.PolicyName != "p" || e.Resources.PolicyArn != PolicyARN(s, "p") {
		t.Errorf("policy: %+v %v", e, err)
	}
}

func TestFindingSNSMessage(t *testing.T) {
	f := &MitigationFinding{ID: "f1", AuditTaskID: "a1", CheckName: CheckCACertificateExpiring, Severity: "MEDIUM",
		ResourceType: "CA_CERTIFICATE", ResourceIdentifier: `{"caCertificateId":"ca1"}`, AdditionalInfo: "{}",
		RelatedResources: `[{"resourceType":"CLIENT_ID"}]`, ReasonCode: "CERTIFICATE_EXPIRING", Reason: "soon",
		TaskStartTime: 1000, FindingTime: 2000}
	e, err := PlanMitigation(Scope{}, &MitigationActionParams{PublishFindingToSnsParams: &PublishFindingToSnsParams{TopicArn: "arn:aws:sns:r:1:t"}}, f, nil)
	if err != nil || e.Resources.TopicArn != "arn:aws:sns:r:1:t" {
		t.Fatalf("%+v %v", e, err)
	}
	const want = `{"findingId":"f1","findingTime":2000,"severity":"MEDIUM","taskStartTime":1000,` +
		`"nonCompliantResource":{"resourceType":"CA_CERTIFICATE","resourceIdentifier":{"caCertificateId":"ca1"}},` +
		`"relatedResources":[{"resourceType":"CLIENT_ID"}],"taskId":"a1","checkName":"CA_CERTIFICATE_EXPIRING_CHECK",` +
		`"reasonForNonComplianceCode":"CERTIFICATE_EXPIRING","reasonForNonCompliance":"soon"}`
	if e.Message != want {
		t.Errorf("message\n got %s\nwant %s", e.Message, want)
	}
	// Stored documents that are not JSON are left out.
	f.ResourceIdentifier, f.RelatedResources, f.AdditionalInfo = "{", "[", `{"x":1}`
	m, err := f.SNSMessage()
	var got map[string]json.RawMessage
	if err != nil || json.Unmarshal([]byte(m), &got) != nil || got["relatedResources"] != nil ||
		string(got["nonCompliantResource"]) != `{"resourceType":"CA_CERTIFICATE","resourceIdentifier":{},"additionalInfo":{"x":1}}` {
		t.Errorf("bad documents: %s %v", m, err)
	}
}
