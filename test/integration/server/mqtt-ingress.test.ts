import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startEmbeddedBroker } from '#server/broker/embedded-broker.ts';
import { connectMqttIngress, type MqttIngress } from '#server/ingest/mqtt-ingress.ts';

// The server's MQTT connection against a real broker. MQTT.js reads no further packet until a message's
// handler calls back, so a handler that awaits its own publish would wait forever for the PUBACK. Bus
// messages (whose handlers republish gateway configs) must therefore not block the connection.

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe('MQTT ingress', () => {
  it('handles a bus message whose handler awaits a publish on the same connection, and keeps receiving', async () => {
    const broker = await startEmbeddedBroker({ port: 0, logger: silent });
    cleanups.push(() => broker.close());
    const handled: string[] = [];
    const link: { ingress?: MqttIngress } = {};
    const ingress = await connectMqttIngress({
      url: broker.url, logger: silent, broadcastTopics: ['vicino/v1/_servers/bus'],
      handle: async (topic, payload) => {
        if (topic === 'vicino/v1/_servers/bus') {
          // What the 'keys' and 'beacons' handlers do: republish a retained gateway config, and wait for it.
          await link.ingress!.publishRetained('vicino/v1/stores/s1/gateways/g1/config', String(payload));
        }
        handled.push(`${topic} ${String(payload)}`);
      },
    });
    link.ingress = ingress;
    cleanups.push(() => ingress.close());
    const other = await mqtt.connectAsync(broker.url, { clean: true });
    cleanups.push(() => other.endAsync());
    await other.publishAsync('vicino/v1/_servers/bus', 'first', { qos: 1 });
    await other.publishAsync('vicino/v1/stores/s1/gateways/g1/status', 'after', { qos: 1 });
    // The bus message is acknowledged first and finishes after its publish; the status message is not held up behind it.
    await vi.waitFor(() => expect([...handled].sort()).toEqual(['vicino/v1/_servers/bus first', 'vicino/v1/stores/s1/gateways/g1/status after']), { timeout: 5_000 });
  });
});
