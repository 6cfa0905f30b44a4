package warden

// ThingStore persists the thing part of the registry.
type ThingStore interface {
}
