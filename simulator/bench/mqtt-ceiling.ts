import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import mqtt, { type MqttClient } from 'mqtt';

// The raw broker ceiling Vicino's ingest is measured against (e2e-bench.ts): one MQTT.js publisher (on a
// worker thread, as gateways are other machines) →
// the broker → one MQTT.js subscriber, the message size and QoS of Vicino's presence topic (QoS 1 on
// publish and on the subscription), Nagle off on both client sockets (performance-notes.md). The
// publisher keeps a bounded window of messages the subscriber has not received yet (the subscriber's
// count is shared with the publisher's thread through a SharedArrayBuffer): end-to-end backpressure, as
// Vicino's own QoS 1 flow has, so the broker's queue for the subscriber never holds more than the window.
// Mosquitto at its default max_queued_messages (1000) drops QoS 1 messages silently beyond that queue;
// with the window under it, the ceiling is the rate the broker delivers without loss, the one Vicino's
// ingest must be compared with. Rate = messages received / (last received − first sent); loss = sent −
// received after a settle (0 unless the broker's queue is smaller than the window).

export type CeilingResult = { messages: number; received: number; lost: number; perSec: number; payloadBytes: number };

const noDelay = (client: MqttClient): void => (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);

export async function measureMqttCeiling(options: { url: string; payloadBytes: number; messages: number; window?: number; qos?: 0 | 1 }): Promise<CeilingResult> {
  const qos = options.qos ?? 1;
  // Under Mosquitto's default queue of 1,000 messages per session, with room for the publisher's in-flight ones.
  const window = options.window ?? 500;
  const topic = `vicino-bench/${randomBytes(6).toString('hex')}/events`;
  const id = randomBytes(4).toString('hex');
  const subscriber = await mqtt.connectAsync(options.url, { clientId: `vicino-bench-sub-${id}`, clean: true, reconnectPeriod: 0 });
  noDelay(subscriber);
  try {
    let received = 0;
    let lastMs = 0;
    // The subscriber's count, read by the publisher's thread: it publishes only while fewer than `window` are on their way.
    const receivedShared = new Int32Array(new SharedArrayBuffer(4));
    subscriber.on('message', () => {
      received += 1;
      Atomics.store(receivedShared, 0, received);
      lastMs = performance.now();
    });
    await subscriber.subscribeAsync(topic, { qos });

    const startMs = performance.now();
    await publishFromWorker({ url: options.url, topic, payloadBytes: options.payloadBytes, messages: options.messages, window, qos, clientId: `vicino-bench-pub-${id}`, receivedShared });
    // Wait for the subscriber to catch up; what has not arrived after a quiet second is lost.
    while (received < options.messages && performance.now() - Math.max(lastMs, startMs) <= 1_000) await new Promise((resolve) => setTimeout(resolve, 20));
    return { messages: options.messages, received, lost: options.messages - received, perSec: received / ((lastMs - startMs) / 1000), payloadBytes: options.payloadBytes };
  } finally {
    await subscriber.endAsync();
  }
}

// The publisher, as plain CommonJS for a worker thread (MQTT.js by its resolved path): at most `window` messages
// published and not yet received by the subscriber (its count in o.receivedShared); it looks again at each
// PUBACK and, while the window is full, every millisecond (a timer, not a busy loop: the cores are shared).
const PUBLISHER = `
const { workerData, parentPort } = require('node:worker_threads');
const mqtt = require(workerData.mqttPath);
const o = workerData;
const client = mqtt.connect(o.url, { clientId: o.clientId, clean: true, reconnectPeriod: 0 });
client.on('error', (error) => parentPort.postMessage({ error: error.message }));
client.on('connect', () => {
  client.stream.setNoDelay && client.stream.setNoDelay(true);
  const payload = Buffer.alloc(o.payloadBytes, 0x61);
  let sent = 0, acked = 0, waiting = false;
  const received = () => Atomics.load(o.receivedShared, 0);
  const pump = () => {
    waiting = false;
    while (sent < o.messages && sent - received() < o.window) {
      sent += 1;
      client.publish(o.topic, payload, { qos: o.qos }, (error) => {
        if (error) return parentPort.postMessage({ error: error.message });
        acked += 1;
        if (acked === o.messages) client.end(false, {}, () => parentPort.postMessage({ done: true }));
        else if (!waiting) pump();
      });
    }
    if (sent < o.messages && !waiting) {
      waiting = true;
      setTimeout(pump, 1);
    }
  };
  pump();
});
`;

function publishFromWorker(options: { url: string; topic: string; payloadBytes: number; messages: number; window: number; qos: 0 | 1; clientId: string; receivedShared: Int32Array }): Promise<void> {
  const mqttPath = createRequire(import.meta.url).resolve('mqtt');
  return new Promise((resolve, reject) => {
    const worker = new Worker(PUBLISHER, { eval: true, workerData: { ...options, mqttPath } });
    worker.on('message', (message: { done?: boolean; error?: string }) => {
      if (message.error !== undefined) reject(new Error(`ceiling publisher: ${message.error}`));
      else if (message.done) resolve();
      void worker.terminate();
    });
    worker.on('error', reject);
  });
}
