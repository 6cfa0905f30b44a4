package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Concurrent writers share commits, yet each stays all-or-nothing: a writer
// that fails after writing leaves no row, its neighbours in the group keep
// theirs, and everything acknowledged is there after a reopen.
func TestGroupCommitKeepsEachWriteAtomic(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := OpenSQLite(ctx, dir, SQLiteOptions{Synchronous: "FULL"})
	if err != nil {
		t.Fatal(err)
	}
	errFail := errors.New("fail after writing")
	const writers = 200
	var wg sync.WaitGroup
	results := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = db.inTx(ctx, func(tx writeTx) error {
				for j := range 2 {
					if _, err := tx.ExecContext(ctx, `INSERT INTO server_secrets (name, value) VALUES (?, ?)`,
						fmt.Sprintf("w%d-%d", i, j), []byte{1}); err != nil {
						return err
					}
				}
				if i%3 == 0 {
					return errFail
				}
				return nil
			})
		}()
	}
	wg.Wait()
	want := 0
	for i, err := range results {
		switch {
		case i%3 == 0 && !errors.Is(err, errFail):
			t.Errorf("writer %d: got %v, want its own error", i, err)
		case i%3 != 0 && err != nil:
			t.Errorf("writer %d: got %v, want success", i, err)
		case i%3 != 0:
			want += 2
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = OpenSQLite(ctx, dir, SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM server_secrets WHERE name LIKE 'w%'`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("after reopen %d rows, want %d (2 per successful writer, none of failed ones)", got, want)
	}
}

// A writer whose context is already cancelled is not run, and does not
// disturb the others.
func TestGroupCommitSkipsCancelledWriter(t *testing.T) {
	ctx := context.Background()
	db := openGroupTestDB(t, t.TempDir(), "NORMAL")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	err := db.inTx(cancelled, func(tx writeTx) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Errorf("cancelled writer: err %v, ran %v; want context.Canceled and not run", err, ran)
	}
	if err := db.inTx(ctx, func(tx writeTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO server_secrets (name, value) VALUES ('after', x'01')`)
		return err
	}); err != nil {
		t.Fatalf("writer after a cancelled one: %v", err)
	}
}

// A writer that panics gets an error; the server and the other writers of
// its group carry on.
func TestGroupCommitSurvivesPanic(t *testing.T) {
	ctx := context.Background()
	db := openGroupTestDB(t, t.TempDir(), "NORMAL")
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.inTx(ctx, func(tx writeTx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO server_secrets (name, value) VALUES (?, x'01')`, fmt.Sprint("p", i)); err != nil {
					return err
				}
				if i%2 == 0 {
					panic("boom")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i%2 == 0) != (err != nil) {
			t.Errorf("writer %d: err %v", i, err)
		}
	}
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM server_secrets WHERE name LIKE 'p%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Errorf("%d rows, want the 10 of the writers that did not panic", n)
	}
}

// With synchronous FULL the committer fsyncs the WAL itself: every write is
// covered by an fsync when it returns, and concurrent writes share fsyncs.
func TestGroupCommitSharesWALFsyncs(t *testing.T) {
	ctx := context.Background()
	db := openGroupTestDB(t, t.TempDir(), "FULL")
	wal := db.group.wal
	if wal == nil {
		t.Fatal("a FULL store has no WAL syncer")
	}
	const writers = 200
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Commits made before this write's: its own is a later one.
			var before uint64
			errs[i] = db.inTx(ctx, func(tx writeTx) error {
				wal.mu.Lock()
				before = wal.commits
				wal.mu.Unlock()
				_, err := tx.ExecContext(ctx, `INSERT INTO server_secrets (name, value) VALUES (?, x'01')`, fmt.Sprint("s", i))
				return err
			})
			if errs[i] == nil {
				wal.mu.Lock()
				defer wal.mu.Unlock()
				if wal.synced <= before {
					errs[i] = fmt.Errorf("returned with %d commits synced, before its own commit (after %d)", wal.synced, before)
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	wal.mu.Lock()
	defer wal.mu.Unlock()
	if wal.synced != wal.commits {
		t.Errorf("after all writes returned: %d commits, %d synced", wal.commits, wal.synced)
	}
	if wal.syncs == 0 || wal.syncs >= writers {
		t.Errorf("%d fsyncs for %d concurrent writes; want at least one, shared", wal.syncs, writers)
	}
	t.Logf("%d writes, %d commits, %d fsyncs", writers, wal.commits, wal.syncs)
}

// A failed fsync fails the writes waiting for it and every later one: the
// kernel may have dropped what it could not write, so nothing after can be
// called durable.
func TestGroupCommitFailedFsyncIsFinal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openGroupTestDB(t, dir, "FULL")
	db.group.wal.path = dir + "/no-such-wal"
	insert := func(name string) error {
		return db.inTx(ctx, func(tx writeTx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO server_secrets (name, value) VALUES (?, x'01')`, name)
			return err
		})
	}
	if err := insert("a"); err == nil || !strings.Contains(err.Error(), "fsync") {
		t.Fatalf("write whose fsync failed: got %v, want the fsync error", err)
	}
	ran := false
	err := db.inTx(ctx, func(tx writeTx) error { ran = true; return nil })
	if err == nil || ran {
		t.Fatalf("write after a failed fsync: err %v, ran %v; want refused, not run", err, ran)
	}
}

// With synchronous NORMAL, SQLite's commit is the answer: no fsyncs.
func TestGroupCommitNormalDoesNotFsync(t *testing.T) {
	db := openGroupTestDB(t, t.TempDir(), "NORMAL")
	if db.group.wal != nil {
		t.Error("a NORMAL store fsyncs its WAL")
	}
}

// openGroupTestDB opens a SQLite store in dir, closed when the test ends.
func openGroupTestDB(t *testing.T, dir, synchronous string) *DB {
	t.Helper()
	db, err := OpenSQLite(context.Background(), dir, SQLiteOptions{Synchronous: synchronous})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// queued is the number of writes waiting for the next group.
func (g *groupCommitter) queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

// commitCounts is the number of groups committed so far and of the writes in them.
func (g *groupCommitter) commitCounts() (groups, grouped int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.groups, g.grouped
}

// A writer that would commit alone first lets the runnable goroutines run,
// so a write that is about to be made joins its group: with one thread, a
// writer started just before another's write is runnable but has not run,
// and without the yield each would commit on its own. The yield is a hint to
// the scheduler, which now and then runs its global queue first (once in 61
// rounds), so the test counts trials rather than trusting a single one.
func TestGroupCommitLoneWriterWaitsForRunnableWriters(t *testing.T) {
	ctx := context.Background()
	db := openGroupTestDB(t, t.TempDir(), "NORMAL")
	insert := func(name string) error {
		return db.inTx(ctx, func(tx writeTx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO server_secrets (name, value) VALUES (?, x'01')`, name)
			return err
		})
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const trials = 20
	joined := 0
	for i := range trials {
		groupsBefore, groupedBefore := db.group.commitCounts()
		second := make(chan error, 1)
		go func() { second <- insert(fmt.Sprintf("second-%d", i)) }()
		if err := insert(fmt.Sprintf("first-%d", i)); err != nil {
			t.Fatal(err)
		}
		if err := <-second; err != nil {
			t.Fatal(err)
		}
		groups, grouped := db.group.commitCounts()
		if groups-groupsBefore == 1 && grouped-groupedBefore == 2 {
			joined++
		}
	}
	if joined < trials*3/4 {
		t.Errorf("two writes made in one group in %d of %d trials; want nearly all", joined, trials)
	}
}
