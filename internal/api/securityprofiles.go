package api

import (
	"encoding/json"

	"github.com/warden-iot/warden"
)

// detectPageSize is the page Detect lists send when the request names none.
const detectPageSize = 25

type profileRef struct {
	Name string `json:"securityProfileName"`
	Arn  string `json:"securityProfileArn"`
}

// profileOutput is DescribeSecurityProfile's and UpdateSecurityProfile's
// answer.
type profileOutput struct {
	*warden.SecurityProfile
	CreationDate     epoch `json:"creationDate"`
	LastModifiedDate epoch `json:"lastModifiedDate"`
}

func profileOut(p *warden.SecurityProfile) profileOutput {
	return profileOutput{p, epoch(p.CreationDate), epoch(p.LastModifiedDate)}
}

// checkProfileParts checks the members of a create or update that need
// state: behaviours, metrics to retain and alert targets.
func (s *Server) checkProfileParts(c *call, behaviors []warden.Behavior, retain []string, retainV2 []warden.MetricToRetain,
	alerts map[string]warden.AlertTarget) error {
	if err := warden.CheckBehaviors(c.ctx, s.store, c.scope, behaviors); err != nil {
		return err
	}
	if err := warden.CheckMetricsToRetain(c.ctx, s.store, c.scope, retain, retainV2); err != nil {
		return err
	}
	return warden.CheckAlertTargets(alerts)
}

func (s *Server) CreateSecurityProfile(c *call) (any, error) {
	var in struct {
		Description                 string                        `json:"securityProfileDescription"`
		Behaviors                   []warden.Behavior             `json:"behaviors"`
		AlertTargets                map[string]warden.AlertTarget `json:"alertTargets"`
		AdditionalMetricsToRetain   []string                      `json:"additionalMetricsToRetain"`
		AdditionalMetricsToRetainV2 []warden.MetricToRetain       `json:"additionalMetricsToRetainV2"`
		MetricsExportConfig         *warden.MetricsExportConfig   `json:"metricsExportConfig"`
		Tags                        []warden.Tag                  `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := checkTagCount(in.Tags); err != nil {
		return nil, err
	}
	if err := s.checkProfileParts(c, in.Behaviors, in.AdditionalMetricsToRetain, in.AdditionalMetricsToRetainV2, in.AlertTargets); err != nil {
		return nil, err
	}
	p, err := s.store.CreateSecurityProfile(c.ctx, c.scope, warden.SecurityProfile{
		Name: c.r.PathValue("securityProfileName"), Description: in.Description, Behaviors: in.Behaviors, AlertTargets: in.AlertTargets,
		AdditionalMetricsToRetain: in.AdditionalMetricsToRetain, AdditionalMetricsToRetainV2: in.AdditionalMetricsToRetainV2,
		MetricsExportConfig: in.MetricsExportConfig,
	}, in.Tags, s.now().UTC())
	if err != nil {
		return nil, err
	}
	return profileRef{p.Name, p.Arn}, nil
}

func (s *Server) DescribeSecurityProfile(c *call) (any, error) {
	p, err := s.store.SecurityProfile(c.ctx, c.scope, c.r.PathValue("securityProfileName"))
	if err != nil {
		return nil, err
	}
	return profileOut(&p), nil
}

func (s *Server) UpdateSecurityProfile(c *call) (any, error) {
	var in struct {
		Description                     *string                        `json:"securityProfileDescription"`
		Behaviors                       *[]warden.Behavior             `json:"behaviors"`
		AlertTargets                    *map[string]warden.AlertTarget `json:"alertTargets"`
		AdditionalMetricsToRetain       *[]string                      `json:"additionalMetricsToRetain"`
		AdditionalMetricsToRetainV2     *[]warden.MetricToRetain       `json:"additionalMetricsToRetainV2"`
		MetricsExportConfig             *warden.MetricsExportConfig    `json:"metricsExportConfig"`
		DeleteBehaviors                 bool                           `json:"deleteBehaviors"`
		DeleteAlertTargets              bool                           `json:"deleteAlertTargets"`
		DeleteAdditionalMetricsToRetain bool                           `json:"deleteAdditionalMetricsToRetain"`
		DeleteMetricsExportConfig       bool                           `json:"deleteMetricsExportConfig"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	u := warden.SecurityProfileUpdate{
		Description: in.Description, Behaviors: in.Behaviors, AlertTargets: in.AlertTargets,
		AdditionalMetricsToRetain: in.AdditionalMetricsToRetain, AdditionalMetricsToRetainV2: in.AdditionalMetricsToRetainV2,
		MetricsExportConfig: in.MetricsExportConfig, DeleteBehaviors: in.DeleteBehaviors, DeleteAlertTargets: in.DeleteAlertTargets,
		DeleteAdditionalMetricsToRetain: in.DeleteAdditionalMetricsToRetain, DeleteMetricsExportConfig: in.DeleteMetricsExportConfig,
		ExpectedVersion: c.expectedVersion(),
	}
	if err := u.Check(); err != nil {
		return nil, err
	}
	if err := s.checkProfileParts(c, deref(in.Behaviors), deref(in.AdditionalMetricsToRetain), deref(in.AdditionalMetricsToRetainV2),
		deref(in.AlertTargets)); err != nil {
		return nil, err
	}
	p, err := s.store.UpdateSecurityProfile(c.ctx, c.scope, c.r.PathValue("securityProfileName"), u, s.now().UTC())
	if err != nil {
		return nil, err
	}
	return profileOut(&p), nil
}

func (s *Server) DeleteSecurityProfile(c *call) (any, error) {
	return nil, s.store.DeleteSecurityProfile(c.ctx, c.scope, c.r.PathValue("securityProfileName"), c.expectedVersion(), s.now().UTC())
}

type profileIdentifier struct {
	Name string `json:"name"`
	Arn  string `json:"arn"`
}

func (s *Server) ListSecurityProfiles(c *call) (any, error) {
	f := warden.SecurityProfileFilter{DimensionName: c.input.String("dimensionName"), MetricName: c.input.String("metricName")}
	if f.DimensionName != "" && f.MetricName != "" {
		return nil, warden.Errorf(warden.CodeInvalidRequest, "Specify at most one of dimensionName and metricName.")
	}
	if f.DimensionName != "" {
		if _, err := s.store.Dimension(c.ctx, c.scope, f.DimensionName); err != nil {
			return nil, err
		}
	}
	if _, aws := warden.LookupDetectMetric(f.MetricName); f.MetricName != "" && !aws {
		if _, err := s.store.CustomMetric(c.ctx, c.scope, f.MetricName); err != nil {
			return nil, err
		}
	}
	return listPage(c, detectPageSize, func(p warden.Page) ([]warden.SecurityProfile, string, error) {
		return s.store.SecurityProfiles(c.ctx, c.scope, f, p)
	}, func(p *warden.SecurityProfile) profileIdentifier {
		return profileIdentifier{p.Name, warden.SecurityProfileARN(c.scope, p.Name)}
	})
}

func (s *Server) AttachSecurityProfile(c *call) (any, error) {
	return nil, s.store.AttachSecurityProfile(c.ctx, c.scope, c.r.PathValue("securityProfileName"),
		c.input.String("securityProfileTargetArn"), s.now().UTC())
}

func (s *Server) DetachSecurityProfile(c *call) (any, error) {
	return nil, s.store.DetachSecurityProfile(c.ctx, c.scope, c.r.PathValue("securityProfileName"),
		c.input.String("securityProfileTargetArn"), s.now().UTC())
}

type profileTarget struct {
	Arn string `json:"arn"`
}

func (s *Server) ListTargetsForSecurityProfile(c *call) (any, error) {
	name := c.r.PathValue("securityProfileName")
	return listPage(c, detectPageSize, func(p warden.Page) ([]string, string, error) {
		return s.store.SecurityProfileTargets(c.ctx, c.scope, name, p)
	}, func(arn *string) profileTarget { return profileTarget{*arn} })
}

func (s *Server) ListSecurityProfilesForTarget(c *call) (any, error) {
	target := c.input.String("securityProfileTargetArn")
	recursive := deref(optional[bool](c, "recursive"))
	return listPage(c, detectPageSize, func(p warden.Page) ([]warden.SecurityProfileTargetMapping, string, error) {
		return s.store.SecurityProfilesForTarget(c.ctx, c.scope, target, recursive, p)
	}, func(m *warden.SecurityProfileTargetMapping) any {
		return struct {
			Identifier profileIdentifier `json:"securityProfileIdentifier"`
			Target     profileTarget     `json:"target"`
		}{profileIdentifier{m.ProfileName, m.ProfileArn}, profileTarget{m.TargetArn}}
	})
}

type validationError struct {
	ErrorMessage string `json:"errorMessage"`
}

func (s *Server) ValidateSecurityProfileBehaviors(c *call) (any, error) {
	// The model checked that behaviors is a list, not what is in it (see
	// awsmodel.Overrides): a behaviour breaking its constraints is one more
	// validation error.
	items, _ := c.input["behaviors"].([]any)
	shape := c.op.Input.MemberNamed("behaviors").Shape.Member.Shape
	behaviors := make([]warden.Behavior, len(items))
	malformed := make([][]string, len(items))
	for i, item := range items {
		malformed[i] = shape.Problems(item)
		raw, _ := json.Marshal(item)
		// A type error still fills the other fields, the name among them.
		if err := json.Unmarshal(raw, &behaviors[i]); err != nil && len(malformed[i]) == 0 {
			malformed[i] = []string{err.Error()} // a value the model allows but Go's type does not
		}
	}
	problems, err := warden.ValidateMalformedBehaviors(c.ctx, s.store, c.scope, behaviors, malformed)
	if err != nil {
		return nil, err
	}
	errs := make([]validationError, 0, len(problems))
	for _, p := range problems {
		errs = append(errs, validationError{p})
	}
	return struct {
		Valid            bool              `json:"valid"`
		ValidationErrors []validationError `json:"validationErrors"`
	}{len(problems) == 0, errs}, nil
}
