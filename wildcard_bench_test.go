package warden

import (
	"strings"
	"testing"
)

// The matcher on the attack's shapes (issue 14 #5, #6) and on ordinary ones:
//
//	go test -run '^$' -bench 'WildcardMatch|FleetQueryMatch' .
func BenchmarkWildcardMatch(b *testing.B) {
	value := strings.Repeat("a", 800)
	cases := []struct{ name, pattern, value string }{
		{"hostile-star-600-any", "*" + strings.Repeat("?", 600) + "b", value},
		{"benign-star-600-literal", "*" + strings.Repeat("c", 600) + "b", value},
		{"hostile-middle-300-any", "a*" + strings.Repeat("?", 300) + "b*", value},
		{"hostile-middle-60-any", "a*" + strings.Repeat("?", 60) + "b*", value},
		{"hostile-middle-alternating", "a*" + strings.Repeat("?b", 150) + "*", value},
		{"policy-resource", "arn:aws:iot:*:*:topic/building/*/temp", "arn:aws:iot:us-east-1:123456789012:topic/building/b7/temp"},
		{"policy-action", "iot:*", "iot:Publish"},
		{"exact", "iot:Publish", "iot:Publish"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				WildcardMatch(c.pattern, c.value, false)
			}
		})
	}
}

func BenchmarkFleetQueryMatch(b *testing.B) {
	thing := &FleetThing{Name: "t", Attributes: map[string]string{}}
	for _, a := range []string{"a", "b", "c"} {
		thing.Attributes[a] = strings.Repeat("a", 800)
	}
	var terms []string
	for _, a := range []string{"a", "b", "c"} {
		terms = append(terms, "attributes."+a+":a*"+strings.Repeat("?", 300)+"b")
	}
	hostile := strings.Join(terms, " OR ")
	for _, c := range []struct{ name, query string }{
		{"hostile-959", hostile},
		{"benign-959", strings.ReplaceAll(hostile, "?", "b")},
		// The ? run between two stars: the bit-parallel search, not the
		// anchored end.
		{"hostile-962-middle", strings.ReplaceAll(hostile, "b OR", "b* OR") + "*"},
		{"simple", "attributes.a:a* AND thingName:t"},
	} {
		q, err := ParseFleetQuery(c.query)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				q.Match(thing)
			}
		})
	}
}
