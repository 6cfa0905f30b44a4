package warden

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Validator collects constraint violations the way AWS reports them:
// "2 validation errors detected: Value 'x' at 'member' failed to satisfy
// constraint: Member must ...; ...". Members are named by their JSON path.
type Validator struct {
	problems []string
}

// Fail records a violation of rule by member whose value is shown as value.
func (v *Validator) Fail(member, value, rule string) {
	v.problems = append(v.problems, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", shorten(value), member, rule))
}

// Required records that member is missing when present is false.
func (v *Validator) Required(member string, present bool) {
	if !present {
		v.problems = append(v.problems, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", member))
	}
}

// Length checks a string's length in characters against [min, max]; max < 0
// means no maximum.
func (v *Validator) Length(member, value string, min, max int) {
	n := utf8.RuneCountInString(value)
	if n < min {
		v.Fail(member, value, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	}
	if max >= 0 && n > max {
		v.Fail(member, value, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
}

// Chars checks that value consists only of characters accepted by ok; pattern
// is the model's regular expression, quoted in the message.
func (v *Validator) Chars(member, value string, ok func(rune) bool, pattern string) {
	for _, r := range value {
		if !ok(r) {
			v.Fail(member, value, "Member must satisfy regular expression pattern: "+pattern)
			return
		}
	}
}

// Enum checks that value is one of allowed.
func (v *Validator) Enum(member, value string, allowed ...string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	v.Fail(member, value, "Member must satisfy enum value set: ["+strings.Join(allowed, ", ")+"]")
}

// Range checks an integer against [min, max].
func (v *Validator) Range(member string, value, min, max int64) {
	if value < min {
		v.Fail(member, fmt.Sprint(value), fmt.Sprintf("Member must have value greater than or equal to %d", min))
	}
	if value > max {
		v.Fail(member, fmt.Sprint(value), fmt.Sprintf("Member must have value less than or equal to %d", max))
	}
}

// Count checks the number of items of a list or map against [min, max].
func (v *Validator) Count(member string, n, min, max int) {
	if n < min {
		v.Fail(member, fmt.Sprintf("<%d items>", n), fmt.Sprintf("Member must have length greater than or equal to %d", min))
	}
	if n > max {
		v.Fail(member, fmt.Sprintf("<%d items>", n), fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
}

// Problem records a violation that is not one of the model's constraint kinds.
func (v *Validator) Problem(msg string) { v.problems = append(v.problems, msg) }

// Err is nil when nothing failed, else an InvalidRequestException listing
// every violation.
func (v *Validator) Err() error {
	switch len(v.problems) {
	case 0:
		return nil
	case 1:
		return &Error{Code: CodeInvalidRequest, Message: "1 validation error detected: " + v.problems[0]}
	}
	return &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("%d validation errors detected: %s", len(v.problems), strings.Join(v.problems, "; "))}
}

func shorten(s string) string {
	const max = 100
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// Character classes of the model's name patterns.

// IsNameChar accepts [a-zA-Z0-9_-].
func IsNameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}

// IsThingNameChar accepts [a-zA-Z0-9:_-], the pattern of thing and thing group names.
func IsThingNameChar(r rune) bool { return IsNameChar(r) || r == ':' }
