package warden

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseIAMPolicyValid(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want IAMPolicyDocument
	}{
		{"statement object, string members",
			`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:UpdateCertificate","Resource":"*"}}`,
			IAMPolicyDocument{Version: "2012-10-17", Statements: []IAMStatement{
				{Effect: "Allow", Action: []string{"iot:UpdateCertificate"}, Resource: []string{"*"}}}}},
		{"no Version, list members, Not forms, Sid, Id, Condition",
			`{"Id":"x","Statement":[{"Sid":"S1","Effect":"Deny","NotAction":["iot:Describe*","iot:List*"],"NotResource":"arn:aws:iot:*:*:thing/*",
			  "Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"},"Bool":{"aws:SecureTransport":true}}}]}`,
			IAMPolicyDocument{ID: "x", Statements: []IAMStatement{{Sid: "S1", Effect: "Deny",
				NotAction: []string{"iot:Describe*", "iot:List*"}, NotResource: []string{"arn:aws:iot:*:*:thing/*"},
				Condition: map[string]map[string][]string{"StringEquals": {"aws:SourceAccount": {"123456789012"}}, "Bool": {"aws:SecureTransport": {"true"}}}}}}},
		{"old version, empty statement list", `{"Version":"2008-10-17","Statement":[]}`, IAMPolicyDocument{Version: "2008-10-17"}},
		{"action * and vendor wildcards", `{"Statement":{"Effect":"Allow","Action":["*","iot:*","iot:Update?ertificate"],"Resource":"arn:aws:iot:us-east-1:1:cert/x"}}`,
			IAMPolicyDocument{Statements: []IAMStatement{{Effect: "Allow", Action: []string{"*", "iot:*", "iot:Update?ertificate"},
				Resource: []string{"arn:aws:iot:us-east-1:1:cert/x"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIAMPolicy(tt.doc)
			if err != nil {
				t.Fatalf("ParseIAMPolicy: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseIAMPolicyInvalid(t *testing.T) {
	tests := []struct {
		name, doc, msg string
	}{
		{"empty", "  ", "Syntax errors in policy."},
		{"not JSON", `{"Statement":[}`, "Syntax errors in policy."},
		{"trailing data", `{"Statement":[]} x`, "Syntax errors in policy."},
		{"not an object", `[1]`, "must be a JSON object"},
		{"unknown top-level element", `{"Statement":[],"Foo":1}`, "Syntax errors in policy."},
		{"repeated key", `{"Statement":[],"Statement":[]}`, "appears twice"},
		{"bad version", `{"Version":"2012-10-18","Statement":[]}`, "The policy failed legacy parsing"},
		{"numeric version", `{"Version":2012,"Statement":[]}`, "The policy failed legacy parsing"},
		{"no statement", `{"Version":"2012-10-17"}`, "Missing required field Statement."},
		{"statement string", `{"Statement":"x"}`, "must be an object or a list"},
		{"statement list of strings", `{"Statement":["x"]}`, "must be an object"},
		{"no effect", `{"Statement":{"Action":"iot:*","Resource":"*"}}`, "Missing required field Effect."},
		{"lower-case effect", `{"Statement":{"Effect":"allow","Action":"iot:*","Resource":"*"}}`, "Invalid effect"},
		{"principal", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"iot:*","Resource":"*"}}`, "Policy document should not specify a principal."},
		{"not principal", `{"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"*"},"Action":"iot:*","Resource":"*"}}`, "Policy document should not specify a principal."},
		{"no action", `{"Statement":{"Effect":"Allow","Resource":"*"}}`, "Policy statement must contain actions."},
		{"empty action list", `{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}`, "Policy statement must contain actions."},
		{"action and not action", `{"Statement":{"Effect":"Allow","Action":"iot:*","NotAction":"iot:X","Resource":"*"}}`, `has both "Action" and "NotAction"`},
		{"action without vendor", `{"Statement":{"Effect":"Allow","Action":"Publish","Resource":"*"}}`, "must be prefaced by a vendor"},
		{"action with wildcard vendor", `{"Statement":{"Effect":"Allow","Action":"*:Publish","Resource":"*"}}`, "must be prefaced by a vendor"},
		{"action number", `{"Statement":{"Effect":"Allow","Action":[1],"Resource":"*"}}`, "must be a string"},
		{"action object", `{"Statement":{"Effect":"Allow","Action":{},"Resource":"*"}}`, "must be a string or a list of strings"},
		{"no resource", `{"Statement":{"Effect":"Allow","Action":"iot:*"}}`, "Policy statement must contain resources."},
		{"empty resource list", `{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":[]}}`, "Policy statement must contain resources."},
		{"resource not ARN", `{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"thing/x"}}`, `Resource thing/x must be in ARN format or "*".`},
		{"resource short ARN", `{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot"}}`, "must be in ARN format"},
		{"resource and not resource", `{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*","NotResource":"*"}}`, `has both "Resource" and "NotResource"`},
		{"unknown statement element", `{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*","Extra":1}}`, "Syntax errors in policy."},
		{"sid with dash", `{"Statement":{"Sid":"a-b","Effect":"Allow","Action":"iot:*","Resource":"*"}}`, "Statement IDs (SID) must be alpha-numeric."},
		{"sid number", `{"Statement":{"Sid":1,"Effect":"Allow","Action":"iot:*","Resource":"*"}}`, `"Sid" must be a string`},
		{"duplicate sid", `{"Statement":[{"Sid":"a","Effect":"Allow","Action":"iot:*","Resource":"*"},{"Sid":"a","Effect":"Allow","Action":"iot:*","Resource":"*"}]}`,
			"Statement IDs (SID) in a single policy must be unique."},
		{"condition not object", `{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":[]}}`, "Syntax errors in policy."},
		{"condition value object", `{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEquals":{"k":{}}}}}`, "Syntax errors in policy."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIAMPolicy(tt.doc)
			e, ok := err.(*Error)
			if !ok || e.Code != CodeIAMMalformedPolicyDocument {
				t.Fatalf("got %v, want MalformedPolicyDocument", err)
			}
			if !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q does not contain %q", e.Message, tt.msg)
			}
			if e.HTTPStatus() != 400 {
				t.Errorf("status %d, want 400", e.HTTPStatus())
			}
		})
	}
}

func TestParseTrustPolicy(t *testing.T) {
	valid := []struct {
		name, doc string
		principal map[string][]string
	}{
		{"service", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"iot.amazonaws.com"},"Action":"sts:AssumeRole",
			"Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"}}}]}`, map[string][]string{"Service": {"iot.amazonaws.com"}}},
		{"star", `{"Statement":{"Effect":"Allow","Principal":"*","Action":["sts:AssumeRole","sts:TagSession"]}}`, map[string][]string{"AWS": {"*"}}},
		{"accounts, ARNs and several types", `{"Statement":{"Effect":"Allow","Principal":{"AWS":["123456789012","arn:aws:iam::111122223333:root"],
			"Federated":"cognito-identity.amazonaws.com"},"Action":"STS:AssumeRoleWithWebIdentity"}}`,
			map[string][]string{"AWS": {"123456789012", "arn:aws:iam::111122223333:root"}, "Federated": {"cognito-identity.amazonaws.com"}}},
		{"sts wildcard", `{"Statement":{"Effect":"Deny","Principal":{"CanonicalUser":"abc"},"Action":"sts:*"}}`, map[string][]string{"CanonicalUser": {"abc"}}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseTrustPolicy(tt.doc)
			if err != nil {
				t.Fatalf("ParseTrustPolicy: %v", err)
			}
			if got := d.Statements[0].Principal; !reflect.DeepEqual(got, tt.principal) {
				t.Errorf("Principal = %v, want %v", got, tt.principal)
			}
		})
	}
	invalid := []struct{ name, doc, msg string }{
		{"no principal", `{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`, "Missing required field Principal."},
		{"resource", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}}`, "Has prohibited field Resource."},
		{"not resource", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","NotResource":"*"}}`, "Has prohibited field NotResource."},
		{"iot action", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"iot:Connect"}}`, "AssumeRole policy may only specify STS AssumeRole actions."},
		{"star action", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}`, "AssumeRole policy may only specify STS AssumeRole actions."},
		{"principal string not star", `{"Statement":{"Effect":"Allow","Principal":"iot.amazonaws.com","Action":"sts:AssumeRole"}}`, "Invalid principal in policy"},
		{"principal empty object", `{"Statement":{"Effect":"Allow","Principal":{},"Action":"sts:AssumeRole"}}`, "Invalid principal in policy"},
		{"principal unknown type", `{"Statement":{"Effect":"Allow","Principal":{"User":"x"},"Action":"sts:AssumeRole"}}`, "Invalid principal in policy"},
		{"principal bad AWS value", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"sts:AssumeRole"}}`, "Invalid principal in policy"},
		{"principal empty value", `{"Statement":{"Effect":"Allow","Principal":{"Service":""},"Action":"sts:AssumeRole"}}`, "Invalid principal in policy"},
		{"principal number", `{"Statement":{"Effect":"Allow","Principal":{"Service":[1]},"Action":"sts:AssumeRole"}}`, "Invalid principal in policy"},
		{"not principal", `{"Statement":{"Effect":"Allow","NotPrincipal":"*","Action":"sts:AssumeRole"}}`, "NotPrincipal"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTrustPolicy(tt.doc)
			e, ok := err.(*Error)
			if !ok || e.Code != CodeIAMMalformedPolicyDocument || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("got %v, want MalformedPolicyDocument containing %q", err, tt.msg)
			}
		})
	}
}

func mustIAMPolicies(t *testing.T, docs ...string) []IAMPolicyDocument {
	t.Helper()
	var out []IAMPolicyDocument
	for _, d := range docs {
		p, err := ParseIAMPolicy(d)
		if err != nil {
			t.Fatalf("ParseIAMPolicy(%s): %v", d, err)
		}
		out = append(out, p)
	}
	return out
}

func TestAllowed(t *testing.T) {
	const cert = "arn:aws:iot:us-east-1:123456789012:cert/abc"
	allowAll := `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`
	tests := []struct {
		name             string
		policies         []string
		action, resource string
		want             bool
	}{
		{"no policies: implicit deny", nil, "iot:UpdateCertificate", cert, false},
		{"empty statement list: implicit deny", []string{`{"Statement":[]}`}, "iot:UpdateCertificate", cert, false},
		{"allow all", []string{allowAll}, "iot:UpdateCertificate", cert, true},
		{"exact action and resource", []string{`{"Statement":{"Effect":"Allow","Action":"iot:UpdateCertificate","Resource":"` + cert + `"}}`},
			"iot:UpdateCertificate", cert, true},
		{"action case-insensitive", []string{`{"Statement":{"Effect":"Allow","Action":"IOT:updatecertificate","Resource":"*"}}`},
			"iot:UpdateCertificate", cert, true},
		{"action prefix wildcard", []string{`{"Statement":{"Effect":"Allow","Action":"iot:Update*","Resource":"*"}}`}, "iot:UpdateCACertificate", cert, true},
		{"action prefix wildcard does not cover others", []string{`{"Statement":{"Effect":"Allow","Action":"iot:Update*","Resource":"*"}}`},
			"iot:CreatePolicyVersion", cert, false},
		{"service wildcard", []string{`{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}`}, "iot:ListPrincipalThings", cert, true},
		{"service wildcard is per service", []string{`{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}`}, "sns:Publish", "*", false},
		{"? matches exactly one character", []string{`{"Statement":{"Effect":"Allow","Action":"iot:Update?Certificate","Resource":"*"}}`},
			"iot:UpdateCACertificate", cert, false},
		{"?? matches two", []string{`{"Statement":{"Effect":"Allow","Action":"iot:Update??Certificate","Resource":"*"}}`},
			"iot:UpdateCACertificate", cert, true},
		{"resource wildcard", []string{`{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot:*:123456789012:cert/*"}}`},
			"iot:UpdateCertificate", cert, true},
		{"resource wildcard in every segment", []string{`{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot:*:*:*"}}`},
			"iot:UpdateCertificate", cert, true},
		{"resource case-sensitive", []string{`{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot:us-east-1:123456789012:cert/ABC"}}`},
			"iot:UpdateCertificate", cert, false},
		{"resource other account", []string{`{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot:*:111122223333:*"}}`},
			"iot:UpdateCertificate", cert, false},
		{"resource ? wildcard", []string{`{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot:us-east-1:123456789012:cert/a?c"}}`},
			"iot:UpdateCertificate", cert, true},
		{"explicit deny beats allow in the same policy", []string{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
			{"Effect":"Deny","Action":"iot:UpdateCertificate","Resource":"*"}]}`}, "iot:UpdateCertificate", cert, false},
		{"explicit deny beats allow in another policy, whatever the order",
			[]string{`{"Statement":{"Effect":"Deny","Action":"iot:Update*","Resource":"arn:aws:iot:*:*:cert/*"}}`, allowAll}, "iot:UpdateCertificate", cert, false},
		{"a deny that does not match does not deny", []string{`{"Statement":{"Effect":"Deny","Action":"iot:Delete*","Resource":"*"}}`, allowAll},
			"iot:UpdateCertificate", cert, true},
		{"deny alone is still a deny", []string{`{"Statement":{"Effect":"Deny","Action":"sns:*","Resource":"*"}}`}, "iot:UpdateCertificate", cert, false},
		{"NotAction allow covers other actions", []string{`{"Statement":{"Effect":"Allow","NotAction":"iot:Delete*","Resource":"*"}}`},
			"iot:UpdateCertificate", cert, true},
		{"NotAction allow excludes the named", []string{`{"Statement":{"Effect":"Allow","NotAction":["iot:delete*","iot:UPDATECERTIFICATE"],"Resource":"*"}}`},
			"iot:UpdateCertificate", cert, false},
		{"NotAction deny denies everything else", []string{allowAll, `{"Statement":{"Effect":"Deny","NotAction":"iot:Describe*","Resource":"*"}}`},
			"iot:UpdateCertificate", cert, false},
		{"NotAction deny spares the named", []string{allowAll, `{"Statement":{"Effect":"Deny","NotAction":"iot:Update*","Resource":"*"}}`},
			"iot:UpdateCertificate", cert, true},
		{"NotResource allow covers other resources", []string{`{"Statement":{"Effect":"Allow","Action":"iot:*","NotResource":"arn:aws:iot:*:*:policy/*"}}`},
			"iot:UpdateCertificate", cert, true},
		{"NotResource allow excludes the named", []string{`{"Statement":{"Effect":"Allow","Action":"iot:*","NotResource":"arn:aws:iot:*:*:cert/*"}}`},
			"iot:UpdateCertificate", cert, false},
		{"NotResource deny denies other resources", []string{allowAll, `{"Statement":{"Effect":"Deny","Action":"*","NotResource":"arn:aws:iot:*:*:thing/*"}}`},
			"iot:UpdateCertificate", cert, false},
		{"NotResource deny spares the named", []string{allowAll, `{"Statement":{"Effect":"Deny","Action":"*","NotResource":"arn:aws:iot:*:*:cert/*"}}`},
			"iot:UpdateCertificate", cert, true},
		{"condition on an allow is not evaluated: it applies",
			[]string{`{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"999999999999"}}}}`},
			"iot:UpdateCertificate", cert, true},
		{"condition on a deny is not evaluated: it applies",
			[]string{allowAll, `{"Statement":{"Effect":"Deny","Action":"iot:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}}`},
			"iot:UpdateCertificate", cert, false},
		{"policy variables are literal", []string{`{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot:*:${aws:PrincipalAccount}:cert/*"}}`},
			"iot:UpdateCertificate", cert, false},
		{"star resource for a resource-less action", []string{`{"Statement":{"Effect":"Allow","Action":"iot:SetV2LoggingOptions","Resource":"*"}}`},
			"iot:SetV2LoggingOptions", "*", true},
		{"an ARN pattern does not match the resource *", []string{`{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot:*:*:*"}}`},
			"iot:SetV2LoggingOptions", "*", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Allowed(mustIAMPolicies(t, tt.policies...), tt.action, tt.resource); got != tt.want {
				t.Errorf("Allowed(%s, %s) = %v, want %v", tt.action, tt.resource, got, tt.want)
			}
		})
	}
}

func TestMitigationPermissions(t *testing.T) {
	r := MitigationResources{
		CertificateArn: "cert", CACertificateArn: "ca", ThingGroupArns: []string{"g1", "g2"}, ThingArns: []string{"t1", "t2"},
		PolicyArn: "policy", LoggingRoleArn: "logrole", TopicArn: "topic",
	}
	tests := []struct {
		actionType string
		r          MitigationResources
		want       []Permission
	}{
		{ActionUpdateDeviceCertificate, r, []Permission{{"iot:UpdateCertificate", "cert"}}},
		{ActionUpdateCACertificate, r, []Permission{{"iot:UpdateCACertificate", "ca"}}},
		{ActionAddThingsToThingGroup, r, []Permission{{"iot:ListPrincipalThings", "cert"},
			{"iot:AddThingToThingGroup", "g1"}, {"iot:AddThingToThingGroup", "g2"},
			{"iot:AddThingToThingGroup", "t1"}, {"iot:AddThingToThingGroup", "t2"}}},
		{ActionAddThingsToThingGroup, MitigationResources{CertificateArn: "cert", ThingGroupArns: []string{"g1"}},
			[]Permission{{"iot:ListPrincipalThings", "cert"}}},
		// A Detect violation names its thing: nothing to look up by certificate.
		{ActionAddThingsToThingGroup, MitigationResources{ThingGroupArns: []string{"g1"}, ThingArns: []string{"t1"}},
			[]Permission{{"iot:AddThingToThingGroup", "g1"}, {"iot:AddThingToThingGroup", "t1"}}},
		{ActionReplaceDefaultPolicyVersion, r, []Permission{{"iot:CreatePolicyVersion", "policy"}}},
		{ActionEnableIoTLogging, r, []Permission{{"iot:SetV2LoggingOptions", "*"}, {"iam:PassRole", "logrole"}}},
		{ActionPublishFindingToSNS, r, []Permission{{"sns:Publish", "topic"}}},
		{"NOT_A_TYPE", r, nil},
	}
	for _, tt := range tests {
		t.Run(tt.actionType, func(t *testing.T) {
			if got := MitigationPermissions(tt.actionType, tt.r); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseRoleARN(t *testing.T) {
	tests := []struct {
		arn                 string
		account, path, name string
		ok                  bool
	}{
		{"arn:aws:iam::123456789012:role/R", "123456789012", "/", "R", true},
		{"arn:aws:iam::123456789012:role/service-role/Move_Things+=,.@-", "123456789012", "/service-role/", "Move_Things+=,.@-", true},
		{"arn:aws:iam::123456789012:role/a/b/c/R", "123456789012", "/a/b/c/", "R", true},
		{"arn:aws:iam::123456789012:role/", "", "", "", false},
		{"arn:aws:iam::123456789012:role/a//R", "123456789012", "/a//", "R", true},
		{"arn:aws:iam::123456789012:role//R", "", "", "", false},
		{"arn:aws:iam::123456789012:user/R", "", "", "", false},
		{"arn:aws:iam::12345678901:role/R", "", "", "", false},
		{"arn:aws:iam:us-east-1:123456789012:role/R", "", "", "", false},
		{"arn:aws-cn:iam::123456789012:role/R", "", "", "", false},
		{"arn:aws:iam::123456789012:role/has space", "", "", "", false},
		{"arn:aws:iam::123456789012:role/" + strings.Repeat("n", 65), "", "", "", false},
		{"R", "", "", "", false},
	}
	for _, tt := range tests {
		account, path, name, ok := ParseRoleARN(tt.arn)
		if ok != tt.ok || account != tt.account || path != tt.path || name != tt.name {
			t.Errorf("ParseRoleARN(%q) = %q %q %q %v, want %q %q %q %v", tt.arn, account, path, name, ok, tt.account, tt.path, tt.name, tt.ok)
		}
		if ok && RoleARN(account, path, name) != tt.arn {
			t.Errorf("RoleARN does not rebuild %q", tt.arn)
		}
	}
}

func TestIAMValidators(t *testing.T) {
	if id := NewRoleID(); len(id) != 21 || !strings.HasPrefix(id, "AROA") || strings.Trim(id[4:], "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		t.Errorf("NewRoleID() = %q, want AROA + 17 of [A-Z2-7]", id)
	}
	if err := CheckIAMTagKeys([]Tag{{"A", "1"}, {"b", "2"}}); err != nil {
		t.Errorf("CheckIAMTagKeys of distinct keys: %v", err)
	}
}
