package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/warden-iot/warden"
)

const profileColumns = `name, doc, version, created_at, updated_at`

func scanProfile(r rowScanner) (warden.SecurityProfile, error) {
	var p warden.SecurityProfile
	var name, doc string
	var version, created, updated int64
	if err := r.Scan(&name, &doc, &version, &created, &updated); err != nil {
		return p, err
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return p, fmt.Errorf("stored security profile %s: %w", name, err)
	}
	p.Name, p.Version = name, version
	p.CreationDate, p.LastModifiedDate = fromMillis(created), fromMillis(updated)
	return p, nil
}

func profileNotFound(name string) error {
	return warden.Errorf(warden.CodeResourceNotFound, "Security profile %s does not exist.", name)
}

func getProfile(ctx context.Context, q queryRower, s warden.Scope, name string) (warden.SecurityProfile, error) {
	p, err := scanProfile(q.QueryRowContext(ctx, `SELECT `+profileColumns+` FROM security_profiles WHERE account = ? AND region = ? AND name = ?`,
		s.Account, s.Region, name))
	return p, noRowAs(err, profileNotFound(name))
}

func checkProfileVersion(p *warden.SecurityProfile, expected *int64) error {
	if expected != nil && *expected != p.Version {
		return warden.Errorf(warden.CodeVersionConflict,
			"The expected version %d of security profile %s does not match its current version %d.", *expected, p.Name, p.Version)
	}
	return nil
}

// writeProfileUses replaces the metrics and dimensions recorded as named by
// p, which must exist.
func writeProfileUses(ctx context.Context, tx writeTx, s warden.Scope, p *warden.SecurityProfile) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM security_profile_uses WHERE account = ? AND region = ? AND profile_name = ?`,
		s.Account, s.Region, p.Name); err != nil {
		return err
	}
	metrics, dimensions := p.Uses()
	// Checked again here, in the transaction, so that a concurrent delete of
	// a custom metric or dimension cannot leave the profile naming it.
	for _, m := range metrics {
		if _, aws := warden.LookupDetectMetric(m); aws {
			continue
		}
		if err := requireRow(ctx, tx, warden.Errorf(warden.CodeInvalidRequest, "Custom metric %s does not exist.", m),
			`SELECT 1 FROM custom_metrics WHERE account = ? AND region = ? AND name = ?`, s.Account, s.Region, m); err != nil {
			return err
		}
	}
	for _, d := range dimensions {
		if err := requireRow(ctx, tx, warden.Errorf(warden.CodeInvalidRequest, "Dimension %s does not exist.", d),
			`SELECT 1 FROM dimensions WHERE account = ? AND region = ? AND name = ?`, s.Account, s.Region, d); err != nil {
			return err
		}
	}
	for kind, names := range map[string][]string{"metric": metrics, "dimension": dimensions} {
		for _, n := range names {
			if _, err := tx.ExecContext(ctx, `INSERT INTO security_profile_uses (account, region, kind, used_name, profile_name) VALUES (?, ?, ?, ?, ?)`,
				s.Account, s.Region, kind, n, p.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// refuseUsedByProfile fails with InvalidRequest while a security profile
// names the metric or dimension (kind) name: AWS has it removed from every
// profile before it is deleted.
func refuseUsedByProfile(ctx context.Context, tx writeTx, s warden.Scope, kind, what, name string) error {
	var profile string
	err := tx.QueryRowContext(ctx, `SELECT profile_name FROM security_profile_uses
		WHERE account = ? AND region = ? AND kind = ? AND used_name = ? ORDER BY profile_name LIMIT 1`, s.Account, s.Region, kind, name).Scan(&profile)
	if err == nil {
		return warden.Errorf(warden.CodeInvalidRequest, "%s %s is used by security profile %s; remove it from every security profile before deleting it.",
			what, name, profile)
	}
	return noRowAs(err, nil)
}

// CreateSecurityProfile stores p as version 1 with its tags.
func (db *DB) CreateSecurityProfile(ctx context.Context, s warden.Scope, p warden.SecurityProfile, tags []warden.Tag, now time.Time) (_ warden.SecurityProfile, err error) {
	defer wrapErr(&err, "CreateSecurityProfile(%v, %q)", s, p.Name)
	if err := p.CheckMetricsExport(); err != nil {
		return p, err
	}
	p.Arn, p.Version = warden.SecurityProfileARN(s, p.Name), 1
	p.CreationDate, p.LastModifiedDate = now, now
	doc, err := json.Marshal(&p)
	if err != nil {
		return p, err
	}
	err = db.inTx(ctx, func(tx writeTx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO security_profiles (account, region, name, doc, version, created_at, updated_at)
			VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (account, region, name) DO NOTHING`,
			s.Account, s.Region, p.Name, string(doc), millis(now), millis(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return &warden.Error{Code: warden.CodeResourceAlreadyExists,
				Message: fmt.Sprintf("Security profile %s already exists.", p.Name), ResourceArn: p.Arn}
		}
		if err := writeProfileUses(ctx, tx, s, &p); err != nil {
			return err
		}
		if err := putTags(ctx, tx, s, p.Arn, tags); err != nil {
			return err
		}
		return logChange(ctx, tx, s, p.Arn, "CreateSecurityProfile", nil, &p, now)
	})
	return p, err
}

// SecurityProfile returns one profile.
func (db *DB) SecurityProfile(ctx context.Context, s warden.Scope, name string) (_ warden.SecurityProfile, err error) {
	defer wrapErr(&err, "SecurityProfile(%v, %q)", s, name)
	return getProfile(ctx, db.read, s, name)
}

// UpdateSecurityProfile applies u as the profile's next version.
func (db *DB) UpdateSecurityProfile(ctx context.Context, s warden.Scope, name string, u warden.SecurityProfileUpdate, now time.Time) (_ warden.SecurityProfile, err error) {
	defer wrapErr(&err, "UpdateSecurityProfile(%v, %q)", s, name)
	if err := u.Check(); err != nil {
		return warden.SecurityProfile{}, err
	}
	var p warden.SecurityProfile
	err = db.inTx(ctx, func(tx writeTx) error {
		var err error
		if p, err = getProfile(ctx, tx, s, name); err != nil {
			return err
		}
		if err := checkProfileVersion(&p, u.ExpectedVersion); err != nil {
			return err
		}
		before := p
		u.Apply(&p)
		// Checked on the result: exportMetric may come in one update and
		// the export configuration in another.
		if err := p.CheckMetricsExport(); err != nil {
			return err
		}
		p.Version++
		p.LastModifiedDate = now
		doc, err := json.Marshal(&p)
		if err != nil {
			return err
		}
		// The version in the WHERE fences a concurrent update.
		res, err := tx.ExecContext(ctx, `UPDATE security_profiles SET doc = ?, version = ?, updated_at = ?
			WHERE account = ? AND region = ? AND name = ? AND version = ?`,
			string(doc), p.Version, millis(now), s.Account, s.Region, name, before.Version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return warden.Errorf(warden.CodeVersionConflict, "Security profile %s was changed concurrently; retry.", name)
		}
		if err := writeProfileUses(ctx, tx, s, &p); err != nil {
			return err
		}
		// A behaviour the update drops stops being evaluated: its active
		// violations end as invalidated.
		var dropped []string
		for _, b := range before.Behaviors {
			if !slices.ContainsFunc(p.Behaviors, func(k warden.Behavior) bool { return k.Name == b.Name }) {
				dropped = append(dropped, b.Name)
			}
		}
		if len(dropped) > 0 {
			if _, err := invalidateViolationsTx(ctx, tx, s, name, dropped, now); err != nil {
				return err
			}
		}
		return logChange(ctx, tx, s, p.Arn, "UpdateSecurityProfile", &before, &p, now)
	})
	return p, err
}

// DeleteSecurityProfile removes a profile, its targets and tags, and
// invalidates its active violations. An unknown name is no error.
func (db *DB) DeleteSecurityProfile(ctx context.Context, s warden.Scope, name string, expectedVersion *int64, now time.Time) (err error) {
	defer wrapErr(&err, "DeleteSecurityProfile(%v, %q)", s, name)
	return db.inTx(ctx, func(tx writeTx) error {
		p, err := getProfile(ctx, tx, s, name)
		if warden.ErrorCode(err) == warden.CodeResourceNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if err := checkProfileVersion(&p, expectedVersion); err != nil {
			return err
		}
		if err := execAll(ctx, tx, []any{s.Account, s.Region, name},
			`DELETE FROM security_profiles WHERE account = ? AND region = ? AND name = ?`,
			`DELETE FROM security_profile_uses WHERE account = ? AND region = ? AND profile_name = ?`,
			`DELETE FROM security_profile_targets WHERE account = ? AND region = ? AND profile_name = ?`); err != nil {
			return err
		}
		if _, err := invalidateViolationsTx(ctx, tx, s, name, nil, now); err != nil {
			return err
		}
		if err := deleteTags(ctx, tx, s, p.Arn); err != nil {
			return err
		}
		return logChange(ctx, tx, s, p.Arn, "DeleteSecurityProfile", &p, nil, now)
	})
}

// SecurityProfiles lists profiles by name, of those naming f's dimension
// or metric if set; the cursor is the last name.
func (db *DB) SecurityProfiles(ctx context.Context, s warden.Scope, f warden.SecurityProfileFilter, p warden.Page) (_ []warden.SecurityProfile, _ string, err error) {
	defer wrapErr(&err, "SecurityProfiles(%v)", s)
	query := `SELECT ` + profileColumns + ` FROM security_profiles WHERE account = ? AND region = ? AND name > ?`
	args := []any{s.Account, s.Region, p.After}
	kind, used := "", ""
	switch {
	case f.DimensionName != "" && f.MetricName != "":
		return nil, "", warden.Errorf(warden.CodeInvalidRequest, "Specify at most one of dimensionName and metricName.")
	case f.DimensionName != "":
		kind, used = "dimension", f.DimensionName
	case f.MetricName != "":
		kind, used = "metric", f.MetricName
	}
	if kind != "" {
		query += ` AND name IN (SELECT profile_name FROM security_profile_uses WHERE account = ? AND region = ? AND kind = ? AND used_name = ?)`
		args = append(args, s.Account, s.Region, kind, used)
	}
	query += ` ORDER BY name LIMIT ?`
	args = append(args, p.Limit+1)
	return keyPage(ctx, db.read, p.Limit, func(r rowScanner) (warden.SecurityProfile, string, error) {
		sp, err := scanProfile(r)
		return sp, sp.Name, err
	}, query, args...)
}

// requireProfileTarget checks a target ARN, and that its thing group exists;
// group is "" for an account-wide target.
func requireProfileTarget(ctx context.Context, q queryRower, s warden.Scope, target string) (group string, err error) {
	if group, err = warden.ParseSecurityProfileTarget(s, target); err != nil || group == "" {
		return group, err
	}
	return group, requireRow(ctx, q, warden.Errorf(warden.CodeResourceNotFound, "Thing group %s does not exist.", group),
		`SELECT 1 FROM thing_groups WHERE account = ? AND region = ? AND name = ?`, s.Account, s.Region, group)
}

func requireProfile(ctx context.Context, q queryRower, s warden.Scope, name string) error {
	return requireRow(ctx, q, profileNotFound(name), `SELECT 1 FROM security_profiles WHERE account = ? AND region = ? AND name = ?`,
		s.Account, s.Region, name)
}

type targetDocument struct {
	Target string `json:"target"`
}

// AttachSecurityProfile attaches a profile to a target; attaching it again
// changes nothing.
func (db *DB) AttachSecurityProfile(ctx context.Context, s warden.Scope, name, targetArn string, now time.Time) (err error) {
	defer wrapErr(&err, "AttachSecurityProfile(%v, %q, %q)", s, name, targetArn)
	return db.inTx(ctx, func(tx writeTx) error {
		// Every attach counts the target's profiles.
		if err := db.takeTurns(ctx, tx, "security_profile_targets"); err != nil {
			return err
		}
		if err := requireProfile(ctx, tx, s, name); err != nil {
			return err
		}
		if _, err := requireProfileTarget(ctx, tx, s, targetArn); err != nil {
			return err
		}
		attached, err := queryStrings(ctx, tx, `SELECT profile_name FROM security_profile_targets WHERE account = ? AND region = ? AND target_arn = ?`,
			s.Account, s.Region, targetArn)
		if err != nil {
			return err
		}
		if slices.Contains(attached, name) {
			return nil
		}
		if len(attached) >= warden.MaxSecurityProfilesPerTarget {
			return warden.Errorf(warden.CodeLimitExceeded, "A target can have at most %d security profiles attached; %s has %d.",
				warden.MaxSecurityProfilesPerTarget, targetArn, len(attached))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO security_profile_targets (account, region, profile_name, target_arn, created_at) VALUES (?, ?, ?, ?, ?)`,
			s.Account, s.Region, name, targetArn, millis(now)); err != nil {
			return err
		}
		return logChange(ctx, tx, s, warden.SecurityProfileARN(s, name), "AttachSecurityProfile", nil, targetDocument{targetArn}, now)
	})
}

// DetachSecurityProfile detaches a profile from a target; a target it is
// not attached to is no error.
func (db *DB) DetachSecurityProfile(ctx context.Context, s warden.Scope, name, targetArn string, now time.Time) (err error) {
	defer wrapErr(&err, "DetachSecurityProfile(%v, %q, %q)", s, name, targetArn)
	return db.inTx(ctx, func(tx writeTx) error {
		if err := requireProfile(ctx, tx, s, name); err != nil {
			return err
		}
		if _, err := warden.ParseSecurityProfileTarget(s, targetArn); err != nil {
			return err
		}
		return detachProfile(ctx, tx, s, name, targetArn, now)
	})
}

func detachProfile(ctx context.Context, tx writeTx, s warden.Scope, name, targetArn string, now time.Time) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM security_profile_targets WHERE account = ? AND region = ? AND profile_name = ? AND target_arn = ?`,
		s.Account, s.Region, name, targetArn)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return logChange(ctx, tx, s, warden.SecurityProfileARN(s, name), "DetachSecurityProfile", targetDocument{targetArn}, nil, now)
}

// detachGroupProfiles detaches the profiles of a deleted thing group.
func detachGroupProfiles(ctx context.Context, tx writeTx, s warden.Scope, groupArn string, now time.Time) error {
	profiles, err := queryStrings(ctx, tx, `SELECT profile_name FROM security_profile_targets WHERE account = ? AND region = ? AND target_arn = ? ORDER BY profile_name`,
		s.Account, s.Region, groupArn)
	if err != nil {
		return err
	}
	for _, p := range profiles {
		if err := detachProfile(ctx, tx, s, p, groupArn, now); err != nil {
			return err
		}
	}
	return nil
}

// SecurityProfileTargets lists a profile's targets by ARN; the cursor is
// the last ARN.
func (db *DB) SecurityProfileTargets(ctx context.Context, s warden.Scope, name string, p warden.Page) (_ []string, _ string, err error) {
	defer wrapErr(&err, "SecurityProfileTargets(%v, %q)", s, name)
	if err := requireProfile(ctx, db.read, s, name); err != nil {
		return nil, "", err
	}
	return keyPage(ctx, db.read, p.Limit, func(r rowScanner) (arn string, _ string, err error) {
		err = r.Scan(&arn)
		return arn, arn, err
	}, `SELECT target_arn FROM security_profile_targets WHERE account = ? AND region = ? AND profile_name = ? AND target_arn > ?
		ORDER BY target_arn LIMIT ?`, s.Account, s.Region, name, p.After, p.Limit+1)
}

// SecurityProfilesForTarget lists the profiles of targetArn and, with
// recursive, of the groups above it (nearest first) and of the
// account-wide targets covering it; by profile name within each target.
func (db *DB) SecurityProfilesForTarget(ctx context.Context, s warden.Scope, targetArn string, recursive bool, p warden.Page) (_ []warden.SecurityProfileTargetMapping, _ string, err error) {
	defer wrapErr(&err, "SecurityProfilesForTarget(%v, %q)", s, targetArn)
	group, err := requireProfileTarget(ctx, db.read, s, targetArn)
	if err != nil {
		return nil, "", err
	}
	targets := []string{targetArn}
	if recursive {
		if group != "" {
			ancestors, err := queryStrings(ctx, db.read, `SELECT ancestor FROM thing_group_ancestors
				WHERE account = ? AND region = ? AND descendant = ? AND distance > 0 ORDER BY distance`, s.Account, s.Region, group)
			if err != nil {
				return nil, "", err
			}
			for _, a := range ancestors {
				targets = append(targets, warden.ThingGroupARN(s, a))
			}
		}
		targets = append(targets, warden.CoveringTargets(s, targetArn, group != "")...)
	}
	var all []warden.SecurityProfileTargetMapping
	for _, t := range targets {
		names, err := queryStrings(ctx, db.read, `SELECT profile_name FROM security_profile_targets
			WHERE account = ? AND region = ? AND target_arn = ? ORDER BY profile_name`, s.Account, s.Region, t)
		if err != nil {
			return nil, "", err
		}
		for _, n := range names {
			all = append(all, warden.SecurityProfileTargetMapping{ProfileName: n, ProfileArn: warden.SecurityProfileARN(s, n), TargetArn: t})
		}
	}
	return warden.PageOf(all, p)
}

// DetectConfiguration returns every profile of the scope with its targets,
// and the custom metrics and dimensions the profiles name.
func (db *DB) DetectConfiguration(ctx context.Context, s warden.Scope) (_ warden.DetectConfiguration, err error) {
	defer wrapErr(&err, "DetectConfiguration(%v)", s)
	c := warden.DetectConfiguration{Targets: map[string][]string{}, Dimensions: map[string]warden.Dimension{},
		CustomMetrics: map[string]warden.CustomMetric{}}
	tx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return c, err
	}
	defer tx.Rollback()
	if c.Profiles, err = queryAll(ctx, tx, scanProfile, `SELECT `+profileColumns+` FROM security_profiles
		WHERE account = ? AND region = ? ORDER BY name`, s.Account, s.Region); err != nil {
		return c, err
	}
	err = queryEach(ctx, tx, func(r rowScanner) error {
		var name, target string
		if err := r.Scan(&name, &target); err != nil {
			return err
		}
		c.Targets[name] = append(c.Targets[name], target)
		return nil
	}, `SELECT profile_name, target_arn FROM security_profile_targets WHERE account = ? AND region = ? ORDER BY profile_name, target_arn`,
		s.Account, s.Region)
	if err != nil {
		return c, err
	}
	const named = ` WHERE account = ? AND region = ? AND name IN
		(SELECT used_name FROM security_profile_uses WHERE account = ? AND region = ? AND kind = ?)`
	err = queryEach(ctx, tx, func(r rowScanner) error {
		m, _, err := scanCustomMetric(s, r)
		c.CustomMetrics[m.Name] = m
		return err
	}, `SELECT `+customMetricColumns+` FROM custom_metrics`+named, s.Account, s.Region, s.Account, s.Region, "metric")
	if err != nil {
		return c, err
	}
	err = queryEach(ctx, tx, func(r rowScanner) error {
		d, _, err := scanDimension(s, r)
		c.Dimensions[d.Name] = d
		return err
	}, `SELECT `+dimensionColumns+` FROM dimensions`+named, s.Account, s.Region, s.Account, s.Region, "dimension")
	return c, err
}

// DetectScopes lists the scopes with at least one security profile.
func (db *DB) DetectScopes(ctx context.Context) (_ []warden.Scope, err error) {
	defer wrapErr(&err, "DetectScopes()")
	return queryAll(ctx, db.read, func(r rowScanner) (s warden.Scope, err error) {
		return s, r.Scan(&s.Account, &s.Region)
	}, `SELECT DISTINCT account, region FROM security_profiles ORDER BY account, region`)
}
