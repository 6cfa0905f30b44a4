package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

func init() {
	taggable["thinggroup"] = `SELECT 1 FROM thing_groups WHERE account = ? AND region = ? AND name = ?`
}

func thingAttrsOrEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func encodeThingAttributes(m map[string]string) (string, error) {
	b, err := json.Marshal(thingAttrsOrEmpty(m))
	return string(b), err
}

func decodeThingAttributes(doc, what string) (map[string]string, error) {
	m := map[string]string{}
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return nil, fmt.Errorf("stored attributes of %s: %w", what, err)
	}
	return m, nil
}

func thingBoolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// --- things ---

const thingColumns = `name, id, thing_type_name, attributes, version, created_at, updated_at`

// scanThing scans thingColumns, then into extra the columns that follow.
func scanThing(r rowScanner, extra ...any) (warden.Thing, error) {
	var t warden.Thing
	var attrs string
	var created, updated int64
	if err := r.Scan(append([]any{&t.Name, &t.ID, &t.TypeName, &attrs, &t.Version, &created, &updated}, extra...)...); err != nil {
		return t, err
	}
	var err error
	if t.Attributes, err = decodeThingAttributes(attrs, "thing "+t.Name); err != nil {
		return t, err
	}
	t.CreationDate, t.LastModifiedDate = fromMillis(created), fromMillis(updated)
	return t, nil
}

func thingByName(ctx context.Context, q querier, s warden.Scope, name string) (warden.Thing, error) {
	t, err := scanThing(q.QueryRowContext(ctx, `SELECT `+thingColumns+` FROM things WHERE account = ? AND region = ? AND name = ?`,
		s.Account, s.Region, name))
	return t, noRowAs(err, warden.ErrThingNotFound(name))
}

func requireThing(ctx context.Context, q querier, s warden.Scope, name string) error {
	ok, err := rowExists(ctx, q, `SELECT 1 FROM things WHERE account = ? AND region = ? AND name = ?`, s.Account, s.Region, name)
	if err == nil && !ok {
		return warden.ErrThingNotFound(name)
	}
	return err
}

// writeThingAttributes replaces the thing's rows in the attribute index.
func writeThingAttributes(ctx context.Context, tx writeTx, s warden.Scope, t *warden.Thing) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM thing_attributes WHERE account = ? AND region = ? AND thing_name = ?`,
		s.Account, s.Region, t.Name); err != nil {
		return err
	}
	return insertThingAttributes(ctx, tx, s, t)
}

// insertThingAttributes adds the thing's rows to the attribute index, which
// has none of them.
func insertThingAttributes(ctx context.Context, tx writeTx, s warden.Scope, t *warden.Thing) error {
	for _, k := range slices.Sorted(maps.Keys(t.Attributes)) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO thing_attributes (account, region, thing_name, attr_name, attr_value)
			VALUES (?, ?, ?, ?, ?)`, s.Account, s.Region, t.Name, k, t.Attributes[k]); err != nil {
			return err
		}
	}
	return nil
}

// CreateThing stores a new thing, or returns the identical one. The usual
// create is an INSERT that finds no thing of that name; only when one exists
// does the store read it, to tell an idempotent repeat from a conflict.
func (db *DB) CreateThing(ctx context.Context, s warden.Scope, t warden.Thing) (warden.Thing, bool, error) {
	t.Attributes = warden.CleanAttributes(t.Attributes)
	t.Version = 1
	if err := warden.CheckThingAttributeCount(t.TypeName, t.Attributes); err != nil {
		return t, false, wrap(err, "create thing")
	}
	attrs, err := encodeThingAttributes(t.Attributes)
	if err != nil {
		return t, false, wrap(err, "create thing")
	}
	created := false
	err = db.inTx(ctx, func(tx writeTx) error {
		// The INSERT also says whether the account has dynamic groups,
		// which the usual account does not: one statement fewer.
		var hasDynamicGroups bool
		err := tx.QueryRowContext(ctx, `INSERT INTO things
			(account, region, name, id, thing_type_name, attributes, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (account, region, name) DO NOTHING
			RETURNING EXISTS (SELECT 1 FROM thing_groups g WHERE g.account = things.account AND g.region = things.region AND g.dynamic = 1)`,
			s.Account, s.Region, t.Name, t.ID, t.TypeName, attrs, t.Version, millis(t.CreationDate), millis(t.LastModifiedDate)).
			Scan(&hasDynamicGroups)
		if errors.Is(err, sql.ErrNoRows) { // a thing of that name exists
			existing, err := thingByName(ctx, tx, s, t.Name)
			if err != nil {
				return err
			}
			if existing.TypeName == t.TypeName && warden.EqualAttributes(existing.Attributes, t.Attributes) {
				t = existing
				return nil
			}
			return &warden.Error{Code: warden.CodeResourceAlreadyExists,
				Message:    fmt.Sprintf("Thing %s already exists with a different configuration.", t.Name),
				ResourceID: existing.ID, ResourceArn: existing.ARN(s)}
		}
		if err != nil {
			return err
		}
		if err := insertThingAttributes(ctx, tx, s, &t); err != nil {
			return err
		}
		if err := logChange(ctx, tx, s, t.ARN(s), "CreateThing", nil, warden.ThingDocumentOf(&t), t.CreationDate); err != nil {
			return err
		}
		created = true
		if !hasDynamicGroups {
			return nil
		}
		return syncThingDynamicGroups(ctx, tx, s, &t, t.CreationDate)
	})
	return t, created, wrap(err, "create thing")
}

// Thing returns one thing.
func (db *DB) Thing(ctx context.Context, s warden.Scope, name string) (warden.Thing, error) {
	return thingByName(ctx, db.read, s, name)
}

// UpdateThing changes a thing's type and attributes and follows the change
// in the dynamic groups.
func (db *DB) UpdateThing(ctx context.Context, s warden.Scope, name string, u warden.ThingUpdate, now time.Time) (warden.Thing, error) {
	var t warden.Thing
	err := db.inTx(ctx, func(tx writeTx) error {
		var err error
		if t, err = thingByName(ctx, tx, s, name); err != nil {
			return err
		}
		if err := warden.CheckExpectedVersion("thing", name, u.ExpectedVersion, t.Version); err != nil {
			return err
		}
		if u.RemoveThingType && u.TypeName != nil {
			return warden.Errorf(warden.CodeInvalidRequest, "thingTypeName and removeThingType cannot both be set.")
		}
		before := warden.ThingDocumentOf(&t)
		switch {
		case u.RemoveThingType:
			t.TypeName = ""
		case u.TypeName != nil:
			t.TypeName = *u.TypeName
		}
		t.Attributes = warden.MergeAttributes(t.Attributes, u.Attributes, u.Merge)
		if err := warden.CheckThingAttributeCount(t.TypeName, t.Attributes); err != nil {
			return err
		}
		t.Version++
		t.LastModifiedDate = now
		attrs, err := encodeThingAttributes(t.Attributes)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE things SET thing_type_name = ?, attributes = ?, version = ?, updated_at = ?
			WHERE account = ? AND region = ? AND name = ?`,
			t.TypeName, attrs, t.Version, millis(now), s.Account, s.Region, name); err != nil {
			return err
		}
		if err := writeThingAttributes(ctx, tx, s, &t); err != nil {
			return err
		}
		if err := logChange(ctx, tx, s, t.ARN(s), "UpdateThing", before, warden.ThingDocumentOf(&t), now); err != nil {
			return err
		}
		return syncThingDynamicGroups(ctx, tx, s, &t, now)
	})
	return t, wrap(err, "update thing")
}

// DeleteThing removes a thing, its attribute rows and its memberships. The
// thing is deleted first and the checks come after, on what the DELETE
// returned (the thing, and whether it has principals or groups): a failed
// check rolls the deletion back, and the usual delete is two statements,
// the DELETE and its change-log row.
func (db *DB) DeleteThing(ctx context.Context, s warden.Scope, name string, expectedVersion *int64, now time.Time) error {
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		var hasPrincipals, inGroups bool
		t, err := scanThing(tx.QueryRowContext(ctx, `DELETE FROM things WHERE account = ? AND region = ? AND name = ?
			RETURNING `+thingColumns+`,
				EXISTS (SELECT 1 FROM thing_principals p
					WHERE p.account = things.account AND p.region = things.region AND p.thing_name = things.name),
				EXISTS (SELECT 1 FROM thing_group_members m
					WHERE m.account = things.account AND m.region = things.region AND m.thing_name = things.name)`,
			s.Account, s.Region, name), &hasPrincipals, &inGroups)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := warden.CheckExpectedVersion("thing", name, expectedVersion, t.Version); err != nil {
			return err
		}
		if hasPrincipals {
			return warden.ErrThingStillAttached(name)
		}
		if inGroups {
			groups, err := thingMemberships(ctx, tx, s, name)
			if err != nil {
				return err
			}
			for _, m := range groups {
				if err := removeMembership(ctx, tx, s, name, m.Group, m.Dynamic, now); err != nil {
					return err
				}
			}
		}
		if len(t.Attributes) > 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM thing_attributes WHERE account = ? AND region = ? AND thing_name = ?`,
				s.Account, s.Region, name); err != nil {
				return err
			}
		}
		return logChange(ctx, tx, s, t.ARN(s), "DeleteThing", warden.ThingDocumentOf(&t), nil, now)
	}), "delete thing")
}

// Things lists things in name order; the cursor is the last name returned.
// Each filter is an index range scan in name order (attribute value prefix
// filters excepted, which sort the matching rows).
func (db *DB) Things(ctx context.Context, s warden.Scope, f warden.ThingFilter, p warden.Page) ([]warden.Thing, string, error) {
	var b strings.Builder
	var args []any
	b.WriteString(`SELECT t.name, t.id, t.thing_type_name, t.attributes, t.version, t.created_at, t.updated_at FROM `)
	if f.AttributeName != "" {
		b.WriteString(`thing_attributes a JOIN things t ON t.account = a.account AND t.region = a.region AND t.name = a.thing_name
			WHERE a.account = ? AND a.region = ? AND a.attr_name = ? AND a.thing_name > ?`)
		args = append(args, s.Account, s.Region, f.AttributeName, p.After)
		switch {
		case f.AttributeValue == nil:
		case f.UsePrefix:
			// The range lets the index find the prefix; substr keeps the
			// filter exact under any collation.
			b.WriteString(` AND a.attr_value >= ? AND a.attr_value < ? AND substr(a.attr_value, 1, ?) = ?`)
			args = append(args, *f.AttributeValue, *f.AttributeValue+"\x7f", len(*f.AttributeValue), *f.AttributeValue)
		default:
			b.WriteString(` AND a.attr_value = ?`)
			args = append(args, *f.AttributeValue)
		}
		if f.TypeName != "" {
			b.WriteString(` AND t.thing_type_name = ?`)
			args = append(args, f.TypeName)
		}
		b.WriteString(` ORDER BY a.thing_name LIMIT ?`)
	} else {
		b.WriteString(`things t WHERE t.account = ? AND t.region = ?`)
		args = append(args, s.Account, s.Region)
		if f.TypeName != "" {
			// The <> term lets the planner use things_by_type, which
			// holds only typed things.
			b.WriteString(` AND t.thing_type_name = ? AND t.thing_type_name <> ''`)
			args = append(args, f.TypeName)
		}
		b.WriteString(` AND t.name > ? ORDER BY t.name LIMIT ?`)
		args = append(args, p.After)
	}
	args = append(args, p.Limit+1)
	things, next, err := keyPage(ctx, db.read, p.Limit, func(r rowScanner) (warden.Thing, string, error) {
		t, err := scanThing(r)
		return t, t.Name, err
	}, b.String(), args...)
	return things, next, wrap(err, "things")
}

// --- thing groups ---

const thingGroupColumns = `seq, name, id, parent_name, root_name, depth, description, attributes, dynamic,
	index_name, query_string, query_version, status, version, created_at, updated_at`

// thingGroupRow is a stored group with the hierarchy facts the rules need.
type thingGroupRow struct {
	warden.ThingGroup
	seq   int64
	root  string
	depth int
}

func scanThingGroup(r rowScanner) (thingGroupRow, error) {
	var g thingGroupRow
	var attrs string
	var dynamic int
	var created, updated int64
	var q warden.DynamicGroupQuery
	if err := r.Scan(&g.seq, &g.Name, &g.ID, &g.ParentName, &g.root, &g.depth, &g.Description, &attrs, &dynamic,
		&q.IndexName, &q.QueryString, &q.QueryVersion, &q.Status, &g.Version, &created, &updated); err != nil {
		return g, err
	}
	var err error
	if g.Attributes, err = decodeThingAttributes(attrs, "thing group "+g.Name); err != nil {
		return g, err
	}
	if dynamic != 0 {
		g.Query = &q
	}
	g.CreationDate, g.LastModifiedDate = fromMillis(created), fromMillis(updated)
	return g, nil
}

func thingGroupNotFound(name string) error { return warden.NotFound("Thing group", name) }

func thingGroupByName(ctx context.Context, q querier, s warden.Scope, name string) (thingGroupRow, error) {
	g, err := scanThingGroup(q.QueryRowContext(ctx, `SELECT `+thingGroupColumns+` FROM thing_groups WHERE account = ? AND region = ? AND name = ?`,
		s.Account, s.Region, name))
	return g, noRowAs(err, thingGroupNotFound(name))
}

// groupRootToParent lists a group's ancestors, root first.
func groupRootToParent(ctx context.Context, q querier, s warden.Scope, name string) ([]string, error) {
	return queryStrings(ctx, q, `SELECT ancestor FROM thing_group_ancestors
		WHERE account = ? AND region = ? AND descendant = ? AND distance > 0 ORDER BY distance DESC`, s.Account, s.Region, name)
}

func thingGroupOperation(dynamic bool, op string) string {
	if dynamic {
		return op + "DynamicThingGroup"
	}
	return op + "ThingGroup"
}

// CreateThingGroup stores a new static or dynamic group, or returns the
// identical one. A dynamic group's members are computed before it returns.
func (db *DB) CreateThingGroup(ctx context.Context, s warden.Scope, g warden.ThingGroup, tags []warden.Tag) (warden.ThingGroup, bool, error) {
	g.Attributes = warden.CleanAttributes(g.Attributes)
	g.Version = 1
	if g.Query != nil {
		g.ParentName = ""
		g.Query.Status = warden.DynamicGroupBuilding
	}
	created, fill := false, false
	err := db.inTx(ctx, func(tx writeTx) error {
		existing, err := thingGroupByName(ctx, tx, s, g.Name)
		if err == nil {
			if existing.ThingGroup.SameConfig(&g) {
				g = existing.ThingGroup
				// A fill cut short (by an error, or a stop) is finished by
				// the repeated request.
				fill = g.Query != nil && g.Query.Status != warden.DynamicGroupActive
				g.RootToParent, err = groupRootToParent(ctx, tx, s, g.Name)
				return err
			}
			return &warden.Error{Code: warden.CodeResourceAlreadyExists,
				Message:    fmt.Sprintf("Thing group %s already exists with a different configuration.", g.Name),
				ResourceID: existing.ID, ResourceArn: existing.ARN(s)}
		}
		if warden.ErrorCode(err) != warden.CodeResourceNotFound {
			return err
		}
		if err := warden.CheckThingGroupAttributeCount(g.Attributes); err != nil {
			return err
		}
		root, depth := g.Name, 1
		if g.ParentName != "" {
			parent, err := thingGroupByName(ctx, tx, s, g.ParentName)
			if warden.ErrorCode(err) == warden.CodeResourceNotFound {
				return warden.Errorf(warden.CodeInvalidRequest, "The parent thing group %s does not exist.", g.ParentName)
			}
			if err != nil {
				return err
			}
			if err := parent.CheckParentOf(parent.depth); err != nil {
				return err
			}
			root, depth = parent.root, parent.depth+1
		}
		q := warden.DynamicGroupQuery{}
		if g.Query != nil {
			q = *g.Query
			if err := requireBelow(ctx, tx, warden.MaxDynamicThingGroups, warden.ErrDynamicGroupsLimit,
				`SELECT COUNT(*) FROM thing_groups WHERE account = ? AND region = ? AND dynamic = 1`, s.Account, s.Region); err != nil {
				return err
			}
		}
		attrs, err := encodeThingAttributes(g.Attributes)
		if err != nil {
			return err
		}
		var seq int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO thing_groups (account, region, name, id, parent_name, root_name, depth,
			description, attributes, dynamic, index_name, query_string, query_version, status, version, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
			s.Account, s.Region, g.Name, g.ID, g.ParentName, root, depth, g.Description, attrs, thingBoolInt(g.Dynamic()),
			q.IndexName, q.QueryString, q.QueryVersion, q.Status, g.Version, millis(g.CreationDate), millis(g.LastModifiedDate)).
			Scan(&seq); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO thing_group_ancestors (account, region, ancestor, descendant, distance)
			SELECT account, region, ancestor, CAST(? AS TEXT), distance + 1 FROM thing_group_ancestors
			WHERE account = ? AND region = ? AND descendant = ?`, g.Name, s.Account, s.Region, g.ParentName); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO thing_group_ancestors (account, region, ancestor, descendant, distance)
			VALUES (?, ?, ?, ?, 0)`, s.Account, s.Region, g.Name, g.Name); err != nil {
			return err
		}
		if err := putTags(ctx, tx, s, g.ARN(s), tags); err != nil {
			return err
		}
		if err := logChange(ctx, tx, s, g.ARN(s), thingGroupOperation(g.Dynamic(), "Create"), nil, warden.ThingGroupDocumentOf(&g), g.CreationDate); err != nil {
			return err
		}
		created = true
		if g.RootToParent, err = groupRootToParent(ctx, tx, s, g.Name); err != nil {
			return err
		}
		fill = g.Query != nil
		return nil
	})
	if err == nil && fill {
		if err = db.fillDynamicGroup(ctx, s, g.Name, g.ID, g.Query.QueryString, g.LastModifiedDate); err == nil {
			g.Query.Status = warden.DynamicGroupActive
		}
	}
	return g, created, wrap(err, "create thing group")
}

// ThingGroup returns one group with its ancestors.
func (db *DB) ThingGroup(ctx context.Context, s warden.Scope, name string) (warden.ThingGroup, error) {
	g, err := thingGroupByName(ctx, db.read, s, name)
	if err != nil {
		return g.ThingGroup, wrap(err, "thing group")
	}
	g.RootToParent, err = groupRootToParent(ctx, db.read, s, name)
	return g.ThingGroup, wrap(err, "thing group")
}

// UpdateThingGroup changes a group's properties (and a dynamic group's
// query, recomputing its members).
func (db *DB) UpdateThingGroup(ctx context.Context, s warden.Scope, name string, u warden.ThingGroupUpdate, now time.Time) (warden.ThingGroup, error) {
	var g thingGroupRow
	requery := false
	err := db.inTx(ctx, func(tx writeTx) error {
		var err error
		if g, err = thingGroupByName(ctx, tx, s, name); err != nil {
			return err
		}
		if err := g.CheckChange("Update", u.Dynamic, u.ExpectedVersion); err != nil {
			return err
		}
		before := warden.ThingGroupDocumentOf(&g.ThingGroup)
		if u.Description != nil {
			g.Description = *u.Description
		}
		g.Attributes = warden.MergeAttributes(g.Attributes, u.Attributes, u.Merge)
		if err := warden.CheckThingGroupAttributeCount(g.Attributes); err != nil {
			return err
		}
		requery = false
		if g.Query != nil && u.QueryString != nil && *u.QueryString != g.Query.QueryString {
			g.Query.QueryString = *u.QueryString
			g.Query.Status = warden.DynamicGroupRebuilding
			requery = true
		}
		g.Version++
		g.LastModifiedDate = now
		attrs, err := encodeThingAttributes(g.Attributes)
		if err != nil {
			return err
		}
		q := warden.DynamicGroupQuery{}
		if g.Query != nil {
			q = *g.Query
		}
		if _, err := tx.ExecContext(ctx, `UPDATE thing_groups SET description = ?, attributes = ?, query_string = ?, status = ?, version = ?, updated_at = ?
			WHERE account = ? AND region = ? AND name = ?`,
			g.Description, attrs, q.QueryString, q.Status, g.Version, millis(now), s.Account, s.Region, name); err != nil {
			return err
		}
		if err := logChange(ctx, tx, s, g.ARN(s), thingGroupOperation(g.Dynamic(), "Update"), before, warden.ThingGroupDocumentOf(&g.ThingGroup), now); err != nil {
			return err
		}
		if g.RootToParent, err = groupRootToParent(ctx, tx, s, name); err != nil {
			return err
		}
		return nil
	})
	if err == nil && requery {
		if err = db.fillDynamicGroup(ctx, s, name, g.ID, g.Query.QueryString, now); err == nil {
			g.Query.Status = warden.DynamicGroupActive
		}
	}
	return g.ThingGroup, wrap(err, "update thing group")
}

// DeleteThingGroup removes a group, its memberships, tags and policy
// attachments.
func (db *DB) DeleteThingGroup(ctx context.Context, s warden.Scope, name string, dynamic bool, expectedVersion *int64, now time.Time) error {
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		g, err := thingGroupByName(ctx, tx, s, name)
		if warden.ErrorCode(err) == warden.CodeResourceNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if err := g.CheckChange("Delete", dynamic, expectedVersion); err != nil {
			return err
		}
		var child string
		err = tx.QueryRowContext(ctx, `SELECT name FROM thing_groups WHERE account = ? AND region = ? AND parent_name = ? ORDER BY name LIMIT 1`,
			s.Account, s.Region, name).Scan(&child)
		if err == nil {
			return warden.Errorf(warden.CodeInvalidRequest,
				"Cannot delete thing group %s: it has child thing groups (%s, ...). Delete them first.", name, child)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// One change-log row per membership, written in one statement so a
		// group of any size is deleted in a single pass. The casts type the
		// parameters of the SELECT list for PostgreSQL.
		before, err := json.Marshal(warden.MembershipDocument{ThingGroupName: name, Dynamic: g.Dynamic()})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO change_log (account, region, resource_arn, operation, before_doc, after_doc, actor, at)
			SELECT account, region, CAST(? AS TEXT) || thing_name, 'RemoveThingFromThingGroup', CAST(? AS TEXT), '', CAST(? AS TEXT), CAST(? AS BIGINT)
			FROM thing_group_members WHERE account = ? AND region = ? AND group_name = ? ORDER BY thing_name`,
			warden.ThingARN(s, ""), string(before), warden.ActorFrom(ctx), millis(now), s.Account, s.Region, name); err != nil {
			return err
		}
		if err := detachGroupPolicies(ctx, tx, s, g.ARN(s), now); err != nil {
			return err
		}
		if err := detachGroupProfiles(ctx, tx, s, g.ARN(s), now); err != nil {
			return err
		}
		if err := execAll(ctx, tx, []any{s.Account, s.Region, name},
			`DELETE FROM thing_group_members WHERE account = ? AND region = ? AND group_name = ?`,
			`DELETE FROM thing_group_ancestors WHERE account = ? AND region = ? AND descendant = ?`,
			`DELETE FROM thing_groups WHERE account = ? AND region = ? AND name = ?`); err != nil {
			return err
		}
		if err := deleteTags(ctx, tx, s, g.ARN(s)); err != nil {
			return err
		}
		return logChange(ctx, tx, s, g.ARN(s), thingGroupOperation(g.Dynamic(), "Delete"), warden.ThingGroupDocumentOf(&g.ThingGroup), nil, now)
	}), "delete thing group")
}

// detachGroupPolicies removes the policy attachments of a deleted group, so
// no policy keeps a target that no longer exists.
func detachGroupPolicies(ctx context.Context, tx writeTx, s warden.Scope, groupArn string, now time.Time) error {
	policies, err := queryStrings(ctx, tx, `SELECT policy_name FROM policy_targets WHERE account = ? AND region = ? AND target = ? ORDER BY policy_name`,
		s.Account, s.Region, groupArn)
	if err != nil {
		return err
	}
	for _, p := range policies {
		if _, err := tx.ExecContext(ctx, `DELETE FROM policy_targets WHERE account = ? AND region = ? AND policy_name = ? AND target = ?`,
			s.Account, s.Region, p, groupArn); err != nil {
			return err
		}
		if err := logChange(ctx, tx, s, s.IoTARN("policy/"+p), "DetachPolicy", map[string]string{"target": groupArn}, nil, now); err != nil {
			return err
		}
	}
	return nil
}

// ThingGroups lists group names in name order; the cursor is the last name.
func (db *DB) ThingGroups(ctx context.Context, s warden.Scope, f warden.ThingGroupFilter, p warden.Page) ([]string, string, error) {
	var query string
	args := []any{s.Account, s.Region}
	col := "name"
	switch {
	case f.Parent != "":
		if _, err := thingGroupByName(ctx, db.read, s, f.Parent); err != nil {
			return nil, "", wrap(err, "thing groups")
		}
		if f.Recursive != nil && *f.Recursive {
			col = "descendant"
			query = `SELECT descendant FROM thing_group_ancestors WHERE account = ? AND region = ? AND ancestor = ? AND distance > 0`
		} else {
			query = `SELECT name FROM thing_groups WHERE account = ? AND region = ? AND parent_name = ?`
		}
		args = append(args, f.Parent)
	case f.Recursive != nil && !*f.Recursive:
		query = `SELECT name FROM thing_groups WHERE account = ? AND region = ? AND parent_name = ''`
	default:
		query = `SELECT name FROM thing_groups WHERE account = ? AND region = ?`
	}
	query += ` AND ` + col + ` > ?`
	args = append(args, p.After)
	if f.NamePrefix != "" {
		query += ` AND ` + col + ` >= ? AND ` + col + ` < ? AND substr(` + col + `, 1, ?) = ?`
		args = append(args, f.NamePrefix, f.NamePrefix+"\x7f", len(f.NamePrefix), f.NamePrefix)
	}
	query += ` ORDER BY ` + col + ` LIMIT ?`
	args = append(args, p.Limit+1)
	names, next, err := db.thingNamePage(ctx, p.Limit, query, args...)
	return names, next, wrap(err, "thing groups")
}

// thingNamePage runs a query of one name column with limit+1 rows and returns a
// page and the cursor of the next one.
func (db *DB) thingNamePage(ctx context.Context, limit int, query string, args ...any) ([]string, string, error) {
	return keyPage(ctx, db.read, limit, func(r rowScanner) (string, string, error) {
		n, err := scanString(r)
		return n, n, err
	}, query, args...)
}

// --- membership ---

// thingMemberships lists the (at most MaxGroupsPerThing) groups a thing is
// in, by name.
func thingMemberships(ctx context.Context, q querier, s warden.Scope, thing string) ([]warden.GroupMembership, error) {
	return queryAll(ctx, q, scanMembership, `SELECT m.group_name, m.dynamic, g.root_name, g.seq
		FROM thing_group_members m JOIN thing_groups g ON g.account = m.account AND g.region = m.region AND g.name = m.group_name
		WHERE m.account = ? AND m.region = ? AND m.thing_name = ? ORDER BY m.group_name`, s.Account, s.Region, thing)
}

// scanMembership reads group name, dynamic, root name and seq.
func scanMembership(r rowScanner) (m warden.GroupMembership, err error) {
	var dynamic int
	err = r.Scan(&m.Group, &dynamic, &m.Root, &m.Seq)
	m.Dynamic = dynamic != 0
	return m, err
}

func addMembership(ctx context.Context, tx writeTx, s warden.Scope, thing, group string, dynamic bool, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO thing_group_members (account, region, group_name, thing_name, dynamic, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, s.Account, s.Region, group, thing, thingBoolInt(dynamic), millis(now)); err != nil {
		return err
	}
	return logChange(ctx, tx, s, warden.ThingARN(s, thing), "AddThingToThingGroup", nil,
		warden.MembershipDocument{ThingGroupName: group, Dynamic: dynamic}, now)
}

func removeMembership(ctx context.Context, tx writeTx, s warden.Scope, thing, group string, dynamic bool, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM thing_group_members WHERE account = ? AND region = ? AND group_name = ? AND thing_name = ?`,
		s.Account, s.Region, group, thing); err != nil {
		return err
	}
	return logChange(ctx, tx, s, warden.ThingARN(s, thing), "RemoveThingFromThingGroup",
		warden.MembershipDocument{ThingGroupName: group, Dynamic: dynamic}, nil, now)
}

// AddThingToThingGroup adds a thing to a static group in one transaction.
func (db *DB) AddThingToThingGroup(ctx context.Context, s warden.Scope, thingName, groupName string, overrideDynamic bool, now time.Time) error {
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		_, err := addThingToGroupTx(ctx, tx, s, thingName, groupName, overrideDynamic, now)
		return err
	}), "add thing to thing group")
}

// addThingToGroupTx is AddThingToThingGroup inside the caller's transaction,
// so that a mitigation executor can apply it and record its own outcome
// atomically. It reports whether the membership was added (false when the
// thing was already in the group). Errors leave tx unchanged only if the
// caller rolls back; every check runs before the first write.
func addThingToGroupTx(ctx context.Context, tx writeTx, s warden.Scope, thingName, groupName string, overrideDynamic bool, now time.Time) (bool, error) {
	if err := requireThing(ctx, tx, s, thingName); err != nil {
		return false, err
	}
	g, err := thingGroupByName(ctx, tx, s, groupName)
	if err != nil {
		return false, err
	}
	current, err := thingMemberships(ctx, tx, s, thingName)
	if err != nil {
		return false, err
	}
	member, evict, err := warden.JoinStaticGroup(thingName, current,
		warden.GroupMembership{Group: groupName, Dynamic: g.Dynamic(), Root: g.root, Seq: g.seq}, overrideDynamic)
	if member || err != nil {
		return false, err
	}
	if evict != "" {
		if err := removeMembership(ctx, tx, s, thingName, evict, true, now); err != nil {
			return false, err
		}
	}
	return true, addMembership(ctx, tx, s, thingName, groupName, false, now)
}

// RemoveThingFromThingGroup removes a thing from a static group; a thing
// that is not in the group is no error.
func (db *DB) RemoveThingFromThingGroup(ctx context.Context, s warden.Scope, thingName, groupName string, now time.Time) error {
	return wrap(db.inTx(ctx, func(tx writeTx) error {
		if err := requireThing(ctx, tx, s, thingName); err != nil {
			return err
		}
		g, err := thingGroupByName(ctx, tx, s, groupName)
		if err != nil {
			return err
		}
		if g.Dynamic() {
			return warden.Errorf(warden.CodeInvalidRequest,
				"Cannot remove thing %s from dynamic thing group %s: its query decides its members.", thingName, groupName)
		}
		member, err := rowExists(ctx, tx, `SELECT 1 FROM thing_group_members WHERE account = ? AND region = ? AND group_name = ? AND thing_name = ?`,
			s.Account, s.Region, groupName, thingName)
		if !member || err != nil {
			return err
		}
		return removeMembership(ctx, tx, s, thingName, groupName, false, now)
	}), "remove thing from thing group")
}

// ThingGroupsForThing lists the groups of a thing by name.
func (db *DB) ThingGroupsForThing(ctx context.Context, s warden.Scope, thingName string, p warden.Page) ([]string, string, error) {
	if err := requireThing(ctx, db.read, s, thingName); err != nil {
		return nil, "", wrap(err, "thing groups for thing")
	}
	names, next, err := db.thingNamePage(ctx, p.Limit, `SELECT group_name FROM thing_group_members
		WHERE account = ? AND region = ? AND thing_name = ? AND group_name > ? ORDER BY group_name LIMIT ?`,
		s.Account, s.Region, thingName, p.After, p.Limit+1)
	return names, next, wrap(err, "thing groups for thing")
}

// thingCursorSep separates group and thing in a recursive listing's
// cursor; neither name can contain it.
const thingCursorSep = "\n"

// ThingsInThingGroup lists a group's things by name. A recursive listing
// walks the group and its descendants in name order, each by thing name; its
// cursor is "group\nthing". Every step is an index range scan that starts at
// the cursor, so a page costs the same wherever it is in the collection.
func (db *DB) ThingsInThingGroup(ctx context.Context, s warden.Scope, groupName string, recursive bool, p warden.Page) ([]string, string, error) {
	if _, err := thingGroupByName(ctx, db.read, s, groupName); err != nil {
		return nil, "", wrap(err, "things in thing group")
	}
	const members = `SELECT thing_name FROM thing_group_members
		WHERE account = ? AND region = ? AND group_name = ? AND thing_name > ? ORDER BY thing_name LIMIT ?`
	if !recursive {
		names, next, err := db.thingNamePage(ctx, p.Limit, members, s.Account, s.Region, groupName, p.After, p.Limit+1)
		return names, next, wrap(err, "things in thing group")
	}
	afterGroup, afterThing := "", ""
	if p.After != "" {
		var ok bool
		if afterGroup, afterThing, ok = strings.Cut(p.After, thingCursorSep); !ok {
			return nil, "", warden.Errorf(warden.CodeInvalidRequest, "invalid nextToken")
		}
	}
	groups, _, err := db.thingNamePage(ctx, 1<<30, `SELECT descendant FROM thing_group_ancestors
		WHERE account = ? AND region = ? AND ancestor = ? AND descendant >= ? ORDER BY descendant`,
		s.Account, s.Region, groupName, afterGroup)
	if err != nil {
		return nil, "", wrap(err, "things in thing group")
	}
	type item struct{ group, thing string }
	var got []item
	for _, g := range groups {
		after := ""
		if g == afterGroup {
			after = afterThing
		}
		names, _, err := db.thingNamePage(ctx, 1<<30, members, s.Account, s.Region, g, after, p.Limit+1-len(got))
		if err != nil {
			return nil, "", wrap(err, "things in thing group")
		}
		for _, n := range names {
			got = append(got, item{g, n})
		}
		if len(got) > p.Limit {
			break
		}
	}
	next := ""
	if len(got) > p.Limit {
		got = got[:p.Limit]
		last := got[len(got)-1]
		next = last.group + thingCursorSep + last.thing
	}
	out := make([]string, len(got))
	for i, it := range got {
		out[i] = it.thing
	}
	return out, next, nil
}

// --- dynamic groups ---

// syncThingDynamicGroups makes the thing's dynamic memberships match the
// account's dynamic group queries (warden.SyncDynamicGroups decides). It
// reads only the dynamic groups and the thing's own memberships, so its cost
// grows with the number of dynamic groups, never with the number of things.
func syncThingDynamicGroups(ctx context.Context, tx writeTx, s warden.Scope, t *warden.Thing, now time.Time) error {
	dyns, err := queryAll(ctx, tx, func(r rowScanner) (g warden.DynamicGroup, err error) {
		return g, r.Scan(&g.Name, &g.Query)
	}, `SELECT name, query_string FROM thing_groups WHERE account = ? AND region = ? AND dynamic = 1 ORDER BY seq`, s.Account, s.Region)
	if err != nil || len(dyns) == 0 {
		return err
	}
	current, err := thingMemberships(ctx, tx, s, t.Name)
	if err != nil {
		return err
	}
	names := make([]string, len(current))
	for i, m := range current {
		names[i] = m.Group
	}
	leave, join, err := warden.SyncDynamicGroups(t.Fleet(), dyns, names)
	if err != nil {
		return err
	}
	for _, g := range leave {
		if err := removeMembership(ctx, tx, s, t.Name, g, true, now); err != nil {
			return err
		}
	}
	for _, g := range join {
		if err := addMembership(ctx, tx, s, t.Name, g, true, now); err != nil {
			return err
		}
	}
	return nil
}

// --- filling a dynamic group outside the write transaction (SQLite) ---

// fillPageSize is how many things one step of a dynamic group's fill reads
// and, at most, changes in one write transaction: on SQLite few enough that
// a step holds the single writer for a few milliseconds (64 memberships and
// their change-log rows took ~5 ms, 256 up to 100 ms on a loaded machine),
// so that other accounts' writes never queue behind the evaluation of a
// whole fleet; on PostgreSQL, where writes of other accounts do not wait for
// it, more, for fewer transactions.
func (db *DB) fillPageSize() int {
	if db.postgres {
		return 512
	}
	return 64
}

// errFillSuperseded ends a fill whose group was deleted or given another
// query meanwhile: the change that did it runs its own fill.
var errFillSuperseded = errors.New("the dynamic thing group changed during its fill")

// fillPageReadHook, when set (by tests), runs between the read of a fill's
// page and its write.
var fillPageReadHook func(names []string)

// fillThing is a thing as a fill step read it, and whether it matched.
type fillThing struct {
	id      string
	version int64
	match   bool
}

// fillDynamicGroup makes the members of dynamic group name (id gid) match
// query over the scope's things, then marks the group ACTIVE. The group row
// with this query must be committed first: from then on every thing that is
// created or changed syncs its own membership (syncThingDynamicGroups), so
// the fill need only cover the things that existed before. It evaluates the
// query page by page on the read pool, outside any write transaction, and
// writes a page's changes in a short transaction of their own, which applies
// what was read only to things still at the version read and evaluates any
// other thing of the range again. A page whose things already have the
// right membership needs no write on SQLite, which runs writes one at a
// time, so that a thing written after the page was read saw the group. On
// PostgreSQL a write that began before the group was committed may commit
// after the page was read without having seen the group; there every page
// is written, in a SERIALIZABLE transaction that sees that write (and
// evaluates the thing again) or conflicts with it (and one is retried).
// A fill cut short leaves the group BUILDING or REBUILDING, finished by
// ResumeDynamicGroupFills or a repeated create.
// maxFillPageRedos bounds how often one fill reads a page again after its
// write kept conflicting with concurrent thing writes on PostgreSQL.
const maxFillPageRedos = 20

func (db *DB) fillDynamicGroup(ctx context.Context, s warden.Scope, name, gid, query string, now time.Time) error {
	// The request may end; the fill must not stop halfway because of that.
	ctx = context.WithoutCancel(ctx)
	q, err := warden.CachedFleetQuery(query)
	if err != nil {
		return err
	}
	after := ""
	for redo := 0; ; {
		page, names, err := db.fillPage(ctx, s, q, after)
		if err != nil {
			return err
		}
		last := len(page) < db.fillPageSize()
		hi := ""
		if !last {
			hi = names[len(names)-1]
		}
		changes, err := db.fillChanges(ctx, s, name, after, hi, page)
		if err != nil {
			return err
		}
		if fillPageReadHook != nil {
			fillPageReadHook(names)
		}
		// On PostgreSQL the page is always written: the transaction that
		// checks it is what orders it against a concurrent write of a thing
		// that began before the group existed (see above).
		if changes || db.postgres {
			err := db.inTx(ctx, func(tx writeTx) error {
				return applyFillPage(ctx, tx, s, name, gid, query, q, after, hi, page, now, db.postgres)
			})
			if errors.Is(err, errFillSuperseded) {
				return nil
			}
			// A page write is longer than the thing writes it conflicts
			// with, and under a stream of them PostgreSQL may fail it
			// every time inTx runs it again (as a serialization failure,
			// or a unique violation when a thing write added the member
			// first): read the page anew.
			if (retryableConflict(err) || isUniqueViolation(err)) && redo < maxFillPageRedos {
				redo++
				continue
			}
			if err != nil {
				return err
			}
		}
		if last {
			break
		}
		after = hi
	}
	return db.inTx(ctx, func(tx writeTx) error {
		_, err := tx.ExecContext(ctx, `UPDATE thing_groups SET status = ?
			WHERE account = ? AND region = ? AND name = ? AND id = ? AND query_string = ?`,
			warden.DynamicGroupActive, s.Account, s.Region, name, gid, query)
		return err
	})
}

// fillPage reads and evaluates the next page of things after the name
// after, in name order.
func (db *DB) fillPage(ctx context.Context, s warden.Scope, q *warden.FleetQuery, after string) (map[string]fillThing, []string, error) {
	type read struct {
		warden.FleetThing
		version int64
	}
	things, err := queryAll(ctx, db.read, func(r rowScanner) (t read, err error) {
		var attrs string
		if err := r.Scan(&t.Name, &t.ID, &t.version, &t.TypeName, &attrs); err != nil {
			return t, err
		}
		t.Attributes, err = decodeThingAttributes(attrs, "thing "+t.Name)
		return t, err
	}, `SELECT name, id, version, thing_type_name, attributes FROM things
		WHERE account = ? AND region = ? AND name > ? ORDER BY name LIMIT ?`, s.Account, s.Region, after, db.fillPageSize())
	if err != nil {
		return nil, nil, err
	}
	page := make(map[string]fillThing, len(things))
	names := make([]string, len(things))
	for i := range things {
		t := &things[i]
		page[t.Name] = fillThing{id: t.ID, version: t.version, match: q.Match(&t.FleetThing)}
		names[i] = t.Name
	}
	return page, names, nil
}

// thingRange is the SQL condition on column for names after lo and up to
// hi ("" = no upper bound), with its arguments.
func thingRange(column, lo, hi string) (string, []any) {
	if hi == "" {
		return column + " > ?", []any{lo}
	}
	return column + " > ? AND " + column + " <= ?", []any{lo, hi}
}

// fillChanges reports whether the page's things, as read, differ from the
// group's members (read now) in the page's range of names.
func (db *DB) fillChanges(ctx context.Context, s warden.Scope, group, lo, hi string, page map[string]fillThing) (bool, error) {
	members, err := groupMembersIn(ctx, db.read, s, group, lo, hi)
	if err != nil {
		return false, err
	}
	want := make(map[string]bool, len(page))
	for n, t := range page {
		want[n] = t.match
	}
	leave, join := warden.DynamicFillChanges(want, members, nil)
	return len(leave)+len(join) > 0, nil
}

// groupMembersIn lists the group's members with names after lo and up to
// hi ("" = no upper bound).
func groupMembersIn(ctx context.Context, q querier, s warden.Scope, group, lo, hi string) ([]string, error) {
	cond, args := thingRange("thing_name", lo, hi)
	return queryStrings(ctx, q, `SELECT thing_name FROM thing_group_members
		WHERE account = ? AND region = ? AND group_name = ? AND `+cond, append([]any{s.Account, s.Region, group}, args...)...)
}

// applyFillPage writes one page of a fill: the things of the range lo..hi
// join or leave the group as the page read them, or as they are now when
// they changed since (or are new: on SQLite such a thing synced itself, and
// evaluating it again is cheap and harmless).
//
// lockRows (PostgreSQL) locks the range's things first, in the statement
// that takes the transaction's snapshot: thing writes of the range then wait
// for the page instead of committing under it, and a stream of them cannot
// fail the page's SERIALIZABLE transaction every time it runs.
func applyFillPage(ctx context.Context, tx writeTx, s warden.Scope, group, gid, query string, q *warden.FleetQuery,
	lo, hi string, page map[string]fillThing, now time.Time, lockRows bool) error {
	cond, args := thingRange("name", lo, hi)
	lock := ""
	if lockRows {
		lock = " FOR SHARE"
	}
	type version struct {
		name, id string
		version  int64
	}
	inRange, err := queryAll(ctx, tx, func(r rowScanner) (v version, err error) { return v, r.Scan(&v.name, &v.id, &v.version) },
		`SELECT name, id, version FROM things WHERE account = ? AND region = ? AND `+cond+lock, append([]any{s.Account, s.Region}, args...)...)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	var changed []string
	for _, v := range inRange {
		if read, ok := page[v.name]; ok && read.id == v.id && read.version == v.version {
			want[v.name] = read.match
		} else {
			changed = append(changed, v.name)
		}
	}
	var id, current string
	err = tx.QueryRowContext(ctx, `SELECT id, query_string FROM thing_groups WHERE account = ? AND region = ? AND name = ? AND dynamic = 1`,
		s.Account, s.Region, group).Scan(&id, &current)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (id != gid || current != query) {
		return errFillSuperseded
	}
	if err != nil {
		return err
	}
	for _, name := range changed {
		t, err := thingByName(ctx, tx, s, name)
		if err != nil {
			return err
		}
		want[name] = q.Match(t.Fleet())
	}
	members, err := groupMembersIn(ctx, tx, s, group, lo, hi)
	if err != nil {
		return err
	}
	cond, args = thingRange("thing_name", lo, hi)
	full, err := queryStrings(ctx, tx, `SELECT thing_name FROM thing_group_members WHERE account = ? AND region = ? AND `+cond+`
		GROUP BY thing_name HAVING COUNT(*) >= ?`, append(append([]any{s.Account, s.Region}, args...), warden.MaxGroupsPerThing)...)
	if err != nil {
		return err
	}
	isFull := make(map[string]bool, len(full))
	for _, n := range full {
		isFull[n] = true
	}
	leave, join := warden.DynamicFillChanges(want, members, isFull)
	for _, n := range leave {
		if err := removeMembership(ctx, tx, s, n, group, true, now); err != nil {
			return err
		}
	}
	for _, n := range join {
		if err := addMembership(ctx, tx, s, n, group, true, now); err != nil {
			return err
		}
	}
	return nil
}

// ResumeDynamicGroupFills finishes the fills that a stopped process left
// undone: every dynamic group still BUILDING or REBUILDING has its members
// computed. warden serve runs it at start.
func (db *DB) ResumeDynamicGroupFills(ctx context.Context) error {
	type pending struct {
		s                 warden.Scope
		name, id, queryOf string
	}
	todo, err := queryAll(ctx, db.read, func(r rowScanner) (p pending, err error) {
		return p, r.Scan(&p.s.Account, &p.s.Region, &p.name, &p.id, &p.queryOf)
	}, `SELECT account, region, name, id, query_string FROM thing_groups WHERE dynamic = 1 AND status <> ?`, warden.DynamicGroupActive)
	if err != nil {
		return fmt.Errorf("dynamic thing groups to fill: %w", err)
	}
	for _, p := range todo {
		if err := db.fillDynamicGroup(ctx, p.s, p.name, p.id, p.queryOf, time.Now().UTC()); err != nil {
			return fmt.Errorf("dynamic thing group %s of %s: %w", p.name, p.s.Account, err)
		}
	}
	return nil
}
