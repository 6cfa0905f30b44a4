// Package pgtest gives each test a PostgreSQL schema of its own on the
// server named by WARDEN_TEST_DATABASE; without it, PostgreSQL tests skip.
package pgtest

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver for schema management
)

// EnvDatabase names the environment variable that selects PostgreSQL.
const EnvDatabase = "WARDEN_TEST_DATABASE"

// URL returns the PostgreSQL server the suites run on, or "" when
// they run on SQLite.
func URL() string { return os.Getenv(EnvDatabase) }

var (
	schemasMu sync.Mutex
	schemas   = map[string]bool{}
)

// Database returns the database URL a test's store for data dir dir opens:
// "" (SQLite in dir) unless WARDEN_TEST_DATABASE is set, else the URL of a
// PostgreSQL schema standing for dir, created on first use and dropped when
// t ends. Reopening the same dir (a restart) finds the same data; tests
// never see each other's.
func Database(t testing.TB, dir string) string {
	t.Helper()
	if URL() == "" {
		return ""
	}
	u, err := SchemaURL(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// SchemaURL returns the URL of the PostgreSQL schema that stands for data
// dir dir, creating the schema (dropped at the end of t) on first use.
func SchemaURL(t testing.TB, dir string) (string, error) {
	sum := sha256.Sum256([]byte(dir))
	schema := "t_" + hex.EncodeToString(sum[:10])
	schemasMu.Lock()
	defer schemasMu.Unlock()
	if !schemas[schema] {
		admin, err := sql.Open("pgx", URL())
		if err != nil {
			return "", err
		}
		defer admin.Close()
		if _, err := admin.Exec(`CREATE SCHEMA IF NOT EXISTS ` + schema); err != nil {
			return "", fmt.Errorf("create schema for the test (is PostgreSQL at %s reachable?): %w", URL(), err)
		}
		schemas[schema] = true
		t.Cleanup(func() {
			schemasMu.Lock()
			delete(schemas, schema)
			schemasMu.Unlock()
			if os.Getenv("WARDEN_TEST_KEEP_SCHEMAS") != "" {
				return
			}
			admin, err := sql.Open("pgx", URL())
			if err != nil {
				return
			}
			defer admin.Close()
			_, _ = admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		})
	}
	return WithSearchPath(URL(), schema)
}

// WithSearchPath returns the postgres:// URL base with search_path set to
// schema, so that every connection works inside that schema.
func WithSearchPath(base, schema string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("%s must be a postgres:// URL, not %q", EnvDatabase, base)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// SkipUnlessPostgres skips a test that needs PostgreSQL, saying how to run it.
func SkipUnlessPostgres(t testing.TB) {
	t.Helper()
	if URL() == "" {
		t.Skip("PostgreSQL suite skipped: set " + EnvDatabase + "=postgres://user@host:5432/dbname to run it (.ci/run does)")
	}
}
