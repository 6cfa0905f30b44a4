package broker

import (
	"encoding/json"
	"strings"

	"github.com/warden-iot/warden"
)

// lifecycleEvent is the JSON AWS publishes on $aws/events/... (dataplane.md §4).
type lifecycleEvent struct {
	ClientID                  string   `json:"clientId"`
	ThingName                 string   `json:"thingName,omitempty"`
	Timestamp                 int64    `json:"timestamp"`
	EventType                 string   `json:"eventType"`
	SessionIdentifier         string   `json:"sessionIdentifier"`
	PrincipalIdentifier       string   `json:"principalIdentifier"`
	IPAddress                 string   `json:"ipAddress,omitempty"`
	ClientInitiatedDisconnect *bool    `json:"clientInitiatedDisconnect,omitempty"`
	DisconnectReason          string   `json:"disconnectReason,omitempty"`
	ConnectFailureReason      string   `json:"connectFailureReason,omitempty"`
	Topics                    []string `json:"topics,omitempty"`
	VersionNumber             *int64   `json:"versionNumber,omitempty"`
}

// publishLifecycle publishes e on $aws/events/<kind>/<clientId> of the
// scope's server; subscribers get it as any message, iot:Receive judged.
// AWS sends none for client ids with MQTT wildcards.
func (b *Broker) publishLifecycle(ss *scopeServer, kind, clientID string, e lifecycleEvent) {
	if ss == nil || strings.ContainsAny(clientID, "#+") {
		return
	}
	e.Timestamp = b.now().UnixMilli()
	payload, err := json.Marshal(e)
	if err != nil {
		return
	}
	_ = ss.srv.Publish("$aws/events/"+kind+"/"+clientID, payload, false, 1)
}

// maxVersions bounds the client ids whose connections are numbered; past
// it the numbering starts again (AWS resets it too, after an hour offline).
const maxVersions = 100000

// nextVersion numbers the connections of one client id in a scope.
func (b *Broker) nextVersion(s warden.Scope, clientID string) int64 {
	key := versionKey{s, clientID}
	b.versionsMu.Lock()
	defer b.versionsMu.Unlock()
	if b.versions == nil || len(b.versions) >= maxVersions {
		b.versions = map[versionKey]int64{}
	}
	b.versions[key]++
	return b.versions[key]
}

type versionKey struct {
	scope    warden.Scope
	clientID string
}
