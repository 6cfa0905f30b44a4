package warden

import (
	"context"
	"time"
)

// Change is one row of the registry's change log: every mutation of a
// registry resource appends one, so that "exactly once" can be proven.
type Change struct {
	Seq         int64
	ResourceArn string
	// Operation names what changed, e.g. "UpdateCertificate".
	Operation string
	// Before and After are JSON documents of the changed fields ("" when the
	// resource did not exist before or does not exist after).
	Before, After string
	// Actor is the access key id of the request, or "execution:<id>" when a
	// mitigation execution made the change.
	Actor string
	At    time.Time
}

// ChangeFilter selects change-log rows.
type ChangeFilter struct {
	Scope       *Scope // nil: every account and region
	ResourceArn string // "": every resource
	AfterSeq    int64
	Limit       int
}

type actorKey struct{}

// WithActor returns a context whose store writes are attributed to actor.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom is the actor set by WithActor, or "warden" for Warden's own work.
func ActorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok {
		return a
	}
	return "warden"
}

// The change log's documents of registry resources: what a change records
// of a thing, a thing group and a thing's membership of a group.
type (
	ThingDocument struct {
		ThingName     string            `json:"thingName"`
		ThingTypeName string            `json:"thingTypeName,omitempty"`
		Attributes    map[string]string `json:"attributes"`
		Version       int64             `json:"version"`
	}
	ThingGroupDocument struct {
		ThingGroupName  string            `json:"thingGroupName"`
		ParentGroupName string            `json:"parentGroupName,omitempty"`
		Description     string            `json:"thingGroupDescription,omitempty"`
		Attributes      map[string]string `json:"attributes"`
		QueryString     string            `json:"queryString,omitempty"`
		Version         int64             `json:"version"`
	}
	MembershipDocument struct {
		ThingGroupName string `json:"thingGroupName"`
		Dynamic        bool   `json:"dynamic,omitempty"`
	}
)

// ThingDocumentOf is the change-log document of t.
func ThingDocumentOf(t *Thing) ThingDocument {
	return ThingDocument{ThingName: t.Name, ThingTypeName: t.TypeName, Attributes: orEmpty(t.Attributes), Version: t.Version}
}

// ThingGroupDocumentOf is the change-log document of g.
func ThingGroupDocumentOf(g *ThingGroup) ThingGroupDocument {
	d := ThingGroupDocument{ThingGroupName: g.Name, ParentGroupName: g.ParentName, Description: g.Description,
		Attributes: orEmpty(g.Attributes), Version: g.Version}
	if g.Query != nil {
		d.QueryString = g.Query.QueryString
	}
	return d
}

// orEmpty is m, or an empty map for nil (documents show "attributes": {}).
func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
