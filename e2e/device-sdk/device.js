// A device on AWS's own device SDK (aws-iot-device-sdk-v2, MQTT 5 over TLS
// with a client certificate), driven by e2e/device_sdk.sh against Warden.
//
//   node device.js --host 127.0.0.1 --port 8883 --ca ca.pem --cert dev.pem --key dev.key \
//     --client-id dev --topic e2e/sdk/temp --filter 'e2e/sdk/#' \
//     --denied-topic e2e/denied/x --denied-filter 'other/#' [--wait 30]
//
// It connects, subscribes to --filter and --denied-filter, publishes to
// --topic at QoS 1 and QoS 0 and waits for both messages to come back,
// publishes to --denied-topic, then prints "ready" and waits until the
// broker cuts it off and refuses its reconnect. Each step is one JSON line on
// stdout ({"event": ...}); the suite checks them with jq. Exits 0 after
// "reconnect_refused", 1 on an unexpected error or after --wait seconds.
'use strict';

const { mqtt5, iot } = require('aws-iot-device-sdk-v2');
const { once } = require('node:events');
const { parseArgs } = require('node:util');

const { values: opt } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    'client-id': { type: 'string' },
    topic: { type: 'string' },
    filter: { type: 'string' },
    'denied-topic': { type: 'string' },
    'denied-filter': { type: 'string' },
    wait: { type: 'string', default: '30' },
  },
});
for (const name of ['port', 'ca', 'cert', 'key', 'client-id', 'topic', 'filter', 'denied-topic', 'denied-filter']) {
  if (!opt[name]) {
    console.error(`device.js: --${name} is required`);
    process.exit(2);
  }
}

const t0 = Date.now();
function report(event, fields = {}) {
  console.log(JSON.stringify({ event, ms: Date.now() - t0, ...fields }));
}
// errorOf is what the suite needs of a CRT error: its name and code.
function errorOf(e) {
  return e ? { error: e.error_name || String(e), code: e.error_code } : {};
}

// pubackReason is the reason code of a QoS 1 publish's PUBACK (the SDK
// resolves publish with the PUBACK packet; undefined for QoS 0).
function pubackReason(res) {
  return res && typeof res.reasonCode === 'number' ? res.reasonCode : undefined;
}

// A message is matched by its payload, which is unique per run and QoS.
const waiting = new Map();
function receive(payload, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(payload);
      reject(new Error(`no message ${payload} within ${ms} ms`));
    }, ms);
    waiting.set(payload, (msg) => {
      clearTimeout(timer);
      resolve(msg);
    });
  });
}

async function main() {
  const config = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromPath(opt.host, opt.cert, opt.key)
    .withCertificateAuthorityFromPath(undefined, opt.ca)
    .withPort(Number(opt.port))
    .withConnectProperties({ clientId: opt['client-id'], keepAliveIntervalSeconds: 60 })
    .withSessionBehavior(mqtt5.ClientSessionBehavior.Clean)
    // Reconnect soon after being cut off, so the refusal shows quickly.
    .withMinReconnectDelayMs(200)
    .withMaxReconnectDelayMs(1000)
    .withConnackTimeoutMs(5000)
    .build();
  const client = new mqtt5.Mqtt5Client(config);

  let connectedOnce = false;
  let cutOff = false;
  let done;
  const finished = new Promise((resolve) => {
    done = resolve;
  });
  client.on('error', (e) => report('error', errorOf(e)));
  client.on('messageReceived', (ev) => {
    const m = ev.message;
    const payload = Buffer.from(m.payload || []).toString();
    report('received', { topic: m.topicName, payload, qos: m.qos });
    const w = waiting.get(payload);
    if (w) {
      waiting.delete(payload);
      w(m);
    }
  });
  client.on('connectionSuccess', (ev) => {
    if (connectedOnce) {
      report('reconnected');
      return;
    }
    connectedOnce = true;
    report('connected', { sessionPresent: ev.connack.sessionPresent, reasonCode: ev.connack.reasonCode });
  });
  client.on('connectionFailure', (ev) => {
    report(cutOff ? 'reconnect_refused' : 'connection_failure', {
      ...errorOf(ev.error),
      connackReasonCode: ev.connack ? ev.connack.reasonCode : undefined,
    });
    if (cutOff || !connectedOnce) done(cutOff ? 0 : 1);
  });
  client.on('disconnection', (ev) => {
    cutOff = true;
    report('disconnected', {
      ...errorOf(ev.error),
      disconnectReasonCode: ev.disconnect ? ev.disconnect.reasonCode : undefined,
    });
  });

  const timer = setTimeout(() => {
    report('timeout', { wait_s: Number(opt.wait) });
    done(1);
  }, Number(opt.wait) * 1000);

  client.start();
  const first = await Promise.race([once(client, 'connectionSuccess'), finished]);
  if (typeof first === 'number') return finish(client, timer, first);

  const suback = await client.subscribe({
    subscriptions: [{ topicFilter: opt.filter, qos: mqtt5.QoS.AtLeastOnce }],
  });
  report('subscribed', { filter: opt.filter, reasonCodes: suback.reasonCodes });
  const denied = await client.subscribe({
    subscriptions: [{ topicFilter: opt['denied-filter'], qos: mqtt5.QoS.AtLeastOnce }],
  });
  report('subscribed', { filter: opt['denied-filter'], reasonCodes: denied.reasonCodes });

  for (const qos of [mqtt5.QoS.AtLeastOnce, mqtt5.QoS.AtMostOnce]) {
    const payload = `sdk-${opt['client-id']}-${t0}-qos${qos}`;
    const got = receive(payload, 5000);
    const res = await client.publish({ topicName: opt.topic, payload, qos });
    report('published', { topic: opt.topic, qos, reasonCode: pubackReason(res) });
    await got;
  }
  const res = await client.publish({ topicName: opt['denied-topic'], payload: 'denied', qos: mqtt5.QoS.AtLeastOnce });
  report('published', {
    topic: opt['denied-topic'],
    qos: 1,
    reasonCode: pubackReason(res),
  });

  report('ready');
  return finish(client, timer, await finished);
}

async function finish(client, timer, code) {
  clearTimeout(timer);
  const stopped = once(client, 'stopped');
  client.stop();
  await Promise.race([stopped, new Promise((r) => setTimeout(r, 2000))]);
  client.close();
  report('exit', { code });
  process.exit(code);
}

main().catch((e) => {
  report('failed', { message: e && e.message ? e.message : String(e) });
  process.exit(1);
});
