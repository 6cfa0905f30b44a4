-- +goose Up
-- Fewer b-tree pages per thing write (SQLite appends every page a commit
-- changes to the WAL, so pages are most of a small write's cost):
-- - things is keyed by its name: one b-tree instead of a rowid table plus a
--   unique index (nothing used the seq);
-- - the type index holds only typed things, so an untyped thing is not in it;
-- - on SQLite, change_log numbers its rows without AUTOINCREMENT: rows are
--   never deleted, so the next seq is still always past every earlier one,
--   and commits no longer rewrite the sqlite_sequence page. PostgreSQL keeps
--   its identity column (lines marked "sqlite only" are not run there);
-- - so does mitigation_actions: its seq only orders the list newest first,
--   and a deleted newest action's seq given to the next one keeps that order
--   (a client paging with seq < cursor neither skips nor repeats an action);
-- - change_log has no index by resource: every registry write put a row in
--   a leaf of it chosen by the resource's ARN, about a quarter of a thing
--   write's store time, for the sake of `warden history --resource`, which
--   now scans the log instead (see changelog.go).
-- Each table is rebuilt through a temporary copy: SQLite re-reads the whole
-- schema for an ALTER TABLE … RENAME, which made opening a new store slower.
CREATE TEMP TABLE things_copy AS SELECT * FROM things;
DROP TABLE things;
CREATE TABLE things (
    account         TEXT NOT NULL,
    region          TEXT NOT NULL,
    name            TEXT NOT NULL,
    id              TEXT NOT NULL,
    thing_type_name TEXT NOT NULL DEFAULT '',
    attributes      TEXT NOT NULL DEFAULT '{}',
    version         BIGINT NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (account, region, name)
) WITHOUT ROWID;
INSERT INTO things (account, region, name, id, thing_type_name, attributes, version, created_at, updated_at)
    SELECT account, region, name, id, thing_type_name, attributes, version, created_at, updated_at FROM things_copy;
DROP TABLE things_copy;
CREATE INDEX things_by_type ON things (account, region, thing_type_name, name) WHERE thing_type_name <> '';

CREATE TEMP TABLE change_log_copy AS SELECT * FROM change_log; -- sqlite only
DROP TABLE change_log; -- sqlite only
CREATE TABLE change_log ( -- sqlite only
    seq          INTEGER PRIMARY KEY, -- sqlite only
    account      TEXT NOT NULL, -- sqlite only
    region       TEXT NOT NULL, -- sqlite only
    resource_arn TEXT NOT NULL, -- sqlite only
    operation    TEXT NOT NULL, -- sqlite only
    before_doc   TEXT NOT NULL, -- sqlite only
    after_doc    TEXT NOT NULL, -- sqlite only
    actor        TEXT NOT NULL, -- sqlite only
    at           BIGINT NOT NULL -- sqlite only
); -- sqlite only
INSERT INTO change_log SELECT seq, account, region, resource_arn, operation, before_doc, after_doc, actor, at FROM change_log_copy; -- sqlite only
DROP TABLE change_log_copy; -- sqlite only
DROP INDEX IF EXISTS change_log_by_resource;

CREATE TEMP TABLE mitigation_actions_copy AS SELECT * FROM mitigation_actions; -- sqlite only
DROP TABLE mitigation_actions; -- sqlite only
CREATE TABLE mitigation_actions ( -- sqlite only
    seq         INTEGER PRIMARY KEY, -- sqlite only
    account     TEXT NOT NULL, -- sqlite only
    region      TEXT NOT NULL, -- sqlite only
    name        TEXT NOT NULL, -- sqlite only
    id          TEXT NOT NULL, -- sqlite only
    action_type TEXT NOT NULL, -- sqlite only
    role_arn    TEXT NOT NULL, -- sqlite only
    params      TEXT NOT NULL, -- sqlite only
    created_at  BIGINT NOT NULL, -- sqlite only
    updated_at  BIGINT NOT NULL, -- sqlite only
    UNIQUE (account, region, name) -- sqlite only
); -- sqlite only
INSERT INTO mitigation_actions SELECT seq, account, region, name, id, action_type, role_arn, params, created_at, updated_at FROM mitigation_actions_copy; -- sqlite only
DROP TABLE mitigation_actions_copy; -- sqlite only
CREATE INDEX mitigation_actions_by_scope ON mitigation_actions (account, region, seq); -- sqlite only

-- +goose Down
CREATE TABLE things_with_seq (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    account         TEXT NOT NULL,
    region          TEXT NOT NULL,
    name            TEXT NOT NULL,
    id              TEXT NOT NULL,
    thing_type_name TEXT NOT NULL DEFAULT '',
    attributes      TEXT NOT NULL DEFAULT '{}',
    version         BIGINT NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (account, region, name)
);
INSERT INTO things_with_seq (account, region, name, id, thing_type_name, attributes, version, created_at, updated_at)
    SELECT account, region, name, id, thing_type_name, attributes, version, created_at, updated_at FROM things ORDER BY created_at, name;
DROP TABLE things;
ALTER TABLE things_with_seq RENAME TO things;
CREATE INDEX things_by_type ON things (account, region, thing_type_name, name);

CREATE TABLE change_log_autoincrement ( -- sqlite only
    seq          INTEGER PRIMARY KEY AUTOINCREMENT, -- sqlite only
    account      TEXT NOT NULL, -- sqlite only
    region       TEXT NOT NULL, -- sqlite only
    resource_arn TEXT NOT NULL, -- sqlite only
    operation    TEXT NOT NULL, -- sqlite only
    before_doc   TEXT NOT NULL, -- sqlite only
    after_doc    TEXT NOT NULL, -- sqlite only
    actor        TEXT NOT NULL, -- sqlite only
    at           BIGINT NOT NULL -- sqlite only
); -- sqlite only
INSERT INTO change_log_autoincrement SELECT seq, account, region, resource_arn, operation, before_doc, after_doc, actor, at FROM change_log; -- sqlite only
DROP TABLE change_log; -- sqlite only
ALTER TABLE change_log_autoincrement RENAME TO change_log; -- sqlite only
CREATE INDEX change_log_by_resource ON change_log (resource_arn, seq);

CREATE TABLE mitigation_actions_autoincrement ( -- sqlite only
    seq         INTEGER PRIMARY KEY AUTOINCREMENT, -- sqlite only
    account     TEXT NOT NULL, -- sqlite only
    region      TEXT NOT NULL, -- sqlite only
    name        TEXT NOT NULL, -- sqlite only
    id          TEXT NOT NULL, -- sqlite only
    action_type TEXT NOT NULL, -- sqlite only
    role_arn    TEXT NOT NULL, -- sqlite only
    params      TEXT NOT NULL, -- sqlite only
    created_at  BIGINT NOT NULL, -- sqlite only
    updated_at  BIGINT NOT NULL, -- sqlite only
    UNIQUE (account, region, name) -- sqlite only
); -- sqlite only
INSERT INTO mitigation_actions_autoincrement SELECT seq, account, region, name, id, action_type, role_arn, params, created_at, updated_at FROM mitigation_actions; -- sqlite only
DROP TABLE mitigation_actions; -- sqlite only
ALTER TABLE mitigation_actions_autoincrement RENAME TO mitigation_actions; -- sqlite only
CREATE INDEX mitigation_actions_by_scope ON mitigation_actions (account, region, seq); -- sqlite only
