package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
)

// seqPage runs a keyset query that selects up to limit+1 rows ordered by seq
// and returns the first limit items; next is the seq of the last one returned
// when more follow, the cursor the query resumes after.
func seqPage[T any](ctx context.Context, pool *sql.DB, limit int, query string, args []any,
	scan func(*sql.Rows) (item T, seq int64, err error)) ([]T, string, error) {
	rows, err := pool.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []T
	var lastSeq int64
	for rows.Next() {
		if len(out) == limit {
			return out, strconv.FormatInt(lastSeq, 10), rows.Err()
		}
		item, seq, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, item)
		lastSeq = seq
	}
	return out, "", rows.Err()
}

// queryEach runs a query and calls each for every row.
func queryEach(ctx context.Context, q querier, each func(rowScanner) error, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// queryAll runs a query and returns every row as scan reads it.
func queryAll[T any](ctx context.Context, q querier, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	var out []T
	err := queryEach(ctx, q, func(r rowScanner) error {
		item, err := scan(r)
		out = append(out, item)
		return err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// queryStrings runs a query of one text column and returns its values.
func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	return queryAll(ctx, q, scanString, query, args...)
}

func scanString(r rowScanner) (s string, err error) { return s, r.Scan(&s) }

// keyPage runs a keyset query that selects up to limit+1 rows and returns
// the first limit items; next is the key of the last one returned when
// more follow, the cursor the query resumes after.
func keyPage[T any](ctx context.Context, q querier, limit int, key func(T) string, scan func(rowScanner) (T, error),
	query string, args ...any) ([]T, string, error) {
	out, err := queryAll(ctx, q, scan, query, args...)
	if err != nil || len(out) <= limit || limit <= 0 {
		return out, "", err
	}
	out = out[:limit]
	return out, key(out[limit-1]), nil
}
