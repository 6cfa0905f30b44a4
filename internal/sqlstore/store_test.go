package sqlstore

import (
	"context"
	"testing"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/pgtest"
	"github.com/warden-iot/warden/internal/storetest"
)

// TestStoreSQLite runs the store conformance suite on SQLite.
func TestStoreSQLite(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T) warden.Store {
		db, err := OpenSQLite(context.Background(), t.TempDir(), SQLiteOptions{Synchronous: "NORMAL", MasterKey: testMasterKey})
		return closeWithTest(t, db, err)
	})
}

// TestStorePostgres runs the store conformance suite on PostgreSQL, a
// schema per subtest.
func TestStorePostgres(t *testing.T) {
	pgtest.SkipUnlessPostgres(t)
	storetest.Exercise(t, func(t *testing.T) warden.Store {
		db, err := OpenPostgres(context.Background(), pgtest.Database(t, t.TempDir()), PostgresOptions{MaxConns: 4, MasterKey: testMasterKey})
		return closeWithTest(t, db, err)
	})
}

// closeWithTest fails t on err, else closes db when t ends.
func closeWithTest(t *testing.T, db *DB, err error) *DB {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
