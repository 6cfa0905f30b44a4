package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func openCacheTestDB(t *testing.T) (*sql.Conn, *sqliteCacheConn) {
	t.Helper()
	connector, err := openSQLiteConnector("file:"+filepath.Join(t.TempDir(), "c.db")+"?_pragma=journal_mode(WAL)", "BEGIN")
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

// Statements run with contexts stripped of their cancellation (see
// uncancelled), yet a context that has already ended still keeps a
// statement or a transaction from starting.
func TestSQLiteEndedContextStillRefused(t *testing.T) {
	db, err := OpenSQLite(context.Background(), t.TempDir(), SQLiteOptions{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM access_keys`).Scan(&n); err != nil {
		t.Fatalf("query with a live cancellable context: %v", err)
	}
	stmt, err := db.read.PrepareContext(ctx, `SELECT COUNT(*) FROM access_keys`)
	if err != nil {
		t.Fatal(err)
	}
	if err := stmt.QueryRowContext(ctx).Scan(&n); err != nil {
		t.Fatalf("prepared query with a live cancellable context: %v", err)
	}
	cancel()
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM access_keys`).Scan(&n); !errors.Is(err, context.Canceled) {
		t.Errorf("query with an ended context: got %v, want context.Canceled", err)
	}
	if err := stmt.QueryRowContext(ctx).Scan(&n); !errors.Is(err, context.Canceled) {
		t.Errorf("prepared query with an ended context: got %v, want context.Canceled", err)
	}
	if _, err := db.write.BeginTx(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("transaction with an ended context: got %v, want context.Canceled", err)
	}
}

// A write transaction runs with cancellation stripped too (sqliteTx), yet a
// context that ends during it stops it at its next statement, and it is
// rolled back whole; a write queued behind it in the same group is not.
func TestSQLiteWriteStopsAtEndedContext(t *testing.T) {
	db := openGroupTestDB(t, t.TempDir(), "NORMAL")
	insert := `INSERT INTO server_secrets (name, value) VALUES (?, x'01')`
	ctx, cancel := context.WithCancel(context.Background())
	err := db.inTx(ctx, func(tx writeTx) error {
		if _, err := tx.ExecContext(ctx, insert, "first"); err != nil {
			return err
		}
		cancel()
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM server_secrets`).Scan(&n); !errors.Is(err, context.Canceled) {
			t.Errorf("query after the context ended: %v, want context.Canceled", err)
		}
		_, err := tx.ExecContext(ctx, insert, "second")
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("write whose context ended: %v, want context.Canceled", err)
	}

	// In a group: the leader's write holds the writer while the others
	// queue; one of them ends its context mid-way. The leader says so from
	// inside its write, as only then is its group fixed (a lone leader
	// yields first, and writes queued by then join it).
	holding, release := make(chan struct{}), make(chan struct{})
	leaderDone := make(chan error, 1)
	go func() {
		leaderDone <- db.inTx(context.Background(), func(tx writeTx) error {
			close(holding)
			<-release
			_, err := tx.ExecContext(context.Background(), insert, "leader")
			return err
		})
	}()
	<-holding
	ctx2, cancel2 := context.WithCancel(context.Background())
	results := make(chan error, 2)
	go func() {
		results <- db.inTx(ctx2, func(tx writeTx) error {
			if _, err := tx.ExecContext(ctx2, insert, "cancelled-1"); err != nil {
				return err
			}
			cancel2()
			_, err := tx.ExecContext(ctx2, insert, "cancelled-2")
			return err
		})
	}()
	go func() {
		results <- db.inTx(context.Background(), func(tx writeTx) error {
			_, err := tx.ExecContext(context.Background(), insert, "neighbour")
			return err
		})
	}()
	for db.group.queued() < 2 {
		runtime.Gosched()
	}
	close(release)
	if err := <-leaderDone; err != nil {
		t.Fatal(err)
	}
	var canceled, ok int
	for range 2 {
		switch err := <-results; {
		case errors.Is(err, context.Canceled):
			canceled++
		case err == nil:
			ok++
		default:
			t.Errorf("grouped write: %v", err)
		}
	}
	if canceled != 1 || ok != 1 {
		t.Errorf("grouped writes: %d cancelled, %d succeeded; want 1 and 1", canceled, ok)
	}
	rows, err := db.read.Query(`SELECT name FROM server_secrets WHERE value = x'01' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if strings.Join(names, ",") != "leader,neighbour" {
		t.Errorf("rows %v, want leader and neighbour only", names)
	}
}
