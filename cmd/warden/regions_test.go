package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/smithy-go"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// startConfigured boots the whole program with cfg (its store in a fresh
// data dir, listening on port 0) and returns it with the first-start key.
func startConfigured(t *testing.T, cfg Config) (m *Main, key, secret string) {
	t.Helper()
	var out bytes.Buffer
	cfg.Store = sqlstore.Options{DataDir: t.TempDir(), Synchronous: "NORMAL"}
	cfg.Listen, cfg.LogLevel = "127.0.0.1:0", "error"
	m = &Main{Config: cfg, Stdout: &out, LogOutput: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		m.Close()
	})
	for _, match := range regexp.MustCompile(`(?m)^export (AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY)=(\S+)$`).FindAllStringSubmatch(out.String(), -1) {
		if match[1] == "AWS_ACCESS_KEY_ID" {
			key = match[2]
		} else {
			secret = match[2]
		}
	}
	return m, key, secret
}

// TestRegionsAllowList: with --regions, a request signed for another
// (well-formed) region is refused and one for a listed region served.
func TestRegionsAllowList(t *testing.T) {
	m, key, secret := startConfigured(t, Config{Regions: []string{"eu-west-1", "eu-central-2"}})
	client := func(region string) *iot.Client {
		return iot.New(iot.Options{Region: region, BaseEndpoint: aws.String(m.URL()), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
	}
	ctx := context.Background()
	if _, err := client("eu-central-2").ListThings(ctx, &iot.ListThingsInput{}); err != nil {
		t.Errorf("eu-central-2 (listed): %v", err)
	}
	_, err := client("us-east-1").ListThings(ctx, &iot.ListThingsInput{})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidSignatureException" ||
		apiErr.ErrorMessage() != "Credential should be scoped to a valid region, not 'us-east-1'. " {
		t.Errorf("us-east-1 (not listed): %v, want InvalidSignatureException for the region", err)
	}
}

// TestRegionsMustBeRegionNames: a mistyped --regions entry stops the start.
func TestRegionsMustBeRegionNames(t *testing.T) {
	m := &Main{Config: Config{Regions: []string{"us-east-1", "eu_west_1"}, Listen: "127.0.0.1:0", LogLevel: "error",
		Store: sqlstore.Options{DataDir: t.TempDir()}}, Stdout: io.Discard, LogOutput: io.Discard}
	defer m.Close()
	err := m.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), `"eu_west_1" is not an AWS region name`) {
		t.Fatalf("Open with --regions eu_west_1: %v, want a clear refusal", err)
	}
}
