// Command warden-bench measures Warden over loopback HTTP with the AWS SDK
// for Go v2 IoT client, against a "ceiling": a trivial net/http server that
// answers the same calls with fixed bodies and checks nothing. Both servers
// run as child processes; phases alternate between them so that drift in the
// machine affects both alike. It reports requests/s, latency, server and
// client CPU per request, Warden's startup time on an existing data dir and
// its idle RSS, and checks them against the targets.
//
//	go run ./cmd/warden-bench --duration 5s --rounds 3 --concurrency 8 [--sync full] [--json]
//
// With --database postgres://user@host:5432/db Warden keeps its store in a
// fresh schema of that database (dropped at the end) instead of SQLite;
// run the bench once with and once without it to compare the two stores.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// Targets.
const (
	targetDescribeRatio      = 0.70
	targetCreateRatio        = 0.60
	targetDescribeThingRatio = 0.70
	targetCreateThingRatio   = 0.60
	targetStartupMs          = 200.0
	targetIdleRSSMiB         = 60.0
)

type config struct {
	Warden         string        `json:"warden"`
	Sync           string        `json:"sync"`
	Database       string        `json:"database,omitempty"` // redacted; "" for SQLite
	DatabaseSchema string        `json:"database_schema,omitempty"`
	Duration       time.Duration `json:"-"`
	Warmup         time.Duration `json:"-"`
	Idle           time.Duration `json:"-"`
	DurationS      float64       `json:"duration_s"`
	WarmupS        float64       `json:"warmup_s"`
	IdleS          float64       `json:"idle_s"`
	Rounds         int           `json:"rounds"`
	Concurrency    int           `json:"concurrency"`
	Workloads      []string      `json:"workloads"`
	StartupRuns    int           `json:"startup_runs"`
	StartupActions int           `json:"startup_actions"`
	LogLevel       string        `json:"warden_log_level"`
	DiscardLog     bool          `json:"warden_log_discarded"`
	JSON           bool          `json:"-"`
	Check          bool          `json:"-"`
	Keep           bool          `json:"-"`
	Perf           string        `json:"perf_dir,omitempty"`
	TmpDir         string        `json:"-"`
	Retries        int           `json:"retries"`
	Quiet          float64       `json:"quiet_cores"`
	QuietWait      time.Duration `json:"-"`
	QuietWaitS     float64       `json:"quiet_wait_s"`
	WorkDir        string        `json:"work_dir"`
	CPUs           int           `json:"cpus"`
	ClockTicks     int64         `json:"clk_tck"`
	GoVersion      string        `json:"go_version"`
	WardenVersion  string        `json:"warden_version"`

	databaseURL string   // --database as given
	db          *benchDB // the run's schema, when databaseURL is set
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "mqtt" {
		os.Exit(runMQTTCommand(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "detect" {
		os.Exit(runDetectCommand(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "ceiling-server" {
		if err := runCeilingServer(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "ceiling-server:", err)
			os.Exit(1)
		}
		return
	}
	var cfg config
	var workloads string
	flag.StringVar(&cfg.Warden, "warden", "", "path of the warden binary (default: go build ./cmd/warden into a temporary dir)")
	flag.StringVar(&cfg.Sync, "sync", "normal", "passed to warden serve --sync: normal (its default) or full")
	flag.StringVar(&cfg.databaseURL, "database", "", "PostgreSQL URL (postgres://user@host:5432/db): run Warden on a fresh schema of it\n"+
		"(created, passed as warden serve --database with search_path, dropped at the end) instead of SQLite")
	flag.DurationVar(&cfg.Duration, "duration", 5*time.Second, "length of each measured phase")
	flag.DurationVar(&cfg.Warmup, "warmup", time.Second, "unmeasured warm-up of each server and workload before round 1")
	flag.IntVar(&cfg.Rounds, "rounds", 3, "rounds; each runs ceiling then Warden for every workload")
	flag.IntVar(&cfg.Concurrency, "concurrency", 8, "concurrent client workers")
	flag.StringVar(&workloads, "workloads", strings.Join([]string{wlDescribe, wlCreateDelete, wlDescribeThing, wlCreateThing}, ","),
		"comma list of the workloads to run: describe (DescribeMitigationAction), create-delete (CreateMitigationAction/DeleteMitigationAction),\n"+
			"describe-thing (DescribeThing of a thing with 3 attributes), create-thing (CreateThing of a fresh name/DeleteThing)")
	flag.IntVar(&cfg.StartupRuns, "startup-runs", 5, "restarts of Warden on the existing data dir to time")
	flag.IntVar(&cfg.StartupActions, "startup-actions", 50, "mitigation actions in the data dir for the startup test (≤ 99)")
	flag.DurationVar(&cfg.Idle, "idle", 2*time.Second, "idle time after the load before reading Warden's RSS")
	flag.StringVar(&cfg.LogLevel, "warden-log-level", "info", "passed to warden serve --log-level (info logs a line per request, as deployed)")
	flag.BoolVar(&cfg.DiscardLog, "discard-log", false, "send Warden's log to /dev/null instead of a file in the work dir (no page-cache writeback of the log)")
	flag.BoolVar(&cfg.JSON, "json", false, "print the results as JSON on stdout (progress still goes to stderr)")
	flag.BoolVar(&cfg.Check, "check", false, "exit 1 if a target is missed")
	flag.BoolVar(&cfg.Keep, "keep", false, "keep the work dir (data dir, server logs)")
	flag.Float64Var(&cfg.Quiet, "quiet", 0.25, "before each phase, wait until other processes use at most this many cores (0: don't wait)")
	flag.DurationVar(&cfg.QuietWait, "quiet-wait", 60*time.Second, "longest wait for --quiet before a phase runs anyway")
	flag.IntVar(&cfg.Retries, "retries", 2, "times a ceiling/Warden pair is run again when other processes were busy during it (see --quiet)")
	flag.StringVar(&cfg.TmpDir, "tmpdir", "", "parent of the work dir holding Warden's data dir (default $TMPDIR or /tmp); its filesystem decides what an fsync costs")
	flag.StringVar(&cfg.Perf, "perf", "", "record perf record -g of the Warden process during each Warden phase into this dir (perturbs the numbers)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: warden-bench [flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if cfg.Sync != "full" && cfg.Sync != "normal" {
		fmt.Fprintln(os.Stderr, "warden-bench: --sync must be full or normal")
		os.Exit(2)
	}
	if cfg.databaseURL != "" {
		if _, err := schemaURL(cfg.databaseURL, "x"); err != nil {
			fmt.Fprintln(os.Stderr, "warden-bench:", err)
			os.Exit(2)
		}
		cfg.Database = redactURL(cfg.databaseURL)
	}
	if cfg.Rounds < 1 || cfg.Concurrency < 1 || cfg.Duration <= 0 || cfg.StartupActions > 99 {
		fmt.Fprintln(os.Stderr, "warden-bench: need --rounds ≥ 1, --concurrency ≥ 1, --duration > 0, --startup-actions ≤ 99")
		os.Exit(2)
	}
	wls, err := parseWorkloads(workloads)
	if err != nil {
		fmt.Fprintln(os.Stderr, "warden-bench: --workloads:", err)
		os.Exit(2)
	}
	cfg.Workloads = wls
	cfg.DurationS, cfg.WarmupS, cfg.IdleS = cfg.Duration.Seconds(), cfg.Warmup.Seconds(), cfg.Idle.Seconds()
	cfg.QuietWaitS = cfg.QuietWait.Seconds()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rep, err := run(ctx, &cfg)
	stop()
	if rep != nil {
		writeReport(rep, cfg.JSON)
	}
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "warden-bench:", err)
		os.Exit(1)
	case rep.Errors > 0:
		fmt.Fprintf(os.Stderr, "warden-bench: %d requests failed during the measured phases\n", rep.Errors)
		os.Exit(1)
	case cfg.Check && !rep.AllPass:
		os.Exit(1)
	}
}

// writeReport prints a finished run's report as a table, or as indented
// JSON with asJSON.
func writeReport(rep interface{ print(io.Writer) }, asJSON bool) {
	if !asJSON {
		rep.print(os.Stdout)
		return
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "# "+format+"\n", args...)
}

// server is a running child the bench loads.
type server struct {
	target string // "ceiling" or "warden"
	child  *child
	addr   string
	client *iot.Client
}

func run(ctx context.Context, cfg *config) (*report, error) {
	work, remove, err := newWorkDir(cfg.TmpDir, "warden-bench-", cfg.Keep)
	if err != nil {
		return nil, err
	}
	defer remove()
	cfg.WorkDir = work
	cfg.CPUs = runtime.NumCPU()
	cfg.ClockTicks = clockTicks()
	cfg.GoVersion = runtime.Version()
	if cfg.Perf != "" {
		if err := os.MkdirAll(cfg.Perf, 0o755); err != nil {
			return nil, err
		}
		if _, err := exec.LookPath("perf"); err != nil {
			return nil, fmt.Errorf("--perf: %w", err)
		}
	}

	if cfg.Warden == "" {
		cfg.Warden = filepath.Join(work, "warden")
		progress("building warden: go build -o %s github.com/warden-iot/warden/cmd/warden", cfg.Warden)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", cfg.Warden, "github.com/warden-iot/warden/cmd/warden")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("build warden (run from inside the module, or pass --warden): %w", err)
		}
	} else if abs, err := filepath.Abs(cfg.Warden); err == nil {
		cfg.Warden = abs
	}
	if out, err := exec.Command(cfg.Warden, "version").Output(); err == nil {
		cfg.WardenVersion = strings.TrimSpace(string(out))
	} else {
		return nil, fmt.Errorf("%s version: %w", cfg.Warden, err)
	}

	// The ceiling: this binary again, as a child.
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ceilChild, err := startChild("ceiling-server", self, []string{"ceiling-server", "--listen", "127.0.0.1:0"}, filepath.Join(work, "ceiling.log"))
	if err != nil {
		return nil, err
	}
	defer ceilChild.stop(5 * time.Second)
	if err := ceilChild.waitOutput("\n", 10*time.Second); err != nil {
		return nil, err
	}
	ceilAddr, ok := strings.CutPrefix(strings.TrimSpace(ceilChild.out.String()), "listening ")
	if !ok {
		return nil, fmt.Errorf("ceiling-server printed %q", ceilChild.out.String())
	}
	// The ceiling never checks signatures; any key does.
	ceil := &server{target: "ceiling", child: ceilChild, addr: ceilAddr,
		client: newClient(ceilAddr, creds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, cfg.Concurrency)}

	// Warden, on a fresh data dir (and a fresh schema with --database).
	if cfg.databaseURL != "" {
		db, err := openBenchDB(ctx, cfg.databaseURL)
		if err != nil {
			return nil, err
		}
		cfg.db, cfg.DatabaseSchema = db, db.schema
		progress("PostgreSQL: schema %s in %s", db.schema, cfg.Database)
		// Deferred before Warden's stop: runs after it.
		defer func() {
			if cfg.Keep {
				db.admin.Close()
				progress("kept schema %s (--keep); drop it with DROP SCHEMA %s CASCADE", db.schema, db.schema)
				return
			}
			if err := db.drop(); err != nil {
				progress("drop schema %s: %v", db.schema, err)
			}
		}()
	}
	dataDir := filepath.Join(work, "data")
	wAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	progress("starting %s %s", cfg.Warden, strings.Join(redactArgs(wardenArgs(cfg, dataDir, wAddr)), " "))
	wChild, err := startChild("warden", cfg.Warden, wardenArgs(cfg, dataDir, wAddr), wardenLog(cfg, "warden.log"))
	if err != nil {
		return nil, err
	}
	defer wChild.stop(15 * time.Second)
	if err := wChild.waitOutput("AWS_SECRET_ACCESS_KEY=", 30*time.Second); err != nil {
		return nil, err
	}
	key, err := parseCreds(wChild.out.String())
	if err != nil {
		return nil, err
	}
	if err := wChild.waitListening(wAddr, 30*time.Second); err != nil {
		return nil, err
	}
	ward := &server{target: "warden", child: wChild, addr: wAddr, client: newClient(wAddr, key, cfg.Concurrency)}
	if err := createAction(ctx, ward.client, describeActionName); err != nil {
		return nil, fmt.Errorf("create %s on warden: %w\n%s", describeActionName, err, wChild.diagnose())
	}
	if slices.Contains(cfg.Workloads, wlDescribeThing) {
		if err := createThing(ctx, ward.client, describeThingName, describeThingAttributes); err != nil {
			return nil, fmt.Errorf("create thing %s on warden: %w\n%s", describeThingName, err, wChild.diagnose())
		}
	}

	rep := &report{Config: cfg}
	workloads := cfg.Workloads
	servers := []*server{ceil, ward}
	if cfg.Warmup > 0 {
		progress("warm-up: %s per server and workload", cfg.Warmup)
		for _, wl := range workloads {
			for _, s := range servers {
				res, cleanup := runLoad(ctx, s.client, wl, cfg.Concurrency, cfg.Warmup)
				if err := cleanup(); err != nil {
					return nil, fmt.Errorf("warm-up %s on %s: %w", wl, s.target, err)
				}
				if res.errors > 0 {
					return nil, fmt.Errorf("warm-up %s on %s: %d errors, first: %s\n%s", wl, s.target, res.errors, res.firstErr, s.child.diagnose())
				}
			}
		}
	}
	for round := 1; round <= cfg.Rounds; round++ {
		for _, wl := range workloads {
			// A ceiling/Warden pair during which other processes were busy is
			// run again, up to --retries times; the last try is kept anyway.
			for attempt := 0; ; attempt++ {
				var pair []phase
				noisy := false
				for _, s := range servers {
					if err := ctx.Err(); err != nil {
						return rep, err
					}
					ph, err := measure(ctx, cfg, s, wl, round)
					if err != nil {
						return rep, err
					}
					db := ""
					if ph.DBCPUs > 0 {
						db = fmt.Sprintf(" + PostgreSQL %.1f", ph.DBCPUus)
					}
					progress("round %d %-13s %-7s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  server CPU %6.1f%s µs/req  client CPU %6.1f µs/req  other load %.2f cores (before %.2f, waited %.0fs)  errors %d",
						round, wl, s.target, ph.RPS, ph.P50Ms, ph.P99Ms, ph.ServerCPUus, db, ph.ClientCPUus, ph.OtherCores, ph.PreLoad, ph.WaitedS, ph.Errors)
					if ph.Noisy {
						progress("  busiest other processes (cores): %s", strings.Join(ph.TopOthers, ", "))
					}
					if ph.Errors > 0 {
						progress("  first error: %s", ph.FirstError)
					}
					pair = append(pair, ph)
					noisy = noisy || ph.Noisy
				}
				if noisy && attempt < cfg.Retries {
					progress("  noisy: discarding this pair and running it again (%d of %d retries)", attempt+1, cfg.Retries)
					rep.Discarded = append(rep.Discarded, pair...)
					continue
				}
				for _, ph := range pair {
					rep.Phases = append(rep.Phases, ph)
					rep.Errors += ph.Errors
				}
				break
			}
		}
	}

	// Idle RSS after the load.
	progress("idle %s, then reading warden's VmRSS", cfg.Idle)
	select {
	case <-time.After(cfg.Idle):
	case <-ctx.Done():
		return rep, ctx.Err()
	}
	rss, hwm, err := procMemKiB(wChild.pid())
	if err != nil {
		return rep, fmt.Errorf("warden RSS: %w", err)
	}
	crss, _, _ := procMemKiB(ceilChild.pid())
	rep.Memory = memoryResult{IdleRSSMiB: kib(rss), PeakRSSMiB: kib(hwm), CeilingRSSMiB: kib(crss),
		TargetMiB: targetIdleRSSMiB, Pass: kib(rss) < targetIdleRSSMiB}

	// Startup on the existing data dir.
	progress("creating %d actions for the startup test, stopping warden", cfg.StartupActions)
	for i := range cfg.StartupActions {
		if err := createAction(ctx, ward.client, fmt.Sprintf("bench-startup-%d", i)); err != nil {
			return rep, fmt.Errorf("create startup actions: %w", err)
		}
	}
	if err := wChild.stop(15 * time.Second); err != nil {
		return rep, err
	}
	st, err := measureStartup(ctx, cfg, dataDir, key, work)
	if err != nil {
		return rep, err
	}
	rep.Startup = st
	rep.summarize()
	return rep, nil
}

// wardenLog is the file Warden's stderr (its log) goes to, "" for /dev/null.
func wardenLog(cfg *config, name string) string {
	if cfg.DiscardLog {
		return ""
	}
	return filepath.Join(cfg.WorkDir, name)
}

func wardenArgs(cfg *config, dataDir, addr string) []string {
	args := []string{"serve", "--data-dir", dataDir, "--listen", addr, "--mqtt-listen", "127.0.0.1:0", "--sync", cfg.Sync, "--log-level", cfg.LogLevel}
	if cfg.db != nil {
		args = append(args, "--database", cfg.db.url)
	}
	return args
}

// redactArgs is args with the password of a --database URL hidden, for logs.
func redactArgs(args []string) []string {
	out := slices.Clone(args)
	for i := 1; i < len(out); i++ {
		if out[i-1] == "--database" {
			out[i] = redactURL(out[i])
		}
	}
	return out
}

var (
	reKeyID  = regexp.MustCompile(`export AWS_ACCESS_KEY_ID=(\S+)`)
	reSecret = regexp.MustCompile(`export AWS_SECRET_ACCESS_KEY=(\S+)`)
)

func parseCreds(out string) (creds, error) {
	id, secret := reKeyID.FindStringSubmatch(out), reSecret.FindStringSubmatch(out)
	if id == nil || secret == nil {
		return creds{}, fmt.Errorf("no export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY lines in warden's output:\n%s", out)
	}
	return creds{id[1], secret[1]}, nil
}

// phase is one measured run of one workload on one server.
type phase struct {
	Round       int                `json:"round"`
	Workload    string             `json:"workload"`
	Target      string             `json:"target"`
	Requests    int                `json:"requests"`
	Errors      int64              `json:"errors"`
	FirstError  string             `json:"first_error,omitempty"`
	Seconds     float64            `json:"seconds"`
	RPS         float64            `json:"rps"`
	P50Ms       float64            `json:"p50_ms"`
	P99Ms       float64            `json:"p99_ms"`
	ServerCPUus float64            `json:"server_cpu_us_per_req"`
	ClientCPUus float64            `json:"client_cpu_us_per_req"`
	ServerCPUs  float64            `json:"server_cpu_s"`
	DBCPUus     float64            `json:"db_cpu_us_per_req,omitempty"` // Warden's PostgreSQL backends, when on this machine
	DBCPUs      float64            `json:"db_cpu_s,omitempty"`
	ClientCPUs  float64            `json:"client_cpu_s"`
	OtherCores  float64            `json:"other_load_cores"` // CPU used by processes other than server and bench, in cores
	PreLoad     float64            `json:"pre_load_cores"`   // machine load just before the phase (servers idle)
	WaitedS     float64            `json:"waited_for_quiet_s"`
	Noisy       bool               `json:"noisy"` // other load above --quiet during the phase
	TopOthers   []string           `json:"top_other_processes,omitempty"`
	Ops         map[string]opStats `json:"ops"`
	PerfData    string             `json:"perf_data,omitempty"`
}

type opStats struct {
	Requests int     `json:"requests"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func measure(ctx context.Context, cfg *config, s *server, workload string, round int) (phase, error) {
	ph := phase{Round: round, Workload: workload, Target: s.target}
	if cfg.Quiet > 0 {
		t0 := time.Now()
		load, err := waitQuiet(ctx, cfg.Quiet, cfg.QuietWait, cfg.ClockTicks)
		if err != nil {
			return ph, err
		}
		ph.PreLoad, ph.WaitedS = load, time.Since(t0).Seconds()-quietSample.Seconds()
	}
	var perf *child
	if cfg.Perf != "" && s.target == "warden" {
		ph.PerfData = filepath.Join(cfg.Perf, fmt.Sprintf("warden-%s-sync%s-r%d.perf.data", workload, cfg.Sync, round))
		p, err := startChild("perf", "perf", []string{"record", "-F", "999", "-g", "-p", fmt.Sprint(s.child.pid()), "-o", ph.PerfData},
			ph.PerfData+".log")
		if err != nil {
			return ph, err
		}
		perf = p
		time.Sleep(300 * time.Millisecond) // let perf attach
	}
	before, err := markCPU(s.child.pid())
	if err != nil {
		return ph, fmt.Errorf("%s CPU: %w", s.target, err)
	}
	res, cleanup := runLoad(ctx, s.client, workload, cfg.Concurrency, cfg.Duration)
	after, err := markCPU(s.child.pid())
	if err != nil {
		return ph, fmt.Errorf("%s CPU: %w\n%s", s.target, err, s.child.diagnose())
	}
	skip := map[int]bool{os.Getpid(): true, s.child.pid(): true}
	if cfg.db != nil && s.target == "warden" {
		// Warden's work on PostgreSQL is partly the backends': count them
		// apart, not as other load.
		pids, err := cfg.db.backends(ctx)
		if err != nil {
			return ph, fmt.Errorf("list Warden's PostgreSQL backends: %w", err)
		}
		for _, pid := range pids {
			skip[pid] = true
			ph.DBCPUs += float64(procDelta(before.procs, after.procs, pid)) / float64(cfg.ClockTicks)
		}
	}
	ph.TopOthers = topOthers(before.procs, after.procs, skip, cfg.ClockTicks, res.elapsed.Seconds(), 3)
	if perf != nil {
		_ = perf.cmd.Process.Signal(os.Interrupt)
		select {
		case <-perf.done:
		case <-time.After(30 * time.Second):
			_ = perf.cmd.Process.Kill()
			<-perf.done
		}
	}
	if err := cleanup(); err != nil {
		return ph, fmt.Errorf("%s %s: %w", s.target, workload, err)
	}
	n := res.requests()
	ph.Requests, ph.Errors, ph.FirstError = n, res.errors, res.firstErr
	ph.Seconds = res.elapsed.Seconds()
	ph.RPS = float64(n) / ph.Seconds
	all := res.all()
	ph.P50Ms, ph.P99Ms = ms(percentile(all, 50)), ms(percentile(all, 99))
	ph.ServerCPUs, ph.ClientCPUs = before.spent(after, cfg.ClockTicks)
	ph.OtherCores = before.otherCores(after, cfg.ClockTicks, ph.Seconds, ph.ServerCPUs+ph.ClientCPUs+ph.DBCPUs)
	ph.Noisy = cfg.Quiet > 0 && ph.OtherCores > cfg.Quiet
	if n > 0 {
		ph.ServerCPUus = ph.ServerCPUs * 1e6 / float64(n)
		ph.ClientCPUus = ph.ClientCPUs * 1e6 / float64(n)
		ph.DBCPUus = ph.DBCPUs * 1e6 / float64(n)
	}
	ph.Ops = map[string]opStats{}
	for op, l := range res.latencies {
		ph.Ops[op] = opStats{Requests: len(l), P50Ms: ms(percentile(l, 50)), P99Ms: ms(percentile(l, 99))}
	}
	if n == 0 && res.errors > 0 {
		return ph, fmt.Errorf("%s %s: every request failed, first: %s\n%s", s.target, workload, res.firstErr, s.child.diagnose())
	}
	return ph, nil
}

type startupResult struct {
	RunsMs   []float64 `json:"runs_ms"`
	MedianMs float64   `json:"median_ms"`
	Actions  int       `json:"actions_in_data_dir"`
	TargetMs float64   `json:"target_ms"`
	Pass     bool      `json:"pass"`
}

// measureStartup times `warden serve` on the existing data dir from the
// moment the process is started until a DescribeMitigationAction succeeds.
func measureStartup(ctx context.Context, cfg *config, dataDir string, key creds, work string) (startupResult, error) {
	st := startupResult{Actions: cfg.StartupActions + 1, TargetMs: targetStartupMs}
	for i := range cfg.StartupRuns {
		addr, err := freeAddr()
		if err != nil {
			return st, err
		}
		cl := newClient(addr, key, 1)
		t0 := time.Now()
		c, err := startChild("warden (startup)", cfg.Warden, wardenArgs(cfg, dataDir, addr), wardenLog(cfg, fmt.Sprintf("startup-%d.log", i)))
		if err != nil {
			return st, err
		}
		var d time.Duration
		for {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := describe(cctx, cl, describeActionName)
			cancel()
			if err == nil {
				d = time.Since(t0)
				break
			}
			if c.exited() || ctx.Err() != nil || time.Since(t0) > 30*time.Second {
				_ = c.stop(5 * time.Second)
				return st, errors.Join(fmt.Errorf("startup run %d: no successful DescribeMitigationAction: %w", i+1, err),
					ctx.Err(), errors.New(c.diagnose()))
			}
			time.Sleep(time.Millisecond)
		}
		if err := c.stop(15 * time.Second); err != nil {
			return st, err
		}
		st.RunsMs = append(st.RunsMs, ms(d))
		progress("startup run %d: %.1f ms", i+1, ms(d))
	}
	st.MedianMs = median(st.RunsMs)
	st.Pass = st.MedianMs < targetStartupMs
	return st, nil
}

// quietSample is how long waitQuiet samples the load at a time.
const quietSample = 300 * time.Millisecond

// waitQuiet samples the machine's load until it is at most quiet cores or
// wait has passed, and returns the last sample.
func waitQuiet(ctx context.Context, quiet float64, wait time.Duration, ticks int64) (float64, error) {
	t0 := time.Now()
	for {
		load, err := sampleLoad(ctx, quietSample, ticks)
		if err != nil || load <= quiet || time.Since(t0) >= wait {
			return load, err
		}
	}
}

// sampleLoad is how many cores the machine keeps busy over d; the bench and
// its servers are idle meanwhile, so this is everybody else.
func sampleLoad(ctx context.Context, d time.Duration, ticks int64) (float64, error) {
	b0, err := systemCPU()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	b1, err := systemCPU()
	if err != nil {
		return 0, err
	}
	return float64(b1-b0) / float64(ticks) / time.Since(t0).Seconds(), nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func kib(v int64) float64 { return float64(v) / 1024 }

var _ io.Writer = (*syncBuffer)(nil)
