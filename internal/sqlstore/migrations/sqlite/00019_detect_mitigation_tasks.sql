-- +goose Up
-- Detect mitigation actions tasks. The row keeps what the task was started
-- with, including a copy of its actions (actions: JSON list of {name, id,
-- roleArn, actionParams}). Its executions are all created when it starts;
-- pending counts those not yet done, and executed, skipped and failed are
-- taskStatistics, kept in the transactions that end executions. Times are
-- epoch milliseconds; end_time and the occurrence bounds are 0 when unset.
CREATE TABLE detect_mitigation_tasks (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    account              TEXT NOT NULL,
    region               TEXT NOT NULL,
    task_id              TEXT NOT NULL,
    client_request_token TEXT NOT NULL,
    status               TEXT NOT NULL,
    target               TEXT NOT NULL,
    occurrence_start     BIGINT NOT NULL DEFAULT 0,
    occurrence_end       BIGINT NOT NULL DEFAULT 0,
    only_active          INTEGER NOT NULL DEFAULT 0,
    include_suppressed   INTEGER NOT NULL DEFAULT 0,
    actions              TEXT NOT NULL,
    pending              BIGINT NOT NULL DEFAULT 0,
    executed             BIGINT NOT NULL DEFAULT 0,
    skipped              BIGINT NOT NULL DEFAULT 0,
    failed               BIGINT NOT NULL DEFAULT 0,
    start_time           BIGINT NOT NULL,
    end_time             BIGINT NOT NULL DEFAULT 0,
    UNIQUE (account, region, task_id)
);
CREATE INDEX detect_mitigation_tasks_by_token ON detect_mitigation_tasks (account, region, client_request_token);
CREATE INDEX detect_mitigation_tasks_by_start ON detect_mitigation_tasks (account, region, start_time);

-- One row per (violation, action) of a task: the queue. action_index is the
-- action's place in the task's list. IN_PROGRESS rows are the pending ones;
-- the engine applies each in the transaction that records its outcome.
CREATE TABLE detect_mitigation_executions (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    task_seq     BIGINT NOT NULL,
    account      TEXT NOT NULL,
    region       TEXT NOT NULL,
    task_id      TEXT NOT NULL,
    violation_id TEXT NOT NULL,
    action_index INTEGER NOT NULL,
    action_name  TEXT NOT NULL,
    thing_name   TEXT NOT NULL,
    status       TEXT NOT NULL,
    start_time   BIGINT NOT NULL,
    end_time     BIGINT NOT NULL DEFAULT 0,
    error_code   TEXT NOT NULL DEFAULT '',
    message      TEXT NOT NULL DEFAULT '',
    UNIQUE (task_seq, violation_id, action_index)
);
CREATE INDEX detect_mitigation_executions_pending ON detect_mitigation_executions (seq) WHERE status = 'IN_PROGRESS';
CREATE INDEX detect_mitigation_executions_by_task ON detect_mitigation_executions (task_seq, seq);
CREATE INDEX detect_mitigation_executions_by_start ON detect_mitigation_executions (account, region, start_time, seq);

-- +goose Down
DROP TABLE detect_mitigation_executions;
DROP TABLE detect_mitigation_tasks;
