package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/warden-iot/warden/internal/wardentest"
)

// fuzzSeeds are valid requests for every operation; FuzzHandler signs them
// when it starts, so they pass authentication.
var fuzzSeeds = []struct{ method, path, body string }{
	{"POST", "/mitigationactions/actions/f1", createBody},
	{"POST", "/mitigationactions/actions/f2", `{"roleArn":"` + roleArn + `","actionParams":{"updateCACertificateParams":{"action":"DEACTIVATE"}},"tags":[{"Key":"k","Value":"v"}]}`},
	{"POST", "/mitigationactions/actions/f3", `{"roleArn":"` + roleArn + `","actionParams":{"addThingsToThingGroupParams":{"thingGroupNames":["g1","g:2"],"overrideDynamicGroups":true}}}`},
	{"POST", "/mitigationactions/actions/f4", `{"roleArn":"` + roleArn + `","actionParams":{"replaceDefaultPolicyVersionParams":{"templateName":"BLANK_POLICY"}}}`},
	{"POST", "/mitigationactions/actions/f5", `{"roleArn":"` + roleArn + `","actionParams":{"enableIoTLoggingParams":{"roleArnForLogging":"` + logRole + `","logLevel":"INFO"}}}`},
	{"POST", "/mitigationactions/actions/f6", `{"roleArn":"` + roleArn + `","actionParams":{"publishFindingToSnsParams":{"topicArn":"` + topicArn + `"}}}`},
	{"PATCH", "/mitigationactions/actions/f1", `{"roleArn":"` + roleArn2 + `","actionParams":{"publishFindingToSnsParams":{"topicArn":"` + topicArn + `"}}}`},
	{"GET", "/mitigationactions/actions/f1", ""},
	{"GET", "/mitigationactions/actions?actionType=PUBLISH_FINDING_TO_SNS&maxResults=1", ""},
	{"GET", "/mitigationactions/actions?maxResults=2&nextToken=MQ.AAAAAAAAAAAAAAAAAAAAAA", ""},
	{"POST", "/tags", `{"resourceArn":"arn:aws:iot:us-east-1:123456789012:mitigationaction/f2","tags":[{"Key":"a","Value":"b"}]}`},
	{"GET", "/tags?resourceArn=" + url.QueryEscape("arn:aws:iot:us-east-1:123456789012:mitigationaction/f2"), ""},
	{"POST", "/untag", `{"resourceArn":"arn:aws:iot:us-east-1:123456789012:mitigationaction/f2","tagKeys":["a"]}`},
	{"DELETE", "/mitigationactions/actions/f3", ""},
	{"GET", "/mitigationactions/actions/a%2Fb", ""},
	{"GET", "/nope/../mitigationactions/actions", ""},
	{"POST", "/mitigationactions/actions", createBody},
	{"PATCH", "/mitigationactions/actions/", `{"roleArn":"` + roleArn2 + `"}`},
	{"POST", "/test-authorization?clientId=c1", `{"principal":"arn:aws:iot:us-east-1:123456789012:thinggroup/g1","authInfos":[{"actionType":"PUBLISH","resources":["arn:aws:iot:us-east-1:123456789012:topic/a"]}],"policyNamesToSkip":["p"]}`},
	{"POST", "/effective-policies?thingName=t1", `{"principal":"arn:aws:iot:us-east-1:123456789012:cert/` + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + `"}`},
}

// fuzzGarbage are unsigned or broken requests.
var fuzzGarbage = []string{
	"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /mitigationactions/actions HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIA/20200101/us-east-1/iot/aws4_request, SignedHeaders=host, Signature=00\r\nX-Amz-Date: 20200101T000000Z\r\n\r\n",
	"POST /tags HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{\"a\":",
	"POST /mitigationactions/actions/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{}x\r\n0\r\n\r\n",
	"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET http://x HTTP/1.1\r\nHost: x\r\n\r\n",
	"DELETE //mitigationactions/actions/.. HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256\r\n\r\n",
}

// FuzzHandler feeds raw HTTP requests to the whole handler stack. Each
// request is served twice: as it is (mostly exercising authentication) and
// signed afresh as account A (exercising routing, decoding and validation).
// Whatever arrives, the answer is 200 with a JSON object, or the AWS error
// envelope.
func FuzzHandler(f *testing.F) {
	e := newEnv(f)
	for _, s := range fuzzSeeds {
		var body io.Reader
		if s.body != "" {
			body = bytes.NewReader([]byte(s.body))
		}
		r, err := http.NewRequest(s.method, "http://warden.test"+s.path, body)
		if err != nil {
			f.Fatal(err)
		}
		if s.body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		signA.sign(f, r, []byte(s.body))
		var buf bytes.Buffer
		if err := r.Write(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	for _, g := range fuzzGarbage {
		f.Add([]byte(g))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			t.Skip()
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, 2<<20))
		if err != nil {
			t.Skip() // e.g. broken chunked encoding: net/http would have refused it
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		resigned := req.Clone(context.Background())
		checkFuzzResponse(t, "as sent", serveRaw(e, req))

		resigned.Body = io.NopCloser(bytes.NewReader(body))
		resigned.Header.Del("Authorization")
		resigned.Header.Del("X-Amz-Date")
		resigned.Header.Del("X-Amz-Content-Sha256")
		if err := wardentest.Sign(resigned, body, keyA, secretA, "iot", region, time.Time{}); err != nil {
			return
		}
		checkFuzzResponse(t, "re-signed", serveRaw(e, resigned))
	})
}

func serveRaw(e *env, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, r)
	return rec
}

func checkFuzzResponse(t *testing.T, pass string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Header().Get("x-amzn-RequestId") == "" {
		t.Errorf("%s: no x-amzn-RequestId", pass)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: status %d with Content-Type %q, want application/json (body %q)", pass, rec.Code, ct, rec.Body.String())
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: status %d with a body that is not a JSON object: %q", pass, rec.Code, rec.Body.String())
	}
	errType := rec.Header().Get("x-amzn-ErrorType")
	if rec.Code == http.StatusOK {
		if errType != "" {
			t.Errorf("%s: 200 with x-amzn-ErrorType %q", pass, errType)
		}
		return
	}
	if rec.Code < 400 || rec.Code > 599 {
		t.Errorf("%s: got status %d, want 200 or an error status", pass, rec.Code)
	}
	if errType == "" {
		t.Errorf("%s: error status %d without x-amzn-ErrorType", pass, rec.Code)
	}
	if msg, ok := body["message"].(string); !ok || msg == "" {
		t.Errorf("%s: error body %q has no message", pass, rec.Body.String())
	}
	if typ, _ := body["__type"].(string); typ != errType {
		t.Errorf("%s: error body __type %q, header %q", pass, typ, errType)
	}
	if rec.Code == http.StatusInternalServerError {
		t.Errorf("%s: internal failure: %s", pass, rec.Body.String())
	}
}
