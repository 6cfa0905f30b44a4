#!/usr/bin/env bash
# End-to-end checks of the device endpoint with AWS's own device SDK: a
# device on aws-iot-device-sdk-v2 (npm, pinned in e2e/device-sdk/package.json
# and its lockfile; aws-crt's native binary ships in the package) connects
# to `warden serve --mqtt-listen` with MQTT 5 over mutual TLS, subscribes,
# publishes and receives, is refused what its policy denies, and is cut off
# and refused again once its certificate is made INACTIVE with the aws CLI.
#
#   (cd e2e/device-sdk && npm ci)   # once; the suite runs it if needed
#   bash e2e/device_sdk.sh
#
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, M
# failed"; exits non-zero if any check failed. KEEP_TMP=1 keeps the temp dir.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sdk_dir=$PWD/e2e/device-sdk
require node npm
echo "# node $(node --version)"
if [[ ! -d $sdk_dir/node_modules/aws-iot-device-sdk-v2 ]]; then
	echo "# npm ci in $sdk_dir"
	(cd "$sdk_dir" && npm ci --no-audit --no-fund </dev/null >"$tmp/npm.log" 2>&1) || {
		sed 's/^/#   /' "$tmp/npm.log" >&2
		bail "npm ci in e2e/device-sdk installs aws-iot-device-sdk-v2"
	}
fi
echo "# aws-iot-device-sdk-v2 $(jq -r .version "$sdk_dir/node_modules/aws-iot-device-sdk-v2/package.json"), aws-crt $(jq -r .version "$sdk_dir/node_modules/aws-crt/package.json")"

# start_device NAME CERT CLIENT_ID: node device.js in the background with
# the certificate of device CERT, its JSON lines in $tmp/NAME.out (stderr in
# .err). Sets device_pid (also stopped on exit).
start_device() {
	local name=$1 cert=$2 id=$3
	node "$sdk_dir/device.js" --host 127.0.0.1 --port "$mqtt_port" --ca "$tmp/ca.pem" \
		--cert "$tmp/$cert.pem" --key "$tmp/$cert.key" --client-id "$id" \
		--topic e2e/sdk/temp --filter 'e2e/sdk/#' --denied-topic e2e/denied/x --denied-filter 'other/#' \
		--wait 40 >"$tmp/$name.out" 2>"$tmp/$name.err" &
	device_pid=$!
	stop_on_exit "$device_pid"
}

# wait_event NAME EVENT SECONDS: waits until device NAME reported EVENT;
# sets event to its JSON line and event_ms to how long the wait took.
wait_event() {
	local name=$1 ev=$2 secs=$3 t0 i
	t0=$(date +%s%N)
	for ((i = 0; i < secs * 50; i++)); do
		event=$(jq -c --arg e "$ev" 'select(.event == $e)' "$tmp/$name.out" 2>/dev/null | head -1)
		if [[ -n $event ]]; then
			event_ms=$((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		sleep 0.02
	done
	return 1
}

# expect_event DESC NAME FILTER: a line of device NAME matches the jq FILTER.
# expect_no_event DESC NAME FILTER: no line does.
expect_event() { expect_lines "$1" "$2" "any(.[]; $3)"; }
expect_no_event() { expect_lines "$1" "$2" "all(.[]; ($3) | not)"; }
expect_lines() {
	local desc=$1 name=$2 filter=$3
	if jq -e -s "$filter" "$tmp/$name.out" >/dev/null 2>&1; then ok "$desc"; else
		not_ok "$desc"
		{
			echo "#   jq: $filter"
			diag_lines "$name" 30 "$(cat "$tmp/$name.out")"
			diag_lines stderr 10 "$(cat "$tmp/$name.err")"
		} >&2
	fi
}

# ---------------------------------------------------------------- server, device
start_device_server server
policy=$(device_policy 'e2e-*' 'e2e/sdk/*' 'e2e/*' 'e2e/*')
expect_ok "create-policy for the device" create-policy --policy-name e2e-sdk --policy-document "$policy"
make_device e2e-sdk-device e2e-sdk
cert_id=$device_cert_id
echo "# certificate $cert_id"

# ---------------------------------------------------------------- connect, subscribe, publish
start_device sdk e2e-sdk-device e2e-sdk-1
if wait_event sdk ready 30; then ok "the SDK device connects, subscribes, publishes and receives (ready after ${event_ms} ms)"; else
	not_ok "the SDK device connects, subscribes, publishes and receives"
fi
expect_event "CONNACK success" sdk '.event == "connected" and .reasonCode == 0'
expect_event "SUBACK grants QoS 1 on e2e/sdk/#" sdk '.event == "subscribed" and .filter == "e2e/sdk/#" and .reasonCodes == [1]'
expect_event "SUBACK refuses other/# (reason code ≥ 0x80)" sdk '.event == "subscribed" and .filter == "other/#" and .reasonCodes[0] >= 128'
expect_event "PUBACK success for the allowed QoS 1 publish" sdk '.event == "published" and .topic == "e2e/sdk/temp" and .qos == 1 and .reasonCode == 0'
expect_event "the QoS 1 message comes back" sdk '.event == "received" and .topic == "e2e/sdk/temp" and (.payload | endswith("qos1")) and .qos == 1'
expect_event "the QoS 0 message comes back" sdk '.event == "received" and .topic == "e2e/sdk/temp" and (.payload | endswith("qos0")) and .qos == 0'
expect_event "PUBACK 0x87 (not authorized) for the denied publish" sdk '.event == "published" and .topic == "e2e/denied/x" and .reasonCode == 135'
expect_no_event "the denied message is not delivered" sdk '.event == "received" and .topic == "e2e/denied/x"'

# ---------------------------------------------------------------- cut off
t0=$(date +%s%N)
expect_ok "update-certificate --new-status INACTIVE" update-certificate --certificate-id "$cert_id" --new-status INACTIVE
cli_ms=$((($(date +%s%N) - t0) / 1000000))
if wait_event sdk disconnected 5; then
	ok "the SDK reports being disconnected (${event_ms} ms after update-certificate returned, which took ${cli_ms} ms): $event"
else
	not_ok "the SDK reports being disconnected within 5 s of update-certificate"
fi
if wait_event sdk reconnect_refused 10; then ok "its reconnect is refused: $event"; else
	not_ok "its reconnect is refused"
fi
expect_no_event "it never reconnected" sdk '.event == "reconnected"'
for ((i = 0; i < 100; i++)); do running "$device_pid" || break; sleep 0.05; done
rc=0
wait "$device_pid" || rc=$?
if ((rc == 0)); then ok "device.js exits 0"; else
	not_ok "device.js exits 0 (exit $rc)"
	diag_lines stderr 10 "$(cat "$tmp/sdk.err")" >&2
fi

start_device sdk-again e2e-sdk-device e2e-sdk-2
if wait_event sdk-again connection_failure 15; then ok "a new SDK connection with the INACTIVE certificate is refused: $event"; else
	not_ok "a new SDK connection with the INACTIVE certificate is refused"
	diag_lines sdk-again 10 "$(cat "$tmp/sdk-again.out")" >&2
fi
expect_no_event "it never connected" sdk-again '.event == "connected"'
stop_pid "$device_pid"

summary
