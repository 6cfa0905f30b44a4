package sigv4

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/warden-iot/warden"
)

// sdkRegions are the regions of every partition in aws-sdk-go-v2's
// partitions.json (v1.48.0), without the "*-global" pseudo-regions.
var sdkRegions = []string{
	"af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
	"ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
	"ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1",
	"eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1",
	"me-west-1", "mx-central-1", "sa-east-1", "sa-west-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
	"cn-north-1", "cn-northwest-1", "eusc-de-east-1", "us-iso-east-1", "us-iso-west-1", "us-isob-east-1",
	"us-isob-west-1", "eu-isoe-west-1", "us-isof-east-1", "us-isof-south-1", "us-gov-east-1", "us-gov-west-1",
}

func TestValidRegion(t *testing.T) {
	for _, r := range sdkRegions {
		if !ValidRegion(r) {
			t.Errorf("ValidRegion(%q) = false, want true", r)
		}
	}
	for _, r := range []string{
		"", "us-east-1:111122223333", "made-up", "US-EAST-1", "us-east", "us-east-", "-east-1", "us--east-1",
		"us-east-123", "useast1", "us_east_1", "us-east-1 ", "u-east-1", "abcde-east-1", "aws-global",
		"aws-cn-global", "us-east-1a", "us-east1-1", "us-éast-1", "us-east-1/iot", "us-east-x",
		"us-" + string(make([]byte, 40)) + "-1",
	} {
		if ValidRegion(r) {
			t.Errorf("ValidRegion(%q) = true, want false", r)
		}
	}
}

// signedIn signs a GET for region with the aws-sdk-go-v2 signer, with
// token as the session token ("" for none).
func signedIn(t *testing.T, base, region, token string) *http.Request {
	t.Helper()
	req := newRequest(t, "GET", base+"/things/a", nil, "")
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret, SessionToken: token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hashHex(nil), "iot", region, now); err != nil {
		t.Fatal(err)
	}
	return req
}

// wantError fails unless res is the *Error code/status/message.
func wantError(t *testing.T, res result, code warden.Code, status int, message string) {
	t.Helper()
	var e *Error
	if !errors.As(res.err, &e) {
		t.Fatalf("Verify error = %v (%T), want *Error %s", res.err, res.err, code)
	}
	if e.Code != code || e.Status != status || e.Message != message {
		t.Errorf("Verify error = %s/%d %q, want %s/%d %q", e.Code, e.Status, e.Message, code, status, message)
	}
}

// TestVerifyRejectsMalformedRegion: the region is part of every ARN and
// quota key, so a correctly signed request scoped to something that is not
// an AWS region ("us-east-1:111122223333" would make ARNs name another
// account) is refused as AWS refuses a wrong region.
func TestVerifyRejectsMalformedRegion(t *testing.T) {
	srv, results := startServer(t, newTestVerifier(now))
	for _, region := range []string{"us-east-1:111122223333", "made-up", "US-EAST-1", "aws-global"} {
		res := send(t, srv, results, signedIn(t, srv.URL, region, ""))
		wantError(t, res, warden.CodeInvalidSignature, http.StatusForbidden,
			"Credential should be scoped to a valid region, not '"+region+"'. ")
	}
	for _, region := range []string{"us-east-1", "eu-central-2", "us-gov-west-1", "cn-north-1", "us-isob-east-1"} {
		res := send(t, srv, results, signedIn(t, srv.URL, region, ""))
		if res.err != nil || res.cred.Region != region {
			t.Errorf("signed for %s: got %+v, %v; want success in that region", region, res.cred, res.err)
		}
	}
}

// TestVerifyRegionAllowList: with Regions set, a well-formed region outside
// the list is refused the same way.
func TestVerifyRegionAllowList(t *testing.T) {
	v := newTestVerifier(now)
	v.Regions = []string{"eu-west-1", "us-east-1"}
	srv, results := startServer(t, v)
	if res := send(t, srv, results, signedIn(t, srv.URL, "eu-west-1", "")); res.err != nil {
		t.Errorf("eu-west-1 (allowed): %v", res.err)
	}
	res := send(t, srv, results, signedIn(t, srv.URL, "us-west-2", ""))
	wantError(t, res, warden.CodeInvalidSignature, http.StatusForbidden, "Credential should be scoped to a valid region, not 'us-west-2'. ")
}

// TestVerifyRejectsSecurityToken: Warden issues no temporary credentials,
// so a session token, signed or not, in the header or a presigned query, is
// refused as AWS refuses an invalid one, even when the signature is right.
func TestVerifyRejectsSecurityToken(t *testing.T) {
	srv, results := startServer(t, newTestVerifier(now))
	const msg = "The security token included in the request is invalid."

	res := send(t, srv, results, signedIn(t, srv.URL, testRegion, "bogus"))
	wantError(t, res, warden.CodeUnrecognizedClient, http.StatusForbidden, msg)

	req := signedIn(t, srv.URL, testRegion, "")
	req.Header.Set("X-Amz-Security-Token", "added-unsigned")
	wantError(t, send(t, srv, results, req), warden.CodeUnrecognizedClient, http.StatusForbidden, msg)

	req = newRequest(t, "GET", srv.URL+"/things/a", nil, "")
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret, SessionToken: "bogus"}
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, hashHex(nil), "iot", testRegion, now)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, send(t, srv, results, newRequest(t, "GET", u, nil, "")), warden.CodeUnrecognizedClient, http.StatusForbidden, msg)
}

func TestScopeService(t *testing.T) {
	for auth, want := range map[string]string{
		"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/iot/aws4_request, SignedHeaders=host": "iot",
		"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sns/aws4_request":                     "sns",
		"Bearer x": "",
		"":         "",
	} {
		if got := ScopeService(auth); got != want {
			t.Errorf("ScopeService(%q) = %q, want %q", auth, got, want)
		}
	}
}
