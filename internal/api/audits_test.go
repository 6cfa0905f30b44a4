package api_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/audit"
)

var auditsCtx = context.Background()

const auditsRole = "arn:aws:iam::123456789012:role/audit"

// auditsRun runs every pending audit task to its end, as the background
// runner would, with the clock now+skew.
func auditsRun(t *testing.T, e *env, skew time.Duration) {
	t.Helper()
	r, err := audit.New(audit.Options{Store: e.store, Now: func() time.Time { return time.Now().Add(skew) },
		WeakKeysDir: t.TempDir(), CRL: audit.CRLOptions{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RunOnce(auditsCtx); err != nil {
		t.Fatal(err)
	}
}

func auditsEnable(checks ...string) map[string]types.AuditCheckConfiguration {
	m := map[string]types.AuditCheckConfiguration{}
	for _, c := range checks {
		m[c] = types.AuditCheckConfiguration{Enabled: true}
	}
	return m
}

func auditsConfigure(t *testing.T, c *iot.Client, checks ...string) {
	t.Helper()
	if _, err := c.UpdateAccountAuditConfiguration(auditsCtx, &iot.UpdateAccountAuditConfigurationInput{
		RoleArn: aws.String(auditsRole), AuditCheckConfigurations: auditsEnable(checks...)}); err != nil {
		t.Fatalf("UpdateAccountAuditConfiguration: %v", err)
	}
}

func auditsStart(t *testing.T, c *iot.Client, checks ...string) string {
	t.Helper()
	out, err := c.StartOnDemandAuditTask(auditsCtx, &iot.StartOnDemandAuditTaskInput{TargetCheckNames: checks})
	if err != nil {
		t.Fatalf("StartOnDemandAuditTask: %v", err)
	}
	return aws.ToString(out.TaskId)
}

func auditsDescribe(t *testing.T, c *iot.Client, id string) *iot.DescribeAuditTaskOutput {
	t.Helper()
	out, err := c.DescribeAuditTask(auditsCtx, &iot.DescribeAuditTaskInput{TaskId: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeAuditTask: %v", err)
	}
	return out
}

// auditsFindings lists every finding of in, page by page.
func auditsFindings(t *testing.T, c *iot.Client, in iot.ListAuditFindingsInput) []types.AuditFinding {
	t.Helper()
	var all []types.AuditFinding
	p := iot.NewListAuditFindingsPaginator(c, &in)
	for p.HasMorePages() {
		out, err := p.NextPage(auditsCtx)
		if err != nil {
			t.Fatalf("ListAuditFindings: %v", err)
		}
		all = append(all, out.Findings...)
	}
	return all
}

func auditsConfig(t *testing.T, c *iot.Client) *iot.DescribeAccountAuditConfigurationOutput {
	t.Helper()
	out, err := c.DescribeAccountAuditConfiguration(auditsCtx, &iot.DescribeAccountAuditConfigurationInput{})
	if err != nil {
		t.Fatalf("DescribeAccountAuditConfiguration: %v", err)
	}
	return out
}

func auditsEnabled(out *iot.DescribeAccountAuditConfigurationOutput) []string {
	var on []string
	for name, c := range out.AuditCheckConfigurations {
		if c.Enabled {
			on = append(on, name)
		}
	}
	slices.Sort(on)
	return on
}

// auditsExpiringCert registers (without a CA) a certificate that expires
// in days and returns its id.
func auditsExpiringCert(t *testing.T, c *iot.Client, days int) string {
	t.Helper()
	ca := certNewCA(t, "Audit Test CA")
	out, err := c.RegisterCertificateWithoutCA(auditsCtx, &iot.RegisterCertificateWithoutCAInput{
		CertificatePem: aws.String(ca.leafValid(t, "expiring", time.Now().Add(-time.Hour), time.Now().Add(time.Duration(days)*24*time.Hour))),
		Status:         types.CertificateStatusActive})
	if err != nil {
		t.Fatalf("RegisterCertificateWithoutCA: %v", err)
	}
	return aws.ToString(out.CertificateId)
}

func TestAuditsConfiguration(t *testing.T) {
	e := newEnv(t)
	cfg := auditsConfig(t, e.a)
	if len(cfg.AuditCheckConfigurations) != len(warden.AuditChecks) || len(auditsEnabled(cfg)) != 0 || cfg.RoleArn != nil {
		t.Fatalf("before any configuration: %d checks, enabled %v, role %v; want all %d disabled, no role",
			len(cfg.AuditCheckConfigurations), auditsEnabled(cfg), aws.ToString(cfg.RoleArn), len(warden.AuditChecks))
	}
	before := len(auditsChanges(t, e))

	rejected := []struct {
		name string
		in   iot.UpdateAccountAuditConfigurationInput
		msg  string
	}{
		{"first call without a role", iot.UpdateAccountAuditConfigurationInput{AuditCheckConfigurations: auditsEnable(warden.CheckLoggingDisabled)}, "roleArn"},
		{"first call without an enabled check", iot.UpdateAccountAuditConfigurationInput{RoleArn: aws.String(auditsRole),
			AuditCheckConfigurations: map[string]types.AuditCheckConfiguration{warden.CheckLoggingDisabled: {Enabled: false}}}, "at least one enabled check"},
		{"first call with no checks", iot.UpdateAccountAuditConfigurationInput{RoleArn: aws.String(auditsRole)}, "at least one enabled check"},
		{"short role", iot.UpdateAccountAuditConfigurationInput{RoleArn: aws.String("arn:short"), AuditCheckConfigurations: auditsEnable(warden.CheckLoggingDisabled)}, "roleArn"},
		{"unknown check", iot.UpdateAccountAuditConfigurationInput{RoleArn: aws.String(auditsRole), AuditCheckConfigurations: auditsEnable("NO_SUCH_CHECK")}, "NO_SUCH_CHECK"},
		{"role alias unused services check", iot.UpdateAccountAuditConfigurationInput{RoleArn: aws.String(auditsRole),
			AuditCheckConfigurations: auditsEnable(warden.CheckRoleAliasAllowsAccessToUnusedServices)}, "cannot be enabled"},
		{"cognito check", iot.UpdateAccountAuditConfigurationInput{RoleArn: aws.String(auditsRole),
			AuditCheckConfigurations: auditsEnable(warden.CheckUnauthenticatedCognitoRoleOverlyPermissive)}, "Cognito"},
		{"role alias check", iot.UpdateAccountAuditConfigurationInput{RoleArn: aws.String(auditsRole),
			AuditCheckConfigurations: auditsEnable(warden.CheckRoleAliasOverlyPermissive)}, "IAM"},
		{"threshold below 30", iot.UpdateAccountAuditConfigurationInput{RoleArn: aws.String(auditsRole),
			AuditCheckConfigurations: map[string]types.AuditCheckConfiguration{warden.CheckDeviceCertificateExpiring: {Enabled: true,
				Configuration: map[string]string{"CERT_EXPIRATION_THRESHOLD_IN_DAYS": "10"}}}}, "from 30 to 3652"},
		{"threshold not a number", iot.UpdateAccountAuditConfigurationInput{RoleArn: aws.String(auditsRole),
			AuditCheckConfigurations: map[string]types.AuditCheckConfiguration{warden.CheckDeviceCertificateAge: {Enabled: true,
				Configuration: map[string]string{"CERT_AGE_THRESHOLD_IN_DAYS": "a year"}}}}, "whole number"},
		{"setting of another check", iot.UpdateAccountAuditConfigurationInput{RoleArn: aws.String(auditsRole),
			AuditCheckConfigurations: map[string]types.AuditCheckConfiguration{warden.CheckDeviceCertificateExpiring: {Enabled: true,
				Configuration: map[string]string{"CERT_AGE_THRESHOLD_IN_DAYS": "100"}}}}, "has no setting"},
		{"unknown setting", iot.UpdateAccountAuditConfigurationInput{RoleArn: aws.String(auditsRole),
			AuditCheckConfigurations: map[string]types.AuditCheckConfiguration{warden.CheckDeviceCertificateExpiring: {Enabled: true,
				Configuration: map[string]string{"COLOUR": "blue"}}}}, "COLOUR"},
		{"SNS target without role", iot.UpdateAccountAuditConfigurationInput{RoleArn: aws.String(auditsRole), AuditCheckConfigurations: auditsEnable(warden.CheckLoggingDisabled),
			AuditNotificationTargetConfigurations: map[string]types.AuditNotificationTarget{"SNS": {Enabled: true, TargetArn: aws.String(topicArn)}}}, "targetArn and roleArn"},
		{"SNS target not a topic", iot.UpdateAccountAuditConfigurationInput{RoleArn: aws.String(auditsRole), AuditCheckConfigurations: auditsEnable(warden.CheckLoggingDisabled),
			AuditNotificationTargetConfigurations: map[string]types.AuditNotificationTarget{"SNS": {Enabled: true, TargetArn: aws.String("arn:aws:iam::1:role/x"), RoleArn: aws.String(auditsRole)}}}, "not an SNS topic"},
		{"other notification type", iot.UpdateAccountAuditConfigurationInput{RoleArn: aws.String(auditsRole), AuditCheckConfigurations: auditsEnable(warden.CheckLoggingDisabled),
			AuditNotificationTargetConfigurations: map[string]types.AuditNotificationTarget{"EMAIL": {}}}, "enum value set: [SNS]"},
	}
	for _, tc := range rejected {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.a.UpdateAccountAuditConfiguration(auditsCtx, &tc.in)
			wantCode(t, err, "InvalidRequestException", 400)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not mention %q", err.Error(), tc.msg)
			}
		})
	}
	if n := len(auditsChanges(t, e)); n != before || len(auditsEnabled(auditsConfig(t, e.a))) != 0 {
		t.Fatalf("rejected requests changed something: %d change-log rows (had %d)", n, before)
	}

	// A valid first call, then a merge.
	if _, err := e.a.UpdateAccountAuditConfiguration(auditsCtx, &iot.UpdateAccountAuditConfigurationInput{
		RoleArn: aws.String(auditsRole),
		AuditCheckConfigurations: map[string]types.AuditCheckConfiguration{
			warden.CheckLoggingDisabled:           {Enabled: true},
			warden.CheckDeviceCertificateExpiring: {Enabled: true, Configuration: map[string]string{"CERT_EXPIRATION_THRESHOLD_IN_DAYS": "60"}},
		},
		AuditNotificationTargetConfigurations: map[string]types.AuditNotificationTarget{"SNS": {Enabled: true, TargetArn: aws.String(topicArn), RoleArn: aws.String(roleArn)}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.UpdateAccountAuditConfiguration(auditsCtx, &iot.UpdateAccountAuditConfigurationInput{
		AuditCheckConfigurations: auditsEnable(warden.CheckIoTPolicyOverlyPermissive, warden.CheckDeviceCertificateExpiring)}); err != nil {
		t.Fatal(err)
	}
	cfg = auditsConfig(t, e.a)
	want := []string{warden.CheckDeviceCertificateExpiring, warden.CheckIoTPolicyOverlyPermissive, warden.CheckLoggingDisabled}
	if got := auditsEnabled(cfg); !slices.Equal(got, want) {
		t.Errorf("enabled %v, want %v", got, want)
	}
	if got := cfg.AuditCheckConfigurations[warden.CheckDeviceCertificateExpiring].Configuration["CERT_EXPIRATION_THRESHOLD_IN_DAYS"]; got != "60" {
		t.Errorf("threshold after a merge without configuration: %q, want 60 kept", got)
	}
	sns := cfg.AuditNotificationTargetConfigurations["SNS"]
	if aws.ToString(cfg.RoleArn) != auditsRole || aws.ToString(sns.TargetArn) != topicArn || aws.ToString(sns.RoleArn) != roleArn || !sns.Enabled {
		t.Errorf("role %q, SNS %+v", aws.ToString(cfg.RoleArn), sns)
	}
	changes := auditsChangesOf(t, e, "arn:aws:iot:us-east-1:123456789012:audit/configuration")
	if len(changes) != 2 || changes[0].Actor != keyA || changes[0].Before != "" || !strings.Contains(changes[1].After, warden.CheckIoTPolicyOverlyPermissive) {
		t.Errorf("change log %+v", changes)
	}
	if other := auditsConfig(t, e.b); len(auditsEnabled(other)) != 0 || other.RoleArn != nil {
		t.Errorf("account B sees account A's configuration: %v", auditsEnabled(other))
	}

	// A check a scheduled audit uses cannot be disabled, and the scheduled
	// audit blocks deleting the configuration.
	if _, err := e.a.CreateScheduledAudit(auditsCtx, &iot.CreateScheduledAuditInput{ScheduledAuditName: aws.String("daily"),
		Frequency: types.AuditFrequencyDaily, TargetCheckNames: []string{warden.CheckLoggingDisabled}}); err != nil {
		t.Fatal(err)
	}
	_, err := e.a.UpdateAccountAuditConfiguration(auditsCtx, &iot.UpdateAccountAuditConfigurationInput{
		AuditCheckConfigurations: map[string]types.AuditCheckConfiguration{warden.CheckLoggingDisabled: {Enabled: false}}})
	wantCode(t, err, "InvalidRequestException", 400)
	if !strings.Contains(err.Error(), "scheduled audit daily") {
		t.Errorf("message %q does not name the scheduled audit", err.Error())
	}
	_, err = e.a.DeleteAccountAuditConfiguration(auditsCtx, &iot.DeleteAccountAuditConfigurationInput{})
	wantCode(t, err, "InvalidRequestException", 400)
	if len(auditsEnabled(auditsConfig(t, e.a))) != 3 {
		t.Fatal("a rejected delete changed the configuration")
	}
	if _, err := e.a.DeleteAccountAuditConfiguration(auditsCtx, &iot.DeleteAccountAuditConfigurationInput{DeleteScheduledAudits: true}); err != nil {
		t.Fatal(err)
	}
	cfg = auditsConfig(t, e.a)
	if len(auditsEnabled(cfg)) != 0 || cfg.RoleArn != nil || len(cfg.AuditNotificationTargetConfigurations) != 0 {
		t.Errorf("after delete: enabled %v, role %v", auditsEnabled(cfg), cfg.RoleArn)
	}
	_, err = e.a.DescribeScheduledAudit(auditsCtx, &iot.DescribeScheduledAuditInput{ScheduledAuditName: aws.String("daily")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.a.DeleteAccountAuditConfiguration(auditsCtx, &iot.DeleteAccountAuditConfigurationInput{})
	wantCode(t, err, "ResourceNotFoundException", 404)
	// Deleted means "first call" again.
	_, err = e.a.UpdateAccountAuditConfiguration(auditsCtx, &iot.UpdateAccountAuditConfigurationInput{AuditCheckConfigurations: auditsEnable(warden.CheckLoggingDisabled)})
	wantCode(t, err, "InvalidRequestException", 400)
}

func TestAuditsOnDemand(t *testing.T) {
	e := newEnv(t)
	_, err := e.a.StartOnDemandAuditTask(auditsCtx, &iot.StartOnDemandAuditTaskInput{TargetCheckNames: []string{warden.CheckLoggingDisabled}})
	wantCode(t, err, "InvalidRequestException", 400) // no configuration yet

	expiring := auditsExpiringCert(t, e.a, 10)
	fine := auditsExpiringCert(t, e.a, 200)
	if _, err := e.a.CreatePolicy(auditsCtx, &iot.CreatePolicyInput{PolicyName: aws.String("open"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	checks := []string{warden.CheckDeviceCertificateExpiring, warden.CheckIoTPolicyOverlyPermissive, warden.CheckLoggingDisabled}
	auditsConfigure(t, e.a, checks...)

	for _, tc := range []struct {
		name   string
		checks []string
		msg    string
	}{
		{"not enabled", []string{warden.CheckDeviceCertificateAge}, "not enabled"},
		{"unknown", []string{"NO_SUCH_CHECK"}, "NO_SUCH_CHECK"},
		{"empty", []string{}, "at least one"},
	} {
		_, err := e.a.StartOnDemandAuditTask(auditsCtx, &iot.StartOnDemandAuditTaskInput{TargetCheckNames: tc.checks})
		wantCode(t, err, "InvalidRequestException", 400)
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: message %q does not mention %q", tc.name, err.Error(), tc.msg)
		}
	}

	id := auditsStart(t, e.a, append(checks, warden.CheckLoggingDisabled)...)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("task id %q, want 32 lower-case hex digits", id)
	}
	pending := auditsDescribe(t, e.a, id)
	if pending.TaskStatus != types.AuditTaskStatusInProgress || pending.TaskType != types.AuditTaskTypeOnDemandAuditTask ||
		aws.ToInt32(pending.TaskStatistics.TotalChecks) != 3 || aws.ToInt32(pending.TaskStatistics.InProgressChecks) != 3 ||
		pending.AuditDetails[warden.CheckLoggingDisabled].CheckRunStatus != types.AuditCheckRunStatusInProgress {
		t.Errorf("before the runner: %+v", pending)
	}
	auditsRun(t, e, 0)
	done := auditsDescribe(t, e.a, id)
	if done.TaskStatus != types.AuditTaskStatusCompleted || aws.ToInt32(done.TaskStatistics.NonCompliantChecks) != 3 {
		t.Fatalf("after the runner: %s %+v", done.TaskStatus, done.TaskStatistics)
	}
	det := done.AuditDetails[warden.CheckDeviceCertificateExpiring]
	if det.CheckRunStatus != types.AuditCheckRunStatusCompletedNonCompliant || aws.ToBool(det.CheckCompliant) ||
		aws.ToInt64(det.TotalResourcesCount) != 2 || aws.ToInt64(det.NonCompliantResourcesCount) != 1 {
		t.Errorf("expiring check details %+v", det)
	}
	if time.Since(aws.ToTime(done.TaskStartTime)) > time.Minute {
		t.Errorf("taskStartTime %v", done.TaskStartTime)
	}

	found := auditsFindings(t, e.a, iot.ListAuditFindingsInput{TaskId: aws.String(id), MaxResults: aws.Int32(1)})
	if len(found) != 3 {
		t.Fatalf("%d findings, want 3", len(found))
	}
	var exp types.AuditFinding
	for _, f := range found {
		if aws.ToString(f.CheckName) == warden.CheckDeviceCertificateExpiring {
			exp = f
		}
	}
	if aws.ToString(exp.NonCompliantResource.ResourceIdentifier.DeviceCertificateId) != expiring || exp.Severity != types.AuditFindingSeverityMedium ||
		exp.NonCompliantResource.ResourceType != types.ResourceTypeDeviceCertificate || aws.ToString(exp.ReasonForNonComplianceCode) != "CERTIFICATE_APPROACHING_EXPIRATION" ||
		!strings.Contains(aws.ToString(exp.ReasonForNonCompliance), "expires on") || aws.ToString(exp.TaskId) != id || !isUUID(aws.ToString(exp.FindingId)) ||
		aws.ToBool(exp.IsSuppressed) {
		t.Errorf("expiring finding %+v (resource %+v)", exp, exp.NonCompliantResource)
	}
	desc, err := e.a.DescribeAuditFinding(auditsCtx, &iot.DescribeAuditFindingInput{FindingId: exp.FindingId})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(desc.Finding.FindingId) != aws.ToString(exp.FindingId) || aws.ToString(desc.Finding.ReasonForNonCompliance) != aws.ToString(exp.ReasonForNonCompliance) {
		t.Errorf("DescribeAuditFinding %+v", desc.Finding)
	}
	_, err = e.a.DescribeAuditFinding(auditsCtx, &iot.DescribeAuditFindingInput{FindingId: aws.String("no-such-finding")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.b.DescribeAuditFinding(auditsCtx, &iot.DescribeAuditFindingInput{FindingId: exp.FindingId})
	wantCode(t, err, "ResourceNotFoundException", 404)

	// Filters.
	for _, tc := range []struct {
		name string
		in   iot.ListAuditFindingsInput
		want int
	}{
		{"by check", iot.ListAuditFindingsInput{TaskId: aws.String(id), CheckName: aws.String(warden.CheckIoTPolicyOverlyPermissive)}, 1},
		{"by resource", iot.ListAuditFindingsInput{TaskId: aws.String(id), ResourceIdentifier: &types.ResourceIdentifier{DeviceCertificateId: aws.String(expiring)}}, 1},
		{"by compliant resource", iot.ListAuditFindingsInput{TaskId: aws.String(id), ResourceIdentifier: &types.ResourceIdentifier{DeviceCertificateId: aws.String(fine)}}, 0},
		{"suppressed only", iot.ListAuditFindingsInput{TaskId: aws.String(id), ListSuppressedFindings: true}, 0},
		{"by time", iot.ListAuditFindingsInput{StartTime: aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(time.Hour))}, 3},
		{"by time and check", iot.ListAuditFindingsInput{StartTime: aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(time.Hour)), CheckName: aws.String(warden.CheckLoggingDisabled)}, 1},
		{"by an earlier time", iot.ListAuditFindingsInput{StartTime: aws.Time(time.Now().Add(-2 * time.Hour)), EndTime: aws.Time(time.Now().Add(-time.Hour))}, 0},
		{"unknown task", iot.ListAuditFindingsInput{TaskId: aws.String("0123")}, 0},
	} {
		if got := auditsFindings(t, e.a, tc.in); len(got) != tc.want {
			t.Errorf("%s: %d findings, want %d", tc.name, len(got), tc.want)
		}
	}
	// The Go SDK cannot send listSuppressedFindings=false.
	if got := wantOK(t, e.call(t, "POST", "/audit/findings", []byte(`{"taskId":"`+id+`","listSuppressedFindings":false}`))); len(got["findings"].([]any)) != 3 {
		t.Errorf("unsuppressed only: %v", got)
	}
	if got := auditsFindings(t, e.b, iot.ListAuditFindingsInput{TaskId: aws.String(id)}); len(got) != 0 {
		t.Errorf("account B sees %d of account A's findings", len(got))
	}
	for _, tc := range []struct {
		name string
		in   iot.ListAuditFindingsInput
	}{
		{"neither task nor time", iot.ListAuditFindingsInput{}},
		{"both", iot.ListAuditFindingsInput{TaskId: aws.String(id), StartTime: aws.Time(time.Now()), EndTime: aws.Time(time.Now())}},
		{"start only", iot.ListAuditFindingsInput{StartTime: aws.Time(time.Now())}},
		{"unknown check", iot.ListAuditFindingsInput{TaskId: aws.String(id), CheckName: aws.String("NOPE")}},
		{"bad task id", iot.ListAuditFindingsInput{TaskId: aws.String("bad_id")}},
		{"maxResults 251", iot.ListAuditFindingsInput{TaskId: aws.String(id), MaxResults: aws.Int32(251)}},
		{"bad certificate id", iot.ListAuditFindingsInput{TaskId: aws.String(id), ResourceIdentifier: &types.ResourceIdentifier{DeviceCertificateId: aws.String(strings.Repeat("z", 64))}}},
		{"forged token", iot.ListAuditFindingsInput{TaskId: aws.String(id), NextToken: aws.String("abc.def")}},
	} {
		_, err := e.a.ListAuditFindings(auditsCtx, &tc.in)
		if err == nil {
			t.Errorf("%s: got no error", tc.name)
			continue
		}
		wantCode(t, err, "InvalidRequestException", 400)
	}

	// ListAuditTasks.
	listTasks := func(in iot.ListAuditTasksInput) []types.AuditTaskMetadata {
		t.Helper()
		var all []types.AuditTaskMetadata
		p := iot.NewListAuditTasksPaginator(e.a, &in)
		for p.HasMorePages() {
			out, err := p.NextPage(auditsCtx)
			if err != nil {
				t.Fatalf("ListAuditTasks: %v", err)
			}
			all = append(all, out.Tasks...)
		}
		return all
	}
	second := auditsStart(t, e.a, warden.CheckLoggingDisabled)
	window := iot.ListAuditTasksInput{StartTime: aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(time.Hour)), MaxResults: aws.Int32(1)}
	all := listTasks(window)
	if len(all) != 2 || aws.ToString(all[0].TaskId) != second || aws.ToString(all[1].TaskId) != id {
		t.Errorf("ListAuditTasks = %+v, want the two tasks newest first", all)
	}
	inProgress := window
	inProgress.TaskStatus = types.AuditTaskStatusInProgress
	if got := listTasks(inProgress); len(got) != 1 || aws.ToString(got[0].TaskId) != second {
		t.Errorf("IN_PROGRESS filter: %+v", got)
	}
	scheduled := window
	scheduled.TaskType = types.AuditTaskTypeScheduledAuditTask
	if got := listTasks(scheduled); len(got) != 0 {
		t.Errorf("SCHEDULED filter: %+v", got)
	}
	_, err = e.a.ListAuditTasks(auditsCtx, &iot.ListAuditTasksInput{StartTime: aws.Time(time.Now().Add(-100 * 24 * time.Hour)), EndTime: aws.Time(time.Now())})
	wantCode(t, err, "InvalidRequestException", 400)
	_, err = e.a.ListAuditTasks(auditsCtx, &iot.ListAuditTasksInput{StartTime: aws.Time(time.Now()), EndTime: aws.Time(time.Now()), TaskStatus: "DONE"})
	wantCode(t, err, "InvalidRequestException", 400)

	// Cancel.
	if _, err := e.a.CancelAuditTask(auditsCtx, &iot.CancelAuditTaskInput{TaskId: aws.String(second)}); err != nil {
		t.Fatal(err)
	}
	canceled := auditsDescribe(t, e.a, second)
	if canceled.TaskStatus != types.AuditTaskStatusCanceled || aws.ToInt32(canceled.TaskStatistics.CanceledChecks) != 1 ||
		canceled.AuditDetails[warden.CheckLoggingDisabled].CheckRunStatus != types.AuditCheckRunStatusCanceled {
		t.Errorf("after cancel: %+v", canceled)
	}
	_, err = e.a.CancelAuditTask(auditsCtx, &iot.CancelAuditTaskInput{TaskId: aws.String(second)})
	wantCode(t, err, "InvalidRequestException", 400)
	_, err = e.a.CancelAuditTask(auditsCtx, &iot.CancelAuditTaskInput{TaskId: aws.String(id)})
	wantCode(t, err, "InvalidRequestException", 400) // COMPLETED
	_, err = e.a.CancelAuditTask(auditsCtx, &iot.CancelAuditTaskInput{TaskId: aws.String("0000")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.b.DescribeAuditTask(auditsCtx, &iot.DescribeAuditTaskInput{TaskId: aws.String(id)})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.a.DescribeAuditTask(auditsCtx, &iot.DescribeAuditTaskInput{TaskId: aws.String("bad_id")})
	wantCode(t, err, "InvalidRequestException", 400)
	if c := auditsChangesOf(t, e, "arn:aws:iot:us-east-1:123456789012:audit/task/"+second); len(c) != 2 || c[1].Operation != "CancelAuditTask" || c[1].Actor != keyA {
		t.Errorf("task change log %+v", c)
	}

	// At most 10 on-demand audits in progress.
	for i := range 10 {
		if _, err := e.a.StartOnDemandAuditTask(auditsCtx, &iot.StartOnDemandAuditTaskInput{TargetCheckNames: []string{warden.CheckLoggingDisabled}}); err != nil {
			t.Fatalf("audit %d: %v", i+1, err)
		}
	}
	_, err = e.a.StartOnDemandAuditTask(auditsCtx, &iot.StartOnDemandAuditTaskInput{TargetCheckNames: []string{warden.CheckLoggingDisabled}})
	wantCode(t, err, "LimitExceededException", 410)
	if n := len(listTasks(inProgress)); n != 10 {
		t.Errorf("%d in progress after the rejected 11th, want 10", n)
	}
	auditsRun(t, e, 0)
	if _, err := e.a.StartOnDemandAuditTask(auditsCtx, &iot.StartOnDemandAuditTaskInput{TargetCheckNames: []string{warden.CheckLoggingDisabled}}); err != nil {
		t.Errorf("after the runner finished them: %v", err)
	}
}

func TestAuditsThresholdConfiguration(t *testing.T) {
	e := newEnv(t)
	id := auditsExpiringCert(t, e.a, 45)
	if _, err := e.a.UpdateAccountAuditConfiguration(auditsCtx, &iot.UpdateAccountAuditConfigurationInput{RoleArn: aws.String(auditsRole),
		AuditCheckConfigurations: map[string]types.AuditCheckConfiguration{
			warden.CheckDeviceCertificateExpiring: {Enabled: true},
			warden.CheckDeviceCertificateAge:      {Enabled: true, Configuration: map[string]string{"CERT_AGE_THRESHOLD_IN_DAYS": "30"}},
		}}); err != nil {
		t.Fatal(err)
	}
	task := auditsStart(t, e.a, warden.CheckDeviceCertificateExpiring, warden.CheckDeviceCertificateAge)
	auditsRun(t, e, 31*24*time.Hour) // a month later: 14 days left, 31 days old
	for _, check := range []string{warden.CheckDeviceCertificateExpiring, warden.CheckDeviceCertificateAge} {
		f := auditsFindings(t, e.a, iot.ListAuditFindingsInput{TaskId: aws.String(task), CheckName: aws.String(check)})
		if len(f) != 1 || aws.ToString(f[0].NonCompliantResource.ResourceIdentifier.DeviceCertificateId) != id {
			t.Errorf("%s: %d findings, want the certificate", check, len(f))
		}
	}
	// With a threshold of 10 days, 14 days left is compliant.
	if _, err := e.a.UpdateAccountAuditConfiguration(auditsCtx, &iot.UpdateAccountAuditConfigurationInput{
		AuditCheckConfigurations: map[string]types.AuditCheckConfiguration{warden.CheckDeviceCertificateExpiring: {Enabled: true,
			Configuration: map[string]string{"CERT_EXPIRATION_THRESHOLD_IN_DAYS": "30"}}}}); err != nil {
		t.Fatal(err)
	}
	task = auditsStart(t, e.a, warden.CheckDeviceCertificateExpiring)
	auditsRun(t, e, 0) // now: 45 days left > 30
	if d := auditsDescribe(t, e.a, task).AuditDetails[warden.CheckDeviceCertificateExpiring]; d.CheckRunStatus != types.AuditCheckRunStatusCompletedCompliant {
		t.Errorf("45 days left, threshold 30: %+v", d)
	}
}

func TestAuditsSuppressions(t *testing.T) {
	e := newEnv(t)
	check := warden.CheckDeviceCertificateExpiring
	a, b := auditsExpiringCert(t, e.a, 5), auditsExpiringCert(t, e.a, 6)
	auditsConfigure(t, e.a, check)
	res := func(id string) *types.ResourceIdentifier {
		return &types.ResourceIdentifier{DeviceCertificateId: aws.String(id)}
	}
	later := time.Now().Add(48 * time.Hour).Truncate(time.Second)

	before := len(auditsChanges(t, e))
	for _, tc := range []struct {
		name string
		in   iot.CreateAuditSuppressionInput
		code string
		msg  string
	}{
		{"no term", iot.CreateAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(a)}, "InvalidRequestException", "expirationDate or suppressIndefinitely"},
		{"both terms", iot.CreateAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(a), ExpirationDate: aws.Time(later), SuppressIndefinitely: aws.Bool(true)}, "InvalidRequestException", "not both"},
		{"past expiration", iot.CreateAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(a), ExpirationDate: aws.Time(time.Now().Add(-time.Hour))}, "InvalidRequestException", "not in the future"},
		{"wrong resource kind", iot.CreateAuditSuppressionInput{CheckName: aws.String(check), SuppressIndefinitely: aws.Bool(true),
			ResourceIdentifier: &types.ResourceIdentifier{PolicyVersionIdentifier: &types.PolicyVersionIdentifier{PolicyName: aws.String("p"), PolicyVersionId: aws.String("1")}}}, "InvalidRequestException", "deviceCertificateId"},
		{"unknown check", iot.CreateAuditSuppressionInput{CheckName: aws.String("NOPE"), ResourceIdentifier: res(a), SuppressIndefinitely: aws.Bool(true)}, "InvalidRequestException", "NOPE"},
		{"bad id", iot.CreateAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res("abc"), SuppressIndefinitely: aws.Bool(true)}, "InvalidRequestException", "deviceCertificateId"},
		{"long description", iot.CreateAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(a), SuppressIndefinitely: aws.Bool(true), Description: aws.String(strings.Repeat("x", 1001))}, "InvalidRequestException", "description"},
		{"bad token", iot.CreateAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(a), SuppressIndefinitely: aws.Bool(true), ClientRequestToken: aws.String("a b")}, "InvalidRequestException", "clientRequestToken"},
	} {
		_, err := e.a.CreateAuditSuppression(auditsCtx, &tc.in)
		wantCode(t, err, tc.code, 400)
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: message %q does not mention %q", tc.name, err.Error(), tc.msg)
		}
	}
	if n := len(auditsChanges(t, e)); n != before {
		t.Fatalf("rejected creates wrote %d change-log rows", n-before)
	}

	if _, err := e.a.CreateAuditSuppression(auditsCtx, &iot.CreateAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(a),
		SuppressIndefinitely: aws.Bool(true), Description: aws.String("known device"), ClientRequestToken: aws.String("token-a")}); err != nil {
		t.Fatal(err)
	}
	// A retry with the same token succeeds; the same suppression with a
	// new token is a conflict; the token for another one is refused.
	if _, err := e.a.CreateAuditSuppression(auditsCtx, &iot.CreateAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(a),
		SuppressIndefinitely: aws.Bool(true), ClientRequestToken: aws.String("token-a")}); err != nil {
		t.Errorf("retry with the same token: %v", err)
	}
	_, err := e.a.CreateAuditSuppression(auditsCtx, &iot.CreateAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(a), SuppressIndefinitely: aws.Bool(true)})
	wantCode(t, err, "ResourceAlreadyExistsException", 409)
	_, err = e.a.CreateAuditSuppression(auditsCtx, &iot.CreateAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(b),
		SuppressIndefinitely: aws.Bool(true), ClientRequestToken: aws.String("token-a")})
	wantCode(t, err, "InvalidRequestException", 400)
	if _, err := e.a.CreateAuditSuppression(auditsCtx, &iot.CreateAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(b),
		ExpirationDate: aws.Time(later)}); err != nil {
		t.Fatal(err)
	}

	got, err := e.a.DescribeAuditSuppression(auditsCtx, &iot.DescribeAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(a)})
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(got.SuppressIndefinitely) || got.ExpirationDate != nil || aws.ToString(got.Description) != "known device" ||
		aws.ToString(got.ResourceIdentifier.DeviceCertificateId) != a {
		t.Errorf("DescribeAuditSuppression %+v", got)
	}
	// An ARN names the same certificate as its id.
	if _, err := e.a.DescribeAuditSuppression(auditsCtx, &iot.DescribeAuditSuppressionInput{CheckName: aws.String(check),
		ResourceIdentifier: &types.ResourceIdentifier{DeviceCertificateArn: aws.String(certARN(accountA, a))}}); err != nil {
		t.Errorf("by ARN: %v", err)
	}
	_, err = e.b.DescribeAuditSuppression(auditsCtx, &iot.DescribeAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(a)})
	wantCode(t, err, "ResourceNotFoundException", 404)

	list := func() []string {
		t.Helper()
		var ids []string
		p := iot.NewListAuditSuppressionsPaginator(e.a, &iot.ListAuditSuppressionsInput{MaxResults: aws.Int32(1)})
		for p.HasMorePages() {
			out, err := p.NextPage(auditsCtx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range out.Suppressions {
				ids = append(ids, aws.ToString(s.ResourceIdentifier.DeviceCertificateId))
			}
		}
		return ids
	}
	if got := list(); !slices.Equal(got, []string{b, a}) {
		t.Errorf("ascending (default): %v, want [b a] (dated before indefinite)", got)
	}
	// The Go SDK cannot send ascendingOrder=false.
	desc := wantOK(t, e.call(t, "POST", "/audit/suppressions/list", []byte(`{"ascendingOrder":false}`)))["suppressions"].([]any)
	if len(desc) != 2 || desc[0].(map[string]any)["resourceIdentifier"].(map[string]any)["deviceCertificateId"] != a {
		t.Errorf("descending: %v, want a first", desc)
	}
	out, err := e.a.ListAuditSuppressions(auditsCtx, &iot.ListAuditSuppressionsInput{ResourceIdentifier: res(b)})
	if err != nil || len(out.Suppressions) != 1 || aws.ToTime(out.Suppressions[0].ExpirationDate).Unix() != later.Unix() {
		t.Errorf("filter by resource: %+v %v", out, err)
	}

	// Run an audit: a is suppressed, b too until its date.
	task := auditsStart(t, e.a, check)
	auditsRun(t, e, 0)
	det := auditsDescribe(t, e.a, task).AuditDetails[check]
	if det.CheckRunStatus != types.AuditCheckRunStatusCompletedCompliant || aws.ToInt64(det.SuppressedNonCompliantResourcesCount) != 2 ||
		aws.ToInt64(det.NonCompliantResourcesCount) != 0 {
		t.Errorf("both suppressed: %+v", det)
	}
	if f := auditsFindings(t, e.a, iot.ListAuditFindingsInput{TaskId: aws.String(task), ListSuppressedFindings: true}); len(f) != 2 || !aws.ToBool(f[0].IsSuppressed) {
		t.Errorf("suppressed findings: %+v", f)
	}
	// Update b to expire soon, and run the audit after that.
	if _, err := e.a.UpdateAuditSuppression(auditsCtx, &iot.UpdateAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(b),
		ExpirationDate: aws.Time(time.Now().Add(time.Hour)), Description: aws.String("for an hour")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.a.UpdateAuditSuppression(auditsCtx, &iot.UpdateAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(b),
		ExpirationDate: aws.Time(time.Now().Add(-time.Hour))})
	wantCode(t, err, "InvalidRequestException", 400)
	_, err = e.a.UpdateAuditSuppression(auditsCtx, &iot.UpdateAuditSuppressionInput{CheckName: aws.String(warden.CheckDeviceCertificateAge), ResourceIdentifier: res(b),
		SuppressIndefinitely: aws.Bool(true)})
	wantCode(t, err, "ResourceNotFoundException", 404)
	task = auditsStart(t, e.a, check)
	auditsRun(t, e, 2*time.Hour)
	det = auditsDescribe(t, e.a, task).AuditDetails[check]
	if det.CheckRunStatus != types.AuditCheckRunStatusCompletedNonCompliant || aws.ToInt64(det.SuppressedNonCompliantResourcesCount) != 1 ||
		aws.ToInt64(det.NonCompliantResourcesCount) != 1 {
		t.Errorf("b's suppression expired: %+v", det)
	}
	f := wantOK(t, e.call(t, "POST", "/audit/findings", []byte(`{"taskId":"`+task+`","listSuppressedFindings":false}`)))["findings"].([]any)
	if len(f) != 1 || f[0].(map[string]any)["nonCompliantResource"].(map[string]any)["resourceIdentifier"].(map[string]any)["deviceCertificateId"] != b {
		t.Errorf("unsuppressed findings: %v", f)
	}

	if _, err := e.a.DeleteAuditSuppression(auditsCtx, &iot.DeleteAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(a)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.a.DescribeAuditSuppression(auditsCtx, &iot.DescribeAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(a)})
	wantCode(t, err, "ResourceNotFoundException", 404)
	if _, err := e.a.DeleteAuditSuppression(auditsCtx, &iot.DeleteAuditSuppressionInput{CheckName: aws.String(check), ResourceIdentifier: res(a)}); err != nil {
		t.Errorf("deleting a missing suppression: %v", err)
	}
	ops := []string{}
	for _, c := range auditsChanges(t, e)[before:] {
		if strings.Contains(c.ResourceArn, ":audit/suppression/") && c.Actor == keyA {
			ops = append(ops, c.Operation)
		}
	}
	if want := []string{"CreateAuditSuppression", "CreateAuditSuppression", "UpdateAuditSuppression", "DeleteAuditSuppression"}; !slices.Equal(ops, want) {
		t.Errorf("change log operations %v, want %v", ops, want)
	}
}

func TestAuditsScheduled(t *testing.T) {
	e := newEnv(t)
	auditsConfigure(t, e.a, warden.CheckLoggingDisabled, warden.CheckIoTPolicyOverlyPermissive)
	checks := []string{warden.CheckLoggingDisabled}
	for _, tc := range []struct {
		name string
		in   iot.CreateScheduledAuditInput
		msg  string
	}{
		{"weekly without a day", iot.CreateScheduledAuditInput{Frequency: types.AuditFrequencyWeekly}, "needs dayOfWeek"},
		{"monthly without a day", iot.CreateScheduledAuditInput{Frequency: types.AuditFrequencyMonthly}, "needs dayOfMonth"},
		{"day 32", iot.CreateScheduledAuditInput{Frequency: types.AuditFrequencyMonthly, DayOfMonth: aws.String("32")}, "dayOfMonth"},
		{"day 05", iot.CreateScheduledAuditInput{Frequency: types.AuditFrequencyMonthly, DayOfMonth: aws.String("05")}, "dayOfMonth"},
		{"daily with a day", iot.CreateScheduledAuditInput{Frequency: types.AuditFrequencyDaily, DayOfWeek: types.DayOfWeekMon}, "neither"},
		{"bad frequency", iot.CreateScheduledAuditInput{Frequency: "HOURLY"}, "frequency"},
		{"bad day", iot.CreateScheduledAuditInput{Frequency: types.AuditFrequencyWeekly, DayOfWeek: "MONDAY"}, "dayOfWeek"},
		{"check not enabled", iot.CreateScheduledAuditInput{Frequency: types.AuditFrequencyDaily, TargetCheckNames: []string{warden.CheckDeviceCertificateAge}}, "not enabled"},
	} {
		tc.in.ScheduledAuditName = aws.String("s")
		if tc.in.TargetCheckNames == nil {
			tc.in.TargetCheckNames = checks
		}
		_, err := e.a.CreateScheduledAudit(auditsCtx, &tc.in)
		wantCode(t, err, "InvalidRequestException", 400)
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: message %q does not mention %q", tc.name, err.Error(), tc.msg)
		}
	}
	_, err := e.a.CreateScheduledAudit(auditsCtx, &iot.CreateScheduledAuditInput{ScheduledAuditName: aws.String("bad name"), Frequency: types.AuditFrequencyDaily, TargetCheckNames: checks})
	wantCode(t, err, "InvalidRequestException", 400)

	arn := "arn:aws:iot:us-east-1:123456789012:scheduledaudit/"
	for i, in := range []iot.CreateScheduledAuditInput{
		{Frequency: types.AuditFrequencyDaily},
		{Frequency: types.AuditFrequencyWeekly, DayOfWeek: types.DayOfWeekSun},
		{Frequency: types.AuditFrequencyBiweekly, DayOfWeek: types.DayOfWeekFri},
		{Frequency: types.AuditFrequencyMonthly, DayOfMonth: aws.String("31")},
		{Frequency: types.AuditFrequencyMonthly, DayOfMonth: aws.String("LAST"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("sec")}}},
	} {
		name := fmt.Sprintf("audit-%d", i)
		in.ScheduledAuditName, in.TargetCheckNames = aws.String(name), checks
		out, err := e.a.CreateScheduledAudit(auditsCtx, &in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if aws.ToString(out.ScheduledAuditArn) != arn+name {
			t.Errorf("arn %s", aws.ToString(out.ScheduledAuditArn))
		}
	}
	_, err = e.a.CreateScheduledAudit(auditsCtx, &iot.CreateScheduledAuditInput{ScheduledAuditName: aws.String("audit-0"), Frequency: types.AuditFrequencyDaily, TargetCheckNames: checks})
	wantCode(t, err, "ResourceAlreadyExistsException", 409)
	_, err = e.a.CreateScheduledAudit(auditsCtx, &iot.CreateScheduledAuditInput{ScheduledAuditName: aws.String("sixth"), Frequency: types.AuditFrequencyDaily, TargetCheckNames: checks})
	wantCode(t, err, "LimitExceededException", 410)

	d, err := e.a.DescribeScheduledAudit(auditsCtx, &iot.DescribeScheduledAuditInput{ScheduledAuditName: aws.String("audit-3")})
	if err != nil {
		t.Fatal(err)
	}
	if d.Frequency != types.AuditFrequencyMonthly || aws.ToString(d.DayOfMonth) != "31" || d.DayOfWeek != "" || aws.ToString(d.ScheduledAuditArn) != arn+"audit-3" ||
		!slices.Equal(d.TargetCheckNames, checks) || aws.ToString(d.ScheduledAuditName) != "audit-3" {
		t.Errorf("DescribeScheduledAudit %+v", d)
	}
	tags, err := e.a.ListTagsForResource(auditsCtx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn + "audit-4")})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "sec" {
		t.Errorf("tags %+v %v", tags, err)
	}
	var names []string
	p := iot.NewListScheduledAuditsPaginator(e.a, &iot.ListScheduledAuditsInput{MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(auditsCtx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range out.ScheduledAudits {
			names = append(names, aws.ToString(a.ScheduledAuditName))
			if aws.ToString(a.ScheduledAuditName) == "audit-1" && (a.Frequency != types.AuditFrequencyWeekly || a.DayOfWeek != types.DayOfWeekSun) {
				t.Errorf("listed %+v", a)
			}
		}
	}
	if !slices.Equal(names, []string{"audit-0", "audit-1", "audit-2", "audit-3", "audit-4"}) {
		t.Errorf("ListScheduledAudits %v", names)
	}
	if out, _ := e.b.ListScheduledAudits(auditsCtx, &iot.ListScheduledAuditsInput{}); len(out.ScheduledAudits) != 0 {
		t.Error("account B sees account A's scheduled audits")
	}

	// Updates: MONTHLY → WEEKLY needs a day of the week and drops the day of the month.
	_, err = e.a.UpdateScheduledAudit(auditsCtx, &iot.UpdateScheduledAuditInput{ScheduledAuditName: aws.String("audit-3"), Frequency: types.AuditFrequencyWeekly})
	wantCode(t, err, "InvalidRequestException", 400)
	_, err = e.a.UpdateScheduledAudit(auditsCtx, &iot.UpdateScheduledAuditInput{ScheduledAuditName: aws.String("audit-3"), TargetCheckNames: []string{warden.CheckDeviceCertificateAge}})
	wantCode(t, err, "InvalidRequestException", 400)
	up, err := e.a.UpdateScheduledAudit(auditsCtx, &iot.UpdateScheduledAuditInput{ScheduledAuditName: aws.String("audit-3"),
		Frequency: types.AuditFrequencyWeekly, DayOfWeek: types.DayOfWeekTue, TargetCheckNames: []string{warden.CheckIoTPolicyOverlyPermissive}})
	if err != nil || aws.ToString(up.ScheduledAuditArn) != arn+"audit-3" {
		t.Fatalf("UpdateScheduledAudit: %+v %v", up, err)
	}
	d, _ = e.a.DescribeScheduledAudit(auditsCtx, &iot.DescribeScheduledAuditInput{ScheduledAuditName: aws.String("audit-3")})
	if d.Frequency != types.AuditFrequencyWeekly || d.DayOfWeek != types.DayOfWeekTue || d.DayOfMonth != nil ||
		!slices.Equal(d.TargetCheckNames, []string{warden.CheckIoTPolicyOverlyPermissive}) {
		t.Errorf("after update %+v", d)
	}
	_, err = e.a.UpdateScheduledAudit(auditsCtx, &iot.UpdateScheduledAuditInput{ScheduledAuditName: aws.String("missing"), Frequency: types.AuditFrequencyDaily})
	wantCode(t, err, "ResourceNotFoundException", 404)

	if _, err := e.a.DeleteScheduledAudit(auditsCtx, &iot.DeleteScheduledAuditInput{ScheduledAuditName: aws.String("audit-4")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.a.DescribeScheduledAudit(auditsCtx, &iot.DescribeScheduledAuditInput{ScheduledAuditName: aws.String("audit-4")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.a.DeleteScheduledAudit(auditsCtx, &iot.DeleteScheduledAuditInput{ScheduledAuditName: aws.String("audit-4")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	_, err = e.a.ListTagsForResource(auditsCtx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn + "audit-4")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	ops := []string{}
	for _, c := range auditsChangesOf(t, e, arn+"audit-3") {
		ops = append(ops, c.Operation+"/"+c.Actor)
	}
	if want := []string{"CreateScheduledAudit/" + keyA, "UpdateScheduledAudit/" + keyA}; !slices.Equal(ops, want) {
		t.Errorf("change log %v, want %v", ops, want)
	}
}

// TestAuditsRevocation plants a revoked device certificate and a revoked
// intermediate CA, registered through the API, with CRLs on an httptest
// server.
func TestAuditsRevocation(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	root := certNewCA(t, "Revocation Root")
	inter := root.intermediate(t, "Revoked Intermediate")
	// Re-issue the intermediate with a CRL distribution point.
	interCert, interPEM := certMake(t, &x509.Certificate{Subject: pkix.Name{CommonName: "Revoked Intermediate"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, CRLDistributionPoints: []string{srv.URL + "/root.crl"}}, inter.key, root)
	inter = &certCA{cert: interCert, key: inter.key, pem: interPEM, id: certIDOf(interCert.Raw)}
	rootID := certRegisterCA(t, e.a, root, true)
	interID := certRegisterCA(t, e.a, inter, true)
	revokedCert, revokedPEM := certMake(t, &x509.Certificate{Subject: pkix.Name{CommonName: "revoked"}, CRLDistributionPoints: []string{srv.URL + "/root.crl"}}, certNewKey(t), root)
	_, keptPEM := certMake(t, &x509.Certificate{Subject: pkix.Name{CommonName: "kept"}, CRLDistributionPoints: []string{srv.URL + "/root.crl"}}, certNewKey(t), root)
	_, underPEM := certMake(t, &x509.Certificate{Subject: pkix.Name{CommonName: "under"}}, certNewKey(t), inter)
	revokedID := certRegister(t, e.a, revokedPEM, types.CertificateStatusActive)
	certRegister(t, e.a, keptPEM, types.CertificateStatusActive)
	underID := certRegister(t, e.a, underPEM, types.CertificateStatusActive)
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: revokedCert.SerialNumber, RevocationTime: time.Now().Add(-time.Hour)},
			{SerialNumber: inter.cert.SerialNumber, RevocationTime: time.Now().Add(-time.Hour)}}}, root.cert, root.key)
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("/root.crl", func(w http.ResponseWriter, r *http.Request) { w.Write(crl) })

	checks := []string{warden.CheckRevokedDeviceCertificateStillActive, warden.CheckRevokedCACertificateStillActive, warden.CheckIntermediateCARevokedForActiveDeviceCerts}
	auditsConfigure(t, e.a, checks...)
	task := auditsStart(t, e.a, checks...)
	auditsRun(t, e, 0)
	want := map[string]string{
		warden.CheckRevokedDeviceCertificateStillActive:       revokedID,
		warden.CheckRevokedCACertificateStillActive:           interID,
		warden.CheckIntermediateCARevokedForActiveDeviceCerts: underID,
	}
	for check, id := range want {
		f := auditsFindings(t, e.a, iot.ListAuditFindingsInput{TaskId: aws.String(task), CheckName: aws.String(check)})
		if len(f) != 1 {
			t.Errorf("%s: %d findings, want 1", check, len(f))
			continue
		}
		r := f[0].NonCompliantResource.ResourceIdentifier
		got := aws.ToString(r.DeviceCertificateId) + aws.ToString(r.CaCertificateId)
		if got != id || aws.ToString(f[0].ReasonForNonComplianceCode) == "" {
			t.Errorf("%s: finding about %s (%s), want %s", check, got, aws.ToString(f[0].ReasonForNonComplianceCode), id)
		}
		if check == warden.CheckIntermediateCARevokedForActiveDeviceCerts {
			rel := f[0].RelatedResources
			if len(rel) != 1 || rel[0].ResourceType != types.ResourceTypeIssuerCertificate || aws.ToString(rel[0].ResourceIdentifier.IssuerCertificateIdentifier.IssuerId) != interID {
				t.Errorf("related resources %+v", rel)
			}
		}
	}
	_ = rootID

	// The CRL server goes away: the checks fail with a reason instead of passing.
	srv.Close()
	task = auditsStart(t, e.a, checks...)
	auditsRun(t, e, 0)
	for check, d := range auditsDescribe(t, e.a, task).AuditDetails {
		if d.CheckRunStatus != types.AuditCheckRunStatusFailed || !strings.Contains(aws.ToString(d.Message), "/root.crl") {
			t.Errorf("%s with the CRL unreachable: %s %q", check, d.CheckRunStatus, aws.ToString(d.Message))
		}
	}
}

// TestAuditsRestart: an audit started before a restart, and one whose
// runner died holding it, both finish after the restart.
func TestAuditsRestart(t *testing.T) {
	e := newEnv(t)
	auditsConfigure(t, e.a, warden.CheckLoggingDisabled)
	waiting := auditsStart(t, e.a, warden.CheckLoggingDisabled)
	if _, ok, err := e.store.ClaimAuditTask(auditsCtx, "process-killed-with-sigkill", 30*time.Second, 3, 0, time.Now()); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	fresh := auditsStart(t, e.a, warden.CheckLoggingDisabled)
	e.restart()
	auditsRun(t, e, 0)
	if st := auditsDescribe(t, e.a, fresh).TaskStatus; st != types.AuditTaskStatusCompleted {
		t.Errorf("task started before the restart: %s, want COMPLETED", st)
	}
	if st := auditsDescribe(t, e.a, waiting).TaskStatus; st != types.AuditTaskStatusInProgress {
		t.Errorf("task of the killed runner, lease not expired: %s, want IN_PROGRESS", st)
	}
	auditsRun(t, e, time.Minute)
	if st := auditsDescribe(t, e.a, waiting).TaskStatus; st != types.AuditTaskStatusCompleted {
		t.Errorf("task of the killed runner after its lease: %s, want COMPLETED", st)
	}
}

// auditsChanges lists account A's change log.
func auditsChanges(t *testing.T, e *env) []warden.Change {
	t.Helper()
	scope := warden.Scope{Account: accountA, Region: region}
	c, err := e.store.Changes(auditsCtx, warden.ChangeFilter{Scope: &scope})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// auditsChangesOf lists the change log of one resource.
func auditsChangesOf(t *testing.T, e *env, arn string) []warden.Change {
	t.Helper()
	c, err := e.store.Changes(auditsCtx, warden.ChangeFilter{ResourceArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
