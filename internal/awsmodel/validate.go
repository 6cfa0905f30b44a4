package awsmodel

import (
	"encoding/json"
	"fmt"
	"math"
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
	s.validate(v, path, value, sentName)
}

// ValidateQuery is Validate for a query-protocol request: members are named
// in messages as IAM and SNS name them, in lowerCamelCase
// ("tags.1.member.key").
func (s *Shape) ValidateQuery(v *warden.Validator, value any) {
	s.validate(v, "", value, (*Member).QueryName)
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

// validate is Validate with members named in messages by name.
func (s *Shape) validate(v *warden.Validator, path string, value any, name func(*Member) string) {
	switch s.Type {
	case "structure":
		obj, ok := value.(map[string]any)
		if !ok {
			typeProblem(v, path, "an object", value)
			return
		}
		for _, m := range s.Members {
			member := join(path, name(m))
			mv := obj[m.Name]
			if mv == nil {
				v.Required(member, !m.Required)
				continue
			}
			m.Shape.validate(v, member, mv, name)
		}
	case "list":
		items, ok := value.([]any)
		if !ok {
			typeProblem(v, path, "a list", value)
			return
		}
		for i, item := range items {
			if item != nil {
				s.Member.Shape.validate(v, path+"."+strconv.Itoa(i+1)+".member", item, name)
			}
		}
		s.count(v, path, len(items))
	case "map":
		obj, ok := value.(map[string]any)
		if !ok {
			typeProblem(v, path, "an object", value)
			return
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys) // a stable message
		for _, k := range keys {
			s.Key.Shape.validate(v, path, k, name)
			if obj[k] != nil {
				s.Value.Shape.validate(v, path+"."+k, obj[k], name)
			}
		}
		s.count(v, path, len(obj))
	case "string":
		str, ok := value.(string)
		if !ok {
			typeProblem(v, path, "a string", value)
			return
		}
		s.validateString(v, path, str)
	case "blob":
		if _, ok := value.(string); !ok {
			typeProblem(v, path, "a base64 string", value)
		}
	case "boolean":
		if _, ok := value.(bool); !ok {
			typeProblem(v, path, "a boolean", value)
		}
	case "integer", "long":
		n, ok := value.(json.Number)
		if !ok {
			typeProblem(v, path, "a number", value)
			return
		}
		i, err := n.Int64()
		if err != nil || s.Type == "integer" && (i > math.MaxInt32 || i < math.MinInt32) {
			v.Fail(path, n.String(), "Member must be an integer")
			return
		}
		s.bound(v, path, float64(i), n.String(), "value")
	case "double", "float":
		n, ok := value.(json.Number)
		if !ok {
			typeProblem(v, path, "a number", value)
			return
		}
		f, err := n.Float64()
		if err != nil {
			v.Fail(path, n.String(), "Member must be a number")
			return
		}
		s.bound(v, path, f, n.String(), "value")
	case "timestamp":
		switch value.(type) {
		case json.Number, time.Time: // time.Time: from a query string
		default:
			typeProblem(v, path, "a number of epoch seconds", value)
		}
	}
}

func (s *Shape) validateString(v *warden.Validator, path, str string) {
	if len(s.Enum) > 0 {
		v.Enum(path, str, s.Enum...)
		return
	}
	n := utf8.RuneCountInString(str)
	lengthFailed := s.Min != nil && float64(n) < *s.Min || s.Max != nil && float64(n) > *s.Max
	s.bound(v, path, float64(n), str, "length")
	// An empty value too short for the model is not reported a second time
	// for its pattern, as AWS does.
	if s.Regexp != nil && !(str == "" && lengthFailed) && !s.Regexp.MatchString(str) {
		v.Fail(path, str, "Member must satisfy regular expression pattern: "+s.Pattern)
	}
}

// count checks a list's or map's number of items.
func (s *Shape) count(v *warden.Validator, path string, n int) {
	s.bound(v, path, float64(n), fmt.Sprintf("<%d items>", n), "length")
}

// bound checks x against Min and Max; what is "length" or "value".
func (s *Shape) bound(v *warden.Validator, path string, x float64, shown, what string) {
	if s.Min != nil && x < *s.Min {
		v.Fail(path, shown, fmt.Sprintf("Member must have %s greater than or equal to %s", what, number(*s.Min)))
	}
	if s.Max != nil && x > *s.Max {
		v.Fail(path, shown, fmt.Sprintf("Member must have %s less than or equal to %s", what, number(*s.Max)))
	}
}

func number(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// typeProblem reports a member of the wrong JSON type.
func typeProblem(v *warden.Validator, path, want string, got any) {
	if path == "" {
		path = "(request body)"
	}
	v.Problem(fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must be %s, not a JSON %s", path, want, jsonKind(got)))
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
	}
	return "value"
}
