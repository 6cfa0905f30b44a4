package sqlstore

import (
	"context"

	"github.com/warden-iot/warden"
)

// taggable maps an IoT ARN's resource type to the query that tells whether
// the resource exists; its parameters are account, region and the ARN's id.
var taggable = map[string]string{
	"mitigationaction": `SELECT 1 FROM mitigation_actions WHERE account = ? AND region = ? AND name = ?`,
	"securityprofile":  `SELECT 1 FROM security_profiles WHERE account = ? AND region = ? AND name = ?`,
	"custommetric":     `SELECT 1 FROM custom_metrics WHERE account = ? AND region = ? AND name = ?`,
	"dimension":        `SELECT 1 FROM dimensions WHERE account = ? AND region = ? AND name = ?`,
}

// deleteTags removes the tags of a deleted resource.
func deleteTags(ctx context.Context, tx writeTx, s warden.Scope, arn string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE account = ? AND region = ? AND resource_arn = ?`, s.Account, s.Region, arn)
	return err
}

// requireResource fails with ResourceNotFound unless arn names an existing
// taggable resource of scope s. Another account's ARN is reported as missing,
// so a caller learns nothing about resources it cannot see.
func requireResource(ctx context.Context, q queryRower, s warden.Scope, arn string) error {
	scope, kind, id, ok := warden.ParseIoTARN(arn)
	if !ok {
		return warden.Errorf(warden.CodeInvalidRequest, "%s is not a valid AWS IoT resource ARN.", arn)
	}
	query, known := taggable[kind]
	if !known {
		return warden.Errorf(warden.CodeInvalidRequest, "Resources of type %s cannot be tagged.", kind)
	}
	missing := warden.Errorf(warden.CodeResourceNotFound, "The resource %s does not exist.", arn)
	if scope != s {
		return missing
	}
	return requireRow(ctx, q, missing, query, s.Account, s.Region, id)
}

func putTags(ctx context.Context, tx writeTx, s warden.Scope, arn string, tags []warden.Tag) error {
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tags (account, region, resource_arn, tag_key, tag_value) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (account, region, resource_arn, tag_key) DO UPDATE SET tag_value = excluded.tag_value`,
			s.Account, s.Region, arn, t.Key, t.Value); err != nil {
			return err
		}
	}
	if len(tags) == 0 {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tags WHERE account = ? AND region = ? AND resource_arn = ?`,
		s.Account, s.Region, arn).Scan(&n); err != nil {
		return err
	}
	if n > warden.MaxTagsPerResource {
		return warden.Errorf(warden.CodeLimitExceeded, "A resource can have at most %d tags; this request would leave %d.", warden.MaxTagsPerResource, n)
	}
	return nil
}

// TagResource adds or overwrites tags.
func (db *DB) TagResource(ctx context.Context, s warden.Scope, arn string, tags []warden.Tag) (err error) {
	defer wrapErr(&err, "TagResource(%v, %q)", s, arn)
	return db.inTx(ctx, func(tx writeTx) error {
		if err := requireResource(ctx, tx, s, arn); err != nil {
			return err
		}
		return putTags(ctx, tx, s, arn, tags)
	})
}

// UntagResource removes tag keys.
func (db *DB) UntagResource(ctx context.Context, s warden.Scope, arn string, keys []string) (err error) {
	defer wrapErr(&err, "UntagResource(%v, %q)", s, arn)
	return db.inTx(ctx, func(tx writeTx) error {
		if err := requireResource(ctx, tx, s, arn); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE account = ? AND region = ? AND resource_arn = ? AND tag_key = ?`,
				s.Account, s.Region, arn, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// Tags lists a resource's tags by key; the cursor is the last key returned.
func (db *DB) Tags(ctx context.Context, s warden.Scope, arn string, p warden.Page) (_ []warden.Tag, _ string, err error) {
	defer wrapErr(&err, "Tags(%v, %q)", s, arn)
	if err := requireResource(ctx, db.read, s, arn); err != nil {
		return nil, "", err
	}
	return keyPage(ctx, db.read, p.Limit, func(r rowScanner) (t warden.Tag, _ string, err error) {
		err = r.Scan(&t.Key, &t.Value)
		return t, t.Key, err
	}, `SELECT tag_key, tag_value FROM tags
		WHERE account = ? AND region = ? AND resource_arn = ? AND tag_key > ? ORDER BY tag_key LIMIT ?`,
		s.Account, s.Region, arn, p.After, p.Limit+1)
}
