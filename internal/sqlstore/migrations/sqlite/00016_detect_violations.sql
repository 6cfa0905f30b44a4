-- +goose Up
-- Detect violations. One row per violation: active while end_time is 0, at
-- most one active per (profile, behaviour, thing). behavior and last_value
-- are the JSON documents of warden.Behavior and warden.MetricValue as they
-- were when the violation opened (the behaviour) and last violated. Times
-- are epoch milliseconds. criteria_type and suppressed are the behaviour's,
-- kept for the list filters.
CREATE TABLE detect_violations (
    seq                      INTEGER PRIMARY KEY AUTOINCREMENT,
    account                  TEXT NOT NULL,
    region                   TEXT NOT NULL,
    violation_id             TEXT NOT NULL,
    thing_name               TEXT NOT NULL,
    profile_name             TEXT NOT NULL,
    behavior_name            TEXT NOT NULL,
    behavior                 TEXT NOT NULL,
    criteria_type            TEXT NOT NULL,
    suppressed               INTEGER NOT NULL DEFAULT 0,
    last_value               TEXT NOT NULL DEFAULT '',
    verification_state       TEXT NOT NULL DEFAULT 'UNKNOWN',
    verification_description TEXT NOT NULL DEFAULT '',
    start_time               BIGINT NOT NULL,
    last_violation_time      BIGINT NOT NULL,
    end_time                 BIGINT NOT NULL DEFAULT 0,
    UNIQUE (account, region, violation_id)
);
CREATE UNIQUE INDEX detect_violations_active ON detect_violations (account, region, profile_name, behavior_name, thing_name) WHERE end_time = 0;
CREATE INDEX detect_violations_by_thing ON detect_violations (account, region, thing_name, seq);
CREATE INDEX detect_violations_by_profile ON detect_violations (account, region, profile_name, seq);
CREATE INDEX detect_violations_prune ON detect_violations (last_violation_time);

-- One row per violation event, in the order written; the verification state
-- is its violation's, copied so that events outlive their violation's row.
CREATE TABLE detect_violation_events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    account       TEXT NOT NULL,
    region        TEXT NOT NULL,
    violation_id  TEXT NOT NULL,
    thing_name    TEXT NOT NULL,
    profile_name  TEXT NOT NULL,
    behavior      TEXT NOT NULL,
    criteria_type TEXT NOT NULL,
    suppressed    INTEGER NOT NULL DEFAULT 0,
    event_type    TEXT NOT NULL,
    metric_value  TEXT NOT NULL DEFAULT '',
    verification_state       TEXT NOT NULL DEFAULT 'UNKNOWN',
    verification_description TEXT NOT NULL DEFAULT '',
    event_time    BIGINT NOT NULL
);
CREATE INDEX detect_violation_events_by_time ON detect_violation_events (account, region, event_time, seq);
CREATE INDEX detect_violation_events_by_violation ON detect_violation_events (account, region, violation_id, seq);

-- Metric datapoints per device (thing name, or client id of an unregistered
-- device): value is the JSON of warden.MetricValue.
CREATE TABLE detect_metric_values (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    account            TEXT NOT NULL,
    region             TEXT NOT NULL,
    thing_name         TEXT NOT NULL,
    metric             TEXT NOT NULL,
    dimension_name     TEXT NOT NULL DEFAULT '',
    dimension_operator TEXT NOT NULL DEFAULT '',
    at                 BIGINT NOT NULL,
    value              TEXT NOT NULL
);
CREATE INDEX detect_metric_values_by_thing ON detect_metric_values (account, region, thing_name, metric, dimension_name, at);
CREATE INDEX detect_metric_values_prune ON detect_metric_values (at);

-- +goose Down
DROP TABLE detect_metric_values;
DROP TABLE detect_violation_events;
DROP TABLE detect_violations;
