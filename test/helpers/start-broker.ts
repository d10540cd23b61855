import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { startEmbeddedBroker } from '#server/broker/embedded-broker.ts';

// A broker for a test: the machine's (MQTT_URL, e.g. Mosquitto in CI) when set, otherwise an embedded
// aedes on port 0. Registered for closing first, so a failing test leaves nothing running.

export type TestBroker = { url: string; kind: 'external' | 'embedded'; close(): Promise<void> };

export async function startTestBroker(options: { external?: string } = {}): Promise<TestBroker> {
  if (options.external) return { url: options.external, kind: 'external', close: async () => undefined };
  const broker = await startEmbeddedBroker({ port: 0, logger: pino({ level: 'silent' }) });
  return { url: broker.url, kind: 'embedded', close: () => broker.close() };
}

export type CapturedMessage = { topic: string; payload: Buffer; retain: boolean };

/** Subscribes to everything under a prefix and keeps every message, for assertions on what crossed the wire. */
export async function captureMqtt(url: string, filter: string): Promise<{ messages: CapturedMessage[]; client: MqttClient; close(): Promise<void> }> {
  const client = await mqtt.connectAsync(url, { clean: true, reconnectPeriod: 0 });
  const messages: CapturedMessage[] = [];
  client.on('message', (topic, payload, packet) => messages.push({ topic, payload: Buffer.from(payload), retain: packet.retain }));
  await client.subscribeAsync(filter, { qos: 1 });
  return { messages, client, close: () => client.endAsync() };
}

/** Clears retained messages a test left under a prefix on a shared broker. */
export async function clearRetained(url: string, topicsToClear: string[]): Promise<void> {
  const client = await mqtt.connectAsync(url, { clean: true, reconnectPeriod: 0 });
  for (const topic of topicsToClear) await client.publishAsync(topic, '', { qos: 1, retain: true });
  await client.endAsync();
}
