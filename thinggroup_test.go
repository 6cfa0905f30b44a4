package warden

import (
	"fmt"
	"slices"
	"testing"
)

func TestJoinStaticGroup(t *testing.T) {
	static := func(name, root string) GroupMembership { return GroupMembership{Group: name, Root: root} }
	dynamic := func(name string, seq int64) GroupMembership {
		return GroupMembership{Group: name, Dynamic: true, Root: name, Seq: seq}
	}
	full := func(dyn ...GroupMembership) []GroupMembership {
		out := slices.Clone(dyn)
		for i := len(out); i < MaxGroupsPerThing; i++ {
			out = append(out, static(fmt.Sprintf("s%d", i), fmt.Sprintf("s%d", i)))
		}
		return out
	}
	target := static("quarantine", "quarantine")
	tests := []struct {
		name     string
		current  []GroupMembership
		g        GroupMembership
		override bool
		member   bool
		evict    string
		wantErr  bool
	}{
		{name: "joins", current: []GroupMembership{static("a", "a")}, g: target},
		{name: "already member", current: []GroupMembership{target}, g: target, member: true},
		{name: "dynamic target", g: dynamic("d", 1), wantErr: true},
		{name: "same hierarchy", current: []GroupMembership{static("child", "quarantine")}, g: target, wantErr: true},
		{name: "dynamic member of the hierarchy is no conflict", current: []GroupMembership{{Group: "x", Dynamic: true, Root: "quarantine"}}, g: target},
		{name: "full without dynamic", current: full(), g: target, wantErr: true},
		{name: "full without override", current: full(dynamic("d1", 1)), g: target, wantErr: true},
		{name: "full with override leaves the newest dynamic", current: full(dynamic("d1", 1), dynamic("d2", 7), dynamic("d3", 3)),
			g: target, override: true, evict: "d2"},
	}
	for _, tt := range tests {
		member, evict, err := JoinStaticGroup("t", tt.current, tt.g, tt.override)
		if (err != nil) != tt.wantErr || member != tt.member || evict != tt.evict {
			t.Errorf("%s: member=%v evict=%q err=%v", tt.name, member, evict, err)
		}
		if err != nil && ErrorCode(err) != CodeInvalidRequest {
			t.Errorf("%s: code %s", tt.name, ErrorCode(err))
		}
	}
}

func TestSyncDynamicGroups(t *testing.T) {
	thing := &FleetThing{Name: "t1", Attributes: map[string]string{"color": "red"}}
	groups := []DynamicGroup{
		{Name: "red", Query: "attributes.color:red"},
		{Name: "blue", Query: "attributes.color:blue"},
		{Name: "all", Query: "*"},
	}
	leave, join, err := SyncDynamicGroups(thing, groups, []string{"blue", "static"})
	if err != nil || !slices.Equal(leave, []string{"blue"}) || !slices.Equal(join, []string{"red", "all"}) {
		t.Fatalf("leave=%v join=%v err=%v", leave, join, err)
	}
	// One slot left after leaving blue: only the first matching group joins.
	current := []string{"blue"}
	for i := len(current); i < MaxGroupsPerThing; i++ {
		current = append(current, fmt.Sprintf("s%d", i))
	}
	if leave, join, _ = SyncDynamicGroups(thing, groups, current); !slices.Equal(leave, []string{"blue"}) || !slices.Equal(join, []string{"red"}) {
		t.Errorf("full thing: leave=%v join=%v", leave, join)
	}
	if _, _, err := SyncDynamicGroups(thing, []DynamicGroup{{Name: "bad", Query: "attributes.x:("}}, nil); err == nil {
		t.Error("a stored query that does not parse is no error")
	}
}

func TestDynamicFillChanges(t *testing.T) {
	want := map[string]bool{"a": true, "b": false, "c": true, "d": true}
	leave, join := DynamicFillChanges(want, []string{"a", "b", "x"}, map[string]bool{"d": true})
	if !slices.Equal(leave, []string{"b", "x"}) || !slices.Equal(join, []string{"c"}) {
		t.Errorf("leave=%v join=%v", leave, join)
	}
	if leave, join := DynamicFillChanges(map[string]bool{"a": true, "b": false}, []string{"a"}, nil); leave != nil || join != nil {
		t.Errorf("no change: leave=%v join=%v", leave, join)
	}
}

func TestCachedFleetQuery(t *testing.T) {
	a, err := CachedFleetQuery("thingName:t*")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := CachedFleetQuery("thingName:t*"); a != b {
		t.Error("the same text parsed twice")
	}
	if _, err := CachedFleetQuery(""); ErrorCode(err) != CodeInvalidQuery {
		t.Errorf("empty query: %v", err)
	}
}
