-- +goose Up
-- Detect security profiles. doc is the JSON of warden.SecurityProfile (its
-- behaviours, alert targets, metrics to retain and export configuration);
-- version counts updates from 1. Times are epoch milliseconds.
CREATE TABLE security_profiles (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    name       TEXT NOT NULL,
    doc        TEXT NOT NULL,
    version    BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (account, region, name)
);

-- The metrics and dimensions a profile names (behaviours and metrics to
-- retain), kept with the profile so that ListSecurityProfiles' filters are
-- index lookups. kind is 'metric' or 'dimension'.
CREATE TABLE security_profile_uses (
    account      TEXT NOT NULL,
    region       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    used_name    TEXT NOT NULL,
    profile_name TEXT NOT NULL,
    PRIMARY KEY (account, region, kind, used_name, profile_name)
);
CREATE INDEX security_profile_uses_by_profile ON security_profile_uses (account, region, profile_name);

-- Attachments of profiles to targets: a thing group's ARN or an
-- account-wide target's (…:all/things).
CREATE TABLE security_profile_targets (
    account      TEXT NOT NULL,
    region       TEXT NOT NULL,
    profile_name TEXT NOT NULL,
    target_arn   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (account, region, profile_name, target_arn)
);
CREATE INDEX security_profile_targets_by_target ON security_profile_targets (account, region, target_arn, profile_name);

-- +goose Down
DROP TABLE security_profile_targets;
DROP TABLE security_profile_uses;
DROP TABLE security_profiles;
