package wardentest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
)

// AWSConfig is the SDK configuration of the test clients of endpoint. They
// do not retry, so that every error reaches the test as answered, except
// one: rarely (under -race, beside other suites) the client's own
// connection is closed under a response it is reading; the server had
// answered, so asking again is safe.
func AWSConfig(endpoint, key, secret, region string) aws.Config {
	return aws.Config{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient:   http.DefaultClient,
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 2
				o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
					return aws.BoolTernary(strings.Contains(err.Error(), "use of closed network connection"))
				})}
			})
		},
	}
}

// Sign signs r, whose body is body, in place with SigV4 as key and secret
// for service in region at time at (zero: now), for requests the SDK
// cannot send.
func Sign(r *http.Request, body []byte, key, secret, service, region string, at time.Time) error {
	if at.IsZero() {
		at = time.Now()
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, r, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		return fmt.Errorf("sign %s %s: %w", r.Method, r.URL, err)
	}
	return nil
}

// WantCode fails t unless err is an API error with code and, when the
// error has one, HTTP status.
func WantCode(t testing.TB, err error, code string, status int) {
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

// ErrorCode is the AWS error code of err, "" if it is no API error.
func ErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// ErrorMessage is the AWS error message of err, "" if it is no API error.
func ErrorMessage(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorMessage()
	}
	return ""
}
