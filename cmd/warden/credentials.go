package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/warden-iot/warden"
)

type credentialsCmd struct {
	List   credentialsListCmd   `cmd:"" default:"withargs" help:"List access keys."`
	Create credentialsCreateCmd `cmd:"" help:"Create an access key for an account."`
}

type credentialsListCmd struct {
	storeFlags
	ShowSecrets bool `name:"show-secrets" help:"Also print each key's secret."`
}

func (c *credentialsListCmd) Run(ctx context.Context) error {
	store, err := openStore(ctx, c.storeOptions())
	if err != nil {
		return err
	}
	defer store.Close()
	keys, err := store.AccessKeys(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprint(w, "ACCESS KEY ID\tACCOUNT\tCREATED")
	if c.ShowSecrets {
		fmt.Fprint(w, "\tSECRET ACCESS KEY")
	}
	fmt.Fprintln(w)
	for _, k := range keys {
		fmt.Fprintf(w, "%s\t%s\t%s", k.ID, k.Account, k.CreatedAt.Format(time.RFC3339))
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
	if err := appendCredentialsFile(c.DataDir, profile, key); err != nil {
		return err
	}
	printCredentials(os.Stdout, key, filepath.Join(c.DataDir, credentialsFileName), profile)
	return nil
}

const credentialsFileName = "credentials"

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
	if err != nil || len(keys) > 0 {
		return err
	}
	key := newAccessKey(warden.DefaultAccount)
	// Nodes starting together on one new database: one of them creates it.
	if created, err := store.CreateFirstAccessKey(ctx, key); err != nil || !created {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	if err := appendCredentialsFile(dataDir, "warden", key); err != nil {
		return err
	}
	printCredentials(out, key, filepath.Join(dataDir, credentialsFileName), "warden")
	return nil
}

// appendCredentialsFile adds a profile in the AWS shared-credentials format,
// readable by its owner only.
func appendCredentialsFile(dataDir, profile string, key warden.AccessKey) error {
	path := filepath.Join(dataDir, credentialsFileName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n# account %s\n\n",
		profile, key.ID, key.Secret, key.Account)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(path, 0o600)
	}
	return err
}

func printCredentials(w io.Writer, key warden.AccessKey, file, profile string) {
	fmt.Fprintf(w, `Warden access key for account %s (saved in %s, profile %s).
Paste these lines into a shell to point the aws CLI and SDKs at it:

export AWS_ACCESS_KEY_ID=%s
export AWS_SECRET_ACCESS_KEY=%s
export AWS_DEFAULT_REGION=us-east-1

`, key.Account, file, profile, key.ID, key.Secret)
}
