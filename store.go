package warden

import (
	"context"
	"strconv"
	"time"
)

// Page asks for at most Limit items after the opaque cursor After ("" = from
// the start). Cursors come from the store and are never shown to clients
// unsealed.
type Page struct {
	After string
	Limit int
}

// PageOf is page p of items already in memory: the cursor is an offset
// into items. A cursor that is not one of its offsets is InvalidRequest.
func PageOf[T any](items []T, p Page) (page []T, next string, err error) {
	from := 0
	if p.After != "" {
		if from, err = strconv.Atoi(p.After); err != nil || from < 0 || from > len(items) {
			return nil, "", Errorf(CodeInvalidRequest, "The nextToken is not valid for this request.")
		}
	}
	to := min(from+p.Limit, len(items))
	if to < len(items) {
		next = strconv.Itoa(to)
	}
	return items[from:to], next, nil
}

// Store persists everything Warden knows. Every method is one transaction:
// it either happens whole or not at all, and what it returned survives a
// crash of the process. Methods return *Error for conditions a client caused.
type Store interface {
	ThingStore
	CertificateStore
	PolicyStore
	SNSStore
	IAMStore
	AuditStore
	MitigationStore
	DetectMitigationStore
	ConnectionLogStore
	V2LoggingStore
	SecurityProfileStore
	DetectResourceStore
	ViolationStore

	// Changes lists the registry change log.
	Changes(ctx context.Context, f ChangeFilter) ([]Change, error)

	// CreateAccessKey stores a key, creating its account if needed.
	CreateAccessKey(ctx context.Context, key AccessKey) error
	// CreateFirstAccessKey stores key only if no key exists at all; of
	// several processes starting on one empty database, exactly one does.
	CreateFirstAccessKey(ctx context.Context, key AccessKey) (created bool, err error)
	// AccessKey looks a key up; ok is false when it does not exist.
	AccessKey(ctx context.Context, id string) (key AccessKey, ok bool, err error)
	// AccessKeys lists every key, oldest first.
	AccessKeys(ctx context.Context) ([]AccessKey, error)
	// DeleteAccessKey removes a key; found is false when it did not exist.
	DeleteAccessKey(ctx context.Context, id string) (found bool, err error)
	// SetAccessKeyInactive deactivates or activates a key; found is false
	// when it does not exist.
	SetAccessKeyInactive(ctx context.Context, id string, inactive bool) (found bool, err error)
	// ServerSecret returns the named secret, storing generate()'s value the
	// first time, so every process on one database shares it.
	ServerSecret(ctx context.Context, name string, generate func() []byte) ([]byte, error)

	// CreateMitigationAction stores a new action with its tags. When an action
	// of that name exists with the same role and parameters it returns that
	// one and created=false; with different ones, ResourceAlreadyExists. Over
	// MaxMitigationActions, LimitExceeded.
	CreateMitigationAction(ctx context.Context, s Scope, a MitigationAction, tags []Tag) (stored MitigationAction, created bool, err error)
	// UpdateMitigationAction changes the role and/or parameters (nil = keep).
	UpdateMitigationAction(ctx context.Context, s Scope, name string, roleArn *string, params *MitigationActionParams, now time.Time) (MitigationAction, error)
	// DeleteMitigationAction removes an action and its tags; a missing one is no error.
	DeleteMitigationAction(ctx context.Context, s Scope, name string) error
	// MitigationAction returns one action or ResourceNotFound.
	MitigationAction(ctx context.Context, s Scope, name string) (MitigationAction, error)
	// MitigationActions lists actions newest first, of actionType if not "".
	MitigationActions(ctx context.Context, s Scope, actionType string, p Page) (actions []MitigationAction, next string, err error)

	// TagResource adds or overwrites tags on the resource arn, which must exist.
	TagResource(ctx context.Context, s Scope, arn string, tags []Tag) error
	// UntagResource removes tag keys from the resource arn, which must exist.
	UntagResource(ctx context.Context, s Scope, arn string, keys []string) error
	// Tags lists the tags of the resource arn by key.
	Tags(ctx context.Context, s Scope, arn string, p Page) (tags []Tag, next string, err error)

	Close() error
}
