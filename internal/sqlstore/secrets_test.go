package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/secret"
)

// storeSecrets fills db with one secret of each kind and returns them.
func storeSecrets(t *testing.T, db *DB) (keySecret, serverSecret, caKey string) {
	t.Helper()
	ctx := context.Background()
	keySecret, serverSecret, caKey = "KEYSECRETkeysecret0123456789abcdefghijkl", "SERVERSECRET-0123456789", "-----BEGIN PRIVATE KEY-----CAKEYSECRET"
	for _, id := range []string{"AKIASECRETTEST00000A", "AKIASECRETTEST00000B"} {
		if err := db.CreateAccessKey(ctx, warden.AccessKey{ID: id, Secret: keySecret, Account: "123456789012", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ServerSecret(ctx, "test-secret", func() []byte { return []byte(serverSecret) }); err != nil {
		t.Fatal(err)
	}
	s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	if _, k, err := db.IssuingCA(ctx, s, func() (string, string, error) { return "CERT", caKey, nil }); err != nil || k != caKey {
		t.Fatalf("IssuingCA: %q, %v", k, err)
	}
	return keySecret, serverSecret, caKey
}

// TestSecretsAtRest is the attack of a copied database: every file the
// store writes is its owner's only (the data dir too, though it was made
// 0755 before), the database's bytes hold none of the secrets, and the
// database opens with no other master key.
func TestSecretsAtRest(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	db, err := OpenSQLite(ctx, dir, SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keySecret, serverSecret, caKey := storeSecrets(t, db)
	modes := map[string]os.FileMode{}
	for _, name := range []string{".", SQLiteFile, SQLiteFile + "-wal", SQLiteFile + "-shm", secret.KeyFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		modes[name] = st.Mode().Perm()
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for name, mode := range modes {
		want := os.FileMode(0o600)
		if name == "." {
			want = 0o700
		}
		if mode != want {
			t.Errorf("%s has mode %04o, want %04o", name, mode, want)
		}
	}

	// Every byte the database left on disk, the WAL included if any.
	var disk []byte
	for _, name := range []string{SQLiteFile, SQLiteFile + "-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		disk = append(disk, b...)
	}
	for what, secret := range map[string]string{"access-key secret": keySecret, "server secret": serverSecret, "CA private key": caKey} {
		if bytes.Contains(disk, []byte(secret)) {
			t.Errorf("the database file holds the %s in the clear", what)
		}
	}
	plain, err := sql.Open("sqlite", "file:"+filepath.Join(dir, SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := plain.QueryRow(`SELECT secret FROM access_keys WHERE id = 'AKIASECRETTEST00000A'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, secret.SealedPrefix) || strings.Contains(stored, keySecret) {
		t.Errorf("access key secret stored as %q, want a sealed value", stored)
	}

	// Another key does not open the store.
	wrong := bytes.Repeat([]byte{1}, secret.KeySize)
	if db, err := OpenSQLite(ctx, dir, SQLiteOptions{MasterKey: wrong}); !errors.Is(err, ErrWrongMasterKey) {
		if err == nil {
			db.Close()
		}
		t.Fatalf("open with another master key: %v, want ErrWrongMasterKey", err)
	}

	// A sealed value moved to another row does not open there.
	if _, err := plain.Exec(`UPDATE access_keys SET secret = ? WHERE id = 'AKIASECRETTEST00000B'`, stored); err != nil {
		t.Fatal(err)
	}
	plain.Close()
	db, err = OpenSQLite(ctx, dir, SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if k, _, err := db.AccessKey(ctx, "AKIASECRETTEST00000A"); err != nil || k.Secret != keySecret {
		t.Errorf("key A: %q, %v; want its secret", k.Secret, err)
	}
	if k, _, err := db.AccessKey(ctx, "AKIASECRETTEST00000B"); err == nil {
		t.Errorf("key B with key A's sealed secret opened: %q", k.Secret)
	}
}

// TestSecretsOfAnOlderStoreAreSealed: a store written before secrets were
// sealed (values in the clear, no master key) is sealed on its first open,
// and every secret reads back the same.
func TestSecretsOfAnOlderStoreAreSealed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := OpenSQLite(ctx, dir, SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keySecret, serverSecret, caKey := storeSecrets(t, db)
	// Back to what an older Warden wrote.
	for _, q := range []string{
		`UPDATE access_keys SET secret = '` + keySecret + `'`,
		`UPDATE server_secrets SET value = CAST('` + serverSecret + `' AS BLOB) WHERE name = 'test-secret'`,
		`UPDATE issuing_cas SET key_pem = '` + caKey + `'`,
		`DELETE FROM server_secrets WHERE name = '` + masterKeyCheckName + `'`,
	} {
		if _, err := db.write.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	if err := os.Remove(filepath.Join(dir, secret.KeyFile)); err != nil {
		t.Fatal(err)
	}

	db, err = OpenSQLite(ctx, dir, SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := os.Stat(filepath.Join(dir, secret.KeyFile)); err != nil {
		t.Errorf("no new master key file: %v", err)
	}
	var clear int
	if err := db.read.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM access_keys WHERE secret NOT LIKE 'wenc1:%')
		+ (SELECT COUNT(*) FROM server_secrets WHERE CAST(value AS TEXT) NOT LIKE 'wenc1:%')
		+ (SELECT COUNT(*) FROM issuing_cas WHERE key_pem NOT LIKE 'wenc1:%')`).Scan(&clear); err != nil {
		t.Fatal(err)
	}
	if clear != 0 {
		t.Errorf("%d secrets still in the clear after the first open with a key", clear)
	}
	if k, _, err := db.AccessKey(ctx, "AKIASECRETTEST00000A"); err != nil || k.Secret != keySecret {
		t.Errorf("access key secret %q, %v", k.Secret, err)
	}
	if v, err := db.ServerSecret(ctx, "test-secret", nil); err != nil || string(v) != serverSecret {
		t.Errorf("server secret %q, %v", v, err)
	}
	s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	if _, k, err := db.IssuingCA(ctx, s, nil); err != nil || k != caKey {
		t.Errorf("CA key %q, %v", k, err)
	}
}

// TestMasterKeyFileLostIsRefused: a store whose secrets are sealed does not
// make itself a new key when master.key is gone: it says what is missing.
func TestMasterKeyFileLostIsRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := OpenSQLite(ctx, dir, SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	storeSecrets(t, db)
	db.Close()
	key, err := os.ReadFile(filepath.Join(dir, secret.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, secret.KeyFile)); err != nil {
		t.Fatal(err)
	}
	if db, err := OpenSQLite(ctx, dir, SQLiteOptions{}); err == nil || !strings.Contains(err.Error(), "master.key is missing") {
		if err == nil {
			db.Close()
		}
		t.Fatalf("open without master.key: %v, want an error saying it is missing", err)
	}
	// The key given instead (WARDEN_MASTER_KEY) opens it.
	parsed, err := secret.ParseKey(string(key))
	if err != nil {
		t.Fatal(err)
	}
	db, err = OpenSQLite(ctx, dir, SQLiteOptions{MasterKey: parsed})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

// testMasterKey is the key of the tests whose nodes share a database.
var testMasterKey = bytes.Repeat([]byte{0x5a}, secret.KeySize)

// TestLostStoreBesideMasterKeyIsRefused: an emptied database next to the
// master key file is a lost store, not a new one.
func TestLostStoreBesideMasterKeyIsRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := OpenSQLite(ctx, dir, SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.Truncate(filepath.Join(dir, SQLiteFile), 0); err != nil {
		t.Fatal(err)
	}
	if db, err := OpenSQLite(ctx, dir, SQLiteOptions{}); !errors.Is(err, ErrLostStore) {
		if err == nil {
			db.Close()
		}
		t.Fatalf("open of an emptied database beside master.key: %v, want ErrLostStore", err)
	}
}
