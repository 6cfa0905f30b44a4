package broker

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/warden-iot/warden"
)

// Lifecycle disconnect reasons (dataplane.md §4).
const (
	reasonAuthError        = "AUTH_ERROR"
	reasonClientInitiated  = "CLIENT_INITIATED_DISCONNECT"
	reasonClientError      = "CLIENT_ERROR"
	reasonConnectionLost   = "CONNECTION_LOST"
	reasonDuplicateClient  = "DUPLICATE_CLIENTID"
	reasonKeepAliveTimeout = "MQTT_KEEP_ALIVE_TIMEOUT"
	reasonServerInitiated  = "SERVER_INITIATED_DISCONNECT"
)

// decisionKey is one cached authorization question: the action and the
// topic or filter (not the ARN, so a warm check builds no string).
type decisionKey struct {
	action, name string
}

// session is one device connection: who it is, what it may do (the loaded
// principal and a cache of decisions) and how it ended.
type session struct {
	ss       *scopeServer
	id       string // sessionIdentifier (UUID)
	cl       *mqtt.Client
	certID   string
	cert     *x509.Certificate
	clientID string
	sourceIP netip.Addr
	port     int
	version  int64  // lifecycle versionNumber
	caID     string // the registered CA of the certificate, "" if none
	// connectGen is gen when the connect was judged.
	connectGen int64
	// connectAttrs and willTopic are the Connect-only condition keys.
	connectAttrs []string
	willTopic    string

	mu        sync.RWMutex
	principal iotPrincipal
	decisions map[decisionKey]bool

	// gen counts invalidations; a connect that raced one re-judges.
	gen         atomic.Int64
	established atomic.Bool
	ended       atomic.Bool
	// reason is the disconnectReason Warden chose when it closed the
	// connection ("" when the client or the network did).
	reason atomic.Value
	// subscribing holds the filters of the SUBSCRIBE being processed as the
	// client sent them (read and written on the client's read goroutine).
	subscribing []string
}

func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// allowed answers whether the session's principal may do action on the
// topic or filter name, from the cache when it can.
func (s *session) allowed(action, name string) bool {
	k := decisionKey{action, name}
	s.mu.RLock()
	v, ok := s.decisions[k]
	s.mu.RUnlock()
	if ok {
		return v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.decisions[k]; ok {
		return v
	}
	v = s.decideLocked(action, name)
	if len(s.decisions) >= decisionCacheSize {
		clear(s.decisions)
	}
	s.decisions[k] = v
	return v
}

func (s *session) decideLocked(action, name string) bool {
	resource := s.ss.scope.IoTARN(resourceType(action) + "/" + name)
	d := authorizeIoT(s.principal.Policies, action, resource, &s.principal.Context)
	return d.Decision == warden.DecisionAllowed
}

func resourceType(action string) string {
	switch action {
	case warden.ActionIoTConnect:
		return "client"
	case warden.ActionIoTSubscribe:
		return "topicfilter"
	default:
		return "topic"
	}
}

// load reads the principal afresh and drops every cached decision.
func (s *session) load(ctx context.Context) error {
	b := s.ss.b
	p, err := loadPrincipal(ctx, b.cfg.Store, s.ss.scope, s.certID, s.clientID, s.cert, s.sourceIP)
	if err != nil {
		return err
	}
	p.Context.ConnectAttributes = s.connectAttrs
	p.Context.LastWillTopic = s.willTopic
	s.mu.Lock()
	s.principal = p
	// No size hint: most devices ask few questions, and a hint of 16 costs
	// 1.4 KB per connection.
	s.decisions = map[decisionKey]bool{}
	s.mu.Unlock()
	return nil
}

func (s *session) caIDValue() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.caID
}

// hasPolicy reports whether the policy named name applies to s.
func (s *session) hasPolicy(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.principal.Policies {
		if p.Name == name {
			return true
		}
	}
	return false
}

// inGroup reports whether s's thing is in the group (or under it).
func (s *session) inGroup(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Contains(s.principal.ThingGroups, name)
}

func (s *session) thingName() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.principal.ThingName
}

// setReason records why Warden ends the session; the first reason wins.
func (s *session) setReason(r string) {
	s.reason.CompareAndSwap(nil, r)
}

func (s *session) reasonOr(r string) string {
	if v, ok := s.reason.Load().(string); ok {
		return v
	}
	return r
}

// kick ends the session in the background, so that whoever decided it (the
// change-log tail) never waits on a client: MQTT 5 clients get a DISCONNECT
// with code first.
func (s *session) kick(reason string, code packets.Code) {
	s.setReason(reason)
	go s.cut(code)
}

// cutTimeout bounds how long ending a session may take: a client that stops
// reading would otherwise block the DISCONNECT (and mochi's queued writes,
// holding the client's lock) until its keep-alive deadline, up to 30 min.
const cutTimeout = time.Second

// cut ends the session now, within cutTimeout: after it the socket itself
// is closed, which fails any write blocked on it.
func (s *session) cut(code packets.Code) {
	if dc, ok := s.cl.Net.Conn.(*deviceConn); ok {
		dc.cutting.Store(true)
		backstop := time.AfterFunc(cutTimeout, func() { _ = dc.NetConn().Close() })
		defer backstop.Stop()
	}
	if s.cl.Properties.ProtocolVersion == 5 {
		_ = s.ss.srv.DisconnectClient(s.cl, code)
		return
	}
	s.cl.Stop(code)
}

// registry indexes the live sessions for invalidation.
type registry struct {
	mu      sync.Mutex
	byCert  map[string]map[*session]struct{}
	byScope map[warden.Scope]map[*session]struct{}
}

func (r *registry) init() {
	r.byCert = map[string]map[*session]struct{}{}
	r.byScope = map[warden.Scope]map[*session]struct{}{}
}

func (r *registry) add(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	addTo(r.byCert, s.certID, s)
	addTo(r.byScope, s.ss.scope, s)
}

func (r *registry) remove(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	removeFrom(r.byCert, s.certID, s)
	removeFrom(r.byScope, s.ss.scope, s)
}

func (r *registry) withCert(id string, scope warden.Scope) []*session {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*session
	for s := range r.byCert[id] {
		if s.ss.scope == scope {
			out = append(out, s)
		}
	}
	return out
}

func (r *registry) inScope(scope warden.Scope) []*session {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*session, 0, len(r.byScope[scope]))
	for s := range r.byScope[scope] {
		out = append(out, s)
	}
	return out
}

func (r *registry) matching(scope warden.Scope, match func(*session) bool) []*session {
	var out []*session
	for _, s := range r.inScope(scope) {
		if match(s) {
			out = append(out, s)
		}
	}
	return out
}

func (r *registry) all() []*session {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*session
	for _, m := range r.byScope {
		for s := range m {
			out = append(out, s)
		}
	}
	return out
}

func addTo[K comparable](m map[K]map[*session]struct{}, k K, s *session) {
	set := m[k]
	if set == nil {
		set = map[*session]struct{}{}
		m[k] = set
	}
	set[s] = struct{}{}
}

func removeFrom[K comparable](m map[K]map[*session]struct{}, k K, s *session) {
	if set := m[k]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}
