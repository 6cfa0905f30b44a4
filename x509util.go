package warden

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// ParseCertificatePEM parses the first PEM block of text, which must be a
// CERTIFICATE. Anything else is a CertificateValidationException naming
// member, as AWS answers for a malformed certificate.
func ParseCertificatePEM(member, text string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(text)))
	if block == nil {
		return nil, Errorf(CodeCertificateValidation, "The %s is not a PEM encoded certificate.", member)
	}
	if block.Type != "CERTIFICATE" {
		return nil, Errorf(CodeCertificateValidation, "The %s is a PEM block of type %s, not CERTIFICATE.", member, block.Type)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, Errorf(CodeCertificateValidation, "The %s is not a valid X.509 certificate: %s.", member, err.Error())
	}
	return c, nil
}

// CertificateID is the id AWS IoT gives a certificate: the lower-case hex
// SHA-256 of its DER encoding.
func CertificateID(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// EncodeCertificatePEM is the canonical PEM text of a DER certificate.
func EncodeCertificatePEM(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// CheckValidAt fails with CertificateValidationException when c has
// expired at now.
func CheckValidAt(member string, c *x509.Certificate, now time.Time) error {
	if now.After(c.NotAfter) {
		return Errorf(CodeCertificateValidation, "The %s expired on %s.", member, c.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// CheckIssuedBy reports whether parent issued child: the child's issuer is
// the parent's subject and the parent's key verifies the child's signature.
func CheckIssuedBy(child, parent *x509.Certificate) bool {
	if string(child.RawIssuer) != string(parent.RawSubject) {
		return false
	}
	return child.CheckSignatureFrom(parent) == nil
}

// SignedByKeyOf reports whether c's signature verifies with ca's public key,
// whatever c's issuer field says (verification certificates only prove
// possession of the CA's key).
func SignedByKeyOf(c, ca *x509.Certificate) bool {
	return ca.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// FactsOf extracts what the audit checks need from a parsed certificate.
func FactsOf(c *x509.Certificate) X509Facts {
	f := X509Facts{
		Subject:               c.Subject.String(),
		Issuer:                c.Issuer.String(),
		SubjectDER:            c.RawSubject,
		IssuerDER:             c.RawIssuer,
		SignatureAlgorithm:    c.SignatureAlgorithm.String(),
		PublicKey:             c.RawSubjectPublicKeyInfo,
		CRLDistributionPoints: c.CRLDistributionPoints,
		IsCA:                  c.BasicConstraintsValid && c.IsCA,
	}
	if c.SerialNumber != nil {
		f.Serial = hex.EncodeToString(c.SerialNumber.Bytes())
		if f.Serial == "" {
			f.Serial = "00"
		}
	}
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	f.PublicKeySHA256 = hex.EncodeToString(sum[:])
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		f.KeyAlgorithm, f.KeySize = "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		f.KeyAlgorithm, f.KeySize = "EC", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		f.KeyAlgorithm, f.KeySize = "Ed25519", 256
	default:
		f.KeyAlgorithm = c.PublicKeyAlgorithm.String()
	}
	return f
}

// NewCertificateFrom describes a parsed device certificate for the store.
func NewCertificateFrom(c *x509.Certificate, status, mode string, now time.Time) Certificate {
	return Certificate{
		ID:               CertificateID(c.Raw),
		Status:           status,
		PEM:              EncodeCertificatePEM(c.Raw),
		Mode:             mode,
		CustomerVersion:  1,
		GenerationID:     NewUUID(),
		NotBefore:        c.NotBefore.UTC(),
		NotAfter:         c.NotAfter.UTC(),
		CreationDate:     now,
		LastModifiedDate: now,
		Facts:            FactsOf(c),
	}
}

// NewCACertificateFrom describes a parsed CA certificate for the store.
func NewCACertificateFrom(c *x509.Certificate, status, mode string, now time.Time) CACertificate {
	return CACertificate{
		ID:                     CertificateID(c.Raw),
		Status:                 status,
		PEM:                    EncodeCertificatePEM(c.Raw),
		Mode:                   mode,
		AutoRegistrationStatus: AutoRegistrationDisable,
		CustomerVersion:        1,
		GenerationID:           NewUUID(),
		NotBefore:              c.NotBefore.UTC(),
		NotAfter:               c.NotAfter.UTC(),
		CreationDate:           now,
		LastModifiedDate:       now,
		Facts:                  FactsOf(c),
	}
}

// NewRegistrationCode returns a random 64-hex-digit registration code.
func NewRegistrationCode() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NewSerialNumber returns a random certificate serial number.
func NewSerialNumber() (*big.Int, error) {
	// 128 random bits: unique without coordination, and positive as RFC
	// 5280 requires.
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

// farFuture is the end of the validity of Warden's own CAs and the
// certificates they issue, as AWS's IoT CAs last for decades.
var farFuture = time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)

// NewIssuingCA makes the self-signed ECDSA P-256 CA that signs the
// certificates CreateKeysAndCertificate issues in scope s. It returns the
// certificate and its PKCS #8 key, both PEM.
func NewIssuingCA(s Scope, now time.Time) (certPEM, keyPEM string, err error) {
	return NewSelfSignedCAPEM(pkix.Name{
		CommonName:         "Warden IoT Issuing CA",
		Organization:       []string{"Warden"},
		OrganizationalUnit: []string{s.Account + " " + s.Region},
	}, now)
}

// NewSelfSignedCAPEM makes a self-signed CA for subject, valid from an hour
// before now to the end of 2049, with NewSelfSignedCA. It returns the
// certificate and its PKCS #8 key, both PEM.
func NewSelfSignedCAPEM(subject pkix.Name, now time.Time) (certPEM, keyPEM string, err error) {
	ca, key, err := NewSelfSignedCA(subject, now.Add(-time.Hour).UTC(), farFuture)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", fmt.Errorf("encoding the CA key: %w", err)
	}
	return EncodeCertificatePEM(ca.Raw), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})), nil
}

// NewSelfSignedCA makes a new ECDSA P-256 key and a self-signed CA
// certificate for it, valid from notBefore to notAfter, that may sign
// certificates but no further CAs.
func NewSelfSignedCA(subject pkix.Name, notBefore, notAfter time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := NewSerialNumber()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing the CA certificate: %w", err)
	}
	return ca, key, nil
}

// IssuedCertificate is a certificate and key pair CreateKeysAndCertificate
// hands out.
type IssuedCertificate struct {
	Cert       *x509.Certificate
	CertPEM    string
	PublicKey  string // PEM "PUBLIC KEY" (PKIX)
	PrivateKey string // PEM "EC PRIVATE KEY" (SEC 1)
}

// IssueCertificate makes a new ECDSA P-256 key pair and a client
// certificate for it signed by the issuing CA (PEM certificate and key).
// ECDSA P-256 rather than AWS's RSA 2048: it is as widely supported by
// device TLS stacks and takes microseconds instead of ~100 ms to generate.
func IssueCertificate(caCertPEM, caKeyPEM string, now time.Time) (IssuedCertificate, error) {
	ca, err := ParseCertificatePEM("issuing CA certificate", caCertPEM)
	if err != nil {
		return IssuedCertificate{}, err
	}
	block, _ := pem.Decode([]byte(caKeyPEM))
	if block == nil {
		return IssuedCertificate{}, errors.New("issuing CA key is not PEM")
	}
	caKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return IssuedCertificate{}, fmt.Errorf("issuing CA key: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return IssuedCertificate{}, err
	}
	serial, err := NewSerialNumber()
	if err != nil {
		return IssuedCertificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "AWS IoT Certificate"},
		// Back-dated a little, as AWS does, so that devices whose clocks
		// lag can use the certificate at once.
		NotBefore:   now.Add(-2 * time.Minute).Truncate(time.Second).UTC(),
		NotAfter:    farFuture,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return IssuedCertificate{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return IssuedCertificate{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return IssuedCertificate{}, err
	}
	priv, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return IssuedCertificate{}, err
	}
	return IssuedCertificate{
		Cert:       cert,
		CertPEM:    EncodeCertificatePEM(der),
		PublicKey:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: priv})),
	}, nil
}
