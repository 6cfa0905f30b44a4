package audit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/warden-iot/warden"
)

// Reason codes of the connection checks.
const (
	ReasonCertificateShared = "CERTIFICATE_SHARED_BY_MULTIPLE_DEVICES"
	ReasonDuplicateClientID = "DUPLICATE_CLIENT_ID_ACROSS_CONNECTIONS"
)

// Keys of a connection's additionalInfo in relatedResources.
const (
	InfoConnectionTime    = "CONNECTION_TIME"
	InfoDisconnectionTime = "DISCONNECTION_TIME"
)

// DisconnectDuplicateClientID is the disconnect reason of a session that a
// new connection with the same client id took over.
const DisconnectDuplicateClientID = "DUPLICATE_CLIENTID"

// MaxConnectionRelatedResources bounds the related resources of one
// connection finding: its newest connections (UNCONFIRMED: AWS documents no
// bound; ListRelatedResourcesForAuditFinding pages through them).
const MaxConnectionRelatedResources = 1000

// connectionLookback is how far an on-demand connection check looks back,
// and how far any looks back at most: the connection log's retention.
const connectionLookback = warden.ConnectionLogRetention

// sharedDelay is how long before the audit the DEVICE_CERTIFICATE_SHARED
// window ends: AWS looks at data up to 2 hours before the audit runs.
const sharedDelay = 2 * time.Hour

// ConnectionWindow is the time a connection check of a task looks at. An
// on-demand DEVICE_CERTIFICATE_SHARED_CHECK looks at the 31 days before
// the audit up to 2 hours before it, a scheduled one from 2 hours before the
// previous run of its scheduled audit to 2 hours before this one. A
// CONFLICTING_CLIENT_IDS_CHECK looks at the 31 days before the audit, or
// from the previous run. previous is the zero time when there was none (the
// on-demand window is used); no window reaches back more than 31 days.
func ConnectionWindow(check string, taskType string, taskStart, previous time.Time) (start, end time.Time) {
	delay := time.Duration(0)
	if check == warden.CheckDeviceCertificateShared {
		delay = sharedDelay
	}
	end = taskStart.Add(-delay)
	earliest := taskStart.Add(-connectionLookback)
	start = earliest
	if taskType == warden.AuditScheduled && !previous.IsZero() {
		start = previous.Add(-delay)
	}
	if start.Before(earliest) {
		start = earliest
	}
	if start.After(end) {
		start = end
	}
	return start, end
}

// sessionEnd is when a session ended, or the far future while it is open.
func sessionEnd(r *warden.ConnectionRecord) time.Time {
	if r.Open() {
		return time.Unix(1<<40, 0)
	}
	return r.DisconnectedAt
}

// takenOver reports whether r was ended by a new connection with its
// client id.
func takenOver(r *warden.ConnectionRecord) bool {
	return !r.Open() && r.DisconnectReason == DisconnectDuplicateClientID
}

func inWindow(t, start, end time.Time) bool { return !t.Before(start) && !t.After(end) }

// connectionInfo is the additionalInfo of a related connection: its
// connect and, once it ended, its disconnect time, in epoch milliseconds.
func connectionInfo(r *warden.ConnectionRecord) map[string]string {
	info := map[string]string{InfoConnectionTime: strconv.FormatInt(r.ConnectedAt.UnixMilli(), 10)}
	if !r.Open() {
		info[InfoDisconnectionTime] = strconv.FormatInt(r.DisconnectedAt.UnixMilli(), 10)
	}
	return info
}

// newestFirst returns the related resources of sessions (in connect order),
// newest connection first, at most MaxConnectionRelatedResources.
func newestFirst(sessions []warden.ConnectionRecord, related func(*warden.ConnectionRecord) warden.RelatedResource) []warden.RelatedResource {
	var out []warden.RelatedResource
	for i := len(sessions) - 1; i >= 0 && len(out) < MaxConnectionRelatedResources; i-- {
		out = append(out, related(&sessions[i]))
	}
	return out
}

// CertificateShared checks the successful sessions of one certificate, in
// connect order, over the window [start, end]. The certificate is shared
// (UNCONFIRMED: AWS does not define it) when in the window
//   - two of its sessions with different client ids were open at the same
//     time (one broker allows one session per client id, so these are two
//     connections at once), or
//   - one of its sessions was taken over (disconnect reason
//     DUPLICATE_CLIENTID) by the next session of its client id with the
//     same certificate coming from another source IP address: two devices
//     with one identity knocking each other off. A device that reconnects
//     from the same address before its old connection timed out is not.
//
// The related resources are the certificate's sessions in the window,
// newest first: CLIENT_ID with CONNECTION_TIME and DISCONNECTION_TIME.
func CertificateShared(sessions []warden.ConnectionRecord, start, end time.Time) (Verdict, bool) {
	shared := false
	for i := 0; i < len(sessions) && !shared; i++ {
		a := &sessions[i]
		for j := i + 1; j < len(sessions); j++ {
			b := &sessions[j]
			if !b.ConnectedAt.Before(sessionEnd(a)) {
				break // b and every later one connected after a ended
			}
			if a.ClientID == b.ClientID {
				continue
			}
			// Overlap [b.ConnectedAt, min(ends)) must touch the window.
			overlapEnd := sessionEnd(a)
			if e := sessionEnd(b); e.Before(overlapEnd) {
				overlapEnd = e
			}
			if !b.ConnectedAt.After(end) && !overlapEnd.Before(start) {
				shared = true
				break
			}
		}
		if takenOver(a) && inWindow(a.DisconnectedAt, start, end) {
			for j := i + 1; j < len(sessions); j++ {
				if b := &sessions[j]; b.ClientID == a.ClientID {
					shared = shared || b.SourceIP != a.SourceIP
					break
				}
			}
		}
	}
	if !shared {
		return Verdict{}, false
	}
	return Verdict{Code: ReasonCertificateShared, Reason: "Certificate shared by one or more devices.",
		Related: newestFirst(sessions, func(r *warden.ConnectionRecord) warden.RelatedResource {
			return warden.RelatedResource{ResourceType: warden.ResourceClientID,
				ResourceIdentifier: warden.ResourceIdentifier{ClientID: r.ClientID}, AdditionalInfo: connectionInfo(r)}
		})}, true
}

// ClientIDConflict checks the successful sessions of one client id, in
// connect order, over the window [start, end]. The client id conflicts
// (UNCONFIRMED: AWS does not define it beyond "a device connected with the
// same client id knocked an already connected one off") when in the window
// a session was taken over (disconnect reason DUPLICATE_CLIENTID) by the
// next session of the client id and that one came from another certificate
// or another source IP address. A device that reconnects from the same
// address with the same certificate before its old connection timed out
// is not a conflict.
//
// The related resources are the client id's sessions in the window, newest
// first: DEVICE_CERTIFICATE (the principal) with CONNECTION_TIME and
// DISCONNECTION_TIME.
func ClientIDConflict(sessions []warden.ConnectionRecord, start, end time.Time) (Verdict, bool) {
	conflicts := 0
	principals := map[string]bool{}
	for i := range sessions {
		a := &sessions[i]
		principals[a.CertificateID] = true
		if !takenOver(a) || !inWindow(a.DisconnectedAt, start, end) || i+1 == len(sessions) {
			continue
		}
		if b := &sessions[i+1]; b.CertificateID != a.CertificateID || b.SourceIP != a.SourceIP {
			conflicts++
		}
	}
	if conflicts == 0 {
		return Verdict{}, false
	}
	return Verdict{Code: ReasonDuplicateClientID,
		Reason: fmt.Sprintf("Client ID used by %d connections from %d principals; another device connecting with it disconnected an already connected one %d times.",
			len(sessions), len(principals), conflicts),
		Related: newestFirst(sessions, func(r *warden.ConnectionRecord) warden.RelatedResource {
			return warden.RelatedResource{ResourceType: warden.ResourceDeviceCertificate,
				ResourceIdentifier: warden.ResourceIdentifier{DeviceCertificateID: r.CertificateID}, AdditionalInfo: connectionInfo(r)}
		})}, true
}

// previousRun is the start of the task of the same scheduled audit that ran
// before t, or the zero time.
func previousRun(ctx context.Context, store warden.AuditStore, s warden.Scope, t *warden.AuditTask) (time.Time, error) {
	if t.Type != warden.AuditScheduled || t.ScheduledAuditName == "" {
		return time.Time{}, nil
	}
	f := warden.AuditTaskFilter{Start: t.StartTime.Add(-warden.AuditRetention), End: t.StartTime.Add(-time.Millisecond), Type: warden.AuditScheduled}
	p := warden.Page{Limit: 250}
	for {
		tasks, next, err := store.AuditTasks(ctx, s, f, p)
		if err != nil {
			return time.Time{}, err
		}
		for _, prev := range tasks {
			if prev.ScheduledAuditName == t.ScheduledAuditName && prev.ID != t.ID {
				return prev.StartTime, nil
			}
		}
		if next == "" {
			return time.Time{}, nil
		}
		p.After = next
	}
}

// connectionPhase runs the two connection checks over the connection log.
func (r *run) connectionPhase() error {
	for _, check := range []string{warden.CheckDeviceCertificateShared, warden.CheckConflictingClientIDs} {
		if !r.wants(check) {
			continue
		}
		prev, err := previousRun(r.phase, r.r.store, r.s, &r.claim.Task)
		if err != nil {
			return err
		}
		start, end := ConnectionWindow(check, r.claim.Task.Type, r.claim.Task.StartTime, prev)
		by, judge := warden.ByCertificate, CertificateShared
		key := func(c *warden.ConnectionRecord) string { return c.CertificateID }
		resource := func(k string) warden.NonCompliantResource {
			return warden.NonCompliantResource{ResourceType: warden.ResourceDeviceCertificate,
				ResourceIdentifier: warden.ResourceIdentifier{DeviceCertificateID: k}}
		}
		if check == warden.CheckConflictingClientIDs {
			by, judge = warden.ByClientID, ClientIDConflict
			key = func(c *warden.ConnectionRecord) string { return c.ClientID }
			resource = func(k string) warden.NonCompliantResource {
				return warden.NonCompliantResource{ResourceType: warden.ResourceClientID, ResourceIdentifier: warden.ResourceIdentifier{ClientID: k}}
			}
		}
		var group []warden.ConnectionRecord
		judgeGroup := func() error {
			if len(group) == 0 {
				return nil
			}
			r.checks[check].TotalResources++
			if v, bad := judge(group, start, end); bad {
				if err := r.add(check, resource(key(&group[0])), v); err != nil {
					return err
				}
			}
			group = group[:0]
			return r.progress(check)
		}
		err = r.r.store.ScanConnections(r.phase, r.s, warden.ConnectionFilter{Start: start, End: end, SuccessOnly: true}, by,
			func(c *warden.ConnectionRecord) error {
				if len(group) > 0 && key(&group[0]) != key(c) {
					if err := judgeGroup(); err != nil {
						return err
					}
				}
				group = append(group, *c)
				return nil
			})
		if err == nil {
			err = judgeGroup()
		}
		if err != nil {
			return err
		}
		if err := r.finish(nil, check); err != nil {
			return err
		}
	}
	return nil
}
