// Package broker is Warden's device endpoint: MQTT 3.1.1 and 5 over mutual
// TLS, served by an embedded mochi-mqtt broker to which Warden supplies
// authentication (the registry's certificates), authorization (IoT
// policies), lifecycle events and limits as AWS IoT Core documents them.
//
// Every account and region gets its own mochi server, so client ids,
// topics, retained messages and sessions never cross accounts; the TLS
// listener is Warden's, and hands each authenticated connection to the
// server of the account that registered its certificate.
package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/warden-iot/warden"
	"golang.org/x/net/netutil"
)

// AWS IoT Core's documented limits (dataplane.md §3).
const (
	// MaxPacketBytes bounds every packet; AWS's payload limit is 128 KB.
	MaxPacketBytes   = 128 * 1024
	maxClientIDBytes = 128
	maxFiltersPerSub = 8
	maxSubsPerConn   = 50
	// Keep-alive: 0 or above the maximum means the maximum, below the
	// minimum means the minimum; the connection is dropped after 1.5×.
	minKeepAlive = 30
	maxKeepAlive = 1200
	// sessionExpiry is AWS's default persistent-session expiry (1 h).
	sessionExpiry = 3600
	// decisionCacheSize bounds one session's cached decisions.
	decisionCacheSize = 1024
)

// Defaults of the Config fields.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultPollInterval     = 100 * time.Millisecond
	DefaultMaxConnections   = 4096
)

// Config is what a Broker needs.
type Config struct {
	Store  warden.Store
	Logger *slog.Logger
	// Hostnames are the names (and IP literals) the server certificate is
	// issued for; the first is the endpoint DescribeEndpoint returns.
	Hostnames []string
	// StrictCA also refuses devices whose registered CA certificate is not
	// ACTIVE (AWS lets them connect).
	StrictCA bool
	// MaxConnections bounds the device connections open at once (0:
	// DefaultMaxConnections); more wait in the accept queue.
	MaxConnections int
	// HandshakeTimeout bounds the TLS handshake and the CONNECT packet.
	HandshakeTimeout time.Duration
	// PollInterval is how often the change log is read for registry
	// changes that affect live sessions.
	PollInterval time.Duration
	// Observers receive every data-plane event.
	Observers []warden.DataPlaneObserver
	// Reports receive the Device Defender metrics reports accepted (nil:
	// they are answered and dropped).
	Reports warden.DeviceReportObserver
	// ReportInterval is the least time between two accepted reports of
	// one thing; a faster one is rejected (Throttled). AWS throttles above
	// one report per 5 minutes; 0, the default, never throttles, so that
	// tests and local agents may report at once.
	ReportInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Broker is the device endpoint.
type Broker struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	ca    *CA
	tls   *tls.Config
	ln    net.Listener
	quiet *slog.Logger // for mochi: it would log packets, payloads included
	// accepting is true while the accept loop runs (readiness probes).
	accepting atomic.Bool

	mu      sync.Mutex
	scopes  map[warden.Scope]*scopeServer
	refuser *scopeServer // speaks CONNACK to certificates no scope registered
	closed  bool

	reg registry

	// reportClocks throttles metrics reports (Config.ReportInterval).
	reportClocks reportThrottle

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// versions numbers connections per client id (the lifecycle events'
	// versionNumber).
	versionsMu sync.Mutex
	versions   map[versionKey]int64

	// conns are the open device connections, closed by Close.
	connsMu     sync.Mutex
	conns       map[net.Conn]struct{}
	connsClosed bool
}

// New loads (or makes) the Warden CA and issues the server certificate.
func New(ctx context.Context, cfg Config) (*Broker, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	var names []string
	for _, h := range cfg.Hostnames {
		if h = strings.TrimSpace(h); h != "" {
			names = append(names, h)
		}
	}
	if len(names) == 0 {
		names = []string{"localhost", "127.0.0.1"}
	}
	cfg.Hostnames = names
	ca, err := LoadCA(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	cert, err := ca.ServerCertificate(cfg.Hostnames, cfg.Now())
	if err != nil {
		return nil, err
	}
	b := &Broker{cfg: cfg, log: cfg.Logger, now: cfg.Now, ca: ca,
		quiet:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		scopes: map[warden.Scope]*scopeServer{}, conns: map[net.Conn]struct{}{}}
	b.reg.init()
	b.tls = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		// Warden verifies the client certificate itself: it must be
		// registered, not merely signed by some CA.
		ClientAuth: tls.RequireAnyClientCert,
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b, nil
}

// CA is the Warden CA devices must trust.
func (b *Broker) CA() *CA { return b.ca }

// Listen starts accepting devices on addr and following the change log.
func (b *Broker) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return b.Serve(ln)
}

// Serve starts accepting devices on ln (bounded by MaxConnections) and
// following the change log.
func (b *Broker) Serve(ln net.Listener) error {
	t, err := newTailer(b)
	if err != nil {
		return err
	}
	b.ln = netutil.LimitListener(ln, b.cfg.MaxConnections)
	b.accepting.Store(true)
	b.wg.Add(2)
	go func() { defer b.wg.Done(); defer b.accepting.Store(false); b.acceptLoop() }()
	go func() { defer b.wg.Done(); t.run(b.ctx) }()
	return nil
}

// Addr is the address devices connect to.
func (b *Broker) Addr() string {
	if b.ln == nil {
		return ""
	}
	return b.ln.Addr().String()
}

// Accepting reports whether devices can connect: the listener is open and
// its accept loop has not ended (Close, or an accept error other than a timeout).
func (b *Broker) Accepting() bool { return b.accepting.Load() }

// EndpointAddress is what DescribeEndpoint returns: the first host name,
// with ":port" when the port is not MQTT's 8883.
func (b *Broker) EndpointAddress() string {
	host := b.cfg.Hostnames[0]
	_, port, err := net.SplitHostPort(b.Addr())
	if err != nil || port == "8883" {
		return host
	}
	return net.JoinHostPort(host, port)
}

// Close stops accepting, disconnects every device and stops the servers.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.accepting.Store(false)
	servers := make([]*scopeServer, 0, len(b.scopes)+1)
	for _, s := range b.scopes {
		servers = append(servers, s)
	}
	if b.refuser != nil {
		servers = append(servers, b.refuser)
	}
	b.mu.Unlock()
	var err error
	if b.ln != nil {
		err = b.ln.Close()
	}
	b.cancel()
	var cuts sync.WaitGroup
	for _, s := range b.reg.all() {
		s.setReason(reasonServerInitiated)
		cuts.Go(func() { s.cut(packets.ErrServerShuttingDown) })
	}
	cuts.Wait()
	b.connsMu.Lock()
	b.connsClosed = true
	for c := range b.conns {
		_ = c.Close()
	}
	b.connsMu.Unlock()
	for _, s := range servers {
		_ = s.srv.Close()
	}
	b.wg.Wait()
	return err
}

func (b *Broker) acceptLoop() {
	for {
		conn, err := b.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.handle(conn)
		}()
	}
}

// deviceConn is an authenticated TLS connection on its way to a scope's
// server, carrying what the handshake established.
type deviceConn struct {
	*tls.Conn
	certID   string
	cert     *x509.Certificate
	sourceIP netip.Addr
	port     int
	sess     *session // set by the hook once CONNECT is read
	// cutting is set when Warden ends the session (session.cut).
	cutting atomic.Bool
}

// Close closes the connection. One Warden is cutting off is closed without
// TLS's close_notify, whose write waits up to 5 s on a client that does not
// read.
func (d *deviceConn) Close() error {
	if d.cutting.Load() {
		return d.NetConn().Close()
	}
	return d.Conn.Close()
}

func (b *Broker) handle(raw net.Conn) {
	b.connsMu.Lock()
	if b.connsClosed {
		b.connsMu.Unlock()
		_ = raw.Close()
		return
	}
	b.conns[raw] = struct{}{}
	b.connsMu.Unlock()
	defer func() {
		b.connsMu.Lock()
		delete(b.conns, raw)
		b.connsMu.Unlock()
		_ = raw.Close()
	}()
	// The handshake and the CONNECT packet must come within the timeout;
	// the hook sets the keep-alive deadline once CONNECT is in.
	_ = raw.SetDeadline(time.Now().Add(b.cfg.HandshakeTimeout))
	tc := tls.Server(raw, b.tls)
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		b.log.Debug("device TLS handshake failed", "remote", raw.RemoteAddr().String(), "err", err.Error())
		_ = raw.Close()
		return
	}
	peers := tc.ConnectionState().PeerCertificates
	if len(peers) == 0 { // RequireAnyClientCert makes this unreachable
		_ = tc.Close()
		return
	}
	dc := &deviceConn{Conn: tc, cert: peers[0], certID: warden.CertificateID(peers[0].Raw)}
	if ap, err := netip.ParseAddrPort(raw.RemoteAddr().String()); err == nil {
		dc.sourceIP, dc.port = ap.Addr().Unmap(), int(ap.Port())
	}
	lookupCtx, cancelLookup := context.WithTimeout(b.ctx, b.cfg.HandshakeTimeout)
	scope, _, found, err := b.cfg.Store.DeviceCertificate(lookupCtx, dc.certID)
	cancelLookup()
	if err != nil {
		b.log.Error("device certificate lookup failed", "certificate_id", dc.certID, "err", err.Error())
	}
	var ss *scopeServer
	if found && err == nil {
		ss, err = b.scopeServer(scope)
	} else {
		ss, err = b.refuseServer()
	}
	if err != nil {
		_ = tc.Close()
		return
	}
	_ = ss.srv.EstablishConnection("warden", dc)
}

// scopeServer is one account's and region's mochi server.
type scopeServer struct {
	b     *Broker
	scope warden.Scope
	srv   *mqtt.Server
	hook  *hook
}

func (b *Broker) capabilities() *mqtt.Capabilities {
	c := mqtt.NewDefaultServerCapabilities()
	c.MaximumQos = 1
	c.MaximumPacketSize = MaxPacketBytes
	c.MaximumSessionExpiryInterval = sessionExpiry
	c.MaximumMessageExpiryInterval = 7 * 24 * 3600
	// mochi checks a publish's ACL before resolving its topic alias, so
	// inbound aliases are not offered (AWS offers 8).
	c.TopicAliasMaximum = 0
	c.SubIDAvailable = 0
	c.ReceiveMaximum = 100
	c.MaximumInflight = 1000
	// The queue of messages waiting to be written to one client, allocated
	// for every connection up front (8 bytes a slot: 8 KB). mochi drops what
	// does not fit, QoS 1 included: 256 slots saved 6 KB per connection but
	// lost messages of the benchmark's fan-in and fan-out (1,000 in flight).
	c.MaximumClientWritesPending = 1024
	c.MinimumProtocolVersion = 4
	return c
}

func (b *Broker) scopeServer(s warden.Scope) (*scopeServer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errors.New("broker closed")
	}
	if ss, ok := b.scopes[s]; ok {
		return ss, nil
	}
	ss, err := b.newScopeServer(s, false)
	if err != nil {
		return nil, err
	}
	b.scopes[s] = ss
	return ss, nil
}

// existingScopeServer is the scope's server if a device ever connected to it.
func (b *Broker) existingScopeServer(s warden.Scope) *scopeServer {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.scopes[s]
}

func (b *Broker) refuseServer() (*scopeServer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errors.New("broker closed")
	}
	if b.refuser == nil {
		ss, err := b.newScopeServer(warden.Scope{}, true)
		if err != nil {
			return nil, err
		}
		b.refuser = ss
	}
	return b.refuser, nil
}

func (b *Broker) newScopeServer(s warden.Scope, refuseAll bool) (*scopeServer, error) {
	srv := mqtt.New(&mqtt.Options{Capabilities: b.capabilities(), Logger: b.quiet, InlineClient: true,
		// Allocated for every connection up front (mochi's default: 2 KB); a
		// packet larger than the buffer is read into its own slice anyway.
		ClientNetReadBufferSize: 1024,
		// $SYS topics are not AWS's; publish them rarely (nobody may receive them).
		SysTopicResendInterval: 3600})
	ss := &scopeServer{b: b, scope: s, srv: srv}
	ss.hook = &hook{ss: ss, refuseAll: refuseAll}
	if err := srv.AddHook(ss.hook, nil); err != nil {
		return nil, err
	}
	if err := srv.Serve(); err != nil {
		return nil, err
	}
	return ss, nil
}

// emit hands e to every observer.
func (b *Broker) emit(e warden.DataPlaneEvent) {
	if e.At.IsZero() {
		e.At = b.now()
	}
	for _, o := range b.cfg.Observers {
		o.Observe(e)
	}
}
