package api

import (
	"strings"

	"github.com/warden-iot/warden"
)

// policyPath reads and checks the path labels policyName and, with
// version, policyVersionId.
func (c *call) policyPath(version bool) (name, versionID string, err error) {
	name = c.r.PathValue("policyName")
	var v warden.Validator
	warden.ValidatePolicyName(&v, "policyName", name)
	if version {
		versionID = c.r.PathValue("policyVersionId")
		warden.ValidatePolicyVersionID(&v, "policyVersionId", versionID)
	}
	return name, versionID, v.Err()
}

// policyQueryBool reads a boolean query member: absent is false.
func (c *call) policyQueryBool(name string) (bool, error) {
	switch raw := c.r.URL.Query().Get(name); raw {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, warden.Errorf(warden.CodeInvalidRequest,
			"1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be true or false", raw, name)
	}
}

// validatePolicyDocument checks the model's constraints of a PolicyDocument
// member; the grammar is ParsePolicyDocument's (MalformedPolicyException).
func validatePolicyDocument(v *warden.Validator, doc *string) {
	v.Required("policyDocument", doc != nil)
	if doc != nil {
		v.Length("policyDocument", *doc, 0, warden.MaxPolicyDocumentLength)
	}
}

type policyRef struct {
	PolicyName string `json:"policyName"`
	PolicyArn  string `json:"policyArn"`
}

func (s *Server) CreatePolicy(c *call) (any, error) {
	var in struct {
		PolicyDocument *string      `json:"policyDocument"`
		Tags           []warden.Tag `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name := c.r.PathValue("policyName")
	var v warden.Validator
	warden.ValidatePolicyName(&v, "policyName", name)
	validatePolicyDocument(&v, in.PolicyDocument)
	warden.ValidateTags(&v, "tags", in.Tags)
	if err := v.Err(); err != nil {
		return nil, err
	}
	p, err := s.store.CreatePolicy(c.ctx, c.scope, name, *in.PolicyDocument, in.Tags, s.now().UTC())
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
	name, _, err := c.policyPath(false)
	if err != nil {
		return nil, err
	}
	p, err := s.store.Policy(c.ctx, c.scope, name)
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
	name, _, err := c.policyPath(false)
	if err != nil {
		return nil, err
	}
	return nil, s.store.DeletePolicy(c.ctx, c.scope, name, s.now().UTC())
}

func (s *Server) ListPolicies(c *call) (any, error) {
	ascending, err := c.policyQueryBool("isAscendingOrder")
	if err != nil {
		return nil, err
	}
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	policies, next, err := s.store.Policies(c.ctx, c.scope, ascending, p)
	if err != nil {
		return nil, err
	}
	out := struct {
		Policies   []policyRef `json:"policies"`
		NextMarker string      `json:"nextMarker,omitempty"`
	}{Policies: make([]policyRef, 0, len(policies)), NextMarker: c.nextPage(next)}
	for i := range policies {
		out.Policies = append(out.Policies, policyRef{policies[i].Name, policies[i].ARN(c.scope)})
	}
	return out, nil
}

func (s *Server) CreatePolicyVersion(c *call) (any, error) {
	var in struct {
		PolicyDocument *string `json:"policyDocument"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name := c.r.PathValue("policyName")
	var v warden.Validator
	warden.ValidatePolicyName(&v, "policyName", name)
	validatePolicyDocument(&v, in.PolicyDocument)
	if err := v.Err(); err != nil {
		return nil, err
	}
	setAsDefault, err := c.policyQueryBool("setAsDefault")
	if err != nil {
		return nil, err
	}
	pv, err := s.store.CreatePolicyVersion(c.ctx, c.scope, name, *in.PolicyDocument, setAsDefault, s.now().UTC())
	if err != nil {
		return nil, err
	}
	return struct {
		PolicyArn        string `json:"policyArn"`
		PolicyDocument   string `json:"policyDocument"`
		PolicyVersionID  string `json:"policyVersionId"`
		IsDefaultVersion bool   `json:"isDefaultVersion"`
	}{warden.PolicyARN(c.scope, name), pv.Document, pv.VersionID, pv.IsDefault}, nil
}

func (s *Server) GetPolicyVersion(c *call) (any, error) {
	name, id, err := c.policyPath(true)
	if err != nil {
		return nil, err
	}
	pv, err := s.store.PolicyVersion(c.ctx, c.scope, name, id)
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
	}{warden.PolicyARN(c.scope, name), name, pv.Document, pv.VersionID, pv.IsDefault,
		epoch(pv.CreationDate), epoch(pv.LastModifiedDate), pv.GenerationID}, nil
}

func (s *Server) ListPolicyVersions(c *call) (any, error) {
	name, _, err := c.policyPath(false)
	if err != nil {
		return nil, err
	}
	versions, err := s.store.PolicyVersions(c.ctx, c.scope, name)
	if err != nil {
		return nil, err
	}
	type policyVersion struct {
		VersionID        string `json:"versionId"`
		IsDefaultVersion bool   `json:"isDefaultVersion"`
		CreateDate       epoch  `json:"createDate"`
	}
	out := struct {
		PolicyVersions []policyVersion `json:"policyVersions"`
	}{PolicyVersions: make([]policyVersion, 0, len(versions))}
	for _, pv := range versions {
		out.PolicyVersions = append(out.PolicyVersions, policyVersion{pv.VersionID, pv.IsDefault, epoch(pv.CreationDate)})
	}
	return out, nil
}

func (s *Server) SetDefaultPolicyVersion(c *call) (any, error) {
	name, id, err := c.policyPath(true)
	if err != nil {
		return nil, err
	}
	return nil, s.store.SetDefaultPolicyVersion(c.ctx, c.scope, name, id, s.now().UTC())
}

func (s *Server) DeletePolicyVersion(c *call) (any, error) {
	name, id, err := c.policyPath(true)
	if err != nil {
		return nil, err
	}
	return nil, s.store.DeletePolicyVersion(c.ctx, c.scope, name, id, s.now().UTC())
}

// policyTargetBody reads the body of AttachPolicy and DetachPolicy.
func (c *call) policyTargetBody() (name, target string, err error) {
	var in struct {
		Target *string `json:"target"`
	}
	if err := c.decode(&in); err != nil {
		return "", "", err
	}
	name = c.r.PathValue("policyName")
	var v warden.Validator
	warden.ValidatePolicyName(&v, "policyName", name)
	v.Required("target", in.Target != nil)
	if err := v.Err(); err != nil {
		return "", "", err
	}
	return name, *in.Target, nil
}

func (s *Server) AttachPolicy(c *call) (any, error) {
	name, target, err := c.policyTargetBody()
	if err != nil {
		return nil, err
	}
	return nil, s.store.AttachPolicy(c.ctx, c.scope, name, target, s.now().UTC())
}

func (s *Server) DetachPolicy(c *call) (any, error) {
	name, target, err := c.policyTargetBody()
	if err != nil {
		return nil, err
	}
	return nil, s.store.DetachPolicy(c.ctx, c.scope, name, target, s.now().UTC())
}

func (s *Server) ListTargetsForPolicy(c *call) (any, error) {
	name, _, err := c.policyPath(false)
	if err != nil {
		return nil, err
	}
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	targets, next, err := s.store.PolicyTargets(c.ctx, c.scope, name, p)
	if err != nil {
		return nil, err
	}
	if targets == nil {
		targets = []string{}
	}
	return struct {
		Targets    []string `json:"targets"`
		NextMarker string   `json:"nextMarker,omitempty"`
	}{targets, c.nextPage(next)}, nil
}

func (s *Server) ListAttachedPolicies(c *call) (any, error) {
	target := c.r.PathValue("target")
	var v warden.Validator
	v.Required("target", target != "")
	if err := v.Err(); err != nil {
		return nil, err
	}
	recursive, err := c.policyQueryBool("recursive")
	if err != nil {
		return nil, err
	}
	op := "ListAttachedPolicies/" + target
	if recursive {
		op += "/recursive"
	}
	p, err := c.page(25)
	if err != nil {
		return nil, err
	}
	names, next, err := s.store.AttachedPolicies(c.ctx, c.scope, target, recursive, p)
	if err != nil {
		return nil, err
	}
	out := struct {
		Policies   []policyRef `json:"policies"`
		NextMarker string      `json:"nextMarker,omitempty"`
	}{Policies: make([]policyRef, 0, len(names)), NextMarker: c.nextPage(next)}
	for _, n := range names {
		out.Policies = append(out.Policies, policyRef{n, warden.PolicyARN(c.scope, n)})
	}
	return out, nil
}

func (s *Server) SetV2LoggingOptions(c *call) (any, error) {
	var in struct {
		RoleArn         *string `json:"roleArn"`
		DefaultLogLevel *string `json:"defaultLogLevel"`
		DisableAllLogs  *bool   `json:"disableAllLogs"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	var o warden.V2LoggingOptions
	if in.RoleArn != nil {
		o.RoleArn = *in.RoleArn
	}
	if in.DefaultLogLevel != nil {
		v.Enum("defaultLogLevel", *in.DefaultLogLevel, warden.LogLevels...)
		o.DefaultLogLevel = *in.DefaultLogLevel
	}
	if in.DisableAllLogs != nil {
		o.DisableAllLogs = *in.DisableAllLogs
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return nil, s.store.SetV2LoggingOptions(c.ctx, c.scope, o, s.now().UTC())
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
		RoleArn  *string `json:"roleArn"`
		LogLevel *string `json:"logLevel"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var v warden.Validator
	if len(strings.TrimSpace(string(c.body))) == 0 {
		v.Required("loggingOptionsPayload", false)
		return nil, v.Err()
	}
	v.Required("loggingOptionsPayload.roleArn", in.RoleArn != nil)
	var o warden.LoggingOptions
	if in.RoleArn != nil {
		o.RoleArn = *in.RoleArn
	}
	if in.LogLevel != nil {
		v.Enum("loggingOptionsPayload.logLevel", *in.LogLevel, warden.LogLevels...)
		o.LogLevel = *in.LogLevel
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return nil, s.store.SetLoggingOptions(c.ctx, c.scope, o, s.now().UTC())
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
