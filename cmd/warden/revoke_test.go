package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/smithy-go"

	"github.com/warden-iot/warden/internal/pgtest"
)

// TestRevokedKeyStopsWorkingOnRunningServers: a key deleted or deactivated
// with the CLI used to keep working on a running server until its restart
// (the server cached keys forever). Now every node answers 403
// UnrecognizedClientException within about a second. On SQLite one server
// runs; with WARDEN_TEST_DATABASE two nodes share the database.
func TestRevokedKeyStopsWorkingOnRunningServers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	flags := storeFlags{DataDir: dir, Synchronous: "normal", Database: pgtest.Database(t, dir)}
	nodes := 1
	if flags.Database != "" {
		nodes = 2
		t.Setenv(envMasterKey, "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=")
	}
	var urls []string
	for range nodes {
		m := &Main{Config: Config{Store: flags.storeOptions(), Listen: "127.0.0.1:0", LogLevel: "error"},
			Stdout: io.Discard, LogOutput: io.Discard}
		runCtx, cancel := context.WithCancel(ctx)
		if err := m.Open(runCtx); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- m.Run(runCtx) }()
		t.Cleanup(func() {
			cancel()
			<-done
			m.Close()
		})
		urls = append(urls, m.URL())
	}

	create := &credentialsCreateCmd{storeFlags: flags, Account: "111122223333"}
	if err := create.Run(ctx); err != nil {
		t.Fatal(err)
	}
	key := newestAccessKey(t, flags.storeOptions())
	if key.Account != "111122223333" {
		t.Fatalf("newest key %s is of account %s", key.ID, key.Account)
	}
	var clients []*iot.Client
	for _, u := range urls {
		clients = append(clients, iot.New(iot.Options{Region: "us-east-1", BaseEndpoint: aws.String(u),
			Credentials: credentials.NewStaticCredentialsProvider(key.ID, key.Secret, "")}))
	}
	// call answers "" for success, else the error code.
	call := func(c *iot.Client) string {
		_, err := c.ListThings(ctx, &iot.ListThingsInput{})
		var apiErr smithy.APIError
		switch {
		case err == nil:
			return ""
		case errors.As(err, &apiErr):
			return apiErr.ErrorCode()
		}
		return err.Error()
	}
	// waitFor polls every node until each answers want, and returns how long
	// the slowest took.
	waitFor := func(what, want string) time.Duration {
		t.Helper()
		start := time.Now()
		for i, c := range clients {
			for got := call(c); got != want; got = call(c) {
				if time.Since(start) > 5*time.Second {
					t.Fatalf("%s: node %d still answers %q after 5 s, want %q", what, i, got, want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		return time.Since(start)
	}
	for i, c := range clients { // every node has the key cached
		if got := call(c); got != "" {
			t.Fatalf("node %d refused the new key: %s", i, got)
		}
	}

	state := func(inactive bool) {
		t.Helper()
		if err := (&credentialsKeyStateCmd{storeFlags: flags, KeyID: key.ID}).set(ctx, inactive); err != nil {
			t.Fatal(err)
		}
	}
	state(true)
	took := waitFor("deactivated", "UnrecognizedClientException")
	t.Logf("deactivated key refused by %d node(s) after %v", nodes, took.Round(time.Millisecond))
	checkBound(t, "deactivate", took)
	state(false)
	waitFor("activated again", "")

	if err := (&credentialsDeleteCmd{storeFlags: flags, KeyID: key.ID}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	took = waitFor("deleted", "UnrecognizedClientException")
	t.Logf("deleted key refused by %d node(s) after %v", nodes, took.Round(time.Millisecond))
	checkBound(t, "delete", took)
	if content, err := os.ReadFile(filepath.Join(dir, credentialsFileName)); err != nil || bytes.Contains(content, []byte(key.ID)) {
		t.Errorf("the deleted key's profile is still in the credentials file (%v):\n%s", err, content)
	}
}

// checkBound fails when revocation took far longer than the promised
// second; the bound is generous for a loaded machine.
func checkBound(t *testing.T, what string, took time.Duration) {
	t.Helper()
	if took > 3*time.Second {
		t.Errorf("%s took %v to reach every node, want about 1 s", what, took)
	}
}
