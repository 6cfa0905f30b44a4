package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// CopyReport is what CopySQLiteToPostgres copied.
type CopyReport struct {
	From, To string // both described without passwords
	Tables   []TableCopy
	Rows     int64 // rows copied, all tables together
	Elapsed  time.Duration
}

// TableCopy is one table's row counts, read back from both databases.
type TableCopy struct {
	Name             string
	SQLite, Postgres int64
	Elapsed          time.Duration
}

// ErrDestinationNotEmpty is returned (wrapped) by CopySQLiteToPostgres when
// the PostgreSQL database already holds Warden data.
var ErrDestinationNotEmpty = errors.New("the destination database already holds Warden data")

// CopySQLiteToPostgres copies the embedded store in fromDataDir into the
// PostgreSQL database at toURL, whose store tables must be empty: every row
// of every table, in one PostgreSQL transaction, so that a failure leaves
// nothing behind. It brings both schemas up to date first and checks
// afterwards that every table holds as many rows on both sides. The source
// is read from one snapshot; opening it seals secrets an older Warden
// stored in the clear. Secrets are copied sealed: the destination opens with
// the source's master key, masterKey or (nil) the one in fromDataDir.
// Progress lines go to progress (may be nil).
func CopySQLiteToPostgres(ctx context.Context, fromDataDir, toURL string, masterKey []byte, progress io.Writer) (CopyReport, error) {
	start := time.Now()
	if progress == nil {
		progress = io.Discard
	}
	from, to := Options{DataDir: fromDataDir}, Options{Database: toURL}
	rep := CopyReport{From: from.Describe(), To: to.Describe()}
	if toURL == "" {
		return rep, errors.New("no destination database URL")
	}
	cfg, err := pgx.ParseConfig(toURL)
	if err != nil {
		return rep, fmt.Errorf("database URL: %w", err)
	}
	// Opening a directory without a store would create an empty one.
	if st, err := os.Stat(filepath.Join(fromDataDir, SQLiteFile)); err != nil || !st.Mode().IsRegular() {
		return rep, fmt.Errorf("no Warden store in %s (want the data dir holding %s)", fromDataDir, SQLiteFile)
	}
	src, err := OpenSQLite(ctx, fromDataDir, SQLiteOptions{Synchronous: "FULL", ReadConns: 1, MasterKey: masterKey})
	if err != nil {
		return rep, fmt.Errorf("open %s: %w", rep.From, err)
	}
	defer src.Close()
	// One read transaction: every table is read from the same snapshot.
	stx, err := src.read.BeginTx(ctx, nil)
	if err != nil {
		return rep, err
	}
	defer stx.Rollback() // read only: nothing to undo
	tables, err := sqliteCopyTables(ctx, stx)
	if err != nil {
		return rep, err
	}

	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return rep, fmt.Errorf("connect to %s: %w", rep.To, err)
	}
	defer conn.Close(context.Background())
	// Refuse before migrating, so that a refused run writes nothing at all.
	if err := checkEmpty(ctx, conn, tables, false); err != nil {
		return rep, err
	}
	// Schema only: the sealed secrets and the key check are copied as they
	// are, so the destination opens with the source's master key.
	dst, err := openPostgres(ctx, toURL, PostgresOptions{MaxConns: 1})
	if err != nil {
		return rep, fmt.Errorf("open %s: %w", rep.To, err)
	}
	dst.Close()

	tx, err := conn.Begin(ctx)
	if err != nil {
		return rep, err
	}
	defer tx.Rollback(context.Background()) // a no-op after Commit
	// Nobody writes into the tables until the copy commits; checked again
	// under the lock in case a server started on the database meanwhile.
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = pgx.Identifier{t.name}.Sanitize()
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+strings.Join(names, ", ")+" IN EXCLUSIVE MODE"); err != nil {
		return rep, fmt.Errorf("lock the destination tables: %w", err)
	}
	if err := checkEmpty(ctx, tx, tables, true); err != nil {
		return rep, err
	}
	fmt.Fprintf(progress, "Copying %d tables from %s to %s\n", len(tables), rep.From, rep.To)
	fmt.Fprintf(progress, "  %-24s %10s %10s %8s\n", "TABLE", "SQLITE", "POSTGRES", "TIME")
	for _, t := range tables {
		tc, err := copyTable(ctx, stx, tx, t)
		if err != nil {
			return rep, err
		}
		rep.Tables = append(rep.Tables, tc)
		rep.Rows += tc.Postgres
		fmt.Fprintf(progress, "  %-24s %10d %10d %7.2fs\n", tc.Name, tc.SQLite, tc.Postgres, tc.Elapsed.Seconds())
	}
	// Planner statistics now rather than whenever autovacuum gets to it: the
	// first requests after the move should not meet sequential scans.
	if _, err := tx.Exec(ctx, "ANALYZE "+strings.Join(names, ", ")); err != nil {
		return rep, fmt.Errorf("analyze: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return rep, fmt.Errorf("commit: %w", err)
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// tableSpec is one table of the store.
type tableSpec struct {
	name    string
	columns []string
	kinds   []columnKind
	// numbered: the table has a seq, an identity on PostgreSQL; next is
	// SQLite's sqlite_sequence for it (the largest seq ever handed out,
	// for the AUTOINCREMENT ones).
	numbered bool
	next     int64
}

// columnKind is the Go type a column's values are written to PostgreSQL as.
type columnKind int

const (
	kindInteger columnKind = iota // BIGINT
	kindText                      // TEXT
	kindBlob                      // BYTEA
)

// sqliteCopyTables lists the store's tables and their columns, in name order.
func sqliteCopyTables(ctx context.Context, stx *sql.Tx) ([]tableSpec, error) {
	tables, err := queryAll(ctx, stx, func(r rowScanner) (t tableSpec, err error) {
		err = r.Scan(&t.name)
		return t, err
	}, `SELECT name FROM sqlite_master
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> 'goose_db_version' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list the SQLite tables: %w", err)
	}
	if len(tables) == 0 {
		return nil, errors.New("the SQLite store has no tables")
	}
	var hasSequences bool
	if err := stx.QueryRowContext(ctx, `SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'`).
		Scan(&hasSequences); err != nil {
		return nil, err
	}
	for i := range tables {
		t := &tables[i]
		if err := queryEach(ctx, stx, func(r rowScanner) error {
			var name, typ string
			if err := r.Scan(&name, &typ); err != nil {
				return err
			}
			kind, err := sqliteColumnKind(typ)
			if err != nil {
				return fmt.Errorf("column %s.%s: %w", t.name, name, err)
			}
			t.columns = append(t.columns, name)
			t.kinds = append(t.kinds, kind)
			t.numbered = t.numbered || name == "seq"
			return nil
		}, `SELECT name, type FROM pragma_table_info(?) ORDER BY cid`, t.name); err != nil {
			return nil, fmt.Errorf("columns of %s: %w", t.name, err)
		}
		if t.numbered && hasSequences {
			err := stx.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = ?`, t.name).Scan(&t.next)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("sequence of %s: %w", t.name, err)
			}
		}
	}
	return tables, nil
}

// sqliteColumnKind maps a declared SQLite type to what the PostgreSQL
// schema (see postgresTypes) made of it.
func sqliteColumnKind(declared string) (columnKind, error) {
	d := strings.ToUpper(declared)
	switch {
	case strings.Contains(d, "INT") || d == "BOOLEAN":
		return kindInteger, nil
	case strings.Contains(d, "TEXT"):
		return kindText, nil
	case d == "BLOB":
		return kindBlob, nil
	}
	return 0, fmt.Errorf("type %q has no PostgreSQL counterpart in the store's schema", declared)
}

// pgQuerier is a pgx connection or transaction.
type pgQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// checkEmpty returns ErrDestinationNotEmpty if any of tables holds a row on
// PostgreSQL. Before the schema is migrated a table may not exist yet
// (must is false); after, every one must.
func checkEmpty(ctx context.Context, q pgQuerier, tables []tableSpec, must bool) error {
	for _, t := range tables {
		ident := pgx.Identifier{t.name}.Sanitize()
		var exists bool
		if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, ident).Scan(&exists); err != nil {
			return fmt.Errorf("look for table %s in the destination: %w", t.name, err)
		}
		if !exists {
			if must {
				return fmt.Errorf("the destination has no table %s after migrating its schema", t.name)
			}
			continue
		}
		var found bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+ident+`)`).Scan(&found); err != nil {
			return fmt.Errorf("read table %s in the destination: %w", t.name, err)
		}
		if found {
			return fmt.Errorf("%w (table %s has rows): migrate copies into an empty database or schema only, never twice nor over live data",
				ErrDestinationNotEmpty, t.name)
		}
	}
	return nil
}

// copyTable streams table t from the SQLite snapshot into PostgreSQL,
// advances its identity sequence and checks the counts.
func copyTable(ctx context.Context, stx *sql.Tx, tx pgx.Tx, t tableSpec) (TableCopy, error) {
	start := time.Now()
	tc := TableCopy{Name: t.name}
	ident := pgx.Identifier{t.name}.Sanitize()
	if err := stx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+ident).Scan(&tc.SQLite); err != nil {
		return tc, fmt.Errorf("count %s in SQLite: %w", t.name, err)
	}
	quoted := make([]string, len(t.columns))
	for i, c := range t.columns {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	rows, err := stx.QueryContext(ctx, `SELECT `+strings.Join(quoted, ", ")+` FROM `+ident)
	if err != nil {
		return tc, fmt.Errorf("read %s from SQLite: %w", t.name, err)
	}
	defer rows.Close()
	raw := make([]any, len(t.columns))
	ptrs := make([]any, len(t.columns))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	row := make([]any, len(t.columns)) // pgx encodes a row before asking for the next
	var read int64
	next := func() ([]any, error) {
		if !rows.Next() {
			return nil, rows.Err()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		read++
		for i, v := range raw {
			var err error
			if row[i], err = convertValue(v, t.kinds[i]); err != nil {
				return nil, fmt.Errorf("row %d, column %s: %w", read, t.columns[i], err)
			}
		}
		return row, nil
	}
	copied, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.columns, pgx.CopyFromFunc(next))
	if err != nil {
		return tc, fmt.Errorf("copy %s: %w", t.name, err)
	}
	if err := rows.Close(); err != nil {
		return tc, err
	}
	if t.numbered {
		// New rows must get seq values past every one SQLite handed out,
		// including those of rows deleted since (AUTOINCREMENT never reuses).
		var seqName *string
		if err := tx.QueryRow(ctx, `SELECT pg_get_serial_sequence($1, 'seq')`, ident).Scan(&seqName); err != nil {
			return tc, fmt.Errorf("identity of %s: %w", t.name, err)
		}
		if seqName == nil {
			return tc, fmt.Errorf("table %s has no identity column seq on PostgreSQL", t.name)
		}
		if _, err := tx.Exec(ctx, `SELECT setval($1::regclass, GREATEST(COALESCE(MAX(seq), 0), $2::bigint) + 1, false) FROM `+ident,
			*seqName, t.next); err != nil {
			return tc, fmt.Errorf("advance the identity of %s: %w", t.name, err)
		}
	}
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM `+ident).Scan(&tc.Postgres); err != nil {
		return tc, fmt.Errorf("count %s in PostgreSQL: %w", t.name, err)
	}
	if tc.Postgres != tc.SQLite || copied != tc.SQLite || read != tc.SQLite {
		return tc, fmt.Errorf("table %s: %d rows in SQLite, %d read, %d copied, %d in PostgreSQL", t.name, tc.SQLite, read, copied, tc.Postgres)
	}
	tc.Elapsed = time.Since(start)
	return tc, nil
}

// convertValue turns a value SQLite returned into the Go type of the
// column's PostgreSQL type. SQLite's type affinity makes mismatches rare,
// but a column may still hold another storage class; those are converted
// when lossless and refused otherwise. NULL stays NULL.
func convertValue(v any, kind columnKind) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch kind {
	case kindInteger:
		switch x := v.(type) {
		case int64:
			return x, nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		case float64:
			if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
				return int64(x), nil
			}
		case string:
			if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
				return n, nil
			}
		}
	case kindText:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		}
	case kindBlob:
		switch x := v.(type) {
		case []byte:
			// The driver returns an empty BLOB as a nil slice (NULL comes as
			// an untyped nil), which pgx would write as NULL.
			if x == nil {
				return []byte{}, nil
			}
			return x, nil
		case string:
			return []byte(x), nil
		}
	}
	return nil, fmt.Errorf("cannot store %T value %v in a %s column", v, v, [...]string{"BIGINT", "TEXT", "BYTEA"}[kind])
}
