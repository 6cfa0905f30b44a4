// Package wardentest is the one test harness of Warden's packages: a store
// for a test (SQLite in a temporary directory, or a PostgreSQL schema of its
// own when WARDEN_TEST_DATABASE is set), test access keys, the whole handler
// stack of `warden serve` on an httptest server (Start), SDK clients for
// IoT, SNS and IAM and a SigV4 signer for raw requests, WantCode for their
// errors, and a fake clock and a polling wait.
package wardentest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/pgtest"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// The test accounts, their access keys and the default region.
const (
	AccountA = "123456789012"
	KeyA     = "AKIATESTACCOUNTAAAAA"
	SecretA  = "secretAsecretAsecretAsecretAsecretA00000"
	AccountB = "111122223333"
	KeyB     = "AKIATESTACCOUNTBBBBB"
	SecretB  = "secretBsecretBsecretBsecretBsecretB00000"
	Region   = "us-east-1"
)

// StoreOptions are the options of the store of a test for data dir dir:
// its own PostgreSQL schema when WARDEN_TEST_DATABASE is set, else SQLite
// in dir with synchronous (NORMAL when "").
func StoreOptions(t testing.TB, dir, synchronous string) sqlstore.Options {
	t.Helper()
	if synchronous == "" {
		synchronous = "NORMAL"
	}
	return sqlstore.Options{Database: pgtest.Database(t, dir), DataDir: dir, Synchronous: synchronous}
}

// OpenStore opens the store of data dir dir (see StoreOptions), closed when
// t ends. Opening the same dir again, as a restart does, finds the same data.
func OpenStore(t testing.TB, dir, synchronous string) *sqlstore.DB {
	t.Helper()
	store := openStore(t, dir, synchronous)
	t.Cleanup(func() { _ = store.Close() })
	return store
}

// NewStore is a new, empty store for t.
func NewStore(t testing.TB) *sqlstore.DB {
	t.Helper()
	return OpenStore(t, t.TempDir(), "")
}

func openStore(t testing.TB, dir, synchronous string) *sqlstore.DB {
	t.Helper()
	store, err := sqlstore.Open(context.Background(), StoreOptions(t, dir, synchronous))
	if err != nil {
		t.Fatalf("open test store: %v", err)
	}
	return store
}

// RawDB opens the database of the store of data dir dir directly, for
// fixtures the API cannot make and for snapshots; it is closed when t ends.
func RawDB(t testing.TB, dir string) *sql.DB {
	t.Helper()
	db, err := sqlstore.OpenSQL(sqlstore.Options{Database: pgtest.Database(t, dir), DataDir: dir})
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// AddKey stores access key id with secret for account.
func AddKey(t testing.TB, store warden.Store, id, secret, account string) {
	t.Helper()
	k := warden.AccessKey{ID: id, Secret: secret, Account: account, CreatedAt: time.Now()}
	if err := store.CreateAccessKey(context.Background(), k); err != nil {
		t.Fatalf("create access key %s: %v", id, err)
	}
}

// AddTestKeys stores KeyA for AccountA and KeyB for AccountB.
func AddTestKeys(t testing.TB, store warden.Store) {
	t.Helper()
	AddKey(t, store, KeyA, SecretA, AccountA)
	AddKey(t, store, KeyB, SecretB, AccountB)
}
