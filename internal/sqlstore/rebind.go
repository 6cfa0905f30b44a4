package sqlstore

import (
	"context"
	"database/sql/driver"
	"strconv"
	"strings"
	"sync"
)

// The store's SQL uses SQLite's "?" placeholders. On PostgreSQL every
// connection is wrapped so that a query's placeholders become $1, $2, … on
// its way to pgx, and Go booleans become the 0/1 integers both schemas
// store them as. Everything else about a query is left to the database.

// rebindConnector wraps pgx's connector.
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &rebindConn{conn: conn}, nil
}

// pgxConn is what pgx's database/sql connection implements.
type pgxConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.NamedValueChecker
}

type rebindConn struct{ conn driver.Conn }

func (c *rebindConn) pgx() pgxConn { return c.conn.(pgxConn) }

func (c *rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.pgx().PrepareContext(context.Background(), rebind(query))
}

func (c *rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.pgx().PrepareContext(ctx, rebind(query))
}

func (c *rebindConn) Close() error { return c.conn.Close() }

func (c *rebindConn) Begin() (driver.Tx, error) {
	return c.pgx().BeginTx(context.Background(), driver.TxOptions{})
}

func (c *rebindConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.pgx().BeginTx(ctx, opts)
}

func (c *rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.pgx().ExecContext(ctx, rebind(query), args)
}

func (c *rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.pgx().QueryContext(ctx, rebind(query), args)
}

func (c *rebindConn) Ping(ctx context.Context) error { return c.pgx().Ping(ctx) }

func (c *rebindConn) ResetSession(ctx context.Context) error { return c.pgx().ResetSession(ctx) }

func (c *rebindConn) CheckNamedValue(v *driver.NamedValue) error {
	if b, ok := v.Value.(bool); ok {
		v.Value = int64(0)
		if b {
			v.Value = int64(1)
		}
		return nil
	}
	return c.pgx().CheckNamedValue(v)
}

// rebound caches rewritten queries: the store's queries are constants,
// apart from IN lists whose length varies.
var rebound sync.Map

// rebind turns "?" placeholders into $1, $2, …, leaving string literals,
// quoted identifiers and comments alone.
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	if q, ok := rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		ch := query[i]
		switch {
		case ch == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		case ch == '\'' || ch == '"':
			end := strings.IndexByte(query[i+1:], ch)
			if end < 0 {
				b.WriteString(query[i:])
				i = len(query)
				continue
			}
			b.WriteString(query[i : i+end+2])
			i += end + 1
			continue
		case ch == '-' && i+1 < len(query) && query[i+1] == '-':
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				end = len(query) - i
			}
			b.WriteString(query[i : i+end])
			i += end - 1
			continue
		}
		b.WriteByte(ch)
	}
	q := b.String()
	rebound.Store(query, q)
	return q
}
