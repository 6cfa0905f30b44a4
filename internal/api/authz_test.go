package api_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
)

// --- helpers of the authorization tests (prefix authz) ---

const authzARN = "arn:aws:iot:" + region + ":" + accountA + ":"

func authzAttach(t *testing.T, c *iot.Client, policy, target string) {
	t.Helper()
	if _, err := c.AttachPolicy(context.Background(), &iot.AttachPolicyInput{PolicyName: aws.String(policy), Target: aws.String(target)}); err != nil {
		t.Fatalf("AttachPolicy(%s, %s): %v", policy, target, err)
	}
}

func authzInfo(action types.ActionType, resources ...string) types.AuthInfo {
	for i, r := range resources {
		resources[i] = authzARN + r
	}
	return types.AuthInfo{ActionType: action, Resources: resources}
}

// authzNames renders a policy list as "a,b".
func authzNames(p []types.Policy) string {
	var names []string
	for _, x := range p {
		if aws.ToString(x.PolicyArn) != polArn(accountA, aws.ToString(x.PolicyName)) {
			return "bad ARN " + aws.ToString(x.PolicyArn)
		}
		names = append(names, aws.ToString(x.PolicyName))
	}
	return strings.Join(names, ",")
}

// authzResult renders an AuthResult as "DECISION allowed=a explicit=b implicit=c".
func authzResult(r types.AuthResult) string {
	s := fmt.Sprintf("%s allowed=%s explicit=%s implicit=%s", r.AuthDecision,
		authzNames(r.Allowed.Policies), authzNames(r.Denied.ExplicitDeny.Policies), authzNames(r.Denied.ImplicitDeny.Policies))
	if len(r.MissingContextValues) > 0 {
		s += " missing=" + strings.Join(r.MissingContextValues, ",")
	}
	return s
}

func authzTest(t *testing.T, c *iot.Client, in *iot.TestAuthorizationInput) []string {
	t.Helper()
	out, err := c.TestAuthorization(context.Background(), in)
	if err != nil {
		t.Fatalf("TestAuthorization: %v", err)
	}
	if len(out.AuthResults) != len(in.AuthInfos) {
		t.Fatalf("%d results for %d authInfos", len(out.AuthResults), len(in.AuthInfos))
	}
	var got []string
	for i, r := range out.AuthResults {
		if r.AuthInfo == nil || r.AuthInfo.ActionType != in.AuthInfos[i].ActionType || !reflect.DeepEqual(r.AuthInfo.Resources, in.AuthInfos[i].Resources) {
			t.Errorf("result %d does not echo its authInfo: %+v", i, r.AuthInfo)
		}
		got = append(got, authzResult(r))
	}
	return got
}

// authzFixture: a certificate attached to thing dev1 (room r1), which is in
// group building under fleet; policies on the certificate and the groups.
type authzFixture struct {
	certARN string
	certID  string
}

func newAuthzFixture(t *testing.T, e *env) authzFixture {
	cert := certCreate(t, e.a, true)
	f := authzFixture{certARN: aws.ToString(cert.CertificateArn), certID: aws.ToString(cert.CertificateId)}
	polCreate(t, e.a, "dev-allow", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Connect","Resource":"`+authzARN+`client/${iot:Connection.Thing.ThingName}"},
		{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"`+authzARN+`topic/dev/${iot:ClientId}/*"},
		{"Effect":"Allow","Action":"iot:Publish","Resource":"`+authzARN+`topic/rooms/${iot:Connection.Thing.Attributes[room]}"}]}`)
	polCreate(t, e.a, "dev-deny", `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iot:Publish","Resource":"`+authzARN+`topic/dev/*/secret"}}`)
	polCreate(t, e.a, "extra", polDoc("iot:Subscribe", authzARN+"topicfilter/*"))
	polCreate(t, e.a, "fleet-policy", polDoc("iot:Publish", authzARN+"topic/fleet/*"))
	polCreate(t, e.a, "building-policy", polDoc("iot:Publish", authzARN+"topic/building/*"))
	polCreate(t, e.a, "ip-policy", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`)
	authzAttach(t, e.a, "dev-allow", f.certARN)
	authzAttach(t, e.a, "dev-deny", f.certARN)
	thGroup(t, e.a, "fleet", "")
	thGroup(t, e.a, "building", "fleet")
	authzAttach(t, e.a, "fleet-policy", thGroupArn(accountA, "fleet"))
	authzAttach(t, e.a, "building-policy", thGroupArn(accountA, "building"))
	thCreate(t, e.a, "dev1", "", thAttrs("room", "r1"))
	thMustAdd(t, e.a, "dev1", "building")
	if _, err := e.a.AttachThingPrincipal(context.Background(), &iot.AttachThingPrincipalInput{ThingName: aws.String("dev1"), Principal: aws.String(f.certARN)}); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestAuthzTestAuthorization(t *testing.T) {
	e := newEnv(t)
	f := newAuthzFixture(t, e)

	for _, tc := range []struct {
		name string
		in   *iot.TestAuthorizationInput
		want []string
	}{
		{
			name: "as the certificate",
			in: &iot.TestAuthorizationInput{
				Principal: aws.String(f.certARN), ClientId: aws.String("c1"),
				AuthInfos: []types.AuthInfo{
					authzInfo(types.ActionTypePublish, "topic/dev/c1/x"),
					authzInfo(types.ActionTypePublish, "topic/dev/c1/secret"),
					authzInfo(types.ActionTypeSubscribe, "topicfilter/dev/c1/#"),
					authzInfo(types.ActionTypeReceive, "topic/dev/c2/x"),
					authzInfo(types.ActionTypeConnect, "client/c1"),
					authzInfo(types.ActionTypePublish, "topic/dev/c1/a", "topic/dev/c1/b"),
					authzInfo(types.ActionTypePublish, "topic/dev/c1/a", "topic/elsewhere"),
				},
			},
			want: []string{
				"ALLOWED allowed=dev-allow explicit= implicit=dev-deny",
				"EXPLICIT_DENY allowed=dev-allow explicit=dev-deny implicit=",
				"IMPLICIT_DENY allowed= explicit= implicit=dev-allow,dev-deny",
				"IMPLICIT_DENY allowed= explicit= implicit=dev-allow,dev-deny",
				// c1 is no thing of this certificate, so the thing variables stay unresolved.
				"IMPLICIT_DENY allowed= explicit= implicit=dev-allow,dev-deny",
				"ALLOWED allowed=dev-allow explicit= implicit=dev-deny",
				"IMPLICIT_DENY allowed=dev-allow explicit= implicit=dev-deny",
			},
		},
		// As the thing: its attribute and its groups' policies apply.
		{
			name: "as the thing",
			in: &iot.TestAuthorizationInput{
				Principal: aws.String(f.certARN), ClientId: aws.String("dev1"),
				AuthInfos: []types.AuthInfo{
					authzInfo(types.ActionTypeConnect, "client/dev1"),
					authzInfo(types.ActionTypePublish, "topic/rooms/r1"),
					authzInfo(types.ActionTypePublish, "topic/fleet/x"),
					authzInfo(types.ActionTypePublish, "topic/building/x"),
				},
			},
			want: []string{
				"ALLOWED allowed=dev-allow explicit= implicit=building-policy,dev-deny,fleet-policy",
				"ALLOWED allowed=dev-allow explicit= implicit=building-policy,dev-deny,fleet-policy",
				"ALLOWED allowed=fleet-policy explicit= implicit=building-policy,dev-allow,dev-deny",
				"ALLOWED allowed=building-policy explicit= implicit=dev-allow,dev-deny,fleet-policy",
			},
		},
		// policyNamesToSkip and policyNamesToAdd.
		{
			name: "skip/add",
			in: &iot.TestAuthorizationInput{
				Principal: aws.String(f.certARN), ClientId: aws.String("c1"),
				PolicyNamesToSkip: []string{"dev-deny"}, PolicyNamesToAdd: []string{"extra", "ip-policy"},
				AuthInfos: []types.AuthInfo{
					authzInfo(types.ActionTypePublish, "topic/dev/c1/secret"),
					authzInfo(types.ActionTypeSubscribe, "topicfilter/dev/c1/#"),
					authzInfo(types.ActionTypePublish, "topic/other"),
				},
			},
			want: []string{
				// The IP condition is reported missing even when another policy allows.
				"ALLOWED allowed=dev-allow explicit= implicit=extra,ip-policy missing=aws:SourceIp",
				"ALLOWED allowed=extra explicit= implicit=dev-allow,ip-policy",
				// TestAuthorization knows no source IP.
				"IMPLICIT_DENY allowed= explicit= implicit=dev-allow,extra,ip-policy missing=aws:SourceIp",
			},
		},
		// A thing group principal stands for its and its ancestors' policies.
		{
			name: "group principal",
			in: &iot.TestAuthorizationInput{
				Principal: aws.String(thGroupArn(accountA, "building")),
				AuthInfos: []types.AuthInfo{authzInfo(types.ActionTypePublish, "topic/fleet/x")},
			},
			want: []string{"ALLOWED allowed=fleet-policy explicit= implicit=building-policy"},
		},
	} {
		if got := authzTest(t, e.a, tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.name, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}

	// The wire format: every list present, even empty.
	r := e.call(t, http.MethodPost, "/test-authorization?clientId=c1",
		[]byte(`{"principal":"`+f.certARN+`","authInfos":[{"actionType":"SUBSCRIBE","resources":["`+authzARN+`topicfilter/x"]}]}`))
	body := wantOK(t, r)
	res := body["authResults"].([]any)[0].(map[string]any)
	if fmt.Sprint(res["allowed"]) != "map[policies:[]]" || fmt.Sprint(res["denied"].(map[string]any)["explicitDeny"]) != "map[policies:[]]" ||
		res["authDecision"] != "IMPLICIT_DENY" || fmt.Sprint(res["missingContextValues"]) != "[]" {
		t.Errorf("wire format: %v", res)
	}
}

func TestAuthzTestAuthorizationErrors(t *testing.T) {
	e := newEnv(t)
	f := newAuthzFixture(t, e)
	one := []types.AuthInfo{authzInfo(types.ActionTypePublish, "topic/a")}
	eleven := make([]types.AuthInfo, 11)
	for i := range eleven {
		eleven[i] = authzInfo(types.ActionTypePublish, "topic/a")
	}
	for _, tc := range []struct {
		name   string
		in     *iot.TestAuthorizationInput
		code   string
		status int
	}{
		{"Cognito identity", &iot.TestAuthorizationInput{Principal: aws.String("us-east-1:0b3e1a52-8b22-4a44-9c9a-4f3c7e2a1111"), AuthInfos: one}, warden.CodeInvalidRequest, 400},
		{"Cognito pool", &iot.TestAuthorizationInput{Principal: aws.String(f.certARN), CognitoIdentityPoolId: aws.String("us-east-1:pool"), AuthInfos: one}, warden.CodeInvalidRequest, 400},
		{"no principal", &iot.TestAuthorizationInput{AuthInfos: one}, warden.CodeInvalidRequest, 400},
		{"unknown certificate", &iot.TestAuthorizationInput{Principal: aws.String(authzARN + "cert/" + strings.Repeat("ab", 32)), AuthInfos: one}, warden.CodeResourceNotFound, 404},
		{"another account's certificate", &iot.TestAuthorizationInput{Principal: aws.String(strings.Replace(f.certARN, accountA, accountB, 1)), AuthInfos: one}, warden.CodeResourceNotFound, 404},
		{"unknown thing group", &iot.TestAuthorizationInput{Principal: aws.String(thGroupArn(accountA, "nope")), AuthInfos: one}, warden.CodeResourceNotFound, 404},
		{"a thing ARN", &iot.TestAuthorizationInput{Principal: aws.String(thArn(accountA, "dev1")), AuthInfos: one}, warden.CodeInvalidRequest, 400},
		{"unknown policy to add", &iot.TestAuthorizationInput{Principal: aws.String(f.certARN), PolicyNamesToAdd: []string{"nope"}, AuthInfos: one}, warden.CodeResourceNotFound, 404},
		{"bad policy name to add", &iot.TestAuthorizationInput{Principal: aws.String(f.certARN), PolicyNamesToAdd: []string{"a b"}, AuthInfos: one}, warden.CodeInvalidRequest, 400},
		{"eleven authInfos", &iot.TestAuthorizationInput{Principal: aws.String(f.certARN), AuthInfos: eleven}, warden.CodeInvalidRequest, 400},
		{"unknown action type", &iot.TestAuthorizationInput{Principal: aws.String(f.certARN), AuthInfos: []types.AuthInfo{{ActionType: "RETAIN", Resources: []string{authzARN + "topic/a"}}}}, warden.CodeInvalidRequest, 400},
		{"no action type", &iot.TestAuthorizationInput{Principal: aws.String(f.certARN), AuthInfos: []types.AuthInfo{{Resources: []string{authzARN + "topic/a"}}}}, warden.CodeInvalidRequest, 400},
		{"no resources", &iot.TestAuthorizationInput{Principal: aws.String(f.certARN), AuthInfos: []types.AuthInfo{{ActionType: types.ActionTypePublish, Resources: []string{}}}}, warden.CodeInvalidRequest, 400},
		{"a resource that is no ARN", &iot.TestAuthorizationInput{Principal: aws.String(f.certARN), AuthInfos: []types.AuthInfo{{ActionType: types.ActionTypePublish, Resources: []string{"topic/a"}}}}, warden.CodeInvalidRequest, 400},
		{"a resource over 2048 characters", &iot.TestAuthorizationInput{Principal: aws.String(f.certARN), AuthInfos: []types.AuthInfo{{ActionType: types.ActionTypePublish, Resources: []string{authzARN + "topic/" + strings.Repeat("a", 2048)}}}}, warden.CodeInvalidRequest, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.a.TestAuthorization(context.Background(), tc.in)
			wantCode(t, err, tc.code, tc.status)
		})
	}
	// The SDK checks required members itself; a raw request goes past it.
	for _, body := range []string{`{"principal":"` + f.certARN + `"}`, `{"principal":"` + f.certARN + `","authInfos":[]}`,
		`{"principal":"` + f.certARN + `","authInfos":[{"actionType":"PUBLISH"}]}`, `{"principal":1,"authInfos":[]}`} {
		wantJSONError(t, e.call(t, http.MethodPost, "/test-authorization", []byte(body)), warden.CodeInvalidRequest, 400)
	}
}

func TestAuthzGetEffectivePolicies(t *testing.T) {
	e := newEnv(t)
	f := newAuthzFixture(t, e)
	get := func(in *iot.GetEffectivePoliciesInput) string {
		t.Helper()
		out, err := e.a.GetEffectivePolicies(context.Background(), in)
		if err != nil {
			t.Fatalf("GetEffectivePolicies: %v", err)
		}
		var names []string
		for _, p := range out.EffectivePolicies {
			name := aws.ToString(p.PolicyName)
			if aws.ToString(p.PolicyArn) != polArn(accountA, name) {
				t.Errorf("%s: ARN %s", name, aws.ToString(p.PolicyArn))
			}
			if doc := aws.ToString(p.PolicyDocument); doc != aws.ToString(polGet(t, e.a, name).PolicyDocument) {
				t.Errorf("%s: document %s is not the default version's", name, doc)
			}
			names = append(names, name)
		}
		return strings.Join(names, ",")
	}
	if got := get(&iot.GetEffectivePoliciesInput{Principal: aws.String(f.certARN)}); got != "dev-allow,dev-deny" {
		t.Errorf("certificate: %s", got)
	}
	if got := get(&iot.GetEffectivePoliciesInput{ThingName: aws.String("dev1")}); got != "building-policy,fleet-policy" {
		t.Errorf("thing: %s", got)
	}
	if got := get(&iot.GetEffectivePoliciesInput{Principal: aws.String(f.certARN), ThingName: aws.String("dev1")}); got != "building-policy,dev-allow,dev-deny,fleet-policy" {
		t.Errorf("certificate and thing: %s", got)
	}
	if got := get(&iot.GetEffectivePoliciesInput{Principal: aws.String(thGroupArn(accountA, "building"))}); got != "building-policy,fleet-policy" {
		t.Errorf("thing group: %s", got)
	}
	// A new default version shows.
	polVersion(t, e.a, "fleet-policy", polDoc("iot:Receive", authzARN+"topic/fleet/*"), true)
	if got := get(&iot.GetEffectivePoliciesInput{Principal: aws.String(thGroupArn(accountA, "fleet"))}); got != "fleet-policy" {
		t.Errorf("root group: %s", got)
	}
	thCreate(t, e.a, "lonely", "", nil)
	out, err := e.a.GetEffectivePolicies(context.Background(), &iot.GetEffectivePoliciesInput{ThingName: aws.String("lonely")})
	if err != nil || out.EffectivePolicies == nil || len(out.EffectivePolicies) != 0 {
		t.Errorf("a thing without groups: %+v, %v", out, err)
	}

	for _, tc := range []struct {
		name   string
		in     *iot.GetEffectivePoliciesInput
		code   string
		status int
	}{
		{"neither", &iot.GetEffectivePoliciesInput{}, warden.CodeInvalidRequest, 400},
		{"unknown thing", &iot.GetEffectivePoliciesInput{ThingName: aws.String("nope")}, warden.CodeResourceNotFound, 404},
		{"bad thing name", &iot.GetEffectivePoliciesInput{ThingName: aws.String("a b")}, warden.CodeInvalidRequest, 400},
		{"unknown certificate", &iot.GetEffectivePoliciesInput{Principal: aws.String(authzARN + "cert/" + strings.Repeat("cd", 32))}, warden.CodeResourceNotFound, 404},
		{"unknown group", &iot.GetEffectivePoliciesInput{Principal: aws.String(thGroupArn(accountA, "nope"))}, warden.CodeResourceNotFound, 404},
		{"Cognito", &iot.GetEffectivePoliciesInput{Principal: aws.String("us-east-1:abc")}, warden.CodeInvalidRequest, 400},
		{"Cognito pool", &iot.GetEffectivePoliciesInput{CognitoIdentityPoolId: aws.String("us-east-1:pool"), ThingName: aws.String("dev1")}, warden.CodeInvalidRequest, 400},
		{"other account", &iot.GetEffectivePoliciesInput{Principal: aws.String(f.certARN)}, warden.CodeResourceNotFound, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.a
			if tc.name == "other account" {
				c = e.b
			}
			_, err := c.GetEffectivePolicies(context.Background(), tc.in)
			wantCode(t, err, tc.code, tc.status)
		})
	}
}
