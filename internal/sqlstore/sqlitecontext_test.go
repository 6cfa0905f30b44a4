package sqlstore

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// Statements run with contexts stripped of their cancellation (see
// sqlitedriver.Uncancelled), yet a context that has already ended still keeps a
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
