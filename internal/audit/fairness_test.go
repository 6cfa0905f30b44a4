package audit

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

// tarpit is a CRL server that accepts connections and never answers. It
// counts how many connections are open at once (a connection is open until
// the client closes it).
type tarpit struct {
	ln net.Listener

	mu       sync.Mutex
	conns    map[net.Conn]bool
	accepted int
	maxOpen  int
}

func newTarpit(t *testing.T) *tarpit {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tarpit{ln: ln, conns: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns[c] = true
			p.accepted++
			p.maxOpen = max(p.maxOpen, len(p.conns))
			p.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.Discard, c) // read the request, answer nothing, until the client gives up
				c.Close()
				p.mu.Lock()
				delete(p.conns, c)
				p.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

// url is the address of a CRL on the tarpit.
func (p *tarpit) url(name string) string {
	return "http://" + p.ln.Addr().String() + "/" + name + ".crl"
}

func (p *tarpit) stats() (accepted, maxOpen int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted, p.maxOpen
}

// tarpitFleet registers, in scope s, certificates whose CRL distribution
// points are n distinct CRLs on the tarpit, perCert to a certificate.
func (f *fx) tarpitFleet(s warden.Scope, p *tarpit, n, perCert int) {
	f.t.Helper()
	root := newRootCA(f.t, "Tarpit Root")
	year := f.clock.Now().Add(365 * 24 * time.Hour)
	for i := 0; i < n; i += perCert {
		var urls []string
		for j := i; j < min(i+perCert, n); j++ {
			urls = append(urls, p.url(fmt.Sprintf("%s-crl%d", s.Region, j)))
		}
		c := root.issue(f.t, fmt.Sprintf("tarpit%d", i), &ecKey(f.t).PublicKey, false, year, urls...)
		cert := warden.NewCertificateFrom(c, warden.CertActive, warden.ModeDefault, f.clock.Now())
		if err := f.store.CreateCertificate(f.ctx, s, cert, "RegisterCertificateWithoutCA"); err != nil {
			f.t.Fatal(err)
		}
	}
}

// configureScope enables checks in scope s.
func (f *fx) configureScope(s warden.Scope, checks ...string) {
	f.t.Helper()
	u := warden.AuditConfigurationUpdate{RoleArn: ptr("arn:aws:iam::" + s.Account + ":role/audit"), Checks: map[string]warden.AuditCheckConfiguration{}}
	for _, c := range checks {
		u.Checks[c] = warden.AuditCheckConfiguration{Enabled: true}
	}
	if err := f.store.UpdateAuditConfiguration(f.ctx, s, u, f.clock.Now()); err != nil {
		f.t.Fatal(err)
	}
}

// timeAudit starts an audit of checks in scope s on the running r and
// returns how long it took to end, and how it ended.
func (f *fx) timeAudit(r *Runner, s warden.Scope, checks ...string) (time.Duration, warden.AuditTask) {
	f.t.Helper()
	start := time.Now()
	task, err := f.store.StartAuditTask(f.ctx, s, checks, f.clock.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	r.Notify()
	deadline := start.Add(30 * time.Second)
	for {
		got, err := f.store.AuditTask(f.ctx, s, task.ID)
		if err != nil {
			f.t.Fatal(err)
		}
		if got.Status != warden.AuditInProgress {
			return time.Since(start), got
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("the audit of account %s did not end within 30s", s.Account)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAuditFairnessUnderTarpit is the attack of issue 14 #4: account A's
// certificates name CRLs on servers that accept and never answer, and A
// starts several audits of them. Account B's logging audit must still take
// at most twice its time alone: A may not hold every audit worker while B's
// task waits.
func TestAuditFairnessUnderTarpit(t *testing.T) {
	f := newFx(t) // f.s is account A
	pit := newTarpit(t)
	b := warden.Scope{Account: "222222222222", Region: "us-east-1"}
	revoked := warden.CheckRevokedDeviceCertificateStillActive
	f.configure(revoked)
	f.configureScope(b, warden.CheckLoggingDisabled)
	// 16 CRLs: with the fixture's 2 s fetch timeout, each of A's audits
	// holds a worker for at least two rounds of fetches.
	f.tarpitFleet(f.s, pit, 16, 4)

	r := f.runner(Options{PollInterval: 20 * time.Millisecond}) // the default 2 workers
	r.Start()
	defer r.Stop()

	alone, task := f.timeAudit(r, b, warden.CheckLoggingDisabled)
	if task.Status != warden.AuditCompleted {
		t.Fatalf("B's audit alone: %s, want COMPLETED", task.Status)
	}
	for range 4 {
		f.start(revoked)
	}
	r.Notify()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if accepted, _ := pit.stats(); accepted > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("A's audits did not reach the tarpit within 10s")
		}
	}
	under, task := f.timeAudit(r, b, warden.CheckLoggingDisabled)
	if task.Status != warden.AuditCompleted {
		t.Fatalf("B's audit under attack: %s, want COMPLETED", task.Status)
	}
	_, maxOpen := pit.stats()
	t.Logf("B's logging audit: %v alone, %v while A's audits wait on the tarpit (%d connections at most)", alone, under, maxOpen)
	if limit := 2*alone + time.Second; under > limit {
		t.Errorf("B's audit took %v under attack, %v alone: more than 2× + 1 s (%v)", under, alone, limit)
	}
}

// TestAuditCheckTimeout: a check whose CRLs never come ends FAILED at the
// time limit with a clear message; the other checks of the audit, those
// sharing its pass over the certificates included, complete.
func TestAuditCheckTimeout(t *testing.T) {
	f := newFx(t)
	pit := newTarpit(t)
	f.tarpitFleet(f.s, pit, 4, 2)
	revoked, expiring := warden.CheckRevokedDeviceCertificateStillActive, warden.CheckDeviceCertificateExpiring
	f.configure(revoked, expiring, warden.CheckLoggingDisabled)
	task := f.start(revoked, expiring, warden.CheckLoggingDisabled)
	// The fetch timeout is far away: only the check's limit can end it.
	r := f.runner(Options{CheckTimeout: 500 * time.Millisecond, CRL: CRLOptions{Timeout: time.Minute}})
	start := time.Now()
	if err := r.RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the audit took %v with a 500ms limit per check", took)
	}
	got := f.task(task.ID)
	if got.Status != warden.AuditCompleted {
		t.Fatalf("task %s, want COMPLETED", got.Status)
	}
	run := f.check(task.ID, revoked)
	if run.Status != warden.CheckFailed || run.ErrorCode != warden.CheckErrorTimeout || !strings.Contains(run.Message, "did not finish within 500ms") {
		t.Errorf("%s: %+v, want FAILED with %s saying the limit", revoked, run, warden.CheckErrorTimeout)
	}
	for _, name := range []string{expiring, warden.CheckLoggingDisabled} {
		if run := f.check(task.ID, name); run.Status != warden.CheckCompletedCompliant && run.Status != warden.CheckCompletedNonCompliant {
			t.Errorf("%s: %+v, want completed", name, run)
		}
	}
	if run := f.check(task.ID, expiring); run.TotalResources != 2 {
		t.Errorf("%s examined %d certificates, want 2", expiring, run.TotalResources)
	}
}

// TestCRLFetchesPerAccountLimit: an account's audits together have at most
// CRLFetchesPerAccount CRL fetches in flight, however many of its audits
// run (here two, in two regions, with distinct CRLs).
func TestCRLFetchesPerAccountLimit(t *testing.T) {
	f := newFx(t)
	pit := newTarpit(t)
	other := warden.Scope{Account: f.s.Account, Region: "eu-west-1"}
	revoked := warden.CheckRevokedDeviceCertificateStillActive
	var tasks []string
	for _, s := range []warden.Scope{f.s, other} {
		f.tarpitFleet(s, pit, 12, 3)
		f.configureScope(s, revoked)
		task, err := f.store.StartAuditTask(f.ctx, s, []string{revoked}, f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task.ID)
	}
	const limit = 3
	// The check's limit and the fetch timeout are far away: no fetch ends
	// while the test looks, so the connections accepted are those in flight.
	r := f.runner(Options{Workers: 3, PollInterval: 20 * time.Millisecond, CRLFetchesPerAccount: limit, CheckTimeout: time.Minute,
		CRL: CRLOptions{Timeout: time.Minute}})
	r.Start()
	defer r.Stop()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if accepted, _ := pit.stats(); accepted >= limit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d fetches reached the tarpit within 10s", limit)
		}
	}
	// Both audits run meanwhile (the second worker is free for the account),
	// and each has CRLs left to fetch.
	time.Sleep(300 * time.Millisecond)
	for i, s := range []warden.Scope{f.s, other} {
		if got, err := f.store.AuditTask(f.ctx, s, tasks[i]); err != nil || got.Status != warden.AuditInProgress {
			t.Fatalf("the audit in %s: %s %v, want IN_PROGRESS", s.Region, got.Status, err)
		}
	}
	accepted, maxOpen := pit.stats()
	t.Logf("%d connections to the tarpit, at most %d at once", accepted, maxOpen)
	if accepted > limit {
		t.Errorf("%d CRL fetches in flight at once, want at most %d", accepted, limit)
	}
}
