package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/protocol"
)

// healthTimeout bounds a readiness probe: a stuck store answers 503 rather
// than a probe that hangs until the orchestrator's own timeout.
const healthTimeout = 2 * time.Second

// healthCheck is one readiness condition. reason is what the probe shows
// when it fails: fixed text, since the probe is unauthenticated and the
// error may name paths or hosts.
type healthCheck struct {
	name, reason string
	check        func(ctx context.Context) error
}

// healthChecks are the conditions of /readyz.
func (m *Main) healthChecks() []healthCheck {
	checks := []healthCheck{
		{"store", "store did not answer a read", m.store.Ping},
		{"migrations", "schema version is not this binary's", m.store.SchemaCurrent},
		{"disk", "store refuses writes", func(context.Context) error { return m.store.Writable() }},
	}
	if m.devices != nil {
		checks = append(checks, healthCheck{"device_listener", "device endpoint is not accepting", func(context.Context) error {
			if !m.devices.Accepting() {
				return errors.New("not accepting")
			}
			return nil
		}})
	}
	return checks
}

type checkResult struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok or failed
	Reason string `json:"reason,omitempty"`
}

type healthBody struct {
	Status string        `json:"status"` // ok or unavailable
	Checks []checkResult `json:"checks,omitempty"`
}

// withHealth answers /livez and /readyz without a signature; every other
// request goes to next.
func withHealth(next http.Handler, checks []healthCheck) http.Handler {
	running := make([]atomic.Bool, len(checks))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/livez" && r.URL.Path != "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			protocol.WriteJSONError(w, nil, warden.Errorf(warden.CodeMethodNotAllowed,
				"%s accepts GET and HEAD only, not %s.", r.URL.Path, r.Method))
			return
		}
		if r.URL.Path == "/livez" {
			writeHealth(w, http.StatusOK, healthBody{Status: "ok"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
		defer cancel()
		body, status := healthBody{Status: "ok"}, http.StatusOK
		for _, res := range runChecks(ctx, checks, running) {
			if res.Status != "ok" {
				body.Status, status = "unavailable", http.StatusServiceUnavailable
			}
			body.Checks = append(body.Checks, res)
		}
		writeHealth(w, status, body)
	})
}

// runChecks runs the checks concurrently; one still running when ctx ends
// counts as failed ("timed out") and is left to finish on its own. While it
// runs (running[i]), later probes do not start it again but count it as
// timed out: probes of a stuck store must not pile up goroutines.
func runChecks(ctx context.Context, checks []healthCheck, running []atomic.Bool) []checkResult {
	type result struct {
		i   int
		res checkResult
	}
	done := make(chan result, len(checks)) // buffered: a late check never blocks
	out := make([]checkResult, len(checks))
	for i, c := range checks {
		out[i] = checkResult{Name: c.name, Status: "failed", Reason: "timed out"}
		if !running[i].CompareAndSwap(false, true) {
			done <- result{i, out[i]}
			continue
		}
		go func() {
			defer running[i].Store(false)
			res := checkResult{Name: c.name, Status: "ok"}
			if err := c.check(ctx); err != nil {
				res = checkResult{Name: c.name, Status: "failed", Reason: c.reason}
				if ctx.Err() != nil {
					res.Reason = "timed out"
				}
			}
			done <- result{i, res}
		}()
	}
	for range checks {
		select {
		case d := <-done:
			out[d.i] = d.res
		case <-ctx.Done():
			return out
		}
	}
	return out
}

func writeHealth(w http.ResponseWriter, status int, body healthBody) {
	buf, _ := json.Marshal(body)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(status)
	_, _ = w.Write(buf)
}
