package broker

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/warden-iot/warden"
)

// deniedFilterPrefix replaces a SUBSCRIBE filter the policy denies, so that
// mochi's own ACL call for it answers "not authorized" (0x87, or 0x80 under
// 3.1.1). No topic a message is published on can start with it: publishing
// to "$warden/" is refused.
const deniedFilterPrefix = "$warden/denied/"

// invalidFilter replaces a filter beyond AWS's topic limits: mochi answers
// it "topic filter invalid" (0x8F).
const invalidFilter = "#/invalid"

// hook plugs Warden into one scope's mochi server.
type hook struct {
	mqtt.HookBase
	ss        *scopeServer
	refuseAll bool // the server of certificates no scope registered
}

// ID names the hook.
func (h *hook) ID() string { return "warden" }

// Provides lists the events the hook handles.
func (h *hook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSessionEstablish, mqtt.OnSessionEstablished,
		mqtt.OnDisconnect, mqtt.OnPacketRead, mqtt.OnSubscribe, mqtt.OnSubscribed, mqtt.OnUnsubscribed,
		mqtt.OnPublish, mqtt.OnPacketSent:
		return true
	}
	return false
}

func sessionOf(cl *mqtt.Client) *session {
	if dc, ok := cl.Net.Conn.(*deviceConn); ok {
		return dc.sess
	}
	return nil
}

// refusal is why a connection is not allowed.
type refusal struct {
	code            packets.Code // MQTT 5 CONNACK reason
	reason, details string
	authorization   bool // a connect_failed lifecycle event is published
}

var (
	refuseUnknown  = &refusal{packets.ErrNotAuthorized, "AUTHORIZATION_FAILURE", "Certificate not registered", true}
	refuseNotAllow = &refusal{packets.ErrNotAuthorized, "AUTHORIZATION_FAILURE", "Authorization Failure", true}
	refuseStore    = &refusal{packets.ErrServerUnavailable, "SERVER_ERROR", "Server error", false}
	refuseClientID = &refusal{packets.ErrClientIdentifierNotValid, "CLIENT_ERROR", "Client id longer than 128 bytes", false}
)

func certRefusal(details string) *refusal {
	return &refusal{packets.ErrNotAuthorized, "AUTHORIZATION_FAILURE", details, true}
}

// OnConnect authenticates and authorizes the connection before mochi
// answers it: a refused one gets its CONNACK here.
func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	dc, ok := cl.Net.Conn.(*deviceConn)
	if !ok {
		return errors.New("not a device connection")
	}
	b := h.ss.b
	if h.refuseAll {
		return h.refuse(cl, dc, nil, refuseUnknown)
	}
	if len(cl.ID) > maxClientIDBytes {
		return h.refuse(cl, dc, nil, refuseClientID)
	}
	s := &session{ss: h.ss, id: newSessionID(), cl: cl, certID: dc.certID, cert: dc.cert, clientID: cl.ID,
		sourceIP: dc.sourceIP, port: dc.port}
	persistent := !pk.Connect.Clean
	if pk.ProtocolVersion == 5 {
		persistent = !pk.Connect.Clean || pk.Properties.SessionExpiryInterval > 0
	}
	if persistent {
		s.connectAttrs = append(s.connectAttrs, "PersistentConnect")
	}
	if pk.Connect.WillFlag {
		s.connectAttrs = append(s.connectAttrs, "LastWill")
		s.willTopic = h.ss.scope.IoTARN("topic/" + pk.Connect.WillTopic)
	}
	// Registered before the registry is read: a change committed after
	// this point is seen by the change-log tail and re-judges the session.
	b.reg.add(s)
	dc.sess = s
	gen := s.gen.Load()
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.HandshakeTimeout)
	defer cancel()
	if r := b.judge(ctx, s); r != nil {
		return h.refuse(cl, dc, s, r)
	}
	if pk.Connect.WillFlag {
		t := pk.Connect.WillTopic
		if !validTopic(t) || reservedForPublish(t) || !s.allowed(warden.ActionIoTPublish, t) ||
			pk.Connect.WillRetain && !s.allowed(warden.ActionIoTRetainPublish, t) {
			return h.refuse(cl, dc, s, refuseNotAllow)
		}
	}
	ka := pk.Connect.Keepalive
	switch {
	case ka == 0 || ka > maxKeepAlive:
		ka = maxKeepAlive
	case ka < minKeepAlive:
		ka = minKeepAlive
	}
	cl.State.Keepalive = ka
	cl.State.ServerKeepalive = ka != pk.Connect.Keepalive
	s.version = b.nextVersion(h.ss.scope, cl.ID)
	s.connectGen = gen
	disableSendQuota(cl)
	return nil
}

// disableSendQuota turns off mochi's outbound flow control for cl, whose
// v2.7.9 deadlocks: after each packet from a client with messages in flight
// and send quota left, processPacket calls Inflight.NextImmediate, which
// holds the inflight read lock and read-locks it again in GetAll; a
// publisher's Inflight.Set (publishToClient) waiting for the write lock in
// between blocks the second RLock, and the client, and then every publisher
// to it, are stuck for good. A zero quota skips that call (as for 3.1.1
// clients, which send no Receive Maximum); no hook runs between the two
// locks, Inflight's fields are unexported, and MaximumInflight 0 would refuse
// every QoS 1 delivery, so this is the only avoidance short of forking
// mochi. The cost: an MQTT 5 client's Receive Maximum no longer limits what
// Warden sends it; MaximumInflight still caps its unacknowledged messages.
// It runs in OnConnect (ParseConnect set the quota) and again in
// OnSessionEstablished (a session taken over with messages in flight gets a
// fresh quota), before the client's read loop starts.
func disableSendQuota(cl *mqtt.Client) {
	cl.State.Inflight.ResetSendQuota(0)
}

// judge decides whether s may be connected now: its certificate ACTIVE and
// valid, its CA ACTIVE in strict mode, iot:Connect allowed. It reloads the
// principal, which drops the cached decisions.
func (b *Broker) judge(ctx context.Context, s *session) *refusal {
	c, err := b.cfg.Store.Certificate(ctx, s.ss.scope, s.certID)
	if warden.ErrorCode(err) == warden.CodeResourceNotFound {
		return refuseUnknown
	}
	if err != nil {
		b.log.Error("device certificate read failed", "certificate_id", s.certID, "err", err.Error())
		return refuseStore
	}
	if c.Status != warden.CertActive {
		return certRefusal("Certificate is " + c.Status)
	}
	now := b.now()
	if now.Before(s.cert.NotBefore) || now.After(s.cert.NotAfter) {
		return certRefusal("Certificate is expired or not yet valid")
	}
	s.mu.Lock()
	s.caID = c.CACertificateID
	s.mu.Unlock()
	if b.cfg.StrictCA && c.CACertificateID != "" {
		ca, err := b.cfg.Store.CACertificate(ctx, s.ss.scope, c.CACertificateID)
		if err != nil && warden.ErrorCode(err) != warden.CodeResourceNotFound {
			return refuseStore
		}
		if err != nil || ca.Status != warden.CertActive {
			return certRefusal("CA certificate is not ACTIVE")
		}
	}
	if err := s.load(ctx); err != nil {
		b.log.Error("device principal load failed", "certificate_id", s.certID, "err", err.Error())
		return refuseStore
	}
	if !s.allowed(warden.ActionIoTConnect, s.clientID) {
		return refuseNotAllow
	}
	return nil
}

// refuse answers a refused CONNECT and reports it.
func (h *hook) refuse(cl *mqtt.Client, dc *deviceConn, s *session, r *refusal) error {
	b := h.ss.b
	if s != nil {
		b.reg.remove(s)
		s.ended.Store(true)
	}
	code := r.code
	if cl.Properties.ProtocolVersion < 5 && code == packets.ErrNotAuthorized {
		code = packets.ErrBadUsernameOrPassword // 3.1.1 return code 5, "not authorized"
	}
	_ = h.ss.srv.SendConnack(cl, code, false, nil)
	sessionID := newSessionID()
	thing := ""
	if s != nil {
		sessionID, thing = s.id, s.thingName()
	}
	b.emit(warden.DataPlaneEvent{Scope: h.ss.scope, Type: warden.EventConnect, Status: warden.StatusFailure,
		SessionID: sessionID, ClientID: cl.ID, PrincipalID: dc.certID, ThingName: thing,
		SourceIP: addrString(dc), SourcePort: dc.port, Protocol: "MQTT", Reason: r.reason, Details: r.details})
	if r.authorization && !h.refuseAll {
		b.publishLifecycle(h.ss, "presence/connect_failed", cl.ID, lifecycleEvent{
			ClientID: cl.ID, ThingName: thing, EventType: "connect_failed", SessionIdentifier: sessionID,
			PrincipalIdentifier: dc.certID, IPAddress: addrString(dc), ConnectFailureReason: "AUTHORIZATION_FAILED"})
	}
	return r.code
}

func addrString(dc *deviceConn) string {
	if !dc.sourceIP.IsValid() {
		return ""
	}
	return dc.sourceIP.String()
}

// OnConnectAuthenticate accepts what OnConnect let through.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	return !h.refuseAll && sessionOf(cl) != nil
}

// OnSessionEstablish runs just before mochi takes over a session with the
// same client id: the old connection's reason is set before it is closed
// (its read loop may see the closed socket before mochi records why).
func (h *hook) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	if old, ok := h.ss.srv.Clients.Get(cl.ID); ok && old != cl {
		if s := sessionOf(old); s != nil {
			s.setReason(reasonDuplicateClient)
		}
	}
}

// OnSessionEstablished reports the connection once CONNACK is sent.
func (h *hook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	s := sessionOf(cl)
	if s == nil {
		return
	}
	b := h.ss.b
	disableSendQuota(cl)
	s.established.Store(true)
	thing := s.thingName()
	b.emit(warden.DataPlaneEvent{Scope: h.ss.scope, Type: warden.EventConnect, Status: warden.StatusSuccess,
		SessionID: s.id, ClientID: s.clientID, PrincipalID: s.certID, ThingName: thing,
		SourceIP: s.ipString(), SourcePort: s.port, Protocol: "MQTT"})
	b.publishLifecycle(h.ss, "presence/connected", s.clientID, lifecycleEvent{
		ClientID: s.clientID, ThingName: thing, EventType: "connected", SessionIdentifier: s.id,
		PrincipalIdentifier: s.certID, IPAddress: s.ipString(), VersionNumber: &s.version})
	if s.gen.Load() != s.connectGen {
		// A change arrived while the connection was being judged.
		go b.rejudge(b.ctx, s)
	}
}

// OnDisconnect reports the end of an established connection.
func (h *hook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	s := sessionOf(cl)
	if s == nil || !s.ended.CompareAndSwap(false, true) {
		return
	}
	b := h.ss.b
	b.reg.remove(s)
	reason := s.reasonOr(disconnectReason(cl, err))
	thing := s.thingName()
	b.emit(warden.DataPlaneEvent{Scope: h.ss.scope, Type: warden.EventDisconnect, Status: warden.StatusSuccess,
		SessionID: s.id, ClientID: s.clientID, PrincipalID: s.certID, ThingName: thing,
		SourceIP: s.ipString(), SourcePort: s.port, Protocol: "MQTT", DisconnectReason: reason})
	clientInitiated := reason == reasonClientInitiated
	b.publishLifecycle(h.ss, "presence/disconnected", s.clientID, lifecycleEvent{
		ClientID: s.clientID, ThingName: thing, EventType: "disconnected", SessionIdentifier: s.id,
		PrincipalIdentifier: s.certID, ClientInitiatedDisconnect: &clientInitiated, DisconnectReason: reason,
		VersionNumber: &s.version})
}

// disconnectReason names, as AWS's lifecycle events do, why a connection
// Warden did not close itself ended.
func disconnectReason(cl *mqtt.Client, err error) string {
	cause := cl.StopCause()
	switch {
	case errors.Is(cause, packets.ErrSessionTakenOver) || cl.IsTakenOver():
		return reasonDuplicateClient
	case errors.Is(cause, packets.CodeDisconnect) || errors.Is(cause, packets.CodeDisconnectWillMessage) ||
		errors.Is(err, packets.CodeDisconnectWillMessage):
		return reasonClientInitiated
	case errors.Is(cause, packets.ErrServerShuttingDown):
		return reasonServerInitiated
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return reasonKeepAliveTimeout
	}
	var code packets.Code
	if errors.As(err, &code) && code.Code >= packets.ErrUnspecifiedError.Code {
		return reasonClientError
	}
	return reasonConnectionLost
}

// OnPacketRead enforces AWS's limits on what a client sends, and judges a
// 3.1.1 publish (a denied one closes the connection).
func (h *hook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	s := sessionOf(cl)
	if s == nil || !s.established.Load() {
		return pk, nil
	}
	switch pk.FixedHeader.Type {
	case packets.Publish:
		if pk.FixedHeader.Qos > 1 {
			return pk, h.clientError(s, packets.ErrQosNotSupported)
		}
		t := pk.TopicName
		if !validTopic(t) {
			return pk, h.clientError(s, packets.ErrTopicNameInvalid)
		}
		if cl.Properties.ProtocolVersion < 5 && !s.mayPublish(t, pk.FixedHeader.Retain) {
			h.publishDenied(s, pk)
			s.setReason(reasonAuthError)
			return pk, packets.ErrRejectPacket
		}
	case packets.Subscribe:
		if len(pk.Filters) > maxFiltersPerSub {
			return pk, h.clientError(s, packets.ErrQuotaExceeded)
		}
		n := cl.State.Subscriptions.Len()
		for _, f := range pk.Filters {
			if _, ok := cl.State.Subscriptions.Get(f.Filter); !ok {
				n++
			}
		}
		if n > maxSubsPerConn {
			return pk, h.clientError(s, packets.ErrQuotaExceeded)
		}
	}
	return pk, nil
}

// clientError ends a session that broke AWS's rules (CLIENT_ERROR).
func (h *hook) clientError(s *session, code packets.Code) error {
	s.setReason(reasonClientError)
	if s.cl.Properties.ProtocolVersion == 5 {
		_ = h.ss.srv.DisconnectClient(s.cl, code)
	}
	return packets.ErrRejectPacket
}

func (s *session) mayPublish(topic string, retain bool) bool {
	return !reservedForPublish(topic) && s.allowed(warden.ActionIoTPublish, topic) &&
		(!retain || s.allowed(warden.ActionIoTRetainPublish, topic))
}

func (h *hook) publishDenied(s *session, pk packets.Packet) {
	h.ss.b.emit(warden.DataPlaneEvent{Scope: h.ss.scope, Type: warden.EventPublishIn, Status: warden.StatusFailure,
		SessionID: s.id, ClientID: s.clientID, PrincipalID: s.certID, ThingName: s.thingName(),
		SourceIP: s.ipString(), SourcePort: s.port, Protocol: "MQTT", Topic: pk.TopicName, QoS: pk.FixedHeader.Qos,
		Retain: pk.FixedHeader.Retain, PayloadBytes: len(pk.Payload),
		Reason: "AUTHORIZATION_FAILURE", Details: "Authorization Failure"})
}

// OnACLCheck answers mochi's two questions: may the client publish to
// topic (write), and may it subscribe to the filter or receive a message
// on the topic (read). Subscribe filters were judged in OnSubscribe.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	s := sessionOf(cl)
	if s == nil {
		return false
	}
	if write {
		if reservedForPublish(topic) || !s.allowed(warden.ActionIoTPublish, topic) {
			h.publishDenied(s, packets.Packet{TopicName: topic})
			return false
		}
		return true
	}
	switch {
	case strings.HasPrefix(topic, deniedFilterPrefix), strings.HasPrefix(topic, "$SYS"):
		return false
	case strings.ContainsAny(topic, "+#"), strings.HasPrefix(topic, "$share/"):
		// A filter no published topic can equal: OnSubscribe allowed it.
		return true
	}
	// A delivery, or a literal filter: a literal subscription is refused
	// when its one topic may not be received.
	return s.allowed(warden.ActionIoTReceive, topic)
}

// OnSubscribe judges each filter with iot:Subscribe and AWS's limits.
func (h *hook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	s := sessionOf(cl)
	if s == nil {
		return pk
	}
	s.subscribing = make([]string, len(pk.Filters))
	filters := make(packets.Subscriptions, len(pk.Filters))
	copy(filters, pk.Filters)
	for i, f := range filters {
		s.subscribing[i] = f.Filter
		switch {
		case !validFilter(f.Filter):
			filters[i].Filter = invalidFilter
		case !s.allowed(warden.ActionIoTSubscribe, f.Filter):
			filters[i].Filter = deniedFilterPrefix + strconv.Itoa(i)
		}
	}
	pk.Filters = filters
	return pk
}

// OnSubscribed reports a SUBSCRIBE's outcome.
func (h *hook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	s := sessionOf(cl)
	if s == nil {
		return
	}
	var granted, denied []string
	for i, f := range s.subscribing {
		if i < len(codes) && codes[i] < packets.ErrUnspecifiedError.Code {
			granted = append(granted, f)
		} else {
			denied = append(denied, f)
		}
	}
	s.subscribing = nil
	b := h.ss.b
	ev := warden.DataPlaneEvent{Scope: h.ss.scope, Type: warden.EventSubscribe, SessionID: s.id,
		ClientID: s.clientID, PrincipalID: s.certID, ThingName: s.thingName(), SourceIP: s.ipString(),
		SourcePort: s.port, Protocol: "MQTT"}
	if len(granted) > 0 {
		e := ev
		e.Status, e.Topics = warden.StatusSuccess, granted
		b.emit(e)
		b.publishLifecycle(h.ss, "subscriptions/subscribed", s.clientID, lifecycleEvent{
			ClientID: s.clientID, ThingName: e.ThingName, EventType: "subscribed", SessionIdentifier: s.id,
			PrincipalIdentifier: s.certID, Topics: granted})
	}
	if len(denied) > 0 {
		e := ev
		e.Status, e.Topics, e.Reason, e.Details = warden.StatusFailure, denied, "AUTHORIZATION_FAILURE", "Authorization Failure"
		b.emit(e)
	}
}

// OnUnsubscribed reports an UNSUBSCRIBE.
func (h *hook) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	s := sessionOf(cl)
	if s == nil {
		return
	}
	topics := make([]string, len(pk.Filters))
	for i, f := range pk.Filters {
		topics[i] = f.Filter
	}
	b := h.ss.b
	thing := s.thingName()
	b.emit(warden.DataPlaneEvent{Scope: h.ss.scope, Type: warden.EventUnsubscribe, Status: warden.StatusSuccess,
		SessionID: s.id, ClientID: s.clientID, PrincipalID: s.certID, ThingName: thing, SourceIP: s.ipString(),
		SourcePort: s.port, Protocol: "MQTT", Topics: topics})
	b.publishLifecycle(h.ss, "subscriptions/unsubscribed", s.clientID, lifecycleEvent{
		ClientID: s.clientID, ThingName: thing, EventType: "unsubscribed", SessionIdentifier: s.id,
		PrincipalIdentifier: s.certID, Topics: topics})
}

// OnPublish judges iot:RetainPublish (MQTT 5: PUBACK 0x87 for QoS 1),
// reports the publish and answers a Device Defender metrics report.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	s := sessionOf(cl)
	if s == nil {
		return pk, packets.ErrRejectPacket
	}
	if pk.FixedHeader.Retain && !s.allowed(warden.ActionIoTRetainPublish, pk.TopicName) {
		h.publishDenied(s, pk)
		if pk.FixedHeader.Qos > 0 {
			return pk, packets.ErrNotAuthorized
		}
		return pk, packets.ErrRejectPacket
	}
	h.ss.b.emit(warden.DataPlaneEvent{Scope: h.ss.scope, Type: warden.EventPublishIn, Status: warden.StatusSuccess,
		SessionID: s.id, ClientID: s.clientID, PrincipalID: s.certID, ThingName: s.thingName(),
		SourceIP: s.ipString(), SourcePort: s.port, Protocol: "MQTT", Topic: pk.TopicName, QoS: pk.FixedHeader.Qos,
		Retain: pk.FixedHeader.Retain, PayloadBytes: len(pk.Payload)})
	if h.reportPublish(pk) {
		return pk, packets.CodeSuccessIgnore
	}
	return pk, nil
}

// OnPacketSent reports each message delivered to a device.
func (h *hook) OnPacketSent(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	if pk.FixedHeader.Type != packets.Publish {
		return
	}
	s := sessionOf(cl)
	if s == nil {
		return
	}
	h.ss.b.emit(warden.DataPlaneEvent{Scope: h.ss.scope, Type: warden.EventPublishOut, Status: warden.StatusSuccess,
		SessionID: s.id, ClientID: s.clientID, PrincipalID: s.certID, ThingName: s.thingName(),
		SourceIP: s.ipString(), SourcePort: s.port, Protocol: "MQTT", Topic: pk.TopicName, QoS: pk.FixedHeader.Qos,
		PayloadBytes: len(pk.Payload)})
}

func (s *session) ipString() string {
	if !s.sourceIP.IsValid() {
		return ""
	}
	return s.sourceIP.String()
}

// validTopic checks AWS's limits on a topic name: at most 256 bytes and 7
// slashes (those of a "$aws/rules/<rule>/" prefix not counted).
func validTopic(t string) bool {
	if t == "" || len(t) > warden.MaxTopicBytes {
		return false
	}
	counted := t
	if rest, ok := strings.CutPrefix(t, "$aws/rules/"); ok {
		if _, after, ok := strings.Cut(rest, "/"); ok {
			counted = after
		}
	}
	return strings.Count(counted, "/") <= warden.MaxTopicSlashes
}

// validFilter is validTopic for a filter, whose "$share/<name>/" prefix is
// not counted.
func validFilter(f string) bool {
	if rest, ok := strings.CutPrefix(f, "$share/"); ok {
		_, after, ok := strings.Cut(rest, "/")
		if !ok {
			return false
		}
		f = after
	}
	return validTopic(f)
}

// reservedForPublish reports topics no device may publish to: AWS's
// subscribe-only lifecycle topics and Warden's own names.
func reservedForPublish(t string) bool {
	return strings.HasPrefix(t, "$aws/events/") || strings.HasPrefix(t, "$warden/") ||
		strings.HasPrefix(t, "$share/") || strings.HasPrefix(t, "$SYS")
}
