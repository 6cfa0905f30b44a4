package api_test

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

var isHex64 = regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString

func TestCertRegistrationCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a1, a2 := certCode(t, e.a), certCode(t, e.a)
	if !isHex64(a1) {
		t.Fatalf("got registration code %q, want 64 lower-case hex digits", a1)
	}
	if a1 != a2 {
		t.Errorf("got codes %s then %s, want the same code every time", a1, a2)
	}
	if b := certCode(t, e.b); b == a1 {
		t.Errorf("accounts A and B got the same registration code %s", b)
	}
	if other := certCode(t, e.clientIn(keyA, secretA, "eu-west-1")); other == a1 {
		t.Errorf("account A got the same registration code in two regions")
	}
	e.restart()
	if got := certCode(t, e.a); got != a1 {
		t.Errorf("after restart got code %s, want %s", got, a1)
	}
}

func TestCertCreateKeysAndCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		active bool
		want   types.CertificateStatus
	}{{false, types.CertificateStatusInactive}, {true, types.CertificateStatusActive}} {
		before := time.Now().Add(-time.Second)
		out := certCreate(t, e.a, tc.active)
		id := aws.ToString(out.CertificateId)
		cert := certParse(t, aws.ToString(out.CertificatePem))
		if got := certIDOf(cert.Raw); got != id || !isHex64(id) {
			t.Errorf("got certificateId %s, want the SHA-256 of the DER %s", id, got)
		}
		if got := aws.ToString(out.CertificateArn); got != certARN(accountA, id) {
			t.Errorf("got certificateArn %s, want %s", got, certARN(accountA, id))
		}
		if cert.PublicKeyAlgorithm != x509.ECDSA || cert.IsCA || cert.Subject.CommonName != "AWS IoT Certificate" {
			t.Errorf("got key %v, IsCA %v, subject %q; want an ECDSA client certificate named AWS IoT Certificate",
				cert.PublicKeyAlgorithm, cert.IsCA, cert.Subject)
		}
		if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
			t.Errorf("got ext key usage %v, want client auth", cert.ExtKeyUsage)
		}
		// The key pair is the certificate's.
		pub, _ := pem.Decode([]byte(aws.ToString(out.KeyPair.PublicKey)))
		priv, _ := pem.Decode([]byte(aws.ToString(out.KeyPair.PrivateKey)))
		if pub == nil || pub.Type != "PUBLIC KEY" || priv == nil || priv.Type != "EC PRIVATE KEY" {
			t.Fatalf("got key pair %q / %q, want PEM PUBLIC KEY and EC PRIVATE KEY", aws.ToString(out.KeyPair.PublicKey), "(private)")
		}
		if string(pub.Bytes) != string(cert.RawSubjectPublicKeyInfo) {
			t.Errorf("keyPair.PublicKey is not the certificate's public key")
		}
		key, err := x509.ParseECPrivateKey(priv.Bytes)
		if err != nil || !key.PublicKey.Equal(cert.PublicKey.(*ecdsa.PublicKey)) {
			t.Errorf("keyPair.PrivateKey does not belong to the certificate (%v)", err)
		}
		d := certDescribe(t, e.a, id)
		if d.Status != tc.want || d.CaCertificateId != nil || d.CertificateMode != types.CertificateModeDefault ||
			aws.ToString(d.OwnedBy) != accountA || aws.ToInt32(d.CustomerVersion) != 1 || !isUUID(aws.ToString(d.GenerationId)) ||
			aws.ToString(d.CertificatePem) != aws.ToString(out.CertificatePem) || aws.ToString(d.CertificateArn) != certARN(accountA, id) {
			t.Errorf("setAsActive=%v: got status %s, caCertificateId %v, mode %s, ownedBy %s, version %d, generationId %s",
				tc.active, d.Status, aws.ToString(d.CaCertificateId), d.CertificateMode, aws.ToString(d.OwnedBy),
				aws.ToInt32(d.CustomerVersion), aws.ToString(d.GenerationId))
		}
		if nb, na := aws.ToTime(d.Validity.NotBefore), aws.ToTime(d.Validity.NotAfter); !nb.Equal(cert.NotBefore) || !na.Equal(cert.NotAfter) {
			t.Errorf("got validity %v..%v, want the certificate's %v..%v", nb, na, cert.NotBefore, cert.NotAfter)
		}
		if c := aws.ToTime(d.CreationDate); c.Before(before) || c.After(time.Now().Add(time.Second)) || !c.Equal(aws.ToTime(d.LastModifiedDate)) {
			t.Errorf("got creationDate %v lastModifiedDate %v, want now and equal", c, aws.ToTime(d.LastModifiedDate))
		}
		changes := certChanges(t, e, certARN(accountA, id))
		if len(changes) != 1 {
			t.Fatalf("got %d change-log rows, want 1", len(changes))
		}
		certWantChange(t, changes[0], "CreateKeysAndCertificate", "",
			`{"status":"`+string(tc.want)+`","certificateMode":"DEFAULT"}`)
	}
}

// All certificates of a scope are signed by one issuing CA, made once even
// when the first requests race, kept across restarts, and not shared with
// other accounts.
func TestCertIssuingCA(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 8
	pems := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := e.a.CreateKeysAndCertificate(certCtx, &iot.CreateKeysAndCertificateInput{})
			if err != nil {
				t.Errorf("CreateKeysAndCertificate: %v", err)
				return
			}
			pems[i] = aws.ToString(out.CertificatePem)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	first := certParse(t, pems[0])
	for _, p := range pems[1:] {
		c := certParse(t, p)
		if string(c.AuthorityKeyId) != string(first.AuthorityKeyId) || string(c.RawIssuer) != string(first.RawIssuer) {
			t.Fatalf("concurrent first uses made two issuing CAs: %x and %x", c.AuthorityKeyId, first.AuthorityKeyId)
		}
	}
	e.restart()
	if c := certParse(t, aws.ToString(certCreate(t, e.a, false).CertificatePem)); string(c.AuthorityKeyId) != string(first.AuthorityKeyId) {
		t.Errorf("after restart the issuing CA changed")
	}
	if c := certParse(t, aws.ToString(certCreate(t, e.b, false).CertificatePem)); string(c.AuthorityKeyId) == string(first.AuthorityKeyId) {
		t.Errorf("accounts A and B share an issuing CA")
	}
	// The issuing CA is not a registered CA certificate.
	out, err := e.a.ListCACertificates(certCtx, &iot.ListCACertificatesInput{})
	if err != nil || len(out.Certificates) != 0 {
		t.Errorf("ListCACertificates: got %v, %v; want no CA certificates", out, err)
	}
}

func TestCertRegisterCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := certNewCA(t, "Test Root")
	certRegisterCA(t, e.a, root, true)
	inactive := certNewCA(t, "Inactive Root")
	certRegisterCA(t, e.a, inactive, false)
	other := certNewCA(t, "Other Root")
	certRegisterCA(t, e.a, other, true)
	unregistered := certNewCA(t, "Unregistered Root")
	bRoot := certNewCA(t, "B Root")
	certRegisterCA(t, e.b, bRoot, true)
	inter := root.intermediate(t, "Test Intermediate")
	certRegisterCA(t, e.a, inter, true)

	good := root.leaf(t, "dev")
	malformed := strings.Replace(good, "M", "A", 5)
	expired := root.leafValid(t, "old", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	for _, tc := range []struct {
		name        string
		pem, caPEM  string
		setActive   *bool
		status      types.CertificateStatus
		wantCode    string
		wantStatus  types.CertificateStatus
		wantCA      string
		wantHTTP    int
		wantRegOnce bool
	}{
		{name: "signed by an active CA, default INACTIVE", pem: good, wantStatus: types.CertificateStatusInactive, wantCA: root.id},
		{name: "caCertificatePem names the CA", pem: root.leaf(t, "d2"), caPEM: root.pem, wantStatus: types.CertificateStatusInactive, wantCA: root.id},
		{name: "status ACTIVE", pem: root.leaf(t, "d3"), status: types.CertificateStatusActive, wantStatus: types.CertificateStatusActive, wantCA: root.id},
		{name: "status REVOKED", pem: root.leaf(t, "d4"), status: types.CertificateStatusRevoked, wantStatus: types.CertificateStatusRevoked, wantCA: root.id},
		{name: "setAsActive=true", pem: root.leaf(t, "d5"), setActive: aws.Bool(true), wantStatus: types.CertificateStatusActive, wantCA: root.id},
		{name: "status wins over setAsActive", pem: root.leaf(t, "d6"), setActive: aws.Bool(true), status: types.CertificateStatusInactive, wantStatus: types.CertificateStatusInactive, wantCA: root.id},
		{name: "signed by a registered intermediate", pem: inter.leaf(t, "d7"), wantStatus: types.CertificateStatusInactive, wantCA: inter.id},
		{name: "malformed PEM", pem: malformed, wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "not PEM at all", pem: "hello", wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "a private key, not a certificate", pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "signed by an unregistered CA", pem: unregistered.leaf(t, "x"), wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "signed by an INACTIVE CA", pem: inactive.leaf(t, "x"), wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "caCertificatePem is another CA", pem: root.leaf(t, "x"), caPEM: other.pem, wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "caCertificatePem not registered", pem: unregistered.leaf(t, "x"), caPEM: unregistered.pem, wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "caCertificatePem malformed", pem: root.leaf(t, "x"), caPEM: "junk", wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "signed by another account's CA", pem: bRoot.leaf(t, "x"), wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "self-signed", pem: certSelfSigned(t, "self"), wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "expired", pem: expired, wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "status PENDING_TRANSFER", pem: root.leaf(t, "x"), status: types.CertificateStatusPendingTransfer, wantCode: "InvalidRequestException", wantHTTP: 400},
		{name: "status PENDING_ACTIVATION", pem: root.leaf(t, "x"), status: types.CertificateStatusPendingActivation, wantCode: "InvalidRequestException", wantHTTP: 400},
		{name: "status not in the enum", pem: root.leaf(t, "x"), status: "BOGUS", wantCode: "InvalidRequestException", wantHTTP: 400},
		{name: "already registered", pem: good, wantCode: "ResourceAlreadyExistsException", wantHTTP: 409},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &iot.RegisterCertificateInput{CertificatePem: aws.String(tc.pem), SetAsActive: tc.setActive, Status: tc.status}
			if tc.caPEM != "" {
				in.CaCertificatePem = aws.String(tc.caPEM)
			}
			changes := certChangeCount(t, e)
			out, err := e.a.RegisterCertificate(certCtx, in)
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode, tc.wantHTTP)
				if got := certChangeCount(t, e); got != changes {
					t.Errorf("a rejected request added %d change-log rows", got-changes)
				}
				if tc.wantCode != "ResourceAlreadyExistsException" && strings.HasPrefix(tc.pem, "-----BEGIN CERTIFICATE") {
					if p, _ := pem.Decode([]byte(tc.pem)); p != nil {
						if c, err := x509.ParseCertificate(p.Bytes); err == nil {
							certWantMissing(t, e.a, certIDOf(c.Raw))
						}
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("RegisterCertificate: %v", err)
			}
			id := certIDOfPEM(t, tc.pem)
			if aws.ToString(out.CertificateId) != id || aws.ToString(out.CertificateArn) != certARN(accountA, id) {
				t.Errorf("got %s %s, want %s and its ARN", aws.ToString(out.CertificateId), aws.ToString(out.CertificateArn), id)
			}
			d := certDescribe(t, e.a, id)
			if d.Status != tc.wantStatus || aws.ToString(d.CaCertificateId) != tc.wantCA || d.CertificateMode != types.CertificateModeDefault {
				t.Errorf("got status %s, CA %s, mode %s; want %s, %s, DEFAULT", d.Status, aws.ToString(d.CaCertificateId), d.CertificateMode, tc.wantStatus, tc.wantCA)
			}
			changes2 := certChanges(t, e, certARN(accountA, id))
			if len(changes2) != 1 {
				t.Fatalf("got %d change-log rows, want 1", len(changes2))
			}
			certWantChange(t, changes2[0], "RegisterCertificate", "",
				`{"status":"`+string(tc.wantStatus)+`","caCertificateId":"`+tc.wantCA+`","certificateMode":"DEFAULT"}`)
		})
	}

	// The duplicate's error names the existing certificate.
	r := e.call(t, "POST", "/certificate/register", certJSON(map[string]string{"certificatePem": good}))
	wantJSONError(t, r, "ResourceAlreadyExistsException", 409)
	if id, arn := certRawError(t, r); id != certIDOfPEM(t, good) || arn != certARN(accountA, id) {
		t.Errorf("got resourceId %q resourceArn %q, want the registered certificate's", id, arn)
	}
	// Required members, checked by the server (the SDK would refuse to send).
	r = e.call(t, "POST", "/certificate/register", []byte(`{}`))
	if msg := wantJSONError(t, r, "InvalidRequestException", 400); !strings.Contains(msg, "certificatePem") {
		t.Errorf("got message %q, want it to name certificatePem", msg)
	}
	r = e.call(t, "POST", "/certificate/register?setAsActive=maybe", certJSON(map[string]string{"certificatePem": root.leaf(t, "q")}))
	wantJSONError(t, r, "InvalidRequestException", 400)
}

// Two registered CAs with the same subject and key both verify a device
// certificate: without caCertificatePem the choice is ambiguous.
func TestCertRegisterCertificateConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := certNewKey(t)
	ca1 := certNewCAWithKey(t, "Twin Root", key)
	ca2 := certNewCAWithKey(t, "Twin Root", key)
	certRegisterCA(t, e.a, ca1, true)
	certRegisterCA(t, e.a, ca2, true)
	leaf := ca1.leaf(t, "twin-device")
	_, err := e.a.RegisterCertificate(certCtx, &iot.RegisterCertificateInput{CertificatePem: aws.String(leaf)})
	wantCode(t, err, "CertificateConflictException", 409)
	certWantMissing(t, e.a, certIDOfPEM(t, leaf))
	out, err := e.a.RegisterCertificate(certCtx, &iot.RegisterCertificateInput{CertificatePem: aws.String(leaf), CaCertificatePem: aws.String(ca2.pem)})
	if err != nil {
		t.Fatalf("RegisterCertificate with caCertificatePem: %v", err)
	}
	if got := aws.ToString(certDescribe(t, e.a, aws.ToString(out.CertificateId)).CaCertificateId); got != ca2.id {
		t.Errorf("got caCertificateId %s, want the named CA %s", got, ca2.id)
	}
}

func TestCertRegisterCertificateWithoutCA(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	unregistered := certNewCA(t, "Nobody's Root")
	self := certSelfSigned(t, "self")
	for _, tc := range []struct {
		name       string
		pem        string
		status     types.CertificateStatus
		wantCode   string
		wantHTTP   int
		wantStatus types.CertificateStatus
	}{
		{name: "self-signed, default INACTIVE", pem: self, wantStatus: types.CertificateStatusInactive},
		{name: "unregistered CA, ACTIVE", pem: unregistered.leaf(t, "d"), status: types.CertificateStatusActive, wantStatus: types.CertificateStatusActive},
		{name: "again", pem: self, wantCode: "ResourceAlreadyExistsException", wantHTTP: 409},
		{name: "malformed", pem: "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----", wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "REGISTER_INACTIVE is deprecated", pem: unregistered.leaf(t, "e"), status: types.CertificateStatusRegisterInactive, wantCode: "InvalidRequestException", wantHTTP: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changes := certChangeCount(t, e)
			out, err := e.a.RegisterCertificateWithoutCA(certCtx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(tc.pem), Status: tc.status})
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode, tc.wantHTTP)
				if got := certChangeCount(t, e); got != changes {
					t.Errorf("a rejected request added %d change-log rows", got-changes)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			id := certIDOfPEM(t, tc.pem)
			if aws.ToString(out.CertificateId) != id {
				t.Errorf("got id %s, want %s", aws.ToString(out.CertificateId), id)
			}
			d := certDescribe(t, e.a, id)
			if d.Status != tc.wantStatus || d.CaCertificateId != nil || d.CertificateMode != types.CertificateModeSniOnly {
				t.Errorf("got status %s CA %v mode %s, want %s, no CA, SNI_ONLY", d.Status, aws.ToString(d.CaCertificateId), d.CertificateMode, tc.wantStatus)
			}
			certWantChange(t, certChanges(t, e, certARN(accountA, id))[0], "RegisterCertificateWithoutCA", "",
				`{"status":"`+string(tc.wantStatus)+`","certificateMode":"SNI_ONLY"}`)
		})
	}
	// The same certificate cannot then be registered with a CA either.
	_, err := e.a.RegisterCertificate(certCtx, &iot.RegisterCertificateInput{CertificatePem: aws.String(self)})
	wantCode(t, err, "ResourceAlreadyExistsException", 409)
}

func TestCertUpdateCertificateTransitions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	statuses := []types.CertificateStatus{types.CertificateStatusActive, types.CertificateStatusInactive, types.CertificateStatusRevoked}
	for _, from := range statuses {
		for _, to := range []types.CertificateStatus{
			types.CertificateStatusActive, types.CertificateStatusInactive, types.CertificateStatusRevoked,
			types.CertificateStatusPendingTransfer, types.CertificateStatusPendingActivation, types.CertificateStatusRegisterInactive, "BOGUS",
		} {
			t.Run(string(from)+"->"+string(to), func(t *testing.T) {
				out, err := e.a.RegisterCertificateWithoutCA(certCtx, &iot.RegisterCertificateWithoutCAInput{
					CertificatePem: aws.String(certSelfSigned(t, "c")), Status: from})
				if err != nil {
					t.Fatal(err)
				}
				id := aws.ToString(out.CertificateId)
				before := certDescribe(t, e.a, id)
				var wantErr string
				var wantHTTP int
				switch {
				case to != types.CertificateStatusActive && to != types.CertificateStatusInactive && to != types.CertificateStatusRevoked:
					wantErr, wantHTTP = "InvalidRequestException", 400
				case from == types.CertificateStatusRevoked && to != from:
					wantErr, wantHTTP = "CertificateStateException", 406
				}
				_, err = e.a.UpdateCertificate(certCtx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: to})
				after := certDescribe(t, e.a, id)
				changes := certChanges(t, e, certARN(accountA, id))
				if wantErr != "" {
					wantCode(t, err, wantErr, wantHTTP)
					if after.Status != from || aws.ToInt32(after.CustomerVersion) != 1 || len(changes) != 1 {
						t.Errorf("rejected update changed the certificate: status %s, version %d, %d changes", after.Status, aws.ToInt32(after.CustomerVersion), len(changes))
					}
					return
				}
				if err != nil {
					t.Fatalf("UpdateCertificate: %v", err)
				}
				if after.Status != to {
					t.Errorf("got status %s, want %s", after.Status, to)
				}
				if from == to {
					if aws.ToInt32(after.CustomerVersion) != 1 || len(changes) != 1 || !aws.ToTime(after.LastModifiedDate).Equal(aws.ToTime(before.LastModifiedDate)) {
						t.Errorf("an idempotent update changed version to %d, logged %d changes", aws.ToInt32(after.CustomerVersion), len(changes))
					}
					return
				}
				if aws.ToInt32(after.CustomerVersion) != 2 || aws.ToString(after.GenerationId) == aws.ToString(before.GenerationId) {
					t.Errorf("got customerVersion %d generationId %s (was %s), want 2 and a new generationId",
						aws.ToInt32(after.CustomerVersion), aws.ToString(after.GenerationId), aws.ToString(before.GenerationId))
				}
				if len(changes) != 2 {
					t.Fatalf("got %d change-log rows, want 2", len(changes))
				}
				certWantChange(t, changes[1], "UpdateCertificate", `{"status":"`+string(from)+`"}`, `{"status":"`+string(to)+`"}`)
			})
		}
	}

	t.Run("unknown certificate", func(t *testing.T) {
		_, err := e.a.UpdateCertificate(certCtx, &iot.UpdateCertificateInput{CertificateId: aws.String(strings.Repeat("ab", 32)), NewStatus: types.CertificateStatusActive})
		wantCode(t, err, "ResourceNotFoundException", 404)
	})
	t.Run("newStatus missing", func(t *testing.T) {
		r := e.call(t, "PUT", "/certificates/"+strings.Repeat("ab", 32), nil)
		wantJSONError(t, r, "InvalidRequestException", 400)
	})
}

// PENDING_TRANSFER certificates (made by a transfer, which Warden has no
// API for) cannot change or be deleted.
func TestCertPendingTransferFrozen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := aws.ToString(certCreate(t, e.a, false).CertificateId)
	certExec(t, e, `UPDATE certificates SET status = 'PENDING_TRANSFER' WHERE id = ?`, id)
	for _, to := range []types.CertificateStatus{types.CertificateStatusActive, types.CertificateStatusInactive, types.CertificateStatusRevoked} {
		_, err := e.a.UpdateCertificate(certCtx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: to})
		wantCode(t, err, "CertificateStateException", 406)
	}
	_, err := e.a.DeleteCertificate(certCtx, &iot.DeleteCertificateInput{CertificateId: aws.String(id), ForceDelete: true})
	wantCode(t, err, "CertificateStateException", 406)
	if d := certDescribe(t, e.a, id); d.Status != types.CertificateStatusPendingTransfer {
		t.Errorf("got status %s, want PENDING_TRANSFER", d.Status)
	}
}

// A certificate whose CA is INACTIVE cannot be activated; once the CA is
// active again it can.
func TestCertActivateUnderInactiveCA(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ca := certNewCA(t, "Root")
	certRegisterCA(t, e.a, ca, true)
	id := certRegister(t, e.a, ca.leaf(t, "d"), "")
	if _, err := e.a.UpdateCACertificate(certCtx, &iot.UpdateCACertificateInput{CertificateId: aws.String(ca.id), NewStatus: types.CACertificateStatusInactive}); err != nil {
		t.Fatal(err)
	}
	_, err := e.a.UpdateCertificate(certCtx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: types.CertificateStatusActive})
	wantCode(t, err, "CertificateStateException", 406)
	if d := certDescribe(t, e.a, id); d.Status != types.CertificateStatusInactive {
		t.Errorf("got status %s, want INACTIVE", d.Status)
	}
	// Revoking is still allowed.
	certSetStatus(t, e.a, aws.ToString(certRegisterActiveLater(t, e, ca)), types.CertificateStatusRevoked)
	if _, err := e.a.UpdateCACertificate(certCtx, &iot.UpdateCACertificateInput{CertificateId: aws.String(ca.id), NewStatus: types.CACertificateStatusActive}); err != nil {
		t.Fatal(err)
	}
	certSetStatus(t, e.a, id, types.CertificateStatusActive)
}

// certRegisterActiveLater registers a second device certificate of ca
// while ca is briefly active, then deactivates ca again.
func certRegisterActiveLater(t *testing.T, e *env, ca *certCA) *string {
	t.Helper()
	if _, err := e.a.UpdateCACertificate(certCtx, &iot.UpdateCACertificateInput{CertificateId: aws.String(ca.id), NewStatus: types.CACertificateStatusActive}); err != nil {
		t.Fatal(err)
	}
	id := certRegister(t, e.a, ca.leaf(t, "later"), "")
	if _, err := e.a.UpdateCACertificate(certCtx, &iot.UpdateCACertificateInput{CertificateId: aws.String(ca.id), NewStatus: types.CACertificateStatusInactive}); err != nil {
		t.Fatal(err)
	}
	return &id
}

func TestCertDeleteCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	certThing(t, e, e.a, accountA, "lamp")
	for _, tc := range []struct {
		name     string
		status   types.CertificateStatus
		thing    bool
		policy   bool
		force    bool
		wantCode string
		wantHTTP int
	}{
		{name: "INACTIVE, unattached", status: types.CertificateStatusInactive},
		{name: "REVOKED, unattached", status: types.CertificateStatusRevoked},
		{name: "ACTIVE", status: types.CertificateStatusActive, wantCode: "CertificateStateException", wantHTTP: 406},
		{name: "ACTIVE with force", status: types.CertificateStatusActive, force: true, wantCode: "CertificateStateException", wantHTTP: 406},
		{name: "attached to a thing", status: types.CertificateStatusInactive, thing: true, wantCode: "DeleteConflictException", wantHTTP: 409},
		{name: "attached to a thing, force", status: types.CertificateStatusInactive, thing: true, force: true, wantCode: "DeleteConflictException", wantHTTP: 409},
		{name: "attached to a policy", status: types.CertificateStatusInactive, policy: true, wantCode: "DeleteConflictException", wantHTTP: 409},
		{name: "attached to a policy, force", status: types.CertificateStatusInactive, policy: true, force: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := e.a.RegisterCertificateWithoutCA(certCtx, &iot.RegisterCertificateWithoutCAInput{
				CertificatePem: aws.String(certSelfSigned(t, "c")), Status: tc.status})
			if err != nil {
				t.Fatal(err)
			}
			id := aws.ToString(out.CertificateId)
			arn := certARN(accountA, id)
			if tc.thing {
				if _, err := e.a.AttachThingPrincipal(certCtx, &iot.AttachThingPrincipalInput{ThingName: aws.String("lamp"), Principal: aws.String(arn)}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.policy {
				certExec(t, e, `INSERT INTO policy_targets (account, region, policy_name, target, created_at) VALUES (?, ?, 'p1', ?, 0), (?, ?, 'p2', ?, 0)`,
					accountA, region, arn, accountA, region, arn)
			}
			changes := certChangeCount(t, e)
			_, err = e.a.DeleteCertificate(certCtx, &iot.DeleteCertificateInput{CertificateId: aws.String(id), ForceDelete: tc.force})
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode, tc.wantHTTP)
				certDescribe(t, e.a, id)
				if got := certChangeCount(t, e); got != changes {
					t.Errorf("a rejected delete added %d change-log rows", got-changes)
				}
				return
			}
			if err != nil {
				t.Fatalf("DeleteCertificate: %v", err)
			}
			certWantMissing(t, e.a, id)
			var n int
			if err := rawDB(t, e).QueryRow(`SELECT COUNT(*) FROM policy_targets WHERE target = ?`, arn).Scan(&n); err != nil || n != 0 {
				t.Errorf("got %d policy attachments left (%v), want 0", n, err)
			}
			cl := certChanges(t, e, arn)
			policies := ""
			if tc.policy {
				policies = `,"policies":["p1","p2"]`
			}
			certWantChange(t, cl[len(cl)-1], "DeleteCertificate", `{"status":"`+string(tc.status)+`","certificateMode":"SNI_ONLY"`+policies+`}`, "")
			_, err = e.a.DeleteCertificate(certCtx, &iot.DeleteCertificateInput{CertificateId: aws.String(id)})
			wantCode(t, err, "ResourceNotFoundException", 404)
		})
	}
}

func TestCertListCertificates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []string
	for range 7 {
		ids = append(ids, aws.ToString(certCreate(t, e.a, false).CertificateId))
	}
	reversed := slices.Clone(ids)
	slices.Reverse(reversed)
	for _, size := range []int32{1, 3, 7, 250} {
		if got := certListIDs(t, e.a, true, size); !slices.Equal(got, ids) {
			t.Errorf("ascending, pages of %d: got %v, want %v", size, got, ids)
		}
		if got := certListIDs(t, e.a, false, size); !slices.Equal(got, reversed) {
			t.Errorf("descending, pages of %d: got %v, want %v", size, got, reversed)
		}
	}
	// Default: 25 per page, newest first, with status, mode and creationDate.
	out, err := e.a.ListCertificates(certCtx, &iot.ListCertificatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Certificates) != 7 || out.NextMarker != nil || aws.ToString(out.Certificates[0].CertificateId) != ids[6] {
		t.Fatalf("got %d certificates, next %v, want all 7 newest first", len(out.Certificates), out.NextMarker)
	}
	c0 := out.Certificates[0]
	if aws.ToString(c0.CertificateArn) != certARN(accountA, ids[6]) || c0.Status != types.CertificateStatusInactive ||
		c0.CertificateMode != types.CertificateModeDefault || c0.CreationDate == nil {
		t.Errorf("got %+v", c0)
	}

	// Markers match the model's pattern, are bound to order and account,
	// and deleting the last row seen does not lose a page.
	page, err := e.a.ListCertificates(certCtx, &iot.ListCertificatesInput{PageSize: aws.Int32(3), AscendingOrder: true})
	if err != nil {
		t.Fatal(err)
	}
	marker := aws.ToString(page.NextMarker)
	if !certMarkerPattern(marker) || len(marker) > 1024 {
		t.Errorf("got nextMarker %q, want [A-Za-z0-9+/]+={0,2} of at most 1024 characters", marker)
	}
	if _, err := e.a.DeleteCertificate(certCtx, &iot.DeleteCertificateInput{CertificateId: aws.String(ids[2])}); err != nil {
		t.Fatal(err)
	}
	rest, err := e.a.ListCertificates(certCtx, &iot.ListCertificatesInput{PageSize: aws.Int32(10), AscendingOrder: true, Marker: page.NextMarker})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range rest.Certificates {
		got = append(got, aws.ToString(c.CertificateId))
	}
	if !slices.Equal(got, ids[3:]) {
		t.Errorf("after deleting the last row seen: got %v, want %v", got, ids[3:])
	}
	for _, tc := range []struct {
		name string
		c    *iot.Client
		in   *iot.ListCertificatesInput
	}{
		{"marker from the other order", e.a, &iot.ListCertificatesInput{Marker: page.NextMarker}},
		{"marker from another account", e.b, &iot.ListCertificatesInput{Marker: page.NextMarker, AscendingOrder: true}},
		{"tampered marker", e.a, &iot.ListCertificatesInput{Marker: aws.String("QUJD"), AscendingOrder: true}},
		{"marker not base64", e.a, &iot.ListCertificatesInput{Marker: aws.String("a.b"), AscendingOrder: true}},
		{"pageSize 0", e.a, &iot.ListCertificatesInput{PageSize: aws.Int32(0)}},
		{"pageSize 251", e.a, &iot.ListCertificatesInput{PageSize: aws.Int32(251)}},
	} {
		_, err := tc.c.ListCertificates(certCtx, tc.in)
		t.Run(tc.name, func(t *testing.T) { wantCode(t, err, "InvalidRequestException", 400) })
	}
	r := e.call(t, "GET", "/certificates?isAscendingOrder=sideways", nil)
	wantJSONError(t, r, "InvalidRequestException", 400)
	// Raw wire shape: an empty list is [] and no nextMarker.
	list := wantOK(t, e.send(t, certSigned(t, e, keyB, secretB, "GET", "/certificates")))
	if certs, ok := list["certificates"].([]any); !ok || len(certs) != 0 || list["nextMarker"] != nil {
		t.Errorf("account B: got %v, want {\"certificates\": []}", list)
	}
}

// certSigned signs a raw request for key.
func certSigned(t testing.TB, e *env, key, secret, method, path string) *http.Request {
	t.Helper()
	r := e.newRequest(t, method, path, nil)
	signer{key: key, secret: secret, service: "iot", region: region}.sign(t, r, nil)
	return r
}

func TestCertListCertificatesByCA(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ca1, ca2 := certNewCA(t, "One"), certNewCA(t, "Two")
	certRegisterCA(t, e.a, ca1, true)
	certRegisterCA(t, e.a, ca2, true)
	var of1 []string
	for i := range 5 {
		of1 = append(of1, certRegister(t, e.a, ca1.leaf(t, "a"), ""))
		if i%2 == 0 {
			certRegister(t, e.a, ca2.leaf(t, "b"), "")
		}
		certCreate(t, e.a, false)
	}
	var got []string
	var marker *string
	for {
		out, err := e.a.ListCertificatesByCA(certCtx, &iot.ListCertificatesByCAInput{
			CaCertificateId: aws.String(ca1.id), PageSize: aws.Int32(2), AscendingOrder: true, Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range out.Certificates {
			got = append(got, aws.ToString(c.CertificateId))
		}
		if marker = out.NextMarker; marker == nil {
			break
		}
	}
	if !slices.Equal(got, of1) {
		t.Errorf("got %v, want CA one's certificates %v", got, of1)
	}
	// A marker of one CA's list is no good for another's.
	out, err := e.a.ListCertificatesByCA(certCtx, &iot.ListCertificatesByCAInput{CaCertificateId: aws.String(ca1.id), PageSize: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.a.ListCertificatesByCA(certCtx, &iot.ListCertificatesByCAInput{CaCertificateId: aws.String(ca2.id), Marker: out.NextMarker})
	wantCode(t, err, "InvalidRequestException", 400)
	// An unknown CA, or another account's, has no certificates.
	for _, c := range []*iot.Client{e.a, e.b} {
		out, err := c.ListCertificatesByCA(certCtx, &iot.ListCertificatesByCAInput{CaCertificateId: aws.String(strings.Repeat("0", 64))})
		if err != nil || len(out.Certificates) != 0 {
			t.Errorf("unknown CA: got %v, %v", out, err)
		}
	}
	if out, err := e.b.ListCertificatesByCA(certCtx, &iot.ListCertificatesByCAInput{CaCertificateId: aws.String(ca1.id)}); err != nil || len(out.Certificates) != 0 {
		t.Errorf("account B sees account A's certificates by CA: %v, %v", out, err)
	}
	_, err = e.a.ListCertificatesByCA(certCtx, &iot.ListCertificatesByCAInput{CaCertificateId: aws.String("abc")})
	wantCode(t, err, "InvalidRequestException", 400)
}

func TestCertRegisterCACertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	code := certCode(t, e.a)
	stranger := certNewCA(t, "Stranger")
	leafKey := certNewKey(t)
	notCA := &certCA{key: leafKey}
	notCA.cert, notCA.pem = certMake(t, &x509.Certificate{Subject: certCATemplate("NotCA").Subject}, leafKey, nil)
	expiredKey := certNewKey(t)
	expiredTmpl := certCATemplate("Expired")
	expiredTmpl.NotBefore, expiredTmpl.NotAfter = time.Now().Add(-72*time.Hour), time.Now().Add(-time.Hour)
	expired := &certCA{key: expiredKey}
	expired.cert, expired.pem = certMake(t, expiredTmpl, expiredKey, nil)

	type input = iot.RegisterCACertificateInput
	for _, tc := range []struct {
		name     string
		ca       *certCA
		in       func(ca *certCA) *input
		wantCode string
		wantHTTP int
		check    func(t *testing.T, ca *certCA, d *iot.DescribeCACertificateOutput)
	}{
		{name: "DEFAULT with a verification certificate", ca: certNewCA(t, "R1"),
			in: func(ca *certCA) *input {
				return &input{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.verification(t, code))}
			},
			check: func(t *testing.T, ca *certCA, d *iot.DescribeCACertificateOutput) {
				cd := d.CertificateDescription
				if cd.Status != types.CACertificateStatusInactive || cd.CertificateMode != types.CertificateModeDefault ||
					cd.AutoRegistrationStatus != types.AutoRegistrationStatusDisable || d.RegistrationConfig != nil ||
					aws.ToString(cd.OwnedBy) != accountA || aws.ToInt32(cd.CustomerVersion) != 1 || !isUUID(aws.ToString(cd.GenerationId)) ||
					aws.ToString(cd.CertificateArn) != caARN(accountA, ca.id) || aws.ToString(cd.CertificatePem) != ca.pem {
					t.Errorf("got %+v / %+v", cd, d.RegistrationConfig)
				}
				if nb, na := aws.ToTime(cd.Validity.NotBefore), aws.ToTime(cd.Validity.NotAfter); !nb.Equal(ca.cert.NotBefore.Truncate(time.Second)) || !na.Equal(ca.cert.NotAfter.Truncate(time.Second)) {
					t.Errorf("got validity %v..%v, want %v..%v", nb, na, ca.cert.NotBefore, ca.cert.NotAfter)
				}
				cl := certChanges(t, e, caARN(accountA, ca.id))
				certWantChange(t, cl[0], "RegisterCACertificate", "", `{"status":"INACTIVE","certificateMode":"DEFAULT","autoRegistrationStatus":"DISABLE"}`)
			}},
		{name: "setAsActive, allowAutoRegistration, registrationConfig, tags", ca: certNewCA(t, "R2"),
			in: func(ca *certCA) *input {
				return &input{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.verification(t, code)),
					SetAsActive: true, AllowAutoRegistration: true, Tags: []types.Tag{tag("env", "test"), tag("team", "iot")},
					RegistrationConfig: &types.RegistrationConfig{TemplateName: aws.String("jitp-1"), RoleArn: aws.String(roleArn), TemplateBody: aws.String("{}")}}
			},
			check: func(t *testing.T, ca *certCA, d *iot.DescribeCACertificateOutput) {
				cd := d.CertificateDescription
				if cd.Status != types.CACertificateStatusActive || cd.AutoRegistrationStatus != types.AutoRegistrationStatusEnable {
					t.Errorf("got status %s auto %s, want ACTIVE ENABLE", cd.Status, cd.AutoRegistrationStatus)
				}
				rc := d.RegistrationConfig
				if rc == nil || aws.ToString(rc.TemplateName) != "jitp-1" || aws.ToString(rc.RoleArn) != roleArn || aws.ToString(rc.TemplateBody) != "{}" {
					t.Errorf("got registrationConfig %+v", rc)
				}
				if got := tagsString(listTags(t, e.a, caARN(accountA, ca.id))); got != "env=test,team=iot" {
					t.Errorf("got tags %s", got)
				}
			}},
		{name: "an intermediate CA", ca: certNewCA(t, "R3").intermediate(t, "I3"),
			in: func(ca *certCA) *input {
				return &input{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.verification(t, code))}
			}},
		{name: "SNI_ONLY without a verification certificate", ca: certNewCA(t, "R4"),
			in: func(ca *certCA) *input {
				return &input{CaCertificate: aws.String(ca.pem), CertificateMode: types.CertificateModeSniOnly, SetAsActive: true}
			},
			check: func(t *testing.T, ca *certCA, d *iot.DescribeCACertificateOutput) {
				if d.CertificateDescription.CertificateMode != types.CertificateModeSniOnly {
					t.Errorf("got mode %s", d.CertificateDescription.CertificateMode)
				}
				// Its device certificates are SNI_ONLY too.
				id := certRegister(t, e.a, ca.leaf(t, "sni-dev"), "")
				if m := certDescribe(t, e.a, id).CertificateMode; m != types.CertificateModeSniOnly {
					t.Errorf("device certificate of an SNI_ONLY CA: got mode %s", m)
				}
			}},
		{name: "verification CN is not the registration code", ca: certNewCA(t, "X1"),
			in: func(ca *certCA) *input {
				return &input{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.verification(t, strings.Repeat("0", 64)))}
			}, wantCode: "RegistrationCodeValidationException", wantHTTP: 400},
		{name: "verification CN is account B's code", ca: certNewCA(t, "X2"),
			in: func(ca *certCA) *input {
				return &input{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.verification(t, certCode(t, e.b)))}
			}, wantCode: "RegistrationCodeValidationException", wantHTTP: 400},
		{name: "verification signed by another key", ca: certNewCA(t, "X3"),
			in: func(ca *certCA) *input {
				return &input{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(stranger.verification(t, code))}
			}, wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "verification malformed", ca: certNewCA(t, "X4"),
			in: func(ca *certCA) *input {
				return &input{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String("garbage")}
			}, wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "caCertificate malformed", ca: &certCA{pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
			in: func(ca *certCA) *input {
				return &input{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(stranger.verification(t, code))}
			}, wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "caCertificate is not a CA", ca: notCA,
			in: func(ca *certCA) *input {
				return &input{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.verification(t, code))}
			}, wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "caCertificate expired", ca: expired,
			in: func(ca *certCA) *input {
				return &input{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.verification(t, code))}
			}, wantCode: "CertificateValidationException", wantHTTP: 400},
		{name: "DEFAULT without a verification certificate", ca: certNewCA(t, "X5"),
			in:       func(ca *certCA) *input { return &input{CaCertificate: aws.String(ca.pem)} },
			wantCode: "InvalidRequestException", wantHTTP: 400},
		{name: "SNI_ONLY with a verification certificate", ca: certNewCA(t, "X6"),
			in: func(ca *certCA) *input {
				return &input{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.verification(t, code)), CertificateMode: types.CertificateModeSniOnly}
			}, wantCode: "InvalidRequestException", wantHTTP: 400},
		{name: "certificateMode not in the enum", ca: certNewCA(t, "X7"),
			in: func(ca *certCA) *input {
				return &input{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.verification(t, code)), CertificateMode: "LOOSE"}
			}, wantCode: "InvalidRequestException", wantHTTP: 400},
		{name: "templateName breaks the pattern", ca: certNewCA(t, "X8"),
			in: func(ca *certCA) *input {
				return &input{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.verification(t, code)),
					RegistrationConfig: &types.RegistrationConfig{TemplateName: aws.String("no spaces")}}
			}, wantCode: "InvalidRequestException", wantHTTP: 400},
		{name: "roleArn too short", ca: certNewCA(t, "X9"),
			in: func(ca *certCA) *input {
				return &input{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.verification(t, code)),
					RegistrationConfig: &types.RegistrationConfig{RoleArn: aws.String("arn:short")}}
			}, wantCode: "InvalidRequestException", wantHTTP: 400},
		{name: "51 tags", ca: certNewCA(t, "X10"),
			in: func(ca *certCA) *input {
				var tags []types.Tag
				for i := range 51 {
					tags = append(tags, tag("k"+strings.Repeat("x", i), "v"))
				}
				return &input{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.verification(t, code)), Tags: tags}
			}, wantCode: "InvalidRequestException", wantHTTP: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changes := certChangeCount(t, e)
			out, err := e.a.RegisterCACertificate(certCtx, tc.in(tc.ca))
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode, tc.wantHTTP)
				if got := certChangeCount(t, e); got != changes {
					t.Errorf("a rejected request added %d change-log rows", got-changes)
				}
				if tc.ca.cert != nil {
					_, err := e.a.DescribeCACertificate(certCtx, &iot.DescribeCACertificateInput{CertificateId: aws.String(certIDOf(tc.ca.cert.Raw))})
					wantCode(t, err, "ResourceNotFoundException", 404)
				}
				return
			}
			if err != nil {
				t.Fatalf("RegisterCACertificate: %v", err)
			}
			if aws.ToString(out.CertificateId) != tc.ca.id || aws.ToString(out.CertificateArn) != caARN(accountA, tc.ca.id) {
				t.Errorf("got %s %s, want %s and its ARN", aws.ToString(out.CertificateId), aws.ToString(out.CertificateArn), tc.ca.id)
			}
			if tc.check != nil {
				tc.check(t, tc.ca, caDescribe(t, e.a, tc.ca.id))
			}
			// Registering it again names the existing one.
			r := e.call(t, "POST", "/cacertificate", certJSON(map[string]any{"caCertificate": tc.ca.pem, "certificateMode": "SNI_ONLY"}))
			wantJSONError(t, r, "ResourceAlreadyExistsException", 409)
			if id, arn := certRawError(t, r); id != tc.ca.id || arn != caARN(accountA, tc.ca.id) {
				t.Errorf("got resourceId %q resourceArn %q", id, arn)
			}
		})
	}

	// Account B has no registration code until it asks for one.
	fresh := newEnv(t)
	ca := certNewCA(t, "Fresh")
	_, err := fresh.b.RegisterCACertificate(certCtx, &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.verification(t, strings.Repeat("a", 64)))})
	wantCode(t, err, "RegistrationCodeValidationException", 400)
	r := e.call(t, "POST", "/cacertificate", []byte(`{}`))
	wantJSONError(t, r, "InvalidRequestException", 400)
}

// At most 10 CA certificates with the same subject per account.
func TestCertCALimitPerSubject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for range 10 {
		certRegisterCA(t, e.a, certNewCA(t, "Same Subject"), false)
	}
	eleventh := certNewCA(t, "Same Subject")
	_, err := e.a.RegisterCACertificate(certCtx, &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(eleventh.pem), VerificationCertificate: aws.String(eleventh.verification(t, certCode(t, e.a)))})
	wantCode(t, err, "LimitExceededException", 410)
	// Another subject, or another account, is not limited.
	certRegisterCA(t, e.a, certNewCA(t, "Other Subject"), false)
	certRegisterCA(t, e.b, eleventh, false)
}

func TestCertUpdateCACertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ca := certNewCA(t, "Root")
	certRegisterCA(t, e.a, ca, false)
	arn := caARN(accountA, ca.id)
	rc := &types.RegistrationConfig{TemplateName: aws.String("tmpl"), RoleArn: aws.String(roleArn)}
	for _, tc := range []struct {
		name                 string
		in                   iot.UpdateCACertificateInput
		wantCode             string
		wantStatus           types.CACertificateStatus
		wantAuto             types.AutoRegistrationStatus
		wantTemplate         string
		wantBefore, wantAfer string
	}{
		{name: "activate", in: iot.UpdateCACertificateInput{NewStatus: types.CACertificateStatusActive},
			wantStatus: "ACTIVE", wantAuto: "DISABLE", wantBefore: `{"status":"INACTIVE"}`, wantAfer: `{"status":"ACTIVE"}`},
		{name: "activate again (no change)", in: iot.UpdateCACertificateInput{NewStatus: types.CACertificateStatusActive},
			wantStatus: "ACTIVE", wantAuto: "DISABLE"},
		{name: "enable auto-registration with a config", in: iot.UpdateCACertificateInput{NewAutoRegistrationStatus: types.AutoRegistrationStatusEnable, RegistrationConfig: rc},
			wantStatus: "ACTIVE", wantAuto: "ENABLE", wantTemplate: "tmpl",
			wantBefore: `{"autoRegistrationStatus":"DISABLE","registrationConfig":{}}`,
			wantAfer:   `{"autoRegistrationStatus":"ENABLE","registrationConfig":{"roleArn":"` + roleArn + `","templateName":"tmpl"}}`},
		{name: "REGISTER_INACTIVE is not a CA status", in: iot.UpdateCACertificateInput{NewStatus: "REGISTER_INACTIVE"},
			wantCode: "InvalidRequestException", wantStatus: "ACTIVE", wantAuto: "ENABLE", wantTemplate: "tmpl"},
		{name: "bad newAutoRegistrationStatus", in: iot.UpdateCACertificateInput{NewAutoRegistrationStatus: "MAYBE"},
			wantCode: "InvalidRequestException", wantStatus: "ACTIVE", wantAuto: "ENABLE", wantTemplate: "tmpl"},
		{name: "remove with a config", in: iot.UpdateCACertificateInput{RemoveAutoRegistration: true, RegistrationConfig: rc},
			wantCode: "InvalidRequestException", wantStatus: "ACTIVE", wantAuto: "ENABLE", wantTemplate: "tmpl"},
		{name: "remove auto-registration, deactivate", in: iot.UpdateCACertificateInput{RemoveAutoRegistration: true, NewStatus: types.CACertificateStatusInactive},
			wantStatus: "INACTIVE", wantAuto: "DISABLE",
			wantBefore: `{"status":"ACTIVE","autoRegistrationStatus":"ENABLE","registrationConfig":{"roleArn":"` + roleArn + `","templateName":"tmpl"}}`,
			wantAfer:   `{"status":"INACTIVE","autoRegistrationStatus":"DISABLE","registrationConfig":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(certChanges(t, e, arn))
			in := tc.in
			in.CertificateId = aws.String(ca.id)
			_, err := e.a.UpdateCACertificate(certCtx, &in)
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode, 400)
			} else if err != nil {
				t.Fatalf("UpdateCACertificate: %v", err)
			}
			d := caDescribe(t, e.a, ca.id)
			cd := d.CertificateDescription
			template := ""
			if d.RegistrationConfig != nil {
				template = aws.ToString(d.RegistrationConfig.TemplateName)
			}
			if cd.Status != tc.wantStatus || cd.AutoRegistrationStatus != tc.wantAuto || template != tc.wantTemplate {
				t.Errorf("got status %s auto %s template %q, want %s %s %q", cd.Status, cd.AutoRegistrationStatus, template, tc.wantStatus, tc.wantAuto, tc.wantTemplate)
			}
			cl := certChanges(t, e, arn)
			if tc.wantBefore == "" {
				if len(cl) != n {
					t.Errorf("got %d new change-log rows, want none", len(cl)-n)
				}
				return
			}
			if len(cl) != n+1 {
				t.Fatalf("got %d new change-log rows, want 1", len(cl)-n)
			}
			certWantChange(t, cl[n], "UpdateCACertificate", tc.wantBefore, tc.wantAfer)
		})
	}
	// templateName filters ListCACertificates.
	ca2 := certNewCA(t, "Second")
	certRegisterCA(t, e.a, ca2, false)
	if _, err := e.a.UpdateCACertificate(certCtx, &iot.UpdateCACertificateInput{CertificateId: aws.String(ca2.id), RegistrationConfig: rc}); err != nil {
		t.Fatal(err)
	}
	out, err := e.a.ListCACertificates(certCtx, &iot.ListCACertificatesInput{TemplateName: aws.String("tmpl")})
	if err != nil || len(out.Certificates) != 1 || aws.ToString(out.Certificates[0].CertificateId) != ca2.id {
		t.Errorf("ListCACertificates(templateName=tmpl): got %v, %v; want only %s", out, err, ca2.id)
	}
	_, err = e.a.UpdateCACertificate(certCtx, &iot.UpdateCACertificateInput{CertificateId: aws.String(strings.Repeat("1", 64)), NewStatus: types.CACertificateStatusActive})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.b.UpdateCACertificate(certCtx, &iot.UpdateCACertificateInput{CertificateId: aws.String(ca.id), NewStatus: types.CACertificateStatusActive})
	wantCode(t, err, "ResourceNotFoundException", 404)
}

func TestCertDeleteCACertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ca := certNewCA(t, "Root")
	code := certCode(t, e.a)
	if _, err := e.a.RegisterCACertificate(certCtx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(ca.pem),
		VerificationCertificate: aws.String(ca.verification(t, code)), SetAsActive: true, Tags: []types.Tag{tag("k", "v")}}); err != nil {
		t.Fatal(err)
	}
	arn := caARN(accountA, ca.id)
	dev := certRegister(t, e.a, ca.leaf(t, "d"), "")

	del := func() error {
		_, err := e.a.DeleteCACertificate(certCtx, &iot.DeleteCACertificateInput{CertificateId: aws.String(ca.id)})
		return err
	}
	wantCode(t, del(), "CertificateStateException", 406) // ACTIVE
	if _, err := e.a.UpdateCACertificate(certCtx, &iot.UpdateCACertificateInput{CertificateId: aws.String(ca.id), NewStatus: types.CACertificateStatusInactive}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, del(), "CertificateStateException", 406) // a device certificate refers to it
	_, err := e.b.DeleteCACertificate(certCtx, &iot.DeleteCACertificateInput{CertificateId: aws.String(ca.id)})
	wantCode(t, err, "ResourceNotFoundException", 404)
	caDescribe(t, e.a, ca.id)
	if _, err := e.a.DeleteCertificate(certCtx, &iot.DeleteCertificateInput{CertificateId: aws.String(dev)}); err != nil {
		t.Fatal(err)
	}
	if err := del(); err != nil {
		t.Fatalf("DeleteCACertificate: %v", err)
	}
	_, err = e.a.DescribeCACertificate(certCtx, &iot.DescribeCACertificateInput{CertificateId: aws.String(ca.id)})
	wantCode(t, err, "ResourceNotFoundException", 404)
	wantCode(t, del(), "ResourceNotFoundException", 404)
	_, err = e.a.ListTagsForResource(certCtx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	wantCode(t, err, "ResourceNotFoundException", 404)
	var n int
	if err := rawDB(t, e).QueryRow(`SELECT COUNT(*) FROM tags WHERE resource_arn = ?`, arn).Scan(&n); err != nil || n != 0 {
		t.Errorf("got %d tags left (%v)", n, err)
	}
	cl := certChanges(t, e, arn)
	certWantChange(t, cl[len(cl)-1], "DeleteCACertificate", `{"status":"INACTIVE","certificateMode":"DEFAULT","autoRegistrationStatus":"DISABLE"}`, "")
	// Registering it again works.
	certRegisterCA(t, e.a, ca, false)
}

func TestCertListCACertificates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []string
	for range 5 {
		ids = append(ids, certRegisterCA(t, e.a, certNewCA(t, "CA"), false))
	}
	for _, asc := range []bool{true, false} {
		want := slices.Clone(ids)
		if !asc {
			slices.Reverse(want)
		}
		var got []string
		var marker *string
		for {
			out, err := e.a.ListCACertificates(certCtx, &iot.ListCACertificatesInput{AscendingOrder: asc, PageSize: aws.Int32(2), Marker: marker})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range out.Certificates {
				if c.Status != types.CACertificateStatusInactive || aws.ToString(c.CertificateArn) != caARN(accountA, aws.ToString(c.CertificateId)) || c.CreationDate == nil {
					t.Errorf("got %+v", c)
				}
				got = append(got, aws.ToString(c.CertificateId))
			}
			if marker = out.NextMarker; marker == nil {
				break
			}
			if !certMarkerPattern(*marker) {
				t.Errorf("got nextMarker %q, want the model's pattern", *marker)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("ascending=%v: got %v, want %v", asc, got, want)
		}
	}
	if out, err := e.b.ListCACertificates(certCtx, &iot.ListCACertificatesInput{}); err != nil || len(out.Certificates) != 0 {
		t.Errorf("account B: got %v, %v; want none", out, err)
	}
	_, err := e.a.ListCACertificates(certCtx, &iot.ListCACertificatesInput{TemplateName: aws.String("bad name")})
	wantCode(t, err, "InvalidRequestException", 400)
}

func TestCertThingPrincipals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, name := range []string{"t1", "t2", "t3", "thing:with:colons"} {
		certThing(t, e, e.a, accountA, name)
	}
	certThing(t, e, e.b, accountB, "b-thing")
	c1 := aws.ToString(certCreate(t, e.a, true).CertificateArn)
	c2 := aws.ToString(certCreate(t, e.a, true).CertificateArn)
	bCert := aws.ToString(certCreate(t, e.b, true).CertificateArn)
	attach := func(c *iot.Client, thing, principal string) error {
		_, err := c.AttachThingPrincipal(certCtx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(principal)})
		return err
	}
	for _, tc := range []struct {
		name, thing, principal string
		wantCode               string
		wantHTTP               int
	}{
		{"attach", "t1", c1, "", 0},
		{"attach again (idempotent)", "t1", c1, "", 0},
		{"second thing", "t2", c1, "", 0},
		{"thing name with colons", "thing:with:colons", c1, "", 0},
		{"second principal", "t1", c2, "", 0},
		{"unknown thing", "nope", c1, "ResourceNotFoundException", 404},
		{"unknown certificate", "t1", certARN(accountA, strings.Repeat("ab", 32)), "ResourceNotFoundException", 404},
		{"another account's certificate", "t1", bCert, "ResourceNotFoundException", 404},
		{"another account's thing", "b-thing", c1, "ResourceNotFoundException", 404},
		{"not a certificate ARN", "t1", "us-east-1:0f5ac3a4-cognito-identity", "InvalidRequestException", 400},
		{"a thing ARN", "t1", "arn:aws:iot:us-east-1:123456789012:thing/t2", "InvalidRequestException", 400},
		{"bad thing name", "bad name", c1, "InvalidRequestException", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := certChangeCount(t, e)
			err := attach(e.a, tc.thing, tc.principal)
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode, tc.wantHTTP)
				if got := certChangeCount(t, e); got != n {
					t.Errorf("a rejected attach added %d change-log rows", got-n)
				}
				return
			}
			if err != nil {
				t.Fatalf("AttachThingPrincipal: %v", err)
			}
		})
	}
	if cl := certPrincipalChanges(t, e, "arn:aws:iot:us-east-1:123456789012:thing/t1"); len(cl) != 2 {
		t.Errorf("got %d change-log rows for t1, want 2 (one per principal, none for the repeat)", len(cl))
	} else {
		certWantChange(t, cl[0], "AttachThingPrincipal", "", `{"principal":"`+c1+`","thingPrincipalType":"NON_EXCLUSIVE_THING"}`)
	}

	principalsOf := func(thing string, size int32) []string {
		t.Helper()
		var out []string
		p := iot.NewListThingPrincipalsPaginator(e.a, &iot.ListThingPrincipalsInput{ThingName: aws.String(thing), MaxResults: aws.Int32(size)})
		for p.HasMorePages() {
			page, err := p.NextPage(certCtx)
			if err != nil {
				t.Fatalf("ListThingPrincipals(%s): %v", thing, err)
			}
			out = append(out, page.Principals...)
		}
		return out
	}
	thingsOf := func(c *iot.Client, principal string, size int32) []string {
		t.Helper()
		var out []string
		p := iot.NewListPrincipalThingsPaginator(c, &iot.ListPrincipalThingsInput{Principal: aws.String(principal), MaxResults: aws.Int32(size)})
		for p.HasMorePages() {
			page, err := p.NextPage(certCtx)
			if err != nil {
				t.Fatalf("ListPrincipalThings(%s): %v", principal, err)
			}
			out = append(out, page.Things...)
		}
		return out
	}
	if got, want := principalsOf("t1", 1), sortedCopy([]string{c1, c2}); !slices.Equal(got, want) {
		t.Errorf("ListThingPrincipals(t1): got %v, want %v", got, want)
	}
	if got := principalsOf("t3", 10); len(got) != 0 {
		t.Errorf("ListThingPrincipals(t3): got %v, want none", got)
	}
	for _, size := range []int32{1, 2, 250} {
		if got, want := thingsOf(e.a, c1, size), []string{"t1", "t2", "thing:with:colons"}; !slices.Equal(got, want) {
			t.Errorf("ListPrincipalThings(c1) by %d: got %v, want %v", size, got, want)
		}
	}
	_, err := e.a.ListThingPrincipals(certCtx, &iot.ListThingPrincipalsInput{ThingName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.a.ListPrincipalThings(certCtx, &iot.ListPrincipalThingsInput{Principal: aws.String(bCert)})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.b.ListThingPrincipals(certCtx, &iot.ListThingPrincipalsInput{ThingName: aws.String("t1")})
	wantCode(t, err, "ResourceNotFoundException", 404)

	// Detach, twice; the second is no change.
	for i := range 2 {
		if _, err := e.a.DetachThingPrincipal(certCtx, &iot.DetachThingPrincipalInput{ThingName: aws.String("t2"), Principal: aws.String(c1)}); err != nil {
			t.Fatalf("DetachThingPrincipal #%d: %v", i+1, err)
		}
	}
	if got, want := thingsOf(e.a, c1, 5), []string{"t1", "thing:with:colons"}; !slices.Equal(got, want) {
		t.Errorf("after detach: got %v, want %v", got, want)
	}
	cl := certPrincipalChanges(t, e, "arn:aws:iot:us-east-1:123456789012:thing/t2")
	if len(cl) != 2 {
		t.Fatalf("got %d change-log rows for t2, want attach + detach", len(cl))
	}
	certWantChange(t, cl[1], "DetachThingPrincipal", `{"principal":"`+c1+`","thingPrincipalType":"NON_EXCLUSIVE_THING"}`, "")
	_, err = e.a.DetachThingPrincipal(certCtx, &iot.DetachThingPrincipalInput{ThingName: aws.String("nope"), Principal: aws.String(c1)})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.b.DetachThingPrincipal(certCtx, &iot.DetachThingPrincipalInput{ThingName: aws.String("b-thing"), Principal: aws.String(c1)})
	wantCode(t, err, "ResourceNotFoundException", 404)

	// The principal header is required and must be a certificate ARN.
	for _, h := range []string{"", "not-an-arn"} {
		for _, m := range []string{"PUT", "DELETE"} {
			r := e.newRequest(t, m, "/things/t1/principals", nil)
			if h != "" {
				r.Header.Set("x-amzn-principal", h)
			}
			signA.sign(t, r, nil)
			if msg := wantJSONError(t, e.send(t, r), "InvalidRequestException", 400); !strings.Contains(msg, "principal") {
				t.Errorf("%s with principal %q: got message %q, want it to name principal", m, h, msg)
			}
		}
	}
	r := e.call(t, "GET", "/principals/things", nil)
	wantJSONError(t, r, "InvalidRequestException", 400)
	r = e.call(t, "GET", "/things/t1/principals?maxResults=251", nil)
	wantJSONError(t, r, "InvalidRequestException", 400)
	r = e.call(t, "GET", "/things/t1/principals?nextToken=forged", nil)
	wantJSONError(t, r, "InvalidRequestException", 400)
	// Raw shape of an empty list.
	body := wantOK(t, e.call(t, "GET", "/things/t3/principals", nil))
	if p, ok := body["principals"].([]any); !ok || len(p) != 0 || body["nextToken"] != nil {
		t.Errorf("got %v, want {\"principals\": []}", body)
	}
	req := e.newRequest(t, "GET", "/principals/things", nil)
	req.Header.Set("x-amzn-principal", c2)
	signA.sign(t, req, nil)
	body = wantOK(t, e.send(t, req))
	if th, ok := body["things"].([]any); !ok || len(th) != 1 || th[0] != "t1" {
		t.Errorf("got %v, want {\"things\": [\"t1\"]}", body)
	}
}

// EXCLUSIVE_THING attachments (newer models' thingPrincipalType).
func TestCertExclusivePrincipal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, name := range []string{"t1", "t2"} {
		certThing(t, e, e.a, accountA, name)
	}
	c1 := aws.ToString(certCreate(t, e.a, false).CertificateArn)
	c2 := aws.ToString(certCreate(t, e.a, false).CertificateArn)
	attach := func(thing, principal string, typ types.ThingPrincipalType) error {
		_, err := e.a.AttachThingPrincipal(certCtx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(principal), ThingPrincipalType: typ})
		return err
	}
	steps := []struct {
		thing, principal string
		typ              types.ThingPrincipalType
		wantCode         string
	}{
		{"t1", c1, types.ThingPrincipalTypeExclusiveThing, ""},
		{"t1", c1, types.ThingPrincipalTypeExclusiveThing, ""},                           // idempotent
		{"t2", c1, types.ThingPrincipalTypeNonExclusiveThing, "InvalidRequestException"}, // c1 is t1's alone
		{"t2", c1, types.ThingPrincipalTypeExclusiveThing, "InvalidRequestException"},
		{"t1", c1, types.ThingPrincipalTypeNonExclusiveThing, ""}, // relaxed
		{"t2", c1, "", ""}, // now allowed
		{"t1", c1, types.ThingPrincipalTypeExclusiveThing, "InvalidRequestException"}, // t2 has it too
		{"t1", c2, "SHARED", "InvalidRequestException"},
	}
	for i, s := range steps {
		err := attach(s.thing, s.principal, s.typ)
		if s.wantCode == "" && err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if s.wantCode != "" {
			wantCode(t, err, s.wantCode, 400)
		}
	}
	var typ string
	if err := rawDB(t, e).QueryRow(`SELECT thing_principal_type FROM thing_principals WHERE thing_name = 't1' AND principal = ?`, c1).Scan(&typ); err != nil || typ != "NON_EXCLUSIVE_THING" {
		t.Errorf("got type %q (%v), want NON_EXCLUSIVE_THING", typ, err)
	}
}

func TestCertIDValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/certificates/abc"},
		{"GET", "/certificates/" + strings.Repeat("g", 64)},
		{"PUT", "/certificates/" + strings.Repeat("a", 65) + "?newStatus=ACTIVE"},
		{"DELETE", "/certificates/xyz"},
		{"GET", "/cacertificate/" + strings.Repeat("z", 64)},
		{"PUT", "/cacertificate/123?newStatus=ACTIVE"},
		{"DELETE", "/cacertificate/123"},
		{"GET", "/certificates-by-ca/123"},
		{"GET", "/certificates?marker=" + url.QueryEscape("not/valid===")},
		{"DELETE", "/certificates/" + strings.Repeat("a", 64) + "?forceDelete=yes"},
		{"POST", "/keys-and-certificate?setAsActive=1"},
	} {
		r := e.call(t, tc.method, tc.path, nil)
		if msg := wantJSONError(t, r, "InvalidRequestException", 400); !strings.Contains(msg, "validation error") {
			t.Errorf("%s %s: got message %q, want an AWS validation message", tc.method, tc.path, msg)
		}
	}
	// Ids are hex: upper case finds the same certificate.
	id := aws.ToString(certCreate(t, e.a, false).CertificateId)
	if got := aws.ToString(certDescribe(t, e.a, strings.ToUpper(id)).CertificateId); got != id {
		t.Errorf("got %s, want %s", got, id)
	}
	certWantMissing(t, e.a, strings.Repeat("0", 64))
}

// Nothing of account A is visible to, or changeable by, account B.
func TestCertCrossAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ca := certNewCA(t, "A Root")
	certRegisterCA(t, e.a, ca, true)
	dev := certRegister(t, e.a, ca.leaf(t, "d"), "")
	created := aws.ToString(certCreate(t, e.a, false).CertificateId)
	for _, id := range []string{dev, created} {
		certWantMissing(t, e.b, id)
		_, err := e.b.UpdateCertificate(certCtx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: types.CertificateStatusRevoked})
		wantCode(t, err, "ResourceNotFoundException", 404)
		_, err = e.b.DeleteCertificate(certCtx, &iot.DeleteCertificateInput{CertificateId: aws.String(id)})
		wantCode(t, err, "ResourceNotFoundException", 404)
		if d := certDescribe(t, e.a, id); d.Status != types.CertificateStatusInactive {
			t.Errorf("account B changed account A's certificate to %s", d.Status)
		}
	}
	_, err := e.b.DescribeCACertificate(certCtx, &iot.DescribeCACertificateInput{CertificateId: aws.String(ca.id)})
	wantCode(t, err, "ResourceNotFoundException", 404)
	if ids := certListIDs(t, e.b, true, 10); len(ids) != 0 {
		t.Errorf("account B lists %v", ids)
	}
	// Account B may register the same certificate for itself; each account
	// then has its own.
	self := certSelfSigned(t, "shared")
	for _, c := range []*iot.Client{e.a, e.b} {
		if _, err := c.RegisterCertificateWithoutCA(certCtx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(self)}); err != nil {
			t.Fatal(err)
		}
	}
	certSetStatus(t, e.b, certIDOfPEM(t, self), types.CertificateStatusRevoked)
	if d := certDescribe(t, e.a, certIDOfPEM(t, self)); d.Status != types.CertificateStatusInactive {
		t.Errorf("account B's update reached account A's copy: %s", d.Status)
	}
	// Another region of the same account is another scope.
	west := e.clientIn(keyA, secretA, "eu-west-1")
	certWantMissing(t, west, dev)
	_, err = west.RegisterCertificate(certCtx, &iot.RegisterCertificateInput{CertificatePem: aws.String(ca.leaf(t, "w"))})
	wantCode(t, err, "CertificateValidationException", 400)
}

func TestCertRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	certThing(t, e, e.a, accountA, "lamp")
	ca := certNewCA(t, "Root")
	certRegisterCA(t, e.a, ca, true)
	dev := certRegister(t, e.a, ca.leaf(t, "d"), types.CertificateStatusActive)
	created := certCreate(t, e.a, true)
	if _, err := e.a.AttachThingPrincipal(certCtx, &iot.AttachThingPrincipalInput{ThingName: aws.String("lamp"), Principal: created.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	certSetStatus(t, e.a, dev, types.CertificateStatusRevoked)
	beforeDev, beforeCA := certDescribe(t, e.a, dev), caDescribe(t, e.a, ca.id).CertificateDescription
	e.restart()
	afterDev, afterCA := certDescribe(t, e.a, dev), caDescribe(t, e.a, ca.id).CertificateDescription
	if afterDev.Status != types.CertificateStatusRevoked || aws.ToInt32(afterDev.CustomerVersion) != 2 ||
		aws.ToString(afterDev.GenerationId) != aws.ToString(beforeDev.GenerationId) ||
		!aws.ToTime(afterDev.LastModifiedDate).Equal(aws.ToTime(beforeDev.LastModifiedDate)) ||
		aws.ToString(afterDev.CaCertificateId) != ca.id || aws.ToString(afterDev.CertificatePem) != aws.ToString(beforeDev.CertificatePem) {
		t.Errorf("device certificate changed across restart: %+v -> %+v", beforeDev, afterDev)
	}
	if afterCA.Status != beforeCA.Status || aws.ToString(afterCA.CertificatePem) != ca.pem || !aws.ToTime(afterCA.CreationDate).Equal(aws.ToTime(beforeCA.CreationDate)) {
		t.Errorf("CA certificate changed across restart")
	}
	out, err := e.a.ListPrincipalThings(certCtx, &iot.ListPrincipalThingsInput{Principal: created.CertificateArn})
	if err != nil || !slices.Equal(out.Things, []string{"lamp"}) {
		t.Errorf("after restart: got things %v, %v; want [lamp]", out, err)
	}
	// Still enforced after restart.
	_, err = e.a.DeleteCertificate(certCtx, &iot.DeleteCertificateInput{CertificateId: created.CertificateId})
	wantCode(t, err, "CertificateStateException", 406)
}

// What the audit checks will need is stored at registration, so that no
// check has to parse PEM again.
func TestCertStoredFacts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ca := certNewCA(t, "Facts Root")
	certRegisterCA(t, e.a, ca, true)
	leafPEM := ca.leaf(t, "facts-device")
	leaf := certParse(t, leafPEM)
	id := certRegister(t, e.a, leafPEM, "")
	db := rawDB(t, e)
	for _, tc := range []struct {
		table, id string
		c         *x509.Certificate
		crls      string
	}{
		{"certificates", id, leaf, `["http://crl.example.com/facts-device.crl"]`},
		{"ca_certificates", ca.id, ca.cert, `[]`},
	} {
		var subject, issuer, serial, alg, sigAlg, pub, pubSum, crls string
		var size int
		var notBefore, notAfter int64
		err := db.QueryRow(`SELECT subject, issuer, serial, key_algorithm, key_size, signature_algorithm, public_key,
			public_key_sha256, crl_distribution_points, not_before, not_after FROM `+tc.table+` WHERE id = ?`, tc.id).
			Scan(&subject, &issuer, &serial, &alg, &size, &sigAlg, &pub, &pubSum, &crls, &notBefore, &notAfter)
		if err != nil {
			t.Fatalf("%s: %v", tc.table, err)
		}
		want := []string{tc.c.Subject.String(), tc.c.Issuer.String(), hex.EncodeToString(tc.c.SerialNumber.Bytes()), "EC", "256",
			tc.c.SignatureAlgorithm.String(), base64.StdEncoding.EncodeToString(tc.c.RawSubjectPublicKeyInfo),
			certIDOf(tc.c.RawSubjectPublicKeyInfo), tc.crls, strconv.FormatInt(tc.c.NotBefore.UnixMilli(), 10), strconv.FormatInt(tc.c.NotAfter.UnixMilli(), 10)}
		got := []string{subject, issuer, serial, alg, strconv.Itoa(size), sigAlg, pub, pubSum, crls,
			strconv.FormatInt(notBefore, 10), strconv.FormatInt(notAfter, 10)}
		if !slices.Equal(got, want) {
			t.Errorf("%s facts:\n got %q\nwant %q", tc.table, got, want)
		}
	}
}
