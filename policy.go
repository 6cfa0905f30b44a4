package warden

// PolicyStore persists the policy part of the registry.
type PolicyStore interface {
}
