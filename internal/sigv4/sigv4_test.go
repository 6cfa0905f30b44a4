package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/warden-iot/warden"
)

const (
	testKey     = "AKIDWARDENTEST"
	testSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testAccount = "123456789012"
	testRegion  = "us-east-1"
)

// now is the server clock of the table tests; requests are signed at it
// unless a case says otherwise.
var now = time.Date(2026, 11, 25, 1, 15, 0, 0, time.UTC)

func testLookup(_ context.Context, id string) (string, string, bool, error) {
	if id == testKey {
		return testSecret, testAccount, true, nil
	}
	return "", "", false, nil
}

func newTestVerifier(clock time.Time) *Verifier {
	return &Verifier{
		Lookup:   testLookup,
		Now:      func() time.Time { return clock },
		Services: []string{"iot", "execute-api", "sns"},
	}
}

// result is what the test server's Verify call returned.
type result struct {
	cred Credential
	err  error
	uri  string // RequestURI as the server saw it
}

// startServer runs v behind a real HTTP server so that requests reach
// Verify in the shape net/http gives them (Host moved out of the header,
// Content-Length kept, path as sent).
func startServer(t *testing.T, v *Verifier) (*httptest.Server, <-chan result) {
	t.Helper()
	results := make(chan result, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			results <- result{err: err}
			return
		}
		cred, err := v.Verify(r.Context(), r, body)
		results <- result{cred: cred, err: err, uri: r.RequestURI}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	return srv, results
}

func send(t *testing.T, srv *httptest.Server, results <-chan result, req *http.Request) result {
	t.Helper()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("sending request: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	select {
	case res := <-results:
		return res
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not report a result")
		return result{}
	}
}

func newRequest(t testing.TB, method, rawURL string, body []byte, contentType string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// goSign signs req with the aws-sdk-go-v2 signer, as the Go SDK does.
func goSign(t testing.TB, req *http.Request, body []byte, key, secret, service string, at time.Time) {
	t.Helper()
	goSignHash(t, req, hashHex(body), key, secret, service, at)
}

func goSignHash(t testing.TB, req *http.Request, payloadHash, key, secret, service string, at time.Time) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, service, testRegion, at); err != nil {
		t.Fatalf("signing: %v", err)
	}
}

// botoSign is an independent, minimal SigV4 signer written from the AWS
// documentation the way botocore applies it to non-S3 services: the path
// has empty and dot segments removed and is then URI-encoded (a second time,
// since it is already encoded on the wire); the query is taken raw from the
// URL and its pairs sorted; the signed headers are host, x-amz-date and
// whatever else is on the request except user-agent; no
// X-Amz-Content-Sha256 is sent and content-length is not signed.
// When signedNames is non-nil it replaces the list of headers to sign.
func botoSign(t testing.TB, req *http.Request, body []byte, service string, at time.Time, signedNames []string) {
	t.Helper()
	amzDate := at.UTC().Format("20060102T150405Z")
	req.Header.Set("X-Amz-Date", amzDate)
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	values := map[string][]string{"host": {host}}
	for k, vs := range req.Header {
		values[strings.ToLower(k)] = vs
	}
	names := signedNames
	if names == nil {
		for k := range values {
			if k != "user-agent" {
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)

	var path strings.Builder
	wirePath := req.URL.EscapedPath()
	if op := req.URL.Opaque; op != "" { // the path is sent verbatim from Opaque
		if strings.HasPrefix(op, "//") {
			op = op[strings.IndexByte(op[2:], '/')+2:]
		}
		wirePath = op
	}
	for _, c := range []byte(botoRemoveDotSegments(wirePath)) {
		if strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~/", c) >= 0 {
			path.WriteByte(c)
		} else {
			fmt.Fprintf(&path, "%%%02X", c)
		}
	}
	var pairs [][2]string
	if req.URL.RawQuery != "" {
		for _, kv := range strings.Split(req.URL.RawQuery, "&") {
			k, v, _ := strings.Cut(kv, "=")
			pairs = append(pairs, [2]string{k, v})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i][0] != pairs[j][0] {
			return pairs[i][0] < pairs[j][0]
		}
		return pairs[i][1] < pairs[j][1]
	})
	var query []string
	for _, p := range pairs {
		query = append(query, p[0]+"="+p[1])
	}
	var headers strings.Builder
	for _, n := range names {
		var vs []string
		for _, v := range values[n] {
			vs = append(vs, strings.Join(strings.Fields(v), " "))
		}
		headers.WriteString(n + ":" + strings.Join(vs, ",") + "\n")
	}
	creq := strings.Join([]string{
		req.Method, path.String(), strings.Join(query, "&"), headers.String(), strings.Join(names, ";"), hashHex(body),
	}, "\n")
	scope := amzDate[:8] + "/" + testRegion + "/" + service + "/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hashHex([]byte(creq))
	mac := func(key []byte, data string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(data))
		return h.Sum(nil)
	}
	k := mac([]byte("AWS4"+testSecret), amzDate[:8])
	for _, part := range []string{testRegion, service, "aws4_request"} {
		k = mac(k, part)
	}
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%x",
		testKey, scope, strings.Join(names, ";"), mac(k, sts)))
}

// botoRemoveDotSegments mirrors botocore.utils.remove_dot_segments.
func botoRemoveDotSegments(p string) string {
	if p == "" {
		return "/"
	}
	var out []string
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." {
			continue
		}
		if seg == ".." {
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			continue
		}
		out = append(out, seg)
	}
	res := "/" + strings.Join(out, "/")
	if strings.HasSuffix(p, "/") && len(out) > 0 {
		res += "/"
	}
	return res
}

func signedHeadersOf(req *http.Request) string {
	_, after, _ := strings.Cut(req.Header.Get("Authorization"), "SignedHeaders=")
	list, _, _ := strings.Cut(after, ",")
	return list
}

var jsonBody = []byte(`{"thingTypeName":"sensor","attributePayload":{"attributes":{"color":"dark blue"}}}`)

// signedGet is GET /things/a signed by the Go SDK with the given key,
// secret and service at the time at.
func signedGet(t testing.TB, base, key, secret, service string, at time.Time) *http.Request {
	t.Helper()
	req := newRequest(t, "GET", base+"/things/a", nil, "")
	goSign(t, req, nil, key, secret, service, at)
	return req
}

// replaceInAuthorization returns a tamper that replaces the first old in
// the Authorization header with new.
func replaceInAuthorization(old, new string) func(*http.Request) {
	return func(req *http.Request) {
		req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), old, new, 1))
	}
}

type verifyCase struct {
	name  string
	build func(t *testing.T, base string) *http.Request
	// tamper, when build is nil, changes a valid signed GET /things/a after
	// signing.
	tamper func(req *http.Request)
	// wantCode is empty for a request that must verify.
	wantCode    warden.Code
	wantStatus  int
	wantMessage string // exact message when set
	wantService string // for successes
}

func TestVerifyRealSigners(t *testing.T) {
	v := newTestVerifier(now)
	srv, results := startServer(t, v)

	cases := []verifyCase{
		{
			name: "go iot GET with encoded colon and no body",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/things/a%3Ab", nil, "")
				goSign(t, req, nil, testKey, testSecret, "iot", now)
				return req
			},
			wantService: "iot",
		},
		{
			name: "go iot POST JSON with content-length signed",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "POST", base+"/things/a%3Ab", jsonBody, "application/json")
				goSign(t, req, jsonBody, testKey, testSecret, "iot", now)
				if sh := signedHeadersOf(req); !hasElement(sh, "content-length") {
					t.Fatalf("SignedHeaders = %q, want content-length among them", sh)
				}
				return req
			},
			wantService: "iot",
		},
		{
			name: "go iot POST JSON with content-length sent but not signed",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "POST", base+"/things/a%3Ab", jsonBody, "application/json")
				req.ContentLength = 0 // hide it from the signer only
				goSign(t, req, jsonBody, testKey, testSecret, "iot", now)
				req.ContentLength = int64(len(jsonBody))
				if sh := signedHeadersOf(req); hasElement(sh, "content-length") {
					t.Fatalf("SignedHeaders = %q, want no content-length", sh)
				}
				return req
			},
			wantService: "iot",
		},
		{
			name: "go execute-api query with spaces, specials and repeated keys",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/things?attributeValue=dark%20blue%2Fgreen&tag=b&tag=a&tag=a%2Bb&flag&empty=&%C3%A9=%E2%9C%93&nextToken=x~y*z", nil, "")
				goSign(t, req, nil, testKey, testSecret, "execute-api", now)
				return req
			},
			wantService: "execute-api",
		},
		{
			name: "go execute-api query sent in a different order and spelling than signed",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/things?tag=b&tag=a&attributeValue=dark+blue/green", nil, "")
				goSign(t, req, nil, testKey, testSecret, "execute-api", now)
				// The Go signer rewrites RawQuery into canonical order; other
				// clients keep their own order and escapes.
				req.URL.RawQuery = "tag=b&attributeValue=dark+blue%2fgreen&tag=a"
				return req
			},
			wantService: "execute-api",
		},
		{
			name: "go iot header with runs of spaces and repeated values",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/things/a", nil, "")
				req.Header.Add("X-Amz-Meta-Note", "  a   b  c ")
				req.Header.Add("X-Amz-Meta-Note", "second")
				goSign(t, req, nil, testKey, testSecret, "iot", now)
				return req
			},
			wantService: "iot",
		},
		{
			name: "go iot with a matching X-Amz-Content-Sha256",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "POST", base+"/things/a", jsonBody, "application/json")
				req.Header.Set("X-Amz-Content-Sha256", hashHex(jsonBody))
				goSign(t, req, jsonBody, testKey, testSecret, "iot", now)
				return req
			},
			wantService: "iot",
		},
		{
			// Warden issues no temporary credentials: no token is valid.
			name: "go iot with a session token",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/things/a", nil, "")
				creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret, SessionToken: "tok"}
				if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hashHex(nil), "iot", testRegion, now); err != nil {
					t.Fatal(err)
				}
				return req
			},
			wantCode: warden.CodeUnrecognizedClient, wantStatus: 403, wantMessage: "The security token included in the request is invalid.",
		},
		{
			name: "go sns form body",
			build: func(t *testing.T, base string) *http.Request {
				body := []byte("Action=Publish&Message=hello+world%21&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3At&Version=2010-03-31")
				req := newRequest(t, "POST", base+"/", body, "application/x-www-form-urlencoded; charset=utf-8")
				goSign(t, req, body, testKey, testSecret, "sns", now)
				return req
			},
			wantService: "sns",
		},
		{
			name: "go iot signed exactly MaxSkew ago",
			build: func(t *testing.T, base string) *http.Request {
				return signedGet(t, base, testKey, testSecret, "iot", now.Add(-5*time.Minute))
			},
			wantService: "iot",
		},
		{
			name: "botocore execute-api POST JSON with encoded colon",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "POST", base+"/things/a%3Ab", jsonBody, "application/json")
				botoSign(t, req, jsonBody, "execute-api", now, nil)
				if sh := signedHeadersOf(req); sh != "content-type;host;x-amz-date" {
					t.Fatalf("SignedHeaders = %q, want content-type;host;x-amz-date", sh)
				}
				return req
			},
			wantService: "execute-api",
		},
		{
			name: "botocore execute-api GET with query and no content-type",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/things?maxResults=5&nextToken=a%2Fb%20c&attributeName=color", nil, "")
				botoSign(t, req, nil, "execute-api", now, nil)
				return req
			},
			wantService: "execute-api",
		},
		{
			name: "botocore normalises empty and dot segments",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/things//x/./y/../z/", nil, "")
				botoSign(t, req, nil, "execute-api", now, nil)
				return req
			},
			wantService: "execute-api",
		},
		{
			name: "botocore path with a byte Go would escape, origin form",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/", nil, "")
				req.URL.Opaque = "/things/a|b%7cc"
				botoSign(t, req, nil, "execute-api", now, nil)
				return req
			},
			wantService: "execute-api",
		},
		{
			name: "botocore path with a byte Go would escape, absolute form",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/", nil, "")
				req.URL.Opaque = "//" + req.URL.Host + "/things/a|b%7cc"
				req.URL.RawQuery = "k=v"
				botoSign(t, req, nil, "execute-api", now, nil)
				return req
			},
			wantService: "execute-api",
		},
		{
			name: "go signs the un-normalised path",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/things//x/./y", nil, "")
				goSign(t, req, nil, testKey, testSecret, "iot", now)
				return req
			},
			wantService: "iot",
		},
		{
			name:        "unsigned header changed after signing",
			tamper:      func(req *http.Request) { req.Header.Set("User-Agent", "something-else") },
			wantService: "iot",
		},

		// Failures.
		{
			name: "wrong secret",
			build: func(t *testing.T, base string) *http.Request {
				return signedGet(t, base, testKey, "not-the-secret", "iot", now)
			},
			wantCode: warden.CodeInvalidSignature, wantStatus: 403, wantMessage: msgSignatureMismatch,
		},
		{
			name: "tampered body of the same length",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "POST", base+"/things/a", []byte(`{"a":1}`), "application/json")
				goSign(t, req, []byte(`{"a":1}`), testKey, testSecret, "iot", now)
				req.Body = io.NopCloser(strings.NewReader(`{"a":2}`))
				return req
			},
			wantCode: warden.CodeInvalidSignature, wantStatus: 403, wantMessage: msgSignatureMismatch,
		},
		{
			name: "tampered query",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/things?maxResults=5", nil, "")
				goSign(t, req, nil, testKey, testSecret, "iot", now)
				req.URL.RawQuery = "maxResults=500"
				return req
			},
			wantCode: warden.CodeInvalidSignature, wantStatus: 403, wantMessage: msgSignatureMismatch,
		},
		{
			name: "query parameter added",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/things?maxResults=5", nil, "")
				goSign(t, req, nil, testKey, testSecret, "iot", now)
				req.URL.RawQuery += "&nextToken=x"
				return req
			},
			wantCode: warden.CodeInvalidSignature, wantStatus: 403, wantMessage: msgSignatureMismatch,
		},
		{
			name: "tampered signed header",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "POST", base+"/things/a", jsonBody, "application/json")
				goSign(t, req, jsonBody, testKey, testSecret, "iot", now)
				req.Header.Set("Content-Type", "text/plain")
				return req
			},
			wantCode: warden.CodeInvalidSignature, wantStatus: 403, wantMessage: msgSignatureMismatch,
		},
		{
			name:     "tampered host",
			tamper:   func(req *http.Request) { req.Host = "other.example:443" },
			wantCode: warden.CodeInvalidSignature, wantStatus: 403, wantMessage: msgSignatureMismatch,
		},
		{
			name: "tampered path encoding",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/things/a%3Ab", nil, "")
				goSign(t, req, nil, testKey, testSecret, "iot", now)
				req.URL, _ = url.Parse(base + "/things/a:b") // same decoded path, different bytes
				return req
			},
			wantCode: warden.CodeInvalidSignature, wantStatus: 403, wantMessage: msgSignatureMismatch,
		},
		{
			name:     "tampered method",
			tamper:   func(req *http.Request) { req.Method = "DELETE" },
			wantCode: warden.CodeInvalidSignature, wantStatus: 403, wantMessage: msgSignatureMismatch,
		},
		{
			name: "signed 6 minutes ago",
			build: func(t *testing.T, base string) *http.Request {
				return signedGet(t, base, testKey, testSecret, "iot", now.Add(-6*time.Minute))
			},
			wantCode: warden.CodeInvalidSignature, wantStatus: 403,
			wantMessage: "Signature expired: 20261125T010900Z is now earlier than 20261125T011000Z (20261125T011500Z - 5 min.)",
		},
		{
			name: "signed 6 minutes in the future",
			build: func(t *testing.T, base string) *http.Request {
				return signedGet(t, base, testKey, testSecret, "iot", now.Add(6*time.Minute))
			},
			wantCode: warden.CodeInvalidSignature, wantStatus: 403,
			wantMessage: "Signature not yet current: 20261125T012100Z is still later than 20261125T012000Z (20261125T011500Z + 5 min.)",
		},
		{
			name: "unknown access key",
			build: func(t *testing.T, base string) *http.Request {
				return signedGet(t, base, "AKIDUNKNOWN", testSecret, "iot", now)
			},
			wantCode: warden.CodeUnrecognizedClient, wantStatus: 403,
			wantMessage: "The security token included in the request is invalid.",
		},
		{
			name: "no Authorization header",
			build: func(t *testing.T, base string) *http.Request {
				return newRequest(t, "GET", base+"/things/a", nil, "")
			},
			wantCode: warden.CodeMissingAuthenticationToken, wantStatus: 403, wantMessage: "Missing Authentication Token",
		},
		{
			name: "presigned query string instead of a header",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/things/a", nil, "")
				creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
				u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, hashHex(nil), "iot", testRegion, now)
				if err != nil {
					t.Fatal(err)
				}
				return newRequest(t, "GET", u, nil, "")
			},
			wantCode: warden.CodeMissingAuthenticationToken, wantStatus: 403, wantMessage: "Missing Authentication Token",
		},
		{
			name: "Authorization missing Signature and SignedHeaders",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/things/a", nil, "")
				req.Header.Set("X-Amz-Date", "20261125T011500Z")
				req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testKey+"/20261125/us-east-1/iot/aws4_request")
				return req
			},
			wantCode: warden.CodeIncompleteSignature, wantStatus: 400,
			wantMessage: "Authorization header requires 'Signature' parameter. " +
				"Authorization header requires 'SignedHeaders' parameter. " +
				"Authorization=AWS4-HMAC-SHA256 Credential=" + testKey + "/20261125/us-east-1/iot/aws4_request",
		},
		{
			name:     "Authorization pair without equal sign",
			tamper:   func(req *http.Request) { req.Header.Set("Authorization", req.Header.Get("Authorization")+", bogus") },
			wantCode: warden.CodeIncompleteSignature, wantStatus: 400,
		},
		{
			name:     "Authorization with another algorithm",
			tamper:   replaceInAuthorization("SHA256", "SHA512"),
			wantCode: warden.CodeIncompleteSignature, wantStatus: 400,
		},
		{
			name:     "Credential with too few elements",
			tamper:   replaceInAuthorization("/us-east-1/iot/", "/iot/"),
			wantCode: warden.CodeIncompleteSignature, wantStatus: 400,
			wantMessage: "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" +
				testKey + "/20261125/iot/aws4_request'",
		},
		{
			name:     "Credential with a trailing slash",
			tamper:   replaceInAuthorization("aws4_request,", "aws4_request/,"),
			wantCode: warden.CodeIncompleteSignature, wantStatus: 400,
		},
		{
			name:     "Credential with a bad terminator",
			tamper:   replaceInAuthorization("aws4_request", "aws5_request"),
			wantCode: warden.CodeIncompleteSignature, wantStatus: 400,
			wantMessage: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'.",
		},
		{
			name:     "missing X-Amz-Date",
			tamper:   func(req *http.Request) { req.Header.Del("X-Amz-Date") },
			wantCode: warden.CodeIncompleteSignature, wantStatus: 400,
		},
		{
			name:     "X-Amz-Date not in basic format",
			tamper:   func(req *http.Request) { req.Header.Set("X-Amz-Date", "2026-11-25T01:15:00Z") },
			wantCode: warden.CodeIncompleteSignature, wantStatus: 400,
		},
		{
			name:     "X-Amz-Date with fractional seconds",
			tamper:   func(req *http.Request) { req.Header.Set("X-Amz-Date", "20261125T011500.5Z") },
			wantCode: warden.CodeIncompleteSignature, wantStatus: 400,
			wantMessage: "X-Amz-Date must be in ISO-8601 basic format, e.g. 20150830T123600Z; got '20261125T011500.5Z'.",
		},
		{
			name: "service not accepted",
			build: func(t *testing.T, base string) *http.Request {
				return signedGet(t, base, testKey, testSecret, "iam", now)
			},
			wantCode: warden.CodeInvalidSignature, wantStatus: 403,
			wantMessage: "Credential should be scoped to correct service: 'iot'. ",
		},
		{
			name: "scope date differs from X-Amz-Date date",
			tamper: func(req *http.Request) {
				// Same instant give or take a minute, but the day before.
				req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "/20261125/", "/20261124/", 1))
			},
			wantCode: warden.CodeInvalidSignature, wantStatus: 403,
			wantMessage: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: " +
				"'20261124' != '20261125', from '20261125T011500Z'.",
		},
		{
			name: "X-Amz-Content-Sha256 does not match the body",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "POST", base+"/things/a", jsonBody, "application/json")
				claimed := hashHex([]byte("something else"))
				req.Header.Set("X-Amz-Content-Sha256", claimed)
				goSignHash(t, req, claimed, testKey, testSecret, "iot", now)
				return req
			},
			wantCode: warden.CodeInvalidSignature, wantStatus: 403,
			wantMessage: "The provided 'x-amz-content-sha256' header does not match what was computed.",
		},
		{
			name: "UNSIGNED-PAYLOAD",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "POST", base+"/things/a", jsonBody, "application/json")
				req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
				goSignHash(t, req, "UNSIGNED-PAYLOAD", testKey, testSecret, "iot", now)
				return req
			},
			wantCode: warden.CodeInvalidSignature, wantStatus: 403,
		},
		{
			name: "STREAMING payload",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "POST", base+"/things/a", jsonBody, "application/json")
				const h = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
				req.Header.Set("X-Amz-Content-Sha256", h)
				goSignHash(t, req, h, testKey, testSecret, "iot", now)
				return req
			},
			wantCode: warden.CodeInvalidSignature, wantStatus: 403,
		},
		{
			name: "host not signed",
			build: func(t *testing.T, base string) *http.Request {
				req := newRequest(t, "GET", base+"/things/a", nil, "")
				botoSign(t, req, nil, "execute-api", now, []string{"x-amz-date"})
				return req
			},
			wantCode: warden.CodeInvalidSignature, wantStatus: 403,
			wantMessage: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
		},
		{
			name: "signature not hex",
			tamper: func(req *http.Request) {
				a := req.Header.Get("Authorization")
				req.Header.Set("Authorization", a[:len(a)-2]+"zz")
			},
			wantCode: warden.CodeInvalidSignature, wantStatus: 403, wantMessage: msgSignatureMismatch,
		},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var req *http.Request
			if tc.build != nil {
				req = tc.build(t, srv.URL)
			} else {
				req = signedGet(t, srv.URL, testKey, testSecret, "iot", now)
				tc.tamper(req)
			}
			res := send(t, srv, results, req)
			if tc.wantCode == "" {
				if res.err != nil {
					t.Fatalf("Verify(%s %s) = %v, want success", req.Method, res.uri, res.err)
				}
				want := Credential{AccessKeyID: testKey, Account: testAccount, Region: testRegion, Service: tc.wantService}
				got := res.cred
				got.Date = time.Time{}
				if got != want {
					t.Errorf("Credential = %+v, want %+v", got, want)
				}
				if ts := req.Header.Get("X-Amz-Date"); res.cred.Date.Format("20060102T150405Z") != ts {
					t.Errorf("Credential.Date = %v, want X-Amz-Date %s", res.cred.Date, ts)
				}
				return
			}
			var e *Error
			if !errors.As(res.err, &e) {
				t.Fatalf("Verify(%s %s) error = %v (%T), want *Error %s", req.Method, res.uri, res.err, res.err, tc.wantCode)
			}
			if e.Code != tc.wantCode || e.Status != tc.wantStatus {
				t.Errorf("Verify error = %s/%d %q, want %s/%d", e.Code, e.Status, e.Message, tc.wantCode, tc.wantStatus)
			}
			if tc.wantMessage != "" && e.Message != tc.wantMessage {
				t.Errorf("Verify message:\n got  %q\n want %q", e.Message, tc.wantMessage)
			}
		})
	}
}

// TestVerifyIoTClient drives the real aws-sdk-go-v2 IoT client, whose
// serializer percent-encodes path labels and builds the query itself.
func TestVerifyIoTClient(t *testing.T) {
	v := &Verifier{Lookup: testLookup, Services: []string{"iot"}} // real clock: the client signs with time.Now
	srv, results := startServer(t, v)
	client := iot.New(iot.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(testKey, testSecret, ""),
		HTTPClient:   srv.Client(),
	})
	ctx := context.Background()
	calls := []struct {
		name    string
		call    func() error
		wantURI string // prefix of the RequestURI the server must see
	}{
		{"DescribeThing", func() error {
			_, err := client.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("a:b")})
			return err
		}, "/things/a%3Ab"},
		{"ListThings", func() error {
			_, err := client.ListThings(ctx, &iot.ListThingsInput{
				AttributeName:  aws.String("color"),
				AttributeValue: aws.String("dark blue/green+x"),
				MaxResults:     aws.Int32(5),
				NextToken:      aws.String("tok=/+ en~*"),
			})
			return err
		}, "/things?"},
		{"CreateThing", func() error {
			_, err := client.CreateThing(ctx, &iot.CreateThingInput{
				ThingName: aws.String("x:y"),
				AttributePayload: &iottypes.AttributePayload{
					Attributes: map[string]string{"color": "dark  blue", "note": "ünïcödé"},
				},
			})
			return err
		}, "/things/x%3Ay"},
		{"DeleteThing", func() error {
			_, err := client.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("x:y"), ExpectedVersion: aws.Int64(3)})
			return err
		}, "/things/x%3Ay?expectedVersion=3"},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			res := <-results
			if res.err != nil {
				t.Fatalf("Verify(%s) = %v, want success", res.uri, res.err)
			}
			if !strings.HasPrefix(res.uri, c.wantURI) {
				t.Errorf("server saw RequestURI %q, want prefix %q", res.uri, c.wantURI)
			}
			if res.cred.Service != "iot" || res.cred.Account != testAccount {
				t.Errorf("Credential = %+v, want service iot, account %s", res.cred, testAccount)
			}
		})
	}
}

// TestVerifyAWSTestSuite checks vectors of the AWS SigV4 test suite
// (aws-sig-v4-test-suite, 2015-08-30) against requests parsed as a server
// parses them.
func TestVerifyAWSTestSuite(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	v := &Verifier{
		Lookup: func(_ context.Context, id string) (string, string, bool, error) {
			return secret, "111122223333", id == "AKIDEXAMPLE", nil
		},
		Now: func() time.Time { return time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC) },
	}
	cases := []struct{ name, method, target, signature string }{
		{"get-vanilla", "GET", "/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"get-vanilla-query-order-key-case", "GET", "/?Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{"post-vanilla", "POST", "/", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.method + " " + tc.target + " HTTP/1.1\r\n" +
				"Host: example.amazonaws.com\r\n" +
				"X-Amz-Date: 20150830T123600Z\r\n" +
				"Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, " +
				"SignedHeaders=host;x-amz-date, Signature=" + tc.signature + "\r\n\r\n"
			r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
			if err != nil {
				t.Fatal(err)
			}
			cred, err := v.Verify(context.Background(), r, nil)
			if err != nil {
				t.Fatalf("Verify = %v, want success", err)
			}
			if cred.Service != "service" || cred.Account != "111122223333" {
				t.Errorf("Credential = %+v, want service %q account %q", cred, "service", "111122223333")
			}
		})
	}
}

func TestVerifyLookupError(t *testing.T) {
	boom := errors.New("database is down")
	v := &Verifier{
		Lookup: func(context.Context, string) (string, string, bool, error) { return "", "", false, boom },
		Now:    func() time.Time { return now },
	}
	r, body := serverRequest(t, func(req *http.Request) {
		goSign(t, req, jsonBody, testKey, testSecret, "iot", now)
	})
	_, err := v.Verify(context.Background(), r, body)
	var e *Error
	if !errors.Is(err, boom) || errors.As(err, &e) {
		t.Errorf("Verify error = %v, want a non-*Error wrapping %v", err, boom)
	}
}

// TestVerifyKeyRotation makes sure a cached signing key is not used for a
// new secret of the same access key.
func TestVerifyKeyRotation(t *testing.T) {
	secret := testSecret
	v := &Verifier{
		Lookup: func(context.Context, string) (string, string, bool, error) { return secret, testAccount, true, nil },
		Now:    func() time.Time { return now },
	}
	verify := func(signedWith string) error {
		r, body := serverRequest(t, func(req *http.Request) {
			goSign(t, req, jsonBody, testKey, signedWith, "iot", now)
		})
		_, err := v.Verify(context.Background(), r, body)
		return err
	}
	if err := verify(testSecret); err != nil {
		t.Fatalf("before rotation: Verify = %v, want success", err)
	}
	secret = "rotated-secret"
	if err := verify(testSecret); err == nil {
		t.Error("after rotation: Verify with the old secret succeeded, want InvalidSignatureException")
	}
	if err := verify("rotated-secret"); err != nil {
		t.Errorf("after rotation: Verify with the new secret = %v, want success", err)
	}
}

func TestKeyCacheIsBounded(t *testing.T) {
	v := &Verifier{}
	for i := range maxCachedKeys + 10 {
		v.storeKey("s", authorization{date: "20261125", region: fmt.Sprint("r", i), service: "iot"}, [32]byte{byte(i)})
	}
	if n := len(v.keys); n != maxCachedKeys {
		t.Errorf("cache holds %d keys, want %d", n, maxCachedKeys)
	}
	want := deriveKey("s", "20261125", "r1", "iot")
	v.storeKey("s", authorization{date: "20261125", region: "r1", service: "iot"}, want)
	if got, cached := v.signingKey("s", authorization{date: "20261125", region: "r1", service: "iot"}); !cached || got != want {
		t.Errorf("signingKey = %x (cached %v), want %x from the cache", got, cached, want)
	}
}

// TestVerifyConcurrent shares one Verifier, and so its key cache, between
// goroutines; run it with -race.
func TestVerifyConcurrent(t *testing.T) {
	v := newTestVerifier(now)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				service := []string{"iot", "execute-api"}[(i+j)%2]
				r, body := serverRequest(t, func(req *http.Request) {
					goSign(t, req, jsonBody, testKey, testSecret, service, now)
				})
				if _, err := v.Verify(context.Background(), r, body); err != nil {
					t.Errorf("Verify = %v, want success", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestHMACSHA256(t *testing.T) {
	for _, msg := range []string{"", "a", strings.Repeat("x", 63), strings.Repeat("y", 64), strings.Repeat("z", 1000)} {
		key := sha256.Sum256([]byte(msg + "key"))
		buf := append(make([]byte, sha256.BlockSize), msg...)
		got := hmacSHA256(&key, buf)
		h := hmac.New(sha256.New, key[:])
		h.Write([]byte(msg))
		if want := h.Sum(nil); !bytes.Equal(got[:], want) {
			t.Errorf("hmacSHA256(len %d) = %x, want %x", len(msg), got, want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	cases := []struct{ raw, want string }{
		{"", ""},
		{"b=2&a=1", "a=1&b=2"},
		{"a=2&a=1&a=10", "a=1&a=10&a=2"},
		{"flag", "flag="},
		{"&&a=1&", "a=1"},
		{"sp+ace=a%20b+c", "sp%20ace=a%20b%20c"},
		{"k=a%2fb&k=a-b", "k=a%2Fb&k=a-b"}, // sorted after encoding: '%' < '-'
		{"a=1&%C3%A9=2", "%C3%A9=2&a=1"},
		{"x=%7e%2A!'()", "x=~%2A%21%27%28%29"},
		{"k=a%2Bb", "k=a%2Bb"},
		{"k=a=b", "k=a%3Db"},
		{"k;x=1", "k%3Bx=1"},
	}
	var s scratch
	for _, tc := range cases {
		got, ok := s.appendCanonicalQuery(nil, tc.raw)
		if !ok || string(got) != tc.want {
			t.Errorf("canonical query of %q = %q (ok %v), want %q", tc.raw, got, ok, tc.want)
		}
	}
	for _, raw := range []string{"a=%", "a=%4", "a=%zz", "%g1=x"} {
		if got, ok := s.appendCanonicalQuery(nil, raw); ok {
			t.Errorf("canonical query of %q = %q, want rejection of the bad escape", raw, got)
		}
	}
}

func TestCanonicalPath(t *testing.T) {
	cases := []struct{ sent, want string }{
		{"", "/"},
		{"/", "/"},
		{"/things/a%3Ab", "/things/a%253Ab"},
		{"/things/a:b", "/things/a%3Ab"},
		{"/a%20b/c~d", "/a%2520b/c~d"},
		{"/%E2%9C%93", "/%25E2%259C%2593"},
	}
	for _, tc := range cases {
		if got := string(appendURIEncoded(nil, tc.sent, true)); got != tc.want {
			t.Errorf("canonical URI of %q = %q, want %q", tc.sent, got, tc.want)
		}
	}
	norm := []struct{ in, want string }{
		{"/things/a", "/things/a"},
		{"//", "/"},
		{"/a//b/", "/a/b/"},
		{"/a/./b/../c", "/a/c"},
		{"/../a", "/a"},
		{"/a/.hidden", "/a/.hidden"},
	}
	for _, tc := range norm {
		if got := normalizePath(tc.in); got != tc.want {
			t.Errorf("normalizePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// serverRequest signs a POST /things/a%3Ab?x=1 with jsonBody and returns it
// as net/http's server would parse it off the wire, with its body.
func serverRequest(t testing.TB, sign func(*http.Request)) (*http.Request, []byte) {
	t.Helper()
	req := newRequest(t, "POST", "http://iot.us-east-1.amazonaws.com/things/a%3Ab?expectedVersion=1", jsonBody, "application/json")
	sign(req)
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return r, body
}

func BenchmarkVerify(b *testing.B) {
	v := newTestVerifier(now)
	r, body := serverRequest(b, func(req *http.Request) {
		goSign(b, req, jsonBody, testKey, testSecret, "iot", now)
	})
	ctx := context.Background()
	if _, err := v.Verify(ctx, r, body); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, r, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	v := newTestVerifier(now)
	r, body := serverRequest(b, func(req *http.Request) {
		goSign(b, req, jsonBody, testKey, testSecret, "iot", now)
	})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, r, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func FuzzVerify(f *testing.F) {
	valid, body := serverRequest(f, func(req *http.Request) {
		goSign(f, req, jsonBody, testKey, testSecret, "iot", now)
	})
	f.Add(valid.Header.Get("Authorization"), valid.Header.Get("X-Amz-Date"), "", valid.RequestURI,
		signedHeadersOf(valid), valid.Header.Get("Content-Type"), body)
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=00", "20261125T011500Z",
		"UNSIGNED-PAYLOAD", "/a//./../b?%zz=1&&=&a", "host;;x-amz-date", "  a   b ", []byte{})
	f.Add("AWS4-HMAC-SHA256 ,,,=,Credential==", "2026112", "STREAMING-x", "*", "", "", []byte(nil))

	v := newTestVerifier(now)
	codes := []warden.Code{warden.CodeMissingAuthenticationToken, warden.CodeIncompleteSignature, warden.CodeInvalidSignature, warden.CodeUnrecognizedClient}
	f.Fuzz(func(t *testing.T, authz, amzDate, contentSHA, requestURI, metaName, contentType string, body []byte) {
		r := &http.Request{
			Method:     "POST",
			URL:        &url.URL{Path: "/"},
			Header:     http.Header{},
			Host:       "iot.us-east-1.amazonaws.com",
			RequestURI: requestURI,
		}
		if _, q, ok := strings.Cut(requestURI, "?"); ok {
			r.URL.RawQuery = q
		}
		for k, val := range map[string]string{
			"Authorization": authz, "X-Amz-Date": amzDate, "X-Amz-Content-Sha256": contentSHA, "Content-Type": contentType,
		} {
			if val != "" {
				r.Header.Set(k, val)
			}
		}
		if metaName != "" {
			r.Header[metaName] = []string{contentType, amzDate} // a header stored under an arbitrary name
		}
		_, err := v.Verify(context.Background(), r, body)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Verify error = %v (%T), want *Error", err, err)
		}
		if !slices.Contains(codes, e.Code) || (e.Status != 400 && e.Status != 403) {
			t.Fatalf("Verify error = %s/%d, want one of %v with status 400 or 403", e.Code, e.Status, codes)
		}
	})
}

// TestVerifyAcceptAny: any key and secret pass unlooked-up, a 12-digit key
// id is the account, and the header must still be well formed.
func TestVerifyAcceptAny(t *testing.T) {
	lookup := func(_ context.Context, id string) (string, string, bool, error) {
		return "secret", "444455556666", id == "AKIASTOREDKEY0000001", nil
	}
	v := &Verifier{AcceptAny: true, Lookup: lookup, Now: func() time.Time { return now }}
	for _, c := range []struct{ key, account string }{
		{"test", "123456789012"}, {"111122223333", "111122223333"}, {"AKIASTOREDKEY0000001", "444455556666"},
	} {
		r, body := serverRequest(t, func(req *http.Request) { goSign(t, req, jsonBody, c.key, "wrong", "iot", now) })
		cred, err := v.Verify(context.Background(), r, body)
		if err != nil || cred.Account != c.account || cred.Region == "" || cred.Service != "iot" {
			t.Errorf("key %s: %+v, %v; want account %s, the scope's region and service", c.key, cred, err, c.account)
		}
	}
	r, body := serverRequest(t, func(*http.Request) {})
	if _, err := v.Verify(context.Background(), r, body); err == nil {
		t.Error("an unsigned request passed AcceptAny")
	}
}
