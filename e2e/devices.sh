#!/usr/bin/env bash
# End-to-end checks of the device endpoint with Debian's mosquitto-clients:
# devices registered with the real aws CLI connect to `warden serve
# --mqtt-listen` over TLS with their certificates (mosquitto_pub and
# mosquitto_sub, MQTT 3.1.1 and 5), publish and receive what their policy
# allows, are refused what it does not, and are cut off when their
# certificate is made INACTIVE.
#
#   bash e2e/devices.sh
#
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, M
# failed"; exits non-zero if any check failed. KEEP_TMP=1 keeps the temp dir.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! command -v mosquitto_pub >/dev/null || ! command -v mosquitto_sub >/dev/null; then
	bail "mosquitto_pub and mosquitto_sub are needed (apt-get install mosquitto-clients)"
fi
require openssl stdbuf timeout
echo "# $(mosquitto_pub --help 2>/dev/null | head -1 || true)"

# exits_within PID SECONDS: waits until PID has exited, at most SECONDS;
# sets exit_ms to how long that took.
exits_within() {
	local pid=$1 secs=$2 t0 i
	t0=$(date +%s%N)
	for ((i = 0; i < secs * 50; i++)); do
		if ! running "$pid"; then
			exit_ms=$((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		sleep 0.02
	done
	exit_ms=$((secs * 1000))
	return 1
}

# ---------------------------------------------------------------- server, devices
start_device_server server
topics="e2e/devices" # what the devices may publish to
policy=$(device_policy 'e2e-*' "$topics/*" 'e2e/*' 'e2e/*')
expect_ok "create-policy for the devices" create-policy --policy-name e2e-device --policy-document "$policy"
make_device e2e-sensor e2e-device
sensor_id=$device_cert_id
make_device e2e-panel e2e-device
panel_id=$device_cert_id
echo "# sensor certificate $sensor_id, panel certificate $panel_id"

# ---------------------------------------------------------------- publish and receive
for v in mqttv311 mqttv5; do
	if ! start_sub "sub-$v" e2e-panel "$v" "e2e-panel-$v" "$topics/#"; then
		not_ok "$v: mosquitto_sub subscribes to $topics/# with the panel's certificate"
		continue
	fi
	ok "$v: mosquitto_sub subscribes to $topics/# with the panel's certificate"
	for q in 0 1; do
		pub e2e-sensor "$v" "e2e-sensor-$v" "$topics/temp" "q$q-from-$v" -q "$q"
		if ((rc == 0)); then ok "$v: mosquitto_pub QoS $q with the sensor's certificate"; else
			not_ok "$v: mosquitto_pub QoS $q with the sensor's certificate"
			diag
		fi
		check "$v: the subscriber receives the QoS $q message" received "sub-$v" "$topics/temp q$q-from-$v"
	done
	stop_pid "$sub_pid"
done

# A 3.1.1 publisher reaches an MQTT 5 subscriber and the other way round.
if start_sub sub-mixed e2e-panel mqttv5 e2e-panel-mixed "$topics/+"; then
	pub e2e-sensor mqttv311 e2e-sensor-mixed "$topics/mixed" from-311
	check "an MQTT 3.1.1 publish reaches an MQTT 5 subscriber" received sub-mixed "$topics/mixed from-311"
	stop_pid "$sub_pid"
else
	not_ok "an MQTT 3.1.1 publish reaches an MQTT 5 subscriber (no subscription)"
fi

# ---------------------------------------------------------------- refused
# The panel listens to all of e2e/ while the sensor tries topics its policy
# does not allow it to publish to.
if start_sub sub-watch e2e-panel mqttv5 e2e-panel-watch 'e2e/#'; then
	ok "mosquitto_sub subscribes to e2e/#"
else
	not_ok "mosquitto_sub subscribes to e2e/#"
fi
pub e2e-sensor mqttv5 e2e-sensor-denied e2e/denied/x denied-v5
if grep -qi 'not authori[sz]ed' <<<"$err"; then ok "mqttv5: a publish to a denied topic is refused (PUBACK not authorized)"; else
	not_ok "mqttv5: a publish to a denied topic is refused (PUBACK not authorized)"
	diag
fi
# MQTT 3.1.1 has no negative PUBACK: the broker closes the connection.
# mosquitto_pub then tries again and again until the timeout stops it, or
# gives up: either way it does not succeed.
last_cmd="mosquitto_pub -V mqttv311 -t e2e/denied/x (sensor)"
rc=0
mq e2e-sensor
out=$(timeout 4 mosquitto_pub "${mq[@]}" -V mqttv311 -i e2e-sensor-denied3 -t e2e/denied/x -m denied-v311 -q 1 -d 2>"$tmp/stderr") || rc=$?
err=$(<"$tmp/stderr")
if ((rc != 0)) && ! grep -q 'received PUBACK' <<<"$out"; then ok "mqttv311: a publish to a denied topic gets no PUBACK and fails"; else
	not_ok "mqttv311: a publish to a denied topic gets no PUBACK and fails"
	diag
fi
pub e2e-sensor mqttv5 e2e-sensor-allowed "$topics/after-denied" allowed
check "the allowed publish after them is delivered" received sub-watch "$topics/after-denied allowed"
check "no denied publish was delivered" not_received sub-watch e2e/denied
stop_pid "$sub_pid"

for v in mqttv311 mqttv5; do
	mq e2e-panel
	last_cmd="mosquitto_sub -V $v -t other/# (panel)"
	rc=0
	out=$(timeout 10 mosquitto_sub "${mq[@]}" -V "$v" -i "e2e-panel-other-$v" -t 'other/#' -C 1 2>"$tmp/stderr") || rc=$?
	err=$(<"$tmp/stderr")
	if ((rc != 124)) && grep -q 'subscription requests were denied' <<<"$err"; then
		ok "$v: a subscription to a denied filter is refused (SUBACK 0x80)"
	else
		not_ok "$v: a subscription to a denied filter is refused (SUBACK 0x80)"
		diag
	fi
	pub e2e-sensor "$v" "intruder-$v" "$topics/temp" intruder
	if ((rc != 0)) && grep -qi 'not authori[sz]ed\|refused' <<<"$err"; then
		ok "$v: a client id the policy does not allow is refused at CONNECT"
	else
		not_ok "$v: a client id the policy does not allow is refused at CONNECT"
		diag
	fi
done

# Certificates Warden does not know, and no certificate at all.
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=e2e-stranger" \
	-keyout "$tmp/e2e-stranger.key" -out "$tmp/e2e-stranger.pem" 2>/dev/null
pub e2e-stranger mqttv5 e2e-stranger "$topics/temp" stranger
if ((rc != 0)); then ok "a self-signed certificate that is not registered is refused"; else
	not_ok "a self-signed certificate that is not registered is refused"
	diag
fi
last_cmd="mosquitto_pub without --cert"
rc=0
out=$(timeout 10 mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" --cafile "$tmp/ca.pem" -V mqttv5 -i e2e-nocert -t "$topics/temp" -m x 2>"$tmp/stderr") || rc=$?
err=$(<"$tmp/stderr")
if ((rc != 0)); then ok "a TLS connection without a client certificate is refused"; else
	not_ok "a TLS connection without a client certificate is refused"
	diag
fi
# The server certificate is for 127.0.0.1 and chains to `warden ca`: a
# client that trusts another CA refuses it.
last_cmd="mosquitto_pub --cafile (another CA)"
rc=0
mq e2e-sensor
mq[5]=$tmp/e2e-stranger.pem # --cafile
out=$(timeout 10 mosquitto_pub "${mq[@]}" -V mqttv5 -i e2e-sensor-wrongca -t "$topics/temp" -m x 2>"$tmp/stderr") || rc=$?
err=$(<"$tmp/stderr")
if ((rc != 0)); then ok "a client trusting another CA refuses the server certificate"; else
	not_ok "a client trusting another CA refuses the server certificate"
	diag
fi

# ---------------------------------------------------------------- cut off
# Both subscribers use the panel's certificate; making it INACTIVE must end
# both sessions. mosquitto_sub reconnects after a lost connection and exits
# when the reconnect is refused, so "disconnected" is seen as its exit.
subs_ok=1
start_sub cut-v5 e2e-panel mqttv5 e2e-panel-cut5 "$topics/#" || subs_ok=
pid5=$sub_pid
start_sub cut-v311 e2e-panel mqttv311 e2e-panel-cut3 "$topics/#" || subs_ok=
pid3=$sub_pid
check "two subscribers (MQTT 5 and 3.1.1) with the panel's certificate" test -n "$subs_ok"
pub e2e-sensor mqttv5 e2e-sensor-cut "$topics/before" before
check "both receive while the certificate is ACTIVE" received cut-v5 "$topics/before before"
check "both receive while the certificate is ACTIVE (3.1.1)" received cut-v311 "$topics/before before"

t0=$(date +%s%N)
expect_ok "update-certificate --new-status INACTIVE (panel)" update-certificate --certificate-id "$panel_id" --new-status INACTIVE
cli_ms=$((($(date +%s%N) - t0) / 1000000))
for pair in "mqttv5 $pid5" "mqttv311 $pid3"; do
	v=${pair% *}
	pid=${pair#* }
	if exits_within "$pid" 5; then
		ok "$v: the subscriber is disconnected and gives up (${exit_ms} ms after update-certificate returned, which took ${cli_ms} ms)"
	else
		not_ok "$v: the subscriber is disconnected and gives up within 5 s of update-certificate"
		diag_lines stdout 20 "$(cat "$tmp/cut-${v/mqttv/v}.out")" >&2
	fi
done
# MQTT 5 says why: mosquitto_sub -d prints the reason code of the server's
# DISCONNECT. 3.1.1 has no DISCONNECT from the server: the connection closes.
reason=$(sed -n 's/^Received DISCONNECT (\([0-9]*\))$/\1/p' "$tmp/cut-v5.out")
if [[ -n $reason ]] && ((reason >= 128)); then ok "mqttv5: the server's DISCONNECT gives an error reason code ($reason)"; else
	not_ok "mqttv5: the server's DISCONNECT gives an error reason code (got '${reason}')"
	diag_lines stdout 10 "$(tail -n 10 "$tmp/cut-v5.out")" >&2
fi
echo "# cut-v311 stderr: $(tr '\n' ' ' <"$tmp/cut-v311.err")"
pub e2e-sensor mqttv5 e2e-sensor-cut "$topics/after" after
sleep 0.5
check "the cut-off subscribers received nothing published afterwards" not_received cut-v5 "$topics/after"
for v in mqttv311 mqttv5; do
	pub e2e-panel "$v" "e2e-panel-again-$v" "$topics/temp" again
	if ((rc != 0)); then ok "$v: a new connection with the INACTIVE certificate is refused"; else
		not_ok "$v: a new connection with the INACTIVE certificate is refused"
		diag
	fi
done
pub e2e-sensor mqttv5 e2e-sensor-still "$topics/temp" still
if ((rc == 0)); then ok "the sensor, whose certificate is still ACTIVE, keeps publishing"; else
	not_ok "the sensor, whose certificate is still ACTIVE, keeps publishing"
	diag
fi
expect_ok "update-certificate --new-status ACTIVE (panel)" update-certificate --certificate-id "$panel_id" --new-status ACTIVE
pub e2e-panel mqttv5 e2e-panel-back "$topics/temp" back
if ((rc == 0)); then ok "the panel connects again once its certificate is ACTIVE"; else
	not_ok "the panel connects again once its certificate is ACTIVE"
	diag
fi

summary
