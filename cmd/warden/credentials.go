package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kong"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/secret"
)

type credentialsCmd struct {
	List       credentialsListCmd     `cmd:"" default:"withargs" help:"List access keys."`
	Create     credentialsCreateCmd   `cmd:"" help:"Create an access key for an account."`
	Delete     credentialsDeleteCmd   `cmd:"" help:"Delete an access key (running servers stop accepting it within a second)."`
	Deactivate credentialsKeyStateCmd `cmd:"" help:"Deactivate an access key (running servers stop accepting it within a second)."`
	Activate   credentialsKeyStateCmd `cmd:"" help:"Activate a deactivated access key again."`
}

type credentialsListCmd struct {
	readStoreFlags
	ShowSecrets bool `name:"show-secrets" help:"Also print each key's secret."`
}

func (c *credentialsListCmd) Run(ctx context.Context) error {
	store, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	keys, err := store.AccessKeys(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprint(w, "ACCESS KEY ID\tACCOUNT\tSTATUS\tCREATED")
	if c.ShowSecrets {
		fmt.Fprint(w, "\tSECRET ACCESS KEY")
	}
	fmt.Fprintln(w)
	for _, k := range keys {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s", k.ID, k.Account, keyStatus(k.Inactive), k.CreatedAt.Format(time.RFC3339))
		if c.ShowSecrets {
			fmt.Fprintf(w, "\t%s", k.Secret)
		}
		fmt.Fprintln(w)
	}
	return w.Flush()
}

type credentialsCreateCmd struct {
	storeFlags
	Account string `default:"123456789012" help:"The 12-digit account the key signs for (created if new)."`
}

func (c *credentialsCreateCmd) Run(ctx context.Context) error {
	if !isAccountID(c.Account) {
		return fmt.Errorf("--account must be 12 digits, not %q", c.Account)
	}
	store, err := openStore(ctx, c.storeOptions())
	if err != nil {
		return err
	}
	defer store.Close()
	key := newAccessKey(c.Account)
	if err := store.CreateAccessKey(ctx, key); err != nil {
		return err
	}
	profile := "warden-" + c.Account
	if err := writeCredentialsProfile(c.DataDir, profile, key); err != nil {
		return err
	}
	printCredentials(os.Stdout, key, filepath.Join(c.DataDir, credentialsFileName), profile)
	return nil
}

func keyStatus(inactive bool) string {
	if inactive {
		return "Inactive"
	}
	return "Active"
}

type credentialsDeleteCmd struct {
	storeFlags
	KeyID string `arg:"" name:"access-key-id" help:"The access key to delete."`
}

// Run deletes the key and its profile in the credentials file. Servers
// re-read a key they use at least every second, so they stop accepting it
// without a restart.
func (c *credentialsDeleteCmd) Run(ctx context.Context) error {
	store, err := openStore(ctx, c.storeOptions())
	if err != nil {
		return err
	}
	defer store.Close()
	found, err := store.DeleteAccessKey(ctx, c.KeyID)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("no access key %s (warden credentials list shows them)", c.KeyID)
	}
	if err := removeCredentialsKey(c.DataDir, c.KeyID); err != nil {
		return fmt.Errorf("access key %s deleted, but its profile stays in the credentials file: %w", c.KeyID, err)
	}
	fmt.Printf("Deleted access key %s; running servers stop accepting it within a second.\n", c.KeyID)
	return nil
}

// credentialsKeyStateCmd is both deactivate and activate: kong tells them
// apart by the command path.
type credentialsKeyStateCmd struct {
	storeFlags
	KeyID string `arg:"" name:"access-key-id" help:"The access key."`
}

func (c *credentialsKeyStateCmd) Run(ctx context.Context, k *kong.Context) error {
	return c.set(ctx, strings.HasPrefix(k.Command(), "credentials deactivate"))
}

func (c *credentialsKeyStateCmd) set(ctx context.Context, inactive bool) error {
	store, err := openStore(ctx, c.storeOptions())
	if err != nil {
		return err
	}
	defer store.Close()
	found, err := store.SetAccessKeyInactive(ctx, c.KeyID, inactive)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("no access key %s (warden credentials list shows them)", c.KeyID)
	}
	if inactive {
		fmt.Printf("Deactivated access key %s; running servers stop accepting it within a second.\n", c.KeyID)
	} else {
		fmt.Printf("Activated access key %s.\n", c.KeyID)
	}
	return nil
}

const credentialsFileName = "credentials"

// credentialsRegion is the region written into the credentials file's profiles.
const credentialsRegion = "us-east-1"

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// newAccessKey makes a key shaped like AWS's: AKIA plus 16 base32 characters,
// and a 40-character secret.
func newAccessKey(account string) warden.AccessKey {
	const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	const secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	return warden.AccessKey{
		ID:        "AKIA" + randomString(idChars, 16),
		Secret:    randomString(secretChars, 40),
		Account:   account,
		CreatedAt: time.Now().UTC(),
	}
}

func randomString(alphabet string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)] // both alphabets divide 256 evenly
	}
	return string(b)
}

// bootstrapCredentials creates the default account and its first key when the
// store has no key at all, writes them to <dataDir>/credentials and prints them.
func bootstrapCredentials(ctx context.Context, store warden.Store, dataDir string, out io.Writer) error {
	keys, err := store.AccessKeys(ctx)
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		printWhereCredentialsAre(out, dataDir, len(keys))
		return nil
	}
	key := newAccessKey(warden.DefaultAccount)
	// Nodes starting together on one new database: one of them creates it.
	if created, err := store.CreateFirstAccessKey(ctx, key); err != nil || !created {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	if err := writeCredentialsProfile(dataDir, "warden", key); err != nil {
		return err
	}
	printCredentials(out, key, filepath.Join(dataDir, credentialsFileName), "warden")
	return nil
}

// printWhereCredentialsAre tells a restarted server's user where the keys
// printed on the first start are, without printing a secret.
func printWhereCredentialsAre(out io.Writer, dataDir string, keys int) {
	path := filepath.Join(dataDir, credentialsFileName)
	if _, err := os.Stat(path); err == nil {
		fmt.Fprintf(out, "Access keys: %d in the store; the AWS credentials file is %s (profile warden); "+
			"warden credentials list --data-dir %s lists them.\n", keys, path, dataDir)
		return
	}
	fmt.Fprintf(out, "Access keys: %d in the store; warden credentials list --show-secrets lists them.\n", keys)
}

// writeCredentialsProfile sets profile in the AWS shared-credentials file
// of dataDir to key, replacing any section of that name (and collapsing
// duplicates an older Warden appended, which make the aws CLI and boto3
// refuse the whole file). The file is replaced atomically, readable by its
// owner only: a crash leaves the old file or the new one, never half of one.
func writeCredentialsProfile(dataDir, profile string, key warden.AccessKey) error {
	return rewriteCredentialsFile(dataDir, func(sections []credentialsSection) []credentialsSection {
		// A region too: the aws CLI and SDKs refuse to sign without one
		// ("You must specify a region"), and any region works.
		body := fmt.Sprintf("aws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n# account %s\n\n",
			key.ID, key.Secret, credentialsRegion, key.Account)
		return append(slices.DeleteFunc(sections, func(s credentialsSection) bool { return s.name == profile }),
			credentialsSection{name: profile, text: "[" + profile + "]\n" + body})
	})
}

// removeCredentialsKey drops the profiles of key id from dataDir's
// credentials file, if it has any.
func removeCredentialsKey(dataDir, id string) error {
	return rewriteCredentialsFile(dataDir, func(sections []credentialsSection) []credentialsSection {
		return slices.DeleteFunc(sections, func(s credentialsSection) bool { return s.name != "" && s.keyID() == id })
	})
}

// credentialsSection is one [profile] of a shared-credentials file with its
// lines; name is "" for lines before the first profile.
type credentialsSection struct {
	name, text string
}

func (s credentialsSection) keyID() string {
	for _, line := range strings.Split(s.text, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "aws_access_key_id" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// parseCredentialsFile splits a shared-credentials file into sections. A
// profile that appears more than once keeps its last section, the newest.
func parseCredentialsFile(data string) []credentialsSection {
	var out []credentialsSection
	cur := credentialsSection{}
	for _, line := range strings.SplitAfter(data, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			if cur.name != "" || cur.text != "" {
				out = append(out, cur)
			}
			cur = credentialsSection{name: strings.TrimSpace(t[1 : len(t)-1])}
		}
		cur.text += line
	}
	if cur.name != "" || cur.text != "" {
		out = append(out, cur)
	}
	// Keep the last section of each profile, in file order.
	seen := map[string]bool{}
	kept := make([]credentialsSection, 0, len(out))
	for i := len(out) - 1; i >= 0; i-- {
		if name := out[i].name; name != "" {
			if seen[name] {
				continue
			}
			seen[name] = true
		}
		kept = append(kept, out[i])
	}
	slices.Reverse(kept)
	return kept
}

// rewriteCredentialsFile replaces dataDir's credentials file with edit's
// sections: a temporary file in the same directory, fsynced, then renamed
// over the old one, and the directory fsynced so that the rename lasts.
func rewriteCredentialsFile(dataDir string, edit func([]credentialsSection) []credentialsSection) error {
	path := filepath.Join(dataDir, credentialsFileName)
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var b strings.Builder
	for _, s := range edit(parseCredentialsFile(string(old))) {
		b.WriteString(s.text)
		if !strings.HasSuffix(s.text, "\n") {
			b.WriteString("\n")
		}
	}
	return secret.WritePrivateFile(dataDir, credentialsFileName, []byte(b.String()), true)
}

func printCredentials(w io.Writer, key warden.AccessKey, file, profile string) {
	fmt.Fprintf(w, `Warden access key for account %s (saved in %s, profile %s).
Paste these lines into a shell to point the aws CLI and SDKs at it:

export AWS_ACCESS_KEY_ID=%s
export AWS_SECRET_ACCESS_KEY=%s
export AWS_DEFAULT_REGION=us-east-1

`, key.Account, file, profile, key.ID, key.Secret)
}
