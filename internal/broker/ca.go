package broker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

// caSecretName names the server secret that holds the Warden CA: one CA for
// every node of a store, sealed at rest with the store's other secrets.
const caSecretName = "mqtt-ca"

// caPair is the stored form of the Warden CA.
type caPair struct {
	CertPEM string `json:"certPem"`
	KeyPEM  string `json:"keyPem"`
}

// CA is the Warden CA: it signs the device endpoint's server certificate,
// and devices trust it (`warden ca` prints it).
type CA struct {
	Cert    *x509.Certificate
	CertPEM string
	key     *ecdsa.PrivateKey
}

// LoadCA returns the store's Warden CA, making it on first use.
func LoadCA(ctx context.Context, st warden.Store) (*CA, error) {
	var genErr error
	raw, err := st.ServerSecret(ctx, caSecretName, func() []byte {
		p, err := newCAPair(time.Now())
		if err != nil {
			genErr = err
			return nil
		}
		b, _ := json.Marshal(p)
		return b
	})
	if genErr != nil {
		return nil, genErr
	}
	if err != nil {
		return nil, err
	}
	var p caPair
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("stored Warden CA: %w", err)
	}
	cert, err := warden.ParseCertificatePEM("Warden CA", p.CertPEM)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode([]byte(p.KeyPEM))
	if block == nil {
		return nil, errors.New("stored Warden CA key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("stored Warden CA key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("stored Warden CA key is not ECDSA")
	}
	return &CA{Cert: cert, CertPEM: p.CertPEM, key: key}, nil
}

func newCAPair(now time.Time) (caPair, error) {
	certPEM, keyPEM, err := warden.NewSelfSignedCAPEM(pkix.Name{CommonName: "Warden Device Endpoint CA", Organization: []string{"Warden"}}, now)
	return caPair{CertPEM: certPEM, KeyPEM: keyPEM}, err
}

// ServerCertificate issues a fresh server certificate for hostnames (IP
// literals become IP SANs). Each process makes its own at start; only the
// CA is shared.
func (ca *CA) ServerCertificate(hostnames []string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := warden.NewSerialNumber()
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    now.Add(-time.Hour).UTC(),
		NotAfter:     now.Add(398 * 24 * time.Hour).UTC(),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hostnames {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
		if tmpl.Subject.CommonName == "" {
			tmpl.Subject.CommonName = h
		}
	}
	if len(tmpl.IPAddresses)+len(tmpl.DNSNames) == 0 {
		return tls.Certificate{}, errors.New("the device endpoint needs at least one host name (--mqtt-hostnames)")
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}
