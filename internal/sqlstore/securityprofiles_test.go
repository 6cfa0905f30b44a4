package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/pgtest"
)

// TestDeleteSecurityProfileInvalidatesViolations: the profile's active
// violations end with an alarm-invalidated event; others stay.
func TestDeleteSecurityProfileInvalidatesViolations(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{Database: pgtest.Database(t, t.TempDir()), DataDir: t.TempDir(), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	now := time.UnixMilli(1700000000123).UTC()
	for _, p := range []string{"gone", "kept"} {
		if _, err := db.CreateSecurityProfile(ctx, s, warden.SecurityProfile{Name: p}, nil, now); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []struct{ id, profile string }{{"v-gone", "gone"}, {"v-kept", "kept"}} {
		if _, err := db.write.ExecContext(ctx, `INSERT INTO detect_violations (account, region, violation_id, thing_name, profile_name,
			behavior_name, behavior, criteria_type, last_value, start_time, last_violation_time) VALUES (?, ?, ?, 't1', ?, 'b', '{"name":"b"}', 'STATIC', '{"count":9}', ?, ?)`,
			s.Account, s.Region, v.id, v.profile, millis(now), millis(now)); err != nil {
			t.Fatal(err)
		}
	}
	later := now.Add(time.Minute)
	if err := db.DeleteSecurityProfile(ctx, s, "gone", nil, later); err != nil {
		t.Fatal(err)
	}
	ends := map[string]int64{}
	rows, err := db.read.QueryContext(ctx, `SELECT violation_id, end_time FROM detect_violations`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var end int64
		if err := rows.Scan(&id, &end); err != nil {
			t.Fatal(err)
		}
		ends[id] = end
	}
	rows.Close()
	if ends["v-gone"] != millis(later) || ends["v-kept"] != 0 {
		t.Fatalf("end times after delete = %v, want v-gone ended at %d and v-kept active", ends, millis(later))
	}
	var id, typ string
	var at int64
	if err := db.read.QueryRowContext(ctx, `SELECT violation_id, event_type, event_time FROM detect_violation_events`).Scan(&id, &typ, &at); err != nil {
		t.Fatal(err)
	}
	if id != "v-gone" || typ != warden.ViolationInvalidated || at != millis(later) {
		t.Fatalf("event = %s %s %d, want v-gone %s %d", id, typ, at, warden.ViolationInvalidated, millis(later))
	}
}
