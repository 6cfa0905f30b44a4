package iam_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/api"
	"github.com/warden-iot/warden/internal/iam"
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

// trustIoT is the trust policy AWS documents for mitigation action roles.
const trustIoT = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// iamEnv is a real Warden handler stack (API server with the IAM handler)
// on a real SQLite file behind an httptest server, with IAM SDK clients for
// two accounts.
type iamEnv struct {
	t      testing.TB
	ctx    context.Context
	dir    string
	store  *sqlstore.DB
	server *httptest.Server
	a, b   *awsiam.Client
}

func newIAMEnv(t testing.TB) *iamEnv {
	t.Helper()
	e := &iamEnv{t: t, ctx: context.Background(), dir: t.TempDir()}
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

func (e *iamEnv) open() {
	t := e.t
	store, err := sqlstore.Open(e.ctx, sqlstore.Options{Database: pgtest.Database(t, e.dir), DataDir: e.dir, Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	e.store = store
	h, err := iam.NewHandler(e.ctx, iam.Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	apiServer, err := api.New(e.ctx, api.Config{Store: store, IAM: h})
	if err != nil {
		t.Fatal(err)
	}
	e.server = httptest.NewServer(apiServer)
	e.a = e.client(keyA, secretA, region)
	e.b = e.client(keyB, secretB, region)
}

// restart stops everything and opens it again on the same data dir.
func (e *iamEnv) restart() {
	e.close()
	e.open()
}

func (e *iamEnv) close() {
	if e.server != nil {
		e.server.Close()
		e.server = nil
	}
	if e.store != nil {
		_ = e.store.Close()
		e.store = nil
	}
}

func (e *iamEnv) client(key, secret, region string) *awsiam.Client {
	return awsiam.New(awsiam.Options{
		Region:           region,
		BaseEndpoint:     aws.String(e.server.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient:       http.DefaultClient,
		RetryMaxAttempts: 1,
	})
}

// createRole creates a role with the IoT trust policy in account A.
func (e *iamEnv) createRole(name, path string) *awsiam.CreateRoleOutput {
	e.t.Helper()
	in := &awsiam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trustIoT)}
	if path != "" {
		in.Path = aws.String(path)
	}
	out, err := e.a.CreateRole(e.ctx, in)
	if err != nil {
		e.t.Fatalf("CreateRole %s: %v", name, err)
	}
	return out
}

func (e *iamEnv) putPolicy(role, name, doc string) {
	e.t.Helper()
	if _, err := e.a.PutRolePolicy(e.ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String(role),
		PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
		e.t.Fatalf("PutRolePolicy %s/%s: %v", role, name, err)
	}
}

// iamState is everything an IAM request could have stored in an account,
// to assert that a rejected request stored nothing.
type iamState struct {
	Roles    []string
	Policies map[string][]string
	Docs     map[string]string
	Changes  int
}

func (e *iamEnv) state(account string) iamState {
	e.t.Helper()
	s := iamState{Policies: map[string][]string{}, Docs: map[string]string{}}
	roles, _, err := e.store.Roles(e.ctx, account, "/", warden.Page{Limit: 10000})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range roles {
		s.Roles = append(s.Roles, r.Path+r.Name+" "+r.ID+" "+r.AssumeRolePolicyDocument)
		names, _, err := e.store.RolePolicies(e.ctx, account, r.Name, warden.Page{Limit: 10000})
		if err != nil {
			e.t.Fatal(err)
		}
		s.Policies[r.Name] = names
		for _, n := range names {
			p, err := e.store.RolePolicy(e.ctx, account, r.Name, n)
			if err != nil {
				e.t.Fatal(err)
			}
			s.Docs[r.Name+"/"+n] = p.Document
		}
	}
	ch, err := e.store.Changes(e.ctx, warden.ChangeFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	s.Changes = len(ch)
	return s
}

// iamWantCode fails unless err is an API error with the given code and
// HTTP status.
func iamWantCode(t testing.TB, err error, code string, status int) {
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

// rawCall sends form as a SigV4-signed (service "iam") POST to "/" and
// returns the status and body, for checking the wire format itself.
func (e *iamEnv) rawCall(form url.Values, key, secret string) (int, string) {
	e.t.Helper()
	body := form.Encode()
	req, err := http.NewRequest(http.MethodPost, e.server.URL+"/", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(e.ctx, creds, req, hex.EncodeToString(sum[:]), "iam", region, time.Now()); err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// decode undoes IAM's URL-encoding of policy documents.
func decode(t testing.TB, s *string) string {
	t.Helper()
	if s == nil {
		t.Fatal("policy document is absent")
	}
	d, err := url.QueryUnescape(*s)
	if err != nil {
		t.Fatalf("policy document %q is not URL-encoded: %v", *s, err)
	}
	return d
}
