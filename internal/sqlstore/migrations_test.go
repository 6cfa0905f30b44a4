package sqlstore

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/warden-iot/warden"
)

// A data dir written before migration 11 keeps its things, change log and
// mitigation actions, and the change log goes on numbering after its last row.
func TestMigrationFewerPagesPerWriteKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := sql.Open("sqlite", "file:"+filepath.Join(dir, SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := fs.Sub(migrations, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, old, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO things (account, region, name, id, thing_type_name, attributes, version, created_at, updated_at)
			VALUES ('123456789012', 'us-east-1', 'typed', 'id-1', 'sensor', '{"a":"1"}', 3, 1000, 2000),
			       ('123456789012', 'us-east-1', 'plain', 'id-2', '', '{}', 1, 1000, 1000)`,
		`INSERT INTO change_log (account, region, resource_arn, operation, before_doc, after_doc, actor, at)
			VALUES ('123456789012', 'us-east-1', 'arn:a', 'CreateThing', '', '{}', 'k', 1000),
			       ('123456789012', 'us-east-1', 'arn:b', 'CreateThing', '', '{}', 'k', 1000),
			       ('123456789012', 'us-east-1', 'arn:c', 'CreateThing', '', '{}', 'k', 1000)`,
		`INSERT INTO mitigation_actions (account, region, name, id, action_type, role_arn, params, created_at, updated_at)
			VALUES ('123456789012', 'us-east-1', 'a1', 'id-a1', 'ENABLE_IOT_LOGGING', 'arn:aws:iam::123456789012:role/r',
			        '{"enableIoTLoggingParams":{"roleArnForLogging":"arn:aws:iam::123456789012:role/l","logLevel":"INFO"}}', 1000, 1000),
			       ('123456789012', 'us-east-1', 'a2', 'id-a2', 'ENABLE_IOT_LOGGING', 'arn:aws:iam::123456789012:role/r',
			        '{"enableIoTLoggingParams":{"roleArnForLogging":"arn:aws:iam::123456789012:role/l","logLevel":"INFO"}}', 1000, 1000)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db := openGroupTestDB(t, dir, "NORMAL")
	s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	typed, err := db.Thing(ctx, s, "typed")
	if err != nil {
		t.Fatal(err)
	}
	if typed.ID != "id-1" || typed.TypeName != "sensor" || typed.Attributes["a"] != "1" || typed.Version != 3 {
		t.Errorf("typed thing after the migration: %+v", typed)
	}
	got, _, err := db.Things(ctx, s, warden.ThingFilter{TypeName: "sensor"}, warden.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "typed" {
		t.Errorf("things of type sensor: %+v", got)
	}
	all, _, err := db.Things(ctx, s, warden.ThingFilter{}, warden.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Errorf("%d things after the migration, want 2", len(all))
	}

	now := time.Now()
	if _, _, err := db.CreateThing(ctx, s, warden.Thing{Name: "new", ID: "id-3", CreationDate: now, LastModifiedDate: now}); err != nil {
		t.Fatal(err)
	}
	changes, err := db.Changes(ctx, warden.ChangeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 4 || changes[2].Seq != 3 || changes[2].ResourceArn != "arn:c" || changes[3].Seq != 4 ||
		!strings.HasSuffix(changes[3].ResourceArn, "thing/new") {
		t.Errorf("change log after the migration: %+v", changes)
	}

	if _, _, err := db.CreateMitigationAction(ctx, s, warden.MitigationAction{Name: "a3", ID: "id-a3", RoleArn: "arn:aws:iam::123456789012:role/r",
		Params:       warden.MitigationActionParams{UpdateDeviceCertificateParams: &warden.UpdateCertificateParams{Action: "DEACTIVATE"}},
		CreationDate: now, LastModifiedDate: now}, nil); err != nil {
		t.Fatal(err)
	}
	actions, _, err := db.MitigationActions(ctx, s, "", warden.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range actions {
		names = append(names, a.Name)
	}
	if strings.Join(names, ",") != "a3,a2,a1" || actions[2].Params.EnableIoTLoggingParams == nil {
		t.Errorf("actions after the migration, newest first: %v", names)
	}

	byResource, err := db.Changes(ctx, warden.ChangeFilter{ResourceArn: "arn:b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(byResource) != 1 || byResource[0].Seq != 2 {
		t.Errorf("changes of arn:b: %+v", byResource)
	}

	for _, table := range []string{"change_log", "mitigation_actions"} {
		var ddl string
		if err := db.read.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = ?`, table).Scan(&ddl); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(ddl, "AUTOINCREMENT") {
			t.Errorf("%s still has AUTOINCREMENT: %s", table, ddl)
		}
	}
	var indexes int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'change_log'`).
		Scan(&indexes); err != nil {
		t.Fatal(err)
	}
	if indexes != 0 {
		t.Errorf("change_log has %d indexes, want none", indexes)
	}
}
