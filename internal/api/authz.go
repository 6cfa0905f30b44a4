package api

import (
	"strconv"

	"github.com/warden-iot/warden"
)

type authInfo struct {
	ActionType *string  `json:"actionType,omitempty"`
	Resources  []string `json:"resources"`
}

type authPolicies struct {
	Policies []policyRef `json:"policies"`
}

type authResult struct {
	AuthInfo authInfo     `json:"authInfo"`
	Allowed  authPolicies `json:"allowed"`
	Denied   struct {
		ImplicitDeny authPolicies `json:"implicitDeny"`
		ExplicitDeny authPolicies `json:"explicitDeny"`
	} `json:"denied"`
	AuthDecision         string   `json:"authDecision"`
	MissingContextValues []string `json:"missingContextValues"`
}

// TestAuthorization evaluates authInfos with the device endpoint's
// evaluator (warden.AuthorizeIoTAll) over the principal's policies
// (warden.LoadIoTPoliciesToTest).
func (s *Server) TestAuthorization(c *call) (any, error) {
	var in struct {
		Principal             *string    `json:"principal"`
		CognitoIdentityPoolID *string    `json:"cognitoIdentityPoolId"`
		AuthInfos             []authInfo `json:"authInfos"`
		ClientID              string     `json:"clientId"`
		PolicyNamesToAdd      []string   `json:"policyNamesToAdd"`
		PolicyNamesToSkip     []string   `json:"policyNamesToSkip"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	// The model leaves actionType optional; Warden has nothing to evaluate
	// without it (a test holds it to this).
	var v warden.Validator
	for i, ai := range in.AuthInfos {
		v.Required("authInfos."+strconv.Itoa(i+1)+".member.actionType", ai.ActionType != nil)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	for _, ai := range in.AuthInfos {
		if err := warden.CheckAuthInfoResources(c.scope, ai.Resources); err != nil {
			return nil, err
		}
	}
	kind, id, err := warden.ParseAuthPrincipal(c.scope, in.Principal, in.CognitoIdentityPoolID)
	if err != nil {
		return nil, err
	}
	if kind == "" {
		return nil, warden.Errorf(warden.CodeInvalidRequest, "A principal (a certificate ARN or a thing group ARN) is required.")
	}
	actx, policies, err := warden.LoadIoTPoliciesToTest(c.ctx, s.store, c.scope, kind, id, in.ClientID, in.PolicyNamesToAdd, in.PolicyNamesToSkip)
	if err != nil {
		return nil, err
	}
	out := struct {
		AuthResults []authResult `json:"authResults"`
	}{AuthResults: make([]authResult, 0, len(in.AuthInfos))}
	for _, ai := range in.AuthInfos {
		d := warden.AuthorizeIoTAll(policies, warden.AuthInfoActions[*ai.ActionType], ai.Resources, &actx)
		res := authResult{AuthInfo: ai, AuthDecision: d.Decision, MissingContextValues: d.MissingContextValues}
		res.Allowed.Policies = c.policyRefs(d.Allowed)
		res.Denied.ImplicitDeny.Policies = c.policyRefs(d.ImplicitDeny)
		res.Denied.ExplicitDeny.Policies = c.policyRefs(d.ExplicitDeny)
		out.AuthResults = append(out.AuthResults, res)
	}
	return out, nil
}

// GetEffectivePolicies lists the policies that apply to a principal
// and/or a thing: a certificate's own, a thing group's with its
// ancestors', and with thingName those of the thing's static groups and
// their ancestors. Each policy appears once, by name, with its default
// version's document.
func (s *Server) GetEffectivePolicies(c *call) (any, error) {
	var in struct {
		Principal             *string `json:"principal"`
		CognitoIdentityPoolID *string `json:"cognitoIdentityPoolId"`
		ThingName             string  `json:"thingName"` // "" when absent: the model's minimum length is 1
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	kind, id, err := warden.ParseAuthPrincipal(c.scope, in.Principal, in.CognitoIdentityPoolID)
	if err != nil {
		return nil, err
	}
	if kind == "" && in.ThingName == "" {
		return nil, warden.Errorf(warden.CodeInvalidRequest, "Give a principal (a certificate ARN or a thing group ARN), a thingName, or both.")
	}
	names, err := warden.EffectivePolicyNames(c.ctx, s.store, c.scope, kind, id, in.ThingName)
	if err != nil {
		return nil, err
	}
	type effectivePolicy struct {
		PolicyName     string `json:"policyName"`
		PolicyArn      string `json:"policyArn"`
		PolicyDocument string `json:"policyDocument"`
	}
	out := struct {
		EffectivePolicies []effectivePolicy `json:"effectivePolicies"`
	}{EffectivePolicies: []effectivePolicy{}}
	for _, name := range names {
		pol, err := s.store.Policy(c.ctx, c.scope, name)
		if warden.ErrorCode(err) == warden.CodeResourceNotFound {
			continue // detached and deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out.EffectivePolicies = append(out.EffectivePolicies, effectivePolicy{name, pol.ARN(c.scope), pol.Document})
	}
	return out, nil
}
