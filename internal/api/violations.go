package api

import (
	"github.com/warden-iot/warden"
)

// violationFilter reads the filters ListActiveViolations and
// ListViolationEvents share.
func violationFilter(c *call) warden.ViolationFilter {
	return warden.ViolationFilter{
		ThingName: c.input.String("thingName"), SecurityProfileName: c.input.String("securityProfileName"),
		CriteriaType: c.input.String("behaviorCriteriaType"), ListSuppressedAlerts: optional[bool](c, "listSuppressedAlerts"),
		VerificationState: c.input.String("verificationState"),
	}
}

type activeViolationOut struct {
	ViolationID                  string              `json:"violationId"`
	ThingName                    string              `json:"thingName"`
	SecurityProfileName          string              `json:"securityProfileName"`
	Behavior                     *warden.Behavior    `json:"behavior"`
	LastViolationValue           *warden.MetricValue `json:"lastViolationValue,omitempty"`
	VerificationState            string              `json:"verificationState"`
	VerificationStateDescription string              `json:"verificationStateDescription,omitempty"`
	LastViolationTime            epoch               `json:"lastViolationTime"`
	ViolationStartTime           epoch               `json:"violationStartTime"`
}

func (s *Server) ListActiveViolations(c *call) (any, error) {
	f := violationFilter(c)
	return listPage(c, 100, func(p warden.Page) ([]warden.Violation, string, error) {
		return s.store.ActiveViolations(c.ctx, c.scope, f, p)
	}, func(v *warden.Violation) activeViolationOut {
		return activeViolationOut{v.ID, v.ThingName, v.SecurityProfileName, &v.Behavior, v.LastViolationValue, v.VerificationState,
			v.VerificationStateDescription, epoch(v.LastViolationTime), epoch(v.StartTime)}
	})
}

type violationEventOut struct {
	ViolationID                  string              `json:"violationId"`
	ThingName                    string              `json:"thingName"`
	SecurityProfileName          string              `json:"securityProfileName"`
	Behavior                     *warden.Behavior    `json:"behavior"`
	MetricValue                  *warden.MetricValue `json:"metricValue,omitempty"`
	ViolationEventType           string              `json:"violationEventType"`
	VerificationState            string              `json:"verificationState"`
	VerificationStateDescription string              `json:"verificationStateDescription,omitempty"`
	ViolationEventTime           epoch               `json:"violationEventTime"`
}

func (s *Server) ListViolationEvents(c *call) (any, error) {
	if err := warden.CheckTimeRange(c.input.Time("startTime"), c.input.Time("endTime")); err != nil {
		return nil, err
	}
	f := violationFilter(c)
	f.Start, f.End = c.input.Time("startTime"), c.input.Time("endTime")
	return listPage(c, 100, func(p warden.Page) ([]warden.ViolationEvent, string, error) {
		return s.store.ViolationEvents(c.ctx, c.scope, f, p)
	}, func(e *warden.ViolationEvent) violationEventOut {
		return violationEventOut{e.ViolationID, e.ThingName, e.SecurityProfileName, &e.Behavior, e.MetricValue, e.Type,
			e.VerificationState, e.VerificationStateDescription, epoch(e.Time)}
	})
}

func (s *Server) PutVerificationStateOnViolation(c *call) (any, error) {
	var in struct {
		VerificationState            *string `json:"verificationState"`
		VerificationStateDescription *string `json:"verificationStateDescription"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	description := ""
	if in.VerificationStateDescription != nil {
		description = *in.VerificationStateDescription
	}
	return nil, s.store.PutVerificationState(c.ctx, c.scope, c.r.PathValue("violationId"), *in.VerificationState, description, s.now().UTC())
}

func (s *Server) ListMetricValues(c *call) (any, error) {
	if err := warden.CheckTimeRange(c.input.Time("startTime"), c.input.Time("endTime")); err != nil {
		return nil, err
	}
	f := warden.MetricValueFilter{ThingName: c.input.String("thingName"), Metric: c.input.String("metricName"),
		DimensionName: c.input.String("dimensionName"), DimensionOperator: c.input.String("dimensionValueOperator"),
		Start: c.input.Time("startTime"), End: c.input.Time("endTime")}
	type datumOut struct {
		Timestamp epoch               `json:"timestamp"`
		Value     *warden.MetricValue `json:"value"`
	}
	return listPage(c, 100, func(p warden.Page) ([]warden.MetricDatum, string, error) {
		return s.store.MetricValues(c.ctx, c.scope, f, p)
	}, func(d *warden.MetricDatum) datumOut { return datumOut{epoch(d.Time), &d.Value} })
}

// GetBehaviorModelTrainingSummaries answers no summaries: Warden builds no
// ML models. Any profile name is accepted, known or not.
func (s *Server) GetBehaviorModelTrainingSummaries(c *call) (any, error) {
	type summaryOut struct {
		SecurityProfileName string `json:"securityProfileName"`
	}
	// ML behaviours are refused, so no profile has a model to summarise;
	// a named profile must still exist.
	if name := c.input.String("securityProfileName"); name != "" {
		if _, err := s.store.SecurityProfile(c.ctx, c.scope, name); err != nil {
			return nil, err
		}
	}
	return listPage(c, 10, func(warden.Page) ([]summaryOut, string, error) { return nil, "", nil }, same[summaryOut])
}
