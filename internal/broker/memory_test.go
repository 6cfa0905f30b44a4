package broker_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"testing"
	"time"
)

// connectPacket5 is an MQTT 5 CONNECT for clientID: clean start, keep-alive
// 1200 s, Receive Maximum 65535 (as paho.golang sends it).
func connectPacket5(clientID string) []byte {
	vh := []byte{0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0x04, 0xB0, 3, 0x21, 0xFF, 0xFF}
	payload := append([]byte{byte(len(clientID) >> 8), byte(len(clientID))}, clientID...)
	rest := append(vh, payload...)
	return append([]byte{0x10, byte(len(rest))}, rest...) // ids under 100 bytes: a 1-byte length
}

// BenchmarkIdleConnections connects 1,000 idle MQTT 5 devices over TLS and
// reports what the process holds per connection (heap after GC, goroutine
// stacks), the client side included: its minimal TLS connections are a
// small, fixed share. For where the bytes go:
//
//	WARDEN_HEAP_PROFILE=mem.out go test -run '^$' -bench IdleConnections -benchtime 1x ./internal/broker
//	go tool pprof -sample_index inuse_space -top mem.out
func BenchmarkIdleConnections(b *testing.B) {
	const n = 1000
	profile := os.Getenv("WARDEN_HEAP_PROFILE")
	if profile != "" {
		runtime.MemProfileRate = 4096
	}
	e := newEnv(b)
	d := e.newDevice(allowAll)
	cfg := e.tlsConfig(d)
	var conns []*tls.Conn
	b.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	before := memSnapshot()
	for i := range n {
		c, err := tls.Dial("tcp", e.broker.Addr(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.Write(connectPacket5(fmt.Sprintf("idle-%d", i))); err != nil {
			b.Fatal(err)
		}
		hdr := make([]byte, 2)
		if _, err := io.ReadFull(c, hdr); err != nil || hdr[0] != 0x20 {
			b.Fatalf("CONNACK: %x %v", hdr, err)
		}
		if _, err := io.ReadFull(c, make([]byte, hdr[1])); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // lifecycle events and observers settle
	after := memSnapshot()
	b.ReportMetric(float64(after.heap-before.heap)/n, "heap-B/conn")
	b.ReportMetric(float64(after.stack-before.stack)/n, "stack-B/conn")
	b.ReportMetric(float64(after.stackBeforeGC-before.stackBeforeGC)/n, "stack-before-GC-B/conn")
	b.ReportMetric(float64(after.stackScan-before.stackScan)/n, "stack-used-B/conn")
	b.ReportMetric(float64(after.goroutines-before.goroutines)/n, "goroutines/conn")
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
	}
}

type memState struct {
	heap, stack, stackScan uint64
	stackBeforeGC          uint64 // stacks shrink only at GC, which an idle server seldom runs
	goroutines             int
}

var memMu sync.Mutex

func memSnapshot() memState {
	memMu.Lock()
	defer memMu.Unlock()
	var pre runtime.MemStats
	runtime.ReadMemStats(&pre)
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sample := []metrics.Sample{{Name: "/gc/scan/stack:bytes"}}
	metrics.Read(sample)
	return memState{heap: ms.HeapAlloc, stack: ms.StackInuse, stackBeforeGC: pre.StackInuse, stackScan: sample[0].Value.Uint64(),
		goroutines: runtime.NumGoroutine()}
}
