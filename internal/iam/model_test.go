package iam_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/awsmodel"
	"github.com/warden-iot/warden/internal/protocol"
)

// TestIAMMemberConstraints holds the IAM members' constraints, which the
// model (with its overrides) makes, to what IAM accepts.
func TestIAMMemberConstraints(t *testing.T) {
	// role is a CreateRole request with one more member.
	role := func(member, value string) url.Values {
		return url.Values{"RoleName": {"r"}, "AssumeRolePolicyDocument": {"{}"}, member: {value}}
	}
	tag := func(key, value string) url.Values {
		f := role("Tags.member.1.Key", key)
		f.Set("Tags.member.1.Value", value)
		return f
	}
	tests := []struct {
		name   string
		action string
		form   url.Values
		ok     bool
	}{
		{"path /", "CreateRole", role("Path", "/"), true},
		{"path /a/", "CreateRole", role("Path", "/a/"), true},
		{"path ///", "CreateRole", role("Path", "///"), true},
		{"path with DEL", "CreateRole", role("Path", "/\x7f/"), true},
		{"path //", "CreateRole", role("Path", "//"), false},
		{"path empty", "CreateRole", role("Path", ""), false},
		{"path no end slash", "CreateRole", role("Path", "/a"), false},
		{"path with é", "CreateRole", role("Path", "/é/"), false},
		{"prefix /", "ListRoles", url.Values{"PathPrefix": {"/"}}, true},
		{"prefix /ab", "ListRoles", url.Values{"PathPrefix": {"/ab"}}, true},
		{"prefix ab", "ListRoles", url.Values{"PathPrefix": {"ab"}}, false},
		{"role name max", "GetRole", url.Values{"RoleName": {strings.Repeat("x", 64)}}, true},
		{"role name unicode letter", "GetRole", url.Values{"RoleName": {"é"}}, false},
		{"policy name 128", "GetRolePolicy", url.Values{"RoleName": {"r"}, "PolicyName": {strings.Repeat("x", 128)}}, true},
		{"document with tab and latin-1", "PutRolePolicy", url.Values{"RoleName": {"r"}, "PolicyName": {"p"}, "PolicyDocument": {"{\t\"é\"}"}}, true},
		{"document with a NUL", "PutRolePolicy", url.Values{"RoleName": {"r"}, "PolicyName": {"p"}, "PolicyDocument": {"{\x00}"}}, false},
		{"description empty", "CreateRole", role("Description", ""), true},
		{"description symbols", "CreateRole", role("Description", "Role → 10€ (ok)!"), true},
		{"description newline", "CreateRole", role("Description", "a\nb"), false},
		{"tags ok", "CreateRole", tag("a b:c/d=e+f-g@h", ""), true},
		{"tag value bad", "CreateRole", tag("a", "v*"), false},
	}
	for _, tt := range tests {
		_, err := protocol.ReadQuery(awsmodel.Load(awsmodel.IAMModel).Operations[tt.action], tt.form, warden.CodeIAMValidationError)
		if (err == nil) != tt.ok {
			t.Errorf("%s: got %v, want ok=%v", tt.name, err, tt.ok)
		}
		var e *warden.Error
		if errors.As(err, &e) && (e.Code != warden.CodeIAMValidationError || e.HTTPStatus() != 400) {
			t.Errorf("%s: got code %s status %d, want ValidationError 400", tt.name, e.Code, e.HTTPStatus())
		}
	}
}
