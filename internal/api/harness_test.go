package api_test

import (
	"context"
	"database/sql"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/warden-iot/warden/internal/api"
	"github.com/warden-iot/warden/internal/sqlstore"
	"github.com/warden-iot/warden/internal/wardentest"
)

// Test accounts and their keys.
const (
	accountA = wardentest.AccountA
	accountB = wardentest.AccountB
	keyA     = wardentest.KeyA
	secretA  = wardentest.SecretA
	keyB     = wardentest.KeyB
	secretB  = wardentest.SecretB
	region   = wardentest.Region
)

var (
	wantCode     = wardentest.WantCode
	errorMessage = wardentest.ErrorMessage
)

// env is the IoT API of wardentest's stack (requests signed for SNS or IAM
// answer as for an unknown service), with SDK clients for two accounts. Its
// fields are the stack's, refreshed at every restart.
type env struct {
	*wardentest.Stack
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
	e := &env{Stack: wardentest.Start(t, wardentest.Config{IoTOnly: true}), t: t, ctx: context.Background()}
	e.opened()
	return e
}

// opened takes the fields of the stack just opened.
func (e *env) opened() {
	e.dir, e.store, e.server, e.handler = e.Dir, e.Store, e.Server, e.API
	e.a = e.clientIn(keyA, secretA, region)
	e.b = e.clientIn(keyB, secretB, region)
}

// restart closes the server and the store and opens them again on the same
// data dir, as a process restart would.
func (e *env) restart() {
	e.Restart()
	e.opened()
}

// clientIn is an SDK client of the test server for any key and region.
func (e *env) clientIn(key, secret, reg string) *iot.Client { return e.IoT(key, secret, reg) }

// rawDB opens the test store's database directly, for fixtures the API
// cannot make and for snapshots.
func rawDB(t testing.TB, e *env) *sql.DB { return wardentest.RawDB(t, e.dir) }
