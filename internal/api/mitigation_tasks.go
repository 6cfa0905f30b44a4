package api

import (
	"time"

	"github.com/warden-iot/warden"
)

func (s *Server) StartAuditMitigationActionsTask(c *call) (any, error) {
	var in struct {
		TaskID             string                      `json:"taskId"`
		Target             warden.MitigationTaskTarget `json:"target"`
		Mapping            map[string][]string         `json:"auditCheckToActionsMapping"`
		ClientRequestToken string                      `json:"clientRequestToken"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	t := warden.MitigationTask{TaskID: in.TaskID, Target: in.Target, Mapping: in.Mapping, ClientRequestToken: in.ClientRequestToken}
	// The model has checked the members and that the required ones are
	// there; ValidateStart adds the rules between them.
	var v warden.Validator
	t.ValidateStart(&v, true, true, true)
	if err := v.Err(); err != nil {
		return nil, err
	}
	stored, _, err := s.store.StartMitigationTask(c.ctx, c.scope, t, s.now().UTC())
	if err != nil {
		return nil, err
	}
	return taskIDOut{stored.TaskID}, nil
}

func (s *Server) CancelAuditMitigationActionsTask(c *call) (any, error) {
	return nil, s.store.CancelMitigationTask(c.ctx, c.scope, c.r.PathValue("taskId"), s.now().UTC())
}

type taskStatisticsOut struct {
	TotalFindingsCount     int64 `json:"totalFindingsCount"`
	FailedFindingsCount    int64 `json:"failedFindingsCount"`
	SucceededFindingsCount int64 `json:"succeededFindingsCount"`
	SkippedFindingsCount   int64 `json:"skippedFindingsCount"`
	CanceledFindingsCount  int64 `json:"canceledFindingsCount"`
}

type mitigationActionOut struct {
	Name         string                         `json:"name"`
	ID           string                         `json:"id"`
	RoleArn      string                         `json:"roleArn"`
	ActionParams *warden.MitigationActionParams `json:"actionParams"`
}

func (s *Server) DescribeAuditMitigationActionsTask(c *call) (any, error) {
	t, err := s.store.MitigationTask(c.ctx, c.scope, c.r.PathValue("taskId"))
	if err != nil {
		return nil, err
	}
	out := struct {
		TaskStatus        string                       `json:"taskStatus"`
		StartTime         epoch                        `json:"startTime"`
		EndTime           *epoch                       `json:"endTime,omitempty"`
		TaskStatistics    map[string]taskStatisticsOut `json:"taskStatistics"`
		Target            warden.MitigationTaskTarget  `json:"target"`
		Mapping           map[string][]string          `json:"auditCheckToActionsMapping"`
		ActionsDefinition []mitigationActionOut        `json:"actionsDefinition"`
	}{
		TaskStatus: t.Status, StartTime: epoch(t.StartTime), EndTime: optionalEpoch(t.EndTime), TaskStatistics: map[string]taskStatisticsOut{},
		Target: t.Target, Mapping: t.Mapping, ActionsDefinition: wireAll(t.Actions, func(a *warden.MitigationAction) mitigationActionOut {
			return mitigationActionOut{a.Name, a.ID, a.RoleArn, &a.Params}
		}),
	}
	for check, st := range t.Statistics {
		out.TaskStatistics[check] = taskStatisticsOut{st.Total, st.Failed, st.Succeeded, st.Skipped, st.Canceled}
	}
	return out, nil
}

func (s *Server) ListAuditMitigationActionsTasks(c *call) (any, error) {
	f := warden.MitigationTaskFilter{AuditTaskID: c.input.String("auditTaskId"), FindingID: c.input.String("findingId"), Status: c.input.String("taskStatus"),
		StartedAfter: c.input.Time("startTime"), EndedBefore: c.input.Time("endTime")}
	if err := f.Check(s.now()); err != nil {
		return nil, err
	}
	type taskOut struct {
		TaskID     string `json:"taskId"`
		StartTime  epoch  `json:"startTime"`
		TaskStatus string `json:"taskStatus"`
	}
	return listPage(c, 25, func(p warden.Page) ([]warden.MitigationTask, string, error) {
		return s.store.MitigationTasks(c.ctx, c.scope, f, p)
	}, func(t *warden.MitigationTask) taskOut { return taskOut{t.TaskID, epoch(t.StartTime), t.Status} })
}

func (s *Server) ListAuditMitigationActionsExecutions(c *call) (any, error) {
	f := warden.MitigationExecutionFilter{TaskID: c.input.String("taskId"), FindingID: c.input.String("findingId"), Status: c.input.String("actionStatus")}
	type execOut struct {
		TaskID     string `json:"taskId"`
		FindingID  string `json:"findingId"`
		ActionName string `json:"actionName"`
		ActionID   string `json:"actionId"`
		Status     string `json:"status"`
		StartTime  *epoch `json:"startTime,omitempty"`
		EndTime    *epoch `json:"endTime,omitempty"`
		ErrorCode  string `json:"errorCode,omitempty"`
		Message    string `json:"message,omitempty"`
	}
	return listPage(c, 25, func(p warden.Page) ([]warden.MitigationExecution, string, error) {
		return s.store.MitigationExecutions(c.ctx, c.scope, f, p)
	}, func(e *warden.MitigationExecution) execOut {
		return execOut{TaskID: e.TaskID, FindingID: e.FindingID, ActionName: e.ActionName, ActionID: e.ActionID,
			Status: e.Status, StartTime: optionalEpoch(e.StartTime), EndTime: optionalEpoch(e.EndTime),
			ErrorCode: e.ErrorCode, Message: e.Message}
	})
}

// optionalEpoch is t on the wire, nil (left out) when t is zero.
func optionalEpoch(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}
