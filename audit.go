package warden

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Audit check names (AuditCheckName is a free string in the model; these are
// the names AWS IoT Device Defender documents).
const (
	CheckAuthenticatedCognitoRoleOverlyPermissive   = "AUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK"
	CheckUnauthenticatedCognitoRoleOverlyPermissive = "UNAUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK"
	CheckCACertificateExpiring                      = "CA_CERTIFICATE_EXPIRING_CHECK"
	CheckCACertificateKeyQuality                    = "CA_CERTIFICATE_KEY_QUALITY_CHECK"
	CheckConflictingClientIDs                       = "CONFLICTING_CLIENT_IDS_CHECK"
	CheckDeviceCertificateExpiring                  = "DEVICE_CERTIFICATE_EXPIRING_CHECK"
	CheckDeviceCertificateKeyQuality                = "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK"
	CheckDeviceCertificateShared                    = "DEVICE_CERTIFICATE_SHARED_CHECK"
	CheckDeviceCertificateAge                       = "DEVICE_CERTIFICATE_AGE_CHECK"
	CheckIoTPolicyOverlyPermissive                  = "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"
	CheckIoTPolicyPotentialMisconfiguration         = "IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK"
	CheckRoleAliasOverlyPermissive                  = "IOT_ROLE_ALIAS_OVERLY_PERMISSIVE_CHECK"
	CheckRoleAliasAllowsAccessToUnusedServices      = "IOT_ROLE_ALIAS_ALLOWS_ACCESS_TO_UNUSED_SERVICES_CHECK"
	CheckLoggingDisabled                            = "LOGGING_DISABLED_CHECK"
	CheckRevokedCACertificateStillActive            = "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK"
	CheckRevokedDeviceCertificateStillActive        = "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK"
	CheckIntermediateCARevokedForActiveDeviceCerts  = "INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK"
)

// Finding severities (the AuditFindingSeverity enum).
const (
	SeverityCritical = "CRITICAL"
	SeverityHigh     = "HIGH"
	SeverityMedium   = "MEDIUM"
	SeverityLow      = "LOW"
)

// Resource types of findings (the ResourceType enum).
const (
	ResourceDeviceCertificate   = "DEVICE_CERTIFICATE"
	ResourceCACertificate       = "CA_CERTIFICATE"
	ResourceIoTPolicy           = "IOT_POLICY"
	ResourceCognitoIdentityPool = "COGNITO_IDENTITY_POOL"
	ResourceClientID            = "CLIENT_ID"
	ResourceAccountSettings     = "ACCOUNT_SETTINGS"
	ResourceRoleAlias           = "ROLE_ALIAS"
	ResourceIAMRole             = "IAM_ROLE"
	ResourceIssuerCertificate   = "ISSUER_CERTIFICATE"
)

// Check configuration names (the ConfigName enum of newer models) and their
// documented range and defaults, in days.
const (
	ConfigCertExpirationThresholdInDays = "CERT_EXPIRATION_THRESHOLD_IN_DAYS"
	ConfigCertAgeThresholdInDays        = "CERT_AGE_THRESHOLD_IN_DAYS"
)

// AuditConfigDays is the range and default of a day-count check setting.
type AuditConfigDays struct {
	Default, Min, Max int
}

// AuditCheckInfo describes one audit check.
type AuditCheckInfo struct {
	Name         string
	Severity     string
	ResourceType string
	// Unavailable says why Warden cannot run the check; "" when it can.
	// Such a check can be listed but not enabled.
	Unavailable string
	// Config are the configuration names the check accepts.
	Config map[string]AuditConfigDays
}

const (
	noIAM = "needs IAM roles and their policies, which Warden does not keep"
)

var expiringConfig = map[string]AuditConfigDays{ConfigCertExpirationThresholdInDays: {Default: 30, Min: 30, Max: 3652}}

// AuditChecks lists every check AWS IoT documents, in name order, with its
// severity and the resource its findings name (spec/semantics.md §2).
var AuditChecks = []AuditCheckInfo{
	{Name: CheckAuthenticatedCognitoRoleOverlyPermissive, Severity: SeverityCritical, ResourceType: ResourceCognitoIdentityPool,
		Unavailable: "needs Amazon Cognito identity pools and IAM roles, which Warden does not keep"},
	{Name: CheckCACertificateExpiring, Severity: SeverityMedium, ResourceType: ResourceCACertificate, Config: expiringConfig},
	{Name: CheckCACertificateKeyQuality, Severity: SeverityCritical, ResourceType: ResourceCACertificate},
	{Name: CheckConflictingClientIDs, Severity: SeverityHigh, ResourceType: ResourceClientID},
	{Name: CheckDeviceCertificateAge, Severity: SeverityLow, ResourceType: ResourceDeviceCertificate,
		Config: map[string]AuditConfigDays{ConfigCertAgeThresholdInDays: {Default: 365, Min: 30, Max: 3652}}},
	{Name: CheckDeviceCertificateExpiring, Severity: SeverityMedium, ResourceType: ResourceDeviceCertificate, Config: expiringConfig},
	{Name: CheckDeviceCertificateKeyQuality, Severity: SeverityCritical, ResourceType: ResourceDeviceCertificate},
	{Name: CheckDeviceCertificateShared, Severity: SeverityCritical, ResourceType: ResourceDeviceCertificate},
	{Name: CheckIntermediateCARevokedForActiveDeviceCerts, Severity: SeverityCritical, ResourceType: ResourceDeviceCertificate},
	{Name: CheckIoTPolicyOverlyPermissive, Severity: SeverityCritical, ResourceType: ResourceIoTPolicy},
	{Name: CheckIoTPolicyPotentialMisconfiguration, Severity: SeverityMedium, ResourceType: ResourceIoTPolicy},
	{Name: CheckRoleAliasAllowsAccessToUnusedServices, Severity: SeverityMedium, ResourceType: ResourceRoleAlias, Unavailable: noIAM},
	{Name: CheckRoleAliasOverlyPermissive, Severity: SeverityCritical, ResourceType: ResourceRoleAlias, Unavailable: noIAM},
	{Name: CheckLoggingDisabled, Severity: SeverityLow, ResourceType: ResourceAccountSettings},
	{Name: CheckRevokedCACertificateStillActive, Severity: SeverityCritical, ResourceType: ResourceCACertificate},
	{Name: CheckRevokedDeviceCertificateStillActive, Severity: SeverityMedium, ResourceType: ResourceDeviceCertificate},
	{Name: CheckUnauthenticatedCognitoRoleOverlyPermissive, Severity: SeverityCritical, ResourceType: ResourceCognitoIdentityPool,
		Unavailable: "needs Amazon Cognito identity pools and IAM roles, which Warden does not keep"},
}

// AuditCheck looks a check up by name.
func AuditCheck(name string) (AuditCheckInfo, bool) {
	for _, c := range AuditChecks {
		if c.Name == name {
			return c, true
		}
	}
	return AuditCheckInfo{}, false
}

// unknownCheck is the error for a name that is no audit check.
func unknownCheck(member, name string) *Error {
	return Errorf(CodeInvalidRequest, "%s is not an audit check name (at '%s'); DescribeAccountAuditConfiguration lists them.", shorten(name), member)
}

// Limits of audits (AWS IoT Device Defender quotas).
const (
	// MaxInProgressOnDemandAudits is how many on-demand audits of one
	// account may be IN_PROGRESS at once.
	MaxInProgressOnDemandAudits = 10
	// MaxScheduledAudits is how many scheduled audits one account may have.
	MaxScheduledAudits = 5
	// AuditRetention is how long audit tasks and findings are kept.
	AuditRetention = 90 * 24 * time.Hour
)

// ---------------------------------------------------------------- account configuration

// AuditNotificationTarget is where audit summaries are sent (the SNS key of
// auditNotificationTargetConfigurations).
type AuditNotificationTarget struct {
	TargetArn string `json:"targetArn,omitempty"`
	RoleArn   string `json:"roleArn,omitempty"`
	Enabled   bool   `json:"enabled"`
}

// AuditCheckConfiguration enables a check and tunes it.
type AuditCheckConfiguration struct {
	Enabled       bool              `json:"enabled"`
	Configuration map[string]string `json:"configuration,omitempty"`
}

// Days returns the check setting name as a number of days, or its default.
func (c AuditCheckConfiguration) Days(check, name string) int {
	if v, ok := c.Configuration[name]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	info, _ := AuditCheck(check)
	return info.Config[name].Default
}

// AuditConfiguration is an account's Device Defender audit settings.
type AuditConfiguration struct {
	RoleArn string
	// SNS is the notification target; nil when none was set.
	SNS *AuditNotificationTarget
	// Checks holds the checks that were configured; a check missing here is
	// disabled.
	Checks map[string]AuditCheckConfiguration
}

// Enabled reports whether check is enabled.
func (c *AuditConfiguration) Enabled(check string) bool { return c.Checks[check].Enabled }

// AuditConfigurationUpdate is an UpdateAccountAuditConfiguration request;
// nil members keep what is stored, Checks are merged by name.
type AuditConfigurationUpdate struct {
	RoleArn *string
	SNS     *AuditNotificationTarget
	Checks  map[string]AuditCheckConfiguration
}

// ValidateAuditConfigurationUpdate checks an update's members against the
// model and against what Warden can run. Rules that need the stored
// configuration (the first call, scheduled audits) are
// ApplyAuditConfigurationUpdate's.
func ValidateAuditConfigurationUpdate(u *AuditConfigurationUpdate) error {
	var v Validator
	if u.RoleArn != nil {
		ValidateRoleArn(&v, "roleArn", *u.RoleArn)
	}
	if t := u.SNS; t != nil {
		const member = "auditNotificationTargetConfigurations.SNS"
		v.Length(member+".targetArn", t.TargetArn, 0, 2048)
		if t.RoleArn != "" {
			ValidateRoleArn(&v, member+".roleArn", t.RoleArn)
		}
	}
	names := make([]string, 0, len(u.Checks))
	for name := range u.Checks {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c := u.Checks[name]
		for key, val := range c.Configuration {
			member := "auditCheckConfigurations." + name + ".configuration." + key
			v.Enum("auditCheckConfigurations."+name+".configuration", key, ConfigCertAgeThresholdInDays, ConfigCertExpirationThresholdInDays)
			v.Length(member, val, 1, 64)
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	if t := u.SNS; t != nil && t.Enabled {
		if t.TargetArn == "" || t.RoleArn == "" {
			return Errorf(CodeInvalidRequest, "An enabled SNS notification target needs both targetArn and roleArn.")
		}
		if _, _, ok := ParseTopicARN(t.TargetArn); !ok {
			return Errorf(CodeInvalidRequest, "The SNS targetArn %s is not an SNS topic ARN (arn:aws:sns:region:account:name).", shorten(t.TargetArn))
		}
	}
	for _, name := range names {
		c := u.Checks[name]
		info, ok := AuditCheck(name)
		if !ok {
			return unknownCheck("auditCheckConfigurations", name)
		}
		if c.Enabled && info.Unavailable != "" {
			return Errorf(CodeInvalidRequest, "The check %s cannot be enabled: it %s.", name, info.Unavailable)
		}
		for key, val := range c.Configuration {
			r, ok := info.Config[key]
			if !ok {
				return Errorf(CodeInvalidRequest, "The check %s has no setting %s.", name, key)
			}
			n, err := strconv.Atoi(val)
			if err != nil || n < r.Min || n > r.Max {
				return Errorf(CodeInvalidRequest, "%s of %s must be a whole number of days from %d to %d, not %q.", key, name, r.Min, r.Max, shorten(val))
			}
		}
	}
	return nil
}

// ApplyAuditConfigurationUpdate merges u into the stored configuration cur
// (configured: whether the account has one) and checks the rules that need
// it: the first update needs a roleArn and at least one enabled check, and
// a check that a scheduled audit uses cannot be disabled. scheduled lists
// the account's scheduled audits; it is called only when u disables a
// check.
func ApplyAuditConfigurationUpdate(cur AuditConfiguration, configured bool, u AuditConfigurationUpdate,
	scheduled func() ([]ScheduledAudit, error)) (AuditConfiguration, error) {
	next := AuditConfiguration{RoleArn: cur.RoleArn, SNS: cur.SNS, Checks: maps.Clone(cur.Checks)}
	if next.Checks == nil {
		next.Checks = map[string]AuditCheckConfiguration{}
	}
	if u.RoleArn != nil {
		next.RoleArn = *u.RoleArn
	}
	if u.SNS != nil {
		t := *u.SNS
		next.SNS = &t
	}
	var disabled []string
	for name, c := range u.Checks {
		old := next.Checks[name]
		if c.Configuration == nil {
			c.Configuration = old.Configuration
		}
		if old.Enabled && !c.Enabled {
			disabled = append(disabled, name)
		}
		next.Checks[name] = c
	}
	if !configured {
		if u.RoleArn == nil {
			return next, Errorf(CodeInvalidRequest, "The first UpdateAccountAuditConfiguration needs a roleArn.")
		}
		enabled := false
		for _, c := range next.Checks {
			enabled = enabled || c.Enabled
		}
		if !enabled {
			return next, Errorf(CodeInvalidRequest, "The first UpdateAccountAuditConfiguration needs auditCheckConfigurations with at least one enabled check.")
		}
	}
	if len(disabled) == 0 {
		return next, nil
	}
	audits, err := scheduled()
	if err != nil {
		return next, err
	}
	slices.Sort(disabled)
	for _, name := range disabled {
		for _, a := range audits {
			if slices.Contains(a.TargetCheckNames, name) {
				return next, Errorf(CodeInvalidRequest,
					"The check %s cannot be disabled: the scheduled audit %s uses it. Remove it from the scheduled audit or delete the scheduled audit first.", name, a.Name)
			}
		}
	}
	return next, nil
}

// CheckAuditConfigurationDelete is nil when DeleteAccountAuditConfiguration
// may delete the configuration (configured: the account has one) of an
// account with scheduledAudits scheduled audits; they go with it only when
// deleteScheduledAudits is set.
func CheckAuditConfigurationDelete(configured bool, scheduledAudits int, deleteScheduledAudits bool) error {
	if !configured {
		return Errorf(CodeResourceNotFound, "The account has no audit configuration to delete.")
	}
	if scheduledAudits > 0 && !deleteScheduledAudits {
		return Errorf(CodeInvalidRequest,
			"The account has %d scheduled audits, which use its checks; delete them first or pass deleteScheduledAudits=true.", scheduledAudits)
	}
	return nil
}

// ---------------------------------------------------------------- tasks

// Audit task types and statuses (the AuditTaskType and AuditTaskStatus enums).
const (
	AuditOnDemand  = "ON_DEMAND_AUDIT_TASK"
	AuditScheduled = "SCHEDULED_AUDIT_TASK"

	AuditInProgress = "IN_PROGRESS"
	AuditCompleted  = "COMPLETED"
	AuditFailed     = "FAILED"
	AuditCanceled   = "CANCELED"
)

// Check run statuses (the AuditCheckRunStatus enum).
const (
	CheckInProgress            = "IN_PROGRESS"
	CheckWaitingForData        = "WAITING_FOR_DATA_COLLECTION"
	CheckCanceled              = "CANCELED"
	CheckCompletedCompliant    = "COMPLETED_COMPLIANT"
	CheckCompletedNonCompliant = "COMPLETED_NON_COMPLIANT"
	CheckFailed                = "FAILED"
	CheckErrorDisabled         = "AUDIT_CHECK_DISABLED"
	CheckErrorCRLUnavailable   = "CRL_UNAVAILABLE"
	CheckErrorInterrupted      = "AUDIT_INTERRUPTED"
	CheckErrorInternal         = "INTERNAL_ERROR"
	// CheckErrorTimeout: the check ran past the server's time limit for one check.
	CheckErrorTimeout = "AUDIT_CHECK_TIMEOUT"
)

// AuditCheckRun is one check of an audit task and what it found so far.
type AuditCheckRun struct {
	Name   string
	Status string
	// TotalResources is how many resources the check examined;
	// NonCompliantResources those it found noncompliant and not suppressed;
	// SuppressedNonCompliantResources those it found noncompliant but
	// suppressed.
	TotalResources                  int64
	NonCompliantResources           int64
	SuppressedNonCompliantResources int64
	ErrorCode                       string
	Message                         string
}

// Done reports whether the check has reached a final status.
func (r *AuditCheckRun) Done() bool {
	return r.Status != CheckInProgress && r.Status != CheckWaitingForData
}

// AuditTask is one on-demand or scheduled audit.
type AuditTask struct {
	ID                 string
	Type               string
	Status             string
	StartTime          time.Time
	ScheduledAuditName string
	// Checks are the task's checks by name.
	Checks []AuditCheckRun
}

// AuditTaskStatistics counts a task's checks by status (TaskStatistics).
type AuditTaskStatistics struct {
	TotalChecks, InProgressChecks, WaitingForDataCollectionChecks, CompliantChecks,
	NonCompliantChecks, FailedChecks, CanceledChecks int
}

// Statistics counts the task's checks by status.
func (t *AuditTask) Statistics() AuditTaskStatistics {
	st := AuditTaskStatistics{TotalChecks: len(t.Checks)}
	for _, c := range t.Checks {
		switch c.Status {
		case CheckInProgress:
			st.InProgressChecks++
		case CheckWaitingForData:
			st.WaitingForDataCollectionChecks++
		case CheckCompletedCompliant:
			st.CompliantChecks++
		case CheckCompletedNonCompliant:
			st.NonCompliantChecks++
		case CheckFailed:
			st.FailedChecks++
		case CheckCanceled:
			st.CanceledChecks++
		}
	}
	return st
}

// NewAuditTaskID returns a task id as AWS makes them: 32 lower-case hex digits.
func NewAuditTaskID() string { return strings.ReplaceAll(NewUUID(), "-", "") }

// NewAuditTask is a task started now that runs checks (in name order),
// each IN_PROGRESS; scheduledName names the scheduled audit that fired it
// ("" on demand).
func NewAuditTask(typ, scheduledName string, checks []string, now time.Time) AuditTask {
	t := AuditTask{ID: NewAuditTaskID(), Type: typ, Status: AuditInProgress, StartTime: now, ScheduledAuditName: scheduledName}
	for _, name := range slices.Sorted(slices.Values(checks)) {
		t.Checks = append(t.Checks, AuditCheckRun{Name: name, Status: CheckInProgress})
	}
	return t
}

// ValidateTargetCheckNames checks a TargetAuditCheckNames list and returns it
// without duplicates, in the order given.
func ValidateTargetCheckNames(member string, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, Errorf(CodeInvalidRequest, "%s must name at least one audit check.", member)
	}
	var out []string
	for _, n := range names {
		if _, ok := AuditCheck(n); !ok {
			return nil, unknownCheck(member, n)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// CheckCancel is nil when the task may be canceled: only an IN_PROGRESS
// audit may.
func (t *AuditTask) CheckCancel() error {
	if t.Status != AuditInProgress {
		return Errorf(CodeInvalidRequest, "The audit task %s is %s; only an IN_PROGRESS audit can be canceled.", t.ID, t.Status)
	}
	return nil
}

// CheckTargetChecksEnabled fails with InvalidRequest unless every check is
// enabled in cfg (configured is false when the account has none).
func CheckTargetChecksEnabled(cfg *AuditConfiguration, configured bool, checks []string) error {
	if !configured {
		return Errorf(CodeInvalidRequest, "The account has no audit configuration; enable checks with UpdateAccountAuditConfiguration first.")
	}
	for _, n := range checks {
		if !cfg.Enabled(n) {
			return Errorf(CodeInvalidRequest, "The check %s is not enabled for this account; enable it with UpdateAccountAuditConfiguration.", n)
		}
	}
	return nil
}

// AuditTaskFilter selects tasks in ListAuditTasks.
type AuditTaskFilter struct {
	Start, End time.Time
	Type       string // "" = any
	Status     string // "" = any
}

// AuditTaskClaim is a task a runner has leased.
type AuditTaskClaim struct {
	Scope   Scope
	Task    AuditTask
	Owner   string
	Attempt int
}

// AuditSummary is the message published to the account's SNS notification
// target when a task ends (the format of AWS's audit notifications).
type AuditSummary struct {
	AccountID               string               `json:"accountId"`
	TaskID                  string               `json:"taskId"`
	TaskStatus              string               `json:"taskStatus"`
	TaskType                string               `json:"taskType"`
	ScheduledAuditName      string               `json:"scheduledAuditName,omitempty"`
	FailedChecksCount       int                  `json:"failedChecksCount"`
	CanceledChecksCount     int                  `json:"canceledChecksCount"`
	NonCompliantChecksCount int                  `json:"nonCompliantChecksCount"`
	CompliantChecksCount    int                  `json:"compliantChecksCount"`
	TotalChecksCount        int                  `json:"totalChecksCount"`
	TaskStartTime           int64                `json:"taskStartTime"` // epoch seconds
	AuditDetails            []AuditSummaryDetail `json:"auditDetails"`
}

// AuditSummaryDetail is one check of an AuditSummary.
type AuditSummaryDetail struct {
	CheckName                            string `json:"checkName"`
	CheckRunStatus                       string `json:"checkRunStatus"`
	NonCompliantResourcesCount           int64  `json:"nonCompliantResourcesCount"`
	SuppressedNonCompliantResourcesCount int64  `json:"suppressedNonCompliantResourcesCount"`
	TotalResourcesCount                  int64  `json:"totalResourcesCount"`
	ErrorCode                            string `json:"errorCode,omitempty"`
	Message                              string `json:"message,omitempty"`
}

// AuditSummaryMessage is the SNS message announcing that task t of scope s ended.
func AuditSummaryMessage(s Scope, t *AuditTask) string {
	st := t.Statistics()
	m := AuditSummary{AccountID: s.Account, TaskID: t.ID, TaskStatus: t.Status, TaskType: t.Type,
		ScheduledAuditName: t.ScheduledAuditName, FailedChecksCount: st.FailedChecks, CanceledChecksCount: st.CanceledChecks,
		NonCompliantChecksCount: st.NonCompliantChecks, CompliantChecksCount: st.CompliantChecks,
		TotalChecksCount: st.TotalChecks, TaskStartTime: t.StartTime.Unix(), AuditDetails: []AuditSummaryDetail{}}
	for _, c := range t.Checks {
		m.AuditDetails = append(m.AuditDetails, AuditSummaryDetail{CheckName: c.Name, CheckRunStatus: c.Status,
			NonCompliantResourcesCount: c.NonCompliantResources, SuppressedNonCompliantResourcesCount: c.SuppressedNonCompliantResources,
			TotalResourcesCount: c.TotalResources, ErrorCode: c.ErrorCode, Message: c.Message})
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// ---------------------------------------------------------------- findings

// PolicyVersionIdentifier names one version of a policy.
type PolicyVersionIdentifier struct {
	PolicyName      string `json:"policyName,omitempty"`
	PolicyVersionID string `json:"policyVersionId,omitempty"`
}

// IssuerCertificateIdentifier names the certificate that issued another.
type IssuerCertificateIdentifier struct {
	IssuerCertificateSubject      string `json:"issuerCertificateSubject,omitempty"`
	IssuerID                      string `json:"issuerId,omitempty"`
	IssuerCertificateSerialNumber string `json:"issuerCertificateSerialNumber,omitempty"`
}

// ResourceIdentifier identifies the resource of a finding or suppression;
// the members are the model's.
type ResourceIdentifier struct {
	DeviceCertificateID         string                       `json:"deviceCertificateId,omitempty"`
	CACertificateID             string                       `json:"caCertificateId,omitempty"`
	CognitoIdentityPoolID       string                       `json:"cognitoIdentityPoolId,omitempty"`
	ClientID                    string                       `json:"clientId,omitempty"`
	PolicyVersionIdentifier     *PolicyVersionIdentifier     `json:"policyVersionIdentifier,omitempty"`
	Account                     string                       `json:"account,omitempty"`
	IAMRoleArn                  string                       `json:"iamRoleArn,omitempty"`
	RoleAliasArn                string                       `json:"roleAliasArn,omitempty"`
	IssuerCertificateIdentifier *IssuerCertificateIdentifier `json:"issuerCertificateIdentifier,omitempty"`
	DeviceCertificateArn        string                       `json:"deviceCertificateArn,omitempty"`
}

// IsZero reports whether no member is set.
func (r *ResourceIdentifier) IsZero() bool { return r.Key() == "{}" }

// JSON is the identifier as the API shows it.
func (r *ResourceIdentifier) JSON() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// Key is the identifier in a canonical form, for matching findings with
// filters and suppressions: certificate ids in lower case without 0x, a
// device certificate ARN replaced by its id, empty nested members dropped.
func (r *ResourceIdentifier) Key() string {
	n := *r
	norm := func(id string) string {
		return strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(id, "0x"), "0X"))
	}
	n.DeviceCertificateID = norm(n.DeviceCertificateID)
	n.CACertificateID = norm(n.CACertificateID)
	if n.DeviceCertificateArn != "" {
		if _, id, ok := ParseCertificateARN(n.DeviceCertificateArn); ok && (n.DeviceCertificateID == "" || n.DeviceCertificateID == norm(id)) {
			n.DeviceCertificateID, n.DeviceCertificateArn = norm(id), ""
		}
	}
	if p := n.PolicyVersionIdentifier; p != nil && *p == (PolicyVersionIdentifier{}) {
		n.PolicyVersionIdentifier = nil
	}
	if i := n.IssuerCertificateIdentifier; i != nil {
		c := *i
		c.IssuerID = norm(c.IssuerID)
		c.IssuerCertificateSerialNumber = strings.ToLower(c.IssuerCertificateSerialNumber)
		n.IssuerCertificateIdentifier = &c
		if c == (IssuerCertificateIdentifier{}) {
			n.IssuerCertificateIdentifier = nil
		}
	}
	return n.JSON()
}

// NonCompliantResource is the resource a finding is about.
type NonCompliantResource struct {
	ResourceType       string             `json:"resourceType"`
	ResourceIdentifier ResourceIdentifier `json:"resourceIdentifier"`
	AdditionalInfo     map[string]string  `json:"additionalInfo,omitempty"`
}

// RelatedResource is another resource that explains a finding.
type RelatedResource struct {
	ResourceType       string             `json:"resourceType"`
	ResourceIdentifier ResourceIdentifier `json:"resourceIdentifier"`
	AdditionalInfo     map[string]string  `json:"additionalInfo,omitempty"`
}

// AuditFinding is one noncompliant resource an audit check found.
type AuditFinding struct {
	FindingID                  string
	TaskID                     string
	CheckName                  string
	TaskStartTime              time.Time
	FindingTime                time.Time
	Severity                   string
	NonCompliantResource       NonCompliantResource
	RelatedResources           []RelatedResource
	ReasonForNonCompliance     string
	ReasonForNonComplianceCode string
	IsSuppressed               bool
}

// AuditFindingFilter selects findings in ListAuditFindings: those of TaskID,
// or those found in [Start, End].
type AuditFindingFilter struct {
	TaskID     string
	Start, End time.Time
	CheckName  string
	// Resource, when not nil, keeps only findings about that resource.
	Resource *ResourceIdentifier
	// Suppressed, when not nil, keeps only suppressed (true) or unsuppressed
	// (false) findings.
	Suppressed *bool
}

// ---------------------------------------------------------------- suppressions

// AuditSuppression keeps the findings of a check about one resource out of
// the noncompliant counts, until ExpirationDate or indefinitely.
type AuditSuppression struct {
	CheckName            string
	Resource             ResourceIdentifier
	ExpirationDate       time.Time // zero when SuppressIndefinitely
	SuppressIndefinitely bool
	Description          string
}

// ActiveAt reports whether the suppression applies at t.
func (s *AuditSuppression) ActiveAt(t time.Time) bool {
	return s.SuppressIndefinitely || t.Before(s.ExpirationDate)
}

// AuditSuppressionUpdate is an UpdateAuditSuppression request; nil members
// keep what is stored.
type AuditSuppressionUpdate struct {
	ExpirationDate       *time.Time
	SuppressIndefinitely *bool
	Description          *string
}

// ApplyAuditSuppressionUpdate applies u to sup at now. Turning
// suppressIndefinitely off needs an expiration date in the future, given
// with it or stored.
func ApplyAuditSuppressionUpdate(sup AuditSuppression, u AuditSuppressionUpdate, now time.Time) (AuditSuppression, error) {
	if u.ExpirationDate != nil {
		sup.ExpirationDate, sup.SuppressIndefinitely = *u.ExpirationDate, false
	}
	if u.SuppressIndefinitely != nil {
		sup.SuppressIndefinitely = *u.SuppressIndefinitely
		if sup.SuppressIndefinitely {
			sup.ExpirationDate = time.Time{}
		} else if u.ExpirationDate == nil && (sup.ExpirationDate.IsZero() || !sup.ExpirationDate.After(now)) {
			return sup, Errorf(CodeInvalidRequest, "suppressIndefinitely=false needs an expirationDate in the future.")
		}
	}
	if u.Description != nil {
		sup.Description = *u.Description
	}
	return sup, nil
}

// AuditSuppressionFilter selects suppressions in ListAuditSuppressions.
type AuditSuppressionFilter struct {
	CheckName string
	Resource  *ResourceIdentifier
	Ascending bool
}

// CheckSuppressionTerm fails unless exactly one of an expiration date in the
// future and suppressIndefinitely=true is given.
func CheckSuppressionTerm(expiration *time.Time, indefinitely *bool, now time.Time) error {
	forever := indefinitely != nil && *indefinitely
	switch {
	case expiration != nil && forever:
		return Errorf(CodeInvalidRequest, "Give either expirationDate or suppressIndefinitely=true, not both.")
	case expiration == nil && !forever:
		return Errorf(CodeInvalidRequest, "A suppression needs an expirationDate or suppressIndefinitely=true.")
	case expiration != nil && !expiration.After(now):
		return Errorf(CodeInvalidRequest, "The expirationDate %s is not in the future.", expiration.UTC().Format(time.RFC3339))
	}
	return nil
}

// ---------------------------------------------------------------- scheduled audits

// Audit frequencies (the AuditFrequency enum) and days of the week (DayOfWeek).
const (
	FrequencyDaily    = "DAILY"
	FrequencyWeekly   = "WEEKLY"
	FrequencyBiweekly = "BIWEEKLY"
	FrequencyMonthly  = "MONTHLY"
	// DayOfMonthLast is the dayOfMonth of the last day of every month.
	DayOfMonthLast = "LAST"
)

// DaysOfWeek lists the DayOfWeek enum in the model's order.
var DaysOfWeek = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}

// ScheduledAudit runs its checks at a frequency.
type ScheduledAudit struct {
	Name             string
	Frequency        string
	DayOfMonth       string // MONTHLY only: "1".."31" or LAST
	DayOfWeek        string // WEEKLY and BIWEEKLY only
	TargetCheckNames []string
	// Anchor is when the schedule last changed: occurrences are counted
	// after it, and BIWEEKLY weeks from it.
	Anchor    time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ScheduledAuditARN is the ARN of scheduled audit name in scope s.
func ScheduledAuditARN(s Scope, name string) string { return s.IoTARN("scheduledaudit/" + name) }

// ScheduledAuditUpdate is an UpdateScheduledAudit request; nil members keep
// what is stored.
type ScheduledAuditUpdate struct {
	Frequency        *string
	DayOfMonth       *string
	DayOfWeek        *string
	TargetCheckNames []string
}

// CheckScheduleDays fails unless the days suit the frequency: MONTHLY needs
// dayOfMonth, WEEKLY and BIWEEKLY need dayOfWeek, and no frequency takes
// the other day.
func CheckScheduleDays(a *ScheduledAudit) error {
	switch a.Frequency {
	case FrequencyMonthly:
		if a.DayOfMonth == "" {
			return Errorf(CodeInvalidRequest, "A MONTHLY scheduled audit needs dayOfMonth (1 to 31, or LAST).")
		}
		if a.DayOfWeek != "" {
			return Errorf(CodeInvalidRequest, "dayOfWeek applies to WEEKLY and BIWEEKLY scheduled audits, not MONTHLY ones.")
		}
	case FrequencyWeekly, FrequencyBiweekly:
		if a.DayOfWeek == "" {
			return Errorf(CodeInvalidRequest, "A %s scheduled audit needs dayOfWeek (SUN to SAT).", a.Frequency)
		}
		if a.DayOfMonth != "" {
			return Errorf(CodeInvalidRequest, "dayOfMonth applies to MONTHLY scheduled audits, not %s ones.", a.Frequency)
		}
	case FrequencyDaily:
		if a.DayOfWeek != "" || a.DayOfMonth != "" {
			return Errorf(CodeInvalidRequest, "A DAILY scheduled audit takes neither dayOfWeek nor dayOfMonth.")
		}
	}
	return nil
}

// ApplyScheduledAuditUpdate returns a with u applied. Changing the frequency
// drops a day that no longer applies unless u sets it; the result must pass
// CheckScheduleDays. The anchor moves to now when the timing changed.
func ApplyScheduledAuditUpdate(a ScheduledAudit, u ScheduledAuditUpdate, now time.Time) (ScheduledAudit, error) {
	old := a
	if u.Frequency != nil && *u.Frequency != a.Frequency {
		a.Frequency = *u.Frequency
		if u.DayOfMonth == nil && a.Frequency != FrequencyMonthly {
			a.DayOfMonth = ""
		}
		if u.DayOfWeek == nil && a.Frequency != FrequencyWeekly && a.Frequency != FrequencyBiweekly {
			a.DayOfWeek = ""
		}
	}
	if u.DayOfMonth != nil {
		a.DayOfMonth = *u.DayOfMonth
	}
	if u.DayOfWeek != nil {
		a.DayOfWeek = *u.DayOfWeek
	}
	if u.TargetCheckNames != nil {
		a.TargetCheckNames = u.TargetCheckNames
	}
	if err := CheckScheduleDays(&a); err != nil {
		return old, err
	}
	if a.Frequency != old.Frequency || a.DayOfMonth != old.DayOfMonth || a.DayOfWeek != old.DayOfWeek {
		a.Anchor = now
	}
	a.UpdatedAt = now
	return a, nil
}

// ScopedScheduledAudit is a scheduled audit with the scope it belongs to.
type ScopedScheduledAudit struct {
	Scope Scope
	ScheduledAudit
}

// ---------------------------------------------------------------- store

// AuditStore persists Device Defender audits: the account configuration,
// tasks and their findings, suppressions and scheduled audits, and what the
// audit runner needs to run tasks.
type AuditStore interface {
	// AuditConfiguration returns the scope's configuration; configured is
	// false when none was ever set (or it was deleted).
	AuditConfiguration(ctx context.Context, s Scope) (cfg AuditConfiguration, configured bool, err error)
	// UpdateAuditConfiguration merges u into the configuration. The first
	// one needs a role and an enabled check; a check a scheduled audit uses
	// cannot be disabled.
	UpdateAuditConfiguration(ctx context.Context, s Scope, u AuditConfigurationUpdate, now time.Time) error
	// DeleteAuditConfiguration resets the scope to no configuration
	// (ResourceNotFound when there is none). Scheduled audits are deleted
	// with deleteScheduledAudits, else they make it InvalidRequest.
	DeleteAuditConfiguration(ctx context.Context, s Scope, deleteScheduledAudits bool, now time.Time) error

	// StartAuditTask stores a new on-demand task whose checks must be
	// enabled; over MaxInProgressOnDemandAudits in progress is LimitExceeded.
	StartAuditTask(ctx context.Context, s Scope, checks []string, now time.Time) (AuditTask, error)
	// AuditTask returns one task with its checks, or ResourceNotFound.
	AuditTask(ctx context.Context, s Scope, id string) (AuditTask, error)
	// AuditTasks lists tasks started in [f.Start, f.End], newest first,
	// without their checks.
	AuditTasks(ctx context.Context, s Scope, f AuditTaskFilter, p Page) (tasks []AuditTask, next string, err error)
	// CancelAuditTask cancels an IN_PROGRESS task: its unfinished checks
	// become CANCELED and lose their findings. Any other status is
	// InvalidRequest.
	CancelAuditTask(ctx context.Context, s Scope, id string, now time.Time) error

	// AuditFinding returns one finding or ResourceNotFound.
	AuditFinding(ctx context.Context, s Scope, id string) (AuditFinding, error)
	// AuditFindings lists findings: a task's by check, or a period's by time.
	AuditFindings(ctx context.Context, s Scope, f AuditFindingFilter, p Page) (findings []AuditFinding, next string, err error)

	// CreateAuditSuppression stores a suppression. One for the same check
	// and resource is ResourceAlreadyExists unless it was made with the same
	// token (a retry); a token already used for another is InvalidRequest.
	CreateAuditSuppression(ctx context.Context, s Scope, sup AuditSuppression, token string, now time.Time) error
	// AuditSuppression returns one suppression or ResourceNotFound.
	AuditSuppression(ctx context.Context, s Scope, check string, resource ResourceIdentifier) (AuditSuppression, error)
	// UpdateAuditSuppression changes a suppression's term or description.
	UpdateAuditSuppression(ctx context.Context, s Scope, check string, resource ResourceIdentifier, u AuditSuppressionUpdate, now time.Time) error
	// DeleteAuditSuppression removes a suppression; a missing one is no error.
	DeleteAuditSuppression(ctx context.Context, s Scope, check string, resource ResourceIdentifier, now time.Time) error
	// AuditSuppressions lists suppressions by expiration date (indefinite
	// ones last when ascending).
	AuditSuppressions(ctx context.Context, s Scope, f AuditSuppressionFilter, p Page) (sups []AuditSuppression, next string, err error)

	// CreateScheduledAudit stores a scheduled audit and its tags. Its checks
	// must be enabled; a name in use is ResourceAlreadyExists; more than
	// MaxScheduledAudits is LimitExceeded.
	CreateScheduledAudit(ctx context.Context, s Scope, a ScheduledAudit, tags []Tag) error
	// ScheduledAudit returns one scheduled audit or ResourceNotFound.
	ScheduledAudit(ctx context.Context, s Scope, name string) (ScheduledAudit, error)
	// UpdateScheduledAudit applies u (see ApplyScheduledAuditUpdate).
	UpdateScheduledAudit(ctx context.Context, s Scope, name string, u ScheduledAuditUpdate, now time.Time) (ScheduledAudit, error)
	// DeleteScheduledAudit removes a scheduled audit and its tags, or is ResourceNotFound.
	DeleteScheduledAudit(ctx context.Context, s Scope, name string, now time.Time) error
	// ScheduledAudits lists the scope's scheduled audits by name.
	ScheduledAudits(ctx context.Context, s Scope, p Page) (audits []ScheduledAudit, next string, err error)

	// --- for the audit runner ---

	// AllScheduledAudits lists the scheduled audits of every scope.
	AllScheduledAudits(ctx context.Context) ([]ScopedScheduledAudit, error)
	// FireScheduledAudit starts the task of one occurrence of a scheduled
	// audit, unless that occurrence already has one (fired=false): the
	// occurrence is recorded in the transaction that creates the task, so
	// each fires once, across restarts and processes.
	FireScheduledAudit(ctx context.Context, s Scope, name string, occurrence, now time.Time) (task AuditTask, fired bool, err error)
	// ClaimAuditTask leases an IN_PROGRESS task whose lease has expired (a
	// new task's has): one of the account with the fewest tasks running (on
	// any node), the oldest of those, so that accounts take turns. When
	// accountLimit > 0, tasks of accounts already running that many are
	// skipped. A task claimed before, whose runner died, starts again from
	// scratch: its findings are deleted and its checks reset in the claiming
	// transaction. One claimed more than maxAttempts times is marked FAILED
	// instead. ok is false when there is no task to claim.
	ClaimAuditTask(ctx context.Context, owner string, lease time.Duration, maxAttempts, accountLimit int, now time.Time) (claim AuditTaskClaim, ok bool, err error)
	// RenewAuditTaskLease extends a claim; held is false when the task was
	// canceled or another runner took it over.
	RenewAuditTaskLease(ctx context.Context, c *AuditTaskClaim, until time.Time) (held bool, err error)
	// RecordAuditProgress stores findings of a claimed task and writes the
	// status and counts of checks, in one transaction.
	RecordAuditProgress(ctx context.Context, c *AuditTaskClaim, findings []AuditFinding, checks []AuditCheckRun) (held bool, err error)
	// FinishAuditTask sets a claimed task's final status, fails the checks
	// still unfinished, releases the lease and, when the account's SNS
	// notification target is enabled, publishes the task's summary in the
	// same transaction. published is true when a message was enqueued.
	FinishAuditTask(ctx context.Context, c *AuditTaskClaim, status string, now time.Time) (held, published bool, err error)
	// PurgeAuditData deletes tasks that ended before cutoff, with their
	// findings, and occurrence records older than cutoff.
	PurgeAuditData(ctx context.Context, cutoff time.Time) (tasks int64, err error)

	// ScanAuditCertificates calls fn for every device certificate of the
	// scope whose status is in statuses, without its PEM. The certificate
	// passed is reused between calls.
	ScanAuditCertificates(ctx context.Context, s Scope, statuses []string, fn func(*Certificate) error) error
	// AuditCRLDistributionPoints lists the distinct CRL URLs of those
	// certificates (the first MaxConsultedCRLDistributionPoints of each).
	AuditCRLDistributionPoints(ctx context.Context, s Scope, statuses []string) ([]string, error)
	// ScanAuditCACertificates calls fn for every CA certificate of the scope.
	ScanAuditCACertificates(ctx context.Context, s Scope, fn func(*CACertificate) error) error
	// ScanDefaultPolicyVersions calls fn for the default version of every
	// policy of the scope. The version passed is reused between calls.
	ScanDefaultPolicyVersions(ctx context.Context, s Scope, fn func(*PolicyVersion) error) error
	// AllAuditSuppressions lists the scope's suppressions.
	AllAuditSuppressions(ctx context.Context, s Scope) ([]AuditSuppression, error)
}

// AuditConfigurationARN is the change-log resource of an account's audit
// configuration, which has no AWS ARN.
func AuditConfigurationARN(s Scope) string { return s.IoTARN("audit/configuration") }

// AuditSuppressionARN is the change-log resource of a suppression.
func AuditSuppressionARN(s Scope, check string, r *ResourceIdentifier) string {
	return s.IoTARN("audit/suppression/" + check + "/" + r.Key())
}

// AuditTaskARN is the change-log resource of an audit task.
func AuditTaskARN(s Scope, id string) string { return s.IoTARN("audit/task/" + id) }

// DescribeDays renders a number of days for reasons ("1 day", "3 days").
func DescribeDays(n int) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d day", n)
	}
	return fmt.Sprintf("%d days", n)
}

// auditResourceMembers names, per resource type, the ResourceIdentifier
// member that identifies such a resource.
var auditResourceMembers = map[string]string{
	ResourceDeviceCertificate:   "deviceCertificateId",
	ResourceCACertificate:       "caCertificateId",
	ResourceIoTPolicy:           "policyVersionIdentifier (policyName and policyVersionId)",
	ResourceAccountSettings:     "account",
	ResourceClientID:            "clientId",
	ResourceCognitoIdentityPool: "cognitoIdentityPoolId",
	ResourceRoleAlias:           "roleAliasArn",
}

// CheckAuditResource fails with InvalidRequest unless r names a resource of
// the type check reports, so that a suppression cannot silently match
// nothing.
func CheckAuditResource(check string, r *ResourceIdentifier) error {
	info, ok := AuditCheck(check)
	if !ok {
		return unknownCheck("checkName", check)
	}
	var present bool
	switch info.ResourceType {
	case ResourceDeviceCertificate:
		present = r.DeviceCertificateID != "" || r.DeviceCertificateArn != ""
	case ResourceCACertificate:
		present = r.CACertificateID != ""
	case ResourceIoTPolicy:
		p := r.PolicyVersionIdentifier
		present = p != nil && p.PolicyName != "" && p.PolicyVersionID != ""
	case ResourceAccountSettings:
		present = r.Account != ""
	case ResourceClientID:
		present = r.ClientID != ""
	case ResourceCognitoIdentityPool:
		present = r.CognitoIdentityPoolID != ""
	case ResourceRoleAlias:
		present = r.RoleAliasArn != ""
	}
	if !present {
		return Errorf(CodeInvalidRequest, "The check %s reports %s resources: resourceIdentifier must give %s.",
			check, info.ResourceType, auditResourceMembers[info.ResourceType])
	}
	return nil
}

// CheckAuditCheckName fails unless name, when given, names an audit check
// (the model cannot know them): a typo in a checkName filter is an error
// rather than an empty list.
func CheckAuditCheckName(name *string) error {
	if name == nil {
		return nil
	}
	if _, ok := AuditCheck(*name); !ok {
		return Errorf(CodeInvalidRequest, "%s is not an audit check name (at 'checkName').", *name)
	}
	return nil
}

// Check holds a ListAuditTasks window to what is kept: it starts at most
// AuditRetention before now and ends no earlier than it starts.
func (f *AuditTaskFilter) Check(now time.Time) error {
	if oldest := now.Add(-AuditRetention); f.Start.Before(oldest) {
		return Errorf(CodeInvalidRequest, "startTime %s is before %s: audits are kept for 90 days.",
			f.Start.Format(time.RFC3339), oldest.UTC().Format(time.RFC3339))
	}
	return CheckTimeRange(f.Start, f.End)
}

// NewAuditFindingFilter selects ListAuditFindings' findings either by
// taskID or by the window [start, end] (both given), never both.
func NewAuditFindingFilter(taskID string, start, end *time.Time) (AuditFindingFilter, error) {
	byTime := start != nil || end != nil
	switch {
	case taskID != "" && byTime:
		return AuditFindingFilter{}, Errorf(CodeInvalidRequest, "Give either taskId or startTime and endTime, not both.")
	case taskID == "" && !byTime:
		return AuditFindingFilter{}, Errorf(CodeInvalidRequest, "Give either taskId or startTime and endTime.")
	case byTime && (start == nil || end == nil):
		return AuditFindingFilter{}, Errorf(CodeInvalidRequest, "startTime and endTime go together: give both.")
	}
	f := AuditFindingFilter{TaskID: taskID}
	if byTime {
		f.Start, f.End = *start, *end
	}
	return f, nil
}
