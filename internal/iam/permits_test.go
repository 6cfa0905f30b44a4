package iam_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/wardentest"
)

const (
	certArn   = "arn:aws:iot:us-east-1:" + wardentest.AccountA + ":cert/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	caArn     = "arn:aws:iot:us-east-1:" + wardentest.AccountA + ":cacert/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	groupArn  = "arn:aws:iot:us-east-1:" + wardentest.AccountA + ":thinggroup/Quarantine"
	thingArn  = "arn:aws:iot:us-east-1:" + wardentest.AccountA + ":thing/sensor-1"
	policyArn = "arn:aws:iot:us-east-1:" + wardentest.AccountA + ":policy/DevicePolicy"
	topicArn  = "arn:aws:sns:us-east-1:" + wardentest.AccountA + ":findings"
	logRole   = "arn:aws:iam::" + wardentest.AccountA + ":role/IoTLogging"
)

func needs(actionType string) []warden.Permission {
	return warden.MitigationPermissions(actionType, warden.MitigationResources{
		CertificateArn: certArn, CACertificateArn: caArn, ThingGroupArns: []string{groupArn}, ThingArns: []string{thingArn},
		PolicyArn: policyArn, LoggingRoleArn: logRole, TopicArn: topicArn,
	})
}

func roleArn(account, pathAndName string) string {
	return "arn:aws:iam::" + account + ":role" + pathAndName
}

// permits asks the store whether roleArn may do what an action of
// actionType needs, and fails unless the first missing permission is want
// (nil: all allowed).
func (e *iamEnv) permits(t *testing.T, role, actionType string, strict bool, want *warden.Permission) {
	t.Helper()
	got, err := e.store.RolePermits(e.ctx, wardentest.AccountA, role, needs(actionType), strict)
	if err != nil {
		t.Fatalf("RolePermits: %v", err)
	}
	switch {
	case want == nil && got != nil:
		t.Errorf("RolePermits(%s, %s, strict=%v) is missing %v, want all allowed", role, actionType, strict, *got)
	case want != nil && got == nil:
		t.Errorf("RolePermits(%s, %s, strict=%v) allowed everything, want %v missing", role, actionType, strict, *want)
	case want != nil && *got != *want:
		t.Errorf("RolePermits(%s, %s, strict=%v) is missing %v, want %v", role, actionType, strict, *got, *want)
	}
}

func assume(role string) *warden.Permission {
	return &warden.Permission{Action: "sts:AssumeRole", Resource: role}
}

func TestRolePermitsFirstUse(t *testing.T) {
	e := newIAMEnv(t)
	own := roleArn(wardentest.AccountA, "/service-role/AnyRole")
	foreign := roleArn(wardentest.AccountB, "/AnyRole")
	tests := []struct {
		name   string
		role   string
		strict bool
		want   *warden.Permission
	}{
		{"own role, no roles yet, lenient: trusted", own, false, nil},
		{"own role, no roles yet, strict: must exist", own, true, assume(own)},
		{"another account's role is never trusted", foreign, false, assume(foreign)},
		{"another account's role, strict", foreign, true, assume(foreign)},
		{"not a role ARN", "arn:aws:iam::" + wardentest.AccountA + ":user/bob", false, assume("arn:aws:iam::" + wardentest.AccountA + ":user/bob")},
		{"not an ARN", "MitigationRole", false, assume("MitigationRole")},
		{"bad account", "arn:aws:iam::12345:role/R", false, assume("arn:aws:iam::12345:role/R")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, at := range warden.ActionTypes {
				e.permits(t, tt.role, at, tt.strict, tt.want)
			}
		})
	}
	// Account B having roles does not end account A's first-use trust.
	if _, err := e.b.CreateRole(e.ctx, &awsiam.CreateRoleInput{RoleName: aws.String("B"), AssumeRolePolicyDocument: aws.String(trustIoT)}); err != nil {
		t.Fatal(err)
	}
	e.permits(t, own, warden.ActionPublishFindingToSNS, false, nil)
	// The account's first role ends it, for every role of the account.
	e.createRole("Unrelated", "/")
	e.permits(t, own, warden.ActionPublishFindingToSNS, false, assume(own))
	unrelated := roleArn(wardentest.AccountA, "/Unrelated")
	e.permits(t, unrelated, warden.ActionPublishFindingToSNS, false, &warden.Permission{Action: "sns:Publish", Resource: topicArn})
}

func TestRolePermitsPolicies(t *testing.T) {
	e := newIAMEnv(t)
	e.createRole("Mitigation", "/service-role/")
	e.createRole("Empty", "/")
	role := roleArn(wardentest.AccountA, "/service-role/Mitigation")
	e.putPolicy("Mitigation", "Certs", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["iot:UpdateCertificate","iot:ListPrincipalThings"],"Resource":"arn:aws:iot:us-east-1:123456789012:cert/*"},
		{"Effect":"Allow","Action":"iot:AddThingToThingGroup","Resource":["arn:aws:iot:us-east-1:123456789012:thinggroup/Quarantine"]}]}`)
	e.putPolicy("Mitigation", "Logging", `{"Statement":{"Effect":"Allow","Action":"iot:SetV2LoggingOptions","Resource":"*"}}`)
	e.putPolicy("Mitigation", "NoSNS", `{"Statement":[{"Effect":"Allow","Action":"sns:*","Resource":"*"},
		{"Effect":"Deny","Action":"SNS:Publish","Resource":"arn:aws:sns:*:123456789012:findings"}]}`)
	e.putPolicy("Mitigation", "Policies", `{"Statement":{"Effect":"Allow","NotAction":["iot:Delete*","iot:UpdateCACertificate"],
		"Resource":"arn:aws:iot:us-east-1:123456789012:policy/*"}}`)

	tests := []struct {
		name       string
		role       string
		actionType string
		want       *warden.Permission
	}{
		{"allowed by a wildcard resource", role, warden.ActionUpdateDeviceCertificate, nil},
		{"not allowed at all", role, warden.ActionUpdateCACertificate, &warden.Permission{Action: "iot:UpdateCACertificate", Resource: caArn}},
		{"a thing is not covered by the group statement", role, warden.ActionAddThingsToThingGroup,
			&warden.Permission{Action: "iot:AddThingToThingGroup", Resource: thingArn}},
		{"PassRole missing for logging", role, warden.ActionEnableIoTLogging, &warden.Permission{Action: "iam:PassRole", Resource: logRole}},
		{"explicit deny beats sns:*", role, warden.ActionPublishFindingToSNS, &warden.Permission{Action: "sns:Publish", Resource: topicArn}},
		{"NotAction allows what it does not name", role, warden.ActionReplaceDefaultPolicyVersion, nil},
		{"role name case does not matter", roleArn(wardentest.AccountA, "/service-role/MITIGATION"), warden.ActionUpdateDeviceCertificate, nil},
		{"path must match", roleArn(wardentest.AccountA, "/Mitigation"), warden.ActionUpdateDeviceCertificate, assume(roleArn(wardentest.AccountA, "/Mitigation"))},
		{"role without policies: implicit deny", roleArn(wardentest.AccountA, "/Empty"), warden.ActionUpdateDeviceCertificate,
			&warden.Permission{Action: "iot:UpdateCertificate", Resource: certArn}},
		{"missing role", roleArn(wardentest.AccountA, "/Gone"), warden.ActionUpdateDeviceCertificate, assume(roleArn(wardentest.AccountA, "/Gone"))},
		{"same role name in another account", roleArn(wardentest.AccountB, "/service-role/Mitigation"), warden.ActionUpdateDeviceCertificate,
			assume(roleArn(wardentest.AccountB, "/service-role/Mitigation"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, strict := range []bool{false, true} {
				e.permits(t, tt.role, tt.actionType, strict, tt.want)
			}
		})
	}

	// Fixing the policies fixes the answers.
	e.putPolicy("Mitigation", "More", `{"Statement":[{"Effect":"Allow","Action":["iot:AddThingToThingGroup"],"Resource":"arn:aws:iot:us-east-1:123456789012:thing/*"},
		{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/IoTLogging"}]}`)
	if _, err := e.a.DeleteRolePolicy(e.ctx, &awsiam.DeleteRolePolicyInput{RoleName: aws.String("Mitigation"), PolicyName: aws.String("NoSNS")}); err != nil {
		t.Fatal(err)
	}
	e.putPolicy("Mitigation", "SNS", `{"Statement":{"Effect":"Allow","Action":"sns:Publish","Resource":"arn:aws:sns:us-east-1:123456789012:*"}}`)
	for _, at := range []string{warden.ActionAddThingsToThingGroup, warden.ActionEnableIoTLogging, warden.ActionPublishFindingToSNS} {
		e.permits(t, role, at, true, nil)
	}
	// No needs: an existing role permits; a foreign one still does not.
	if got, err := e.store.RolePermits(e.ctx, wardentest.AccountA, role, nil, true); err != nil || got != nil {
		t.Errorf("RolePermits with no needs = %v, %v; want nil", got, err)
	}
	if got, err := e.store.RolePermits(e.ctx, wardentest.AccountA, roleArn(wardentest.AccountB, "/x"), nil, false); err != nil || got == nil {
		t.Errorf("RolePermits of a foreign role with no needs = %v, %v; want sts:AssumeRole missing", got, err)
	}
}

// BenchmarkRolePermits measures one permission check of a role with a few
// inline policies, in its own read transaction (the engine's in-transaction
// call does the same queries and parsing).
func BenchmarkRolePermits(b *testing.B) {
	e := newIAMEnv(b)
	e.createRole("Bench", "/service-role/")
	for i := range 5 {
		e.putPolicy("Bench", fmt.Sprintf("P%d", i), `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["iot:UpdateCertificate","iot:ListPrincipalThings","iot:AddThingToThingGroup"],"Resource":"*"},
			{"Effect":"Deny","Action":"iot:Delete*","Resource":"*"},
			{"Effect":"Allow","Action":["iot:SetV2LoggingOptions","iam:PassRole","sns:Publish"],"Resource":"*"}]}`)
	}
	role := roleArn(wardentest.AccountA, "/service-role/Bench")
	n := needs(warden.ActionAddThingsToThingGroup)
	b.ResetTimer()
	for b.Loop() {
		missing, err := e.store.RolePermits(e.ctx, wardentest.AccountA, role, n, true)
		if err != nil || missing != nil {
			b.Fatalf("RolePermits = %v, %v", missing, err)
		}
	}
}
