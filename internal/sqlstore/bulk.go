package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

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
func (db *DB) BulkInsert(ctx context.Context, s warden.Scope, b *warden.BulkBatch, now time.Time) (_ int, err error) {
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

func bulkInsertTx(ctx context.Context, tx writeTx, s warden.Scope, b *warden.BulkBatch, now time.Time) (int, error) {
	names, err := b.Check(s)
	if err != nil {
		return 0, err
	}
	if err := bulkCheckExisting(ctx, tx, s, b); err != nil {
		return 0, err
	}
	if err := bulkCheckMemberships(ctx, tx, s, b, names); err != nil {
		return 0, err
	}
	if err := bulkCheckCAs(ctx, tx, s, b); err != nil {
		return 0, err
	}
	if err := bulkCheckPolicies(ctx, tx, s, b, names); err != nil {
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
		log = append(log, bulkChange{g.ARN(s), "CreateThingGroup", nil, warden.ThingGroupDocumentOf(g)})
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
		for _, k := range slices.Sorted(maps.Keys(t.Attributes)) {
			attrRows = append(attrRows, attrRow{t.Name, k, t.Attributes[k]})
		}
		log = append(log, bulkChange{t.ARN(s), "CreateThing", nil, warden.ThingDocumentOf(t)})
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
		log = append(log, bulkChange{warden.ThingARN(s, m.Thing), "AddThingToThingGroup", nil, warden.MembershipDocument{ThingGroupName: m.Group}})
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
func bulkSyncDynamicGroups(ctx context.Context, tx writeTx, s warden.Scope, b *warden.BulkBatch, now time.Time) (int, error) {
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

// bulkCheckExisting answers ResourceAlreadyExists for the first new
// resource of b that the scope holds already.
func bulkCheckExisting(ctx context.Context, tx writeTx, s warden.Scope, b *warden.BulkBatch) error {
	exists := func(format, name, id, arn string) error {
		return &warden.Error{Code: warden.CodeResourceAlreadyExists, Message: fmt.Sprintf(format, name), ResourceID: id, ResourceArn: arn}
	}
	for _, c := range []struct {
		table, column string
		keys          []string
		exists        func(string) error
	}{
		{"thing_groups", "name", keysOf(b.ThingGroups, func(g *warden.ThingGroup) string { return g.Name }),
			func(n string) error {
				return exists("Thing group %s already exists.", n, "", warden.ThingGroupARN(s, n))
			}},
		{"policies", "name", keysOf(b.Policies, func(p *warden.Policy) string { return p.Name }),
			func(n string) error { return exists("Policy %s already exists.", n, n, warden.PolicyARN(s, n)) }},
		{"things", "name", keysOf(b.Things, func(t *warden.Thing) string { return t.Name }),
			func(n string) error { return exists("Thing %s already exists.", n, "", warden.ThingARN(s, n)) }},
		{"certificates", "id", keysOf(b.Certificates, func(c *warden.Certificate) string { return c.ID }),
			func(id string) error { return warden.ErrCertificateExists(s, id) }},
	} {
		found, err := bulkExisting(ctx, tx, s, c.table, c.column, c.keys)
		if err != nil {
			return err
		}
		if found != "" {
			return c.exists(found)
		}
	}
	return nil
}

// keysOf is key of each of items.
func keysOf[T any](items []T, key func(*T) string) []string {
	out := make([]string, len(items))
	for i := range items {
		out[i] = key(&items[i])
	}
	return out
}

// bulkExisting returns the first of keys that table holds in scope s in
// column, or "".
func bulkExisting(ctx context.Context, tx writeTx, s warden.Scope, table, column string, keys []string) (found string, err error) {
	err = bulkIn(s, keys, func(in string, args []any) error {
		if found != "" {
			return nil
		}
		err := tx.QueryRowContext(ctx, `SELECT `+column+` FROM `+table+` WHERE account = ? AND region = ? AND `+column+` IN `+in+` LIMIT 1`,
			args...).Scan(&found)
		return noRowAs(err, nil)
	})
	return found, err
}

// bulkIn calls each for keys, 500 at a time, with "(?, …, ?)" for them and
// the arguments s.Account, s.Region and the keys.
func bulkIn(s warden.Scope, keys []string, each func(in string, args []any) error) error {
	const chunk = 500
	for start := 0; start < len(keys); start += chunk {
		part := keys[start:min(len(keys), start+chunk)]
		args := make([]any, 0, len(part)+2)
		args = append(args, s.Account, s.Region)
		for _, k := range part {
			args = append(args, k)
		}
		if err := each("("+strings.Repeat("?, ", len(part)-1)+"?)", args); err != nil {
			return err
		}
	}
	return nil
}

// bulkCheckMemberships reads the groups the memberships name that are not
// of the batch and applies AddThingToThingGroup's rules.
func bulkCheckMemberships(ctx context.Context, tx writeTx, s warden.Scope, b *warden.BulkBatch, names *warden.BulkNames) error {
	groups := make(map[string]warden.GroupMembership, len(names.ThingGroups))
	for name := range names.ThingGroups {
		groups[name] = warden.GroupMembership{Group: name, Root: name}
	}
	var lookup []string
	for _, m := range b.Memberships {
		if _, ok := groups[m.Group]; !ok && !slices.Contains(lookup, m.Group) {
			lookup = append(lookup, m.Group)
		}
	}
	err := bulkIn(s, lookup, func(in string, args []any) error {
		return queryEach(ctx, tx, func(r rowScanner) error {
			var g warden.GroupMembership
			var dynamic int
			err := r.Scan(&g.Group, &g.Root, &dynamic)
			g.Dynamic = dynamic != 0
			groups[g.Group] = g
			return err
		}, `SELECT name, root_name, dynamic FROM thing_groups WHERE account = ? AND region = ? AND name IN `+in, args...)
	})
	if err != nil {
		return err
	}
	return b.CheckMemberships(groups)
}

// bulkCheckCAs checks that the certificates' CA certificates are
// registered and ACTIVE, and gives the certificates the CA's mode.
func bulkCheckCAs(ctx context.Context, tx writeTx, s warden.Scope, b *warden.BulkBatch) error {
	cas := map[string]string{} // id → mode
	for i := range b.Certificates {
		c := &b.Certificates[i]
		if c.CACertificateID == "" {
			continue
		}
		mode, ok := cas[c.CACertificateID]
		if !ok {
			var status string
			err := tx.QueryRowContext(ctx, `SELECT status, certificate_mode FROM ca_certificates WHERE account = ? AND region = ? AND id = ?`,
				s.Account, s.Region, c.CACertificateID).Scan(&status, &mode)
			if errors.Is(err, sql.ErrNoRows) {
				return warden.Errorf(warden.CodeCertificateValidation, "The CA certificate %s is not registered.", c.CACertificateID)
			}
			if err != nil {
				return err
			}
			if err := warden.CheckSigningCA(c.CACertificateID, status); err != nil {
				return err
			}
			cas[c.CACertificateID] = mode
		}
		c.Mode = mode
	}
	return nil
}

// bulkCheckPolicies checks that the policies attached are of the batch or
// exist.
func bulkCheckPolicies(ctx context.Context, tx writeTx, s warden.Scope, b *warden.BulkBatch, names *warden.BulkNames) error {
	var lookup []string
	for _, t := range b.PolicyTargets {
		if !names.Policies[t.Policy] && !slices.Contains(lookup, t.Policy) {
			lookup = append(lookup, t.Policy)
		}
	}
	exists := map[string]bool{}
	err := bulkIn(s, lookup, func(in string, args []any) error {
		return queryEach(ctx, tx, func(r rowScanner) error {
			var name string
			err := r.Scan(&name)
			exists[name] = true
			return err
		}, `SELECT name FROM policies WHERE account = ? AND region = ? AND name IN `+in, args...)
	})
	if err != nil {
		return err
	}
	for _, p := range lookup {
		if !exists[p] {
			return policyNotFound(p)
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
