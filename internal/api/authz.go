package api

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/warden-iot/warden"
)

// authActions maps the ActionType enum to policy actions.
var authActions = map[string]string{
	"PUBLISH":   warden.ActionIoTPublish,
	"SUBSCRIBE": warden.ActionIoTSubscribe,
	"RECEIVE":   warden.ActionIoTReceive,
	"CONNECT":   warden.ActionIoTConnect,
}

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

// authPrincipal is a TestAuthorization or GetEffectivePolicies principal:
// a certificate or a thing group of the caller's scope.
type authPrincipal struct {
	kind, id string // warden.TargetCertificate or warden.TargetThingGroup
}

// parseAuthPrincipal reads the principal and cognitoIdentityPoolId members.
// Cognito identities are answered with InvalidRequest: Warden keeps none.
func parseAuthPrincipal(c *call, principal, pool *string) (*authPrincipal, error) {
	if pool != nil {
		return nil, warden.Errorf(warden.CodeInvalidRequest, "Cognito identity pools are not supported by Warden; use a certificate ARN or a thing group ARN as the principal.")
	}
	if principal == nil {
		return nil, nil
	}
	p := *principal
	if !strings.HasPrefix(p, "arn:") {
		return nil, warden.Errorf(warden.CodeInvalidRequest,
			"The principal %s is not a certificate ARN or a thing group ARN; Cognito identities are not supported by Warden.", clip(p))
	}
	scope, kind, id, err := warden.ParsePolicyTarget(p)
	if err != nil {
		return nil, warden.Errorf(warden.CodeInvalidRequest,
			"The principal %s is not a certificate ARN (arn:aws:iot:region:account:cert/id) or a thing group ARN (arn:aws:iot:region:account:thinggroup/name).", clip(p))
	}
	if scope != c.scope {
		what := "certificate"
		if kind == warden.TargetThingGroup {
			what = "thing group"
		}
		return nil, warden.Errorf(warden.CodeResourceNotFound, "The %s %s does not exist in account %s, region %s.", what, clip(p), c.scope.Account, c.scope.Region)
	}
	return &authPrincipal{kind: kind, id: id}, nil
}

// clip shortens a client's value for an error message.
func clip(s string) string {
	if len(s) > 256 {
		return s[:256] + "…"
	}
	return s
}

// principalPolicyNames lists the policies attached to a principal; a thing
// group's include its ancestors'. An unknown principal is ResourceNotFound.
func (s *Server) principalPolicyNames(c *call, p *authPrincipal) ([]string, error) {
	target := c.scope.IoTARN(p.kind + "/" + p.id)
	switch p.kind {
	case warden.TargetCertificate:
		if _, err := s.store.Certificate(c.ctx, c.scope, p.id); err != nil {
			return nil, err
		}
	default:
		g, err := s.store.ThingGroup(c.ctx, c.scope, p.id)
		if err != nil {
			return nil, err
		}
		if g.Dynamic() {
			return nil, nil // policies attach to static groups only
		}
	}
	return listAll(func(pg warden.Page) ([]string, string, error) {
		return s.store.AttachedPolicies(c.ctx, c.scope, target, p.kind == warden.TargetThingGroup, pg)
	})
}

func listAll(list func(warden.Page) ([]string, string, error)) ([]string, error) {
	var out []string
	pg := warden.Page{Limit: 250}
	for {
		items, next, err := list(pg)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		pg.After = next
	}
}

// TestAuthorization evaluates authInfos with the device endpoint's
// evaluator. A certificate principal is loaded as a connection with client
// id clientId would be (its thing and that thing's group policies
// included); a thing group principal stands for its policies and its
// ancestors'. Of one authInfo's resources, a policy is listed as denying
// when it denies one, as allowing when it allows one and denies none; the
// decision is an explicit deny when any resource is denied, allowed when
// every resource is allowed. No source IP is known, so aws:SourceIp
// conditions report it missing.
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
		if len(ai.Resources) == 0 {
			return nil, warden.Errorf(warden.CodeInvalidRequest, "Each authInfo needs at least one resource ARN.")
		}
		for _, r := range ai.Resources {
			if _, _, _, ok := warden.ParseIoTARN(r); !ok {
				return nil, warden.Errorf(warden.CodeInvalidRequest,
					"The resource %s is not an AWS IoT ARN such as arn:aws:iot:%s:%s:topic/my/topic.", clip(r), c.scope.Region, c.scope.Account)
			}
		}
	}
	p, err := parseAuthPrincipal(c, in.Principal, in.CognitoIdentityPoolID)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, warden.Errorf(warden.CodeInvalidRequest, "A principal (a certificate ARN or a thing group ARN) is required.")
	}
	var actx warden.IoTAuthzContext
	var names []string
	if p.kind == warden.TargetCertificate {
		pr, err := warden.LoadIoTPrincipal(c.ctx, s.store, c.scope, p.id, in.ClientID, nil, netip.Addr{})
		if err != nil {
			return nil, err
		}
		actx = pr.Context
		for _, pol := range pr.Policies {
			names = append(names, pol.Name)
		}
	} else {
		actx = warden.IoTAuthzContext{Scope: c.scope, ClientID: in.ClientID}
		if names, err = s.principalPolicyNames(c, p); err != nil {
			return nil, err
		}
	}
	for _, name := range in.PolicyNamesToAdd {
		if _, err := s.store.Policy(c.ctx, c.scope, name); err != nil {
			return nil, err
		}
	}
	names = append(names, in.PolicyNamesToAdd...)
	names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(in.PolicyNamesToSkip, n) })
	policies, err := warden.LoadIoTPolicies(c.ctx, s.store, c.scope, names)
	if err != nil {
		return nil, err
	}
	// Attached policies whose document no longer parses still answer, as
	// saying nothing.
	for _, n := range names {
		if !slices.ContainsFunc(policies, func(p warden.IoTPolicy) bool { return p.Name == n }) {
			if _, err := s.store.Policy(c.ctx, c.scope, n); err == nil {
				policies = append(policies, warden.IoTPolicy{Name: n})
			}
		}
	}
	slices.SortFunc(policies, func(a, b warden.IoTPolicy) int { return strings.Compare(a.Name, b.Name) })
	policies = slices.CompactFunc(policies, func(a, b warden.IoTPolicy) bool { return a.Name == b.Name })

	out := struct {
		AuthResults []authResult `json:"authResults"`
	}{AuthResults: make([]authResult, 0, len(in.AuthInfos))}
	for _, ai := range in.AuthInfos {
		out.AuthResults = append(out.AuthResults, s.authResult(c, policies, ai, &actx))
	}
	return out, nil
}

// authResult evaluates one authInfo.
func (s *Server) authResult(c *call, policies []warden.IoTPolicy, ai authInfo, actx *warden.IoTAuthzContext) authResult {
	action := authActions[*ai.ActionType]
	state := make(map[string]string, len(policies)) // name → allowed, denied or ""
	anyDeny, allAllowed := false, true
	var missing []string
	for _, r := range ai.Resources {
		d := warden.AuthorizeIoT(policies, action, r, actx)
		switch d.Decision {
		case warden.DecisionExplicitDeny:
			anyDeny = true
			allAllowed = false
		case warden.DecisionImplicitDeny:
			allAllowed = false
		}
		for _, n := range d.ExplicitDeny {
			state[n] = warden.DecisionExplicitDeny
		}
		for _, n := range d.Allowed {
			if state[n] == "" {
				state[n] = warden.DecisionAllowed
			}
		}
		missing = append(missing, d.MissingContextValues...)
	}
	res := authResult{AuthInfo: ai, AuthDecision: warden.DecisionImplicitDeny}
	switch {
	case anyDeny:
		res.AuthDecision = warden.DecisionExplicitDeny
	case allAllowed:
		res.AuthDecision = warden.DecisionAllowed
	}
	res.Allowed.Policies = []policyRef{}
	res.Denied.ImplicitDeny.Policies = []policyRef{}
	res.Denied.ExplicitDeny.Policies = []policyRef{}
	for _, p := range policies {
		ref := policyRef{p.Name, warden.PolicyARN(c.scope, p.Name)}
		switch state[p.Name] {
		case warden.DecisionAllowed:
			res.Allowed.Policies = append(res.Allowed.Policies, ref)
		case warden.DecisionExplicitDeny:
			res.Denied.ExplicitDeny.Policies = append(res.Denied.ExplicitDeny.Policies, ref)
		default:
			res.Denied.ImplicitDeny.Policies = append(res.Denied.ImplicitDeny.Policies, ref)
		}
	}
	slices.Sort(missing)
	res.MissingContextValues = append([]string{}, slices.Compact(missing)...)
	return res
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
	p, err := parseAuthPrincipal(c, in.Principal, in.CognitoIdentityPoolID)
	if err != nil {
		return nil, err
	}
	if p == nil && in.ThingName == "" {
		return nil, warden.Errorf(warden.CodeInvalidRequest, "Give a principal (a certificate ARN or a thing group ARN), a thingName, or both.")
	}
	var names []string
	if p != nil {
		if names, err = s.principalPolicyNames(c, p); err != nil {
			return nil, err
		}
	}
	if in.ThingName != "" {
		if _, err := s.store.Thing(c.ctx, c.scope, in.ThingName); err != nil {
			return nil, err
		}
		_, groupPolicies, err := warden.ThingGroupPolicies(c.ctx, s.store, c.scope, in.ThingName)
		if err != nil {
			return nil, err
		}
		names = append(names, groupPolicies...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	type effectivePolicy struct {
		PolicyName     string `json:"policyName"`
		PolicyArn      string `json:"policyArn"`
		PolicyDocument string `json:"policyDocument"`
	}
	out := struct {
		EffectivePolicies []effectivePolicy `json:"effectivePolicies"`
	}{EffectivePolicies: make([]effectivePolicy, 0, len(names))}
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
