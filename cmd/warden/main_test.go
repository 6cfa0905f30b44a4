package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// startMain boots the whole program on port 0 with dataDir and returns it with
// what it printed and a function that stops it.
func startMain(t *testing.T, dataDir string) (*Main, string, func()) {
	t.Helper()
	var out bytes.Buffer
	m := &Main{Config: Config{Store: sqlstore.Options{DataDir: dataDir, Synchronous: "FULL"}, Listen: "127.0.0.1:0", LogLevel: "error"},
		Stdout: &out, LogOutput: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	return m, out.String(), func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

var exportLine = regexp.MustCompile(`(?m)^export (AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY)=(\S+)$`)

func TestFirstStartCreatesCredentialsThatWork(t *testing.T) {
	dir := t.TempDir()
	m, printed, stop := startMain(t, dir)
	found := map[string]string{}
	for _, match := range exportLine.FindAllStringSubmatch(printed, -1) {
		found[match[1]] = match[2]
	}
	id, secret := found["AWS_ACCESS_KEY_ID"], found["AWS_SECRET_ACCESS_KEY"]
	if !regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`).MatchString(id) || len(secret) != 40 {
		t.Fatalf("printed key id %q and a %d-character secret, want AKIA+16 and 40 characters:\n%s", id, len(secret), printed)
	}
	credFile := filepath.Join(dir, "credentials")
	st, err := os.Stat(credFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, want 0600", st.Mode().Perm())
	}
	content, _ := os.ReadFile(credFile)
	for _, want := range []string{"[warden]", "aws_access_key_id = " + id, "aws_secret_access_key = " + secret} {
		if !bytes.Contains(content, []byte(want)) {
			t.Errorf("credentials file lacks %q:\n%s", want, content)
		}
	}

	client := iot.New(iot.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	out, err := client.CreateMitigationAction(context.Background(), &iot.CreateMitigationActionInput{
		ActionName: aws.String("UpdateCACertName"),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/MitigationActionsValidRole"),
		ActionParams: &types.MitigationActionParams{
			UpdateDeviceCertificateParams: &types.UpdateDeviceCertificateParams{Action: types.DeviceCertificateUpdateActionDeactivate},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(out.ActionArn), "arn:aws:iot:us-east-1:123456789012:mitigationaction/UpdateCACertName"; got != want {
		t.Errorf("actionArn %q, want %q", got, want)
	}
	stop()

	// A second start on the same data dir keeps the key and says where it
	// is, without the secret.
	m2, printed2, stop2 := startMain(t, dir)
	defer stop2()
	if !strings.Contains(printed2, "Access keys: 1 in the store") || !strings.Contains(printed2, credFile) ||
		strings.Contains(printed2, secret) || strings.Count(printed2, "\n") != 1 {
		t.Errorf("second start printed %q, want one line naming %s and no secret", printed2, credFile)
	}
	client = iot.New(iot.Options{Region: "us-east-1", BaseEndpoint: aws.String(m2.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	desc, err := client.DescribeMitigationAction(context.Background(), &iot.DescribeMitigationActionInput{ActionName: aws.String("UpdateCACertName")})
	if err != nil {
		t.Fatalf("describe after restart: %v", err)
	}
	if aws.ToString(desc.ActionId) == "" || desc.ActionType != types.MitigationActionTypeUpdateDeviceCertificate {
		t.Errorf("after restart got id %q type %q", aws.ToString(desc.ActionId), desc.ActionType)
	}
}

func TestNewAccessKeyShape(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k := newAccessKey("111122223333")
		if !regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`).MatchString(k.ID) {
			t.Fatalf("key id %q is not AKIA plus 16 base32 characters", k.ID)
		}
		if !regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`).MatchString(k.Secret) {
			t.Fatalf("secret %q is not 40 characters", k.Secret)
		}
		if seen[k.ID] {
			t.Fatalf("key id %q generated twice", k.ID)
		}
		seen[k.ID] = true
	}
}

func TestIsAccountID(t *testing.T) {
	for in, want := range map[string]bool{"123456789012": true, "12345678901": false, "1234567890123": false, "12345678901a": false, "": false} {
		if got := isAccountID(in); got != want {
			t.Errorf("isAccountID(%q) = %v, want %v", in, got, want)
		}
	}
}
