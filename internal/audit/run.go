package audit

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/warden-iot/warden"
)

// errLost means the runner no longer holds the task: it was canceled, or
// another runner took it over after this one's lease expired.
var errLost = errors.New("audit task lease lost")

// activeStatuses are the certificate statuses the certificate checks apply to.
var activeStatuses = []string{warden.CertActive, warden.CertPendingTransfer}

// run is one execution of a claimed audit task.
type run struct {
	r *Runner
	// ctx is the task's: writes use it. phase is ctx with the deadline of
	// the checks that run now: reads and CRL fetches use it.
	ctx   context.Context
	phase context.Context
	claim *warden.AuditTaskClaim
	s     warden.Scope
	cfg   warden.AuditConfiguration
	// checks are the task's checks that still have to run, by name.
	checks map[string]*warden.AuditCheckRun
	// suppressed holds check NUL resource key of the active suppressions.
	suppressed map[string]bool
	pending    []warden.AuditFinding

	// From the CA phase, for the device phase.
	cas          []warden.CACertificate
	caCerts      map[string]*x509.Certificate // by id, parsed on demand
	revokedCAs   map[string]caRevocation      // by id
	caCRLFailure map[string]string            // by id: why its revocation is unknown
	verified     map[string]error             // CRL URL NUL issuer → verification result
}

type caRevocation struct {
	url string
	at  time.Time
}

func (r *run) wants(names ...string) bool {
	for _, n := range names {
		if c := r.checks[n]; c != nil && !c.Done() {
			return true
		}
	}
	return false
}

// execute runs every check of the task and finishes it. It returns errLost
// when the task was taken away, and other errors when the store failed (the
// task is then left to be claimed again).
func (r *run) execute() error {
	cfg, _, err := r.r.store.AuditConfiguration(r.ctx, r.s)
	if err != nil {
		return err
	}
	r.cfg = cfg
	sups, err := r.r.store.AllAuditSuppressions(r.ctx, r.s)
	if err != nil {
		return err
	}
	now := r.r.now()
	r.suppressed = map[string]bool{}
	for _, s := range sups {
		if s.ActiveAt(now) {
			r.suppressed[s.CheckName+"\x00"+s.Resource.Key()] = true
		}
	}
	r.checks = map[string]*warden.AuditCheckRun{}
	for i := range r.claim.Task.Checks {
		c := r.claim.Task.Checks[i]
		if c.Done() {
			continue
		}
		if info, ok := warden.AuditCheck(c.Name); !ok || info.Unavailable != "" || !r.cfg.Enabled(c.Name) {
			c.Status, c.ErrorCode = warden.CheckFailed, warden.CheckErrorDisabled
			c.Message = "The check is not enabled in the account's audit configuration."
			if info.Unavailable != "" {
				c.Message = "Warden cannot run this check: it " + info.Unavailable + "."
			}
			if err := r.flush([]*warden.AuditCheckRun{&c}); err != nil {
				return err
			}
			continue
		}
		r.checks[c.Name] = &c
	}
	phases := []struct {
		checks []string
		fn     func() error
	}{
		{[]string{warden.CheckCACertificateExpiring, warden.CheckCACertificateKeyQuality, warden.CheckRevokedCACertificateStillActive}, r.caPhase},
		{[]string{warden.CheckDeviceCertificateExpiring, warden.CheckDeviceCertificateAge, warden.CheckDeviceCertificateKeyQuality,
			warden.CheckRevokedDeviceCertificateStillActive, warden.CheckIntermediateCARevokedForActiveDeviceCerts}, r.devicePhase},
		{[]string{warden.CheckIoTPolicyOverlyPermissive, warden.CheckIoTPolicyPotentialMisconfiguration}, r.policyPhase},
		{[]string{warden.CheckLoggingDisabled}, r.loggingPhase},
		{[]string{warden.CheckDeviceCertificateShared, warden.CheckConflictingClientIDs}, r.connectionPhase},
	}
	for _, p := range phases {
		if !r.wants(p.checks...) {
			continue
		}
		var cancel context.CancelFunc
		r.phase, cancel = context.WithTimeout(r.ctx, r.r.checkTime)
		err := p.fn()
		timedOut := errors.Is(r.phase.Err(), context.DeadlineExceeded)
		cancel()
		if errors.Is(err, errLost) || r.ctx.Err() != nil {
			if err == nil {
				err = r.ctx.Err()
			}
			return err
		}
		if timedOut {
			if err := r.timedOut(p.checks); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			r.r.log.Error("audit check failed", "task_id", r.claim.Task.ID, "account", r.s.Account, "checks", p.checks, "err", err.Error())
			r.pending = nil
			var failed []*warden.AuditCheckRun
			for _, name := range p.checks {
				if c := r.checks[name]; c != nil && !c.Done() {
					c.Status, c.ErrorCode = warden.CheckFailed, warden.CheckErrorInternal
					c.Message = "The check could not read the registry: " + truncate(err.Error(), 1500)
					failed = append(failed, c)
				}
			}
			if err := r.flush(failed); err != nil {
				return err
			}
		}
	}
	held, published, err := r.r.store.FinishAuditTask(r.ctx, r.claim, warden.AuditCompleted, r.r.now())
	if err != nil {
		return err
	}
	if !held {
		return errLost
	}
	if published && r.r.onPublish != nil {
		r.r.onPublish()
	}
	return nil
}

// timedOut ends the unfinished ones of checks, which ran past the time
// limit, as FAILED; what they found so far is kept.
func (r *run) timedOut(checks []string) error {
	var failed []*warden.AuditCheckRun
	var names []string
	for _, name := range checks {
		if c := r.checks[name]; c != nil && !c.Done() {
			c.Status, c.ErrorCode = warden.CheckFailed, warden.CheckErrorTimeout
			c.Message = fmt.Sprintf("The check did not finish within %v, the server's time limit for one check, and was stopped; "+
				"resources it examined before are counted. Slow or unresponsive CRL distribution points are the usual cause.", r.r.checkTime)
			failed = append(failed, c)
			names = append(names, name)
		}
	}
	if len(failed) == 0 {
		return nil // they finished just in time
	}
	r.r.log.Warn("audit check timed out", "task_id", r.claim.Task.ID, "account", r.s.Account, "checks", names, "limit", r.r.checkTime.String())
	return r.flush(failed)
}

// add records that check found res noncompliant.
func (r *run) add(check string, res warden.NonCompliantResource, v Verdict) error {
	c := r.checks[check]
	info, _ := warden.AuditCheck(check)
	suppressed := r.suppressed[check+"\x00"+res.ResourceIdentifier.Key()]
	if suppressed {
		c.SuppressedNonCompliantResources++
	} else {
		c.NonCompliantResources++
	}
	res.AdditionalInfo = v.Info
	r.pending = append(r.pending, warden.AuditFinding{
		FindingID: warden.NewUUID(), TaskID: r.claim.Task.ID, CheckName: check, TaskStartTime: r.claim.Task.StartTime,
		FindingTime: r.r.now(), Severity: info.Severity, NonCompliantResource: res, RelatedResources: v.Related,
		ReasonForNonCompliance: v.Reason, ReasonForNonComplianceCode: v.Code, IsSuppressed: suppressed,
	})
	return nil
}

// progress flushes the pending findings with the counts of checks so far
// once enough findings are pending.
func (r *run) progress(names ...string) error {
	if len(r.pending) < r.r.flushEvery {
		return r.phase.Err()
	}
	var runs []*warden.AuditCheckRun
	for _, n := range names {
		if c := r.checks[n]; c != nil && !c.Done() {
			runs = append(runs, c)
		}
	}
	return r.flush(runs)
}

// flush writes the pending findings and the given checks in one transaction.
func (r *run) flush(checks []*warden.AuditCheckRun) error {
	runs := make([]warden.AuditCheckRun, len(checks))
	for i, c := range checks {
		runs[i] = *c
	}
	held, err := r.r.store.RecordAuditProgress(r.ctx, r.claim, r.pending, runs)
	if err != nil {
		return err
	}
	if !held {
		return errLost
	}
	r.pending = r.pending[:0]
	return nil
}

// finish gives each named check its final status and writes it with the
// pending findings. failures maps a check to why it could not tell (the
// check is then FAILED, keeping what it found).
func (r *run) finish(failures map[string]string, names ...string) error {
	var runs []*warden.AuditCheckRun
	for _, n := range names {
		c := r.checks[n]
		if c == nil || c.Done() {
			continue
		}
		switch {
		case failures[n] != "":
			c.Status, c.ErrorCode, c.Message = warden.CheckFailed, warden.CheckErrorCRLUnavailable, truncate(failures[n], 2048)
		case c.NonCompliantResources > 0:
			c.Status = warden.CheckCompletedNonCompliant
		default:
			c.Status = warden.CheckCompletedCompliant
		}
		if (n == warden.CheckDeviceCertificateKeyQuality || n == warden.CheckCACertificateKeyQuality) && r.r.weakKeys.Len() == 0 && c.Message == "" {
			c.Message = "Only CVE-2017-15361 (ROCA) was tested: the Debian weak-key list (CVE-2008-0166) is not installed in " + r.r.weakKeysDir + "."
		}
		runs = append(runs, c)
	}
	return r.flush(runs)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func isActive(status string) bool {
	return status == warden.CertActive || status == warden.CertPendingTransfer
}

// ---------------------------------------------------------------- CA certificates

func (r *run) caPhase() error {
	r.caCerts = map[string]*x509.Certificate{}
	r.revokedCAs = map[string]caRevocation{}
	r.caCRLFailure = map[string]string{}
	r.verified = map[string]error{}
	if err := r.r.store.ScanAuditCACertificates(r.phase, r.s, func(c *warden.CACertificate) error {
		r.cas = append(r.cas, *c)
		return nil
	}); err != nil {
		return err
	}
	expiring, keys := warden.CheckCACertificateExpiring, warden.CheckCACertificateKeyQuality
	threshold := r.cfg.Checks[expiring].Days(expiring, warden.ConfigCertExpirationThresholdInDays)
	now := r.r.now()
	for i := range r.cas {
		ca := &r.cas[i]
		if !isActive(ca.Status) {
			continue
		}
		res := warden.NonCompliantResource{ResourceType: warden.ResourceCACertificate, ResourceIdentifier: warden.ResourceIdentifier{CACertificateID: ca.ID}}
		if r.wants(expiring) {
			r.checks[expiring].TotalResources++
			if v, bad := CertificateExpiring(ca.NotAfter, now, threshold); bad {
				if err := r.add(expiring, res, v); err != nil {
					return err
				}
			}
		}
		if r.wants(keys) {
			r.checks[keys].TotalResources++
			if v, bad := KeyQuality(ca.Facts.KeyAlgorithm, ca.Facts.PublicKey, r.r.weakKeys); bad {
				if err := r.add(keys, res, v); err != nil {
					return err
				}
			}
		}
	}
	if err := r.finish(nil, expiring, keys); err != nil {
		return err
	}
	if !r.wants(warden.CheckRevokedCACertificateStillActive, warden.CheckIntermediateCARevokedForActiveDeviceCerts) {
		return nil
	}
	// A CA's revocation is on the CRL of its issuer; a self-signed root has
	// none that could revoke it.
	var urls []string
	for i := range r.cas {
		if ca := &r.cas[i]; ca.Facts.Issuer != ca.Facts.Subject {
			urls = append(urls, ca.Facts.ConsultedCRLDistributionPoints()...)
		}
	}
	crls := r.r.prefetch(r.phase, r.s.Account, urls)
	if err := r.phase.Err(); err != nil {
		return err
	}
	for i := range r.cas {
		ca := &r.cas[i]
		if ca.Facts.Issuer == ca.Facts.Subject {
			continue
		}
		var problems []string
		for _, u := range ca.Facts.ConsultedCRLDistributionPoints() {
			res := crls[u]
			if res.err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", u, res.err))
				continue
			}
			issuer, issuerName := r.issuerOfCA(ca)
			if err := r.verifyCRL(res.crl, issuer, issuerName, ca.Facts.Issuer); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", u, err))
				continue
			}
			if at, ok := res.crl.Revoked[ca.Facts.Serial]; ok {
				r.revokedCAs[ca.ID] = caRevocation{url: u, at: at}
			}
		}
		if len(problems) > 0 {
			r.caCRLFailure[ca.ID] = strings.Join(problems, "; ")
		}
	}
	check := warden.CheckRevokedCACertificateStillActive
	if !r.wants(check) {
		return nil
	}
	var problems []string
	for i := range r.cas {
		ca := &r.cas[i]
		if !isActive(ca.Status) {
			continue
		}
		r.checks[check].TotalResources++
		if p := r.caCRLFailure[ca.ID]; p != "" {
			problems = append(problems, p)
		}
		rev, ok := r.revokedCAs[ca.ID]
		if !ok {
			continue
		}
		res := warden.NonCompliantResource{ResourceType: warden.ResourceCACertificate, ResourceIdentifier: warden.ResourceIdentifier{CACertificateID: ca.ID}}
		if err := r.add(check, res, Verdict{Code: ReasonRevokedByIssuer,
			Reason: fmt.Sprintf("The CA certificate (serial %s) was revoked by its issuer on %s, as the CRL at %s says, but it is %s in Warden.",
				ca.Facts.Serial, stamp(rev.at), rev.url, ca.Status),
			Info: map[string]string{"CRL_URL": rev.url, "REVOCATION_TIME": fmt.Sprint(rev.at.UnixMilli())}}); err != nil {
			return err
		}
	}
	return r.finish(crlFailures(check, problems), check)
}

// crlFailures is the failure map of finish for CRLs that could not be used.
func crlFailures(check string, problems []string) map[string]string {
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	uniq := problems[:0]
	for i, p := range problems {
		if i == 0 || p != problems[i-1] {
			uniq = append(uniq, p)
		}
	}
	return map[string]string{check: fmt.Sprintf("Could not use %d CRL(s), so revocations they list may be missed: %s", len(uniq), strings.Join(uniq, "; "))}
}

// issuerOfCA is the registered CA that issued ca, if any.
func (r *run) issuerOfCA(ca *warden.CACertificate) (*x509.Certificate, string) {
	for i := range r.cas {
		if other := &r.cas[i]; other.ID != ca.ID && other.Facts.Subject == ca.Facts.Issuer {
			if c := r.parsedCA(other); c != nil {
				return c, other.ID
			}
		}
	}
	return nil, ""
}

func (r *run) parsedCA(ca *warden.CACertificate) *x509.Certificate {
	if c, ok := r.caCerts[ca.ID]; ok {
		return c
	}
	c, err := warden.ParseCertificatePEM("CA certificate", ca.PEM)
	if err != nil {
		c = nil
	}
	r.caCerts[ca.ID] = c
	return c
}

// verifyCRL checks that crl comes from the certificate's issuer: its
// signature when the issuer is a registered CA, else its issuer name.
func (r *run) verifyCRL(crl *CRL, issuer *x509.Certificate, issuerID, issuerDN string) error {
	key := crl.URL + "\x00" + issuerID + "\x00" + issuerDN
	if err, ok := r.verified[key]; ok {
		return err
	}
	var err error
	if issuer != nil {
		if crl.List.CheckSignatureFrom(issuer) != nil {
			err = fmt.Errorf("the CRL is not signed by the issuing CA certificate %s", issuerID)
		}
	} else if got := crl.List.Issuer.String(); got != issuerDN {
		err = fmt.Errorf("the CRL is issued by %q, not by the certificate's issuer %q", got, issuerDN)
	}
	r.verified[key] = err
	return err
}

// ---------------------------------------------------------------- device certificates

func (r *run) devicePhase() error {
	const (
		expiring     = warden.CheckDeviceCertificateExpiring
		age          = warden.CheckDeviceCertificateAge
		keys         = warden.CheckDeviceCertificateKeyQuality
		revoked      = warden.CheckRevokedDeviceCertificateStillActive
		intermediate = warden.CheckIntermediateCARevokedForActiveDeviceCerts
	)
	names := []string{expiring, age, keys, revoked, intermediate}
	if r.caCerts == nil {
		// The CA phase did not run: the revocation checks still need the CAs.
		r.caCerts, r.verified = map[string]*x509.Certificate{}, map[string]error{}
		if r.wants(revoked) {
			if err := r.r.store.ScanAuditCACertificates(r.phase, r.s, func(c *warden.CACertificate) error {
				r.cas = append(r.cas, *c)
				return nil
			}); err != nil {
				return err
			}
		}
	}
	caByID := map[string]*warden.CACertificate{}
	for i := range r.cas {
		caByID[r.cas[i].ID] = &r.cas[i]
	}
	var crls map[string]crlResult
	if r.wants(revoked) {
		urls, err := r.r.store.AuditCRLDistributionPoints(r.phase, r.s, activeStatuses)
		if err != nil {
			return err
		}
		crls = r.r.prefetch(r.phase, r.s.Account, urls)
		if r.ctx.Err() == nil && errors.Is(r.phase.Err(), context.DeadlineExceeded) {
			// The CRLs took all the time: that check fails, and the others
			// of this pass get theirs.
			if err := r.timedOut([]string{revoked}); err != nil {
				return err
			}
			phase, cancel := context.WithTimeout(r.ctx, r.r.checkTime)
			defer cancel()
			r.phase = phase
		}
	}
	expiryDays := r.cfg.Checks[expiring].Days(expiring, warden.ConfigCertExpirationThresholdInDays)
	ageDays := r.cfg.Checks[age].Days(age, warden.ConfigCertAgeThresholdInDays)
	want := map[string]bool{}
	for _, n := range names {
		want[n] = r.wants(n)
	}
	now := r.r.now()
	revokedProblems := map[string]bool{}
	intermediateProblems := map[string]bool{}
	err := r.r.store.ScanAuditCertificates(r.phase, r.s, activeStatuses, func(c *warden.Certificate) error {
		res := warden.NonCompliantResource{ResourceType: warden.ResourceDeviceCertificate,
			ResourceIdentifier: warden.ResourceIdentifier{DeviceCertificateID: c.ID}}
		if want[expiring] {
			r.checks[expiring].TotalResources++
			if v, bad := CertificateExpiring(c.NotAfter, now, expiryDays); bad {
				if err := r.add(expiring, res, v); err != nil {
					return err
				}
			}
		}
		if want[age] {
			r.checks[age].TotalResources++
			if v, bad := CertificateAge(c.CreationDate, now, ageDays); bad {
				if err := r.add(age, res, v); err != nil {
					return err
				}
			}
		}
		if want[keys] {
			r.checks[keys].TotalResources++
			if v, bad := KeyQuality(c.Facts.KeyAlgorithm, c.Facts.PublicKey, r.r.weakKeys); bad {
				if err := r.add(keys, res, v); err != nil {
					return err
				}
			}
		}
		if want[revoked] {
			r.checks[revoked].TotalResources++
			if v, bad := r.deviceRevoked(c, crls, caByID, revokedProblems); bad {
				if err := r.add(revoked, res, v); err != nil {
					return err
				}
			}
		}
		if want[intermediate] {
			r.checks[intermediate].TotalResources++
			if p := r.caCRLFailure[c.CACertificateID]; p != "" {
				intermediateProblems[p] = true
			}
			if rev, ok := r.revokedCAs[c.CACertificateID]; ok {
				ca := caByID[c.CACertificateID]
				v := Verdict{Code: ReasonIntermediateCARevoked,
					Reason: fmt.Sprintf("The certificate is %s, but its issuing CA %s (certificate %s) was revoked by its own issuer on %s, as the CRL at %s says.",
						c.Status, ca.Facts.Subject, ca.ID, stamp(rev.at), rev.url),
					Related: []warden.RelatedResource{{ResourceType: warden.ResourceIssuerCertificate,
						ResourceIdentifier: warden.ResourceIdentifier{IssuerCertificateIdentifier: &warden.IssuerCertificateIdentifier{
							IssuerCertificateSubject: ca.Facts.Subject, IssuerID: ca.ID, IssuerCertificateSerialNumber: ca.Facts.Serial}}}},
				}
				if err := r.add(intermediate, res, v); err != nil {
					return err
				}
			}
		}
		return r.progress(names...)
	})
	if err != nil {
		return err
	}
	failures := map[string]string{}
	for check, set := range map[string]map[string]bool{revoked: revokedProblems, intermediate: intermediateProblems} {
		var problems []string
		for p := range set {
			problems = append(problems, p)
		}
		for k, v := range crlFailures(check, problems) {
			failures[k] = v
		}
	}
	return r.finish(failures, names...)
}

// deviceRevoked looks a device certificate up on the CRLs its distribution
// points name; CRLs that cannot be fetched or verified go to problems.
func (r *run) deviceRevoked(c *warden.Certificate, crls map[string]crlResult, caByID map[string]*warden.CACertificate, problems map[string]bool) (Verdict, bool) {
	for _, u := range c.Facts.ConsultedCRLDistributionPoints() {
		res, ok := crls[u]
		if !ok {
			res = crlResult{err: errors.New("the CRL was not fetched")}
		}
		if res.err != nil {
			problems[fmt.Sprintf("%s: %v", u, res.err)] = true
			continue
		}
		var issuer *x509.Certificate
		issuerID := ""
		if ca := caByID[c.CACertificateID]; ca != nil {
			issuer, issuerID = r.parsedCA(ca), ca.ID
		}
		if err := r.verifyCRL(res.crl, issuer, issuerID, c.Facts.Issuer); err != nil {
			problems[fmt.Sprintf("%s: %v", u, err)] = true
			continue
		}
		if at, found := res.crl.Revoked[c.Facts.Serial]; found {
			v := Verdict{Code: ReasonRevokedByIssuer,
				Reason: fmt.Sprintf("The certificate (serial %s) was revoked by its issuer on %s, as the CRL at %s says, but it is %s in Warden.",
					c.Facts.Serial, stamp(at), u, c.Status),
				Info: map[string]string{"CRL_URL": u, "REVOCATION_TIME": fmt.Sprint(at.UnixMilli())}}
			if issuerID != "" {
				v.Related = []warden.RelatedResource{{ResourceType: warden.ResourceCACertificate,
					ResourceIdentifier: warden.ResourceIdentifier{CACertificateID: issuerID}}}
			}
			return v, true
		}
	}
	return Verdict{}, false
}

// ---------------------------------------------------------------- policies and logging

func (r *run) policyPhase() error {
	const (
		permissive    = warden.CheckIoTPolicyOverlyPermissive
		misconfigured = warden.CheckIoTPolicyPotentialMisconfiguration
	)
	type verdicts struct {
		permissive, misconfigured     Verdict
		isPermissive, isMisconfigured bool
	}
	// Fleets share a handful of documents: analyse each once.
	seen := map[string]verdicts{}
	wantP, wantM := r.wants(permissive), r.wants(misconfigured)
	err := r.r.store.ScanDefaultPolicyVersions(r.phase, r.s, func(v *warden.PolicyVersion) error {
		vd, ok := seen[v.Document]
		if !ok {
			doc, err := warden.ParsePolicyDocument(v.Document)
			if err == nil {
				vd.permissive, vd.isPermissive = PolicyOverlyPermissive(doc, r.s)
				vd.misconfigured, vd.isMisconfigured = PolicyMisconfigured(doc, r.s)
			}
			seen[v.Document] = vd
		}
		res := warden.NonCompliantResource{ResourceType: warden.ResourceIoTPolicy, ResourceIdentifier: warden.ResourceIdentifier{
			PolicyVersionIdentifier: &warden.PolicyVersionIdentifier{PolicyName: v.PolicyName, PolicyVersionID: v.VersionID}}}
		if wantP {
			r.checks[permissive].TotalResources++
			if vd.isPermissive {
				if err := r.add(permissive, res, vd.permissive); err != nil {
					return err
				}
			}
		}
		if wantM {
			r.checks[misconfigured].TotalResources++
			if vd.isMisconfigured {
				if err := r.add(misconfigured, res, vd.misconfigured); err != nil {
					return err
				}
			}
		}
		return r.progress(permissive, misconfigured)
	})
	if err != nil {
		return err
	}
	return r.finish(nil, permissive, misconfigured)
}

func (r *run) loggingPhase() error {
	check := warden.CheckLoggingDisabled
	var v1 *warden.LoggingOptions
	o1, ok, err := r.r.store.LoggingOptions(r.phase, r.s)
	if err != nil {
		return err
	}
	if ok {
		v1 = &o1
	}
	var v2 *warden.V2LoggingOptions
	o2, err := r.r.store.V2LoggingOptions(r.phase, r.s)
	switch {
	case err == nil:
		v2 = &o2
	case warden.ErrorCode(err) != warden.CodeNotConfigured:
		return err
	}
	r.checks[check].TotalResources = 1
	if v, bad := LoggingDisabled(v1, v2); bad {
		res := warden.NonCompliantResource{ResourceType: warden.ResourceAccountSettings, ResourceIdentifier: warden.ResourceIdentifier{Account: r.s.Account}}
		if err := r.add(check, res, v); err != nil {
			return err
		}
	}
	return r.finish(nil, check)
}

// ---------------------------------------------------------------- CRL prefetch

type crlResult struct {
	crl *CRL
	err error
}

// prefetch fetches the distinct URLs, as many at a time as account may
// have in flight. When ctx ends, the URLs not fetched yet fail with its error.
func (r *Runner) prefetch(ctx context.Context, account string, urls []string) map[string]crlResult {
	out := map[string]crlResult{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	defer wg.Wait()
	seen := map[string]bool{}
	budget := r.crls.newBudget()
	for _, u := range urls {
		if seen[u] {
			continue
		}
		seen[u] = true
		release, err := r.crlSlots.acquire(ctx, account)
		if err != nil {
			mu.Lock()
			out[u] = crlResult{err: err}
			mu.Unlock()
			continue
		}
		wg.Go(func() {
			defer release()
			crl, err := budget.hold(r.crls.Fetch(ctx, u))
			mu.Lock()
			out[u] = crlResult{crl, err}
			mu.Unlock()
		})
	}
	return out
}

// accountLimiter bounds how many of something each account has at once.
type accountLimiter struct {
	per int64
	mu  sync.Mutex
	m   map[string]*accountSlots
}

type accountSlots struct {
	sem   *semaphore.Weighted
	users int // holders and waiters; at 0 the entry goes
}

func newAccountLimiter(per int) *accountLimiter {
	return &accountLimiter{per: int64(per), m: map[string]*accountSlots{}}
}

// acquire waits for one of account's slots; release gives it back.
func (l *accountLimiter) acquire(ctx context.Context, account string) (release func(), err error) {
	l.mu.Lock()
	s := l.m[account]
	if s == nil {
		s = &accountSlots{sem: semaphore.NewWeighted(l.per)}
		l.m[account] = s
	}
	s.users++
	l.mu.Unlock()
	done := func() {
		l.mu.Lock()
		if s.users--; s.users == 0 {
			delete(l.m, account)
		}
		l.mu.Unlock()
	}
	if err := s.sem.Acquire(ctx, 1); err != nil {
		done()
		return nil, err
	}
	return func() { s.sem.Release(1); done() }, nil
}
