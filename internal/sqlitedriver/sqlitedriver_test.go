package sqlitedriver

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"testing"
)

func openCacheTestDB(t *testing.T) (*sql.Conn, *sqliteCacheConn) {
	t.Helper()
	connector, err := NewConnector("file:"+filepath.Join(t.TempDir(), "c.db")+"?_pragma=journal_mode(WAL)", "BEGIN")
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var cc *sqliteCacheConn
	if err := conn.Raw(func(dc any) error {
		cc = dc.(*sqliteCacheConn)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return conn, cc
}

func TestSQLiteStmtCache(t *testing.T) {
	ctx := context.Background()
	conn, cc := openCacheTestDB(t)

	// Multi-statement strings bypass the cache and run every statement.
	if _, err := conn.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
		INSERT INTO t (v) VALUES ('a'); INSERT INTO t (v) VALUES ('b')`); err != nil {
		t.Fatal(err)
	}
	if len(cc.byQuery) != 0 {
		t.Fatalf("multi-statement string cached: %d entries", len(cc.byQuery))
	}

	// A statement run repeatedly is prepared once, and reset between uses.
	const ins = `INSERT INTO t (v) VALUES (?)`
	for i := range 10 {
		res, err := conn.ExecContext(ctx, ins, string(rune('c'+i)))
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("rows affected %d", n)
		}
	}
	if len(cc.byQuery) != 1 {
		t.Fatalf("cache entries %d, want 1", len(cc.byQuery))
	}

	count := func() int {
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE v >= ?`, "").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 12 {
		t.Fatalf("count %d, want 12", n)
	}
	if n := count(); n != 12 {
		t.Fatalf("count again %d, want 12", n)
	}

	// The same query while its cached statement's rows are open runs on
	// a fresh statement.
	const sel = `SELECT id, v FROM t WHERE id <= ? ORDER BY id`
	outer, err := conn.QueryContext(ctx, sel, 3)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for outer.Next() {
		var id int
		var v string
		if err := outer.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		inner, err := conn.QueryContext(ctx, sel, 2)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for inner.Next() {
			n++
		}
		if err := inner.Close(); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Fatalf("inner rows %d, want 2", n)
		}
		seen++
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	if seen != 3 {
		t.Fatalf("outer rows %d, want 3", seen)
	}
	// And after, the cached one is used again, from the start.
	rows, err := conn.QueryContext(ctx, sel, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	rows.Close()
	if n != 1 {
		t.Fatalf("rows %d, want 1", n)
	}
	// A Rows closed before the end leaves the statement reset.
	rows, err = conn.QueryContext(ctx, sel, 100)
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	rows.Close()
	rows, err = conn.QueryContext(ctx, sel, 100)
	if err != nil {
		t.Fatal(err)
	}
	n = 0
	for rows.Next() {
		n++
	}
	rows.Close()
	if n != 12 {
		t.Fatalf("rows %d, want 12", n)
	}

	// Eviction closes statements, but not one whose rows are open.
	open, err := conn.QueryContext(ctx, sel, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !open.Next() {
		t.Fatal("no row")
	}
	for i := range sqliteStmtCacheSize + 10 {
		if _, err := conn.ExecContext(ctx, `SELECT ?+`+strconv.Itoa(i), i); err != nil {
			t.Fatal(err)
		}
	}
	if len(cc.byQuery) != sqliteStmtCacheSize || cc.lru.Len() != sqliteStmtCacheSize {
		t.Fatalf("cache entries %d/%d, want %d", len(cc.byQuery), cc.lru.Len(), sqliteStmtCacheSize)
	}
	if _, ok := cc.byQuery[sel]; ok {
		t.Fatal("query not evicted")
	}
	n = 1
	for open.Next() {
		n++
	}
	if err := open.Close(); err != nil {
		t.Fatal(err)
	}
	if n != 12 {
		t.Fatalf("rows of an evicted statement %d, want 12", n)
	}

	// Transactions, and a failing statement, leave the cache usable.
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, ins, "tx"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, 1, "dup"); err == nil {
		t.Fatal("duplicate key inserted")
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, 1000, "ok"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 12 {
		t.Fatalf("count after rollback %d, want 12", n)
	}
	if _, err := conn.ExecContext(ctx, `SELECT nope FROM t`); err == nil {
		t.Fatal("bad query succeeded")
	}
}
