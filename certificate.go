package warden

// CertificateStore persists the certificate part of the registry.
type CertificateStore interface {
}
