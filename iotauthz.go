package warden

import (
	"context"
	"crypto/x509"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// IoT policy actions the device endpoint checks.
const (
	ActionIoTConnect       = "iot:Connect"
	ActionIoTPublish       = "iot:Publish"
	ActionIoTRetainPublish = "iot:RetainPublish"
	ActionIoTSubscribe     = "iot:Subscribe"
	ActionIoTReceive       = "iot:Receive"
)

// Authorization decisions (the AuthDecision enum).
const (
	DecisionAllowed      = "ALLOWED"
	DecisionExplicitDeny = "EXPLICIT_DENY"
	DecisionImplicitDeny = "IMPLICIT_DENY"
)

// IoTAuthzContext is who asks: what the policy variables and condition keys
// of an IoT policy are resolved from.
type IoTAuthzContext struct {
	Scope         Scope
	ClientID      string
	CertificateID string
	// Certificate gives the iot:Certificate.* variables; nil leaves them
	// unresolved.
	Certificate *x509.Certificate
	// Thing is the thing the connection resolved to (see LoadIoTPrincipal);
	// nil leaves the iot:Connection.Thing.* variables unresolved.
	Thing *Thing
	// ThingAttached is iot:Connection.Thing.IsAttached.
	ThingAttached bool
	// SourceIP is aws:SourceIp; the zero Addr when unknown.
	SourceIP netip.Addr
	// ConnectAttributes (PersistentConnect, LastWill) and LastWillTopic (a
	// topic ARN) are the Connect-only condition keys.
	ConnectAttributes []string
	LastWillTopic     string
}

// IoTPolicy is a parsed policy and its name. Documents LoadIoTPolicies
// returns are shared between principals and must not be modified.
type IoTPolicy struct {
	Name     string
	Document *PolicyDocument
}

// IoTDecision is the outcome of one authorization question, as
// TestAuthorization reports it.
type IoTDecision struct {
	Decision string // DecisionAllowed, DecisionExplicitDeny or DecisionImplicitDeny
	// Allowed lists the policies that allowed, ExplicitDeny those that
	// denied, ImplicitDeny those that said nothing (all by name).
	Allowed, ExplicitDeny, ImplicitDeny []string
	MissingContextValues                []string
}

// AuthorizeIoT decides whether the holder of policies may do action (one of
// the ActionIoT* names) on resource (an IoT ARN such as
// arn:aws:iot:region:account:topic/a/b), as AWS IoT does: a policy denies
// when one of its Deny statements applies, allows when one of its Allow
// statements applies, and says nothing otherwise; any denial wins, and
// without an Allow the answer is an implicit deny.
//
// A statement applies when its Action (or NotAction) covers action, its
// Resource (or NotResource) covers resource after policy variables are
// substituted, and every condition holds. A policy variable that c cannot
// resolve makes its Resource entry (or condition) match nothing, and a
// NotResource entry with one makes the whole statement not apply: an Allow
// then grants nothing, and a Deny then denies nothing (AWS documents the
// first; the second is Warden's reading, UNCONFIRMED). c may be nil, which
// resolves no variable. Policies with a nil Document say nothing.
func AuthorizeIoT(policies []IoTPolicy, action, resource string, c *IoTAuthzContext) IoTDecision {
	if c == nil {
		c = &IoTAuthzContext{}
	}
	ev := iotEval{action: action, resource: resource, c: c}
	var stack [16]int8
	outcome := stack[:0]
	if len(policies) > len(stack) {
		outcome = make([]int8, 0, len(policies))
	}
	nAllow, nDeny := 0, 0
	for i := range policies {
		o := ev.policy(policies[i].Document)
		outcome = append(outcome, o)
		switch o {
		case iotAllow:
			nAllow++
		case iotDeny:
			nDeny++
		}
	}
	d := IoTDecision{Decision: DecisionImplicitDeny}
	switch {
	case nDeny > 0:
		d.Decision = DecisionExplicitDeny
	case nAllow > 0:
		d.Decision = DecisionAllowed
	}
	if len(policies) > 0 {
		// One array holds the three lists, in policy order within each.
		names := make([]string, len(policies))
		a, x, m := 0, nAllow, nAllow+nDeny
		for i, o := range outcome {
			switch o {
			case iotAllow:
				names[a] = policies[i].Name
				a++
			case iotDeny:
				names[x] = policies[i].Name
				x++
			default:
				names[m] = policies[i].Name
				m++
			}
		}
		d.Allowed = sliceOrNil(names[:nAllow:nAllow])
		d.ExplicitDeny = sliceOrNil(names[nAllow : nAllow+nDeny : nAllow+nDeny])
		d.ImplicitDeny = sliceOrNil(names[nAllow+nDeny:])
	}
	if len(ev.missing) > 0 {
		slices.Sort(ev.missing)
		d.MissingContextValues = slices.Compact(ev.missing)
	}
	return d
}

func sliceOrNil(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// Outcomes of one policy.
const (
	iotSilent int8 = iota
	iotAllow
	iotDeny
)

// iotEval is one authorization question.
type iotEval struct {
	action, resource string
	c                *IoTAuthzContext
	// missing collects the condition keys a statement needed and the
	// context lacked.
	missing []string
}

func (ev *iotEval) policy(doc *PolicyDocument) int8 {
	if doc == nil {
		return iotSilent
	}
	out := iotSilent
	for i := range doc.Statements {
		st := &doc.Statements[i]
		if out == iotAllow && st.Effect == EffectAllow {
			continue // it cannot change the outcome
		}
		if !ev.applies(st) {
			continue
		}
		if st.Effect == EffectDeny {
			return iotDeny
		}
		out = iotAllow
	}
	return out
}

func (ev *iotEval) applies(st *PolicyStatement) bool {
	if st.NotAction != nil {
		if iotAnyActionMatch(st.NotAction, ev.action) {
			return false
		}
	} else if !iotAnyActionMatch(st.Action, ev.action) {
		return false
	}
	if st.NotResource != nil {
		for _, p := range st.NotResource {
			m, resolved := ev.resourceMatch(p)
			if m || !resolved {
				return false
			}
		}
	} else {
		any := false
		for _, p := range st.Resource {
			if m, _ := ev.resourceMatch(p); m {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	return st.Condition == nil || ev.conditions(st.Condition)
}

// iotAnyActionMatch matches action names without regard to case, with the
// common shapes (exact, prefix*) done without WildcardMatch's lower-casing.
func iotAnyActionMatch(patterns []string, action string) bool {
	for _, p := range patterns {
		i := indexWildcard(p)
		switch {
		case i < 0:
			if strings.EqualFold(p, action) {
				return true
			}
		case i == len(p)-1 && p[i] == '*':
			if len(action) >= i && strings.EqualFold(action[:i], p[:i]) {
				return true
			}
		default:
			if WildcardMatch(p, action, true) {
				return true
			}
		}
	}
	return false
}

// indexWildcard is the index of the first * or ? in s, or -1.
func indexWildcard(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '*' || s[i] == '?' {
			return i
		}
	}
	return -1
}

// resourceMatch matches the resource against one Resource entry after
// substituting its variables; resolved is false when one could not be.
func (ev *iotEval) resourceMatch(pattern string) (match, resolved bool) {
	dollar := strings.IndexByte(pattern, '$')
	if dollar < 0 {
		return WildcardMatch(pattern, ev.resource, false), true
	}
	// What precedes the first variable is literal when it has no wildcard:
	// a resource that does not start with it cannot match, whatever the
	// variables resolve to, so most entries are decided without expanding.
	// (Resolution still counts: an unresolvable NotResource entry must make
	// the statement not apply.)
	if prefix := pattern[:dollar]; indexWildcard(prefix) < 0 && !strings.HasPrefix(ev.resource, prefix) {
		return false, ev.resolvable(pattern)
	}
	p, escaped, ok := ev.expand(pattern, true)
	if !ok {
		return false, false
	}
	return iotPatternMatch(p, escaped, ev.resource), true
}

// iotPatternMatch matches s against an expanded pattern; an escaped one has
// its wildcards as fleetStar and fleetAny, so that * and ? are literal.
func iotPatternMatch(p string, escaped bool, s string) bool {
	if !escaped {
		return WildcardMatch(p, s, false)
	}
	var w wildcard
	compileWildcard(&w, p, fleetStar, fleetAny)
	return w.match(s)
}

// IoTPrincipal is what a connection is authorized as: its context and every
// policy that applies to it.
type IoTPrincipal struct {
	Context IoTAuthzContext
	// Policies are the certificate's policies and those of the resolved
	// thing's static groups and their ancestors, by name, each once.
	Policies []IoTPolicy
	// ThingName is the resolved thing, "" if none.
	ThingName string
	// ThingGroups are the thing's static groups and their ancestors, by
	// name (what to watch to invalidate the principal).
	ThingGroups []string
}

// iotLoadPage is the page size the loader lists with.
const iotLoadPage = 250

// LoadIoTPrincipal gathers what authorizes the certificate certID of scope
// s connecting as clientID from sourceIP. cert is the certificate the
// client presented; nil parses the stored one. The thing is resolved as AWS
// documents: the thing the certificate is exclusively attached to, else the
// thing named clientID when the certificate is attached to it, else none
// (the thing variables stay unresolved and its groups' policies do not
// apply). Policies are read at their default version; a document that no
// longer parses, or a policy deleted meanwhile, is skipped and grants
// nothing. An unknown certificate is ResourceNotFound.
func LoadIoTPrincipal(ctx context.Context, st Store, s Scope, certID, clientID string, cert *x509.Certificate, sourceIP netip.Addr) (IoTPrincipal, error) {
	stored, err := st.Certificate(ctx, s, certID)
	if err != nil {
		return IoTPrincipal{}, err
	}
	if cert == nil {
		cert, _ = ParseCertificatePEM("certificatePem", stored.PEM) // nil leaves the certificate variables unresolved
	}
	p := IoTPrincipal{Context: IoTAuthzContext{
		Scope: s, ClientID: clientID, CertificateID: certID, Certificate: cert, SourceIP: sourceIP,
	}}
	certARN := s.CertificateARN(certID)
	names, err := listAll(func(pg Page) ([]string, string, error) {
		return st.AttachedPolicies(ctx, s, certARN, false, pg)
	})
	if err != nil {
		return IoTPrincipal{}, err
	}
	thingName, err := resolveIoTThing(ctx, st, s, certARN, clientID)
	if err != nil {
		return IoTPrincipal{}, err
	}
	if thingName != "" {
		thing, err := st.Thing(ctx, s, thingName)
		switch {
		case ErrorCode(err) == CodeResourceNotFound:
			thingName = "" // deleted meanwhile
		case err != nil:
			return IoTPrincipal{}, err
		default:
			p.ThingName = thingName
			p.Context.Thing = &thing
			p.Context.ThingAttached = true
		}
	}
	if p.ThingName != "" {
		groups, groupPolicies, err := ThingGroupPolicies(ctx, st, s, p.ThingName)
		if err != nil {
			return IoTPrincipal{}, err
		}
		p.ThingGroups = groups
		names = append(names, groupPolicies...)
	}
	if p.Policies, err = LoadIoTPolicies(ctx, st, s, names); err != nil {
		return IoTPrincipal{}, err
	}
	return p, nil
}

// LoadIoTPolicies reads the named policies at their default versions,
// sorted by name and each once. Missing policies and documents that do not
// parse are skipped.
func LoadIoTPolicies(ctx context.Context, st Store, s Scope, names []string) ([]IoTPolicy, error) {
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	out := make([]IoTPolicy, 0, len(names))
	for _, name := range names {
		pol, err := st.Policy(ctx, s, name)
		if ErrorCode(err) == CodeResourceNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		doc, err := parseIoTPolicyCached(pol.Document)
		if err != nil {
			continue
		}
		out = append(out, IoTPolicy{Name: name, Document: doc})
	}
	return out, nil
}

// iotDocCache keeps parsed policy documents by their text, so that the
// devices of a fleet, which share a few policies, do not parse them on every
// connect. Parsed documents are never modified, so they are shared. When
// full it starts over, which bounds it without bookkeeping.
var iotDocCache struct {
	sync.Mutex
	docs map[string]*PolicyDocument
}

const (
	maxIoTDocCacheEntries = 1024
	maxIoTDocCacheText    = 16 << 10
)

func parseIoTPolicyCached(text string) (*PolicyDocument, error) {
	if len(text) > maxIoTDocCacheText {
		return ParsePolicyDocument(text)
	}
	iotDocCache.Lock()
	doc, ok := iotDocCache.docs[text]
	iotDocCache.Unlock()
	if ok {
		return doc, nil
	}
	doc, err := ParsePolicyDocument(text)
	if err != nil {
		return nil, err
	}
	iotDocCache.Lock()
	if iotDocCache.docs == nil || len(iotDocCache.docs) >= maxIoTDocCacheEntries {
		iotDocCache.docs = make(map[string]*PolicyDocument)
	}
	iotDocCache.docs[text] = doc
	iotDocCache.Unlock()
	return doc, nil
}

// resolveIoTThing names the thing a connection resolves to, "" for none.
// The store lets an exclusive attachment be the certificate's only one, so
// only a certificate attached to one thing can have one; a certificate
// attached to many things costs two small reads, not one per thing.
func resolveIoTThing(ctx context.Context, st Store, s Scope, certARN, clientID string) (string, error) {
	things, _, err := st.PrincipalThings(ctx, s, certARN, Page{Limit: 2})
	if err != nil {
		return "", err
	}
	if len(things) == 1 {
		typ, err := thingPrincipalType(ctx, st, s, things[0], certARN)
		if err != nil {
			return "", err
		}
		if typ == PrincipalExclusive {
			return things[0], nil
		}
	}
	switch {
	case clientID == "":
		return "", nil
	case slices.Contains(things, clientID):
		return clientID, nil
	case len(things) < 2:
		return "", nil // the certificate has no other thing
	}
	typ, err := thingPrincipalType(ctx, st, s, clientID, certARN)
	if err != nil || typ == "" {
		return "", err
	}
	return clientID, nil
}

// thingPrincipalType is how principal is attached to thing, "" when it is
// not (or the thing does not exist).
func thingPrincipalType(ctx context.Context, st Store, s Scope, thing, principal string) (string, error) {
	principals, err := listAll(func(pg Page) ([]ThingPrincipal, string, error) { return st.ThingPrincipals(ctx, s, thing, pg) })
	if ErrorCode(err) == CodeResourceNotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for _, tp := range principals {
		if tp.Principal == principal {
			if tp.Type == "" {
				return PrincipalNonExclusive, nil
			}
			return tp.Type, nil
		}
	}
	return "", nil
}

// ThingGroupPolicies returns a thing's static groups with their ancestors
// (sorted) and the names of the policies attached to any of them (unsorted,
// possibly repeated). A thing that does not exist has none.
func ThingGroupPolicies(ctx context.Context, st Store, s Scope, thing string) (groups, policies []string, err error) {
	direct, err := listAll(func(pg Page) ([]string, string, error) {
		return st.ThingGroupsForThing(ctx, s, thing, pg)
	})
	if ErrorCode(err) == CodeResourceNotFound {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, name := range direct {
		g, err := st.ThingGroup(ctx, s, name)
		if ErrorCode(err) == CodeResourceNotFound {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if g.Dynamic() {
			continue // policies attach to static groups only
		}
		groups = append(groups, g.Name)
		groups = append(groups, g.RootToParent...)
		names, err := listAll(func(pg Page) ([]string, string, error) {
			return st.AttachedPolicies(ctx, s, ThingGroupARN(s, g.Name), true, pg)
		})
		if ErrorCode(err) == CodeResourceNotFound {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		policies = append(policies, names...)
	}
	slices.Sort(groups)
	return slices.Compact(groups), policies, nil
}

// listAll pages through a listing, iotLoadPage items at a time.
func listAll[T any](list func(Page) ([]T, string, error)) ([]T, error) {
	var out []T
	pg := Page{Limit: iotLoadPage}
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

// AuthInfoActions maps TestAuthorization's ActionType enum to the policy
// actions it asks about.
var AuthInfoActions = map[string]string{
	"PUBLISH":   ActionIoTPublish,
	"SUBSCRIBE": ActionIoTSubscribe,
	"RECEIVE":   ActionIoTReceive,
	"CONNECT":   ActionIoTConnect,
}

// ParseAuthPrincipal reads the principal and cognitoIdentityPoolId members
// of TestAuthorization and GetEffectivePolicies: a certificate or thing
// group ARN of scope s, as its kind (TargetCertificate or TargetThingGroup)
// and id; kind is "" when neither member is given. Cognito identities are
// InvalidRequest: Warden keeps none.
func ParseAuthPrincipal(s Scope, principal, pool *string) (kind, id string, err error) {
	if pool != nil {
		return "", "", Errorf(CodeInvalidRequest, "Cognito identity pools are not supported by Warden; use a certificate ARN or a thing group ARN as the principal.")
	}
	if principal == nil {
		return "", "", nil
	}
	p := *principal
	if !strings.HasPrefix(p, "arn:") {
		return "", "", Errorf(CodeInvalidRequest,
			"The principal %s is not a certificate ARN or a thing group ARN; Cognito identities are not supported by Warden.", clip(p))
	}
	scope, kind, id, err := ParsePolicyTarget(p)
	if err != nil {
		return "", "", Errorf(CodeInvalidRequest,
			"The principal %s is not a certificate ARN (arn:aws:iot:region:account:cert/id) or a thing group ARN (arn:aws:iot:region:account:thinggroup/name).", clip(p))
	}
	if scope != s {
		what := "certificate"
		if kind == TargetThingGroup {
			what = "thing group"
		}
		return "", "", Errorf(CodeResourceNotFound, "The %s %s does not exist in account %s, region %s.", what, clip(p), s.Account, s.Region)
	}
	return kind, id, nil
}

// clip shortens a client's value for an error message.
func clip(s string) string {
	if len(s) > 256 {
		return s[:256] + "…"
	}
	return s
}

// CheckAuthInfoResources holds the resources of one TestAuthorization
// authInfo to what can be evaluated: at least one, each an IoT ARN.
func CheckAuthInfoResources(s Scope, resources []string) error {
	if len(resources) == 0 {
		return Errorf(CodeInvalidRequest, "Each authInfo needs at least one resource ARN.")
	}
	for _, r := range resources {
		if _, _, _, ok := ParseIoTARN(r); !ok {
			return Errorf(CodeInvalidRequest,
				"The resource %s is not an AWS IoT ARN such as arn:aws:iot:%s:%s:topic/my/topic.", clip(r), s.Region, s.Account)
		}
	}
	return nil
}

// PrincipalPolicyNames lists the policies attached to a principal of kind
// TargetCertificate or TargetThingGroup; a thing group's include its
// ancestors', a dynamic group has none. An unknown principal is
// ResourceNotFound.
func PrincipalPolicyNames(ctx context.Context, st Store, s Scope, kind, id string) ([]string, error) {
	switch kind {
	case TargetCertificate:
		if _, err := st.Certificate(ctx, s, id); err != nil {
			return nil, err
		}
	default:
		g, err := st.ThingGroup(ctx, s, id)
		if err != nil {
			return nil, err
		}
		if g.Dynamic() {
			return nil, nil // policies attach to static groups only
		}
	}
	return listAll(func(pg Page) ([]string, string, error) {
		return st.AttachedPolicies(ctx, s, s.IoTARN(kind+"/"+id), kind == TargetThingGroup, pg)
	})
}

// LoadIoTPoliciesToTest loads what TestAuthorization evaluates for the
// principal of kind and id (see ParseAuthPrincipal): a certificate as a
// connection with clientID would be (its thing and that thing's group
// policies included), a thing group as its policies and its ancestors'
// (ResourceNotFound if unknown). The policies named add (each must exist)
// are added, those named skip left out; each policy comes once, sorted by
// name, and one whose document no longer parses still answers, as saying
// nothing. No source IP is known, so aws:SourceIp conditions report it
// missing.
func LoadIoTPoliciesToTest(ctx context.Context, st Store, s Scope, kind, id, clientID string, add, skip []string) (IoTAuthzContext, []IoTPolicy, error) {
	actx := IoTAuthzContext{Scope: s, ClientID: clientID}
	var names []string
	if kind == TargetCertificate {
		pr, err := LoadIoTPrincipal(ctx, st, s, id, clientID, nil, netip.Addr{})
		if err != nil {
			return actx, nil, err
		}
		actx = pr.Context
		for _, pol := range pr.Policies {
			names = append(names, pol.Name)
		}
	} else {
		var err error
		if names, err = PrincipalPolicyNames(ctx, st, s, kind, id); err != nil {
			return actx, nil, err
		}
	}
	for _, name := range add {
		if _, err := st.Policy(ctx, s, name); err != nil {
			return actx, nil, err
		}
	}
	names = append(names, add...)
	names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(skip, n) })
	policies, err := LoadIoTPolicies(ctx, st, s, names)
	if err != nil {
		return actx, nil, err
	}
	for _, n := range names {
		if !slices.ContainsFunc(policies, func(p IoTPolicy) bool { return p.Name == n }) {
			if _, err := st.Policy(ctx, s, n); err == nil {
				policies = append(policies, IoTPolicy{Name: n})
			}
		}
	}
	slices.SortFunc(policies, func(a, b IoTPolicy) int { return strings.Compare(a.Name, b.Name) })
	return actx, slices.CompactFunc(policies, func(a, b IoTPolicy) bool { return a.Name == b.Name }), nil
}

// EffectivePolicyNames lists, sorted and each once, the policies
// GetEffectivePolicies answers: those of the principal of kind and id (see
// PrincipalPolicyNames; none when kind is ""), and with thingName those of
// the thing's static groups and their ancestors (ResourceNotFound for an
// unknown thing).
func EffectivePolicyNames(ctx context.Context, st Store, s Scope, kind, id, thingName string) ([]string, error) {
	var names []string
	if kind != "" {
		var err error
		if names, err = PrincipalPolicyNames(ctx, st, s, kind, id); err != nil {
			return nil, err
		}
	}
	if thingName != "" {
		if _, err := st.Thing(ctx, s, thingName); err != nil {
			return nil, err
		}
		_, groupPolicies, err := ThingGroupPolicies(ctx, st, s, thingName)
		if err != nil {
			return nil, err
		}
		names = append(names, groupPolicies...)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// AuthorizeIoTAll answers one TestAuthorization authInfo: action on every
// resource. A policy is listed as denying when it denies one resource, as
// allowing when it allows one and denies none, else as saying nothing (in
// the order of policies); the decision is an explicit deny when any
// resource is denied, allowed when every resource is allowed.
func AuthorizeIoTAll(policies []IoTPolicy, action string, resources []string, c *IoTAuthzContext) IoTDecision {
	state := make(map[string]string, len(policies)) // name → allowed, denied or ""
	anyDeny, allAllowed := false, true
	var missing []string
	for _, r := range resources {
		d := AuthorizeIoT(policies, action, r, c)
		switch d.Decision {
		case DecisionExplicitDeny:
			anyDeny = true
			allAllowed = false
		case DecisionImplicitDeny:
			allAllowed = false
		}
		for _, n := range d.ExplicitDeny {
			state[n] = DecisionExplicitDeny
		}
		for _, n := range d.Allowed {
			if state[n] == "" {
				state[n] = DecisionAllowed
			}
		}
		missing = append(missing, d.MissingContextValues...)
	}
	res := IoTDecision{Decision: DecisionImplicitDeny}
	switch {
	case anyDeny:
		res.Decision = DecisionExplicitDeny
	case allAllowed:
		res.Decision = DecisionAllowed
	}
	for _, p := range policies {
		switch state[p.Name] {
		case DecisionAllowed:
			res.Allowed = append(res.Allowed, p.Name)
		case DecisionExplicitDeny:
			res.ExplicitDeny = append(res.ExplicitDeny, p.Name)
		default:
			res.ImplicitDeny = append(res.ImplicitDeny, p.Name)
		}
	}
	slices.Sort(missing)
	res.MissingContextValues = append([]string{}, slices.Compact(missing)...)
	return res
}
