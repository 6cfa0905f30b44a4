package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/warden-iot/warden"
)

// The readiness checks. Their errors are coarse on purpose: a probe's
// answer is unauthenticated, so it says what failed, never a path or a
// driver's message.
var (
	ErrStoreUnreachable = errors.New("store unreachable")
	ErrSchemaBehind     = errors.New("schema version differs from this binary's")
	ErrStoreNotWritable = errors.New("store refuses writes")
)

// Ping reads one row: the store answers reads.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreUnreachable, err)
	}
	return nil
}

// SchemaCurrent checks that the store's schema version is the one this
// binary migrates to (another node may have migrated it further, or a
// restore may have rolled it back).
func (db *DB) SchemaCurrent(ctx context.Context) error {
	want, err := latestMigration()
	if err != nil {
		return err
	}
	var have int64
	if err := db.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version`).Scan(&have); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreUnreachable, err)
	}
	if have != want {
		return fmt.Errorf("%w: store %d, binary %d", ErrSchemaBehind, have, want)
	}
	return nil
}

// Writable reports whether writes are being accepted, from what the writes
// themselves met rather than a probe write of its own: the last write
// failed for a full disk, an fsync of the WAL failed (the store then refuses
// every write until restarted), or the store was closed.
func (db *DB) Writable() error {
	if db.diskFull.Load() {
		return fmt.Errorf("%w: %w", ErrStoreNotWritable, warden.ErrStorageFull)
	}
	if g := db.group; g != nil {
		g.mu.Lock()
		closed := g.closed
		g.mu.Unlock()
		if closed {
			return fmt.Errorf("%w: %w", ErrStoreNotWritable, errStoreClosed)
		}
		if g.wal != nil {
			if err := g.wal.failed(); err != nil {
				return fmt.Errorf("%w: %w", ErrStoreNotWritable, err)
			}
		}
	}
	return nil
}

// noteWrite records whether a write failed for a full disk.
func (db *DB) noteWrite(err error) {
	switch {
	case err == nil:
		db.diskFull.Store(false)
	case errors.Is(err, warden.ErrStorageFull):
		db.diskFull.Store(true)
	}
}
