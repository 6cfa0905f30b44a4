package iam_test

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/warden-iot/warden/internal/wardentest"
)

// TestIAMRegionMustBeAWSRegion: the IAM SDK client signs with its region
// (us-east-1 for the real, global IAM, and whatever it is configured with
// against an endpoint URL); a region that is no AWS region is refused in
// IAM's error format and nothing is stored.
func TestIAMRegionMustBeAWSRegion(t *testing.T) {
	e := newIAMEnv(t)
	before := e.state(wardentest.AccountA)
	in := &awsiam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trustIoT)}
	_, err := e.client(wardentest.KeyA, wardentest.SecretA, "made-up").CreateRole(e.ctx, in)
	wardentest.WantCode(t, err, "SignatureDoesNotMatch", http.StatusForbidden)
	if got, want := wardentest.ErrorMessage(err), "Credential should be scoped to a valid region, not 'made-up'. "; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if after := e.state(wardentest.AccountA); !reflect.DeepEqual(before, after) {
		t.Errorf("a refused CreateRole changed the store: before %+v, after %+v", before, after)
	}
	if _, err := e.client(wardentest.KeyA, wardentest.SecretA, "us-east-1").CreateRole(e.ctx, in); err != nil {
		t.Fatalf("CreateRole signed for us-east-1: %v", err)
	}
}

// TestIAMSessionTokenRefused: the IAM SDK client with a session token is
// refused as IAM refuses an invalid token, and nothing is stored.
func TestIAMSessionTokenRefused(t *testing.T) {
	e := newIAMEnv(t)
	before := e.state(wardentest.AccountA)
	c := awsiam.New(awsiam.Options{Region: wardentest.Region, BaseEndpoint: aws.String(e.server.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(wardentest.KeyA, wardentest.SecretA, "bogus")})
	_, err := c.CreateRole(e.ctx, &awsiam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trustIoT)})
	wardentest.WantCode(t, err, "InvalidClientTokenId", http.StatusForbidden)
	if got, want := wardentest.ErrorMessage(err), "The security token included in the request is invalid."; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if after := e.state(wardentest.AccountA); !reflect.DeepEqual(before, after) {
		t.Errorf("a refused CreateRole changed the store: before %+v, after %+v", before, after)
	}
}
