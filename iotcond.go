package warden

import (
	"net/netip"
	"strconv"
	"strings"
)

// conditions reports whether every condition of a statement holds: each
// operator's, each key's (IAM's AND of operators and keys, OR of one key's
// values). All are evaluated, so that the missing keys recorded do not
// depend on map order.
func (ev *iotEval) conditions(cond map[string]map[string][]string) bool {
	all := true
	for op, keys := range cond {
		for key, values := range keys {
			if !ev.condition(op, key, values) {
				all = false
			}
		}
	}
	return all
}

// Set qualifiers of condition operators.
const (
	forAllValues = "ForAllValues:"
	forAnyValue  = "ForAnyValue:"
)

// condition evaluates one operator on one key. Operators: String(Not)Equals,
// String(Not)EqualsIgnoreCase, String(Not)Like, Numeric(Not)Equals,
// NumericLessThan(Equals), NumericGreaterThan(Equals), Bool, Null,
// (Not)IpAddress, Arn(Not)Equals, Arn(Not)Like, each with an IfExists
// suffix (except Null) and a ForAllValues:/ForAnyValue: prefix. An unknown
// operator never holds. A key the context lacks fails the condition (and is
// recorded) except under Null and IfExists; unlike IAM, ForAllValues on a
// missing key fails too.
func (ev *iotEval) condition(op, key string, values []string) bool {
	set := ""
	switch {
	case hasPrefixFold(op, forAllValues):
		set, op = forAllValues, op[len(forAllValues):]
	case hasPrefixFold(op, forAnyValue):
		set, op = forAnyValue, op[len(forAnyValue):]
	}
	one, many, multi, ok := ev.contextValue(key)
	if strings.EqualFold(op, "Null") {
		if set != "" || len(values) != 1 {
			return false
		}
		present := ok && (!multi || len(many) > 0)
		switch strings.ToLower(values[0]) {
		case "true":
			return !present
		case "false":
			return present
		}
		return false
	}
	ifExists := false
	if len(op) > len("IfExists") && strings.EqualFold(op[len(op)-len("IfExists"):], "IfExists") {
		ifExists, op = true, op[:len(op)-len("IfExists")]
	}
	base, negated, known := iotConditionOperator(op)
	if !known {
		return false
	}
	if !ok {
		if ifExists {
			return true
		}
		ev.missing = append(ev.missing, key)
		return false
	}
	// Resolve the condition's values once.
	var stack [4]string
	resolved := stack[:0]
	for _, v := range values {
		if strings.IndexByte(v, '$') < 0 {
			resolved = append(resolved, v)
			continue
		}
		x, escaped, ok := ev.expand(v, base == "like")
		if !ok {
			return false
		}
		if escaped {
			// Only Like patterns are escaped; mark the value so that match
			// compiles it with the escaped wildcards.
			x = iotEscapedMark + x
		}
		resolved = append(resolved, x)
	}
	holds := func(ctxValue string) bool {
		m := false
		for _, v := range resolved {
			if iotConditionMatch(base, ctxValue, v) {
				m = true
				break
			}
		}
		return m != negated
	}
	if !multi {
		return holds(one) // with a set qualifier, a set of one
	}
	switch set {
	case forAllValues:
		for _, v := range many {
			if !holds(v) {
				return false
			}
		}
		return true
	default: // ForAnyValue, and a plain operator on a set
		for _, v := range many {
			if holds(v) {
				return true
			}
		}
		return false
	}
}

// iotEscapedMark starts a condition value whose wildcards are escaped (see
// expand); it is a byte that never occurs in valid UTF-8.
const iotEscapedMark = "\xfd"

// iotConditionOperator splits an operator (without set qualifier and
// IfExists) into its comparison and whether it is negated.
func iotConditionOperator(op string) (base string, negated, known bool) {
	switch strings.ToLower(op) {
	case "stringequals":
		return "equals", false, true
	case "stringnotequals":
		return "equals", true, true
	case "stringequalsignorecase":
		return "equalsfold", false, true
	case "stringnotequalsignorecase":
		return "equalsfold", true, true
	case "stringlike":
		return "like", false, true
	case "stringnotlike":
		return "like", true, true
	case "arnequals", "arnlike":
		return "like", false, true
	case "arnnotequals", "arnnotlike":
		return "like", true, true
	case "bool":
		return "bool", false, true
	case "ipaddress":
		return "ip", false, true
	case "notipaddress":
		return "ip", true, true
	case "numericequals":
		return "num=", false, true
	case "numericnotequals":
		return "num=", true, true
	case "numericlessthan":
		return "num<", false, true
	case "numericlessthanequals":
		return "num<=", false, true
	case "numericgreaterthan":
		return "num>", false, true
	case "numericgreaterthanequals":
		return "num>=", false, true
	}
	return "", false, false
}

// iotConditionMatch compares a context value with one condition value.
func iotConditionMatch(base, ctxValue, condValue string) bool {
	switch base {
	case "equals":
		return ctxValue == condValue
	case "equalsfold":
		return strings.EqualFold(ctxValue, condValue)
	case "like":
		if strings.HasPrefix(condValue, iotEscapedMark) {
			return iotPatternMatch(condValue[len(iotEscapedMark):], true, ctxValue)
		}
		return WildcardMatch(condValue, ctxValue, false)
	case "bool":
		return strings.EqualFold(ctxValue, condValue) && (strings.EqualFold(condValue, "true") || strings.EqualFold(condValue, "false"))
	case "ip":
		addr, err := netip.ParseAddr(ctxValue)
		if err != nil {
			return false
		}
		addr = addr.Unmap()
		if p, err := netip.ParsePrefix(condValue); err == nil {
			return p.Masked().Contains(addr)
		}
		if a, err := netip.ParseAddr(condValue); err == nil {
			return a.Unmap() == addr
		}
		return false
	}
	// Numeric comparisons.
	x, err1 := strconv.ParseFloat(ctxValue, 64)
	y, err2 := strconv.ParseFloat(condValue, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	switch base {
	case "num=":
		return x == y
	case "num<":
		return x < y
	case "num<=":
		return x <= y
	case "num>":
		return x > y
	case "num>=":
		return x >= y
	}
	return false
}
