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
