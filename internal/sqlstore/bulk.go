package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

// BulkBatch is a set of NEW registry resources that BulkInsert writes in one
// transaction, with the same rows (ids, ARNs, generation ids, change-log
// documents) as the API's one-at-a-time operations would have written. It is
// for generated fleets (demos, tests, benchmarks): every relationship it holds
// must refer to resources created in the same batch, or to thing groups,
// policies and CA certificates that already exist, so that its checks stay
// cheap. Any member may be empty.
type BulkBatch struct {
	// ThingGroups are new static root groups (no parent, no query).
	ThingGroups []warden.ThingGroup
	// Policies are new policies whose Document becomes version 1, the
	// default; GenerationID is made when empty.
	Policies []warden.Policy
	// Things are new things (ID and dates set by the caller, version 1).
	Things []warden.Thing
	// Memberships put things of this batch into existing static groups or
	// groups of this batch.
	Memberships []BulkMembership
	// Certificates are new device certificates. One with a CACertificateID
	// is recorded as RegisterCertificate and takes that CA's certificate
	// mode; the CA must be registered in the scope and ACTIVE. The caller
	// vouches that the CA signed it. One without is recorded as
	// RegisterCertificateWithoutCA.
	Certificates []warden.Certificate
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

// bulkMaxParams bounds the parameters of one multi-row INSERT: SQLite
// allows 32766, PostgreSQL 65535.
const bulkMaxParams = 32000

// bulkChange is one change-log row to write.
type bulkChange struct {
	arn, operation string
	before, after  any
}

// BulkInsert writes b in one transaction, with one change-log row for every
// mutation the equivalent API calls would have logged (CreateThingGroup,
// CreatePolicy, CreateThing, AddThingToThingGroup, RegisterCertificate,
// AttachThingPrincipal, AttachPolicy), attributed to the context's actor. The
// new things also join the scope's dynamic groups whose queries they match,
// as CreateThing does. Every check runs inside the transaction; on any error
// nothing is written. It returns how many change-log rows it wrote.
func (db *DB) BulkInsert(ctx context.Context, s warden.Scope, b *BulkBatch, now time.Time) (_ int, err error) {
	defer wrapErr(&err, "BulkInsert(%v)", s)
	changes := 0
	err = db.inTx(ctx, func(tx writeTx) error {
		var err error
		changes, err = bulkInsertTx(ctx, tx, s, b, now)
		return err
	})
	if err != nil {
		return 0, err
	}
	return changes, nil
}

func bulkInsertTx(ctx context.Context, tx writeTx, s warden.Scope, b *BulkBatch, now time.Time) (int, error) {
	groups, err := bulkCheckGroups(ctx, tx, s, b)
	if err != nil {
		return 0, err
	}
	policies, err := bulkCheckPolicies(ctx, tx, s, b)
	if err != nil {
		return 0, err
	}
	things, err := bulkCheckThings(ctx, tx, s, b)
	if err != nil {
		return 0, err
	}
	if err := bulkCheckMemberships(ctx, tx, s, b, things, groups); err != nil {
		return 0, err
	}
	certs, err := bulkCheckCertificates(ctx, tx, s, b)
	if err != nil {
		return 0, err
	}
	if err := bulkCheckPrincipals(b, things, certs); err != nil {
		return 0, err
	}
	if err := bulkCheckPolicyTargets(ctx, tx, s, b, policies, certs); err != nil {
		return 0, err
	}

	var log []bulkChange
	acct, reg, at := s.Account, s.Region, millis(now)

	// Thing groups: the row, the closure row of the group with itself.
	if err := bulkInsertRows(ctx, tx, `thing_groups (account, region, name, id, parent_name, root_name, depth, description,
		attributes, dynamic, index_name, query_string, query_version, status, version, created_at, updated_at)`, 17, len(b.ThingGroups),
		func(i int, args []any) ([]any, error) {
			g := &b.ThingGroups[i]
			attrs, err := encodeThingAttributes(g.Attributes)
			return append(args, acct, reg, g.Name, g.ID, "", g.Name, 1, g.Description, attrs, 0, "", "", "", "", g.Version,
				millis(g.CreationDate), millis(g.LastModifiedDate)), err
		}); err != nil {
		return 0, err
	}
	if err := bulkInsertRows(ctx, tx, `thing_group_ancestors (account, region, ancestor, descendant, distance)`, 5, len(b.ThingGroups),
		func(i int, args []any) ([]any, error) {
			return append(args, acct, reg, b.ThingGroups[i].Name, b.ThingGroups[i].Name, 0), nil
		}); err != nil {
		return 0, err
	}
	for i := range b.ThingGroups {
		g := &b.ThingGroups[i]
		log = append(log, bulkChange{g.ARN(s), "CreateThingGroup", nil, docOfThingGroup(g)})
	}

	// Policies and their version 1.
	if err := bulkInsertRows(ctx, tx, `policies (account, region, name, default_version, next_version, generation_id, created_at, updated_at)`,
		8, len(b.Policies), func(i int, args []any) ([]any, error) {
			p := &b.Policies[i]
			return append(args, acct, reg, p.Name, 1, 2, p.GenerationID, millis(p.CreationDate), millis(p.LastModifiedDate)), nil
		}); err != nil {
		return 0, err
	}
	if err := bulkInsertRows(ctx, tx, `policy_versions (account, region, policy_name, version, document, created_at, updated_at)`,
		7, len(b.Policies), func(i int, args []any) ([]any, error) {
			p := &b.Policies[i]
			return append(args, acct, reg, p.Name, 1, p.Document, millis(p.CreationDate), millis(p.LastModifiedDate)), nil
		}); err != nil {
		return 0, err
	}
	for i := range b.Policies {
		p := &b.Policies[i]
		log = append(log, bulkChange{p.ARN(s), "CreatePolicy", nil, policyChange{DefaultVersionID: "1", PolicyDocument: p.Document}})
	}

	// Things and the attribute index.
	if err := bulkInsertRows(ctx, tx, `things (account, region, name, id, thing_type_name, attributes, version, created_at, updated_at)`,
		9, len(b.Things), func(i int, args []any) ([]any, error) {
			t := &b.Things[i]
			attrs, err := encodeThingAttributes(t.Attributes)
			return append(args, acct, reg, t.Name, t.ID, t.TypeName, attrs, t.Version, millis(t.CreationDate), millis(t.LastModifiedDate)), err
		}); err != nil {
		return 0, err
	}
	type attrRow struct{ thing, name, value string }
	var attrRows []attrRow
	for i := range b.Things {
		t := &b.Things[i]
		for _, k := range sortedThingAttributeNames(t.Attributes) {
			attrRows = append(attrRows, attrRow{t.Name, k, t.Attributes[k]})
		}
		log = append(log, bulkChange{t.ARN(s), "CreateThing", nil, docOfThing(t)})
	}
	if err := bulkInsertRows(ctx, tx, `thing_attributes (account, region, thing_name, attr_name, attr_value)`, 5, len(attrRows),
		func(i int, args []any) ([]any, error) {
			r := &attrRows[i]
			return append(args, acct, reg, r.thing, r.name, r.value), nil
		}); err != nil {
		return 0, err
	}

	// Static memberships.
	if err := bulkInsertRows(ctx, tx, `thing_group_members (account, region, group_name, thing_name, dynamic, created_at)`, 6,
		len(b.Memberships), func(i int, args []any) ([]any, error) {
			m := &b.Memberships[i]
			return append(args, acct, reg, m.Group, m.Thing, 0, at), nil
		}); err != nil {
		return 0, err
	}
	for _, m := range b.Memberships {
		log = append(log, bulkChange{warden.ThingARN(s, m.Thing), "AddThingToThingGroup", nil, thingMembershipDoc{ThingGroupName: m.Group}})
	}

	// Device certificates, as insertCertificate writes them.
	if err := bulkInsertRows(ctx, tx, `certificates (account, region, id, status, pem, ca_certificate_id,
		certificate_mode, customer_version, generation_id, not_before, not_after, created_at, updated_at, subject, issuer,
		serial, key_algorithm, key_size, signature_algorithm, public_key, public_key_sha256, crl_distribution_points)`, 22,
		len(b.Certificates), func(i int, args []any) ([]any, error) {
			c := &b.Certificates[i]
			f := &c.Facts
			return append(args, acct, reg, c.ID, c.Status, c.PEM, c.CACertificateID, c.Mode, c.CustomerVersion, c.GenerationID,
				millis(c.NotBefore), millis(c.NotAfter), millis(c.CreationDate), millis(c.LastModifiedDate), f.Subject, f.Issuer,
				f.Serial, f.KeyAlgorithm, f.KeySize, f.SignatureAlgorithm, base64.StdEncoding.EncodeToString(f.PublicKey),
				f.PublicKeySHA256, certEncodeCRLs(f)), nil
		}); err != nil {
		return 0, err
	}
	for i := range b.Certificates {
		c := &b.Certificates[i]
		op := "RegisterCertificate"
		if c.CACertificateID == "" {
			op = "RegisterCertificateWithoutCA"
		}
		log = append(log, bulkChange{s.CertificateARN(c.ID), op, nil,
			certState{Status: c.Status, CACertificateID: c.CACertificateID, CertificateMode: c.Mode}})
	}

	// Certificates attached to things.
	if err := bulkInsertRows(ctx, tx, `thing_principals (account, region, thing_name, principal, created_at, thing_principal_type)`, 6,
		len(b.Principals), func(i int, args []any) ([]any, error) {
			p := &b.Principals[i]
			return append(args, acct, reg, p.Thing, s.CertificateARN(p.CertificateID), at, p.Type), nil
		}); err != nil {
		return 0, err
	}
	for _, p := range b.Principals {
		log = append(log, bulkChange{warden.ThingARN(s, p.Thing), "AttachThingPrincipal", nil,
			principalState{Principal: s.CertificateARN(p.CertificateID), ThingPrincipalType: p.Type}})
	}

	// Policies attached to certificates.
	if err := bulkInsertRows(ctx, tx, `policy_targets (account, region, policy_name, target, created_at)`, 5, len(b.PolicyTargets),
		func(i int, args []any) ([]any, error) {
			t := &b.PolicyTargets[i]
			return append(args, acct, reg, t.Policy, s.CertificateARN(t.CertificateID), at), nil
		}); err != nil {
		return 0, err
	}
	for _, t := range b.PolicyTargets {
		log = append(log, bulkChange{warden.PolicyARN(s, t.Policy), "AttachPolicy", nil, policyAttachment{Target: s.CertificateARN(t.CertificateID)}})
	}

	actor := warden.ActorFrom(ctx)
	if err := bulkInsertRows(ctx, tx, `change_log (account, region, resource_arn, operation, before_doc, after_doc, actor, at)`, 8,
		len(log), func(i int, args []any) ([]any, error) {
			c := &log[i]
			before, err := bulkDoc(c.before)
			if err != nil {
				return nil, err
			}
			after, err := bulkDoc(c.after)
			return append(args, acct, reg, c.arn, c.operation, before, after, actor, at), err
		}); err != nil {
		return 0, err
	}
	dynamic, err := bulkSyncDynamicGroups(ctx, tx, s, b, now)
	return len(log) + dynamic, err
}

// bulkDoc is logChange's JSON document of v ("" for nil).
func bulkDoc(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	out, err := json.Marshal(v)
	return string(out), err
}

// bulkSyncDynamicGroups lets the new things join the dynamic groups they
// match, as CreateThing does, and returns how many change-log rows that wrote.
// A scope without dynamic groups costs one query.
func bulkSyncDynamicGroups(ctx context.Context, tx writeTx, s warden.Scope, b *BulkBatch, now time.Time) (int, error) {
	if len(b.Things) == 0 {
		return 0, nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM thing_groups WHERE account = ? AND region = ? AND dynamic = 1`,
		s.Account, s.Region).Scan(&n); err != nil || n == 0 {
		return 0, err
	}
	var before, after int64
	const lastSeq = `SELECT COALESCE(MAX(seq), 0) FROM change_log`
	if err := tx.QueryRowContext(ctx, lastSeq).Scan(&before); err != nil {
		return 0, err
	}
	for i := range b.Things {
		if err := syncThingDynamicGroups(ctx, tx, s, &b.Things[i], now); err != nil {
			return 0, err
		}
	}
	if err := tx.QueryRowContext(ctx, lastSeq).Scan(&after); err != nil {
		return 0, err
	}
	return int(after - before), nil
}

// bulkInsertRows inserts n rows into table ("name (columns)") with as many
// rows per INSERT statement as bulkMaxParams allows; row appends the i-th
// row's ncols values to args.
func bulkInsertRows(ctx context.Context, tx writeTx, table string, ncols, n int, row func(i int, args []any) ([]any, error)) error {
	per := max(1, bulkMaxParams/ncols)
	one := "(" + strings.Repeat("?, ", ncols-1) + "?)"
	for start := 0; start < n; start += per {
		end := min(n, start+per)
		var q strings.Builder
		q.Grow(len(table) + 20 + (end-start)*(len(one)+2))
		q.WriteString("INSERT INTO ")
		q.WriteString(table)
		q.WriteString(" VALUES ")
		args := make([]any, 0, (end-start)*ncols)
		for i := start; i < end; i++ {
			if i > start {
				q.WriteString(", ")
			}
			q.WriteString(one)
			var err error
			if args, err = row(i, args); err != nil {
				return err
			}
			if len(args) != (i-start+1)*ncols {
				return fmt.Errorf("bulk insert into %s: row %d has %d values, want %d", table, i, len(args)-(i-start)*ncols, ncols)
			}
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// bulkExisting returns the first of keys that query (which ends in
// "... IN " and selects the key column) finds in scope s, or "".
func bulkExisting(ctx context.Context, tx writeTx, s warden.Scope, query string, keys []string) (string, error) {
	const chunk = 500
	for start := 0; start < len(keys); start += chunk {
		part := keys[start:min(len(keys), start+chunk)]
		args := make([]any, 0, len(part)+2)
		args = append(args, s.Account, s.Region)
		for _, k := range part {
			args = append(args, k)
		}
		var found string
		err := tx.QueryRowContext(ctx, query+"("+strings.Repeat("?, ", len(part)-1)+"?) LIMIT 1", args...).Scan(&found)
		if err == nil {
			return found, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", err
		}
	}
	return "", nil
}

func bulkInvalid(format string, args ...any) error {
	return warden.Errorf(warden.CodeInvalidRequest, format, args...)
}

// bulkGroup is what the membership rules need of a static group.
type bulkGroup struct {
	root    string
	dynamic bool
}

func bulkCheckGroups(ctx context.Context, tx writeTx, s warden.Scope, b *BulkBatch) (map[string]bulkGroup, error) {
	groups := make(map[string]bulkGroup, len(b.ThingGroups))
	names := make([]string, 0, len(b.ThingGroups))
	for i := range b.ThingGroups {
		g := &b.ThingGroups[i]
		if g.ParentName != "" || g.Query != nil {
			return nil, bulkInvalid("Bulk insert creates static root thing groups only; %s has a parent or a query.", g.Name)
		}
		if _, dup := groups[g.Name]; dup {
			return nil, bulkInvalid("Thing group %s appears twice in the batch.", g.Name)
		}
		g.Attributes = warden.CleanAttributes(g.Attributes)
		if err := warden.CheckThingGroupAttributeCount(g.Attributes); err != nil {
			return nil, err
		}
		g.Version = 1
		groups[g.Name] = bulkGroup{root: g.Name}
		names = append(names, g.Name)
	}
	found, err := bulkExisting(ctx, tx, s, `SELECT name FROM thing_groups WHERE account = ? AND region = ? AND name IN `, names)
	if err != nil {
		return nil, err
	}
	if found != "" {
		return nil, &warden.Error{Code: warden.CodeResourceAlreadyExists,
			Message: fmt.Sprintf("Thing group %s already exists.", found), ResourceArn: warden.ThingGroupARN(s, found)}
	}
	return groups, nil
}

func bulkCheckPolicies(ctx context.Context, tx writeTx, s warden.Scope, b *BulkBatch) (map[string]bool, error) {
	policies := make(map[string]bool, len(b.Policies))
	names := make([]string, 0, len(b.Policies))
	parsed := map[string]bool{}
	for i := range b.Policies {
		p := &b.Policies[i]
		if policies[p.Name] {
			return nil, bulkInvalid("Policy %s appears twice in the batch.", p.Name)
		}
		if !parsed[p.Document] {
			if _, err := warden.ParsePolicyDocument(p.Document); err != nil {
				return nil, err
			}
			parsed[p.Document] = true
		}
		p.DefaultVersionID = "1"
		if p.GenerationID == "" {
			p.GenerationID = newPolicyGenerationID()
		}
		policies[p.Name] = true
		names = append(names, p.Name)
	}
	found, err := bulkExisting(ctx, tx, s, `SELECT name FROM policies WHERE account = ? AND region = ? AND name IN `, names)
	if err != nil {
		return nil, err
	}
	if found != "" {
		return nil, &warden.Error{Code: warden.CodeResourceAlreadyExists,
			Message: fmt.Sprintf("Policy %s already exists.", found), ResourceID: found, ResourceArn: warden.PolicyARN(s, found)}
	}
	return policies, nil
}

func bulkCheckThings(ctx context.Context, tx writeTx, s warden.Scope, b *BulkBatch) (map[string]bool, error) {
	things := make(map[string]bool, len(b.Things))
	names := make([]string, 0, len(b.Things))
	for i := range b.Things {
		t := &b.Things[i]
		if things[t.Name] {
			return nil, bulkInvalid("Thing %s appears twice in the batch.", t.Name)
		}
		t.Attributes = warden.CleanAttributes(t.Attributes)
		if err := warden.CheckThingAttributeCount(t.TypeName, t.Attributes); err != nil {
			return nil, err
		}
		t.Version = 1
		things[t.Name] = true
		names = append(names, t.Name)
	}
	found, err := bulkExisting(ctx, tx, s, `SELECT name FROM things WHERE account = ? AND region = ? AND name IN `, names)
	if err != nil {
		return nil, err
	}
	if found != "" {
		return nil, &warden.Error{Code: warden.CodeResourceAlreadyExists,
			Message: fmt.Sprintf("Thing %s already exists.", found), ResourceArn: warden.ThingARN(s, found)}
	}
	return things, nil
}

// bulkCheckMemberships applies AddThingToThingGroup's rules to the new
// things: static groups only, at most one group per hierarchy, at most
// MaxGroupsPerThing groups.
func bulkCheckMemberships(ctx context.Context, tx writeTx, s warden.Scope, b *BulkBatch, things map[string]bool, groups map[string]bulkGroup) error {
	known := make(map[string]bulkGroup, len(groups))
	for k, v := range groups {
		known[k] = v
	}
	var lookup []string
	for _, m := range b.Memberships {
		if _, ok := known[m.Group]; !ok {
			known[m.Group] = bulkGroup{} // placeholder, filled below
			lookup = append(lookup, m.Group)
		}
	}
	for start := 0; start < len(lookup); start += 500 {
		part := lookup[start:min(len(lookup), start+500)]
		args := []any{s.Account, s.Region}
		for _, g := range part {
			args = append(args, g)
		}
		rows, err := tx.QueryContext(ctx, `SELECT name, root_name, dynamic FROM thing_groups WHERE account = ? AND region = ? AND name IN (`+
			strings.Repeat("?, ", len(part)-1)+"?)", args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var name string
			var g bulkGroup
			var dynamic int
			if err := rows.Scan(&name, &g.root, &dynamic); err != nil {
				rows.Close()
				return err
			}
			g.dynamic = dynamic != 0
			known[name] = g
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	type thingState struct {
		count int
		roots map[string]string // root → group
	}
	state := map[string]*thingState{}
	for _, m := range b.Memberships {
		if !things[m.Thing] {
			return bulkInvalid("Membership of thing %s: bulk insert adds only things created in the same batch to groups.", m.Thing)
		}
		g := known[m.Group]
		switch {
		case g.root == "":
			return bulkInvalid("The thing group %s does not exist.", m.Group)
		case g.dynamic:
			return bulkInvalid("Cannot add thing %s to dynamic thing group %s: its query decides its members.", m.Thing, m.Group)
		}
		st := state[m.Thing]
		if st == nil {
			st = &thingState{roots: map[string]string{}}
			state[m.Thing] = st
		}
		if other, ok := st.roots[g.root]; ok {
			if other == m.Group {
				return bulkInvalid("Thing %s is added to thing group %s twice.", m.Thing, m.Group)
			}
			return bulkInvalid("Thing %s would be in thing groups %s and %s, which are in the same hierarchy (root %s); a thing can be in only one group of a hierarchy.",
				m.Thing, other, m.Group, g.root)
		}
		st.roots[g.root] = m.Group
		if st.count++; st.count > warden.MaxGroupsPerThing {
			return bulkInvalid("Thing %s would be in more than %d thing groups.", m.Thing, warden.MaxGroupsPerThing)
		}
	}
	return nil
}

// bulkCheckCertificates checks that the certificates are new and that their
// CA certificates are registered and ACTIVE, and gives them the CA's mode.
func bulkCheckCertificates(ctx context.Context, tx writeTx, s warden.Scope, b *BulkBatch) (map[string]bool, error) {
	certs := make(map[string]bool, len(b.Certificates))
	ids := make([]string, 0, len(b.Certificates))
	cas := map[string]string{} // id → mode
	for i := range b.Certificates {
		c := &b.Certificates[i]
		if certs[c.ID] {
			return nil, bulkInvalid("Certificate %s appears twice in the batch.", c.ID)
		}
		certs[c.ID] = true
		ids = append(ids, c.ID)
		if c.CACertificateID == "" {
			continue
		}
		mode, ok := cas[c.CACertificateID]
		if !ok {
			var status string
			err := tx.QueryRowContext(ctx, `SELECT status, certificate_mode FROM ca_certificates WHERE account = ? AND region = ? AND id = ?`,
				s.Account, s.Region, c.CACertificateID).Scan(&status, &mode)
			if errors.Is(err, sql.ErrNoRows) {
				return nil, warden.Errorf(warden.CodeCertificateValidation, "The CA certificate %s is not registered.", c.CACertificateID)
			}
			if err != nil {
				return nil, err
			}
			if status != warden.CertActive {
				return nil, warden.Errorf(warden.CodeCertificateValidation,
					"The CA certificate %s is %s; it must be ACTIVE to register certificates it signed.", c.CACertificateID, status)
			}
			cas[c.CACertificateID] = mode
		}
		c.Mode = mode
	}
	found, err := bulkExisting(ctx, tx, s, `SELECT id FROM certificates WHERE account = ? AND region = ? AND id IN `, ids)
	if err != nil {
		return nil, err
	}
	if found != "" {
		return nil, &warden.Error{Code: warden.CodeResourceAlreadyExists,
			Message: fmt.Sprintf("The certificate %s is already registered.", found), ResourceID: found, ResourceArn: s.CertificateARN(found)}
	}
	return certs, nil
}

// bulkCheckPrincipals applies AttachThingPrincipal's rules to new things and
// certificates: an exclusive attachment must be the certificate's only one.
func bulkCheckPrincipals(b *BulkBatch, things, certs map[string]bool) error {
	perCert := map[string][]int{}
	seen := map[BulkPrincipal]bool{}
	for i := range b.Principals {
		p := &b.Principals[i]
		if p.Type == "" {
			p.Type = warden.PrincipalNonExclusive
		}
		if p.Type != warden.PrincipalNonExclusive && p.Type != warden.PrincipalExclusive {
			return bulkInvalid("Unknown thing principal type %s.", p.Type)
		}
		if !things[p.Thing] || !certs[p.CertificateID] {
			return bulkInvalid("Principal %s of thing %s: bulk insert attaches only certificates and things created in the same batch.",
				p.CertificateID, p.Thing)
		}
		key := BulkPrincipal{Thing: p.Thing, CertificateID: p.CertificateID}
		if seen[key] {
			return bulkInvalid("Certificate %s is attached to thing %s twice.", p.CertificateID, p.Thing)
		}
		seen[key] = true
		perCert[p.CertificateID] = append(perCert[p.CertificateID], i)
	}
	for id, idx := range perCert {
		if len(idx) < 2 {
			continue
		}
		for _, i := range idx {
			if b.Principals[i].Type == warden.PrincipalExclusive {
				return bulkInvalid("The principal %s is attached exclusively to thing %s and cannot be attached to other things.",
					id, b.Principals[i].Thing)
			}
		}
	}
	return nil
}

// bulkCheckPolicyTargets applies AttachPolicy's rules: the policy exists and
// a certificate has at most MaxPoliciesPerTarget policies.
func bulkCheckPolicyTargets(ctx context.Context, tx writeTx, s warden.Scope, b *BulkBatch, policies, certs map[string]bool) error {
	var lookup []string
	asked := map[string]bool{}
	for _, t := range b.PolicyTargets {
		if !policies[t.Policy] && !asked[t.Policy] {
			asked[t.Policy] = true
			lookup = append(lookup, t.Policy)
		}
	}
	exists := map[string]bool{}
	for start := 0; start < len(lookup); start += 500 {
		part := lookup[start:min(len(lookup), start+500)]
		args := []any{s.Account, s.Region}
		for _, p := range part {
			args = append(args, p)
		}
		found, err := certStrings(ctx, tx, `SELECT name FROM policies WHERE account = ? AND region = ? AND name IN (`+
			strings.Repeat("?, ", len(part)-1)+"?)", args...)
		if err != nil {
			return err
		}
		for _, p := range found {
			exists[p] = true
		}
	}
	perCert := map[string]int{}
	seen := map[BulkPolicyTarget]bool{}
	for _, t := range b.PolicyTargets {
		if !policies[t.Policy] && !exists[t.Policy] {
			return policyNotFound(t.Policy)
		}
		if !certs[t.CertificateID] {
			return bulkInvalid("Policy %s target %s: bulk insert attaches policies only to certificates created in the same batch.",
				t.Policy, t.CertificateID)
		}
		if seen[t] {
			return bulkInvalid("Policy %s is attached to certificate %s twice.", t.Policy, t.CertificateID)
		}
		seen[t] = true
		if perCert[t.CertificateID]++; perCert[t.CertificateID] > warden.MaxPoliciesPerTarget {
			return warden.Errorf(warden.CodeLimitExceeded,
				"The target %s would have more than the maximum of %d policies attached.", s.CertificateARN(t.CertificateID), warden.MaxPoliciesPerTarget)
		}
	}
	return nil
}

// TuneForBulk sizes the writer connection for a process that bulk-inserts,
// such as `warden fleet generate`: a page cache of cacheMiB, so that a
// batch's dirty index pages stay in memory until it commits instead of
// spilling to the WAL, and a checkpoint every walMiB of WAL instead of every
// 4 MiB, so that index pages rewritten by consecutive batches are copied to
// the database file once. Not for a server: the cache is held until Close.
func (db *DB) TuneForBulk(ctx context.Context, cacheMiB, walMiB int) (err error) {
	defer wrapErr(&err, "TuneForBulk()")
	if db.postgres {
		return nil // PostgreSQL sizes its own caches and WAL
	}
	var pageSize int
	if err := db.write.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		return err
	}
	for _, p := range []string{
		fmt.Sprintf("PRAGMA cache_size = -%d", cacheMiB*1024),
		fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", walMiB<<20/max(pageSize, 512)),
	} {
		if _, err := db.write.ExecContext(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// FinishBulk ends a bulk load: PostgreSQL gets fresh planner statistics
// at once instead of whenever autovacuum comes by, so that the first
// queries on the loaded rows do not take plans made for empty tables.
func (db *DB) FinishBulk(ctx context.Context) (err error) {
	defer wrapErr(&err, "FinishBulk()")
	if !db.postgres {
		return nil
	}
	_, err = db.write.ExecContext(ctx, `ANALYZE`)
	return err
}
