package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/secret"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// TestEmptiedDatabaseIsRefused: a zero-length (or deleted) warden.db beside
// the credentials file used to start a fresh store with a new key, as if
// nothing had happened. Now the start is refused, saying what to do.
func TestEmptiedDatabaseIsRefused(t *testing.T) {
	for _, how := range []string{"truncated", "deleted"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			_, _, stop := startMain(t, dir)
			stop()
			db := filepath.Join(dir, sqlstore.SQLiteFile)
			for _, f := range []string{db + "-wal", db + "-shm"} {
				_ = os.Remove(f)
			}
			var err error
			if how == "truncated" {
				err = os.Truncate(db, 0)
			} else {
				err = os.Remove(db)
			}
			if err != nil {
				t.Fatal(err)
			}
			if how == "deleted" {
				// The master key file alone also shows a store existed;
				// here the credentials file must be enough.
				_ = os.Remove(filepath.Join(dir, secret.KeyFile))
			}
			var out bytes.Buffer
			m := &Main{Config: Config{Store: sqlstore.Options{DataDir: dir}, Listen: "127.0.0.1:0", LogLevel: "error"},
				Stdout: &out, LogOutput: io.Discard}
			err = m.Open(context.Background())
			m.Close()
			if err == nil || !errors.Is(err, sqlstore.ErrLostStore) || !strings.Contains(err.Error(), "missing or empty") ||
				!strings.Contains(err.Error(), "Restore") || !strings.Contains(err.Error(), "remove") {
				t.Fatalf("start over a %s database: %v (printed %q), want a refusal saying to restore it or remove the credentials file", how, err, out.String())
			}
			if out.Len() != 0 {
				t.Errorf("the refused start printed new credentials:\n%s", out.String())
			}
		})
	}
}

// TestCheckFindsCorruption: 8 KiB of random bytes in the middle of a
// populated database was served without a word; `warden check` finds it and
// fails, and passes on the sound store.
func TestCheckFindsCorruption(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opt := sqlstore.Options{DataDir: dir, Synchronous: "NORMAL"}
	store, err := openStore(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	now := time.Now()
	long := strings.Repeat("v", 200)
	for i := range 1500 {
		if _, _, err := store.CreateThing(ctx, s, warden.Thing{Name: fmt.Sprintf("thing-%04d", i), ID: warden.NewUUID(),
			Attributes: map[string]string{"a": long, "b": long}, CreationDate: now, LastModifiedDate: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runCheck(ctx, opt, &out); err != nil {
		t.Fatalf("check of a sound store: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "ok") {
		t.Errorf("check of a sound store printed %q, want ok", out.String())
	}

	path := filepath.Join(dir, sqlstore.SQLiteFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < 64<<10 {
		t.Fatalf("the database is only %d bytes: not populated enough to damage its middle", st.Size())
	}
	junk := make([]byte, 8<<10)
	_, _ = rand.Read(junk)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(junk, st.Size()/2/4096*4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out.Reset()
	err = runCheck(ctx, opt, &out)
	if !errors.Is(err, sqlstore.ErrDamaged) {
		t.Fatalf("check of a store with 8 KiB of random bytes in its middle: %v, want ErrDamaged\n%s", err, out.String())
	}
	if out.Len() == 0 {
		t.Error("check printed nothing of what SQLite found")
	}
	t.Logf("warden check: %v; printed:\n%s", err, firstLines(out.String(), 5))
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
