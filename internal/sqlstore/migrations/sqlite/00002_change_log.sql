-- +goose Up
CREATE TABLE change_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    account      TEXT NOT NULL,
    region       TEXT NOT NULL,
    resource_arn TEXT NOT NULL,
    operation    TEXT NOT NULL,
    before_doc   TEXT NOT NULL,
    after_doc    TEXT NOT NULL,
    actor        TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX change_log_by_resource ON change_log (resource_arn, seq);

-- +goose Down
DROP TABLE change_log;
