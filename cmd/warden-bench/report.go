package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

type report struct {
	Config  *config         `json:"config"`
	Phases  []phase         `json:"phases"`
	Errors  int64           `json:"errors"`
	Summary []workloadRatio `json:"summary"`
	Startup startupResult   `json:"startup"`
	Memory  memoryResult    `json:"memory"`
	AllPass bool            `json:"all_pass"`
	// NoisyPhases counts phases during which other processes used more
	// than --quiet cores.
	NoisyPhases int `json:"noisy_phases"`
	// Discarded are the noisy phases run again (see --retries); they count
	// nowhere else.
	Discarded []phase `json:"discarded_phases,omitempty"`
}

type memoryResult struct {
	IdleRSSMiB    float64 `json:"warden_idle_rss_mib"`
	PeakRSSMiB    float64 `json:"warden_peak_rss_mib"`
	CeilingRSSMiB float64 `json:"ceiling_idle_rss_mib"`
	TargetMiB     float64 `json:"target_mib"`
	Pass          bool    `json:"pass"`
}

// workloadRatio compares Warden with the ceiling on one workload.
type workloadRatio struct {
	Workload           string    `json:"workload"`
	CeilingRPS         float64   `json:"ceiling_rps_median"`
	WardenRPS          float64   `json:"warden_rps_median"`
	Ratios             []float64 `json:"ratios"` // per round, warden / ceiling
	Ratio              float64   `json:"ratio_median"`
	Target             float64   `json:"target_ratio"`
	Pass               bool      `json:"pass"`
	CeilingServerCPUus float64   `json:"ceiling_server_cpu_us_per_req_median"`
	WardenServerCPUus  float64   `json:"warden_server_cpu_us_per_req_median"`
	WardenDBCPUus      float64   `json:"warden_db_cpu_us_per_req_median,omitempty"`
	CeilingClientCPUus float64   `json:"ceiling_client_cpu_us_per_req_median"`
	WardenClientCPUus  float64   `json:"warden_client_cpu_us_per_req_median"`
	CeilingP50Ms       float64   `json:"ceiling_p50_ms_median"`
	WardenP50Ms        float64   `json:"warden_p50_ms_median"`
	CeilingP99Ms       float64   `json:"ceiling_p99_ms_median"`
	WardenP99Ms        float64   `json:"warden_p99_ms_median"`
	NoisyPhases        int       `json:"noisy_phases"`
}

func (r *report) summarize() {
	r.Summary = nil
	r.AllPass = true
	for _, name := range r.Config.Workloads {
		w := workloadRatio{Workload: name, Target: workloadTarget(name)}
		byRound := map[int]map[string]phase{}
		var cRPS, wRPS, cSrv, wSrv, wDB, cCli, wCli, cP50, wP50, cP99, wP99 []float64
		for _, p := range r.Phases {
			if p.Workload != name {
				continue
			}
			if byRound[p.Round] == nil {
				byRound[p.Round] = map[string]phase{}
			}
			byRound[p.Round][p.Target] = p
			if p.Noisy {
				w.NoisyPhases++
			}
			if p.Target == "ceiling" {
				cRPS, cSrv, cCli, cP50, cP99 = append(cRPS, p.RPS), append(cSrv, p.ServerCPUus), append(cCli, p.ClientCPUus), append(cP50, p.P50Ms), append(cP99, p.P99Ms)
			} else {
				wRPS, wSrv, wCli, wP50, wP99 = append(wRPS, p.RPS), append(wSrv, p.ServerCPUus), append(wCli, p.ClientCPUus), append(wP50, p.P50Ms), append(wP99, p.P99Ms)
				wDB = append(wDB, p.DBCPUus)
			}
		}
		for round := 1; round <= r.Config.Rounds; round++ {
			c, okC := byRound[round]["ceiling"]
			wd, okW := byRound[round]["warden"]
			if okC && okW && c.RPS > 0 {
				w.Ratios = append(w.Ratios, wd.RPS/c.RPS)
			}
		}
		w.CeilingRPS, w.WardenRPS, w.Ratio = median(cRPS), median(wRPS), median(w.Ratios)
		w.CeilingServerCPUus, w.WardenServerCPUus, w.WardenDBCPUus = median(cSrv), median(wSrv), median(wDB)
		w.CeilingClientCPUus, w.WardenClientCPUus = median(cCli), median(wCli)
		w.CeilingP50Ms, w.WardenP50Ms, w.CeilingP99Ms, w.WardenP99Ms = median(cP50), median(wP50), median(cP99), median(wP99)
		w.Pass = len(w.Ratios) > 0 && w.Ratio >= w.Target
		r.AllPass = r.AllPass && w.Pass
		r.Summary = append(r.Summary, w)
	}
	r.AllPass = r.AllPass && r.Startup.Pass && r.Memory.Pass && r.Errors == 0
	for _, p := range r.Phases {
		if p.Noisy {
			r.NoisyPhases++
		}
	}
}

// store names where Warden kept its data.
func (c *config) store() string {
	if c.Database != "" {
		return fmt.Sprintf("postgres (%s, schema %s)", c.Database, c.DatabaseSchema)
	}
	return "sqlite sync=" + c.Sync
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func (r *report) print(out io.Writer) {
	c := r.Config
	fmt.Fprintf(out, "warden-bench: %s (%s), store %s, %s\n", c.Warden, c.WardenVersion, c.store(), c.GoVersion)
	fmt.Fprintf(out, "  %d CPUs, CLK_TCK=%d; %d rounds × %gs per phase, warm-up %gs, concurrency %d, warden --log-level %s\n",
		c.CPUs, c.ClockTicks, c.Rounds, c.DurationS, c.WarmupS, c.Concurrency, c.LogLevel)
	logTo := "a file in the work dir"
	if c.DiscardLog {
		logTo = "/dev/null"
	}
	fmt.Fprintf(out, "  work dir (Warden data dir inside): %s; Warden's log goes to %s\n", c.WorkDir, logTo)
	fmt.Fprintf(out, "  client: aws-sdk-go-v2 service/iot, SigV4 on every request, RetryMaxAttempts 1, loopback HTTP/1.1 keep-alive\n")
	if c.Perf != "" {
		fmt.Fprintf(out, "  NOTE: perf was recording Warden during its phases (--perf %s): numbers are perturbed\n", c.Perf)
	}
	fmt.Fprintln(out)

	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tworkload\tserver\trequests\terrors\treq/s\tp50 ms\tp99 ms\tserver CPU µs/req\tclient CPU µs/req\tother load (cores)\t")
	noisy := 0
	for _, p := range r.Phases {
		mark := ""
		if p.Noisy {
			mark = " *"
			noisy++
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%.0f\t%.3f\t%.3f\t%.1f\t%.1f\t%.2f%s\t\n",
			p.Round, p.Workload, p.Target, p.Requests, p.Errors, p.RPS, p.P50Ms, p.P99Ms, p.ServerCPUus, p.ClientCPUus, p.OtherCores, mark)
	}
	tw.Flush()
	if noisy > 0 {
		fmt.Fprintf(out, "  * %d of %d phases ran while other processes used more than %.2f cores: their numbers are perturbed\n",
			noisy, len(r.Phases), c.Quiet)
	}
	if len(r.Discarded) > 0 {
		fmt.Fprintf(out, "  (%d noisy phases were discarded and their ceiling/Warden pairs run again, --retries %d)\n", len(r.Discarded), c.Retries)
	}
	// Create vs delete latencies on the create-delete and create-thing workloads.
	for _, wl := range []string{wlCreateDelete, wlCreateThing} {
		var lines []string
		for _, p := range r.Phases {
			if p.Workload != wl {
				continue
			}
			cr, de := p.Ops["create"], p.Ops["delete"]
			lines = append(lines, fmt.Sprintf("  round %d %-7s create p50 %.3f p99 %.3f ms | delete p50 %.3f p99 %.3f ms",
				p.Round, p.Target, cr.P50Ms, cr.P99Ms, de.P50Ms, de.P99Ms))
		}
		if len(lines) > 0 {
			fmt.Fprintf(out, "\n%s by operation:\n%s\n", wl, strings.Join(lines, "\n"))
		}
	}
	for _, p := range r.Phases {
		if p.Errors > 0 {
			fmt.Fprintf(out, "round %d %s %s: %d errors, first: %s\n", p.Round, p.Workload, p.Target, p.Errors, p.FirstError)
		}
		if p.PerfData != "" {
			fmt.Fprintf(out, "perf: round %d %s: %s\n", p.Round, p.Workload, p.PerfData)
		}
	}

	fmt.Fprintf(out, "\nSUMMARY (store %s; medians over %d rounds)\n", c.store(), c.Rounds)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tceiling req/s\twarden req/s\twarden/ceiling\tper round\ttarget\tresult\t")
	for _, w := range r.Summary {
		var rr []string
		for _, x := range w.Ratios {
			rr = append(rr, fmt.Sprintf("%.3f", x))
		}
		res := passFail(w.Pass)
		if w.NoisyPhases > 0 {
			res += fmt.Sprintf(" (%d noisy phases)", w.NoisyPhases)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.3f\t%s\t≥ %.2f\t%s\t\n",
			w.Workload, w.CeilingRPS, w.WardenRPS, w.Ratio, strings.Join(rr, " "), w.Target, res)
	}
	var runs []string
	for _, x := range r.Startup.RunsMs {
		runs = append(runs, fmt.Sprintf("%.1f", x))
	}
	fmt.Fprintf(tw, "startup (%d actions)\t\t%.1f ms\t\t%s\t< %.0f ms\t%s\t\n",
		r.Startup.Actions, r.Startup.MedianMs, strings.Join(runs, " "), r.Startup.TargetMs, passFail(r.Startup.Pass))
	fmt.Fprintf(tw, "idle RSS (after %gs)\t\t%.1f MiB\t\tpeak %.1f MiB\t< %.0f MiB\t%s\t\n",
		c.IdleS, r.Memory.IdleRSSMiB, r.Memory.PeakRSSMiB, r.Memory.TargetMiB, passFail(r.Memory.Pass))
	tw.Flush()

	fmt.Fprintln(out, "\nper request (medians)")
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tserver CPU µs ceiling\twarden\tclient CPU µs ceiling\twarden\tp50 ms ceiling\twarden\tp99 ms ceiling\twarden\t")
	for _, w := range r.Summary {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.3f\t%.3f\t%.3f\t%.3f\t\n", w.Workload,
			w.CeilingServerCPUus, w.WardenServerCPUus, w.CeilingClientCPUus, w.WardenClientCPUus,
			w.CeilingP50Ms, w.WardenP50Ms, w.CeilingP99Ms, w.WardenP99Ms)
	}
	tw.Flush()
	if c.Database != "" {
		fmt.Fprintln(out, "\nWarden's PostgreSQL backends, CPU µs per request (medians; in no column above, nor in other load; 0 if the server is not on this machine)")
		for _, w := range r.Summary {
			fmt.Fprintf(out, "  %-14s %.1f\n", w.Workload, w.WardenDBCPUus)
		}
	}
	fmt.Fprintln(out, "\n(other load: CPU used during a phase by processes other than the server and the bench, from /proc/stat;")
	fmt.Fprintf(out, " before each phase the bench waited up to %gs for it to drop to %.2f cores (--quiet))\n", c.QuietWaitS, c.Quiet)
	fmt.Fprintf(out, "\nceiling server idle RSS %.1f MiB\n", r.Memory.CeilingRSSMiB)
	if r.Errors > 0 {
		fmt.Fprintf(out, "%d requests FAILED during measured phases\n", r.Errors)
	}
	fmt.Fprintf(out, "overall: %s\n", passFail(r.AllPass))
}
