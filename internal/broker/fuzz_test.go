package broker_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"testing"
	"time"
)

// Valid packets the fuzzers start from.
var (
	connect311 = []byte{0x10, 0x12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 6, 'f', 'u', 'z', 'z', 'e', 'r'}
	connect5   = []byte{0x10, 0x13, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 0, 0, 6, 'f', 'u', 'z', 'z', 'e', 'r'}
	subscribe  = []byte{0x82, 0x08, 0, 1, 0, 3, 'a', '/', '#', 1}
	publish    = []byte{0x32, 0x08, 0, 3, 'a', '/', 'b', 0, 2, 'x'}
	pingreq    = []byte{0xc0, 0}
	disconnect = []byte{0xe0, 0}
)

// fuzzSend writes b on a fresh TLS connection of d (after CONNECT and its
// CONNACK when connect is not nil) and reads until the server closes or
// goes quiet. It reports whether the endpoint accepted the TLS connection,
// so that a crashed server fails the fuzzer.
func fuzzSend(t testing.TB, e *env, d *device, connect, b []byte) {
	conn, err := tls.Dial("tcp", e.broker.Addr(), e.tlsConfig(d))
	if err != nil {
		t.Fatalf("the endpoint no longer accepts connections: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if connect != nil {
		if _, err := conn.Write(connect); err != nil {
			return
		}
		ack := make([]byte, 4)
		if _, err := io.ReadFull(conn, ack); err != nil || ack[0] != 0x20 {
			t.Fatalf("no CONNACK for a valid CONNECT: % x %v", ack, err)
		}
	}
	if _, err := conn.Write(b); err != nil {
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, _ = io.Copy(io.Discard, conn)
}

// FuzzFirstPacket feeds arbitrary bytes as the first packet of an
// authenticated TLS connection.
func FuzzFirstPacket(f *testing.F) {
	for _, seed := range [][]byte{connect311, connect5, publish, {0x10, 0xff, 0xff, 0xff, 0xff}, {0x10, 0}} {
		f.Add(seed)
	}
	e := newEnv(f)
	d := e.newDevice(allowAll)
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzSend(t, e, d, nil, b)
	})
}

// FuzzAfterConnect feeds arbitrary bytes after a valid CONNECT (3.1.1 when
// the first byte is even, else 5): the hooks see every packet type.
func FuzzAfterConnect(f *testing.F) {
	for _, seed := range [][]byte{subscribe, publish, pingreq, disconnect, connect311,
		bytes.Join([][]byte{subscribe, publish, pingreq}, nil), {0x82, 0x04, 0, 1, 0, 0}, {0x30, 0x03, 0, 1, '$'}} {
		f.Add(byte(0), seed)
		f.Add(byte(1), seed)
	}
	e := newEnv(f)
	d := e.newDevice(allowAll)
	f.Fuzz(func(t *testing.T, version byte, b []byte) {
		connect := connect311
		if version%2 == 1 {
			connect = connect5
		}
		fuzzSend(t, e, d, connect, b)
	})
}
