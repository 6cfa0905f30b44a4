package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// readmeGoProgram is the README's ```go block that is a whole program.
var readmeGoProgram = regexp.MustCompile("(?s)```go\n(package main\n.*?)```")

// TestReadmeSDKProgram: the README's aws-sdk-go-v2 program builds, and run
// with the printed key against a server (its address the only change) it
// lists the account's mitigation actions.
func TestReadmeSDKProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	match := readmeGoProgram.FindSubmatch(readme)
	if match == nil {
		t.Fatal("README.md has no ```go block starting with package main")
	}
	program := string(match[1])
	const endpoint = `"http://127.0.0.1:4590"`
	if !strings.Contains(program, endpoint) {
		t.Fatalf("the README's program does not use the endpoint %s:\n%s", endpoint, program)
	}

	dir := t.TempDir()
	m, printed, stop := startMain(t, dir)
	defer stop()
	found := map[string]string{}
	for _, kv := range exportLine.FindAllStringSubmatch(printed, -1) {
		found[kv[1]] = kv[2]
	}
	id, secret := found["AWS_ACCESS_KEY_ID"], found["AWS_SECRET_ACCESS_KEY"]
	client := iot.New(iot.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	if _, err := client.CreateMitigationAction(context.Background(), &iot.CreateMitigationActionInput{
		ActionName: aws.String("UpdateCACertName"),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/MitigationActionsValidRole"),
		ActionParams: &types.MitigationActionParams{
			UpdateDeviceCertificateParams: &types.UpdateDeviceCertificateParams{Action: types.DeviceCertificateUpdateActionDeactivate},
		},
	}); err != nil {
		t.Fatal(err)
	}

	// Built inside the module, so that it uses the module's pinned SDK.
	src, err := os.MkdirTemp(".", "_readme-program-") // "_": go ignores it in ./... patterns
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(src)
	program = strings.Replace(program, endpoint, `"`+m.URL()+`"`, 1)
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "readme-program")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./"+filepath.Base(src)).CombinedOutput(); err != nil {
		t.Fatalf("go build of the README's program: %v\n%s\n%s", err, out, program)
	}
	run := exec.CommandContext(ctx, bin)
	run.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AWS_") }),
		"AWS_ACCESS_KEY_ID="+id, "AWS_SECRET_ACCESS_KEY="+secret)
	out, err := run.CombinedOutput()
	want := "UpdateCACertName arn:aws:iot:us-east-1:123456789012:mitigationaction/UpdateCACertName\n"
	if err != nil || string(out) != want {
		t.Fatalf("the README's program: %v, printed %q, want %q", err, out, want)
	}
}
