package main

// warden-bench detect: what Device Defender Detect costs the device
// endpoint. One `warden serve`, the same devices and the same traffic twice
// (or more, alternating): (a) no security profile, (b) 5 security profiles
// with 20 behaviours attached to all/things, created through the API. The
// server's CPU per message of both gives Detect's share. In (b) a few
// devices send a message over the size limit at known times; the latency
// is from that publish to the in-alarm alert arriving at an HTTP endpoint
// of the bench subscribed (and confirmed) to the profiles' SNS alert topic:
// what an operator waiting for alerts sees. Phase (a) sends the same
// oversize messages, so the traffic is identical.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/eclipse/paho.golang/paho"
	"golang.org/x/net/netutil"
)

// Targets of issue 17.
const (
	targetDetectAddedCPUPct  = 25.0
	targetViolationP99Ms     = 1000.0
	detectSizeBehavior       = "message-size"
	detectSizeLimit          = 1024 // bytes: the size profile's per-message limit
	detectAlertTopic         = "warden-bench-detect-alerts"
	detectAlertRole          = "arn:aws:iam::" + benchAccount + ":role/warden-bench-detect-alerts"
	detectDimension          = "warden-bench-telemetry"
	detectProfilePrefix      = "warden-bench-"
	detectWithoutProfiles    = "a-no-profiles"
	detectWithProfiles       = "b-5-profiles"
	detectViolationLateLimit = 10 * time.Second
)

type detectConfig struct {
	Warden          string        `json:"warden"`
	WardenVersion   string        `json:"warden_version"`
	Devices         int           `json:"devices"`
	Rate            float64       `json:"msgs_per_device_per_s"`
	Duration        time.Duration `json:"-"`
	DurationS       float64       `json:"duration_s"`
	Settle          time.Duration `json:"-"`
	SettleS         float64       `json:"settle_s"`
	Pause           time.Duration `json:"-"`
	PauseS          float64       `json:"pause_after_connect_s"`
	Rounds          int           `json:"rounds"`
	Violations      int           `json:"violations_per_phase"`
	Payload         int           `json:"payload_bytes"`
	OversizePayload int           `json:"oversize_payload_bytes"`
	QoS             int           `json:"qos"`
	Parallel        int           `json:"connect_parallel"`
	LogLevel        string        `json:"warden_log_level"`
	Behaviors       int           `json:"behaviors"`
	Profiles        int           `json:"profiles"`
	runOptions
}

func runDetectCommand(args []string) int {
	var cfg detectConfig
	fs := flag.NewFlagSet("warden-bench detect", flag.ContinueOnError)
	fs.StringVar(&cfg.Warden, "warden", "", "path of the warden binary (default: go build ./cmd/warden into the work dir)")
	fs.IntVar(&cfg.Devices, "devices", 1000, "connected devices, each publishing --rate messages/s")
	fs.Float64Var(&cfg.Rate, "rate", 10, "messages per second each device publishes")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "length of each measured phase")
	fs.DurationVar(&cfg.Settle, "settle", time.Second, "time after the last publish still counted in the phase's server CPU (queued evaluation finishing)")
	fs.DurationVar(&cfg.Pause, "pause", 2*time.Second, "idle time between connecting the devices and the phase (the connects' aftermath is not counted)")
	fs.IntVar(&cfg.Rounds, "rounds", 1, "rounds; each runs (a) without and (b) with security profiles, in alternating order")
	fs.IntVar(&cfg.Violations, "violations", 150, "oversize messages per phase, spread evenly over it, each from another device in turn")
	fs.IntVar(&cfg.Payload, "payload", 64, "payload bytes of a normal message")
	fs.IntVar(&cfg.OversizePayload, "oversize", 2048, fmt.Sprintf("payload bytes of an oversize message (the size behaviour's limit is %d)", detectSizeLimit))
	fs.IntVar(&cfg.QoS, "qos", 0, "QoS of the devices' publishes (0 or 1)")
	fs.IntVar(&cfg.Parallel, "connect-parallel", 64, "concurrent connects while the devices connect")
	fs.StringVar(&cfg.LogLevel, "warden-log-level", "info", "passed to warden serve --log-level")
	cfg.register(fs, "certificates, data dir, log")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: warden-bench detect [flags]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || cfg.Devices < 1 || cfg.Rate <= 0 || cfg.Duration <= 0 || cfg.Rounds < 1 || cfg.Violations < 0 ||
		cfg.Payload < 0 || cfg.Payload >= detectSizeLimit || cfg.OversizePayload <= detectSizeLimit || cfg.QoS < 0 || cfg.QoS > 1 ||
		cfg.Parallel < 1 || cfg.Settle < 0 || cfg.Pause < 0 {
		fmt.Fprintf(os.Stderr, "warden-bench detect: need positive counts, --payload < %d < --oversize, --qos 0 or 1\n", detectSizeLimit)
		fs.Usage()
		return 2
	}
	return runScenario("detect", &cfg.runOptions, func(ctx context.Context) (*detectReport, error) { return runDetect(ctx, &cfg) })
}

// detectPhase is one measured phase: all devices publishing for the
// duration, with or without security profiles.
type detectPhase struct {
	Round int    `json:"round"`
	Phase string `json:"phase"`
	// Start is when the phase began: Detect closes its windows (and writes
	// their datapoints) on multiples of 300 s of the clock, so a phase
	// shorter than that pays for a boundary or not.
	Start        time.Time `json:"start"`
	Boundaries   int       `json:"window_boundaries"` // multiples of 300 s of the clock within the phase
	Profiles     int       `json:"profiles"`
	Behaviors    int       `json:"behaviors"`
	Messages     int64     `json:"messages"` // published during the phase, oversize ones included
	Oversize     int64     `json:"oversize_messages"`
	Errors       int64     `json:"errors"`
	FirstError   string    `json:"first_error,omitempty"`
	Seconds      float64   `json:"seconds"`
	Rate         float64   `json:"msgs_per_s"`
	TargetRate   float64   `json:"target_msgs_per_s"`
	ServerCPUs   float64   `json:"server_cpu_s"`
	ServerCPUus  float64   `json:"server_cpu_us_per_msg"`
	ServerCores  float64   `json:"server_cores"`
	ClientCPUs   float64   `json:"client_cpu_s"`
	OtherCores   float64   `json:"other_load_cores"`
	PreLoad      float64   `json:"pre_load_cores"`
	Noisy        bool      `json:"noisy"`
	TopOthers    []string  `json:"top_other_processes,omitempty"`
	QueueDropLog int       `json:"detect_queue_full_log_lines"` // "detect queue full" warnings in Warden's log during the phase
	// Violation latency (phase b): publish of an oversize message → its
	// in-alarm alert delivered to the bench's SNS HTTP subscriber.
	Alerts      int       `json:"alerts_matched,omitempty"`
	Missing     int       `json:"alerts_missing,omitempty"` // oversize messages without an alert within the wait
	OtherAlerts int       `json:"other_alerts,omitempty"`   // alerts of other behaviours or events (alarm-cleared …)
	LatencyMs   []float64 `json:"violation_latency_ms,omitempty"`
	// EvalMs is publish → violationEventTime (the evaluator's clock when
	// it observed the message): the part of the latency before the write.
	EvalMs []float64 `json:"publish_to_event_time_ms,omitempty"`
	P50Ms  float64   `json:"violation_p50_ms,omitempty"`
	P99Ms  float64   `json:"violation_p99_ms,omitempty"`
	MaxMs  float64   `json:"violation_max_ms,omitempty"`
}

type detectReport struct {
	Config  *detectConfig `json:"config"`
	Phases  []detectPhase `json:"phases"`
	Summary detectSummary `json:"summary"`
	Checks  []targetCheck `json:"checks"`
	AllPass bool          `json:"all_pass"`
}

type detectSummary struct {
	CPUusA        float64   `json:"server_cpu_us_per_msg_a_median"`
	CPUusB        float64   `json:"server_cpu_us_per_msg_b_median"`
	CPUperMsgA    float64   `json:"server_cpu_s_per_msg_a"`
	CPUperMsgB    float64   `json:"server_cpu_s_per_msg_b"`
	AddedPct      float64   `json:"added_cpu_pct"` // (b − a) / a, per message
	AddedPctRound []float64 `json:"added_cpu_pct_per_round"`
	EvalUsPerMsg  float64   `json:"evaluation_us_per_msg"` // b − a, µs per message
	RateA         float64   `json:"msgs_per_s_a_median"`
	RateB         float64   `json:"msgs_per_s_b_median"`
	TargetRate    float64   `json:"target_msgs_per_s"`
	Violations    int       `json:"violations_observed"`
	Missing       int       `json:"violations_missing"`
	P50Ms         float64   `json:"violation_p50_ms"`
	P99Ms         float64   `json:"violation_p99_ms"`
	MaxMs         float64   `json:"violation_max_ms"`
	EvalP50Ms     float64   `json:"publish_to_event_time_p50_ms"`
	EvalP99Ms     float64   `json:"publish_to_event_time_p99_ms"`
	NoisyPhases   int       `json:"noisy_phases"`
	Errors        int64     `json:"errors"`
	Overloaded    bool      `json:"overloaded"` // a phase published less than 95% of the target rate
}

func runDetect(ctx context.Context, cfg *detectConfig) (*detectReport, error) {
	work, remove, err := newWorkDir(cfg.TmpDir, "warden-bench-detect-", cfg.Keep)
	if err != nil {
		return nil, err
	}
	defer remove()
	cfg.measureMachine(work)
	cfg.DurationS, cfg.SettleS, cfg.PauseS = cfg.Duration.Seconds(), cfg.Settle.Seconds(), cfg.Pause.Seconds()
	if need := uint64(cfg.Devices + 256); cfg.NoFile < need {
		return nil, fmt.Errorf("%d devices need %d open files, the hard limit is %d", cfg.Devices, need, cfg.NoFile)
	}
	profiles := detectProfiles()
	cfg.Profiles = len(profiles)
	for _, p := range profiles {
		cfg.Behaviors += len(p.behaviors)
	}
	rep := &detectReport{Config: cfg}

	progress("making a CA and %d device certificates (ECDSA P-256)", cfg.Devices)
	pki, err := newBenchPKI()
	if err != nil {
		return nil, err
	}
	if err := pki.makeDevices(cfg.Devices); err != nil {
		return nil, err
	}
	mcfg := &mqttConfig{Warden: cfg.Warden, LogLevel: cfg.LogLevel, Clients: cfg.Devices}
	t, api, err := startWardenMQTT(ctx, mcfg, pki, work)
	if t != nil {
		defer t.child.stop(15 * time.Second)
	}
	if err != nil {
		return nil, err
	}
	cfg.Warden, cfg.WardenVersion = mcfg.Warden, mcfg.WardenVersion
	key, err := parseCreds(t.child.out.String())
	if err != nil {
		return nil, err
	}
	apiAddr := apiAddrOf(t)
	alerts, err := startAlertReceiver(ctx, apiAddr, key)
	if err != nil {
		return nil, err
	}
	defer alerts.close()
	if err := createDetectDimension(ctx, api); err != nil {
		return nil, err
	}

	for round := 1; round <= cfg.Rounds; round++ {
		order := []string{detectWithoutProfiles, detectWithProfiles}
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, name := range order {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			with := name == detectWithProfiles
			if with {
				progress("creating %d security profiles (%d behaviours) attached to all/things", len(profiles), cfg.Behaviors)
				if err := createDetectProfiles(ctx, api, alerts.topicArn, profiles); err != nil {
					return rep, fmt.Errorf("%w\n%s", err, t.child.diagnose())
				}
			}
			ph, err := runDetectPhase(ctx, cfg, t, pki, alerts, round, name, with)
			if with {
				if derr := deleteDetectProfiles(ctx, api, profiles); derr != nil && err == nil {
					err = derr
				}
			}
			if err != nil {
				return rep, err
			}
			if with {
				ph.Profiles, ph.Behaviors = cfg.Profiles, cfg.Behaviors
			}
			progress("round %d %-13s %8.0f msgs/s (target %.0f)  server CPU %6.1f µs/msg (%.2f cores)  other load %.2f cores  errors %d",
				round, name, ph.Rate, ph.TargetRate, ph.ServerCPUus, ph.ServerCores, ph.OtherCores, ph.Errors)
			if with {
				progress("  violations: %d alerts, %d missing; publish → alert p50 %.1f ms, p99 %.1f ms, max %.1f ms; %d other alerts",
					ph.Alerts, ph.Missing, ph.P50Ms, ph.P99Ms, ph.MaxMs, ph.OtherAlerts)
			}
			if ph.Errors > 0 {
				progress("  first error: %s", ph.FirstError)
			}
			rep.Phases = append(rep.Phases, ph)
		}
	}
	return rep, nil
}

// apiAddrOf is the API address `warden serve` of t was started with.
func apiAddrOf(t *mqttTarget) string {
	args := t.child.cmd.Args
	for i := 1; i < len(args); i++ {
		if args[i-1] == "--listen" {
			return args[i]
		}
	}
	return ""
}

// runDetectPhase connects every device (not measured), has each publish
// cfg.Rate messages/s for cfg.Duration, and the oversize messages at their
// times, measuring the server's CPU from the first publish to cfg.Settle
// after the last.
func runDetectPhase(ctx context.Context, cfg *detectConfig, t *mqttTarget, pki *benchPKI, alerts *alertReceiver, round int, name string, with bool) (detectPhase, error) {
	ph := detectPhase{Round: round, Phase: name, TargetRate: float64(cfg.Devices) * cfg.Rate}
	progress("round %d %s: connecting %d devices", round, name, cfg.Devices)
	held, err := holdClients(ctx, t, pki, 0, cfg.Devices, cfg.Parallel, max(1000, cfg.Devices/4))
	if err != nil {
		return ph, fmt.Errorf("connect: %w\n%s", err, t.child.diagnose())
	}
	defer releaseClients(held)
	select {
	case <-time.After(cfg.Pause):
	case <-ctx.Done():
		return ph, ctx.Err()
	}
	if cfg.Quiet > 0 {
		load, err := waitQuiet(ctx, cfg.Quiet, cfg.QuietWait, cfg.ClockTicks)
		if err != nil {
			return ph, err
		}
		ph.PreLoad = load
	}
	logBefore := countLogLines(t.child.log, "detect queue full")
	alerts.reset()

	payload := make([]byte, cfg.Payload)
	oversize := make([]byte, cfg.OversizePayload)
	for i := range oversize {
		oversize[i] = 'a' + byte(i%26)
		if i < len(payload) {
			payload[i] = oversize[i]
		}
	}
	var (
		cnt      counter
		oversent atomic.Int64
		wg       sync.WaitGroup
	)
	before, err := markCPU(t.child.pid())
	if err != nil {
		return ph, err
	}
	start := time.Now()
	pctx, cancel := context.WithDeadline(ctx, start.Add(cfg.Duration))
	defer cancel()
	every := time.Duration(float64(time.Second) / cfg.Rate)
	publish := func(h *heldClient, i int, p []byte) error {
		_, err := h.c.Publish(context.WithoutCancel(pctx), &paho.Publish{Topic: fmt.Sprintf("bench/dev/%d/telemetry", i),
			QoS: byte(cfg.QoS), Payload: p})
		return err
	}
	for i, h := range held {
		wg.Go(func() {
			// A random phase: the devices' publishes spread over each period.
			next := start.Add(time.Duration(rand.Int64N(int64(every))))
			for {
				select {
				case <-pctx.Done():
					return
				case <-time.After(time.Until(next)):
				}
				if err := publish(h, i, payload); err != nil {
					cnt.fail(err)
				} else {
					cnt.ok.Add(1)
				}
				next = next.Add(every)
			}
		})
	}
	// The oversize messages: evenly over the phase, device k mod n.
	if cfg.Violations > 0 {
		wg.Go(func() {
			gap := cfg.Duration / time.Duration(cfg.Violations)
			for k := range cfg.Violations {
				at := start.Add(gap/2 + time.Duration(k)*gap)
				select {
				case <-pctx.Done():
					return
				case <-time.After(time.Until(at)):
				}
				i := k % len(held)
				thing := fmt.Sprintf("bench-hold-%d", i)
				alerts.expect(thing, time.Now())
				if err := publish(held[i], i, oversize); err != nil {
					alerts.unexpect(thing)
					cnt.fail(err)
					continue
				}
				oversent.Add(1)
			}
		})
	}
	wg.Wait()
	ph.Seconds = time.Since(start).Seconds()
	ph.Start = start.UTC()
	ph.Boundaries = int(start.Add(time.Duration(ph.Seconds*float64(time.Second))+cfg.Settle).Unix()/300 - start.Unix()/300)
	select {
	case <-time.After(cfg.Settle):
	case <-ctx.Done():
		return ph, ctx.Err()
	}
	after, err := markCPU(t.child.pid())
	if err != nil {
		return ph, fmt.Errorf("warden CPU: %w\n%s", err, t.child.diagnose())
	}
	ph.Oversize = oversent.Load()
	ph.Messages = cnt.ok.Load() + ph.Oversize
	ph.Errors, ph.FirstError = cnt.errs.Load(), cnt.firstErr()
	ph.Rate = float64(ph.Messages) / ph.Seconds
	counted := ph.Seconds + cfg.Settle.Seconds()
	ph.ServerCPUs, ph.ClientCPUs = before.spent(after, cfg.ClockTicks)
	ph.ServerCores = ph.ServerCPUs / counted
	ph.OtherCores = before.otherCores(after, cfg.ClockTicks, counted, ph.ServerCPUs+ph.ClientCPUs)
	ph.Noisy = cfg.Quiet > 0 && ph.OtherCores > cfg.Quiet
	ph.TopOthers = topOthers(before.procs, after.procs, map[int]bool{os.Getpid(): true, t.child.pid(): true}, cfg.ClockTicks, counted, 3)
	if ph.Messages > 0 {
		ph.ServerCPUus = ph.ServerCPUs * 1e6 / float64(ph.Messages)
	}
	ph.QueueDropLog = countLogLines(t.child.log, "detect queue full") - logBefore
	if with {
		alerts.waitAll(ctx, detectViolationLateLimit)
	}
	res := alerts.result()
	ph.Alerts, ph.Missing, ph.OtherAlerts, ph.LatencyMs, ph.EvalMs = len(res.latency), res.missing, res.other, res.latency, res.eval
	if !with {
		// Without profiles an alert would be a bug; counted as other.
		ph.Alerts, ph.Missing, ph.LatencyMs, ph.EvalMs = 0, 0, nil, nil
		ph.OtherAlerts += len(res.latency)
	}
	sorted := slices.Sorted(slices.Values(ph.LatencyMs))
	if len(sorted) > 0 {
		ph.P50Ms, ph.P99Ms, ph.MaxMs = pctF(sorted, 50), pctF(sorted, 99), sorted[len(sorted)-1]
	}
	if ph.Messages == 0 {
		return ph, fmt.Errorf("%s: nothing published, first error: %s\n%s", name, ph.FirstError, t.child.diagnose())
	}
	return ph, nil
}

// countLogLines counts the lines of file holding substr (0 if unreadable).
func countLogLines(file, substr string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	return strings.Count(string(data), substr)
}

// alertReceiver is an HTTP endpoint on 127.0.0.1 subscribed to the alert
// topic: it matches each in-alarm alert of the size behaviour with the
// oversize message that caused it.
type alertReceiver struct {
	srv      *http.Server
	topicArn string
	confirm  chan string

	mu      sync.Mutex
	pending map[string][]time.Time // thing → oversize publishes not yet alerted
	latency []float64
	eval    []float64
	other   int
	changed chan struct{}
}

type alertResult struct {
	latency, eval []float64
	missing       int
	other         int
}

// startAlertReceiver listens, creates the alert topic, subscribes the
// listener to it and confirms the subscription with the token Warden
// delivers, all through the SNS API.
func startAlertReceiver(ctx context.Context, apiAddr string, key creds) (*alertReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &alertReceiver{confirm: make(chan string, 1), pending: map[string][]time.Time{}, changed: make(chan struct{}, 1)}
	// Only Warden's deliverer calls it, but a listener still gets deadlines
	// and a connection limit (DESIGN.md).
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	go r.srv.Serve(netutil.LimitListener(ln, 256))
	cl := sns.New(sns.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + apiAddr), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(key.id, key.secret, "")})
	topic, err := cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(detectAlertTopic)})
	if err != nil {
		r.close()
		return nil, fmt.Errorf("SNS CreateTopic: %w", err)
	}
	r.topicArn = aws.ToString(topic.TopicArn)
	if _, err := cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"),
		Endpoint: aws.String("http://" + ln.Addr().String() + "/alerts")}); err != nil {
		r.close()
		return nil, fmt.Errorf("SNS Subscribe: %w", err)
	}
	select {
	case token := <-r.confirm:
		if _, err := cl.ConfirmSubscription(ctx, &sns.ConfirmSubscriptionInput{TopicArn: topic.TopicArn, Token: aws.String(token)}); err != nil {
			r.close()
			return nil, fmt.Errorf("SNS ConfirmSubscription: %w", err)
		}
	case <-time.After(15 * time.Second):
		r.close()
		return nil, errors.New("no SubscriptionConfirmation reached the alert endpoint within 15 s")
	case <-ctx.Done():
		r.close()
		return nil, ctx.Err()
	}
	progress("alerts: SNS topic %s, HTTP subscriber %s confirmed", r.topicArn, ln.Addr())
	return r, nil
}

func (r *alertReceiver) close() { _ = r.srv.Close() }

// detectAlert is the part of a Detect alert (the SNS message) the bench reads.
type detectAlert struct {
	ThingName          string                `json:"thingName"`
	Behavior           struct{ Name string } `json:"behavior"`
	ViolationEventType string                `json:"violationEventType"`
	ViolationEventTime int64                 `json:"violationEventTime"` // epoch ms
}

func (r *alertReceiver) serve(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	var env struct{ Type, Token, Message string }
	if err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&env); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch env.Type {
	case "SubscriptionConfirmation":
		select {
		case r.confirm <- env.Token:
		default:
		}
	case "Notification":
		var a detectAlert
		if err := json.Unmarshal([]byte(env.Message), &a); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.record(a, now)
	}
	w.WriteHeader(http.StatusOK)
}

func (r *alertReceiver) record(a detectAlert, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sent := r.pending[a.ThingName]
	if a.ViolationEventType != "in-alarm" || a.Behavior.Name != detectSizeBehavior || len(sent) == 0 {
		r.other++
		return
	}
	r.pending[a.ThingName] = sent[1:]
	r.latency = append(r.latency, ms(now.Sub(sent[0])))
	r.eval = append(r.eval, ms(time.UnixMilli(a.ViolationEventTime).Sub(sent[0])))
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *alertReceiver) expect(thing string, at time.Time) {
	r.mu.Lock()
	r.pending[thing] = append(r.pending[thing], at)
	r.mu.Unlock()
}

// unexpect drops the last expected alert of thing (its publish failed).
func (r *alertReceiver) unexpect(thing string) {
	r.mu.Lock()
	if p := r.pending[thing]; len(p) > 0 {
		r.pending[thing] = p[:len(p)-1]
	}
	r.mu.Unlock()
}

func (r *alertReceiver) reset() {
	r.mu.Lock()
	r.pending, r.latency, r.eval, r.other = map[string][]time.Time{}, nil, nil, 0
	r.mu.Unlock()
}

func (r *alertReceiver) missing() int {
	n := 0
	for _, p := range r.pending {
		n += len(p)
	}
	return n
}

// waitAll waits until every expected alert arrived, at most limit.
func (r *alertReceiver) waitAll(ctx context.Context, limit time.Duration) {
	deadline := time.After(limit)
	for {
		r.mu.Lock()
		n := r.missing()
		r.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-r.changed:
		case <-deadline:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (r *alertReceiver) result() alertResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return alertResult{latency: slices.Clone(r.latency), eval: slices.Clone(r.eval), missing: r.missing(), other: r.other}
}

// detectProfile is one security profile of phase (b).
type detectProfile struct {
	name      string
	behaviors []types.Behavior
}

func count(n int64) *types.MetricValue { return &types.MetricValue{Count: aws.Int64(n)} }

func static(op types.ComparisonOperator, v *types.MetricValue, duration int32) *types.BehaviorCriteria {
	c := &types.BehaviorCriteria{ComparisonOperator: op, Value: v}
	if duration > 0 {
		c.DurationSeconds = aws.Int32(duration)
	}
	return c
}

// detectProfiles are phase (b)'s 5 profiles, 20 behaviours in all: per
// message sizes (one limit the oversize messages break), message counts
// over 5 to 30 minutes with and without a TOPIC_FILTER dimension,
// authorization failures, connection attempts and disconnects, source IPs
// in CIDR sets and two statistical behaviours. Only the size limit of the
// first profile is broken by the bench's traffic.
func detectProfiles() []detectProfile {
	dimIn := &types.MetricDimension{DimensionName: aws.String(detectDimension), Operator: types.DimensionValueOperatorIn}
	dimNotIn := &types.MetricDimension{DimensionName: aws.String(detectDimension), Operator: types.DimensionValueOperatorNotIn}
	lt, ltEq := types.ComparisonOperatorLessThan, types.ComparisonOperatorLessThanEquals
	b := func(name, metric string, dim *types.MetricDimension, c *types.BehaviorCriteria) types.Behavior {
		return types.Behavior{Name: aws.String(name), Metric: aws.String(metric), MetricDimension: dim, Criteria: c}
	}
	cidrs := func(cs ...string) *types.MetricValue { return &types.MetricValue{Cidrs: cs} }
	stat := func(p string, duration int32) *types.BehaviorCriteria {
		return &types.BehaviorCriteria{ComparisonOperator: ltEq, DurationSeconds: aws.Int32(duration),
			StatisticalThreshold: &types.StatisticalThreshold{Statistic: aws.String(p)}}
	}
	return []detectProfile{
		{detectProfilePrefix + "size", []types.Behavior{
			b(detectSizeBehavior, "aws:message-byte-size", nil, static(lt, count(detectSizeLimit), 0)),
			b("telemetry-sent", "aws:num-messages-sent", dimIn, static(lt, count(100000), 300)),
			b("authz-failures", "aws:num-authorization-failures", nil, static(lt, count(10), 300)),
			b("source-ip", "aws:source-ip-address", nil, static(types.ComparisonOperatorInCidrSet, cidrs("127.0.0.0/8", "10.0.0.0/8"), 0)),
		}},
		{detectProfilePrefix + "traffic", []types.Behavior{
			b("message-size-hard", "aws:message-byte-size", nil, static(lt, count(65536), 0)),
			b("sent-total", "aws:num-messages-sent", nil, static(lt, count(1000000), 300)),
			b("sent-p99-9", "aws:num-messages-sent", nil, stat("p99.9", 300)),
			b("received", "aws:num-messages-received", nil, static(lt, count(1000000), 300)),
		}},
		{detectProfilePrefix + "connections", []types.Behavior{
			b("connection-attempts", "aws:num-connection-attempts", nil, static(lt, count(100), 300)),
			b("disconnects", "aws:num-disconnects", nil, static(lt, count(100), 300)),
			b("source-ip-private", "aws:source-ip-address", nil, static(types.ComparisonOperatorInCidrSet,
				cidrs("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"), 0)),
			b("telemetry-authz", "aws:num-authorization-failures", dimIn, static(lt, count(5), 300)),
		}},
		{detectProfilePrefix + "telemetry", []types.Behavior{
			b("telemetry-size", "aws:message-byte-size", dimIn, static(lt, count(8192), 0)),
			b("telemetry-sent-10m", "aws:num-messages-sent", dimIn, static(lt, count(1000000), 600)),
			b("other-topics-sent", "aws:num-messages-sent", dimNotIn, static(lt, count(1000), 300)),
			b("authz-15m", "aws:num-authorization-failures", nil, static(lt, count(50), 900)),
		}},
		{detectProfilePrefix + "fleet", []types.Behavior{
			b("authz-p90", "aws:num-authorization-failures", nil, stat("p90", 300)),
			b("sent-30m", "aws:num-messages-sent", nil, static(lt, count(10000000), 1800)),
			b("received-1h", "aws:num-messages-received", nil, static(lt, count(10000000), 3600)),
			b("connection-attempts-1h", "aws:num-connection-attempts", nil, static(lt, count(1000), 3600)),
		}},
	}
}

func createDetectDimension(ctx context.Context, api *iot.Client) error {
	_, err := api.CreateDimension(ctx, &iot.CreateDimensionInput{Name: aws.String(detectDimension), Type: types.DimensionTypeTopicFilter,
		StringValues: []string{"bench/dev/+/telemetry"}, ClientRequestToken: aws.String("warden-bench-dimension")})
	if err != nil {
		return fmt.Errorf("CreateDimension: %w", err)
	}
	return nil
}

// createDetectProfiles creates the profiles, each with the alert topic as
// its SNS alert target, and attaches them to all/things.
func createDetectProfiles(ctx context.Context, api *iot.Client, topicArn string, profiles []detectProfile) error {
	allThings := "arn:aws:iot:us-east-1:" + benchAccount + ":" + "all/things"
	for _, p := range profiles {
		if _, err := api.CreateSecurityProfile(ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String(p.name),
			Behaviors: p.behaviors, AlertTargets: map[string]types.AlertTarget{"SNS": {AlertTargetArn: aws.String(topicArn),
				RoleArn: aws.String(detectAlertRole)}}}); err != nil {
			return fmt.Errorf("CreateSecurityProfile %s: %w", p.name, err)
		}
		if _, err := api.AttachSecurityProfile(ctx, &iot.AttachSecurityProfileInput{SecurityProfileName: aws.String(p.name),
			SecurityProfileTargetArn: aws.String(allThings)}); err != nil {
			return fmt.Errorf("AttachSecurityProfile %s: %w", p.name, err)
		}
	}
	// The evaluator reads the change log every 500 ms: give it time to
	// load the profiles before the phase starts.
	time.Sleep(1500 * time.Millisecond)
	return nil
}

func deleteDetectProfiles(ctx context.Context, api *iot.Client, profiles []detectProfile) error {
	for _, p := range profiles {
		if _, err := api.DeleteSecurityProfile(ctx, &iot.DeleteSecurityProfileInput{SecurityProfileName: aws.String(p.name)}); err != nil {
			return fmt.Errorf("DeleteSecurityProfile %s: %w", p.name, err)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	return nil
}

func (r *detectReport) summarize() {
	s := detectSummary{}
	var a, b, ra, rb []float64
	var lat, eval []float64
	byRound := map[int]map[bool]float64{}
	for _, p := range r.Phases {
		with := p.Phase == detectWithProfiles
		s.TargetRate = p.TargetRate
		s.Errors += p.Errors
		if p.Noisy {
			s.NoisyPhases++
		}
		if p.Rate < 0.95*p.TargetRate {
			s.Overloaded = true
		}
		if byRound[p.Round] == nil {
			byRound[p.Round] = map[bool]float64{}
		}
		byRound[p.Round][with] = p.ServerCPUus
		if with {
			b, rb = append(b, p.ServerCPUus), append(rb, p.Rate)
			lat, eval = append(lat, p.LatencyMs...), append(eval, p.EvalMs...)
			s.Missing += p.Missing
		} else {
			a, ra = append(a, p.ServerCPUus), append(ra, p.Rate)
		}
	}
	for round := 1; round <= r.Config.Rounds; round++ {
		x, okA := byRound[round][false]
		y, okB := byRound[round][true]
		if okA && okB && x > 0 {
			s.AddedPctRound = append(s.AddedPctRound, 100*(y-x)/x)
		}
	}
	s.CPUusA, s.CPUusB, s.RateA, s.RateB = median(a), median(b), median(ra), median(rb)
	s.CPUperMsgA, s.CPUperMsgB = s.CPUusA/1e6, s.CPUusB/1e6
	if s.CPUusA > 0 {
		s.AddedPct = 100 * (s.CPUusB - s.CPUusA) / s.CPUusA
	}
	s.EvalUsPerMsg = s.CPUusB - s.CPUusA
	slices.Sort(lat)
	slices.Sort(eval)
	s.Violations = len(lat)
	if len(lat) > 0 {
		s.P50Ms, s.P99Ms, s.MaxMs = pctF(lat, 50), pctF(lat, 99), lat[len(lat)-1]
		s.EvalP50Ms, s.EvalP99Ms = pctF(eval, 50), pctF(eval, 99)
	}
	r.Summary = s
	r.Checks = []targetCheck{
		{Name: fmt.Sprintf("added server CPU per message, %d profiles × %d behaviours", r.Config.Profiles, r.Config.Behaviors),
			Value: fmt.Sprintf("%.1f%%", s.AddedPct), Target: fmt.Sprintf("≤ %.0f%%", targetDetectAddedCPUPct),
			Pass: len(a) > 0 && len(b) > 0 && s.AddedPct <= targetDetectAddedCPUPct && s.Errors == 0},
		{Name: fmt.Sprintf("violation publish → SNS alert p99 (%d violations)", s.Violations),
			Value: fmt.Sprintf("%.1f ms", s.P99Ms), Target: fmt.Sprintf("≤ %.0f ms", targetViolationP99Ms),
			Pass: s.Violations > 0 && s.Missing == 0 && s.P99Ms <= targetViolationP99Ms},
	}
	r.AllPass = true
	for _, c := range r.Checks {
		r.AllPass = r.AllPass && c.Pass
	}
}

func (r *detectReport) print(out io.Writer) {
	c := r.Config
	fmt.Fprintf(out, "warden-bench detect: %s (%s), --log-level %s\n", c.Warden, c.WardenVersion, c.LogLevel)
	fmt.Fprintf(out, "  %d CPUs (the bench's devices share them), %s; %d rounds × 2 phases × %gs (+%gs settle counted)\n",
		c.CPUs, c.GoVersion, c.Rounds, c.DurationS, c.SettleS)
	fmt.Fprintf(out, "  %d devices (paho.golang MQTT 5 over TLS, each its own certificate, bench policy attached) × %g msgs/s, QoS %d,\n",
		c.Devices, c.Rate, c.QoS)
	fmt.Fprintf(out, "  %d-byte payloads; %d oversize (%d-byte) messages per phase, in both phases\n", c.Payload, c.Violations, c.OversizePayload)
	fmt.Fprintf(out, "  (a) no security profile; (b) %d profiles, %d behaviours, attached to all/things, SNS alert target\n", c.Profiles, c.Behaviors)
	fmt.Fprintf(out, "  violation latency: oversize publish → in-alarm alert POSTed to the bench's confirmed SNS HTTP subscription\n")
	fmt.Fprintf(out, "  (Detect closes its windows and writes their datapoints at multiples of 300 s of the clock: a phase that\n")
	fmt.Fprintf(out, "  holds such an end (\"300-s ends\") pays for them, one that does not pays nothing; phases ≥ 300 s average it)\n")
	fmt.Fprintf(out, "  work dir: %s\n\n", c.WorkDir)

	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tphase\tmessages\terrors\tmsgs/s\ttarget\tserver CPU s\tµs/msg\tcores\t300-s ends\talerts\tmissing\tp50 ms\tp99 ms\tother load\t")
	for _, p := range r.Phases {
		mark := ""
		if p.Noisy {
			mark = " *"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%.0f\t%.0f\t%.2f\t%.1f\t%.2f\t%d\t%d\t%d\t%.1f\t%.1f\t%.2f%s\t\n", p.Round, p.Phase, p.Messages, p.Errors,
			p.Rate, p.TargetRate, p.ServerCPUs, p.ServerCPUus, p.ServerCores, p.Boundaries, p.Alerts, p.Missing, p.P50Ms, p.P99Ms, p.OtherCores, mark)
	}
	tw.Flush()
	for _, p := range r.Phases {
		if p.Errors > 0 {
			fmt.Fprintf(out, "round %d %s: %d errors, first: %s\n", p.Round, p.Phase, p.Errors, p.FirstError)
		}
		if p.QueueDropLog > 0 {
			fmt.Fprintf(out, "round %d %s: Warden logged \"detect queue full\" %d times (events dropped)\n", p.Round, p.Phase, p.QueueDropLog)
		}
		if p.OtherAlerts > 0 {
			fmt.Fprintf(out, "round %d %s: %d other alerts (alarm-cleared, other behaviours)\n", p.Round, p.Phase, p.OtherAlerts)
		}
	}
	if c.Quiet > 0 {
		fmt.Fprintf(out, "  (* other processes used more than %.2f cores during the phase)\n", c.Quiet)
	}
	s := r.Summary
	fmt.Fprintf(out, "\nSUMMARY (medians over %d rounds)\n", c.Rounds)
	fmt.Fprintf(out, "  server CPU per message: (a) %.1f µs, (b) %.1f µs; added by Detect %.1f%% (per round: %s)\n",
		s.CPUusA, s.CPUusB, s.AddedPct, joinF(s.AddedPctRound, "%.1f%%"))
	fmt.Fprintf(out, "  evaluation: %.1f µs of server CPU per message\n", s.EvalUsPerMsg)
	fmt.Fprintf(out, "  rate: (a) %.0f, (b) %.0f msgs/s of %.0f wanted", s.RateA, s.RateB, s.TargetRate)
	if s.Overloaded {
		fmt.Fprintf(out, " — OVERLOADED: a phase published under 95%% of the wanted rate")
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "  violations: %d observed, %d missing; publish → alert p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		s.Violations, s.Missing, s.P50Ms, s.P99Ms, s.MaxMs)
	fmt.Fprintf(out, "  of which publish → violationEventTime (evaluator observed it): p50 %.1f ms, p99 %.1f ms\n", s.EvalP50Ms, s.EvalP99Ms)
	fmt.Fprintln(out, "\nTARGETS (issue 17)")
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, ch := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", ch.Name, ch.Value, ch.Target, passFail(ch.Pass))
	}
	tw.Flush()
	fmt.Fprintf(out, "overall: %s\n", passFail(r.AllPass))
}

func joinF(v []float64, format string) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprintf(format, x))
	}
	return strings.Join(s, " ")
}
