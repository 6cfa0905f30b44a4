package awsmodel

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/warden-iot/warden"
)

// Validate checks value against s the way AWS does before an operation runs,
// recording each violation in v under path, the member's dotted name (list
// items are "<list>.<n>.member", a map's values "<map>.<key>").
//
// value is generic JSON as decoded with json.Decoder.UseNumber: map[string]any,
// []any, string, json.Number, bool; nil members are absent.
func (s *Shape) Validate(v *warden.Validator, path string, value any) {
	s.validate(validatorReport{v}, path, value, sentName)
}

// ValidateQuery is Validate for a query-protocol request: members are named
// in messages as IAM and SNS name them, in lowerCamelCase
// ("tags.1.member.key").
func (s *Shape) ValidateQuery(v *warden.Validator, value any) {
	s.validate(validatorReport{v}, "", value, (*Member).QueryName)
}

// Problems checks value (generic JSON, as for Validate) against s and
// returns one message per broken constraint in the words of Device
// Defender's ValidateSecurityProfileBehaviors ("consecutiveDatapointsToAlarm
// 100000 should be in range[1,10]"), members named by their own name.
func (s *Shape) Problems(value any) []string {
	var r problemReport
	s.validate(&r, "", value, sentName)
	return r.problems
}

// QueryName is how IAM and SNS name the member in validation messages: its
// name in lowerCamelCase.
func (m *Member) QueryName() string {
	if m.Name == "" {
		return ""
	}
	return strings.ToLower(m.Name[:1]) + m.Name[1:]
}

// sentName names a member as restJson1 sends it: a member in the path,
// query or headers by its location name, a body member by its own.
func sentName(m *Member) string {
	if m.Location != "" {
		return m.LocationName
	}
	return m.Name
}

// report receives the violations validate finds; path names the member,
// shown is its value as a message shows it.
type report interface {
	missing(path string)
	wrongType(path, want string, got any)
	// badNumber: a JSON number that is not want ("an integer", "a number").
	badNumber(path, shown, want string)
	// outOfBounds: x, the value, length or number of items ("value",
	// "length", "items"), is outside s.Min and s.Max.
	outOfBounds(path, shown, what string, x float64, s *Shape)
	notInEnum(path, value string, s *Shape)
	noMatch(path, value string, s *Shape)
}

// validate is Validate with members named in messages by name.
func (s *Shape) validate(r report, path string, value any, name func(*Member) string) {
	if want, ok := s.jsonType(value); !ok {
		r.wrongType(path, want, value)
		return
	}
	switch s.Type {
	case "structure":
		obj := value.(map[string]any)
		for _, m := range s.Members {
			member := join(path, name(m))
			mv := obj[m.Name]
			switch {
			case mv == nil:
				if m.Required {
					r.missing(member)
				}
			case m.ValidatedByHandler:
				// Only its JSON type: its constraints are the handler's.
				if want, ok := m.Shape.jsonType(mv); !ok {
					r.wrongType(member, want, mv)
				}
			default:
				m.Shape.validate(r, member, mv, name)
			}
		}
	case "list":
		items := value.([]any)
		for i, item := range items {
			if item != nil {
				s.Member.Shape.validate(r, path+"."+strconv.Itoa(i+1)+".member", item, name)
			}
		}
		s.bound(r, path, float64(len(items)), fmt.Sprintf("<%d items>", len(items)), "items")
	case "map":
		obj := value.(map[string]any)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys) // a stable message
		for _, k := range keys {
			s.Key.Shape.validate(r, path, k, name)
			if obj[k] != nil {
				s.Value.Shape.validate(r, path+"."+k, obj[k], name)
			}
		}
		s.bound(r, path, float64(len(obj)), fmt.Sprintf("<%d items>", len(obj)), "items")
	case "string":
		s.validateString(r, path, value.(string))
	case "integer", "long":
		n := value.(json.Number)
		i, err := n.Int64()
		if err != nil || s.Type == "integer" && (i > math.MaxInt32 || i < math.MinInt32) {
			r.badNumber(path, n.String(), "an integer")
			return
		}
		s.bound(r, path, float64(i), n.String(), "value")
	case "double", "float":
		n := value.(json.Number)
		f, err := n.Float64()
		if err != nil {
			r.badNumber(path, n.String(), "a number")
			return
		}
		s.bound(r, path, f, n.String(), "value")
	}
}

// jsonType reports whether value has the JSON type s needs, and names that
// type.
func (s *Shape) jsonType(value any) (want string, ok bool) {
	switch s.Type {
	case "structure", "map":
		_, ok = value.(map[string]any)
		return "an object", ok
	case "list":
		_, ok = value.([]any)
		return "a list", ok
	case "string":
		_, ok = value.(string)
		return "a string", ok
	case "blob":
		_, ok = value.(string)
		return "a base64 string", ok
	case "boolean":
		_, ok = value.(bool)
		return "a boolean", ok
	case "integer", "long", "double", "float":
		_, ok = value.(json.Number)
		return "a number", ok
	case "timestamp":
		switch value.(type) {
		case json.Number, time.Time: // time.Time: from a query string
			return "", true
		}
		return "a number of epoch seconds", false
	}
	return "", true
}

func (s *Shape) validateString(r report, path, str string) {
	if len(s.Enum) > 0 {
		if !slices.Contains(s.Enum, str) {
			r.notInEnum(path, str, s)
		}
		return
	}
	n := utf8.RuneCountInString(str)
	lengthFailed := s.Min != nil && float64(n) < *s.Min || s.Max != nil && float64(n) > *s.Max
	s.bound(r, path, float64(n), str, "length")
	// An empty value too short for the model is not reported a second time
	// for its pattern, as AWS does.
	if s.Regexp != nil && !(str == "" && lengthFailed) && !s.Regexp.MatchString(str) {
		r.noMatch(path, str, s)
	}
}

// bound checks x against Min and Max.
func (s *Shape) bound(r report, path string, x float64, shown, what string) {
	if s.Min != nil && x < *s.Min || s.Max != nil && x > *s.Max {
		r.outOfBounds(path, shown, what, x, s)
	}
}

// validatorReport words violations as AWS's request validation does.
type validatorReport struct{ v *warden.Validator }

func (r validatorReport) missing(path string) { r.v.Required(path, false) }

func (r validatorReport) wrongType(path, want string, got any) {
	if path == "" {
		path = "(request body)"
	}
	r.v.Problem(fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must be %s, not a JSON %s", path, want, jsonKind(got)))
}

func (r validatorReport) badNumber(path, shown, want string) {
	r.v.Fail(path, shown, "Member must be "+want)
}

func (r validatorReport) outOfBounds(path, shown, what string, x float64, s *Shape) {
	if what == "items" {
		what = "length"
	}
	if s.Min != nil && x < *s.Min {
		r.v.Fail(path, shown, fmt.Sprintf("Member must have %s greater than or equal to %s", what, number(*s.Min)))
	}
	if s.Max != nil && x > *s.Max {
		r.v.Fail(path, shown, fmt.Sprintf("Member must have %s less than or equal to %s", what, number(*s.Max)))
	}
}

func (r validatorReport) notInEnum(path, value string, s *Shape) {
	r.v.Fail(path, value, "Member must satisfy enum value set: ["+strings.Join(s.Enum, ", ")+"]")
}

func (r validatorReport) noMatch(path, value string, s *Shape) {
	r.v.Fail(path, value, "Member must satisfy regular expression pattern: "+s.Pattern)
}

func number(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func jsonKind(x any) string {
	switch x.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return "value"
}

// problemReport words violations as ValidateSecurityProfileBehaviors does,
// naming a member by its own name (a list item by its list's).
type problemReport struct{ problems []string }

func (r *problemReport) add(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// memberName is the last member name in path.
func memberName(path string) string {
	parts := strings.Split(path, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		if _, err := strconv.Atoi(parts[i]); err != nil && parts[i] != "member" && parts[i] != "" {
			return parts[i]
		}
	}
	return "behavior"
}

func (r *problemReport) missing(path string) { r.add("%s must be specified", memberName(path)) }

func (r *problemReport) wrongType(path, want string, got any) {
	r.add("%s should be %s, not a JSON %s", memberName(path), want, jsonKind(got))
}

func (r *problemReport) badNumber(path, shown, want string) {
	r.add("%s %s should be %s", memberName(path), shown, want)
}

func (r *problemReport) outOfBounds(path, shown, what string, _ float64, s *Shape) {
	var bounds string
	switch {
	case s.Min != nil && s.Max != nil:
		bounds = fmt.Sprintf("in range[%s,%s]", number(*s.Min), number(*s.Max))
	case s.Min != nil:
		bounds = "at least " + number(*s.Min)
	default:
		bounds = "at most " + number(*s.Max)
	}
	switch what {
	case "value":
		r.add("%s %s should be %s", memberName(path), shown, bounds)
	case "length":
		r.add("%s %q should have a length %s", memberName(path), shown, bounds)
	default:
		r.add("%s should have a number of items %s, not %s", memberName(path), bounds, strings.Trim(shown, "<>"))
	}
}

func (r *problemReport) notInEnum(path, value string, s *Shape) {
	r.add("%s %s should be one of [%s]", memberName(path), value, strings.Join(s.Enum, ", "))
}

func (r *problemReport) noMatch(path, value string, s *Shape) {
	r.add("%s %q should match the pattern %s", memberName(path), value, s.Pattern)
}
