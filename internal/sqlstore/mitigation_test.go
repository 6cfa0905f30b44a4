package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/warden-iot/warden/internal/pgtest"

	"github.com/warden-iot/warden"
)

// TestDeactivateCertificateMatchesHelper keeps the engine's batched
// UPDATE_DEVICE_CERTIFICATE equal to updateCertificateStatusTx: the same
// row change, the same change-log row, the same errors, from every status.
func TestDeactivateCertificateMatchesHelper(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{Database: pgtest.Database(t, t.TempDir()), DataDir: t.TempDir(), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	insert := func(id, status string) {
		t.Helper()
		if err := db.inTx(ctx, func(tx writeTx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO certificates (account, region, id, status, pem, generation_id, not_before, not_after, created_at, updated_at)
				VALUES (?, ?, ?, ?, 'pem', 'gen-0', 0, 0, 0, 0)`, s.Account, s.Region, id, status)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	type row struct {
		status, generation string
		version, updated   int64
	}
	read := func(id string) (row, []warden.Change) {
		t.Helper()
		var r row
		err := db.read.QueryRowContext(ctx, `SELECT status, generation_id, customer_version, updated_at FROM certificates WHERE id = ?`, id).
			Scan(&r.status, &r.generation, &r.version, &r.updated)
		if err != nil && err != sql.ErrNoRows {
			t.Fatal(err)
		}
		changes, err := db.Changes(ctx, warden.ChangeFilter{ResourceArn: s.CertificateARN(id)})
		if err != nil {
			t.Fatal(err)
		}
		return r, changes
	}
	for i, status := range []string{warden.CertActive, warden.CertInactive, warden.CertRevoked, warden.CertPendingTransfer,
		warden.CertPendingActivation, warden.CertRegisterInactive, ""} {
		t.Run(status, func(t *testing.T) {
			helperID := strings.Repeat("a", 63) + string(rune('0'+i))
			fastID := strings.Repeat("b", 63) + string(rune('0'+i))
			if status != "" {
				insert(helperID, status)
				insert(fastID, status)
			}
			actx := warden.WithActor(ctx, "execution:t/f/a")
			var helperErr, fastErr error
			_ = db.inTx(ctx, func(tx writeTx) error {
				_, helperErr = updateCertificateStatusTx(actx, tx, s, helperID, warden.CertInactive, now)
				return helperErr
			})
			_ = db.inTx(ctx, func(tx writeTx) error {
				a := &mitApplier{ctx: ctx, tx: tx, now: now, certStatus: map[mitKey]string{}}
				fastErr = a.deactivateCertificate(actx, s, fastID)
				return fastErr
			})
			switch {
			case helperErr == nil && fastErr == nil:
			case helperErr == nil || fastErr == nil:
				t.Fatalf("helper error %v, batched error %v", helperErr, fastErr)
			default:
				he, fe := helperErr.(*warden.Error), fastErr.(*warden.Error)
				if he == nil || fe == nil || he.Code != fe.Code ||
					strings.ReplaceAll(he.Message, helperID, "ID") != strings.ReplaceAll(fe.Message, fastID, "ID") {
					t.Fatalf("helper error %v, batched error %v", helperErr, fastErr)
				}
			}
			hr, hc := read(helperID)
			fr, fc := read(fastID)
			if hr.status != fr.status || hr.version != fr.version || hr.updated != fr.updated ||
				(hr.generation == "gen-0") != (fr.generation == "gen-0") {
				t.Fatalf("rows differ: helper %+v, batched %+v", hr, fr)
			}
			if len(hc) != len(fc) {
				t.Fatalf("%d helper changes, %d batched", len(hc), len(fc))
			}
			for j := range hc {
				h, f := hc[j], fc[j]
				if h.Operation != f.Operation || h.Before != f.Before || h.After != f.After || h.Actor != f.Actor || !h.At.Equal(f.At) {
					t.Fatalf("changes differ: helper %+v, batched %+v", h, f)
				}
			}
		})
	}
}

// TestAddThingsToGroupsMatchesHelper keeps the engine's batched
// ADD_THINGS_TO_THING_GROUP equal to calling addThingToGroupTx for each
// thing and group in a transaction that is rolled back on error.
func TestAddThingsToGroupsMatchesHelper(t *testing.T) {
	ctx := context.Background()
	s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// setup: things t1 (free), full (10 static groups), dyn (9 static + 2
	// dynamic), kid (in child-a); groups g1, g2, parent/child-a/child-b,
	// s0..s9, d-old, d-new (dynamic), dq (dynamic).
	setup := func(t *testing.T, db *DB) {
		t.Helper()
		err := db.inTx(ctx, func(tx writeTx) error {
			exec := func(q string, args ...any) error {
				_, err := tx.ExecContext(ctx, q, args...)
				return err
			}
			group := func(name, parent, root string, dynamic int) error {
				return exec(`INSERT INTO thing_groups (account, region, name, id, parent_name, root_name, depth, dynamic, created_at, updated_at)
					VALUES (?, ?, ?, ?, ?, ?, 1, ?, 0, 0)`, s.Account, s.Region, name, "id-"+name, parent, root, dynamic)
			}
			member := func(group, thing string, dynamic int) error {
				return exec(`INSERT INTO thing_group_members (account, region, group_name, thing_name, dynamic, created_at) VALUES (?, ?, ?, ?, ?, 0)`,
					s.Account, s.Region, group, thing, dynamic)
			}
			for _, th := range []string{"t1", "t2", "full", "dyn", "kid"} {
				if err := exec(`INSERT INTO things (account, region, name, id, created_at, updated_at) VALUES (?, ?, ?, ?, 0, 0)`,
					s.Account, s.Region, th, "id-"+th); err != nil {
					return err
				}
			}
			for _, g := range []string{"g1", "g2", "parent"} {
				if err := group(g, "", g, 0); err != nil {
					return err
				}
			}
			for _, g := range []string{"child-a", "child-b"} {
				if err := group(g, "parent", "parent", 0); err != nil {
					return err
				}
			}
			for i := range 10 {
				g := "s" + string(rune('0'+i))
				if err := group(g, "", g, 0); err != nil {
					return err
				}
				if err := member(g, "full", 0); err != nil {
					return err
				}
				if i < 8 {
					if err := member(g, "dyn", 0); err != nil {
						return err
					}
				}
			}
			for _, g := range []string{"d-old", "d-new", "dq"} {
				if err := group(g, "", g, 1); err != nil {
					return err
				}
			}
			for _, m := range [][2]string{{"d-old", "dyn"}, {"d-new", "dyn"}, {"child-a", "kid"}} {
				if err := member(m[0], m[1], 1-boolInt(m[0] == "child-a")); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name           string
		things, groups []string
		override       bool
	}{
		{"adds every thing to every group", []string{"t1", "t2"}, []string{"g1", "g2"}, false},
		{"already a member", []string{"t1"}, []string{"g1", "g1"}, false},
		{"hierarchy", []string{"kid"}, []string{"child-b"}, false},
		{"hierarchy within the action", []string{"t1"}, []string{"child-a", "child-b"}, false},
		{"full, no dynamic group", []string{"full"}, []string{"g1"}, false},
		{"full with dynamic groups, no override", []string{"dyn"}, []string{"g1"}, false},
		{"full with dynamic groups, override", []string{"dyn"}, []string{"g1", "g2"}, true},
		{"override twice", []string{"dyn"}, []string{"g1", "g2", "parent"}, true},
		{"the second thing fails", []string{"t1", "full"}, []string{"g1"}, false},
		{"missing thing", []string{"t1", "ghost"}, []string{"g1"}, false},
		{"missing group", []string{"t1"}, []string{"g1", "nowhere"}, false},
		{"dynamic group", []string{"t1"}, []string{"dq"}, false},
	}
	type state struct {
		members, changes string
		err              error
	}
	run := func(t *testing.T, batched bool, things, groups []string, override bool) state {
		db, err := Open(ctx, Options{Database: pgtest.Database(t, t.TempDir()), DataDir: t.TempDir(), Synchronous: "NORMAL"})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		setup(t, db)
		actx := warden.WithActor(ctx, "execution:t/f/a")
		var applyErr error
		_ = db.inTx(ctx, func(tx writeTx) error {
			if batched {
				a := &mitApplier{ctx: ctx, tx: tx, now: now,
					thingGroups: map[mitKey][]warden.GroupMembership{}, groups: map[mitKey]warden.GroupMembership{}}
				if applyErr = a.readThings(s, []string{"t1"}); applyErr != nil {
					return applyErr
				}
				applyErr = a.addThingsToGroups(actx, s, things, groups, override)
				return applyErr
			}
			for _, th := range things {
				for _, g := range groups {
					if _, applyErr = addThingToGroupTx(actx, tx, s, th, g, override, now); applyErr != nil {
						return applyErr
					}
				}
			}
			return nil
		})
		var st state
		st.err = applyErr
		rows, err := db.read.QueryContext(ctx, `SELECT group_name || ':' || thing_name || ':' || dynamic FROM thing_group_members ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var m string
			_ = rows.Scan(&m)
			st.members += m + " "
		}
		rows.Close()
		changes, err := db.Changes(ctx, warden.ChangeFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range changes {
			st.changes += c.ResourceArn + " " + c.Operation + " " + c.Before + " " + c.After + " " + c.Actor + "\n"
		}
		return st
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			helper := run(t, false, tc.things, tc.groups, tc.override)
			batched := run(t, true, tc.things, tc.groups, tc.override)
			if (helper.err == nil) != (batched.err == nil) || helper.err != nil && helper.err.Error() != batched.err.Error() {
				t.Fatalf("errors differ:\n helper  %v\n batched %v", helper.err, batched.err)
			}
			if helper.members != batched.members {
				t.Fatalf("memberships differ:\n helper  %s\n batched %s", helper.members, batched.members)
			}
			if helper.changes != batched.changes {
				t.Fatalf("change logs differ:\n helper\n%s batched\n%s", helper.changes, batched.changes)
			}
		})
	}
}
