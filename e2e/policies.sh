#!/usr/bin/env bash
# End-to-end checks of IoT policies and logging options: drives a real
# `warden serve` with the real aws CLI (Debian's awscli 2.9.19 at /usr/bin/aws)
# and checks every answer with jq.
#
#   bash e2e/policies.sh
#
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, M failed";
# exits non-zero if any check failed. KEEP_TMP=1 keeps the temp dir.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOG_ROLE=arn:aws:iam::$ACCOUNT:role/service-role/iotLoggingRole
POLICY=e2e-TemperatureSensor.Policy
POLICY_ARN=arn:aws:iot:$REGION:$ACCOUNT:policy/$POLICY

# expect_empty DESC: the last call succeeded and printed nothing.
expect_empty() {
	if ((rc == 0)) && [[ -z $out ]]; then ok "$1"; else
		not_ok "$1"
		diag
	fi
}
doc() { # doc ACTION RESOURCE: a one-statement Allow document
	printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"%s","Resource":"%s"}]}' "$1" "$2"
}

# ---------------------------------------------------------------- build + start
build_warden
start_server server1 || bail "warden serve starts"
read_keys "$tmp/server1.out" || bail "first start prints the access key and secret"
echo "# warden pid $server_pid on $endpoint"

# ---------------------------------------------------------------- logging: not configured yet
expect_error "get-v2-logging-options before any set -> NotConfiguredException" NotConfiguredException get-v2-logging-options
expect_ok "get-logging-options before any set" get-logging-options
if ((rc == 0)) && { [[ -z $out ]] || jq -e '. == {}' >/dev/null 2>&1 <<<"$out"; }; then
	ok "get-logging-options before any set: no members"
else
	not_ok "get-logging-options before any set: no members"
	diag
fi

# ---------------------------------------------------------------- create-policy
cat >"$tmp/policy.json" <<'EOF'
{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iot:Publish", "iot:Receive"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/topic_1", "arn:aws:iot:us-east-1:123456789012:topic/topic_2"]
        },
        {
            "Effect": "Allow",
            "Action": ["iot:Connect"],
            "Resource": ["arn:aws:iot:us-east-1:123456789012:client/basicPubSub"]
        }
    ]
}
EOF
doc1=$(cat "$tmp/policy.json"; echo .) # keep the trailing newline: the document is stored verbatim
doc1=${doc1%.}
expect_ok "create-policy with file://policy.json and --tags" \
	create-policy --policy-name "$POLICY" --policy-document "file://$tmp/policy.json" --tags Key=env,Value=e2e
expect_jq "create-policy: name, ARN, the document verbatim, version 1, nothing else" \
	'keys == ["policyArn","policyDocument","policyName","policyVersionId"] and .policyName == $n and .policyArn == $arn
	 and .policyDocument == $doc and .policyVersionId == "1"' --arg n "$POLICY" --arg arn "$POLICY_ARN" --arg doc "$doc1"
expect_ok "get-policy" get-policy --policy-name "$POLICY"
expect_jq "get-policy: default version 1, document, 64-hex generationId, timestamps" \
	'.defaultVersionId == "1" and .policyDocument == $doc and .policyArn == $arn and (.generationId | test("^[0-9a-f]{64}$"))
	 and (.creationDate | test($ts)) and (.lastModifiedDate | test($ts))' --arg doc "$doc1" --arg arn "$POLICY_ARN" --arg ts "$TS"
expect_ok "list-tags-for-resource of the policy" list-tags-for-resource --resource-arn "$POLICY_ARN"
expect_jq "the tags given at create-policy" '.tags == [{"Key":"env","Value":"e2e"}]'
expect_error "create-policy of an existing name -> ResourceAlreadyExistsException" ResourceAlreadyExistsException \
	create-policy --policy-name "$POLICY" --policy-document "$(doc iot:Connect '*')"
expect_error "create-policy with lower-case effect -> MalformedPolicyException" MalformedPolicyException \
	create-policy --policy-name e2e-bad --policy-document '{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"iot:*","Resource":"*"}}'
expect_error "create-policy with no Statement -> MalformedPolicyException" MalformedPolicyException \
	create-policy --policy-name e2e-bad --policy-document '{"Version":"2012-10-17"}'
expect_error "create-policy with text that is not JSON -> MalformedPolicyException" MalformedPolicyException \
	create-policy --policy-name e2e-bad --policy-document 'allow all'
expect_error "create-policy with a name outside [\\w+=,.@-] -> InvalidRequestException" InvalidRequestException \
	create-policy --policy-name 'e2e bad' --policy-document "$(doc iot:Connect '*')"
expect_error "get-policy of a rejected name -> ResourceNotFoundException" ResourceNotFoundException get-policy --policy-name e2e-bad

# ---------------------------------------------------------------- versions
for v in 2 3 4 5; do
	expect_ok "create-policy-version --set-as-default (version $v)" \
		create-policy-version --policy-name "$POLICY" --policy-document "$(doc "iot:Action$v" '*')" --set-as-default
	expect_jq "create-policy-version: id $v, default, ARN, document" \
		'.policyVersionId == $v and .isDefaultVersion == true and .policyArn == $arn and .policyDocument == $doc' \
		--arg v "$v" --arg arn "$POLICY_ARN" --arg doc "$(doc "iot:Action$v" '*')"
done
expect_error "sixth version -> VersionsLimitExceededException" VersionsLimitExceededException \
	create-policy-version --policy-name "$POLICY" --policy-document "$(doc iot:Six '*')" --set-as-default
expect_ok "list-policy-versions" list-policy-versions --policy-name "$POLICY"
expect_jq "list-policy-versions: 5 (default) down to 1, with createDate" \
	'[.policyVersions[] | .versionId + (if .isDefaultVersion then "*" else "" end)] == ["5*","4","3","2","1"]
	 and all(.policyVersions[]; .createDate | test($ts))' --arg ts "$TS"
expect_ok "set-default-policy-version 2" set-default-policy-version --policy-name "$POLICY" --policy-version-id 2
expect_empty "set-default-policy-version prints nothing"
expect_ok "get-policy after set-default" get-policy --policy-name "$POLICY"
expect_jq "get-policy: default version 2 with its document" '.defaultVersionId == "2" and .policyDocument == $doc' \
	--arg doc "$(doc iot:Action2 '*')"
expect_error "delete-policy-version of the default version -> DeleteConflictException" DeleteConflictException \
	delete-policy-version --policy-name "$POLICY" --policy-version-id 2
expect_error "delete-policy-version of a missing version -> ResourceNotFoundException" ResourceNotFoundException \
	delete-policy-version --policy-name "$POLICY" --policy-version-id 42
expect_ok "delete-policy-version 5" delete-policy-version --policy-name "$POLICY" --policy-version-id 5
expect_empty "delete-policy-version prints nothing"
expect_ok "create-policy-version without --set-as-default" \
	create-policy-version --policy-name "$POLICY" --policy-document "$(doc iot:Subscribe '*')"
expect_jq "the new version is 6 (ids are never reused), not default" '.policyVersionId == "6" and .isDefaultVersion == false'
expect_ok "get-policy-version 1" get-policy-version --policy-name "$POLICY" --policy-version-id 1
expect_jq "get-policy-version 1: the first document, not default, with dates and generationId" \
	'.policyVersionId == "1" and .isDefaultVersion == false and .policyDocument == $doc and .policyName == $n
	 and (.creationDate | test($ts)) and (.lastModifiedDate | test($ts)) and (.generationId | test("^[0-9a-f]{64}$"))' \
	--arg doc "$doc1" --arg n "$POLICY" --arg ts "$TS"
cli list-policy-versions --policy-name "$POLICY"
expect_jq "list-policy-versions after the changes: 6,4,3,2*,1" \
	'[.policyVersions[] | .versionId + (if .isDefaultVersion then "*" else "" end)] == ["6","4","3","2*","1"]'

# ---------------------------------------------------------------- list-policies
for i in 1 2 3; do cli create-policy --policy-name "e2e-extra-$i" --policy-document "$(doc iot:Connect '*')"; done
# With --page-size or --marker (members of ListPolicies itself) the CLI sends one
# request and shows nextMarker; without them it follows nextMarker on its own.
expect_ok "list-policies (the CLI follows nextMarker)" list-policies
expect_jq "list-policies: all four policies once, newest first, with ARNs" \
	'[.policies[].policyName] == ["e2e-extra-3","e2e-extra-2","e2e-extra-1",$n] and .policies[3].policyArn == $arn' \
	--arg n "$POLICY" --arg arn "$POLICY_ARN"
expect_ok "list-policies --ascending-order" list-policies --ascending-order
expect_jq "list-policies --ascending-order: oldest first" '[.policies[].policyName] == [$n,"e2e-extra-1","e2e-extra-2","e2e-extra-3"]' \
	--arg n "$POLICY"
expect_ok "list-policies --page-size 3 (one page)" list-policies --page-size 3
expect_jq "one page: 3 policies and a nextMarker in the Marker pattern" \
	'[.policies[].policyName] == ["e2e-extra-3","e2e-extra-2","e2e-extra-1"] and (.nextMarker | test("^[A-Za-z0-9+/]+={0,2}$"))'
marker=$(jq -r '.nextMarker // empty' <<<"$out" 2>/dev/null || true)
expect_ok "list-policies --marker <nextMarker>" list-policies --marker "$marker" --page-size 3
expect_jq "the page after the marker: the last policy, no nextMarker" '[.policies[].policyName] == [$n] and has("nextMarker") == false' \
	--arg n "$POLICY"
expect_error "list-policies --ascending-order with a descending marker -> InvalidRequestException" InvalidRequestException \
	list-policies --ascending-order --marker "$marker"
expect_ok "list-policies --max-items 2" list-policies --max-items 2
token=$(jq -r '.NextToken // empty' <<<"$out" 2>/dev/null || true)
first2=$(jq -c '[.policies[].policyName]' <<<"$out" 2>/dev/null || echo '[]')
expect_ok "list-policies --starting-token (the rest)" list-policies --starting-token "$token"
expect_jq "--max-items then --starting-token: every policy exactly once" \
	'($first + [.policies[].policyName]) == ["e2e-extra-3","e2e-extra-2","e2e-extra-1",$n]' --argjson first "$first2" --arg n "$POLICY"

# ---------------------------------------------------------------- attach to a certificate
cli create-keys-and-certificate --set-as-active
cert_arn=$(jq -r '.certificateArn // empty' <<<"$out" 2>/dev/null || true)
if ((rc == 0)) && [[ $cert_arn == arn:aws:iot:$REGION:$ACCOUNT:cert/* ]]; then
	ok "create-keys-and-certificate gives a certificate to attach to"
	expect_ok "attach-policy to the certificate" attach-policy --policy-name "$POLICY" --target "$cert_arn"
	expect_empty "attach-policy prints nothing"
	expect_ok "attach-policy again (idempotent)" attach-policy --policy-name "$POLICY" --target "$cert_arn"
	expect_ok "list-targets-for-policy" list-targets-for-policy --policy-name "$POLICY"
	expect_jq "list-targets-for-policy: exactly the certificate" '.targets == [$c]' --arg c "$cert_arn"
	expect_ok "list-attached-policies --target <cert ARN>" list-attached-policies --target "$cert_arn"
	expect_jq "list-attached-policies: the policy with its ARN" '.policies == [{"policyName":$n,"policyArn":$arn}]' \
		--arg n "$POLICY" --arg arn "$POLICY_ARN"
	missing=${cert_arn%/*}/$(printf '%064d' 0)
	expect_error "attach-policy to a missing certificate -> ResourceNotFoundException" ResourceNotFoundException \
		attach-policy --policy-name "$POLICY" --target "$missing"
	cli attach-policy --policy-name e2e-extra-1 --target "$cert_arn"
	expect_error "delete-policy of an attached policy -> DeleteConflictException" DeleteConflictException \
		delete-policy --policy-name e2e-extra-1
	expect_ok "detach-policy" detach-policy --policy-name e2e-extra-1 --target "$cert_arn"
	expect_empty "detach-policy prints nothing"
	expect_ok "delete-policy after detaching" delete-policy --policy-name e2e-extra-1
	expect_ok "detach-policy of the main policy" detach-policy --policy-name "$POLICY" --target "$cert_arn"
	cli list-targets-for-policy --policy-name "$POLICY"
	expect_jq "list-targets-for-policy after detach: none" '.targets == []'
else
	echo "# skip: create-keys-and-certificate did not give a certificate ARN (rc=$rc); attach checks skipped"
	diag
fi

# ---------------------------------------------------------------- attach to thing groups
group_arn() { echo "arn:aws:iot:$REGION:$ACCOUNT:thinggroup/$1"; }
cli create-thing-group --thing-group-name e2e-building
building_rc=$rc
cli create-thing-group --thing-group-name e2e-floor --parent-group-name e2e-building
if ((building_rc == 0 && rc == 0)); then
	ok "create-thing-group gives a parent and a child group to attach to"
	expect_ok "attach-policy to the parent group" attach-policy --policy-name "$POLICY" --target "$(group_arn e2e-building)"
	expect_ok "attach-policy to the child group" attach-policy --policy-name e2e-extra-2 --target "$(group_arn e2e-floor)"
	expect_ok "list-attached-policies of the child" list-attached-policies --target "$(group_arn e2e-floor)"
	expect_jq "list-attached-policies of the child: its own policy" '[.policies[].policyName] == ["e2e-extra-2"]'
	expect_ok "list-attached-policies --recursive of the child" list-attached-policies --target "$(group_arn e2e-floor)" --recursive
	expect_jq "list-attached-policies --recursive: the parent's policy too" '[.policies[].policyName] == [$n, "e2e-extra-2"]' --arg n "$POLICY"
	cli list-targets-for-policy --policy-name "$POLICY"
	expect_jq "list-targets-for-policy: the parent group" '.targets == [$g]' --arg g "$(group_arn e2e-building)"
	cli create-dynamic-thing-group --thing-group-name e2e-dynamic --query-string 'attributes.e2e:yes'
	if ((rc == 0)); then
		expect_error "attach-policy to a dynamic group -> InvalidRequestException" InvalidRequestException \
			attach-policy --policy-name "$POLICY" --target "$(group_arn e2e-dynamic)"
	else
		echo "# skip: create-dynamic-thing-group failed (rc=$rc); dynamic group check skipped"
	fi
	expect_ok "detach-policy from the parent group" detach-policy --policy-name "$POLICY" --target "$(group_arn e2e-building)"
	expect_ok "detach-policy from the child group" detach-policy --policy-name e2e-extra-2 --target "$(group_arn e2e-floor)"
	cli list-attached-policies --target "$(group_arn e2e-floor)" --recursive
	expect_jq "after detaching: no policies, even recursively" '.policies == []'
else
	echo "# skip: create-thing-group failed (rc=$rc); thing group checks skipped"
	diag
fi

# ---------------------------------------------------------------- logging options
expect_ok "set-v2-logging-options --role-arn --default-log-level ERROR" \
	set-v2-logging-options --role-arn "$LOG_ROLE" --default-log-level ERROR
expect_empty "set-v2-logging-options prints nothing"
expect_ok "get-v2-logging-options" get-v2-logging-options
expect_jq "get-v2-logging-options: what was set, disableAllLogs false" \
	'. == {"roleArn":$r,"defaultLogLevel":"ERROR","disableAllLogs":false}' --arg r "$LOG_ROLE"
expect_ok "set-v2-logging-options --disable-all-logs" \
	set-v2-logging-options --role-arn "$LOG_ROLE" --default-log-level WARN --disable-all-logs
cli get-v2-logging-options
expect_jq "get-v2-logging-options: WARN, all logs disabled" '.defaultLogLevel == "WARN" and .disableAllLogs == true'
expect_error "set-v2-logging-options with an unknown level -> InvalidRequestException" InvalidRequestException \
	set-v2-logging-options --role-arn "$LOG_ROLE" --default-log-level LOUD
expect_ok "set-logging-options (V1)" set-logging-options --logging-options-payload "roleArn=$LOG_ROLE,logLevel=INFO"
expect_empty "set-logging-options prints nothing"
expect_ok "get-logging-options" get-logging-options
expect_jq "get-logging-options: what was set" '. == {"roleArn":$r,"logLevel":"INFO"}' --arg r "$LOG_ROLE"
cli get-v2-logging-options
expect_jq "V1 and V2 are separate: V2 unchanged" '.defaultLogLevel == "WARN"'

# ---------------------------------------------------------------- test-authorization, get-effective-policies
cli create-keys-and-certificate --set-as-active
authz_cert=$(jq -r '.certificateArn // empty' <<<"$out" 2>/dev/null || true)
topic_arn=arn:aws:iot:$REGION:$ACCOUNT:topic
cli create-policy --policy-name e2e-authz --policy-document "$(doc iot:Publish "$topic_arn/dev/\${iot:ClientId}/*")"
cli attach-policy --policy-name e2e-authz --target "$authz_cert"
expect_ok "test-authorization --client-id c1" test-authorization --principal "$authz_cert" --client-id c1 \
	--auth-infos "actionType=PUBLISH,resources=$topic_arn/dev/c1/t" "actionType=PUBLISH,resources=$topic_arn/dev/c2/t"
expect_jq "test-authorization: \${iot:ClientId} allows c1's topic only" \
	'[.authResults[].authDecision] == ["ALLOWED","IMPLICIT_DENY"] and .authResults[0].allowed.policies == [{"policyName":"e2e-authz","policyArn":$a}]' \
	--arg a "arn:aws:iot:$REGION:$ACCOUNT:policy/e2e-authz"
expect_error "test-authorization with a Cognito identity -> InvalidRequestException" InvalidRequestException \
	test-authorization --principal "$REGION:0b3e1a52-8b22-4a44-9c9a-4f3c7e2a1111" --auth-infos "actionType=CONNECT,resources=arn:aws:iot:$REGION:$ACCOUNT:client/c1"
expect_ok "get-effective-policies --principal <cert ARN>" get-effective-policies --principal "$authz_cert"
expect_jq "get-effective-policies: the attached policy and its document" \
	'[.effectivePolicies[].policyName] == ["e2e-authz"] and (.effectivePolicies[0].policyDocument | fromjson | .Statement[0].Action) == "iot:Publish"'
cli detach-policy --policy-name e2e-authz --target "$authz_cert"
cli delete-policy --policy-name e2e-authz

# ---------------------------------------------------------------- restart keeps everything
cli get-policy --policy-name "$POLICY"
policy_before=$out
stop_server
start_server server2 || bail "warden serve restarts on the same data dir"
expect_ok "after restart: get-policy" get-policy --policy-name "$POLICY"
expect_jq "after restart: the policy is unchanged" '. == $before' --argjson before "$policy_before"
cli get-v2-logging-options
expect_jq "after restart: V2 logging options kept" '. == {"roleArn":$r,"defaultLogLevel":"WARN","disableAllLogs":true}' --arg r "$LOG_ROLE"

# ---------------------------------------------------------------- delete-policy
expect_error "delete-policy with non-default versions -> DeleteConflictException" DeleteConflictException \
	delete-policy --policy-name "$POLICY"
for v in 1 3 4 6; do cli delete-policy-version --policy-name "$POLICY" --policy-version-id "$v"; done
cli list-policy-versions --policy-name "$POLICY"
expect_jq "only the default version is left" '[.policyVersions[].versionId] == ["2"]'
expect_ok "delete-policy" delete-policy --policy-name "$POLICY"
expect_empty "delete-policy prints nothing"
expect_error "get-policy after delete -> ResourceNotFoundException" ResourceNotFoundException get-policy --policy-name "$POLICY"
expect_error "list-tags-for-resource after delete -> ResourceNotFoundException" ResourceNotFoundException \
	list-tags-for-resource --resource-arn "$POLICY_ARN"

summary
