package sqlstore

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/warden-iot/warden"
)

// sqliteFull is SQLite's primary result code for "database or disk is full".
const sqliteFull = 13

// storageFull wraps err with warden.ErrStorageFull when it says the disk is
// full: SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100), or ENOSPC from
// a write or fsync of our own (the group committer's). Callers then report
// it as what it is instead of an unexplained internal failure.
func storageFull(err error) error {
	if err == nil || errors.Is(err, warden.ErrStorageFull) {
		return err
	}
	var liteErr *sqlite.Error
	var pgErr *pgconn.PgError
	if errors.As(err, &liteErr) && liteErr.Code()&0xff == sqliteFull ||
		errors.As(err, &pgErr) && pgErr.Code == "53100" ||
		errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w (%v)", warden.ErrStorageFull, err)
	}
	return err
}
