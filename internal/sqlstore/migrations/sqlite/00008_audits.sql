-- +goose Up
-- Device Defender audits: the account configuration, tasks and their checks,
-- findings, suppressions, scheduled audits and the occurrences they fired.

-- UpdateAccountAuditConfiguration, one row per account and region once set.
-- sns_target is the JSON AuditNotificationTarget ('' = none); checks maps a
-- check name to its JSON AuditCheckConfiguration.
CREATE TABLE audit_configurations (
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    role_arn   TEXT NOT NULL,
    sns_target TEXT NOT NULL DEFAULT '',
    checks     TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account, region)
);

-- Audit tasks are the runner's queue: an IN_PROGRESS task whose
-- lease_expires has passed (0 for a new one) is claimed by a runner, which
-- sets lease_owner and lease_expires and counts attempt up; every write of
-- the runner is fenced by (lease_owner, attempt). end_time is 0 while running.
CREATE TABLE audit_tasks (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    account              TEXT NOT NULL,
    region               TEXT NOT NULL,
    task_id              TEXT NOT NULL,
    task_type            TEXT NOT NULL,
    task_status          TEXT NOT NULL,
    task_start_time      BIGINT NOT NULL,
    scheduled_audit_name TEXT NOT NULL DEFAULT '',
    lease_owner          TEXT NOT NULL DEFAULT '',
    lease_expires        BIGINT NOT NULL DEFAULT 0,
    attempt              INTEGER NOT NULL DEFAULT 0,
    end_time             BIGINT NOT NULL DEFAULT 0,
    UNIQUE (account, region, task_id)
);
CREATE INDEX audit_tasks_by_time ON audit_tasks (account, region, task_start_time, seq);
CREATE INDEX audit_tasks_claimable ON audit_tasks (task_status, lease_expires, seq);

-- One row per check of a task: its run status and counts, written as the
-- check progresses so that DescribeAuditTask shows them while it runs.
CREATE TABLE audit_task_checks (
    account       TEXT NOT NULL,
    region        TEXT NOT NULL,
    task_id       TEXT NOT NULL,
    check_name    TEXT NOT NULL,
    status        TEXT NOT NULL,
    total         BIGINT NOT NULL DEFAULT 0,
    non_compliant BIGINT NOT NULL DEFAULT 0,
    suppressed    BIGINT NOT NULL DEFAULT 0,
    error_code    TEXT NOT NULL DEFAULT '',
    message       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (account, region, task_id, check_name)
);

-- Findings. The columns up to finding_time are shared with the mitigation
-- engine (see the findings contract); resource_key is the identifier in
-- canonical form (warden.ResourceIdentifier.Key), for filters.
CREATE TABLE audit_findings (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    account             TEXT NOT NULL,
    region              TEXT NOT NULL,
    finding_id          TEXT NOT NULL,
    task_id             TEXT NOT NULL,
    check_name          TEXT NOT NULL,
    severity            TEXT NOT NULL,
    resource_type       TEXT NOT NULL,
    resource_identifier TEXT NOT NULL,
    additional_info     TEXT NOT NULL DEFAULT '{}',
    related_resources   TEXT NOT NULL DEFAULT '[]',
    reason_code         TEXT NOT NULL,
    reason              TEXT NOT NULL,
    is_suppressed       INTEGER NOT NULL DEFAULT 0,
    task_start_time     BIGINT NOT NULL,
    finding_time        BIGINT NOT NULL,
    resource_key        TEXT NOT NULL DEFAULT '',
    UNIQUE (account, region, finding_id)
);
CREATE INDEX audit_findings_by_task ON audit_findings (account, region, task_id, check_name, seq);
CREATE INDEX audit_findings_by_time ON audit_findings (account, region, finding_time, seq);

-- Suppressions, keyed by check and canonical resource identifier.
-- expiration is 0 for indefinite ones; expiration_sort orders them last.
CREATE TABLE audit_suppressions (
    account              TEXT NOT NULL,
    region               TEXT NOT NULL,
    check_name           TEXT NOT NULL,
    resource_key         TEXT NOT NULL,
    resource_identifier  TEXT NOT NULL,
    expiration           BIGINT NOT NULL,
    expiration_sort      BIGINT NOT NULL,
    suppress_indefinitely INTEGER NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    client_request_token TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    PRIMARY KEY (account, region, check_name, resource_key)
);
CREATE UNIQUE INDEX audit_suppressions_by_token ON audit_suppressions (account, region, client_request_token);
CREATE INDEX audit_suppressions_by_expiration ON audit_suppressions (account, region, expiration_sort, check_name, resource_key);

-- Scheduled audits. target_checks is a JSON list; anchor is when the timing
-- last changed (occurrences are counted after it).
CREATE TABLE scheduled_audits (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    account       TEXT NOT NULL,
    region        TEXT NOT NULL,
    name          TEXT NOT NULL,
    frequency     TEXT NOT NULL,
    day_of_month  TEXT NOT NULL DEFAULT '',
    day_of_week   TEXT NOT NULL DEFAULT '',
    target_checks TEXT NOT NULL,
    anchor        BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (account, region, name)
);

-- One row per occurrence of a scheduled audit that fired, written in the
-- transaction that creates its task: the primary key makes each occurrence
-- fire once, however many runners look and however often they restart.
CREATE TABLE scheduled_audit_runs (
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    name       TEXT NOT NULL,
    occurrence BIGINT NOT NULL,
    task_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account, region, name, occurrence)
);

-- +goose Down
DROP TABLE scheduled_audit_runs;
DROP TABLE scheduled_audits;
DROP TABLE audit_suppressions;
DROP TABLE audit_findings;
DROP TABLE audit_task_checks;
DROP TABLE audit_tasks;
DROP TABLE audit_configurations;
