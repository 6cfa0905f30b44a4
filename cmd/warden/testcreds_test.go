package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"
)

const (
	fixedKeyID     = "AKIAWARDENTESTKEY001"
	fixedSecret    = "wardenTestSecretAccessKey0000000000000000"
	otherKeyID     = "AKIAWARDENTESTKEY002"
	otherKeySecret = "anotherTestSecretAccessKey00000000000000"
)

func iotClient(m *Main, id, secret string) *iot.Client {
	return iot.New(iot.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
}

// createAction creates a mitigation action named name in the account id
// signs for.
func createAction(client *iot.Client, name string) error {
	_, err := client.CreateMitigationAction(context.Background(), &iot.CreateMitigationActionInput{
		ActionName: aws.String(name),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/MitigationActionsValidRole"),
		ActionParams: &types.MitigationActionParams{
			UpdateDeviceCertificateParams: &types.UpdateDeviceCertificateParams{Action: types.DeviceCertificateUpdateActionDeactivate},
		},
	})
	return err
}

func actionNames(t *testing.T, client *iot.Client) []string {
	t.Helper()
	out, err := client.ListMitigationActions(context.Background(), &iot.ListMitigationActionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range out.ActionIdentifiers {
		names = append(names, aws.ToString(a.ActionName))
	}
	return names
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// envConfig is testConfig with the first key serve reads from the environment.
func envConfig(t *testing.T, dataDir, id, secret string) Config {
	t.Setenv(envAccessKeyID, id)
	t.Setenv(envSecretAccessKey, secret)
	cfg := testConfig(dataDir)
	env := (&serveCmd{}).config()
	cfg.FirstAccessKeyID, cfg.FirstSecretAccessKey = env.FirstAccessKeyID, env.FirstSecretAccessKey
	return cfg
}

func TestFirstStartWithKeyFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	m, printed, stop := startMainConfig(t, envConfig(t, dir, fixedKeyID, fixedSecret))
	if strings.Contains(printed, fixedSecret) || !strings.Contains(printed, fixedKeyID) {
		t.Errorf("first start printed the secret, or not the key id:\n%s", printed)
	}
	if err := createAction(iotClient(m, fixedKeyID, fixedSecret), "Fixed"); err != nil {
		t.Fatalf("the SDK with the environment's key: %v", err)
	}
	err := createAction(iotClient(m, fixedKeyID, otherKeySecret), "WrongSecret")
	if code := errorCode(err); code != "InvalidSignatureException" {
		t.Errorf("wrong secret: %v, want InvalidSignatureException", err)
	}
	stop()

	// A later start with another key keeps the store's keys as they are.
	m, _, stop = startMainConfig(t, envConfig(t, dir, otherKeyID, otherKeySecret))
	defer stop()
	if err := createAction(iotClient(m, otherKeyID, otherKeySecret), "Other"); errorCode(err) != "UnrecognizedClientException" {
		t.Errorf("a second start's environment key: %v, want UnrecognizedClientException (only the first start's key exists)", err)
	}
	if names := actionNames(t, iotClient(m, fixedKeyID, fixedSecret)); strings.Join(names, ",") != "Fixed" {
		t.Errorf("actions after restart %v, want [Fixed]", names)
	}
}

func TestKeyFromEnvironmentNeedsBoth(t *testing.T) {
	for _, c := range []struct{ id, secret, want string }{
		{fixedKeyID, "", envSecretAccessKey},
		{"", fixedSecret, envAccessKeyID},
		{"test", "test", "16 to 128"},
	} {
		cfg := envConfig(t, t.TempDir(), c.id, c.secret)
		m := &Main{Config: cfg, Stdout: io.Discard, LogOutput: io.Discard}
		err := m.Open(context.Background())
		m.Close()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("start with id %q, secret %q: %v, want an error naming %s", c.id, c.secret, err, c.want)
		}
	}
}

func TestCredentialsCreateWithGivenKey(t *testing.T) {
	dir := t.TempDir()
	m, _, stop := startMain(t, dir)
	defer stop()
	ctx := context.Background()
	create := &credentialsCreateCmd{storeFlags: storeFlags{DataDir: dir, Synchronous: "normal"}, Account: "111122223333",
		AccessKeyID: fixedKeyID, SecretAccessKey: fixedSecret}
	if err := create.Run(ctx); err != nil {
		t.Fatal(err)
	}
	client := iotClient(m, fixedKeyID, fixedSecret)
	if err := createAction(client, "Given"); err != nil {
		t.Fatalf("the SDK with the created key: %v", err)
	}
	again := *create
	again.SecretAccessKey = otherKeySecret
	if err := again.Run(ctx); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("creating %s again: %v, want an error saying it exists", fixedKeyID, err)
	}
	if names := actionNames(t, client); strings.Join(names, ",") != "Given" {
		t.Errorf("the first secret after a refused create: actions %v, want [Given]", names)
	}
	for _, bad := range []credentialsCreateCmd{
		{AccessKeyID: "akiaLOWERCASE0000000", SecretAccessKey: fixedSecret},
		{AccessKeyID: "AKIASHORT", SecretAccessKey: fixedSecret},
		{AccessKeyID: otherKeyID, SecretAccessKey: "short"},
		{AccessKeyID: otherKeyID},
	} {
		bad.storeFlags, bad.Account = create.storeFlags, create.Account
		if err := bad.Run(ctx); err == nil {
			t.Errorf("credentials create --access-key-id %q --secret-access-key %q succeeded, want an error", bad.AccessKeyID, bad.SecretAccessKey)
		}
	}
	if keys := len(storeKeys(t, create.storeOptions())); keys != 2 {
		t.Errorf("%d keys after the refused creates, want 2 (the first start's and %s)", keys, fixedKeyID)
	}
}

func TestAcceptAnyCredentials(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.AcceptAnyCredentials = true
	m, _, stop := startMainConfig(t, cfg)
	defer stop()
	anyKey := iotClient(m, "test", "test")
	if err := createAction(anyKey, "InDefault"); err != nil {
		t.Fatalf("test/test with --accept-any-credentials: %v", err)
	}
	other := iotClient(m, "111122223333", "whatever")
	if err := createAction(other, "InOther"); err != nil {
		t.Fatal(err)
	}
	if names := actionNames(t, other); strings.Join(names, ",") != "InOther" {
		t.Errorf("account 111122223333 lists %v, want [InOther]", names)
	}
	if names := actionNames(t, iotClient(m, "AKIAANYTHING", "x")); strings.Join(names, ",") != "InDefault" {
		t.Errorf("the default account lists %v, want [InDefault]", names)
	}
	// Unsigned requests are still refused: the region and service come from the signature.
	resp, err := http.Get(m.URL() + "/mitigationactions/actions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("an unsigned request: status %d, want 403", resp.StatusCode)
	}
	// SNS, on the same port, follows the same mode.
	snsClient := sns.New(sns.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("111122223333", "test", "")})
	topic, err := snsClient.CreateTopic(context.Background(), &sns.CreateTopicInput{Name: aws.String("t")})
	if err != nil {
		t.Fatalf("SNS with --accept-any-credentials: %v", err)
	}
	if arn := aws.ToString(topic.TopicArn); !strings.Contains(arn, ":111122223333:") {
		t.Errorf("topic ARN %s, want one in account 111122223333", arn)
	}
}

func TestAcceptAnyCredentialsNeedsLoopback(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		cfg := testConfig(t.TempDir())
		cfg.AcceptAnyCredentials, cfg.Listen = true, listen
		var logs bytes.Buffer
		m := &Main{Config: cfg, Stdout: io.Discard, LogOutput: &logs}
		err := m.Open(context.Background())
		m.Close()
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("--accept-any-credentials with --listen %s: %v, want a loopback error", listen, err)
		}
	}
	for _, listen := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0", "127.0.0.2:0"} {
		if !isLoopbackListen(listen) {
			t.Errorf("isLoopbackListen(%q) = false", listen)
		}
	}
}

func TestWithoutAcceptAnyTestKeysAreRefused(t *testing.T) {
	m, _, stop := startMain(t, t.TempDir())
	defer stop()
	if err := createAction(iotClient(m, "test", "test"), "X"); errorCode(err) != "UnrecognizedClientException" {
		t.Errorf("test/test without --accept-any-credentials: %v, want UnrecognizedClientException", err)
	}
}
