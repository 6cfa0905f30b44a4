package outbound

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/warden-iot/warden/internal/nettest"
)

func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		allow, deny []string
		addr        string
		want        bool
	}{
		{nil, nil, "127.0.0.1", true},
		{nil, nil, "10.1.2.3", true},
		{nil, nil, "192.168.0.1", true},
		{nil, nil, "::1", true},
		{nil, nil, "169.254.169.254", false},
		{nil, nil, "::ffff:169.254.169.254", false},
		{nil, nil, "fe80::1", false},
		{nil, nil, "fd00:ec2::254", false},
		{nil, nil, "0.0.0.0", false},
		{nil, nil, "::", false},
		{[]string{"169.254.169.254"}, nil, "169.254.169.254", true},
		{[]string{"169.254.0.0/16"}, nil, "169.254.1.1", true},
		{nil, []string{"127.0.0.0/8"}, "127.0.0.1", false},
		{nil, []string{"127.0.0.0/8"}, "::ffff:127.0.0.1", false},
		{nil, []string{"10.0.0.0/8", "::1/128"}, "::1", false},
		{nil, []string{"10.0.0.0/8"}, "10.9.9.9", false},
		{[]string{"10.1.0.0/16"}, []string{"10.0.0.0/8"}, "10.1.2.3", true},
		{[]string{"10.1.0.0/16"}, []string{"10.0.0.0/8"}, "10.2.0.1", false},
		{[]string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}, "10.2.0.1", false},
		{[]string{"::ffff:10.0.0.0/104"}, []string{"0.0.0.0/0"}, "10.2.0.1", true},
	} {
		p, err := NewPolicy(tc.allow, tc.deny)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Allowed(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("allow %v deny %v: %s allowed = %v, want %v", tc.allow, tc.deny, tc.addr, got, tc.want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.0/8/8"} {
		if _, err := NewPolicy(nil, []string{bad}); err == nil {
			t.Errorf("deny %q accepted", bad)
		}
	}
}

// assertCoarse fails when what a tenant would see names an address or port.
func assertCoarse(t *testing.T, err error, srvURL string) {
	t.Helper()
	host := strings.TrimPrefix(srvURL, "http://")
	_, port, _ := net.SplitHostPort(host)
	for _, leak := range []string{"127.0.0.1", "169.254", port, "dial", "connect:", "tcp"} {
		if leak != "" && strings.Contains(err.Error(), leak) {
			t.Errorf("error %q reveals %q", err.Error(), leak)
		}
	}
}

func get(t *testing.T, c *Client, url string) (*Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(req, 1<<10, true)
}

// TestMetadataRefusedAtDial: 169.254.169.254 is refused by the default
// policy before any packet is sent (the Control hook runs before connect).
func TestMetadataRefusedAtDial(t *testing.T) {
	c := New(Options{ConnectTimeout: 2 * time.Second})
	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://[fe80::1%25lo]:80/", "http://[fd00:ec2::254]/", "http://0.0.0.0:1/"} {
		_, err := get(t, c, u)
		var oe *Error
		if !errors.As(err, &oe) || oe.Kind != Refused {
			t.Fatalf("%s: got %v, want the policy's refusal", u, err)
		}
		if err.Error() != "refused by the outbound address policy" {
			t.Errorf("%s: tenant text %q", u, err.Error())
		}
		assertCoarse(t, err, "")
		if !strings.Contains(oe.Detail, "refused by the outbound address policy") {
			t.Errorf("%s: log detail %q does not say why", u, oe.Detail)
		}
	}
}

// TestDenyLoopback: a deny list with 127.0.0.0/8 refuses a listener on
// 127.0.0.1, which never sees a connection.
func TestDenyLoopback(t *testing.T) {
	srv, conns := nettest.CountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if _, err := get(t, New(Options{}), srv.URL); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	p, err := NewPolicy(nil, []string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	conns.Store(0)
	_, err = get(t, New(Options{Policy: p}), srv.URL)
	var oe *Error
	if !errors.As(err, &oe) || oe.Kind != Refused {
		t.Fatalf("got %v, want the policy's refusal", err)
	}
	assertCoarse(t, err, srv.URL)
	if n := conns.Load(); n != 0 {
		t.Errorf("the denied listener saw %d connections", n)
	}
}

// TestRedirectNotFollowed: a 302 to another listener is a bad status and
// the other listener never gets a request.
func TestRedirectNotFollowed(t *testing.T) {
	target, conns := nettest.CountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/admin", http.StatusFound))
	defer redirector.Close()
	_, err := get(t, New(Options{}), redirector.URL)
	var oe *Error
	if !errors.As(err, &oe) || oe.Kind != BadStatus || oe.Status != http.StatusFound {
		t.Fatalf("got %v, want a bad status 302", err)
	}
	if err.Error() != "the endpoint answered with HTTP status 3xx" {
		t.Errorf("tenant text %q", err.Error())
	}
	assertCoarse(t, err, target.URL)
	assertCoarse(t, err, redirector.URL)
	if n := conns.Load(); n != 0 {
		t.Errorf("the redirect target saw %d connections", n)
	}
}

// TestFailuresAreCoarse: a closed port and an error status name neither
// the address nor the port; the log detail does.
func TestFailuresAreCoarse(t *testing.T) {
	closed := nettest.ClosedURL(t)
	_, err := get(t, New(Options{}), closed+"/x")
	var oe *Error
	if !errors.As(err, &oe) || oe.Kind != Unreachable || err.Error() != "could not connect" {
		t.Fatalf("closed port: %v", err)
	}
	assertCoarse(t, err, closed)
	if !strings.Contains(oe.Detail, strings.TrimPrefix(closed, "http://")) {
		t.Errorf("log detail %q lacks the address", oe.Detail)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal detail", http.StatusInternalServerError)
	}))
	defer srv.Close()
	_, err = get(t, New(Options{}), srv.URL)
	if err == nil || err.Error() != "the endpoint answered with HTTP status 5xx" {
		t.Fatalf("500: %v", err)
	}
	assertCoarse(t, err, srv.URL)

	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 4096)) }))
	defer big.Close()
	if _, err = get(t, New(Options{}), big.URL); !errors.As(err, &oe) || oe.Kind != TooLarge || err.Error() != "the answer is larger than 1 KiB" {
		t.Fatalf("big body: %v", err)
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer slow.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, slow.URL, nil)
	if _, err = New(Options{}).Do(req, 1<<10, true); !errors.As(err, &oe) || oe.Kind != Timeout {
		t.Fatalf("slow body: %v", err)
	}
}

// BenchmarkPolicyCheck is the dial-time check alone; compare it with
// BenchmarkLoopbackRoundTrip, one request on a kept-alive connection.
func BenchmarkPolicyCheck(b *testing.B) {
	p, err := NewPolicy([]string{"10.1.0.0/16"}, []string{"10.0.0.0/8", "192.168.0.0/16"})
	if err != nil {
		b.Fatal(err)
	}
	c := New(Options{Policy: p})
	for b.Loop() {
		if err := c.control("tcp4", "127.0.0.1:8443", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoopbackRoundTrip is one POST to a 127.0.0.1 listener through
// the outbound client, with the default policy and with allow and deny
// lists, on a kept-alive connection and on a new one each time (the
// policy is checked once per connection).
func BenchmarkLoopbackRoundTrip(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	p, err := NewPolicy([]string{"10.1.0.0/16"}, []string{"10.0.0.0/8", "192.168.0.0/16"})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		policy *Policy
		fresh  bool
	}{{"keepalive/default", nil, false}, {"keepalive/with-lists", p, false}, {"newconn/default", nil, true}, {"newconn/with-lists", p, true}} {
		b.Run(tc.name, func(b *testing.B) {
			c := New(Options{Policy: tc.policy})
			for b.Loop() {
				if tc.fresh {
					c.http.CloseIdleConnections()
				}
				req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"Message":"x"}`))
				if _, err := c.Do(req, 64<<10, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
