package warden

import (
	"fmt"
	"testing"
)

// TestBulkCheckMemberships: a batch's memberships follow
// AddThingToThingGroup's rules.
func TestBulkCheckMemberships(t *testing.T) {
	groups := map[string]GroupMembership{
		"a": {Group: "a", Root: "a"}, "a-child": {Group: "a-child", Root: "a"}, "dyn": {Group: "dyn", Root: "dyn", Dynamic: true}}
	var many []BulkMembership
	for i := range MaxGroupsPerThing + 1 {
		name := fmt.Sprintf("g%d", i)
		groups[name] = GroupMembership{Group: name, Root: name}
		many = append(many, BulkMembership{Thing: "t", Group: name})
	}
	for _, tc := range []struct {
		name string
		m    []BulkMembership
		ok   bool
	}{
		{"two hierarchies", []BulkMembership{{"t", "a"}, {"t", "g0"}}, true},
		{"same hierarchy", []BulkMembership{{"t", "a"}, {"t", "a-child"}}, false},
		{"twice", []BulkMembership{{"t", "a"}, {"t", "a"}}, false},
		{"dynamic", []BulkMembership{{"t", "dyn"}}, false},
		{"missing", []BulkMembership{{"t", "nope"}}, false},
		{"the maximum", many[:MaxGroupsPerThing], true},
		{"past the maximum", many, false},
	} {
		err := (&BulkBatch{Memberships: tc.m}).CheckMemberships(groups)
		if (err == nil) != tc.ok || err != nil && ErrorCode(err) != CodeInvalidRequest {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestBulkCheckPrincipals: an exclusive attachment is a certificate's only
// one, in either order.
func TestBulkCheckPrincipals(t *testing.T) {
	n := &BulkNames{Things: map[string]bool{"a": true, "b": true}, Certificates: map[string]bool{"c": true}}
	for _, tc := range []struct {
		name string
		p    []BulkPrincipal
		ok   bool
	}{
		{"two non-exclusive", []BulkPrincipal{{"a", "c", ""}, {"b", "c", ""}}, true},
		{"exclusive first", []BulkPrincipal{{"a", "c", PrincipalExclusive}, {"b", "c", ""}}, false},
		{"exclusive second", []BulkPrincipal{{"a", "c", ""}, {"b", "c", PrincipalExclusive}}, false},
		{"twice", []BulkPrincipal{{"a", "c", ""}, {"a", "c", PrincipalExclusive}}, false},
		{"unknown type", []BulkPrincipal{{"a", "c", "X"}}, false},
	} {
		if err := (&BulkBatch{Principals: tc.p}).checkPrincipals(n); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
