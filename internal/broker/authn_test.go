package broker_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/broker"
	"github.com/warden-iot/warden/internal/x509test"
)

// testCA is a CA the test made and registered in the account.
type testCA struct {
	id   string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemOf(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

var serial = big.NewInt(100)

func nextSerial() *big.Int { serial = new(big.Int).Add(serial, big.NewInt(1)); return serial }

// registerCA makes a CA and registers it ACTIVE with its verification
// certificate.
func (e *env) registerCA() *testCA {
	e.t.Helper()
	key := newKey(e.t)
	tmpl := &x509.Certificate{SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	ca := x509test.Sign(e.t, tmpl, tmpl, &key.PublicKey, key)
	code, err := e.iot.GetRegistrationCode(e.ctx, &iot.GetRegistrationCodeInput{})
	if err != nil {
		e.t.Fatal(err)
	}
	vkey := newKey(e.t)
	ver := x509test.Sign(e.t, &x509.Certificate{SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: aws.ToString(code.RegistrationCode)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}, ca, &vkey.PublicKey, key)
	out, err := e.iot.RegisterCACertificate(e.ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(pemOf(ca)),
		VerificationCertificate: aws.String(pemOf(ver)), SetAsActive: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return &testCA{id: aws.ToString(out.CertificateId), cert: ca, key: key}
}

// deviceSignedBy registers an ACTIVE device certificate the CA signed,
// valid from notBefore to notAfter, with doc attached.
func (e *env) deviceSignedBy(ca *testCA, notBefore, notAfter time.Time, doc string) *device {
	e.t.Helper()
	key := newKey(e.t)
	c := x509test.Sign(e.t, &x509.Certificate{SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: "device"},
		NotBefore: notBefore, NotAfter: notAfter}, ca.cert, &key.PublicKey, ca.key)
	out, err := e.iot.RegisterCertificate(e.ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(pemOf(c)),
		CaCertificatePem: aws.String(pemOf(ca.cert)), Status: types.CertificateStatusActive})
	if err != nil {
		e.t.Fatal(err)
	}
	d := &device{id: aws.ToString(out.CertificateId), arn: aws.ToString(out.CertificateArn),
		tls: tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: key, Leaf: c}}
	if doc != "" {
		e.attachNewPolicy(doc, d.arn)
	}
	return d
}

// An INACTIVE CA does not cut off its registered devices (AWS); with
// --mqtt-strict-ca it does, live sessions included.
func TestInactiveCA(t *testing.T) {
	for _, strict := range []bool{false, true} {
		t.Run(map[bool]string{false: "aws", true: "strict"}[strict], func(t *testing.T) {
			e := newEnv(t, envOptions{strictCA: strict})
			ca := e.registerCA()
			d := e.deviceSignedBy(ca, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), allowAll)
			c := e.mustConnect3(d, "dev")
			if _, err := e.iot.UpdateCACertificate(e.ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(ca.id),
				NewStatus: types.CACertificateStatusInactive}); err != nil {
				t.Fatal(err)
			}
			if !strict {
				noMessage3(t, c, "", 300*time.Millisecond)
				if !c.IsConnectionOpen() {
					t.Fatal("session cut off by an INACTIVE CA")
				}
				e.mustConnect3(d, "dev2")
				return
			}
			select {
			case <-c.lost:
			case <-time.After(5 * time.Second):
				t.Fatal("strict: session not cut off by an INACTIVE CA")
			}
			if _, err := e.connect3(d, "dev2"); err == nil {
				t.Fatal("strict: connected under an INACTIVE CA")
			}
		})
	}
}

// Expired and not-yet-valid certificates are refused (AWS does not say;
// Warden refuses them).
func TestExpiredCertificateRefused(t *testing.T) {
	e := newEnv(t)
	ca := e.registerCA()
	d := e.deviceSignedBy(ca, time.Now().Add(-time.Hour), time.Now().Add(2*time.Second), allowAll)
	e.mustConnect3(d, "before")
	time.Sleep(time.Until(d.tls.Leaf.NotAfter.Add(time.Second)))
	if _, err := e.connect3(d, "after"); err == nil || !isNotAuthorized3(err) {
		t.Fatalf("expired certificate: %v, want not authorized", err)
	}
}

// A certificate no account registered, and a handshake with no
// certificate, are refused.
func TestUnknownCertificateRefused(t *testing.T) {
	e := newEnv(t)
	ca := &testCA{key: newKey(t)}
	tmpl := &x509.Certificate{SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: "rogue"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	ca.cert = x509test.Sign(t, tmpl, tmpl, &ca.key.PublicKey, ca.key)
	rogue := &device{tls: tls.Certificate{Certificate: [][]byte{ca.cert.Raw}, PrivateKey: ca.key}}
	if _, err := e.connect3(rogue, "rogue"); err == nil || !isNotAuthorized3(err) {
		t.Fatalf("unregistered certificate: %v, want not authorized", err)
	}
	if _, ca5, err := e.connect5(rogue, "rogue5"); err == nil || ca5 == nil || ca5.ReasonCode != 0x87 {
		t.Fatalf("unregistered certificate (5): %+v %v", ca5, err)
	}
	conn, err := tls.Dial("tcp", e.broker.Addr(), e.tlsConfig(nil))
	if err == nil {
		// TLS 1.3 reports the server's alert on the first read.
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("a handshake without a client certificate succeeded")
	}
}

// A TLS handshake that stalls is closed after the handshake timeout.
func TestStalledHandshakeClosed(t *testing.T) {
	e := newEnv(t)
	_ = e
	b, err := broker.New(e.ctx, broker.Config{Store: e.store, HandshakeTimeout: 300 * time.Millisecond, Hostnames: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	conn, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("read data from a handshake never started")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("server did not close a stalled handshake within 5 s")
	}
	t.Logf("stalled handshake closed after %v", time.Since(start))
}

// DescribeEndpoint names the device endpoint, with its port (not 8883).
func TestDescribeEndpoint(t *testing.T) {
	e := newEnv(t)
	_, port, _ := net.SplitHostPort(e.broker.Addr())
	for _, typ := range []string{"", "iot:Data-ATS", "iot:Data", "iot:Jobs"} {
		in := &iot.DescribeEndpointInput{}
		if typ != "" {
			in.EndpointType = aws.String(typ)
		}
		out, err := e.iot.DescribeEndpoint(e.ctx, in)
		if err != nil {
			t.Fatalf("%q: %v", typ, err)
		}
		if got, want := aws.ToString(out.EndpointAddress), "127.0.0.1:"+port; got != want {
			t.Fatalf("%q: %s, want %s", typ, got, want)
		}
	}
	if _, err := e.iot.DescribeEndpoint(e.ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Nope")}); err == nil {
		t.Fatal("unknown endpoint type accepted")
	} else if code := apiCode(err); code != warden.CodeInvalidRequest {
		t.Fatalf("unknown endpoint type: %v", err)
	}
}

// PENDING_TRANSFER and PENDING_ACTIVATION certificates (statuses only
// Warden's own flows set) are refused like any other non-ACTIVE one.
func TestPendingCertificatesRefused(t *testing.T) {
	e := newEnv(t)
	caPEM, caKey, err := warden.NewIssuingCA(scope, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, status := range []string{warden.CertPendingTransfer, warden.CertPendingActivation} {
		issued, err := warden.IssueCertificate(caPEM, caKey, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		c := warden.NewCertificateFrom(issued.Cert, status, warden.ModeDefault, time.Now())
		if err := e.store.CreateCertificate(e.ctx, scope, c, "RegisterCertificate"); err != nil {
			t.Fatal(err)
		}
		e.attachNewPolicy(allowAll, scope.CertificateARN(c.ID))
		pair, err := tls.X509KeyPair([]byte(issued.CertPEM), []byte(issued.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		d := &device{id: c.ID, tls: pair}
		if _, ca, err := e.connect5(d, "pending"); err == nil || ca == nil || ca.ReasonCode != 0x87 {
			t.Fatalf("%s: CONNACK %+v, err %v; want 0x87", status, ca, err)
		}
	}
}
