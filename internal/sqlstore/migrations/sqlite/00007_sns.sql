-- +goose Up
-- SNS-compatible topics, their HTTP(S) subscriptions, the last messages of
-- each topic, and the outbox of deliveries the deliverer sends.
CREATE TABLE sns_topics (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    account    TEXT NOT NULL,
    region     TEXT NOT NULL,
    name       TEXT NOT NULL,
    attributes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (account, region, name)
);

CREATE TABLE sns_subscriptions (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    account          TEXT NOT NULL,
    region           TEXT NOT NULL,
    topic            TEXT NOT NULL,
    arn              TEXT NOT NULL UNIQUE,
    protocol         TEXT NOT NULL,
    endpoint         TEXT NOT NULL,
    owner            TEXT NOT NULL,
    status           TEXT NOT NULL,
    token            TEXT NOT NULL,
    token_expires    BIGINT NOT NULL,
    auth_unsubscribe INTEGER NOT NULL,
    attributes       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    UNIQUE (account, region, topic, protocol, endpoint)
);
CREATE INDEX sns_subscriptions_by_topic ON sns_subscriptions (account, region, topic, status);
CREATE INDEX sns_subscriptions_by_token ON sns_subscriptions (token);

-- A message stays while it is among its topic's last 100 or a delivery row
-- still refers to it.
CREATE TABLE sns_messages (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    account      TEXT NOT NULL,
    region       TEXT NOT NULL,
    topic        TEXT NOT NULL,
    subject      TEXT NOT NULL,
    message      TEXT NOT NULL,
    structure    TEXT NOT NULL,
    attributes   TEXT NOT NULL,
    fanout       INTEGER NOT NULL,
    published_at BIGINT NOT NULL
);
CREATE INDEX sns_messages_by_topic ON sns_messages (account, region, topic, seq);

-- The outbox: one row per message and subscription until it is delivered
-- (then deleted) or has failed for good (then kept with status 'failed').
CREATE TABLE sns_deliveries (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    account          TEXT NOT NULL,
    region           TEXT NOT NULL,
    topic            TEXT NOT NULL,
    kind             TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    subscription_arn TEXT NOT NULL,
    endpoint         TEXT NOT NULL,
    token            TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempt          INTEGER NOT NULL,
    next_at          BIGINT NOT NULL,
    lease_owner      TEXT NOT NULL,
    lease_expires    BIGINT NOT NULL,
    last_error       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    UNIQUE (message_id, subscription_arn)
);
CREATE INDEX sns_deliveries_due ON sns_deliveries (status, next_at);
CREATE INDEX sns_deliveries_leased ON sns_deliveries (status, lease_expires, subscription_arn);
CREATE INDEX sns_deliveries_by_subscription ON sns_deliveries (subscription_arn, status, next_at, seq);
CREATE INDEX sns_deliveries_pending_subscriptions ON sns_deliveries (status, subscription_arn);
CREATE INDEX sns_deliveries_by_topic ON sns_deliveries (account, region, topic, status);

-- +goose Down
DROP TABLE sns_deliveries;
DROP TABLE sns_messages;
DROP TABLE sns_subscriptions;
DROP TABLE sns_topics;
