package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/warden-iot/warden/internal/secret"
)

// CheckReport is what Check found: Problems is empty for a sound store.
type CheckReport struct {
	Store    string   // described without a password
	Schema   int64    // the schema version the database is at
	Want     int64    // the version this Warden brings it to
	Problems []string // one line each, as the database reported them
}

// ErrDamaged is returned (wrapped) by Check when the store is damaged.
var ErrDamaged = errors.New("the store is damaged")

// Check inspects the store opt names without changing it: on SQLite the
// whole file with PRAGMA integrity_check (which reads and checks every
// page: too slow to run at every start of a big store); on PostgreSQL,
// whose pages are its own to check, that the database answers and what
// schema version it holds. On both it checks that the master key opens the
// database's sealed secrets. A store with problems
// returns ErrDamaged with every problem in the report.
func Check(ctx context.Context, opt Options) (CheckReport, error) {
	rep := CheckReport{Store: opt.Describe()}
	var err error
	if rep.Want, err = latestMigration(); err != nil {
		return rep, err
	}
	var db *sql.DB
	if opt.Database == "" {
		path := filepath.Join(opt.DataDir, SQLiteFile)
		st, err := os.Stat(path)
		if err != nil || st.Size() == 0 && !walHolds(path) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s is missing or empty", path))
			return rep, fmt.Errorf("%w: %s", ErrDamaged, rep.Problems[0])
		}
		// Read only: a check must not write to a damaged file.
		q := url.Values{}
		q.Add("mode", "ro")
		q.Add("_pragma", "busy_timeout(10000)")
		if db, err = sql.Open("sqlite", "file:"+path+"?"+q.Encode()); err != nil {
			return rep, err
		}
	} else {
		cfg, err := pgx.ParseConfig(opt.Database)
		if err != nil {
			return rep, fmt.Errorf("database URL: %w", err)
		}
		db = stdlib.OpenDB(*cfg)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		return rep, fmt.Errorf("connect to %s: %w", rep.Store, err)
	}
	if opt.Database == "" {
		rows, err := db.QueryContext(ctx, `PRAGMA integrity_check(1000)`)
		if err != nil {
			// SQLite refuses even to start when the file's header is damaged.
			rep.Problems = append(rep.Problems, "integrity_check: "+err.Error())
		} else {
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					rep.Problems = append(rep.Problems, "integrity_check: "+err.Error())
					break
				}
				if line != "ok" {
					rep.Problems = append(rep.Problems, line)
				}
			}
			if err := rows.Err(); err != nil {
				rep.Problems = append(rep.Problems, "integrity_check: "+err.Error())
			}
			rows.Close()
		}
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version`).Scan(&rep.Schema); err != nil {
		rep.Problems = append(rep.Problems, "schema version: "+err.Error())
	} else if rep.Schema > rep.Want {
		rep.Problems = append(rep.Problems, fmt.Sprintf("schema version %d is newer than this Warden's %d: run the Warden that wrote it", rep.Schema, rep.Want))
	}
	if p := checkSealing(ctx, db, opt); p != "" {
		rep.Problems = append(rep.Problems, p)
	}
	if len(rep.Problems) > 0 {
		return rep, fmt.Errorf("%w: %d problems", ErrDamaged, len(rep.Problems))
	}
	return rep, nil
}

// checkSealing says what is wrong with the master key, if anything.
func checkSealing(ctx context.Context, db *sql.DB, opt Options) string {
	var check []byte
	err := db.QueryRowContext(ctx, `SELECT value FROM server_secrets WHERE name = '`+masterKeyCheckName+`'`).Scan(&check)
	if errors.Is(err, sql.ErrNoRows) {
		return "" // an older store, sealed when a server next opens it
	}
	if err != nil {
		return "master key check: " + err.Error()
	}
	var key []byte
	src := masterKeySource{Dir: opt.DataDir}
	if opt.MasterKey != "" {
		if key, err = secret.ParseKey(opt.MasterKey); err != nil {
			return "WARDEN_MASTER_KEY: " + err.Error()
		}
		src.Key = key
	} else if key, err = secret.LoadKeyFile(opt.DataDir, false); err != nil {
		return err.Error()
	}
	s, err := secret.NewSealer(key)
	if err != nil {
		return err.Error()
	}
	if err := (&DB{secrets: s}).checkMasterKey(check, src); err != nil {
		return err.Error()
	}
	return ""
}

// latestMigration is the schema version this Warden migrates to.
func latestMigration() (int64, error) {
	files, err := fs.Glob(migrations, sqliteMigrationsDir+"/*.sql")
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, f := range files {
		prefix, _, _ := strings.Cut(filepath.Base(f), "_")
		if n, err := strconv.ParseInt(prefix, 10, 64); err == nil && n > latest {
			latest = n
		}
	}
	return latest, nil
}
