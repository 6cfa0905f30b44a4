package api

import (
	"github.com/warden-iot/warden"
)

// policyInput holds the members of the policy operations that Warden reads;
// each operation has some of them.
type policyInput struct {
	PolicyName     string       `json:"policyName"`
	PolicyDocument string       `json:"policyDocument"`
	Tags           []warden.Tag `json:"tags"`
	SetAsDefault   bool         `json:"setAsDefault"`
	Target         string       `json:"target"`
}

type policyRef struct {
	PolicyName string `json:"policyName"`
	PolicyArn  string `json:"policyArn"`
}

// policyRef is the name and ARN of the policy named name.
func (c *call) policyRef(name *string) policyRef {
	return policyRef{*name, warden.PolicyARN(c.scope, *name)}
}

// policyRefs are the names and ARNs of the policies named names (never nil).
func (c *call) policyRefs(names []string) []policyRef { return wireAll(names, c.policyRef) }

func (s *Server) CreatePolicy(c *call) (any, error) {
	var in policyInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if err := checkTagCount(in.Tags); err != nil {
		return nil, err
	}
	p, err := s.store.CreatePolicy(c.ctx, c.scope, in.PolicyName, in.PolicyDocument, in.Tags, s.now().UTC())
	if err != nil {
		return nil, err
	}
	return struct {
		PolicyName      string `json:"policyName"`
		PolicyArn       string `json:"policyArn"`
		PolicyDocument  string `json:"policyDocument"`
		PolicyVersionID string `json:"policyVersionId"`
	}{p.Name, p.ARN(c.scope), p.Document, p.DefaultVersionID}, nil
}

func (s *Server) GetPolicy(c *call) (any, error) {
	p, err := s.store.Policy(c.ctx, c.scope, c.input.String("policyName"))
	if err != nil {
		return nil, err
	}
	return struct {
		PolicyName       string `json:"policyName"`
		PolicyArn        string `json:"policyArn"`
		PolicyDocument   string `json:"policyDocument"`
		DefaultVersionID string `json:"defaultVersionId"`
		CreationDate     epoch  `json:"creationDate"`
		LastModifiedDate epoch  `json:"lastModifiedDate"`
		GenerationID     string `json:"generationId"`
	}{p.Name, p.ARN(c.scope), p.Document, p.DefaultVersionID, epoch(p.CreationDate), epoch(p.LastModifiedDate), p.GenerationID}, nil
}

func (s *Server) DeletePolicy(c *call) (any, error) {
	return nil, s.store.DeletePolicy(c.ctx, c.scope, c.input.String("policyName"), s.now().UTC())
}

func (s *Server) ListPolicies(c *call) (any, error) {
	return listPage(c, 25, func(p warden.Page) ([]warden.Policy, string, error) {
		return s.store.Policies(c.ctx, c.scope, c.input.Bool("ascendingOrder"), p)
	}, func(p *warden.Policy) policyRef { return policyRef{p.Name, p.ARN(c.scope)} })
}

func (s *Server) CreatePolicyVersion(c *call) (any, error) {
	var in policyInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	pv, err := s.store.CreatePolicyVersion(c.ctx, c.scope, in.PolicyName, in.PolicyDocument, in.SetAsDefault, s.now().UTC())
	if err != nil {
		return nil, err
	}
	return struct {
		PolicyArn        string `json:"policyArn"`
		PolicyDocument   string `json:"policyDocument"`
		PolicyVersionID  string `json:"policyVersionId"`
		IsDefaultVersion bool   `json:"isDefaultVersion"`
	}{warden.PolicyARN(c.scope, in.PolicyName), pv.Document, pv.VersionID, pv.IsDefault}, nil
}

func (s *Server) GetPolicyVersion(c *call) (any, error) {
	pv, err := s.store.PolicyVersion(c.ctx, c.scope, c.input.String("policyName"), c.input.String("policyVersionId"))
	if err != nil {
		return nil, err
	}
	return struct {
		PolicyArn        string `json:"policyArn"`
		PolicyName       string `json:"policyName"`
		PolicyDocument   string `json:"policyDocument"`
		PolicyVersionID  string `json:"policyVersionId"`
		IsDefaultVersion bool   `json:"isDefaultVersion"`
		CreationDate     epoch  `json:"creationDate"`
		LastModifiedDate epoch  `json:"lastModifiedDate"`
		GenerationID     string `json:"generationId"`
	}{warden.PolicyARN(c.scope, c.input.String("policyName")), c.input.String("policyName"), pv.Document, pv.VersionID, pv.IsDefault,
		epoch(pv.CreationDate), epoch(pv.LastModifiedDate), pv.GenerationID}, nil
}

func (s *Server) ListPolicyVersions(c *call) (any, error) {
	versions, err := s.store.PolicyVersions(c.ctx, c.scope, c.input.String("policyName"))
	if err != nil {
		return nil, err
	}
	type policyVersion struct {
		VersionID        string `json:"versionId"`
		IsDefaultVersion bool   `json:"isDefaultVersion"`
		CreateDate       epoch  `json:"createDate"`
	}
	return struct {
		PolicyVersions []policyVersion `json:"policyVersions"`
	}{wireAll(versions, func(pv *warden.PolicyVersion) policyVersion {
		return policyVersion{pv.VersionID, pv.IsDefault, epoch(pv.CreationDate)}
	})}, nil
}

func (s *Server) SetDefaultPolicyVersion(c *call) (any, error) {
	return nil, s.store.SetDefaultPolicyVersion(c.ctx, c.scope, c.input.String("policyName"), c.input.String("policyVersionId"), s.now().UTC())
}

func (s *Server) DeletePolicyVersion(c *call) (any, error) {
	return nil, s.store.DeletePolicyVersion(c.ctx, c.scope, c.input.String("policyName"), c.input.String("policyVersionId"), s.now().UTC())
}

func (s *Server) AttachPolicy(c *call) (any, error) {
	var in policyInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return nil, s.store.AttachPolicy(c.ctx, c.scope, in.PolicyName, in.Target, s.now().UTC())
}

func (s *Server) DetachPolicy(c *call) (any, error) {
	var in policyInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return nil, s.store.DetachPolicy(c.ctx, c.scope, in.PolicyName, in.Target, s.now().UTC())
}

func (s *Server) ListTargetsForPolicy(c *call) (any, error) {
	return listPage(c, 25, func(p warden.Page) ([]string, string, error) {
		return s.store.PolicyTargets(c.ctx, c.scope, c.input.String("policyName"), p)
	}, same)
}

func (s *Server) ListAttachedPolicies(c *call) (any, error) {
	return listPage(c, 25, func(p warden.Page) ([]string, string, error) {
		return s.store.AttachedPolicies(c.ctx, c.scope, c.input.String("target"), c.input.Bool("recursive"), p)
	}, c.policyRef)
}

func (s *Server) SetV2LoggingOptions(c *call) (any, error) {
	var in struct {
		RoleArn         string `json:"roleArn"`
		DefaultLogLevel string `json:"defaultLogLevel"`
		DisableAllLogs  bool   `json:"disableAllLogs"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return nil, s.store.SetV2LoggingOptions(c.ctx, c.scope, warden.V2LoggingOptions(in), s.now().UTC())
}

func (s *Server) GetV2LoggingOptions(c *call) (any, error) {
	o, err := s.store.V2LoggingOptions(c.ctx, c.scope)
	if err != nil {
		return nil, err
	}
	return struct {
		RoleArn         string `json:"roleArn,omitempty"`
		DefaultLogLevel string `json:"defaultLogLevel,omitempty"`
		DisableAllLogs  bool   `json:"disableAllLogs"`
	}{o.RoleArn, o.DefaultLogLevel, o.DisableAllLogs}, nil
}

// SetLoggingOptions: the body is the LoggingOptionsPayload itself (the
// input's payload member), not an object around it.
func (s *Server) SetLoggingOptions(c *call) (any, error) {
	var in struct {
		RoleArn  string `json:"roleArn"`
		LogLevel string `json:"logLevel"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	return nil, s.store.SetLoggingOptions(c.ctx, c.scope, warden.LoggingOptions(in), s.now().UTC())
}

// GetLoggingOptions answers an empty object before the first
// SetLoggingOptions: the operation has no NotConfiguredException.
func (s *Server) GetLoggingOptions(c *call) (any, error) {
	o, _, err := s.store.LoggingOptions(c.ctx, c.scope)
	if err != nil {
		return nil, err
	}
	return struct {
		RoleArn  string `json:"roleArn,omitempty"`
		LogLevel string `json:"logLevel,omitempty"`
	}{o.RoleArn, o.LogLevel}, nil
}
