package audit

import (
	"context"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCRLFetcher(t *testing.T) {
	ca := newRootCA(t, "CRL Test CA")
	revoked := big.NewInt(0x1234)
	der := ca.crl(t, time.Now().Add(24*time.Hour), revoked, big.NewInt(0))
	var hits atomic.Int64
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/ca.crl", func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.Write(der) })
	mux.HandleFunc("/ca.pem", func(w http.ResponseWriter, r *http.Request) {
		pem.Encode(w, &pem.Block{Type: "X509 CRL", Bytes: der})
	})
	mux.HandleFunc("/missing.crl", http.NotFound)
	mux.HandleFunc("/big.crl", func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 4096)) })
	mux.HandleFunc("/garbage.crl", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("not a CRL")) })
	mux.HandleFunc("/slow.crl", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	var gate sync.WaitGroup
	gate.Add(1)
	mux.HandleFunc("/shared.crl", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		gate.Wait()
		w.Write(der)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)

	clock := time.Now()
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	f := NewCRLFetcher(CRLOptions{Timeout: 200 * time.Millisecond, MaxBytes: 2048, MaxAge: time.Hour, Now: now})
	ctx := context.Background()

	for _, path := range []string{"/ca.crl", "/ca.pem"} {
		crl, err := f.Fetch(ctx, srv.URL+path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if _, ok := crl.Revoked["1234"]; !ok {
			t.Errorf("%s: serial 1234 not revoked; revoked = %v", path, crl.Revoked)
		}
		if _, ok := crl.Revoked["00"]; !ok {
			t.Errorf("%s: serial 0 not listed as 00; revoked = %v", path, crl.Revoked)
		}
		if crl.List.CheckSignatureFrom(ca.cert) != nil {
			t.Errorf("%s: signature does not verify", path)
		}
	}

	// Cached until the earlier of MaxAge and nextUpdate.
	hits.Store(0)
	f.Fetch(ctx, srv.URL+"/ca.crl")
	if hits.Load() != 0 {
		t.Errorf("second fetch within MaxAge: %d requests, want 0", hits.Load())
	}
	mu.Lock()
	clock = clock.Add(61 * time.Minute)
	mu.Unlock()
	f.Fetch(ctx, srv.URL+"/ca.crl")
	if hits.Load() != 1 {
		t.Errorf("fetch after MaxAge: %d requests, want 1", hits.Load())
	}

	for _, tc := range []struct{ path, want string }{
		{"/missing.crl", "HTTP status 4xx"},
		{"/big.crl", "the CRL is larger than 2 KiB"},
		{"/garbage.crl", "not a valid CRL"},
		{"/slow.crl", "no answer in time"},
	} {
		start := time.Now()
		_, err := f.Fetch(ctx, srv.URL+tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got error %v, want one containing %q", tc.path, err, tc.want)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%s took %v", tc.path, time.Since(start))
		}
	}
	if _, err := f.Fetch(ctx, "ldap://ldap.example.com/cn=crl"); err == nil || !strings.Contains(err.Error(), "only http and https") {
		t.Errorf("ldap URL: got %v, want an unsupported-scheme error", err)
	}

	// Concurrent fetches of one URL share one request.
	hits.Store(0)
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.Fetch(ctx, srv.URL+"/shared.crl")
			errs <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	gate.Done()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if hits.Load() != 1 {
		t.Errorf("5 concurrent fetches: %d requests, want 1", hits.Load())
	}
}
