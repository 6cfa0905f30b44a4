package warden

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Registry limits of things and thing groups (AWS IoT quotas and the
// AWS IoT developer guide).
const (
	// MaxGroupsPerThing is how many thing groups, static and dynamic, one
	// thing can be in.
	MaxGroupsPerThing = 10
	// MaxThingGroupDepth is the most levels a thing group hierarchy can have.
	MaxThingGroupDepth = 7
	// MaxDynamicThingGroups is the per-account quota of dynamic thing groups.
	MaxDynamicThingGroups = 100
	// MaxUntypedThingAttributes is how many attributes a thing without a
	// thing type can have; MaxTypedThingAttributes with one.
	MaxUntypedThingAttributes = 3
	MaxTypedThingAttributes   = 50
	// MaxThingGroupAttributes is how many attributes a thing group can have.
	MaxThingGroupAttributes = 50
	// MaxQueryStringLength is the longest dynamic group query AWS accepts
	// (the CloudFormation resource documents 1000; the API model has no max).
	MaxQueryStringLength = 1000
)

// Fleet index and dynamic group constants.
const (
	DefaultIndexName    = "AWS_Things"
	DefaultQueryVersion = "2017-09-30"
	// DynamicGroupActive is the status of a dynamic group whose membership
	// is up to date.
	DynamicGroupActive = "ACTIVE"
	// DynamicGroupBuilding and DynamicGroupRebuilding are the status of a
	// dynamic group while the members of a new query are computed over the
	// existing things (see sqlstore's fillDynamicGroup). A thing created or
	// changed meanwhile joins or leaves the group at once.
	DynamicGroupBuilding   = "BUILDING"
	DynamicGroupRebuilding = "REBUILDING"
)

// Thing is a registry thing.
type Thing struct {
	Name string
	ID   string
	// TypeName is the thing type's name, "" for none. Warden has no thing
	// types yet, so it is a plain label.
	TypeName         string
	Attributes       map[string]string
	Version          int64
	CreationDate     time.Time
	LastModifiedDate time.Time
}

// ARN is the thing's ARN in scope s.
func (t *Thing) ARN(s Scope) string { return ThingARN(s, t.Name) }

// ThingARN is the ARN of thing name in scope s.
func ThingARN(s Scope, name string) string { return s.IoTARN("thing/" + name) }

// ThingGroupARN is the ARN of thing group name (static or dynamic) in scope s.
func ThingGroupARN(s Scope, name string) string { return s.IoTARN("thinggroup/" + name) }

// Fleet is what the fleet index sees of the thing.
func (t *Thing) Fleet() *FleetThing {
	return &FleetThing{Name: t.Name, ID: t.ID, TypeName: t.TypeName, Attributes: t.Attributes}
}

// ThingUpdate is an UpdateThing request. Nil members keep what is stored.
type ThingUpdate struct {
	TypeName        *string
	RemoveThingType bool
	// Attributes replaces the attributes, or with Merge adds and overwrites
	// them; in both cases an empty value removes the attribute.
	Attributes      map[string]string
	Merge           bool
	ExpectedVersion *int64
}

// Check refuses an update that both sets and removes the thing type.
func (u *ThingUpdate) Check() error {
	if u.RemoveThingType && u.TypeName != nil {
		var v Validator
		v.Problem("thingTypeName and removeThingType cannot both be set: a thing either gets a type or loses it")
		return v.Err()
	}
	return nil
}

// ThingFilter selects things in ListThings.
type ThingFilter struct {
	// AttributeName alone selects things that have the attribute; with
	// AttributeValue, those whose value equals it (or starts with it when
	// UsePrefix is set).
	AttributeName  string
	AttributeValue *string
	UsePrefix      bool
	TypeName       string
}

// Check refuses a value to match without the attribute to match it in.
func (f *ThingFilter) Check() error {
	if f.AttributeValue != nil && f.AttributeName == "" {
		var v Validator
		v.Problem("attributeValue needs attributeName: name the attribute whose value to match")
		return v.Err()
	}
	return nil
}

// ThingGroup is a static or dynamic thing group.
type ThingGroup struct {
	Name string
	ID   string
	// ParentName is "" for a root group; dynamic groups have no parent.
	ParentName string
	// RootToParent lists the ancestors, root first, parent last.
	RootToParent     []string
	Description      string
	Attributes       map[string]string
	Version          int64
	CreationDate     time.Time
	LastModifiedDate time.Time
	// Query is set for dynamic groups only.
	Query *DynamicGroupQuery
}

// ARN is the group's ARN in scope s.
func (g *ThingGroup) ARN(s Scope) string { return ThingGroupARN(s, g.Name) }

// CheckExpectedVersion fails with VersionConflict when a request expects
// (expected not nil) a version of kind name other than actual.
func CheckExpectedVersion(kind, name string, expected *int64, actual int64) error {
	if expected != nil && *expected != actual {
		return Errorf(CodeVersionConflict, "The expected version %d of %s %s does not match its current version %d.", *expected, kind, name, actual)
	}
	return nil
}

// CheckChange fails when a request to op (Update, Delete) a static group, or
// a dynamic one as dynamic says, names a group of the other kind, or expects
// a version other than g's.
func (g *ThingGroup) CheckChange(op string, dynamic bool, expected *int64) error {
	switch {
	case g.Dynamic() && !dynamic:
		return Errorf(CodeInvalidRequest, "Thing group %s is a dynamic thing group; use %sDynamicThingGroup.", g.Name, op)
	case !g.Dynamic() && dynamic:
		return Errorf(CodeInvalidRequest, "Thing group %s is a static thing group; use %sThingGroup.", g.Name, op)
	}
	return CheckExpectedVersion("thing group", g.Name, expected, g.Version)
}

// CheckParentOf fails unless g, at level depth of its hierarchy, may have a
// child group: dynamic groups are in no hierarchy, and a hierarchy is at
// most MaxThingGroupDepth levels deep.
func (g *ThingGroup) CheckParentOf(depth int) error {
	if g.Dynamic() {
		return Errorf(CodeInvalidRequest, "Thing group %s is a dynamic thing group; dynamic groups cannot be part of a hierarchy.", g.Name)
	}
	if depth >= MaxThingGroupDepth {
		return Errorf(CodeInvalidRequest, "Thing group %s is at level %d of its hierarchy; a hierarchy can be at most %d levels deep.",
			g.Name, depth, MaxThingGroupDepth)
	}
	return nil
}

// SameConfig reports whether creating g again as b would be the same
// request (CreateThingGroup is idempotent for those): the same parent,
// description, attributes and, for a dynamic group, query.
func (g *ThingGroup) SameConfig(b *ThingGroup) bool {
	if g.ParentName != b.ParentName || g.Description != b.Description || !EqualAttributes(g.Attributes, b.Attributes) ||
		g.Dynamic() != b.Dynamic() {
		return false
	}
	if g.Query != nil {
		return g.Query.IndexName == b.Query.IndexName && g.Query.QueryString == b.Query.QueryString &&
			g.Query.QueryVersion == b.Query.QueryVersion
	}
	return true
}

// Dynamic reports whether g is a dynamic thing group.
func (g *ThingGroup) Dynamic() bool { return g.Query != nil }

// DynamicGroupQuery is what makes a group dynamic.
type DynamicGroupQuery struct {
	IndexName    string
	QueryString  string
	QueryVersion string
	Status       string
}

// ThingGroupUpdate is an UpdateThingGroup or UpdateDynamicThingGroup request.
// Nil members keep what is stored.
type ThingGroupUpdate struct {
	// Dynamic says which operation this is: it must match the group's kind.
	Dynamic     bool
	Description *string
	// Attributes replaces the attributes, or with Merge adds and overwrites
	// them; an empty value removes the attribute.
	Attributes      map[string]string
	Merge           bool
	QueryString     *string
	ExpectedVersion *int64
}

// ThingGroupFilter selects groups in ListThingGroups.
type ThingGroupFilter struct {
	// Parent limits the list to Parent's children ("" = every group).
	Parent     string
	NamePrefix string
	// Recursive with Parent includes every descendant, not only children.
	// Without Parent, Recursive false lists only root groups.
	Recursive *bool
}

// ThingStore persists the thing part of the registry: things, thing groups
// and the membership of things in groups. Every mutation is logged in the
// change log, and dynamic group membership follows every change of a thing
// in the same transaction.
type ThingStore interface {
	// CreateThing stores t (with its ID and dates set). An identical thing
	// is returned with created=false; a different one of that name is
	// ResourceAlreadyExists.
	CreateThing(ctx context.Context, s Scope, t Thing) (stored Thing, created bool, err error)
	// Thing returns one thing or ResourceNotFound.
	Thing(ctx context.Context, s Scope, name string) (Thing, error)
	// UpdateThing applies u and increments the version.
	UpdateThing(ctx context.Context, s Scope, name string, u ThingUpdate, now time.Time) (Thing, error)
	// DeleteThing removes a thing and its group memberships; a missing thing
	// is no error. A thing with attached principals cannot be deleted.
	DeleteThing(ctx context.Context, s Scope, name string, expectedVersion *int64, now time.Time) error
	// Things lists things by name.
	Things(ctx context.Context, s Scope, f ThingFilter, p Page) (things []Thing, next string, err error)

	// CreateThingGroup stores a static group (g.Query nil) or a dynamic one
	// and computes a dynamic group's members. An identical group is returned
	// with created=false; a different one is ResourceAlreadyExists.
	CreateThingGroup(ctx context.Context, s Scope, g ThingGroup, tags []Tag) (stored ThingGroup, created bool, err error)
	// ThingGroup returns one group, with RootToParent filled in.
	ThingGroup(ctx context.Context, s Scope, name string) (ThingGroup, error)
	// UpdateThingGroup applies u, increments the version and, when a
	// dynamic group's query changes, recomputes its members.
	UpdateThingGroup(ctx context.Context, s Scope, name string, u ThingGroupUpdate, now time.Time) (ThingGroup, error)
	// DeleteThingGroup removes a group of the given kind with its
	// memberships and tags; a missing group is no error, a group with child
	// groups cannot be deleted.
	DeleteThingGroup(ctx context.Context, s Scope, name string, dynamic bool, expectedVersion *int64, now time.Time) error
	// ThingGroups lists group names in name order.
	ThingGroups(ctx context.Context, s Scope, f ThingGroupFilter, p Page) (names []string, next string, err error)

	// AddThingToThingGroup adds a thing to a static group, enforcing the
	// 10-group and one-group-per-hierarchy rules; overrideDynamic lets it
	// leave its most recently created dynamic group to make room. Adding a
	// thing to a group it is in changes nothing.
	AddThingToThingGroup(ctx context.Context, s Scope, thingName, groupName string, overrideDynamic bool, now time.Time) error
	// RemoveThingFromThingGroup removes a thing from a static group.
	RemoveThingFromThingGroup(ctx context.Context, s Scope, thingName, groupName string, now time.Time) error
	// ThingGroupsForThing lists the groups a thing is in, by name.
	ThingGroupsForThing(ctx context.Context, s Scope, thingName string, p Page) (groups []string, next string, err error)
	// ThingsInThingGroup lists a group's things by name; recursive covers
	// the child groups too (group by group).
	ThingsInThingGroup(ctx context.Context, s Scope, groupName string, recursive bool, p Page) (things []string, next string, err error)
}

// ValidateThingName checks a ThingName (also ThingTypeName, ThingGroupName
// and BillingGroupName, which share its constraints).
func ValidateThingName(v *Validator, member, name string) {
	v.Length(member, name, 1, 128)
	v.Chars(member, name, IsThingNameChar, "[a-zA-Z0-9:_-]+")
}

// IsAttributeChar accepts [a-zA-Z0-9_.,@/:#-], the characters of attribute
// names and values.
func IsAttributeChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' ||
		r == ',' || r == '@' || r == '/' || r == ':' || r == '#' || r == '-'
}

// ValidateAttributeName checks an AttributeName.
func ValidateAttributeName(v *Validator, member, name string) {
	if name == "" {
		v.Fail(member, name, "Member must satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#-]+")
		return
	}
	v.Length(member, name, 0, 128)
	v.Chars(member, name, IsAttributeChar, "[a-zA-Z0-9_.,@/:#-]+")
}

// ValidateAttributeValue checks an AttributeValue.
func ValidateAttributeValue(v *Validator, member, value string) {
	v.Length(member, value, 0, 800)
	v.Chars(member, value, IsAttributeChar, "[a-zA-Z0-9_.,@/:#-]*")
}

// ValidateAttributes checks an Attributes map in key order, so the message
// is stable: a bad name is reported at member, a bad value at member.name.
func ValidateAttributes(v *Validator, member string, attrs map[string]string) {
	keys := slices.Sorted(maps.Keys(attrs))
	for _, k := range keys {
		ValidateAttributeName(v, member, k)
		ValidateAttributeValue(v, member+"."+k, attrs[k])
	}
}

// ValidateThingGroupDescription checks a ThingGroupDescription: up to 2028
// printable ASCII characters ([\p{Graph}\x20]*).
func ValidateThingGroupDescription(v *Validator, member, d string) {
	v.Length(member, d, 0, 2028)
	v.Chars(member, d, func(r rune) bool { return r >= 0x20 && r <= 0x7e }, `[\p{Graph}\x20]*`)
}

// MergeAttributes applies an attribute payload to stored: with merge the
// payload's attributes are added or overwritten, without it they replace
// stored; an empty value removes an attribute either way. A nil payload
// keeps stored.
func MergeAttributes(stored, payload map[string]string, merge bool) map[string]string {
	if payload == nil {
		return maps.Clone(stored)
	}
	out := map[string]string{}
	if merge {
		maps.Copy(out, stored)
	}
	for k, val := range payload {
		if val == "" {
			delete(out, k)
		} else {
			out[k] = val
		}
	}
	return out
}

// CleanAttributes drops empty values, which mean "no such attribute".
func CleanAttributes(attrs map[string]string) map[string]string {
	return MergeAttributes(nil, attrs, false)
}

// CheckThingAttributeCount fails when a thing would hold more attributes
// than its kind allows.
func CheckThingAttributeCount(typeName string, attrs map[string]string) error {
	limit := MaxUntypedThingAttributes
	if typeName != "" {
		limit = MaxTypedThingAttributes
	}
	if len(attrs) > limit {
		kind := "without a thing type"
		if typeName != "" {
			kind = "with a thing type"
		}
		return Errorf(CodeInvalidRequest, "A thing %s can have at most %d attributes; this one would have %d.", kind, limit, len(attrs))
	}
	return nil
}

// CheckThingGroupAttributeCount fails when a group would hold more than
// MaxThingGroupAttributes attributes.
func CheckThingGroupAttributeCount(attrs map[string]string) error {
	if len(attrs) > MaxThingGroupAttributes {
		return Errorf(CodeInvalidRequest, "A thing group can have at most %d attributes; this one would have %d.",
			MaxThingGroupAttributes, len(attrs))
	}
	return nil
}

// EqualAttributes reports whether two attribute maps hold the same pairs
// (nil and empty are equal).
func EqualAttributes(a, b map[string]string) bool {
	return len(a) == len(b) && maps.Equal(a, b)
}

// ParseVersion reads an expectedVersion query member.
func ParseVersion(member, raw string) (*int64, error) {
	if raw == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, Errorf(CodeInvalidRequest, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be a number", shorten(raw), member)
	}
	return &n, nil
}

// ResolveMembership returns the thing and thing group an
// AddThingToThingGroup or RemoveThingFromThingGroup request of scope s
// names: each side by name, by ARN, or by both, which must then agree. An
// ARN of another account or region names nothing the caller can see.
func ResolveMembership(s Scope, thingName, thingArn, groupName, groupArn *string) (thing, group string, err error) {
	var v Validator
	thing = nameOrARN(&v, "thingName", thingName, "thingArn", thingArn, "thing")
	group = nameOrARN(&v, "thingGroupName", groupName, "thingGroupArn", groupArn, "thinggroup")
	if err := v.Err(); err != nil {
		return "", "", err
	}
	for _, ref := range []struct {
		arn  *string
		kind string
	}{{thingArn, "Thing"}, {groupArn, "Thing group"}} {
		if ref.arn == nil {
			continue
		}
		if scope, _, _, _ := ParseIoTARN(*ref.arn); scope != s {
			return "", "", Errorf(CodeResourceNotFound, "%s %s does not exist.", ref.kind, *ref.arn)
		}
	}
	return thing, group, nil
}

// nameOrARN validates one side of a membership request: the name, the ARN
// (of resource type kind) or both, which must then agree.
func nameOrARN(v *Validator, nameMember string, name *string, arnMember string, arn *string, kind string) string {
	if name == nil && arn == nil {
		v.Problem("either " + nameMember + " or " + arnMember + " must be specified")
		return ""
	}
	var fromARN string
	if arn != nil {
		_, typ, id, ok := ParseIoTARN(*arn)
		if !ok || typ != kind {
			v.Fail(arnMember, *arn, "Member must be an AWS IoT "+kind+" ARN (arn:aws:iot:<region>:<account>:"+kind+"/<name>)")
			return ""
		}
		ValidateThingName(v, arnMember, id) // the model sets no pattern on ARNs
		fromARN = id
	}
	if name == nil {
		return fromARN
	}
	if arn != nil && fromARN != *name {
		v.Problem(nameMember + " '" + *name + "' and " + arnMember + " '" + *arn + "' name different resources")
	}
	return *name
}
