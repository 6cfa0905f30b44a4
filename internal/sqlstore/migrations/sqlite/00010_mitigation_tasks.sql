-- +goose Up
-- Audit mitigation actions tasks. The task row keeps everything the task was
-- started with, including a copy of its actions (actions: JSON list of
-- {name, id, roleArn, actionParams}), so that later edits of the actions
-- change neither running nor past tasks. For an auditTaskId target the engine
-- fans the audit's findings out in chunks: fanout_check indexes the mapping's
-- checks in name order, fanout_after is the last audit_findings.seq of that
-- check done, and findings after fanout_max_seq (the audit's last finding when
-- the task started) are not part of the task. end_time is 0 while running.
CREATE TABLE mitigation_tasks (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    account              TEXT NOT NULL,
    region               TEXT NOT NULL,
    task_id              TEXT NOT NULL,
    client_request_token TEXT NOT NULL,
    status               TEXT NOT NULL,
    target               TEXT NOT NULL,
    audit_task_id        TEXT NOT NULL DEFAULT '',
    mapping              TEXT NOT NULL,
    actions              TEXT NOT NULL,
    fanout_done          INTEGER NOT NULL DEFAULT 0,
    fanout_check         INTEGER NOT NULL DEFAULT 0,
    fanout_after         BIGINT NOT NULL DEFAULT 0,
    fanout_max_seq       BIGINT NOT NULL DEFAULT 0,
    start_time           BIGINT NOT NULL,
    end_time             BIGINT NOT NULL DEFAULT 0,
    UNIQUE (account, region, task_id)
);
CREATE INDEX mitigation_tasks_by_scope ON mitigation_tasks (account, region, seq);
CREATE INDEX mitigation_tasks_by_token ON mitigation_tasks (account, region, client_request_token);
CREATE INDEX mitigation_tasks_by_status ON mitigation_tasks (account, region, status);
CREATE INDEX mitigation_tasks_fanout ON mitigation_tasks (seq) WHERE fanout_done = 0;

-- Findings per check of a task's mapping, kept in the transactions that fan
-- out, finish, or cancel findings, so that DescribeAuditMitigationActionsTask
-- reads a handful of rows however large the task.
CREATE TABLE mitigation_task_stats (
    task_seq  BIGINT NOT NULL,
    check_name TEXT NOT NULL,
    total     BIGINT NOT NULL DEFAULT 0,
    succeeded BIGINT NOT NULL DEFAULT 0,
    failed    BIGINT NOT NULL DEFAULT 0,
    skipped   BIGINT NOT NULL DEFAULT 0,
    canceled  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (task_seq, check_name)
);

-- One row per (finding, action): the queue. action_index is the action's
-- place in the finding's check's list (its name and id come from the task).
-- A finding's executions are claimed together (lease_owner, lease_expires,
-- attempt + 1; the API shows a PENDING row with a lease_owner as
-- IN_PROGRESS, so a claim writes no index) and completed together in one
-- transaction fenced by (lease_owner, attempt). start_time is the claim time.
CREATE TABLE mitigation_executions (
    task_seq      BIGINT NOT NULL,
    finding_seq   BIGINT NOT NULL,
    action_index  INTEGER NOT NULL,
    finding_id    TEXT NOT NULL,
    check_name    TEXT NOT NULL,
    status        TEXT NOT NULL,
    start_time    BIGINT NOT NULL DEFAULT 0,
    end_time      BIGINT NOT NULL DEFAULT 0,
    error_code    TEXT NOT NULL DEFAULT '',
    message       TEXT NOT NULL DEFAULT '',
    lease_owner   TEXT NOT NULL DEFAULT '',
    lease_expires BIGINT NOT NULL DEFAULT 0,
    attempt       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task_seq, finding_seq, action_index)
);
-- The findings not yet done, one entry each, in claim order.
CREATE INDEX mitigation_executions_open ON mitigation_executions (task_seq, finding_seq)
    WHERE action_index = 0 AND status = 'PENDING';

-- +goose Down
DROP TABLE mitigation_executions;
DROP TABLE mitigation_task_stats;
DROP TABLE mitigation_tasks;
