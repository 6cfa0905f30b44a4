package warden

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Thing group membership rules. The store reads the facts (a thing's
// groups, a page of things, a group's members) and writes what these
// functions decide.

// GroupMembership is a thing group as the membership rules see it: a group
// a thing is in, or one it is to join.
type GroupMembership struct {
	Group   string
	Dynamic bool
	// Root is the root of the group's hierarchy.
	Root string
	// Seq is the group's creation order.
	Seq int64
}

// JoinStaticGroup decides whether thing, in the groups current, may join
// the static group g: member when it is in g already (nothing to do), evict
// the dynamic group it must leave first ("" none), or a *Error: g is
// dynamic, the thing is in another group of g's hierarchy, or it is in
// MaxGroupsPerThing groups and none of them may give way (a dynamic one
// gives way only when override is set).
func JoinStaticGroup(thing string, current []GroupMembership, g GroupMembership, override bool) (member bool, evict string, err error) {
	if g.Dynamic {
		return false, "", Errorf(CodeInvalidRequest,
			"Cannot add thing %s to dynamic thing group %s: its query decides its members.", thing, g.Group)
	}
	var newestDynamic *GroupMembership
	for i := range current {
		m := &current[i]
		if m.Group == g.Group {
			return true, "", nil
		}
		if !m.Dynamic && m.Root == g.Root {
			return false, "", Errorf(CodeInvalidRequest,
				"Thing %s is already in thing group %s, which is in the same hierarchy (root %s) as %s; a thing can be in only one group of a hierarchy.",
				thing, m.Group, g.Root, g.Group)
		}
		if m.Dynamic && (newestDynamic == nil || m.Seq > newestDynamic.Seq) {
			newestDynamic = m
		}
	}
	if len(current) < MaxGroupsPerThing {
		return false, "", nil
	}
	switch {
	case newestDynamic == nil:
		return false, "", Errorf(CodeInvalidRequest,
			"Thing %s is already in %d thing groups, the maximum, and none of them is dynamic; remove it from one first.",
			thing, len(current))
	case !override:
		return false, "", Errorf(CodeInvalidRequest,
			"Thing %s is already in %d thing groups, the maximum; set overrideDynamicGroups to move it out of its most recently created dynamic group (%s).",
			thing, len(current), newestDynamic.Group)
	}
	return false, newestDynamic.Group, nil
}

// GroupChange is one membership change of a plan: Thing joins the static
// group Group, or (Leave) leaves the dynamic group Group to make room.
type GroupChange struct {
	Thing, Group string
	Leave        bool
}

// PlanStaticJoins decides adding each of things to each of groups, in that
// order, as AddThingToThingGroup called once for each would: in holds the
// groups of every existing thing (by name), facts every existing group.
// It returns the changes in order and the groups each thing is in after
// them, or the first error (a missing thing or group, or JoinStaticGroup's).
func PlanStaticJoins(things, groups []string, in map[string][]GroupMembership, facts map[string]GroupMembership, override bool) ([]GroupChange, map[string][]GroupMembership, error) {
	var changes []GroupChange
	after := make(map[string][]GroupMembership, len(things))
	for _, thing := range things {
		current, ok := in[thing]
		if !ok {
			return nil, nil, ErrThingNotFound(thing)
		}
		current = slices.Clone(current)
		for _, group := range groups {
			g, ok := facts[group]
			if !ok {
				return nil, nil, NotFound("Thing group", group)
			}
			member, evict, err := JoinStaticGroup(thing, current, g, override)
			if err != nil {
				return nil, nil, err
			}
			if member {
				continue
			}
			if evict != "" {
				changes = append(changes, GroupChange{thing, evict, true})
				current = slices.DeleteFunc(current, func(m GroupMembership) bool { return m.Group == evict })
			}
			changes = append(changes, GroupChange{Thing: thing, Group: group})
			current = append(current, GroupMembership{Group: group, Root: g.Root, Seq: g.Seq})
			slices.SortFunc(current, func(x, y GroupMembership) int { return strings.Compare(x.Group, y.Group) })
		}
		after[thing] = current
	}
	return changes, after, nil
}

// DynamicGroup is a dynamic thing group's name and query.
type DynamicGroup struct {
	Name, Query string
}

// SyncDynamicGroups decides which of the dynamic groups thing t leaves and
// joins, given the names of the groups it is in (static and dynamic).
// Leaving comes first, so a slot freed by one query can be taken by
// another; a thing in MaxGroupsPerThing groups joins no more.
func SyncDynamicGroups(t *FleetThing, groups []DynamicGroup, current []string) (leave, join []string, err error) {
	in := make(map[string]bool, len(current))
	for _, g := range current {
		in[g] = true
	}
	count := len(current)
	for _, g := range groups {
		q, err := CachedFleetQuery(g.Query)
		if err != nil {
			return nil, nil, fmt.Errorf("stored query of dynamic thing group %s: %w", g.Name, err)
		}
		switch match := q.Match(t); {
		case match && !in[g.Name]:
			join = append(join, g.Name)
		case !match && in[g.Name]:
			leave = append(leave, g.Name)
			count--
		}
	}
	if room := max(MaxGroupsPerThing-count, 0); len(join) > room {
		join = join[:room]
	}
	return leave, join, nil
}

// DynamicFillChanges decides one page of a dynamic group's fill: want says,
// for the things of the page's range of names, whether they match the
// group's query; members are the group's members in that range, and full
// the things already in MaxGroupsPerThing groups (nil: none). Members that
// do not match leave; matching things that are not members and not full
// join, in name order.
func DynamicFillChanges(want map[string]bool, members []string, full map[string]bool) (leave, join []string) {
	isMember := make(map[string]bool, len(members))
	for _, n := range members {
		isMember[n] = true
		if !want[n] {
			leave = append(leave, n)
		}
	}
	for n, ok := range want {
		if ok && !isMember[n] && !full[n] {
			join = append(join, n)
		}
	}
	sort.Strings(join)
	return leave, join
}

// fleetQueryCache keeps parsed dynamic group queries, which every change of
// a thing evaluates. A FleetQuery is immutable, so one serves every
// goroutine. The cache is emptied when it is full, which bounds its memory
// without bookkeeping; a miss only costs a parse.
var fleetQueryCache struct {
	mu      sync.Mutex
	queries map[string]*FleetQuery
}

const fleetQueryCacheSize = 4096

// CachedFleetQuery is ParseFleetQuery with the parsed queries kept for the
// next call with the same text.
func CachedFleetQuery(text string) (*FleetQuery, error) {
	c := &fleetQueryCache
	c.mu.Lock()
	q, ok := c.queries[text]
	c.mu.Unlock()
	if ok {
		return q, nil
	}
	q, err := ParseFleetQuery(text)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.queries == nil || len(c.queries) >= fleetQueryCacheSize {
		c.queries = make(map[string]*FleetQuery)
	}
	c.queries[text] = q
	c.mu.Unlock()
	return q, nil
}
