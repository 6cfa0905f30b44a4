package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMaxConnectionsFor(t *testing.T) {
	for limit, want := range map[uint64]int{0: 4096, 256: 192, 1024: 768, 4096: 3072, 20000: 4096, 1 << 20: 4096, 100: 36, 64: 1, 1 << 62: 4096} {
		if got := maxConnectionsFor(limit); got != want {
			t.Errorf("maxConnectionsFor(%d) = %d, want %d", limit, got, want)
		}
	}
}

// deadlineServer serves h behind withDeadlines on 127.0.0.1.
func deadlineServer(t *testing.T, h http.HandlerFunc, body, write time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(withDeadlines(h, body, write))
	t.Cleanup(srv.Close)
	return srv
}

// TestDeadlinesDoNotBoundHandlers: the body deadline ends when the body is
// in and the write deadline starts with the response, so a handler that
// works longer than both still answers with its context alive (as it would
// not under http.Server's ReadTimeout and WriteTimeout), and the next
// request on the same connection is not hit by a stale deadline.
func TestDeadlinesDoNotBoundHandlers(t *testing.T) {
	const d = 200 * time.Millisecond
	srv := deadlineServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		time.Sleep(3 * d)
		if err := r.Context().Err(); err != nil {
			http.Error(w, "context: "+err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(b)
	}, d, d)
	client := srv.Client()
	for i := range 2 {
		resp, err := client.Post(srv.URL, "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(got) != "hello" {
			t.Fatalf("request %d: %d %q, want 200 \"hello\"", i, resp.StatusCode, got)
		}
		time.Sleep(2 * d) // the write deadline of the answer passes on the idle connection
	}
}

// TestForbiddenClosesConnection: an answer 403 (a failed signature) closes
// the connection, so an unauthenticated client cannot keep it idle.
func TestForbiddenClosesConnection(t *testing.T) {
	srv := deadlineServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/denied" {
			w.WriteHeader(http.StatusForbidden)
		}
	}, time.Second, time.Second)
	for path, wantClose := range map[string]bool{"/denied": true, "/ok": false} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Close != wantClose {
			t.Errorf("GET %s: Connection close = %v, want %v", path, resp.Close, wantClose)
		}
	}
}

// BenchmarkDeadlines is a keep-alive POST with a small body over loopback,
// without and with withDeadlines, to show what the deadlines cost.
func BenchmarkDeadlines(b *testing.B) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = w.Write(body)
	})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", echo}, {"deadlines", withDeadlines(echo, time.Minute, time.Minute)}} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(bc.h)
			defer srv.Close()
			client := srv.Client()
			for b.Loop() {
				resp, err := client.Post(srv.URL, "application/json", strings.NewReader(`{"thingName":"t"}`))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
