package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/audit"
	"github.com/warden-iot/warden/internal/engine"
)

const mitigationRole = "arn:aws:iam::123456789012:role/mitigation"

// audit runs an on-demand audit of check to its end and returns its task id.
func (e *env) audit(check string) string {
	e.t.Helper()
	if _, err := e.iot.UpdateAccountAuditConfiguration(e.ctx, &iot.UpdateAccountAuditConfigurationInput{
		RoleArn:                  aws.String(mitigationRole),
		AuditCheckConfigurations: map[string]types.AuditCheckConfiguration{check: {Enabled: true}}}); err != nil {
		e.t.Fatal(err)
	}
	out, err := e.iot.StartOnDemandAuditTask(e.ctx, &iot.StartOnDemandAuditTaskInput{TargetCheckNames: []string{check}})
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := audit.New(audit.Options{Store: e.store, WeakKeysDir: e.t.TempDir(), CRL: audit.CRLOptions{Timeout: 2 * time.Second}})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := r.RunOnce(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	findings, err := e.iot.ListAuditFindings(e.ctx, &iot.ListAuditFindingsInput{TaskId: out.TaskId})
	if err != nil || len(findings.Findings) == 0 {
		e.t.Fatalf("audit %s found nothing (%v)", check, err)
	}
	return aws.ToString(out.TaskId)
}

// mitigate applies action (created with params) to the findings of check in
// audit task auditID, as a mitigation actions task run by the engine.
func (e *env) mitigate(auditID, check, action string, params *types.MitigationActionParams) {
	e.t.Helper()
	if _, err := e.iot.CreateMitigationAction(e.ctx, &iot.CreateMitigationActionInput{ActionName: aws.String(action),
		RoleArn: aws.String(mitigationRole), ActionParams: params}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.iot.StartAuditMitigationActionsTask(e.ctx, &iot.StartAuditMitigationActionsTaskInput{
		TaskId: aws.String("mit-" + action), ClientRequestToken: aws.String("tok-" + action),
		Target:                     &types.AuditMitigationActionsTaskTarget{AuditTaskId: aws.String(auditID)},
		AuditCheckToActionsMapping: map[string][]string{check: {action}}}); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	if err := engine.New(e.store, engine.Options{}).RunUntilIdle(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// The mitigation story: the audit finds the device's certificate (it
// expires in 10 days), a mitigation task deactivates it, the connected
// device is disconnected and cannot reconnect.
func TestMitigationDeactivatesConnectedDevice(t *testing.T) {
	e := newEnv(t)
	ca := e.registerCA()
	d := e.deviceSignedBy(ca, time.Now().Add(-time.Hour), time.Now().Add(10*24*time.Hour), allowAll)
	c3 := e.mustConnect3(d, "sensor-1")
	c5 := e.mustConnect5(d, "sensor-5")

	auditID := e.audit(warden.CheckDeviceCertificateExpiring)
	start := time.Now()
	e.mitigate(auditID, warden.CheckDeviceCertificateExpiring, "deactivate",
		&types.MitigationActionParams{UpdateDeviceCertificateParams: &types.UpdateDeviceCertificateParams{
			Action: types.DeviceCertificateUpdateActionDeactivate}})
	applied := time.Since(start)
	select {
	case <-c3.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("3.1.1 device still connected 5 s after the mitigation task ran")
	}
	t.Logf("mitigation task ran in %v; 3.1.1 device disconnected %v after it ended", applied, time.Since(start)-applied)
	c5.wantDisconnect(t, 0x87, "MQTT 5 device after the mitigation task ran")
	if _, err := e.connect3(d, "sensor-1"); err == nil || !isNotAuthorized3(err) {
		t.Fatalf("reconnect after mitigation: %v, want not authorized", err)
	}
}

// connectQuarantinable connects device sensor-1, whose thing is attached to
// its certificate (so its groups' policies apply to the session), beside a
// quarantine group whose policy denies publishing; it can publish so far.
func (e *env) connectQuarantinable(t *testing.T) *client5 {
	t.Helper()
	ca := e.registerCA()
	d := e.deviceSignedBy(ca, time.Now().Add(-time.Hour), time.Now().Add(10*24*time.Hour), allowAll)
	if _, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("sensor-1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.iot.AttachThingPrincipal(e.ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("sensor-1"), Principal: aws.String(d.arn)}); err != nil {
		t.Fatal(err)
	}
	group, err := e.iot.CreateThingGroup(e.ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("quarantine")})
	if err != nil {
		t.Fatal(err)
	}
	e.attachNewPolicy(policy(deny("iot:Publish", "*")), aws.ToString(group.ThingGroupArn))
	c5 := e.mustConnect5(d, "sensor-1") // the client id names the thing
	if code, _ := c5.publish(t, "telemetry", 1, false, "before"); code != 0 {
		t.Fatalf("publish before quarantine: %#x", code)
	}
	return c5
}

// ADD_THINGS_TO_THING_GROUP into a quarantine group whose policy denies
// publishing changes what the live device may do.
func TestMitigationQuarantineGroup(t *testing.T) {
	e := newEnv(t)
	c5 := e.connectQuarantinable(t)
	auditID := e.audit(warden.CheckDeviceCertificateExpiring)
	e.mitigate(auditID, warden.CheckDeviceCertificateExpiring, "quarantine",
		&types.MitigationActionParams{AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{
			ThingGroupNames: []string{"quarantine"}}})
	took := waitFor(t, "publish denied after quarantine", func() bool {
		code, _ := c5.publish(t, "telemetry", 1, false, "after")
		return code == 0x87
	})
	t.Logf("quarantine applied to the live session within %v of the task's end", took)
	// Connect is still allowed: the device stays connected, muted.
	select {
	case <-c5.disconnected:
		t.Fatal("quarantined device was disconnected")
	case <-time.After(200 * time.Millisecond):
	}
}

// REPLACE_DEFAULT_POLICY_VERSION (the blank policy) on an overly
// permissive policy makes the device's next publish fail: the blank policy
// denies everything, Connect included.
func TestMitigationReplaceDefaultPolicyVersion(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(allowAll)
	c5 := e.mustConnect5(d, "dev")
	if code, _ := c5.publish(t, "x", 1, false, "before"); code != 0 {
		t.Fatalf("publish before: %#x", code)
	}
	auditID := e.audit(warden.CheckIoTPolicyOverlyPermissive)
	start := time.Now()
	e.mitigate(auditID, warden.CheckIoTPolicyOverlyPermissive, "blank",
		&types.MitigationActionParams{ReplaceDefaultPolicyVersionParams: &types.ReplaceDefaultPolicyVersionParams{
			TemplateName: types.PolicyTemplateNameBlankPolicy}})
	c5.wantDisconnect(t, 0x87, "device after its policy was blanked")
	t.Logf("blank policy cut the device off %v after the task started", time.Since(start))
	if _, _, err := e.connect5(d, "dev"); err == nil {
		t.Fatal("reconnected under the blank policy")
	}
}

// The Detect story: a device violates a behaviour of its security profile,
// a Detect mitigation task moves its thing into a quarantine group whose
// policy denies publishing, and the live session is muted.
func TestDetectMitigationQuarantinesViolatingDevice(t *testing.T) {
	e := newEnv(t)
	c5 := e.connectQuarantinable(t)

	if _, err := e.iot.CreateSecurityProfile(e.ctx, &iot.CreateSecurityProfileInput{SecurityProfileName: aws.String("p1")}); err != nil {
		t.Fatal(err)
	}
	n := int64(11)
	events, err := e.store.ApplyDetectTransitions(e.ctx, scope, []warden.DetectTransition{{ThingName: "sensor-1", SecurityProfileName: "p1",
		Behavior: warden.Behavior{Name: "chatty", Metric: "aws:num-messages-sent",
			Criteria: &warden.BehaviorCriteria{ComparisonOperator: "greater-than", Value: &warden.MetricValue{Count: new(int64(10))}}},
		Type: warden.ViolationInAlarm, Value: &warden.MetricValue{Count: &n}, At: time.Now()}})
	if err != nil || len(events) != 1 {
		t.Fatalf("ApplyDetectTransitions = %+v, %v", events, err)
	}
	if _, err := e.iot.CreateMitigationAction(e.ctx, &iot.CreateMitigationActionInput{ActionName: aws.String("quarantine"),
		RoleArn: aws.String(mitigationRole), ActionParams: &types.MitigationActionParams{
			AddThingsToThingGroupParams: &types.AddThingsToThingGroupParams{ThingGroupNames: []string{"quarantine"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.iot.StartDetectMitigationActionsTask(e.ctx, &iot.StartDetectMitigationActionsTaskInput{TaskId: aws.String("mute"),
		ClientRequestToken: aws.String("mute"), Actions: []string{"quarantine"},
		Target: &types.DetectMitigationActionsTaskTarget{SecurityProfileName: aws.String("p1")}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	if err := engine.NewDetect(e.store, engine.DetectOptions{}).RunUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, "publish denied after the Detect task", func() bool {
		code, _ := c5.publish(t, "telemetry", 1, false, "after")
		return code == 0x87
	})
	t.Logf("quarantine applied to the live session within %v of the task's end", took)
}
