-- +goose Up
-- The connection log of the device endpoint: one row per connect attempt,
-- closed by its session's disconnect. Times are epoch milliseconds;
-- disconnected_at is NULL while the session is open (a failed attempt is
-- closed at its attempt time). last_at is the row's last event (the
-- disconnect, else the connect): pruning deletes by it.
CREATE TABLE connection_log (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    account           TEXT NOT NULL,
    region            TEXT NOT NULL,
    session_id        TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    certificate_id    TEXT NOT NULL,
    thing_name        TEXT NOT NULL DEFAULT '',
    source_ip         TEXT NOT NULL DEFAULT '',
    source_port       INTEGER NOT NULL DEFAULT 0,
    connected_at      BIGINT NOT NULL,
    disconnected_at   BIGINT,
    last_at           BIGINT NOT NULL,
    result            TEXT NOT NULL,
    reason            TEXT NOT NULL DEFAULT '',
    disconnect_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX connection_log_by_time ON connection_log (account, region, connected_at, seq);
CREATE INDEX connection_log_by_certificate ON connection_log (account, region, certificate_id, connected_at);
CREATE INDEX connection_log_by_client ON connection_log (account, region, client_id, connected_at);
CREATE INDEX connection_log_open ON connection_log (account, region, session_id) WHERE disconnected_at IS NULL;
CREATE INDEX connection_log_prune ON connection_log (last_at, seq);

-- +goose Down
DROP TABLE connection_log;
