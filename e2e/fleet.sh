#!/usr/bin/env bash
# End-to-end check of the fleet generator: `warden fleet generate` fills a
# fresh data dir, then a real `warden serve` on it answers the real aws CLI
# (Debian's awscli 2.9.19 at /usr/bin/aws) about what was generated.
#
#   bash e2e/fleet.sh
#
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, M failed";
# exits non-zero if any check failed. KEEP_TMP=1 keeps the temp dir.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

THINGS=500
SEED=4242
PREFIX=fleet-39u # fleet- and 4242 in base 36

# warden ARGS...: runs the built warden; sets out, err, rc.
warden() {
	last_cmd="warden $*"
	rc=0
	out=$("$tmp/warden" "$@" 2>"$tmp/stderr") || rc=$?
	err=$(<"$tmp/stderr")
}
# expect_out DESC REGEX: the last command succeeded and printed a line matching REGEX.
expect_out() {
	local desc=$1 re=$2
	if ((rc == 0)) && grep -Eq -- "$re" <<<"$out"; then ok "$desc"; else
		not_ok "$desc"
		echo "#   want a line matching: $re" >&2
		diag
	fi
}

# ---------------------------------------------------------------- generate
build_warden

warden fleet generate --data-dir "$data" --account $ACCOUNT --region $REGION --things $THINGS --groups 5 --seed $SEED --sync normal
gen_out=$out
expect_out "fleet generate exits 0 and prints the new access key" '^export AWS_ACCESS_KEY_ID=AKIA[A-Z2-7]{16}$'
expect_out "the summary counts $THINGS things in 5 groups" "^  things +$THINGS, 3 attributes each, spread over 5 static thing groups$"
expect_out "the summary counts the certificate kinds" \
	"^ +25 expiring within 30 days, 5 expired, 25 issued over 365 days ago, 5 with RSA 1024-bit keys$"
expect_out "the summary counts 50 policies, 5 of them permissive" '^  policies +50 \(5 overly permissive\), 500 attachments to certificates$'
expect_out "the summary counts the change-log rows" "^  change log +2556 rows, actor fleet-generator$"
expect_out "the summary gives the rate" '^  elapsed +[0-9.]+s, [0-9]+ things/s$'
echo "# $(grep -E '^  elapsed' <<<"$gen_out")"
expect_out "the summary names the prefix, fleet- and the seed in base 36" "^Fleet $PREFIX \\(seed $SEED\\):$"
read_keys /dev/stdin <<<"$gen_out" || bail "fleet generate prints the access key and secret"
ca_id=$(sed -n 's/^  CA certificate  \([0-9a-f]\{64\}\) ACTIVE.*/\1/p' <<<"$gen_out")
[[ -n $ca_id ]] || bail "the summary names the CA certificate"
if [[ -s $data/$PREFIX-ca.pem && -s $data/$PREFIX-ca.key && $(stat -c %a "$data/$PREFIX-ca.key") == 600 ]]; then
	ok "the CA certificate and its key (mode 600) are saved in the data dir"
else
	not_ok "the CA certificate and its key (mode 600) are saved in the data dir"
fi

warden fleet generate --data-dir "$data" --things 10 --seed $SEED --sync normal
if ((rc != 0)) && grep -q "exists already" <<<"$err"; then ok "the same seed again is refused"; else
	not_ok "the same seed again is refused"
	diag
fi

# ---------------------------------------------------------------- serve it
start_server server1 || bail "warden serve starts on the generated data dir"
echo "# warden pid $server_pid on $endpoint"

expect_ok "list-things" list-things
expect_jq "list-things pages through all $THINGS things" '[.things[].thingName] | length == $n and .[0] == $first' \
	--argjson n $THINGS --arg first "$PREFIX-device-001"
expect_ok "describe-thing $PREFIX-device-001" describe-thing --thing-name "$PREFIX-device-001"
expect_jq "it has 3 attributes and version 1" '(.attributes | keys) == ["firmware", "model", "site"] and .version == 1'
expect_ok "list-thing-groups" list-thing-groups
expect_jq "5 static groups" '[.thingGroups[].groupName] == [range(1; 6) | "\($p)-group-\(.)"]' --arg p $PREFIX
expect_ok "list-things-in-thing-group $PREFIX-group-1" list-things-in-thing-group --thing-group-name "$PREFIX-group-1"
expect_jq "it holds a fifth of the things" '.things | length == 100'
expect_ok "list-thing-groups-for-thing $PREFIX-device-001" list-thing-groups-for-thing --thing-name "$PREFIX-device-001"
expect_jq "the thing is in one group" '[.thingGroups[].groupName] == [$g]' --arg g "$PREFIX-group-1"

expect_ok "list-ca-certificates" list-ca-certificates
expect_jq "the fleet's CA is registered and ACTIVE" '.certificates | length == 1 and .[0].certificateId == $id and .[0].status == "ACTIVE"' \
	--arg id "$ca_id"
expect_ok "list-certificates-by-ca" list-certificates-by-ca --ca-certificate-id "$ca_id"
expect_jq "it signed $THINGS certificates, all ACTIVE" '.certificates | length == $n and all(.status == "ACTIVE")' --argjson n $THINGS

expect_ok "list-thing-principals $PREFIX-device-001" list-thing-principals --thing-name "$PREFIX-device-001"
expect_jq "one certificate is attached" '.principals | length == 1'
cert_arn=$(jq -r '.principals[0]' <<<"$out")
cert_id=${cert_arn##*/}
expect_ok "describe-certificate of its certificate" describe-certificate --certificate-id "$cert_id"
expect_jq "it is ACTIVE, signed by the CA, with a validity" \
	'.certificateDescription | .status == "ACTIVE" and .caCertificateId == $ca and .certificateMode == "DEFAULT" and
	 (.validity.notBefore < .validity.notAfter) and (.certificatePem | startswith("-----BEGIN CERTIFICATE-----"))' --arg ca "$ca_id"
pem=$(jq -r .certificateDescription.certificatePem <<<"$out")
if ! command -v openssl >/dev/null; then
	echo "# skip openssl checks: openssl is not installed"
elif openssl x509 -noout -subject <<<"$pem" 2>/dev/null | grep -q "CN *= *$PREFIX-device-001" &&
	openssl verify -CAfile "$data/$PREFIX-ca.pem" <(printf '%s\n' "$pem") >/dev/null 2>&1; then
	ok "openssl verifies the certificate against the saved CA, subject CN = the thing"
else
	not_ok "openssl verifies the certificate against the saved CA, subject CN = the thing"
fi
expect_ok "list-principal-things" list-principal-things --principal "$cert_arn"
expect_jq "the certificate is attached to its thing only" '.things == [$t]' --arg t "$PREFIX-device-001"
expect_ok "list-attached-policies of the certificate" list-attached-policies --target "$cert_arn"
expect_jq "one policy is attached" '.policies | length == 1'
policy=$(jq -r '.policies[0].policyName' <<<"$out")
expect_ok "get-policy $policy" get-policy --policy-name "$policy"
expect_jq "it has version 1 and a document with statements" \
	'.defaultVersionId == "1" and (.generationId | test("^[0-9a-f]{64}$")) and (.policyDocument | fromjson | .Statement | length > 0)'
expect_ok "list-targets-for-policy $policy" list-targets-for-policy --policy-name "$policy"
expect_jq "the policy is attached to 10 certificates" '.targets | length == 10 and (index($c) != null)' --arg c "$cert_arn"
expect_ok "list-policies" list-policies
expect_jq "50 policies" '.policies | length == 50'

# A second fleet with another seed goes next to the first, while serving.
warden fleet generate --data-dir "$data" --things 100 --groups 1 --seed 4243 --sync normal
expect_out "a second run with another seed succeeds" '^  things +100, 3 attributes each, spread over 1 static thing groups$'
if ! grep -q "export AWS_ACCESS_KEY_ID" <<<"$out"; then ok "the second run creates no second access key"; else not_ok "the second run creates no second access key"; fi
expect_ok "list-things after the second run" list-things
expect_jq "both fleets are listed" '.things | length == 600'
expect_ok "list-ca-certificates after the second run" list-ca-certificates
expect_jq "each fleet has its CA" '.certificates | length == 2'
stop_server

warden history --data-dir "$data" --resource "arn:aws:iot:$REGION:$ACCOUNT:thing/$PREFIX-device-001"
expect_out "warden history shows the thing's creation by fleet-generator" $'\tfleet-generator\tCreateThing\t'
expect_out "... its group membership" $'\tfleet-generator\tAddThingToThingGroup\t'
expect_out "... and its certificate" $'\tfleet-generator\tAttachThingPrincipal\t'

summary
