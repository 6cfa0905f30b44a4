package main

// warden-bench mqtt: Warden's device endpoint against Mosquitto 2 (a second
// instance the bench starts with TLS and require_certificate on a free
// port, from a config it writes), in the same run, with the same paho.golang
// MQTT 5 clients and the same device certificates (from a CA the bench
// makes; registered in Warden through the API, with a policy attached, so
// that Warden enforces authorization on every connect and publish).

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// Targets of issue 15 ("Speed").
const (
	targetMQTTConnectRatio = 0.8
	targetMQTTFlowRatio    = 1.0
	targetCutoffP99Ms      = 1000.0
	targetHoldRSSMiB       = 600.0
)

// The MQTT workloads.
const (
	wlConnect  = "connect"   // TLS + CONNECT/CONNACK + DISCONNECT per connection
	wlFanInQ0  = "fanin-q0"  // many publishers → one subscriber, QoS 0
	wlFanInQ1  = "fanin-q1"  // the same at QoS 1
	wlFanOutQ0 = "fanout-q0" // one publisher → many subscribers, QoS 0
	wlFanOutQ1 = "fanout-q1" // the same at QoS 1
)

var mqttWorkloads = []string{wlConnect, wlFanInQ0, wlFanInQ1, wlFanOutQ0, wlFanOutQ1}

type mqttConfig struct {
	Warden         string        `json:"warden"`
	WardenVersion  string        `json:"warden_version"`
	Mosquitto      string        `json:"mosquitto"`
	MosquittoVer   string        `json:"mosquitto_version"`
	Targets        []string      `json:"targets"`
	Workloads      []string      `json:"workloads"`
	Duration       time.Duration `json:"-"`
	Warmup         time.Duration `json:"-"`
	DurationS      float64       `json:"duration_s"`
	WarmupS        float64       `json:"warmup_s"`
	Rounds         int           `json:"rounds"`
	ConnectWorkers int           `json:"connect_concurrency"`
	Publishers     int           `json:"fanin_publishers"`
	Subscribers    int           `json:"fanout_subscribers"`
	Inflight       int           `json:"qos1_inflight_per_publisher"`
	Window         int           `json:"window"`
	Payload        int           `json:"payload_bytes"`
	Clients        int           `json:"hold_clients"`
	Trials         int           `json:"cutoff_trials"`
	Parallel       int           `json:"hold_connect_parallel"`
	LogLevel       string        `json:"warden_log_level"`
	runOptions
}

// runMQTTCommand is `warden-bench mqtt [flags]`; it returns the exit status.
func runMQTTCommand(args []string) int {
	var cfg mqttConfig
	var targets, workloads string
	fs := flag.NewFlagSet("warden-bench mqtt", flag.ContinueOnError)
	fs.StringVar(&cfg.Warden, "warden", "", "path of the warden binary (default: go build ./cmd/warden into the work dir)")
	fs.StringVar(&cfg.Mosquitto, "mosquitto", "/usr/sbin/mosquitto", "path of the mosquitto broker (Debian's mosquitto package)")
	fs.StringVar(&targets, "targets", "mosquitto,warden", "brokers to measure: mosquitto, warden or both")
	fs.StringVar(&workloads, "workloads", strings.Join(mqttWorkloads, ","), "comma list of: "+strings.Join(mqttWorkloads, ", ")+"; empty: none")
	fs.DurationVar(&cfg.Duration, "duration", 5*time.Second, "length of each measured phase")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "unmeasured warm-up of each broker and workload before round 1")
	fs.IntVar(&cfg.Rounds, "rounds", 3, "rounds; each runs every workload on both brokers, in alternating order")
	fs.IntVar(&cfg.ConnectWorkers, "connect-concurrency", 32, "concurrent connecting clients in the connect workload")
	fs.IntVar(&cfg.Publishers, "publishers", 16, "publishers of the fan-in workloads")
	fs.IntVar(&cfg.Subscribers, "subscribers", 16, "subscribers of the fan-out workloads")
	fs.IntVar(&cfg.Inflight, "inflight", 8, "QoS 1 publishes each publisher keeps waiting for PUBACK")
	fs.IntVar(&cfg.Window, "window", 1000, "messages sent but not yet received by the slowest subscriber before publishers wait")
	fs.IntVar(&cfg.Payload, "payload", 64, "payload bytes per message")
	fs.IntVar(&cfg.Clients, "clients", 10000, "connected clients of the hold test (Warden's RSS and cut-off latency; Mosquitto's RSS); 0 skips it")
	fs.IntVar(&cfg.Trials, "trials", 100, "certificates deactivated one by one in the hold test (Warden), each timed until its client is disconnected")
	fs.IntVar(&cfg.Parallel, "hold-parallel", 64, "concurrent connects while the hold test connects its clients")
	fs.StringVar(&cfg.LogLevel, "warden-log-level", "info", "passed to warden serve --log-level")
	cfg.register(fs, "configs, certificates, data dir, logs")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: warden-bench mqtt [flags]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	if cfg.Targets, err = parseList(targets, []string{"mosquitto", "warden"}); err != nil || len(cfg.Targets) == 0 {
		fmt.Fprintln(os.Stderr, "warden-bench mqtt: --targets: need mosquitto and/or warden", err)
		return 2
	}
	if cfg.Workloads, err = parseList(workloads, mqttWorkloads); err != nil {
		fmt.Fprintln(os.Stderr, "warden-bench mqtt: --workloads:", err)
		return 2
	}
	if fs.NArg() > 0 || cfg.Rounds < 1 || cfg.Duration <= 0 || cfg.ConnectWorkers < 1 || cfg.Publishers < 1 ||
		cfg.Subscribers < 1 || cfg.Inflight < 1 || cfg.Window < 1 || cfg.Payload < 0 || cfg.Clients < 0 ||
		cfg.Trials < 0 || cfg.Trials > cfg.Clients || cfg.Parallel < 1 {
		fmt.Fprintln(os.Stderr, "warden-bench mqtt: need positive counts, --duration > 0 and --trials ≤ --clients")
		fs.Usage()
		return 2
	}
	cfg.DurationS, cfg.WarmupS = cfg.Duration.Seconds(), cfg.Warmup.Seconds()

	return runScenario("mqtt", &cfg.runOptions, func(ctx context.Context) (*mqttReport, error) { return runMQTT(ctx, &cfg) })
}

// parseList splits a comma list, keeping known names in the order of known.
func parseList(list string, known []string) ([]string, error) {
	var got []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(known, s) {
			return nil, fmt.Errorf("unknown %q (known: %s)", s, strings.Join(known, ", "))
		}
		got = append(got, s)
	}
	var out []string
	for _, k := range known {
		if slices.Contains(got, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// raiseNoFile sets the soft limit of open files to the hard one; set
// explicitly (not by the Go runtime's automatic raise), the brokers the
// bench starts inherit it too.
func raiseNoFile() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	lim.Cur = lim.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Cur
}

func runMQTT(ctx context.Context, cfg *mqttConfig) (*mqttReport, error) {
	work, remove, err := newWorkDir(cfg.TmpDir, "warden-bench-mqtt-", cfg.Keep)
	if err != nil {
		return nil, err
	}
	defer remove()
	cfg.measureMachine(work)
	if need := uint64(cfg.Clients + 1000); cfg.Clients > 0 && cfg.NoFile < need {
		return nil, fmt.Errorf("the hold test needs %d open files, the hard limit is %d (raise it, or lower --clients)", need, cfg.NoFile)
	}
	rep := &mqttReport{Config: cfg}

	devices := holdFirstDevice(cfg) + cfg.Clients
	progress("making a CA and %d device certificates (ECDSA P-256)", devices)
	pki, err := newBenchPKI()
	if err != nil {
		return nil, err
	}
	if err := pki.makeDevices(devices); err != nil {
		return nil, err
	}

	var targets []*mqttTarget
	var wardenAPI *iot.Client
	for _, name := range cfg.Targets {
		var t *mqttTarget
		switch name {
		case "mosquitto":
			t, err = startMosquitto(cfg, pki, work)
		case "warden":
			t, wardenAPI, err = startWardenMQTT(ctx, cfg, pki, work)
		}
		if t != nil {
			defer t.child.stop(15 * time.Second)
		}
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}

	if cfg.Warmup > 0 && len(cfg.Workloads) > 0 {
		progress("warm-up: %s per broker and workload", cfg.Warmup)
		for _, wl := range cfg.Workloads {
			for _, t := range targets {
				ph, err := measureMQTT(ctx, cfg, t, pki, wl, 0, cfg.Warmup, false)
				if err != nil {
					return rep, fmt.Errorf("warm-up %s on %s: %w", wl, t.name, err)
				}
				if ph.Errors > 0 {
					// Measured anyway: the phases count and show errors.
					progress("warm-up %s on %s: %d errors, first: %s", wl, t.name, ph.Errors, ph.FirstError)
				}
			}
		}
	}
	for round := 1; round <= cfg.Rounds && len(cfg.Workloads) > 0; round++ {
		order := slices.Clone(targets)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, wl := range cfg.Workloads {
			for _, t := range order {
				if err := ctx.Err(); err != nil {
					return rep, err
				}
				ph, err := measureMQTT(ctx, cfg, t, pki, wl, round, cfg.Duration, true)
				if err != nil {
					return rep, err
				}
				progress("round %d %-9s %-9s %9.0f %s  server CPU %6.1f µs  client CPU %6.1f µs  p50 %s  other load %.2f cores  errors %d",
					round, wl, t.name, ph.Rate, ph.Unit, ph.ServerCPUus, ph.ClientCPUus, ph.p50(), ph.OtherCores, ph.Errors)
				if ph.Errors > 0 {
					progress("  first error: %s", ph.FirstError)
				}
				rep.Phases = append(rep.Phases, ph)
			}
		}
	}

	if cfg.Clients > 0 {
		for _, t := range targets {
			h, err := runHold(ctx, cfg, t, pki, wardenAPI)
			if h != nil {
				rep.Holds = append(rep.Holds, *h)
			}
			if err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// startMosquitto writes a Mosquitto 2 config with one TLS listener on a free
// loopback port (client certificates required, from the bench CA) and
// starts it.
func startMosquitto(cfg *mqttConfig, pki *benchPKI, work string) (*mqttTarget, error) {
	if out, err := exec.Command(cfg.Mosquitto, "-h").CombinedOutput(); len(out) > 0 {
		line, _, _ := strings.Cut(string(out), "\n")
		cfg.MosquittoVer = strings.TrimSpace(line)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w (apt-get install mosquitto)", cfg.Mosquitto, err)
	}
	dir := filepath.Join(work, "mosquitto")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	caFile, certFile, keyFile, err := pki.writeServerFiles(dir)
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	conf := mosquittoConfig(port, caFile, certFile, keyFile)
	confFile := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	progress("starting %s -c %s (TLS, require_certificate, port %s)", cfg.Mosquitto, confFile, port)
	c, err := startChild("mosquitto", cfg.Mosquitto, []string{"-c", confFile}, filepath.Join(work, "mosquitto.log"))
	if err != nil {
		return nil, err
	}
	t := &mqttTarget{name: "mosquitto", child: c, addr: addr, roots: x509.NewCertPool()}
	t.roots.AddCert(pki.ca)
	if err := c.waitListening(addr, 15*time.Second); err != nil {
		return t, err
	}
	return t, nil
}

// mosquittoConfig is the config of the Mosquitto the bench compares with:
// TLS with a required client certificate from the bench CA, anonymous (the
// certificate is the authentication; Mosquitto checks no ACL), no
// persistence, limits high enough not to be the bottleneck.
func mosquittoConfig(port, caFile, certFile, keyFile string) string {
	// Started as root, Mosquitto drops to user "mosquitto", which cannot
	// read the key in the work dir; "user <self>" keeps it as it is.
	self := "root"
	if u, err := user.Current(); err == nil {
		self = u.Username
	}
	return strings.Join([]string{
		"# written by warden-bench mqtt",
		"user " + self,
		"per_listener_settings false",
		"allow_anonymous true",
		"persistence false",
		"log_dest stderr",
		"log_type error",
		"log_type warning",
		"max_connections -1",
		"max_inflight_messages 20",
		"max_queued_messages 10000",
		"set_tcp_nodelay true",
		"listener " + port + " 127.0.0.1",
		"cafile " + caFile,
		"certfile " + certFile,
		"keyfile " + keyFile,
		"require_certificate true",
		"",
	}, "\n")
}

// startWardenMQTT starts `warden serve` with its device endpoint on a free
// port, trusts `warden ca`, and registers the bench CA, every device
// certificate and the bench policy through the API.
func startWardenMQTT(ctx context.Context, cfg *mqttConfig, pki *benchPKI, work string) (*mqttTarget, *iot.Client, error) {
	if cfg.Warden == "" {
		cfg.Warden = filepath.Join(work, "warden")
		progress("building warden: go build -o %s github.com/warden-iot/warden/cmd/warden", cfg.Warden)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", cfg.Warden, "github.com/warden-iot/warden/cmd/warden")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, nil, fmt.Errorf("build warden (run from inside the module, or pass --warden): %w", err)
		}
	} else if abs, err := filepath.Abs(cfg.Warden); err == nil {
		cfg.Warden = abs
	}
	out, err := exec.Command(cfg.Warden, "version").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("%s version: %w", cfg.Warden, err)
	}
	cfg.WardenVersion = strings.TrimSpace(string(out))
	dataDir := filepath.Join(work, "data")
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	mqttAddr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	args := []string{"serve", "--data-dir", dataDir, "--listen", apiAddr, "--mqtt-listen", mqttAddr, "--log-level", cfg.LogLevel}
	if n := cfg.Clients + 256; n > 4096 {
		// Its default connection limit is at most 4096; the hold test
		// keeps cfg.Clients connected (Mosquitto: max_connections -1).
		args = append(args, "--max-connections", fmt.Sprint(n))
	}
	progress("starting %s %s", cfg.Warden, strings.Join(args, " "))
	c, err := startChild("warden", cfg.Warden, args, filepath.Join(work, "warden.log"))
	if err != nil {
		return nil, nil, err
	}
	t := &mqttTarget{name: "warden", child: c, addr: mqttAddr}
	if err := c.waitOutput("AWS_SECRET_ACCESS_KEY=", 30*time.Second); err != nil {
		return t, nil, err
	}
	key, err := parseCreds(c.out.String())
	if err != nil {
		return t, nil, err
	}
	if err := c.waitListening(apiAddr, 30*time.Second); err != nil {
		return t, nil, err
	}
	if err := c.waitListening(mqttAddr, 30*time.Second); err != nil {
		return t, nil, err
	}
	caCmd := exec.CommandContext(ctx, cfg.Warden, "ca", "--data-dir", dataDir)
	if os.Getenv("WARDEN_MASTER_KEY") == "" {
		caCmd.Env = append(os.Environ(), "WARDEN_MASTER_KEY="+benchMasterKey) // the key serve was started with
	}
	caCmd.Stderr = os.Stderr
	caPEM, err := caCmd.Output()
	if err != nil {
		return t, nil, fmt.Errorf("warden ca --data-dir %s: %w", dataDir, err)
	}
	t.roots = x509.NewCertPool()
	if !t.roots.AppendCertsFromPEM(caPEM) {
		return t, nil, fmt.Errorf("warden ca printed no certificate: %q", caPEM)
	}
	api := newClient(apiAddr, key, 16)
	progress("registering the bench CA, %d device certificates and policy %s in warden", len(pki.devices), benchPolicyName)
	t0 := time.Now()
	if _, err := pki.registerInWarden(ctx, api, 8); err != nil {
		return t, nil, fmt.Errorf("register in warden: %w\n%s", err, c.diagnose())
	}
	progress("registered in %.1fs", time.Since(t0).Seconds())
	return t, api, nil
}

// mqttPhase is one measured run of one workload on one broker.
type mqttPhase struct {
	Round       int      `json:"round"`
	Workload    string   `json:"workload"`
	Target      string   `json:"target"`
	Count       int64    `json:"count"` // connects, or messages delivered
	Sent        int64    `json:"sent,omitempty"`
	Lost        int64    `json:"lost,omitempty"`
	Errors      int64    `json:"errors"`
	FirstError  string   `json:"first_error,omitempty"`
	Seconds     float64  `json:"seconds"`
	Rate        float64  `json:"rate"`
	Unit        string   `json:"unit"`
	P50Ms       float64  `json:"connect_p50_ms,omitempty"`
	P99Ms       float64  `json:"connect_p99_ms,omitempty"`
	ServerCPUus float64  `json:"server_cpu_us_per_op"`
	ClientCPUus float64  `json:"client_cpu_us_per_op"`
	OtherCores  float64  `json:"other_load_cores"`
	PreLoad     float64  `json:"pre_load_cores"`
	Noisy       bool     `json:"noisy"`
	TopOthers   []string `json:"top_other_processes,omitempty"`
}

func (p mqttPhase) p50() string {
	if p.Workload != wlConnect {
		return "-"
	}
	return fmt.Sprintf("%.2f ms", p.P50Ms)
}

// flowSpecOf is the shape of a publish workload.
func flowSpecOf(cfg *mqttConfig, wl string) flowSpec {
	s := flowSpec{publishers: cfg.Publishers, subscribers: 1, qos: 0, inflight: 1, window: cfg.Window, payload: cfg.Payload}
	if wl == wlFanOutQ0 || wl == wlFanOutQ1 {
		s.publishers, s.subscribers = 1, cfg.Subscribers
	}
	if wl == wlFanInQ1 || wl == wlFanOutQ1 {
		s.qos, s.inflight = 1, cfg.Inflight
	}
	return s
}

func measureMQTT(ctx context.Context, cfg *mqttConfig, t *mqttTarget, pki *benchPKI, wl string, round int, d time.Duration, quiet bool) (mqttPhase, error) {
	ph := mqttPhase{Round: round, Workload: wl, Target: t.name}
	if quiet && cfg.Quiet > 0 {
		load, err := waitQuiet(ctx, cfg.Quiet, cfg.QuietWait, cfg.ClockTicks)
		if err != nil {
			return ph, err
		}
		ph.PreLoad = load
	}
	before, err := markCPU(t.child.pid())
	if err != nil {
		return ph, fmt.Errorf("%s CPU: %w\n%s", t.name, err, t.child.diagnose())
	}
	var elapsed time.Duration
	if wl == wlConnect {
		res := runConnectLoad(ctx, t, pki, cfg.ConnectWorkers, d)
		ph.Count, ph.Errors, ph.FirstError, elapsed = res.connects, res.errors, res.firstErr, res.elapsed
		ph.P50Ms, ph.P99Ms = ms(percentile(res.lat, 50)), ms(percentile(res.lat, 99))
		ph.Unit = "connects/s"
	} else {
		// Client setup is outside the measured span, but inside the CPU
		// counters: measure CPU across the publishing only.
		id := fmt.Sprintf("r%d-%s", round, wl)
		res, err := runFlow(ctx, t, pki, flowSpecOf(cfg, wl), d, id, func() {
			if m, err := markCPU(t.child.pid()); err == nil {
				before = m
			}
		})
		if err != nil {
			return ph, fmt.Errorf("%s on %s: %w\n%s", wl, t.name, err, t.child.diagnose())
		}
		ph.Count, ph.Sent, ph.Lost, ph.Errors, ph.FirstError, elapsed = res.delivered, res.sent, res.lost, res.errors, res.firstErr, res.elapsed
		ph.Unit = "msgs/s"
	}
	after, err := markCPU(t.child.pid())
	if err != nil {
		return ph, fmt.Errorf("%s CPU: %w\n%s", t.name, err, t.child.diagnose())
	}
	ph.Seconds = elapsed.Seconds()
	ph.Rate = float64(ph.Count) / ph.Seconds
	srvS, cliS := before.spent(after, cfg.ClockTicks)
	ph.OtherCores = before.otherCores(after, cfg.ClockTicks, ph.Seconds, srvS+cliS)
	ph.Noisy = cfg.Quiet > 0 && ph.OtherCores > cfg.Quiet
	ph.TopOthers = topOthers(before.procs, after.procs, map[int]bool{os.Getpid(): true, t.child.pid(): true}, cfg.ClockTicks, ph.Seconds, 3)
	if ph.Count > 0 {
		ph.ServerCPUus = srvS * 1e6 / float64(ph.Count)
		ph.ClientCPUus = cliS * 1e6 / float64(ph.Count)
	}
	if ph.Count == 0 && ph.Errors > 0 {
		return ph, fmt.Errorf("%s on %s: nothing succeeded, first error: %s\n%s", wl, t.name, ph.FirstError, t.child.diagnose())
	}
	return ph, nil
}

// holdResult is the hold test on one broker: many idle connected clients.
type holdResult struct {
	Target      string    `json:"target"`
	Clients     int       `json:"clients"`
	ConnectS    float64   `json:"connect_all_s"`
	RSSMiB      float64   `json:"rss_mib"`
	PeakRSSMiB  float64   `json:"peak_rss_mib"`
	Trials      int       `json:"trials,omitempty"`
	CutoffMs    []float64 `json:"cutoff_ms,omitempty"`     // UpdateCertificate sent → client disconnected
	AfterAPIMs  []float64 `json:"after_api_ms,omitempty"`  // UpdateCertificate answered → client disconnected
	APIMs       []float64 `json:"api_ms,omitempty"`        // UpdateCertificate round trip
	P50Ms       float64   `json:"cutoff_p50_ms,omitempty"` // of CutoffMs
	P99Ms       float64   `json:"cutoff_p99_ms,omitempty"`
	MaxMs       float64   `json:"cutoff_max_ms,omitempty"`
	NotCut      int       `json:"not_cut_within_5s,omitempty"`
	Collateral  int       `json:"other_clients_disconnected"`
	FirstFailed string    `json:"first_failure,omitempty"`
}

// holdFirstDevice is the first device of the hold test: the devices before
// it are the phases'. A session a phase left behind (a broker that stalled)
// then shares no certificate with the clients whose certificates the hold
// test deactivates.
func holdFirstDevice(cfg *mqttConfig) int {
	return max(cfg.ConnectWorkers, cfg.Publishers+1, cfg.Subscribers+1)
}

// runHold connects cfg.Clients devices to t, reads the broker's RSS, and on
// Warden deactivates cfg.Trials certificates one by one, timing how long
// each client takes to be cut off.
func runHold(ctx context.Context, cfg *mqttConfig, t *mqttTarget, pki *benchPKI, api *iot.Client) (*holdResult, error) {
	h := &holdResult{Target: t.name, Clients: cfg.Clients}
	progress("hold: connecting %d clients to %s, %d at a time", cfg.Clients, t.name, cfg.Parallel)
	t0 := time.Now()
	held, err := holdClients(ctx, t, pki, holdFirstDevice(cfg), cfg.Clients, cfg.Parallel, max(1000, cfg.Clients/10))
	if err != nil {
		return nil, fmt.Errorf("hold on %s: %w\n%s", t.name, err, t.child.diagnose())
	}
	defer releaseClients(held)
	h.ConnectS = time.Since(t0).Seconds()
	progress("hold: %d clients connected to %s in %.1fs; idle 2s", cfg.Clients, t.name, h.ConnectS)
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return h, ctx.Err()
	}
	rss, hwm, err := procMemKiB(t.child.pid())
	if err != nil {
		return h, err
	}
	h.RSSMiB, h.PeakRSSMiB = kib(rss), kib(hwm)
	progress("hold: %s RSS %.1f MiB (peak %.1f MiB) with %d clients", t.name, h.RSSMiB, h.PeakRSSMiB, cfg.Clients)
	if t.name != "warden" || cfg.Trials == 0 {
		return h, nil
	}
	h.Trials = cfg.Trials
	cut := map[int]bool{}
	for k := range cfg.Trials {
		i := k * cfg.Clients / cfg.Trials
		hc := held[i]
		cut[i] = true
		t0 := time.Now()
		_, err := api.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(hc.dev.id), NewStatus: types.CertificateStatusInactive})
		t1 := time.Now()
		if err != nil {
			return h, fmt.Errorf("UpdateCertificate %s: %w", hc.dev.id, err)
		}
		if err := hc.waitGone(5 * time.Second); err != nil {
			h.NotCut++
			if h.FirstFailed == "" {
				h.FirstFailed = fmt.Sprintf("client bench-hold-%d still connected 5 s after its certificate was made INACTIVE", i)
			}
			h.CutoffMs = append(h.CutoffMs, ms(time.Since(t0)))
			continue
		}
		t2 := time.Now()
		h.CutoffMs = append(h.CutoffMs, ms(t2.Sub(t0)))
		h.AfterAPIMs = append(h.AfterAPIMs, ms(t2.Sub(t1)))
		h.APIMs = append(h.APIMs, ms(t1.Sub(t0)))
	}
	for i, hc := range held {
		if !cut[i] && hc.gone() {
			h.Collateral++
		}
	}
	sorted := slices.Clone(h.CutoffMs)
	slices.Sort(sorted)
	h.P50Ms, h.P99Ms, h.MaxMs = pctF(sorted, 50), pctF(sorted, 99), sorted[len(sorted)-1]
	progress("hold: cut-off p50 %.1f ms, p99 %.1f ms, max %.1f ms; %d not cut within 5 s; %d other clients disconnected",
		h.P50Ms, h.P99Ms, h.MaxMs, h.NotCut, h.Collateral)
	return h, nil
}

// pctF is the nearest-rank percentile of sorted values.
func pctF(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func sortDurations(d []time.Duration) []time.Duration {
	slices.Sort(d)
	return d
}

// mqttReport is the run's result.
type mqttReport struct {
	Config  *mqttConfig   `json:"config"`
	Phases  []mqttPhase   `json:"phases"`
	Summary []mqttRatio   `json:"summary"`
	Holds   []holdResult  `json:"hold"`
	Checks  []targetCheck `json:"checks"`
	AllPass bool          `json:"all_pass"`
}

// mqttRatio compares Warden with Mosquitto on one workload.
type mqttRatio struct {
	Workload       string    `json:"workload"`
	Unit           string    `json:"unit"`
	Mosquitto      float64   `json:"mosquitto_median"`
	Warden         float64   `json:"warden_median"`
	Ratios         []float64 `json:"ratios"`
	Ratio          float64   `json:"ratio_median"`
	Target         float64   `json:"target_ratio"`
	Pass           bool      `json:"pass"`
	MosquittoCPUus float64   `json:"mosquitto_cpu_us_per_op_median"`
	WardenCPUus    float64   `json:"warden_cpu_us_per_op_median"`
	NoisyPhases    int       `json:"noisy_phases"`
	Errors         int64     `json:"errors"` // failed connects or publishes, both brokers, all rounds
}

// targetCheck is one target of the issue and whether the run met it.
type targetCheck struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Target string `json:"target"`
	Pass   bool   `json:"pass"`
}

func (r *mqttReport) summarize() {
	r.Summary, r.Checks = nil, nil
	r.AllPass = true
	both := slices.Contains(r.Config.Targets, "mosquitto") && slices.Contains(r.Config.Targets, "warden")
	for _, wl := range r.Config.Workloads {
		s := mqttRatio{Workload: wl, Target: targetMQTTFlowRatio}
		if wl == wlConnect {
			s.Target = targetMQTTConnectRatio
		}
		var m, w, mc, wc []float64
		byRound := map[int]map[string]float64{}
		for _, p := range r.Phases {
			if p.Workload != wl {
				continue
			}
			s.Unit = p.Unit
			s.Errors += p.Errors
			if p.Noisy {
				s.NoisyPhases++
			}
			if byRound[p.Round] == nil {
				byRound[p.Round] = map[string]float64{}
			}
			byRound[p.Round][p.Target] = p.Rate
			if p.Target == "mosquitto" {
				m, mc = append(m, p.Rate), append(mc, p.ServerCPUus)
			} else {
				w, wc = append(w, p.Rate), append(wc, p.ServerCPUus)
			}
		}
		for round := 1; round <= r.Config.Rounds; round++ {
			mr, okM := byRound[round]["mosquitto"]
			wr, okW := byRound[round]["warden"]
			if okM && okW && mr > 0 {
				s.Ratios = append(s.Ratios, wr/mr)
			}
		}
		s.Mosquitto, s.Warden, s.Ratio = median(m), median(w), median(s.Ratios)
		s.MosquittoCPUus, s.WardenCPUus = median(mc), median(wc)
		s.Pass = len(s.Ratios) > 0 && s.Ratio >= s.Target && s.Errors == 0
		r.Summary = append(r.Summary, s)
		if both {
			r.Checks = append(r.Checks, targetCheck{Name: wl + " Warden/Mosquitto", Value: fmt.Sprintf("%.3f×", s.Ratio),
				Target: fmt.Sprintf("≥ %.1f×", s.Target), Pass: s.Pass})
		}
	}
	for _, h := range r.Holds {
		if h.Target != "warden" {
			continue
		}
		r.Checks = append(r.Checks, targetCheck{Name: fmt.Sprintf("Warden RSS, %d clients connected", h.Clients),
			Value: fmt.Sprintf("%.1f MiB", h.RSSMiB), Target: fmt.Sprintf("< %.0f MiB", targetHoldRSSMiB), Pass: h.RSSMiB < targetHoldRSSMiB})
		if h.Trials > 0 {
			r.Checks = append(r.Checks, targetCheck{Name: fmt.Sprintf("deactivation → disconnect p99 (%d trials, %d clients)", h.Trials, h.Clients),
				Value: fmt.Sprintf("%.1f ms", h.P99Ms), Target: fmt.Sprintf("≤ %.0f ms", targetCutoffP99Ms),
				Pass: h.P99Ms <= targetCutoffP99Ms && h.NotCut == 0 && h.Collateral == 0})
		}
	}
	for _, c := range r.Checks {
		r.AllPass = r.AllPass && c.Pass
	}
}

func (r *mqttReport) print(out io.Writer) {
	c := r.Config
	fmt.Fprintf(out, "warden-bench mqtt: %s\n", strings.Join(c.Targets, " vs "))
	if c.Warden != "" {
		fmt.Fprintf(out, "  warden %s (%s), --log-level %s\n", c.Warden, c.WardenVersion, c.LogLevel)
	}
	if c.MosquittoVer != "" {
		fmt.Fprintf(out, "  %s (%s): TLS, require_certificate, allow_anonymous, no persistence\n", c.Mosquitto, c.MosquittoVer)
	}
	fmt.Fprintf(out, "  %d CPUs (bench clients share them), %s, open files %d; %d rounds × %gs per phase, warm-up %gs\n",
		c.CPUs, c.GoVersion, c.NoFile, c.Rounds, c.DurationS, c.WarmupS)
	fmt.Fprintf(out, "  clients: paho.golang MQTT 5 over TLS (full handshake each, ECDSA P-256 device certificates from the bench CA);\n")
	fmt.Fprintf(out, "  connect: %d concurrent; fan-in: %d publishers → 1 subscriber; fan-out: 1 publisher → %d subscribers;\n",
		c.ConnectWorkers, c.Publishers, c.Subscribers)
	fmt.Fprintf(out, "  %d-byte payloads, QoS 1 with %d publishes in flight per publisher, window %d messages; rates are deliveries/s\n",
		c.Payload, c.Inflight, c.Window)
	fmt.Fprintf(out, "  Warden enforces a policy attached to every device certificate (registered under the bench CA through the API)\n")
	fmt.Fprintf(out, "  work dir: %s\n\n", c.WorkDir)

	if len(r.Phases) > 0 {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "round\tworkload\tbroker\tcount\terrors\tlost\trate\tunit\tserver CPU µs/op\tclient CPU µs/op\tother load\t")
		for _, p := range r.Phases {
			mark := ""
			if p.Noisy {
				mark = " *"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%.0f\t%s\t%.1f\t%.1f\t%.2f%s\t\n",
				p.Round, p.Workload, p.Target, p.Count, p.Errors, p.Lost, p.Rate, p.Unit, p.ServerCPUus, p.ClientCPUus, p.OtherCores, mark)
		}
		tw.Flush()
		for _, p := range r.Phases {
			if p.Errors > 0 {
				fmt.Fprintf(out, "round %d %s %s: %d errors, first: %s\n", p.Round, p.Workload, p.Target, p.Errors, p.FirstError)
			}
		}
		fmt.Fprintf(out, "  (* other processes used more than %.2f cores during the phase)\n", c.Quiet)
		fmt.Fprintf(out, "\nSUMMARY (medians over %d rounds)\n", c.Rounds)
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "workload\tmosquitto\twarden\tunit\twarden/mosquitto\tper round\ttarget\tresult\tCPU µs/op mosquitto\twarden\t")
		for _, s := range r.Summary {
			var rr []string
			for _, x := range s.Ratios {
				rr = append(rr, fmt.Sprintf("%.3f", x))
			}
			res := passFail(s.Pass)
			if s.Errors > 0 {
				res += fmt.Sprintf(" (%d errors)", s.Errors)
			}
			if s.NoisyPhases > 0 {
				res += fmt.Sprintf(" (%d noisy)", s.NoisyPhases)
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%s\t%.3f×\t%s\t≥ %.1f×\t%s\t%.1f\t%.1f\t\n", s.Workload, s.Mosquitto, s.Warden, s.Unit,
				s.Ratio, strings.Join(rr, " "), s.Target, res, s.MosquittoCPUus, s.WardenCPUus)
		}
		tw.Flush()
	}
	for _, h := range r.Holds {
		fmt.Fprintf(out, "\nhold: %d clients connected to %s in %.1fs; RSS %.1f MiB (peak %.1f MiB)\n",
			h.Clients, h.Target, h.ConnectS, h.RSSMiB, h.PeakRSSMiB)
		if h.Trials > 0 {
			api := slices.Clone(h.APIMs)
			slices.Sort(api)
			after := slices.Clone(h.AfterAPIMs)
			slices.Sort(after)
			fmt.Fprintf(out, "  %d certificates deactivated one by one (UpdateCertificate INACTIVE), time until the client was disconnected:\n", h.Trials)
			fmt.Fprintf(out, "    from the request: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", h.P50Ms, h.P99Ms, h.MaxMs)
			fmt.Fprintf(out, "    from the response: p50 %.1f ms, p99 %.1f ms (the API call itself: p50 %.1f ms, p99 %.1f ms)\n",
				pctF(after, 50), pctF(after, 99), pctF(api, 50), pctF(api, 99))
			fmt.Fprintf(out, "    not disconnected within 5 s: %d; other clients disconnected meanwhile: %d\n", h.NotCut, h.Collateral)
			if h.FirstFailed != "" {
				fmt.Fprintf(out, "    first: %s\n", h.FirstFailed)
			}
		}
	}
	if len(r.Checks) > 0 {
		fmt.Fprintln(out, "\nTARGETS (issue 15)")
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, c := range r.Checks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", c.Name, c.Value, c.Target, passFail(c.Pass))
		}
		tw.Flush()
		fmt.Fprintf(out, "overall: %s\n", passFail(r.AllPass))
	}
}
