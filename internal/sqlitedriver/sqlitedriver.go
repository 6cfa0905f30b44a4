// Package sqlitedriver wraps modernc's SQLite driver for the store: each
// connection keeps the statements it compiled, and statements run with
// contexts that do not end (see below why).
package sqlitedriver

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"modernc.org/sqlite"
)

// modernc's SQLite driver compiles a statement on every ExecContext and
// QueryContext call that does not go through a prepared *sql.Stmt, and
// compiling costs about as much as running a simple statement. Most of the
// store's statements are constant strings run with tx.ExecContext or
// tx.QueryContext, so every SQLite connection is wrapped to keep the
// statements it compiled, by query text, in a small LRU cache, and to run
// those calls on them. modernc resets a statement (and unbinds its text and
// blob arguments) after each Exec and when the Rows of a Query are closed, so
// a cached statement is ready for its next use.

// modernc watches the context of every statement that has one that can end
// with a goroutine of its own, started and stopped around the statement, so
// as to interrupt SQLite when it ends. That goroutine costs more than most of
// the store's statements, which are index look-ups of a few microseconds, so
// the wrapper hands modernc contexts that never end: a statement runs to its
// end even when its caller has gone away (none takes long; the longest are an
// audit's scans, about a second for 100,000 certificates). A statement whose
// context has already ended is not started.

// Uncancelled returns ctx without its cancellation, if it has one.
func Uncancelled(ctx context.Context) context.Context {
	if ctx.Done() == nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// startContext is the context to start a statement with: ctx without its
// cancellation, or ctx's error if it has already ended (the caller has gone,
// so the statement is not started).
func startContext(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return Uncancelled(ctx), nil
}

// uncancelledStmt is a prepared statement that runs with uncancelled contexts.
type uncancelledStmt struct{ sqliteStmt }

func (s uncancelledStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.sqliteStmt.ExecContext(Uncancelled(ctx), args)
}

func (s uncancelledStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.sqliteStmt.QueryContext(Uncancelled(ctx), args)
}

// sqliteStmtCacheSize is the number of statements each connection keeps.
const sqliteStmtCacheSize = 256

// sqliteStmtCacheMaxQuery is the longest query text kept: longer ones are
// typically multi-row INSERTs whose length varies with the batch, which
// would only churn the cache.
const sqliteStmtCacheMaxQuery = 16 << 10

// NewConnector returns modernc's connector for dsn, wrapped so that
// its connections cache their statements. begin is the statement that
// starts a read-write transaction ("BEGIN" or "BEGIN IMMEDIATE"): the
// wrapper runs BEGIN, COMMIT and ROLLBACK from its cache too, where modernc
// would compile them for every transaction.
func NewConnector(dsn, begin string) (driver.Connector, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("SQLite connector: %w", err)
	}
	return sqliteCacheConnector{Connector: c, begin: begin}, nil
}

type sqliteCacheConnector struct {
	driver.Connector
	begin string
}

func (c sqliteCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(sqliteDriverConn)
	if !ok {
		return conn, nil
	}
	if _, ok := conn.(driver.NamedValueChecker); ok {
		// The wrapper would hide it: leave such a connection alone.
		return conn, nil
	}
	return &sqliteCacheConn{conn: sc, begin: c.begin, lru: list.New(), byQuery: map[string]*list.Element{}}, nil
}

// sqliteDriverConn is what modernc's connection implements.
type sqliteDriverConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// sqliteStmt is what modernc's statements implement.
type sqliteStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

type cachedStmt struct {
	query string
	stmt  sqliteStmt
	// rows is the open Rows of the statement, if any: while they are
	// open the statement cannot run again.
	rows *cachedRows
	// evicted: the statement left the cache while in use, and is closed
	// once its rows are.
	evicted bool
}

// sqliteCacheConn is not safe for concurrent use, and need not be:
// database/sql uses a connection from one goroutine at a time.
type sqliteCacheConn struct {
	conn    sqliteDriverConn
	begin   string
	lru     *list.List // of *cachedStmt, most recently used first
	byQuery map[string]*list.Element
	closed  bool
}

// Unwrap returns modernc's connection (see sqlite.Limit).
func (c *sqliteCacheConn) Unwrap() driver.Conn { return c.conn }

func (c *sqliteCacheConn) Prepare(query string) (driver.Stmt, error) {
	return c.conn.PrepareContext(context.Background(), query)
}

func (c *sqliteCacheConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	ds, err := c.conn.PrepareContext(Uncancelled(ctx), query)
	if err != nil {
		return nil, err
	}
	if s, ok := ds.(sqliteStmt); ok {
		return uncancelledStmt{s}, nil
	}
	return ds, nil
}

func (c *sqliteCacheConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *sqliteCacheConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	begin := c.begin
	if opts.ReadOnly {
		begin = "BEGIN"
	}
	if _, err := c.ExecContext(ctx, begin, nil); err != nil {
		return nil, err
	}
	return cachedTx{c}, nil
}

// cachedTx ends a transaction with cached statements.
type cachedTx struct{ c *sqliteCacheConn }

// Commit commits; if that fails the transaction may still be open (a COMMIT
// refused for SQLITE_BUSY leaves it so), and database/sql expects the
// connection to be out of it, so it is rolled back.
func (t cachedTx) Commit() error {
	_, err := t.c.ExecContext(context.Background(), "COMMIT", nil)
	if err != nil {
		_, _ = t.c.ExecContext(context.Background(), "ROLLBACK", nil)
	}
	return err
}

func (t cachedTx) Rollback() error {
	_, err := t.c.ExecContext(context.Background(), "ROLLBACK", nil)
	return err
}

func (c *sqliteCacheConn) Ping(ctx context.Context) error { return c.conn.Ping(ctx) }

func (c *sqliteCacheConn) ResetSession(ctx context.Context) error { return c.conn.ResetSession(ctx) }

func (c *sqliteCacheConn) IsValid() bool { return c.conn.IsValid() }

func (c *sqliteCacheConn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	for e := c.lru.Front(); e != nil; e = e.Next() {
		errs = append(errs, c.closeEntry(e.Value.(*cachedStmt)))
	}
	c.lru.Init()
	clear(c.byQuery)
	errs = append(errs, c.conn.Close())
	return errors.Join(errs...)
}

// closeEntry closes cs, and its rows first if they are still open (the
// statement must not be finalized under them).
func (c *sqliteCacheConn) closeEntry(cs *cachedStmt) error {
	var err error
	if r := cs.rows; r != nil {
		cs.rows = nil
		r.closed = true
		err = r.Rows.Close()
	}
	return errors.Join(err, cs.stmt.Close())
}

// cacheable reports whether query may be kept: one statement (modernc runs
// every statement of a string only when it is not kept prepared), of
// reasonable length. A ';' anywhere but at the end, even in a literal or a
// comment, keeps a query out, which is merely a missed cache entry.
func cacheable(query string) bool {
	if len(query) > sqliteStmtCacheMaxQuery {
		return false
	}
	return !strings.Contains(strings.TrimRight(query, " \t\r\n;"), ";")
}

// stmt returns the cached statement of query, preparing and caching it if
// needed; nil (and no error) when query is not to be cached or its statement
// is in use, for the caller to run it uncached.
func (c *sqliteCacheConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if c.closed || !cacheable(query) {
		return nil, nil
	}
	if e, ok := c.byQuery[query]; ok {
		cs := e.Value.(*cachedStmt)
		if cs.rows != nil {
			return nil, nil
		}
		c.lru.MoveToFront(e)
		return cs, nil
	}
	ds, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s, ok := ds.(sqliteStmt)
	if !ok {
		_ = ds.Close()
		return nil, nil
	}
	cs := &cachedStmt{query: query, stmt: s}
	c.byQuery[query] = c.lru.PushFront(cs)
	for c.lru.Len() > sqliteStmtCacheSize {
		c.evict(c.lru.Back())
	}
	return cs, nil
}

func (c *sqliteCacheConn) evict(e *list.Element) {
	cs := e.Value.(*cachedStmt)
	c.lru.Remove(e)
	delete(c.byQuery, cs.query)
	if cs.rows != nil {
		cs.evicted = true
		return
	}
	_ = cs.stmt.Close()
}

// startStmt starts ctx (see startContext) and returns query's cached
// statement, nil when the query is not cached.
func (c *sqliteCacheConn) startStmt(ctx context.Context, query string) (context.Context, *cachedStmt, error) {
	ctx, err := startContext(ctx)
	if err != nil {
		return nil, nil, err
	}
	cs, err := c.stmt(ctx, query)
	return ctx, cs, err
}

func (c *sqliteCacheConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ctx, cs, err := c.startStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.conn.ExecContext(ctx, query, args)
	}
	return cs.stmt.ExecContext(ctx, args)
}

func (c *sqliteCacheConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	ctx, cs, err := c.startStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.conn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	r := &cachedRows{Rows: rows, cs: cs}
	cs.rows = r
	return r, nil
}

// cachedRows are the rows of a cached statement: closing them (which resets
// the statement) makes the statement available again.
type cachedRows struct {
	driver.Rows
	cs     *cachedStmt
	closed bool
}

func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close()
	cs := r.cs
	cs.rows = nil
	if cs.evicted {
		err = errors.Join(err, cs.stmt.Close())
	}
	return err
}

// The column type methods of modernc's rows, which the embedded driver.Rows
// would hide.

func (r *cachedRows) ColumnTypeDatabaseTypeName(index int) string {
	if x, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return x.ColumnTypeDatabaseTypeName(index)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(index int) (int64, bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return x.ColumnTypeLength(index)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(index int) (bool, bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return x.ColumnTypeNullable(index)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(index int) (int64, int64, bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return x.ColumnTypePrecisionScale(index)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(index int) reflect.Type {
	if x, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return x.ColumnTypeScanType(index)
	}
	return reflect.TypeFor[any]()
}
