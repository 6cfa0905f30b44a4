#!/usr/bin/env bash
# End-to-end story of Device Defender Detect with the real aws CLI and
# Debian's mosquitto-clients: a security profile with a cloud-side and a
# device-side behaviour, attached to every thing; a device that sends a
# message too big and reports a forbidden listening port is in violation;
# a Detect mitigation task moves it into a quarantine group whose policy
# denies its publishes, and the data plane enforces it.
#
#   bash e2e/detect.sh
#
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, M
# failed"; exits non-zero if any check failed. KEEP_TMP=1 keeps the temp dir.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! command -v mosquitto_pub >/dev/null || ! command -v mosquitto_sub >/dev/null; then
	bail "mosquitto_pub and mosquitto_sub are needed (apt-get install mosquitto-clients)"
fi
require openssl stdbuf timeout

ROLE=arn:aws:iam::$ACCOUNT:role/MitigationActionsValidRole
arn="arn:aws:iot:$REGION:$ACCOUNT"

# jq_ok DESC FILTER ARGS...: `aws iot ARGS` succeeds and jq -e FILTER holds
# for what it printed.
jq_ok() {
	local desc=$1 filter=$2
	shift 2
	cli "$@"
	expect_jq "$desc" "$filter"
}

# received_match NAME REGEX [SECONDS]: the subscriber NAME printed a line
# matching REGEX (grep -E) within SECONDS (default 5).
received_match() {
	local i
	for ((i = 0; i < ${3:-5} * 10; i++)); do
		if grep -Eq -- "$2" "$tmp/$1.out"; then return 0; fi
		sleep 0.1
	done
	diag_lines "$1" 10 "$(cat "$tmp/$1.out")"
	return 1
}

# ---------------------------------------------------------------- server, device
start_device_server server
policy=$(jq -cn --arg a "$arn" '{
	Version: "2012-10-17",
	Statement: [
		{Effect: "Allow", Action: "iot:Connect", Resource: ($a + ":client/e2e-*")},
		{Effect: "Allow", Action: ["iot:Publish", "iot:Receive"], Resource: [($a + ":topic/e2e/*"), ($a + ":topic/$aws/things/e2e-meter/defender/metrics/*")]},
		{Effect: "Allow", Action: "iot:Subscribe", Resource: [($a + ":topicfilter/e2e/*"), ($a + ":topicfilter/$aws/things/e2e-meter/defender/metrics/*")]}]}')
expect_ok "create-policy for the device" create-policy --policy-name e2e-device --policy-document "$policy"
make_device e2e-meter e2e-device

# ---------------------------------------------------------------- configuration
jq_ok "create-custom-metric (number)" '.metricArn | endswith(":custommetric/e2e-temperature")' \
	create-custom-metric --metric-name e2e-temperature --metric-type number --display-name Temperature --client-request-token t1
jq_ok "create-dimension (TOPIC_FILTER)" '.arn | endswith(":dimension/e2e-telemetry")' \
	create-dimension --name e2e-telemetry --type TOPIC_FILTER --string-values 'e2e/#' --client-request-token t2
behaviors='[
	{"name":"small-messages","metric":"aws:message-byte-size","criteria":{"comparisonOperator":"less-than-equals","value":{"count":100}}},
	{"name":"telemetry-rate","metric":"aws:num-messages-sent","metricDimension":{"dimensionName":"e2e-telemetry"},
	 "criteria":{"comparisonOperator":"less-than","value":{"count":1000},"durationSeconds":300}},
	{"name":"known-ports","metric":"aws:listening-tcp-ports","criteria":{"comparisonOperator":"in-port-set","value":{"ports":[443,8883]}}},
	{"name":"warm-enough","metric":"e2e-temperature","criteria":{"comparisonOperator":"greater-than","value":{"number":-20}}}]'
jq_ok "validate-security-profile-behaviors accepts the behaviours" '.valid == true' \
	validate-security-profile-behaviors --behaviors "$behaviors"
jq_ok "validate-security-profile-behaviors explains a wrong operator" \
	'.valid == false and (.validationErrors[0].errorMessage | test("operator"; "i"))' \
	validate-security-profile-behaviors --behaviors '[{"name":"b","metric":"aws:source-ip-address","criteria":{"comparisonOperator":"greater-than","value":{"count":1}}}]'
# AWS's own example: what the model constrains inside a behaviour is a
# validation error, not an InvalidRequestException.
jq_ok "validate-security-profile-behaviors answers AWS's example" \
	'.valid == false and [.validationErrors[].errorMessage] == ["Behavior Authorization is malformed. consecutiveDatapointsToAlarm 100000 should be in range[1,10]"]' \
	validate-security-profile-behaviors --behaviors '[{"name":"CellularBandwidth","metric":"aws:message-byte-size","criteria":{"comparisonOperator":"greater-than","value":{"count":128},"consecutiveDatapointsToAlarm":1,"consecutiveDatapointsToClear":1}},{"name":"Authorization","metric":"aws:num-authorization-failures","criteria":{"comparisonOperator":"less-than","value":{"count":12},"durationSeconds":300,"consecutiveDatapointsToAlarm":100000,"consecutiveDatapointsToClear":1}}]'
jq_ok "create-security-profile" '.securityProfileArn == "'"$arn"':securityprofile/e2e-fleet"' \
	create-security-profile --security-profile-name e2e-fleet --behaviors "$behaviors"
expect_error "a second profile of the same name is refused" ResourceAlreadyExistsException \
	create-security-profile --security-profile-name e2e-fleet
expect_ok "attach-security-profile to all things" \
	attach-security-profile --security-profile-name e2e-fleet --security-profile-target-arn "$arn:all/things"
jq_ok "list-targets-for-security-profile" '[.securityProfileTargets[].arn] == ["'"$arn"':all/things"]' \
	list-targets-for-security-profile --security-profile-name e2e-fleet
jq_ok "describe-security-profile: version 1, four behaviours" '.version == 1 and (.behaviors | length) == 4' \
	describe-security-profile --security-profile-name e2e-fleet
jq_ok "list-security-profiles --dimension-name finds it" '[.securityProfileIdentifiers[].name] == ["e2e-fleet"]' \
	list-security-profiles --dimension-name e2e-telemetry
expect_error "a dimension in use cannot be deleted" InvalidRequestException delete-dimension --name e2e-telemetry
jq_ok "no active violation yet" '.activeViolations == []' list-active-violations --thing-name e2e-meter

# ---------------------------------------------------------------- the device misbehaves
pub e2e-meter mqttv5 e2e-meter e2e/readings small
((rc == 0)) && ok "a small message is published" || { not_ok "a small message is published"; diag; }
pub e2e-meter mqttv5 e2e-meter e2e/readings "$(head -c 300 /dev/zero | tr '\0' x)"
((rc == 0)) && ok "a 300-byte message is published" || { not_ok "a 300-byte message is published"; diag; }
wait_for "the big message puts the device in violation of small-messages" \
	'[.activeViolations[] | select(.behavior.name == "small-messages" and .lastViolationValue.count == 300)] | length == 1' \
	list-active-violations --thing-name e2e-meter
violation=$(jq -r '.activeViolations[] | select(.behavior.name == "small-messages") | .violationId' <<<"$out")
jq_ok "the violation has an in-alarm event" '[.violationEvents[] | select(.violationId == "'"$violation"'" and .violationEventType == "in-alarm")] | length == 1' \
	list-violation-events --start-time "$(date -u -d '-1 hour' +%s)" --end-time "$(date -u -d '+1 hour' +%s)" --thing-name e2e-meter
expect_ok "put-verification-state-on-violation" put-verification-state-on-violation --violation-id "$violation" \
	--verification-state TRUE_POSITIVE --verification-state-description "e2e saw it"
jq_ok "list-active-violations shows the verification state" \
	'[.activeViolations[] | select(.violationId == "'"$violation"'" and .verificationState == "TRUE_POSITIVE")] | length == 1' \
	list-active-violations --thing-name e2e-meter

# A device-side report with a port outside the profile's set, and a custom metric.
start_sub replies e2e-meter mqttv5 e2e-meter-replies '$aws/things/e2e-meter/defender/metrics/json/+' ||
	not_ok "subscribe to the report replies"
report='{"header":{"report_id":'"$(date +%s)"',"version":"1.0"},"metrics":{"listening_tcp_ports":{"ports":[{"port":23}],"total":1}},"custom_metrics":{"e2e-temperature":[{"number":-40}]}}'
pub e2e-meter mqttv5 e2e-meter-report '$aws/things/e2e-meter/defender/metrics/json' "$report"
((rc == 0)) && ok "the device publishes a metrics report" || { not_ok "the device publishes a metrics report"; diag; }
check "the report is accepted with the thing's name" received_match replies '/accepted \{"thingName":"e2e-meter".*"status":"ACCEPTED"'
pub e2e-meter mqttv5 e2e-meter-report '$aws/things/e2e-meter/defender/metrics/json' '{"header":{}}'
check "a malformed report is rejected with InvalidPayload" received_match replies '/rejected \{"thingName":"e2e-meter".*"ErrorCode":"InvalidPayload"'
stop_pid "$sub_pid"
wait_for "port 23 puts the device in violation of known-ports" \
	'[.activeViolations[] | select(.behavior.name == "known-ports")] | length == 1' list-active-violations --thing-name e2e-meter
wait_for "-40 degrees puts the device in violation of warm-enough" \
	'[.activeViolations[] | select(.behavior.name == "warm-enough" and .lastViolationValue.number == -40)] | length == 1' \
	list-active-violations --thing-name e2e-meter

# ---------------------------------------------------------------- Detect mitigation
expect_ok "create the quarantine group" create-thing-group --thing-group-name e2e-quarantine
deny=$(jq -cn --arg a "$arn" '{Version: "2012-10-17", Statement: [{Effect: "Deny", Action: "iot:Publish", Resource: ($a + ":topic/e2e/*")}]}')
expect_ok "create-policy that denies publishing" create-policy --policy-name e2e-quarantined --policy-document "$deny"
expect_ok "attach it to the quarantine group" attach-policy --policy-name e2e-quarantined --target "$arn:thinggroup/e2e-quarantine"
expect_ok "create-mitigation-action ADD_THINGS_TO_THING_GROUP" create-mitigation-action --action-name e2e-quarantine \
	--role-arn "$ROLE" --action-params '{"addThingsToThingGroupParams":{"thingGroupNames":["e2e-quarantine"]}}'
expect_ok "create-mitigation-action UPDATE_DEVICE_CERTIFICATE" create-mitigation-action --action-name e2e-deactivate \
	--role-arn "$ROLE" --action-params '{"updateDeviceCertificateParams":{"action":"DEACTIVATE"}}'
expect_error "Detect refuses an action other than ADD_THINGS_TO_THING_GROUP" InvalidRequestException \
	start-detect-mitigation-actions-task --task-id e2e-bad --target "violationIds=$violation" --actions e2e-deactivate \
	--client-request-token bad
expect_ok "start-detect-mitigation-actions-task on the violation" start-detect-mitigation-actions-task --task-id e2e-task \
	--target "violationIds=$violation" --actions e2e-quarantine --client-request-token tok-1
expect_ok "the same request again is accepted (idempotent)" start-detect-mitigation-actions-task --task-id e2e-task \
	--target "violationIds=$violation" --actions e2e-quarantine --client-request-token tok-1
expect_error "the same task id with another token is refused" TaskAlreadyExistsException \
	start-detect-mitigation-actions-task --task-id e2e-task --target "violationIds=$violation" --actions e2e-quarantine \
	--client-request-token tok-2
wait_for "the task completes with one action executed" \
	'.taskSummary.taskStatus == "SUCCESSFUL" and .taskSummary.taskStatistics.actionsExecuted == 1' \
	describe-detect-mitigation-actions-task --task-id e2e-task
jq_ok "its execution names the violation and the thing" \
	'.actionsExecutions | length == 1 and .[0].violationId == "'"$violation"'" and .[0].thingName == "e2e-meter" and .[0].status == "SUCCESSFUL"' \
	list-detect-mitigation-actions-executions --task-id e2e-task
jq_ok "the thing is in the quarantine group" '[.thingGroups[].groupName] == ["e2e-quarantine"]' \
	list-thing-groups-for-thing --thing-name e2e-meter
# Thing-group policies apply to a connection whose client id is the thing's name.
pub e2e-meter mqttv5 e2e-meter e2e/readings after-quarantine
if grep -qi 'not authori[sz]ed' <<<"$err"; then ok "the quarantined device's publish is refused"; else
	not_ok "the quarantined device's publish is refused"
	diag
fi
jq_ok "list-detect-mitigation-actions-tasks finds it" '[.tasks[].taskId] == ["e2e-task"]' \
	list-detect-mitigation-actions-tasks --start-time "$(date -u -d '-1 hour' +%s)" --end-time "$(date -u -d '+1 hour' +%s)"

# ---------------------------------------------------------------- clean-up rules
expect_ok "detach-security-profile" detach-security-profile --security-profile-name e2e-fleet \
	--security-profile-target-arn "$arn:all/things"
expect_ok "delete-security-profile" delete-security-profile --security-profile-name e2e-fleet
jq_ok "its violations are no longer active" '.activeViolations == []' list-active-violations --thing-name e2e-meter
expect_ok "the dimension can be deleted now" delete-dimension --name e2e-telemetry
expect_ok "and the custom metric" delete-custom-metric --metric-name e2e-temperature

summary
