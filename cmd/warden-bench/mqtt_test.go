package main

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warden-iot/warden/internal/pgtest"
)

func TestParseList(t *testing.T) {
	got, err := parseList(" warden ,mosquitto,", []string{"mosquitto", "warden"})
	if err != nil || !slices.Equal(got, []string{"mosquitto", "warden"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := parseList("", mqttWorkloads); err != nil || len(got) != 0 {
		t.Fatalf("empty list: got %v, %v", got, err)
	}
	if _, err := parseList("connect,nope", mqttWorkloads); err == nil {
		t.Fatal("no error for an unknown name")
	}
}

func TestBenchPolicyDocument(t *testing.T) {
	var doc struct {
		Statement []struct {
			Effect   string
			Action   any
			Resource string
		}
	}
	if err := json.Unmarshal([]byte(benchPolicyDocument("123456789012", "us-east-1")), &doc); err != nil {
		t.Fatal(err)
	}
	var resources []string
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement %+v is not Allow", s)
		}
		resources = append(resources, s.Resource)
	}
	want := []string{"arn:aws:iot:us-east-1:123456789012:client/bench-*", "arn:aws:iot:us-east-1:123456789012:topic/bench/*",
		"arn:aws:iot:us-east-1:123456789012:topicfilter/bench/*"}
	if !slices.Equal(resources, want) {
		t.Fatalf("resources %v, want %v", resources, want)
	}
}

// The Mosquitto side of `warden-bench mqtt` against the real Mosquitto:
// the config it writes starts a TLS listener that requires a certificate
// from the bench CA, and each workload moves what it says.
func TestMosquittoHarness(t *testing.T) {
	const bin = "/usr/sbin/mosquitto"
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("%s not installed (apt-get install mosquitto): %v", bin, err)
	}
	ctx := context.Background()
	pki, err := newBenchPKI()
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.makeDevices(8); err != nil {
		t.Fatal(err)
	}
	cfg := &mqttConfig{Mosquitto: bin}
	m, err := startMosquitto(cfg, pki, t.TempDir())
	if m != nil {
		defer m.child.stop(10 * time.Second)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cfg.MosquittoVer, "mosquitto version 2.") {
		t.Errorf("version %q, want Mosquitto 2", cfg.MosquittoVer)
	}

	// A device of another CA is refused: the listener checks client
	// certificates.
	other, err := newBenchPKI()
	if err != nil {
		t.Fatal(err)
	}
	if err := other.makeDevices(1); err != nil {
		t.Fatal(err)
	}
	if c, err := m.connectMQTT(ctx, &other.devices[0], mqttOptions{clientID: "bench-stranger"}); err == nil {
		_ = c.Disconnect(nil)
		t.Fatal("a certificate from another CA was accepted")
	}

	res := runConnectLoad(ctx, m, pki, 2, 300*time.Millisecond)
	if res.connects == 0 || res.errors != 0 || len(res.lat) != int(res.connects) {
		t.Fatalf("connect: %d connects, %d errors (%s), %d latencies", res.connects, res.errors, res.firstErr, len(res.lat))
	}
	cfgFlow := &mqttConfig{Publishers: 3, Subscribers: 3, Inflight: 2, Window: 50, Payload: 16}
	for _, wl := range []string{wlFanInQ0, wlFanInQ1, wlFanOutQ0, wlFanOutQ1} {
		spec := flowSpecOf(cfgFlow, wl)
		started := false
		fr, err := runFlow(ctx, m, pki, spec, 300*time.Millisecond, "test-"+wl, func() { started = true })
		if err != nil {
			t.Fatalf("%s: %v", wl, err)
		}
		if !started || fr.sent == 0 || fr.delivered == 0 || fr.errors != 0 || fr.lost != 0 {
			t.Fatalf("%s: started %v, sent %d, delivered %d, lost %d, errors %d (%s)", wl, started, fr.sent, fr.delivered, fr.lost, fr.errors, fr.firstErr)
		}
		if fr.delivered > fr.sent*int64(spec.subscribers) {
			t.Fatalf("%s: delivered %d of %d sent to %d subscribers", wl, fr.delivered, fr.sent, spec.subscribers)
		}
	}

	held, err := holdClients(ctx, m, pki, 2, 6, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range held {
		if h == nil || h.gone() {
			t.Fatalf("held client %d is not connected", i)
		}
	}
	releaseClients(held)
	for i, h := range held {
		if err := h.waitGone(5 * time.Second); err != nil {
			t.Fatalf("held client %d after release: %v", i, err)
		}
	}
}

// The Warden side of `warden-bench mqtt` against a real `warden serve`: the
// bench CA and its devices registered through the API with the bench policy
// attached connect, publish and receive over TLS trusting `warden ca`; the
// hold test times the disconnection of deactivated certificates and sees no
// other client go.
func TestWardenHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts warden")
	}
	if pgtest.URL() != "" {
		// Warden runs on SQLite here whatever the test store: once is enough.
		t.Skip("runs in the SQLite pass (without " + pgtest.EnvDatabase + ")")
	}
	ctx := context.Background()
	cfg := &mqttConfig{ConnectWorkers: 2, Publishers: 2, Subscribers: 2, Inflight: 2, Window: 50, Payload: 16,
		Clients: 6, Trials: 2, Parallel: 3, LogLevel: "info"}
	pki, err := newBenchPKI()
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.makeDevices(holdFirstDevice(cfg) + cfg.Clients); err != nil {
		t.Fatal(err)
	}
	w, api, err := startWardenMQTT(ctx, cfg, pki, t.TempDir())
	if w != nil {
		defer w.child.stop(15 * time.Second)
	}
	if err != nil {
		t.Fatal(err)
	}

	// Warden knows only registered certificates.
	other, err := newBenchPKI()
	if err != nil {
		t.Fatal(err)
	}
	if err := other.makeDevices(1); err != nil {
		t.Fatal(err)
	}
	if c, err := w.connectMQTT(ctx, &other.devices[0], mqttOptions{clientID: "bench-stranger"}); err == nil {
		_ = c.Disconnect(nil)
		t.Fatal("an unregistered certificate was accepted")
	}
	// The policy is enforced: client ids outside bench-* are refused.
	if c, err := w.connectMQTT(ctx, &pki.devices[0], mqttOptions{clientID: "intruder"}); err == nil {
		_ = c.Disconnect(nil)
		t.Fatal("client id intruder was accepted; the bench policy allows bench-* only")
	}

	res := runConnectLoad(ctx, w, pki, cfg.ConnectWorkers, 300*time.Millisecond)
	if res.connects == 0 || res.errors != 0 {
		t.Fatalf("connect: %d connects, %d errors (%s)", res.connects, res.errors, res.firstErr)
	}
	for _, wl := range []string{wlFanInQ0, wlFanOutQ1} {
		spec := flowSpecOf(cfg, wl)
		fr, err := runFlow(ctx, w, pki, spec, 300*time.Millisecond, "test-"+wl, func() {})
		if err != nil {
			t.Fatalf("%s: %v", wl, err)
		}
		if fr.delivered == 0 || fr.errors != 0 || fr.lost != 0 {
			t.Fatalf("%s: sent %d, delivered %d, lost %d, errors %d (%s)", wl, fr.sent, fr.delivered, fr.lost, fr.errors, fr.firstErr)
		}
	}

	h, err := runHold(ctx, cfg, w, pki, api)
	if err != nil {
		t.Fatal(err)
	}
	if h.Trials != 2 || len(h.CutoffMs) != 2 || h.NotCut != 0 || h.Collateral != 0 || h.RSSMiB <= 0 {
		t.Fatalf("hold: %+v", h)
	}
	t.Logf("cut-off %v ms (API %v ms), RSS %.1f MiB with %d clients", h.CutoffMs, h.APIMs, h.RSSMiB, h.Clients)
}
