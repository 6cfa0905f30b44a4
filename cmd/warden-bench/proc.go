package main

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a server process the bench started.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, valid after done
	out  *syncBuffer   // its stdout
	log  string        // file its stderr goes to ("" if discarded)
}

// benchMasterKey seals the secrets of the stores the bench makes (a
// PostgreSQL node needs one; every start in a run must get the same).
var benchMasterKey = func() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}()

// newWorkDir makes a run's work dir in tmpDir ("": the default); remove
// deletes it, unless keep.
func newWorkDir(tmpDir, prefix string, keep bool) (dir string, remove func(), err error) {
	dir, err = os.MkdirTemp(tmpDir, prefix)
	if err != nil || keep {
		return dir, func() {}, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

func startChild(name, path string, args []string, logFile string) (*child, error) {
	cmd := exec.Command(path, args...)
	if os.Getenv("WARDEN_MASTER_KEY") == "" {
		cmd.Env = append(os.Environ(), "WARDEN_MASTER_KEY="+benchMasterKey)
	}
	out := &syncBuffer{}
	cmd.Stdout = out
	if logFile != "" {
		f, err := os.Create(logFile)
		if err != nil {
			return nil, err
		}
		defer f.Close() // the child holds its own descriptor
		cmd.Stderr = f
	}
	// The child dies with the bench, even if the bench is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), out: out, log: logFile}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to timeout before killing.
func (c *child) stop(timeout time.Duration) error {
	if c.exited() {
		return nil
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return nil
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not stop within %s after SIGTERM; killed", c.name, timeout)
	}
}

// diagnose describes why the child may have failed: its exit status and the
// end of its log.
func (c *child) diagnose() string {
	var b strings.Builder
	if c.exited() {
		fmt.Fprintf(&b, "%s exited: %v\n", c.name, c.err)
	}
	if s := strings.TrimSpace(c.out.String()); s != "" {
		fmt.Fprintf(&b, "stdout:\n%s\n", tail(s, 2000))
	}
	if c.log != "" {
		if data, err := os.ReadFile(c.log); err == nil && len(data) > 0 {
			fmt.Fprintf(&b, "stderr (%s):\n%s\n", c.log, tail(string(data), 2000))
		}
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// waitOutput waits until the child's stdout contains substr.
func (c *child) waitOutput(substr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(c.out.String(), substr) {
		if c.exited() {
			return fmt.Errorf("%s exited before printing %q\n%s", c.name, substr, c.diagnose())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s printed no %q within %s\n%s", c.name, substr, timeout, c.diagnose())
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// waitListening waits until addr accepts TCP connections.
func (c *child) waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		if c.exited() {
			return fmt.Errorf("%s exited before listening on %s\n%s", c.name, addr, c.diagnose())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening on %s within %s\n%s", c.name, addr, timeout, c.diagnose())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// cpuMark is where the CPU counters stood at one moment: the server
// process's and this process's, the whole machine's and every process's.
type cpuMark struct {
	server int64 // clock ticks
	client time.Duration
	system int64 // clock ticks; 0 if /proc/stat could not be read
	procs  procSnapshot
}

// markCPU reads the counters, the server's being those of serverPID.
func markCPU(serverPID int) (cpuMark, error) {
	server, err := procCPU(serverPID)
	if err != nil {
		return cpuMark{}, err
	}
	m := cpuMark{server: server, client: selfCPU(), procs: snapshotProcs()}
	m.system, _ = systemCPU()
	return m, nil
}

// spent is the CPU seconds the server and this process used from m to
// later.
func (m cpuMark) spent(later cpuMark, ticks int64) (serverS, clientS float64) {
	return float64(later.server-m.server) / float64(ticks), (later.client - m.client).Seconds()
}

// otherCores is how many cores the rest of the machine kept busy from m to
// later, secs apart, beyond the countedS CPU seconds already accounted
// for; 0 when the machine's counters could not be read.
func (m cpuMark) otherCores(later cpuMark, ticks int64, secs, countedS float64) float64 {
	if later.system <= m.system {
		return 0
	}
	other := float64(later.system-m.system)/float64(ticks) - countedS
	return max(0, other/secs)
}

// procCPU is the user+system CPU time a process has used so far, in clock
// ticks, from /proc/<pid>/stat (fields 14 and 15).
func procCPU(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 || i+2 > len(s) {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+2:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseInt(f[14-3], 10, 64)
	stime, err2 := strconv.ParseInt(f[15-3], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return utime + stime, nil
}

// systemCPU is the busy CPU time of the whole machine, in clock ticks, from
// the first line of /proc/stat (everything but idle and iowait).
func systemCPU() (int64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, errors.New("malformed /proc/stat")
	}
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, err
		}
		busy += n
	}
	return busy, nil
}

// procMemKiB reads VmRSS and VmHWM (peak RSS) from /proc/<pid>/status.
func procMemKiB(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, field := range []struct {
			name string
			dst  *int64
		}{{"VmRSS:", &rss}, {"VmHWM:", &hwm}} {
			if rest, ok := strings.CutPrefix(line, field.name); ok {
				v := strings.Fields(rest)
				if len(v) > 0 {
					*field.dst, _ = strconv.ParseInt(v[0], 10, 64)
				}
			}
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS in /proc status")
	}
	return rss, hwm, sc.Err()
}

// selfCPU is the bench process's own user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTicks is `getconf CLK_TCK`, 100 if it cannot be run.
func clockTicks() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}

// procSnapshot is every process's CPU ticks and name, to tell afterwards who
// else used the machine during a phase.
type procSnapshot map[int]procTicks

type procTicks struct {
	comm  string
	ticks int64
}

func snapshotProcs() procSnapshot {
	snap := procSnapshot{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return snap
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		lp, rp := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if lp < 0 || rp < lp {
			continue
		}
		t, err := procCPU(pid)
		if err != nil {
			continue
		}
		snap[pid] = procTicks{comm: s[lp+1 : rp], ticks: t}
	}
	return snap
}

// procDelta is the CPU ticks pid used between two snapshots: all of its
// ticks if it started in between, 0 if it is not in after.
func procDelta(before, after procSnapshot, pid int) int64 {
	a, ok := after[pid]
	if !ok {
		return 0
	}
	if b, ok := before[pid]; ok && b.comm == a.comm {
		return max(0, a.ticks-b.ticks)
	}
	return a.ticks
}

// topOthers names the processes, other than those in skip, that used the
// most CPU between two snapshots (processes that started and ended in
// between are not seen).
func topOthers(before, after procSnapshot, skip map[int]bool, ticksPerSec int64, secs float64, n int) []string {
	type use struct {
		name  string
		cores float64
	}
	var uses []use
	for pid, a := range after {
		if skip[pid] {
			continue
		}
		d := a.ticks - before[pid].ticks
		if b, ok := before[pid]; !ok || b.comm != a.comm {
			d = a.ticks // new process: all its time is in the phase (roughly)
		}
		if d <= 0 {
			continue
		}
		uses = append(uses, use{fmt.Sprintf("%s[%d]", a.comm, pid), float64(d) / float64(ticksPerSec) / secs})
	}
	slices.SortFunc(uses, func(x, y use) int { return cmp.Compare(y.cores, x.cores) })
	var out []string
	for i := 0; i < len(uses) && i < n; i++ {
		if uses[i].cores < 0.01 {
			break
		}
		out = append(out, fmt.Sprintf("%s %.2f", uses[i].name, uses[i].cores))
	}
	return out
}
