package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/warden-iot/warden/internal/api"
	"github.com/warden-iot/warden/internal/awsmodel"
)

// stricterThanModel are the request members on which Warden refuses values
// the model allows, each with the reason; TestOperationsFollowTheModel
// fails for any other.
var stricterThanModel = map[string]string{
	"AddThingToThingGroup.thingArn":           "an ARN must name a thing of the caller's account and region",
	"AddThingToThingGroup.thingGroupArn":      "an ARN must name a thing group",
	"RemoveThingFromThingGroup.thingArn":      "an ARN must name a thing of the caller's account and region",
	"RemoveThingFromThingGroup.thingGroupArn": "an ARN must name a thing group",
	"AttachThingPrincipal.principal":          "Warden's principals are certificates: anything else is no certificate ARN",
	"DetachThingPrincipal.principal":          "Warden's principals are certificates: anything else is no certificate ARN",
	"ListPrincipalThings.principal":           "Warden's principals are certificates: anything else is no certificate ARN",
	"CreateAuditSuppression.checkName":        "AWS refuses a name that is no audit check",
	"ListAuditFindings.checkName":             "AWS refuses a name that is no audit check",
	"ListAuditSuppressions.checkName":         "AWS refuses a name that is no audit check",
}

// TestOperationsFollowTheModel holds every served IoT operation to the
// pinned model: for each top-level member with a constraint, a value just
// outside it is refused with AWS's validation message naming the member,
// and values at its bounds are not refused for that member — so no handler
// can restate a rule differently from the model without this failing.
func TestOperationsFollowTheModel(t *testing.T) {
	e := newEnv(t)
	model := awsmodel.Load(awsmodel.IoTModel)
	server := reflect.TypeOf(&api.Server{})
	var served []string
	for name := range model.Operations {
		if _, ok := server.MethodByName(name); ok {
			served = append(served, name)
		}
	}
	sort.Strings(served)
	if len(served) < 80 {
		t.Fatalf("only %d operations served: %v", len(served), served)
	}
	probes := 0
	for _, name := range served {
		op := model.Operations[name]
		if op.Input == nil {
			continue
		}
		for _, m := range op.Input.Members {
			for _, p := range memberProbes(op, m) {
				if m.ValidatedByHandler && p.value != nil {
					// An override leaves its constraints to the handler, which
					// need not answer them as InvalidRequest (ValidateSecurityProfileBehaviors).
					continue
				}
				probes++
				req := baseRequest(op)
				req.set(m, p.value)
				resp := req.send(t, e, op)
				msg := string(resp.body)
				named := resp.header.Get("x-amzn-ErrorType") == "InvalidRequestException" &&
					(strings.Contains(msg, "at '"+m.LocationName+"'") || strings.Contains(msg, "at '"+m.Name+"'"))
				switch {
				case p.refused && !named:
					t.Errorf("%s %s=%s (%s): got %d %s, want a validation error naming %s",
						name, m.Name, shorten(p.value), p.why, resp.status, resp.body, m.LocationName)
				case !p.refused && named && stricterThanModel[name+"."+m.Name] == "":
					t.Errorf("%s %s=%s (%s) is allowed by the model but refused: %s", name, m.Name, shorten(p.value), p.why, resp.body)
				}
			}
		}
	}
	t.Logf("%d operations, %d probes", len(served), probes)
}

type probe struct {
	value   any // nil: the member is left out
	refused bool
	why     string
}

// memberProbes are the values to try for m: its bounds and just beyond.
func memberProbes(op *awsmodel.Operation, m *awsmodel.Member) []probe {
	if p := op.Paginator; p != nil && (m.Name == p.InputToken) {
		return nil // a token's validity is state, not a constraint
	}
	var out []probe
	if m.Required && m.Location != "uri" {
		out = append(out, probe{nil, true, "missing"})
	}
	s := m.Shape
	switch s.Type {
	case "string":
		if len(s.Enum) > 0 {
			bad := "NOT_" + s.Enum[0]
			for slices.Contains(s.Enum, bad) { // IN and NOT_IN
				bad = "NOT_" + bad
			}
			out = append(out, probe{bad, true, "not in the enum"})
			for _, v := range s.Enum {
				out = append(out, probe{v, false, "in the enum"})
			}
			return out
		}
		lo, hi := 1, 64
		if s.Min != nil {
			lo = max(int(*s.Min), 1)
		}
		if s.Max != nil {
			hi = int(*s.Max)
		}
		if v, ok := sample(s, lo); ok {
			out = append(out, probe{v, false, "shortest"})
			if bad, ok := outsidePattern(s, v); ok {
				out = append(out, probe{bad, true, "outside the pattern"})
			}
		}
		if v, ok := everyAllowedCharacter(s, hi); ok {
			out = append(out, probe{v, false, "every character the pattern allows"})
		}
		if s.Max != nil {
			if v, ok := sample(s, hi); ok {
				out = append(out, probe{v, false, "longest"})
			}
			if v, ok := sample(s, hi+1); ok {
				out = append(out, probe{v, true, "too long"})
			}
		}
		if s.Min != nil && *s.Min > 1 && m.Location != "uri" {
			if v, ok := sample(s, int(*s.Min)-1); ok {
				out = append(out, probe{v, true, "too short"})
			}
		}
	case "integer", "long":
		if s.Min != nil {
			out = append(out, probe{int64(*s.Min), false, "smallest"}, probe{int64(*s.Min) - 1, true, "too small"})
		}
		if s.Max != nil {
			out = append(out, probe{int64(*s.Max), false, "largest"}, probe{int64(*s.Max) + 1, true, "too large"})
		}
	}
	return out
}

// modelRequest is a request being put together from model members.
type modelRequest struct {
	labels  map[string]string
	query   url.Values
	headers map[string]string
	body    map[string]any
}

// baseRequest fills every member with a value the model allows (so that
// rules between members, such as attributeValue needing attributeName, are
// met), but a paging token.
func baseRequest(op *awsmodel.Operation) *modelRequest {
	r := &modelRequest{labels: map[string]string{}, query: url.Values{}, headers: map[string]string{}, body: map[string]any{}}
	for _, m := range op.Input.Members {
		if p := op.Paginator; p == nil || m.Name != p.InputToken {
			r.set(m, validValue(m.Shape))
		}
	}
	return r
}

func validValue(s *awsmodel.Shape) any {
	switch s.Type {
	case "string":
		if len(s.Enum) > 0 {
			return s.Enum[0]
		}
		n := 1
		if s.Min != nil {
			n = max(n, int(*s.Min))
		}
		v, _ := sample(s, n)
		return v
	case "integer", "long":
		if s.Min != nil {
			return int64(*s.Min)
		}
		return int64(1)
	case "boolean":
		return false
	case "list":
		n := 1
		if s.Min != nil {
			n = max(n, int(*s.Min))
		}
		items := make([]any, n)
		for i := range items {
			items[i] = validValue(s.Member.Shape)
		}
		return items
	case "map":
		return map[string]any{}
	case "structure":
		obj := map[string]any{}
		for _, m := range s.Members {
			if m.Required {
				obj[m.Name] = validValue(m.Shape)
			}
		}
		return obj
	}
	return nil
}

// set puts value (nil: none) in m's location.
func (r *modelRequest) set(m *awsmodel.Member, value any) {
	text := fmt.Sprint(value)
	switch m.Location {
	case "uri":
		r.labels[m.LocationName] = text
	case "querystring":
		r.query.Del(m.LocationName)
		if value != nil {
			r.query.Set(m.LocationName, text)
		}
	case "header":
		delete(r.headers, m.LocationName)
		if value != nil {
			r.headers[m.LocationName] = text
		}
	default:
		delete(r.body, m.Name)
		if value != nil {
			r.body[m.Name] = value
		}
	}
}

func (r *modelRequest) send(t *testing.T, e *env, op *awsmodel.Operation) rawResponse {
	t.Helper()
	path, _, _ := strings.Cut(op.Path, "?")
	for label, v := range r.labels {
		path = strings.Replace(path, "{"+label+"}", url.PathEscape(v), 1)
	}
	if q := r.query.Encode(); q != "" {
		path += "?" + strings.ReplaceAll(q, "+", "%20")
	}
	var body []byte
	if payload, ok := r.body[op.Input.Payload]; ok {
		body, _ = json.Marshal(payload) // the member is the whole body
	} else if len(r.body) > 0 {
		body, _ = json.Marshal(r.body)
	}
	req := e.newRequest(t, op.Method, path, body)
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	signA.sign(t, req, body)
	return e.send(t, req)
}

// sample returns a value of n characters that s's pattern matches: the
// pattern's shortest match, with its first repeated character class
// repeated to reach n. ok is false when no such value was found.
func sample(s *awsmodel.Shape, n int) (string, bool) {
	if s.Regexp == nil {
		return strings.Repeat("a", n), true
	}
	re, err := syntax.Parse(strings.TrimSuffix(strings.TrimPrefix(s.Regexp.String(), "^(?:"), ")$"), syntax.Perl)
	if err != nil {
		return "", false
	}
	re = re.Simplify()
	shortest := generate(re, 0)
	v := generate(re, n-utf8.RuneCountInString(shortest))
	return v, utf8.RuneCountInString(v) == n && s.Regexp.MatchString(v)
}

// generate builds a string re matches; extra characters go to the first
// repetition of a character class.
func generate(re *syntax.Regexp, extra int) string {
	var b strings.Builder
	var walk func(re *syntax.Regexp)
	walk = func(re *syntax.Regexp) {
		switch re.Op {
		case syntax.OpLiteral:
			b.WriteString(string(re.Rune))
		case syntax.OpCharClass:
			b.WriteRune(classRune(re.Rune))
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			b.WriteByte('a')
		case syntax.OpCapture:
			walk(re.Sub[0])
		case syntax.OpConcat:
			for _, sub := range re.Sub {
				walk(sub)
			}
		case syntax.OpAlternate:
			walk(re.Sub[0])
		case syntax.OpStar, syntax.OpPlus, syntax.OpRepeat:
			count := re.Min
			if re.Op == syntax.OpPlus {
				count = 1
			}
			sub := re.Sub[0]
			single := sub.Op == syntax.OpCharClass || sub.Op == syntax.OpAnyChar || sub.Op == syntax.OpAnyCharNotNL
			if extra > 0 && single && (re.Max == -1 || re.Max >= count+extra) {
				count += extra
				extra = 0
			}
			for range count {
				walk(sub)
			}
		}
	}
	walk(re)
	return b.String()
}

// classRune picks a readable member of a character class.
func classRune(ranges []rune) rune {
	for _, want := range "a0A_" {
		for i := 0; i+1 < len(ranges); i += 2 {
			if ranges[i] <= want && want <= ranges[i+1] {
				return want
			}
		}
	}
	return ranges[0]
}

// everyAllowedCharacter is, for a pattern that is one repeated character
// class, a value holding both ends of each of its ranges (printable ones),
// at most limit characters long.
func everyAllowedCharacter(s *awsmodel.Shape, limit int) (string, bool) {
	if s.Regexp == nil {
		return "", false
	}
	re, err := syntax.Parse(strings.TrimSuffix(strings.TrimPrefix(s.Regexp.String(), "^(?:"), ")$"), syntax.Perl)
	if err != nil {
		return "", false
	}
	re = re.Simplify()
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if (re.Op != syntax.OpPlus && re.Op != syntax.OpStar) || re.Sub[0].Op != syntax.OpCharClass {
		return "", false
	}
	var b strings.Builder
	ranges := re.Sub[0].Rune
	for i := 0; i+1 < len(ranges); i += 2 {
		for _, r := range []rune{ranges[i], ranges[i+1]} {
			if r > ' ' && r < 0x7f && utf8.RuneCountInString(b.String()) < limit {
				b.WriteRune(r)
			}
		}
	}
	v := b.String()
	return v, v != "" && s.Regexp.MatchString(v)
}

// outsidePattern is v with its first character replaced by one the
// pattern refuses.
func outsidePattern(s *awsmodel.Shape, v string) (string, bool) {
	if s.Regexp == nil || v == "" {
		return "", false
	}
	_, size := utf8.DecodeRuneInString(v)
	for _, c := range []string{"!", " ", "#", "~", "é", "\u0001", "/"} {
		bad := c + v[size:]
		if !s.Regexp.MatchString(bad) {
			return bad, true
		}
	}
	return "", false
}

func shorten(v any) string {
	s := strconv.Quote(fmt.Sprint(v))
	if len(s) > 40 {
		return s[:37] + "…\""
	}
	return s
}
