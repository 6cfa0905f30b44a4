package protocol

import (
	"errors"
	"strconv"
	"time"

	"github.com/warden-iot/warden"
)

// Rules quoted when a member's string is not a value of its type.
const (
	RuleBool      = "Member must be true or false"
	RuleInteger   = "Member must be an integer"
	RuleNumber    = "Member must be a number"
	RuleTimestamp = "Member must be an ISO-8601 timestamp such as 2019-01-01T00:00:00Z"
)

// ValueError is a member sent as a string that is not a value of the
// member's type. Its Error is AWS's validation message for it alone.
type ValueError struct {
	Member string // as the model names it, e.g. "maxResults"
	Value  string // as sent
	Rule   string // "Member must be …"
}

func (e *ValueError) Error() string {
	var v warden.Validator
	e.Report(&v)
	return v.Err().(*warden.Error).Message
}

// Report adds the violation to v, so that it is listed with the request's
// other violations.
func (e *ValueError) Report(v *warden.Validator) { v.Fail(e.Member, e.Value, e.Rule) }

// Report adds err to v when it is a *ValueError and tells whether it was;
// other errors (and nil) are left to the caller.
func Report(v *warden.Validator, err error) bool {
	var e *ValueError
	if errors.As(err, &e) {
		e.Report(v)
		return true
	}
	return false
}

// ParseBool reads a boolean sent as a string: exactly "true" or "false".
// restJson1 accepts no other spelling (Smithy's protocol tests reject
// "TRUE", "True", "1", "yes": smithy-aws-protocol-tests
// malformedRequests/malformed-boolean.smithy), nor does the query protocol.
func ParseBool(member, raw string) (bool, error) {
	switch raw {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, &ValueError{member, raw, RuleBool}
}

// ParseInt reads a decimal integer that fits in bitSize bits.
func ParseInt(member, raw string, bitSize int) (int64, error) {
	n, err := strconv.ParseInt(raw, 10, bitSize)
	if err != nil {
		return 0, &ValueError{member, raw, RuleInteger}
	}
	return n, nil
}

// ParseFloat reads a decimal number (a double or float member).
func ParseFloat(member, raw string) (float64, error) {
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		return 0, &ValueError{member, raw, RuleNumber}
	}
	return f, nil
}

// queryTimeLayouts are the ISO-8601 forms SDKs send in query strings
// (2019-01-01T00:00:00Z, with or without a fraction or an offset), and the
// date alone.
var queryTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"}

// ParseTimestamp reads a timestamp sent in a query string or a header:
// ISO-8601 as restJson1 sends it, or epoch seconds (with a fraction), which
// Warden also accepts. The result is in UTC.
func ParseTimestamp(member, raw string) (time.Time, error) {
	for _, layout := range queryTimeLayouts {
		if t, err := time.Parse(layout, raw); err == nil {
			return t.UTC(), nil
		}
	}
	if f, err := strconv.ParseFloat(raw, 64); err == nil {
		return fromEpochSeconds(f), nil
	}
	return time.Time{}, &ValueError{member, raw, RuleTimestamp}
}

// fromEpochSeconds is the instant f seconds after the epoch, to the
// millisecond, as AWS's timestamps are.
func fromEpochSeconds(f float64) time.Time { return time.UnixMilli(int64(f * 1000)).UTC() }
