package warden

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Audit mitigation actions task statuses (AuditMitigationActionsTaskStatus).
const (
	MitigationTaskInProgress = "IN_PROGRESS"
	MitigationTaskCompleted  = "COMPLETED"
	MitigationTaskFailed     = "FAILED"
	MitigationTaskCanceled   = "CANCELED"
)

// Execution statuses (AuditMitigationActionsExecutionStatus). An execution
// is one action applied to one finding.
const (
	ExecutionInProgress = "IN_PROGRESS"
	ExecutionCompleted  = "COMPLETED"
	ExecutionFailed     = "FAILED"
	ExecutionCanceled   = "CANCELED"
	ExecutionSkipped    = "SKIPPED"
	ExecutionPending    = "PENDING"
)

// Error codes of failed executions. AWS documents none (the member is a
// free string); these are Warden's conventions (semantics.md §3).
const (
	// ExecErrInsufficientPermissions: the action's role cannot be assumed or
	// does not grant what the action type needs.
	ExecErrInsufficientPermissions = "INSUFFICIENT_PERMISSIONS"
	// ExecErrInvalidStateOfResource: the resource is gone or cannot change
	// (revoked certificate, policy at 5 versions, thing at 10 groups, ...).
	ExecErrInvalidStateOfResource = "INVALID_STATE_OF_RESOURCE"
	// ExecErrInternal: applying the execution failed in Warden itself, on
	// several attempts (the message says how); nothing was applied.
	ExecErrInternal = "INTERNAL_ERROR"
)

// Quotas of audit mitigation actions tasks (semantics.md §7).
const (
	// MaxRunningMitigationTasks is how many tasks an account may have
	// IN_PROGRESS at once.
	MaxRunningMitigationTasks = 10
	// MitigationTaskRetention is how long tasks are kept, and how far back
	// ListAuditMitigationActionsTasks may look.
	MitigationTaskRetention = 90 * 24 * time.Hour
	// MaxActionsPerCheck bounds one check's list in auditCheckToActionsMapping.
	MaxActionsPerCheck = 5
	// MaxTargetFindings bounds target.findingIds.
	MaxTargetFindings = 25
)

// mitigationSupport is the table of semantics.md §1: the action types that
// can be applied to the findings of each audit check, keyed by the API's
// check names. DEVICE_CERTIFICATE_AGE_CHECK is not in AWS's table; Warden
// treats it like the other device-certificate checks.
var mitigationSupport = func() map[string][]string {
	const (
		sns    = ActionPublishFindingToSNS
		device = ActionUpdateDeviceCertificate
		ca     = ActionUpdateCACertificate
		things = ActionAddThingsToThingGroup
		policy = ActionReplaceDefaultPolicyVersion
		logs   = ActionEnableIoTLogging
	)
	return map[string][]string{
		"REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK":                    {sns, ca},
		"INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK": {sns, device, things},
		"DEVICE_CERTIFICATE_SHARED_CHECK":                              {sns, device, things},
		"UNAUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK":         {sns},
		"AUTHENTICATED_COGNITO_ROLE_OVERLY_PERMISSIVE_CHECK":           {sns},
		"IOT_POLICY_OVERLY_PERMISSIVE_CHECK":                           {sns, policy},
		"IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK":                  {sns, policy},
		"CA_CERTIFICATE_EXPIRING_CHECK":                                {sns, ca},
		"CONFLICTING_CLIENT_IDS_CHECK":                                 {sns},
		"DEVICE_CERTIFICATE_EXPIRING_CHECK":                            {sns, device, things},
		"REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK":                {sns, device, things},
		"LOGGING_DISABLED_CHECK":                                       {sns, logs},
		"DEVICE_CERTIFICATE_KEY_QUALITY_CHECK":                         {sns, device, things},
		"CA_CERTIFICATE_KEY_QUALITY_CHECK":                             {sns, ca},
		"IOT_ROLE_ALIAS_OVERLY_PERMISSIVE_CHECK":                       {sns},
		"IOT_ROLE_ALIAS_ALLOWS_ACCESS_TO_UNUSED_SERVICES_CHECK":        {sns},
		"DEVICE_CERTIFICATE_AGE_CHECK":                                 {sns, device, things},
	}
}()

// SupportedMitigationTypes returns the action types that can be applied to
// findings of check; ok is false for a name that is no audit check.
func SupportedMitigationTypes(check string) (types []string, ok bool) {
	t, ok := mitigationSupport[check]
	return slices.Clone(t), ok
}

// MitigationCheckNames lists every audit check name a task may refer to, sorted.
func MitigationCheckNames() []string {
	out := make([]string, 0, len(mitigationSupport))
	for c := range mitigationSupport {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// CheckMitigationSupport is nil when an action of actionType may be applied
// to findings of check, else the InvalidRequestException naming both.
func CheckMitigationSupport(check, actionName, actionType string) error {
	supported, ok := mitigationSupport[check]
	if !ok {
		return Errorf(CodeInvalidRequest, "%s is not an audit check name.", check)
	}
	if !slices.Contains(supported, actionType) {
		return Errorf(CodeInvalidRequest,
			"Mitigation action %s is of type %s, which cannot be applied to findings of audit check %s (supported: %s).",
			actionName, actionType, check, strings.Join(supported, ", "))
	}
	return nil
}

// MitigationTask is an audit mitigation actions task: the actions of
// Mapping applied to the findings Target selects.
type MitigationTask struct {
	TaskID string
	Status string
	// StartTime is when the task was started; EndTime when it completed,
	// failed or was canceled (zero while IN_PROGRESS).
	StartTime, EndTime time.Time
	Target             MitigationTaskTarget
	// Mapping is auditCheckToActionsMapping: per audit check, the names of
	// the actions applied to its findings, in order.
	Mapping            map[string][]string
	ClientRequestToken string
	// Actions are copies of the actions of Mapping as they were when the
	// task started, each once, in the order of first use (checks by name).
	// Later changes to the actions do not change them.
	Actions []MitigationAction
	// Statistics counts findings per check of Mapping.
	Statistics map[string]MitigationTaskStatistics
}

// MitigationTaskTarget selects findings: either FindingIDs, or the findings
// of the audit AuditTaskID, optionally only those whose check is in
// ReasonCodeFilter and whose reason code it lists.
type MitigationTaskTarget struct {
	AuditTaskID      string              `json:"auditTaskId,omitempty"`
	FindingIDs       []string            `json:"findingIds,omitempty"`
	ReasonCodeFilter map[string][]string `json:"auditCheckToReasonCodeFilter,omitempty"`
}

// Targets reports whether the target's reason-code filter lets a finding
// of check with reasonCode through (always, without a filter).
func (t *MitigationTaskTarget) Targets(check, reasonCode string) bool {
	if t.ReasonCodeFilter == nil {
		return true
	}
	codes, ok := t.ReasonCodeFilter[check]
	return ok && slices.Contains(codes, reasonCode)
}

// MitigationTaskStatistics counts a task's findings of one check. Total is
// the sum of the others plus the findings not yet done. Skipped counts the
// suppressed findings and those the reason-code filter left out.
type MitigationTaskStatistics struct {
	Total, Succeeded, Failed, Skipped, Canceled int64
}

// Open is the number of findings not yet done.
func (s MitigationTaskStatistics) Open() int64 {
	return s.Total - s.Succeeded - s.Failed - s.Skipped - s.Canceled
}

// CheckMitigationMapping applies StartAuditMitigationActionsTask's rules
// to a mapping of audit checks to action names: every action exists
// (actions holds each name's action, nil when there is none) and suits its
// check. Every problem is named in one InvalidRequestException.
func CheckMitigationMapping(mapping map[string][]string, actions map[string]*MitigationAction) error {
	var problems []string
	reported := map[string]bool{}
	for _, check := range MitigationChecks(mapping) {
		for _, name := range mapping[check] {
			a := actions[name]
			if a == nil {
				if !reported[name] {
					reported[name] = true
					problems = append(problems, fmt.Sprintf("Mitigation action %s (for audit check %s) does not exist.", name, check))
				}
				continue
			}
			if err := CheckMitigationSupport(check, name, a.Params.Type()); err != nil {
				problems = append(problems, err.(*Error).Message)
			}
		}
	}
	if len(problems) > 0 {
		return Errorf(CodeInvalidRequest, "%s", strings.Join(problems, " "))
	}
	return nil
}

// MitigationChecks returns the checks of a mapping in the order the task
// works through them (by name).
func MitigationChecks(mapping map[string][]string) []string {
	out := make([]string, 0, len(mapping))
	for c := range mapping {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// ValidateStart checks a StartAuditMitigationActionsTask request: the
// model's constraints and the rules that need no stored data.
func (t *MitigationTask) ValidateStart(v *Validator, targetGiven, mappingGiven, tokenGiven bool) {
	ValidateMitigationTaskID(v, "taskId", t.TaskID)
	v.Required("target", targetGiven)
	if targetGiven {
		t.Target.validate(v)
	}
	v.Required("auditCheckToActionsMapping", mappingGiven)
	if mappingGiven {
		if len(t.Mapping) == 0 {
			v.Problem("auditCheckToActionsMapping must map at least one audit check to its actions.")
		}
		for _, check := range MitigationChecks(t.Mapping) {
			names := t.Mapping[check]
			m := "auditCheckToActionsMapping." + check
			if _, ok := mitigationSupport[check]; !ok {
				v.Problem("auditCheckToActionsMapping: " + quoted(check) + " is not an audit check name.")
			}
			v.Count(m, len(names), 1, MaxActionsPerCheck)
			seen := map[string]bool{}
			for _, n := range names { // the model checks each name
				if seen[n] {
					v.Problem("auditCheckToActionsMapping: action " + quoted(n) + " is listed twice for audit check " + check + ".")
				}
				seen[n] = true
			}
		}
	}
	v.Required("clientRequestToken", tokenGiven)
	if tokenGiven {
		v.Length("clientRequestToken", t.ClientRequestToken, 1, 64)
		v.Chars("clientRequestToken", t.ClientRequestToken, IsNameChar, "^[a-zA-Z0-9-_]+$")
	}
}

func (t *MitigationTaskTarget) validate(v *Validator) {
	hasAudit, hasIDs, hasFilter := t.AuditTaskID != "", t.FindingIDs != nil, t.ReasonCodeFilter != nil
	switch {
	case !hasAudit && !hasIDs && !hasFilter:
		v.Problem("target is empty: give findingIds, or auditTaskId with an optional auditCheckToReasonCodeFilter.")
	case hasIDs && (hasAudit || hasFilter):
		v.Problem("target: findingIds cannot be combined with auditTaskId or auditCheckToReasonCodeFilter; give findingIds alone, or auditTaskId with an optional auditCheckToReasonCodeFilter.")
	case hasFilter && !hasAudit:
		v.Problem("target: auditCheckToReasonCodeFilter needs the auditTaskId of the audit whose findings it filters.")
	}
	if hasAudit {
		ValidateAuditTaskID(v, "target.auditTaskId", t.AuditTaskID)
	}
	if hasIDs {
		v.Count("target.findingIds", len(t.FindingIDs), 1, MaxTargetFindings)
		seen := map[string]bool{}
		for _, id := range t.FindingIDs {
			ValidateFindingID(v, "target.findingIds.member", id)
			if seen[id] {
				v.Problem("target.findingIds lists finding " + quoted(id) + " twice.")
			}
			seen[id] = true
		}
	}
	if hasFilter {
		if len(t.ReasonCodeFilter) == 0 {
			v.Problem("target.auditCheckToReasonCodeFilter must name at least one audit check.")
		}
		for _, check := range MitigationChecks(t.ReasonCodeFilter) {
			if _, ok := mitigationSupport[check]; !ok {
				v.Problem("target.auditCheckToReasonCodeFilter: " + quoted(check) + " is not an audit check name.")
			}
			v.Count("target.auditCheckToReasonCodeFilter."+check, len(t.ReasonCodeFilter[check]), 1, 25)
		}
	}
}

func quoted(s string) string { return "'" + shorten(s) + "'" }

// ValidateMitigationTaskID checks a MitigationActionsTaskId: 1-128 of [a-zA-Z0-9_-].
func ValidateMitigationTaskID(v *Validator, member, id string) {
	v.Length(member, id, 1, 128)
	v.Chars(member, id, IsNameChar, "[a-zA-Z0-9_-]+")
}

// ValidateFindingID checks a FindingId: 1-128 of [a-zA-Z0-9_-].
func ValidateFindingID(v *Validator, member, id string) {
	v.Length(member, id, 1, 128)
	v.Chars(member, id, IsNameChar, "[a-zA-Z0-9_-]+")
}

// ValidateAuditTaskID checks an AuditTaskId: 1-40 of [a-zA-Z0-9-].
func ValidateAuditTaskID(v *Validator, member, id string) {
	v.Length(member, id, 1, 40)
	v.Chars(member, id, func(r rune) bool { return IsNameChar(r) && r != '_' }, `[a-zA-Z0-9\-]+`)
}

// MitigationExecution is one action of a task applied to one finding.
type MitigationExecution struct {
	TaskID, FindingID    string
	ActionName, ActionID string
	Status               string
	// StartTime is zero while PENDING; EndTime until the execution is done.
	StartTime, EndTime time.Time
	ErrorCode, Message string
}

// ExecutionID names an execution in the change log: "execution:<id>" is the
// actor of every registry change it makes.
func ExecutionID(taskID, findingID, actionName string) string {
	return taskID + "/" + findingID + "/" + actionName
}

// TruncateExecutionMessage cuts an execution's message to ErrorMessage's
// maximum length, 2048.
func TruncateExecutionMessage(m string) string {
	const max = 2048
	if len(m) <= max {
		return m
	}
	return m[:max-3] + "..."
}

// MitigationTaskFilter selects tasks for ListAuditMitigationActionsTasks:
// those started at or after StartedAfter and, unless still running, ended at
// or before EndedBefore; the other members when not "".
type MitigationTaskFilter struct {
	StartedAfter, EndedBefore time.Time
	AuditTaskID, FindingID    string
	Status                    string
}

// MitigationExecutionFilter selects one task's executions; FindingID and
// Status when not "".
type MitigationExecutionFilter struct {
	TaskID, FindingID, Status string
}

// MitigationStore persists audit mitigation actions tasks and their
// executions (the API's side; the engine works through MitigationQueue).
type MitigationStore interface {
	// StartMitigationTask stores a new task started at now, after checking
	// what needs stored data: every action exists and suits its check, the
	// target's findings or audit exist, fewer than MaxRunningMitigationTasks
	// run. A task with the same id and token is returned as it is
	// (created=false); with another token, TaskAlreadyExists.
	StartMitigationTask(ctx context.Context, s Scope, t MitigationTask, now time.Time) (stored MitigationTask, created bool, err error)
	// CancelMitigationTask cancels an IN_PROGRESS task: its executions not
	// being applied become CANCELED. Unknown → ResourceNotFound; not
	// IN_PROGRESS → InvalidRequest.
	CancelMitigationTask(ctx context.Context, s Scope, taskID string, now time.Time) error
	// MitigationTask returns a task with its statistics, or ResourceNotFound.
	MitigationTask(ctx context.Context, s Scope, taskID string) (MitigationTask, error)
	// MitigationTasks lists tasks newest first (TaskID, StartTime, Status only).
	MitigationTasks(ctx context.Context, s Scope, f MitigationTaskFilter, p Page) (tasks []MitigationTask, next string, err error)
	// MitigationExecutions lists a task's executions by finding and action
	// order; an unknown task has none.
	MitigationExecutions(ctx context.Context, s Scope, f MitigationExecutionFilter, p Page) (execs []MitigationExecution, next string, err error)
}

// MitigationQueue is the engine's side of the store: tasks and executions
// are rows, and the database is the queue. Every method is one transaction;
// several engines (processes) may share one database.
type MitigationQueue interface {
	// FanOutMitigationTasks creates the executions of at most maxFindings
	// more findings of the oldest task whose fan-out is unfinished (an
	// auditTaskId target); worked is false when there was nothing to do.
	FanOutMitigationTasks(ctx context.Context, now time.Time, maxFindings int) (worked bool, err error)
	// ClaimMitigationFindings leases to owner, until now+lease, every
	// execution of at most maxFindings findings whose executions are
	// PENDING and not under a live lease; they show as IN_PROGRESS.
	ClaimMitigationFindings(ctx context.Context, owner string, now time.Time, lease time.Duration, maxFindings int) (*MitigationClaim, error)
	// ApplyMitigationClaim applies the claimed executions and records their
	// outcomes in one transaction, fenced by the claim's lease: if any
	// execution is no longer the claim's, nothing is applied and the error
	// is ErrMitigationLeaseLost.
	ApplyMitigationClaim(ctx context.Context, c *MitigationClaim, opt MitigationApplyOptions, now time.Time) (MitigationOutcome, error)
	// FailMitigationClaim records every claimed execution as FAILED with
	// errorCode and message, without applying anything, fenced like
	// ApplyMitigationClaim: for findings whose application keeps failing.
	FailMitigationClaim(ctx context.Context, c *MitigationClaim, errorCode, message string, now time.Time) error
	// MitigationWork receives a value when new work may be waiting (a task
	// was started in this process); engines also poll, for other processes.
	MitigationWork() <-chan struct{}
}

// ErrMitigationLeaseLost is returned when a claim's lease was taken over
// (it expired and another claim, or a cancel, took its executions).
var ErrMitigationLeaseLost = errors.New("mitigation claim lost its lease")

// MitigationClaim is a batch of executions leased to Owner.
type MitigationClaim struct {
	Owner      string
	Executions []ClaimedExecution
}

// ByFinding splits the claim into one claim per finding.
func (c *MitigationClaim) ByFinding() []*MitigationClaim {
	var out []*MitigationClaim
	for i, e := range c.Executions {
		if i == 0 || e.TaskSeq != c.Executions[i-1].TaskSeq || e.FindingSeq != c.Executions[i-1].FindingSeq {
			out = append(out, &MitigationClaim{Owner: c.Owner})
		}
		last := out[len(out)-1]
		last.Executions = append(last.Executions, e)
	}
	return out
}

// Findings is the number of findings in the claim.
func (c *MitigationClaim) Findings() int {
	n := 0
	for i := range c.Executions {
		if i == 0 || c.Executions[i].TaskSeq != c.Executions[i-1].TaskSeq || c.Executions[i].FindingSeq != c.Executions[i-1].FindingSeq {
			n++
		}
	}
	return n
}

// ClaimedExecution identifies one leased execution; Attempt is the fence
// its completion must match.
type ClaimedExecution struct {
	TaskSeq, FindingSeq int64
	ActionIndex         int
	Attempt             int64
}

// MitigationApplyOptions tune how executions are applied.
type MitigationApplyOptions struct {
	// StrictRoles turns off trust on first use: without it, an account with
	// no IAM roles at all trusts its own role ARNs.
	StrictRoles bool
}

// MitigationOutcome counts what one ApplyMitigationClaim did.
type MitigationOutcome struct {
	Findings, Executions int
	// Published is the number of SNS messages enqueued, for the deliverer.
	Published int
	// TasksEnded is the number of tasks that completed or failed.
	TasksEnded int
}

// Check holds a ListAuditMitigationActionsTasks window to what is kept: it
// starts at most MitigationTaskRetention before now and ends no earlier
// than it starts.
func (f *MitigationTaskFilter) Check(now time.Time) error {
	start, end := f.StartedAfter, f.EndedBefore
	if oldest := now.UTC().Add(-MitigationTaskRetention); start.Before(oldest) {
		return Errorf(CodeInvalidRequest,
			"startTime %s is more than 90 days ago; audit mitigation actions tasks are kept for 90 days (give a startTime on or after %s).",
			start.Format(time.RFC3339), oldest.Format(time.RFC3339))
	}
	return CheckTimeRange(start, end)
}

// CheckTimeRange refuses a startTime/endTime pair whose end is before its
// start, as every list operation with a time range does.
func CheckTimeRange(start, end time.Time) error {
	if end.Before(start) {
		return Errorf(CodeInvalidRequest, "endTime %s is before startTime %s.", end.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
	}
	return nil
}
