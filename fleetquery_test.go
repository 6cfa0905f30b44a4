package warden

import (
	"strings"
	"testing"
	"time"
)

func TestFleetQueryMatch(t *testing.T) {
	bulb := &FleetThing{Name: "LightBulb-42", ID: "0b6c6d3e-0000-4000-8000-000000000001", TypeName: "Bulb",
		Attributes: map[string]string{"color": "Red", "wattage": "75", "serial": "abc-123", "temp": "-3.5", "site": "eu:west:1", "empty": ""}}
	plain := &FleetThing{Name: "sensor:7", Attributes: map[string]string{"wattage": "100", "color": "blue"}}
	tests := []struct {
		query      string
		bulb, plan bool
	}{
		// exact field terms, case-insensitive values
		{"thingName:LightBulb-42", true, false},
		{"thingName:lightbulb-42", true, false},
		{"thingName:LightBulb", false, false},
		{"thingId:0b6c6d3e-0000-4000-8000-000000000001", true, false},
		{"thingTypeName:Bulb", true, false},
		{"thingTypeName:*", true, false},
		{"attributes.color:red", true, false},
		{"attributes.color:RED", true, false},
		{"attributes.color:blue", false, true},
		{"attributes.nope:red", false, false},
		{"attributes.empty:*", true, false},
		// values with ':' (thing names may hold it), escapes and phrases
		{"thingName:sensor:7", false, true},
		{`thingName:sensor\:7`, false, true},
		{`attributes.site:"eu:west:1"`, true, false},
		{`attributes.site:eu:west:*`, true, false},
		{`thingName:"LightBulb*"`, false, false},
		{`thingName:LightBulb\*`, false, false},
		// wildcards: prefix, suffix, infix, single character, match-all
		{"thingName:Light*", true, false},
		{"thingName:*42", true, false},
		{"thingName:*bulb*", true, false},
		{"thingName:L*b*2", true, false},
		{"thingName:LightBulb-4?", true, false},
		{"thingName:LightBulb-?", false, false},
		{"thingName:*", true, true},
		{"*", true, true},
		{"attributes.wattage:*", true, true},
		{"attributes.serial:abc-*", true, false},
		// numeric ranges and comparisons
		{"attributes.wattage:[10 TO 80]", true, false},
		{"attributes.wattage:[75 TO 100]", true, true},
		{"attributes.wattage:{75 TO 100]", false, true},
		{"attributes.wattage:[75 TO 100}", true, false},
		{"attributes.wattage:{75 TO 100}", false, false},
		{"attributes.wattage:[80 TO *]", false, true},
		{"attributes.wattage:[* TO 80]", true, false},
		{"attributes.wattage>75", false, true},
		{"attributes.wattage>=75", true, true},
		{"attributes.wattage<100", true, false},
		{"attributes.wattage<=100", true, true},
		{"attributes.wattage>9", true, true}, // numeric, not "75" < "9" as strings
		{"attributes.temp<0", true, false},
		{"attributes.temp:[-4 TO -3]", true, false},
		{"attributes.temp>-3.6e0", true, false},
		{`attributes.serial>\>`, true, false}, // an escaped '>' is a literal bound
		{"attributes.color>5", false, false},  // numeric bound, non-numeric value
		// string ranges
		{`attributes.serial:["abc-100" TO "abc-200"]`, true, false},
		{"attributes.color:[a TO c]", false, true},
		{"attributes.color:[q TO s]", true, false},
		{"thingName:{sensor TO sensor:9}", false, true},
		// boolean operators and precedence
		{"thingName:LightBulb-42 AND attributes.color:red", true, false},
		{"thingName:LightBulb-42 attributes.color:red", true, false},
		{"thingName:LightBulb-42 && attributes.color:blue", false, false},
		{"attributes.color:red OR attributes.color:blue", true, true},
		{"attributes.color:red || attributes.color:blue", true, true},
		{"NOT attributes.color:red", false, true},
		{"!attributes.color:red", false, true},
		{"-attributes.color:red", false, true},
		{"+attributes.color:red", true, false},
		{"attributes.wattage:* NOT attributes.color:red", false, true},
		{"NOT thingTypeName:*", false, true},
		{"attributes.color:red OR attributes.color:blue AND attributes.wattage:75", true, false},
		{"(attributes.color:red OR attributes.color:blue) AND attributes.wattage:100", false, true},
		{"NOT (attributes.color:red OR attributes.color:blue)", false, false},
		{"NOT(attributes.color:red)", false, true},
		{"((thingName:sensor*))", false, true},
		{"attributes.wattage>50 AND NOT attributes.wattage>90", true, false},
		// field grouping
		{"thingName:(Light* AND -*7)", true, false},
		{"thingName:(sensor* OR lightbulb-42)", true, true},
		{"attributes.wattage:([90 TO 110] OR 75)", true, true},
		{"attributes.color:(NOT red)", false, true},
		// keywords are whole words
		{"thingName:ANDROID OR attributes.color:red", true, false},
		{"thingName:ORbit OR attributes.color:blue", false, true},
	}
	for _, tc := range tests {
		q, err := ParseFleetQuery(tc.query)
		if err != nil {
			t.Errorf("ParseFleetQuery(%q): %v", tc.query, err)
			continue
		}
		if got := q.Match(bulb); got != tc.bulb {
			t.Errorf("%q matches LightBulb-42: got %v, want %v", tc.query, got, tc.bulb)
		}
		if got := q.Match(plain); got != tc.plan {
			t.Errorf("%q matches sensor:7: got %v, want %v", tc.query, got, tc.plan)
		}
		if q.String() != tc.query {
			t.Errorf("String() = %q, want %q", q.String(), tc.query)
		}
	}
}

func TestFleetQueryInvalid(t *testing.T) {
	long := "thingName:*x AND attributes.a:" + strings.Repeat("b", 80)
	tests := []struct {
		query string
		want  string // part of the message
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"abc", "names no field"},
		{"thingName:abc def", "names no field"},
		{"shadow.reported.temp:5", "field 'shadow.reported.temp' is not supported"},
		{"connectivity.connected:true", "not supported"},
		{"thingGroupNames:g1", "not supported"},
		{"attributes.:x", "not supported"},
		{"ThingName:x", "not supported"}, // field names are case-sensitive
		{"thingName:", "missing value"},
		{"thingName: x", "missing value"},
		{"attributes.x>", "missing value"},
		{"attributes.x> 5", "missing value"},
		{"attributes.x>*", "compares with nothing"},
		{"attributes.x>>5", "unexpected '>' in a bound"},
		{"attributes.x<=<5", "unexpected '<' in a bound"},
		{"attributes.x>5=", "unexpected '=' in a bound"},
		{"attributes.x:[1 TO >5]", "unexpected '>' in a bound"},
		{"attributes.x=5", "'=' is not an operator"},
		{"(thingName:x", "missing ')'"},
		{"thingName:x)", "unexpected ')'"},
		{")", "unexpected ')'"},
		{"AND thingName:x", "expected a term before AND"},
		{"thingName:x AND", "query ends"},
		{"thingName:x OR OR thingName:y", "expected a term before OR"},
		{"NOT", "query ends"},
		{"thingName:x AND ()", "unexpected ')'"},
		{"attributes.x:[1 TO 5", "missing ']' or '}'"},
		{"attributes.x:[1 5]", "expected TO"},
		{"attributes.x:[1 to 5]", "expected TO"},
		{"attributes.x:[a* TO b]", "wildcards cannot be used"},
		{"attributes.x:[ TO 5]", "expected TO"},
		{`thingName:"abc`, "unterminated"},
		{`thingName:ab"c`, "unexpected"},
		{`thingName:abc\`, "escapes nothing"},
		{"thingName:*a OR thingName:*b", "at most one is allowed"},
		{long, "at most 100 characters"},
		{strings.TrimSpace(strings.Repeat("thingName:a ", 13)), "13 terms"},
		{strings.Repeat("(", 40) + "thingName:a" + strings.Repeat(")", 40), "nested more than"},
		{strings.Repeat("NOT ", 40) + "thingName:a", "nested more than"},
	}
	for _, tc := range tests {
		_, err := ParseFleetQuery(tc.query)
		if err == nil {
			t.Errorf("ParseFleetQuery(%q): got no error, want one containing %q", tc.query, tc.want)
			continue
		}
		if code := ErrorCode(err); code != CodeInvalidQuery {
			t.Errorf("ParseFleetQuery(%q): got code %s, want %s", tc.query, code, CodeInvalidQuery)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseFleetQuery(%q): got %q, want it to contain %q", tc.query, err.Error(), tc.want)
		}
	}
}

func TestFleetQueryLimits(t *testing.T) {
	twelve := strings.TrimSpace(strings.Repeat("thingName:a ", 12))
	if _, err := ParseFleetQuery(twelve); err != nil {
		t.Errorf("12 terms: got %v, want no error", err)
	}
	one := "thingName:*x"
	if _, err := ParseFleetQuery(one); err != nil {
		t.Errorf("one leading wildcard: got %v, want no error", err)
	}
	nested := strings.Repeat("(", 30) + "thingName:a" + strings.Repeat(")", 30)
	if _, err := ParseFleetQuery(nested); err != nil {
		t.Errorf("30 levels of parentheses: got %v, want no error", err)
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, value string
		want           bool
	}{
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"a*", "a", true},
		{"*", "", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"*a*a*a*", "aaa", true},
		{"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaac", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"??", "äb", true},
		{"", "", true},
		{"", "a", false},
	}
	for _, tc := range tests {
		var p []globElem
		for _, r := range tc.pattern {
			switch r {
			case '*', '?':
				p = append(p, globElem{kind: byte(r)})
			default:
				p = append(p, globElem{r: r})
			}
		}
		if got := compileGlob(p).match(tc.value); got != tc.want {
			t.Errorf("glob %q on %q: got %v, want %v", tc.pattern, tc.value, got, tc.want)
		}
	}
}

func TestParseQueryNumber(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"75", 75, true}, {"-3.5", -3.5, true}, {"+2", 2, true}, {".5", 0.5, true}, {"1e3", 1000, true},
		{"1E-2", 0.01, true}, {"", 0, false}, {"-", 0, false}, {"Inf", 0, false}, {"NaN", 0, false},
		{"0x10", 0, false}, {"1e", 0, false}, {"1.2.3", 0, false}, {"12a", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseQueryNumber(tc.in)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("parseQueryNumber(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMergeAttributes(t *testing.T) {
	stored := map[string]string{"a": "1", "b": "2"}
	tests := []struct {
		name    string
		payload map[string]string
		merge   bool
		want    map[string]string
	}{
		{"nil payload keeps", nil, false, map[string]string{"a": "1", "b": "2"}},
		{"replace", map[string]string{"c": "3"}, false, map[string]string{"c": "3"}},
		{"replace with empty clears", map[string]string{}, false, map[string]string{}},
		{"merge adds and overwrites", map[string]string{"b": "20", "c": "3"}, true, map[string]string{"a": "1", "b": "20", "c": "3"}},
		{"merge empty value removes", map[string]string{"a": ""}, true, map[string]string{"b": "2"}},
		{"replace drops empty values", map[string]string{"a": "", "d": "4"}, false, map[string]string{"d": "4"}},
	}
	for _, tc := range tests {
		got := MergeAttributes(stored, tc.payload, tc.merge)
		if !EqualAttributes(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if stored["a"] != "1" || len(stored) != 2 {
		t.Errorf("MergeAttributes changed its input: %v", stored)
	}
}

func TestValidateAttributes(t *testing.T) {
	var v Validator
	ValidateAttributes(&v, "attributePayload.attributes", map[string]string{
		"ok": "fine", "bad key": "x", "v": "has space", "long": strings.Repeat("x", 801), "": "empty name",
	})
	err := v.Err()
	if err == nil {
		t.Fatal("got no error for bad attributes")
	}
	for _, want := range []string{"5 validation errors", "Value 'bad key' at 'attributePayload.attributes'",
		"at 'attributePayload.attributes.v'", "at 'attributePayload.attributes.long' failed to satisfy constraint: Member must have length less than or equal to 800",
		"Value '' at 'attributePayload.attributes'"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to contain %q", err.Error(), want)
		}
	}
}

// TestFleetQueryWildcardCost is the matching half of issue 14 #5: a
// 956-character wildcard query over things with 800-character attributes
// took 0.7 ms a thing (7 s over 10,000 things) with the old two-pointer
// matcher; now it costs about what a benign query of the same size costs.
func TestFleetQueryWildcardCost(t *testing.T) {
	thing := &FleetThing{Name: "t", Attributes: map[string]string{}}
	for _, a := range []string{"a", "b", "c"} {
		thing.Attributes[a] = strings.Repeat("a", 800)
	}
	hostile := hostileFleetQuery()
	benign := strings.ReplaceAll(hostile, "?", "b")
	run := func(query string) time.Duration {
		q, err := ParseFleetQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for range 1000 {
			if q.Match(thing) {
				t.Fatalf("%.30q… matched", query)
			}
		}
		return time.Since(start)
	}
	h, b := time.Duration(1<<62), time.Duration(1<<62)
	for range 3 {
		b = min(b, run(benign))
		h = min(h, run(hostile))
	}
	t.Logf("1,000 things: hostile query %v, benign %v", h, b)
	if limit := 5*raceSlowdown*b + 20*time.Millisecond; h > limit {
		t.Fatalf("the hostile query took %v over 1,000 things, a benign one %v: want at most %v", h, b, limit)
	}
}

// hostileFleetQuery is the 959-character query of the attack: each term is
// a star followed by a long run of ?, which cost the old matcher
// O(value × pattern) on long values that almost match.
func hostileFleetQuery() string {
	var terms []string
	for _, a := range []string{"a", "b", "c"} {
		terms = append(terms, "attributes."+a+":a*"+strings.Repeat("?", 300)+"b")
	}
	return strings.Join(terms, " OR ")
}
