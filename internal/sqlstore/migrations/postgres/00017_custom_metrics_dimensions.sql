-- +goose Up
-- Detect custom metrics and dimensions. client_token is the create
-- request's clientRequestToken, kept so that a retry returns the stored
-- resource. string_values is the JSON array of the dimension's topic
-- filters. Times are epoch milliseconds.
CREATE TABLE custom_metrics (
    account      TEXT COLLATE "C" NOT NULL,
    region       TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    metric_type  TEXT COLLATE "C" NOT NULL,
    display_name TEXT COLLATE "C" NOT NULL DEFAULT '',
    client_token TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (account, region, name)
);

CREATE TABLE dimensions (
    account        TEXT COLLATE "C" NOT NULL,
    region         TEXT COLLATE "C" NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    dimension_type TEXT COLLATE "C" NOT NULL,
    string_values  TEXT COLLATE "C" NOT NULL,
    client_token   TEXT COLLATE "C" NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (account, region, name)
);

-- +goose Down
DROP TABLE dimensions;
DROP TABLE custom_metrics;
