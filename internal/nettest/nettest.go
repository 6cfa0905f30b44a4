// Package nettest holds the network fixtures of the outbound-request tests
// (SNS delivery, CRL fetches, the outbound client): a server that counts
// the connections it accepts and an address nobody listens on. It imports
// nothing of Warden, so any package's tests may use it.
package nettest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// CountingServer starts an httptest server for h, closed when t ends, and
// returns it with the number of connections it has accepted so far.
func CountingServer(t testing.TB, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// ClosedURL is http://127.0.0.1:PORT for a port that was just listened on
// and closed, so that a connection to it is refused.
func ClosedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return u
}
