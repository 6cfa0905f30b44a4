# shellcheck shell=bash
# Shared setup of the end-to-end suites. Sourced, never run (run, it exits 2):
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Sourcing it, as the first thing a suite does:
#   - turns on `set -euo pipefail` and cd's to the repository root;
#   - installs awscli and jq with apt-get when either is missing and puts
#     /usr/local/go/bin on PATH when go is not there already;
#   - makes a temp dir and traps EXIT/INT/TERM to stop the server (and every
#     pid given to stop_on_exit) and remove the temp dir, unless KEEP_TMP=1
#     (then "# kept DIR" goes to stderr, so the summary stays the last line
#     on stdout);
#   - sets these variables:
#       AWS          /usr/bin/aws, by full path: another aws may be first on PATH
#       ACCOUNT, ACCOUNT_B, REGION   123456789012, 111122223333, us-east-1
#       CLI_SERVICE  the `aws` command cli runs: iot; a suite may set sns, iam
#       tmp          the temp dir
#       data         $tmp/data, the server's data dir (start_server makes it)
#       pki          $tmp/pki, where make_ca and sign_leaf write
#       port, endpoint   a free port and http://127.0.0.1:$port for the server
#       key, secret      the access key cli signs with: empty until read_keys
#       server_pid       the running `warden serve`, empty when none
#       passed, failed   the check counters
#     and cli/cli_as set out, err, rc and last_cmd, which diag prints.
#
# Functions, each documented where it is defined below:
#   checks   ok, not_ok, check, summary, bail, diag, require (and the
#            patterns UUID, TS and the jq definitions JQDEFS)
#   server   build_warden ($tmp/warden), start_server, stop_server, read_keys,
#            create_credentials, free_port, wait_port, stop_on_exit, stop_pid
#            (server_args: more `warden serve` flags start_server passes)
#   devices  start_device_server, make_device, device_policy, running
#            (MQTT suites)
#   X.509    cert_id, make_ca, sign_leaf (openssl, in $pki)
#   aws CLI  cli, cli_as, expect_ok, expect_jq, expect_error, expect_last_error
#
# The contract with a suite: print one "ok - ..." / "not ok - ..." line per
# check and call `summary` last. summary prints "N passed, M failed" and
# exits 1 if any check failed, else 0. bail DESC counts DESC as failed, prints
# the same line and exits 1 at once. Should the suite stop any other way
# (set -e, a signal), the exit trap counts that as one more failed check and
# still prints the summary line, with a non-zero exit status.

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	echo "${BASH_SOURCE[0]}: shared code of the e2e suites; source it, do not run it" >&2
	exit 2
fi

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

AWS=/usr/bin/aws # by full path: another aws (pip, pyenv, v1) may be first on PATH
ACCOUNT=123456789012
ACCOUNT_B=111122223333
REGION=us-east-1
CLI_SERVICE=iot

# ---------------------------------------------------------------- checks
passed=0
failed=0
summary_printed=

ok() {
	passed=$((passed + 1))
	echo "ok - $*"
}
not_ok() {
	failed=$((failed + 1))
	echo "not ok - $*"
}

# summary: prints "N passed, M failed" and exits: 1 if a check failed, else 0.
summary() {
	echo "$passed passed, $failed failed"
	summary_printed=1
	if ((failed > 0)); then exit 1; fi
	exit 0
}

# bail DESC: a failure the rest cannot run without; prints the summary and stops.
bail() {
	not_ok "$*"
	echo "$passed passed, $failed failed"
	summary_printed=1
	exit 1
}

# diag_lines LABEL MAX TEXT: TEXT's first MAX lines, each prefixed "#   LABEL: ".
# Pure bash: no `sed | head` pipe, whose SIGPIPE under pipefail would stop the
# suite when the output is long.
diag_lines() {
	local label=$1 max=$2 text=$3 lines total
	mapfile -t lines <<<"$text"
	total=${#lines[@]}
	if ((total > max)); then
		printf "#   $label: %s\n" "${lines[@]:0:max}"
		echo "#   $label: ... $((total - max)) more lines"
	else
		printf "#   $label: %s\n" "${lines[@]}"
	fi
}

# diag: prints the last call's command, exit status, stdout and stderr,
# indented, to stderr; after a failed check.
diag() {
	{
		echo "#   command: ${last_cmd:-}"
		echo "#   exit: ${rc:-}"
		diag_lines stdout 40 "${out:-}"
		diag_lines stderr 20 "${err:-}"
	} >&2
}

# require TOOL...: bails unless every TOOL is on PATH.
require() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || bail "$tool is needed"
	done
}

# check DESC COMMAND...: a local condition; ok when COMMAND succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# Patterns of what the CLI prints: UUIDs and ISO-8601 timestamps; JQDEFS
# defines the jq function ts, which makes those timestamps comparable.
UUID='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(\+00:00|Z)$'
JQDEFS='def ts: capture("^(?<s>[^.+Z]+)(\\.(?<f>[0-9]+))?") | .s + "." + ((.f // "") + "000000")[0:6];'

# ---------------------------------------------------------------- tools
if [[ ! -x $AWS ]] || ! command -v jq >/dev/null; then
	echo "# installing awscli and jq with apt-get"
	sudo=
	if [[ $(id -u) != 0 ]]; then sudo=sudo; fi
	{ $sudo apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends awscli jq >/dev/null; } || true
	unset sudo
	[[ -x $AWS ]] || bail "$AWS is needed (apt-get install awscli)"
	require jq
fi
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
	PATH=$PATH:/usr/local/go/bin
fi
echo "# $($AWS --version 2>&1)"

# ---------------------------------------------------------------- temp dir, cleanup
tmp=$(mktemp -d "${TMPDIR:-/tmp}/warden-e2e-$(basename "${BASH_SOURCE[1]:-$0}" .sh).XXXXXX")
data=$tmp/data
pki=$tmp/pki # X.509 fixtures: make_ca and sign_leaf write here
mkdir -p "$pki"
server_pid=
extra_pids=()
suite_pid=$BASHPID

# stop_pid PID: TERM PID if it still runs and wait for it; KILL it if it is
# still there after 10 s, so that a hung process cannot hang the cleanup.
stop_pid() {
	local pid=$1 i
	if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then return 0; fi
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then break; fi
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "# pid $pid still runs 10s after SIGTERM; sending SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}
# stop_on_exit PID: stop this background process (a receiver, ...) on exit.
stop_on_exit() { extra_pids+=("$1"); }

stop_server() {
	stop_pid "$server_pid"
	server_pid=
}

cleanup() {
	local rc=$? pid
	# A background job killed before it exec'd its command still runs
	# this trap: only the suite's own shell cleans up.
	if [[ $BASHPID != "$suite_pid" ]]; then exit "$rc"; fi
	set +e
	for pid in "${extra_pids[@]}"; do stop_pid "$pid"; done
	stop_server
	if [[ -z $summary_printed ]]; then
		not_ok "the suite stopped before its summary (exit status $rc)"
		echo "$passed passed, $failed failed"
		if ((rc == 0)); then rc=1; fi
	fi
	if [[ -n ${KEEP_TMP:-} ]]; then
		echo "# kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- server
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
port=$(free_port)
endpoint=http://127.0.0.1:$port

# wait_port PORT PID: waits up to 20 s until PORT accepts connections; fails
# at once if PID exits.
wait_port() {
	local p=$1 pid=$2 i
	for ((i = 0; i < 200; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}

# build_warden: go build ./cmd/warden into $tmp/warden.
build_warden() {
	echo "# building warden"
	go build -o "$tmp/warden" ./cmd/warden || bail "go build ./cmd/warden"
}

# start_server LOGNAME: starts `warden serve` on $data in the background on
# $port, its device endpoint on $mqtt_listen (default: any free port), with
# the flags in the server_args array too, logging to
# $tmp/LOGNAME.out and .err, and waits until it accepts connections. Sets
# server_pid.
server_args=()
start_server() {
	local log=$tmp/$1
	mkdir -p "$data"
	"$tmp/warden" serve --data-dir "$data" --listen "127.0.0.1:$port" --mqtt-listen "${mqtt_listen:-127.0.0.1:0}" \
		"${server_args[@]}" >"$log.out" 2>"$log.err" &
	server_pid=$!
	if wait_port "$port" "$server_pid"; then return 0; fi
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "# warden exited early:" >&2
		sed 's/^/#   /' "$log.err" >&2
	else
		echo "# warden did not answer on port $port within 20s" >&2
	fi
	return 1
}

# read_keys FILE [KEY_VAR SECRET_VAR]: sets KEY_VAR and SECRET_VAR (key and
# secret by default) from the "export AWS_ACCESS_KEY_ID=..." and "export
# AWS_SECRET_ACCESS_KEY=..." lines of FILE. Fails unless both were found.
read_keys() {
	local file=$1 k= s= line
	if [[ -r $file ]]; then
		while IFS= read -r line || [[ -n $line ]]; do
			case $line in
			'export AWS_ACCESS_KEY_ID='*) k=${line#*=} ;;
			'export AWS_SECRET_ACCESS_KEY='*) s=${line#*=} ;;
			esac
		done <"$file"
	fi
	printf -v "${2:-key}" '%s' "$k"
	printf -v "${3:-secret}" '%s' "$s"
	[[ -n $k && -n $s ]]
}

# create_credentials ACCOUNT KEY_VAR SECRET_VAR: `warden credentials create`
# for ACCOUNT on $data (output in $tmp/credentials-ACCOUNT.out and .err); sets
# KEY_VAR and SECRET_VAR as read_keys does and fails as it does.
create_credentials() {
	local log=$tmp/credentials-$1
	"$tmp/warden" credentials create --data-dir "$data" --account "$1" >"$log.out" 2>"$log.err" || true
	read_keys "$log.out" "$2" "$3"
}

# ---------------------------------------------------------------- aws CLI
key=
secret=

# cli_as KEY SECRET ARGS...: runs `aws $CLI_SERVICE ARGS` against warden with
# that key, isolated from the caller's AWS config; sets out, err, rc and
# last_cmd. Never fails the suite itself.
cli_as() {
	local k=$1 s=$2
	shift 2
	last_cmd="aws $CLI_SERVICE $*"
	rc=0
	out=$(env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_SECURITY_TOKEN -u AWS_REGION \
		-u AWS_CA_BUNDLE -u AWS_ENDPOINT_URL \
		AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER= \
		AWS_ACCESS_KEY_ID="$k" AWS_SECRET_ACCESS_KEY="$s" AWS_DEFAULT_REGION=$REGION \
		AWS_EC2_METADATA_DISABLED=true \
		"$AWS" --endpoint-url "$endpoint" --output json "$CLI_SERVICE" "$@" 2>"$tmp/stderr") || rc=$?
	err=$(<"$tmp/stderr")
}
# cli ARGS...: cli_as with $key and $secret.
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

# expect_jq DESC FILTER [jq args...]: the last call succeeded and jq -e FILTER
# holds on its output.
expect_jq() {
	local desc=$1 filter=$2
	shift 2
	if ((rc == 0)) && jq -e "$@" "$filter" >/dev/null 2>&1 <<<"$out"; then ok "$desc"; else
		not_ok "$desc"
		echo "#   jq: $filter" >&2
		diag
	fi
}

# expect_error DESC CODE ARGS...: the call fails and stderr names (CODE).
expect_error() {
	local desc=$1 code=$2
	shift 2
	cli "$@"
	expect_last_error "$desc" "$code"
}
# expect_last_error DESC CODE: the last call failed and stderr names (CODE).
expect_last_error() {
	local desc=$1 code=$2
	if ((rc != 0)) && grep -q "($code)" <<<"$err"; then ok "$desc"; else
		not_ok "$desc (want $code)"
		diag
	fi
}

# ---------------------------------------------------------------- devices (MQTT)
# The device suites (devices.sh, device_sdk.sh) start warden with its MQTT
# endpoint and register devices through the API.
mqtt_port=

# start_device_server LOGNAME: build_warden, then start_server with
# --mqtt-listen on a free port (mqtt_port), wait for that port too, read the
# access key (key, secret) and write the CA a device trusts (`warden ca`) to
# $tmp/ca.pem. Bails on any failure.
start_device_server() {
	build_warden
	mqtt_port=$(free_port)
	mqtt_listen=127.0.0.1:$mqtt_port
	start_server "$1" || bail "warden serve --mqtt-listen 127.0.0.1:$mqtt_port starts"
	wait_port "$mqtt_port" "$server_pid" || bail "warden listens for devices on 127.0.0.1:$mqtt_port"
	if ! read_keys "$tmp/$1.out"; then
		sed 's/^/#   /' "$tmp/$1.out" >&2
		bail "first start prints the access key and secret"
	fi
	if ! "$tmp/warden" ca --data-dir "$data" >"$tmp/ca.pem" 2>"$tmp/ca.err" ||
		! grep -q -- '-----BEGIN CERTIFICATE-----' "$tmp/ca.pem"; then
		sed 's/^/#   /' "$tmp/ca.err" >&2
		bail "warden ca prints the CA certificate"
	fi
	echo "# warden pid $server_pid: API $endpoint, devices 127.0.0.1:$mqtt_port"
}

# device_policy CONNECT PUBLISH RECEIVE SUBSCRIBE: an IoT policy document
# allowing iot:Connect on client/CONNECT, iot:Publish on topic/PUBLISH,
# iot:Receive on topic/RECEIVE and iot:Subscribe on topicfilter/SUBSCRIBE
# (each may hold the policy wildcards * and ?).
device_policy() {
	local arn="arn:aws:iot:$REGION:$ACCOUNT"
	jq -cn --arg c "$arn:client/$1" --arg p "$arn:topic/$2" --arg r "$arn:topic/$3" --arg s "$arn:topicfilter/$4" '{
		Version: "2012-10-17",
		Statement: [
			{Effect: "Allow", Action: "iot:Connect", Resource: $c},
			{Effect: "Allow", Action: "iot:Publish", Resource: $p},
			{Effect: "Allow", Action: "iot:Receive", Resource: $r},
			{Effect: "Allow", Action: "iot:Subscribe", Resource: $s}]}'
}

# make_device NAME POLICY: a thing NAME with a new ACTIVE certificate
# ($tmp/NAME.pem, $tmp/NAME.key) attached to it and to the existing policy
# POLICY. Sets device_cert_id and device_cert_arn. Bails on any failure:
# nothing after it means anything without the device.
make_device() {
	local name=$1 policy=$2
	cli create-thing --thing-name "$name"
	((rc == 0)) || { diag; bail "create-thing $name"; }
	cli create-keys-and-certificate --set-as-active \
		--certificate-pem-outfile "$tmp/$name.pem" --private-key-outfile "$tmp/$name.key"
	((rc == 0)) || { diag; bail "create-keys-and-certificate for $name"; }
	device_cert_id=$(jq -r .certificateId <<<"$out")
	device_cert_arn=$(jq -r .certificateArn <<<"$out")
	cli attach-policy --policy-name "$policy" --target "$device_cert_arn"
	((rc == 0)) || { diag; bail "attach-policy $policy to the certificate of $name"; }
	cli attach-thing-principal --thing-name "$name" --principal "$device_cert_arn"
	((rc == 0)) || { diag; bail "attach-thing-principal $name"; }
}

# ---------------------------------------------------------------- MQTT clients (mosquitto-clients)
# mq DEVICE: the connection options of DEVICE's certificate, in the array mq.
mq() {
	mq=(-h 127.0.0.1 -p "$mqtt_port" --cafile "$tmp/ca.pem" --cert "$tmp/$1.pem" --key "$tmp/$1.key")
}

# pub DEVICE VERSION CLIENT_ID TOPIC MESSAGE [ARGS...]: one mosquitto_pub
# (QoS 1 unless ARGS say otherwise), at most 10 s; sets out, err, rc and
# last_cmd as cli does.
pub() {
	local dev=$1 v=$2 id=$3 topic=$4 msg=$5
	shift 5
	mq "$dev"
	last_cmd="mosquitto_pub -V $v -i $id -t $topic -m $msg $* (certificate of $dev)"
	rc=0
	out=$(timeout 10 mosquitto_pub "${mq[@]}" -V "$v" -i "$id" -t "$topic" -m "$msg" -q 1 "$@" 2>"$tmp/stderr") || rc=$?
	err=$(<"$tmp/stderr")
}

# start_sub NAME DEVICE VERSION CLIENT_ID FILTER: mosquitto_sub (QoS 1,
# topic and payload per line, debug lines too) in the background, output in
# $tmp/NAME.out and .err; returns once the broker granted the subscription.
# Sets sub_pid (also stopped on exit).
start_sub() {
	local name=$1 dev=$2 v=$3 id=$4 filter=$5 i
	mq "$dev"
	stdbuf -oL mosquitto_sub "${mq[@]}" -V "$v" -i "$id" -t "$filter" -q 1 -v -d \
		>"$tmp/$name.out" 2>"$tmp/$name.err" &
	sub_pid=$!
	stop_on_exit "$sub_pid"
	for ((i = 0; i < 100; i++)); do
		if grep -Eqs '^Subscribed \(mid: [0-9]+\): [012]$' "$tmp/$name.out"; then return 0; fi
		running "$sub_pid" || break
		sleep 0.1
	done
	{
		echo "#   $name did not subscribe $filter (mosquitto_sub -V $v -i $id, certificate of $dev)"
		diag_lines stdout 20 "$(cat "$tmp/$name.out")"
		diag_lines stderr 20 "$(cat "$tmp/$name.err")"
	} >&2
	return 1
}

# received NAME LINE [SECONDS]: the subscriber NAME printed LINE ("topic
# payload") within SECONDS (default 5).
received() {
	local name=$1 line=$2 secs=${3:-5} i
	for ((i = 0; i < secs * 10; i++)); do
		if grep -Fxq -- "$line" "$tmp/$name.out"; then return 0; fi
		sleep 0.1
	done
	return 1
}

# not_received NAME TEXT: the subscriber NAME printed no line holding TEXT.
not_received() { ! grep -Fq -- "$2" "$tmp/$1.out"; }

# running PID: the process still runs (exited children are zombies until
# waited for, and kill -0 succeeds on those).
running() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

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

# ---------------------------------------------------------------- X.509 fixtures (openssl)
# cert_id FILE: the id AWS gives a PEM certificate (SHA-256 of the DER).
cert_id() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }

# make_ca NAME CN: a self-signed CA (ECDSA P-256) in $pki/NAME.{key,pem}.
make_ca() {
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
		-subj "/O=Warden e2e/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-keyout "$pki/$1.key" -out "$pki/$1.pem" 2>/dev/null
}

# sign_leaf NAME CA CN [DAYS [EXTFILE]]: a certificate with its own key signed
# by CA, valid DAYS (30 unless given), with the extensions of EXTFILE if given.
sign_leaf() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$3" \
		-keyout "$pki/$1.key" -out "$pki/$1.csr" 2>/dev/null
	local ext=()
	if [[ -n ${5:-} ]]; then ext=(-extfile "$5"); fi
	openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$2.pem" -CAkey "$pki/$2.key" -CAcreateserial \
		-days "${4:-30}" "${ext[@]}" -out "$pki/$1.pem" 2>/dev/null
}
