package warden

import (
	"slices"
	"strings"
	"testing"
)

func TestMitigationSupportTable(t *testing.T) {
	checks := MitigationCheckNames()
	if len(checks) != 17 {
		t.Fatalf("%d checks, want the 16 of the table plus DEVICE_CERTIFICATE_AGE_CHECK", len(checks))
	}
	for _, c := range checks {
		types, _ := SupportedMitigationTypes(c)
		if !slices.Contains(types, ActionPublishFindingToSNS) {
			t.Errorf("%s does not support PUBLISH_FINDING_TO_SNS", c)
		}
	}
	tests := []struct {
		check, actionType string
		ok                bool
	}{
		{"DEVICE_CERTIFICATE_AGE_CHECK", ActionUpdateDeviceCertificate, true},
		{"DEVICE_CERTIFICATE_AGE_CHECK", ActionAddThingsToThingGroup, true},
		{"DEVICE_CERTIFICATE_AGE_CHECK", ActionUpdateCACertificate, false},
		{"REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK", ActionUpdateCACertificate, true},
		{"REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK", ActionUpdateDeviceCertificate, false},
		{"IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK", ActionReplaceDefaultPolicyVersion, true},
		{"LOGGING_DISABLED_CHECK", ActionEnableIoTLogging, true},
		{"LOGGING_DISABLED_CHECK", ActionUpdateDeviceCertificate, false},
		{"CONFLICTING_CLIENT_IDS_CHECK", ActionAddThingsToThingGroup, false},
		{"REVOKED_CA_CERT_CHECK", ActionPublishFindingToSNS, false}, // the devguide's name is not an API name
	}
	for _, tc := range tests {
		err := CheckMitigationSupport(tc.check, "a1", tc.actionType)
		if (err == nil) != tc.ok {
			t.Errorf("%s × %s: %v, want ok=%v", tc.check, tc.actionType, err, tc.ok)
		}
		if err != nil && (ErrorCode(err) != CodeInvalidRequest || !strings.Contains(err.Error(), tc.check)) {
			t.Errorf("%s × %s: %v should be InvalidRequest naming the check", tc.check, tc.actionType, err)
		}
	}
}

func TestMitigationTaskValidateStart(t *testing.T) {
	ok := MitigationTask{TaskID: "t-1_a", ClientRequestToken: "tok-1_2",
		Target:  MitigationTaskTarget{FindingIDs: []string{"f1"}},
		Mapping: map[string][]string{"DEVICE_CERTIFICATE_EXPIRING_CHECK": {"a", "b"}}}
	tests := []struct {
		name   string
		change func(t *MitigationTask)
		want   string // "" = valid
	}{
		{"valid", func(*MitigationTask) {}, ""},
		{"audit with filter", func(t *MitigationTask) {
			t.Target = MitigationTaskTarget{AuditTaskID: "a3aea009955e501a31b764abe1bebd3d",
				ReasonCodeFilter: map[string][]string{"DEVICE_CERTIFICATE_EXPIRING_CHECK": {"X"}}}
		}, ""},
		{"task id pattern", func(t *MitigationTask) { t.TaskID = "a b" }, "taskId"},
		{"task id length", func(t *MitigationTask) { t.TaskID = strings.Repeat("a", 129) }, "taskId"},
		{"empty target", func(t *MitigationTask) { t.Target = MitigationTaskTarget{} }, "target is empty"},
		{"ids and audit", func(t *MitigationTask) { t.Target.AuditTaskID = "a1" }, "cannot be combined"},
		{"filter alone", func(t *MitigationTask) {
			t.Target = MitigationTaskTarget{ReasonCodeFilter: map[string][]string{"DEVICE_CERTIFICATE_EXPIRING_CHECK": {"X"}}}
		}, "needs the auditTaskId"},
		{"filter of 26 codes", func(t *MitigationTask) {
			t.Target = MitigationTaskTarget{AuditTaskID: "a1", ReasonCodeFilter: map[string][]string{"DEVICE_CERTIFICATE_EXPIRING_CHECK": make([]string, 26)}}
		}, "auditCheckToReasonCodeFilter"},
		{"audit id with _", func(t *MitigationTask) { t.Target = MitigationTaskTarget{AuditTaskID: "a_1"} }, "target.auditTaskId"},
		{"no mapping entries", func(t *MitigationTask) { t.Mapping = map[string][]string{} }, "at least one audit check"},
		{"no actions", func(t *MitigationTask) { t.Mapping = map[string][]string{"DEVICE_CERTIFICATE_EXPIRING_CHECK": {}} }, "length greater than or equal to 1"},
		{"unknown check", func(t *MitigationTask) { t.Mapping = map[string][]string{"X": {"a"}} }, "'X' is not an audit check name"},
		{"token", func(t *MitigationTask) { t.ClientRequestToken = "a.b" }, "clientRequestToken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task := ok
			task.Target.FindingIDs = slices.Clone(ok.Target.FindingIDs)
			tc.change(&task)
			var v Validator
			task.ValidateStart(&v, true, true, true)
			err := v.Err()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	var v Validator
	(&MitigationTask{TaskID: "t"}).ValidateStart(&v, false, false, false)
	if err := v.Err(); err == nil || !strings.Contains(err.Error(), "3 validation errors") {
		t.Fatalf("missing members: %v", err)
	}
}

func TestMitigationClaimByFinding(t *testing.T) {
	c := &MitigationClaim{Owner: "o", Executions: []ClaimedExecution{
		{TaskSeq: 1, FindingSeq: 5, ActionIndex: 0}, {TaskSeq: 1, FindingSeq: 5, ActionIndex: 1},
		{TaskSeq: 1, FindingSeq: 7, ActionIndex: 0}, {TaskSeq: 2, FindingSeq: 7, ActionIndex: 0},
	}}
	parts := c.ByFinding()
	if c.Findings() != 3 || len(parts) != 3 || len(parts[0].Executions) != 2 || parts[2].Owner != "o" || parts[2].Executions[0].TaskSeq != 2 {
		t.Fatalf("findings %d, parts %+v", c.Findings(), parts)
	}
	if got := ExecutionID("t", "f", "a"); got != "t/f/a" {
		t.Fatalf("ExecutionID %q", got)
	}
	target := MitigationTaskTarget{ReasonCodeFilter: map[string][]string{"C": {"R1"}}}
	if !target.Targets("C", "R1") || target.Targets("C", "R2") || target.Targets("D", "R1") || !(&MitigationTaskTarget{}).Targets("D", "x") {
		t.Fatal("Targets")
	}
}
