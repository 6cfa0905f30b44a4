package audit

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/connlog"
)

func TestConnectionWindow(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	h := time.Hour
	d := 24 * h
	for _, c := range []struct {
		check, typ       string
		previous         time.Time
		wantFrom, wantTo time.Time
	}{
		{warden.CheckDeviceCertificateShared, warden.AuditOnDemand, time.Time{}, start.Add(-31 * d), start.Add(-2 * h)},
		{warden.CheckDeviceCertificateShared, warden.AuditOnDemand, start.Add(-d), start.Add(-31 * d), start.Add(-2 * h)},
		{warden.CheckDeviceCertificateShared, warden.AuditScheduled, start.Add(-d), start.Add(-d - 2*h), start.Add(-2 * h)},
		{warden.CheckDeviceCertificateShared, warden.AuditScheduled, time.Time{}, start.Add(-31 * d), start.Add(-2 * h)},
		{warden.CheckDeviceCertificateShared, warden.AuditScheduled, start.Add(-60 * d), start.Add(-31 * d), start.Add(-2 * h)},
		{warden.CheckConflictingClientIDs, warden.AuditOnDemand, time.Time{}, start.Add(-31 * d), start},
		{warden.CheckConflictingClientIDs, warden.AuditScheduled, start.Add(-7 * d), start.Add(-7 * d), start},
		{warden.CheckConflictingClientIDs, warden.AuditScheduled, time.Time{}, start.Add(-31 * d), start},
	} {
		from, to := ConnectionWindow(c.check, c.typ, start, c.previous)
		if !from.Equal(c.wantFrom) || !to.Equal(c.wantTo) {
			t.Errorf("%s %s previous %v: [%v, %v], want [%v, %v]", c.check, c.typ, c.previous, from, to, c.wantFrom, c.wantTo)
		}
	}
}

// session is a successful connection record for the rule tests; end < 0
// means still open.
func session(client, cert, ip string, from, end int, reason string) warden.ConnectionRecord {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	r := warden.ConnectionRecord{SessionID: fmt.Sprint(client, from), ClientID: client, CertificateID: cert, SourceIP: ip,
		ConnectedAt: t0.Add(time.Duration(from) * time.Minute), Result: warden.StatusSuccess, DisconnectReason: reason}
	if end >= 0 {
		r.DisconnectedAt = t0.Add(time.Duration(end) * time.Minute)
	}
	return r
}

func minute(m int) time.Time {
	return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(m) * time.Minute)
}

// ruleCase is a connection rule's input, the sessions and the audit's
// window in minutes, and whether the rule finds against them.
type ruleCase struct {
	name     string
	sessions []warden.ConnectionRecord
	from, to int
	found    bool
}

// connectionRule is what a connection rule finds and how it names the
// sessions it relates.
type connectionRule struct {
	check  func(sessions []warden.ConnectionRecord, start, end time.Time) (Verdict, bool)
	code   string
	reason string // exact reason; "" accepts any non-empty one
	// related is the resource a session stands for in the finding.
	related func(rel warden.RelatedResource, s warden.ConnectionRecord) bool
	// disconnection: the related resources carry DISCONNECTION_TIME for
	// closed sessions.
	disconnection bool
}

// testConnectionRule runs r on each case and, where it finds, checks the
// verdict: code, reason, and one related resource per session, newest
// first, with its connection time in epoch milliseconds.
func testConnectionRule(t *testing.T, r connectionRule, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		v, found := r.check(c.sessions, minute(c.from), minute(c.to))
		if found != c.found {
			t.Errorf("%s: found = %v, want %v", c.name, found, c.found)
			continue
		}
		if !found {
			continue
		}
		if v.Code != r.code || v.Reason == "" || (r.reason != "" && v.Reason != r.reason) || len(v.Related) != len(c.sessions) {
			t.Errorf("%s: verdict %+v", c.name, v)
			continue
		}
		for i, rel := range v.Related {
			s := c.sessions[len(c.sessions)-1-i]
			if !r.related(rel, s) || rel.AdditionalInfo[InfoConnectionTime] != strconv.FormatInt(s.ConnectedAt.UnixMilli(), 10) {
				t.Errorf("%s: related[%d] = %+v, want session %+v", c.name, i, rel, s)
			}
			if !r.disconnection {
				continue
			}
			if want, ok := strconv.FormatInt(s.DisconnectedAt.UnixMilli(), 10), rel.AdditionalInfo[InfoDisconnectionTime]; s.Open() != (ok == "") || (!s.Open() && ok != want) {
				t.Errorf("%s: related[%d] DISCONNECTION_TIME = %q (open %v)", c.name, i, ok, s.Open())
			}
		}
	}
}

func TestCertificateSharedRule(t *testing.T) {
	const dup = DisconnectDuplicateClientID
	testConnectionRule(t, connectionRule{
		check:  CertificateShared,
		code:   ReasonCertificateShared,
		reason: "Certificate shared by one or more devices.",
		related: func(rel warden.RelatedResource, s warden.ConnectionRecord) bool {
			return rel.ResourceType == warden.ResourceClientID && rel.ResourceIdentifier.ClientID == s.ClientID
		},
		disconnection: true,
	}, []ruleCase{
		{"one device reconnecting", []warden.ConnectionRecord{
			session("a", "C", "10.0.0.1", 0, 10, "CONNECTION_LOST"), session("a", "C", "10.0.0.1", 11, 20, "CLIENT_INITIATED_DISCONNECT")}, 0, 100, false},
		{"one device, two client ids one after the other", []warden.ConnectionRecord{
			session("a", "C", "10.0.0.1", 0, 10, ""), session("b", "C", "10.0.0.1", 10, 20, "")}, 0, 100, false},
		{"two client ids at once", []warden.ConnectionRecord{
			session("a", "C", "10.0.0.1", 0, 10, ""), session("b", "C", "10.0.0.2", 5, 20, "")}, 0, 100, true},
		{"two client ids at once, one still open", []warden.ConnectionRecord{
			session("a", "C", "10.0.0.1", 0, -1, ""), session("b", "C", "10.0.0.2", 50, 60, "")}, 0, 100, true},
		{"overlap before the window", []warden.ConnectionRecord{
			session("a", "C", "10.0.0.1", 0, 10, ""), session("b", "C", "10.0.0.2", 5, 20, "")}, 15, 100, false},
		{"overlap after the window", []warden.ConnectionRecord{
			session("a", "C", "10.0.0.1", 0, 100, ""), session("b", "C", "10.0.0.2", 50, 60, "")}, 0, 40, false},
		{"same client id knocked off from another address", []warden.ConnectionRecord{
			session("a", "C", "10.0.0.1", 0, 10, dup), session("a", "C", "10.0.0.2", 10, 20, dup), session("a", "C", "10.0.0.1", 20, 30, "")}, 0, 100, true},
		{"same client id knocked off from the same address", []warden.ConnectionRecord{
			session("a", "C", "10.0.0.1", 0, 10, dup), session("a", "C", "10.0.0.1", 10, 20, "")}, 0, 100, false},
		{"takeover outside the window", []warden.ConnectionRecord{
			session("a", "C", "10.0.0.1", 0, 10, dup), session("a", "C", "10.0.0.2", 10, 20, "")}, 11, 100, false},
	})
}

func TestClientIDConflictRule(t *testing.T) {
	const dup = DisconnectDuplicateClientID
	testConnectionRule(t, connectionRule{
		check: ClientIDConflict,
		code:  ReasonDuplicateClientID,
		related: func(rel warden.RelatedResource, s warden.ConnectionRecord) bool {
			return rel.ResourceType == warden.ResourceDeviceCertificate && rel.ResourceIdentifier.DeviceCertificateID == s.CertificateID
		},
	}, []ruleCase{
		{"reconnects without takeover", []warden.ConnectionRecord{
			session("a", "C", "10.0.0.1", 0, 10, "CONNECTION_LOST"), session("a", "D", "10.0.0.2", 11, 20, "")}, 0, 100, false},
		{"takeover by another certificate", []warden.ConnectionRecord{
			session("a", "C", "10.0.0.1", 0, 10, dup), session("a", "D", "10.0.0.1", 10, -1, "")}, 0, 100, true},
		{"takeover from another address", []warden.ConnectionRecord{
			session("a", "C", "10.0.0.1", 0, 10, dup), session("a", "C", "10.0.0.9", 10, 20, "")}, 0, 100, true},
		{"same device reconnecting before its old connection timed out", []warden.ConnectionRecord{
			session("a", "C", "10.0.0.1", 0, 10, dup), session("a", "C", "10.0.0.1", 10, 20, "")}, 0, 100, false},
		{"takeover before the window", []warden.ConnectionRecord{
			session("a", "C", "10.0.0.1", 0, 10, dup), session("a", "D", "10.0.0.1", 10, 20, "")}, 11, 100, false},
	})
}

// connEvents feeds connection events through the connection log's
// observer, as the broker does, and waits for them to be written.
func (f *fx) connEvents(events ...warden.DataPlaneEvent) {
	f.t.Helper()
	l := connlog.New(connlog.Options{Store: f.store})
	l.Start()
	for _, e := range events {
		if e.Scope == (warden.Scope{}) {
			e.Scope = f.s
		}
		l.Observe(e)
	}
	if err := l.Close(); err != nil || l.Dropped() != 0 {
		f.t.Fatalf("connection log: %v, %d dropped", err, l.Dropped())
	}
}

func connectAt(session, client, cert, ip string, at time.Time) warden.DataPlaneEvent {
	return warden.DataPlaneEvent{Type: warden.EventConnect, Status: warden.StatusSuccess, SessionID: session, ClientID: client,
		PrincipalID: cert, SourceIP: ip, SourcePort: 50000, At: at}
}

func disconnectAt(session, reason string, at time.Time) warden.DataPlaneEvent {
	return warden.DataPlaneEvent{Type: warden.EventDisconnect, Status: warden.StatusSuccess, SessionID: session, DisconnectReason: reason, At: at}
}

// takeover is two devices using client id client: the first (cert1, ip1)
// is knocked off at `at` by the second (cert2, ip2), which stays.
func takeover(prefix, client, cert1, ip1, cert2, ip2 string, at time.Time) []warden.DataPlaneEvent {
	return []warden.DataPlaneEvent{
		connectAt(prefix+"-1", client, cert1, ip1, at.Add(-10*time.Minute)),
		connectAt(prefix+"-2", client, cert2, ip2, at),
		disconnectAt(prefix+"-1", DisconnectDuplicateClientID, at),
	}
}

// TestRunnerConnectionChecks records connections through the observer and
// runs an on-demand audit of both connection checks: each planted case in
// its window is found, with AWS's severity, reason code and related
// resources; cases outside the windows and well-behaved devices are not.
func TestRunnerConnectionChecks(t *testing.T) {
	f := newFx(t)
	now := f.clock.Now()
	h := time.Hour
	var ev []warden.DataPlaneEvent
	// Shared: two devices with one certificate, at once, 5 hours ago.
	ev = append(ev, connectAt("sh-1", "dev-1", "certshared", "198.51.100.1", now.Add(-6*h)),
		connectAt("sh-2", "dev-2", "certshared", "198.51.100.2", now.Add(-5*h)),
		disconnectAt("sh-1", "CLIENT_INITIATED_DISCONNECT", now.Add(-4*h)),
		disconnectAt("sh-2", "CONNECTION_LOST", now.Add(-3*h)))
	// Shared an hour ago: after the shared check's window ends (2 h).
	ev = append(ev, connectAt("late-1", "late-1", "certlate", "198.51.100.3", now.Add(-time.Hour)),
		connectAt("late-2", "late-2", "certlate", "198.51.100.4", now.Add(-50*time.Minute)))
	// Shared 40 days ago: before the 31 days; still in the log because
	// nothing pruned it.
	ev = append(ev, connectAt("old-1", "old-1", "certold", "198.51.100.5", now.Add(-40*24*h)),
		connectAt("old-2", "old-2", "certold", "198.51.100.6", now.Add(-40*24*h+time.Minute)),
		disconnectAt("old-1", "CLIENT_INITIATED_DISCONNECT", now.Add(-40*24*h+2*time.Minute)),
		disconnectAt("old-2", "CLIENT_INITIATED_DISCONNECT", now.Add(-40*24*h+3*time.Minute)))
	// Fine: one device reconnecting, twice a day.
	ev = append(ev, connectAt("ok-1", "good", "certgood", "198.51.100.7", now.Add(-30*h)),
		disconnectAt("ok-1", "CONNECTION_LOST", now.Add(-20*h)),
		connectAt("ok-2", "good", "certgood", "198.51.100.7", now.Add(-19*h)))
	// Conflicting client id: two certificates knocking each other off
	// 30 minutes ago (inside its window, which ends at the audit).
	ev = append(ev, takeover("cf", "shared-id", "certx", "203.0.113.1", "certy", "203.0.113.2", now.Add(-30*time.Minute))...)
	// A failed attempt with a third certificate does not count.
	failed := connectAt("cf-fail", "shared-id", "certz", "203.0.113.3", now.Add(-20*time.Minute))
	failed.Status = warden.StatusFailure
	ev = append(ev, failed)
	f.connEvents(ev...)

	checks := []string{warden.CheckDeviceCertificateShared, warden.CheckConflictingClientIDs}
	task := f.audit(Options{}, checks...)
	if got := f.task(task.ID); got.Status != warden.AuditCompleted {
		t.Fatalf("task %+v", got)
	}

	shared := f.findings(task.ID, warden.CheckDeviceCertificateShared)
	if got := keys(shared); fmt.Sprint(got) != fmt.Sprint([]string{deviceKey("certshared")}) {
		t.Fatalf("DEVICE_CERTIFICATE_SHARED_CHECK findings on %v, want certshared only", got)
	}
	fd := shared[deviceKey("certshared")]
	if fd.Severity != warden.SeverityCritical || fd.ReasonForNonComplianceCode != ReasonCertificateShared ||
		fd.NonCompliantResource.ResourceType != warden.ResourceDeviceCertificate {
		t.Fatalf("finding %+v", fd)
	}
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	wantRelated := []warden.RelatedResource{
		{ResourceType: warden.ResourceClientID, ResourceIdentifier: warden.ResourceIdentifier{ClientID: "dev-2"},
			AdditionalInfo: map[string]string{InfoConnectionTime: ms(now.Add(-5 * h)), InfoDisconnectionTime: ms(now.Add(-3 * h))}},
		{ResourceType: warden.ResourceClientID, ResourceIdentifier: warden.ResourceIdentifier{ClientID: "dev-1"},
			AdditionalInfo: map[string]string{InfoConnectionTime: ms(now.Add(-6 * h)), InfoDisconnectionTime: ms(now.Add(-4 * h))}},
	}
	if fmt.Sprint(fd.RelatedResources) != fmt.Sprint(wantRelated) {
		t.Fatalf("related resources\n got %+v\nwant %+v", fd.RelatedResources, wantRelated)
	}
	if c := f.check(task.ID, warden.CheckDeviceCertificateShared); c.Status != warden.CheckCompletedNonCompliant ||
		c.NonCompliantResources != 1 || c.TotalResources != 2 {
		t.Fatalf("shared check %+v, want 1 of 2 (certshared and certgood connected in its window)", c)
	}

	conflicting := f.findings(task.ID, warden.CheckConflictingClientIDs)
	clientKey := func(id string) string { r := warden.ResourceIdentifier{ClientID: id}; return r.Key() }
	if got := keys(conflicting); fmt.Sprint(got) != fmt.Sprint([]string{clientKey("shared-id")}) {
		t.Fatalf("CONFLICTING_CLIENT_IDS_CHECK findings on %v, want shared-id only", got)
	}
	cf := conflicting[clientKey("shared-id")]
	if cf.Severity != warden.SeverityHigh || cf.ReasonForNonComplianceCode != ReasonDuplicateClientID ||
		cf.NonCompliantResource.ResourceType != warden.ResourceClientID || len(cf.RelatedResources) != 2 ||
		cf.RelatedResources[0].ResourceIdentifier.DeviceCertificateID != "certy" || cf.RelatedResources[1].ResourceIdentifier.DeviceCertificateID != "certx" ||
		cf.RelatedResources[1].AdditionalInfo[InfoDisconnectionTime] != ms(now.Add(-30*time.Minute)) ||
		cf.RelatedResources[0].AdditionalInfo[InfoDisconnectionTime] != "" {
		t.Fatalf("conflicting finding %+v", cf)
	}
}

// TestScheduledConnectionWindow: a scheduled audit's connection checks look
// from its previous run on (2 hours earlier for the shared check), so a
// second run does not report again what only the first one's window held.
func TestScheduledConnectionWindow(t *testing.T) {
	f := newFx(t)
	day1 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	f.clock.Set(day1.Add(-3 * 24 * time.Hour))
	checks := []string{warden.CheckDeviceCertificateShared, warden.CheckConflictingClientIDs}
	f.configure(checks...)
	a := warden.ScheduledAudit{Name: "nightly", Frequency: warden.FrequencyDaily, TargetCheckNames: checks,
		Anchor: f.clock.Now(), CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()}
	if err := f.store.CreateScheduledAudit(f.ctx, f.s, a, nil); err != nil {
		t.Fatal(err)
	}
	h := time.Hour
	// Before day 1's run: a shared certificate and a client id conflict.
	ev := []warden.DataPlaneEvent{connectAt("a-1", "a1", "certa", "192.0.2.1", day1.Add(-6*h)),
		connectAt("a-2", "a2", "certa", "192.0.2.2", day1.Add(-5*h)),
		disconnectAt("a-1", "", day1.Add(-4*h)), disconnectAt("a-2", "", day1.Add(-4*h))}
	ev = append(ev, takeover("ca", "id-a", "certc", "192.0.2.3", "certd", "192.0.2.4", day1.Add(-h))...)
	// Between day 1 and day 2: another of each.
	ev = append(ev, connectAt("b-1", "b1", "certb", "192.0.2.5", day1.Add(3*h)),
		connectAt("b-2", "b2", "certb", "192.0.2.6", day1.Add(4*h)),
		disconnectAt("b-1", "", day1.Add(5*h)), disconnectAt("b-2", "", day1.Add(5*h)))
	ev = append(ev, takeover("cb", "id-b", "certe", "192.0.2.7", "certf", "192.0.2.8", day1.Add(10*h))...)
	f.connEvents(ev...)

	run := func(at time.Time) warden.AuditTask {
		t.Helper()
		f.clock.Set(at)
		if err := f.runner(Options{}).RunOnce(f.ctx); err != nil {
			t.Fatal(err)
		}
		tasks, _, err := f.store.AuditTasks(f.ctx, f.s, warden.AuditTaskFilter{Start: at.Add(-h), End: at}, warden.Page{Limit: 10})
		if err != nil || len(tasks) != 1 {
			t.Fatalf("tasks at %v: %v, %v", at, tasks, err)
		}
		return f.task(tasks[0].ID)
	}
	first := run(day1.Add(time.Minute))
	second := run(day1.Add(24*h + time.Minute))
	if first.Status != warden.AuditCompleted || second.Status != warden.AuditCompleted {
		t.Fatalf("tasks %+v %+v", first, second)
	}
	clientKey := func(id string) string { r := warden.ResourceIdentifier{ClientID: id}; return r.Key() }
	for _, c := range []struct {
		task  warden.AuditTask
		check string
		want  string
	}{
		// First run: no previous run, the 31 days (the takeover at -1 h is
		// inside the conflicting window, which ends at the run).
		{first, warden.CheckDeviceCertificateShared, fmt.Sprint([]string{deviceKey("certa")})},
		{first, warden.CheckConflictingClientIDs, fmt.Sprint([]string{clientKey("id-a")})},
		// Second run: from the first run on (minus 2 h for shared): only
		// what happened since.
		{second, warden.CheckDeviceCertificateShared, fmt.Sprint([]string{deviceKey("certb")})},
		{second, warden.CheckConflictingClientIDs, fmt.Sprint([]string{clientKey("id-b")})},
	} {
		if got := fmt.Sprint(keys(f.findings(c.task.ID, c.check))); got != c.want {
			t.Errorf("%s of the run at %v: findings %s, want %s", c.check, c.task.StartTime, got, c.want)
		}
	}
}
