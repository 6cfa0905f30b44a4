package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/warden-iot/warden"
)

// changeCount is the number of entries in the registry change log, which
// every stored change of any account and region adds to.
func changeCount(t *testing.T, e *env) int {
	t.Helper()
	ch, err := e.store.Changes(e.ctx, warden.ChangeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(ch)
}

// TestRegionMustBeAWSRegion: a request signed (by the SDK's signer) for a
// region that is no AWS region is refused as AWS refuses a wrong region, and
// nothing is stored: a thing in "us-east-1:111122223333" would get an ARN
// naming another account, and invented regions multiply per-region quotas.
// The SDK client itself refuses to send the first one, but signs for the
// second.
func TestRegionMustBeAWSRegion(t *testing.T) {
	e := newEnv(t)
	before := changeCount(t, e)
	for _, reg := range []string{"us-east-1:111122223333", "made-up"} {
		r := e.newRequest(t, "POST", "/things/t1", []byte("{}"))
		signer{key: keyA, secret: secretA, service: "iot", region: reg}.sign(t, r, []byte("{}"))
		res := e.send(t, r)
		want := "Credential should be scoped to a valid region, not '" + reg + "'. "
		if res.status != http.StatusForbidden || res.header.Get("x-amzn-ErrorType") != "InvalidSignatureException" ||
			!strings.Contains(string(res.body), want) {
			t.Errorf("signed for %q: %d %s %s, want 403 InvalidSignatureException %q", reg, res.status,
				res.header.Get("x-amzn-ErrorType"), res.body, want)
		}
	}
	_, err := e.clientIn(keyA, secretA, "made-up").CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("t1")})
	wantCode(t, err, "InvalidSignatureException", http.StatusForbidden)
	if got, want := errorMessage(err), "Credential should be scoped to a valid region, not 'made-up'. "; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if got := changeCount(t, e); got != before {
		t.Errorf("the change log grew from %d to %d entries; refused requests must store nothing", before, got)
	}
	for _, reg := range []string{"eu-central-2", "us-gov-west-1", "ap-southeast-4"} {
		out, err := e.clientIn(keyA, secretA, reg).CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("t1")})
		if err != nil {
			t.Fatalf("CreateThing in %s: %v", reg, err)
		}
		if want := "arn:aws:iot:" + reg + ":" + accountA + ":thing/t1"; aws.ToString(out.ThingArn) != want {
			t.Errorf("thing ARN %s, want %s", aws.ToString(out.ThingArn), want)
		}
	}
}

// TestSessionTokenRefused: Warden issues no temporary credentials, so the
// SDK client with a (bogus) session token is refused as AWS refuses an
// invalid token, though its signature is right, and nothing is stored.
func TestSessionTokenRefused(t *testing.T) {
	e := newEnv(t)
	before := changeCount(t, e)
	c := iot.New(iot.Options{Region: region, BaseEndpoint: aws.String(e.server.URL), HTTPClient: http.DefaultClient,
		Credentials: credentials.NewStaticCredentialsProvider(keyA, secretA, "bogus"), RetryMaxAttempts: 1})
	_, err := c.CreateThing(context.Background(), &iot.CreateThingInput{ThingName: aws.String("t1")})
	wantCode(t, err, "UnrecognizedClientException", http.StatusForbidden)
	if got, want := errorMessage(err), "The security token included in the request is invalid."; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if got := changeCount(t, e); got != before {
		t.Errorf("the change log grew from %d to %d entries; a refused request must store nothing", before, got)
	}
	if _, err := e.a.DescribeThing(e.ctx, &iot.DescribeThingInput{ThingName: aws.String("t1")}); err == nil {
		t.Error("the thing of the refused request exists")
	}
}
