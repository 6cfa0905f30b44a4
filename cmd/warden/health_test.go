package main

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

type probeAnswer struct {
	status int
	raw    string
	body   healthBody
}

// probe sends an unsigned request to path, as a load balancer would.
func probe(t *testing.T, m *Main, method, path string) probeAnswer {
	t.Helper()
	req, err := http.NewRequest(method, m.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := probeAnswer{status: resp.StatusCode, raw: string(raw)}
	if method != http.MethodHead && resp.StatusCode != http.StatusMethodNotAllowed {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
		}
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, path, raw, err)
		}
	}
	return a
}

// checkStatuses maps each check of a /readyz answer to its status.
func checkStatuses(a probeAnswer) map[string]string {
	got := map[string]string{}
	for _, c := range a.body.Checks {
		got[c.Name] = c.Status
	}
	return got
}

func TestHealthProbesNeedNoCredentials(t *testing.T) {
	m, api := startWithDevices(t, Config{})
	// A write first, so the disk check has something to go on.
	if _, err := api.CreateThing(context.Background(), &iot.CreateThingInput{ThingName: aws.String("probe-thing")}); err != nil {
		t.Fatal(err)
	}
	live := probe(t, m, http.MethodGet, "/livez")
	if live.status != http.StatusOK || live.body.Status != "ok" {
		t.Errorf("/livez: %d %s, want 200 status ok", live.status, live.raw)
	}
	ready := probe(t, m, http.MethodGet, "/readyz")
	if ready.status != http.StatusOK || ready.body.Status != "ok" {
		t.Errorf("/readyz: %d %s, want 200 status ok", ready.status, ready.raw)
	}
	want := map[string]string{"store": "ok", "migrations": "ok", "disk": "ok", "device_listener": "ok"}
	if got := checkStatuses(ready); !maps.Equal(got, want) {
		t.Errorf("/readyz checks %v, want %v", got, want)
	}
	if head := probe(t, m, http.MethodHead, "/readyz"); head.status != http.StatusOK || head.raw != "" {
		t.Errorf("HEAD /readyz: %d %q, want 200 and no body", head.status, head.raw)
	}
	post := probe(t, m, http.MethodPost, "/livez")
	if post.status != http.StatusMethodNotAllowed || !strings.Contains(post.raw, `"__type":"MethodNotAllowedException"`) {
		t.Errorf("POST /livez: %d %s, want 405 MethodNotAllowedException", post.status, post.raw)
	}
	// Any other unsigned path is still refused by the signature check.
	if other := probe(t, m, http.MethodPut, "/healthz"); other.status != http.StatusForbidden {
		t.Errorf("unsigned PUT /healthz: %d %s, want 403", other.status, other.raw)
	}
}

func TestReadyzFailsWhenTheDeviceListenerIsDown(t *testing.T) {
	m, _ := startWithDevices(t, Config{})
	if err := m.devices.Close(); err != nil {
		t.Fatal(err)
	}
	ready := probe(t, m, http.MethodGet, "/readyz")
	if ready.status != http.StatusServiceUnavailable || ready.body.Status != "unavailable" {
		t.Errorf("/readyz with the device endpoint closed: %d %s, want 503", ready.status, ready.raw)
	}
	want := map[string]string{"store": "ok", "migrations": "ok", "disk": "ok", "device_listener": "failed"}
	if got := checkStatuses(ready); !maps.Equal(got, want) {
		t.Errorf("/readyz checks %v, want %v", got, want)
	}
	if live := probe(t, m, http.MethodGet, "/livez"); live.status != http.StatusOK {
		t.Errorf("/livez: %d, want 200: the process still serves", live.status)
	}
}

func TestReadyzFailsWhenTheStoreIsClosed(t *testing.T) {
	m, _ := startWithDevices(t, Config{})
	if err := m.store.Close(); err != nil {
		t.Fatal(err)
	}
	ready := probe(t, m, http.MethodGet, "/readyz")
	if ready.status != http.StatusServiceUnavailable || ready.body.Status != "unavailable" {
		t.Fatalf("/readyz with the store closed: %d %s, want 503", ready.status, ready.raw)
	}
	got := checkStatuses(ready)
	for _, name := range []string{"store", "migrations", "disk"} {
		if got[name] != "failed" {
			t.Errorf("check %s is %q, want failed (%s)", name, got[name], ready.raw)
		}
	}
	for _, c := range ready.body.Checks {
		if c.Status == "failed" && c.Reason == "" {
			t.Errorf("check %s failed without a reason", c.Name)
		}
	}
	// Nothing of the server's insides: no path, no driver message.
	for _, leak := range []string{m.Config.Store.DataDir, "warden.db", "sql:", "closed", "/"} {
		if strings.Contains(ready.raw, leak) {
			t.Errorf("/readyz body %s contains %q", ready.raw, leak)
		}
	}
}

// TestReadyzTimesOut: a check that does not return answers 503 within the
// probe's bound, not a hanging request.
func TestReadyzTimesOut(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	checks := []healthCheck{
		{"fast", "never", func(context.Context) error { return nil }},
		{"stuck", "never shown", func(context.Context) error { <-stuck; return nil }},
	}
	running := make([]atomic.Bool, len(checks))
	want := []checkResult{{Name: "fast", Status: "ok"}, {Name: "stuck", Status: "failed", Reason: "timed out"}}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	got := runChecks(ctx, checks, running)
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("runChecks took %v with a 100 ms bound", elapsed)
	}
	if !slices.Equal(got, want) {
		t.Errorf("runChecks = %+v, want %+v", got, want)
	}
	// The stuck check is not started again: the next probe answers at once.
	start = time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got = runChecks(ctx, checks, running)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("second probe took %v, want an immediate answer", elapsed)
	}
	if !slices.Equal(got, want) {
		t.Errorf("second probe = %+v, want %+v", got, want)
	}
}

func TestVersionLine(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Path: "github.com/warden-iot/warden", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "5da11cb8e8bf65c6de4d763360275f228b25a5ea"},
			{Key: "vcs.time", Value: "2026-12-08T01:02:03Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := versionLine("dev", info), "warden v1.2.3 (commit 5da11cb8e8bf-modified, 2026-12-08T01:02:03Z, go1.99.1)"; got != want {
		t.Errorf("versionLine = %q, want %q", got, want)
	}
	// -ldflags -X main.version wins over the module version.
	info.Settings[2].Value = "false"
	if got, want := versionLine("v9.0.0", info), "warden v9.0.0 (commit 5da11cb8e8bf, 2026-12-08T01:02:03Z, go1.99.1)"; got != want {
		t.Errorf("versionLine = %q, want %q", got, want)
	}
	// A build outside a repository (or with -buildvcs=false): the Go version still.
	real, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build info in the test binary")
	}
	line := versionLine(version, real)
	if !regexp.MustCompile(`^warden \S+ \((commit [0-9a-f]{12}(-modified)?, \S+, )?go\S+\)$`).MatchString(line) {
		t.Errorf("version line %q has not the documented format", line)
	}
}
