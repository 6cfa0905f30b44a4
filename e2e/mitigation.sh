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
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

AWS=/usr/bin/aws # by full path: another aws (pip, pyenv, v1) may be first on PATH
ACCOUNT=123456789012
ACCOUNT_B=111122223333
REGION=us-east-1
ROLE=arn:aws:iam::$ACCOUNT:role/MitigationActionsValidRole

# ---------------------------------------------------------------- tools
if [[ ! -x $AWS ]] || ! command -v jq >/dev/null; then
	echo "# installing awscli and jq with apt-get"
	sudo=
	if [[ $(id -u) != 0 ]]; then sudo=sudo; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends awscli jq >/dev/null
fi
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
	PATH=$PATH:/usr/local/go/bin
fi
echo "# $($AWS --version 2>&1)"

# ---------------------------------------------------------------- temp dir, server lifetime
tmp=$(mktemp -d "${TMPDIR:-/tmp}/warden-mitigation.XXXXXX")
data=$tmp/data
server_pid=

stop_server() {
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	server_pid=
}

cleanup() {
	local rc=$?
	stop_server
	if [[ -n ${KEEP_TMP:-} ]]; then
		echo "# kept $tmp"
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
	if command -v python3 >/dev/null; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
		return
	fi
	local p
	while :; do # bash only: a random high port nobody answers on
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# start_server LOGNAME: starts warden in the background on $port and waits
# until it accepts connections.
start_server() {
	local log=$tmp/$1
	"$tmp/warden" serve --data-dir "$data" --listen "127.0.0.1:$port" \
		>"$log.out" 2>"$log.err" &
	server_pid=$!
	local i
	for ((i = 0; i < 200; i++)); do
		if ! kill -0 "$server_pid" 2>/dev/null; then
			echo "# warden exited early:" >&2
			sed 's/^/#   /' "$log.err" >&2
			return 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "# warden did not answer on port $port within 20s" >&2
	return 1
}

# ---------------------------------------------------------------- checks
passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok - $*"
}
not_ok() {
	failed=$((failed + 1))
	echo "not ok - $*"
}
# diag prints the last CLI call's output, indented, after a failure.
diag() {
	{
		echo "#   command: ${last_cmd:-}"
		echo "#   exit: ${rc:-}"
		sed 's/^/#   stdout: /' <<<"${out:-}" | head -40
		sed 's/^/#   stderr: /' <<<"${err:-}" | head -20
	} >&2
}

# cli [KEY SECRET] -- ARGS...: runs `aws iot ARGS` against warden; sets out, err, rc.
# Never fails the script itself.
key=
secret=
cli_as() {
	local k=$1 s=$2
	shift 2
	last_cmd="aws iot $*"
	rc=0
	out=$(env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_SECURITY_TOKEN -u AWS_REGION \
		-u AWS_CA_BUNDLE -u AWS_ENDPOINT_URL \
		AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER= \
		AWS_ACCESS_KEY_ID="$k" AWS_SECRET_ACCESS_KEY="$s" AWS_DEFAULT_REGION=$REGION \
		AWS_EC2_METADATA_DISABLED=true \
		"$AWS" --endpoint-url "$endpoint" --output json iot "$@" 2>"$tmp/stderr") || rc=$?
	err=$(<"$tmp/stderr")
}
cli() { cli_as "$key" "$secret" "$@"; }

# expect_ok DESC ARGS...: the call succeeds.
expect_ok() {
	local desc=$1
	shift
	cli "$@"
	if ((rc == 0)); then ok "$desc"; else
		not_ok "$desc"
		diag
	fi
}

# expect_jq DESC FILTER [jq args...]: jq -e FILTER holds on the last output.
expect_jq() {
	local desc=$1 filter=$2
	shift 2
	if ((rc == 0)) && jq -e "$@" "$filter" >/dev/null 2>&1 <<<"$out"; then ok "$desc"; else
		not_ok "$desc"
		echo "#   jq: $filter" >&2
		diag
	fi
}

# expect_error DESC CODE ARGS...: the call fails and stderr names CODE.
expect_error() {
	local desc=$1 code=$2
	shift 2
	cli "$@"
	expect_last_error "$desc" "$code"
}
expect_last_error() {
	local desc=$1 code=$2
	if ((rc != 0)) && grep -q "($code)" <<<"$err"; then ok "$desc"; else
		not_ok "$desc (want $code)"
		diag
	fi
}

UUID='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(\+00:00|Z)$'
# jq helpers: the CLI prints timestamps as ISO-8601; ts makes them comparable.
JQDEFS='def ts: capture("^(?<s>[^.+Z]+)(\\.(?<f>[0-9]+))?") | .s + "." + ((.f // "") + "000000")[0:6];'

arn_of() { echo "arn:aws:iot:$REGION:${2:-$ACCOUNT}:mitigationaction/$1"; }

# bail DESC: a failure the rest cannot run without; prints the summary and stops.
bail() {
	not_ok "$*"
	echo "$passed passed, $failed failed"
	exit 1
}


CHECK=DEVICE_CERTIFICATE_EXPIRING_CHECK

# wait_for DESC FILTER ARGS...: repeats `aws iot ARGS` until jq -e FILTER holds (20 s).
wait_for() {
	local desc=$1 filter=$2 i
	shift 2
	for ((i = 0; i < 100; i++)); do
		cli "$@"
		if ((rc == 0)) && jq -e "$filter" >/dev/null 2>&1 <<<"$out"; then
			ok "$desc"
			return 0
		fi
		sleep 0.2
	done
	not_ok "$desc"
	diag
	return 1
}

iso() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

# ---------------------------------------------------------------- build + start
echo "# building warden"
go build -o "$tmp/warden" ./cmd/warden || bail "go build ./cmd/warden"
port=$(free_port)
endpoint=http://127.0.0.1:$port
mkdir -p "$data"
start_server server1 || bail "warden serve starts and answers on $endpoint"
key=$(sed -n 's/^export AWS_ACCESS_KEY_ID=//p' "$tmp/server1.out")
secret=$(sed -n 's/^export AWS_SECRET_ACCESS_KEY=//p' "$tmp/server1.out")
[[ -n $key && -n $secret ]] || bail "first start prints credentials"

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
if "$tmp/warden" history --data-dir "$data" 2>/dev/null | grep -q "execution:e2e-task/$finding/deactivate"; then
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
echo "$passed passed, $failed failed"
if ((failed > 0)); then exit 1; fi
