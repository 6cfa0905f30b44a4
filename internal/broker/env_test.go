package broker_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	paho5packets "github.com/eclipse/paho.golang/packets"
	paho5 "github.com/eclipse/paho.golang/paho"
	paho3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/api"
	"github.com/warden-iot/warden/internal/broker"
	"github.com/warden-iot/warden/internal/sqlstore"
	"github.com/warden-iot/warden/internal/wardentest"
)

const (
	account = wardentest.AccountA
	keyID   = wardentest.KeyA
	secret  = wardentest.SecretA
	region  = wardentest.Region
)

var scope = warden.Scope{Account: account, Region: region}

// env is wardentest's stack with the real device endpoint on 127.0.0.1:0.
type env struct {
	t      testing.TB
	ctx    context.Context
	dir    string
	store  *sqlstore.DB
	broker *broker.Broker
	server *httptest.Server
	iot    *iot.Client
	events *recorder
}

type envOptions struct {
	strictCA bool
	// dir, when set, is the data dir of the store to open (a second node on it).
	dir string
	// reports and reportInterval are the broker's Config.Reports and
	// ReportInterval.
	reports        warden.DeviceReportObserver
	reportInterval time.Duration
	// now is the broker's clock (nil: time.Now).
	now func() time.Time
}

func newEnv(t testing.TB, opts ...envOptions) *env {
	t.Helper()
	var o envOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	e := &env{t: t, ctx: context.Background(), events: &recorder{}}
	stack := wardentest.Start(t, wardentest.Config{Dir: o.dir, Devices: func(store *sqlstore.DB) (api.Devices, error) {
		b, err := broker.New(e.ctx, broker.Config{Store: store, StrictCA: o.strictCA,
			Hostnames: []string{"127.0.0.1"}, PollInterval: 50 * time.Millisecond,
			Observers: []warden.DataPlaneObserver{e.events}, Reports: o.reports, ReportInterval: o.reportInterval, Now: o.now})
		if err != nil {
			return nil, err
		}
		if err := b.Listen("127.0.0.1:0"); err != nil {
			_ = b.Close()
			return nil, err
		}
		e.broker = b
		return b, nil
	}})
	e.dir, e.store, e.server = stack.Dir, stack.Store, stack.Server
	e.iot = stack.IoT(keyID, secret, region)
	return e
}

// recorder keeps the data-plane events.
type recorder struct {
	mu     sync.Mutex
	events []warden.DataPlaneEvent
}

func (r *recorder) Observe(e warden.DataPlaneEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) find(match func(warden.DataPlaneEvent) bool) (warden.DataPlaneEvent, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if match(e) {
			return e, true
		}
	}
	return warden.DataPlaneEvent{}, false
}

// device is a certificate registered in the account, with its key.
type device struct {
	id, arn string
	tls     tls.Certificate
}

// allowAll is a policy that allows every IoT action.
const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`

var policySeq struct {
	sync.Mutex
	n int
}

// newDevice creates an ACTIVE certificate with CreateKeysAndCertificate and
// attaches a new policy with document doc to it ("" attaches none).
func (e *env) newDevice(doc string) *device {
	e.t.Helper()
	out, err := e.iot.CreateKeysAndCertificate(e.ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		e.t.Fatal(err)
	}
	pair, err := tls.X509KeyPair([]byte(aws.ToString(out.CertificatePem)), []byte(aws.ToString(out.KeyPair.PrivateKey)))
	if err != nil {
		e.t.Fatal(err)
	}
	d := &device{id: aws.ToString(out.CertificateId), arn: aws.ToString(out.CertificateArn), tls: pair}
	if doc != "" {
		e.attachNewPolicy(doc, d.arn)
	}
	return d
}

// attachNewPolicy creates a policy with doc and attaches it to target.
func (e *env) attachNewPolicy(doc, target string) string {
	e.t.Helper()
	policySeq.Lock()
	policySeq.n++
	name := fmt.Sprintf("p%d", policySeq.n)
	policySeq.Unlock()
	if _, err := e.iot.CreatePolicy(e.ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.iot.AttachPolicy(e.ctx, &iot.AttachPolicyInput{PolicyName: aws.String(name), Target: aws.String(target)}); err != nil {
		e.t.Fatal(err)
	}
	return name
}

func (e *env) setStatus(d *device, status types.CertificateStatus) {
	e.t.Helper()
	if _, err := e.iot.UpdateCertificate(e.ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(d.id), NewStatus: status}); err != nil {
		e.t.Fatal(err)
	}
}

// tlsConfig trusts the Warden CA and presents d's certificate.
func (e *env) tlsConfig(d *device) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(e.broker.CA().Cert)
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if d != nil {
		cfg.Certificates = []tls.Certificate{d.tls}
	}
	return cfg
}

// client3 is an MQTT 3.1.1 client (paho.mqtt.golang).
type client3 struct {
	paho3.Client
	msgs chan paho3.Message
	lost chan error
}

// connect3 connects d as clientID with MQTT 3.1.1; the error is the
// CONNECT's outcome.
func (e *env) connect3(d *device, clientID string) (*client3, error) {
	c := &client3{msgs: make(chan paho3.Message, 100), lost: make(chan error, 1)}
	o := paho3.NewClientOptions().AddBroker("ssl://" + e.broker.Addr()).SetClientID(clientID).
		SetTLSConfig(e.tlsConfig(d)).SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).
		SetCleanSession(true).SetConnectTimeout(5 * time.Second).SetWriteTimeout(5 * time.Second).
		SetDefaultPublishHandler(func(_ paho3.Client, m paho3.Message) { c.msgs <- m }).
		SetConnectionLostHandler(func(_ paho3.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		})
	c.Client = paho3.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	e.t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

func (e *env) mustConnect3(d *device, clientID string) *client3 {
	e.t.Helper()
	c, err := e.connect3(d, clientID)
	if err != nil {
		e.t.Fatalf("connect %s: %v", clientID, err)
	}
	return c
}

func (c *client3) subscribe(t testing.TB, filter string, qos byte) byte {
	t.Helper()
	tok := c.Subscribe(filter, qos, nil)
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatalf("subscribe %s timed out", filter)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	return tok.(*paho3.SubscribeToken).Result()[filter]
}

func (c *client3) publish(t testing.TB, topic string, qos byte, retain bool, payload string) error {
	t.Helper()
	tok := c.Publish(topic, qos, retain, payload)
	if !tok.WaitTimeout(3 * time.Second) {
		return errors.New("publish timed out")
	}
	return tok.Error()
}

// client5 is an MQTT 5 client (paho.golang).
type client5 struct {
	*paho5.Client
	msgs         chan *paho5.Publish
	disconnected chan *paho5.Disconnect
}

func (e *env) connect5(d *device, clientID string) (*client5, *paho5.Connack, error) {
	conn, err := tls.Dial("tcp", e.broker.Addr(), e.tlsConfig(d))
	if err != nil {
		return nil, nil, err
	}
	c := &client5{msgs: make(chan *paho5.Publish, 100), disconnected: make(chan *paho5.Disconnect, 1)}
	// paho.golang writes a packet in several Write calls: from two
	// goroutines on a bare tls.Conn they interleave into a malformed packet
	// (its docs say to wrap the connection).
	c.Client = paho5.NewClient(paho5.ClientConfig{Conn: paho5packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){func(p paho5.PublishReceived) (bool, error) {
			c.msgs <- p.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho5.Disconnect) {
			select {
			case c.disconnected <- d:
			default:
			}
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := c.Connect(ctx, &paho5.Connect{ClientID: clientID, KeepAlive: 60, CleanStart: true})
	if err != nil {
		return nil, ca, err
	}
	e.t.Cleanup(func() { _ = c.Disconnect(&paho5.Disconnect{}) })
	return c, ca, nil
}

func (e *env) mustConnect5(d *device, clientID string) *client5 {
	e.t.Helper()
	c, ca, err := e.connect5(d, clientID)
	if err != nil {
		e.t.Fatalf("connect %s: %v (connack %+v)", clientID, err, ca)
	}
	return c
}

// wantDisconnect waits up to 5 s for the server's DISCONNECT with reason;
// what names the session and what should have ended it.
func (c *client5) wantDisconnect(t testing.TB, reason byte, what string) {
	t.Helper()
	select {
	case dis := <-c.disconnected:
		if dis.ReasonCode != reason {
			t.Fatalf("%s: DISCONNECT %#x, want %#x", what, dis.ReasonCode, reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: still connected 5 s later", what)
	}
}

func (c *client5) subscribe(t testing.TB, filter string, qos byte) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sa, err := c.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if sa == nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	return sa.Reasons[0]
}

func (c *client5) publish(t testing.TB, topic string, qos byte, retain bool, payload string) (byte, error) {
	t.Helper()
	// As long as a connect may take: CI runs every package at once under -race.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Publish(ctx, &paho5.Publish{Topic: topic, QoS: qos, Retain: retain, Payload: []byte(payload)})
	if r != nil {
		return r.ReasonCode, err
	}
	return 0, err
}

// receive3 waits for a message on c, failing after timeout.
func receive3(t testing.TB, c *client3, timeout time.Duration) paho3.Message {
	t.Helper()
	return receive(t, c.msgs, timeout)
}

func receive5(t testing.TB, c *client5, timeout time.Duration) *paho5.Publish {
	t.Helper()
	return receive(t, c.msgs, timeout)
}

func receive[M any](t testing.TB, msgs <-chan M, timeout time.Duration) M {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(timeout):
		t.Fatal("no message received")
		var none M
		return none
	}
}

// noMessage3 fails if c receives a message on topic within d.
func noMessage3(t testing.TB, c *client3, topic string, d time.Duration) {
	t.Helper()
	noMessage(t, c.msgs, topic, d, func(m paho3.Message) (string, []byte) { return m.Topic(), m.Payload() })
}

func noMessage5(t testing.TB, c *client5, topic string, d time.Duration) {
	t.Helper()
	noMessage(t, c.msgs, topic, d, func(m *paho5.Publish) (string, []byte) { return m.Topic, m.Payload })
}

func noMessage[M any](t testing.TB, msgs <-chan M, topic string, d time.Duration, fields func(M) (topic string, payload []byte)) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-msgs:
			if got, payload := fields(m); got == topic {
				t.Fatalf("received %q on %s, want nothing", payload, got)
			}
		case <-deadline:
			return
		}
	}
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t testing.TB, what string, cond func() bool) time.Duration {
	t.Helper()
	return wardentest.WaitFor(t, 5*time.Second, what, cond)
}

func policy(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

func allow(action, resource string) string {
	return fmt.Sprintf(`{"Effect":"Allow","Action":%q,"Resource":%q}`, action, resource)
}

func deny(action, resource string) string {
	return fmt.Sprintf(`{"Effect":"Deny","Action":%q,"Resource":%q}`, action, resource)
}

func arn(kind, name string) string {
	return "arn:aws:iot:" + region + ":" + account + ":" + kind + "/" + name
}

type eventT = warden.DataPlaneEvent

func (r *recorder) reset() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
}

// wait returns the first event that matches, waiting up to 5 s for it.
func (r *recorder) wait(t testing.TB, what string, match func(warden.DataPlaneEvent) bool) warden.DataPlaneEvent {
	t.Helper()
	var ev warden.DataPlaneEvent
	waitFor(t, what, func() bool {
		var ok bool
		ev, ok = r.find(match)
		return ok
	})
	return ev
}

func dial(t testing.TB, e *env, d *device) *tls.Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", e.broker.Addr(), e.tlsConfig(d))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
