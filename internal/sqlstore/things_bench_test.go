package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warden-iot/warden/internal/pgtest"

	"github.com/warden-iot/warden"
)

var thingsBenchScope = warden.Scope{Account: "123456789012", Region: "us-east-1"}

func thingsBenchOpen(b *testing.B) *DB {
	b.Helper()
	db, err := Open(context.Background(), Options{Database: pgtest.Database(b, b.TempDir()), DataDir: b.TempDir(), Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// thingsBenchInsert inserts n things named prefix%06d in batches, each also a
// member of group when group is not "" — directly in SQL, because a
// fixture of 100,000 through the API would take minutes.
func thingsBenchInsert(b *testing.B, db *DB, prefix string, n int, group string) {
	b.Helper()
	ctx := context.Background()
	now := millis(time.Now())
	const batch = 500
	err := db.inTx(ctx, func(tx writeTx) error {
		for start := 0; start < n; start += batch {
			end := min(start+batch, n)
			var things, members strings.Builder
			var thingArgs, memberArgs []any
			for i := start; i < end; i++ {
				name := fmt.Sprintf("%s%06d", prefix, i)
				if i > start {
					things.WriteString(", ")
					members.WriteString(", ")
				}
				things.WriteString("(?, ?, ?, ?, '', ?, 1, ?, ?)")
				thingArgs = append(thingArgs, thingsBenchScope.Account, thingsBenchScope.Region, name, warden.NewUUID(),
					fmt.Sprintf(`{"n":"%d"}`, i%100), now, now)
				members.WriteString("(?, ?, ?, ?, 0, ?)")
				memberArgs = append(memberArgs, thingsBenchScope.Account, thingsBenchScope.Region, group, name, now)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO things (account, region, name, id, thing_type_name, attributes, version, created_at, updated_at) VALUES `+
				things.String(), thingArgs...); err != nil {
				return err
			}
			if group == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO thing_group_members (account, region, group_name, thing_name, dynamic, created_at) VALUES `+
				members.String(), memberArgs...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func thingsBenchGroup(b *testing.B, db *DB, name, parent string) {
	b.Helper()
	now := time.Now()
	if _, _, err := db.CreateThingGroup(context.Background(), thingsBenchScope, warden.ThingGroup{
		Name: name, ID: warden.NewUUID(), ParentName: parent, CreationDate: now, LastModifiedDate: now}, nil); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkListThingsInThingGroup reads page 1 and page 400 (the last, at
// 250 things a page) of a 100,000-member group. Keyset pagination makes both
// cost the same.
func BenchmarkListThingsInThingGroup(b *testing.B) {
	const members, pageSize = 100_000, 250
	db := thingsBenchOpen(b)
	thingsBenchGroup(b, db, "big", "")
	thingsBenchGroup(b, db, "bigchild", "big")
	thingsBenchInsert(b, db, "thing", members, "big")
	ctx := context.Background()
	// The cursor of page 400 is the last name of page 399.
	page400 := fmt.Sprintf("thing%06d", 399*pageSize-1)
	for _, bc := range []struct {
		name      string
		after     string
		recursive bool
	}{
		{"page1", "", false},
		{"page400", page400, false},
		{"recursive/page1", "", true},
		{"recursive/page400", "big" + thingCursorSep + page400, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				things, next, err := db.ThingsInThingGroup(ctx, thingsBenchScope, "big", bc.recursive, warden.Page{After: bc.after, Limit: pageSize})
				if err != nil {
					b.Fatal(err)
				}
				if len(things) != pageSize {
					b.Fatalf("got %d things", len(things))
				}
				if (bc.after == "") != (next != "") {
					b.Fatalf("after %q: next %q", bc.after, next)
				}
			}
		})
	}
}

// BenchmarkUpdateThingDynamicGroups updates one thing of 10,000 with 0 and
// with 50 dynamic groups defined: the cost grows with the dynamic groups,
// not with the things. "moving" updates change which group the thing is in
// (one membership removed and one added, each logged); "steady" updates
// leave its memberships as they are, which isolates evaluating the queries.
func BenchmarkUpdateThingDynamicGroups(b *testing.B) {
	for _, bc := range []struct {
		groups int
		moving bool
	}{{0, false}, {50, false}, {0, true}, {50, true}} {
		name := fmt.Sprintf("dynamic=%d/steady", bc.groups)
		if bc.moving {
			name = fmt.Sprintf("dynamic=%d/moving", bc.groups)
		}
		b.Run(name, func(b *testing.B) {
			db := thingsBenchOpen(b)
			thingsBenchInsert(b, db, "thing", 10_000, "")
			ctx := context.Background()
			now := time.Now()
			for i := range bc.groups {
				q := &warden.DynamicGroupQuery{IndexName: warden.DefaultIndexName, QueryVersion: warden.DefaultQueryVersion,
					QueryString: fmt.Sprintf("attributes.n:[%d TO %d] AND thingName:thing00*", i*2, i*2+1)}
				if _, _, err := db.CreateThingGroup(ctx, thingsBenchScope, warden.ThingGroup{Name: fmt.Sprintf("dyn%02d", i), ID: warden.NewUUID(),
					CreationDate: now, LastModifiedDate: now, Query: q}, nil); err != nil {
					b.Fatal(err)
				}
			}
			i := 0
			for b.Loop() {
				attrs := map[string]string{"n": "42", "o": fmt.Sprint(i)}
				if bc.moving {
					attrs["n"] = fmt.Sprint(i % 100)
				}
				if _, err := db.UpdateThing(ctx, thingsBenchScope, "thing000042", warden.ThingUpdate{Attributes: attrs}, now); err != nil {
					b.Fatal(err)
				}
				i++
			}
			groups, _, err := db.ThingGroupsForThing(ctx, thingsBenchScope, "thing000042", warden.Page{Limit: 10})
			if err != nil {
				b.Fatal(err)
			}
			if want := min(bc.groups, 1); len(groups) != want {
				b.Fatalf("thing is in %d groups, want %d", len(groups), want)
			}
		})
	}
}
