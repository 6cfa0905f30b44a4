package broker_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
)

// Many QoS 1 publishers to one QoS 1 subscriber all complete. mochi v2.7.9
// deadlocks here unless Warden turns its send quota off (hook.go,
// disableSendQuota): the subscriber's read loop takes its inflight read lock
// twice while publishers wait for the write lock.
func TestQoS1FanInCompletes(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(allowAll)
	sub := e.mustConnect5(d, "sink")
	if code := sub.subscribe(t, "fanin/#", 1); code != 1 {
		t.Fatalf("SUBACK %#x, want 1", code)
	}
	const publishers, each = 16, 200
	var received atomic.Int64
	go func() {
		for range sub.msgs {
			received.Add(1)
		}
	}()
	pubs := make([]*client5, publishers)
	for i := range pubs {
		pubs[i] = e.mustConnect5(d, fmt.Sprintf("pub-%d", i))
	}
	var failed atomic.Int64
	var wg sync.WaitGroup
	for i, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				_, err := p.Publish(ctx, &paho5.Publish{Topic: fmt.Sprintf("fanin/%d", i), QoS: 1, Payload: []byte{byte(j)}})
				cancel()
				if err != nil {
					failed.Add(1)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		for received.Load() < publishers*each && failed.Load() == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		close(done)
	}()
	start := time.Now()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		// The stuck read loops would keep the broker's Close from returning,
		// so fail loudly here: the panic prints their stacks.
		panic(fmt.Sprintf("QoS 1 fan-in stalled: %d of %d messages delivered after 30 s (mochi inflight deadlock?)",
			received.Load(), publishers*each))
	}
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d publishers got no PUBACK within 20 s; %d of %d messages delivered", n, received.Load(), publishers*each)
	}
	t.Logf("%d QoS 1 messages from %d publishers delivered in %v", publishers*each, publishers, time.Since(start))
}
