package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements of one pool, so that hot queries are
// compiled once per connection instead of on every call (with SQLite,
// compiling costs about as much as running a simple statement).
type stmtCache struct {
	pool *sql.DB
	mu   sync.Mutex
	m    map[string]*sql.Stmt
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, m: map[string]*sql.Stmt{}}
}

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	s, ok := c.m[query]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	// Prepared without the lock: preparing waits for a free connection,
	// and the connections' holders may need the cache meanwhile.
	s, err := c.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if first, ok := c.m[query]; ok {
		_ = s.Close()
		return first, nil
	}
	c.m[query] = s
	return s, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		_ = s.Close()
	}
	c.m = nil
}

// txStmt returns the cached statement for query bound to tx, a transaction
// of the write pool.
func (db *DB) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if db.postgres {
		// Prepared on the transaction's own connection (pgx keeps it per
		// connection): preparing on the pool would need a second
		// connection while this one is held, which can deadlock a full pool.
		return tx.PrepareContext(ctx, query)
	}
	s, err := db.writeStmts.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, s), nil
}

// readStmt returns the cached statement for query on the read pool.
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	return db.readStmts.get(ctx, query)
}
