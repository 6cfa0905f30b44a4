package warden

import (
	"strings"
	"testing"
	"time"
)

// referenceWildcard is the textbook dynamic-programming matcher, O(n·m):
// obviously right, for comparing on small inputs. p holds runes, anyRune
// for ? and starRune for *.
func referenceWildcard(p, s []rune) bool {
	// ok[j]: p[:i] matches s[:j].
	ok := make([]bool, len(s)+1)
	ok[0] = true
	for _, c := range p {
		next := make([]bool, len(s)+1)
		if c == starRune {
			seen := false
			for j := range ok {
				seen = seen || ok[j]
				next[j] = seen
			}
		} else {
			for j := 1; j <= len(s); j++ {
				next[j] = ok[j-1] && (c == anyRune || c == s[j-1])
			}
		}
		ok = next
	}
	return ok[len(s)]
}

// starRune and anyRune are * and ? in a pattern for referenceWildcard.
const (
	starRune rune = -2
	anyRune  rune = -1
)

// policyRunes is a policy pattern as referenceWildcard takes it.
func policyRunes(pattern string) []rune {
	var out []rune
	for _, r := range pattern {
		switch r {
		case '*':
			out = append(out, starRune)
		case '?':
			out = append(out, anyRune)
		default:
			out = append(out, r)
		}
	}
	return out
}

func TestWildcardAgainstReference(t *testing.T) {
	patterns := []string{"", "*", "**", "?", "a", "a*", "*a", "*a*", "a*b", "a?b", "*?*", "??*", "*??",
		"*a*a*a*b", "a*a", "*ab*ba*", "?*?*?", "ä?*ö", "*\uFFFD*", "*" + strings.Repeat("?", 70) + "*x*",
		// Middle segments with ? inside: the bit-parallel search, one word and several.
		"*a?b*", "*?a?*", "*b?a*", "a*??b??*", "*?ä?ö*", "*a" + strings.Repeat("?a", 40) + "*", "*b" + strings.Repeat("?b", 40) + "?*",
		"*a" + strings.Repeat("?", 70) + "x*", "*a?a*a?b*"}
	values := []string{"", "a", "b", "ab", "aab", "aba", "abba", "aaaa", "aaab", "äxö", "äö", "\xff", "a\xffb",
		strings.Repeat("a", 80) + "x" + strings.Repeat("a", 5), strings.Repeat("ab", 40), strings.Repeat("ab", 60),
		strings.Repeat("b", 90), "xaxbyyb", "äxäöö", "aaab", "aabaab", strings.Repeat("a", 100) + "x"}
	for _, p := range patterns {
		var w wildcard
		compileWildcardString(&w, p)
		for _, v := range values {
			want := referenceWildcard(policyRunes(p), []rune(v))
			if got := w.match(v); got != want {
				t.Errorf("%q on %q: got %v, want %v", p, v, got, want)
			}
			if got := WildcardMatch(p, v, false); got != want {
				t.Errorf("WildcardMatch(%q, %q): got %v, want %v", p, v, got, want)
			}
		}
	}
}

// TestWildcardLinear checks the matcher's cost on the patterns that made
// the old two-pointer matcher quadratic (issue 14 #5 and #6): a star and a
// long run of ?, or many stars, against a long value that almost matches.
// The steps are counted, not timed: at most a few per character of value
// and pattern, times the words of the longest segment.
func TestWildcardLinear(t *testing.T) {
	value := strings.Repeat("a", 800)
	tests := []string{
		"*" + strings.Repeat("?", 600) + "b",
		"*" + strings.Repeat("a*", 470) + "b",
		"*" + strings.Repeat("?a", 300) + "*b",
		"a*" + strings.Repeat("?", 900) + "*b*",
		strings.Repeat("*a?", 300) + "*b",
	}
	for _, p := range tests {
		var w wildcard
		compileWildcardString(&w, p)
		ok, steps := w.matchSteps(value)
		if ok {
			t.Fatalf("%.20q… matched", p)
		}
		words := (len(p) + 63) / 64
		if limit := 4 * (len(value) + len(p)) * words; steps > limit {
			t.Errorf("%.20q… (%d characters) took %d steps on %d characters; want at most %d", p, len(p), steps, len(value), limit)
		}
	}
}

// FuzzPolicyWildcard compares the policy matcher with the reference on small
// inputs, with and without case folding.
func FuzzPolicyWildcard(f *testing.F) {
	for _, seed := range [][2]string{{"*a*a*b", "aaaaab"}, {"a?c", "abc"}, {"*", ""}, {"iot:*", "IOT:Publish"},
		{"arn:aws:iot:*:*:topic/?*", "arn:aws:iot:us-east-1:1:topic/x"}, {"*\xff?", "\xfe\xff"}, {"?ä*", "ÄÄ"}} {
		f.Add(seed[0], seed[1], false)
		f.Add(seed[0], seed[1], true)
	}
	f.Fuzz(func(t *testing.T, pattern, s string, fold bool) {
		if len(pattern) > 200 || len(s) > 200 {
			return
		}
		got := WildcardMatch(pattern, s, fold)
		p, v := pattern, s
		if fold {
			p, v = strings.ToLower(p), strings.ToLower(v)
		}
		if want := referenceWildcard(policyRunes(p), []rune(v)); got != want {
			t.Fatalf("WildcardMatch(%q, %q, %v) = %v, reference %v", pattern, s, fold, got, want)
		}
	})
}

// FuzzFleetQuery parses any query and evaluates it against a thing: no
// panic, no input taking more than a second, and every wildcard term
// matching as the reference matcher does.
func FuzzFleetQuery(f *testing.F) {
	for _, seed := range []string{"thingName:a*", "attributes.color:(red OR blue) AND -thingTypeName:x",
		"thingName:*x", "attributes.n:[1 TO 5}", "attributes.n>=2.5e1", "thingName:\"a b\" || thingId:?b\\*",
		"((thingName:a))", "*", "attributes.a:a*a*a*a?b", "NOT thingName:x", "thingName:\\"} {
		f.Add(seed, "thing-1", "aaaa")
	}
	f.Fuzz(func(t *testing.T, query, name, value string) {
		start := time.Now()
		q, err := ParseFleetQuery(query)
		if err != nil {
			if ErrorCode(err) != CodeInvalidQuery {
				t.Fatalf("ParseFleetQuery(%q): error %v is not an %s", query, err, CodeInvalidQuery)
			}
			return
		}
		thing := &FleetThing{Name: name, ID: value, TypeName: value,
			Attributes: map[string]string{"a": value, "color": value, "n": value}}
		q.Match(thing)
		checkGlobs(t, q.root, thing)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("query %q took %v", query, d)
		}
	})
}

// checkGlobs compares every wildcard term of a query with the reference.
func checkGlobs(t *testing.T, n queryNode, thing *FleetThing) {
	switch n := n.(type) {
	case andNode:
		for _, c := range n {
			checkGlobs(t, c, thing)
		}
	case orNode:
		for _, c := range n {
			checkGlobs(t, c, thing)
		}
	case notNode:
		checkGlobs(t, n.n, thing)
	case globNode:
		v, ok := thing.fieldValue(n.field)
		if !ok {
			return
		}
		var p []rune
		for _, e := range n.pattern {
			switch e.kind {
			case '*':
				p = append(p, starRune)
			case '?':
				p = append(p, anyRune)
			default:
				p = append(p, e.r)
			}
		}
		v = strings.ToLower(v)
		if got, want := n.glob.match(v), referenceWildcard(p, []rune(v)); got != want {
			t.Fatalf("term %s on %q: got %v, reference %v", string(p), v, got, want)
		}
	}
}
