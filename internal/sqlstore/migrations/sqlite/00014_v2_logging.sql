-- +goose Up
-- SetV2LoggingLevel: one level per target (thing group, client id, source IP
-- or principal) of an account and region. seq orders ListV2LoggingLevels.
CREATE TABLE logging_levels_v2 (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    account     TEXT NOT NULL,
    region      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_name TEXT NOT NULL,
    log_level   TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (account, region, target_type, target_name)
);
CREATE INDEX logging_levels_v2_by_scope ON logging_levels_v2 (account, region, seq);

-- Data-plane log entries that the V2 logging levels let through, as AWS
-- log-entry JSON documents, for `warden logs tail` on any node. Pruned by
-- age and by a row cap per account and region.
CREATE TABLE v2_log_entries (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    at      BIGINT NOT NULL,
    entry   TEXT NOT NULL
);
CREATE INDEX v2_log_entries_by_scope ON v2_log_entries (account, region, seq);
CREATE INDEX v2_log_entries_by_time ON v2_log_entries (at);

-- +goose Down
DROP TABLE v2_log_entries;
DROP TABLE logging_levels_v2;
