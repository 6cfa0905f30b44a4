#!/usr/bin/env bash
# End-to-end checks of Device Defender audits: configuration, on-demand and
# scheduled audits, findings and suppressions, driven with the real aws CLI (Debian's
# awscli 2.9.19 at /usr/bin/aws) against a real `warden serve`, with X.509
# fixtures made by openssl.
#
#   bash e2e/audits.sh
#
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, M
# failed"; exits non-zero if any check failed. KEEP_TMP=1 keeps the temp dir.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require openssl

# wait_audit ID SECONDS: poll describe-audit-task until the task is no
# longer IN_PROGRESS; its last answer is in $out.
wait_audit() {
	local i
	for ((i = 0; i < $2 * 4; i++)); do
		cli describe-audit-task --task-id "$1"
		if ((rc == 0)) && [[ $(jq -r .taskStatus <<<"$out") != IN_PROGRESS ]]; then return 0; fi
		sleep 0.25
	done
	return 1
}

# ---------------------------------------------------------------- build + start
echo "# $(openssl version)"
build_warden
start_server server1
if ! read_keys "$tmp/server1.out"; then
	echo "# no credentials on warden's stdout" >&2
	sed 's/^/#   /' "$tmp/server1.out" >&2
	exit 1
fi
echo "# warden pid $server_pid on $endpoint"

# ---------------------------------------------------------------- plant the problems
# A registered CA, and a device certificate it signed that expires in 10 days.
cli get-registration-code
code=$(jq -r .registrationCode <<<"$out")
make_ca ca "Audit e2e CA"
sign_leaf verify ca "$code" 30
sign_leaf expiring ca "expiring-device" 10
sign_leaf healthy ca "healthy-device" 365
expect_ok "register-ca-certificate --set-as-active" register-ca-certificate \
	--ca-certificate "file://$pki/ca.pem" --verification-certificate "file://$pki/verify.pem" --set-as-active
expect_ok "register-certificate (expires in 10 days) --set-as-active" register-certificate \
	--certificate-pem "file://$pki/expiring.pem" --ca-certificate-pem "file://$pki/ca.pem" --set-as-active
expiring_id=$(jq -r '.certificateId // empty' <<<"$out")
check "the expiring certificate's id is its SHA-256" test "$expiring_id" = "$(cert_id "$pki/expiring.pem")"
expect_ok "register-certificate (expires in a year) --set-as-active" register-certificate \
	--certificate-pem "file://$pki/healthy.pem" --ca-certificate-pem "file://$pki/ca.pem" --set-as-active
expect_ok "create-policy allowing iot:* on *" create-policy --policy-name e2e-open \
	--policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}'
expect_ok "create-policy scoped by the thing name" create-policy --policy-name e2e-scoped \
	--policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"}]}'

# ---------------------------------------------------------------- configuration
expect_ok "describe-account-audit-configuration before any" describe-account-audit-configuration
expect_jq "every check listed, none enabled" \
	'(.auditCheckConfigurations | length) == 17 and ([.auditCheckConfigurations[] | select(.enabled)] | length) == 0'
expect_error "start-on-demand-audit-task without a configuration" InvalidRequestException \
	start-on-demand-audit-task --target-check-names DEVICE_CERTIFICATE_EXPIRING_CHECK
expect_error "first update-account-audit-configuration without a role" InvalidRequestException \
	update-account-audit-configuration --audit-check-configurations '{"LOGGING_DISABLED_CHECK":{"enabled":true}}'
expect_error "enabling IOT_ROLE_ALIAS_OVERLY_PERMISSIVE_CHECK (no role aliases)" InvalidRequestException \
	update-account-audit-configuration --role-arn arn:aws:iam::123456789012:role/audit \
	--audit-check-configurations '{"IOT_ROLE_ALIAS_OVERLY_PERMISSIVE_CHECK":{"enabled":true}}'
check "the refusal says why" grep -q "IAM roles" <<<"$err"
checks='{"DEVICE_CERTIFICATE_EXPIRING_CHECK":{"enabled":true},"IOT_POLICY_OVERLY_PERMISSIVE_CHECK":{"enabled":true},
 "LOGGING_DISABLED_CHECK":{"enabled":true},"DEVICE_CERTIFICATE_KEY_QUALITY_CHECK":{"enabled":true},
 "CA_CERTIFICATE_EXPIRING_CHECK":{"enabled":true},"REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK":{"enabled":true}}'
expect_ok "update-account-audit-configuration" update-account-audit-configuration \
	--role-arn arn:aws:iam::123456789012:role/audit --audit-check-configurations "$checks"
cli describe-account-audit-configuration
expect_jq "the role and six checks enabled" \
	'.roleArn == "arn:aws:iam::123456789012:role/audit" and ([.auditCheckConfigurations[] | select(.enabled)] | length) == 6'
expect_error "start-on-demand-audit-task with a check not enabled" InvalidRequestException \
	start-on-demand-audit-task --target-check-names DEVICE_CERTIFICATE_AGE_CHECK

# ---------------------------------------------------------------- on-demand audit
expect_ok "start-on-demand-audit-task" start-on-demand-audit-task --target-check-names \
	DEVICE_CERTIFICATE_EXPIRING_CHECK IOT_POLICY_OVERLY_PERMISSIVE_CHECK LOGGING_DISABLED_CHECK \
	DEVICE_CERTIFICATE_KEY_QUALITY_CHECK CA_CERTIFICATE_EXPIRING_CHECK
expect_jq "task id: 32 hex digits" '.taskId | test("^[0-9a-f]{32}$")'
task=$(jq -r '.taskId // empty' <<<"$out")
if wait_audit "$task" 30; then ok "the audit finished within 30 s"; else not_ok "the audit finished within 30 s"; fi
expect_jq "describe-audit-task: COMPLETED, 5 checks, 3 noncompliant" \
	'.taskStatus == "COMPLETED" and .taskType == "ON_DEMAND_AUDIT_TASK" and .taskStatistics.totalChecks == 5
	 and .taskStatistics.nonCompliantChecks == 3 and .taskStatistics.compliantChecks == 2
	 and .auditDetails.DEVICE_CERTIFICATE_EXPIRING_CHECK.checkRunStatus == "COMPLETED_NON_COMPLIANT"
	 and .auditDetails.DEVICE_CERTIFICATE_EXPIRING_CHECK.totalResourcesCount == 2
	 and .auditDetails.DEVICE_CERTIFICATE_EXPIRING_CHECK.nonCompliantResourcesCount == 1
	 and .auditDetails.CA_CERTIFICATE_EXPIRING_CHECK.checkCompliant == true'
expect_ok "list-audit-findings --task-id" list-audit-findings --task-id "$task"
expect_jq "the planted certificate is found by DEVICE_CERTIFICATE_EXPIRING_CHECK" \
	'[.findings[] | select(.checkName == "DEVICE_CERTIFICATE_EXPIRING_CHECK")] as $f | ($f | length) == 1
	 and $f[0].nonCompliantResource.resourceType == "DEVICE_CERTIFICATE"
	 and $f[0].nonCompliantResource.resourceIdentifier.deviceCertificateId == $id
	 and $f[0].reasonForNonComplianceCode == "CERTIFICATE_APPROACHING_EXPIRATION" and $f[0].severity == "MEDIUM"
	 and $f[0].isSuppressed == false' --arg id "$expiring_id"
expect_jq "the open policy is found, the scoped one is not" \
	'[.findings[] | select(.checkName == "IOT_POLICY_OVERLY_PERMISSIVE_CHECK") | .nonCompliantResource.resourceIdentifier.policyVersionIdentifier]
	 == [{"policyName":"e2e-open","policyVersionId":"1"}]'
finding=$(jq -r '[.findings[] | select(.checkName == "DEVICE_CERTIFICATE_EXPIRING_CHECK")][0].findingId // empty' <<<"$out")
expect_ok "describe-audit-finding" describe-audit-finding --finding-id "$finding"
expect_jq "describe-audit-finding: the same finding, with a reason" \
	'.finding.findingId == $f and .finding.taskId == $t and (.finding.reasonForNonCompliance | test("expires on"))' \
	--arg f "$finding" --arg t "$task"
expect_error "describe-audit-finding of an unknown id" ResourceNotFoundException describe-audit-finding --finding-id nope
start=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
end=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
expect_ok "list-audit-findings by time and check" list-audit-findings --start-time "$start" --end-time "$end" \
	--check-name LOGGING_DISABLED_CHECK
expect_jq "one LOGGING_DISABLED_CHECK finding about the account" \
	'(.findings | length) == 1 and .findings[0].nonCompliantResource.resourceIdentifier.account == "123456789012"'
expect_error "list-audit-findings with both a task and a time" InvalidRequestException \
	list-audit-findings --task-id "$task" --start-time "$start" --end-time "$end"
expect_ok "list-audit-tasks" list-audit-tasks --start-time "$start" --end-time "$end"
expect_jq "list-audit-tasks: the task, COMPLETED" '[.tasks[] | select(.taskId == $t and .taskStatus == "COMPLETED")] | length == 1' --arg t "$task"
expect_error "cancel-audit-task of a COMPLETED audit" InvalidRequestException cancel-audit-task --task-id "$task"

# ---------------------------------------------------------------- suppression
expect_ok "create-audit-suppression --suppress-indefinitely" create-audit-suppression \
	--check-name DEVICE_CERTIFICATE_EXPIRING_CHECK --resource-identifier "deviceCertificateId=$expiring_id" \
	--suppress-indefinitely --description "replaced next week"
expect_error "create-audit-suppression again" ResourceAlreadyExistsException create-audit-suppression \
	--check-name DEVICE_CERTIFICATE_EXPIRING_CHECK --resource-identifier "deviceCertificateId=$expiring_id" --suppress-indefinitely
expect_ok "describe-audit-suppression" describe-audit-suppression \
	--check-name DEVICE_CERTIFICATE_EXPIRING_CHECK --resource-identifier "deviceCertificateId=$expiring_id"
expect_jq "the suppression is indefinite" '.suppressIndefinitely == true and .description == "replaced next week"'
expect_ok "list-audit-suppressions" list-audit-suppressions
expect_jq "one suppression" '(.suppressions | length) == 1'
expect_ok "start-on-demand-audit-task again" start-on-demand-audit-task --target-check-names DEVICE_CERTIFICATE_EXPIRING_CHECK
task2=$(jq -r '.taskId // empty' <<<"$out")
wait_audit "$task2" 30 || true
expect_jq "the re-run: compliant, 1 suppressed" \
	'.taskStatus == "COMPLETED" and .auditDetails.DEVICE_CERTIFICATE_EXPIRING_CHECK.checkRunStatus == "COMPLETED_COMPLIANT"
	 and .auditDetails.DEVICE_CERTIFICATE_EXPIRING_CHECK.nonCompliantResourcesCount == 0
	 and .auditDetails.DEVICE_CERTIFICATE_EXPIRING_CHECK.suppressedNonCompliantResourcesCount == 1'
cli list-audit-findings --task-id "$task2"
expect_jq "the re-run's finding is marked isSuppressed" \
	'(.findings | length) == 1 and .findings[0].isSuppressed == true and .findings[0].nonCompliantResource.resourceIdentifier.deviceCertificateId == $id' \
	--arg id "$expiring_id"
expect_ok "update-audit-suppression to an expiration date" update-audit-suppression \
	--check-name DEVICE_CERTIFICATE_EXPIRING_CHECK --resource-identifier "deviceCertificateId=$expiring_id" \
	--expiration-date "$(date -u -d '+7 days' +%s)"
cli describe-audit-suppression --check-name DEVICE_CERTIFICATE_EXPIRING_CHECK --resource-identifier "deviceCertificateId=$expiring_id"
expect_jq "the suppression now expires" '.suppressIndefinitely == false and (.expirationDate | type) == "string"'
expect_ok "delete-audit-suppression" delete-audit-suppression \
	--check-name DEVICE_CERTIFICATE_EXPIRING_CHECK --resource-identifier "deviceCertificateId=$expiring_id"
expect_error "describe-audit-suppression after delete" ResourceNotFoundException describe-audit-suppression \
	--check-name DEVICE_CERTIFICATE_EXPIRING_CHECK --resource-identifier "deviceCertificateId=$expiring_id"

# ---------------------------------------------------------------- scheduled audits
expect_ok "create-scheduled-audit WEEKLY" create-scheduled-audit --scheduled-audit-name e2e-weekly \
	--frequency WEEKLY --day-of-week MON --target-check-names LOGGING_DISABLED_CHECK --tags Key=team,Value=sec
expect_jq "its ARN" '.scheduledAuditArn == "arn:aws:iot:us-east-1:123456789012:scheduledaudit/e2e-weekly"'
expect_error "create-scheduled-audit MONTHLY without a day" InvalidRequestException create-scheduled-audit \
	--scheduled-audit-name e2e-bad --frequency MONTHLY --target-check-names LOGGING_DISABLED_CHECK
expect_ok "describe-scheduled-audit" describe-scheduled-audit --scheduled-audit-name e2e-weekly
expect_jq "WEEKLY on MON" '.frequency == "WEEKLY" and .dayOfWeek == "MON" and .targetCheckNames == ["LOGGING_DISABLED_CHECK"]'
expect_ok "update-scheduled-audit to MONTHLY on the last day" update-scheduled-audit --scheduled-audit-name e2e-weekly \
	--frequency MONTHLY --day-of-month LAST
expect_ok "list-scheduled-audits" list-scheduled-audits
expect_jq "MONTHLY, LAST, no day of the week" \
	'.scheduledAudits == [{"scheduledAuditName":"e2e-weekly","scheduledAuditArn":"arn:aws:iot:us-east-1:123456789012:scheduledaudit/e2e-weekly","frequency":"MONTHLY","dayOfMonth":"LAST"}]'
expect_error "disabling a check a scheduled audit uses" InvalidRequestException update-account-audit-configuration \
	--audit-check-configurations '{"LOGGING_DISABLED_CHECK":{"enabled":false}}'
expect_ok "delete-scheduled-audit" delete-scheduled-audit --scheduled-audit-name e2e-weekly
expect_error "describe-scheduled-audit after delete" ResourceNotFoundException describe-scheduled-audit --scheduled-audit-name e2e-weekly

# ---------------------------------------------------------------- kill -9 during an audit
# A CRL server that accepts connections and never answers keeps the audit
# busy; the server is killed with SIGKILL meanwhile. After a restart the
# audit runs again once its lease expires and ends, with the CRL check
# FAILED (it could not be fetched), not IN_PROGRESS forever.
crl_port=$(free_port)
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
held = []
end = time.time() + 300
while time.time() < end:
    s.settimeout(1)
    try:
        c, _ = s.accept(); held.append(c)
    except socket.timeout:
        pass
' "$crl_port" &
crl_pid=$!
stop_on_exit "$crl_pid"
printf 'crlDistributionPoints=URI:http://127.0.0.1:%s/stuck.crl\n' "$crl_port" >"$pki/crl.ext"
sign_leaf stuck ca "stuck-device" 365 "$pki/crl.ext"
expect_ok "register a certificate whose CRL never answers" register-certificate \
	--certificate-pem "file://$pki/stuck.pem" --ca-certificate-pem "file://$pki/ca.pem" --set-as-active
expect_ok "start an audit that fetches the CRL" start-on-demand-audit-task \
	--target-check-names REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK LOGGING_DISABLED_CHECK
task3=$(jq -r '.taskId // empty' <<<"$out")
sleep 1
cli describe-audit-task --task-id "$task3"
expect_jq "while the CRL hangs: IN_PROGRESS, LOGGING_DISABLED_CHECK not yet run or done" '.taskStatus == "IN_PROGRESS"'
kill -KILL "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=
start_server server2
if wait_audit "$task3" 90; then ok "after kill -9 and a restart the audit ends"; else not_ok "after kill -9 and a restart the audit ends"; fi
expect_jq "it COMPLETED, the CRL check FAILED with a reason" \
	'.taskStatus == "COMPLETED" and .auditDetails.REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK.checkRunStatus == "FAILED"
	 and (.auditDetails.REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK.message | test("stuck.crl"))
	 and .auditDetails.LOGGING_DISABLED_CHECK.checkRunStatus == "COMPLETED_NON_COMPLIANT"'
stop_pid "$crl_pid"

# ---------------------------------------------------------------- delete the configuration
expect_ok "delete-account-audit-configuration" delete-account-audit-configuration
cli describe-account-audit-configuration
expect_jq "every check disabled again" '([.auditCheckConfigurations[] | select(.enabled)] | length) == 0 and (has("roleArn") | not)'
expect_error "delete-account-audit-configuration again" ResourceNotFoundException delete-account-audit-configuration

# ---------------------------------------------------------------- summary
summary
