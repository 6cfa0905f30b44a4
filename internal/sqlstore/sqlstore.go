// Package sqlstore is Warden's Store on SQL databases. Each method runs one
// transaction; the SQL is written so that SQLite and PostgreSQL can both run it.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/secret"
	"github.com/warden-iot/warden/internal/sqlitedriver"
)

//go:embed migrations
var migrations embed.FS

// DB is a Store on a SQL database.
type DB struct {
	// write is the writers' pool: SQLite has one writer at a time, so writes
	// are serialised by the group committer and use BEGIN IMMEDIATE.
	write *sql.DB
	read  *sql.DB
	// group, when set, batches concurrent write transactions into one
	// commit (see groupcommit.go).
	group *groupCommitter
	// postgres: the database is PostgreSQL (one pool for reads and
	// writes; SERIALIZABLE transactions instead of the single writer).
	postgres bool
	// secrets seals and opens the secrets stored (see secrets.go).
	secrets *secret.Sealer
	// diskFull is set by a write that failed for a full disk and cleared
	// by the next that succeeds (see health.go).
	diskFull atomic.Bool
}

var _ warden.Store = (*DB)(nil)

// SQLiteOptions tune the embedded store.
type SQLiteOptions struct {
	// Synchronous is "FULL" (no write is answered before an fsync of the
	// WAL made after its commit: survives power loss; the fsyncs are shared
	// by concurrent writes, see groupcommit.go) or "NORMAL" (survives a
	// killed process, may lose the last commits on power loss). Empty
	// means FULL; warden serve passes NORMAL by default.
	Synchronous string
	// ReadConns is the size of the reader pool (default 4).
	ReadConns int
	// MasterKey seals the secrets stored; nil means the key in the data
	// dir's master.key, created on first start.
	MasterKey []byte
}

// SQLiteFile is the database file's name inside a data directory.
const SQLiteFile = "warden.db"

// OpenSQLite opens (creating if needed) the store in dataDir, brings its
// schema up to date and sets up the sealing of its secrets.
func OpenSQLite(ctx context.Context, dataDir string, opt SQLiteOptions) (*DB, error) {
	db, err := openSQLite(ctx, dataDir, opt)
	if err != nil {
		return nil, err
	}
	if err := db.initSecrets(ctx, masterKeySource{Key: opt.MasterKey, Dir: dataDir}); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func openSQLite(ctx context.Context, dataDir string, opt SQLiteOptions) (*DB, error) {
	if err := secret.PrepareDataDir(dataDir); err != nil {
		return nil, err
	}
	sync := strings.ToUpper(opt.Synchronous)
	if sync == "" {
		sync = "FULL"
	}
	if sync != "FULL" && sync != "NORMAL" {
		return nil, fmt.Errorf("synchronous must be FULL or NORMAL, not %q", opt.Synchronous)
	}
	if opt.ReadConns <= 0 {
		opt.ReadConns = 4
	}
	path := filepath.Join(dataDir, SQLiteFile)
	if err := createDatabaseFile(dataDir); err != nil {
		return nil, err
	}
	// FULL is kept by the group committer, which fsyncs the WAL itself
	// before answering (shared by every commit since the last fsync); SQLite
	// then need not fsync on each commit.
	walToSync := ""
	if sync == "FULL" {
		walToSync = path + "-wal"
	}
	dsn := func(extra string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "foreign_keys(1)")
		return "file:" + path + "?" + q.Encode() + extra
	}
	// Both pools' connections cache their statements (see internal/sqlitedriver).
	// The writer checkpoints every 16 MiB of WAL rather than SQLite's 4 MiB:
	// a checkpoint costs two fsyncs whatever it copies, holds up the writes
	// queued behind it, and copies a page rewritten by many commits once.
	writeConn, err := sqlitedriver.NewConnector(dsn("&_pragma=wal_autocheckpoint(4000)"), "BEGIN IMMEDIATE")
	if err != nil {
		return nil, err
	}
	write := sql.OpenDB(writeConn)
	// SQLite has one writer: the group committer's one transaction at a time.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := migrate(ctx, write, goose.DialectSQLite3, sqliteMigrationsDir); err != nil {
		write.Close()
		return nil, err
	}
	readConn, err := sqlitedriver.NewConnector(dsn("&_pragma=query_only(1)"), "BEGIN")
	if err != nil {
		write.Close()
		return nil, err
	}
	read := sql.OpenDB(readConn)
	read.SetMaxOpenConns(opt.ReadConns)
	read.SetMaxIdleConns(opt.ReadConns)
	read.SetConnMaxIdleTime(0)
	read.SetConnMaxLifetime(0)
	db := &DB{write: write, read: read}
	db.group = newGroupCommitter(write, walToSync)
	// SQLite made the -wal and -shm files with the database file's mode;
	// these chmods are for files an older Warden made 0644.
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := secret.RestrictFile(f); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// createDatabaseFile makes the database file, readable by its owner only,
// before SQLite opens it: SQLite creates it with 0644 less the umask, and
// its -wal and -shm files with the database file's mode. The mode is
// passed to open(2) rather than set by the umask so that it does not depend
// on how the process was started, nor change other files the process makes.
//
// An empty or missing database beside a master key file is a store that was
// lost: starting a new one would look like success and serve no data, so
// the open is refused.
func createDatabaseFile(dataDir string) error {
	path := filepath.Join(dataDir, SQLiteFile)
	if st, err := os.Stat(path); err == nil && st.Size() > 0 || walHolds(path) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dataDir, secret.KeyFile)); err == nil {
		return fmt.Errorf("%w: %s is missing or empty, but %s exists: the store was lost (deleted, truncated, or the data dir restored incompletely). "+
			"Restore %s from a backup; or, to start a new empty store, remove %s and the credentials file",
			ErrLostStore, path, secret.KeyFile, SQLiteFile, secret.KeyFile)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// walHolds reports whether the database's WAL holds data: a store never
// checkpointed keeps everything there while the database file is empty.
func walHolds(path string) bool {
	st, err := os.Stat(path + "-wal")
	return err == nil && st.Size() > 0
}

// ErrLostStore is returned (wrapped) by OpenSQLite when the database file is
// missing or empty though the data dir shows that a store existed.
var ErrLostStore = errors.New("refusing to start a new store over a lost one")

// migrate applies the embedded migrations in dir.
func migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect, dir string, opts ...goose.ProviderOption) error {
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(dialect, db, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	return nil
}

// Close waits for queued writes, then closes both pools.
func (db *DB) Close() error {
	if db.group != nil {
		db.group.stop()
	}
	if db.read == db.write {
		return db.write.Close()
	}
	return errors.Join(db.read.Close(), db.write.Close())
}

// inTx runs fn in a write transaction: either everything fn did is committed
// and durable, or (fn returned an error) none of it is. fn must not start
// another write transaction.
func (db *DB) inTx(ctx context.Context, fn func(tx writeTx) error) error {
	var err error
	if db.group != nil {
		err = storageFull(db.group.run(ctx, fn))
	} else {
		err = storageFull(runSerializable(ctx, db.write, fn))
	}
	db.noteWrite(err)
	return err
}

// querier reads: a pool, a read transaction, or a write transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// writeTx is what a write transaction's function works with: database/sql's
// Tx on PostgreSQL, the group committer's sqliteTx on SQLite.
type writeTx interface {
	querier
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func runTxOptions(ctx context.Context, pool *sql.DB, opts *sql.TxOptions, fn func(tx writeTx) error) error {
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := callTxFunc(fn, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// callTxFunc runs fn, turning a panic into an error: fn may run on the group
// committer's goroutine, where a panic would take the whole server down and
// leave the writer inside an open transaction.
func callTxFunc(fn func(tx writeTx) error, tx writeTx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in a write transaction: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(tx)
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// CreateAccessKey stores a key.
func (db *DB) CreateAccessKey(ctx context.Context, k warden.AccessKey) (err error) {
	defer wrapErr(&err, "CreateAccessKey(%q)", k.ID)
	sealed, err := db.sealSecret([]byte(k.Secret), aadAccessKey(k.ID))
	if err != nil {
		return err
	}
	return db.inTx(ctx, func(tx writeTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO access_keys (id, secret, account, created_at) VALUES (?, ?, ?, ?)`,
			k.ID, sealed, k.Account, millis(k.CreatedAt))
		return err
	})
}

// CreateFirstAccessKey stores k if the store has no key yet.
func (db *DB) CreateFirstAccessKey(ctx context.Context, k warden.AccessKey) (_ bool, err error) {
	defer wrapErr(&err, "CreateFirstAccessKey(%q)", k.ID)
	sealed, err := db.sealSecret([]byte(k.Secret), aadAccessKey(k.ID))
	if err != nil {
		return false, err
	}
	created := false
	err = db.inTx(ctx, func(tx writeTx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO access_keys (id, secret, account, created_at)
			SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM access_keys)`,
			k.ID, sealed, k.Account, millis(k.CreatedAt))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		created = n == 1
		return err
	})
	return created, err
}

// AccessKey looks a key up by id.
func (db *DB) AccessKey(ctx context.Context, id string) (_ warden.AccessKey, _ bool, err error) {
	defer wrapErr(&err, "AccessKey(%q)", id)
	k := warden.AccessKey{ID: id}
	var created int64
	err = db.read.QueryRowContext(ctx, `SELECT secret, account, created_at, inactive FROM access_keys WHERE id = ?`, id).
		Scan(&k.Secret, &k.Account, &created, &k.Inactive)
	if errors.Is(err, sql.ErrNoRows) {
		return warden.AccessKey{}, false, nil
	}
	if err != nil {
		return warden.AccessKey{}, false, err
	}
	if k.Secret, err = db.openSecretString(k.Secret, aadAccessKey(id)); err != nil {
		return warden.AccessKey{}, false, err
	}
	k.CreatedAt = fromMillis(created)
	return k, true, nil
}

// AccessKeys lists every key, oldest first.
func (db *DB) AccessKeys(ctx context.Context) (_ []warden.AccessKey, err error) {
	defer wrapErr(&err, "AccessKeys()")
	return queryAll(ctx, db.read, func(r rowScanner) (k warden.AccessKey, err error) {
		var created int64
		if err := r.Scan(&k.ID, &k.Secret, &k.Account, &created, &k.Inactive); err != nil {
			return k, err
		}
		k.CreatedAt = fromMillis(created)
		k.Secret, err = db.openSecretString(k.Secret, aadAccessKey(k.ID))
		return k, err
	}, `SELECT id, secret, account, created_at, inactive FROM access_keys ORDER BY created_at, id`)
}

// DeleteAccessKey removes a key.
func (db *DB) DeleteAccessKey(ctx context.Context, id string) (_ bool, err error) {
	defer wrapErr(&err, "DeleteAccessKey(%q)", id)
	return db.execFound(ctx, `DELETE FROM access_keys WHERE id = ?`, id)
}

// SetAccessKeyInactive deactivates or activates a key.
func (db *DB) SetAccessKeyInactive(ctx context.Context, id string, inactive bool) (_ bool, err error) {
	defer wrapErr(&err, "SetAccessKeyInactive(%q)", id)
	return db.execFound(ctx, `UPDATE access_keys SET inactive = ? WHERE id = ?`, inactive, id)
}

// execFound runs one statement in a write transaction and reports whether
// it touched a row.
func (db *DB) execFound(ctx context.Context, query string, args ...any) (bool, error) {
	found := false
	err := db.inTx(ctx, func(tx writeTx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		found = n > 0
		return err
	})
	return found, err
}

// ServerSecret returns the named secret, creating it on first use. generate
// runs only when the secret does not exist yet (it may be costly, e.g. a key
// pair); of two processes creating it at once, the first to commit wins.
func (db *DB) ServerSecret(ctx context.Context, name string, generate func() []byte) (_ []byte, err error) {
	defer wrapErr(&err, "ServerSecret(%q)", name)
	return db.serverSecret(ctx, name, func() ([]byte, error) { return generate(), nil })
}

func (db *DB) serverSecret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	aad := aadServerSecret(name)
	var value []byte
	err := db.read.QueryRowContext(ctx, `SELECT value FROM server_secrets WHERE name = ?`, name).Scan(&value)
	if err == nil {
		return db.openSecret(value, aad)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	fresh, err := generate()
	if err != nil {
		return nil, err
	}
	sealed, err := db.sealSecret(fresh, aad)
	if err != nil {
		return nil, err
	}
	err = db.inTx(ctx, func(tx writeTx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO server_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
			name, []byte(sealed)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM server_secrets WHERE name = ?`, name).Scan(&value)
	})
	if err != nil {
		return nil, err
	}
	return db.openSecret(value, aad)
}

func (db *DB) openSecretString(stored, aad string) (string, error) {
	b, err := db.openSecret([]byte(stored), aad)
	return string(b), err
}

// wrapErr adds to *errp, when it is not nil, the store method that failed
// and the arguments that say what it worked on (pkgsite's derrors.Wrap), for
// the logs of the packages that call the store. errors.As still finds the
// *warden.Error a client is shown, errors.Is the sentinels such as
// warden.ErrStorageFull.
func wrapErr(errp *error, format string, args ...any) {
	if *errp != nil {
		*errp = fmt.Errorf(format+": %w", append(args, *errp)...)
	}
}
