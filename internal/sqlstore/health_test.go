package sqlstore

import (
	"context"
	"errors"
	"testing"

	"github.com/warden-iot/warden/internal/pgtest"
)

// TestHealthChecks: on both databases a fresh store is reachable, current
// and writable; a schema another (newer) binary migrated is reported, and a
// closed store fails every check.
func TestHealthChecks(t *testing.T) {
	open := map[string]func(t *testing.T) *DB{
		"sqlite": func(t *testing.T) *DB {
			db, err := OpenSQLite(context.Background(), t.TempDir(), SQLiteOptions{Synchronous: "NORMAL", MasterKey: testMasterKey})
			return closeWithTest(t, db, err)
		},
		"postgres": func(t *testing.T) *DB {
			pgtest.SkipUnlessPostgres(t)
			db, err := OpenPostgres(context.Background(), pgtest.Database(t, t.TempDir()), PostgresOptions{MaxConns: 4, MasterKey: testMasterKey})
			return closeWithTest(t, db, err)
		},
	}
	for name, open := range open {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t)
			if err := errors.Join(db.Ping(ctx), db.SchemaCurrent(ctx), db.Writable()); err != nil {
				t.Fatalf("fresh store: %v", err)
			}
			latest, err := latestMigration()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.write.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, TRUE)`, latest+1); err != nil {
				t.Fatal(err)
			}
			if err := db.SchemaCurrent(ctx); !errors.Is(err, ErrSchemaBehind) {
				t.Errorf("SchemaCurrent with a newer schema = %v, want ErrSchemaBehind", err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if err := db.Ping(ctx); !errors.Is(err, ErrStoreUnreachable) {
				t.Errorf("Ping on a closed store = %v, want ErrStoreUnreachable", err)
			}
			if err := db.SchemaCurrent(ctx); err == nil {
				t.Error("SchemaCurrent on a closed store = nil, want an error")
			}
			if name == "sqlite" {
				if err := db.Writable(); !errors.Is(err, ErrStoreNotWritable) {
					t.Errorf("Writable on a closed store = %v, want ErrStoreNotWritable", err)
				}
			}
		})
	}
}
