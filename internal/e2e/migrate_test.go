package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/warden-iot/warden/internal/pgtest"
)

// TestMigrateSQLiteToPostgres is the move from the embedded store to
// PostgreSQL: a generated fleet with a finished audit and mitigation task on
// SQLite, `warden migrate`, and then every resource read through the API of
// a server on each store must be the same, page tokens included. New
// resources must be creatable on PostgreSQL afterwards.
func TestMigrateSQLiteToPostgres(t *testing.T) {
	pgtest.SkipUnlessPostgres(t)
	if testing.Short() {
		t.Skip("builds and runs the server; skipped in -short mode")
	}
	ctx := context.Background()
	dir := t.TempDir()
	bin := buildWarden(t)
	data := filepath.Join(dir, "data")

	out := migrateRun(t, bin, "fleet", "generate", "--data-dir", data, "--sync", "normal", "--things", "300", "--seed", "4242", "--key-pool", "8")
	creds := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^export (AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY)=(\S+)$`).FindAllStringSubmatch(out, -1) {
		creds[m[1]] = m[2]
	}
	key, secret := creds["AWS_ACCESS_KEY_ID"], creds["AWS_SECRET_ACCESS_KEY"]
	if key == "" || secret == "" {
		t.Fatalf("fleet generate printed no access key:\n%s", out)
	}

	srv := migrateServe(t, bin, "--data-dir", data)
	iotc, snsc := srv.clients(key, secret)
	migrateActivity(t, ctx, iotc, snsc)
	srv.stop(t)

	url := pgtest.Database(t, filepath.Join(dir, "pg"))
	start := time.Now()
	out = migrateRun(t, bin, "migrate", "--from", data, "--to", url)
	t.Logf("warden migrate took %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	if !strings.Contains(out, "every table has as many rows in PostgreSQL as in SQLite") {
		t.Fatalf("migrate did not report matching counts:\n%s", out)
	}
	// Twice is refused.
	again := exec.Command(bin, "migrate", "--from", data, "--to", url)
	if msg, err := again.CombinedOutput(); err == nil || !strings.Contains(string(msg), "already holds Warden data") {
		t.Fatalf("a second migrate into the same database: %v\n%s", err, msg)
	}

	// The secrets moved sealed: a node without the master key refuses to
	// start, and with the SQLite store's key it opens them.
	noKeyCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if msg, err := exec.CommandContext(noKeyCtx, bin, "serve", "--database", url, "--listen", "127.0.0.1:0", "--mqtt-listen", "127.0.0.1:0").CombinedOutput(); err == nil ||
		!strings.Contains(string(msg), "WARDEN_MASTER_KEY is not set") {
		t.Fatalf("serve on PostgreSQL without a master key: %v\n%s", err, msg)
	}
	masterKey, err := os.ReadFile(filepath.Join(data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("WARDEN_MASTER_KEY", strings.TrimSpace(string(masterKey)))
	pg := migrateServe(t, bin, "--database", url, "--data-dir", filepath.Join(dir, "pg-data"))
	lite := migrateServe(t, bin, "--data-dir", data)
	pgIoT, pgSNS := pg.clients(key, secret)
	liteIoT, liteSNS := lite.clients(key, secret)
	start = time.Now()
	want := migrateSnapshot(t, ctx, liteIoT, liteSNS)
	got := migrateSnapshot(t, ctx, pgIoT, pgSNS)
	t.Logf("compared %d answers of each server in %v", len(want), time.Since(start).Round(time.Millisecond))
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Fatalf("answer %d differs:\nSQLite:     %s\nPostgreSQL: %s", i, migrateCut(w), migrateCut(g))
		}
	}

	// New resources on PostgreSQL get fresh keys (the identities moved past
	// the copied rows), and a new audit runs there.
	role := "arn:aws:iam::123456789012:role/after"
	if _, err := pgIoT.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("after-migrate")}); err != nil {
		t.Fatalf("CreateThing on PostgreSQL: %v", err)
	}
	if _, err := pgIoT.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("after-migrate")}); err != nil {
		t.Fatalf("CreateThingGroup on PostgreSQL: %v", err)
	}
	if _, err := pgIoT.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String("after-migrate"), ThingGroupName: aws.String("after-migrate")}); err != nil {
		t.Fatalf("AddThingToThingGroup on PostgreSQL: %v", err)
	}
	if _, err := pgIoT.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("after-migrate"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`)}); err != nil {
		t.Fatalf("CreatePolicy on PostgreSQL: %v", err)
	}
	if _, err := pgIoT.CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{ActionName: aws.String("after-migrate"), RoleArn: aws.String(role),
		ActionParams: &iottypes.MitigationActionParams{UpdateDeviceCertificateParams: &iottypes.UpdateDeviceCertificateParams{Action: iottypes.DeviceCertificateUpdateActionDeactivate}}}); err != nil {
		t.Fatalf("CreateMitigationAction on PostgreSQL: %v", err)
	}
	if _, err := pgIoT.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true}); err != nil {
		t.Fatalf("CreateKeysAndCertificate on PostgreSQL: %v", err)
	}
	if _, err := pgSNS.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("after-migrate")}); err != nil {
		t.Fatalf("CreateTopic on PostgreSQL: %v", err)
	}
	task := migrateAudit(t, ctx, pgIoT)
	findings, err := pgIoT.ListAuditFindings(ctx, &iot.ListAuditFindingsInput{TaskId: aws.String(task)})
	if err != nil || len(findings.Findings) == 0 {
		t.Fatalf("the audit on PostgreSQL has %d findings (%v), want some", len(findings.Findings), err)
	}
	things, err := pgIoT.ListThings(ctx, &iot.ListThingsInput{MaxResults: aws.Int32(250)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL server: %d things on the first page; audit %s with %d findings", len(things.Things), task, len(findings.Findings))
}

// migrateChecks are the audit checks the test enables: all answer from the
// registry alone (no CRLs to fetch).
var migrateChecks = []string{"DEVICE_CERTIFICATE_EXPIRING_CHECK", "DEVICE_CERTIFICATE_AGE_CHECK", "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK",
	"CA_CERTIFICATE_EXPIRING_CHECK", "IOT_POLICY_OVERLY_PERMISSIVE_CHECK", "LOGGING_DISABLED_CHECK"}

// migrateActivity gives the SQLite store more than the fleet: logging
// options, tags, an SNS topic, a finished audit and a finished mitigation task.
func migrateActivity(t *testing.T, ctx context.Context, c *iot.Client, snsc *sns.Client) {
	t.Helper()
	role := "arn:aws:iam::123456789012:role/migrate"
	if _, err := c.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{RoleArn: aws.String(role), DefaultLogLevel: iottypes.LogLevelWarn}); err != nil {
		t.Fatalf("SetV2LoggingOptions: %v", err)
	}
	if _, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("quarantine"),
		ThingGroupProperties: &iottypes.ThingGroupProperties{ThingGroupDescription: aws.String("mitigated things")},
		Tags:                 []iottypes.Tag{{Key: aws.String("purpose"), Value: aws.String("quarantine")}}}); err != nil {
		t.Fatalf("CreateThingGroup: %v", err)
	}
	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("findings")})
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	for name, p := range map[string]*iottypes.MitigationActionParams{
		"deactivate": {UpdateDeviceCertificateParams: &iottypes.UpdateDeviceCertificateParams{Action: iottypes.DeviceCertificateUpdateActionDeactivate}},
		"quarantine": {AddThingsToThingGroupParams: &iottypes.AddThingsToThingGroupParams{ThingGroupNames: []string{"quarantine"}}},
		"publish":    {PublishFindingToSnsParams: &iottypes.PublishFindingToSnsParams{TopicArn: topic.TopicArn}},
	} {
		if _, err := c.CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{ActionName: aws.String(name), RoleArn: aws.String(role), ActionParams: p,
			Tags: []iottypes.Tag{{Key: aws.String("owner"), Value: aws.String("migrate-test")}}}); err != nil {
			t.Fatalf("CreateMitigationAction %s: %v", name, err)
		}
	}
	policies, err := c.ListPolicies(ctx, &iot.ListPoliciesInput{PageSize: aws.Int32(1)})
	if err != nil || len(policies.Policies) == 0 {
		t.Fatalf("ListPolicies: %v", err)
	}
	if _, err := c.TagResource(ctx, &iot.TagResourceInput{ResourceArn: policies.Policies[0].PolicyArn,
		Tags: []iottypes.Tag{{Key: aws.String("reviewed"), Value: aws.String("no")}}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}

	auditID := migrateAudit(t, ctx, c)
	if _, err := c.StartAuditMitigationActionsTask(ctx, &iot.StartAuditMitigationActionsTaskInput{
		TaskId: aws.String("before-migrate"), ClientRequestToken: aws.String("before-migrate"),
		Target: &iottypes.AuditMitigationActionsTaskTarget{AuditTaskId: aws.String(auditID)},
		AuditCheckToActionsMapping: map[string][]string{
			"DEVICE_CERTIFICATE_EXPIRING_CHECK":  {"deactivate", "quarantine", "publish"},
			"IOT_POLICY_OVERLY_PERMISSIVE_CHECK": {"publish"},
		},
	}); err != nil {
		t.Fatalf("StartAuditMitigationActionsTask: %v", err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		d, err := c.DescribeAuditMitigationActionsTask(ctx, &iot.DescribeAuditMitigationActionsTaskInput{TaskId: aws.String("before-migrate")})
		if err != nil {
			t.Fatal(err)
		}
		if d.TaskStatus != iottypes.AuditMitigationActionsTaskStatusInProgress {
			st := d.TaskStatistics["DEVICE_CERTIFICATE_EXPIRING_CHECK"]
			if d.TaskStatus != iottypes.AuditMitigationActionsTaskStatusCompleted || aws.ToInt64(st.SucceededFindingsCount) == 0 {
				t.Fatalf("mitigation task %s with %+v, want COMPLETED with some findings", d.TaskStatus, st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the mitigation task did not finish in 30 s")
		}
	}
}

// migrateAudit configures the audit checks, runs an on-demand audit of them
// and waits for it to complete.
func migrateAudit(t *testing.T, ctx context.Context, c *iot.Client) string {
	t.Helper()
	cfg := map[string]iottypes.AuditCheckConfiguration{}
	for _, check := range migrateChecks {
		cfg[check] = iottypes.AuditCheckConfiguration{Enabled: true}
	}
	if _, err := c.UpdateAccountAuditConfiguration(ctx, &iot.UpdateAccountAuditConfigurationInput{
		RoleArn: aws.String("arn:aws:iam::123456789012:role/audit"), AuditCheckConfigurations: cfg}); err != nil {
		t.Fatalf("UpdateAccountAuditConfiguration: %v", err)
	}
	started, err := c.StartOnDemandAuditTask(ctx, &iot.StartOnDemandAuditTaskInput{TargetCheckNames: migrateChecks})
	if err != nil {
		t.Fatalf("StartOnDemandAuditTask: %v", err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		d, err := c.DescribeAuditTask(ctx, &iot.DescribeAuditTaskInput{TaskId: started.TaskId})
		if err != nil {
			t.Fatal(err)
		}
		if d.TaskStatus == iottypes.AuditTaskStatusCompleted {
			return aws.ToString(started.TaskId)
		}
		if d.TaskStatus != iottypes.AuditTaskStatusInProgress {
			t.Fatalf("audit %s ended %s", aws.ToString(started.TaskId), d.TaskStatus)
		}
		if time.Now().After(deadline) {
			t.Fatal("the audit did not complete in 30 s")
		}
	}
}

// migrateSnapshot reads every resource through the API: each answer's JSON,
// prefixed by what was asked, in a fixed order. List pages are small so
// that page tokens are compared too.
func migrateSnapshot(t *testing.T, ctx context.Context, c *iot.Client, snsc *sns.Client) []string {
	t.Helper()
	var out []string
	rec := func(label string, v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		out = append(out, label+" "+string(b))
	}
	// pages calls list until it returns no next token.
	pages := func(label string, list func(token *string) (any, *string, error)) {
		t.Helper()
		var token *string
		for i := 0; ; i++ {
			page, next, err := list(token)
			rec(fmt.Sprintf("%s page %d", label, i), page, err)
			if aws.ToString(next) == "" {
				return
			}
			token = next
		}
	}

	var things []string
	pages("ListThings", func(token *string) (any, *string, error) {
		o, err := c.ListThings(ctx, &iot.ListThingsInput{MaxResults: aws.Int32(70), NextToken: token})
		if err != nil {
			return nil, nil, err
		}
		for _, th := range o.Things {
			things = append(things, aws.ToString(th.ThingName))
		}
		return o, o.NextToken, nil
	})
	if len(things) < 300 {
		t.Fatalf("%d things listed, want the fleet's 300", len(things))
	}
	for _, name := range things {
		o, err := c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
		rec("DescribeThing "+name, o, err)
		p, err := c.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String(name)})
		rec("ListThingPrincipals "+name, p, err)
		g, err := c.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String(name)})
		rec("ListThingGroupsForThing "+name, g, err)
	}

	var groups []string
	pages("ListThingGroups", func(token *string) (any, *string, error) {
		o, err := c.ListThingGroups(ctx, &iot.ListThingGroupsInput{MaxResults: aws.Int32(2), NextToken: token})
		if err != nil {
			return nil, nil, err
		}
		for _, g := range o.ThingGroups {
			groups = append(groups, aws.ToString(g.GroupName))
		}
		return o, o.NextToken, nil
	})
	for _, name := range groups {
		o, err := c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)})
		rec("DescribeThingGroup "+name, o, err)
		pages("ListThingsInThingGroup "+name, func(token *string) (any, *string, error) {
			o, err := c.ListThingsInThingGroup(ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String(name), MaxResults: aws.Int32(100), NextToken: token})
			if err != nil {
				return nil, nil, err
			}
			return o, o.NextToken, nil
		})
		tags, err := c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: o.ThingGroupArn})
		rec("ListTagsForResource "+name, tags, err)
	}

	var certs []string
	pages("ListCertificates", func(token *string) (any, *string, error) {
		o, err := c.ListCertificates(ctx, &iot.ListCertificatesInput{PageSize: aws.Int32(70), Marker: token})
		if err != nil {
			return nil, nil, err
		}
		for _, cert := range o.Certificates {
			certs = append(certs, aws.ToString(cert.CertificateId))
		}
		return o, o.NextMarker, nil
	})
	for _, id := range certs {
		o, err := c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
		rec("DescribeCertificate "+id, o, err)
		p, err := c.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: o.CertificateDescription.CertificateArn})
		rec("ListPrincipalThings "+id, p, err)
		a, err := c.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: o.CertificateDescription.CertificateArn})
		rec("ListAttachedPolicies "+id, a, err)
	}
	var cas []string
	pages("ListCACertificates", func(token *string) (any, *string, error) {
		o, err := c.ListCACertificates(ctx, &iot.ListCACertificatesInput{PageSize: aws.Int32(1), Marker: token})
		if err != nil {
			return nil, nil, err
		}
		for _, ca := range o.Certificates {
			cas = append(cas, aws.ToString(ca.CertificateId))
		}
		return o, o.NextMarker, nil
	})
	for _, id := range cas {
		o, err := c.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(id)})
		rec("DescribeCACertificate "+id, o, err)
	}

	var policies []string
	pages("ListPolicies", func(token *string) (any, *string, error) {
		o, err := c.ListPolicies(ctx, &iot.ListPoliciesInput{PageSize: aws.Int32(7), Marker: token})
		if err != nil {
			return nil, nil, err
		}
		for _, p := range o.Policies {
			policies = append(policies, aws.ToString(p.PolicyName))
		}
		return o, o.NextMarker, nil
	})
	for i, name := range policies {
		o, err := c.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
		rec("GetPolicy "+name, o, err)
		v, err := c.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String(name)})
		rec("ListPolicyVersions "+name, v, err)
		tg, err := c.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String(name)})
		rec("ListTargetsForPolicy "+name, tg, err)
		if i < 3 {
			tags, err := c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: o.PolicyArn})
			rec("ListTagsForResource "+name, tags, err)
		}
	}

	var actions []string
	pages("ListMitigationActions", func(token *string) (any, *string, error) {
		o, err := c.ListMitigationActions(ctx, &iot.ListMitigationActionsInput{MaxResults: aws.Int32(2), NextToken: token})
		if err != nil {
			return nil, nil, err
		}
		for _, a := range o.ActionIdentifiers {
			actions = append(actions, aws.ToString(a.ActionName))
		}
		return o, o.NextToken, nil
	})
	for _, name := range actions {
		o, err := c.DescribeMitigationAction(ctx, &iot.DescribeMitigationActionInput{ActionName: aws.String(name)})
		rec("DescribeMitigationAction "+name, o, err)
		tags, err := c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: o.ActionArn})
		rec("ListTagsForResource "+name, tags, err)
	}

	from, to := aws.Time(time.Now().Add(-24*time.Hour)), aws.Time(time.Now().Add(time.Hour))
	conf, err := c.DescribeAccountAuditConfiguration(ctx, &iot.DescribeAccountAuditConfigurationInput{})
	rec("DescribeAccountAuditConfiguration", conf, err)
	var audits []string
	pages("ListAuditTasks", func(token *string) (any, *string, error) {
		o, err := c.ListAuditTasks(ctx, &iot.ListAuditTasksInput{StartTime: from, EndTime: to, MaxResults: aws.Int32(1), NextToken: token})
		if err != nil {
			return nil, nil, err
		}
		for _, a := range o.Tasks {
			audits = append(audits, aws.ToString(a.TaskId))
		}
		return o, o.NextToken, nil
	})
	if len(audits) == 0 {
		t.Fatal("no audit tasks listed")
	}
	for _, id := range audits {
		o, err := c.DescribeAuditTask(ctx, &iot.DescribeAuditTaskInput{TaskId: aws.String(id)})
		rec("DescribeAuditTask "+id, o, err)
		pages("ListAuditFindings "+id, func(token *string) (any, *string, error) {
			o, err := c.ListAuditFindings(ctx, &iot.ListAuditFindingsInput{TaskId: aws.String(id), MaxResults: aws.Int32(10), NextToken: token})
			if err != nil {
				return nil, nil, err
			}
			return o, o.NextToken, nil
		})
	}

	var tasks []string
	pages("ListAuditMitigationActionsTasks", func(token *string) (any, *string, error) {
		o, err := c.ListAuditMitigationActionsTasks(ctx, &iot.ListAuditMitigationActionsTasksInput{StartTime: from, EndTime: to, MaxResults: aws.Int32(1), NextToken: token})
		if err != nil {
			return nil, nil, err
		}
		for _, task := range o.Tasks {
			tasks = append(tasks, aws.ToString(task.TaskId))
		}
		return o, o.NextToken, nil
	})
	if len(tasks) == 0 {
		t.Fatal("no mitigation tasks listed")
	}
	for _, id := range tasks {
		o, err := c.DescribeAuditMitigationActionsTask(ctx, &iot.DescribeAuditMitigationActionsTaskInput{TaskId: aws.String(id)})
		rec("DescribeAuditMitigationActionsTask "+id, o, err)
		// Executions are listed per finding: every finding of the audit.
		var findings []string
		for token := (*string)(nil); ; {
			f, err := c.ListAuditFindings(ctx, &iot.ListAuditFindingsInput{TaskId: o.Target.AuditTaskId, MaxResults: aws.Int32(250), NextToken: token})
			if err != nil {
				t.Fatal(err)
			}
			for _, finding := range f.Findings {
				findings = append(findings, aws.ToString(finding.FindingId))
			}
			if token = f.NextToken; aws.ToString(token) == "" {
				break
			}
		}
		for _, finding := range findings {
			pages("ListAuditMitigationActionsExecutions "+id+" "+finding, func(token *string) (any, *string, error) {
				o, err := c.ListAuditMitigationActionsExecutions(ctx, &iot.ListAuditMitigationActionsExecutionsInput{TaskId: aws.String(id),
					FindingId: aws.String(finding), MaxResults: aws.Int32(2), NextToken: token})
				if err != nil {
					return nil, nil, err
				}
				return o, o.NextToken, nil
			})
		}
	}

	lo, err := c.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{})
	rec("GetV2LoggingOptions", lo, err)
	topics, err := snsc.ListTopics(ctx, &sns.ListTopicsInput{})
	rec("ListTopics", topics, err)
	for _, topic := range topics.Topics {
		a, err := snsc.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: topic.TopicArn})
		rec("GetTopicAttributes "+aws.ToString(topic.TopicArn), a, err)
	}
	return out
}

// migrateRun runs the binary and returns its stdout.
func migrateRun(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("warden %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func migrateCut(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

// migrateServer is a `warden serve` process.
type migrateServer struct{ wardenProcess }

// migrateServe starts `warden serve` with args on a free port.
func migrateServe(t *testing.T, bin string, args ...string) *migrateServer {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--mqtt-listen", "127.0.0.1:0", "--sync", "normal", "--log-level", "info"}, args...)...)
	cmd.Stdout = os.Stdout // first-start credentials: there must be none
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &migrateServer{wardenProcess{cmd: cmd, done: make(chan struct{})}}
	addr := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct {
				Level, Msg, Addr string
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			} else if line.Level != "INFO" {
				t.Logf("server: %s", sc.Text())
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})
	select {
	case s.addr = <-addr:
	case <-s.done:
		t.Fatalf("warden serve %s exited", strings.Join(args, " "))
	case <-time.After(20 * time.Second):
		t.Fatal("the server logged no listening address")
	}
	return s
}
