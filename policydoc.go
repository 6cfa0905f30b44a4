package warden

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxPolicyChars is the most characters a policy document may have, not
// counting whitespace (CreatePolicy / CreatePolicyVersion documentation).
const MaxPolicyChars = 2048

// Policy statement effects.
const (
	EffectAllow = "Allow"
	EffectDeny  = "Deny"
)

// PolicyLanguageVersions are the accepted values of a document's "Version".
var PolicyLanguageVersions = []string{"2012-10-17", "2008-10-17"}

// BlankPolicyDocument grants nothing: it is the BLANK_POLICY template of the
// REPLACE_DEFAULT_POLICY_VERSION mitigation action, whose content AWS does
// not document. An empty Statement list is not valid grammar, so it denies
// every IoT action instead; it uses no MQTT wildcard, so the audit's
// misconfiguration check does not flag it.
const BlankPolicyDocument = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"}]}`

// PolicyDocument is a parsed IoT policy document, for the checks that
// analyse what a policy grants.
type PolicyDocument struct {
	Version    string
	ID         string // the optional top-level "Id"
	Statements []PolicyStatement
}

// PolicyStatement is one statement. Exactly one of Action and NotAction, and
// exactly one of Resource and NotResource, is non-nil; a single string in the
// document becomes a list of one.
type PolicyStatement struct {
	Sid         string
	Effect      string // EffectAllow or EffectDeny
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	// Condition maps operator → condition key → values (numbers and
	// booleans as their JSON text); nil without a Condition block.
	Condition map[string]map[string][]string
}

// ParsePolicyDocument checks doc against the IoT policy grammar and returns
// it parsed. Anything wrong is a MalformedPolicyException saying what.
func ParsePolicyDocument(doc string) (*PolicyDocument, error) {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	if n == 0 {
		return nil, malformed("the document is empty")
	}
	if n > MaxPolicyChars {
		return nil, malformed("the document has %d characters excluding whitespace; the maximum is %d", n, MaxPolicyChars)
	}
	root, err := decodeStrictJSON(doc)
	if err != nil {
		return nil, malformed("%s", err.Error())
	}
	top, ok := root.(*jsonObject)
	if !ok {
		return nil, malformed("the document must be a JSON object, not %s", jsonTypeName(root))
	}
	if err := top.onlyKeys("the document", "Version", "Id", "Statement"); err != nil {
		return nil, err
	}
	d := &PolicyDocument{}
	v, ok := top.vals["Version"]
	if !ok {
		return nil, malformed(`the document has no "Version"; use "2012-10-17"`)
	}
	if d.Version, ok = v.(string); !ok || !slices.Contains(PolicyLanguageVersions, d.Version) {
		return nil, malformed(`"Version" must be one of %s, not %s`, quoteAll(PolicyLanguageVersions), jsonText(v))
	}
	if v, ok := top.vals["Id"]; ok {
		if d.ID, ok = v.(string); !ok {
			return nil, malformed(`"Id" must be a string, not %s`, jsonTypeName(v))
		}
	}
	v, ok = top.vals["Statement"]
	if !ok {
		return nil, malformed(`the document has no "Statement"`)
	}
	var list []any
	switch st := v.(type) {
	case *jsonObject:
		list = []any{st}
	case []any:
		if len(st) == 0 {
			return nil, malformed(`"Statement" must not be an empty list`)
		}
		list = st
	default:
		return nil, malformed(`"Statement" must be an object or a list of objects, not %s`, jsonTypeName(v))
	}
	sids := map[string]int{}
	for i, item := range list {
		where := fmt.Sprintf("Statement[%d]", i)
		obj, ok := item.(*jsonObject)
		if !ok {
			return nil, malformed("%s must be an object, not %s", where, jsonTypeName(item))
		}
		st, err := parseStatement(where, obj)
		if err != nil {
			return nil, err
		}
		if st.Sid != "" {
			if j, dup := sids[st.Sid]; dup {
				return nil, malformed(`%s has the same "Sid" %q as Statement[%d]; statement ids must be unique`, where, st.Sid, j)
			}
			sids[st.Sid] = i
		}
		d.Statements = append(d.Statements, st)
	}
	return d, nil
}

func parseStatement(where string, obj *jsonObject) (PolicyStatement, error) {
	var st PolicyStatement
	for _, k := range obj.keys {
		if k == "Principal" || k == "NotPrincipal" {
			return st, malformed(`%s has %q: IoT policies apply to the certificate or group they are attached to and take no principal`, where, k)
		}
	}
	if err := obj.onlyKeys(where, "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"); err != nil {
		return st, err
	}
	if v, ok := obj.vals["Sid"]; ok {
		s, isString := v.(string)
		if !isString {
			return st, malformed(`%s."Sid" must be a string, not %s`, where, jsonTypeName(v))
		}
		for _, r := range s {
			if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
				return st, malformed(`%s."Sid" %q may hold only letters A-Z, a-z and digits 0-9`, where, s)
			}
		}
		st.Sid = s
	}
	v, ok := obj.vals["Effect"]
	if !ok {
		return st, malformed(`%s has no "Effect"`, where)
	}
	if st.Effect, _ = v.(string); st.Effect != EffectAllow && st.Effect != EffectDeny {
		return st, malformed(`%s."Effect" must be "Allow" or "Deny", not %s`, where, jsonText(v))
	}
	var err error
	if st.Action, st.NotAction, err = stringListPair(obj, where, "Action", "NotAction", checkAction); err != nil {
		return st, err
	}
	if st.Resource, st.NotResource, err = stringListPair(obj, where, "Resource", "NotResource", checkResource); err != nil {
		return st, err
	}
	if v, ok := obj.vals["Condition"]; ok {
		if st.Condition, err = parseCondition(where+`."Condition"`, v); err != nil {
			return st, err
		}
	}
	return st, nil
}

// stringListPair reads exactly one of the members name and notName, each a
// string or a non-empty list of strings accepted by check.
func stringListPair(obj *jsonObject, where, name, notName string, check func(string) string) (list, notList []string, err error) {
	v, has := obj.vals[name]
	nv, hasNot := obj.vals[notName]
	switch {
	case has && hasNot:
		return nil, nil, malformed(`%s has both %q and %q; use one`, where, name, notName)
	case !has && !hasNot:
		return nil, nil, malformed(`%s has no %q (or %q)`, where, name, notName)
	case hasNot:
		notList, err = stringList(where+"."+`"`+notName+`"`, nv, check)
		return nil, notList, err
	}
	list, err = stringList(where+"."+`"`+name+`"`, v, check)
	return list, nil, err
}

func stringList(where string, v any, check func(string) string) ([]string, error) {
	var items []any
	switch x := v.(type) {
	case string:
		items = []any{x}
	case []any:
		if len(x) == 0 {
			return nil, malformed("%s must not be an empty list", where)
		}
		items = x
	default:
		return nil, malformed("%s must be a string or a list of strings, not %s", where, jsonTypeName(v))
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		s, ok := item.(string)
		if !ok {
			return nil, malformed("%s[%d] must be a string, not %s", where, i, jsonTypeName(item))
		}
		if problem := check(s); problem != "" {
			return nil, malformed("%s: %q %s", where, s, problem)
		}
		out = append(out, s)
	}
	return out, nil
}

// checkAction accepts "*" and "service:action", the action part made of
// letters, digits and the wildcards * and ?.
func checkAction(a string) string {
	if a == "*" {
		return ""
	}
	service, action, ok := strings.Cut(a, ":")
	if !ok || service == "" || action == "" {
		return `is not an action; write "service:Action", e.g. "iot:Connect" or "iot:*"`
	}
	for _, r := range service {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-')) {
			return "has a service prefix with characters other than letters, digits and -"
		}
	}
	for _, r := range action {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '*' || r == '?' || r == '-' || r == '_')) {
			return "has an action name with characters other than letters, digits, -, _, * and ?"
		}
	}
	return ""
}

// checkResource accepts "*" and ARNs (which may hold policy variables and wildcards).
func checkResource(r string) string {
	if r == "*" || strings.HasPrefix(r, "arn:") && len(r) > len("arn:") {
		return ""
	}
	return `is not a resource; write "*" or an ARN such as "arn:aws:iot:us-east-1:123456789012:topic/t"`
}

func parseCondition(where string, v any) (map[string]map[string][]string, error) {
	obj, ok := v.(*jsonObject)
	if !ok {
		return nil, malformed("%s must be an object, not %s", where, jsonTypeName(v))
	}
	out := make(map[string]map[string][]string, len(obj.keys))
	for _, op := range obj.keys {
		w := where + "." + `"` + op + `"`
		if op == "" {
			return nil, malformed("%s has an empty condition operator", where)
		}
		keys, ok := obj.vals[op].(*jsonObject)
		if !ok {
			return nil, malformed("%s must be an object of condition keys, not %s", w, jsonTypeName(obj.vals[op]))
		}
		m := make(map[string][]string, len(keys.keys))
		for _, k := range keys.keys {
			if k == "" {
				return nil, malformed("%s has an empty condition key", w)
			}
			kw := w + "." + `"` + k + `"`
			raw := keys.vals[k]
			items, isList := raw.([]any)
			if !isList {
				items = []any{raw}
			} else if len(items) == 0 {
				return nil, malformed("%s must not be an empty list", kw)
			}
			for _, item := range items {
				switch x := item.(type) {
				case string:
					m[k] = append(m[k], x)
				case json.Number:
					m[k] = append(m[k], x.String())
				case bool:
					m[k] = append(m[k], fmt.Sprint(x))
				default:
					return nil, malformed("%s values must be strings, numbers or booleans, not %s", kw, jsonTypeName(item))
				}
			}
		}
		out[op] = m
	}
	return out, nil
}

func malformed(format string, args ...any) *Error {
	return Errorf(CodeMalformedPolicy, "The policy document is not valid: "+format+".", args...)
}

// --- analysis helpers for the audit checks ---

// MatchesAction reports whether the statement applies to action (e.g.
// "iot:Publish"): one of Action matches it, or none of NotAction does.
// Action names are matched without regard to case, as AWS does.
func (st *PolicyStatement) MatchesAction(action string) bool {
	if st.NotAction != nil {
		return !anyMatch(st.NotAction, action, true)
	}
	return anyMatch(st.Action, action, true)
}

// MatchesResource reports whether the statement applies to resource: one of
// Resource matches it, or none of NotResource does. Matching is
// case-sensitive; * and ? are the wildcards; policy variables are not
// substituted.
func (st *PolicyStatement) MatchesResource(resource string) bool {
	if st.NotResource != nil {
		return !anyMatch(st.NotResource, resource, false)
	}
	return anyMatch(st.Resource, resource, false)
}

// MQTTWildcardResources returns the statement's topic and topic-filter
// resources that contain the MQTT wildcards + or #. In policies these are
// literal characters, not wildcards, so a Deny written with them denies far
// less than its author meant (IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK).
func (st *PolicyStatement) MQTTWildcardResources() []string {
	var out []string
	for _, r := range append(slices.Clone(st.Resource), st.NotResource...) {
		_, kind, id, ok := ParseIoTARN(r)
		if ok && (kind == "topic" || kind == "topicfilter") && strings.ContainsAny(id, "+#") {
			out = append(out, r)
		}
	}
	return out
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if WildcardMatch(p, s, fold) {
			return true
		}
	}
	return false
}

// WildcardMatch matches s against a policy pattern in which * matches any
// run of characters and ? any one character; fold ignores case. It takes
// time linear in s whatever the pattern (see wildcard).
func WildcardMatch(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	// The common shapes, exact names and prefix*, without compiling.
	if i := strings.IndexAny(pattern, "*?"); (i < 0 || i == len(pattern)-1 && pattern[i] == '*') &&
		utf8.ValidString(pattern) && utf8.ValidString(s) {
		if i < 0 {
			return pattern == s
		}
		return strings.HasPrefix(s, pattern[:i])
	}
	var w wildcard
	compileWildcardString(&w, pattern)
	return w.match(s)
}

// --- strict JSON: objects keep their key order and may not repeat a key ---

type jsonObject struct {
	keys []string
	vals map[string]any
}

func (o *jsonObject) onlyKeys(where string, allowed ...string) error {
	for _, k := range o.keys {
		if !slices.Contains(allowed, k) {
			hint := ""
			for _, a := range allowed {
				if strings.EqualFold(a, k) {
					hint = fmt.Sprintf(" (element names are case-sensitive: %q)", a)
				}
			}
			return malformed("%s has the unknown element %q%s; allowed are %s", where, k, hint, quoteAll(allowed))
		}
	}
	return nil
}

// decodeStrictJSON parses one JSON value with nothing after it. Objects
// become *jsonObject, numbers json.Number; a repeated key is an error, since
// which of two values AWS would take is undefined.
func decodeStrictJSON(doc string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("the document has more after the JSON value at offset %d", dec.InputOffset())
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonError(err, dec)
	}
	switch tok {
	case json.Delim('{'):
		o := &jsonObject{vals: map[string]any{}}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, jsonError(err, dec)
			}
			k := kt.(string) // the decoder only yields string keys inside objects
			if _, dup := o.vals[k]; dup {
				return nil, fmt.Errorf("the element %q appears twice in one object", k)
			}
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			o.keys = append(o.keys, k)
			o.vals[k] = v
		}
		if _, err := dec.Token(); err != nil {
			return nil, jsonError(err, dec)
		}
		return o, nil
	case json.Delim('['):
		list := []any{}
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, jsonError(err, dec)
		}
		return list, nil
	}
	return tok, nil
}

func jsonError(err error, dec *json.Decoder) error {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("the document is not valid JSON at offset %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("the document is not valid JSON: it ends early at offset %d", dec.InputOffset())
	}
	return fmt.Errorf("the document is not valid JSON: %s", err.Error())
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case *jsonObject:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// jsonText shows a scalar as JSON, anything else by its type.
func jsonText(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case json.Number:
		return x.String()
	case bool:
		return fmt.Sprint(x)
	}
	return jsonTypeName(v)
}

func quoteAll(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
