package broker

// TEMPORARY: stands in for warden.LoadIoTPrincipal and warden.AuthorizeIoT
// (branch h15-authz) until they land; replaced by aliases on merge.

import (
	"context"
	"crypto/x509"
	"net/netip"

	"github.com/warden-iot/warden"
)

type iotPrincipal struct {
	Context     warden.IoTAuthzContext
	Policies    []warden.IoTPolicy
	ThingName   string
	ThingGroups []string
}

func loadPrincipal(ctx context.Context, st warden.Store, s warden.Scope, certID, clientID string, cert *x509.Certificate, sourceIP netip.Addr) (iotPrincipal, error) {
	p := iotPrincipal{Context: warden.IoTAuthzContext{Scope: s, ClientID: clientID, CertificateID: certID, Certificate: cert, SourceIP: sourceIP}}
	names, _, err := st.AttachedPolicies(ctx, s, s.CertificateARN(certID), false, warden.Page{Limit: 100})
	if err != nil {
		return p, err
	}
	for _, n := range names {
		pol, err := st.Policy(ctx, s, n)
		if err != nil {
			continue
		}
		doc, err := warden.ParsePolicyDocument(pol.Document)
		if err != nil {
			continue
		}
		p.Policies = append(p.Policies, warden.IoTPolicy{Name: n, Document: doc})
	}
	return p, nil
}

func authorizeIoT(policies []warden.IoTPolicy, action, resource string, c *warden.IoTAuthzContext) warden.IoTDecision {
	d := warden.IoTDecision{Decision: warden.DecisionImplicitDeny}
	for _, p := range policies {
		for i := range p.Document.Statements {
			st := &p.Document.Statements[i]
			if st.MatchesAction(action) && st.MatchesResource(resource) {
				if st.Effect == warden.EffectDeny {
					d.Decision = warden.DecisionExplicitDeny
					return d
				}
				d.Decision = warden.DecisionAllowed
			}
		}
	}
	return d
}
