package api_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/engine"
	"github.com/warden-iot/warden/internal/engine/enginetest"
	"github.com/warden-iot/warden/internal/pgtest"
)

// Fixtures of the mitigation task tests.
const (
	mitAudit    = "a3aea009955e501a31b764abe1bebd3d"
	mitExpiring = "DEVICE_CERTIFICATE_EXPIRING_CHECK"
	mitPolicy   = "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"
	mitLogging  = "LOGGING_DISABLED_CHECK"
	mitCAExp    = "CA_CERTIFICATE_EXPIRING_CHECK"
	mitReason   = "CERTIFICATE_APPROACHING_EXPIRATION"
)

var mitScopeA = warden.Scope{Account: accountA, Region: region}

// mitEnv is the API test env plus what mitigation tasks need: direct SQL
// for findings (audits run in their own runner) and an engine the test
// drives step by step.
type mitEnv struct {
	*env
	t      *testing.T
	raw    *sql.DB
	engOpt engine.Options
}

func newMitEnv(t *testing.T) *mitEnv {
	t.Helper()
	m := &mitEnv{env: newEnv(t), t: t}
	raw, err := enginetest.Open(pgtest.Database(t, m.dir), m.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	m.raw = raw
	m.exec(`INSERT INTO audit_tasks (account, region, task_id, task_type, task_status, task_start_time, end_time)
		VALUES (?, ?, ?, 'ON_DEMAND_AUDIT_TASK', 'COMPLETED', ?, ?)`, accountA, region, mitAudit, time.Now().UnixMilli(), time.Now().UnixMilli())
	return m
}

func (m *mitEnv) exec(query string, args ...any) {
	m.t.Helper()
	if _, err := m.raw.Exec(query, args...); err != nil {
		m.t.Fatalf("%s: %v", query, err)
	}
}

func (m *mitEnv) count(query string, args ...any) int {
	m.t.Helper()
	var n int
	if err := m.raw.QueryRow(query, args...).Scan(&n); err != nil {
		m.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// finding stores a finding of audit mitAudit (account A) and returns its id.
type mitFindingSpec struct {
	check, resourceType, ident, reason string
	suppressed                         bool
	audit                              string
	account                            string
}

func (m *mitEnv) finding(f mitFindingSpec) string {
	m.t.Helper()
	if f.reason == "" {
		f.reason = mitReason
	}
	if f.audit == "" {
		f.audit = mitAudit
	}
	if f.account == "" {
		f.account = accountA
	}
	id := warden.NewUUID()
	sup := 0
	if f.suppressed {
		sup = 1
	}
	now := time.Now().UnixMilli()
	m.exec(`INSERT INTO audit_findings (account, region, finding_id, task_id, check_name, severity, resource_type,
		resource_identifier, reason_code, reason, is_suppressed, task_start_time, finding_time)
		VALUES (?, ?, ?, ?, ?, 'MEDIUM', ?, ?, ?, 'seeded by the test', ?, ?, ?)`,
		f.account, region, id, f.audit, f.check, f.resourceType, f.ident, f.reason, sup, now-1000, now)
	return id
}

// certFinding makes an ACTIVE certificate and a DEVICE_CERTIFICATE_EXPIRING_CHECK
// finding about it.
func (m *mitEnv) certFinding() (findingID, certID string) {
	m.t.Helper()
	certID = mitCert(m.t, m.a)
	return m.finding(mitFindingSpec{check: mitExpiring, resourceType: "DEVICE_CERTIFICATE",
		ident: `{"deviceCertificateId":"` + certID + `"}`}), certID
}

func mitCert(t *testing.T, c *iot.Client) string {
	t.Helper()
	out, err := c.CreateKeysAndCertificate(context.Background(), &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		t.Fatalf("CreateKeysAndCertificate: %v", err)
	}
	return aws.ToString(out.CertificateId)
}

func (m *mitEnv) certStatus(id string) types.CertificateStatus {
	m.t.Helper()
	out, err := m.a.DescribeCertificate(context.Background(), &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if err != nil {
		m.t.Fatalf("DescribeCertificate %s: %v", id, err)
	}
	return out.CertificateDescription.Status
}

// action creates a mitigation action in account A with role roleArn.
func (m *mitEnv) action(name string, p *types.MitigationActionParams) {
	m.t.Helper()
	m.actionWithRole(name, roleArn, p)
}

func (m *mitEnv) actionWithRole(name, role string, p *types.MitigationActionParams) {
	m.t.Helper()
	if _, err := m.a.CreateMitigationAction(context.Background(), &iot.CreateMitigationActionInput{
		ActionName: aws.String(name), RoleArn: aws.String(role), ActionParams: p}); err != nil {
		m.t.Fatalf("CreateMitigationAction %s: %v", name, err)
	}
}

func (m *mitEnv) start(id string, target *types.AuditMitigationActionsTaskTarget, mapping map[string][]string) (*iot.StartAuditMitigationActionsTaskOutput, error) {
	return m.a.StartAuditMitigationActionsTask(context.Background(), &iot.StartAuditMitigationActionsTaskInput{
		TaskId: aws.String(id), Target: target, AuditCheckToActionsMapping: mapping, ClientRequestToken: aws.String("token-" + id)})
}

func (m *mitEnv) mustStart(id string, target *types.AuditMitigationActionsTaskTarget, mapping map[string][]string) {
	m.t.Helper()
	out, err := m.start(id, target, mapping)
	if err != nil {
		m.t.Fatalf("StartAuditMitigationActionsTask %s: %v", id, err)
	}
	if got := aws.ToString(out.TaskId); got != id {
		m.t.Fatalf("StartAuditMitigationActionsTask returned taskId %q, want %q", got, id)
	}
}

// startInAccountB gives account B a certificate finding, an action
// "deactivate" and a task id started with token of its own.
func (m *mitEnv) startInAccountB(id, token string) error {
	m.t.Helper()
	ctx := context.Background()
	findingB := m.bCertFinding()
	if _, err := m.b.CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{ActionName: aws.String("deactivate"),
		RoleArn: aws.String("arn:aws:iam::111122223333:role/r"), ActionParams: deviceCertParams()}); err != nil {
		m.t.Fatal(err)
	}
	_, err := m.b.StartAuditMitigationActionsTask(ctx, &iot.StartAuditMitigationActionsTaskInput{TaskId: aws.String(id),
		Target: mitByFindings(findingB), AuditCheckToActionsMapping: mitMapping(mitExpiring, "deactivate"), ClientRequestToken: aws.String(token)})
	return err
}

// bCertFinding is a finding of the certificate-expiring check in account B.
func (m *mitEnv) bCertFinding() string {
	return m.finding(mitFindingSpec{check: mitExpiring, resourceType: "DEVICE_CERTIFICATE", account: accountB,
		ident: `{"deviceCertificateId":"` + strings.Repeat("b", 64) + `"}`})
}

func mitByFindings(ids ...string) *types.AuditMitigationActionsTaskTarget {
	return &types.AuditMitigationActionsTaskTarget{FindingIds: ids}
}

func (m *mitEnv) engine() *engine.Engine { return engine.New(m.store, m.engOpt) }

// run applies everything there is to apply.
func (m *mitEnv) run() {
	m.t.Helper()
	if err := m.engine().RunUntilIdle(context.Background()); err != nil {
		m.t.Fatalf("engine: %v", err)
	}
}

func (m *mitEnv) describeTask(id string) *iot.DescribeAuditMitigationActionsTaskOutput {
	m.t.Helper()
	out, err := m.a.DescribeAuditMitigationActionsTask(context.Background(), &iot.DescribeAuditMitigationActionsTaskInput{TaskId: aws.String(id)})
	if err != nil {
		m.t.Fatalf("DescribeAuditMitigationActionsTask %s: %v", id, err)
	}
	return out
}

// stats renders a task's statistics of one check as
// "total/succeeded/failed/skipped/canceled".
func (m *mitEnv) stats(id, check string) string {
	m.t.Helper()
	s, ok := m.describeTask(id).TaskStatistics[check]
	if !ok {
		return "none"
	}
	return fmt.Sprintf("%d/%d/%d/%d/%d", aws.ToInt64(s.TotalFindingsCount), aws.ToInt64(s.SucceededFindingsCount),
		aws.ToInt64(s.FailedFindingsCount), aws.ToInt64(s.SkippedFindingsCount), aws.ToInt64(s.CanceledFindingsCount))
}

// executions lists a finding's executions with the SDK (all pages).
func (m *mitEnv) executions(taskID, findingID string) []types.AuditMitigationActionExecutionMetadata {
	m.t.Helper()
	var out []types.AuditMitigationActionExecutionMetadata
	p := iot.NewListAuditMitigationActionsExecutionsPaginator(m.a, &iot.ListAuditMitigationActionsExecutionsInput{
		TaskId: aws.String(taskID), FindingId: aws.String(findingID)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			m.t.Fatalf("ListAuditMitigationActionsExecutions: %v", err)
		}
		out = append(out, page.ActionsExecutions...)
	}
	return out
}

// mitExecSummary renders executions as "action:STATUS[:errorCode]" in order.
func mitExecSummary(execs []types.AuditMitigationActionExecutionMetadata) string {
	var parts []string
	for _, x := range execs {
		s := aws.ToString(x.ActionName) + ":" + string(x.Status)
		if x.ErrorCode != nil {
			s += ":" + aws.ToString(x.ErrorCode)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// taskIDs lists account A's tasks started in the last day (all pages).
func (m *mitEnv) taskIDs(in iot.ListAuditMitigationActionsTasksInput) []string {
	m.t.Helper()
	if in.StartTime == nil {
		in.StartTime = aws.Time(time.Now().Add(-24 * time.Hour))
	}
	if in.EndTime == nil {
		in.EndTime = aws.Time(time.Now().Add(time.Hour))
	}
	var ids []string
	p := iot.NewListAuditMitigationActionsTasksPaginator(m.a, &in)
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			m.t.Fatalf("ListAuditMitigationActionsTasks: %v", err)
		}
		for _, t := range page.Tasks {
			ids = append(ids, aws.ToString(t.TaskId))
		}
	}
	return ids
}

func mitMapping(kv ...string) map[string][]string {
	out := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = strings.Split(kv[i+1], ",")
	}
	return out
}

// ---------------------------------------------------------------- the story

func TestMitigationTaskDeactivatesCertificate(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	findingID, certID := m.certFinding()
	m.action("deactivate", deviceCertParams())
	m.mustStart("task1", mitByFindings(findingID), mitMapping(mitExpiring, "deactivate"))

	d := m.describeTask("task1")
	if d.TaskStatus != types.AuditMitigationActionsTaskStatusInProgress || d.EndTime != nil {
		t.Fatalf("before the engine ran: status %s, endTime %v; want IN_PROGRESS and no endTime", d.TaskStatus, d.EndTime)
	}
	if got := m.stats("task1", mitExpiring); got != "1/0/0/0/0" {
		t.Fatalf("statistics before running %s, want 1/0/0/0/0", got)
	}
	if got := mitExecSummary(m.executions("task1", findingID)); got != "deactivate:PENDING" {
		t.Fatalf("executions before running: %s, want deactivate:PENDING", got)
	}
	m.run()

	d = m.describeTask("task1")
	if d.TaskStatus != types.AuditMitigationActionsTaskStatusCompleted || d.EndTime == nil || d.StartTime == nil || d.EndTime.Before(*d.StartTime) {
		t.Fatalf("after running: status %s start %v end %v; want COMPLETED with endTime ≥ startTime", d.TaskStatus, d.StartTime, d.EndTime)
	}
	if got := m.stats("task1", mitExpiring); got != "1/1/0/0/0" {
		t.Fatalf("statistics %s, want 1/1/0/0/0", got)
	}
	if got := m.certStatus(certID); got != types.CertificateStatusInactive {
		t.Fatalf("certificate is %s, want INACTIVE", got)
	}
	execs := m.executions("task1", findingID)
	if len(execs) != 1 {
		t.Fatalf("%d executions, want 1", len(execs))
	}
	x := execs[0]
	action := describe(t, m.a, "deactivate")
	if x.Status != types.AuditMitigationActionsExecutionStatusCompleted || aws.ToString(x.TaskId) != "task1" ||
		aws.ToString(x.FindingId) != findingID || aws.ToString(x.ActionName) != "deactivate" ||
		aws.ToString(x.ActionId) != aws.ToString(action.ActionId) || x.StartTime == nil || x.EndTime == nil || x.ErrorCode != nil {
		t.Fatalf("execution %+v", x)
	}
	// The change log names the execution.
	changes, err := m.store.Changes(ctx, warden.ChangeFilter{ResourceArn: mitScopeA.CertificateARN(certID)})
	if err != nil {
		t.Fatal(err)
	}
	last := changes[len(changes)-1]
	if want := "execution:" + warden.ExecutionID("task1", findingID, "deactivate"); last.Actor != want || last.Operation != "UpdateCertificate" ||
		last.Before != `{"status":"ACTIVE"}` || last.After != `{"status":"INACTIVE"}` {
		t.Fatalf("last change %+v, want UpdateCertificate ACTIVE→INACTIVE by %s", last, want)
	}
	// The actionsDefinition is the action as it was.
	if len(d.ActionsDefinition) != 1 || aws.ToString(d.ActionsDefinition[0].Name) != "deactivate" ||
		aws.ToString(d.ActionsDefinition[0].Id) != aws.ToString(action.ActionId) || aws.ToString(d.ActionsDefinition[0].RoleArn) != roleArn ||
		paramsJSON(d.ActionsDefinition[0].ActionParams) != paramsJSON(deviceCertParams()) {
		t.Fatalf("actionsDefinition %+v", d.ActionsDefinition)
	}
	if !slices.Equal(d.Target.FindingIds, []string{findingID}) || d.Target.AuditTaskId != nil ||
		!slices.Equal(d.AuditCheckToActionsMapping[mitExpiring], []string{"deactivate"}) {
		t.Fatalf("target %+v mapping %v", d.Target, d.AuditCheckToActionsMapping)
	}
}

// ---------------------------------------------------------------- request rules

func TestStartMitigationTaskRejects(t *testing.T) {
	m := newMitEnv(t)
	findingID, _ := m.certFinding()
	policyFinding := m.finding(mitFindingSpec{check: mitPolicy, resourceType: "IOT_POLICY",
		ident: `{"policyVersionIdentifier":{"policyName":"p","policyVersionId":"1"}}`, reason: "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS"})
	m.action("deactivate", deviceCertParams())
	m.action("logs", sixParams()[4].params)
	m.actionWithRole("b-only", roleArn, deviceCertParams())
	if _, err := m.b.CreateMitigationAction(context.Background(), &iot.CreateMitigationActionInput{
		ActionName: aws.String("b-action"), RoleArn: aws.String(roleArn), ActionParams: deviceCertParams()}); err != nil {
		t.Fatal(err)
	}
	findingB := m.bCertFinding()
	many := make([]string, 26)
	for i := range many {
		many[i] = fmt.Sprintf("f%d", i)
	}
	tests := []struct {
		name    string
		id      string
		target  *types.AuditMitigationActionsTaskTarget
		mapping map[string][]string
		want    string // in the message
	}{
		{"empty target", "t", &types.AuditMitigationActionsTaskTarget{}, mitMapping(mitExpiring, "deactivate"), "target is empty"},
		{"findingIds and auditTaskId", "t", &types.AuditMitigationActionsTaskTarget{FindingIds: []string{findingID}, AuditTaskId: aws.String(mitAudit)},
			mitMapping(mitExpiring, "deactivate"), "findingIds cannot be combined"},
		{"filter without audit", "t", &types.AuditMitigationActionsTaskTarget{AuditCheckToReasonCodeFilter: mitMapping(mitExpiring, mitReason)},
			mitMapping(mitExpiring, "deactivate"), "needs the auditTaskId"},
		{"26 findings", "t", mitByFindings(many...), mitMapping(mitExpiring, "deactivate"), "target.findingIds"},
		{"a finding twice", "t", mitByFindings(findingID, findingID), mitMapping(mitExpiring, "deactivate"), "twice"},
		{"empty findingIds", "t", &types.AuditMitigationActionsTaskTarget{FindingIds: []string{}}, mitMapping(mitExpiring, "deactivate"), "target.findingIds"},
		{"unknown finding", "t", mitByFindings(findingID, "no-such-finding"), mitMapping(mitExpiring, "deactivate"), "no-such-finding"},
		{"another account's finding", "t", mitByFindings(findingB), mitMapping(mitExpiring, "deactivate"), findingB},
		{"unknown audit", "t", &types.AuditMitigationActionsTaskTarget{AuditTaskId: aws.String("0123456789abcdef0123456789abcdef")},
			mitMapping(mitExpiring, "deactivate"), "audit task 0123456789abcdef0123456789abcdef does not exist"},
		{"bad audit id", "t", &types.AuditMitigationActionsTaskTarget{AuditTaskId: aws.String("has_underscore")}, mitMapping(mitExpiring, "deactivate"), "target.auditTaskId"},
		{"empty mapping", "t", mitByFindings(findingID), map[string][]string{}, "auditCheckToActionsMapping"},
		{"six actions", "t", mitByFindings(findingID), mitMapping(mitExpiring, "a,b,c,d,e,f"), "auditCheckToActionsMapping." + mitExpiring},
		{"action twice", "t", mitByFindings(findingID), mitMapping(mitExpiring, "deactivate,deactivate"), "listed twice"},
		{"unknown check", "t", mitByFindings(findingID), mitMapping("NO_SUCH_CHECK", "deactivate"), "NO_SUCH_CHECK"},
		{"unknown action", "t", mitByFindings(findingID), mitMapping(mitExpiring, "nope"), "Mitigation action nope (for audit check " + mitExpiring + ") does not exist"},
		{"another account's action", "t", mitByFindings(findingID), mitMapping(mitExpiring, "b-action"), "b-action"},
		{"unsupported type", "t", mitByFindings(findingID), mitMapping(mitExpiring, "logs"),
			"Mitigation action logs is of type ENABLE_IOT_LOGGING, which cannot be applied to findings of audit check " + mitExpiring},
		{"unsupported type, other check", "t", mitByFindings(policyFinding), mitMapping(mitPolicy, "deactivate"), "cannot be applied to findings of audit check " + mitPolicy},
		{"bad task id", "bad.id", mitByFindings(findingID), mitMapping(mitExpiring, "deactivate"), "taskId"},
		{"long task id", strings.Repeat("x", 129), mitByFindings(findingID), mitMapping(mitExpiring, "deactivate"), "taskId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.start(tc.id, tc.target, tc.mapping)
			wantCode(t, err, "InvalidRequestException", 400)
			if msg := errorMessage(err); !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q does not contain %q", msg, tc.want)
			}
			if ids := m.taskIDs(iot.ListAuditMitigationActionsTasksInput{}); len(ids) != 0 {
				t.Fatalf("tasks %v exist after a rejected start", ids)
			}
			if n := m.count(`SELECT COUNT(*) FROM mitigation_executions`); n != 0 {
				t.Fatalf("%d executions after a rejected start", n)
			}
		})
	}
}

func TestStartMitigationTaskRawRules(t *testing.T) {
	m := newMitEnv(t)
	findingID, _ := m.certFinding()
	m.action("deactivate", deviceCertParams())
	body := func(v map[string]any) []byte {
		b, _ := json.Marshal(v)
		return b
	}
	target := map[string]any{"findingIds": []string{findingID}}
	mapping := map[string]any{mitExpiring: []string{"deactivate"}}
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"no target", body(map[string]any{"auditCheckToActionsMapping": mapping, "clientRequestToken": "tok"}), "'target'"},
		{"no mapping", body(map[string]any{"target": target, "clientRequestToken": "tok"}), "'auditCheckToActionsMapping'"},
		{"no token", body(map[string]any{"target": target, "auditCheckToActionsMapping": mapping}), "'clientRequestToken'"},
		{"bad token", body(map[string]any{"target": target, "auditCheckToActionsMapping": mapping, "clientRequestToken": "a b"}), "clientRequestToken"},
		{"long token", body(map[string]any{"target": target, "auditCheckToActionsMapping": mapping, "clientRequestToken": strings.Repeat("t", 65)}), "clientRequestToken"},
		{"empty audit id", body(map[string]any{"target": map[string]any{"auditTaskId": ""}, "auditCheckToActionsMapping": mapping, "clientRequestToken": "tok"}), "target.auditTaskId"},
		{"mapping not a map", []byte(`{"target":{"findingIds":["x"]},"auditCheckToActionsMapping":[],"clientRequestToken":"tok"}`), "auditCheckToActionsMapping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := wantJSONError(t, m.call(t, "POST", "/audit/mitigationactions/tasks/raw", tc.body), "InvalidRequestException", 400)
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q does not contain %q", msg, tc.want)
			}
		})
	}
	// An empty task id is the operation's validation error.
	wantJSONError(t, m.call(t, "POST", "/audit/mitigationactions/tasks/",
		body(map[string]any{"target": target, "auditCheckToActionsMapping": mapping, "clientRequestToken": "tok"})), "InvalidRequestException", 400)
	if n := m.count(`SELECT COUNT(*) FROM mitigation_tasks`); n != 0 {
		t.Fatalf("%d tasks after rejected starts", n)
	}
}

func TestStartMitigationTaskIdempotency(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	findingID, _ := m.certFinding()
	m.action("deactivate", deviceCertParams())
	in := &iot.StartAuditMitigationActionsTaskInput{TaskId: aws.String("t1"), Target: mitByFindings(findingID),
		AuditCheckToActionsMapping: mitMapping(mitExpiring, "deactivate"), ClientRequestToken: aws.String("token-1")}
	for i := range 2 {
		out, err := m.a.StartAuditMitigationActionsTask(ctx, in)
		if err != nil || aws.ToString(out.TaskId) != "t1" {
			t.Fatalf("start #%d: %v %v", i+1, out, err)
		}
	}
	if n := m.count(`SELECT COUNT(*) FROM mitigation_tasks`); n != 1 {
		t.Fatalf("%d tasks after a repeated start, want 1", n)
	}
	if n := m.count(`SELECT COUNT(*) FROM mitigation_executions`); n != 1 {
		t.Fatalf("%d executions after a repeated start, want 1", n)
	}
	// Same id, another token.
	other := *in
	other.ClientRequestToken = aws.String("token-2")
	_, err := m.a.StartAuditMitigationActionsTask(ctx, &other)
	wantCode(t, err, "TaskAlreadyExistsException", 400)
	// Another id, the same token.
	reuse := *in
	reuse.TaskId = aws.String("t2")
	_, err = m.a.StartAuditMitigationActionsTask(ctx, &reuse)
	wantCode(t, err, "InvalidRequestException", 400)
	if msg := errorMessage(err); !strings.Contains(msg, "token-1") || !strings.Contains(msg, "t1") {
		t.Fatalf("message %q should name the token and the task that used it", msg)
	}
	// The same start after the task completed is still the same task.
	m.run()
	out, err := m.a.StartAuditMitigationActionsTask(ctx, in)
	if err != nil || aws.ToString(out.TaskId) != "t1" {
		t.Fatalf("start after completion: %v %v", out, err)
	}
	if got := m.describeTask("t1").TaskStatus; got != types.AuditMitigationActionsTaskStatusCompleted {
		t.Fatalf("task is %s after a repeated start, want COMPLETED", got)
	}
	if n := m.count(`SELECT COUNT(*) FROM mitigation_tasks`); n != 1 {
		t.Fatalf("%d tasks, want 1", n)
	}
	// Account B has its own task ids.
	if err := m.startInAccountB("t1", "token-1"); err != nil {
		t.Fatalf("account B's t1: %v", err)
	}
}

func TestStartMitigationTaskLimit(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	findingID, _ := m.certFinding()
	m.action("deactivate", deviceCertParams())
	for i := range warden.MaxRunningMitigationTasks {
		m.mustStart(fmt.Sprintf("t%d", i), mitByFindings(findingID), mitMapping(mitExpiring, "deactivate"))
	}
	_, err := m.start("t10", mitByFindings(findingID), mitMapping(mitExpiring, "deactivate"))
	wantCode(t, err, "LimitExceededException", 410)
	if n := m.count(`SELECT COUNT(*) FROM mitigation_tasks`); n != 10 {
		t.Fatalf("%d tasks after the 11th start, want 10", n)
	}
	// Account B is not limited by A's tasks.
	if err := m.startInAccountB("b1", "b1"); err != nil {
		t.Fatalf("account B: %v", err)
	}
	// A canceled task no longer counts.
	if _, err := m.a.CancelAuditMitigationActionsTask(ctx, &iot.CancelAuditMitigationActionsTaskInput{TaskId: aws.String("t3")}); err != nil {
		t.Fatal(err)
	}
	m.mustStart("t10", mitByFindings(findingID), mitMapping(mitExpiring, "deactivate"))
	_, err = m.start("t11", mitByFindings(findingID), mitMapping(mitExpiring, "deactivate"))
	wantCode(t, err, "LimitExceededException", 410)
	// Finished tasks no longer count either.
	m.run()
	m.mustStart("t11", mitByFindings(findingID), mitMapping(mitExpiring, "deactivate"))
}

// ---------------------------------------------------------------- cancel

func TestCancelMitigationTask(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	cancel := func(id string) error {
		_, err := m.a.CancelAuditMitigationActionsTask(ctx, &iot.CancelAuditMitigationActionsTaskInput{TaskId: aws.String(id)})
		return err
	}
	wantCode(t, cancel("nope"), "ResourceNotFoundException", 404)
	wantJSONError(t, m.call(t, "PUT", "/audit/mitigationactions/tasks/bad.id/cancel", nil), "InvalidRequestException", 400)

	f1, c1 := m.certFinding()
	f2, c2 := m.certFinding()
	m.action("deactivate", deviceCertParams())
	m.mustStart("t1", mitByFindings(f1, f2), mitMapping(mitExpiring, "deactivate"))
	// Account B cannot see or cancel it.
	wantCode(t, func() error {
		_, err := m.b.CancelAuditMitigationActionsTask(ctx, &iot.CancelAuditMitigationActionsTaskInput{TaskId: aws.String("t1")})
		return err
	}(), "ResourceNotFoundException", 404)
	if err := cancel("t1"); err != nil {
		t.Fatal(err)
	}
	d := m.describeTask("t1")
	if d.TaskStatus != types.AuditMitigationActionsTaskStatusCanceled || d.EndTime == nil {
		t.Fatalf("status %s end %v, want CANCELED with an endTime", d.TaskStatus, d.EndTime)
	}
	if got := m.stats("t1", mitExpiring); got != "2/0/0/0/2" {
		t.Fatalf("statistics %s, want 2/0/0/0/2", got)
	}
	m.run()
	for _, f := range []string{f1, f2} {
		if got := mitExecSummary(m.executions("t1", f)); got != "deactivate:CANCELED" {
			t.Fatalf("executions %s, want deactivate:CANCELED", got)
		}
	}
	for _, c := range []string{c1, c2} {
		if got := m.certStatus(c); got != types.CertificateStatusActive {
			t.Fatalf("certificate of a canceled task is %s, want ACTIVE", got)
		}
	}
	err := cancel("t1")
	wantCode(t, err, "InvalidRequestException", 400)
	// A completed task cannot be canceled.
	m.mustStart("t2", mitByFindings(f1), mitMapping(mitExpiring, "deactivate"))
	m.run()
	wantCode(t, cancel("t2"), "InvalidRequestException", 400)
	if got := m.describeTask("t2").TaskStatus; got != types.AuditMitigationActionsTaskStatusCompleted {
		t.Fatalf("t2 is %s, want COMPLETED", got)
	}
}

// TestCancelMitigationTaskMidway cancels while the engine holds a claimed
// batch: the findings being applied finish, each whole; the others are
// canceled; the task stays CANCELED.
func TestCancelMitigationTaskMidway(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	var findings, certs []string
	for range 5 {
		f, c := m.certFinding()
		findings, certs = append(findings, f), append(certs, c)
	}
	m.action("deactivate", deviceCertParams())
	m.action("publish", snsParams(topicArn))
	mitTopic(t, m, "findings")
	m.mustStart("t1", mitByFindings(findings...), mitMapping(mitExpiring, "deactivate,publish"))
	claims := 0
	// The first claim takes 4 findings (the engine assumes one action per
	// finding until it has seen a claim).
	m.engOpt = engine.Options{Batch: 4, AfterClaim: func(context.Context, *warden.MitigationClaim) {
		claims++
		if claims == 1 {
			if _, err := m.a.CancelAuditMitigationActionsTask(ctx, &iot.CancelAuditMitigationActionsTaskInput{TaskId: aws.String("t1")}); err != nil {
				t.Errorf("cancel: %v", err)
			}
			if got := m.describeTask("t1").TaskStatus; got != types.AuditMitigationActionsTaskStatusCanceled {
				t.Errorf("status right after cancel %s, want CANCELED", got)
			}
		}
	}}
	m.run()
	if claims != 1 {
		t.Fatalf("%d claims, want 1 (the rest was canceled)", claims)
	}
	var got []string
	for i, f := range findings {
		got = append(got, mitExecSummary(m.executions("t1", f))+" cert="+string(m.certStatus(certs[i])))
	}
	want := []string{
		"deactivate:COMPLETED publish:COMPLETED cert=INACTIVE", // claimed before the cancel: finished whole
		"deactivate:COMPLETED publish:COMPLETED cert=INACTIVE",
		"deactivate:COMPLETED publish:COMPLETED cert=INACTIVE",
		"deactivate:COMPLETED publish:COMPLETED cert=INACTIVE",
		"deactivate:CANCELED publish:CANCELED cert=ACTIVE",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after a cancel mid-task:\n got %q\nwant %q", got, want)
	}
	if got := m.stats("t1", mitExpiring); got != "5/4/0/0/1" {
		t.Fatalf("statistics %s, want 5/4/0/0/1", got)
	}
	if got := m.describeTask("t1").TaskStatus; got != types.AuditMitigationActionsTaskStatusCanceled {
		t.Fatalf("status %s, want CANCELED", got)
	}
}

// ---------------------------------------------------------------- audit targets

func TestMitigationTaskAuditTarget(t *testing.T) {
	m := newMitEnv(t)
	m.action("deactivate", deviceCertParams())
	var certs []string
	var suppressed, otherReason string
	for i := range 6 {
		f, c := m.certFinding()
		certs = append(certs, c)
		_ = f
		switch i {
		case 4:
			suppressed = f
			m.exec(`UPDATE audit_findings SET is_suppressed = 1 WHERE finding_id = ?`, f)
		case 5:
			otherReason = f
			m.exec(`UPDATE audit_findings SET reason_code = 'CERTIFICATE_PAST_EXPIRATION' WHERE finding_id = ?`, f)
		}
	}
	// A finding of a check the mapping does not name, and one of another audit.
	policyFinding := m.finding(mitFindingSpec{check: mitPolicy, resourceType: "IOT_POLICY",
		ident: `{"policyVersionIdentifier":{"policyName":"p","policyVersionId":"1"}}`, reason: "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS"})
	m.exec(`INSERT INTO audit_tasks (account, region, task_id, task_type, task_status, task_start_time, end_time)
		VALUES (?, ?, 'other-audit', 'ON_DEMAND_AUDIT_TASK', 'COMPLETED', 0, 0)`, accountA, region)
	otherAuditCert := mitCert(t, m.a)
	m.finding(mitFindingSpec{check: mitExpiring, resourceType: "DEVICE_CERTIFICATE", audit: "other-audit",
		ident: `{"deviceCertificateId":"` + otherAuditCert + `"}`})

	m.mustStart("all", &types.AuditMitigationActionsTaskTarget{AuditTaskId: aws.String(mitAudit)}, mitMapping(mitExpiring, "deactivate"))
	m.run()
	if got := m.stats("all", mitExpiring); got != "6/5/0/1/0" {
		t.Fatalf("statistics %s, want 6/5/0/1/0 (one suppressed)", got)
	}
	if _, ok := m.describeTask("all").TaskStatistics[mitPolicy]; ok {
		t.Fatalf("statistics name %s, which has no actions", mitPolicy)
	}
	if got := mitExecSummary(m.executions("all", suppressed)); got != "deactivate:SKIPPED" {
		t.Fatalf("suppressed finding: %s, want deactivate:SKIPPED", got)
	}
	if got := mitExecSummary(m.executions("all", policyFinding)); got != "" {
		t.Fatalf("finding of an unmapped check has executions %s", got)
	}
	for i, c := range certs {
		want := types.CertificateStatusInactive
		if i == 4 {
			want = types.CertificateStatusActive
		}
		if got := m.certStatus(c); got != want {
			t.Fatalf("certificate %d is %s, want %s", i, got, want)
		}
	}
	if got := m.certStatus(otherAuditCert); got != types.CertificateStatusActive {
		t.Fatalf("another audit's certificate is %s, want ACTIVE", got)
	}

	// With a reason-code filter: the other reason is skipped, no executions.
	for _, c := range certs {
		certSetStatus(t, m.a, c, types.CertificateStatusActive)
	}
	m.mustStart("filtered", &types.AuditMitigationActionsTaskTarget{AuditTaskId: aws.String(mitAudit),
		AuditCheckToReasonCodeFilter: mitMapping(mitExpiring, mitReason)}, mitMapping(mitExpiring, "deactivate"))
	m.run()
	if got := m.stats("filtered", mitExpiring); got != "6/4/0/2/0" {
		t.Fatalf("statistics %s, want 6/4/0/2/0 (one suppressed, one filtered out)", got)
	}
	if got := mitExecSummary(m.executions("filtered", otherReason)); got != "" {
		t.Fatalf("filtered-out finding has executions %s", got)
	}
	if got := m.certStatus(certs[5]); got != types.CertificateStatusActive {
		t.Fatalf("filtered-out certificate is %s, want ACTIVE", got)
	}
	d := m.describeTask("filtered")
	if aws.ToString(d.Target.AuditTaskId) != mitAudit || !slices.Equal(d.Target.AuditCheckToReasonCodeFilter[mitExpiring], []string{mitReason}) {
		t.Fatalf("target %+v", d.Target)
	}

	// A filter naming only another check targets nothing of this one.
	m.mustStart("none", &types.AuditMitigationActionsTaskTarget{AuditTaskId: aws.String(mitAudit),
		AuditCheckToReasonCodeFilter: mitMapping(mitPolicy, "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS")}, mitMapping(mitExpiring, "deactivate"))
	m.run()
	if got := m.stats("none", mitExpiring); got != "6/0/0/6/0" {
		t.Fatalf("statistics %s, want 6/0/0/6/0", got)
	}
	if got := m.describeTask("none").TaskStatus; got != types.AuditMitigationActionsTaskStatusCompleted {
		t.Fatalf("status %s, want COMPLETED", got)
	}
}

// TestMitigationTaskProgress checks that Describe shows a large task's
// progress batch by batch, and that a finding canceled before fan-out ends
// is counted.
func TestMitigationTaskProgress(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	if _, err := enginetest.Seed(ctx, m.raw, enginetest.Options{Scope: mitScopeA, AuditTaskID: "big", Findings: 250, NoThings: true}); err != nil {
		t.Fatal(err)
	}
	m.action("deactivate", deviceCertParams())
	m.mustStart("big", &types.AuditMitigationActionsTaskTarget{AuditTaskId: aws.String("big")}, mitMapping(mitExpiring, "deactivate"))
	if got := m.stats("big", mitExpiring); got != "0/0/0/0/0" {
		t.Fatalf("statistics before fan-out %s, want 0/0/0/0/0", got)
	}
	e := engine.New(m.store, engine.Options{Batch: 50, FanOut: 100})
	var seen []string
	for {
		worked, err := e.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !worked {
			break
		}
		seen = append(seen, m.stats("big", mitExpiring))
	}
	want := []string{"100/50/0/0/0", "200/100/0/0/0", "250/150/0/0/0", "250/200/0/0/0", "250/250/0/0/0"}
	if !slices.Equal(seen, want) {
		t.Fatalf("progress %v, want %v", seen, want)
	}
	if got := m.describeTask("big").TaskStatus; got != types.AuditMitigationActionsTaskStatusCompleted {
		t.Fatalf("status %s, want COMPLETED", got)
	}

	// Canceled while fan-out is unfinished: the rest is fanned out as CANCELED.
	if _, err := enginetest.Seed(ctx, m.raw, enginetest.Options{Scope: mitScopeA, AuditTaskID: "big2", Prefix: "u", Findings: 250, NoThings: true}); err != nil {
		t.Fatal(err)
	}
	m.mustStart("big2", &types.AuditMitigationActionsTaskTarget{AuditTaskId: aws.String("big2")}, mitMapping(mitExpiring, "deactivate"))
	if _, err := e.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.a.CancelAuditMitigationActionsTask(ctx, &iot.CancelAuditMitigationActionsTaskInput{TaskId: aws.String("big2")}); err != nil {
		t.Fatal(err)
	}
	if err := e.RunUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.stats("big2", mitExpiring); got != "250/50/0/0/200" {
		t.Fatalf("statistics %s, want 250/50/0/0/200", got)
	}
	if n := m.count(`SELECT COUNT(*) FROM mitigation_executions e JOIN mitigation_tasks t ON t.seq = e.task_seq
		WHERE t.task_id = 'big2' AND e.status = 'CANCELED'`); n != 200 {
		t.Fatalf("%d CANCELED executions, want 200", n)
	}
}

// ---------------------------------------------------------------- snapshot

func TestMitigationTaskSnapshotsActions(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	findingID, certID := m.certFinding()
	m.action("deactivate", deviceCertParams())
	m.mustStart("t1", mitByFindings(findingID), mitMapping(mitExpiring, "deactivate"))
	before := m.describeTask("t1").ActionsDefinition
	// Change the action to another type, then delete it: the task still
	// applies (and shows) the action as it was.
	if _, err := m.a.UpdateMitigationAction(ctx, &iot.UpdateMitigationActionInput{ActionName: aws.String("deactivate"),
		RoleArn: aws.String(roleArn2), ActionParams: snsParams(topicArn)}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.a.DeleteMitigationAction(ctx, &iot.DeleteMitigationActionInput{ActionName: aws.String("deactivate")}); err != nil {
		t.Fatal(err)
	}
	m.run()
	after := m.describeTask("t1")
	if len(after.ActionsDefinition) != 1 || aws.ToString(after.ActionsDefinition[0].RoleArn) != roleArn ||
		paramsJSON(after.ActionsDefinition[0].ActionParams) != paramsJSON(before[0].ActionParams) {
		t.Fatalf("actionsDefinition changed: %+v", after.ActionsDefinition)
	}
	if after.TaskStatus != types.AuditMitigationActionsTaskStatusCompleted || m.certStatus(certID) != types.CertificateStatusInactive {
		t.Fatalf("task %s, certificate %s; want COMPLETED and INACTIVE", after.TaskStatus, m.certStatus(certID))
	}
}

// ---------------------------------------------------------------- lists

func TestListAuditMitigationActionsTasks(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	f1, _ := m.certFinding()
	f2, _ := m.certFinding()
	m.action("deactivate", deviceCertParams())
	m.mustStart("done", mitByFindings(f1), mitMapping(mitExpiring, "deactivate"))
	m.run()
	m.mustStart("running", mitByFindings(f2), mitMapping(mitExpiring, "deactivate"))
	m.mustStart("audit", &types.AuditMitigationActionsTaskTarget{AuditTaskId: aws.String(mitAudit)}, mitMapping(mitExpiring, "deactivate"))
	m.mustStart("canceled", mitByFindings(f1, f2), mitMapping(mitExpiring, "deactivate"))
	if _, err := m.a.CancelAuditMitigationActionsTask(ctx, &iot.CancelAuditMitigationActionsTaskInput{TaskId: aws.String("canceled")}); err != nil {
		t.Fatal(err)
	}
	// fan out "audit" without applying anything
	if _, err := m.store.FanOutMitigationTasks(ctx, time.Now(), 100); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   iot.ListAuditMitigationActionsTasksInput
		want []string
	}{
		{"all, newest first", iot.ListAuditMitigationActionsTasksInput{}, []string{"canceled", "audit", "running", "done"}},
		{"page size 1", iot.ListAuditMitigationActionsTasksInput{MaxResults: aws.Int32(1)}, []string{"canceled", "audit", "running", "done"}},
		{"by status", iot.ListAuditMitigationActionsTasksInput{TaskStatus: types.AuditMitigationActionsTaskStatusInProgress}, []string{"audit", "running"}},
		{"by status completed", iot.ListAuditMitigationActionsTasksInput{TaskStatus: types.AuditMitigationActionsTaskStatusCompleted}, []string{"done"}},
		{"by audit", iot.ListAuditMitigationActionsTasksInput{AuditTaskId: aws.String(mitAudit)}, []string{"audit"}},
		{"by finding", iot.ListAuditMitigationActionsTasksInput{FindingId: aws.String(f1)}, []string{"canceled", "audit", "done"}},
		{"by unknown finding", iot.ListAuditMitigationActionsTasksInput{FindingId: aws.String("nope")}, nil},
		{"started later", iot.ListAuditMitigationActionsTasksInput{StartTime: aws.Time(time.Now().Add(time.Minute))}, nil},
		// endTime bounds when tasks ended; running tasks match on startTime only.
		{"ended long ago", iot.ListAuditMitigationActionsTasksInput{EndTime: aws.Time(time.Now().Add(-time.Hour))}, []string{"audit", "running"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.taskIDs(tc.in); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	out, err := m.a.ListAuditMitigationActionsTasks(ctx, &iot.ListAuditMitigationActionsTasksInput{
		StartTime: aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(time.Hour)), TaskStatus: types.AuditMitigationActionsTaskStatusCompleted})
	if err != nil || len(out.Tasks) != 1 || out.Tasks[0].StartTime == nil || out.Tasks[0].TaskStatus != types.AuditMitigationActionsTaskStatusCompleted {
		t.Fatalf("tasks %+v %v", out, err)
	}
	if len(m.taskIDs(iot.ListAuditMitigationActionsTasksInput{})) == 0 {
		t.Fatal("no tasks")
	}
	// B sees none of A's.
	outB, err := m.b.ListAuditMitigationActionsTasks(ctx, &iot.ListAuditMitigationActionsTasksInput{
		StartTime: aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(time.Hour))})
	if err != nil || len(outB.Tasks) != 0 {
		t.Fatalf("account B: %+v %v", outB, err)
	}

	iso := func(t time.Time) string { return url.QueryEscape(t.UTC().Format("2006-01-02T15:04:05Z")) }
	now := time.Now()
	rules := []struct {
		name, query, want string
	}{
		{"no times", "", "startTime"},
		{"no endTime", "?startTime=" + iso(now.Add(-time.Hour)), "endTime"},
		{"no startTime", "?endTime=" + iso(now), "startTime"},
		{"older than 90 days", "?startTime=" + iso(now.Add(-91*24*time.Hour)) + "&endTime=" + iso(now), "90 days"},
		{"end before start", "?startTime=" + iso(now) + "&endTime=" + iso(now.Add(-time.Hour)), "before startTime"},
		{"not a time", "?startTime=yesterday&endTime=" + iso(now), "startTime"},
		{"bad status", "?startTime=" + iso(now.Add(-time.Hour)) + "&endTime=" + iso(now) + "&taskStatus=DONE", "taskStatus"},
		{"bad audit id", "?startTime=" + iso(now.Add(-time.Hour)) + "&endTime=" + iso(now) + "&auditTaskId=a_b", "auditTaskId"},
		{"bad maxResults", "?startTime=" + iso(now.Add(-time.Hour)) + "&endTime=" + iso(now) + "&maxResults=251", "maxResults"},
		{"bad token", "?startTime=" + iso(now.Add(-time.Hour)) + "&endTime=" + iso(now) + "&nextToken=forged", "nextToken"},
	}
	for _, tc := range rules {
		t.Run(tc.name, func(t *testing.T) {
			msg := wantJSONError(t, m.call(t, "GET", "/audit/mitigationactions/tasks"+tc.query, nil), "InvalidRequestException", 400)
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q does not contain %q", msg, tc.want)
			}
		})
	}
	// A token of one filter cannot be used with another.
	first, err := m.a.ListAuditMitigationActionsTasks(ctx, &iot.ListAuditMitigationActionsTasksInput{MaxResults: aws.Int32(1),
		StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Hour))})
	if err != nil || first.NextToken == nil {
		t.Fatalf("first page %+v %v", first, err)
	}
	_, err = m.a.ListAuditMitigationActionsTasks(ctx, &iot.ListAuditMitigationActionsTasksInput{MaxResults: aws.Int32(1), NextToken: first.NextToken,
		StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Hour)), TaskStatus: types.AuditMitigationActionsTaskStatusCompleted})
	wantCode(t, err, "InvalidRequestException", 400)
}

func TestListAuditMitigationActionsExecutions(t *testing.T) {
	m := newMitEnv(t)
	ctx := context.Background()
	var findings []string
	for range 3 {
		f, _ := m.certFinding()
		findings = append(findings, f)
	}
	m.action("deactivate", deviceCertParams())
	m.action("publish", snsParams(topicArn)) // no such topic: FAILED
	m.action("again", deviceCertParams())
	m.mustStart("t1", mitByFindings(findings...), mitMapping(mitExpiring, "deactivate,publish,again"))
	m.run()
	for _, f := range findings {
		if got := mitExecSummary(m.executions("t1", f)); got != "deactivate:COMPLETED publish:FAILED:INVALID_STATE_OF_RESOURCE again:SKIPPED" {
			t.Fatalf("executions %s", got)
		}
	}
	// Every execution of the task, for callers who send no findingId.
	var all []map[string]any
	token := ""
	for pages := 0; ; pages++ {
		q := "/audit/mitigationactions/executions?taskId=t1&maxResults=4"
		if token != "" {
			q += "&nextToken=" + url.QueryEscape(token)
		}
		body := wantOK(t, m.call(t, "GET", q, nil))
		for _, x := range body["actionsExecutions"].([]any) {
			all = append(all, x.(map[string]any))
		}
		next, _ := body["nextToken"].(string)
		if next == "" {
			break
		}
		token = next
		if pages > 5 {
			t.Fatal("too many pages")
		}
	}
	if len(all) != 9 {
		t.Fatalf("%d executions, want 9", len(all))
	}
	for i, x := range all {
		wantFinding, wantAction := findings[i/3], []string{"deactivate", "publish", "again"}[i%3]
		if x["findingId"] != wantFinding || x["actionName"] != wantAction || x["taskId"] != "t1" {
			t.Fatalf("execution %d: %v, want finding %s action %s", i, x, wantFinding, wantAction)
		}
	}
	// actionStatus filter, with and without findingId.
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"?taskId=t1&actionStatus=FAILED", 3},
		{"?taskId=t1&actionStatus=COMPLETED&findingId=" + findings[1], 1},
		{"?taskId=t1&actionStatus=PENDING", 0},
		{"?taskId=t1&actionStatus=IN_PROGRESS", 0},
		{"?taskId=nope", 0},
		{"?taskId=t1&findingId=nope", 0},
	} {
		body := wantOK(t, m.call(t, "GET", "/audit/mitigationactions/executions"+tc.query, nil))
		if got := len(body["actionsExecutions"].([]any)); got != tc.want {
			t.Fatalf("%s: %d executions, want %d", tc.query, got, tc.want)
		}
	}
	failed, err := m.a.ListAuditMitigationActionsExecutions(ctx, &iot.ListAuditMitigationActionsExecutionsInput{TaskId: aws.String("t1"),
		FindingId: aws.String(findings[0]), ActionStatus: types.AuditMitigationActionsExecutionStatusFailed})
	if err != nil || len(failed.ActionsExecutions) != 1 || !strings.Contains(aws.ToString(failed.ActionsExecutions[0].Message), "Topic") {
		t.Fatalf("failed executions %+v %v", failed, err)
	}
	// B sees nothing of A's task.
	outB, err := m.b.ListAuditMitigationActionsExecutions(ctx, &iot.ListAuditMitigationActionsExecutionsInput{TaskId: aws.String("t1"), FindingId: aws.String(findings[0])})
	if err != nil || len(outB.ActionsExecutions) != 0 {
		t.Fatalf("account B: %+v %v", outB, err)
	}
	for _, tc := range []struct{ query, want string }{
		{"", "taskId"},
		{"?taskId=a.b", "taskId"},
		{"?taskId=t1&actionStatus=DONE", "actionStatus"},
		{"?taskId=t1&findingId=a.b", "findingId"},
		{"?taskId=t1&maxResults=0", "maxResults"},
	} {
		msg := wantJSONError(t, m.call(t, "GET", "/audit/mitigationactions/executions"+tc.query, nil), "InvalidRequestException", 400)
		if !strings.Contains(msg, tc.want) {
			t.Fatalf("%s: message %q does not contain %q", tc.query, msg, tc.want)
		}
	}
}

func TestDescribeAuditMitigationActionsTaskErrors(t *testing.T) {
	m := newMitEnv(t)
	_, err := m.a.DescribeAuditMitigationActionsTask(context.Background(), &iot.DescribeAuditMitigationActionsTaskInput{TaskId: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", 404)
	wantJSONError(t, m.call(t, "GET", "/audit/mitigationactions/tasks/a.b", nil), "InvalidRequestException", 400)
	wantJSONError(t, m.call(t, "DELETE", "/audit/mitigationactions/tasks/t1", nil), "UnknownOperationException", 404)
}

// TestMitigationTaskSurvivesRestart restarts the server between start and
// run: everything the engine needs is in the database.
func TestMitigationTaskSurvivesRestart(t *testing.T) {
	m := newMitEnv(t)
	findingID, certID := m.certFinding()
	m.action("deactivate", deviceCertParams())
	m.mustStart("t1", mitByFindings(findingID), mitMapping(mitExpiring, "deactivate"))
	m.restart()
	m.run()
	if got := m.describeTask("t1").TaskStatus; got != types.AuditMitigationActionsTaskStatusCompleted {
		t.Fatalf("status %s, want COMPLETED", got)
	}
	if got := m.certStatus(certID); got != types.CertificateStatusInactive {
		t.Fatalf("certificate %s, want INACTIVE", got)
	}
}
