package iam_test

import (
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
)

// iamMessage is the message of an IAM API error ("" when err is not one).
func iamMessage(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorMessage()
	}
	return ""
}

// TestIAMRegionMustBeAWSRegion: the IAM SDK client signs with its region
// (us-east-1 for the real, global IAM, and whatever it is configured with
// against an endpoint URL); a region that is no AWS region is refused in
// IAM's error format and nothing is stored.
func TestIAMRegionMustBeAWSRegion(t *testing.T) {
	e := newIAMEnv(t)
	before := e.state(accountA)
	in := &awsiam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trustIoT)}
	_, err := e.client(keyA, secretA, "made-up").CreateRole(e.ctx, in)
	iamWantCode(t, err, "SignatureDoesNotMatch", http.StatusForbidden)
	if got, want := iamMessage(err), "Credential should be scoped to a valid region, not 'made-up'. "; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if after := e.state(accountA); !reflect.DeepEqual(before, after) {
		t.Errorf("a refused CreateRole changed the store: before %+v, after %+v", before, after)
	}
	if _, err := e.client(keyA, secretA, "us-east-1").CreateRole(e.ctx, in); err != nil {
		t.Fatalf("CreateRole signed for us-east-1: %v", err)
	}
}

// TestIAMSessionTokenRefused: the IAM SDK client with a session token is
// refused as IAM refuses an invalid token, and nothing is stored.
func TestIAMSessionTokenRefused(t *testing.T) {
	e := newIAMEnv(t)
	before := e.state(accountA)
	c := awsiam.New(awsiam.Options{Region: region, BaseEndpoint: aws.String(e.server.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(keyA, secretA, "bogus")})
	_, err := c.CreateRole(e.ctx, &awsiam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trustIoT)})
	iamWantCode(t, err, "InvalidClientTokenId", http.StatusForbidden)
	if got, want := iamMessage(err), "The security token included in the request is invalid."; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if after := e.state(accountA); !reflect.DeepEqual(before, after) {
		t.Errorf("a refused CreateRole changed the store: before %+v, after %+v", before, after)
	}
}
