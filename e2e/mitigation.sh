#!/usr/bin/env bash
# End-to-end story of audit mitigation with the real aws CLI (Debian's awscli
# 2.9.19 at /usr/bin/aws): a device certificate close to expiry, an audit that
# finds it, a mitigation actions task that deactivates it and quarantines its
# thing — then the task's rules (idempotency, cancel, lists) and a restart.
#
#   bash e2e/mitigation.sh
#
# Prints one line per check ("ok - ..." / "not ok - ...") and ends with
# "N passed, M failed"; exits non-zero if any check failed. KEEP_TMP=1 keeps
# the temp dir (server logs, data dir).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROLE=arn:aws:iam::$ACCOUNT:role/MitigationActionsValidRole

arn_of() { echo "arn:aws:iot:$REGION:${2:-$ACCOUNT}:mitigationaction/$1"; }

CHECK=DEVICE_CERTIFICATE_EXPIRING_CHECK

iso() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

# ---------------------------------------------------------------- build + start
build_warden
start_server server1 || bail "warden serve starts and answers on $endpoint"
read_keys "$tmp/server1.out" || bail "first start prints credentials"

# ---------------------------------------------------------------- the fleet
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 10 \
	-subj /CN=expiring-device -keyout "$tmp/expiring.key" -out "$tmp/expiring.pem" 2>/dev/null ||
	bail "openssl makes a certificate"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 400 \
	-subj /CN=healthy-device -keyout "$tmp/healthy.key" -out "$tmp/healthy.pem" 2>/dev/null ||
	bail "openssl makes a certificate"
expect_ok "register a device certificate that expires in 10 days" \
	register-certificate-without-ca --certificate-pem "file://$tmp/expiring.pem" --status ACTIVE
expiring=$(jq -r .certificateId <<<"$out")
expect_ok "register a healthy device certificate" \
	register-certificate-without-ca --certificate-pem "file://$tmp/healthy.pem" --status ACTIVE
healthy=$(jq -r .certificateId <<<"$out")
expiring_arn=arn:aws:iot:$REGION:$ACCOUNT:cert/$expiring
expect_ok "create the device's thing" create-thing --thing-name sensor-1
expect_ok "attach the expiring certificate to it" \
	attach-thing-principal --thing-name sensor-1 --principal "$expiring_arn"
expect_ok "create a quarantine group" create-thing-group --thing-group-name quarantine

# ---------------------------------------------------------------- audit → finding
expect_ok "enable $CHECK" update-account-audit-configuration --role-arn "$ROLE" \
	--audit-check-configurations "{\"$CHECK\":{\"enabled\":true}}"
expect_ok "start an on-demand audit" start-on-demand-audit-task --target-check-names "$CHECK"
audit=$(jq -r .taskId <<<"$out")
wait_for "the audit completes" '.taskStatus == "COMPLETED"' describe-audit-task --task-id "$audit" ||
	bail "no audit, no finding"
expect_ok "list the audit's findings" list-audit-findings --task-id "$audit"
expect_jq "exactly one finding: the expiring certificate" \
	'[.findings[] | select(.checkName == $check)] | length == 1 and .[0].nonCompliantResource.resourceIdentifier.deviceCertificateId == $cert' \
	--arg check "$CHECK" --arg cert "$expiring"
finding=$(jq -r --arg check "$CHECK" '[.findings[] | select(.checkName == $check)][0].findingId' <<<"$out")

# ---------------------------------------------------------------- mitigation task
expect_ok "create a deactivate action" create-mitigation-action --action-name deactivate --role-arn "$ROLE" \
	--action-params '{"updateDeviceCertificateParams":{"action":"DEACTIVATE"}}'
expect_ok "create a quarantine action" create-mitigation-action --action-name quarantine --role-arn "$ROLE" \
	--action-params '{"addThingsToThingGroupParams":{"thingGroupNames":["quarantine"]}}'
expect_ok "create a logging action" create-mitigation-action --action-name logs --role-arn "$ROLE" \
	--action-params "{\"enableIoTLoggingParams\":{\"roleArnForLogging\":\"$ROLE\",\"logLevel\":\"WARN\"}}"
mapping="{\"$CHECK\":[\"deactivate\",\"quarantine\"]}"
expect_error "an action that does not suit the check is rejected" InvalidRequestException \
	start-audit-mitigation-actions-task --task-id bad --target "auditTaskId=$audit" \
	--audit-check-to-actions-mapping "{\"$CHECK\":[\"logs\"]}"
expect_error "an unknown action is rejected" InvalidRequestException \
	start-audit-mitigation-actions-task --task-id bad --target "auditTaskId=$audit" \
	--audit-check-to-actions-mapping "{\"$CHECK\":[\"nope\"]}"
expect_error "an unknown finding is rejected" InvalidRequestException \
	start-audit-mitigation-actions-task --task-id bad --target findingIds=no-such-finding \
	--audit-check-to-actions-mapping "$mapping"
expect_ok "start a mitigation task on the audit" start-audit-mitigation-actions-task --task-id e2e-task \
	--target "auditTaskId=$audit" --audit-check-to-actions-mapping "$mapping" --client-request-token e2e-token-1
expect_jq "it answers with the task id" '.taskId == "e2e-task"'
expect_ok "the same start again (an SDK retry) is the same task" start-audit-mitigation-actions-task --task-id e2e-task \
	--target "auditTaskId=$audit" --audit-check-to-actions-mapping "$mapping" --client-request-token e2e-token-1
expect_jq "  with the same task id" '.taskId == "e2e-task"'
expect_error "the same task id with another token" TaskAlreadyExistsException \
	start-audit-mitigation-actions-task --task-id e2e-task \
	--target "auditTaskId=$audit" --audit-check-to-actions-mapping "$mapping" --client-request-token e2e-token-2
wait_for "the task completes" '.taskStatus == "COMPLETED"' describe-audit-mitigation-actions-task --task-id e2e-task ||
	bail "the task did not complete"
expect_jq "statistics: one finding, succeeded" \
	'.taskStatistics[$check] == {"totalFindingsCount":1,"failedFindingsCount":0,"succeededFindingsCount":1,"skippedFindingsCount":0,"canceledFindingsCount":0}' \
	--arg check "$CHECK"
expect_jq "target, mapping and the actions as they were" \
	'.target.auditTaskId == $audit and .auditCheckToActionsMapping[$check] == ["deactivate","quarantine"] and
	 ([.actionsDefinition[].name] | sort) == ["deactivate","quarantine"] and (.endTime >= .startTime)' \
	--arg audit "$audit" --arg check "$CHECK"

# ---------------------------------------------------------------- the effects
expect_ok "describe the expiring certificate" describe-certificate --certificate-id "$expiring"
expect_jq "it is INACTIVE" '.certificateDescription.status == "INACTIVE"'
expect_ok "describe the healthy certificate" describe-certificate --certificate-id "$healthy"
expect_jq "it is still ACTIVE" '.certificateDescription.status == "ACTIVE"'
expect_ok "list the thing's groups" list-thing-groups-for-thing --thing-name sensor-1
expect_jq "the thing is in quarantine" '[.thingGroups[].groupName] == ["quarantine"]'
expect_ok "list the finding's executions" list-audit-mitigation-actions-executions --task-id e2e-task --finding-id "$finding"
expect_jq "both actions COMPLETED, in order" \
	'[.actionsExecutions[] | [.actionName, .status]] == [["deactivate","COMPLETED"],["quarantine","COMPLETED"]]'
expect_jq "with start and end times and no error" '[.actionsExecutions[] | (.startTime != null and .endTime != null and .errorCode == null)] | all'
expect_ok "list the failed executions" list-audit-mitigation-actions-executions --task-id e2e-task --finding-id "$finding" --action-status FAILED
expect_jq "none" '.actionsExecutions == []'
# The whole history first: grep -q on a pipe would stop reading early and
# kill the writer with SIGPIPE, failing the pipeline under pipefail.
history=$("$tmp/warden" history --data-dir "$data" 2>"$tmp/history.err" || true)
if grep -q "execution:e2e-task/$finding/deactivate" <<<"$history"; then
	ok "warden history shows the certificate change by execution:e2e-task/$finding/deactivate"
else
	not_ok "warden history shows the certificate change by execution:e2e-task/$finding/deactivate"
fi

# ---------------------------------------------------------------- lists and cancel
expect_ok "list tasks of the last hour" list-audit-mitigation-actions-tasks \
	--start-time "$(iso '-1 hour')" --end-time "$(iso '+1 hour')"
expect_jq "the task is listed as COMPLETED" '[.tasks[] | select(.taskId == "e2e-task") | .taskStatus] == ["COMPLETED"]'
expect_ok "list tasks of the audit" list-audit-mitigation-actions-tasks --audit-task-id "$audit" \
	--start-time "$(iso '-1 hour')" --end-time "$(iso '+1 hour')"
expect_jq "the task is listed" '[.tasks[].taskId] == ["e2e-task"]'
expect_ok "list tasks of the finding" list-audit-mitigation-actions-tasks --finding-id "$finding" \
	--start-time "$(iso '-1 hour')" --end-time "$(iso '+1 hour')"
expect_jq "the task is listed" '[.tasks[].taskId] == ["e2e-task"]'
expect_error "a startTime older than 90 days" InvalidRequestException list-audit-mitigation-actions-tasks \
	--start-time "$(iso '-91 days')" --end-time "$(iso 'now')"
expect_error "cancel a completed task" InvalidRequestException cancel-audit-mitigation-actions-task --task-id e2e-task
expect_error "cancel an unknown task" ResourceNotFoundException cancel-audit-mitigation-actions-task --task-id nope
expect_error "describe an unknown task" ResourceNotFoundException describe-audit-mitigation-actions-task --task-id nope

# A task on the finding by id after a restart, canceled at once: the engine
# and the cancel race, and either way the task ends consistent.
expect_ok "reactivate the certificate" update-certificate --certificate-id "$expiring" --new-status ACTIVE
stop_server
start_server server2 || bail "warden restarts"
expect_ok "start a task by finding id" start-audit-mitigation-actions-task --task-id by-id \
	--target "findingIds=$finding" --audit-check-to-actions-mapping "{\"$CHECK\":[\"deactivate\"]}"
cli cancel-audit-mitigation-actions-task --task-id by-id
if ((rc != 0)); then
	expect_last_error "cancel of a task the engine already finished" InvalidRequestException
fi
wait_for "the task ends" '.taskStatus != "IN_PROGRESS"' describe-audit-mitigation-actions-task --task-id by-id
status=$(jq -r .taskStatus <<<"$out")
cli list-audit-mitigation-actions-executions --task-id by-id --finding-id "$finding"
expect_jq "task $status: its execution agrees" \
	'($s == "COMPLETED" and .actionsExecutions[0].status == "COMPLETED") or
	 ($s == "CANCELED" and (.actionsExecutions[0].status == "CANCELED" or .actionsExecutions[0].status == "COMPLETED"))' --arg s "$status"
cli list-audit-mitigation-actions-tasks --start-time "$(iso '-1 hour')" --end-time "$(iso '+1 hour')"
expect_jq "after a restart both tasks are listed, newest first" '[.tasks[].taskId] == ["by-id","e2e-task"]'

# ---------------------------------------------------------------- summary
summary
