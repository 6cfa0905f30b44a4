package audit

import (
	"context"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/nettest"
)

// bigCRL is a CRL signed by ca with n revoked 16-byte serials (58,000 make
// about 2 MB of DER).
func bigCRL(t testing.TB, ca *pkiCA, next time.Time, n int, tag byte) []byte {
	t.Helper()
	serials := make([]*big.Int, n)
	for i := range serials {
		serials[i] = new(big.Int).SetBytes([]byte{0x40, tag, byte(i >> 16), byte(i >> 8), byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	}
	return ca.crl(t, next, serials...)
}

// heapSampler records the largest heap in use until stopped.
func heapSampler() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// TestCRLAttackMemoryBounded is the issue's attack: one certificate with
// 40 CRL distribution points, each serving the same valid 2 MB CRL under a
// different query string. Only the first warden.MaxConsultedCRLDistributionPoints are
// fetched, they share one cached copy, the cache's accounted bytes stay
// within its bound, and the heap stays far below the 300 MB the issue
// allows (it held ~900 MB of parsed CRLs before).
func TestCRLAttackMemoryBounded(t *testing.T) {
	f := newFx(t)
	now := f.clock.Now()
	root := newRootCA(t, "Root")
	rootID := f.ca(root.cert, warden.CertActive)
	der := bigCRL(t, root, now.Add(time.Hour), 58000, 1)
	t.Logf("CRL: %d bytes", len(der))
	var hits atomic.Int64
	f.crls.HandleFunc("/big.crl", func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.Write(der) })
	var dps []string
	for i := range 40 {
		dps = append(dps, fmt.Sprintf("%s/big.crl?n=%d", f.srv.URL, i))
	}
	f.device(root.issue(t, "many-dps", &ecKey(t).PublicKey, false, now.Add(365*24*time.Hour), dps...), warden.CertActive, rootID)

	check := warden.CheckRevokedDeviceCertificateStillActive
	f.configure(check)
	task := f.start(check)
	// A generous timeout: serving 2 MB to four fetchers at once under -race
	// on a loaded 2-core machine took over the fixture's 2 s.
	r := f.runner(Options{CRL: CRLOptions{Timeout: 30 * time.Second}})
	runtime.GC()
	stop := heapSampler()
	if err := r.RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	peak := stop()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	stats := r.crls.Stats()
	t.Logf("fetches %d; cache %+v; heap peak %d MB, after GC %d MB", hits.Load(), stats, peak>>20, m.HeapAlloc>>20)
	if run := f.check(task.ID, check); run.Status != warden.CheckCompletedCompliant {
		t.Errorf("check %+v, want COMPLETED_COMPLIANT", run)
	}
	if n := hits.Load(); n > warden.MaxConsultedCRLDistributionPoints {
		t.Errorf("%d CRL fetches for one certificate, want at most %d", n, warden.MaxConsultedCRLDistributionPoints)
	}
	if stats.Bytes > DefaultCRLCacheBytes || stats.Lists > 1 {
		t.Errorf("cache %+v: want one shared list within %d bytes", stats, DefaultCRLCacheBytes)
	}
	if m.HeapAlloc > 150<<20 || peak > 300<<20 {
		t.Errorf("heap after GC %d MB, peak %d MB; want < 150 MB and < 300 MB", m.HeapAlloc>>20, peak>>20)
	}
}

// TestCRLCacheBoundedInBytes: distinct CRLs beyond the cache's size evict
// the least recently used; the accounted bytes never exceed the bound.
func TestCRLCacheBoundedInBytes(t *testing.T) {
	ca := newRootCA(t, "Root")
	const n = 12
	ders := make([][]byte, n)
	for i := range ders {
		ders[i] = bigCRL(t, ca, time.Now().Add(time.Hour), 7000, byte(i)) // ~250 KB DER, ~1 MB cached
	}
	var hits [n]atomic.Int64
	mux := http.NewServeMux()
	for i := range ders {
		mux.HandleFunc(fmt.Sprintf("/%d.crl", i), func(w http.ResponseWriter, r *http.Request) { hits[i].Add(1); w.Write(ders[i]) })
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	const limit = 4 << 20
	f := NewCRLFetcher(CRLOptions{CacheBytes: limit})
	ctx := context.Background()
	for i := range n {
		if _, err := f.Fetch(ctx, fmt.Sprintf("%s/%d.crl", srv.URL, i)); err != nil {
			t.Fatal(err)
		}
		// 0 is used all the time: it stays.
		if _, err := f.Fetch(ctx, srv.URL+"/0.crl"); err != nil {
			t.Fatal(err)
		}
		if s := f.Stats(); s.Bytes > limit {
			t.Fatalf("after %d CRLs the cache holds %+v, over %d bytes", i+1, s, limit)
		}
	}
	s := f.Stats()
	t.Logf("cache after %d CRLs: %+v", n, s)
	if s.URLs < 2 || s.URLs >= n {
		t.Errorf("cache %+v: want some but not all of %d CRLs", s, n)
	}
	if hits[0].Load() != 1 {
		t.Errorf("the most used CRL was fetched %d times, want once", hits[0].Load())
	}
	if _, err := f.Fetch(ctx, srv.URL+"/1.crl"); err != nil || hits[1].Load() != 2 {
		t.Errorf("the least recently used CRL: err %v, %d fetches, want 2 (evicted, fetched again)", err, hits[1].Load())
	}
	// A CRL larger than the whole cache is used but not kept.
	tiny := NewCRLFetcher(CRLOptions{CacheBytes: 64 << 10})
	if c, err := tiny.Fetch(ctx, srv.URL+"/2.crl"); err != nil || len(c.Revoked) != 7000 {
		t.Fatalf("CRL larger than the cache: %v", err)
	}
	if s := tiny.Stats(); s.URLs != 0 || s.Bytes != 0 {
		t.Errorf("cache smaller than a CRL holds %+v", s)
	}
}

// TestCRLCacheExpiry: entries are dropped when they expire, without being
// looked up again.
func TestCRLCacheExpiry(t *testing.T) {
	ca := newRootCA(t, "Root")
	soon := ca.crl(t, time.Now().Add(2*time.Second), big.NewInt(7))
	later := ca.crl(t, time.Now().Add(24*time.Hour), big.NewInt(8))
	mux := http.NewServeMux()
	mux.HandleFunc("/soon.crl", func(w http.ResponseWriter, r *http.Request) { w.Write(soon) })
	mux.HandleFunc("/later.crl", func(w http.ResponseWriter, r *http.Request) { w.Write(later) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()

	// With the real clock: the entry goes at nextUpdate by itself.
	f := NewCRLFetcher(CRLOptions{})
	if _, err := f.Fetch(ctx, srv.URL+"/soon.crl"); err != nil {
		t.Fatal(err)
	}
	if s := f.Stats(); s.URLs != 1 {
		t.Fatalf("cache %+v, want the CRL", s)
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.Stats().URLs != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("cache %+v 10 s after the CRL's nextUpdate", f.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := f.Stats(); s.Bytes != 0 || s.Lists != 0 {
		t.Errorf("empty cache accounts %+v", s)
	}

	// With an injected clock: an hour at most, and fetching anything drops
	// what expired.
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	f = NewCRLFetcher(CRLOptions{Now: now})
	for _, u := range []string{"/later.crl", "/later.crl?again"} {
		if _, err := f.Fetch(ctx, srv.URL+u); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	clock = clock.Add(61 * time.Minute)
	mu.Unlock()
	if _, err := f.Fetch(ctx, srv.URL+"/soon.crl"); err != nil {
		t.Fatal(err)
	}
	if s := f.Stats(); s.URLs != 0 {
		t.Errorf("cache %+v an hour later, want the expired entries gone", s)
	}
}

// auditCRLDevice registers an active device certificate, signed by root
// (registered as rootID) and naming the CRL distribution points dps, audits
// the revoked-certificate check with a runner of o and returns that check's
// run.
func (f *fx) auditCRLDevice(o Options, root *pkiCA, rootID string, dps ...string) warden.AuditCheckRun {
	f.t.Helper()
	f.device(root.issue(f.t, "dev", &ecKey(f.t).PublicKey, false, f.clock.Now().Add(365*24*time.Hour), dps...), warden.CertActive, rootID)
	check := warden.CheckRevokedDeviceCertificateStillActive
	return f.check(f.audit(o, check).ID, check)
}

// TestRunnerCRLTooLarge: a CRL over the size cap fails the check with a
// clear reason.
func TestRunnerCRLTooLarge(t *testing.T) {
	f := newFx(t)
	now := f.clock.Now()
	root := newRootCA(t, "Root")
	rootID := f.ca(root.cert, warden.CertActive)
	u := f.serve("/huge.crl", bigCRL(t, root, now.Add(time.Hour), 58000, 2))
	run := f.auditCRLDevice(Options{CRL: CRLOptions{MaxBytes: 1 << 20, Timeout: 30 * time.Second}}, root, rootID, u)
	if run.Status != warden.CheckFailed || !strings.Contains(run.Message, "/huge.crl: the CRL is larger than 1 MiB, the most Warden fetches") {
		t.Errorf("check %+v, want FAILED saying the CRL is too large", run)
	}
}

// TestRunnerCRLRedirectNotFollowed: a CRL server answering 302 to another
// local listener fails the check; the other listener never gets a request
// and the check's message names neither its address nor an OS error.
func TestRunnerCRLRedirectNotFollowed(t *testing.T) {
	f := newFx(t)
	now := f.clock.Now()
	root := newRootCA(t, "Root")
	rootID := f.ca(root.cert, warden.CertActive)
	target, conns := nettest.CountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(root.crl(t, now.Add(time.Hour)))
	}))
	f.crls.Handle("/moved.crl", http.RedirectHandler(target.URL+"/internal/admin.crl", http.StatusFound))
	run := f.auditCRLDevice(Options{}, root, rootID, f.srv.URL+"/moved.crl")
	if run.Status != warden.CheckFailed || !strings.Contains(run.Message, "/moved.crl: the endpoint answered with HTTP status 3xx") {
		t.Errorf("check %+v, want FAILED with a 3xx", run)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(target.URL, "http://"))
	for _, leak := range []string{port, "/internal/admin.crl", "dial", "tcp"} {
		if strings.Contains(run.Message, leak) {
			t.Errorf("message %q reveals %q", run.Message, leak)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the redirect target saw %d connections", n)
	}
}

// TestRunnerCRLClosedPortCoarse: an unreachable distribution point says
// "could not connect", not the OS's text.
func TestRunnerCRLClosedPortCoarse(t *testing.T) {
	f := newFx(t)
	root := newRootCA(t, "Root")
	rootID := f.ca(root.cert, warden.CertActive)
	closed := nettest.ClosedURL(t) + "/x.crl"
	run := f.auditCRLDevice(Options{}, root, rootID, closed)
	if !strings.HasSuffix(run.Message, "/x.crl: could not connect") {
		t.Errorf("message %q, want it to end in ': could not connect'", run.Message)
	}
	for _, leak := range []string{"dial", "tcp", "connection refused"} {
		if strings.Contains(run.Message, leak) {
			t.Errorf("message %q reveals %q", run.Message, leak)
		}
	}
}

// TestRunnerCRLBudget: certificates naming many distinct CRLs cannot make
// one audit hold more than the cache's size of them: the CRLs past it are
// not consulted, and the check says so.
func TestRunnerCRLBudget(t *testing.T) {
	f := newFx(t)
	now := f.clock.Now()
	root := newRootCA(t, "Root")
	rootID := f.ca(root.cert, warden.CertActive)
	for c := range 3 {
		var dps []string
		for d := range 4 {
			dps = append(dps, f.serve(fmt.Sprintf("/%d-%d.crl", c, d), bigCRL(t, root, now.Add(time.Hour), 7000, byte(c*4+d))))
		}
		f.device(root.issue(t, "dev", &ecKey(t).PublicKey, false, now.Add(365*24*time.Hour), dps...), warden.CertActive, rootID)
	}
	check := warden.CheckRevokedDeviceCertificateStillActive
	task := f.audit(Options{CRL: CRLOptions{CacheBytes: 4 << 20, Timeout: 30 * time.Second}}, check)
	run := f.check(task.ID, check)
	if run.Status != warden.CheckFailed || !strings.Contains(run.Message, "not consulted: this audit's CRLs would take more than 4 MiB of memory") {
		t.Errorf("check %+v, want FAILED naming the CRL budget", run)
	}
}
