package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/x509test"
)

// ---------------------------------------------------------------- X.509 fixtures

// certKey is one ECDSA P-256 key; fixtures share keys where a test needs
// two certificates with the same key.
type certKey = *ecdsa.PrivateKey

func certNewKey(t testing.TB) certKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// certNextSerial is a random positive serial number.
func certNextSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

// certCA is a CA made by a test: its certificate, key, PEM and id.
type certCA struct {
	cert *x509.Certificate
	key  certKey
	pem  string
	id   string
}

// certMake signs tmpl with signer (nil: self-signed with key) and returns
// the parsed certificate and its PEM.
func certMake(t testing.TB, tmpl *x509.Certificate, key certKey, parent *certCA) (*x509.Certificate, string) {
	t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = certNextSerial()
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	parentCert, signer := tmpl, key
	if parent != nil {
		parentCert, signer = parent.cert, parent.key
	}
	c := x509test.Sign(t, tmpl, parentCert, &key.PublicKey, signer)
	return c, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

func certCATemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Warden Tests"}},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

// certNewCA makes a self-signed root CA named cn.
func certNewCA(t testing.TB, cn string) *certCA {
	t.Helper()
	return certNewCAWithKey(t, cn, certNewKey(t))
}

// certNewCAWithKey makes a self-signed root CA named cn with key.
func certNewCAWithKey(t testing.TB, cn string, key certKey) *certCA {
	t.Helper()
	c, p := certMake(t, certCATemplate(cn), key, nil)
	return &certCA{cert: c, key: key, pem: p, id: certIDOf(c.Raw)}
}

// intermediate makes a CA named cn signed by ca.
func (ca *certCA) intermediate(t testing.TB, cn string) *certCA {
	t.Helper()
	key := certNewKey(t)
	c, p := certMake(t, certCATemplate(cn), key, ca)
	return &certCA{cert: c, key: key, pem: p, id: certIDOf(c.Raw)}
}

// leaf returns a device certificate named cn signed by ca, valid now.
func (ca *certCA) leaf(t testing.TB, cn string) string {
	t.Helper()
	_, p := certMake(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CRLDistributionPoints: []string{"http://crl.example.com/" + cn + ".crl"},
	}, certNewKey(t), ca)
	return p
}

// leafValid returns a device certificate signed by ca valid between nb and na.
func (ca *certCA) leafValid(t testing.TB, cn string, nb, na time.Time) string {
	t.Helper()
	_, p := certMake(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: nb, NotAfter: na}, certNewKey(t), ca)
	return p
}

// verification returns a verification certificate with common name code
// signed with ca's key.
func (ca *certCA) verification(t testing.TB, code string) string {
	t.Helper()
	_, p := certMake(t, &x509.Certificate{Subject: pkix.Name{CommonName: code}}, certNewKey(t), ca)
	return p
}

// certSelfSigned returns a self-signed non-CA certificate named cn.
func certSelfSigned(t testing.TB, cn string) string {
	t.Helper()
	_, p := certMake(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}}, certNewKey(t), nil)
	return p
}

// certIDOf is the id AWS gives a DER certificate.
func certIDOf(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// certIDOfPEM is the id of a PEM certificate.
func certIDOfPEM(t testing.TB, p string) string {
	t.Helper()
	return certIDOf(certParse(t, p).Raw)
}

func certParse(t testing.TB, p string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		t.Fatalf("not PEM: %q", p)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func certARN(account, id string) string {
	return "arn:aws:iot:" + region + ":" + account + ":cert/" + id
}

func caARN(account, id string) string {
	return "arn:aws:iot:" + region + ":" + account + ":cacert/" + id
}

// ---------------------------------------------------------------- API helpers

var certCtx = context.Background()

func certCode(t testing.TB, c *iot.Client) string {
	t.Helper()
	out, err := c.GetRegistrationCode(certCtx, &iot.GetRegistrationCodeInput{})
	if err != nil {
		t.Fatalf("GetRegistrationCode: %v", err)
	}
	return aws.ToString(out.RegistrationCode)
}

// certRegisterCA registers ca in DEFAULT mode with a verification
// certificate for c's registration code.
func certRegisterCA(t testing.TB, c *iot.Client, ca *certCA, active bool) string {
	t.Helper()
	out, err := c.RegisterCACertificate(certCtx, &iot.RegisterCACertificateInput{
		CaCertificate:           aws.String(ca.pem),
		VerificationCertificate: aws.String(ca.verification(t, certCode(t, c))),
		SetAsActive:             active,
	})
	if err != nil {
		t.Fatalf("RegisterCACertificate: %v", err)
	}
	if got := aws.ToString(out.CertificateId); got != ca.id {
		t.Fatalf("RegisterCACertificate: got id %s, want %s", got, ca.id)
	}
	return ca.id
}

func certRegister(t testing.TB, c *iot.Client, p string, status types.CertificateStatus) string {
	t.Helper()
	out, err := c.RegisterCertificate(certCtx, &iot.RegisterCertificateInput{CertificatePem: aws.String(p), Status: status})
	if err != nil {
		t.Fatalf("RegisterCertificate: %v", err)
	}
	return aws.ToString(out.CertificateId)
}

func certCreate(t testing.TB, c *iot.Client, active bool) *iot.CreateKeysAndCertificateOutput {
	t.Helper()
	out, err := c.CreateKeysAndCertificate(certCtx, &iot.CreateKeysAndCertificateInput{SetAsActive: active})
	if err != nil {
		t.Fatalf("CreateKeysAndCertificate: %v", err)
	}
	return out
}

func certDescribe(t testing.TB, c *iot.Client, id string) *types.CertificateDescription {
	t.Helper()
	out, err := c.DescribeCertificate(certCtx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeCertificate(%s): %v", id, err)
	}
	return out.CertificateDescription
}

func caDescribe(t testing.TB, c *iot.Client, id string) *iot.DescribeCACertificateOutput {
	t.Helper()
	out, err := c.DescribeCACertificate(certCtx, &iot.DescribeCACertificateInput{CertificateId: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeCACertificate(%s): %v", id, err)
	}
	return out
}

func certSetStatus(t testing.TB, c *iot.Client, id string, s types.CertificateStatus) {
	t.Helper()
	if _, err := c.UpdateCertificate(certCtx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: s}); err != nil {
		t.Fatalf("UpdateCertificate(%s, %s): %v", id, s, err)
	}
}

// certWantMissing fails unless id is no certificate c can see.
func certWantMissing(t *testing.T, c *iot.Client, id string) {
	t.Helper()
	_, err := c.DescribeCertificate(certCtx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	wantCode(t, err, "ResourceNotFoundException", 404)
}

// certListIDs lists every certificate id c sees, following nextMarker with
// pages of size.
func certListIDs(t testing.TB, c *iot.Client, ascending bool, size int32) []string {
	t.Helper()
	var ids []string
	var marker *string
	for i := 0; ; i++ {
		out, err := c.ListCertificates(certCtx, &iot.ListCertificatesInput{AscendingOrder: ascending, PageSize: aws.Int32(size), Marker: marker})
		if err != nil {
			t.Fatalf("ListCertificates: %v", err)
		}
		if len(out.Certificates) > int(size) {
			t.Fatalf("ListCertificates: got %d certificates in a page of %d", len(out.Certificates), size)
		}
		for _, cert := range out.Certificates {
			ids = append(ids, aws.ToString(cert.CertificateId))
		}
		if out.NextMarker == nil {
			return ids
		}
		marker = out.NextMarker
		if i > 1000 {
			t.Fatal("ListCertificates: no end")
		}
	}
}

// certChanges is the change log of one resource.
func certChanges(t testing.TB, e *env, arn string) []warden.Change {
	t.Helper()
	changes, err := e.store.Changes(certCtx, warden.ChangeFilter{ResourceArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	return changes
}

// certPrincipalChanges is the change log of a thing's principals: the
// thing's own changes (CreateThing, ...) are left out.
func certPrincipalChanges(t testing.TB, e *env, thingArn string) []warden.Change {
	t.Helper()
	var out []warden.Change
	for _, c := range certChanges(t, e, thingArn) {
		if strings.HasSuffix(c.Operation, "ThingPrincipal") {
			out = append(out, c)
		}
	}
	return out
}

// certChangeCount counts every change-log row.
func certChangeCount(t testing.TB, e *env) int {
	t.Helper()
	changes, err := e.store.Changes(certCtx, warden.ChangeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(changes)
}

// certWantChange checks one change-log row.
func certWantChange(t *testing.T, c warden.Change, op, before, after string) {
	t.Helper()
	if c.Operation != op || c.Before != before || c.After != after || c.Actor != keyA {
		t.Errorf("got change %s before=%s after=%s actor=%s, want %s before=%s after=%s actor=%s",
			c.Operation, c.Before, c.After, c.Actor, op, before, after, keyA)
	}
}

// ---------------------------------------------------------------- direct SQL, for what no API can do yet

func certExec(t testing.TB, e *env, query string, args ...any) {
	t.Helper()
	if _, err := rawDB(t, e).Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// certThing makes thing name in c's account: with CreateThing when the
// server has it, else with a row in the things table.
func certThing(t testing.TB, e *env, c *iot.Client, account, name string) {
	t.Helper()
	_, err := c.CreateThing(certCtx, &iot.CreateThingInput{ThingName: aws.String(name)})
	if err == nil {
		return
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnknownOperationException" {
		t.Fatalf("CreateThing(%s): %v", name, err)
	}
	now := time.Now().UnixMilli()
	certExec(t, e, `INSERT INTO things (account, region, name, id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		account, region, name, warden.NewUUID(), now, now)
}

// certRawError decodes an error body's resourceId and resourceArn.
func certRawError(t testing.TB, r rawResponse) (id, arn string) {
	t.Helper()
	var body struct {
		ResourceID  string `json:"resourceId"`
		ResourceArn string `json:"resourceArn"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	return body.ResourceID, body.ResourceArn
}

func certJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

var certMarkerPattern = func(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" || len(s)-len(body) > 2 {
		return false
	}
	for _, r := range body {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '/') {
			return false
		}
	}
	return true
}
