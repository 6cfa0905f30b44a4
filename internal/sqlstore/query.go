package sqlstore

// Helpers for running statements and reporting their errors.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/warden-iot/warden"
)

// wrap says what the store was doing in an error that leaves the package
// ("update thing group: …"). A *warden.Error passes unchanged: it is the
// answer the API sends, its message already what the client reads.
func wrap(err error, doing string) error {
	var werr *warden.Error
	if err == nil || errors.As(err, &werr) {
		return err
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// queryRower runs a query of at most one row.
type queryRower interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
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

// execAll runs each statement with the same arguments, in order.
func execAll(ctx context.Context, tx writeTx, args []any, statements ...string) error {
	for _, q := range statements {
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// andEq adds the condition "AND column = value" to a query being built,
// unless value is "" (no condition).
func andEq(query string, args []any, column, value string) (string, []any) {
	if value == "" {
		return query, args
	}
	return query + ` AND ` + column + ` = ?`, append(args, value)
}

// noRowAs is err, or missing when err is sql.ErrNoRows (the row sought
// does not exist).
func noRowAs(err, missing error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return missing
	}
	return err
}

// requireRow fails with missing unless the query returns a row.
func requireRow(ctx context.Context, q queryRower, missing error, query string, args ...any) error {
	exists, err := rowExists(ctx, q, query, args...)
	if err == nil && !exists {
		return missing
	}
	return err
}

// requireNoRow fails with found when the query returns a row.
func requireNoRow(ctx context.Context, q queryRower, found error, query string, args ...any) error {
	exists, err := rowExists(ctx, q, query, args...)
	if err == nil && exists {
		return found
	}
	return err
}

// requireBelow fails with over(n) when n, the count the COUNT(*) query
// returns, has reached limit: a quota that a new row would pass.
func requireBelow(ctx context.Context, q queryRower, limit int, over func(n int) error, query string, args ...any) error {
	var n int
	if err := q.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return err
	}
	if n >= limit {
		return over(n)
	}
	return nil
}

// rowExists reports whether the query returns a row.
func rowExists(ctx context.Context, q queryRower, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
