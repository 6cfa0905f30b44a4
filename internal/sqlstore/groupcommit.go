package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// groupCommitter runs the write transactions of concurrent callers together:
// each caller's function runs inside its own SAVEPOINT of one shared
// transaction, so it is still all-or-nothing on its own, and one COMMIT (one
// fsync with synchronous=FULL) makes the whole group durable before any
// caller is answered. SQLite has a single writer, so without this every
// write waits for the previous one's fsync.
type groupCommitter struct {
	pool    *sql.DB
	stmts   *stmtCache
	queue   chan *groupWrite
	closing chan struct{}
	done    sync.WaitGroup
	closed  sync.Once
}

type groupWrite struct {
	ctx    context.Context
	fn     func(tx *sql.Tx) error
	result chan error
}

// maxGroup bounds how many writes share one transaction, so that one group
// never holds the writer for long.
const maxGroup = 64

var errStoreClosed = errors.New("store is closed")

func startGroupCommitter(pool *sql.DB, stmts *stmtCache) *groupCommitter {
	g := &groupCommitter{pool: pool, stmts: stmts, queue: make(chan *groupWrite, maxGroup), closing: make(chan struct{})}
	g.done.Add(1)
	go g.loop()
	return g
}

// run queues fn and waits until its group committed or it failed. It waits
// even when ctx ends, because fn may already be running.
func (g *groupCommitter) run(ctx context.Context, fn func(tx *sql.Tx) error) error {
	w := &groupWrite{ctx: ctx, fn: fn, result: make(chan error, 1)}
	select {
	case g.queue <- w:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.closing:
		return errStoreClosed
	}
	return <-w.result
}

func (g *groupCommitter) stop() {
	g.closed.Do(func() { close(g.closing) })
	g.done.Wait()
}

func (g *groupCommitter) loop() {
	defer g.done.Done()
	for {
		var first *groupWrite
		select {
		case first = <-g.queue:
		case <-g.closing:
			// Writers that queued before closing are still answered.
			for {
				select {
				case w := <-g.queue:
					g.commit([]*groupWrite{w})
				default:
					return
				}
			}
		}
		group := []*groupWrite{first}
	collect:
		for len(group) < maxGroup {
			select {
			case w := <-g.queue:
				group = append(group, w)
			default:
				break collect
			}
		}
		g.commit(group)
	}
}

// commit runs a group. A group of one is a plain transaction. If the shared
// transaction breaks (a savepoint or the commit fails, e.g. because an
// interrupted statement rolled the transaction back), nothing of it was
// committed and every write is run again in a transaction of its own, so each
// caller gets its own answer.
func (g *groupCommitter) commit(group []*groupWrite) {
	if len(group) == 1 {
		w := group[0]
		w.result <- runTx(w.ctx, g.pool, w.fn)
		return
	}
	results, ok := g.commitShared(group)
	if !ok {
		for _, w := range group {
			w.result <- runTx(w.ctx, g.pool, w.fn)
		}
		return
	}
	for i, w := range group {
		w.result <- results[i]
	}
}

func (g *groupCommitter) commitShared(group []*groupWrite) ([]error, bool) {
	// Not the callers' contexts: one caller going away must not roll back
	// the others' work.
	ctx := context.Background()
	tx, err := g.pool.BeginTx(ctx, nil)
	if err != nil {
		return nil, false
	}
	exec := func(query string) bool {
		s, err := g.stmts.get(ctx, query)
		if err == nil {
			_, err = tx.StmtContext(ctx, s).ExecContext(ctx)
		}
		return err == nil
	}
	results := make([]error, len(group))
	for i, w := range group {
		if err := w.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if !exec(`SAVEPOINT group_write`) {
			_ = tx.Rollback()
			return nil, false
		}
		if results[i] = callTxFunc(w.fn, tx); results[i] != nil && !exec(`ROLLBACK TO group_write`) {
			_ = tx.Rollback()
			return nil, false
		}
		if !exec(`RELEASE group_write`) {
			_ = tx.Rollback()
			return nil, false
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, false
	}
	return results, true
}
