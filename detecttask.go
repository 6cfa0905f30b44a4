package warden

import (
	"fmt"
	"strings"
	"time"
)

// Detect mitigation tasks: the rules of StartDetectMitigationActionsTask that
// need no stored data, and the names the store and the engine share.

// DetectExecutionPending is the status of an execution not yet applied; the
// API shows it as is (DetectMitigationActionExecutionStatus has no PENDING).
const DetectExecutionPending = ExecutionInProgress

// Outcomes of Detect executions (DetectMitigationActionExecutionStatus).
const (
	DetectExecutionSuccessful = "SUCCESSFUL"
	DetectExecutionFailed     = "FAILED"
	DetectExecutionSkipped    = "SKIPPED"
)

// Error codes of failed or skipped Detect executions. AWS documents none
// (the member is a free string); these are Warden's conventions, shared with
// audit executions where the cause is the same.
const (
	// DetectErrThingNotFound: the violation's thing is not (or no longer) a
	// registered thing — a deleted thing, or an unregistered device known
	// only by its client id. There is nothing to move, so the execution is
	// SKIPPED, not FAILED.
	DetectErrThingNotFound = "THING_NOT_FOUND"
	// DetectErrCanceled: the task was canceled before the execution ran
	// (SKIPPED).
	DetectErrCanceled = "TASK_CANCELED"
)

// DetectTaskActor is the change-log actor of every registry change the
// executions of Detect mitigation task taskID make.
func DetectTaskActor(taskID string) string { return "detect-task:" + taskID }

// HasOccurrenceRange reports whether the task narrows a profile target to
// violations with an event in [OccurrenceStart, OccurrenceEnd].
func (t *DetectMitigationTask) HasOccurrenceRange() bool {
	return !t.OccurrenceStart.IsZero() || !t.OccurrenceEnd.IsZero()
}

// ValidateStart checks a StartDetectMitigationActionsTask request beyond
// what the model checks (lengths, patterns, list sizes): the target is
// violationIds or a security profile, not both; a behaviour needs its
// profile; names are not repeated; the occurrence range is ordered. The
// range and the two flags narrow a profile target only: listed violationIds
// are taken as they are.
func (t *DetectMitigationTask) ValidateStart(v *Validator, actionNames []string) {
	ValidateMitigationTaskID(v, "taskId", t.TaskID)
	tg := &t.Target
	hasIDs, hasProfile := tg.ViolationIDs != nil, tg.SecurityProfileName != ""
	switch {
	case hasIDs && (hasProfile || tg.BehaviorName != ""):
		v.Problem("target: violationIds cannot be combined with securityProfileName or behaviorName; give violationIds alone, or securityProfileName with an optional behaviorName.")
	case !hasIDs && !hasProfile && tg.BehaviorName != "":
		v.Problem("target: behaviorName needs the securityProfileName of the profile the behavior belongs to.")
	case !hasIDs && !hasProfile:
		v.Problem("target is empty: give violationIds, or securityProfileName with an optional behaviorName.")
	}
	if hasIDs {
		v.Count("target.violationIds", len(tg.ViolationIDs), 1, MaxDetectTaskViolationIDs)
		seen := map[string]bool{}
		for _, id := range tg.ViolationIDs {
			if seen[id] {
				v.Problem("target.violationIds lists violation " + quoted(id) + " twice.")
			}
			seen[id] = true
		}
	}
	v.Count("actions", len(actionNames), 1, MaxDetectTaskActions)
	seen := map[string]bool{}
	for _, n := range actionNames {
		if seen[n] {
			v.Problem("actions lists mitigation action " + quoted(n) + " twice.")
		}
		seen[n] = true
	}
	if t.HasOccurrenceRange() && t.OccurrenceEnd.Before(t.OccurrenceStart) {
		v.Problem(fmt.Sprintf("violationEventOccurrenceRange: endTime %s is before startTime %s.",
			t.OccurrenceEnd.UTC().Format(time.RFC3339), t.OccurrenceStart.UTC().Format(time.RFC3339)))
	}
	v.Length("clientRequestToken", t.ClientRequestToken, 1, 64)
	v.Chars("clientRequestToken", t.ClientRequestToken, IsNameChar, "^[a-zA-Z0-9-_]+$")
}

// CheckDetectActions is nil when every named action exists (actions holds
// each name's action, nil when there is none) and is of the one type Detect
// allows, ADD_THINGS_TO_THING_GROUP; else an InvalidRequestException naming
// every problem.
func CheckDetectActions(names []string, actions map[string]*MitigationAction) error {
	var problems []string
	for _, n := range names {
		a := actions[n]
		switch {
		case a == nil:
			problems = append(problems, fmt.Sprintf("Mitigation action %s does not exist.", n))
		case a.Params.Type() != ActionAddThingsToThingGroup:
			problems = append(problems, fmt.Sprintf(
				"Mitigation action %s is of type %s; Detect mitigation tasks allow only %s actions.",
				n, a.Params.Type(), ActionAddThingsToThingGroup))
		}
	}
	if len(problems) > 0 {
		return Errorf(CodeInvalidRequest, "%s", strings.Join(problems, " "))
	}
	return nil
}

// Check checks a ListDetectMitigationActionsExecutions
// request: a taskId, or a startTime and endTime, not both.
func (f *DetectMitigationExecutionFilter) Check() error {
	hasRange := !f.Start.IsZero() || !f.End.IsZero()
	switch {
	case f.TaskID != "" && hasRange:
		return Errorf(CodeInvalidRequest, "Give either taskId or startTime and endTime, not both.")
	case f.TaskID == "" && !hasRange:
		return Errorf(CodeInvalidRequest, "Give either taskId, or startTime and endTime.")
	case f.TaskID == "" && (f.Start.IsZero() || f.End.IsZero()):
		return Errorf(CodeInvalidRequest, "startTime and endTime go together: give both.")
	case f.TaskID == "":
		return CheckTimeRange(f.Start, f.End)
	}
	return nil
}
