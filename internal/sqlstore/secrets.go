package sqlstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Secrets at rest: access-key secrets, the server_secrets values (SNS
// signing key, page-token and URL keys) and the issuing CAs' private keys
// are stored sealed with AES-256-GCM under a master key that the database
// does not hold: <data-dir>/master.key for an embedded store, or
// WARDEN_MASTER_KEY (which every PostgreSQL node shares). A copy of the
// database, a dump or a backup without the key yields none of them.
//
// A sealed value is "wenc1:" + base64(nonce ‖ ciphertext). Its additional
// data names the row it belongs to (table, column and key), so that a value
// moved to another row, e.g. one key's secret copied over another's, does
// not open. A store written before sealing existed is sealed when first
// opened with a key.

// MasterKeyFile is the master key's file in a data directory.
const MasterKeyFile = "master.key"

// MasterKeySize is the length of a master key: AES-256.
const MasterKeySize = 32

const sealedPrefix = "wenc1:"

// masterKeyCheckName is the server_secrets row that tells whether a key is
// the one the database's secrets were sealed with.
const masterKeyCheckName = "master-key-check"

const masterKeyCheckText = "warden master key check"

// ErrWrongMasterKey is returned (wrapped) when a store is opened with a
// master key other than the one its secrets were sealed with.
var ErrWrongMasterKey = errors.New("the master key does not open this database's secrets: they were sealed with another key")

// ParseMasterKey decodes a master key written as base64 (standard or URL
// alphabet, padded or not) or as 64 hex digits.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*MasterKeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != MasterKeySize {
				return nil, fmt.Errorf("master key is %d bytes, want %d (base64 of 32 random bytes: openssl rand -base64 32)", len(b), MasterKeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("master key is neither base64 nor 64 hex digits (make one with: openssl rand -base64 32)")
}

// sealer seals and opens secrets with the master key.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != MasterKeySize {
		return nil, fmt.Errorf("master key is %d bytes, want %d", len(key), MasterKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal returns plain sealed for the row that aad names.
func (s *sealer) seal(plain []byte, aad string) string {
	buf := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	_, _ = rand.Read(buf)
	buf = s.aead.Seal(buf, buf, plain, []byte(aad))
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(buf)
}

// open returns the plaintext of a value seal made for the same row.
func (s *sealer) open(stored []byte, aad string) ([]byte, error) {
	if !isSealed(stored) {
		return nil, fmt.Errorf("secret %s is stored unsealed (written by an older Warden while this one ran?); restart the server to seal it", aadName(aad))
	}
	raw, err := base64.RawStdEncoding.DecodeString(string(stored[len(sealedPrefix):]))
	n := s.aead.NonceSize()
	if err != nil || len(raw) < n+s.aead.Overhead() {
		return nil, fmt.Errorf("secret %s: damaged sealed value", aadName(aad))
	}
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("secret %s does not open with the master key (wrong key, or the value belongs to another row)", aadName(aad))
	}
	return plain, nil
}

func isSealed(b []byte) bool { return strings.HasPrefix(string(b), sealedPrefix) }

// The additional data of each kind of secret: table, column and the row's
// key, separated by a byte no name contains.
func aadAccessKey(id string) string      { return "access_keys\x00secret\x00" + id }
func aadServerSecret(name string) string { return "server_secrets\x00value\x00" + name }
func aadIssuingCA(account, region string) string {
	return "issuing_cas\x00key_pem\x00" + account + "\x00" + region
}

// aadName makes additional data readable in an error.
func aadName(aad string) string { return strings.ReplaceAll(aad, "\x00", "/") }

// errNoMasterKey is what a store opened without a key (only migrate's copy
// target is) answers when asked for a secret.
var errNoMasterKey = errors.New("the store was opened without a master key")

func (db *DB) sealSecret(plain []byte, aad string) (string, error) {
	if db.secrets == nil {
		return "", errNoMasterKey
	}
	return db.secrets.seal(plain, aad), nil
}

func (db *DB) openSecret(stored []byte, aad string) ([]byte, error) {
	if db.secrets == nil {
		return nil, errNoMasterKey
	}
	return db.secrets.open(stored, aad)
}

// masterKeySource says where a store's master key comes from: given (Key),
// or the key file in Dir, created with a new key when the database has no
// sealed secrets yet.
type masterKeySource struct {
	Key []byte
	Dir string
}

func (src masterKeySource) describe() string {
	if src.Key != nil {
		return "WARDEN_MASTER_KEY"
	}
	return filepath.Join(src.Dir, MasterKeyFile)
}

// initSecrets sets db up to seal and open secrets with the master key: it
// checks the key against the database's check value, or, on a database with
// none yet, stores one; then it seals every secret still stored in the
// clear (a store written by a Warden before sealing).
func (db *DB) initSecrets(ctx context.Context, src masterKeySource) error {
	var check []byte
	err := db.read.QueryRowContext(ctx, `SELECT value FROM server_secrets WHERE name = ?`, masterKeyCheckName).Scan(&check)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	hasCheck := err == nil
	key := src.Key
	if key == nil {
		if key, err = loadMasterKeyFile(src.Dir, !hasCheck); err != nil {
			return err
		}
	}
	s, err := newSealer(key)
	if err != nil {
		return err
	}
	db.secrets = s
	if hasCheck {
		if err := db.checkMasterKey(check, src); err != nil {
			return err
		}
	}
	return db.sealPlaintext(ctx, src)
}

func (db *DB) checkMasterKey(check []byte, src masterKeySource) error {
	plain, err := db.secrets.open(check, aadServerSecret(masterKeyCheckName))
	if err != nil || string(plain) != masterKeyCheckText {
		return fmt.Errorf("%w: use the key the database was set up with (%s)", ErrWrongMasterKey, src.describe())
	}
	return nil
}

// sealPlaintext stores the check value if there is none and seals the
// secrets stored in the clear, in one transaction. The tables are small (a
// row per access key, server secret and scope with an issuing CA): they are
// read whole and checked in Go, alike on both databases.
func (db *DB) sealPlaintext(ctx context.Context, src masterKeySource) error {
	type row struct {
		table, keyCol, valCol string
		keys                  []any
		value                 []byte
		aad                   string
	}
	find := func(ctx context.Context, q querier) (hasCheck bool, plain []row, err error) {
		scan := func(query string, each func(rs *sql.Rows) error) error {
			rs, err := q.QueryContext(ctx, query)
			if err != nil {
				return err
			}
			defer rs.Close()
			for rs.Next() {
				if err := each(rs); err != nil {
					return err
				}
			}
			return rs.Err()
		}
		err = scan(`SELECT id, secret FROM access_keys`, func(rs *sql.Rows) error {
			var id, secret string
			if err := rs.Scan(&id, &secret); err != nil {
				return err
			}
			if !isSealed([]byte(secret)) {
				plain = append(plain, row{"access_keys", "id = ?", "secret", []any{id}, []byte(secret), aadAccessKey(id)})
			}
			return nil
		})
		if err != nil {
			return false, nil, err
		}
		err = scan(`SELECT name, value FROM server_secrets`, func(rs *sql.Rows) error {
			var name string
			var value []byte
			if err := rs.Scan(&name, &value); err != nil {
				return err
			}
			switch {
			case name == masterKeyCheckName:
				if err := db.checkMasterKey(value, src); err != nil {
					return err
				}
				hasCheck = true
			case !isSealed(value):
				plain = append(plain, row{"server_secrets", "name = ?", "value", []any{name}, value, aadServerSecret(name)})
			}
			return nil
		})
		if err != nil {
			return false, nil, err
		}
		err = scan(`SELECT account, region, key_pem FROM issuing_cas`, func(rs *sql.Rows) error {
			var account, region, keyPEM string
			if err := rs.Scan(&account, &region, &keyPEM); err != nil {
				return err
			}
			if !isSealed([]byte(keyPEM)) {
				plain = append(plain, row{"issuing_cas", "account = ? AND region = ?", "key_pem", []any{account, region},
					[]byte(keyPEM), aadIssuingCA(account, region)})
			}
			return nil
		})
		return hasCheck, plain, err
	}
	// Usually there is nothing to do, and a read says so without a write.
	hasCheck, plain, err := find(ctx, db.read)
	if err != nil || hasCheck && len(plain) == 0 {
		return err
	}
	return db.inTx(ctx, func(tx writeTx) error {
		hasCheck, plain, err := find(ctx, tx)
		if err != nil {
			return err
		}
		if !hasCheck {
			if _, err := tx.ExecContext(ctx, `INSERT INTO server_secrets (name, value) VALUES (?, ?)`,
				masterKeyCheckName, []byte(db.secrets.seal([]byte(masterKeyCheckText), aadServerSecret(masterKeyCheckName)))); err != nil {
				return err
			}
		}
		for _, r := range plain {
			var sealed any = db.secrets.seal(r.value, r.aad)
			if r.table == "server_secrets" {
				sealed = []byte(sealed.(string))
			}
			if _, err := tx.ExecContext(ctx, `UPDATE `+r.table+` SET `+r.valCol+` = ? WHERE `+r.keyCol,
				append([]any{sealed}, r.keys...)...); err != nil {
				return fmt.Errorf("seal %s: %w", aadName(r.aad), err)
			}
		}
		return nil
	})
}

// loadMasterKeyFile reads dir's master key file. When there is none and
// create is set (the database has no sealed secrets yet) it makes a new
// key and writes the file, readable by its owner only, before any secret
// is sealed with it.
func loadMasterKeyFile(dir string, create bool) ([]byte, error) {
	path := filepath.Join(dir, MasterKeyFile)
	data, err := os.ReadFile(path)
	if err == nil {
		if err := restrictFile(path); err != nil {
			return nil, err
		}
		key, err := ParseMasterKey(string(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if !create {
		return nil, fmt.Errorf("this database's secrets are sealed with a master key, but %s is missing: restore it from a backup or set WARDEN_MASTER_KEY to the key", path)
	}
	if err := prepareDataDir(dir); err != nil {
		return nil, err
	}
	key := make([]byte, MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	// Linked into place, not renamed: a process starting at the same moment
	// finds either no file or the whole key, and the second of two fails.
	err = WritePrivateFile(dir, MasterKeyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), false)
	if errors.Is(err, fs.ErrExist) {
		return loadMasterKeyFile(dir, false)
	}
	if err != nil {
		return nil, err
	}
	return key, nil
}

// prepareDataDir creates dir, or restricts an existing one, to its owner
// (0700): it holds the database, the master key and the credentials file.
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data dir %s is open to other users (mode %04o) and could not be restricted to its owner: %w; "+
				"run warden as the directory's owner or chmod 700 it", dir, st.Mode().Perm(), err)
		}
	}
	return nil
}

// restrictFile makes an existing file readable and writable by its owner
// only; a missing one is no error.
func restrictFile(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode().Perm() != 0o600 {
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("restrict %s to its owner: %w", path, err)
		}
	}
	return nil
}

// WritePrivateFile writes data as dir/name, readable by its owner only,
// whole or not at all: a temporary file in dir is written and fsynced, then
// renamed over name (replace) or linked to it (fs.ErrExist if name exists),
// and dir is fsynced so that the new name lasts.
func WritePrivateFile(dir, name string, data []byte, replace bool) error {
	path := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, "."+name+"-*") // created 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if replace {
			err = os.Rename(tmp.Name(), path)
		} else {
			err = os.Link(tmp.Name(), path)
		}
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
