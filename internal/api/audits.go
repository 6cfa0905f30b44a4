package api

import (
	"cmp"
	"time"

	"github.com/warden-iot/warden"
)

// ---------------------------------------------------------------- account configuration

func (s *Server) UpdateAccountAuditConfiguration(c *call) (any, error) {
	var in struct {
		RoleArn                               *string                                    `json:"roleArn"`
		AuditNotificationTargetConfigurations map[string]*warden.AuditNotificationTarget `json:"auditNotificationTargetConfigurations"`
		AuditCheckConfigurations              map[string]warden.AuditCheckConfiguration  `json:"auditCheckConfigurations"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	u := warden.AuditConfigurationUpdate{RoleArn: in.RoleArn, Checks: in.AuditCheckConfigurations}
	// SNS is the model's only notification type; a null target is an empty one.
	if t, ok := in.AuditNotificationTargetConfigurations["SNS"]; ok {
		u.SNS = cmp.Or(t, &warden.AuditNotificationTarget{})
	}
	if err := warden.ValidateAuditConfigurationUpdate(&u); err != nil {
		return nil, err
	}
	return nil, s.store.UpdateAuditConfiguration(c.ctx, c.scope, u, s.now().UTC())
}

func (s *Server) DescribeAccountAuditConfiguration(c *call) (any, error) {
	cfg, _, err := s.store.AuditConfiguration(c.ctx, c.scope)
	if err != nil {
		return nil, err
	}
	out := struct {
		RoleArn                               string                                     `json:"roleArn,omitempty"`
		AuditNotificationTargetConfigurations map[string]*warden.AuditNotificationTarget `json:"auditNotificationTargetConfigurations,omitempty"`
		AuditCheckConfigurations              map[string]warden.AuditCheckConfiguration  `json:"auditCheckConfigurations"`
	}{RoleArn: cfg.RoleArn, AuditCheckConfigurations: map[string]warden.AuditCheckConfiguration{}}
	if cfg.SNS != nil {
		out.AuditNotificationTargetConfigurations = map[string]*warden.AuditNotificationTarget{"SNS": cfg.SNS}
	}
	for _, info := range warden.AuditChecks {
		out.AuditCheckConfigurations[info.Name] = cfg.Checks[info.Name]
	}
	return out, nil
}

func (s *Server) DeleteAccountAuditConfiguration(c *call) (any, error) {
	return nil, s.store.DeleteAuditConfiguration(c.ctx, c.scope, c.input.Bool("deleteScheduledAudits"), s.now().UTC())
}

// ---------------------------------------------------------------- tasks

// taskIDOut is the answer of the operations that start a task.
type taskIDOut struct {
	TaskID string `json:"taskId"`
}

func (s *Server) StartOnDemandAuditTask(c *call) (any, error) {
	var in struct {
		TargetCheckNames []string `json:"targetCheckNames"`
	}
	if err := c.decode(&in); err != nil {
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
	return taskIDOut{t.ID}, nil
}

func (s *Server) CancelAuditTask(c *call) (any, error) {
	return nil, s.store.CancelAuditTask(c.ctx, c.scope, c.r.PathValue("taskId"), s.now().UTC())
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
	t, err := s.store.AuditTask(c.ctx, c.scope, c.r.PathValue("taskId"))
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
	f := warden.AuditTaskFilter{Start: c.input.Time("startTime"), End: c.input.Time("endTime"), Type: c.input.String("taskType"), Status: c.input.String("taskStatus")}
	if err := f.Check(s.now()); err != nil {
		return nil, err
	}
	type taskOut struct {
		TaskID     string `json:"taskId"`
		TaskStatus string `json:"taskStatus"`
		TaskType   string `json:"taskType"`
	}
	return listPage(c, 25, func(p warden.Page) ([]warden.AuditTask, string, error) {
		return s.store.AuditTasks(c.ctx, c.scope, f, p)
	}, func(t *warden.AuditTask) taskOut { return taskOut{t.ID, t.Status, t.Type} })
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

func (s *Server) ListAuditFindings(c *call) (any, error) {
	var in struct {
		TaskID                 string                     `json:"taskId"`
		CheckName              *string                    `json:"checkName"`
		ResourceIdentifier     *warden.ResourceIdentifier `json:"resourceIdentifier"`
		StartTime              *epoch                     `json:"startTime"`
		EndTime                *epoch                     `json:"endTime"`
		ListSuppressedFindings *bool                      `json:"listSuppressedFindings"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := warden.CheckAuditCheckName(in.CheckName); err != nil {
		return nil, err
	}
	f, err := warden.NewAuditFindingFilter(in.TaskID, (*time.Time)(in.StartTime), (*time.Time)(in.EndTime))
	if err != nil {
		return nil, err
	}
	f.CheckName, f.Resource, f.Suppressed = deref(in.CheckName), in.ResourceIdentifier, in.ListSuppressedFindings
	return listPage(c, 25, func(p warden.Page) ([]warden.AuditFinding, string, error) {
		return s.store.AuditFindings(c.ctx, c.scope, f, p)
	}, findingOut)
}

func (s *Server) DescribeAuditFinding(c *call) (any, error) {
	f, err := s.store.AuditFinding(c.ctx, c.scope, c.r.PathValue("findingId"))
	if err != nil {
		return nil, err
	}
	return struct {
		Finding auditFindingOut `json:"finding"`
	}{findingOut(&f)}, nil
}

func (s *Server) ListRelatedResourcesForAuditFinding(c *call) (any, error) {
	// The token is an offset into the finding's list (bound to the finding by c.page).
	return listPage(c, 25, func(p warden.Page) ([]warden.RelatedResource, string, error) {
		f, err := s.store.AuditFinding(c.ctx, c.scope, c.input.String("findingId"))
		if err != nil {
			return nil, "", err
		}
		return warden.PageOf(f.RelatedResources, p)
	}, same)
}

// ---------------------------------------------------------------- suppressions

// suppressionKeyIn names a suppression (the model requires both members).
type suppressionKeyIn struct {
	CheckName          string                    `json:"checkName"`
	ResourceIdentifier warden.ResourceIdentifier `json:"resourceIdentifier"`
}

// suppressionTermIn is the request of UpdateAuditSuppression.
type suppressionTermIn struct {
	suppressionKeyIn
	ExpirationDate       *epoch  `json:"expirationDate"`
	SuppressIndefinitely *bool   `json:"suppressIndefinitely"`
	Description          *string `json:"description"`
}

func (s *Server) CreateAuditSuppression(c *call) (any, error) {
	var in struct {
		suppressionTermIn
		ClientRequestToken string `json:"clientRequestToken"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := warden.CheckAuditCheckName(&in.CheckName); err != nil {
		return nil, err
	}
	if err := warden.CheckAuditResource(in.CheckName, &in.ResourceIdentifier); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	exp := (*time.Time)(in.ExpirationDate)
	if err := warden.CheckSuppressionTerm(exp, in.SuppressIndefinitely, now); err != nil {
		return nil, err
	}
	sup := warden.AuditSuppression{CheckName: in.CheckName, Resource: in.ResourceIdentifier,
		SuppressIndefinitely: in.SuppressIndefinitely != nil && *in.SuppressIndefinitely, Description: deref(in.Description)}
	if exp != nil {
		sup.ExpirationDate = *exp
	}
	return nil, s.store.CreateAuditSuppression(c.ctx, c.scope, sup, in.ClientRequestToken, now)
}

type suppressionOut struct {
	CheckName            string                     `json:"checkName"`
	ResourceIdentifier   *warden.ResourceIdentifier `json:"resourceIdentifier"`
	ExpirationDate       *epoch                     `json:"expirationDate,omitempty"`
	SuppressIndefinitely bool                       `json:"suppressIndefinitely"`
	Description          string                     `json:"description,omitempty"`
}

func toSuppressionOut(sup *warden.AuditSuppression) suppressionOut {
	return suppressionOut{CheckName: sup.CheckName, ResourceIdentifier: &sup.Resource, ExpirationDate: optionalEpoch(sup.ExpirationDate),
		SuppressIndefinitely: sup.SuppressIndefinitely, Description: sup.Description}
}

func (s *Server) DescribeAuditSuppression(c *call) (any, error) {
	var in suppressionKeyIn
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	sup, err := s.store.AuditSuppression(c.ctx, c.scope, in.CheckName, in.ResourceIdentifier)
	if err != nil {
		return nil, err
	}
	return toSuppressionOut(&sup), nil
}

func (s *Server) UpdateAuditSuppression(c *call) (any, error) {
	var in suppressionTermIn
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := warden.AuditSuppressionUpdate{ExpirationDate: (*time.Time)(in.ExpirationDate), SuppressIndefinitely: in.SuppressIndefinitely, Description: in.Description}
	if u.ExpirationDate != nil {
		if err := warden.CheckSuppressionTerm(u.ExpirationDate, in.SuppressIndefinitely, now); err != nil {
			return nil, err
		}
	}
	return nil, s.store.UpdateAuditSuppression(c.ctx, c.scope, in.CheckName, in.ResourceIdentifier, u, now)
}

func (s *Server) ListAuditSuppressions(c *call) (any, error) {
	var in struct {
		CheckName          *string                    `json:"checkName"`
		ResourceIdentifier *warden.ResourceIdentifier `json:"resourceIdentifier"`
		AscendingOrder     *bool                      `json:"ascendingOrder"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := warden.CheckAuditCheckName(in.CheckName); err != nil {
		return nil, err
	}
	f := warden.AuditSuppressionFilter{CheckName: deref(in.CheckName), Resource: in.ResourceIdentifier,
		Ascending: in.AscendingOrder == nil || *in.AscendingOrder}
	return listPage(c, 25, func(p warden.Page) ([]warden.AuditSuppression, string, error) {
		return s.store.AuditSuppressions(c.ctx, c.scope, f, p)
	}, toSuppressionOut)
}

func (s *Server) DeleteAuditSuppression(c *call) (any, error) {
	var in suppressionKeyIn
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return nil, s.store.DeleteAuditSuppression(c.ctx, c.scope, in.CheckName, in.ResourceIdentifier, s.now().UTC())
}

// ---------------------------------------------------------------- scheduled audits

// scheduleIn is the body of UpdateScheduledAudit, and of
// CreateScheduledAudit but for its tags.
type scheduleIn struct {
	Frequency        *string  `json:"frequency"`
	DayOfMonth       *string  `json:"dayOfMonth"`
	DayOfWeek        *string  `json:"dayOfWeek"`
	TargetCheckNames []string `json:"targetCheckNames"`
}

type scheduledAuditArnOut struct {
	ScheduledAuditArn string `json:"scheduledAuditArn"`
}

func (s *Server) CreateScheduledAudit(c *call) (any, error) {
	var in struct {
		scheduleIn
		Tags []warden.Tag `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name := c.r.PathValue("scheduledAuditName")
	if err := checkTagCount(in.Tags); err != nil {
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
	a, err := s.store.ScheduledAudit(c.ctx, c.scope, c.r.PathValue("scheduledAuditName"))
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
	var in scheduleIn
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name := c.r.PathValue("scheduledAuditName")
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
	return nil, s.store.DeleteScheduledAudit(c.ctx, c.scope, c.r.PathValue("scheduledAuditName"), s.now().UTC())
}

func (s *Server) ListScheduledAudits(c *call) (any, error) {
	type auditOut struct {
		ScheduledAuditName string `json:"scheduledAuditName"`
		ScheduledAuditArn  string `json:"scheduledAuditArn"`
		Frequency          string `json:"frequency"`
		DayOfMonth         string `json:"dayOfMonth,omitempty"`
		DayOfWeek          string `json:"dayOfWeek,omitempty"`
	}
	return listPage(c, 25, func(p warden.Page) ([]warden.ScheduledAudit, string, error) {
		return s.store.ScheduledAudits(c.ctx, c.scope, p)
	}, func(a *warden.ScheduledAudit) auditOut {
		return auditOut{a.Name, warden.ScheduledAuditARN(c.scope, a.Name), a.Frequency, a.DayOfMonth, a.DayOfWeek}
	})
}
