-- +goose Up
-- Detect custom metrics and dimensions. client_token is the create
-- request's clientRequestToken, kept so that a retry returns the stored
-- resource. string_values is the JSON array of the dimension's topic
-- filters. Times are epoch milliseconds.
CREATE TABLE custom_metrics (
    account      TEXT NOT NULL,
    region       TEXT NOT NULL,
    name         TEXT NOT NULL,
    metric_type  TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    client_token TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (account, region, name)
);

CREATE TABLE dimensions (
    account        TEXT NOT NULL,
    region         TEXT NOT NULL,
    name           TEXT NOT NULL,
    dimension_type TEXT NOT NULL,
    string_values  TEXT NOT NULL,
    client_token   TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (account, region, name)
);

-- +goose Down
DROP TABLE dimensions;
DROP TABLE custom_metrics;
