package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/warden-iot/warden/internal/secret"
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

// masterKeyCheckName is the server_secrets row that tells whether a key is
// the one the database's secrets were sealed with.
const masterKeyCheckName = "master-key-check"

const masterKeyCheckText = "warden master key check"

// ErrWrongMasterKey is returned (wrapped) when a store is opened with a
// master key other than the one its secrets were sealed with.
var ErrWrongMasterKey = errors.New("the master key does not open this database's secrets: they were sealed with another key")

// The additional data of each kind of secret: table, column and the row's
// key, separated by a byte no name contains.
func aadAccessKey(id string) string      { return secret.AAD("access_keys", "secret", id) }
func aadServerSecret(name string) string { return secret.AAD("server_secrets", "value", name) }
func aadIssuingCA(account, region string) string {
	return secret.AAD("issuing_cas", "key_pem", account, region)
}

// errNoMasterKey is what a store opened without a key (only migrate's copy
// target is) answers when asked for a secret.
var errNoMasterKey = errors.New("the store was opened without a master key")

func (db *DB) sealSecret(plain []byte, aad string) (string, error) {
	if db.secrets == nil {
		return "", errNoMasterKey
	}
	return db.secrets.Seal(plain, aad), nil
}

func (db *DB) openSecret(stored []byte, aad string) ([]byte, error) {
	if db.secrets == nil {
		return nil, errNoMasterKey
	}
	return db.secrets.Open(stored, aad)
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
	return filepath.Join(src.Dir, secret.KeyFile)
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
		if key, err = secret.LoadKeyFile(src.Dir, !hasCheck); err != nil {
			return err
		}
	}
	s, err := secret.NewSealer(key)
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
	plain, err := db.secrets.Open(check, aadServerSecret(masterKeyCheckName))
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
		err = queryEach(ctx, q, func(rs rowScanner) error {
			var id, value string
			if err := rs.Scan(&id, &value); err != nil {
				return err
			}
			if !secret.IsSealed([]byte(value)) {
				plain = append(plain, row{"access_keys", "id = ?", "secret", []any{id}, []byte(value), aadAccessKey(id)})
			}
			return nil
		}, `SELECT id, secret FROM access_keys`)
		if err != nil {
			return false, nil, err
		}
		err = queryEach(ctx, q, func(rs rowScanner) error {
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
			case !secret.IsSealed(value):
				plain = append(plain, row{"server_secrets", "name = ?", "value", []any{name}, value, aadServerSecret(name)})
			}
			return nil
		}, `SELECT name, value FROM server_secrets`)
		if err != nil {
			return false, nil, err
		}
		err = queryEach(ctx, q, func(rs rowScanner) error {
			var account, region, keyPEM string
			if err := rs.Scan(&account, &region, &keyPEM); err != nil {
				return err
			}
			if !secret.IsSealed([]byte(keyPEM)) {
				plain = append(plain, row{"issuing_cas", "account = ? AND region = ?", "key_pem", []any{account, region},
					[]byte(keyPEM), aadIssuingCA(account, region)})
			}
			return nil
		}, `SELECT account, region, key_pem FROM issuing_cas`)
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
				masterKeyCheckName, []byte(db.secrets.Seal([]byte(masterKeyCheckText), aadServerSecret(masterKeyCheckName)))); err != nil {
				return err
			}
		}
		for _, r := range plain {
			var sealed any = db.secrets.Seal(r.value, r.aad)
			if r.table == "server_secrets" {
				sealed = []byte(sealed.(string))
			}
			if _, err := tx.ExecContext(ctx, `UPDATE `+r.table+` SET `+r.valCol+` = ? WHERE `+r.keyCol,
				append([]any{sealed}, r.keys...)...); err != nil {
				return fmt.Errorf("seal %s: %w", secret.AADName(r.aad), err)
			}
		}
		return nil
	})
}
