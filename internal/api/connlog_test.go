package api_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/audit"
	"github.com/warden-iot/warden/internal/connlog"
)

// TestAuditsConnectionChecks records a certificate shared by 30 devices
// through the connection log, runs DEVICE_CERTIFICATE_SHARED_CHECK through
// the API, and reads the finding: DescribeAuditFinding shows 10 related
// resources, ListRelatedResourcesForAuditFinding pages through all 30,
// newest connection first; a token does not carry to another finding, and
// an unknown finding is ResourceNotFound.
func TestAuditsConnectionChecks(t *testing.T) {
	e := newEnv(t)
	scope := warden.Scope{Account: accountA, Region: region}
	const devices = 30
	cert := fmt.Sprintf("%064x", 42)
	base := time.Now().Add(-10 * time.Hour).Truncate(time.Millisecond)
	l := connlog.New(connlog.Options{Store: e.store})
	l.Start()
	for i := range devices {
		// Every device stays connected: 30 connections at once.
		l.Observe(warden.DataPlaneEvent{Scope: scope, Type: warden.EventConnect, Status: warden.StatusSuccess,
			SessionID: fmt.Sprint("s", i), ClientID: fmt.Sprint("device-", i), PrincipalID: cert,
			SourceIP: "192.0.2.1", SourcePort: 1000 + i, At: base.Add(time.Duration(i) * time.Minute)})
	}
	// Client id "twin" is taken over by another certificate.
	other := fmt.Sprintf("%064x", 43)
	for _, ev := range []warden.DataPlaneEvent{
		{Type: warden.EventConnect, SessionID: "t1", ClientID: "twin", PrincipalID: other, SourceIP: "192.0.2.9", At: base},
		{Type: warden.EventConnect, SessionID: "t2", ClientID: "twin", PrincipalID: cert, SourceIP: "192.0.2.10", At: base.Add(time.Hour)},
		{Type: warden.EventDisconnect, SessionID: "t1", DisconnectReason: audit.DisconnectDuplicateClientID, At: base.Add(time.Hour)},
	} {
		ev.Scope, ev.Status = scope, warden.StatusSuccess
		l.Observe(ev)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	checks := []string{warden.CheckDeviceCertificateShared, warden.CheckConflictingClientIDs}
	auditsConfigure(t, e.a, checks...)
	id := auditsStart(t, e.a, checks...)
	auditsRun(t, e, 0)
	done := auditsDescribe(t, e.a, id)
	if done.TaskStatus != types.AuditTaskStatusCompleted || aws.ToInt32(done.TaskStatistics.NonCompliantChecks) != 2 {
		t.Fatalf("task %s %+v %+v", done.TaskStatus, done.TaskStatistics, done.AuditDetails)
	}
	findings := auditsFindings(t, e.a, iot.ListAuditFindingsInput{TaskId: aws.String(id), CheckName: aws.String(warden.CheckDeviceCertificateShared)})
	if len(findings) != 1 {
		t.Fatalf("%d shared findings, want 1", len(findings))
	}
	f := findings[0]
	if f.Severity != types.AuditFindingSeverityCritical || aws.ToString(f.ReasonForNonComplianceCode) != "CERTIFICATE_SHARED_BY_MULTIPLE_DEVICES" ||
		f.NonCompliantResource.ResourceType != types.ResourceTypeDeviceCertificate ||
		aws.ToString(f.NonCompliantResource.ResourceIdentifier.DeviceCertificateId) != cert {
		t.Fatalf("finding %+v", f)
	}
	if len(f.RelatedResources) != 10 {
		t.Errorf("ListAuditFindings shows %d related resources, want 10", len(f.RelatedResources))
	}
	desc, err := e.a.DescribeAuditFinding(auditsCtx, &iot.DescribeAuditFindingInput{FindingId: f.FindingId})
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.Finding.RelatedResources) != 10 {
		t.Errorf("DescribeAuditFinding shows %d related resources, want 10", len(desc.Finding.RelatedResources))
	}

	// All 31 connections of the certificate (the 30 devices and "twin"),
	// 7 a page, newest first.
	var all []types.RelatedResource
	pages := 0
	in := &iot.ListRelatedResourcesForAuditFindingInput{FindingId: f.FindingId, MaxResults: aws.Int32(7)}
	var firstToken *string
	for {
		out, err := e.a.ListRelatedResourcesForAuditFinding(auditsCtx, in)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, out.RelatedResources...)
		if out.NextToken == nil {
			break
		}
		if firstToken == nil {
			firstToken = out.NextToken
		}
		in.NextToken = out.NextToken
	}
	if len(all) != devices+1 || pages != 5 {
		t.Fatalf("%d related resources in %d pages, want %d in 5", len(all), pages, devices+1)
	}
	var prev int64 = 1 << 62
	seen := map[string]bool{}
	for i, r := range all {
		ms, err := strconv.ParseInt(r.AdditionalInfo["CONNECTION_TIME"], 10, 64)
		if err != nil || r.ResourceType != types.ResourceTypeClientId || ms > prev {
			t.Fatalf("related[%d] = %+v (previous connection time %d)", i, r, prev)
		}
		if _, closed := r.AdditionalInfo["DISCONNECTION_TIME"]; closed {
			t.Errorf("related[%d] of a session still open has a DISCONNECTION_TIME: %v", i, r.AdditionalInfo)
		}
		prev = ms
		seen[aws.ToString(r.ResourceIdentifier.ClientId)] = true
	}
	if len(seen) != devices+1 || aws.ToString(all[0].ResourceIdentifier.ClientId) != "twin" ||
		aws.ToString(all[1].ResourceIdentifier.ClientId) != fmt.Sprint("device-", devices-1) {
		t.Fatalf("related client ids %v, newest first want twin then device-%d", seen, devices-1)
	}

	// The conflicting client id's finding lists the two principals.
	conflicts := auditsFindings(t, e.a, iot.ListAuditFindingsInput{TaskId: aws.String(id), CheckName: aws.String(warden.CheckConflictingClientIDs)})
	if len(conflicts) != 1 || aws.ToString(conflicts[0].NonCompliantResource.ResourceIdentifier.ClientId) != "twin" ||
		conflicts[0].Severity != types.AuditFindingSeverityHigh {
		t.Fatalf("conflicting findings %+v", conflicts)
	}
	rel, err := e.a.ListRelatedResourcesForAuditFinding(auditsCtx, &iot.ListRelatedResourcesForAuditFindingInput{FindingId: conflicts[0].FindingId})
	if err != nil {
		t.Fatal(err)
	}
	if len(rel.RelatedResources) != 2 || aws.ToString(rel.RelatedResources[0].ResourceIdentifier.DeviceCertificateId) != cert ||
		aws.ToString(rel.RelatedResources[1].ResourceIdentifier.DeviceCertificateId) != other ||
		rel.RelatedResources[1].AdditionalInfo["DISCONNECTION_TIME"] != strconv.FormatInt(base.Add(time.Hour).UnixMilli(), 10) {
		t.Fatalf("conflicting related %+v", rel.RelatedResources)
	}

	// Bad input.
	_, err = e.a.ListRelatedResourcesForAuditFinding(auditsCtx, &iot.ListRelatedResourcesForAuditFindingInput{
		FindingId: conflicts[0].FindingId, NextToken: firstToken})
	wantCode(t, err, "InvalidRequestException", 400) // another finding's token
	_, err = e.a.ListRelatedResourcesForAuditFinding(auditsCtx, &iot.ListRelatedResourcesForAuditFindingInput{FindingId: aws.String("no-such-finding")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.a.ListRelatedResourcesForAuditFinding(auditsCtx, &iot.ListRelatedResourcesForAuditFindingInput{FindingId: aws.String("bad id!")})
	wantCode(t, err, "InvalidRequestException", 400)
	_, err = e.a.ListRelatedResourcesForAuditFinding(auditsCtx, &iot.ListRelatedResourcesForAuditFindingInput{FindingId: f.FindingId, MaxResults: aws.Int32(251)})
	wantCode(t, err, "InvalidRequestException", 400)
	// Another account does not see the finding.
	_, err = e.b.ListRelatedResourcesForAuditFinding(auditsCtx, &iot.ListRelatedResourcesForAuditFindingInput{FindingId: f.FindingId})
	wantCode(t, err, "ResourceNotFoundException", 404)
}
