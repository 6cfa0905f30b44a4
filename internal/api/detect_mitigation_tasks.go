package api

import (
	"time"

	"github.com/warden-iot/warden"
)

func (s *Server) StartDetectMitigationActionsTask(c *call) (any, error) {
	var in struct {
		TaskID      string                        `json:"taskId"`
		Target      warden.DetectMitigationTarget `json:"target"`
		Actions     []string                      `json:"actions"`
		Occurrences *struct {
			Start epoch `json:"startTime"`
			End   epoch `json:"endTime"`
		} `json:"violationEventOccurrenceRange"`
		OnlyActive         *bool  `json:"includeOnlyActiveViolations"`
		IncludeSuppressed  *bool  `json:"includeSuppressedAlerts"`
		ClientRequestToken string `json:"clientRequestToken"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	t := warden.DetectMitigationTask{TaskID: in.TaskID, Target: in.Target, ClientRequestToken: in.ClientRequestToken,
		OnlyActiveViolations: in.OnlyActive != nil && *in.OnlyActive, IncludeSuppressedAlerts: in.IncludeSuppressed != nil && *in.IncludeSuppressed}
	if in.Occurrences != nil {
		t.OccurrenceStart, t.OccurrenceEnd = time.Time(in.Occurrences.Start), time.Time(in.Occurrences.End)
	}
	for _, name := range in.Actions {
		t.Actions = append(t.Actions, warden.MitigationAction{Name: name})
	}
	var v warden.Validator
	t.ValidateStart(&v, in.Actions)
	if err := v.Err(); err != nil {
		return nil, err
	}
	stored, _, err := s.store.StartDetectMitigationTask(c.ctx, c.scope, t, s.now().UTC())
	if err != nil {
		return nil, err
	}
	return taskIDOut{stored.TaskID}, nil
}

// detectTaskSummaryOut is DetectMitigationActionsTaskSummary.
type detectTaskSummaryOut struct {
	TaskID                        string                        `json:"taskId"`
	TaskStatus                    string                        `json:"taskStatus"`
	TaskStartTime                 epoch                         `json:"taskStartTime"`
	TaskEndTime                   *epoch                        `json:"taskEndTime,omitempty"`
	Target                        warden.DetectMitigationTarget `json:"target"`
	ViolationEventOccurrenceRange *occurrenceRangeOut           `json:"violationEventOccurrenceRange,omitempty"`
	OnlyActiveViolationsIncluded  bool                          `json:"onlyActiveViolationsIncluded"`
	SuppressedAlertsIncluded      bool                          `json:"suppressedAlertsIncluded"`
	ActionsDefinition             []mitigationActionOut         `json:"actionsDefinition"`
	TaskStatistics                detectTaskStatisticsOut       `json:"taskStatistics"`
}

type occurrenceRangeOut struct {
	StartTime epoch `json:"startTime"`
	EndTime   epoch `json:"endTime"`
}

type detectTaskStatisticsOut struct {
	ActionsExecuted int64 `json:"actionsExecuted"`
	ActionsSkipped  int64 `json:"actionsSkipped"`
	ActionsFailed   int64 `json:"actionsFailed"`
}

func detectTaskSummary(t *warden.DetectMitigationTask) detectTaskSummaryOut {
	out := detectTaskSummaryOut{TaskID: t.TaskID, TaskStatus: t.Status, TaskStartTime: epoch(t.StartTime), TaskEndTime: optionalEpoch(t.EndTime),
		Target: t.Target, OnlyActiveViolationsIncluded: t.OnlyActiveViolations, SuppressedAlertsIncluded: t.IncludeSuppressedAlerts,
		ActionsDefinition: wireAll(t.Actions, func(a *warden.MitigationAction) mitigationActionOut {
			return mitigationActionOut{a.Name, a.ID, a.RoleArn, &a.Params}
		}),
		TaskStatistics: detectTaskStatisticsOut{t.Executed, t.Skipped, t.Failed}}
	if t.HasOccurrenceRange() {
		out.ViolationEventOccurrenceRange = &occurrenceRangeOut{epoch(t.OccurrenceStart), epoch(t.OccurrenceEnd)}
	}
	return out
}

func (s *Server) DescribeDetectMitigationActionsTask(c *call) (any, error) {
	t, err := s.store.DetectMitigationTask(c.ctx, c.scope, c.r.PathValue("taskId"))
	if err != nil {
		return nil, err
	}
	return struct {
		TaskSummary detectTaskSummaryOut `json:"taskSummary"`
	}{detectTaskSummary(&t)}, nil
}

func (s *Server) ListDetectMitigationActionsTasks(c *call) (any, error) {
	start, end := c.input.Time("startTime"), c.input.Time("endTime")
	if err := warden.CheckTimeRange(start, end); err != nil {
		return nil, err
	}
	return listPage(c, 25, func(p warden.Page) ([]warden.DetectMitigationTask, string, error) {
		return s.store.DetectMitigationTasks(c.ctx, c.scope, start, end, p)
	}, detectTaskSummary)
}

func (s *Server) CancelDetectMitigationActionsTask(c *call) (any, error) {
	return nil, s.store.CancelDetectMitigationTask(c.ctx, c.scope, c.r.PathValue("taskId"), s.now().UTC())
}

func (s *Server) ListDetectMitigationActionsExecutions(c *call) (any, error) {
	f := warden.DetectMitigationExecutionFilter{TaskID: c.input.String("taskId"), ViolationID: c.input.String("violationId"),
		ThingName: c.input.String("thingName"), Start: c.input.Time("startTime"), End: c.input.Time("endTime")}
	if err := f.Check(); err != nil {
		return nil, err
	}
	type execOut struct {
		TaskID             string `json:"taskId"`
		ViolationID        string `json:"violationId"`
		ActionName         string `json:"actionName"`
		ThingName          string `json:"thingName"`
		ExecutionStartDate epoch  `json:"executionStartDate"`
		ExecutionEndDate   *epoch `json:"executionEndDate,omitempty"`
		Status             string `json:"status"`
		ErrorCode          string `json:"errorCode,omitempty"`
		Message            string `json:"message,omitempty"`
	}
	return listPage(c, 25, func(p warden.Page) ([]warden.DetectMitigationExecution, string, error) {
		return s.store.DetectMitigationExecutions(c.ctx, c.scope, f, p)
	}, func(e *warden.DetectMitigationExecution) execOut {
		return execOut{TaskID: e.TaskID, ViolationID: e.ViolationID, ActionName: e.ActionName, ThingName: e.ThingName,
			ExecutionStartDate: epoch(e.StartTime), ExecutionEndDate: optionalEpoch(e.EndTime), Status: e.Status,
			ErrorCode: e.ErrorCode, Message: e.Message}
	})
}
