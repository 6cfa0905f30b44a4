// Package x509test makes certificates for tests. It imports nothing of
// Warden, so the root package's tests may use it too.
package x509test

import (
	"crypto/rand"
	"crypto/x509"
	"testing"
)

// Sign makes the certificate of tmpl for the public key pub, signed by
// signer as parent (tmpl itself for a self-signed one), and parses it. Any
// failure fails t.
func Sign(t testing.TB, tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("creating the certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing the certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	return c
}
