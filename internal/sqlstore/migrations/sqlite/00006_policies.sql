-- +goose Up
-- IoT policies. default_version names the operative row of policy_versions;
-- next_version counts up so that version ids are never reused, even after
-- DeletePolicyVersion. generation_id changes on every change of the policy.
CREATE TABLE policies (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    account         TEXT NOT NULL,
    region          TEXT NOT NULL,
    name            TEXT NOT NULL,
    default_version BIGINT NOT NULL,
    next_version    BIGINT NOT NULL,
    generation_id   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (account, region, name)
);
CREATE INDEX policies_by_scope ON policies (account, region, seq);

-- At most 5 per policy (warden.MaxPolicyVersions). updated_at moves when the
-- version becomes or stops being the default.
CREATE TABLE policy_versions (
    account     TEXT NOT NULL,
    region      TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    version     BIGINT NOT NULL,
    document    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (account, region, policy_name, version)
);

-- SetV2LoggingOptions, one row per account and region once set. Empty strings
-- are members the caller left out.
CREATE TABLE logging_options_v2 (
    account           TEXT NOT NULL,
    region            TEXT NOT NULL,
    role_arn          TEXT NOT NULL,
    default_log_level TEXT NOT NULL,
    disable_all_logs  BOOLEAN NOT NULL,
    updated_at        BIGINT NOT NULL,
    PRIMARY KEY (account, region)
);

-- SetLoggingOptions (V1).
CREATE TABLE logging_options_v1 (
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    role_arn   TEXT NOT NULL,
    log_level  TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account, region)
);

-- +goose Down
DROP TABLE logging_options_v1;
DROP TABLE logging_options_v2;
DROP TABLE policy_versions;
DROP TABLE policies;
