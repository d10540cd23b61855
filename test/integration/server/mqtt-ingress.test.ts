import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startEmbeddedBroker } from '#server/broker/embedded-broker.ts';
import { connectMqttIngress, type MqttIngress } from '#server/ingest/mqtt-ingress.ts';
import { startPlainMosquitto } from '#test/helpers/start-plain-mosquitto.ts';

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

  it('receives again through its shared subscription after a Mosquitto restart, with a stable client ID (MQTT 5 session)', async () => {
    const broker = await startPlainMosquitto();
    cleanups.push(() => broker.close());
    const handled: string[] = [];
    const ingress = await connectMqttIngress({
      url: broker.url, logger: silent, sharedGroup: 'vicino', clientId: 'vicino-server-restart-test',
      handle: async (topic, payload) => void handled.push(`${topic} ${String(payload)}`),
    });
    cleanups.push(() => ingress.close());
    const gateway = async (payload: string): Promise<void> => {
      const client = await mqtt.connectAsync(broker.url, { clean: true, reconnectPeriod: 0 });
      await client.publishAsync('vicino/v1/stores/s1/gateways/g1/events', payload, { qos: 1 });
      await client.endAsync();
    };
    await gateway('before');
    await vi.waitFor(() => expect(handled).toContain('vicino/v1/stores/s1/gateways/g1/events before'), { timeout: 5_000 });

    // Mosquitto restores the session (session present) but not its shared subscriptions.
    await broker.stop();
    await broker.start();
    await vi.waitFor(() => expect(ingress.client.connected).toBe(true), { timeout: 10_000, interval: 100 });
    // The SUBSCRIBE that the reconnect sent is handled before this later connection's PUBLISH.
    await vi.waitFor(async () => {
      await gateway(`after ${handled.length}`);
      expect(handled.some((line) => line.includes('/events after'))).toBe(true);
    }, { timeout: 10_000, interval: 250 });
  });
  describe('with several presence connections in a shared subscription (Mosquitto)', () => {
    const events = 'vicino/v1/stores/s1/gateways/g1/events';
    const publishAll = async (url: string, payloads: string[]): Promise<void> => {
      const client = await mqtt.connectAsync(url, { clean: true, reconnectPeriod: 0 });
      for (const payload of payloads) await client.publishAsync(events, payload, { qos: 1 });
      await client.endAsync();
    };

    it('handles other shoppers while one shopper\'s message is still being handled, and each shopper\'s messages in order', async () => {
      const broker = await startPlainMosquitto();
      cleanups.push(() => broker.close());
      const handled: string[] = [];
      let releaseA!: () => void;
      const otherShopperStarted = new Promise<void>((resolve) => (releaseA = resolve));
      const ingress = await connectMqttIngress({
        url: broker.url, logger: silent, sharedGroup: 'vicino', presenceConnections: 3,
        // The ingest keys by shopper; here the shopper is the payload's letter.
        orderKey: (_topic, payload) => String(payload).slice(0, 1),
        handle: async (_topic, payload) => {
          const message = String(payload);
          // a-1 is held until another shopper's message has started: on one connection this would never end.
          if (message === 'a-1') await otherShopperStarted;
          if (message.startsWith('b')) releaseA();
          handled.push(message);
        },
      });
      cleanups.push(() => ingress.close());
      const sent = ['a-1', 'b-1', 'a-2', 'b-2', 'a-3', 'b-3', 'a-4', 'b-4'];
      await publishAll(broker.url, sent);
      await vi.waitFor(() => expect(handled).toHaveLength(sent.length), { timeout: 10_000 });
      expect(handled.indexOf('b-1')).toBeLessThan(handled.indexOf('a-1'));
      expect(handled.filter((m) => m.startsWith('a'))).toEqual(['a-1', 'a-2', 'a-3', 'a-4']);
      expect(handled.filter((m) => m.startsWith('b'))).toEqual(['b-1', 'b-2', 'b-3', 'b-4']);
    });

    it('retries a failing message in its lane before the same shopper\'s later ones, and handles each message once it succeeds', async () => {
      const broker = await startPlainMosquitto();
      cleanups.push(() => broker.close());
      const attempts = new Map<string, number>();
      const handled: string[] = [];
      const ingress = await connectMqttIngress({
        url: broker.url, logger: silent, sharedGroup: 'vicino', presenceConnections: 2, maxAttempts: 3,
        orderKey: (_topic, payload) => String(payload).slice(0, 1),
        handle: async (_topic, payload) => {
          const message = String(payload);
          const n = (attempts.get(message) ?? 0) + 1;
          attempts.set(message, n);
          if (message === 'a-1' && n < 3) throw new Error('store unavailable');
          handled.push(message);
        },
      });
      cleanups.push(() => ingress.close());
      await publishAll(broker.url, ['a-1', 'a-2', 'b-1', 'b-2']);
      await vi.waitFor(() => expect(handled).toHaveLength(4), { timeout: 10_000 });
      expect(handled.filter((m) => m.startsWith('a'))).toEqual(['a-1', 'a-2']);
      expect(attempts.get('a-1')).toBe(3);
      expect(handled.slice().sort()).toEqual(['a-1', 'a-2', 'b-1', 'b-2']);
      expect([...attempts.entries()].filter(([m]) => m !== 'a-1').every(([, n]) => n === 1)).toBe(true);
    });

    it('gets a message whose handling a stopped instance never finished again when it comes back, and nothing it acknowledged', async () => {
      const broker = await startPlainMosquitto();
      cleanups.push(() => broker.close());
      const firstRun: string[] = [];
      const never = new Promise<void>(() => undefined);
      const options = { url: broker.url, logger: silent, sharedGroup: 'vicino', clientId: 'vicino-server-crash-test', presenceConnections: 3 };
      const first = await connectMqttIngress({
        ...options, orderKey: (_topic, payload) => String(payload).slice(0, 1),
        handle: async (_topic, payload) => {
          const message = String(payload);
          // The instance stops in the middle of a-2: it is never acknowledged.
          if (message === 'a-2') await never;
          firstRun.push(message);
        },
      });
      await publishAll(broker.url, ['a-1', 'b-1', 'a-2', 'b-2', 'c-1']);
      await vi.waitFor(() => expect(firstRun.slice().sort()).toEqual(['a-1', 'b-1', 'b-2', 'c-1']), { timeout: 10_000 });
      await first.close();

      const secondRun: string[] = [];
      const second = await connectMqttIngress({ ...options, handle: async (_topic, payload) => void secondRun.push(String(payload)) });
      cleanups.push(() => second.close());
      await publishAll(broker.url, ['z-1']);
      await vi.waitFor(() => expect(secondRun).toContain('a-2'), { timeout: 10_000 });
      await vi.waitFor(() => expect(secondRun).toContain('z-1'), { timeout: 10_000 });
      // Nothing it acknowledged comes back (a-1 and b-1 were handled before a-2 arrived). a-2 does; so may a
      // message that arrived after a-2 on a-2's connection, since acks leave in arrival order (ack-pipeline.ts).
      const again = secondRun.filter((m) => m !== 'z-1');
      expect(again).toContain('a-2');
      expect(again.filter((m) => m === 'a-1' || m === 'b-1')).toEqual([]);
    });

    it('opens one connection only without a shared group: plain subscriptions would each get every message', async () => {
      const broker = await startEmbeddedBroker({ port: 0, logger: silent });
      cleanups.push(() => broker.close());
      const handled: string[] = [];
      const ingress = await connectMqttIngress({
        url: broker.url, logger: silent, presenceConnections: 4, handle: async (_topic, payload) => void handled.push(String(payload)),
      });
      cleanups.push(() => ingress.close());
      await publishAll(broker.url, ['a-1', 'a-2', 'a-3']);
      await vi.waitFor(() => expect(handled).toContain('a-3'), { timeout: 5_000 });
      // A second copy of the first messages would have been handled before the last one (one lane, arrival order).
      expect(handled).toEqual(['a-1', 'a-2', 'a-3']);
      expect(ingress.client.connected).toBe(true);
    });
  });
});
