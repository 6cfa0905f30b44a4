package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
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
	// Given keys let a test suite fix its credentials in advance.
	AccessKeyID     string `name:"access-key-id" help:"Store this access key id (16-128 characters A-Z, 0-9) instead of generating one; needs --secret-access-key."`
	SecretAccessKey string `name:"secret-access-key" help:"The secret of --access-key-id (16-128 printable ASCII characters, no spaces; AWS's are 40)."`
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
	if c.AccessKeyID != "" || c.SecretAccessKey != "" {
		if key, err = givenAccessKey(ctx, store, c.Account, c.AccessKeyID, c.SecretAccessKey); err != nil {
			return err
		}
	}
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

// givenAccessKey is the key of --access-key-id and --secret-access-key,
// refused if invalid or if the store has that id already.
func givenAccessKey(ctx context.Context, store warden.Store, account, id, secret string) (warden.AccessKey, error) {
	if id == "" || secret == "" {
		return warden.AccessKey{}, errors.New("--access-key-id and --secret-access-key go together: give both, or neither for a generated key")
	}
	if err := validateGivenKey(id, secret); err != nil {
		return warden.AccessKey{}, err
	}
	if _, found, err := store.AccessKey(ctx, id); err != nil {
		return warden.AccessKey{}, err
	} else if found {
		return warden.AccessKey{}, fmt.Errorf("access key %s exists already (warden credentials list shows it); delete it first to replace it", id)
	}
	return warden.AccessKey{ID: id, Secret: secret, Account: account, CreatedAt: time.Now().UTC()}, nil
}

// validateGivenKey applies AWS's rules to a key chosen by the user: an id of
// 16 to 128 characters [A-Z0-9] (AWS's AccessKeyId constraint, in the
// character set of its keys), a secret of 16 to 128 printable ASCII characters
// without spaces, so it fits the credentials file (AWS's are 40).
func validateGivenKey(id, secret string) error {
	if len(id) < 16 || len(id) > 128 || strings.IndexFunc(id, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') }) >= 0 {
		return fmt.Errorf("access key id %q must be 16 to 128 characters A-Z and 0-9, like AKIAIOSFODNN7EXAMPLE", id)
	}
	if len(secret) < 16 || len(secret) > 128 || strings.IndexFunc(secret, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return fmt.Errorf("the secret access key must be 16 to 128 printable ASCII characters without spaces (AWS's are 40)")
	}
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
// store has no key at all: given (from the environment), or else generated,
// writes them to <dataDir>/credentials and prints them (a given secret is
// not printed: its owner knows it). A given key meeting a store that has
// keys already is not added: the environment of a restarted server would
// otherwise keep adding keys to a store whose keys are managed with warden
// credentials.
func bootstrapCredentials(ctx context.Context, store warden.Store, dataDir string, given *warden.AccessKey, out io.Writer, log *slog.Logger) error {
	keys, err := store.AccessKeys(ctx)
	if err != nil {
		return err
	}
	created := false
	key := newAccessKey(warden.DefaultAccount)
	if given != nil {
		key = *given
	}
	if len(keys) == 0 {
		// Nodes starting together on one new database: one of them creates it.
		if created, err = store.CreateFirstAccessKey(ctx, key); err != nil {
			return err
		}
	}
	if !created {
		if given != nil {
			logGivenKeyIgnored(ctx, store, *given, log)
		}
		// Another node may have created the first key just now.
		printWhereCredentialsAre(out, dataDir, max(len(keys), 1))
		return nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	if err := writeCredentialsProfile(dataDir, "warden", key); err != nil {
		return err
	}
	file := filepath.Join(dataDir, credentialsFileName)
	if given != nil {
		fmt.Fprintf(out, "Warden access key %s (from %s) for account %s (saved in %s, profile warden).\n",
			key.ID, envAccessKeyID, key.Account, file)
		return nil
	}
	printCredentials(out, key, file, "warden")
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

// logGivenKeyIgnored says why the environment's key was not created on a
// store that had keys already, without the secret.
func logGivenKeyIgnored(ctx context.Context, store warden.Store, given warden.AccessKey, log *slog.Logger) {
	stored, found, err := store.AccessKey(ctx, given.ID)
	switch {
	case err != nil:
		log.Warn("could not read the access key of "+envAccessKeyID, "access_key_id", given.ID, "err", err.Error())
	case !found:
		log.Warn(envAccessKeyID+" and "+envSecretAccessKey+" are ignored: they only choose the first key of an empty store, "+
			"and this one has keys (add it with warden credentials create --access-key-id ... --secret-access-key ...)",
			"access_key_id", given.ID)
	case stored.Secret != given.Secret:
		log.Warn("access key of "+envAccessKeyID+" is stored with another secret than "+envSecretAccessKey+"; the stored one stays",
			"access_key_id", given.ID)
	default:
		log.Info("access key of "+envAccessKeyID+" is stored already", "access_key_id", given.ID, "inactive", stored.Inactive)
	}
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
