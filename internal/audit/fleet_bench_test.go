package audit

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/wardentest"
)

// TestAuditFleetSpeed times on-demand audits of generated fleets. It runs
// only when WARDEN_AUDIT_BENCH lists fleet sizes, e.g.
//
//	WARDEN_AUDIT_BENCH=10000,100000 go test ./internal/audit -run TestAuditFleetSpeed -v -timeout 30m
//
// Each fleet has the given number of device certificates (30% RSA-2048 with
// distinct moduli, 0.1% of them with the ROCA fingerprint; the rest ECDSA;
// 95% ACTIVE; 2% expiring, 1% expired, 3% registered over a year ago), all
// under one registered intermediate CA and naming one of 10 CRLs served
// from an httptest server (0.5% of the certificates revoked), and 10,000
// policies with distinct documents (10% overly permissive, 5% with MQTT
// wildcards in a Deny). It reports the certificate checks alone, then every
// implemented check.
func TestAuditFleetSpeed(t *testing.T) {
	spec := os.Getenv("WARDEN_AUDIT_BENCH")
	if spec == "" {
		t.Skip("set WARDEN_AUDIT_BENCH=10000,100000 to run")
	}
	for _, field := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("certs=%d", n), func(t *testing.T) { fleetSpeed(t, n, 10000) })
	}
}

func fleetSpeed(t *testing.T, certs, policies int) {
	f := newFx(t)
	dir := t.TempDir()
	f.store = wardentest.OpenStore(t, dir, "")
	now := f.clock.Now()
	rng := mrand.New(mrand.NewPCG(42, uint64(certs)))

	root := newRootCA(t, "Fleet Root")
	inter := root.intermediate(t, "Fleet Intermediate", f.srv.URL+"/root.crl")
	f.ca(root.cert, warden.CertActive)
	interID := f.ca(inter.cert, warden.CertActive)
	f.serve("/root.crl", root.crl(t, now.Add(24*time.Hour)))

	genStart := time.Now()
	revoked := make([][]*big.Int, 10)
	ecPool := make([][]byte, 64)
	for i := range ecPool {
		ecPool[i] = spki(t, &ecKey(t).PublicKey)
	}
	db := wardentest.RawDB(t, dir)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := tx.Prepare(`INSERT INTO certificates (account, region, id, status, pem, ca_certificate_id, certificate_mode,
		customer_version, generation_id, not_before, not_after, created_at, updated_at, subject, issuer, serial, key_algorithm,
		key_size, signature_algorithm, public_key, public_key_sha256, crl_distribution_points)
		VALUES (?, ?, ?, ?, '', ?, 'DEFAULT', 1, 'g', ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ECDSA-SHA256', ?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	issuer := inter.cert.Subject.String()
	for i := range certs {
		id := make([]byte, 32)
		serial := make([]byte, 16)
		for j := range id {
			id[j] = byte(rng.Uint32())
		}
		for j := range serial {
			serial[j] = byte(rng.Uint32())
		}
		serial[0] |= 0x40
		status := warden.CertActive
		if i%20 == 19 {
			status = warden.CertInactive
		}
		notAfter, created := now.Add(2*365*24*time.Hour), now.Add(-24*time.Hour)
		switch i % 100 {
		case 1, 2:
			notAfter = now.Add(10 * 24 * time.Hour)
		case 3:
			notAfter = now.Add(-24 * time.Hour)
		case 4, 5, 6:
			created = now.Add(-400 * 24 * time.Hour)
		}
		alg, size, key := "EC", 256, ecPool[i%len(ecPool)]
		if i%10 < 3 {
			n := randBits(rng, 2048)
			n.SetBit(n, 2047, 1).SetBit(n, 0, 1)
			if i%1000 == 2 {
				n = rocaModulus(rng, 2048)
			}
			der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: 65537})
			if err != nil {
				t.Fatal(err)
			}
			alg, size, key = "RSA", 2048, der
		}
		url := i % 10
		if i%200 == 11 {
			revoked[url] = append(revoked[url], new(big.Int).SetBytes(serial))
		}
		sum := sha256.Sum256(key)
		if _, err := stmt.Exec(f.s.Account, f.s.Region, hex.EncodeToString(id), status, interID, millis(now.Add(-48*time.Hour)),
			millis(notAfter), millis(created), millis(created), fmt.Sprintf("CN=device-%d", i), issuer, hex.EncodeToString(serial),
			alg, size, base64.StdEncoding.EncodeToString(key), hex.EncodeToString(sum[:]),
			fmt.Sprintf(`["%s/crl/%d.crl"]`, f.srv.URL, url)); err != nil {
			t.Fatal(err)
		}
	}
	pstmt, err := tx.Prepare(`INSERT INTO policies (account, region, name, default_version, next_version, generation_id, created_at, updated_at)
		VALUES (?, ?, ?, 1, 2, 'g', ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	vstmt, err := tx.Prepare(`INSERT INTO policy_versions (account, region, policy_name, version, document, created_at, updated_at)
		VALUES (?, ?, ?, 1, ?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	const a = "arn:aws:iot:us-east-1:123456789012:"
	for i := range policies {
		name := fmt.Sprintf("policy-%05d", i)
		doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"%sclient/${iot:Connection.Thing.ThingName}"},`+
			`{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"%stopic/fleet/%d/${iot:Connection.Thing.ThingName}/*"},`+
			`{"Effect":"Allow","Action":"iot:Subscribe","Resource":"%stopicfilter/fleet/%d/${iot:Connection.Thing.ThingName}/*"}]}`, a, a, i, a, i)
		switch {
		case i%10 == 0:
			doc = fmt.Sprintf(`{"Version":"2012-10-17","Id":"p%d","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`, i)
		case i%20 == 1:
			doc = fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Subscribe","Resource":"%stopicfilter/fleet/%d/*"},`+
				`{"Effect":"Deny","Action":"iot:Subscribe","Resource":"%stopicfilter/fleet/%d/admin/#"}]}`, a, i, a, i)
		}
		if _, err := pstmt.Exec(f.s.Account, f.s.Region, name, millis(now), millis(now)); err != nil {
			t.Fatal(err)
		}
		if _, err := vstmt.Exec(f.s.Account, f.s.Region, name, doc, millis(now), millis(now)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	totalRevoked := 0
	for i, serials := range revoked {
		f.serve(fmt.Sprintf("/crl/%d.crl", i), inter.crl(t, now.Add(24*time.Hour), serials...))
		totalRevoked += len(serials)
	}
	t.Logf("generated %d certificates and %d policies in %v; %d certificates revoked on 10 CRLs",
		certs, policies, time.Since(genStart).Round(time.Millisecond), totalRevoked)

	certChecks := []string{warden.CheckDeviceCertificateExpiring, warden.CheckDeviceCertificateAge, warden.CheckDeviceCertificateKeyQuality,
		warden.CheckRevokedDeviceCertificateStillActive, warden.CheckIntermediateCARevokedForActiveDeviceCerts,
		warden.CheckCACertificateExpiring, warden.CheckCACertificateKeyQuality, warden.CheckRevokedCACertificateStillActive}
	all := implementedChecks()
	f.configure(all...)
	active := certs - certs/20
	for _, run := range []struct {
		name   string
		checks []string
	}{{"certificate checks", certChecks}, {"all implemented checks", all}} {
		task := f.start(run.checks...)
		r := f.runner(Options{CRL: CRLOptions{Timeout: 10 * time.Second}})
		start := time.Now()
		if err := r.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		got := f.task(task.ID)
		var findings int64
		for _, c := range got.Checks {
			findings += c.NonCompliantResources
			if c.Status == warden.CheckFailed {
				t.Errorf("%s: %+v", c.Name, c)
			}
		}
		t.Logf("%s: %d certificates (%d ACTIVE), %d policies: %v, %.0f certificates/s, %d findings",
			run.name, certs, active, policies, d.Round(time.Millisecond), float64(certs)/d.Seconds(), findings)
		if got.Status != warden.AuditCompleted {
			t.Errorf("task %s", got.Status)
		}
		for _, c := range got.Checks {
			t.Logf("  %-62s %-24s %7d of %7d", c.Name, c.Status, c.NonCompliantResources, c.TotalResources)
		}
	}
}

func millis(t time.Time) int64 { return t.UnixMilli() }
