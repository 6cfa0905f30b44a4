package warden

import (
	"crypto/x509"
	"net/netip"
)

// IoT policy actions the device endpoint checks.
const (
	ActionIoTConnect       = "iot:Connect"
	ActionIoTPublish       = "iot:Publish"
	ActionIoTRetainPublish = "iot:RetainPublish"
	ActionIoTSubscribe     = "iot:Subscribe"
	ActionIoTReceive       = "iot:Receive"
)

// Authorization decisions (the AuthDecision enum).
const (
	DecisionAllowed      = "ALLOWED"
	DecisionExplicitDeny = "EXPLICIT_DENY"
	DecisionImplicitDeny = "IMPLICIT_DENY"
)

// IoTAuthzContext is who asks: what the policy variables and condition keys
// of an IoT policy are resolved from.
type IoTAuthzContext struct {
	Scope         Scope
	ClientID      string
	CertificateID string
	// Certificate gives the iot:Certificate.* variables; nil leaves them
	// unresolved.
	Certificate *x509.Certificate
	// Thing is the thing the connection resolved to (see ResolveThing);
	// nil leaves the iot:Connection.Thing.* variables unresolved.
	Thing *Thing
	// ThingAttached is iot:Connection.Thing.IsAttached.
	ThingAttached bool
	// SourceIP is aws:SourceIp; the zero Addr when unknown.
	SourceIP netip.Addr
	// ConnectAttributes (PersistentConnect, LastWill) and LastWillTopic (a
	// topic ARN) are the Connect-only condition keys.
	ConnectAttributes []string
	LastWillTopic     string
}

// IoTPolicy is a parsed policy and its name.
type IoTPolicy struct {
	Name     string
	Document *PolicyDocument
}

// IoTDecision is the outcome of one authorization question, as
// TestAuthorization reports it.
type IoTDecision struct {
	Decision string // DecisionAllowed, DecisionExplicitDeny or DecisionImplicitDeny
	// Allowed lists the policies that allowed, ExplicitDeny those that
	// denied, ImplicitDeny those that said nothing (all by name).
	Allowed, ExplicitDeny, ImplicitDeny []string
	MissingContextValues                []string
}
