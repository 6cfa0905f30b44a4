package warden

import (
	"context"
	"time"
)

// ConnectionLogRetention is how long the connection log keeps a session
// after its last event (its disconnect, or its connect while it is open):
// the 31 days the connection audit checks look back.
const ConnectionLogRetention = 31 * 24 * time.Hour

// ConnectionRecord is one row of the connection log: a connect attempt on
// the device endpoint and, once it ended, its disconnect.
type ConnectionRecord struct {
	SessionID     string
	ClientID      string
	CertificateID string
	ThingName     string
	SourceIP      string
	SourcePort    int
	// ConnectedAt is the time of the attempt.
	ConnectedAt time.Time
	// DisconnectedAt is zero while the session is open. A failed attempt
	// never opened: it is its attempt time.
	DisconnectedAt time.Time
	// Result is StatusSuccess or StatusFailure.
	Result string
	// Reason says why an attempt failed (e.g. AUTHORIZATION_FAILURE).
	Reason string
	// DisconnectReason is the lifecycle-event reason of the disconnect
	// (CLIENT_INITIATED_DISCONNECT, DUPLICATE_CLIENTID...).
	DisconnectReason string
}

// Open reports whether the session had not ended when it was read.
func (r *ConnectionRecord) Open() bool { return r.DisconnectedAt.IsZero() }

// ConnectionFilter selects connection log rows: those of sessions that were
// open (or attempted) at some time in [Start, End]; CertificateID and
// ClientID, when set, narrow them.
type ConnectionFilter struct {
	Start, End    time.Time
	CertificateID string
	ClientID      string
	// SuccessOnly keeps only sessions that were established.
	SuccessOnly bool
}

// Orders of ScanConnections.
const (
	// ByCertificate streams rows by certificate id, then connect time.
	ByCertificate = "certificate"
	// ByClientID streams rows by client id, then connect time.
	ByClientID = "client"
)

// ConnectionLogStore persists the connection log of the device endpoint.
type ConnectionLogStore interface {
	// RecordConnections writes a batch of data-plane events in one
	// transaction, in order: a Connect (success or failure) adds its
	// session's row, a Disconnect closes the open row of its session (a
	// Disconnect whose session has no open row is ignored). Other event
	// types and events of the zero Scope are ignored.
	RecordConnections(ctx context.Context, events []DataPlaneEvent) error
	// Connections lists the scope's rows that f selects, newest connect
	// first.
	Connections(ctx context.Context, s Scope, f ConnectionFilter, p Page) (records []ConnectionRecord, next string, err error)
	// ScanConnections calls fn for every row f selects in the order by
	// (ByCertificate or ByClientID). The record passed is reused.
	ScanConnections(ctx context.Context, s Scope, f ConnectionFilter, by string, fn func(*ConnectionRecord) error) error
	// PruneConnections deletes, in every scope, the rows whose last event
	// (disconnect, or connect while open) is before cutoff.
	PruneConnections(ctx context.Context, cutoff time.Time) (deleted int64, err error)
}
