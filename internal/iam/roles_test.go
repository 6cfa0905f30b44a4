package iam_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/wardentest"
)

var roleID = regexp.MustCompile(`^AROA[A-Z2-7]{17}$`)

func TestIAMRoleLifecycle(t *testing.T) {
	e := newIAMEnv(t)
	trust := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Principal\": {\"Service\": \"iot.amazonaws.com\"}, \"Action\": \"sts:AssumeRole\"}]\n}"
	before := time.Now().Add(-time.Second)
	created, err := e.a.CreateRole(e.ctx, &awsiam.CreateRoleInput{
		RoleName: aws.String("MitigationRole"), Path: aws.String("/service-role/"), AssumeRolePolicyDocument: aws.String(trust),
		Description: aws.String("Quarantine role, ünïcode ok"), MaxSessionDuration: aws.Int32(7200),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("iot")}, {Key: aws.String("env"), Value: aws.String("")}},
	})
	if err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	r := created.Role
	wantArn := "arn:aws:iam::" + wardentest.AccountA + ":role/service-role/MitigationRole"
	if got := aws.ToString(r.Arn); got != wantArn {
		t.Errorf("Arn = %q, want %q", got, wantArn)
	}
	if !roleID.MatchString(aws.ToString(r.RoleId)) {
		t.Errorf("RoleId = %q, want AROA + 17 of [A-Z2-7]", aws.ToString(r.RoleId))
	}
	if aws.ToString(r.Path) != "/service-role/" || aws.ToString(r.RoleName) != "MitigationRole" {
		t.Errorf("Path, RoleName = %q, %q", aws.ToString(r.Path), aws.ToString(r.RoleName))
	}
	if got := decode(t, r.AssumeRolePolicyDocument); got != trust {
		t.Errorf("AssumeRolePolicyDocument decodes to %q, want the document as sent %q", got, trust)
	}
	if strings.ContainsAny(aws.ToString(r.AssumeRolePolicyDocument), "{\" ") {
		t.Errorf("AssumeRolePolicyDocument %q is not URL-encoded", aws.ToString(r.AssumeRolePolicyDocument))
	}
	if r.CreateDate == nil || r.CreateDate.Before(before) || r.CreateDate.After(time.Now().Add(time.Second)) {
		t.Errorf("CreateDate = %v, want about now", r.CreateDate)
	}
	if aws.ToString(r.Description) != "Quarantine role, ünïcode ok" || aws.ToInt32(r.MaxSessionDuration) != 7200 {
		t.Errorf("Description, MaxSessionDuration = %q, %d", aws.ToString(r.Description), aws.ToInt32(r.MaxSessionDuration))
	}
	wantTags := map[string]string{"team": "iot", "env": ""}
	if got := tagMap(r.Tags); !reflect.DeepEqual(got, wantTags) {
		t.Errorf("Tags = %v, want %v", got, wantTags)
	}

	// Names are found without regard to case; the stored case is shown.
	got, err := e.a.GetRole(e.ctx, &awsiam.GetRoleInput{RoleName: aws.String("mitigationROLE")})
	if err != nil {
		t.Fatalf("GetRole: %v", err)
	}
	g := got.Role
	if aws.ToString(g.RoleName) != "MitigationRole" || aws.ToString(g.Arn) != wantArn || aws.ToString(g.RoleId) != aws.ToString(r.RoleId) {
		t.Errorf("GetRole = %q %q %q, want the created role", aws.ToString(g.RoleName), aws.ToString(g.Arn), aws.ToString(g.RoleId))
	}
	if decode(t, g.AssumeRolePolicyDocument) != trust || !tagsEqual(g.Tags, wantTags) || g.RoleLastUsed == nil {
		t.Errorf("GetRole: document %q, tags %v, RoleLastUsed %v", decode(t, g.AssumeRolePolicyDocument), tagMap(g.Tags), g.RoleLastUsed)
	}
	if !g.CreateDate.Equal(r.CreateDate.Truncate(time.Second)) {
		t.Errorf("GetRole CreateDate = %v, CreateRole said %v", g.CreateDate, r.CreateDate)
	}

	list, err := e.a.ListRoles(e.ctx, &awsiam.ListRolesInput{})
	if err != nil {
		t.Fatalf("ListRoles: %v", err)
	}
	if len(list.Roles) != 1 || aws.ToString(list.Roles[0].Arn) != wantArn || list.IsTruncated || list.Marker != nil {
		t.Fatalf("ListRoles = %+v, want just %s, not truncated", list, wantArn)
	}
	if l := list.Roles[0]; l.Tags != nil || l.RoleLastUsed != nil || aws.ToInt32(l.MaxSessionDuration) != 7200 || decode(t, l.AssumeRolePolicyDocument) != trust {
		t.Errorf("ListRoles member: Tags %v, RoleLastUsed %v, MaxSessionDuration %d; want no tags, no RoleLastUsed (as IAM)",
			l.Tags, l.RoleLastUsed, aws.ToInt32(l.MaxSessionDuration))
	}

	policy := `{"Version":"2012-10-17","Statement":{"Sid":"Cert1","Effect":"Allow","Action":["iot:UpdateCertificate"],"Resource":"arn:aws:iot:*:123456789012:cert/*"}}`
	e.putPolicy("MitigationRole", "UpdateCerts", policy)
	gp, err := e.a.GetRolePolicy(e.ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String("mitigationrole"), PolicyName: aws.String("updatecerts")})
	if err != nil {
		t.Fatalf("GetRolePolicy: %v", err)
	}
	if aws.ToString(gp.RoleName) != "MitigationRole" || aws.ToString(gp.PolicyName) != "UpdateCerts" || decode(t, gp.PolicyDocument) != policy {
		t.Errorf("GetRolePolicy = %q %q %q", aws.ToString(gp.RoleName), aws.ToString(gp.PolicyName), decode(t, gp.PolicyDocument))
	}
	if want := url.QueryEscape(policy); aws.ToString(gp.PolicyDocument) != strings.ReplaceAll(want, "+", "%20") {
		t.Errorf("PolicyDocument = %q, want it URL-encoded", aws.ToString(gp.PolicyDocument))
	}
	// A second Put of the same name (another case) replaces the document
	// and keeps the first name.
	policy2 := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`
	e.putPolicy("MitigationRole", "UPDATECERTS", policy2)
	e.putPolicy("MitigationRole", "Another", policy)
	names, err := e.a.ListRolePolicies(e.ctx, &awsiam.ListRolePoliciesInput{RoleName: aws.String("MitigationRole")})
	if err != nil {
		t.Fatalf("ListRolePolicies: %v", err)
	}
	if want := []string{"Another", "UpdateCerts"}; !reflect.DeepEqual(names.PolicyNames, want) || names.IsTruncated {
		t.Errorf("ListRolePolicies = %v (truncated %v), want %v", names.PolicyNames, names.IsTruncated, want)
	}
	gp, err = e.a.GetRolePolicy(e.ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String("MitigationRole"), PolicyName: aws.String("UpdateCerts")})
	if err != nil || decode(t, gp.PolicyDocument) != policy2 {
		t.Fatalf("GetRolePolicy after replace: %v, %v; want the new document", err, gp)
	}

	// IAM refuses to delete a role that still has inline policies.
	_, err = e.a.DeleteRole(e.ctx, &awsiam.DeleteRoleInput{RoleName: aws.String("MitigationRole")})
	wardentest.WantCode(t, err, "DeleteConflict", http.StatusConflict)
	for _, p := range []string{"updatecerts", "Another"} {
		if _, err := e.a.DeleteRolePolicy(e.ctx, &awsiam.DeleteRolePolicyInput{RoleName: aws.String("MitigationRole"), PolicyName: aws.String(p)}); err != nil {
			t.Fatalf("DeleteRolePolicy %s: %v", p, err)
		}
	}
	names, err = e.a.ListRolePolicies(e.ctx, &awsiam.ListRolePoliciesInput{RoleName: aws.String("MitigationRole")})
	if err != nil || len(names.PolicyNames) != 0 {
		t.Fatalf("ListRolePolicies after deletes = %v, %v; want none", names, err)
	}
	if _, err := e.a.DeleteRole(e.ctx, &awsiam.DeleteRoleInput{RoleName: aws.String("MITIGATIONROLE")}); err != nil {
		t.Fatalf("DeleteRole: %v", err)
	}
	_, err = e.a.GetRole(e.ctx, &awsiam.GetRoleInput{RoleName: aws.String("MitigationRole")})
	wardentest.WantCode(t, err, "NoSuchEntity", http.StatusNotFound)
	list, err = e.a.ListRoles(e.ctx, &awsiam.ListRolesInput{})
	if err != nil || len(list.Roles) != 0 {
		t.Fatalf("ListRoles after delete = %v, %v; want none", list, err)
	}

	// Every mutation is in the change log, attributed to the access key.
	changes, err := e.store.Changes(e.ctx, warden.ChangeFilter{ResourceArn: wantArn})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, c := range changes {
		ops = append(ops, c.Operation)
		if c.Actor != wardentest.KeyA {
			t.Errorf("change %s by %q, want %q", c.Operation, c.Actor, wardentest.KeyA)
		}
	}
	want := []string{"CreateRole", "PutRolePolicy", "PutRolePolicy", "PutRolePolicy", "DeleteRolePolicy", "DeleteRolePolicy", "DeleteRole"}
	if !reflect.DeepEqual(ops, want) {
		t.Errorf("change log = %v, want %v", ops, want)
	}
	if len(changes) == len(want) {
		if changes[0].Before != "" || !strings.Contains(changes[0].After, `"RoleName":"MitigationRole"`) {
			t.Errorf("CreateRole change: before %q after %q", changes[0].Before, changes[0].After)
		}
		if changes[2].Before == "" || !strings.Contains(changes[2].After, `"PolicyName":"UpdateCerts"`) {
			t.Errorf("replacing PutRolePolicy change: before %q after %q", changes[2].Before, changes[2].After)
		}
		if changes[6].After != "" {
			t.Errorf("DeleteRole change after = %q, want empty", changes[6].After)
		}
	}
}

func TestIAMCreateRoleDefaults(t *testing.T) {
	e := newIAMEnv(t)
	r := e.createRole("plain", "").Role
	if aws.ToString(r.Path) != "/" || aws.ToString(r.Arn) != "arn:aws:iam::"+wardentest.AccountA+":role/plain" {
		t.Errorf("Path, Arn = %q, %q; want / and role/plain", aws.ToString(r.Path), aws.ToString(r.Arn))
	}
	if r.Description != nil || r.Tags != nil {
		t.Errorf("Description %v, Tags %v; want both absent", r.Description, r.Tags)
	}
	g, err := e.a.GetRole(e.ctx, &awsiam.GetRoleInput{RoleName: aws.String("plain")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(g.Role.MaxSessionDuration) != 3600 {
		t.Errorf("MaxSessionDuration = %d, want the default 3600", aws.ToInt32(g.Role.MaxSessionDuration))
	}
	// Every allowed character of a name and the longest names and paths.
	long := strings.Repeat("a", 64)
	path := "/" + strings.Repeat("p", 510) + "/"
	e.createRole(long, path)
	e.createRole("A_b+c=d,e.f@g-0", "/!~\x7f/")
}

func tagMap(tags []types.Tag) map[string]string {
	if tags == nil {
		return nil
	}
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func tagsEqual(tags []types.Tag, want map[string]string) bool {
	return reflect.DeepEqual(tagMap(tags), want)
}

func TestIAMCreateRoleErrors(t *testing.T) {
	e := newIAMEnv(t)
	e.createRole("Existing", "")
	manyTags := make([]types.Tag, 51)
	for i := range manyTags {
		manyTags[i] = types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")}
	}
	bigTrust := `{"Version":"2012-10-17","Statement":[` + strings.Repeat(
		`{"Effect":"Allow","Principal":{"Service":"iot.amazonaws.com"},"Action":"sts:AssumeRole"},`, 25) +
		`{"Effect":"Allow","Principal":{"Service":"iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	in := func(mod func(*awsiam.CreateRoleInput)) *awsiam.CreateRoleInput {
		r := &awsiam.CreateRoleInput{RoleName: aws.String("NewRole"), AssumeRolePolicyDocument: aws.String(trustIoT)}
		mod(r)
		return r
	}
	tests := []struct {
		name, code, msg string
		status          int
		in              *awsiam.CreateRoleInput
	}{
		{"existing name", "EntityAlreadyExists", "Role with name Existing already exists.", 409,
			in(func(r *awsiam.CreateRoleInput) { r.RoleName = aws.String("Existing") })},
		{"existing name in another case", "EntityAlreadyExists", "already exists", 409,
			in(func(r *awsiam.CreateRoleInput) { r.RoleName = aws.String("EXISTING") })},
		{"name with a space", "ValidationError", `Value 'a b' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`, 400,
			in(func(r *awsiam.CreateRoleInput) { r.RoleName = aws.String("a b") })},
		{"name with a slash", "ValidationError", "at 'roleName'", 400,
			in(func(r *awsiam.CreateRoleInput) { r.RoleName = aws.String("a/b") })},
		{"name of 65", "ValidationError", "Member must have length less than or equal to 64", 400,
			in(func(r *awsiam.CreateRoleInput) { r.RoleName = aws.String(strings.Repeat("n", 65)) })},
		{"empty name", "ValidationError", "Member must have length greater than or equal to 1", 400,
			in(func(r *awsiam.CreateRoleInput) { r.RoleName = aws.String("") })},
		{"path without trailing slash", "ValidationError", "at 'path'", 400,
			in(func(r *awsiam.CreateRoleInput) { r.Path = aws.String("/a") })},
		{"path without leading slash", "ValidationError", "at 'path'", 400,
			in(func(r *awsiam.CreateRoleInput) { r.Path = aws.String("a/") })},
		{"path //", "ValidationError", "at 'path'", 400,
			in(func(r *awsiam.CreateRoleInput) { r.Path = aws.String("//") })},
		{"path with a space", "ValidationError", "at 'path'", 400,
			in(func(r *awsiam.CreateRoleInput) { r.Path = aws.String("/a b/") })},
		{"path of 513", "ValidationError", "Member must have length less than or equal to 512", 400,
			in(func(r *awsiam.CreateRoleInput) { r.Path = aws.String("/" + strings.Repeat("p", 511) + "/") })},
		{"trust policy with a character above U+00FF", "ValidationError", "at 'assumeRolePolicyDocument'", 400,
			in(func(r *awsiam.CreateRoleInput) {
				r.AssumeRolePolicyDocument = aws.String(`{"Statement":[{"Sid":"€","Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}`)
			})},
		{"description of 1001", "ValidationError", "at 'description'", 400,
			in(func(r *awsiam.CreateRoleInput) { r.Description = aws.String(strings.Repeat("d", 1001)) })},
		{"description with a control character", "ValidationError", "at 'description'", 400,
			in(func(r *awsiam.CreateRoleInput) { r.Description = aws.String("a\tb") })},
		{"session of 3599", "ValidationError", "Value '3599' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600", 400,
			in(func(r *awsiam.CreateRoleInput) { r.MaxSessionDuration = aws.Int32(3599) })},
		{"session of 43201", "ValidationError", "Member must have value less than or equal to 43200", 400,
			in(func(r *awsiam.CreateRoleInput) { r.MaxSessionDuration = aws.Int32(43201) })},
		{"51 tags", "ValidationError", "at 'tags'", 400,
			in(func(r *awsiam.CreateRoleInput) { r.Tags = manyTags })},
		{"tag key with a bad character", "ValidationError", "at 'tags.1.member.key'", 400,
			in(func(r *awsiam.CreateRoleInput) {
				r.Tags = []types.Tag{{Key: aws.String("a*b"), Value: aws.String("v")}}
			})},
		{"empty tag key", "ValidationError", "at 'tags.1.member.key'", 400,
			in(func(r *awsiam.CreateRoleInput) { r.Tags = []types.Tag{{Key: aws.String(""), Value: aws.String("v")}} })},
		{"tag value of 257", "ValidationError", "at 'tags.1.member.value'", 400,
			in(func(r *awsiam.CreateRoleInput) {
				r.Tags = []types.Tag{{Key: aws.String("k"), Value: aws.String(strings.Repeat("v", 257))}}
			})},
		{"tag keys that differ only in case", "InvalidInput", "Tag keys are case insensitive", 400,
			in(func(r *awsiam.CreateRoleInput) {
				r.Tags = []types.Tag{{Key: aws.String("Team"), Value: aws.String("a")}, {Key: aws.String("team"), Value: aws.String("b")}}
			})},
		{"reserved tag key", "InvalidInput", "aws:", 400,
			in(func(r *awsiam.CreateRoleInput) {
				r.Tags = []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("v")}}
			})},
		{"permissions boundary", "InvalidInput", "PermissionsBoundary is not supported", 400,
			in(func(r *awsiam.CreateRoleInput) {
				r.PermissionsBoundary = aws.String("arn:aws:iam::123456789012:policy/Boundary")
			})},
		{"two problems at once", "ValidationError", "2 validation errors detected", 400,
			in(func(r *awsiam.CreateRoleInput) { r.RoleName = aws.String("a b"); r.Path = aws.String("x") })},
		{"trust policy not JSON", "MalformedPolicyDocument", "Syntax errors in policy.", 400,
			in(func(r *awsiam.CreateRoleInput) { r.AssumeRolePolicyDocument = aws.String(`{"Statement":`) })},
		{"trust policy without principal", "MalformedPolicyDocument", "Missing required field Principal.", 400,
			in(func(r *awsiam.CreateRoleInput) {
				r.AssumeRolePolicyDocument = aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`)
			})},
		{"trust policy with a resource", "MalformedPolicyDocument", "Has prohibited field Resource.", 400,
			in(func(r *awsiam.CreateRoleInput) {
				r.AssumeRolePolicyDocument = aws.String(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}]}`)
			})},
		{"trust policy with an iot action", "MalformedPolicyDocument", "AssumeRole policy may only specify STS AssumeRole actions.", 400,
			in(func(r *awsiam.CreateRoleInput) {
				r.AssumeRolePolicyDocument = aws.String(`{"Statement":[{"Effect":"Allow","Principal":{"Service":"iot.amazonaws.com"},"Action":"iot:*"}]}`)
			})},
		{"trust policy with an unknown principal type", "MalformedPolicyDocument", "Invalid principal in policy", 400,
			in(func(r *awsiam.CreateRoleInput) {
				r.AssumeRolePolicyDocument = aws.String(`{"Statement":[{"Effect":"Allow","Principal":{"Robot":"x"},"Action":"sts:AssumeRole"}]}`)
			})},
		{"trust policy with a bad AWS principal", "MalformedPolicyDocument", "Invalid principal in policy", 400,
			in(func(r *awsiam.CreateRoleInput) {
				r.AssumeRolePolicyDocument = aws.String(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"sts:AssumeRole"}]}`)
			})},
		{"trust policy with a bad version", "MalformedPolicyDocument", "The policy failed legacy parsing", 400,
			in(func(r *awsiam.CreateRoleInput) {
				r.AssumeRolePolicyDocument = aws.String(`{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}`)
			})},
		{"trust policy over 2048 characters", "LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048", 409,
			in(func(r *awsiam.CreateRoleInput) { r.AssumeRolePolicyDocument = aws.String(bigTrust) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.state(wardentest.AccountA)
			_, err := e.a.CreateRole(e.ctx, tt.in)
			wardentest.WantCode(t, err, tt.code, tt.status)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err.Error(), tt.msg)
			}
			if after := e.state(wardentest.AccountA); !reflect.DeepEqual(after, before) {
				t.Errorf("a rejected CreateRole changed the store:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

func TestIAMRolePolicyErrors(t *testing.T) {
	e := newIAMEnv(t)
	e.createRole("R", "")
	ok := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`
	e.putPolicy("R", "Base", ok)
	// 10,240 characters without whitespace across all of a role's inline policies.
	filler := func(n int) string {
		head, tail := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot:us-east-1:123456789012:thing/`, `"}]}`
		return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
	}
	room := warden.MaxRoleInlinePolicyChars - warden.PolicyChars(ok)
	put := func(role, name, doc string) error {
		_, err := e.a.PutRolePolicy(e.ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
		return err
	}
	tests := []struct {
		name, code, msg string
		status          int
		call            func() error
	}{
		{"put on a missing role", "NoSuchEntity", "The role with name Missing cannot be found.", 404,
			func() error { return put("Missing", "P", ok) }},
		{"put a policy naming a principal", "MalformedPolicyDocument", "Policy document should not specify a principal.", 400,
			func() error {
				return put("R", "P", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"iot:*","Resource":"*"}]}`)
			}},
		{"put a policy without resources", "MalformedPolicyDocument", "Policy statement must contain resources.", 400,
			func() error { return put("R", "P", `{"Statement":[{"Effect":"Allow","Action":"iot:*"}]}`) }},
		{"put a policy without actions", "MalformedPolicyDocument", "Policy statement must contain actions.", 400,
			func() error { return put("R", "P", `{"Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}`) }},
		{"put a policy with an action without vendor", "MalformedPolicyDocument", "Actions/Conditions must be prefaced by a vendor", 400,
			func() error {
				return put("R", "P", `{"Statement":[{"Effect":"Allow","Action":"UpdateCertificate","Resource":"*"}]}`)
			}},
		{"put a policy with a resource that is no ARN", "MalformedPolicyDocument", `Resource cert/1 must be in ARN format or "*".`, 400,
			func() error {
				return put("R", "P", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"cert/1"}]}`)
			}},
		{"put a policy with an unknown effect", "MalformedPolicyDocument", "Invalid effect", 400,
			func() error {
				return put("R", "P", `{"Statement":[{"Effect":"allow","Action":"iot:*","Resource":"*"}]}`)
			}},
		{"put a policy with duplicate Sids", "MalformedPolicyDocument", "Statement IDs (SID) in a single policy must be unique.", 400,
			func() error {
				return put("R", "P", `{"Statement":[{"Sid":"A","Effect":"Allow","Action":"iot:*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"iot:*","Resource":"*"}]}`)
			}},
		{"put a policy with a non-alphanumeric Sid", "MalformedPolicyDocument", "Statement IDs (SID) must be alpha-numeric.", 400,
			func() error {
				return put("R", "P", `{"Statement":[{"Sid":"a-b","Effect":"Allow","Action":"iot:*","Resource":"*"}]}`)
			}},
		{"put a policy with an unknown element", "MalformedPolicyDocument", "Syntax errors in policy.", 400,
			func() error {
				return put("R", "P", `{"Statement":[{"Effect":"Allow","Actions":"iot:*","Resource":"*"}]}`)
			}},
		{"put a policy with a malformed condition", "MalformedPolicyDocument", "Syntax errors in policy.", 400,
			func() error {
				return put("R", "P", `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":"yes"}]}`)
			}},
		{"put a document that is not JSON", "MalformedPolicyDocument", "Syntax errors in policy.", 400,
			func() error { return put("R", "P", `Effect: Allow`) }},
		{"put a policy name with a space", "ValidationError", "at 'policyName'", 400,
			func() error { return put("R", "a b", ok) }},
		{"put a policy name of 129", "ValidationError", "at 'policyName'", 400,
			func() error { return put("R", strings.Repeat("p", 129), ok) }},
		{"put over the role's 10240 characters", "LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role R", 409,
			func() error { return put("R", "Big", filler(room+1)) }},
		{"get on a missing role", "NoSuchEntity", "The role with name Missing cannot be found.", 404,
			func() error {
				_, err := e.a.GetRolePolicy(e.ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String("Missing"), PolicyName: aws.String("Base")})
				return err
			}},
		{"get a missing policy", "NoSuchEntity", "The role policy with name Nope cannot be found.", 404,
			func() error {
				_, err := e.a.GetRolePolicy(e.ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String("R"), PolicyName: aws.String("Nope")})
				return err
			}},
		{"delete a missing policy", "NoSuchEntity", "The role policy with name Nope cannot be found.", 404,
			func() error {
				_, err := e.a.DeleteRolePolicy(e.ctx, &awsiam.DeleteRolePolicyInput{RoleName: aws.String("R"), PolicyName: aws.String("Nope")})
				return err
			}},
		{"delete on a missing role", "NoSuchEntity", "The role with name Missing cannot be found.", 404,
			func() error {
				_, err := e.a.DeleteRolePolicy(e.ctx, &awsiam.DeleteRolePolicyInput{RoleName: aws.String("Missing"), PolicyName: aws.String("Base")})
				return err
			}},
		{"list on a missing role", "NoSuchEntity", "The role with name Missing cannot be found.", 404,
			func() error {
				_, err := e.a.ListRolePolicies(e.ctx, &awsiam.ListRolePoliciesInput{RoleName: aws.String("Missing")})
				return err
			}},
		{"delete a missing role", "NoSuchEntity", "The role with name Missing cannot be found.", 404,
			func() error {
				_, err := e.a.DeleteRole(e.ctx, &awsiam.DeleteRoleInput{RoleName: aws.String("Missing")})
				return err
			}},
		{"delete a role that has policies", "DeleteConflict", "Cannot delete entity, must delete policies first.", 409,
			func() error {
				_, err := e.a.DeleteRole(e.ctx, &awsiam.DeleteRoleInput{RoleName: aws.String("R")})
				return err
			}},
		{"get a role name that is invalid", "ValidationError", "at 'roleName'", 400,
			func() error {
				_, err := e.a.GetRole(e.ctx, &awsiam.GetRoleInput{RoleName: aws.String("a b")})
				return err
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.state(wardentest.AccountA)
			err := tt.call()
			wardentest.WantCode(t, err, tt.code, tt.status)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err.Error(), tt.msg)
			}
			if after := e.state(wardentest.AccountA); !reflect.DeepEqual(after, before) {
				t.Errorf("a rejected request changed the store:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
	// Exactly at the limit is allowed; replacing a policy counts only the new document.
	if err := put("R", "Big", filler(room)); err != nil {
		t.Fatalf("PutRolePolicy at exactly 10240 characters: %v", err)
	}
	if err := put("R", "Big", filler(room-10)); err != nil {
		t.Fatalf("replacing a policy with a smaller one at the limit: %v", err)
	}
}

func TestIAMListRolesPaging(t *testing.T) {
	e := newIAMEnv(t)
	// Created out of order, names of mixed case: listed by name without regard to case.
	for _, r := range []struct{ name, path string }{
		{"delta", "/app/"}, {"Alpha", "/"}, {"charlie", "/app/sub/"}, {"Bravo", "/app/"},
		{"echo", "/other/"}, {"Foxtrot", "/application/"}, {"golf", "/"},
	} {
		e.createRole(r.name, r.path)
	}
	all := []string{"Alpha", "Bravo", "charlie", "delta", "echo", "Foxtrot", "golf"}
	tests := []struct {
		prefix string
		max    int32
		want   []string
	}{
		{"", 3, all},
		{"/", 1, all},
		{"", 100, all},
		{"/app/", 2, []string{"Bravo", "charlie", "delta"}},
		{"/app", 2, []string{"Bravo", "charlie", "delta", "Foxtrot"}},
		{"/app/sub/", 5, []string{"charlie"}},
		{"/APP/", 5, nil}, // paths are case-sensitive
		{"/none/", 5, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("prefix %q by %d", tt.prefix, tt.max), func(t *testing.T) {
			in := &awsiam.ListRolesInput{MaxItems: aws.Int32(tt.max)}
			if tt.prefix != "" {
				in.PathPrefix = aws.String(tt.prefix)
			}
			var got []string
			pages := 0
			for p := awsiam.NewListRolesPaginator(e.a, in); p.HasMorePages(); {
				out, err := p.NextPage(e.ctx)
				if err != nil {
					t.Fatalf("ListRoles page %d: %v", pages+1, err)
				}
				pages++
				if len(out.Roles) > int(tt.max) {
					t.Fatalf("page %d has %d roles, MaxItems %d", pages, len(out.Roles), tt.max)
				}
				if out.IsTruncated != (out.Marker != nil) {
					t.Fatalf("IsTruncated %v with Marker %v", out.IsTruncated, out.Marker)
				}
				for _, r := range out.Roles {
					got = append(got, aws.ToString(r.RoleName))
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("listed %v, want %v", got, tt.want)
			}
			if wantPages := max(1, (len(tt.want)+int(tt.max)-1)/int(tt.max)); pages != wantPages {
				t.Errorf("took %d pages, want %d", pages, wantPages)
			}
		})
	}

	first, err := e.a.ListRoles(e.ctx, &awsiam.ListRolesInput{MaxItems: aws.Int32(2)})
	if err != nil || !first.IsTruncated || first.Marker == nil {
		t.Fatalf("first page: %v, %+v", err, first)
	}
	// A role created behind the cursor is not repeated; one ahead of it appears.
	e.createRole("Aardvark", "/")
	e.createRole("hotel", "/")
	var rest []string
	for p := awsiam.NewListRolesPaginator(e.a, &awsiam.ListRolesInput{Marker: first.Marker, MaxItems: aws.Int32(100)}); p.HasMorePages(); {
		out, err := p.NextPage(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Roles {
			rest = append(rest, aws.ToString(r.RoleName))
		}
	}
	if want := []string{"charlie", "delta", "echo", "Foxtrot", "golf", "hotel"}; !reflect.DeepEqual(rest, want) {
		t.Errorf("after the marker: %v, want %v", rest, want)
	}

	bad := []struct {
		name string
		in   *awsiam.ListRolesInput
		msg  string
	}{
		{"forged marker", &awsiam.ListRolesInput{Marker: aws.String("Y2hhcmxpZQ.AAAAAAAAAAAAAAAAAAAAAA")}, "Invalid Marker"},
		{"marker of another path prefix", &awsiam.ListRolesInput{Marker: first.Marker, PathPrefix: aws.String("/app/")}, "Invalid Marker"},
		{"marker of 321", &awsiam.ListRolesInput{Marker: aws.String(strings.Repeat("m", 321))}, "at 'marker'"},
		{"MaxItems 0", &awsiam.ListRolesInput{MaxItems: aws.Int32(0)}, "Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"MaxItems 1001", &awsiam.ListRolesInput{MaxItems: aws.Int32(1001)}, "at 'maxItems'"},
		{"path prefix without slash", &awsiam.ListRolesInput{PathPrefix: aws.String("app")}, "at 'pathPrefix'"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.a.ListRoles(e.ctx, tt.in)
			wardentest.WantCode(t, err, "ValidationError", 400)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err.Error(), tt.msg)
			}
		})
	}
	// A marker of account A means nothing in account B.
	_, err = e.b.ListRoles(e.ctx, &awsiam.ListRolesInput{Marker: first.Marker})
	wardentest.WantCode(t, err, "ValidationError", 400)
}

func TestIAMListRolePoliciesPaging(t *testing.T) {
	e := newIAMEnv(t)
	e.createRole("R", "")
	e.createRole("Other", "")
	doc := `{"Statement":{"Effect":"Allow","Action":"sns:Publish","Resource":"*"}}`
	want := []string{"a1", "B2", "c3", "D4", "e5"}
	for _, n := range []string{"D4", "a1", "e5", "c3", "B2"} {
		e.putPolicy("R", n, doc)
	}
	var got []string
	pages := 0
	for p := awsiam.NewListRolePoliciesPaginator(e.a, &awsiam.ListRolePoliciesInput{RoleName: aws.String("r"), MaxItems: aws.Int32(2)}); p.HasMorePages(); {
		out, err := p.NextPage(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, out.PolicyNames...)
	}
	if !reflect.DeepEqual(got, want) || pages != 3 {
		t.Errorf("listed %v in %d pages, want %v in 3", got, pages, want)
	}
	first, err := e.a.ListRolePolicies(e.ctx, &awsiam.ListRolePoliciesInput{RoleName: aws.String("R"), MaxItems: aws.Int32(2)})
	if err != nil || !first.IsTruncated {
		t.Fatalf("first page: %v %+v", err, first)
	}
	// A marker is bound to the role it lists.
	_, err = e.a.ListRolePolicies(e.ctx, &awsiam.ListRolePoliciesInput{RoleName: aws.String("Other"), Marker: first.Marker})
	wardentest.WantCode(t, err, "ValidationError", 400)
	// ... but not to the case the role was named in.
	out, err := e.a.ListRolePolicies(e.ctx, &awsiam.ListRolePoliciesInput{RoleName: aws.String("r"), Marker: first.Marker})
	if err != nil || !reflect.DeepEqual(out.PolicyNames, want[2:]) {
		t.Errorf("second page with the role named in another case: %v %v, want %v", err, out, want[2:])
	}
	empty, err := e.a.ListRolePolicies(e.ctx, &awsiam.ListRolePoliciesInput{RoleName: aws.String("Other")})
	if err != nil || empty.PolicyNames == nil || len(empty.PolicyNames) != 0 || empty.IsTruncated {
		t.Errorf("a role without policies: %v %+v, want an empty list", err, empty)
	}
}

func TestIAMAccountsAndRegions(t *testing.T) {
	e := newIAMEnv(t)
	e.createRole("Shared", "/")
	e.putPolicy("Shared", "P", `{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}`)
	// Account B sees none of A's roles and may use the same name.
	_, err := e.b.GetRole(e.ctx, &awsiam.GetRoleInput{RoleName: aws.String("Shared")})
	wardentest.WantCode(t, err, "NoSuchEntity", 404)
	_, err = e.b.GetRolePolicy(e.ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String("Shared"), PolicyName: aws.String("P")})
	wardentest.WantCode(t, err, "NoSuchEntity", 404)
	_, err = e.b.DeleteRole(e.ctx, &awsiam.DeleteRoleInput{RoleName: aws.String("Shared")})
	wardentest.WantCode(t, err, "NoSuchEntity", 404)
	list, err := e.b.ListRoles(e.ctx, &awsiam.ListRolesInput{})
	if err != nil || len(list.Roles) != 0 {
		t.Fatalf("account B ListRoles = %v, %v; want none", list, err)
	}
	out, err := e.b.CreateRole(e.ctx, &awsiam.CreateRoleInput{RoleName: aws.String("Shared"), AssumeRolePolicyDocument: aws.String(trustIoT)})
	if err != nil {
		t.Fatalf("account B CreateRole of the same name: %v", err)
	}
	if want := "arn:aws:iam::" + wardentest.AccountB + ":role/Shared"; aws.ToString(out.Role.Arn) != want {
		t.Errorf("account B role ARN = %q, want %q", aws.ToString(out.Role.Arn), want)
	}
	// IAM is global: a client signing for another region sees the same roles.
	west := e.client(wardentest.KeyA, wardentest.SecretA, "eu-west-1")
	g, err := west.GetRole(e.ctx, &awsiam.GetRoleInput{RoleName: aws.String("Shared")})
	if err != nil || aws.ToString(g.Role.Arn) != "arn:aws:iam::"+wardentest.AccountA+":role/Shared" {
		t.Fatalf("GetRole signed for eu-west-1 = %v, %v", g, err)
	}
	_, err = west.CreateRole(e.ctx, &awsiam.CreateRoleInput{RoleName: aws.String("shared"), AssumeRolePolicyDocument: aws.String(trustIoT)})
	wardentest.WantCode(t, err, "EntityAlreadyExists", 409)
}

func TestIAMRestart(t *testing.T) {
	e := newIAMEnv(t)
	created := e.createRole("Durable", "/keep/").Role
	doc := `{"Statement":{"Effect":"Deny","NotAction":"iot:Describe*","NotResource":["arn:aws:iot:*:*:thing/*"]}}`
	e.putPolicy("Durable", "P", doc)
	e.restart()
	g, err := e.a.GetRole(e.ctx, &awsiam.GetRoleInput{RoleName: aws.String("Durable")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(g.Role.RoleId) != aws.ToString(created.RoleId) || aws.ToString(g.Role.Arn) != aws.ToString(created.Arn) {
		t.Errorf("after restart: %q %q, want %q %q", aws.ToString(g.Role.RoleId), aws.ToString(g.Role.Arn),
			aws.ToString(created.RoleId), aws.ToString(created.Arn))
	}
	p, err := e.a.GetRolePolicy(e.ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String("Durable"), PolicyName: aws.String("P")})
	if err != nil || decode(t, p.PolicyDocument) != doc {
		t.Fatalf("policy after restart: %v %v", err, p)
	}
}

func TestIAMWireFormat(t *testing.T) {
	e := newIAMEnv(t)
	e.createRole("Wire", "/")
	tests := []struct {
		name   string
		form   url.Values
		key    string
		status int
		want   []*regexp.Regexp
	}{
		{"success envelope", url.Values{"Action": {"GetRole"}, "Version": {"2010-05-08"}, "RoleName": {"Wire"}}, wardentest.KeyA, 200,
			[]*regexp.Regexp{
				regexp.MustCompile(`^<\?xml version="1.0" encoding="UTF-8"\?>\n<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult><Role><Path>/</Path><RoleName>Wire</RoleName><RoleId>AROA[A-Z2-7]{17}</RoleId><Arn>arn:aws:iam::123456789012:role/Wire</Arn><CreateDate>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ</CreateDate><AssumeRolePolicyDocument>%7B%22Version%22%3A%222012-10-17%22`),
				regexp.MustCompile(`<MaxSessionDuration>3600</MaxSessionDuration><RoleLastUsed></RoleLastUsed></Role></GetRoleResult><ResponseMetadata><RequestId>[0-9a-f-]{36}</RequestId></ResponseMetadata></GetRoleResponse>$`),
			}},
		{"result-less action", url.Values{"Action": {"PutRolePolicy"}, "Version": {"2010-05-08"}, "RoleName": {"Wire"}, "PolicyName": {"p"},
			"PolicyDocument": {`{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}`}}, wardentest.KeyA, 200,
			[]*regexp.Regexp{regexp.MustCompile(`<PutRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>[0-9a-f-]{36}</RequestId></ResponseMetadata></PutRolePolicyResponse>$`)}},
		{"error envelope", url.Values{"Action": {"GetRole"}, "Version": {"2010-05-08"}, "RoleName": {"Nope"}}, wardentest.KeyA, 404,
			[]*regexp.Regexp{regexp.MustCompile(`^<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name Nope cannot be found.</Message></Error><RequestId>[0-9a-f-]{36}</RequestId></ErrorResponse>$`)}},
		{"marker that is not one", url.Values{"Action": {"ListRolePolicies"}, "Version": {"2010-05-08"}, "RoleName": {"Wire"}, "MaxItems": {"1"},
			"Marker": {"x"}}, wardentest.KeyA, 400, []*regexp.Regexp{regexp.MustCompile(`<Code>ValidationError</Code>`)}},
		{"unknown action", url.Values{"Action": {"CreateUser"}, "Version": {"2010-05-08"}}, wardentest.KeyA, 400,
			[]*regexp.Regexp{regexp.MustCompile(`<Code>InvalidAction</Code><Message>Could not find operation CreateUser for version 2010-05-08</Message>`)}},
		{"wrong version", url.Values{"Action": {"GetRole"}, "Version": {"2011-01-01"}, "RoleName": {"Wire"}}, wardentest.KeyA, 400,
			[]*regexp.Regexp{regexp.MustCompile(`<Code>InvalidAction</Code><Message>Could not find operation GetRole for version 2011-01-01</Message>`)}},
		{"MaxItems not a number", url.Values{"Action": {"ListRoles"}, "Version": {"2010-05-08"}, "MaxItems": {"ten"}}, wardentest.KeyA, 400,
			[]*regexp.Regexp{regexp.MustCompile(`<Code>ValidationError</Code><Message>1 validation error detected: Value &#39;ten&#39; at &#39;maxItems&#39; failed to satisfy constraint: Member must be a number</Message>`)}},
		// The SDKs check required members themselves, so these come raw.
		{"CreateRole without a trust policy", url.Values{"Action": {"CreateRole"}, "Version": {"2010-05-08"}, "RoleName": {"X"}}, wardentest.KeyA, 400,
			[]*regexp.Regexp{regexp.MustCompile(`<Code>ValidationError</Code><Message>1 validation error detected: Value null at &#39;assumeRolePolicyDocument&#39; failed to satisfy constraint: Member must not be null</Message>`)}},
		{"PutRolePolicy without anything", url.Values{"Action": {"PutRolePolicy"}, "Version": {"2010-05-08"}}, wardentest.KeyA, 400,
			[]*regexp.Regexp{regexp.MustCompile(`<Message>3 validation errors detected: Value null at &#39;roleName&#39; failed to satisfy constraint: Member must not be null; Value null at &#39;policyName&#39;.*; Value null at &#39;policyDocument&#39;`)}},
		{"GetRole without a name", url.Values{"Action": {"GetRole"}, "Version": {"2010-05-08"}}, wardentest.KeyA, 400,
			[]*regexp.Regexp{regexp.MustCompile(`Value null at &#39;roleName&#39; failed to satisfy constraint: Member must not be null`)}},
		{"GetRolePolicy without a policy name", url.Values{"Action": {"GetRolePolicy"}, "Version": {"2010-05-08"}, "RoleName": {"Wire"}}, wardentest.KeyA, 400,
			[]*regexp.Regexp{regexp.MustCompile(`Value null at &#39;policyName&#39; failed to satisfy constraint: Member must not be null`)}},
		{"DeleteRolePolicy without a role name", url.Values{"Action": {"DeleteRolePolicy"}, "Version": {"2010-05-08"}, "PolicyName": {"p"}}, wardentest.KeyA, 400,
			[]*regexp.Regexp{regexp.MustCompile(`Value null at &#39;roleName&#39;`)}},
		{"ListRolePolicies without a role name", url.Values{"Action": {"ListRolePolicies"}, "Version": {"2010-05-08"}}, wardentest.KeyA, 400,
			[]*regexp.Regexp{regexp.MustCompile(`Value null at &#39;roleName&#39;`)}},
		{"DeleteRole without a role name", url.Values{"Action": {"DeleteRole"}, "Version": {"2010-05-08"}}, wardentest.KeyA, 400,
			[]*regexp.Regexp{regexp.MustCompile(`Value null at &#39;roleName&#39;`)}},
		{"unknown key", url.Values{"Action": {"ListRoles"}, "Version": {"2010-05-08"}}, "AKIAUNKNOWNKEY000000", 403,
			[]*regexp.Regexp{regexp.MustCompile(`^<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.rawCall(tt.form, tt.key, wardentest.SecretA)
			if status != tt.status {
				t.Errorf("status %d, want %d; body %s", status, tt.status, body)
			}
			for _, re := range tt.want {
				if !re.MatchString(body) {
					t.Errorf("body does not match %s:\n%s", re, body)
				}
			}
		})
	}
	// A wrong secret is SignatureDoesNotMatch, in IAM's format.
	status, body := e.rawCall(url.Values{"Action": {"ListRoles"}, "Version": {"2010-05-08"}}, wardentest.KeyA, "wrong-secret")
	if status != 403 || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") || !strings.Contains(body, `xmlns="https://iam.amazonaws.com/doc/2010-05-08/"`) {
		t.Errorf("wrong secret: %d %s", status, body)
	}
}

// TestIAMPolicyDocumentRoundTrip checks that documents come back exactly
// as sent, whatever characters they hold, through the SDK's encoding and
// IAM's URL-encoding.
func TestIAMPolicyDocumentRoundTrip(t *testing.T) {
	e := newIAMEnv(t)
	e.createRole("RT", "")
	docs := []string{
		`{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}`,
		"{\r\n\t\"Version\" : \"2012-10-17\",\n \"Statement\": [ {\"Sid\":\"Plus1\",\"Effect\":\"Allow\",\"Action\":\"iot:Update*\",\"Resource\":\"arn:aws:iot:us-east-1:123456789012:thing/a+b c%20d&e=f\"} ] }",
		`{"Statement":{"Effect":"Allow","Action":"sns:Publish","Resource":"arn:aws:sns:*:123456789012:tópico"}}`,
	}
	for i, doc := range docs {
		name := fmt.Sprintf("P%d", i)
		e.putPolicy("RT", name, doc)
		out, err := e.a.GetRolePolicy(e.ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String("RT"), PolicyName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if got := decode(t, out.PolicyDocument); got != doc {
			t.Errorf("document %d came back as %q, want %q", i, got, doc)
		}
		var v any
		if err := json.Unmarshal([]byte(decode(t, out.PolicyDocument)), &v); err != nil {
			t.Errorf("document %d does not decode to JSON: %v", i, err)
		}
	}
}
