package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// benchDB is the PostgreSQL schema a run keeps Warden's store in: created
// fresh in the database --database names, dropped at the end, so that every
// run starts empty without needing rights to create databases.
type benchDB struct {
	admin  *sql.DB
	schema string
	url    string // what warden serve --database gets
}

// schemaURL returns base with search_path set to schema and application_name
// to schema too, by which the bench finds Warden's backends to count their CPU.
func schemaURL(base, schema string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("--database must be a postgres://user@host:port/db URL, not %q", redactURL(base))
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// redactURL hides a password a database URL may hold.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func openBenchDB(ctx context.Context, base string) (*benchDB, error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "warden_bench_" + hex.EncodeToString(b)
	u, err := schemaURL(base, schema)
	if err != nil {
		return nil, err
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return nil, err
	}
	admin.SetMaxOpenConns(1)
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		return nil, fmt.Errorf("create schema %s in %s: %w", schema, redactURL(base), err)
	}
	return &benchDB{admin: admin, schema: schema, url: u}, nil
}

// drop removes the schema and everything Warden stored in it.
func (d *benchDB) drop() error {
	defer d.admin.Close()
	_, err := d.admin.Exec(`DROP SCHEMA ` + d.schema + ` CASCADE`)
	return err
}

// backends are the process ids of the server backends serving Warden's
// connections (on this machine when the database is local).
func (d *benchDB) backends(ctx context.Context) ([]int, error) {
	rows, err := d.admin.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, d.schema)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return nil, err
		}
		pids = append(pids, pid)
	}
	return pids, rows.Err()
}
