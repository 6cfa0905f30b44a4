package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// mqttTarget is one broker under test: Mosquitto or Warden, listening for
// devices with TLS and required client certificates.
type mqttTarget struct {
	name  string // "mosquitto" or "warden"
	child *child
	addr  string         // its MQTT TLS listener, 127.0.0.1:port
	roots *x509.CertPool // the CA its server certificate chains to
}

// dial opens a TLS connection to the target with the device's certificate;
// a full handshake every time (no session resumption).
func (t *mqttTarget) dial(ctx context.Context, dev *deviceCert) (*tls.Conn, error) {
	raw, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, &tls.Config{
		RootCAs:      t.roots,
		ServerName:   "127.0.0.1",
		Certificates: []tls.Certificate{dev.tls},
		MinVersion:   tls.VersionTLS12,
	})
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return conn, nil
}

// mqttOptions are the client side of one MQTT connection.
type mqttOptions struct {
	clientID string
	// receiveMax bounds the PUBLISHes in flight to the client; paho.golang
	// also sizes a channel by it (65535 by default: 0.5 MB per client).
	receiveMax uint16
	onPublish  func(paho.PublishReceived) (bool, error)
}

// connectMQTT dials and sends CONNECT (MQTT 5, clean start); it returns once
// the broker accepted it with CONNACK.
func (t *mqttTarget) connectMQTT(ctx context.Context, dev *deviceCert, o mqttOptions) (*paho.Client, error) {
	conn, err := t.dial(ctx, dev)
	if err != nil {
		return nil, err
	}
	cfg := paho.ClientConfig{Conn: packets.NewThreadSafeConn(conn), PacketTimeout: 15 * time.Second}
	if o.onPublish != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){o.onPublish}
	}
	c := paho.NewClient(cfg)
	rm := o.receiveMax
	if rm == 0 {
		rm = 16
	}
	cp := &paho.Connect{ClientID: o.clientID, KeepAlive: 300, CleanStart: true,
		Properties: &paho.ConnectProperties{ReceiveMaximum: &rm}}
	if _, err := c.Connect(ctx, cp); err != nil {
		conn.Close()
		return nil, fmt.Errorf("CONNECT %s: %w", o.clientID, err)
	}
	return c, nil
}

// counter keeps a count and the first error of a phase's workers.
type counter struct {
	ok, errs atomic.Int64
	mu       sync.Mutex
	first    string
}

func (c *counter) fail(err error) {
	if c.errs.Add(1) == 1 {
		c.mu.Lock()
		c.first = err.Error()
		c.mu.Unlock()
	}
}

func (c *counter) firstErr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first
}

// connectResult is a connect phase: full TLS handshake, CONNECT, CONNACK,
// DISCONNECT, close, repeated by every worker.
type connectResult struct {
	connects int64
	errors   int64
	firstErr string
	elapsed  time.Duration
	lat      []time.Duration // dial to CONNACK, sorted
}

// runConnectLoad has workers connect and disconnect for d; worker w uses
// device certificate w (so each connect is one device's), a fresh client id
// each time.
func runConnectLoad(ctx context.Context, t *mqttTarget, pki *benchPKI, workers int, d time.Duration) connectResult {
	var (
		cnt   counter
		wg    sync.WaitGroup
		mu    sync.Mutex
		lats  []time.Duration
		start = time.Now()
	)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for w := range workers {
		dev := &pki.devices[w%len(pki.devices)]
		wg.Go(func() {
			var mine []time.Duration
			for n := 0; ctx.Err() == nil; n++ {
				t0 := time.Now()
				c, err := t.connectMQTT(context.WithoutCancel(ctx), dev, mqttOptions{clientID: fmt.Sprintf("bench-conn-%d-%d", w, n)})
				if err != nil {
					cnt.fail(err)
					time.Sleep(10 * time.Millisecond) // a refusing broker must not spin the bench
					continue
				}
				mine = append(mine, time.Since(t0))
				cnt.ok.Add(1)
				_ = c.Disconnect(&paho.Disconnect{ReasonCode: 0})
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res := connectResult{connects: cnt.ok.Load(), errors: cnt.errs.Load(), firstErr: cnt.firstErr(), elapsed: time.Since(start)}
	res.lat = sortDurations(lats)
	return res
}

// flowResult is a publish phase: messages the publishers sent and the
// subscribers received while it ran.
type flowResult struct {
	sent, delivered int64 // delivered counts every subscriber's copy
	lost            int64 // sent × subscribers − delivered, after a drain of up to 2 s
	errors          int64
	firstErr        string
	elapsed         time.Duration
}

// flowSpec shapes a publish phase. Fan-in: publishers each publish to
// bench/in/<i>, one subscriber holds bench/in/#. Fan-out: one publisher
// publishes to bench/out, every subscriber holds bench/out.
type flowSpec struct {
	publishers, subscribers int
	qos                     byte
	// inflight is how many publishes each publisher keeps outstanding (QoS 1
	// waits for PUBACK; QoS 0 only for the write).
	inflight int
	// window bounds the messages sent but not yet received by the slowest
	// subscriber: publishers wait rather than fill the broker's queues, so
	// the phase measures delivery, not buffering (and no broker drops QoS 0
	// messages for a full queue).
	window  int
	payload int
}

// runFlow connects the subscribers and publishers (not measured), calls
// onStart, then publishes for d, counting deliveries. Every client is a
// device of its own.
func runFlow(ctx context.Context, t *mqttTarget, pki *benchPKI, spec flowSpec, d time.Duration, phaseID string, onStart func()) (flowResult, error) {
	var res flowResult
	fanIn := spec.subscribers == 1
	filter, topicOf := "bench/out", func(int) string { return "bench/out" }
	if fanIn {
		filter, topicOf = "bench/in/#", func(i int) string { return fmt.Sprintf("bench/in/%d", i) }
	}
	dev := 0
	nextDev := func() *deviceCert {
		d := &pki.devices[dev%len(pki.devices)]
		dev++
		return d
	}

	recv := make([]atomic.Int64, spec.subscribers)
	var clients []*paho.Client
	defer func() {
		for _, c := range clients {
			_ = c.Disconnect(&paho.Disconnect{ReasonCode: 0})
		}
	}()
	for s := range spec.subscribers {
		c, err := t.connectMQTT(ctx, nextDev(), mqttOptions{
			clientID:   fmt.Sprintf("bench-%s-sub-%d", phaseID, s),
			receiveMax: 1024,
			onPublish: func(paho.PublishReceived) (bool, error) {
				recv[s].Add(1)
				return true, nil
			},
		})
		if err != nil {
			return res, fmt.Errorf("subscriber %d: %w", s, err)
		}
		clients = append(clients, c)
		sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: spec.qos}}})
		if err != nil {
			return res, fmt.Errorf("subscriber %d: SUBSCRIBE %s: %w", s, filter, err)
		}
		if len(sa.Reasons) != 1 || sa.Reasons[0] >= 0x80 {
			return res, fmt.Errorf("subscriber %d: SUBACK %v for %s", s, sa.Reasons, filter)
		}
	}
	pubs := make([]*paho.Client, spec.publishers)
	for p := range spec.publishers {
		c, err := t.connectMQTT(ctx, nextDev(), mqttOptions{clientID: fmt.Sprintf("bench-%s-pub-%d", phaseID, p)})
		if err != nil {
			return res, fmt.Errorf("publisher %d: %w", p, err)
		}
		clients = append(clients, c)
		pubs[p] = c
	}

	// minRecv is what the slowest subscriber has received.
	minRecv := func() int64 {
		m := recv[0].Load()
		for i := 1; i < len(recv); i++ {
			m = min(m, recv[i].Load())
		}
		return m
	}
	var (
		cnt  counter
		sent atomic.Int64
		wg   sync.WaitGroup
	)
	payload := make([]byte, spec.payload)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	onStart()
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var before int64
	for i := range recv {
		before += recv[i].Load()
	}
	for p, c := range pubs {
		topic := topicOf(p)
		for range spec.inflight {
			wg.Go(func() {
				for pctx.Err() == nil {
					// Fan-in: all publishers share one subscriber's window.
					if sent.Load()-minRecv() >= int64(spec.window) {
						time.Sleep(50 * time.Microsecond)
						continue
					}
					sent.Add(1)
					_, err := c.Publish(context.WithoutCancel(pctx), &paho.Publish{Topic: topic, QoS: spec.qos, Payload: payload})
					if err != nil {
						sent.Add(-1)
						cnt.fail(err)
						time.Sleep(10 * time.Millisecond)
					}
				}
			})
		}
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	var got int64
	for i := range recv {
		got += recv[i].Load()
	}
	res.sent, res.delivered = sent.Load(), got-before
	res.errors, res.firstErr = cnt.errs.Load(), cnt.firstErr()
	// Messages still on their way count for nothing, but for loss: wait for
	// them a little.
	want := res.sent * int64(spec.subscribers)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var n int64
		for i := range recv {
			n += recv[i].Load()
		}
		if n-before >= want {
			break
		}
	}
	var final int64
	for i := range recv {
		final += recv[i].Load()
	}
	res.lost = max(0, want-(final-before))
	return res, nil
}

// heldClient is one of many idle connected devices.
type heldClient struct {
	c   *paho.Client
	dev *deviceCert
}

// holdClients connects n devices (device first+i as client bench-hold-i),
// at most parallel at a time; it stops at the first failure.
func holdClients(ctx context.Context, t *mqttTarget, pki *benchPKI, first, n, parallel int, progressEvery int) ([]*heldClient, error) {
	held := make([]*heldClient, n)
	var (
		next     atomic.Int64
		done     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range parallel {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				dev := &pki.devices[first+i]
				c, err := t.connectMQTT(ctx, dev, mqttOptions{clientID: fmt.Sprintf("bench-hold-%d", i), receiveMax: 4})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("client %d of %d: %w", i, n, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				held[i] = &heldClient{c: c, dev: dev}
				if k := done.Add(1); progressEvery > 0 && k%int64(progressEvery) == 0 {
					progress("  %s: %d clients connected", t.name, k)
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		releaseClients(held)
		return nil, firstErr
	}
	return held, nil
}

// releaseClients disconnects every held client, a few at a time.
func releaseClients(held []*heldClient) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, h := range held {
		if h == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			select {
			case <-h.c.Done():
			default:
				_ = h.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
			}
		})
	}
	wg.Wait()
}

// gone reports whether a held client's connection has ended.
func (h *heldClient) gone() bool {
	select {
	case <-h.c.Done():
		return true
	default:
		return false
	}
}

// waitGone waits until the client's connection ends, at most timeout.
func (h *heldClient) waitGone(timeout time.Duration) error {
	select {
	case <-h.c.Done():
		return nil
	case <-time.After(timeout):
		return errors.New("still connected")
	}
}
