package api_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/audit"
)

// auditsTarpit listens on 127.0.0.1, accepts connections and never answers;
// it returns its address and how many connections it accepted so far.
func auditsTarpit(t *testing.T) (string, func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return len(conns) }
}

// auditsTime starts an audit of checks with c and returns how long it took
// to end, and its status.
func auditsTime(t *testing.T, c *iot.Client, checks ...string) (time.Duration, types.AuditTaskStatus) {
	t.Helper()
	start := time.Now()
	id := auditsStart(t, c, checks...)
	for deadline := start.Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if st := auditsDescribe(t, c, id).TaskStatus; st != types.AuditTaskStatusInProgress {
			return time.Since(start), st
		}
		if time.Now().After(deadline) {
			t.Fatal("the audit did not end within 60s")
		}
	}
}

// TestAuditsTenantCannotStarveAnother is issue 14 #4 through the API:
// account A registers certificates whose CRL distribution points are a
// tarpit (accepts, never answers) and starts several revocation audits;
// account B's logging audit must then take at most twice its time alone
// (plus 1 s of slack for a loaded machine). Before the fix A's audits held
// both workers and B's waited for them: 23 ms alone, 8 s under attack.
func TestAuditsTenantCannotStarveAnother(t *testing.T) {
	e := newEnv(t)
	addr, accepted := auditsTarpit(t)
	root := certNewCA(t, "Tarpit Root")
	for i := range 4 {
		var urls []string
		for j := range 4 {
			urls = append(urls, fmt.Sprintf("http://%s/crl%d-%d.crl", addr, i, j))
		}
		_, p := certMake(t, &x509.Certificate{Subject: pkix.Name{CommonName: fmt.Sprintf("tarpit%d", i)}, CRLDistributionPoints: urls}, certNewKey(t), root)
		if _, err := e.a.RegisterCertificateWithoutCA(auditsCtx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(p),
			Status: types.CertificateStatusActive}); err != nil {
			t.Fatalf("RegisterCertificateWithoutCA: %v", err)
		}
	}
	revoked := warden.CheckRevokedDeviceCertificateStillActive
	auditsConfigure(t, e.a, revoked)
	if _, err := e.b.UpdateAccountAuditConfiguration(auditsCtx, &iot.UpdateAccountAuditConfigurationInput{
		RoleArn: aws.String("arn:aws:iam::" + accountB + ":role/audit"), AuditCheckConfigurations: auditsEnable(warden.CheckLoggingDisabled)}); err != nil {
		t.Fatalf("UpdateAccountAuditConfiguration of B: %v", err)
	}

	// The server's runner: its 2 workers, a short fetch timeout so that
	// the test stays short (each of A's audits still waits two rounds of it).
	r, err := audit.New(audit.Options{Store: e.store, WeakKeysDir: t.TempDir(), PollInterval: 20 * time.Millisecond,
		CRL: audit.CRLOptions{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	defer r.Stop()

	alone, st := auditsTime(t, e.b, warden.CheckLoggingDisabled)
	if st != types.AuditTaskStatusCompleted {
		t.Fatalf("B's audit alone: %s", st)
	}
	for range 4 {
		auditsStart(t, e.a, revoked)
	}
	for deadline := time.Now().Add(10 * time.Second); accepted() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("A's audits did not reach the tarpit within 10s")
		}
	}
	under, st := auditsTime(t, e.b, warden.CheckLoggingDisabled)
	if st != types.AuditTaskStatusCompleted {
		t.Fatalf("B's audit under attack: %s", st)
	}
	t.Logf("B's logging audit: %v alone, %v while A's audits wait on the tarpit (%d connections)", alone, under, accepted())
	if limit := 2*alone + time.Second; under > limit {
		t.Errorf("B's audit took %v under attack, %v alone: more than 2× + 1 s (%v)", under, alone, limit)
	}
}
