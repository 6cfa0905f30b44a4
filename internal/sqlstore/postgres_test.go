package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/pgtest"
)

func TestRebind(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c IN (?, ?)`, `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`},
		{`SELECT '?' || ?, "we?ird" FROM t WHERE x = ?`, `SELECT '?' || $1, "we?ird" FROM t WHERE x = $2`},
		{`SELECT 'it''s?' , ?`, `SELECT 'it''s?' , $1`},
		{"SELECT ? -- why?\nFROM t WHERE y = ?", "SELECT $1 -- why?\nFROM t WHERE y = $2"},
		{`SELECT a - ? FROM t`, `SELECT a - $1 FROM t`},
	} {
		if got := rebind(c.in); got != c.want {
			t.Errorf("rebind(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestPostgresMigrationsTranslate: no SQLite-only type survives outside
// comments, and every file is translated.
func TestPostgresMigrationsTranslate(t *testing.T) {
	sub, err := fs.Sub(migrations, sqliteMigrationsDir)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := fs.Sub(migrations, postgresMigrationsDir)
	if err != nil {
		t.Fatal(err)
	}
	sqliteFiles, _ := fs.Glob(sub, "*.sql")
	pgFiles, _ := fs.Glob(pg, "*.sql")
	if len(pgFiles) == 0 || len(pgFiles) != len(sqliteFiles) {
		t.Fatalf("%d translated migrations for %d SQLite ones", len(pgFiles), len(sqliteFiles))
	}
	sqliteOnly := regexp.MustCompile(`\b(INTEGER|BOOLEAN|BLOB|AUTOINCREMENT)\b|\bTEXT\b[^C]*$`)
	for _, name := range pgFiles {
		data, _ := fs.ReadFile(pg, name)
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "--") {
				continue
			}
			if m := sqliteOnly.FindString(line); m != "" && !strings.Contains(line, `TEXT COLLATE "C"`) {
				t.Errorf("%s:%d still says %q: %s", name, i+1, m, line)
			}
		}
	}
}

// TestPostgresNodesStartTogether: several processes opening one new database
// at once all come up, and each migration was applied once.
func TestPostgresNodesStartTogether(t *testing.T) {
	pgtest.SkipUnlessPostgres(t)
	ctx := context.Background()
	url := pgtest.Database(t, t.TempDir())
	const nodes = 4
	dbs := make([]*DB, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			dbs[i], errs[i] = OpenPostgres(ctx, url, PostgresOptions{MaxConns: 4, MasterKey: testMasterKey})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	var applied, distinct int
	if err := dbs[0].read.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0`).
		Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	sub, _ := fs.Sub(migrations, sqliteMigrationsDir)
	files, _ := fs.Glob(sub, "*.sql")
	if applied != len(files) || distinct != len(files) {
		t.Fatalf("goose recorded %d applications of %d versions, want each of the %d migrations once", applied, distinct, len(files))
	}
}

// TestPostgresLimitHoldsAcrossNodes: nodes creating mitigation actions at
// the same moment never exceed the account's limit of 100 — the count check
// and the insert are one SERIALIZABLE transaction, retried on conflict.
func TestPostgresLimitHoldsAcrossNodes(t *testing.T) {
	pgtest.SkipUnlessPostgres(t)
	ctx := context.Background()
	const nodes, perNode, prefilled = 4, 10, warden.MaxMitigationActions - 5
	dbs := postgresNodes(t, nodes, perNode)
	scope := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	create := func(db *DB, name string) error {
		a := warden.MitigationAction{Name: name, ID: name, RoleArn: "arn:aws:iam::123456789012:role/Mitigation",
			Params:       warden.MitigationActionParams{UpdateDeviceCertificateParams: &warden.UpdateCertificateParams{Action: "DEACTIVATE"}},
			CreationDate: time.Now(), LastModifiedDate: time.Now()}
		_, _, err := db.CreateMitigationAction(ctx, scope, a, nil)
		return err
	}
	for i := range prefilled {
		if err := create(dbs[0], fmt.Sprintf("prefilled-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Every creator waits at the gate, so that the last free places are
	// contended by all of them at once.
	gate := make(chan struct{})
	errs := make(chan error, nodes*perNode)
	var wg sync.WaitGroup
	for n, db := range dbs {
		for i := range perNode {
			wg.Go(func() {
				<-gate
				errs <- create(db, fmt.Sprintf("node%d-%02d", n, i))
			})
		}
	}
	close(gate)
	wg.Wait()
	close(errs)
	created, limited := 0, 0
	for err := range errs {
		var werr *warden.Error
		switch {
		case err == nil:
			created++
		case errors.As(err, &werr) && werr.Code == warden.CodeLimitExceeded:
			limited++
		default:
			t.Fatalf("a creation failed otherwise: %v", err)
		}
	}
	var stored int
	if err := dbs[0].read.QueryRowContext(ctx, `SELECT COUNT(*) FROM mitigation_actions`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	free := warden.MaxMitigationActions - prefilled
	if created != free || stored != warden.MaxMitigationActions || limited != nodes*perNode-free {
		t.Fatalf("created %d, stored %d, limited %d; want %d, %d, %d", created, stored, limited,
			free, warden.MaxMitigationActions, nodes*perNode-free)
	}
}

// postgresNodes opens n stores on one new PostgreSQL schema, as n nodes of
// a cluster would, each with maxConns connections; they close when t ends.
func postgresNodes(t *testing.T, n, maxConns int) []*DB {
	t.Helper()
	url := pgtest.Database(t, t.TempDir())
	dbs := make([]*DB, n)
	for i := range dbs {
		db, err := OpenPostgres(context.Background(), url, PostgresOptions{MaxConns: maxConns, MasterKey: testMasterKey})
		dbs[i] = closeWithTest(t, db, err)
	}
	return dbs
}
