package audit

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/sqlstore"
	"github.com/warden-iot/warden/internal/wardentest"
)

// fx is a real store, a CRL server and a clock.
type fx struct {
	t     *testing.T
	ctx   context.Context
	store *sqlstore.DB
	clock *wardentest.Clock
	s     warden.Scope
	crls  *http.ServeMux
	srv   *httptest.Server
}

func newFx(t *testing.T) *fx {
	t.Helper()
	f := &fx{t: t, ctx: context.Background(), store: wardentest.NewStore(t), clock: wardentest.NewClock(time.Now().UTC().Truncate(time.Millisecond)),
		s: warden.Scope{Account: "123456789012", Region: "us-east-1"}, crls: http.NewServeMux()}
	f.srv = httptest.NewServer(f.crls)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fx) runner(o Options) *Runner {
	f.t.Helper()
	o.Store, o.Now = f.store, f.clock.Now
	if o.WeakKeysDir == "" {
		o.WeakKeysDir = f.t.TempDir() // empty: no Debian list
	}
	if o.CRL.Timeout == 0 {
		o.CRL.Timeout = 2 * time.Second
	}
	r, err := New(o)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// configure enables checks in the fixture's scope.
func (f *fx) configure(checks ...string) {
	f.t.Helper()
	f.configureScope(f.s, checks...)
}

// audit configures and starts an on-demand audit of checks, runs it once
// with a runner of o, and returns its task.
func (f *fx) audit(o Options, checks ...string) warden.AuditTask {
	f.t.Helper()
	f.configure(checks...)
	task := f.start(checks...)
	if err := f.runner(o).RunOnce(f.ctx); err != nil {
		f.t.Fatal(err)
	}
	return task
}

func (f *fx) start(checks ...string) warden.AuditTask {
	f.t.Helper()
	task, err := f.store.StartAuditTask(f.ctx, f.s, checks, f.clock.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return task
}

func (f *fx) task(id string) warden.AuditTask {
	f.t.Helper()
	task, err := f.store.AuditTask(f.ctx, f.s, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return task
}

func (f *fx) check(id, name string) warden.AuditCheckRun {
	f.t.Helper()
	for _, c := range f.task(id).Checks {
		if c.Name == name {
			return c
		}
	}
	f.t.Fatalf("task %s has no check %s", id, name)
	return warden.AuditCheckRun{}
}

// findings returns the task's findings of check by resource key.
func (f *fx) findings(taskID, check string) map[string]warden.AuditFinding {
	f.t.Helper()
	out := map[string]warden.AuditFinding{}
	p := warden.Page{Limit: 100}
	for {
		page, next, err := f.store.AuditFindings(f.ctx, f.s, warden.AuditFindingFilter{TaskID: taskID, CheckName: check}, p)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, fd := range page {
			out[fd.NonCompliantResource.ResourceIdentifier.Key()] = fd
		}
		if next == "" {
			return out
		}
		p.After = next
	}
}

func (f *fx) device(c *x509.Certificate, status string, caID string) string {
	f.t.Helper()
	cert := warden.NewCertificateFrom(c, status, warden.ModeDefault, f.clock.Now())
	if caID != "" {
		stored, err := f.store.RegisterCertificate(f.ctx, f.s, cert, caID)
		if err != nil {
			f.t.Fatal(err)
		}
		return stored.ID
	}
	if err := f.store.CreateCertificate(f.ctx, f.s, cert, "RegisterCertificateWithoutCA"); err != nil {
		f.t.Fatal(err)
	}
	return cert.ID
}

func (f *fx) ca(c *x509.Certificate, status string) string {
	f.t.Helper()
	ca := warden.NewCACertificateFrom(c, status, warden.ModeDefault, f.clock.Now())
	if err := f.store.RegisterCACertificate(f.ctx, f.s, ca, nil, nil); err != nil {
		f.t.Fatal(err)
	}
	return ca.ID
}

func (f *fx) serve(path string, body []byte) string {
	f.crls.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	return f.srv.URL + path
}

func (f *fx) policy(name, doc string) {
	f.t.Helper()
	if _, err := f.store.CreatePolicy(f.ctx, f.s, name, doc, nil, f.clock.Now()); err != nil {
		f.t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

func deviceKey(id string) string {
	r := warden.ResourceIdentifier{DeviceCertificateID: id}
	return r.Key()
}

func caKey(id string) string {
	r := warden.ResourceIdentifier{CACertificateID: id}
	return r.Key()
}

func policyKey(name string) string {
	r := warden.ResourceIdentifier{PolicyVersionIdentifier: &warden.PolicyVersionIdentifier{PolicyName: name, PolicyVersionID: "1"}}
	return r.Key()
}

func keys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// implementedChecks are the checks Warden can run.
func implementedChecks() []string {
	var out []string
	for _, c := range warden.AuditChecks {
		if c.Unavailable == "" {
			out = append(out, c.Name)
		}
	}
	return out
}

// TestRunnerChecks builds a registry with one violation of each check next
// to resources that violate nothing, runs an audit of every implemented
// check, and expects exactly the planted violations.
func TestRunnerChecks(t *testing.T) {
	f := newFx(t)
	now := f.clock.Now()
	year := now.Add(365 * 24 * time.Hour)

	root := newRootCA(t, "Root CA")
	rootCRLURL := f.srv.URL + "/root.crl"
	good := root.intermediate(t, "Good Intermediate", rootCRLURL)
	bad := root.intermediate(t, "Revoked Intermediate", rootCRLURL)
	goodCRLURL := f.srv.URL + "/good.crl"
	expiringCA := root.issue(t, "Expiring CA", &ecKey(t).PublicKey, true, now.Add(10*24*time.Hour))
	roca := rocaKey(t, 1024)
	rocaCA := root.issue(t, "ROCA Intermediate", &roca.PublicKey, true, year)
	rng := mrand.New(mrand.NewPCG(9, 9))

	rootID := f.ca(root.cert, warden.CertActive)
	goodID := f.ca(good.cert, warden.CertActive)
	badID := f.ca(bad.cert, warden.CertActive)
	expiringCAID := f.ca(expiringCA, warden.CertActive)
	rocaCAID := f.ca(rocaCA, warden.CertActive)
	inactiveExpiringCA := f.ca(root.issue(t, "Inactive Expiring", &ecKey(t).PublicKey, true, now.Add(24*time.Hour)), warden.CertInactive)

	d := map[string]string{}
	d["fine"] = f.device(good.issue(t, "fine", &ecKey(t).PublicKey, false, year, goodCRLURL), warden.CertActive, goodID)
	d["expiring"] = f.device(good.issue(t, "expiring", &ecKey(t).PublicKey, false, now.Add(10*24*time.Hour), goodCRLURL), warden.CertActive, goodID)
	d["expired"] = f.device(good.issue(t, "expired", &ecKey(t).PublicKey, false, now.Add(-time.Hour), goodCRLURL), warden.CertActive, goodID)
	d["expiring-inactive"] = f.device(good.issue(t, "expiring-inactive", &ecKey(t).PublicKey, false, now.Add(time.Hour), goodCRLURL), warden.CertInactive, goodID)
	revokedCert := good.issue(t, "revoked", &ecKey(t).PublicKey, false, year, goodCRLURL)
	d["revoked"] = f.device(revokedCert, warden.CertActive, goodID)
	revokedInactive := good.issue(t, "revoked-inactive", &ecKey(t).PublicKey, false, year, goodCRLURL)
	d["revoked-inactive"] = f.device(revokedInactive, warden.CertInactive, goodID)
	d["under-revoked-ca"] = f.device(bad.issue(t, "under-revoked-ca", &ecKey(t).PublicKey, false, year), warden.CertActive, badID)
	d["roca"] = f.device(good.issue(t, "roca", &rsa.PublicKey{N: rocaModulus(rng, 2048), E: 65537}, false, year, goodCRLURL), warden.CertPendingTransfer, goodID)
	old := warden.NewCertificateFrom(root.issue(t, "old", &ecKey(t).PublicKey, false, year), warden.CertActive, warden.ModeDefault, now.Add(-400*24*time.Hour))
	if err := f.store.CreateCertificate(f.ctx, f.s, old, "RegisterCertificateWithoutCA"); err != nil {
		t.Fatal(err)
	}
	d["old"] = old.ID

	f.serve("/root.crl", root.crl(t, now.Add(24*time.Hour), bad.cert.SerialNumber))
	f.serve("/good.crl", good.crl(t, now.Add(24*time.Hour), revokedCert.SerialNumber, revokedInactive.SerialNumber, big.NewInt(999999)))

	f.policy("permissive", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`)
	f.policy("scoped", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"}]}`)
	f.policy("misconfigured", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/a/b"},{"Effect":"Deny","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/a/#"}]}`)

	// Connections: "fine" is used by two devices at once 5 hours ago,
	// "expiring" reconnects alone; client id "twin" is taken over by
	// another certificate 10 minutes ago.
	ev := []warden.DataPlaneEvent{connectAt("f1", "fine-a", d["fine"], "192.0.2.1", now.Add(-6*time.Hour)),
		connectAt("f2", "fine-b", d["fine"], "192.0.2.2", now.Add(-5*time.Hour)),
		connectAt("e1", "expiring", d["expiring"], "192.0.2.3", now.Add(-7*time.Hour)),
		disconnectAt("e1", "CONNECTION_LOST", now.Add(-6*time.Hour)),
		connectAt("e2", "expiring", d["expiring"], "192.0.2.3", now.Add(-5*time.Hour))}
	f.connEvents(append(ev, takeover("tw", "twin", d["expired"], "192.0.2.4", d["old"], "192.0.2.5", now.Add(-10*time.Minute))...)...)

	checks := implementedChecks()
	f.configure(checks...)
	task := f.start(checks...)
	f.clock.Advance(time.Second)
	if err := f.runner(Options{}).RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	got := f.task(task.ID)
	if got.Status != warden.AuditCompleted {
		t.Fatalf("task status %s, want COMPLETED", got.Status)
	}

	want := map[string]struct {
		resources []string
		total     int64
		code      string
	}{
		warden.CheckDeviceCertificateExpiring:                 {[]string{deviceKey(d["expiring"]), deviceKey(d["expired"])}, 7, ""},
		warden.CheckDeviceCertificateAge:                      {[]string{deviceKey(d["old"])}, 7, ReasonPastAgeThreshold},
		warden.CheckDeviceCertificateKeyQuality:               {[]string{deviceKey(d["roca"])}, 7, ReasonROCA},
		warden.CheckRevokedDeviceCertificateStillActive:       {[]string{deviceKey(d["revoked"])}, 7, ReasonRevokedByIssuer},
		warden.CheckIntermediateCARevokedForActiveDeviceCerts: {[]string{deviceKey(d["under-revoked-ca"])}, 7, ReasonIntermediateCARevoked},
		warden.CheckCACertificateExpiring:                     {[]string{caKey(expiringCAID)}, 5, ReasonApproachingExpiration},
		warden.CheckCACertificateKeyQuality:                   {[]string{caKey(rocaCAID)}, 5, ReasonROCA},
		warden.CheckRevokedCACertificateStillActive:           {[]string{caKey(badID)}, 5, ReasonRevokedByIssuer},
		warden.CheckIoTPolicyOverlyPermissive:                 {[]string{policyKey("permissive")}, 3, ReasonBroadDataPlaneAccess},
		warden.CheckIoTPolicyPotentialMisconfiguration:        {[]string{policyKey("misconfigured")}, 3, ReasonMQTTWildcardsInDeny},
		warden.CheckLoggingDisabled:                           {[]string{(&warden.ResourceIdentifier{Account: f.s.Account}).Key()}, 1, ReasonLoggingDisabled},
		warden.CheckDeviceCertificateShared:                   {[]string{deviceKey(d["fine"])}, 2, ReasonCertificateShared},
		warden.CheckConflictingClientIDs:                      {[]string{(&warden.ResourceIdentifier{ClientID: "twin"}).Key()}, 4, ReasonDuplicateClientID},
	}
	_, _ = rootID, inactiveExpiringCA
	for _, run := range got.Checks {
		w, ok := want[run.Name]
		if !ok {
			t.Errorf("unexpected check %s in the task", run.Name)
			continue
		}
		fs := f.findings(task.ID, run.Name)
		sort.Strings(w.resources)
		if g := keys(fs); !slices.Equal(g, w.resources) {
			t.Errorf("%s: found %v, want %v", run.Name, g, w.resources)
		}
		if run.Status != warden.CheckCompletedNonCompliant || run.NonCompliantResources != int64(len(w.resources)) ||
			run.TotalResources != w.total || run.SuppressedNonCompliantResources != 0 {
			t.Errorf("%s: got %+v, want COMPLETED_NON_COMPLIANT with %d of %d", run.Name, run, len(w.resources), w.total)
		}
		info, _ := warden.AuditCheck(run.Name)
		for _, fd := range fs {
			if fd.Severity != info.Severity || fd.NonCompliantResource.ResourceType != info.ResourceType || fd.TaskID != task.ID ||
				!fd.TaskStartTime.Equal(task.StartTime) || fd.ReasonForNonCompliance == "" || !isUUID(fd.FindingID) || fd.IsSuppressed {
				t.Errorf("%s: finding %+v", run.Name, fd)
			}
			if w.code != "" && fd.ReasonForNonComplianceCode != w.code {
				t.Errorf("%s: code %s, want %s", run.Name, fd.ReasonForNonComplianceCode, w.code)
			}
		}
	}
	if len(got.Checks) != len(want) {
		t.Errorf("task has %d checks, want %d", len(got.Checks), len(want))
	}
	exp := f.findings(task.ID, warden.CheckDeviceCertificateExpiring)
	if c := exp[deviceKey(d["expired"])].ReasonForNonComplianceCode; c != ReasonPastExpiration {
		t.Errorf("expired certificate: code %s, want %s", c, ReasonPastExpiration)
	}
	if c := exp[deviceKey(d["expiring"])].ReasonForNonComplianceCode; c != ReasonApproachingExpiration {
		t.Errorf("expiring certificate: code %s, want %s", c, ReasonApproachingExpiration)
	}
	inter := f.findings(task.ID, warden.CheckIntermediateCARevokedForActiveDeviceCerts)[deviceKey(d["under-revoked-ca"])]
	if len(inter.RelatedResources) != 1 || inter.RelatedResources[0].ResourceType != warden.ResourceIssuerCertificate ||
		inter.RelatedResources[0].ResourceIdentifier.IssuerCertificateIdentifier.IssuerID != badID {
		t.Errorf("intermediate CA finding related resources = %+v, want the revoked CA %s", inter.RelatedResources, badID)
	}
	kq := f.check(task.ID, warden.CheckDeviceCertificateKeyQuality)
	if !strings.Contains(kq.Message, "CVE-2008-0166") {
		t.Errorf("key quality message %q does not say the Debian list is missing", kq.Message)
	}

	// A second scope with logging on and nothing else is compliant, and
	// sees none of the first scope's resources.
	f2 := *f
	f2.s = warden.Scope{Account: "111122223333", Region: "us-east-1"}
	if err := f.store.SetV2LoggingOptions(f.ctx, f2.s, warden.V2LoggingOptions{RoleArn: "arn:aws:iam::111122223333:role/log", DefaultLogLevel: "INFO"}, now); err != nil {
		t.Fatal(err)
	}
	f2.configure(checks...)
	task2 := f2.start(checks...)
	if err := f.runner(Options{}).RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	for _, run := range f2.task(task2.ID).Checks {
		if run.Status != warden.CheckCompletedCompliant || run.NonCompliantResources != 0 {
			t.Errorf("empty scope: %s got %+v, want COMPLETED_COMPLIANT", run.Name, run)
		}
	}
}

func isUUID(s string) bool {
	return len(s) == 36 && strings.Count(s, "-") == 4
}

func TestRunnerCRLFailures(t *testing.T) {
	f := newFx(t)
	now := f.clock.Now()
	year := now.Add(365 * 24 * time.Hour)
	root := newRootCA(t, "Root")
	other := newRootCA(t, "Root") // same name, different key
	rootID := f.ca(root.cert, warden.CertActive)
	f.serve("/forged.crl", other.crl(t, now.Add(time.Hour)))
	revoked := root.issue(t, "revoked", &ecKey(t).PublicKey, false, year, f.srv.URL+"/ok.crl")
	f.serve("/ok.crl", root.crl(t, now.Add(time.Hour), revoked.SerialNumber))
	revokedID := f.device(revoked, warden.CertActive, rootID)
	f.device(root.issue(t, "missing", &ecKey(t).PublicKey, false, year, f.srv.URL+"/missing.crl"), warden.CertActive, rootID)
	f.device(root.issue(t, "forged", &ecKey(t).PublicKey, false, year, f.srv.URL+"/forged.crl"), warden.CertActive, rootID)

	check := warden.CheckRevokedDeviceCertificateStillActive
	task := f.audit(Options{}, check, warden.CheckLoggingDisabled)
	run := f.check(task.ID, check)
	if run.Status != warden.CheckFailed || run.ErrorCode != warden.CheckErrorCRLUnavailable {
		t.Fatalf("got %+v, want FAILED with %s", run, warden.CheckErrorCRLUnavailable)
	}
	for _, want := range []string{"/missing.crl: the endpoint answered with HTTP status 4xx", "/forged.crl: the CRL is not signed by the issuing CA certificate " + rootID} {
		if !strings.Contains(run.Message, want) {
			t.Errorf("message %q does not say %q", run.Message, want)
		}
	}
	// What the usable CRL revealed is kept.
	if fs := f.findings(task.ID, check); len(fs) != 1 || fs[deviceKey(revokedID)].CheckName != check {
		t.Errorf("findings %v, want the revoked certificate only", keys(fs))
	}
	if got := f.task(task.ID); got.Status != warden.AuditCompleted || got.Statistics().FailedChecks != 1 {
		t.Errorf("task %+v, want COMPLETED with 1 failed check", got)
	}
}

func TestRunnerSuppressions(t *testing.T) {
	f := newFx(t)
	now := f.clock.Now()
	root := newRootCA(t, "Root")
	a := f.device(root.issue(t, "a", &ecKey(t).PublicKey, false, now.Add(24*time.Hour)), warden.CertActive, "")
	b := f.device(root.issue(t, "b", &ecKey(t).PublicKey, false, now.Add(48*time.Hour)), warden.CertActive, "")
	check := warden.CheckDeviceCertificateExpiring
	f.configure(check)
	if err := f.store.CreateAuditSuppression(f.ctx, f.s, warden.AuditSuppression{CheckName: check,
		Resource: warden.ResourceIdentifier{DeviceCertificateID: strings.ToUpper(a)}, SuppressIndefinitely: true}, "t1", now); err != nil {
		t.Fatal(err)
	}
	// One that has expired by the time the audit runs does not apply.
	if err := f.store.CreateAuditSuppression(f.ctx, f.s, warden.AuditSuppression{CheckName: check,
		Resource: warden.ResourceIdentifier{DeviceCertificateID: b}, ExpirationDate: now.Add(time.Minute)}, "t2", now); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute)
	task := f.start(check)
	if err := f.runner(Options{}).RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	run := f.check(task.ID, check)
	if run.Status != warden.CheckCompletedNonCompliant || run.NonCompliantResources != 1 || run.SuppressedNonCompliantResources != 1 || run.TotalResources != 2 {
		t.Errorf("got %+v, want 1 noncompliant and 1 suppressed of 2", run)
	}
	fs := f.findings(task.ID, check)
	if !fs[deviceKey(a)].IsSuppressed || fs[deviceKey(b)].IsSuppressed {
		t.Errorf("isSuppressed: a=%v b=%v, want true, false", fs[deviceKey(a)].IsSuppressed, fs[deviceKey(b)].IsSuppressed)
	}

	// With every finding suppressed the check is compliant.
	if err := f.store.UpdateAuditSuppression(f.ctx, f.s, check, warden.ResourceIdentifier{DeviceCertificateID: b},
		warden.AuditSuppressionUpdate{SuppressIndefinitely: ptr(true)}, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	task = f.start(check)
	if err := f.runner(Options{}).RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	if run := f.check(task.ID, check); run.Status != warden.CheckCompletedCompliant || run.SuppressedNonCompliantResources != 2 {
		t.Errorf("got %+v, want COMPLETED_COMPLIANT with 2 suppressed", run)
	}
}

// TestRunnerCrashRecovery: a runner that dies (its lease expires) leaves a
// task that the next runner starts over, without duplicate findings; the
// dead runner's late writes are refused.
func TestRunnerCrashRecovery(t *testing.T) {
	f := newFx(t)
	now := f.clock.Now()
	root := newRootCA(t, "Root")
	for i := range 3 {
		f.device(root.issue(t, "c"+string(rune('0'+i)), &ecKey(t).PublicKey, false, now.Add(time.Hour)), warden.CertActive, "")
	}
	check := warden.CheckDeviceCertificateExpiring
	f.configure(check)
	task := f.start(check)

	dead, ok, err := f.store.ClaimAuditTask(f.ctx, "dead-runner", 30*time.Second, 3, 0, f.clock.Now())
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	partial := []warden.AuditFinding{{FindingID: warden.NewUUID(), TaskID: task.ID, CheckName: check, TaskStartTime: task.StartTime,
		FindingTime: now, Severity: warden.SeverityMedium, NonCompliantResource: warden.NonCompliantResource{ResourceType: warden.ResourceDeviceCertificate,
			ResourceIdentifier: warden.ResourceIdentifier{DeviceCertificateID: strings.Repeat("a", 64)}}, ReasonForNonCompliance: "partial", ReasonForNonComplianceCode: "X"}}
	if held, err := f.store.RecordAuditProgress(f.ctx, &dead, partial, nil); err != nil || !held {
		t.Fatalf("dead runner's write before dying: held=%v err=%v", held, err)
	}

	r := f.runner(Options{Lease: 30 * time.Second})
	f.clock.Advance(10 * time.Second)
	if err := r.RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	if st := f.task(task.ID).Status; st != warden.AuditInProgress {
		t.Fatalf("while the lease holds: status %s, want IN_PROGRESS", st)
	}
	f.clock.Advance(21 * time.Second)
	if err := r.RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	got := f.task(task.ID)
	if got.Status != warden.AuditCompleted {
		t.Fatalf("after the lease expired: status %s, want COMPLETED", got.Status)
	}
	fs := f.findings(task.ID, check)
	if len(fs) != 3 {
		t.Errorf("findings %d, want 3 (the partial one deleted, none twice)", len(fs))
	}
	if run := f.check(task.ID, check); run.NonCompliantResources != 3 || run.TotalResources != 3 {
		t.Errorf("check %+v, want 3 of 3", run)
	}
	if held, err := f.store.RecordAuditProgress(f.ctx, &dead, partial, nil); err != nil || held {
		t.Errorf("dead runner's late write: held=%v err=%v, want refused", held, err)
	}
	if held, _, err := f.store.FinishAuditTask(f.ctx, &dead, warden.AuditFailed, f.clock.Now()); err != nil || held {
		t.Errorf("dead runner's late finish: held=%v err=%v, want refused", held, err)
	}
	if len(f.findings(task.ID, check)) != 3 {
		t.Error("the refused write changed the findings")
	}
}

// TestRunnerGivesUp: a task whose runners keep dying is marked FAILED
// rather than left IN_PROGRESS forever.
func TestRunnerGivesUp(t *testing.T) {
	f := newFx(t)
	f.configure(warden.CheckLoggingDisabled)
	task := f.start(warden.CheckLoggingDisabled)
	for i := range 3 {
		c, ok, err := f.store.ClaimAuditTask(f.ctx, "crashing", time.Second, 3, 0, f.clock.Now())
		if err != nil || !ok || c.Attempt != i+1 {
			t.Fatalf("claim %d: ok=%v attempt=%d err=%v", i+1, ok, c.Attempt, err)
		}
		f.clock.Advance(2 * time.Second)
	}
	if err := f.runner(Options{MaxAttempts: 3}).RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	got := f.task(task.ID)
	run := f.check(task.ID, warden.CheckLoggingDisabled)
	if got.Status != warden.AuditFailed || run.Status != warden.CheckFailed || run.ErrorCode != warden.CheckErrorInterrupted {
		t.Errorf("task %s, check %+v; want FAILED with %s", got.Status, run, warden.CheckErrorInterrupted)
	}
}

// TestRunnerCancelWhileRunning cancels a task whose second check waits on a
// CRL: progress is visible meanwhile, the finished check keeps its result,
// the other is CANCELED with no findings, and the runner stops writing.
func TestRunnerCancelWhileRunning(t *testing.T) {
	f := newFx(t)
	now := f.clock.Now()
	root := newRootCA(t, "Root")
	blocked := make(chan struct{})
	entered := make(chan struct{}, 1)
	f.crls.HandleFunc("/slow.crl", func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-blocked
		w.Write(root.crl(t, now.Add(time.Hour)))
	})
	rootID := f.ca(root.cert, warden.CertActive)
	f.device(root.issue(t, "d", &ecKey(t).PublicKey, false, now.Add(time.Hour), f.srv.URL+"/slow.crl"), warden.CertActive, rootID)
	f.configure(warden.CheckLoggingDisabled, warden.CheckRevokedDeviceCertificateStillActive, warden.CheckCACertificateExpiring)
	task := f.start(warden.CheckRevokedDeviceCertificateStillActive, warden.CheckCACertificateExpiring)
	done := make(chan error)
	go func() { done <- f.runner(Options{}).RunOnce(f.ctx) }()
	<-entered
	mid := f.task(task.ID)
	if st := mid.Statistics(); mid.Status != warden.AuditInProgress || st.CompliantChecks != 1 || st.InProgressChecks != 1 {
		t.Errorf("while running: %s %+v, want IN_PROGRESS with 1 compliant and 1 in progress", mid.Status, st)
	}
	if err := f.store.CancelAuditTask(f.ctx, f.s, task.ID, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	close(blocked)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := f.task(task.ID)
	st := got.Statistics()
	if got.Status != warden.AuditCanceled || st.CanceledChecks != 1 || st.CompliantChecks != 1 {
		t.Errorf("after cancel: %s %+v, want CANCELED with 1 canceled and 1 compliant check", got.Status, st)
	}
	if run := f.check(task.ID, warden.CheckRevokedDeviceCertificateStillActive); run.Status != warden.CheckCanceled {
		t.Errorf("the unfinished check is %s, want CANCELED", run.Status)
	}
	if err := f.store.CancelAuditTask(f.ctx, f.s, task.ID, f.clock.Now()); warden.ErrorCode(err) != warden.CodeInvalidRequest {
		t.Errorf("cancel twice: got %v, want InvalidRequest", err)
	}
}

// TestRunnerStopReleases: a runner stopped while an audit runs releases it,
// and the next runner takes it at once and finishes it.
func TestRunnerStopReleases(t *testing.T) {
	f := newFx(t)
	now := f.clock.Now()
	root := newRootCA(t, "Root")
	blocked := make(chan struct{})
	entered := make(chan struct{}, 1)
	f.crls.HandleFunc("/slow.crl", func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-blocked:
		case <-r.Context().Done():
			return
		}
		w.Write(root.crl(t, now.Add(time.Hour)))
	})
	rootID := f.ca(root.cert, warden.CertActive)
	f.device(root.issue(t, "d", &ecKey(t).PublicKey, false, now.Add(time.Hour), f.srv.URL+"/slow.crl"), warden.CertActive, rootID)
	check := warden.CheckRevokedDeviceCertificateStillActive
	f.configure(check)
	task := f.start(check)
	r := f.runner(Options{PollInterval: 10 * time.Millisecond})
	r.Start()
	<-entered
	r.Stop()
	if st := f.task(task.ID).Status; st != warden.AuditInProgress {
		t.Fatalf("after stop: %s, want IN_PROGRESS", st)
	}
	close(blocked)
	// No time passes: the lease was released, not left to expire.
	if err := f.runner(Options{}).RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	if run := f.check(task.ID, check); f.task(task.ID).Status != warden.AuditCompleted || run.Status != warden.CheckCompletedCompliant {
		t.Errorf("after restart: task %s check %+v, want COMPLETED/COMPLETED_COMPLIANT", f.task(task.ID).Status, run)
	}
}

// TestRunnerBackground: a started runner picks up new tasks by itself.
func TestRunnerBackground(t *testing.T) {
	f := newFx(t)
	f.configure(warden.CheckLoggingDisabled)
	r := f.runner(Options{PollInterval: 10 * time.Millisecond})
	r.Start()
	defer r.Stop()
	task := f.start(warden.CheckLoggingDisabled)
	deadline := time.Now().Add(10 * time.Second)
	for f.task(task.ID).Status == warden.AuditInProgress {
		if time.Now().After(deadline) {
			t.Fatal("the background runner did not finish the task within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := f.task(task.ID).Status; st != warden.AuditCompleted {
		t.Errorf("status %s, want COMPLETED", st)
	}
}

// TestScheduledAuditsFireOnce: each occurrence fires exactly once, across
// runner restarts and concurrent runners.
func TestScheduledAuditsFireOnce(t *testing.T) {
	f := newFx(t)
	f.clock.Set(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	f.configure(warden.CheckLoggingDisabled)
	a := warden.ScheduledAudit{Name: "nightly", Frequency: warden.FrequencyDaily, TargetCheckNames: []string{warden.CheckLoggingDisabled},
		Anchor: f.clock.Now(), CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()}
	if err := f.store.CreateScheduledAudit(f.ctx, f.s, a, nil); err != nil {
		t.Fatal(err)
	}
	count := func() []warden.AuditTask {
		tasks, _, err := f.store.AuditTasks(f.ctx, f.s, warden.AuditTaskFilter{Start: time.Unix(0, 0), End: f.clock.Now().Add(time.Hour)}, warden.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return tasks
	}
	if err := f.runner(Options{}).RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(count()); n != 0 {
		t.Fatalf("before the first midnight: %d tasks, want 0", n)
	}
	f.clock.Set(time.Date(2026, 11, 26, 0, 0, 5, 0, time.UTC))
	var wg sync.WaitGroup
	for range 4 { // four runners (processes) at the same moment
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.runner(Options{}).RunOnce(f.ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	tasks := count()
	if len(tasks) != 1 {
		t.Fatalf("after the first midnight: %d tasks, want 1", len(tasks))
	}
	got := f.task(tasks[0].ID)
	if got.Type != warden.AuditScheduled || got.ScheduledAuditName != "nightly" || got.Status != warden.AuditCompleted {
		t.Errorf("scheduled task %+v", got)
	}
	// A restart later that day fires nothing new.
	f.clock.Set(time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC))
	if err := f.runner(Options{}).RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(count()); n != 1 {
		t.Fatalf("restart on the same day: %d tasks, want 1", n)
	}
	// Three days of downtime: one audit, not three.
	f.clock.Set(time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC))
	r := f.runner(Options{})
	for range 3 {
		if err := r.RunOnce(f.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(count()); n != 2 {
		t.Fatalf("after three days down: %d tasks, want 2", n)
	}
}

func TestAuditNotification(t *testing.T) {
	f := newFx(t)
	if _, _, err := f.store.CreateTopic(f.ctx, f.s, warden.Topic{Name: "audits"}, nil); err != nil {
		t.Fatal(err)
	}
	topic := "arn:aws:sns:us-east-1:123456789012:audits"
	f.configure(warden.CheckLoggingDisabled)
	if err := f.store.UpdateAuditConfiguration(f.ctx, f.s, warden.AuditConfigurationUpdate{
		SNS: &warden.AuditNotificationTarget{TargetArn: topic, RoleArn: "arn:aws:iam::123456789012:role/sns", Enabled: true}}, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	published := 0
	task := f.start(warden.CheckLoggingDisabled)
	if err := f.runner(Options{OnPublish: func() { published++ }}).RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	msgs, err := f.store.RecentSNSMessages(f.ctx, f.s, "audits", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || published != 1 {
		t.Fatalf("%d messages, OnPublish called %d times; want 1 and 1", len(msgs), published)
	}
	var m warden.AuditSummary
	if err := json.Unmarshal([]byte(msgs[0].Message), &m); err != nil {
		t.Fatal(err)
	}
	if m.TaskID != task.ID || m.TaskStatus != warden.AuditCompleted || m.AccountID != f.s.Account || m.NonCompliantChecksCount != 1 ||
		len(m.AuditDetails) != 1 || m.AuditDetails[0].CheckName != warden.CheckLoggingDisabled || m.AuditDetails[0].NonCompliantResourcesCount != 1 {
		t.Errorf("summary %+v", m)
	}
	// A canceled audit is announced too.
	task = f.start(warden.CheckLoggingDisabled)
	if err := f.store.CancelAuditTask(f.ctx, f.s, task.ID, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	msgs, _ = f.store.RecentSNSMessages(f.ctx, f.s, "audits", 0, 10)
	if len(msgs) != 2 || !strings.Contains(msgs[1].Message, `"taskStatus":"CANCELED"`) {
		t.Errorf("after cancel: %d messages, last %q", len(msgs), msgs[len(msgs)-1].Message)
	}
	// A deleted topic does not make the audit fail.
	if err := f.store.DeleteTopic(f.ctx, f.s, "audits", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	task = f.start(warden.CheckLoggingDisabled)
	if err := f.runner(Options{}).RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	if st := f.task(task.ID).Status; st != warden.AuditCompleted {
		t.Errorf("with the topic gone: %s, want COMPLETED", st)
	}
}

func TestPurgeAfterRetention(t *testing.T) {
	f := newFx(t)
	f.configure(warden.CheckLoggingDisabled)
	old := f.start(warden.CheckLoggingDisabled)
	if err := f.runner(Options{}).RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	if len(f.findings(old.ID, "")) != 1 {
		t.Fatal("no finding to purge")
	}
	f.clock.Advance(warden.AuditRetention - time.Hour)
	recent := f.start(warden.CheckLoggingDisabled)
	f.clock.Advance(2 * time.Hour)
	if err := f.runner(Options{}).RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.AuditTask(f.ctx, f.s, old.ID); warden.ErrorCode(err) != warden.CodeResourceNotFound {
		t.Errorf("task older than 90 days: got %v, want it gone", err)
	}
	if n := len(f.findings(old.ID, "")); n != 0 {
		t.Errorf("%d findings of the old task remain", n)
	}
	if f.task(recent.ID).Status != warden.AuditCompleted || len(f.findings(recent.ID, "")) != 1 {
		t.Error("the recent task or its finding was purged")
	}
}
