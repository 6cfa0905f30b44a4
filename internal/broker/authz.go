package broker

import "github.com/warden-iot/warden"

// The evaluator and principal loader the device endpoint shares with
// TestAuthorization and GetEffectivePolicies.
type iotPrincipal = warden.IoTPrincipal

var (
	loadPrincipal = warden.LoadIoTPrincipal
	authorizeIoT  = warden.AuthorizeIoT
)
