package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/warden-iot/warden/internal/pgtest"
)

// `warden-bench detect`, tiny, against a real `warden serve`: both phases
// run, the profiles are created through the API, every oversize message of
// phase (b) ends as an SNS alert at the bench's HTTP subscriber, none in
// phase (a), and the report (text and JSON) has every number. No timing is
// asserted: the machine is shared.
func TestDetectScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts warden")
	}
	if pgtest.URL() != "" {
		t.Skip("runs in the SQLite pass (without " + pgtest.EnvDatabase + ")")
	}
	cfg := &detectConfig{Devices: 20, Rate: 5, Duration: time.Second, Settle: 200 * time.Millisecond, Rounds: 1,
		Violations: 10, Payload: 64, OversizePayload: 2048, Parallel: 8, LogLevel: "info",
		runOptions: runOptions{TmpDir: t.TempDir()}}
	rep, err := runDetect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep.summarize()
	if cfg.Profiles != 5 || cfg.Behaviors != 20 {
		t.Errorf("%d profiles, %d behaviours; want 5 and 20", cfg.Profiles, cfg.Behaviors)
	}
	if len(rep.Phases) != 2 {
		t.Fatalf("%d phases, want 2: %+v", len(rep.Phases), rep.Phases)
	}
	for _, p := range rep.Phases {
		with := p.Phase == detectWithProfiles
		if p.Messages == 0 || p.Errors != 0 || p.ServerCPUs <= 0 || p.ServerCPUus <= 0 || p.Oversize != int64(cfg.Violations) {
			t.Errorf("phase %s: %+v", p.Phase, p)
		}
		if with && (p.Profiles != 5 || p.Behaviors != 20 || p.Alerts != cfg.Violations || p.Missing != 0 ||
			len(p.LatencyMs) != cfg.Violations || len(p.EvalMs) != cfg.Violations || p.P99Ms <= 0 || p.P50Ms > p.P99Ms) {
			t.Errorf("phase (b): profiles %d, behaviours %d, alerts %d, missing %d, latencies %v",
				p.Profiles, p.Behaviors, p.Alerts, p.Missing, p.LatencyMs)
		}
		if !with && (p.Profiles != 0 || p.Alerts != 0 || p.OtherAlerts != 0) {
			t.Errorf("phase (a) without profiles: %d profiles, %d alerts, %d other alerts", p.Profiles, p.Alerts, p.OtherAlerts)
		}
	}
	s := rep.Summary
	if s.CPUusA <= 0 || s.CPUusB <= 0 || len(s.AddedPctRound) != 1 || s.Violations != cfg.Violations || s.Missing != 0 ||
		s.P99Ms <= 0 || len(rep.Checks) != 2 {
		t.Errorf("summary %+v, checks %+v", s, rep.Checks)
	}

	var text bytes.Buffer
	rep.print(&text)
	for _, want := range []string{"a-no-profiles", "b-5-profiles", "added by Detect", "evaluation:", "publish → alert p50", "TARGETS (issue 17)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	sum, _ := back["summary"].(map[string]any)
	for _, k := range []string{"server_cpu_s_per_msg_a", "server_cpu_s_per_msg_b", "added_cpu_pct", "evaluation_us_per_msg",
		"violation_p50_ms", "violation_p99_ms", "violations_observed"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("JSON summary lacks %s: %s", k, js)
		}
	}
	t.Logf("(a) %.1f µs/msg, (b) %.1f µs/msg, added %.1f%%; violations p50 %.1f ms, p99 %.1f ms",
		s.CPUusA, s.CPUusB, s.AddedPct, s.P50Ms, s.P99Ms)
}
