package iam_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/sqlstore"
	"github.com/warden-iot/warden/internal/wardentest"
)

// trustIoT is the trust policy AWS documents for mitigation action roles.
const trustIoT = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// iamEnv is wardentest's stack with IAM SDK clients for two accounts; its
// fields are the stack's, refreshed at every restart.
type iamEnv struct {
	*wardentest.Stack
	t      testing.TB
	ctx    context.Context
	dir    string
	store  *sqlstore.DB
	server *httptest.Server
	a, b   *awsiam.Client
}

func newIAMEnv(t testing.TB) *iamEnv {
	t.Helper()
	e := &iamEnv{Stack: wardentest.Start(t, wardentest.Config{}), t: t, ctx: context.Background()}
	e.opened()
	return e
}

// opened takes the fields of the stack just opened.
func (e *iamEnv) opened() {
	e.dir, e.store, e.server = e.Dir, e.Store, e.Server
	e.a = e.client(wardentest.KeyA, wardentest.SecretA, wardentest.Region)
	e.b = e.client(wardentest.KeyB, wardentest.SecretB, wardentest.Region)
}

// restart stops everything and opens it again on the same data dir.
func (e *iamEnv) restart() {
	e.Restart()
	e.opened()
}

func (e *iamEnv) client(key, secret, reg string) *awsiam.Client {
	return e.IAMClient(key, secret, reg)
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
	if err := wardentest.Sign(req, []byte(body), key, secret, "iam", wardentest.Region, time.Time{}); err != nil {
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
