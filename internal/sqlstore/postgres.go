package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/warden-iot/warden/internal/secret"
)

// Options choose the store: PostgreSQL when Database is set, else SQLite
// in DataDir.
type Options struct {
	Database    string // postgres:// URL
	DataDir     string
	Synchronous string // SQLite's synchronous pragma
	// MasterKey seals the secrets stored, as base64 or hex (see
	// secret.ParseKey); "" means the key file in DataDir, created on first
	// start. cmd/warden requires it on PostgreSQL, where every node must
	// share one key.
	MasterKey string
}

// Describe names the store for logs and errors, without the password a
// database URL may hold.
func (o Options) Describe() string {
	if o.Database == "" {
		return "sqlite:" + filepath.Join(o.DataDir, SQLiteFile)
	}
	if cfg, err := pgx.ParseConfig(o.Database); err == nil {
		return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	}
	return "postgres (unparsable URL)"
}

// Open opens the store opt chooses.
func Open(ctx context.Context, opt Options) (*DB, error) {
	var key []byte
	if opt.MasterKey != "" {
		var err error
		if key, err = secret.ParseKey(opt.MasterKey); err != nil {
			return nil, fmt.Errorf("WARDEN_MASTER_KEY: %w", err)
		}
	}
	if opt.Database != "" {
		return OpenPostgres(ctx, opt.Database, PostgresOptions{MasterKey: key, KeyDir: opt.DataDir})
	}
	return OpenSQLite(ctx, opt.DataDir, SQLiteOptions{Synchronous: opt.Synchronous, MasterKey: key})
}

// OpenSQL opens a plain handle on the database opt chooses, taking the
// store's SQL ("?" placeholders) on both, for tools and tests that read or
// write rows directly. It does not create or migrate anything.
func OpenSQL(opt Options) (*sql.DB, error) {
	if opt.Database == "" {
		return sql.Open("sqlite", "file:"+filepath.Join(opt.DataDir, SQLiteFile)+"?_pragma=busy_timeout(10000)")
	}
	cfg, err := pgx.ParseConfig(opt.Database)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	return sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)}), nil
}

// PostgresOptions tune the PostgreSQL store.
type PostgresOptions struct {
	// MaxConns is the size of the connection pool (default 16).
	MaxConns int
	// MasterKey seals the secrets stored. Without it the key file in
	// KeyDir is used (created if the database has no sealed secrets yet),
	// which suits one process, e.g. a test; nodes sharing the database
	// must be given the same key.
	MasterKey []byte
	KeyDir    string
}

// OpenPostgres connects to the database at url (a postgres:// URL or a
// key=value connection string), brings its schema up to date and sets up
// the sealing of its secrets. Several processes may open the same database
// at once: migrations run under a session-level advisory lock, so exactly
// one of them applies each.
func OpenPostgres(ctx context.Context, url string, opt PostgresOptions) (*DB, error) {
	if opt.MasterKey == nil && opt.KeyDir == "" {
		return nil, errors.New("no master key to seal the secrets stored in PostgreSQL (set WARDEN_MASTER_KEY; every node shares it)")
	}
	db, err := openPostgres(ctx, url, opt)
	if err != nil {
		return nil, err
	}
	if err := db.initSecrets(ctx, masterKeySource{Key: opt.MasterKey, Dir: opt.KeyDir}); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func openPostgres(ctx context.Context, url string, opt PostgresOptions) (*DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	if opt.MaxConns <= 0 {
		opt.MaxConns = 16
	}
	pool := sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)})
	pool.SetMaxOpenConns(opt.MaxConns)
	pool.SetMaxIdleConns(opt.MaxConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	// goose keeps booleans in its own table: it migrates on a plain pgx
	// connection, without the store's placeholder and boolean rewriting.
	plain := stdlib.OpenDB(*cfg)
	err = migratePostgres(ctx, plain)
	plain.Close()
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{postgres: true, write: pool, read: pool}, nil
}

// The migrations of each dialect, in the embedded migrations directory.
// migrations/postgres is the SQLite migrations translated by
// postgresMigrations (postgres_schema_test.go) and checked in, so that both
// dialects' schema can be read and reviewed as files. One schema written
// once and translated, rather than two written by hand, keeps the dialects
// from drifting apart; TestPostgresMigrationsAreCurrent fails when the
// checked-in files are not the translation of the SQLite ones (go test -run
// TestPostgresMigrationsAreCurrent -update rewrites them). The files are
// byte for byte what the translation at start-up applied before they were
// checked in, under goose's same version table.
const (
	sqliteMigrationsDir   = "migrations/sqlite"
	postgresMigrationsDir = "migrations/postgres"
)

func migratePostgres(ctx context.Context, pool *sql.DB) error {
	// A node that finds another migrating polls for the lock every second
	// (goose's default is 5 s) for up to 5 minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	return migrate(ctx, pool, goose.DialectPostgres, postgresMigrationsDir, goose.WithSessionLocker(locker))
}

// maxSerializationRetries bounds how often a write transaction is run
// again after PostgreSQL reported a conflict with a concurrent one.
const maxSerializationRetries = 30

// runSerializable runs fn in a SERIALIZABLE transaction, again (after a
// short random pause) while PostgreSQL answers with a serialization failure
// or a deadlock: every write then behaves as if the writes had run one at a
// time, as they do on SQLite, so checks such as "at most 100 actions" hold
// across nodes. fn must do nothing but database work: it may run again.
func runSerializable(ctx context.Context, pool *sql.DB, fn func(tx writeTx) error) error {
	for attempt := 1; ; attempt++ {
		err := runTxOptions(ctx, pool, &sql.TxOptions{Isolation: sql.LevelSerializable}, fn)
		if err == nil || attempt >= maxSerializationRetries {
			return err
		}
		// A unique violation is how PostgreSQL may report a row that a
		// concurrent transaction inserted after this one looked for it
		// and found nothing: run again once or twice, and the look-up
		// finds it. A real duplicate stays an error after that.
		if !retryableConflict(err) && !(isUniqueViolation(err) && attempt < 3) {
			return err
		}
		pause := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return err
		}
	}
}

// retryableConflict reports whether err is PostgreSQL's serialization
// failure or deadlock.
func retryableConflict(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	return false
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// skipLocked is appended to the SELECT that picks rows to claim: on
// PostgreSQL, claimers on several nodes then take disjoint rows instead of
// queueing behind each other's locks. SQLite has one writer and no such
// clause.
func (db *DB) skipLocked() string {
	if db.postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// inClaimTx runs a claim: on PostgreSQL at READ COMMITTED, where SKIP LOCKED
// lets concurrent claimers proceed (every claim re-checks its conditions on
// the row it updates, so this is safe); on SQLite as any write.
func (db *DB) inClaimTx(ctx context.Context, fn func(tx writeTx) error) error {
	if db.postgres {
		for attempt := 1; ; attempt++ {
			err := runTxOptions(ctx, db.write, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, fn)
			if err == nil || !retryableConflict(err) || attempt >= maxSerializationRetries {
				return storageFull(err)
			}
		}
	}
	return db.inTx(ctx, fn)
}
