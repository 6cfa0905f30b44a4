package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// TestHistoryMasksEndpoint: a change-log entry written unmasked (before
// Warden masked them at write) is shown masked.
func TestHistoryMasksEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		`{"Endpoint":"https://u:pw@127.0.0.1:8443/x","Protocol":"https"}`: `{"Endpoint":"https://u:****@127.0.0.1:8443/x","Protocol":"https"}`,
		`{"Endpoint":"https://u:****@127.0.0.1:8443/x"}`:                  `{"Endpoint":"https://u:****@127.0.0.1:8443/x"}`,
		`{"Status":"Confirmed"}`:                                          `{"Status":"Confirmed"}`,
		`-`:                                                               `-`,
	} {
		if got := maskEndpoint(in); got != want {
			t.Errorf("maskEndpoint(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestReadOnlyCommandsRefuseAMissingStore: run outside a data directory,
// history and credentials list say so and create nothing.
func TestReadOnlyCommandsRefuseAMissingStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "warden-data")
	flags := readStoreFlags{DataDir: dir}
	for name, run := range map[string]func() error{
		"history":          func() error { return (&historyCmd{readStoreFlags: flags, out: io.Discard}).Run(context.Background()) },
		"credentials list": func() error { return (&credentialsListCmd{readStoreFlags: flags}).Run(context.Background()) },
	} {
		err := run()
		if err == nil || !strings.Contains(err.Error(), "no Warden data in "+dir) || !strings.Contains(err.Error(), "--data-dir") {
			t.Errorf("%s: error %v, want no Warden data in %s ... --data-dir", name, err, dir)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s created %s (stat: %v)", name, dir, err)
		}
	}
}

// TestHistoryNewestFirstHeaderAndEmptyResource: a header names the columns,
// --newest-first reverses the order (and -limit keeps the newest), and a
// resource with no changes is said to have none, with why.
func TestHistoryNewestFirstHeaderAndEmptyResource(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opt := sqlstore.Options{DataDir: dir, Synchronous: "NORMAL"}
	store, err := openStore(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	s := warden.Scope{Account: warden.DefaultAccount, Region: "us-east-1"}
	for _, name := range []string{"first", "second", "third"} {
		if _, _, err := store.CreateThing(ctx, s, warden.Thing{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()
	history := func(c historyCmd) []string {
		t.Helper()
		var out bytes.Buffer
		c.readStoreFlags, c.out = readStoreFlags{DataDir: dir}, &out
		if err := c.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	}
	lines := history(historyCmd{})
	if len(lines) != 4 || lines[0] != historyHeader {
		t.Fatalf("history = %q, want the header and 3 rows", lines)
	}
	if !strings.Contains(lines[1], "thing/first\t") || !strings.Contains(lines[3], "thing/third\t") {
		t.Errorf("history is not oldest first: %q", lines)
	}
	lines = history(historyCmd{NewestFirst: true, Limit: 2})
	if len(lines) != 3 || lines[0] != historyHeader || !strings.Contains(lines[1], "thing/third\t") || !strings.Contains(lines[2], "thing/second\t") {
		t.Errorf("history --newest-first --limit 2 = %q, want the header, third, second", lines)
	}
	action := "arn:aws:iot:us-east-1:123456789012:mitigationaction/UpdateCACertName"
	lines = history(historyCmd{Resource: action})
	if len(lines) != 1 || !strings.Contains(lines[0], "No changes of "+action) || !strings.Contains(lines[0], "mitigation actions") {
		t.Errorf("history --resource %s = %q, want a line saying there are none and why", action, lines)
	}
}
