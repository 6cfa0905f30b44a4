package warden

// BulkBatch is a set of NEW registry resources that a store writes in one
// transaction, with the same rows (ids, ARNs, generation ids, change-log
// documents) as the API's one-at-a-time operations would have written. It is
// for generated fleets (demos, tests, benchmarks): every relationship it holds
// must refer to resources created in the same batch, or to thing groups,
// policies and CA certificates that already exist, so that its checks stay
// cheap. Any member may be empty.
type BulkBatch struct {
	// ThingGroups are new static root groups (no parent, no query).
	ThingGroups []ThingGroup
	// Policies are new policies whose Document becomes version 1, the
	// default; GenerationID is made when empty.
	Policies []Policy
	// Things are new things (ID and dates set by the caller, version 1).
	Things []Thing
	// Memberships put things of this batch into existing static groups or
	// groups of this batch.
	Memberships []BulkMembership
	// Certificates are new device certificates. One with a CACertificateID
	// is recorded as RegisterCertificate and takes that CA's certificate
	// mode; the CA must be registered in the scope and ACTIVE. The caller
	// vouches that the CA signed it. One without is recorded as
	// RegisterCertificateWithoutCA.
	Certificates []Certificate
	// Principals attach certificates of this batch to things of this batch.
	Principals []BulkPrincipal
	// PolicyTargets attach policies (existing or of this batch) to
	// certificates of this batch.
	PolicyTargets []BulkPolicyTarget
}

// BulkMembership puts Thing in the static thing group Group.
type BulkMembership struct{ Thing, Group string }

// BulkPrincipal attaches the device certificate CertificateID to Thing;
// Type is a thing principal type ("" = NON_EXCLUSIVE_THING).
type BulkPrincipal struct{ Thing, CertificateID, Type string }

// BulkPolicyTarget attaches Policy to the device certificate CertificateID.
type BulkPolicyTarget struct{ Policy, CertificateID string }

// BulkNames are the names of the resources a batch creates (certificates
// by id).
type BulkNames struct {
	ThingGroups, Policies, Things, Certificates map[string]bool
}

func bulkInvalid(format string, args ...any) error {
	return Errorf(CodeInvalidRequest, format, args...)
}

// Check applies the rules that need nothing stored: only static root groups,
// no resource twice in the batch, attribute counts, policy documents that
// parse, and relationships only among the batch's own things and
// certificates, each at most once, with AttachThingPrincipal's and
// AttachPolicy's limits. It fills in what creation sets: version 1, cleaned
// attributes, a policy's default version and generation id, a principal's
// default type. The store then checks what the batch refers to.
func (b *BulkBatch) Check(s Scope) (*BulkNames, error) {
	n := &BulkNames{ThingGroups: map[string]bool{}, Policies: map[string]bool{}, Things: map[string]bool{}, Certificates: map[string]bool{}}
	for i := range b.ThingGroups {
		g := &b.ThingGroups[i]
		if g.ParentName != "" || g.Query != nil {
			return nil, bulkInvalid("Bulk insert creates static root thing groups only; %s has a parent or a query.", g.Name)
		}
		if n.ThingGroups[g.Name] {
			return nil, bulkInvalid("Thing group %s appears twice in the batch.", g.Name)
		}
		g.Attributes = CleanAttributes(g.Attributes)
		if err := CheckThingGroupAttributeCount(g.Attributes); err != nil {
			return nil, err
		}
		g.Version = 1
		n.ThingGroups[g.Name] = true
	}
	parsed := map[string]bool{}
	for i := range b.Policies {
		p := &b.Policies[i]
		if n.Policies[p.Name] {
			return nil, bulkInvalid("Policy %s appears twice in the batch.", p.Name)
		}
		if !parsed[p.Document] {
			if _, err := ParsePolicyDocument(p.Document); err != nil {
				return nil, err
			}
			parsed[p.Document] = true
		}
		p.DefaultVersionID = "1"
		if p.GenerationID == "" {
			p.GenerationID = NewPolicyGenerationID()
		}
		n.Policies[p.Name] = true
	}
	for i := range b.Things {
		t := &b.Things[i]
		if n.Things[t.Name] {
			return nil, bulkInvalid("Thing %s appears twice in the batch.", t.Name)
		}
		t.Attributes = CleanAttributes(t.Attributes)
		if err := CheckThingAttributeCount(t.TypeName, t.Attributes); err != nil {
			return nil, err
		}
		t.Version = 1
		n.Things[t.Name] = true
	}
	for _, m := range b.Memberships {
		if !n.Things[m.Thing] {
			return nil, bulkInvalid("Membership of thing %s: bulk insert adds only things created in the same batch to groups.", m.Thing)
		}
	}
	for i := range b.Certificates {
		c := &b.Certificates[i]
		if n.Certificates[c.ID] {
			return nil, bulkInvalid("Certificate %s appears twice in the batch.", c.ID)
		}
		n.Certificates[c.ID] = true
	}
	if err := b.checkPrincipals(n); err != nil {
		return nil, err
	}
	return n, b.checkPolicyTargets(s, n)
}

// checkPrincipals applies AttachThingPrincipal's rules to new things and
// certificates: an exclusive attachment must be the certificate's only one.
func (b *BulkBatch) checkPrincipals(n *BulkNames) error {
	attached := map[string][]PrincipalAttachment{}
	for i := range b.Principals {
		p := &b.Principals[i]
		if p.Type == "" {
			p.Type = PrincipalNonExclusive
		}
		if p.Type != PrincipalNonExclusive && p.Type != PrincipalExclusive {
			return bulkInvalid("Unknown thing principal type %s.", p.Type)
		}
		if !n.Things[p.Thing] || !n.Certificates[p.CertificateID] {
			return bulkInvalid("Principal %s of thing %s: bulk insert attaches only certificates and things created in the same batch.",
				p.CertificateID, p.Thing)
		}
		current, err := CheckAttachThingPrincipal(p.CertificateID, p.Thing, p.Type, attached[p.CertificateID])
		if err != nil {
			return err
		}
		if current != "" {
			return bulkInvalid("Certificate %s is attached to thing %s twice.", p.CertificateID, p.Thing)
		}
		attached[p.CertificateID] = append(attached[p.CertificateID], PrincipalAttachment{p.Thing, p.Type})
	}
	return nil
}

// checkPolicyTargets applies AttachPolicy's rules that need nothing stored:
// a certificate of the batch has each policy once and at most
// MaxPoliciesPerTarget policies.
func (b *BulkBatch) checkPolicyTargets(s Scope, n *BulkNames) error {
	perCert := map[string]int{}
	seen := map[BulkPolicyTarget]bool{}
	for _, t := range b.PolicyTargets {
		if !n.Certificates[t.CertificateID] {
			return bulkInvalid("Policy %s target %s: bulk insert attaches policies only to certificates created in the same batch.",
				t.Policy, t.CertificateID)
		}
		if seen[t] {
			return bulkInvalid("Policy %s is attached to certificate %s twice.", t.Policy, t.CertificateID)
		}
		seen[t] = true
		if perCert[t.CertificateID]++; perCert[t.CertificateID] > MaxPoliciesPerTarget {
			return Errorf(CodeLimitExceeded,
				"The target %s would have more than the maximum of %d policies attached.", s.CertificateARN(t.CertificateID), MaxPoliciesPerTarget)
		}
	}
	return nil
}

// CheckMemberships applies AddThingToThingGroup's rules (JoinStaticGroup)
// to the batch's memberships, whose things are all new: groups holds every
// group they name that exists, the batch's own included.
func (b *BulkBatch) CheckMemberships(groups map[string]GroupMembership) error {
	joined := map[string][]GroupMembership{}
	for _, m := range b.Memberships {
		g, ok := groups[m.Group]
		if !ok {
			return bulkInvalid("The thing group %s does not exist.", m.Group)
		}
		member, _, err := JoinStaticGroup(m.Thing, joined[m.Thing], g, false)
		if err != nil {
			return err
		}
		if member {
			return bulkInvalid("Thing %s is added to thing group %s twice.", m.Thing, m.Group)
		}
		joined[m.Thing] = append(joined[m.Thing], g)
	}
	return nil
}
