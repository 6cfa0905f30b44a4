package api

import (
	"strconv"
	"time"

	"github.com/warden-iot/warden"
)

func (c *call) mitigationTaskID() (string, error) {
	id := c.r.PathValue("taskId")
	var v warden.Validator
	warden.ValidateMitigationTaskID(&v, "taskId", id)
	return id, v.Err()
}

// mitigationTarget is AuditMitigationActionsTaskTarget on the wire.
type mitigationTarget struct {
	AuditTaskID      *string             `json:"auditTaskId,omitempty"`
	FindingIDs       []string            `json:"findingIds,omitempty"`
	ReasonCodeFilter map[string][]string `json:"auditCheckToReasonCodeFilter,omitempty"`
}

func wireTarget(t warden.MitigationTaskTarget) mitigationTarget {
	out := mitigationTarget{FindingIDs: t.FindingIDs, ReasonCodeFilter: t.ReasonCodeFilter}
	if t.AuditTaskID != "" {
		out.AuditTaskID = &t.AuditTaskID
	}
	return out
}

func (s *Server) StartAuditMitigationActionsTask(c *call) (any, error) {
	var in struct {
		Target             *mitigationTarget   `json:"target"`
		Mapping            map[string][]string `json:"auditCheckToActionsMapping"`
		ClientRequestToken *string             `json:"clientRequestToken"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	t := warden.MitigationTask{TaskID: c.r.PathValue("taskId"), Mapping: in.Mapping}
	var v warden.Validator
	if in.Target != nil {
		t.Target = warden.MitigationTaskTarget{FindingIDs: in.Target.FindingIDs, ReasonCodeFilter: in.Target.ReasonCodeFilter}
		if in.Target.AuditTaskID != nil {
			t.Target.AuditTaskID = *in.Target.AuditTaskID
			if *in.Target.AuditTaskID == "" {
				warden.ValidateAuditTaskID(&v, "target.auditTaskId", "")
			}
		}
	}
	if in.ClientRequestToken != nil {
		t.ClientRequestToken = *in.ClientRequestToken
	}
	t.ValidateStart(&v, in.Target != nil, in.Mapping != nil, in.ClientRequestToken != nil)
	if err := v.Err(); err != nil {
		return nil, err
	}
	stored, _, err := s.store.StartMitigationTask(c.ctx, c.scope, t, s.now().UTC())
	if err != nil {
		return nil, err
	}
	return struct {
		TaskID string `json:"taskId"`
	}{stored.TaskID}, nil
}

func (s *Server) CancelAuditMitigationActionsTask(c *call) (any, error) {
	id, err := c.mitigationTaskID()
	if err != nil {
		return nil, err
	}
	return nil, s.store.CancelMitigationTask(c.ctx, c.scope, id, s.now().UTC())
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
	id, err := c.mitigationTaskID()
	if err != nil {
		return nil, err
	}
	t, err := s.store.MitigationTask(c.ctx, c.scope, id)
	if err != nil {
		return nil, err
	}
	out := struct {
		TaskStatus        string                       `json:"taskStatus"`
		StartTime         epoch                        `json:"startTime"`
		EndTime           *epoch                       `json:"endTime,omitempty"`
		TaskStatistics    map[string]taskStatisticsOut `json:"taskStatistics"`
		Target            mitigationTarget             `json:"target"`
		Mapping           map[string][]string          `json:"auditCheckToActionsMapping"`
		ActionsDefinition []mitigationActionOut        `json:"actionsDefinition"`
	}{
		TaskStatus: t.Status, StartTime: epoch(t.StartTime), TaskStatistics: map[string]taskStatisticsOut{},
		Target: wireTarget(t.Target), Mapping: t.Mapping, ActionsDefinition: make([]mitigationActionOut, 0, len(t.Actions)),
	}
	if !t.EndTime.IsZero() {
		end := epoch(t.EndTime)
		out.EndTime = &end
	}
	for check, st := range t.Statistics {
		out.TaskStatistics[check] = taskStatisticsOut{st.Total, st.Failed, st.Succeeded, st.Skipped, st.Canceled}
	}
	for i := range t.Actions {
		a := &t.Actions[i]
		out.ActionsDefinition = append(out.ActionsDefinition, mitigationActionOut{a.Name, a.ID, a.RoleArn, &a.Params})
	}
	return out, nil
}

// queryTime reads a timestamp query member: ISO-8601 as SDKs send it
// (2019-01-01T00:00:00Z, optionally with a fraction or an offset), or epoch
// seconds. present is false when the member is absent.
func (c *call) queryTime(v *warden.Validator, name string) (t time.Time, present bool) {
	raw := c.r.URL.Query().Get(name)
	if raw == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, raw); err == nil {
			return t.UTC(), true
		}
	}
	if f, err := strconv.ParseFloat(raw, 64); err == nil {
		return time.UnixMilli(int64(f * 1000)).UTC(), true
	}
	v.Fail(name, raw, "Member must be an ISO-8601 timestamp such as 2019-01-01T00:00:00Z")
	return time.Time{}, true
}

func (s *Server) ListAuditMitigationActionsTasks(c *call) (any, error) {
	const op = "ListAuditMitigationActionsTasks"
	q := c.r.URL.Query()
	var v warden.Validator
	f := warden.MitigationTaskFilter{AuditTaskID: q.Get("auditTaskId"), FindingID: q.Get("findingId"), Status: q.Get("taskStatus")}
	if q.Has("auditTaskId") {
		warden.ValidateAuditTaskID(&v, "auditTaskId", f.AuditTaskID)
	}
	if q.Has("findingId") {
		warden.ValidateFindingID(&v, "findingId", f.FindingID)
	}
	if q.Has("taskStatus") {
		v.Enum("taskStatus", f.Status, warden.MitigationTaskStatuses...)
	}
	start, hasStart := c.queryTime(&v, "startTime")
	end, hasEnd := c.queryTime(&v, "endTime")
	v.Required("startTime", hasStart)
	v.Required("endTime", hasEnd)
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	if oldest := now.Add(-warden.MitigationTaskRetention); start.Before(oldest) {
		return nil, warden.Errorf(warden.CodeInvalidRequest,
			"startTime %s is more than 90 days ago; audit mitigation actions tasks are kept for 90 days (give a startTime on or after %s).",
			start.Format(time.RFC3339), oldest.Format(time.RFC3339))
	}
	if end.Before(start) {
		return nil, warden.Errorf(warden.CodeInvalidRequest, "endTime %s is before startTime %s.",
			end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	f.StartedAfter, f.EndedBefore = start, end
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	tasks, next, err := s.store.MitigationTasks(c.ctx, c.scope, f, p)
	if err != nil {
		return nil, err
	}
	type taskOut struct {
		TaskID     string `json:"taskId"`
		StartTime  epoch  `json:"startTime"`
		TaskStatus string `json:"taskStatus"`
	}
	out := struct {
		Tasks     []taskOut `json:"tasks"`
		NextToken string    `json:"nextToken,omitempty"`
	}{Tasks: make([]taskOut, 0, len(tasks)), NextToken: c.nextPage(next)}
	for _, t := range tasks {
		out.Tasks = append(out.Tasks, taskOut{t.TaskID, epoch(t.StartTime), t.Status})
	}
	return out, nil
}

func (s *Server) ListAuditMitigationActionsExecutions(c *call) (any, error) {
	const op = "ListAuditMitigationActionsExecutions"
	q := c.r.URL.Query()
	var v warden.Validator
	f := warden.MitigationExecutionFilter{TaskID: q.Get("taskId"), FindingID: q.Get("findingId"), Status: q.Get("actionStatus")}
	v.Required("taskId", q.Has("taskId"))
	if q.Has("taskId") {
		warden.ValidateMitigationTaskID(&v, "taskId", f.TaskID)
	}
	// The model requires findingId too; a caller who sends none (only raw
	// HTTP can) gets every execution of the task.
	if q.Has("findingId") {
		warden.ValidateFindingID(&v, "findingId", f.FindingID)
	}
	if q.Has("actionStatus") {
		v.Enum("actionStatus", f.Status, warden.ExecutionStatuses...)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	execs, next, err := s.store.MitigationExecutions(c.ctx, c.scope, f, p)
	if err != nil {
		return nil, err
	}
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
	out := struct {
		ActionsExecutions []execOut `json:"actionsExecutions"`
		NextToken         string    `json:"nextToken,omitempty"`
	}{ActionsExecutions: make([]execOut, 0, len(execs)), NextToken: c.nextPage(next)}
	for _, e := range execs {
		o := execOut{TaskID: e.TaskID, FindingID: e.FindingID, ActionName: e.ActionName, ActionID: e.ActionID,
			Status: e.Status, ErrorCode: e.ErrorCode, Message: e.Message}
		if !e.StartTime.IsZero() {
			t := epoch(e.StartTime)
			o.StartTime = &t
		}
		if !e.EndTime.IsZero() {
			t := epoch(e.EndTime)
			o.EndTime = &t
		}
		out.ActionsExecutions = append(out.ActionsExecutions, o)
	}
	return out, nil
}
