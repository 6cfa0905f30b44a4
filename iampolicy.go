package warden

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// IAMPolicyDocument is a parsed IAM policy: a role's inline (permissions)
// policy or its trust policy.
//
// What Warden evaluates and what it does not:
//   - Effect, Action/NotAction and Resource/NotResource are evaluated with
//     IAM's rules (see Allowed).
//   - Condition blocks are checked for shape but NOT evaluated: a statement
//     applies as if all its conditions held. An Allow with a condition
//     therefore grants unconditionally, and a Deny with a condition denies
//     unconditionally.
//   - Policy variables such as ${aws:username} are not substituted; they
//     match only themselves.
//   - Principal is read from trust policies but plays no part in Allowed.
type IAMPolicyDocument struct {
	Version    string // "" when the document has none (IAM then assumes "2008-10-17")
	ID         string
	Statements []IAMStatement
}

// IAMStatement is one statement. Exactly one of Action and NotAction is
// non-nil; in permissions policies exactly one of Resource and NotResource
// is too (trust policies have neither). A single string in the document
// becomes a list of one.
type IAMStatement struct {
	Sid    string
	Effect string // EffectAllow or EffectDeny
	// Principal maps principal type ("AWS", "Service", "Federated",
	// "CanonicalUser") to its values; "Principal": "*" is {"AWS": ["*"]}, as
	// IAM reads it. Only trust policies have one.
	Principal   map[string][]string
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	// Condition maps operator → condition key → values. Not evaluated.
	Condition map[string]map[string][]string
}

// IAM policy quotas (IAM and STS quotas page), counted in characters
// without whitespace, as IAM counts them.
const (
	// MaxRoleTrustPolicyChars is the default "role trust policy length".
	MaxRoleTrustPolicyChars = 2048
	// MaxRoleInlinePolicyChars bounds all inline policies of one role together.
	MaxRoleInlinePolicyChars = 10240
)

// PolicyChars counts doc's characters without whitespace, the measure of
// IAM's policy size quotas.
func PolicyChars(doc string) int {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// ParseIAMPolicy checks doc against IAM's grammar for identity-based
// (permissions) policies, such as a role's inline policies, and returns it
// parsed. Problems are MalformedPolicyDocument errors.
func ParseIAMPolicy(doc string) (IAMPolicyDocument, error) {
	return parseIAMPolicy(doc, false)
}

// ParseTrustPolicy checks doc against IAM's grammar for a role trust policy
// (AssumeRolePolicyDocument): every statement names a Principal, has only
// sts: actions and no Resource.
func ParseTrustPolicy(doc string) (IAMPolicyDocument, error) {
	return parseIAMPolicy(doc, true)
}

func iamMalformed(format string, args ...any) *Error {
	return Errorf(CodeIAMMalformedPolicyDocument, format, args...)
}

func parseIAMPolicy(doc string, trust bool) (IAMPolicyDocument, error) {
	var d IAMPolicyDocument
	if strings.TrimSpace(doc) == "" {
		return d, iamMalformed("Syntax errors in policy. The document is empty.")
	}
	root, err := decodeStrictJSON(doc)
	if err != nil {
		return d, iamMalformed("Syntax errors in policy. %s.", upperFirst(err.Error()))
	}
	top, ok := root.(*jsonObject)
	if !ok {
		return d, iamMalformed("Syntax errors in policy. The document must be a JSON object, not %s.", jsonTypeName(root))
	}
	if err := iamOnlyKeys(top, "the document", "Version", "Id", "Statement"); err != nil {
		return d, err
	}
	if v, ok := top.vals["Version"]; ok {
		if d.Version, ok = v.(string); !ok || !slices.Contains(PolicyLanguageVersions, d.Version) {
			return d, iamMalformed(`The policy failed legacy parsing: "Version" must be %s, not %s.`, quoteAll(PolicyLanguageVersions), jsonText(v))
		}
	}
	if v, ok := top.vals["Id"]; ok {
		if d.ID, ok = v.(string); !ok {
			return d, iamMalformed(`Syntax errors in policy. "Id" must be a string, not %s.`, jsonTypeName(v))
		}
	}
	v, ok := top.vals["Statement"]
	if !ok {
		return d, iamMalformed("Missing required field Statement.")
	}
	var list []any
	switch st := v.(type) {
	case *jsonObject:
		list = []any{st}
	case []any:
		list = st
	default:
		return d, iamMalformed(`Syntax errors in policy. "Statement" must be an object or a list of objects, not %s.`, jsonTypeName(v))
	}
	sids := map[string]bool{}
	for i, item := range list {
		where := fmt.Sprintf("Statement[%d]", i)
		obj, ok := item.(*jsonObject)
		if !ok {
			return d, iamMalformed("Syntax errors in policy. %s must be an object, not %s.", where, jsonTypeName(item))
		}
		st, err := parseIAMStatement(where, obj, trust)
		if err != nil {
			return d, err
		}
		if st.Sid != "" {
			if sids[st.Sid] {
				return d, iamMalformed("Statement IDs (SID) in a single policy must be unique.")
			}
			sids[st.Sid] = true
		}
		d.Statements = append(d.Statements, st)
	}
	return d, nil
}

func parseIAMStatement(where string, obj *jsonObject, trust bool) (IAMStatement, error) {
	var st IAMStatement
	allowed := []string{"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
	if err := iamOnlyKeys(obj, where, allowed...); err != nil {
		return st, err
	}
	if v, ok := obj.vals["Sid"]; ok {
		s, isString := v.(string)
		if !isString {
			return st, iamMalformed(`Syntax errors in policy. %s."Sid" must be a string, not %s.`, where, jsonTypeName(v))
		}
		for _, r := range s {
			if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
				return st, iamMalformed("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*")
			}
		}
		st.Sid = s
	}
	v, ok := obj.vals["Effect"]
	if !ok {
		return st, iamMalformed("Missing required field Effect.")
	}
	if st.Effect, _ = v.(string); st.Effect != EffectAllow && st.Effect != EffectDeny {
		return st, iamMalformed(`Invalid effect: %s. %s."Effect" must be "Allow" or "Deny".`, jsonText(v), where)
	}
	if _, ok := obj.vals["NotPrincipal"]; ok {
		if !trust {
			return st, iamMalformed("Policy document should not specify a principal.")
		}
		return st, iamMalformed(`%s has "NotPrincipal": a trust policy names who may assume the role with "Principal".`, where)
	}
	if p, ok := obj.vals["Principal"]; ok {
		if !trust {
			return st, iamMalformed("Policy document should not specify a principal.")
		}
		var err error
		if st.Principal, err = parsePrincipal(p); err != nil {
			return st, err
		}
	} else if trust {
		return st, iamMalformed("Missing required field Principal.")
	}
	var err error
	if st.Action, st.NotAction, err = iamListPair(obj, where, "Action", "NotAction", checkIAMAction); err != nil {
		return st, err
	}
	if st.Action == nil && st.NotAction == nil {
		return st, iamMalformed("Policy statement must contain actions.")
	}
	if trust {
		for _, a := range append(slices.Clone(st.Action), st.NotAction...) {
			if service, _, _ := strings.Cut(a, ":"); !strings.EqualFold(service, "sts") {
				return st, iamMalformed("AssumeRole policy may only specify STS AssumeRole actions.")
			}
		}
		for _, k := range []string{"Resource", "NotResource"} {
			if _, ok := obj.vals[k]; ok {
				return st, iamMalformed("Has prohibited field %s.", k)
			}
		}
	} else {
		if st.Resource, st.NotResource, err = iamListPair(obj, where, "Resource", "NotResource", checkIAMResource); err != nil {
			return st, err
		}
		if st.Resource == nil && st.NotResource == nil {
			return st, iamMalformed("Policy statement must contain resources.")
		}
	}
	if v, ok := obj.vals["Condition"]; ok {
		if st.Condition, err = parseCondition(where+`."Condition"`, v); err != nil {
			return st, toIAMMalformed(err)
		}
	}
	return st, nil
}

// principalTypes are the keys a Principal object may have.
var principalTypes = []string{"AWS", "Service", "Federated", "CanonicalUser"}

func parsePrincipal(v any) (map[string][]string, error) {
	if s, ok := v.(string); ok {
		if s != "*" {
			return nil, iamMalformed(`Invalid principal in policy: %q. Write "*" or an object such as {"Service": "iot.amazonaws.com"}.`, s)
		}
		return map[string][]string{"AWS": {"*"}}, nil
	}
	obj, ok := v.(*jsonObject)
	if !ok || len(obj.keys) == 0 {
		return nil, iamMalformed(`Invalid principal in policy: "Principal" must be "*" or a non-empty object, not %s.`, jsonTypeName(v))
	}
	out := map[string][]string{}
	for _, k := range obj.keys {
		if !slices.Contains(principalTypes, k) {
			return nil, iamMalformed(`Invalid principal in policy: unknown principal type %q; allowed are %s.`, k, quoteAll(principalTypes))
		}
		values, err := stringList(`"Principal"."`+k+`"`, obj.vals[k], func(s string) string {
			if s == "" {
				return "is empty"
			}
			if k == "AWS" && s != "*" && !isAccountID(s) && !strings.HasPrefix(s, "arn:") {
				return "is not an account id, an ARN or *"
			}
			return ""
		})
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, iamMalformed("Invalid principal in policy: %s", strings.TrimPrefix(e.Message, "The policy document is not valid: "))
			}
			return nil, err
		}
		out[k] = values
	}
	return out, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// iamListPair reads at most one of the members name and notName (absent
// both: nil, nil), each a string or a list of strings accepted by check.
func iamListPair(obj *jsonObject, where, name, notName string, check func(string) *Error) (list, notList []string, err error) {
	v, has := obj.vals[name]
	nv, hasNot := obj.vals[notName]
	if has && hasNot {
		return nil, nil, iamMalformed(`Syntax errors in policy. %s has both %q and %q; use one.`, where, name, notName)
	}
	if !has && !hasNot {
		return nil, nil, nil
	}
	member := name
	if hasNot {
		member, v = notName, nv
	}
	var items []any
	switch x := v.(type) {
	case string:
		items = []any{x}
	case []any:
		items = x
	default:
		return nil, nil, iamMalformed(`Syntax errors in policy. %s.%q must be a string or a list of strings, not %s.`, where, member, jsonTypeName(v))
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		s, ok := item.(string)
		if !ok {
			return nil, nil, iamMalformed(`Syntax errors in policy. %s.%q[%d] must be a string, not %s.`, where, member, i, jsonTypeName(item))
		}
		if e := check(s); e != nil {
			return nil, nil, e
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		if member == "Action" || member == "NotAction" {
			return nil, nil, iamMalformed("Policy statement must contain actions.")
		}
		return nil, nil, iamMalformed("Policy statement must contain resources.")
	}
	if hasNot {
		return nil, out, nil
	}
	return out, nil, nil
}

// checkIAMAction accepts "*" and "vendor:action"; IAM accepts actions it
// does not know, so only the form is checked.
func checkIAMAction(a string) *Error {
	if a == "*" {
		return nil
	}
	service, action, ok := strings.Cut(a, ":")
	if !ok || service == "" || action == "" || strings.ContainsAny(service, "*?") {
		return iamMalformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. %q is not of the form \"vendor:Action\".", a)
	}
	for _, r := range a {
		if r <= ' ' || r > unicode.MaxASCII {
			return iamMalformed("Action %q contains a character other than printable ASCII.", a)
		}
	}
	return nil
}

// checkIAMResource accepts "*" and ARNs (which may hold wildcards).
func checkIAMResource(r string) *Error {
	if r == "*" || strings.HasPrefix(r, "arn:") && strings.Count(r, ":") >= 5 {
		return nil
	}
	return iamMalformed(`Resource %s must be in ARN format or "*".`, r)
}

func iamOnlyKeys(o *jsonObject, where string, allowed ...string) error {
	return toIAMMalformed(o.onlyKeys(where, allowed...))
}

// toIAMMalformed turns the IoT grammar's MalformedPolicyException (from the
// helpers shared with policydoc.go) into IAM's MalformedPolicyDocument.
func toIAMMalformed(err error) error {
	var e *Error
	if err == nil || !errors.As(err, &e) || e.Code != CodeMalformedPolicy {
		return err
	}
	return iamMalformed("Syntax errors in policy. %s", upperFirst(strings.TrimPrefix(e.Message, "The policy document is not valid: ")))
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Matches reports whether the statement applies to action on resource:
// the action is one of Action (or none of NotAction) and the resource one
// of Resource (or none of NotResource). Actions match without regard to
// case, resources with it; * matches any run of characters, ? any one, over
// the whole string (wildcards may span ARN segments). Condition is ignored.
func (st *IAMStatement) Matches(action, resource string) bool {
	if st.NotAction != nil {
		if anyMatch(st.NotAction, action, true) {
			return false
		}
	} else if !anyMatch(st.Action, action, true) {
		return false
	}
	if st.NotResource != nil {
		return !anyMatch(st.NotResource, resource, false)
	}
	return anyMatch(st.Resource, resource, false)
}

// Allowed evaluates identity policies as IAM does for one request: an
// explicit Deny in any statement of any policy wins; otherwise any matching
// Allow allows; otherwise the request is implicitly denied. Conditions are
// not evaluated (see IAMPolicyDocument).
func Allowed(policies []IAMPolicyDocument, action, resource string) bool {
	allowed := false
	for i := range policies {
		for j := range policies[i].Statements {
			st := &policies[i].Statements[j]
			if !st.Matches(action, resource) {
				continue
			}
			if st.Effect == EffectDeny {
				return false
			}
			allowed = true
		}
	}
	return allowed
}

// Permission is one action on one resource that a mitigation action's role
// must be allowed, e.g. {"iot:UpdateCertificate", "arn:aws:iot:...:cert/<id>"}.
type Permission struct {
	Action   string
	Resource string
}

func (p Permission) String() string { return p.Action + " on " + p.Resource }

// MitigationResources are the resources one execution of a mitigation action
// touches, as ARNs; each action type reads only its own members.
type MitigationResources struct {
	// CertificateArn: the finding's device certificate
	// (UPDATE_DEVICE_CERTIFICATE, ADD_THINGS_TO_THING_GROUP).
	CertificateArn string
	// CACertificateArn: the finding's CA certificate (UPDATE_CA_CERTIFICATE).
	CACertificateArn string
	// ThingGroupArns: the action's thing groups; ThingArns: the things
	// attached to CertificateArn (ADD_THINGS_TO_THING_GROUP).
	ThingGroupArns []string
	ThingArns      []string
	// PolicyArn: the finding's policy (REPLACE_DEFAULT_POLICY_VERSION).
	PolicyArn string
	// LoggingRoleArn: the action's roleArnForLogging (ENABLE_IOT_LOGGING).
	LoggingRoleArn string
	// TopicArn: the action's topic (PUBLISH_FINDING_TO_SNS).
	TopicArn string
}

// MitigationPermissionDenied is the message of an execution whose role,
// in account, lacks the permission missing.
func MitigationPermissionDenied(account, role string, missing Permission) string {
	if missing.Action == "sts:AssumeRole" {
		return fmt.Sprintf("Insufficient permissions: Warden cannot assume role %s (missing permission sts:AssumeRole on %s): "+
			"the role must exist in account %s.", role, missing.Resource, account)
	}
	return fmt.Sprintf("Insufficient permissions: role %s does not allow %s on %s.", role, missing.Action, missing.Resource)
}

// MitigationPermissions lists what the role of a mitigation action of
// actionType needs to apply it to r (semantics.md §3, from the Device
// Defender guide and the managed policies), in the order the work is done:
//
//	UPDATE_DEVICE_CERTIFICATE      iot:UpdateCertificate on CertificateArn
//	UPDATE_CA_CERTIFICATE          iot:UpdateCACertificate on CACertificateArn
//	ADD_THINGS_TO_THING_GROUP      iot:ListPrincipalThings on CertificateArn (audit
//	                               findings; a Detect violation names its thing), then
//	                               iot:AddThingToThingGroup on every ThingGroupArns
//	                               and every ThingArns member — only when there are
//	                               things, since without any no AddThingToThingGroup
//	                               call is made
//	REPLACE_DEFAULT_POLICY_VERSION iot:CreatePolicyVersion on PolicyArn
//	ENABLE_IOT_LOGGING             iot:SetV2LoggingOptions on "*" (it has no resource
//	                               type), then iam:PassRole on LoggingRoleArn
//	PUBLISH_FINDING_TO_SNS         sns:Publish on TopicArn
//
// An unknown action type needs nothing: action types are validated when an
// action is created.
func MitigationPermissions(actionType string, r MitigationResources) []Permission {
	switch actionType {
	case ActionUpdateDeviceCertificate:
		return []Permission{{"iot:UpdateCertificate", r.CertificateArn}}
	case ActionUpdateCACertificate:
		return []Permission{{"iot:UpdateCACertificate", r.CACertificateArn}}
	case ActionAddThingsToThingGroup:
		// A Detect task names its things (no certificate to look up).
		var out []Permission
		if r.CertificateArn != "" {
			out = append(out, Permission{"iot:ListPrincipalThings", r.CertificateArn})
		}
		if len(r.ThingArns) == 0 {
			return out
		}
		for _, g := range r.ThingGroupArns {
			out = append(out, Permission{"iot:AddThingToThingGroup", g})
		}
		for _, t := range r.ThingArns {
			out = append(out, Permission{"iot:AddThingToThingGroup", t})
		}
		return out
	case ActionReplaceDefaultPolicyVersion:
		return []Permission{{"iot:CreatePolicyVersion", r.PolicyArn}}
	case ActionEnableIoTLogging:
		return []Permission{{"iot:SetV2LoggingOptions", "*"}, {"iam:PassRole", r.LoggingRoleArn}}
	case ActionPublishFindingToSNS:
		return []Permission{{"sns:Publish", r.TopicArn}}
	}
	return nil
}
