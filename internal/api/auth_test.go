package api_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

const createBody = `{"roleArn":"` + roleArn + `","actionParams":{"updateDeviceCertificateParams":{"action":"DEACTIVATE"}}}`

// TestSignatureFailures sends requests whose signature must not be accepted
// and checks the code, the status and the whole error envelope.
func TestSignatureFailures(t *testing.T) {
	e := newEnv(t)
	create(t, e.a, "keep", deviceCertParams())
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		// sign signs the request when set; else signA, changed by with if
		// set, signs it and after, if set, changes it.
		sign    func(t *testing.T, r *http.Request, body []byte)
		with    func(s *signer)
		after   func(r *http.Request)
		code    string
		status  int
		wantMsg string
	}{
		{
			name: "wrong secret", method: "GET", path: "/mitigationactions/actions",
			with: func(s *signer) { s.secret = secretB },
			code: "InvalidSignatureException", status: http.StatusForbidden, wantMsg: "signature",
		},
		{
			name: "body tampered after signing", method: "POST", path: "/mitigationactions/actions/tampered", body: createBody,
			after: func(r *http.Request) {
				// Same length, so only the body hash can tell.
				r.Body = io.NopCloser(strings.NewReader(strings.Replace(createBody, "warden-test", "warden-evil", 1)))
			},
			code: "InvalidSignatureException", status: http.StatusForbidden,
		},
		{
			name: "query tampered after signing", method: "GET", path: "/mitigationactions/actions?maxResults=5",
			after: func(r *http.Request) { r.URL.RawQuery = "maxResults=6" },
			code:  "InvalidSignatureException", status: http.StatusForbidden,
		},
		{
			name: "query parameter added after signing", method: "GET", path: "/mitigationactions/actions",
			after: func(r *http.Request) { r.URL.RawQuery = "actionType=PUBLISH_FINDING_TO_SNS" },
			code:  "InvalidSignatureException", status: http.StatusForbidden,
		},
		{
			name: "path tampered after signing", method: "GET", path: "/mitigationactions/actions/keep",
			after: func(r *http.Request) { r.URL.Path = "/mitigationactions/actions/kept" },
			code:  "InvalidSignatureException", status: http.StatusForbidden,
		},
		{
			name: "method changed after signing", method: "GET", path: "/mitigationactions/actions/keep",
			after: func(r *http.Request) { r.Method = "DELETE" },
			code:  "InvalidSignatureException", status: http.StatusForbidden,
		},
		{
			name: "signed header changed after signing", method: "GET", path: "/mitigationactions/actions",
			sign: func(t *testing.T, r *http.Request, body []byte) {
				r.Header.Set("X-Custom", "one")
				signA.sign(t, r, body)
				r.Header.Set("X-Custom", "two")
			},
			code: "InvalidSignatureException", status: http.StatusForbidden,
		},
		{
			name: "date 6 minutes old", method: "GET", path: "/mitigationactions/actions",
			with: func(s *signer) { s.at = time.Now().Add(-6 * time.Minute) },
			code: "InvalidSignatureException", status: http.StatusForbidden, wantMsg: "Signature expired",
		},
		{
			name: "date 6 minutes ahead", method: "GET", path: "/mitigationactions/actions",
			with: func(s *signer) { s.at = time.Now().Add(6 * time.Minute) },
			code: "InvalidSignatureException", status: http.StatusForbidden, wantMsg: "Signature not yet current",
		},
		{
			name: "unknown access key", method: "GET", path: "/mitigationactions/actions",
			with: func(s *signer) { s.key = "AKIAUNKNOWNKEY000000" },
			code: "UnrecognizedClientException", status: http.StatusForbidden,
		},
		{
			name: "no Authorization header", method: "GET", path: "/mitigationactions/actions",
			sign: func(t *testing.T, r *http.Request, body []byte) {},
			code: "MissingAuthenticationTokenException", status: http.StatusForbidden,
		},
		{
			name: "Authorization header removed", method: "POST", path: "/mitigationactions/actions/unsigned", body: createBody,
			after: func(r *http.Request) { r.Header.Del("Authorization") },
			code:  "MissingAuthenticationTokenException", status: http.StatusForbidden,
		},
		{
			name: "x-amz-content-sha256 of another body", method: "POST", path: "/mitigationactions/actions/hash", body: createBody,
			sign: func(t *testing.T, r *http.Request, body []byte) {
				r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64))
				signA.sign(t, r, body)
			},
			code: "InvalidSignatureException", status: http.StatusForbidden,
		},
		{
			name: "UNSIGNED-PAYLOAD", method: "POST", path: "/mitigationactions/actions/unsigned-payload", body: createBody,
			sign: func(t *testing.T, r *http.Request, body []byte) {
				r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
				signA.sign(t, r, body)
			},
			code: "InvalidSignatureException", status: http.StatusForbidden,
		},
		{
			name: "scope of another service", method: "GET", path: "/mitigationactions/actions",
			with: func(s *signer) { s.service = "sns" },
			code: "InvalidSignatureException", status: http.StatusForbidden,
		},
		{
			name: "not AWS4-HMAC-SHA256", method: "GET", path: "/mitigationactions/actions",
			sign: func(t *testing.T, r *http.Request, body []byte) {
				r.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
			},
			code: "IncompleteSignatureException", status: http.StatusBadRequest,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := e.newRequest(t, tc.method, tc.path, body)
			if tc.sign != nil {
				tc.sign(t, r, body)
			} else {
				s := signA
				if tc.with != nil {
					tc.with(&s)
				}
				s.sign(t, r, body)
				if tc.after != nil {
					tc.after(r)
				}
			}
			resp := e.send(t, r)
			msg := wantJSONError(t, resp, tc.code, tc.status)
			if !strings.Contains(strings.ToLower(msg), strings.ToLower(tc.wantMsg)) {
				t.Errorf("got message %q, want it to mention %q", msg, tc.wantMsg)
			}
		})
	}
	// None of the refused requests changed anything.
	if got := listAll(t, e.a, ""); len(got) != 1 || got[0] != "keep" {
		t.Errorf("after refused requests A lists %q, want [keep]", got)
	}
}

// TestSignatureFailureThroughSDK: the SDK surfaces the typed code.
func TestSignatureFailureThroughSDK(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.clientIn(keyA, secretB, region).ListMitigationActions(ctx, &iot.ListMitigationActionsInput{})
	wantCode(t, err, "InvalidSignatureException", http.StatusForbidden)
	_, err = e.clientIn("AKIANOBODY0000000000", secretA, region).ListMitigationActions(ctx, &iot.ListMitigationActionsInput{})
	wantCode(t, err, "UnrecognizedClientException", http.StatusForbidden)
}

// TestSignatureAccepted covers the valid variants real clients send.
func TestSignatureAccepted(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		sign   func(t *testing.T, r *http.Request, body []byte)
	}{
		{"execute-api scope (aws CLI 2.9)", "POST", "/mitigationactions/actions/via-execute-api", createBody,
			func(t *testing.T, r *http.Request, body []byte) {
				s := signA
				s.service = "execute-api"
				s.sign(t, r, body)
			}},
		{"date 4 minutes old", "GET", "/mitigationactions/actions", "",
			func(t *testing.T, r *http.Request, body []byte) {
				s := signA
				s.at = time.Now().Add(-4 * time.Minute)
				s.sign(t, r, body)
			}},
		{"matching x-amz-content-sha256", "POST", "/mitigationactions/actions/with-sha", createBody,
			func(t *testing.T, r *http.Request, body []byte) {
				signA.sign(t, r, body)
				// The signer does not add the header; add it and re-sign so it is covered.
				r.Header.Set("X-Amz-Content-Sha256", sha256Hex(body))
				r.Header.Del("Authorization")
				signA.sign(t, r, body)
			}},
		{"encoded query value", "GET", "/mitigationactions/actions?actionType=UPDATE_DEVICE_CERTIFICATE&maxResults=2", "",
			func(t *testing.T, r *http.Request, body []byte) { signA.sign(t, r, body) }},
		{"unsigned extra header", "GET", "/mitigationactions/actions", "",
			func(t *testing.T, r *http.Request, body []byte) {
				signA.sign(t, r, body)
				r.Header.Set("X-Added-Later", "not signed, not checked")
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := e.newRequest(t, tc.method, tc.path, body)
			tc.sign(t, r, body)
			wantOK(t, e.send(t, r))
		})
	}
	if _, err := e.a.DescribeMitigationAction(context.Background(), &iot.DescribeMitigationActionInput{ActionName: aws.String("via-execute-api")}); err != nil {
		t.Errorf("the action created with an execute-api signature: %v", err)
	}
}

// TestSignedHeaderWhitespace: SigV4 canonicalisation collapses runs of spaces
// inside a header value ("Trimall"); the Go SDK signer does so, so the server
// must too.
func TestSignedHeaderWhitespace(t *testing.T) {
	e := newEnv(t)
	r := e.newRequest(t, "GET", "/mitigationactions/actions", nil)
	r.Header.Set("X-Custom", "two  spaces   and three")
	signA.sign(t, r, nil)
	wantOK(t, e.send(t, r))
}
