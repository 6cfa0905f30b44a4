package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Client defaults.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultHeaderTimeout  = 10 * time.Second
	// DefaultTimeout bounds a whole exchange whose context has no deadline.
	DefaultTimeout = 30 * time.Second
)

// Options configure a Client; zero values take the defaults.
type Options struct {
	// Policy says which addresses may be connected to; nil is the default
	// policy (everything but link-local and metadata addresses).
	Policy *Policy
	// ConnectTimeout bounds the TCP connect and the TLS handshake each.
	ConnectTimeout time.Duration
	// HeaderTimeout bounds the wait for the response headers once the
	// request was sent.
	HeaderTimeout time.Duration
	// Timeout bounds a whole exchange, body included, when the request's
	// context has no earlier deadline.
	Timeout time.Duration
	// MaxIdleConnsPerHost is how many idle connections are kept per host
	// (default 128: a busy SNS subscriber gets many requests at once).
	MaxIdleConnsPerHost int
	// TLSConfig is the TLS configuration (tests set RootCAs); nil is the
	// system's.
	TLSConfig *tls.Config
}

// Client sends requests to the outside under an address policy. It is safe
// for concurrent use; one is shared by everything in the process.
type Client struct {
	http    *http.Client
	policy  *Policy
	timeout time.Duration
}

// New makes a Client.
func New(o Options) *Client {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = DefaultHeaderTimeout
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 128
	}
	if o.Policy == nil {
		o.Policy = &Policy{}
	}
	c := &Client{policy: o.Policy, timeout: o.Timeout}
	dialer := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second, Control: c.control}
	tr := &http.Transport{
		// No proxy: the policy must see the address actually connected to.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        o.TLSConfig,
		TLSHandshakeTimeout:    o.ConnectTimeout,
		ResponseHeaderTimeout:  o.HeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    o.MaxIdleConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      o.TLSConfig == nil,
	}
	c.http = &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// control runs after the name was resolved and before the connection is
// made, so a host name that resolves to a refused address is refused too.
func (c *Client) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &policyError{address: address}
	}
	if !c.policy.Allowed(ap.Addr()) {
		return &policyError{address: address}
	}
	return nil
}

// policyError is a connection the policy refused.
type policyError struct{ address string }

func (e *policyError) Error() string {
	return "connecting to " + e.address + " is refused by the outbound address policy"
}

// Kind is the class of an outbound failure: all that a tenant is told.
type Kind int

// The kinds of failure.
const (
	// Refused: the address policy refused the address; nothing was sent.
	Refused Kind = iota + 1
	// Unreachable: no connection could be made (refused, unreachable,
	// unknown host, TLS failure).
	Unreachable
	// Timeout: no (complete) answer in time.
	Timeout
	// BadStatus: the endpoint answered with a status other than 2xx
	// (redirects included: they are never followed).
	BadStatus
	// TooLarge: the answer's body exceeded its cap.
	TooLarge
	// Invalid: the request could not be made (not an http(s) URL).
	Invalid
)

// Error is an outbound failure. Its Error text is coarse and safe to show
// a tenant; Detail, for the server log only, has the address and the
// underlying error.
type Error struct {
	Kind Kind
	// Status is the HTTP status of a BadStatus failure.
	Status int
	// Limit is the body cap of a TooLarge failure.
	Limit int64
	// Detail is the full story, for the server log.
	Detail string
}

// Error is what a tenant may see: the class of the failure, no address,
// port or OS error text.
func (e *Error) Error() string {
	switch e.Kind {
	case Refused:
		return "refused by the outbound address policy"
	case Unreachable:
		return "could not connect"
	case Timeout:
		return "no answer in time"
	case BadStatus:
		return fmt.Sprintf("the endpoint answered with HTTP status %dxx", e.Status/100)
	case TooLarge:
		return fmt.Sprintf("the answer is larger than %s", FormatSize(e.Limit))
	default:
		return "not a valid http or https URL"
	}
}

// FormatSize writes n bytes in MiB or KiB when it is a whole number of them.
func FormatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// Detailed is err's detail for the server log: an *Error's Detail, else
// err's text.
func Detailed(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

// Response is a finished exchange: the status, headers and at most the
// body cap of the body.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Do sends req and reads at most maxBody bytes of the answer. A body
// longer than maxBody is a TooLarge error when failLarger, else it is cut
// (the rest is not read). Any status but 2xx is a BadStatus error, with the
// Response still returned. Redirects are never followed.
func (c *Client) Do(req *http.Request, maxBody int64, failLarger bool) (*Response, error) {
	if req.URL == nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") || req.URL.Host == "" {
		return nil, &Error{Kind: Invalid, Detail: "not an http(s) URL"}
	}
	ctx := req.Context()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
		req = req.WithContext(ctx)
	}
	target := req.URL.Redacted()
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, classify(target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, classify(target, err)
	}
	out := &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}
	if int64(len(body)) > maxBody {
		out.Body = body[:maxBody]
		if failLarger {
			return nil, &Error{Kind: TooLarge, Limit: maxBody, Detail: fmt.Sprintf("%s %s: the body is larger than %d bytes", req.Method, target, maxBody)}
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return out, &Error{Kind: BadStatus, Status: resp.StatusCode, Detail: fmt.Sprintf("%s %s: HTTP status %d", req.Method, target, resp.StatusCode)}
	}
	return out, nil
}

func classify(target string, err error) *Error {
	e := &Error{Kind: Unreachable, Detail: target + ": " + err.Error()}
	var pe *policyError
	var ne net.Error
	switch {
	case errors.As(err, &pe):
		e.Kind = Refused
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		e.Kind = Timeout
	}
	return e
}
