#!/usr/bin/env bash
# End-to-end suite for the IAM-compatible endpoint: drives a real `warden
# serve` with the real aws CLI (Debian's awscli 2.9.19 at /usr/bin/aws, which
# signs iam requests for us-east-1, service "iam") and checks every answer with jq.
#
#   bash e2e/iam.sh
#
# Prints one line per check ("ok - ..." / "not ok - ...") and ends with
# "N passed, M failed"; exits non-zero if any check failed. Set KEEP_TMP=1 to
# keep the temp dir (server logs, data dir).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLI_SERVICE=iam
ROLE_ID='^AROA[A-Z2-7]{17}$'

# ---------------------------------------------------------------- build + start
build_warden
start_server server1 || bail "warden serve starts and answers on $endpoint"
echo "# warden pid $server_pid on $endpoint, data dir $data"
read_keys "$tmp/server1.out" || bail "first start prints the access key"

# ---------------------------------------------------------------- documents
cat >"$tmp/trust.json" <<'EOF'
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": { "Service": "iot.amazonaws.com" },
      "Action": "sts:AssumeRole",
      "Condition": { "StringEquals": { "aws:SourceAccount": "123456789012" } }
    }
  ]
}
EOF
cat >"$tmp/policy.json" <<'EOF'
{
  "Version": "2012-10-17",
  "Statement": [
    { "Sid": "Certs", "Effect": "Allow", "Action": ["iot:UpdateCertificate", "iot:ListPrincipalThings"],
      "Resource": "arn:aws:iot:us-east-1:123456789012:cert/*" },
    { "Sid": "NoDeletes", "Effect": "Deny", "NotAction": "iot:Describe*", "NotResource": "arn:aws:iot:*:*:thing/*" }
  ]
}
EOF
trust=$(jq -c . "$tmp/trust.json")
policy=$(jq -c . "$tmp/policy.json")

# ---------------------------------------------------------------- roles
expect_ok "create-role with path, description, session duration and tags" \
	create-role --role-name MitigationRole --path /service-role/ \
	--assume-role-policy-document "file://$tmp/trust.json" --description "Device Defender mitigations" \
	--max-session-duration 7200 --tags Key=team,Value=iot Key=env,Value=prod
expect_jq "create-role: Arn arn:aws:iam::$ACCOUNT:role/service-role/MitigationRole" \
	'.Role.Arn == "arn:aws:iam::\($a):role/service-role/MitigationRole"' --arg a "$ACCOUNT"
expect_jq "create-role: RoleId AROA + 17, Path, RoleName, CreateDate" \
	'(.Role.RoleId | test($id)) and .Role.Path == "/service-role/" and .Role.RoleName == "MitigationRole" and (.Role.CreateDate | test($ts))' \
	--arg id "$ROLE_ID" --arg ts "$TS"
expect_jq "create-role: the CLI decodes the URL-encoded trust policy back to the file's JSON" \
	'.Role.AssumeRolePolicyDocument == $doc' --argjson doc "$trust"
expect_jq "create-role: Description, MaxSessionDuration, Tags" \
	'.Role.Description == "Device Defender mitigations" and .Role.MaxSessionDuration == 7200 and .Role.Tags == [{"Key":"team","Value":"iot"},{"Key":"env","Value":"prod"}]'
role_id=$(jq -r '.Role.RoleId // empty' <<<"$out" 2>/dev/null || true)

expect_ok "get-role finds the role without regard to case" get-role --role-name mitigationrole
expect_jq "get-role: same id, stored name, tags, trust policy, RoleLastUsed" \
	'.Role.RoleId == $id and .Role.RoleName == "MitigationRole" and (.Role.Tags | length) == 2 and .Role.AssumeRolePolicyDocument == $doc and .Role.RoleLastUsed == {}' \
	--arg id "$role_id" --argjson doc "$trust"

expect_error "create-role of an existing name (other case): EntityAlreadyExists" EntityAlreadyExists \
	create-role --role-name MITIGATIONROLE --assume-role-policy-document "$trust"
expect_error "create-role with a space in the name: ValidationError" ValidationError \
	create-role --role-name "bad name" --assume-role-policy-document "$trust"
if grep -q "Value 'bad name' at 'roleName' failed to satisfy constraint" <<<"$err"; then ok "ValidationError names roleName as IAM does"; else
	not_ok "ValidationError names roleName as IAM does"
	diag
fi
expect_error "create-role with a path without trailing slash: ValidationError" ValidationError \
	create-role --role-name x --path /a --assume-role-policy-document "$trust"
expect_error "create-role with max-session-duration 43201 (the CLI checks only minimums): ValidationError" ValidationError \
	create-role --role-name x --max-session-duration 43201 --assume-role-policy-document "$trust"
expect_error "create-role with a trust policy without Principal: MalformedPolicyDocument" MalformedPolicyDocument \
	create-role --role-name x --assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}'
expect_error "create-role with a trust policy that is not JSON: MalformedPolicyDocument" MalformedPolicyDocument \
	create-role --role-name x --assume-role-policy-document '{"Statement":'
big=$(jq -c '.Statement = [range(30) as $i | .Statement[0]]' "$tmp/trust.json")
expect_error "create-role with a trust policy over 2048 characters: LimitExceeded" LimitExceeded \
	create-role --role-name x --assume-role-policy-document "$big"
expect_error "get-role of a missing role: NoSuchEntity" NoSuchEntity get-role --role-name Nope
if grep -q "The role with name Nope cannot be found." <<<"$err"; then ok "NoSuchEntity message as IAM's"; else
	not_ok "NoSuchEntity message as IAM's"
	diag
fi

for n in alpha Bravo charlie; do
	cli create-role --role-name "$n" --path /app/ --assume-role-policy-document "$trust"
done
cli create-role --role-name delta --assume-role-policy-document "$trust"
expect_ok "list-roles" list-roles
expect_jq "list-roles: every role, by name without regard to case, without tags" \
	'[.Roles[].RoleName] == ["alpha","Bravo","charlie","delta","MitigationRole"] and all(.Roles[]; has("Tags") | not)'
expect_ok "list-roles --path-prefix /app/" list-roles --path-prefix /app/
expect_jq "list-roles --path-prefix /app/: the three /app/ roles" '[.Roles[].RoleName] == ["alpha","Bravo","charlie"]'
expect_ok "list-roles --page-size 1 (the CLI follows Marker through 5 pages)" list-roles --page-size 1
expect_jq "list-roles --page-size 1: all five, once each" '[.Roles[].RoleName] == ["alpha","Bravo","charlie","delta","MitigationRole"]'
expect_ok "list-roles --max-items 2" list-roles --max-items 2
expect_jq "list-roles --max-items 2: two roles and a NextToken" '(.Roles | length) == 2 and (.NextToken | type) == "string"'
next=$(jq -r '.NextToken // empty' <<<"$out" 2>/dev/null || true)
expect_ok "list-roles --starting-token" list-roles --starting-token "$next"
expect_jq "list-roles --starting-token: the other three" '[.Roles[].RoleName] == ["charlie","delta","MitigationRole"]'
expect_error "list-roles with a forged marker: ValidationError" ValidationError list-roles --marker bm9wZQ.AAAAAAAAAAAAAAAAAAAAAA

# ---------------------------------------------------------------- inline policies
expect_ok "put-role-policy from a file" put-role-policy --role-name MitigationRole --policy-name Mitigations \
	--policy-document "file://$tmp/policy.json"
if [[ -z $out ]]; then ok "put-role-policy prints nothing"; else
	not_ok "put-role-policy prints nothing"
	diag
fi
expect_ok "get-role-policy (names in another case)" get-role-policy --role-name mitigationrole --policy-name MITIGATIONS
expect_jq "get-role-policy: stored names and the document as sent" \
	'.RoleName == "MitigationRole" and .PolicyName == "Mitigations" and .PolicyDocument == $doc' --argjson doc "$policy"
expect_ok "put-role-policy a second policy" put-role-policy --role-name MitigationRole --policy-name Logging \
	--policy-document '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iot:SetV2LoggingOptions","iam:PassRole"],"Resource":"*"}}'
expect_ok "list-role-policies" list-role-policies --role-name MitigationRole
expect_jq "list-role-policies: both, in name order" '.PolicyNames == ["Logging","Mitigations"]'
expect_ok "list-role-policies --page-size 1" list-role-policies --role-name MitigationRole --page-size 1
expect_jq "list-role-policies --page-size 1: both, through the marker" '.PolicyNames == ["Logging","Mitigations"]'
expect_error "put-role-policy naming a principal: MalformedPolicyDocument" MalformedPolicyDocument \
	put-role-policy --role-name MitigationRole --policy-name P \
	--policy-document '{"Statement":{"Effect":"Allow","Principal":"*","Action":"iot:*","Resource":"*"}}'
expect_error "put-role-policy without Resource: MalformedPolicyDocument" MalformedPolicyDocument \
	put-role-policy --role-name MitigationRole --policy-name P --policy-document '{"Statement":{"Effect":"Allow","Action":"iot:*"}}'
expect_error "put-role-policy on a missing role: NoSuchEntity" NoSuchEntity \
	put-role-policy --role-name Nope --policy-name P --policy-document "$policy"
expect_error "get-role-policy of a missing policy: NoSuchEntity" NoSuchEntity \
	get-role-policy --role-name MitigationRole --policy-name Nope
expect_error "delete-role with inline policies: DeleteConflict" DeleteConflict delete-role --role-name MitigationRole
expect_ok "the role is still there" get-role --role-name MitigationRole

# ---------------------------------------------------------------- a second account
create_credentials "$ACCOUNT_B" key_b secret_b || bail "warden credentials create --account $ACCOUNT_B"
cli_as "$key_b" "$secret_b" list-roles
expect_jq "account B sees none of account A's roles" '.Roles == []'
cli_as "$key_b" "$secret_b" get-role --role-name MitigationRole
expect_last_error "account B cannot get account A's role" NoSuchEntity
cli_as "$key_b" "$secret_b" create-role --role-name MitigationRole --assume-role-policy-document "$trust"
expect_jq "account B may create a role of the same name, in its own ARN" \
	'.Role.Arn == "arn:aws:iam::\($b):role/MitigationRole"' --arg b "$ACCOUNT_B"

# ---------------------------------------------------------------- restart
stop_server
start_server server2 || bail "warden serve restarts on the same data dir"
expect_ok "after restart: get-role" get-role --role-name MitigationRole
expect_jq "after restart: same RoleId and trust policy" '.Role.RoleId == $id and .Role.AssumeRolePolicyDocument == $doc' \
	--arg id "$role_id" --argjson doc "$trust"
expect_ok "after restart: get-role-policy" get-role-policy --role-name MitigationRole --policy-name Mitigations
expect_jq "after restart: same document" '.PolicyDocument == $doc' --argjson doc "$policy"

# ---------------------------------------------------------------- deletes
expect_ok "delete-role-policy Mitigations" delete-role-policy --role-name MitigationRole --policy-name Mitigations
expect_ok "delete-role-policy logging (other case)" delete-role-policy --role-name MitigationRole --policy-name logging
expect_error "delete-role-policy again: NoSuchEntity" NoSuchEntity delete-role-policy --role-name MitigationRole --policy-name logging
expect_ok "delete-role once its policies are gone" delete-role --role-name MitigationRole
expect_error "get-role after delete-role: NoSuchEntity" NoSuchEntity get-role --role-name MitigationRole
expect_error "delete-role again: NoSuchEntity" NoSuchEntity delete-role --role-name MitigationRole
expect_ok "list-roles after delete" list-roles
expect_jq "list-roles after delete: the other four" '[.Roles[].RoleName] == ["alpha","Bravo","charlie","delta"]'

summary
