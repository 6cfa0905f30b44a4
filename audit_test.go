package warden

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestAuditChecksTable(t *testing.T) {
	seen := map[string]bool{}
	for i, c := range AuditChecks {
		if seen[c.Name] {
			t.Errorf("%s listed twice", c.Name)
		}
		seen[c.Name] = true
		if i > 0 && AuditChecks[i-1].Name > c.Name {
			t.Errorf("%s is out of name order", c.Name)
		}
		if _, ok := SupportedMitigationTypes(c.Name); !ok {
			t.Errorf("%s has no mitigation support entry", c.Name)
		}
		if auditResourceMembers[c.ResourceType] == "" {
			t.Errorf("%s reports %s, which CheckAuditResource does not know", c.Name, c.ResourceType)
		}
	}
	if len(AuditChecks) != 17 {
		t.Errorf("%d checks, want the 17 AWS documents", len(AuditChecks))
	}
}

func TestResourceIdentifierKey(t *testing.T) {
	id := strings.Repeat("ab", 32)
	arn := "arn:aws:iot:us-east-1:123456789012:cert/" + id
	same := []ResourceIdentifier{
		{DeviceCertificateID: id},
		{DeviceCertificateID: strings.ToUpper(id)},
		{DeviceCertificateArn: arn},
		{DeviceCertificateID: id, DeviceCertificateArn: arn},
	}
	for _, r := range same {
		if r.Key() != same[0].Key() {
			t.Errorf("%s: key %s, want %s", r.JSON(), r.Key(), same[0].Key())
		}
	}
	if want := `{"deviceCertificateId":"` + id + `"}`; same[0].Key() != want || same[0].JSON() != want {
		t.Errorf("key %s, JSON %s; want %s", same[0].Key(), same[0].JSON(), want)
	}
	other := ResourceIdentifier{CACertificateID: id}
	if other.Key() == same[0].Key() {
		t.Error("a CA certificate id keys like a device certificate id")
	}
	if !(&ResourceIdentifier{PolicyVersionIdentifier: &PolicyVersionIdentifier{}}).IsZero() || (&ResourceIdentifier{Account: "1"}).IsZero() {
		t.Error("IsZero")
	}
}

func TestValidateAuditConfigurationUpdate(t *testing.T) {
	role := "arn:aws:iam::123456789012:role/audit"
	for _, tc := range []struct {
		name string
		u    AuditConfigurationUpdate
		msg  string // "" = valid
	}{
		{"ok", AuditConfigurationUpdate{RoleArn: &role, Checks: map[string]AuditCheckConfiguration{CheckLoggingDisabled: {Enabled: true}}}, ""},
		{"disabling an unavailable check is fine", AuditConfigurationUpdate{Checks: map[string]AuditCheckConfiguration{CheckRoleAliasOverlyPermissive: {}}}, ""},
		{"threshold at the maximum", AuditConfigurationUpdate{Checks: map[string]AuditCheckConfiguration{
			CheckDeviceCertificateAge: {Enabled: true, Configuration: map[string]string{ConfigCertAgeThresholdInDays: "3652"}}}}, ""},
		{"threshold over the maximum", AuditConfigurationUpdate{Checks: map[string]AuditCheckConfiguration{
			CheckDeviceCertificateAge: {Enabled: true, Configuration: map[string]string{ConfigCertAgeThresholdInDays: "3653"}}}}, "from 30 to 3652"},
		{"empty setting", AuditConfigurationUpdate{Checks: map[string]AuditCheckConfiguration{
			CheckDeviceCertificateAge: {Enabled: true, Configuration: map[string]string{ConfigCertAgeThresholdInDays: ""}}}}, "length greater than or equal to 1"},
		{"unavailable check", AuditConfigurationUpdate{Checks: map[string]AuditCheckConfiguration{CheckAuthenticatedCognitoRoleOverlyPermissive: {Enabled: true}}}, "cannot be enabled"},
		{"disabled SNS target needs nothing", AuditConfigurationUpdate{SNS: &AuditNotificationTarget{}}, ""},
	} {
		err := ValidateAuditConfigurationUpdate(&tc.u)
		switch {
		case tc.msg == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.msg)
		}
	}
	c := AuditCheckConfiguration{Enabled: true}
	if c.Days(CheckDeviceCertificateAge, ConfigCertAgeThresholdInDays) != 365 || c.Days(CheckCACertificateExpiring, ConfigCertExpirationThresholdInDays) != 30 {
		t.Error("defaults")
	}
}

func TestScheduledAuditUpdate(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	a := ScheduledAudit{Name: "s", Frequency: FrequencyMonthly, DayOfMonth: "LAST", TargetCheckNames: []string{CheckLoggingDisabled}, Anchor: t0}
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name   string
		u      ScheduledAuditUpdate
		want   ScheduledAudit
		errMsg string
	}{
		{"checks only keep the anchor", ScheduledAuditUpdate{TargetCheckNames: []string{CheckIoTPolicyOverlyPermissive}},
			ScheduledAudit{Frequency: FrequencyMonthly, DayOfMonth: "LAST", TargetCheckNames: []string{CheckIoTPolicyOverlyPermissive}, Anchor: t0}, ""},
		{"to daily drops the day", ScheduledAuditUpdate{Frequency: str(FrequencyDaily)},
			ScheduledAudit{Frequency: FrequencyDaily, TargetCheckNames: []string{CheckLoggingDisabled}, Anchor: t1}, ""},
		{"to weekly needs a day", ScheduledAuditUpdate{Frequency: str(FrequencyWeekly)}, ScheduledAudit{}, "needs dayOfWeek"},
		{"to biweekly with a day", ScheduledAuditUpdate{Frequency: str(FrequencyBiweekly), DayOfWeek: str("MON")},
			ScheduledAudit{Frequency: FrequencyBiweekly, DayOfWeek: "MON", TargetCheckNames: []string{CheckLoggingDisabled}, Anchor: t1}, ""},
		{"day of week on a monthly one", ScheduledAuditUpdate{DayOfWeek: str("MON")}, ScheduledAudit{}, "not MONTHLY"},
		{"new day of month", ScheduledAuditUpdate{DayOfMonth: str("3")},
			ScheduledAudit{Frequency: FrequencyMonthly, DayOfMonth: "3", TargetCheckNames: []string{CheckLoggingDisabled}, Anchor: t1}, ""},
	} {
		got, err := ApplyScheduledAuditUpdate(a, tc.u, t1)
		if tc.errMsg != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errMsg) {
				t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.errMsg)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got.Frequency != tc.want.Frequency || got.DayOfMonth != tc.want.DayOfMonth || got.DayOfWeek != tc.want.DayOfWeek ||
			!got.Anchor.Equal(tc.want.Anchor) || strings.Join(got.TargetCheckNames, ",") != strings.Join(tc.want.TargetCheckNames, ",") {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestAuditTaskStatisticsAndSummary(t *testing.T) {
	task := AuditTask{ID: "t1", Type: AuditOnDemand, Status: AuditCompleted, StartTime: time.Unix(1700000000, 500e6), Checks: []AuditCheckRun{
		{Name: "A", Status: CheckCompletedCompliant, TotalResources: 3},
		{Name: "B", Status: CheckCompletedNonCompliant, TotalResources: 3, NonCompliantResources: 1, SuppressedNonCompliantResources: 1},
		{Name: "C", Status: CheckFailed, ErrorCode: CheckErrorCRLUnavailable, Message: "m"},
		{Name: "D", Status: CheckCanceled},
		{Name: "E", Status: CheckInProgress},
	}}
	st := task.Statistics()
	if st != (AuditTaskStatistics{TotalChecks: 5, InProgressChecks: 1, CompliantChecks: 1, NonCompliantChecks: 1, FailedChecks: 1, CanceledChecks: 1}) {
		t.Errorf("statistics %+v", st)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(AuditSummaryMessage(Scope{Account: "123456789012", Region: "us-east-1"}, &task)), &m); err != nil {
		t.Fatal(err)
	}
	if m["accountId"] != "123456789012" || m["taskId"] != "t1" || m["taskStatus"] != "COMPLETED" || m["taskType"] != AuditOnDemand ||
		m["taskStartTime"] != float64(1700000000) || m["totalChecksCount"] != float64(5) || m["nonCompliantChecksCount"] != float64(1) ||
		len(m["auditDetails"].([]any)) != 5 {
		t.Errorf("summary %v", m)
	}
	if _, ok := m["scheduledAuditName"]; ok {
		t.Error("an on-demand summary names a scheduled audit")
	}
}

func TestSuppressionRules(t *testing.T) {
	now := time.Now()
	yes, no := true, false
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	for _, tc := range []struct {
		exp     *time.Time
		forever *bool
		ok      bool
	}{{&later, nil, true}, {nil, &yes, true}, {&later, &no, true}, {nil, nil, false}, {nil, &no, false}, {&later, &yes, false}, {&earlier, nil, false}} {
		if err := CheckSuppressionTerm(tc.exp, tc.forever, now); (err == nil) != tc.ok {
			t.Errorf("term %v %v: got %v, want ok=%v", tc.exp, tc.forever, err, tc.ok)
		}
	}
	s := AuditSuppression{ExpirationDate: later}
	if !s.ActiveAt(now) || s.ActiveAt(later) || !(&AuditSuppression{SuppressIndefinitely: true}).ActiveAt(later.Add(1e5*time.Hour)) {
		t.Error("ActiveAt")
	}
	for _, tc := range []struct {
		check string
		r     ResourceIdentifier
		ok    bool
	}{
		{CheckLoggingDisabled, ResourceIdentifier{Account: "123456789012"}, true},
		{CheckLoggingDisabled, ResourceIdentifier{DeviceCertificateID: "x"}, false},
		{CheckIoTPolicyOverlyPermissive, ResourceIdentifier{PolicyVersionIdentifier: &PolicyVersionIdentifier{PolicyName: "p"}}, false},
		{CheckIoTPolicyOverlyPermissive, ResourceIdentifier{PolicyVersionIdentifier: &PolicyVersionIdentifier{PolicyName: "p", PolicyVersionID: "2"}}, true},
		{CheckRevokedCACertificateStillActive, ResourceIdentifier{CACertificateID: "x"}, true},
		{CheckDeviceCertificateShared, ResourceIdentifier{DeviceCertificateArn: "arn"}, true},
		{CheckConflictingClientIDs, ResourceIdentifier{ClientID: "c"}, true},
		{"NOPE", ResourceIdentifier{ClientID: "c"}, false},
	} {
		if err := CheckAuditResource(tc.check, &tc.r); (err == nil) != tc.ok {
			t.Errorf("%s %s: got %v, want ok=%v", tc.check, tc.r.JSON(), err, tc.ok)
		}
	}
}

func TestApplyAuditConfigurationUpdate(t *testing.T) {
	role := "arn:aws:iam::123456789012:role/audit"
	enable := map[string]AuditCheckConfiguration{CheckDeviceCertificateExpiring: {Enabled: true}}
	noAudits := func() ([]ScheduledAudit, error) { t.Error("scheduled audits read"); return nil, nil }
	if _, err := ApplyAuditConfigurationUpdate(AuditConfiguration{}, false, AuditConfigurationUpdate{Checks: enable}, noAudits); ErrorCode(err) != CodeInvalidRequest {
		t.Errorf("first update without roleArn: %v", err)
	}
	if _, err := ApplyAuditConfigurationUpdate(AuditConfiguration{}, false, AuditConfigurationUpdate{RoleArn: &role}, noAudits); ErrorCode(err) != CodeInvalidRequest {
		t.Errorf("first update without an enabled check: %v", err)
	}
	cur, err := ApplyAuditConfigurationUpdate(AuditConfiguration{}, false, AuditConfigurationUpdate{RoleArn: &role, Checks: enable}, noAudits)
	if err != nil || cur.RoleArn != role || !cur.Enabled(CheckDeviceCertificateExpiring) {
		t.Fatalf("first update: %+v %v", cur, err)
	}
	// Settings kept when an update names the check without them.
	cur.Checks[CheckDeviceCertificateExpiring] = AuditCheckConfiguration{Enabled: true, Configuration: map[string]string{"x": "1"}}
	next, err := ApplyAuditConfigurationUpdate(cur, true, AuditConfigurationUpdate{Checks: enable}, noAudits)
	if err != nil || next.Checks[CheckDeviceCertificateExpiring].Configuration["x"] != "1" {
		t.Errorf("merge: %+v %v", next, err)
	}
	disable := AuditConfigurationUpdate{Checks: map[string]AuditCheckConfiguration{CheckDeviceCertificateExpiring: {}}}
	inUse := func() ([]ScheduledAudit, error) {
		return []ScheduledAudit{{Name: "daily", TargetCheckNames: []string{CheckDeviceCertificateExpiring}}}, nil
	}
	if _, err := ApplyAuditConfigurationUpdate(cur, true, disable, inUse); err == nil || !strings.Contains(err.Error(), "daily") {
		t.Errorf("disabling a check in use: %v", err)
	}
	if next, err := ApplyAuditConfigurationUpdate(cur, true, disable, func() ([]ScheduledAudit, error) { return nil, nil }); err != nil ||
		next.Enabled(CheckDeviceCertificateExpiring) || !cur.Enabled(CheckDeviceCertificateExpiring) {
		t.Errorf("disabling: %v (the stored configuration must not change)", err)
	}
}

func TestCheckAuditConfigurationDelete(t *testing.T) {
	if err := CheckAuditConfigurationDelete(false, 0, true); ErrorCode(err) != CodeResourceNotFound {
		t.Errorf("none: %v", err)
	}
	if err := CheckAuditConfigurationDelete(true, 2, false); ErrorCode(err) != CodeInvalidRequest {
		t.Errorf("scheduled audits kept: %v", err)
	}
	if err := CheckAuditConfigurationDelete(true, 2, true); err != nil {
		t.Errorf("scheduled audits deleted too: %v", err)
	}
}

func TestApplyAuditSuppressionUpdate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	off, on, later := false, true, now.Add(time.Hour)
	sup := AuditSuppression{SuppressIndefinitely: true}
	if _, err := ApplyAuditSuppressionUpdate(sup, AuditSuppressionUpdate{SuppressIndefinitely: &off}, now); ErrorCode(err) != CodeInvalidRequest {
		t.Errorf("off without a date: %v", err)
	}
	got, err := ApplyAuditSuppressionUpdate(sup, AuditSuppressionUpdate{ExpirationDate: &later}, now)
	if err != nil || got.SuppressIndefinitely || !got.ExpirationDate.Equal(later) {
		t.Errorf("date: %+v %v", got, err)
	}
	if got, err = ApplyAuditSuppressionUpdate(got, AuditSuppressionUpdate{SuppressIndefinitely: &on}, now); err != nil ||
		!got.SuppressIndefinitely || !got.ExpirationDate.IsZero() {
		t.Errorf("indefinitely: %+v %v", got, err)
	}
}

func TestAuditTaskCheckCancel(t *testing.T) {
	if err := (&AuditTask{ID: "a", Status: AuditInProgress}).CheckCancel(); err != nil {
		t.Error(err)
	}
	if err := (&AuditTask{ID: "a", Status: AuditCompleted}).CheckCancel(); ErrorCode(err) != CodeInvalidRequest {
		t.Errorf("completed: %v", err)
	}
}
