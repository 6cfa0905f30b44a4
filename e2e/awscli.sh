#!/usr/bin/env bash
# End-to-end suite: drives a real `warden serve` with the real aws CLI
# (Debian's awscli 2.9.19 at /usr/bin/aws) and checks every answer with jq.
#
#   bash e2e/awscli.sh
#
# Prints one TAP-like line per check ("ok - ..." / "not ok - ...") and ends with
# "N passed, M failed"; exits non-zero if any check failed. Set KEEP_TMP=1 to
# keep the temp dir (server logs, data dir) for a post-mortem.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROLE=arn:aws:iam::$ACCOUNT:role/MitigationActionsValidRole

arn_of() { echo "arn:aws:iot:$REGION:${2:-$ACCOUNT}:mitigationaction/$1"; }

# ---------------------------------------------------------------- build + start
build_warden
start_server server1 || bail "warden serve starts and answers on $endpoint"
echo "# warden pid $server_pid on $endpoint, data dir $data"

if read_keys "$tmp/server1.out" && grep -qx "export AWS_DEFAULT_REGION=$REGION" "$tmp/server1.out"; then
	ok "first start prints export lines for the access key, secret and region"
else
	not_ok "first start prints export lines for the access key, secret and region"
	sed 's/^/#   /' "$tmp/server1.out" >&2
	bail "cannot go on without credentials"
fi
if grep -q "^aws_access_key_id = $key\$" "$data/credentials" && grep -q '^\[warden\]$' "$data/credentials"; then
	ok "first start writes DATA_DIR/credentials with profile [warden]"
else
	not_ok "first start writes DATA_DIR/credentials with profile [warden]"
fi

# ---------------------------------------------------------------- the seed's own example
seed=UpdateCACertName
expect_ok "create-mitigation-action: the seed example" \
	create-mitigation-action --action-name "UpdateCACertName" \
	--role-arn arn:aws:iam::123456789012:role/MitigationActionsValidRole \
	--action-params "updateDeviceCertificateParams={action=DEACTIVATE}"
seed_id=$(jq -r '.actionId // empty' <<<"$out" 2>/dev/null || true)
expect_jq "create returns actionArn $(arn_of $seed)" '.actionArn == $arn' --arg arn "$(arn_of $seed)"
expect_jq "create returns a UUID actionId" '.actionId | test($re)' --arg re "$UUID"
expect_jq "create returns only actionArn and actionId" 'keys == ["actionArn","actionId"]'

expect_ok "describe-mitigation-action of the seed" describe-mitigation-action --action-name "$seed"
expect_jq "describe: name, ARN, id, role" \
	'.actionName == $n and .actionArn == $arn and .actionId == $id and .roleArn == $role' \
	--arg n "$seed" --arg arn "$(arn_of $seed)" --arg id "$seed_id" --arg role "$ROLE"
expect_jq "describe: actionType UPDATE_DEVICE_CERTIFICATE" '.actionType == "UPDATE_DEVICE_CERTIFICATE"'
expect_jq "describe: actionParams as sent" \
	'.actionParams == {"updateDeviceCertificateParams": {"action": "DEACTIVATE"}}'
expect_jq "describe: creationDate and lastModifiedDate are timestamps, equal after create" \
	'(.creationDate | test($re)) and (.lastModifiedDate | test($re)) and .creationDate == .lastModifiedDate' \
	--arg re "$TS"

expect_ok "list-mitigation-actions" list-mitigation-actions
expect_jq "list: holds the seed with its ARN and creationDate" \
	'[.actionIdentifiers[] | select(.actionName == $n and .actionArn == $arn and (.creationDate | test($re)))] | length == 1' \
	--arg n "$seed" --arg arn "$(arn_of $seed)" --arg re "$TS"

# ---------------------------------------------------------------- one action of each type
# name|type|--action-params (shorthand or JSON)|actionParams expected back
types=(
	"e2e-device-cert|UPDATE_DEVICE_CERTIFICATE|updateDeviceCertificateParams={action=DEACTIVATE}|{\"updateDeviceCertificateParams\":{\"action\":\"DEACTIVATE\"}}"
	"e2e-ca-cert|UPDATE_CA_CERTIFICATE|updateCACertificateParams={action=DEACTIVATE}|{\"updateCACertificateParams\":{\"action\":\"DEACTIVATE\"}}"
	"e2e-quarantine|ADD_THINGS_TO_THING_GROUP|{\"addThingsToThingGroupParams\":{\"thingGroupNames\":[\"quarantine\",\"quarantine:2\"],\"overrideDynamicGroups\":true}}|{\"addThingsToThingGroupParams\":{\"thingGroupNames\":[\"quarantine\",\"quarantine:2\"],\"overrideDynamicGroups\":true}}"
	"e2e-blank-policy|REPLACE_DEFAULT_POLICY_VERSION|replaceDefaultPolicyVersionParams={templateName=BLANK_POLICY}|{\"replaceDefaultPolicyVersionParams\":{\"templateName\":\"BLANK_POLICY\"}}"
	"e2e-logging|ENABLE_IOT_LOGGING|{\"enableIoTLoggingParams\":{\"roleArnForLogging\":\"arn:aws:iam::123456789012:role/IoTLogging\",\"logLevel\":\"WARN\"}}|{\"enableIoTLoggingParams\":{\"roleArnForLogging\":\"arn:aws:iam::123456789012:role/IoTLogging\",\"logLevel\":\"WARN\"}}"
	"e2e-sns|PUBLISH_FINDING_TO_SNS|{\"publishFindingToSnsParams\":{\"topicArn\":\"arn:aws:sns:us-east-1:123456789012:findings\"}}|{\"publishFindingToSnsParams\":{\"topicArn\":\"arn:aws:sns:us-east-1:123456789012:findings\"}}"
)
declare -A type_of=([$seed]=UPDATE_DEVICE_CERTIFICATE) id_of=([$seed]=$seed_id)
for t in "${types[@]}"; do
	IFS='|' read -r name type params want <<<"$t"
	expect_ok "create $type action $name" \
		create-mitigation-action --action-name "$name" --role-arn "$ROLE" --action-params "$params"
	expect_jq "create $name: ARN and UUID" '.actionArn == $arn and (.actionId | test($re))' \
		--arg arn "$(arn_of "$name")" --arg re "$UUID"
	id_of[$name]=$(jq -r '.actionId // empty' <<<"$out" 2>/dev/null || true)
	type_of[$name]=$type
	expect_ok "describe $name" describe-mitigation-action --action-name "$name"
	expect_jq "describe $name: actionType $type, actionParams as sent, same id, timestamps" \
		'.actionType == $type and .actionParams == $want and .actionId == $id and .actionArn == $arn
		 and (.creationDate | test($re)) and (.lastModifiedDate | test($re))' \
		--arg type "$type" --argjson want "$want" --arg id "${id_of[$name]}" \
		--arg arn "$(arn_of "$name")" --arg re "$TS"
done

# ---------------------------------------------------------------- tags on create
tagged=e2e-tagged
expect_ok "create with --tags" create-mitigation-action --action-name "$tagged" --role-arn "$ROLE" \
	--action-params "updateCACertificateParams={action=DEACTIVATE}" \
	--tags Key=env,Value=prod Key=team,Value=secops
type_of[$tagged]=UPDATE_CA_CERTIFICATE
id_of[$tagged]=$(jq -r '.actionId // empty' <<<"$out" 2>/dev/null || true)
expect_ok "list-tags-for-resource of the action created with tags" \
	list-tags-for-resource --resource-arn "$(arn_of $tagged)"
expect_jq "list-tags: the tags given at create" \
	'.tags | sort_by(.Key) == [{"Key":"env","Value":"prod"},{"Key":"team","Value":"secops"}]'

# ---------------------------------------------------------------- update
sleep 0.05 # so lastModifiedDate moves even on a coarse clock
role2=arn:aws:iam::$ACCOUNT:role/AnotherMitigationRole
expect_ok "update-mitigation-action: role only" \
	update-mitigation-action --action-name e2e-sns --role-arn "$role2"
expect_jq "update returns the same ARN and id" '.actionArn == $arn and .actionId == $id' \
	--arg arn "$(arn_of e2e-sns)" --arg id "${id_of[e2e-sns]}"
expect_ok "describe after role update" describe-mitigation-action --action-name e2e-sns
expect_jq "role update: new roleArn, params and type unchanged" \
	'.roleArn == $role and .actionType == "PUBLISH_FINDING_TO_SNS"
	 and .actionParams == {"publishFindingToSnsParams":{"topicArn":"arn:aws:sns:us-east-1:123456789012:findings"}}' \
	--arg role "$role2"
expect_jq "role update: lastModifiedDate after creationDate" \
	"$JQDEFS"' (.lastModifiedDate | ts) > (.creationDate | ts)'
before_create=$(jq -r .creationDate <<<"$out" 2>/dev/null || true)

expect_ok "update-mitigation-action: params of another type" \
	update-mitigation-action --action-name e2e-sns \
	--action-params "replaceDefaultPolicyVersionParams={templateName=BLANK_POLICY}"
type_of[e2e-sns]=REPLACE_DEFAULT_POLICY_VERSION
expect_ok "describe after params update" describe-mitigation-action --action-name e2e-sns
expect_jq "params update: actionType becomes REPLACE_DEFAULT_POLICY_VERSION, only the new params, role and id kept" \
	'.actionType == "REPLACE_DEFAULT_POLICY_VERSION"
	 and .actionParams == {"replaceDefaultPolicyVersionParams":{"templateName":"BLANK_POLICY"}}
	 and .roleArn == $role and .actionId == $id' \
	--arg role "$role2" --arg id "${id_of[e2e-sns]}"
expect_jq "params update: creationDate unchanged" '.creationDate == $c' --arg c "$before_create"

expect_error "update of a missing action -> ResourceNotFoundException" ResourceNotFoundException \
	update-mitigation-action --action-name e2e-missing --role-arn "$role2"

# ---------------------------------------------------------------- list: filter and paging
all_names() { printf '%s\n' "${!type_of[@]}" | jq -R . | jq -s -c 'sort'; }
names_of_type() {
	local n
	for n in "${!type_of[@]}"; do
		if [[ ${type_of[$n]} == "$1" ]]; then printf '%s\n' "$n"; fi
	done | jq -R . | jq -s -c 'sort'
}
for type in UPDATE_DEVICE_CERTIFICATE UPDATE_CA_CERTIFICATE ADD_THINGS_TO_THING_GROUP \
	REPLACE_DEFAULT_POLICY_VERSION ENABLE_IOT_LOGGING PUBLISH_FINDING_TO_SNS; do
	expect_ok "list-mitigation-actions --action-type $type" list-mitigation-actions --action-type "$type"
	expect_jq "list --action-type $type: exactly $(names_of_type "$type")" \
		'[.actionIdentifiers[].actionName] | sort == $want' --argjson want "$(names_of_type "$type")"
done
expect_error "list --action-type BOGUS -> InvalidRequestException" InvalidRequestException \
	list-mitigation-actions --action-type BOGUS

total=$(all_names | jq length)
expect_ok "list-mitigation-actions --no-paginate --max-results 2 (one raw page)" \
	list-mitigation-actions --no-paginate --max-results 2
expect_jq "one raw page: 2 items and a nextToken" '(.actionIdentifiers | length) == 2 and (.nextToken | type) == "string"'

expect_ok "list-mitigation-actions --page-size 2 (the CLI pages through all)" \
	list-mitigation-actions --page-size 2 --debug
pages=$(grep -c 'Making request for OperationModel(name=ListMitigationActions)' <<<"$err" || true)
expect_jq "--page-size 2: all $total actions, each exactly once, no token left" \
	'[.actionIdentifiers[].actionName] as $got | ($got | sort) == $want and ($got | unique | length) == ($got | length) and has("nextToken") == false' \
	--argjson want "$(all_names)"
if ((pages >= (total + 1) / 2)); then ok "--page-size 2: took $pages requests for $total actions"; else
	not_ok "--page-size 2: took $pages requests for $total actions, want >= $(((total + 1) / 2))"
fi

expect_ok "list --action-type with --page-size 1" \
	list-mitigation-actions --action-type UPDATE_CA_CERTIFICATE --page-size 1
expect_jq "filtered paging: exactly the UPDATE_CA_CERTIFICATE actions" \
	'[.actionIdentifiers[].actionName] | sort == $want' --argjson want "$(names_of_type UPDATE_CA_CERTIFICATE)"

expect_ok "list-mitigation-actions --max-items 3 --page-size 2" list-mitigation-actions --max-items 3 --page-size 2
expect_jq "--max-items 3: 3 items and a NextToken" '(.actionIdentifiers | length) == 3 and (.NextToken | type) == "string"'
first3=$(jq -c '[.actionIdentifiers[].actionName]' <<<"$out" 2>/dev/null || echo '[]')
token=$(jq -r '.NextToken // empty' <<<"$out" 2>/dev/null || true)
expect_ok "list-mitigation-actions --starting-token (the rest)" \
	list-mitigation-actions --starting-token "$token" --page-size 2
expect_jq "--max-items then --starting-token: together all actions exactly once" \
	'($first + [.actionIdentifiers[].actionName]) as $got | ($got | sort) == $want and ($got | unique | length) == ($got | length)' \
	--argjson first "$first3" --argjson want "$(all_names)"

# ---------------------------------------------------------------- errors
expect_error "describe of a missing name -> ResourceNotFoundException" ResourceNotFoundException \
	describe-mitigation-action --action-name e2e-does-not-exist
expect_error "create same name, different params -> ResourceAlreadyExistsException" ResourceAlreadyExistsException \
	create-mitigation-action --action-name "$seed" --role-arn "$ROLE" \
	--action-params "updateCACertificateParams={action=DEACTIVATE}"
# Same name, same role and params: warden answers with the existing action
# (store.go documents it); ResourceAlreadyExistsException would be fine too.
# Either way there must not be a second action.
cli create-mitigation-action --action-name "$seed" --role-arn "$ROLE" \
	--action-params "updateDeviceCertificateParams={action=DEACTIVATE}"
if { ((rc == 0)) && jq -e '.actionId == $id' --arg id "$seed_id" >/dev/null 2>&1 <<<"$out"; } ||
	{ ((rc != 0)) && grep -q '(ResourceAlreadyExistsException)' <<<"$err"; }; then
	ok "create same name, same params -> the existing actionId (or ResourceAlreadyExistsException)"
else
	not_ok "create same name, same params -> the existing actionId (or ResourceAlreadyExistsException)"
	diag
fi
expect_error "create with logLevel DISABLED -> InvalidRequestException" InvalidRequestException \
	create-mitigation-action --action-name e2e-log-disabled --role-arn "$ROLE" \
	--action-params '{"enableIoTLoggingParams":{"roleArnForLogging":"arn:aws:iam::123456789012:role/IoTLogging","logLevel":"DISABLED"}}'
expect_error "update to logLevel DISABLED -> InvalidRequestException" InvalidRequestException \
	update-mitigation-action --action-name e2e-logging \
	--action-params '{"enableIoTLoggingParams":{"roleArnForLogging":"arn:aws:iam::123456789012:role/IoTLogging","logLevel":"DISABLED"}}'
expect_error "create with two param types -> InvalidRequestException" InvalidRequestException \
	create-mitigation-action --action-name e2e-two-types --role-arn "$ROLE" \
	--action-params "updateDeviceCertificateParams={action=DEACTIVATE},updateCACertificateParams={action=DEACTIVATE}"
expect_error "create with a name outside [a-zA-Z0-9_-] -> InvalidRequestException" InvalidRequestException \
	create-mitigation-action --action-name 'bad.name' --role-arn "$ROLE" \
	--action-params "updateDeviceCertificateParams={action=DEACTIVATE}"
expect_ok "describe after the failed calls: the seed is unchanged" describe-mitigation-action --action-name "$seed"
expect_jq "failed create and update changed nothing" \
	'.actionId == $id and .actionType == "UPDATE_DEVICE_CERTIFICATE"' --arg id "$seed_id"
cli list-mitigation-actions
expect_jq "failed creates added nothing" '[.actionIdentifiers[].actionName] | sort == $want' \
	--argjson want "$(all_names)"

cli_as "$key" "${secret}x" list-mitigation-actions
expect_last_error "a wrong secret -> InvalidSignatureException" InvalidSignatureException
cli_as AKIAE2EUNKNOWNKEY000 "$secret" list-mitigation-actions
expect_last_error "an unknown access key -> UnrecognizedClientException" UnrecognizedClientException

# ---------------------------------------------------------------- tags
expect_ok "tag-resource" tag-resource --resource-arn "$(arn_of $seed)" \
	--tags Key=owner,Value=alice Key=stage,Value=dev
if [[ -z $out ]]; then ok "tag-resource output is empty"; else not_ok "tag-resource output is empty: $out"; fi
expect_ok "list-tags-for-resource" list-tags-for-resource --resource-arn "$(arn_of $seed)"
expect_jq "list-tags: the two tags" '.tags | sort_by(.Key) == [{"Key":"owner","Value":"alice"},{"Key":"stage","Value":"dev"}]'
expect_ok "tag-resource overwrites a key" tag-resource --resource-arn "$(arn_of $seed)" --tags Key=owner,Value=bob
cli list-tags-for-resource --resource-arn "$(arn_of $seed)"
expect_jq "list-tags: owner overwritten, stage kept" '.tags | sort_by(.Key) == [{"Key":"owner","Value":"bob"},{"Key":"stage","Value":"dev"}]'
expect_ok "untag-resource" untag-resource --resource-arn "$(arn_of $seed)" --tag-keys stage
if [[ -z $out ]]; then ok "untag-resource output is empty"; else not_ok "untag-resource output is empty: $out"; fi
cli list-tags-for-resource --resource-arn "$(arn_of $seed)"
expect_jq "list-tags after untag: only owner" '.tags == [{"Key":"owner","Value":"bob"}]'

# ---------------------------------------------------------------- delete
expect_ok "delete-mitigation-action" delete-mitigation-action --action-name e2e-device-cert
if [[ -z $out ]]; then ok "delete output is empty"; else not_ok "delete output is empty: $out"; fi
unset 'type_of[e2e-device-cert]'
expect_error "describe after delete -> ResourceNotFoundException" ResourceNotFoundException \
	describe-mitigation-action --action-name e2e-device-cert
expect_ok "delete again: still success" delete-mitigation-action --action-name e2e-device-cert
expect_ok "delete of a name never created: success" delete-mitigation-action --action-name e2e-never-was
cli list-mitigation-actions
expect_jq "list after delete: the deleted action is gone" '[.actionIdentifiers[].actionName] | sort == $want' \
	--argjson want "$(all_names)"
expect_ok "re-create the deleted name" create-mitigation-action --action-name e2e-device-cert --role-arn "$ROLE" \
	--action-params "updateDeviceCertificateParams={action=DEACTIVATE}"
type_of[e2e-device-cert]=UPDATE_DEVICE_CERTIFICATE
expect_jq "re-create gives a new actionId" '.actionId != $old and (.actionId | test($re))' \
	--arg old "${id_of[e2e-device-cert]}" --arg re "$UUID"
id_of[e2e-device-cert]=$(jq -r '.actionId // empty' <<<"$out" 2>/dev/null || true)

# ---------------------------------------------------------------- a second account
if create_credentials "$ACCOUNT_B" key_b secret_b && [[ $key_b != "$key" ]]; then
	ok "warden credentials create --account $ACCOUNT_B (server running) prints a new key"
else
	not_ok "warden credentials create --account $ACCOUNT_B prints a new key"
	sed 's/^/#   /' "$tmp/credentials-$ACCOUNT_B.out" "$tmp/credentials-$ACCOUNT_B.err" >&2
fi
cli_as "$key_b" "$secret_b" list-mitigation-actions
expect_jq "account B: list is empty" '.actionIdentifiers == []'
cli_as "$key_b" "$secret_b" describe-mitigation-action --action-name "$seed"
expect_last_error "account B: describe of account A's action -> ResourceNotFoundException" ResourceNotFoundException
cli_as "$key_b" "$secret_b" update-mitigation-action --action-name "$seed" --role-arn "$role2"
expect_last_error "account B: update of account A's action -> ResourceNotFoundException" ResourceNotFoundException
cli_as "$key_b" "$secret_b" create-mitigation-action --action-name "$seed" \
	--role-arn "arn:aws:iam::$ACCOUNT_B:role/MitigationActionsValidRole" \
	--action-params "updateCACertificateParams={action=DEACTIVATE}"
expect_jq "account B: same name is free, ARN carries account $ACCOUNT_B" '.actionArn == $arn and .actionId != $id' \
	--arg arn "$(arn_of $seed $ACCOUNT_B)" --arg id "$seed_id"
cli_as "$key_b" "$secret_b" list-tags-for-resource --resource-arn "$(arn_of $seed)"
if ((rc != 0)) || jq -e '.tags == []' >/dev/null 2>&1 <<<"$out"; then
	ok "account B: cannot read account A's tags"
else
	not_ok "account B: cannot read account A's tags"
	diag
fi
cli_as "$key_b" "$secret_b" delete-mitigation-action --action-name e2e-ca-cert
cli describe-mitigation-action --action-name "$seed"
expect_jq "account A: its action is untouched by account B" \
	'.actionId == $id and .actionType == "UPDATE_DEVICE_CERTIFICATE" and .actionArn == $arn' \
	--arg id "$seed_id" --arg arn "$(arn_of $seed)"
cli describe-mitigation-action --action-name e2e-ca-cert
expect_jq "account A: account B's delete of a same-named action did not touch A's" '.actionId == $id' \
	--arg id "${id_of[e2e-ca-cert]}"

# ---------------------------------------------------------------- restart on the same data dir
cli list-mitigation-actions
before=$(jq -c '[.actionIdentifiers[] ] | sort_by(.actionName)' <<<"$out" 2>/dev/null || echo '[]')
cli list-mitigation-actions --max-items 2 --page-size 2
resume_token=$(jq -r '.NextToken // empty' <<<"$out" 2>/dev/null || true)
resume_first=$(jq -c '[.actionIdentifiers[].actionName]' <<<"$out" 2>/dev/null || echo '[]')
kill -TERM "$server_pid"
stop_rc=0
wait "$server_pid" || stop_rc=$?
server_pid=
if ((stop_rc == 0)); then ok "SIGTERM: warden exits with status 0"; else not_ok "SIGTERM: warden exits with status $stop_rc"; fi
start_server server2 || bail "warden serve restarts on the same data dir"
if ! grep -q '^export AWS_ACCESS_KEY_ID=' "$tmp/server2.out"; then
	ok "restart: no new credentials printed"
else
	not_ok "restart: no new credentials printed"
fi
expect_ok "after restart: list-mitigation-actions with the same key" list-mitigation-actions
expect_jq "after restart: the same actions (names, ARNs, creation dates)" \
	'[.actionIdentifiers[]] | sort_by(.actionName) == $before' --argjson before "$before"
expect_ok "after restart: describe the seed" describe-mitigation-action --action-name "$seed"
expect_jq "after restart: same id, type, params" \
	'.actionId == $id and .actionType == "UPDATE_DEVICE_CERTIFICATE" and .actionParams == {"updateDeviceCertificateParams":{"action":"DEACTIVATE"}}' \
	--arg id "$seed_id"
cli describe-mitigation-action --action-name e2e-sns
expect_jq "after restart: the updated action keeps its update" \
	'.actionType == "REPLACE_DEFAULT_POLICY_VERSION" and .roleArn == $role' --arg role "$role2"
cli list-tags-for-resource --resource-arn "$(arn_of $seed)"
expect_jq "after restart: tags kept" '.tags == [{"Key":"owner","Value":"bob"}]'
expect_ok "after restart: --starting-token from before the restart" \
	list-mitigation-actions --starting-token "$resume_token" --page-size 2
expect_jq "after restart: the old token resumes where it stopped (all actions exactly once)" \
	'($first + [.actionIdentifiers[].actionName]) as $got | ($got | sort) == $want and ($got | unique | length) == ($got | length)' \
	--argjson first "$resume_first" --argjson want "$(all_names)"
cli_as "$key_b" "$secret_b" list-mitigation-actions
expect_jq "after restart: account B's key works and sees only its own action" \
	'[.actionIdentifiers[].actionArn] == [$arn]' --arg arn "$(arn_of $seed $ACCOUNT_B)"

# ---------------------------------------------------------------- test credentials
stop_server
fixed_key=AKIAE2ETESTKEY000001 fixed_secret=e2eTestSecretAccessKey000000000000000000
data=$tmp/data-fixed
WARDEN_ACCESS_KEY_ID=$fixed_key WARDEN_SECRET_ACCESS_KEY=$fixed_secret start_server server-fixed ||
	bail "warden serve starts with WARDEN_ACCESS_KEY_ID and WARDEN_SECRET_ACCESS_KEY"
cli_as "$fixed_key" "$fixed_secret" list-mitigation-actions
expect_jq "a new store's key from WARDEN_ACCESS_KEY_ID works" '.actionIdentifiers == []'
if grep -q -- "$fixed_secret" "$tmp/server-fixed.out" "$tmp/server-fixed.err"; then
	not_ok "the secret of WARDEN_SECRET_ACCESS_KEY is neither printed nor logged"
else ok "the secret of WARDEN_SECRET_ACCESS_KEY is neither printed nor logged"; fi
cli_as "$fixed_key" wrongSecretAccessKey0000000000000000000 list-mitigation-actions
expect_last_error "the fixed key with a wrong secret is refused" InvalidSignatureException
stop_server
data=$tmp/data-any
server_args=(--accept-any-credentials)
start_server server-any || bail "warden serve --accept-any-credentials starts"
if grep -q '"level":"WARN".*accept-any-credentials' "$tmp/server-any.err"; then
	ok "--accept-any-credentials logs a warning at start"
else not_ok "--accept-any-credentials logs a warning at start"; fi
cli_as "$ACCOUNT_B" test create-mitigation-action --action-name e2e-any --role-arn "$ROLE" \
	--action-params "updateDeviceCertificateParams={action=DEACTIVATE}"
expect_jq "--accept-any-credentials: a 12-digit key id is the account" '.actionArn == $arn' --arg arn "$(arn_of e2e-any $ACCOUNT_B)"
cli_as test test list-mitigation-actions
expect_jq "--accept-any-credentials: test/test is the default account, without account B's action" '.actionIdentifiers == []'

summary
