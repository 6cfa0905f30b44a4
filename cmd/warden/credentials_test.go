package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// awsConfigureList runs the real aws CLI's `configure list` for profile on
// the credentials file; it fails when the CLI cannot parse the file.
func awsConfigureList(t *testing.T, file, profile string) (string, error) {
	t.Helper()
	const aws = "/usr/bin/aws"
	if _, err := os.Stat(aws); err != nil {
		t.Skip("the aws CLI (Debian package awscli) is not installed at " + aws)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, aws, "configure", "list", "--profile", profile)
	cmd.Env = append(os.Environ(), "AWS_SHARED_CREDENTIALS_FILE="+file, "AWS_CONFIG_FILE=/dev/null", "AWS_PAGER=",
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_PROFILE=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestCredentialsCreateTwiceKeepsTheFileParseable: two `warden credentials
// create` for one account used to append the profile twice, after which
// the aws CLI refused every profile of the file.
func TestCredentialsCreateTwiceKeepsTheFileParseable(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	_, _, stop := startMain(t, dir) // the first start writes profile "warden"
	stop()
	create := &credentialsCreateCmd{storeFlags: storeFlags{DataDir: dir, Synchronous: "normal"}, Account: "111122223333"}
	for range 2 {
		if err := create.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, credentialsFileName)
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(content), "[warden-111122223333]"); n != 1 {
		t.Errorf("profile warden-111122223333 appears %d times in the credentials file, want once:\n%s", n, content)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file: %v, mode %v, want 0600", err, st.Mode().Perm())
	}
	newest := newestAccessKey(t, create.storeOptions())
	for _, profile := range []string{"warden", "warden-111122223333"} {
		out, err := awsConfigureList(t, file, profile)
		if err != nil {
			t.Fatalf("aws configure list --profile %s: %v\n%s\nthe file:\n%s", profile, err, out, content)
		}
		if profile == "warden-111122223333" && !strings.Contains(out, newest.ID[len(newest.ID)-4:]) {
			t.Errorf("aws configure list --profile %s shows no key ending in %s (the newest):\n%s", profile, newest.ID[len(newest.ID)-4:], out)
		}
	}
}

// TestCredentialsFileRepairsDuplicates: a file an older Warden left with a
// profile twice is made parseable again by the next rewrite, keeping the
// newest section of each profile and every other line.
func TestCredentialsFileRepairsDuplicates(t *testing.T) {
	in := "# mine\n[default]\naws_access_key_id = A\naws_secret_access_key = a\n\n" +
		"[warden]\naws_access_key_id = OLD\naws_secret_access_key = old\n\n" +
		"[warden]\naws_access_key_id = NEW\naws_secret_access_key = new\n"
	var got []string
	for _, s := range parseCredentialsFile(in) {
		got = append(got, s.name+"="+s.keyID())
	}
	if want := []string{"=", "default=A", "warden=NEW"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("sections %v, want %v", got, want)
	}
}

// newestAccessKey is the access key created last in the store of opt.
func newestAccessKey(t *testing.T, opt sqlstore.Options) warden.AccessKey {
	t.Helper()
	ctx := context.Background()
	store, err := openStore(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	keys, err := store.AccessKeys(ctx)
	if err != nil || len(keys) == 0 {
		t.Fatalf("access keys: %v, %d keys", err, len(keys))
	}
	return keys[len(keys)-1]
}

// TestCredentialsFileRouteWorksWithTheAWSCLI: the real aws CLI, given only
// the credentials file and profile (no region anywhere else), signs a
// request Warden accepts: the file carries a region.
func TestCredentialsFileRouteWorksWithTheAWSCLI(t *testing.T) {
	const awsCLI = "/usr/bin/aws"
	if _, err := os.Stat(awsCLI); err != nil {
		t.Skip("the aws CLI (Debian package awscli) is not installed at " + awsCLI)
	}
	dir := t.TempDir()
	m, _, stop := startMain(t, dir)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, awsCLI, "iot", "list-mitigation-actions", "--endpoint-url", m.URL())
	// No AWS_* variable but these: an empty AWS_DEFAULT_REGION would count as a region.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AWS_") })
	cmd.Env = append(env, "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, credentialsFileName),
		"AWS_PROFILE=warden", "AWS_CONFIG_FILE=/dev/null", "AWS_PAGER=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "actionIdentifiers") {
		t.Fatalf("aws iot list-mitigation-actions with the credentials file: %v\n%s", err, out)
	}
}
