package warden

import "time"

// Data-plane event types, as AWS IoT's V2 log entries name them.
const (
	EventConnect     = "Connect"
	EventDisconnect  = "Disconnect"
	EventPublishIn   = "Publish-In"
	EventPublishOut  = "Publish-Out"
	EventSubscribe   = "Subscribe"
	EventUnsubscribe = "Unsubscribe"
)

// Data-plane event statuses.
const (
	StatusSuccess = "Success"
	StatusFailure = "Failure"
)

// DataPlaneEvent is one thing that happened on the device endpoint: a
// connect attempt, a disconnect, a publish in or out, a subscribe. The broker
// hands every event to its observers (the connection log, V2 logging and,
// later, Detect).
type DataPlaneEvent struct {
	// Scope is the account and region of the device's certificate; it is
	// the zero Scope when the certificate is not registered anywhere.
	Scope Scope
	// Type is one of the Event* constants; Status is StatusSuccess or
	// StatusFailure.
	Type   string
	Status string
	// SessionID identifies one connection (UUID form): its connect, its
	// disconnect and everything between share it.
	SessionID string
	ClientID  string
	// PrincipalID is the certificate id (SHA-256 of its DER, hex).
	PrincipalID string
	// ThingName is the thing the connection resolved to, "" if none.
	ThingName  string
	SourceIP   string
	SourcePort int
	// Protocol is "MQTT" or "HTTP" (the iot-data Publish operation).
	Protocol string
	// Topic is the topic of a publish; Topics the filters of a subscribe
	// or unsubscribe.
	Topic  string
	Topics []string
	QoS    byte
	Retain bool
	// PayloadBytes is a publish's payload size.
	PayloadBytes int
	// DisconnectReason is one of AWS's lifecycle-event reasons
	// (CLIENT_INITIATED_DISCONNECT, DUPLICATE_CLIENTID, AUTH_ERROR...).
	DisconnectReason string
	// Reason and Details explain a failure (e.g. AUTHORIZATION_FAILURE,
	// "Authorization Failure").
	Reason, Details string
	At              time.Time
}

// DataPlaneObserver receives data-plane events. Observe is called on the
// broker's hot path: it must not block (queue and return).
type DataPlaneObserver interface {
	Observe(e DataPlaneEvent)
}
