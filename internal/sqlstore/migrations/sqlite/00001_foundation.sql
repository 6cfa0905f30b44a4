-- +goose Up
CREATE TABLE access_keys (
    id         TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    account    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE mitigation_actions (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    account     TEXT NOT NULL,
    region      TEXT NOT NULL,
    name        TEXT NOT NULL,
    id          TEXT NOT NULL,
    action_type TEXT NOT NULL,
    role_arn    TEXT NOT NULL,
    params      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (account, region, name)
);
CREATE INDEX mitigation_actions_by_scope ON mitigation_actions (account, region, seq);

CREATE TABLE tags (
    account      TEXT NOT NULL,
    region       TEXT NOT NULL,
    resource_arn TEXT NOT NULL,
    tag_key      TEXT NOT NULL,
    tag_value    TEXT NOT NULL,
    PRIMARY KEY (account, region, resource_arn, tag_key)
);

-- +goose Down
DROP TABLE tags;
DROP TABLE mitigation_actions;
DROP TABLE server_secrets;
DROP TABLE access_keys;
