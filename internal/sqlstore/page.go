package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
)

// seqPage runs a keyset query that selects up to limit+1 rows ordered by seq
// and returns the first limit items; next is the seq of the last one returned
// when more follow, the cursor the query resumes after.
func seqPage[T any](ctx context.Context, pool *sql.DB, limit int, query string, args []any,
	scan func(*sql.Rows) (item T, seq int64, err error)) ([]T, string, error) {
	return keyPage(ctx, pool, limit, func(r rowScanner) (T, string, error) {
		item, seq, err := scan(r.(*sql.Rows)) // queryEach passes its *sql.Rows
		return item, strconv.FormatInt(seq, 10), err
	}, query, args...)
}

// keyPage runs a keyset query that selects up to limit+1 rows and returns
// the first limit items; scan reads an item and its key, and next is the
// key of the last item returned when more follow, the cursor the query
// resumes after.
func keyPage[T any](ctx context.Context, q querier, limit int, scan func(rowScanner) (T, string, error),
	query string, args ...any) ([]T, string, error) {
	var out []T
	var last, next string
	err := queryEach(ctx, q, func(r rowScanner) error {
		if len(out) == limit {
			next = last
			return errPageFull
		}
		item, key, err := scan(r)
		out, last = append(out, item), key
		return err
	}, query, args...)
	switch {
	case errors.Is(err, errPageFull):
		return out, next, nil
	case err != nil:
		return nil, "", err
	}
	return out, "", nil
}

// errPageFull ends the reading of a page's rows at the one past its end.
var errPageFull = errors.New("page full")

// seqCursor reads a creation-order cursor, the seq of the last row returned,
// and gives the list's keyset condition and order. Without a cursor an
// ascending list starts below every seq and a descending one above; a
// cursor that is not a number is answered with invalid.
func seqCursor(after string, ascending bool, invalid error) (seq int64, cmp, order string, err error) {
	seq, cmp, order = 1<<63-1, "<", "DESC"
	if ascending {
		seq, cmp, order = 0, ">", "ASC"
	}
	if after == "" {
		return seq, cmp, order, nil
	}
	if seq, err = strconv.ParseInt(after, 10, 64); err != nil {
		return 0, "", "", invalid
	}
	return seq, cmp, order, nil
}
