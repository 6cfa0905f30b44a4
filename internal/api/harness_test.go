package api_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/smithy-go"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/api"
	"github.com/warden-iot/warden/internal/pgtest"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// Test accounts and their keys.
const (
	accountA = "123456789012"
	accountB = "111122223333"
	keyA     = "AKIATESTACCOUNTAAAAA"
	secretA  = "secretAsecretAsecretAsecretAsecretA00000"
	keyB     = "AKIATESTACCOUNTBBBBB"
	secretB  = "secretBsecretBsecretBsecretBsecretB00000"
	region   = "us-east-1"
)

// env is a real Warden handler stack on a real SQLite file behind
// httptest.NewServer, with SDK clients for two accounts.
type env struct {
	t       testing.TB
	dir     string
	store   *sqlstore.DB
	server  *httptest.Server
	a, b    *iot.Client
	ctx     context.Context
	handler *api.Server
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), ctx: context.Background()}
	e.open()
	for _, k := range []warden.AccessKey{
		{ID: keyA, Secret: secretA, Account: accountA, CreatedAt: time.Now()},
		{ID: keyB, Secret: secretB, Account: accountB, CreatedAt: time.Now()},
	} {
		if err := e.store.CreateAccessKey(e.ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(e.close)
	return e
}

// open starts the handler stack on e.dir.
func (e *env) open() {
	store, err := sqlstore.Open(e.ctx, sqlstore.Options{Database: pgtest.Database(e.t, e.dir), DataDir: e.dir, Synchronous: "NORMAL"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = store
	e.handler, err = api.New(e.ctx, api.Config{Store: store})
	if err != nil {
		e.t.Fatal(err)
	}
	e.server = httptest.NewServer(e.handler)
	e.a = e.client(keyA, secretA)
	e.b = e.client(keyB, secretB)
}

// restart closes the server and the store and opens them again on the same
// data dir, as a process restart would.
func (e *env) restart() {
	e.close()
	e.open()
}

func (e *env) close() {
	if e.server != nil {
		e.server.Close()
		e.server = nil
	}
	if e.store != nil {
		_ = e.store.Close()
		e.store = nil
	}
}

func (e *env) client(key, secret string) *iot.Client {
	return iot.New(iot.Options{
		Region:       region,
		BaseEndpoint: aws.String(e.server.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient:   http.DefaultClient,
		// Fail fast: a retried LimitExceeded would only slow the tests.
		RetryMaxAttempts: 1,
	})
}

// wantCode fails unless err is an API error with the given code and HTTP status.
func wantCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (%d)", code, status)
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("got error %v (%T), want API error %s", err, err, code)
	}
	if apiErr.ErrorCode() != code {
		t.Fatalf("got code %s (%s), want %s", apiErr.ErrorCode(), apiErr.ErrorMessage(), code)
	}
	var respErr interface{ HTTPStatusCode() int }
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() != status {
		t.Fatalf("got HTTP status %d for %s, want %d", respErr.HTTPStatusCode(), code, status)
	}
}

// rawDB opens the test store's database directly, for fixtures the API
// cannot make and for snapshots.
func rawDB(t testing.TB, e *env) *sql.DB {
	t.Helper()
	db, err := sqlstore.OpenSQL(sqlstore.Options{Database: pgtest.Database(t, e.dir), DataDir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
