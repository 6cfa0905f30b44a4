package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/warden-iot/warden"
)

// Custom metrics and dimensions: named resources a create request makes
// idempotent with its clientRequestToken.

const customMetricColumns = `name, metric_type, display_name, client_token, created_at, updated_at`

func scanCustomMetric(s warden.Scope, r rowScanner) (m warden.CustomMetric, token string, err error) {
	var created, updated int64
	if err = r.Scan(&m.Name, &m.Type, &m.DisplayName, &token, &created, &updated); err != nil {
		return m, "", err
	}
	m.Arn = warden.CustomMetricARN(s, m.Name)
	m.CreationDate, m.LastModifiedDate = fromMillis(created), fromMillis(updated)
	return m, token, nil
}

func customMetricNotFound(name string) error {
	return warden.Errorf(warden.CodeResourceNotFound, "Custom metric %s does not exist.", name)
}

func getCustomMetric(ctx context.Context, q queryRower, s warden.Scope, name string) (warden.CustomMetric, string, error) {
	m, token, err := scanCustomMetric(s, q.QueryRowContext(ctx, `SELECT `+customMetricColumns+
		` FROM custom_metrics WHERE account = ? AND region = ? AND name = ?`, s.Account, s.Region, name))
	return m, token, noRowAs(err, customMetricNotFound(name))
}

// alreadyExists is the answer to a create whose name is taken by another
// request's resource.
func alreadyExists(what, name, arn string) error {
	return &warden.Error{Code: warden.CodeResourceAlreadyExists,
		Message:    fmt.Sprintf("%s %s already exists.", what, name),
		ResourceID: name, ResourceArn: arn}
}

// CreateCustomMetric stores a custom metric, or returns the one a request
// with the same token stored.
func (db *DB) CreateCustomMetric(ctx context.Context, s warden.Scope, m warden.CustomMetric, tags []warden.Tag, token string, now time.Time) (_ warden.CustomMetric, err error) {
	defer wrapErr(&err, "CreateCustomMetric(%v, %q)", s, m.Name)
	m.Arn = warden.CustomMetricARN(s, m.Name)
	m.CreationDate, m.LastModifiedDate = fromMillis(millis(now)), fromMillis(millis(now))
	err = db.inTx(ctx, func(tx writeTx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO custom_metrics (account, region, `+customMetricColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, name) DO NOTHING`,
			s.Account, s.Region, m.Name, m.Type, m.DisplayName, token, millis(now), millis(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if err := putTags(ctx, tx, s, m.Arn, tags); err != nil {
				return err
			}
			return logChange(ctx, tx, s, m.Arn, "CreateCustomMetric", nil, m, now)
		}
		existing, storedToken, err := getCustomMetric(ctx, tx, s, m.Name)
		if err != nil {
			return err
		}
		if storedToken != token || existing.Type != m.Type || existing.DisplayName != m.DisplayName {
			return alreadyExists("Custom metric", m.Name, existing.Arn)
		}
		m = existing
		return nil
	})
	return m, err
}

// CustomMetric returns one custom metric.
func (db *DB) CustomMetric(ctx context.Context, s warden.Scope, name string) (_ warden.CustomMetric, err error) {
	defer wrapErr(&err, "CustomMetric(%v, %q)", s, name)
	m, _, err := getCustomMetric(ctx, db.read, s, name)
	return m, err
}

// UpdateCustomMetric sets a custom metric's display name.
func (db *DB) UpdateCustomMetric(ctx context.Context, s warden.Scope, name, displayName string, now time.Time) (_ warden.CustomMetric, err error) {
	defer wrapErr(&err, "UpdateCustomMetric(%v, %q)", s, name)
	var m warden.CustomMetric
	err = db.inTx(ctx, func(tx writeTx) error {
		before, _, err := getCustomMetric(ctx, tx, s, name)
		if err != nil {
			return err
		}
		m = before
		m.DisplayName, m.LastModifiedDate = displayName, fromMillis(millis(now))
		if _, err := tx.ExecContext(ctx, `UPDATE custom_metrics SET display_name = ?, updated_at = ?
			WHERE account = ? AND region = ? AND name = ?`, displayName, millis(now), s.Account, s.Region, name); err != nil {
			return err
		}
		return logChange(ctx, tx, s, m.Arn, "UpdateCustomMetric", before, m, now)
	})
	return m, err
}

// DeleteCustomMetric removes a custom metric, its tags and the datapoints
// devices reported for it.
func (db *DB) DeleteCustomMetric(ctx context.Context, s warden.Scope, name string, now time.Time) (err error) {
	defer wrapErr(&err, "DeleteCustomMetric(%v, %q)", s, name)
	return db.inTx(ctx, func(tx writeTx) error {
		if err := refuseUsedByProfile(ctx, tx, s, "metric", "Custom metric", name); err != nil {
			return err
		}
		m, _, err := scanCustomMetric(s, tx.QueryRowContext(ctx, `DELETE FROM custom_metrics WHERE account = ? AND region = ? AND name = ?
			RETURNING `+customMetricColumns, s.Account, s.Region, name))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := deleteTags(ctx, tx, s, m.Arn); err != nil {
			return err
		}
		// Custom metric names never start with aws:, so no device-side
		// metric's datapoints share the name.
		if _, err := tx.ExecContext(ctx, `DELETE FROM detect_metric_values WHERE account = ? AND region = ? AND metric = ?`,
			s.Account, s.Region, name); err != nil {
			return err
		}
		return logChange(ctx, tx, s, m.Arn, "DeleteCustomMetric", m, nil, now)
	})
}

// CustomMetrics lists custom metric names in name order; the cursor is the
// last name returned.
func (db *DB) CustomMetrics(ctx context.Context, s warden.Scope, p warden.Page) (_ []string, _ string, err error) {
	defer wrapErr(&err, "CustomMetrics(%v)", s)
	return namePage(ctx, db.read, "custom_metrics", s, p)
}

// namePage lists the names of a table's resources of scope s in name order.
func namePage(ctx context.Context, q querier, table string, s warden.Scope, p warden.Page) ([]string, string, error) {
	return keyPage(ctx, q, p.Limit, func(r rowScanner) (name string, _ string, err error) {
		err = r.Scan(&name)
		return name, name, err
	}, `SELECT name FROM `+table+` WHERE account = ? AND region = ? AND name > ? ORDER BY name LIMIT ?`,
		s.Account, s.Region, p.After, p.Limit+1)
}

const dimensionColumns = `name, dimension_type, string_values, client_token, created_at, updated_at`

func scanDimension(s warden.Scope, r rowScanner) (d warden.Dimension, token string, err error) {
	var created, updated int64
	var values string
	if err = r.Scan(&d.Name, &d.Type, &values, &token, &created, &updated); err != nil {
		return d, "", err
	}
	if err = json.Unmarshal([]byte(values), &d.StringValues); err != nil {
		return d, "", fmt.Errorf("stored values of dimension %s: %w", d.Name, err)
	}
	d.Arn = warden.DimensionARN(s, d.Name)
	d.CreationDate, d.LastModifiedDate = fromMillis(created), fromMillis(updated)
	return d, token, nil
}

func getDimension(ctx context.Context, q queryRower, s warden.Scope, name string) (warden.Dimension, string, error) {
	d, token, err := scanDimension(s, q.QueryRowContext(ctx, `SELECT `+dimensionColumns+
		` FROM dimensions WHERE account = ? AND region = ? AND name = ?`, s.Account, s.Region, name))
	return d, token, noRowAs(err, warden.Errorf(warden.CodeResourceNotFound, "Dimension %s does not exist.", name))
}

// CreateDimension stores a dimension, or returns the one a request with
// the same token stored.
func (db *DB) CreateDimension(ctx context.Context, s warden.Scope, d warden.Dimension, tags []warden.Tag, token string, now time.Time) (_ warden.Dimension, err error) {
	defer wrapErr(&err, "CreateDimension(%v, %q)", s, d.Name)
	d.Arn = warden.DimensionARN(s, d.Name)
	d.CreationDate, d.LastModifiedDate = fromMillis(millis(now)), fromMillis(millis(now))
	values, err := json.Marshal(d.StringValues)
	if err != nil {
		return d, err
	}
	err = db.inTx(ctx, func(tx writeTx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO dimensions (account, region, `+dimensionColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, name) DO NOTHING`,
			s.Account, s.Region, d.Name, d.Type, string(values), token, millis(now), millis(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if err := putTags(ctx, tx, s, d.Arn, tags); err != nil {
				return err
			}
			return logChange(ctx, tx, s, d.Arn, "CreateDimension", nil, d, now)
		}
		existing, storedToken, err := getDimension(ctx, tx, s, d.Name)
		if err != nil {
			return err
		}
		if storedToken != token || existing.Type != d.Type || !slices.Equal(existing.StringValues, d.StringValues) {
			return alreadyExists("Dimension", d.Name, existing.Arn)
		}
		d = existing
		return nil
	})
	return d, err
}

// Dimension returns one dimension.
func (db *DB) Dimension(ctx context.Context, s warden.Scope, name string) (_ warden.Dimension, err error) {
	defer wrapErr(&err, "Dimension(%v, %q)", s, name)
	d, _, err := getDimension(ctx, db.read, s, name)
	return d, err
}

// UpdateDimension replaces a dimension's string values.
func (db *DB) UpdateDimension(ctx context.Context, s warden.Scope, name string, values []string, now time.Time) (_ warden.Dimension, err error) {
	defer wrapErr(&err, "UpdateDimension(%v, %q)", s, name)
	encoded, err := json.Marshal(values)
	if err != nil {
		return warden.Dimension{}, err
	}
	var d warden.Dimension
	err = db.inTx(ctx, func(tx writeTx) error {
		before, _, err := getDimension(ctx, tx, s, name)
		if err != nil {
			return err
		}
		d = before
		d.StringValues, d.LastModifiedDate = values, fromMillis(millis(now))
		if _, err := tx.ExecContext(ctx, `UPDATE dimensions SET string_values = ?, updated_at = ?
			WHERE account = ? AND region = ? AND name = ?`, string(encoded), millis(now), s.Account, s.Region, name); err != nil {
			return err
		}
		return logChange(ctx, tx, s, d.Arn, "UpdateDimension", before, d, now)
	})
	return d, err
}

// DeleteDimension removes a dimension and its tags.
func (db *DB) DeleteDimension(ctx context.Context, s warden.Scope, name string, now time.Time) (err error) {
	defer wrapErr(&err, "DeleteDimension(%v, %q)", s, name)
	return db.inTx(ctx, func(tx writeTx) error {
		if err := refuseUsedByProfile(ctx, tx, s, "dimension", "Dimension", name); err != nil {
			return err
		}
		d, _, err := scanDimension(s, tx.QueryRowContext(ctx, `DELETE FROM dimensions WHERE account = ? AND region = ? AND name = ?
			RETURNING `+dimensionColumns, s.Account, s.Region, name))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := deleteTags(ctx, tx, s, d.Arn); err != nil {
			return err
		}
		return logChange(ctx, tx, s, d.Arn, "DeleteDimension", d, nil, now)
	})
}

// Dimensions lists dimension names in name order; the cursor is the last
// name returned.
func (db *DB) Dimensions(ctx context.Context, s warden.Scope, p warden.Page) (_ []string, _ string, err error) {
	defer wrapErr(&err, "Dimensions(%v)", s)
	return namePage(ctx, db.read, "dimensions", s, p)
}
