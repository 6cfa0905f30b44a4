package api

import (
	"strconv"
	"time"

	"github.com/warden-iot/warden"
)

// ---------------------------------------------------------------- account configuration

type auditTargetWire struct {
	TargetArn *string `json:"targetArn"`
	RoleArn   *string `json:"roleArn"`
	Enabled   *bool   `json:"enabled"`
}

type auditCheckConfigWire struct {
	Enabled       *bool             `json:"enabled"`
	Configuration map[string]string `json:"configuration"`
}

func (s *Server) UpdateAccountAuditConfiguration(c *call) (any, error) {
	var in struct {
		RoleArn                               *string                          `json:"roleArn"`
		AuditNotificationTargetConfigurations map[string]*auditTargetWire      `json:"auditNotificationTargetConfigurations"`
		AuditCheckConfigurations              map[string]*auditCheckConfigWire `json:"auditCheckConfigurations"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	u := warden.AuditConfigurationUpdate{RoleArn: in.RoleArn}
	var v warden.Validator
	for key, t := range in.AuditNotificationTargetConfigurations {
		v.Enum("auditNotificationTargetConfigurations", key, "SNS")
		target := warden.AuditNotificationTarget{}
		if t != nil {
			target = warden.AuditNotificationTarget{TargetArn: deref(t.TargetArn), RoleArn: deref(t.RoleArn), Enabled: t.Enabled != nil && *t.Enabled}
		}
		u.SNS = &target
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if in.AuditCheckConfigurations != nil {
		u.Checks = map[string]warden.AuditCheckConfiguration{}
		for name, cc := range in.AuditCheckConfigurations {
			out := warden.AuditCheckConfiguration{}
			if cc != nil {
				out.Enabled = cc.Enabled != nil && *cc.Enabled
				out.Configuration = cc.Configuration
			}
			u.Checks[name] = out
		}
	}
	if err := warden.ValidateAuditConfigurationUpdate(&u); err != nil {
		return nil, err
	}
	return nil, s.store.UpdateAuditConfiguration(c.ctx, c.scope, u, s.now().UTC())
}

type auditCheckConfigOut struct {
	Enabled       bool              `json:"enabled"`
	Configuration map[string]string `json:"configuration,omitempty"`
}

func (s *Server) DescribeAccountAuditConfiguration(c *call) (any, error) {
	cfg, _, err := s.store.AuditConfiguration(c.ctx, c.scope)
	if err != nil {
		return nil, err
	}
	out := struct {
		RoleArn                               string                                     `json:"roleArn,omitempty"`
		AuditNotificationTargetConfigurations map[string]*warden.AuditNotificationTarget `json:"auditNotificationTargetConfigurations,omitempty"`
		AuditCheckConfigurations              map[string]auditCheckConfigOut             `json:"auditCheckConfigurations"`
	}{RoleArn: cfg.RoleArn, AuditCheckConfigurations: map[string]auditCheckConfigOut{}}
	if cfg.SNS != nil {
		out.AuditNotificationTargetConfigurations = map[string]*warden.AuditNotificationTarget{"SNS": cfg.SNS}
	}
	for _, info := range warden.AuditChecks {
		cc := cfg.Checks[info.Name]
		out.AuditCheckConfigurations[info.Name] = auditCheckConfigOut{Enabled: cc.Enabled, Configuration: cc.Configuration}
	}
	return out, nil
}

func (s *Server) DeleteAccountAuditConfiguration(c *call) (any, error) {
	all, err := c.queryBool("deleteScheduledAudits")
	if err != nil {
		return nil, err
	}
	return nil, s.store.DeleteAuditConfiguration(c.ctx, c.scope, all != nil && *all, s.now().UTC())
}

// ---------------------------------------------------------------- tasks

func (s *Server) StartOnDemandAuditTask(c *call) (any, error) {
	var in struct {
		TargetCheckNames []string `json:"targetCheckNames"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	v.Required("targetCheckNames", in.TargetCheckNames != nil)
	if err := v.Err(); err != nil {
		return nil, err
	}
	checks, err := warden.ValidateTargetCheckNames("targetCheckNames", in.TargetCheckNames)
	if err != nil {
		return nil, err
	}
	t, err := s.store.StartAuditTask(c.ctx, c.scope, checks, s.now().UTC())
	if err != nil {
		return nil, err
	}
	return struct {
		TaskID string `json:"taskId"`
	}{t.ID}, nil
}

func (c *call) auditTaskID() (string, error) {
	id := c.r.PathValue("taskId")
	var v warden.Validator
	warden.ValidateAuditTaskID(&v, "taskId", id)
	return id, v.Err()
}

func (s *Server) CancelAuditTask(c *call) (any, error) {
	id, err := c.auditTaskID()
	if err != nil {
		return nil, err
	}
	return nil, s.store.CancelAuditTask(c.ctx, c.scope, id, s.now().UTC())
}

type auditCheckDetailsOut struct {
	CheckRunStatus                       string `json:"checkRunStatus"`
	CheckCompliant                       *bool  `json:"checkCompliant,omitempty"`
	TotalResourcesCount                  int64  `json:"totalResourcesCount"`
	NonCompliantResourcesCount           int64  `json:"nonCompliantResourcesCount"`
	SuppressedNonCompliantResourcesCount int64  `json:"suppressedNonCompliantResourcesCount"`
	ErrorCode                            string `json:"errorCode,omitempty"`
	Message                              string `json:"message,omitempty"`
}

type taskStatisticsOutAudit struct {
	TotalChecks                    int `json:"totalChecks"`
	InProgressChecks               int `json:"inProgressChecks"`
	WaitingForDataCollectionChecks int `json:"waitingForDataCollectionChecks"`
	CompliantChecks                int `json:"compliantChecks"`
	NonCompliantChecks             int `json:"nonCompliantChecks"`
	FailedChecks                   int `json:"failedChecks"`
	CanceledChecks                 int `json:"canceledChecks"`
}

func (s *Server) DescribeAuditTask(c *call) (any, error) {
	id, err := c.auditTaskID()
	if err != nil {
		return nil, err
	}
	t, err := s.store.AuditTask(c.ctx, c.scope, id)
	if err != nil {
		return nil, err
	}
	st := t.Statistics()
	out := struct {
		TaskStatus         string                          `json:"taskStatus"`
		TaskType           string                          `json:"taskType"`
		TaskStartTime      epoch                           `json:"taskStartTime"`
		TaskStatistics     taskStatisticsOutAudit          `json:"taskStatistics"`
		ScheduledAuditName string                          `json:"scheduledAuditName,omitempty"`
		AuditDetails       map[string]auditCheckDetailsOut `json:"auditDetails"`
	}{TaskStatus: t.Status, TaskType: t.Type, TaskStartTime: epoch(t.StartTime), ScheduledAuditName: t.ScheduledAuditName,
		TaskStatistics: taskStatisticsOutAudit{st.TotalChecks, st.InProgressChecks, st.WaitingForDataCollectionChecks,
			st.CompliantChecks, st.NonCompliantChecks, st.FailedChecks, st.CanceledChecks},
		AuditDetails: map[string]auditCheckDetailsOut{}}
	for _, r := range t.Checks {
		d := auditCheckDetailsOut{CheckRunStatus: r.Status, TotalResourcesCount: r.TotalResources,
			NonCompliantResourcesCount: r.NonCompliantResources, SuppressedNonCompliantResourcesCount: r.SuppressedNonCompliantResources,
			ErrorCode: r.ErrorCode, Message: r.Message}
		switch r.Status {
		case warden.CheckCompletedCompliant, warden.CheckCompletedNonCompliant:
			compliant := r.Status == warden.CheckCompletedCompliant
			d.CheckCompliant = &compliant
		}
		out.AuditDetails[r.Name] = d
	}
	return out, nil
}

func (s *Server) ListAuditTasks(c *call) (any, error) {
	const op = "ListAuditTasks"
	q := c.r.URL.Query()
	var v warden.Validator
	start, hasStart := c.queryTime(&v, "startTime")
	end, hasEnd := c.queryTime(&v, "endTime")
	v.Required("startTime", hasStart)
	v.Required("endTime", hasEnd)
	f := warden.AuditTaskFilter{Start: start, End: end, Type: q.Get("taskType"), Status: q.Get("taskStatus")}
	if q.Has("taskType") {
		v.Enum("taskType", f.Type, warden.AuditTaskTypes...)
	}
	if q.Has("taskStatus") {
		v.Enum("taskStatus", f.Status, warden.AuditTaskStatuses...)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if oldest := s.now().Add(-warden.AuditRetention); start.Before(oldest) {
		return nil, warden.Errorf(warden.CodeInvalidRequest, "startTime %s is before %s: audits are kept for 90 days.",
			start.Format(time.RFC3339), oldest.UTC().Format(time.RFC3339))
	}
	if end.Before(start) {
		return nil, warden.Errorf(warden.CodeInvalidRequest, "endTime must not be before startTime.")
	}
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	tasks, next, err := s.store.AuditTasks(c.ctx, c.scope, f, p)
	if err != nil {
		return nil, err
	}
	type taskOut struct {
		TaskID     string `json:"taskId"`
		TaskStatus string `json:"taskStatus"`
		TaskType   string `json:"taskType"`
	}
	out := struct {
		Tasks     []taskOut `json:"tasks"`
		NextToken string    `json:"nextToken,omitempty"`
	}{Tasks: []taskOut{}, NextToken: c.nextPage(next)}
	for _, t := range tasks {
		out.Tasks = append(out.Tasks, taskOut{t.ID, t.Status, t.Type})
	}
	return out, nil
}

// ---------------------------------------------------------------- findings

type auditFindingOut struct {
	FindingID                  string                       `json:"findingId"`
	TaskID                     string                       `json:"taskId"`
	CheckName                  string                       `json:"checkName"`
	TaskStartTime              epoch                        `json:"taskStartTime"`
	FindingTime                epoch                        `json:"findingTime"`
	Severity                   string                       `json:"severity"`
	NonCompliantResource       *warden.NonCompliantResource `json:"nonCompliantResource"`
	RelatedResources           []warden.RelatedResource     `json:"relatedResources,omitempty"`
	ReasonForNonCompliance     string                       `json:"reasonForNonCompliance"`
	ReasonForNonComplianceCode string                       `json:"reasonForNonComplianceCode"`
	IsSuppressed               bool                         `json:"isSuppressed"`
}

// maxFindingRelatedResources is how many related resources a finding shows
// in DescribeAuditFinding and ListAuditFindings; ListRelatedResourcesForAuditFinding
// pages through all of them.
const maxFindingRelatedResources = 10

func findingOut(f *warden.AuditFinding) auditFindingOut {
	related := f.RelatedResources
	if len(related) > maxFindingRelatedResources {
		related = related[:maxFindingRelatedResources]
	}
	return auditFindingOut{FindingID: f.FindingID, TaskID: f.TaskID, CheckName: f.CheckName, TaskStartTime: epoch(f.TaskStartTime),
		FindingTime: epoch(f.FindingTime), Severity: f.Severity, NonCompliantResource: &f.NonCompliantResource,
		RelatedResources: related, ReasonForNonCompliance: f.ReasonForNonCompliance,
		ReasonForNonComplianceCode: f.ReasonForNonComplianceCode, IsSuppressed: f.IsSuppressed}
}

// validateCheckFilter checks a checkName filter member: it must name an
// audit check, so that a typo is an error rather than an empty list.
func validateCheckFilter(name *string) error {
	if name == nil {
		return nil
	}
	if _, ok := warden.AuditCheck(*name); !ok {
		return warden.Errorf(warden.CodeInvalidRequest, "%s is not an audit check name (at 'checkName').", *name)
	}
	return nil
}

func (s *Server) ListAuditFindings(c *call) (any, error) {
	const op = "ListAuditFindings"
	var in struct {
		TaskID                 *string                    `json:"taskId"`
		CheckName              *string                    `json:"checkName"`
		ResourceIdentifier     *warden.ResourceIdentifier `json:"resourceIdentifier"`
		MaxResults             *int64                     `json:"maxResults"`
		NextToken              *string                    `json:"nextToken"`
		StartTime              *epoch                     `json:"startTime"`
		EndTime                *epoch                     `json:"endTime"`
		ListSuppressedFindings *bool                      `json:"listSuppressedFindings"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	if in.TaskID != nil {
		warden.ValidateAuditTaskID(&v, "taskId", *in.TaskID)
	}
	if in.ResourceIdentifier != nil {
		in.ResourceIdentifier.Validate(&v, "resourceIdentifier")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := validateCheckFilter(in.CheckName); err != nil {
		return nil, err
	}
	byTime := in.StartTime != nil || in.EndTime != nil
	switch {
	case in.TaskID != nil && byTime:
		return nil, warden.Errorf(warden.CodeInvalidRequest, "Give either taskId or startTime and endTime, not both.")
	case in.TaskID == nil && !byTime:
		return nil, warden.Errorf(warden.CodeInvalidRequest, "Give either taskId or startTime and endTime.")
	case byTime && (in.StartTime == nil || in.EndTime == nil):
		return nil, warden.Errorf(warden.CodeInvalidRequest, "startTime and endTime go together: give both.")
	}
	f := warden.AuditFindingFilter{CheckName: deref(in.CheckName), Resource: in.ResourceIdentifier, Suppressed: in.ListSuppressedFindings}
	if in.TaskID != nil {
		f.TaskID = *in.TaskID
	} else {
		f.Start, f.End = time.Time(*in.StartTime), time.Time(*in.EndTime)
	}
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	findings, next, err := s.store.AuditFindings(c.ctx, c.scope, f, p)
	if err != nil {
		return nil, err
	}
	out := struct {
		Findings  []auditFindingOut `json:"findings"`
		NextToken string            `json:"nextToken,omitempty"`
	}{Findings: []auditFindingOut{}, NextToken: c.nextPage(next)}
	for i := range findings {
		out.Findings = append(out.Findings, findingOut(&findings[i]))
	}
	return out, nil
}

func (s *Server) DescribeAuditFinding(c *call) (any, error) {
	id := c.r.PathValue("findingId")
	var v warden.Validator
	warden.ValidateFindingID(&v, "findingId", id)
	if err := v.Err(); err != nil {
		return nil, err
	}
	f, err := s.store.AuditFinding(c.ctx, c.scope, id)
	if err != nil {
		return nil, err
	}
	return struct {
		Finding auditFindingOut `json:"finding"`
	}{findingOut(&f)}, nil
}

func (s *Server) ListRelatedResourcesForAuditFinding(c *call) (any, error) {
	const op = "ListRelatedResourcesForAuditFinding"
	id := c.r.URL.Query().Get("findingId")
	var v warden.Validator
	v.Required("findingId", c.r.URL.Query().Has("findingId"))
	if err := v.Err(); err != nil {
		return nil, err
	}
	warden.ValidateFindingID(&v, "findingId", id)
	if err := v.Err(); err != nil {
		return nil, err
	}
	// The token is bound to the finding: it is an offset into its list.
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	f, err := s.store.AuditFinding(c.ctx, c.scope, id)
	if err != nil {
		return nil, err
	}
	from := 0
	if p.After != "" {
		if from, err = strconv.Atoi(p.After); err != nil || from < 0 || from > len(f.RelatedResources) {
			return nil, warden.Errorf(warden.CodeInvalidRequest, "The nextToken is not valid for this request.")
		}
	}
	to := min(from+p.Limit, len(f.RelatedResources))
	next := ""
	if to < len(f.RelatedResources) {
		next = strconv.Itoa(to)
	}
	return struct {
		RelatedResources []warden.RelatedResource `json:"relatedResources"`
		NextToken        string                   `json:"nextToken,omitempty"`
	}{append([]warden.RelatedResource{}, f.RelatedResources[from:to]...), c.nextPage(next)}, nil
}

// ---------------------------------------------------------------- suppressions

// suppressionKey reads and checks the checkName and resourceIdentifier
// members that name a suppression.
func suppressionKey(v *warden.Validator, check *string, r *warden.ResourceIdentifier) {
	v.Required("checkName", check != nil)
	v.Required("resourceIdentifier", r != nil)
	if r != nil {
		r.Validate(v, "resourceIdentifier")
	}
}

func suppressionTarget(check string, r *warden.ResourceIdentifier) error {
	if _, ok := warden.AuditCheck(check); !ok {
		return warden.Errorf(warden.CodeInvalidRequest, "%s is not an audit check name (at 'checkName').", check)
	}
	return warden.CheckAuditResource(check, r)
}

func (s *Server) CreateAuditSuppression(c *call) (any, error) {
	var in struct {
		CheckName            *string                    `json:"checkName"`
		ResourceIdentifier   *warden.ResourceIdentifier `json:"resourceIdentifier"`
		ExpirationDate       *epoch                     `json:"expirationDate"`
		SuppressIndefinitely *bool                      `json:"suppressIndefinitely"`
		Description          *string                    `json:"description"`
		ClientRequestToken   *string                    `json:"clientRequestToken"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	suppressionKey(&v, in.CheckName, in.ResourceIdentifier)
	v.Required("clientRequestToken", in.ClientRequestToken != nil)
	if in.ClientRequestToken != nil {
		v.Length("clientRequestToken", *in.ClientRequestToken, 1, 64)
		v.Chars("clientRequestToken", *in.ClientRequestToken, warden.IsNameChar, "^[a-zA-Z0-9-_]+$")
	}
	if in.Description != nil {
		warden.ValidateAuditDescription(&v, "description", *in.Description)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := suppressionTarget(*in.CheckName, in.ResourceIdentifier); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	var exp *time.Time
	if in.ExpirationDate != nil {
		t := time.Time(*in.ExpirationDate)
		exp = &t
	}
	if err := warden.CheckSuppressionTerm(exp, in.SuppressIndefinitely, now); err != nil {
		return nil, err
	}
	sup := warden.AuditSuppression{CheckName: *in.CheckName, Resource: *in.ResourceIdentifier,
		SuppressIndefinitely: in.SuppressIndefinitely != nil && *in.SuppressIndefinitely, Description: deref(in.Description)}
	if exp != nil {
		sup.ExpirationDate = *exp
	}
	return nil, s.store.CreateAuditSuppression(c.ctx, c.scope, sup, *in.ClientRequestToken, now)
}

type suppressionOut struct {
	CheckName            string                     `json:"checkName"`
	ResourceIdentifier   *warden.ResourceIdentifier `json:"resourceIdentifier"`
	ExpirationDate       *epoch                     `json:"expirationDate,omitempty"`
	SuppressIndefinitely bool                       `json:"suppressIndefinitely"`
	Description          string                     `json:"description,omitempty"`
}

func toSuppressionOut(sup *warden.AuditSuppression) suppressionOut {
	out := suppressionOut{CheckName: sup.CheckName, ResourceIdentifier: &sup.Resource, SuppressIndefinitely: sup.SuppressIndefinitely,
		Description: sup.Description}
	if !sup.ExpirationDate.IsZero() {
		e := epoch(sup.ExpirationDate)
		out.ExpirationDate = &e
	}
	return out
}

type suppressionKeyIn struct {
	CheckName          *string                    `json:"checkName"`
	ResourceIdentifier *warden.ResourceIdentifier `json:"resourceIdentifier"`
}

func (c *call) suppressionKeyBody() (string, warden.ResourceIdentifier, error) {
	var in suppressionKeyIn
	if err := c.decode(&in); err != nil {
		return "", warden.ResourceIdentifier{}, err
	}
	var v warden.Validator
	suppressionKey(&v, in.CheckName, in.ResourceIdentifier)
	if err := v.Err(); err != nil {
		return "", warden.ResourceIdentifier{}, err
	}
	return *in.CheckName, *in.ResourceIdentifier, nil
}

func (s *Server) DescribeAuditSuppression(c *call) (any, error) {
	check, r, err := c.suppressionKeyBody()
	if err != nil {
		return nil, err
	}
	sup, err := s.store.AuditSuppression(c.ctx, c.scope, check, r)
	if err != nil {
		return nil, err
	}
	return toSuppressionOut(&sup), nil
}

func (s *Server) UpdateAuditSuppression(c *call) (any, error) {
	var in struct {
		CheckName            *string                    `json:"checkName"`
		ResourceIdentifier   *warden.ResourceIdentifier `json:"resourceIdentifier"`
		ExpirationDate       *epoch                     `json:"expirationDate"`
		SuppressIndefinitely *bool                      `json:"suppressIndefinitely"`
		Description          *string                    `json:"description"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	suppressionKey(&v, in.CheckName, in.ResourceIdentifier)
	if in.Description != nil {
		warden.ValidateAuditDescription(&v, "description", *in.Description)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := warden.AuditSuppressionUpdate{SuppressIndefinitely: in.SuppressIndefinitely, Description: in.Description}
	if in.ExpirationDate != nil {
		t := time.Time(*in.ExpirationDate)
		u.ExpirationDate = &t
		if err := warden.CheckSuppressionTerm(u.ExpirationDate, in.SuppressIndefinitely, now); err != nil {
			return nil, err
		}
	}
	return nil, s.store.UpdateAuditSuppression(c.ctx, c.scope, *in.CheckName, *in.ResourceIdentifier, u, now)
}

func (s *Server) ListAuditSuppressions(c *call) (any, error) {
	var in struct {
		CheckName          *string                    `json:"checkName"`
		ResourceIdentifier *warden.ResourceIdentifier `json:"resourceIdentifier"`
		AscendingOrder     *bool                      `json:"ascendingOrder"`
		NextToken          *string                    `json:"nextToken"`
		MaxResults         *int64                     `json:"maxResults"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	if in.ResourceIdentifier != nil {
		in.ResourceIdentifier.Validate(&v, "resourceIdentifier")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := validateCheckFilter(in.CheckName); err != nil {
		return nil, err
	}
	f := warden.AuditSuppressionFilter{CheckName: deref(in.CheckName), Resource: in.ResourceIdentifier,
		Ascending: in.AscendingOrder == nil || *in.AscendingOrder}
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	sups, next, err := s.store.AuditSuppressions(c.ctx, c.scope, f, p)
	if err != nil {
		return nil, err
	}
	out := struct {
		Suppressions []suppressionOut `json:"suppressions"`
		NextToken    string           `json:"nextToken,omitempty"`
	}{Suppressions: []suppressionOut{}, NextToken: c.nextPage(next)}
	for i := range sups {
		out.Suppressions = append(out.Suppressions, toSuppressionOut(&sups[i]))
	}
	return out, nil
}

func (s *Server) DeleteAuditSuppression(c *call) (any, error) {
	check, r, err := c.suppressionKeyBody()
	if err != nil {
		return nil, err
	}
	return nil, s.store.DeleteAuditSuppression(c.ctx, c.scope, check, r, s.now().UTC())
}

// ---------------------------------------------------------------- scheduled audits

func (c *call) scheduledAuditName() (string, error) {
	name := c.r.PathValue("scheduledAuditName")
	var v warden.Validator
	warden.ValidateScheduledAuditName(&v, "scheduledAuditName", name)
	return name, v.Err()
}

type scheduledAuditArnOut struct {
	ScheduledAuditArn string `json:"scheduledAuditArn"`
}

func (s *Server) CreateScheduledAudit(c *call) (any, error) {
	var in struct {
		Frequency        *string      `json:"frequency"`
		DayOfMonth       *string      `json:"dayOfMonth"`
		DayOfWeek        *string      `json:"dayOfWeek"`
		TargetCheckNames []string     `json:"targetCheckNames"`
		Tags             []warden.Tag `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name := c.r.PathValue("scheduledAuditName")
	var v warden.Validator
	warden.ValidateScheduledAuditName(&v, "scheduledAuditName", name)
	v.Required("frequency", in.Frequency != nil)
	v.Required("targetCheckNames", in.TargetCheckNames != nil)
	warden.ValidateScheduleMembers(&v, in.Frequency, in.DayOfMonth, in.DayOfWeek)
	warden.ValidateTags(&v, "tags", in.Tags)
	if err := v.Err(); err != nil {
		return nil, err
	}
	checks, err := warden.ValidateTargetCheckNames("targetCheckNames", in.TargetCheckNames)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	a := warden.ScheduledAudit{Name: name, Frequency: *in.Frequency, DayOfMonth: deref(in.DayOfMonth), DayOfWeek: deref(in.DayOfWeek),
		TargetCheckNames: checks, Anchor: now, CreatedAt: now, UpdatedAt: now}
	if err := warden.CheckScheduleDays(&a); err != nil {
		return nil, err
	}
	if err := s.store.CreateScheduledAudit(c.ctx, c.scope, a, in.Tags); err != nil {
		return nil, err
	}
	return scheduledAuditArnOut{warden.ScheduledAuditARN(c.scope, name)}, nil
}

func (s *Server) DescribeScheduledAudit(c *call) (any, error) {
	name, err := c.scheduledAuditName()
	if err != nil {
		return nil, err
	}
	a, err := s.store.ScheduledAudit(c.ctx, c.scope, name)
	if err != nil {
		return nil, err
	}
	return struct {
		Frequency          string   `json:"frequency"`
		DayOfMonth         string   `json:"dayOfMonth,omitempty"`
		DayOfWeek          string   `json:"dayOfWeek,omitempty"`
		TargetCheckNames   []string `json:"targetCheckNames"`
		ScheduledAuditName string   `json:"scheduledAuditName"`
		ScheduledAuditArn  string   `json:"scheduledAuditArn"`
	}{a.Frequency, a.DayOfMonth, a.DayOfWeek, a.TargetCheckNames, a.Name, warden.ScheduledAuditARN(c.scope, a.Name)}, nil
}

func (s *Server) UpdateScheduledAudit(c *call) (any, error) {
	var in struct {
		Frequency        *string  `json:"frequency"`
		DayOfMonth       *string  `json:"dayOfMonth"`
		DayOfWeek        *string  `json:"dayOfWeek"`
		TargetCheckNames []string `json:"targetCheckNames"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name := c.r.PathValue("scheduledAuditName")
	var v warden.Validator
	warden.ValidateScheduledAuditName(&v, "scheduledAuditName", name)
	warden.ValidateScheduleMembers(&v, in.Frequency, in.DayOfMonth, in.DayOfWeek)
	if err := v.Err(); err != nil {
		return nil, err
	}
	u := warden.ScheduledAuditUpdate{Frequency: in.Frequency, DayOfMonth: in.DayOfMonth, DayOfWeek: in.DayOfWeek}
	if in.TargetCheckNames != nil {
		checks, err := warden.ValidateTargetCheckNames("targetCheckNames", in.TargetCheckNames)
		if err != nil {
			return nil, err
		}
		u.TargetCheckNames = checks
	}
	if _, err := s.store.UpdateScheduledAudit(c.ctx, c.scope, name, u, s.now().UTC()); err != nil {
		return nil, err
	}
	return scheduledAuditArnOut{warden.ScheduledAuditARN(c.scope, name)}, nil
}

func (s *Server) DeleteScheduledAudit(c *call) (any, error) {
	name, err := c.scheduledAuditName()
	if err != nil {
		return nil, err
	}
	return nil, s.store.DeleteScheduledAudit(c.ctx, c.scope, name, s.now().UTC())
}

func (s *Server) ListScheduledAudits(c *call) (any, error) {
	const op = "ListScheduledAudits"
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	audits, next, err := s.store.ScheduledAudits(c.ctx, c.scope, p)
	if err != nil {
		return nil, err
	}
	type auditOut struct {
		ScheduledAuditName string `json:"scheduledAuditName"`
		ScheduledAuditArn  string `json:"scheduledAuditArn"`
		Frequency          string `json:"frequency"`
		DayOfMonth         string `json:"dayOfMonth,omitempty"`
		DayOfWeek          string `json:"dayOfWeek,omitempty"`
	}
	out := struct {
		ScheduledAudits []auditOut `json:"scheduledAudits"`
		NextToken       string     `json:"nextToken,omitempty"`
	}{ScheduledAudits: []auditOut{}, NextToken: c.nextPage(next)}
	for _, a := range audits {
		out.ScheduledAudits = append(out.ScheduledAudits, auditOut{a.Name, warden.ScheduledAuditARN(c.scope, a.Name), a.Frequency, a.DayOfMonth, a.DayOfWeek})
	}
	return out, nil
}
