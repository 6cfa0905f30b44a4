-- +goose Up
-- IAM roles and their inline policies. IAM is global: rows are scoped by
-- account only. Names are unique without regard to case: name_key is the
-- lower-cased name, name keeps the case it was created with.
CREATE TABLE iam_roles (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    account              TEXT NOT NULL,
    name_key             TEXT NOT NULL,
    name                 TEXT NOT NULL,
    path                 TEXT NOT NULL,
    id                   TEXT NOT NULL UNIQUE,
    trust_policy         TEXT NOT NULL,
    description          TEXT NOT NULL,
    max_session_duration INTEGER NOT NULL,
    tags                 TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    UNIQUE (account, name_key)
);

CREATE TABLE iam_role_policies (
    account    TEXT NOT NULL,
    role_key   TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    name       TEXT NOT NULL,
    document   TEXT NOT NULL,
    chars      INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account, role_key, name_key)
);

-- +goose Down
DROP TABLE iam_role_policies;
DROP TABLE iam_roles;
