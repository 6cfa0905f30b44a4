package broker_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	paho5packets "github.com/eclipse/paho.golang/packets"
	paho5 "github.com/eclipse/paho.golang/paho"
)

// stallConn is a connection whose reads can be stopped, as a device that
// stops reading: once Warden's writes fill the socket buffers, they block.
type stallConn struct {
	net.Conn
	stalled atomic.Bool
	release chan struct{}
	once    sync.Once
}

func (c *stallConn) Read(p []byte) (int, error) {
	if c.stalled.Load() {
		<-c.release
	}
	return c.Conn.Read(p)
}

func (c *stallConn) unstall() { c.once.Do(func() { close(c.release) }) }

// Deactivating the certificate of a session whose client stopped reading
// does not hold up the change-log tail: another certificate deactivated
// after it still cuts its session off within the usual bound, and the
// stuck session is closed too.
func TestStuckSessionDoesNotDelayCutOff(t *testing.T) {
	e := newEnv(t)
	stuckDev := e.newDevice(allowAll)
	otherDev := e.newDevice(allowAll)
	pubDev := e.newDevice(allowAll)

	tc, err := tls.Dial("tcp", e.broker.Addr(), e.tlsConfig(stuckDev))
	if err != nil {
		t.Fatal(err)
	}
	sc := &stallConn{Conn: tc, release: make(chan struct{})}
	t.Cleanup(func() { sc.unstall(); _ = tc.Close() })
	stuck := paho5.NewClient(paho5.ClientConfig{Conn: paho5packets.NewThreadSafeConn(sc)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := stuck.Connect(ctx, &paho5.Connect{ClientID: "stuck", KeepAlive: 1200, CleanStart: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := stuck.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: "flood", QoS: 0}}}); err != nil {
		t.Fatal(err)
	}
	sc.stalled.Store(true)

	// Flood it until Warden's writes to it block: far more than the
	// loopback socket buffers hold. 25 MB over TLS can take longer than
	// ctx allows under -race on a busy machine, and a publish cut short by
	// its context leaves a torn packet the broker rightly refuses, so the
	// flood has a deadline of its own.
	// What is under test is the stuck subscriber: a flooder the broker
	// closes (it once read a torn packet from a client whose connection
	// was not wrapped for concurrent writes) is replaced.
	payload := bytes.Repeat([]byte("x"), 64*1024)
	floodCtx, cancelFlood := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelFlood()
	pub, replaced := e.mustConnect5(pubDev, "flooder"), 0
	for sent := 0; sent < 400; {
		if _, err := pub.Publish(floodCtx, &paho5.Publish{Topic: "flood", QoS: 0, Payload: payload}); err != nil {
			if replaced++; replaced > 3 {
				t.Fatalf("flooder lost %d times, last: %v", replaced, err)
			}
			t.Logf("flooder lost after %d publishes (%v); replacing it", sent, err)
			pub = e.mustConnect5(pubDev, fmt.Sprintf("flooder-%d", replaced))
			continue
		}
		sent++
	}
	time.Sleep(500 * time.Millisecond)

	other := e.mustConnect5(otherDev, "other")
	e.setStatus(stuckDev, types.CertificateStatusInactive)
	stuckAt := time.Now()
	// A later read of the change log (PollInterval is 50 ms).
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	e.setStatus(otherDev, types.CertificateStatusInactive)
	select {
	case <-other.disconnected:
	case <-time.After(5 * time.Second):
		t.Fatal("a session deactivated after a stuck one was not cut off within 5 s")
	}
	t.Logf("other session cut off %v after its deactivation", time.Since(start))
	ev := e.events.wait(t, "the stuck session's Disconnect", func(ev eventT) bool {
		return ev.Type == "Disconnect" && ev.ClientID == "stuck"
	})
	if ev.DisconnectReason != "AUTH_ERROR" {
		t.Fatalf("stuck session's disconnectReason %q, want AUTH_ERROR", ev.DisconnectReason)
	}
	t.Logf("stuck session closed %v after its deactivation", time.Since(stuckAt))
}
