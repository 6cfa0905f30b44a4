#!/usr/bin/env bash
# End-to-end suite of the SNS-compatible endpoint: drives a real `warden serve`
# with the real aws CLI (Debian's awscli 2.9.19 at /usr/bin/aws, `aws sns`
# unmodified but for --endpoint-url), subscribes a small local HTTP receiver
# (python3) that confirms through the SubscribeURL, and checks what arrives:
# the envelope, SNS's headers, and the signature (with openssl, against the
# certificate fetched from SigningCertURL).
#
#   bash e2e/sns.sh
#
# Prints one "ok - ..." / "not ok - ..." line per check and ends with
# "N passed, M failed"; exits non-zero if any check failed. KEEP_TMP=1 keeps
# the temp dir (server log, receiver log, data dir).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLI_SERVICE=sns

# ---------------------------------------------------------------- the receiver
# Logs every POST as one JSON line {"headers": {...}, "body": "..."} and, for a
# SubscriptionConfirmation, GETs its SubscribeURL, as a subscriber would.
cat >"$tmp/receiver.py" <<'EOF'
import http.server, json, sys, threading, urllib.request

log = open(sys.argv[2], "a")
lock = threading.Lock()

class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        headers = {k.lower(): v for k, v in self.headers.items()}
        with lock:
            log.write(json.dumps({"path": self.path, "headers": headers, "body": body}) + "\n")
            log.flush()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if headers.get("x-amz-sns-message-type") == "SubscriptionConfirmation":
            url = json.loads(body)["SubscribeURL"]
            threading.Thread(target=lambda: urllib.request.urlopen(url, timeout=5).read()).start()

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
EOF
rport=$(free_port)
received=$tmp/received.jsonl
: >"$received"
python3 -u "$tmp/receiver.py" "$rport" "$received" 2>"$tmp/receiver.err" &
receiver_pid=$!
stop_on_exit "$receiver_pid"
wait_port "$rport" "$receiver_pid" || bail "the python3 receiver listens on port $rport"
hook=http://127.0.0.1:$rport/hook
echo "# receiver pid $receiver_pid on $hook"

# wait_received FILTER: waits up to 10 s for a logged request matching the jq
# FILTER (applied to {"headers", "body": <parsed envelope>}); prints it.
wait_received() {
	local filter=$1 i line
	for ((i = 0; i < 100; i++)); do
		line=$(jq -c "{headers, body: (.body | fromjson? // .body)} | select($filter)" "$received" 2>/dev/null | tail -1)
		if [[ -n $line ]]; then
			echo "$line"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# verify_signature JSON: checks the envelope's Signature with openssl against
# the certificate at its SigningCertURL, building SNS's string to sign.
verify_signature() {
	local envelope=$1 alg
	curl -fsS "$(jq -r .SigningCertURL <<<"$envelope")" >"$tmp/cert.pem" || return 1
	openssl x509 -in "$tmp/cert.pem" -pubkey -noout >"$tmp/pub.pem" || return 1
	jq -j '. as $m | (if .Type == "Notification"
		then ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
		else ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"] end)
		| map(select($m[.] != null) | "\(.)\n\($m[.])\n") | join("")' <<<"$envelope" >"$tmp/string-to-sign"
	jq -r .Signature <<<"$envelope" | base64 -d >"$tmp/signature"
	alg=sha1
	if [[ $(jq -r .SignatureVersion <<<"$envelope") == 2 ]]; then alg=sha256; fi
	openssl dgst "-$alg" -verify "$tmp/pub.pem" -signature "$tmp/signature" "$tmp/string-to-sign" >/dev/null
}

# ---------------------------------------------------------------- warden
echo "# building warden"
build_warden
start_server server || bail "warden serve starts and answers on $endpoint"
echo "# warden pid $server_pid on $endpoint, data dir $data"
read_keys "$tmp/server.out" || bail "warden prints the first access key"

TOPIC=arn:aws:sns:$REGION:$ACCOUNT:e2e-findings
# SNS's timestamps always carry milliseconds: stricter than lib.sh's TS.
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'

# ---------------------------------------------------------------- topics
expect_ok "create-topic" create-topic --name e2e-findings --attributes DisplayName=Findings
expect_jq "create-topic returns the topic ARN" '.TopicArn == $t' --arg t "$TOPIC"
expect_ok "create-topic again (idempotent by name)" create-topic --name e2e-findings
expect_jq "the second create-topic returns the same ARN" '.TopicArn == $t' --arg t "$TOPIC"
expect_ok "list-topics" list-topics
expect_jq "list-topics holds the topic once" '[.Topics[].TopicArn] == [$t]' --arg t "$TOPIC"

# ---------------------------------------------------------------- subscribe + confirm
expect_ok "subscribe --protocol http" subscribe --topic-arn "$TOPIC" --protocol http --notification-endpoint "$hook"
expect_jq "subscribe answers \"pending confirmation\"" '.SubscriptionArn == "pending confirmation"'
if conf=$(wait_received '.headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"'); then
	ok "the receiver gets a SubscriptionConfirmation"
else
	bail "the receiver gets a SubscriptionConfirmation"
fi
out=$conf rc=0
expect_jq "confirmation: Type, TopicArn, Token, SubscribeURL on warden, ISO-8601 Timestamp" \
	'.body.Type == "SubscriptionConfirmation" and .body.TopicArn == $t and (.body.Token | length) > 32
	 and (.body.SubscribeURL | startswith($e + "/?Action=ConfirmSubscription&TopicArn=")) and (.body.Timestamp | test($ts))
	 and .headers["x-amz-sns-topic-arn"] == $t and .headers["x-amz-sns-message-id"] == .body.MessageId' \
	--arg t "$TOPIC" --arg e "$endpoint" --arg ts "$TS"
if verify_signature "$(jq -c .body <<<"$conf")"; then ok "confirmation signature verifies (openssl, SHA1withRSA)"; else
	not_ok "confirmation signature verifies (openssl, SHA1withRSA)"
fi

sub_arn=
for ((i = 0; i < 100; i++)); do
	cli list-subscriptions-by-topic --topic-arn "$TOPIC"
	sub_arn=$(jq -r '.Subscriptions[0].SubscriptionArn // empty' <<<"$out" 2>/dev/null || true)
	if [[ $sub_arn == "$TOPIC":* ]]; then break; fi
	sleep 0.1
done
if [[ $sub_arn == "$TOPIC":* ]]; then ok "the receiver confirmed through the SubscribeURL ($sub_arn)"; else
	bail "the receiver confirmed through the SubscribeURL"
fi
expect_jq "list-subscriptions-by-topic: protocol, endpoint, owner" \
	'.Subscriptions == [{"SubscriptionArn": $s, "Owner": $a, "Protocol": "http", "Endpoint": $h, "TopicArn": $t}]' \
	--arg s "$sub_arn" --arg a "$ACCOUNT" --arg h "$hook" --arg t "$TOPIC"
expect_ok "list-subscriptions" list-subscriptions
expect_jq "list-subscriptions holds it" '[.Subscriptions[].SubscriptionArn] == [$s]' --arg s "$sub_arn"
expect_ok "get-topic-attributes" get-topic-attributes --topic-arn "$TOPIC"
expect_jq "get-topic-attributes: TopicArn, Owner, DisplayName, one confirmed subscription" \
	'.Attributes.TopicArn == $t and .Attributes.Owner == $a and .Attributes.DisplayName == "Findings"
	 and .Attributes.SubscriptionsConfirmed == "1" and .Attributes.SubscriptionsPending == "0"' \
	--arg t "$TOPIC" --arg a "$ACCOUNT"

# ---------------------------------------------------------------- publish
expect_ok "publish with a subject" publish --topic-arn "$TOPIC" --subject "Audit finding" --message "device-7 has a revoked CA"
msg_id=$(jq -r .MessageId <<<"$out" 2>/dev/null || true)
expect_jq "publish returns a MessageId" '.MessageId | test("^[0-9a-f-]{36}$")'
if note=$(wait_received ".body.MessageId == \"$msg_id\""); then ok "the Notification arrives"; else
	bail "the Notification arrives"
fi
out=$note rc=0
expect_jq "notification envelope: Type, MessageId, TopicArn, Subject, Message, Timestamp, URLs" \
	'.body.Type == "Notification" and .body.MessageId == $id and .body.TopicArn == $t and .body.Subject == "Audit finding"
	 and .body.Message == "device-7 has a revoked CA" and (.body.Timestamp | test($ts)) and .body.SignatureVersion == "1"
	 and (.body.SigningCertURL | test("^" + $e + "/SimpleNotificationService-[0-9a-f]+\\.pem$"))
	 and (.body.UnsubscribeURL | startswith($e + "/?Action=Unsubscribe&SubscriptionArn="))' \
	--arg id "$msg_id" --arg t "$TOPIC" --arg e "$endpoint" --arg ts "$TS"
expect_jq "notification headers: x-amz-sns-message-type/-message-id/-topic-arn/-subscription-arn" \
	'.headers["x-amz-sns-message-type"] == "Notification" and .headers["x-amz-sns-message-id"] == $id
	 and .headers["x-amz-sns-topic-arn"] == $t and .headers["x-amz-sns-subscription-arn"] == $s
	 and .headers["content-type"] == "text/plain; charset=UTF-8"' \
	--arg id "$msg_id" --arg t "$TOPIC" --arg s "$sub_arn"
if verify_signature "$(jq -c .body <<<"$note")"; then ok "notification signature verifies (openssl, SHA1withRSA)"; else
	not_ok "notification signature verifies (openssl, SHA1withRSA)"
fi

expect_ok "set-topic-attributes SignatureVersion=2" set-topic-attributes --topic-arn "$TOPIC" \
	--attribute-name SignatureVersion --attribute-value 2
expect_ok "publish without a subject" publish --topic-arn "$TOPIC" --message '{"finding": "x", "severity": "HIGH"}'
msg2=$(jq -r .MessageId <<<"$out" 2>/dev/null || true)
if note2=$(wait_received ".body.MessageId == \"$msg2\""); then ok "the second Notification arrives"; else
	bail "the second Notification arrives"
fi
out=$note2 rc=0
expect_jq "second notification: no Subject, SignatureVersion 2, the JSON message as a string" \
	'(.body | has("Subject") | not) and .body.SignatureVersion == "2" and (.body.Message | fromjson) == {"finding": "x", "severity": "HIGH"}'
if verify_signature "$(jq -c .body <<<"$note2")"; then ok "version 2 signature verifies (openssl, SHA256withRSA)"; else
	not_ok "version 2 signature verifies (openssl, SHA256withRSA)"
fi

tail_out=$("$tmp/warden" sns tail --data-dir "$data" "$TOPIC" 2>&1) || true
if grep -q "$msg_id  subject=\"Audit finding\"  delivered=1/1" <<<"$tail_out" && grep -q "device-7 has a revoked CA" <<<"$tail_out" &&
	grep -q "$msg2" <<<"$tail_out"; then
	ok "warden sns tail prints both messages with their delivery"
else
	not_ok "warden sns tail prints both messages with their delivery"
	sed 's/^/#   /' <<<"$tail_out" >&2
fi

# ---------------------------------------------------------------- bad input
expect_error "subscribe --protocol email is InvalidParameter" InvalidParameter \
	subscribe --topic-arn "$TOPIC" --protocol email --notification-endpoint someone@example.com
expect_error "subscribe with a malformed endpoint is InvalidParameter" InvalidParameter \
	subscribe --topic-arn "$TOPIC" --protocol http --notification-endpoint "not-a-url"
expect_error "publish to an unknown topic is NotFound" NotFound \
	publish --topic-arn "arn:aws:sns:$REGION:$ACCOUNT:no-such-topic" --message hi
expect_error "get-topic-attributes of an unknown topic is NotFound" NotFound \
	get-topic-attributes --topic-arn "arn:aws:sns:$REGION:$ACCOUNT:no-such-topic"
head -c $((256 * 1024 + 1)) /dev/zero | tr '\0' a >"$tmp/big.txt"
expect_error "a message over 256 KiB is InvalidParameter" InvalidParameter \
	publish --topic-arn "$TOPIC" --message "file://$tmp/big.txt"
cli list-subscriptions-by-topic --topic-arn "$TOPIC"
expect_jq "the rejected requests stored nothing" '[.Subscriptions[].SubscriptionArn] == [$s]' --arg s "$sub_arn"
cli list-topics
expect_jq "no topic appeared" '[.Topics[].TopicArn] == [$t]' --arg t "$TOPIC"
tail_out=$("$tmp/warden" sns tail --data-dir "$data" "$TOPIC" 2>&1) || true
if [[ $(grep -c '^20' <<<"$tail_out") == 2 ]]; then ok "no message was kept for the rejected publish"; else
	not_ok "no message was kept for the rejected publish"
fi

# ---------------------------------------------------------------- unsubscribe, delete
expect_ok "unsubscribe" unsubscribe --subscription-arn "$sub_arn"
if wait_received '.headers["x-amz-sns-message-type"] == "UnsubscribeConfirmation"' >/dev/null; then
	ok "the receiver gets an UnsubscribeConfirmation"
else
	not_ok "the receiver gets an UnsubscribeConfirmation"
fi
expect_ok "list-subscriptions-by-topic after unsubscribe" list-subscriptions-by-topic --topic-arn "$TOPIC"
expect_jq "no subscription is left" '.Subscriptions == []'
expect_error "unsubscribe again is NotFound" NotFound unsubscribe --subscription-arn "$sub_arn"
expect_ok "delete-topic" delete-topic --topic-arn "$TOPIC"
expect_ok "list-topics after delete-topic" list-topics
expect_jq "the topic is gone" '.Topics == []'
expect_error "publish to the deleted topic is NotFound" NotFound publish --topic-arn "$TOPIC" --message late

summary
