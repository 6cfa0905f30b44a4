package sns_test

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/wardentest"
)

// TestSNSRegionMustBeAWSRegion: the SNS SDK client signing for a region
// that is no AWS region is refused in SNS's error format, and nothing is
// stored in that region (or any other).
func TestSNSRegionMustBeAWSRegion(t *testing.T) {
	e := newSNSEnv(t)
	madeUp := warden.Scope{Account: wardentest.AccountA, Region: "made-up"}
	before := e.snapshot(scopeA, madeUp)
	_, err := e.client(wardentest.KeyA, wardentest.SecretA, "made-up").CreateTopic(e.ctx, &awssns.CreateTopicInput{Name: aws.String("t")})
	wardentest.WantCode(t, err, "SignatureDoesNotMatch", http.StatusForbidden)
	if got, want := wardentest.ErrorMessage(err), "Credential should be scoped to a valid region, not 'made-up'. "; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if after := e.snapshot(scopeA, madeUp); !reflect.DeepEqual(before, after) {
		t.Errorf("a refused CreateTopic changed the store: before %+v, after %+v", before, after)
	}
	out, err := e.client(wardentest.KeyA, wardentest.SecretA, "eu-central-2").CreateTopic(e.ctx, &awssns.CreateTopicInput{Name: aws.String("t")})
	if err != nil {
		t.Fatalf("CreateTopic in eu-central-2: %v", err)
	}
	if want := "arn:aws:sns:eu-central-2:" + wardentest.AccountA + ":t"; aws.ToString(out.TopicArn) != want {
		t.Errorf("topic ARN %s, want %s", aws.ToString(out.TopicArn), want)
	}
}

// TestSNSSessionTokenRefused: the SNS SDK client with a session token is
// refused as SNS refuses an invalid token, and nothing is stored.
func TestSNSSessionTokenRefused(t *testing.T) {
	e := newSNSEnv(t)
	before := e.snapshot(scopeA)
	c := awssns.New(awssns.Options{Region: wardentest.Region, BaseEndpoint: aws.String(e.server.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(wardentest.KeyA, wardentest.SecretA, "bogus")})
	_, err := c.CreateTopic(e.ctx, &awssns.CreateTopicInput{Name: aws.String("t")})
	wardentest.WantCode(t, err, "InvalidClientTokenId", http.StatusForbidden)
	if got, want := wardentest.ErrorMessage(err), "The security token included in the request is invalid."; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if after := e.snapshot(scopeA); !reflect.DeepEqual(before, after) {
		t.Errorf("a refused CreateTopic changed the store: before %+v, after %+v", before, after)
	}
}
