package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
	"runtime"
	"syscall"
	"time"
)

// runOptions are the options and machine facts the device scenarios (mqtt,
// detect) share; embedded, they read and print as their own fields.
type runOptions struct {
	Quiet      float64       `json:"quiet_cores"`
	QuietWait  time.Duration `json:"-"`
	Keep       bool          `json:"-"`
	JSON       bool          `json:"-"`
	Check      bool          `json:"-"`
	TmpDir     string        `json:"-"`
	WorkDir    string        `json:"work_dir"`
	CPUs       int           `json:"cpus"`
	ClockTicks int64         `json:"clk_tck"`
	GoVersion  string        `json:"go_version"`
	NoFile     uint64        `json:"nofile_limit"`
}

// register adds the shared flags to fs; kept says what --keep keeps.
func (o *runOptions) register(fs *flag.FlagSet, kept string) {
	fs.Float64Var(&o.Quiet, "quiet", 0.25, "before each phase, wait until other processes use at most this many cores (0: don't wait)")
	fs.DurationVar(&o.QuietWait, "quiet-wait", 30*time.Second, "longest wait for --quiet before a phase runs anyway")
	fs.BoolVar(&o.Keep, "keep", false, "keep the work dir ("+kept+")")
	fs.BoolVar(&o.JSON, "json", false, "print the results as JSON on stdout (progress still goes to stderr)")
	fs.BoolVar(&o.Check, "check", false, "exit 1 if a target is missed")
	fs.StringVar(&o.TmpDir, "tmpdir", "", "parent of the work dir (default $TMPDIR or /tmp)")
}

// measureMachine records the machine facts and raises the open-file limit.
func (o *runOptions) measureMachine(workDir string) {
	o.WorkDir = workDir
	o.CPUs, o.ClockTicks, o.GoVersion = runtime.NumCPU(), clockTicks(), runtime.Version()
	o.NoFile = raiseNoFile()
}

// scenarioReport is what a device scenario's report does at the end.
type scenarioReport interface {
	summarize()
	print(io.Writer)
	allPass() bool
}

func (r *mqttReport) allPass() bool   { return r.AllPass }
func (r *detectReport) allPass() bool { return r.AllPass }

// runScenario runs a device scenario until it ends or is interrupted,
// prints its report and returns the exit status: 1 on an error, or with
// --check on a missed target.
func runScenario[R scenarioReport](name string, o *runOptions, run func(context.Context) (R, error)) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rep, err := run(ctx)
	stop()
	got := !reflect.ValueOf(rep).IsNil()
	if got {
		rep.summarize()
		writeReport(rep, o.JSON)
	}
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "warden-bench %s: %v\n", name, err)
		return 1
	case o.Check && !(got && rep.allPass()):
		return 1
	}
	return 0
}
