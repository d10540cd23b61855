import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatewayStatusSchema, topics, type GatewayStatus } from '#gateway/protocol/index.ts';
import { createMqttPublisher } from '#gateway/publisher/mqtt-publisher.ts';
import { aPresenceEvent } from '#test/helpers/builders.ts';
import { startPlainMosquitto } from '#test/helpers/start-plain-mosquitto.ts';

// The gateway's MQTT 5 session on a real MQTT 5 broker (Mosquitto): the heartbeat on the retained
// status topic (counters only), and the will delay: a connection that drops and comes back within the
// delay never shows the gateway offline; one that stays down does, after the delay and not before.

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

/** A TCP relay in front of the broker that can drop every connection, and stop accepting new ones. */
async function relay(targetPort: number): Promise<{ url: string; cut(): void; refuse(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect({ port: targetPort, host: '127.0.0.1' });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const cut = (): void => {
    for (const s of sockets) s.destroy();
  };
  cleanups.push(async () => {
    cut();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `mqtt://127.0.0.1:${port}`, cut, refuse: () => new Promise<void>((resolve) => {
    server.close(() => resolve());
    cut();
  }) };
}

async function statusWatcher(url: string, storeId: string, gatewayId: string) {
  const client = await mqtt.connectAsync(url, { clean: true, reconnectPeriod: 0 });
  cleanups.push(() => client.endAsync(true));
  const seen: { atMs: number; status: GatewayStatus; retain: boolean }[] = [];
  client.on('message', (_topic, payload, packet) => seen.push({ atMs: Date.now(), status: GatewayStatusSchema.parse(JSON.parse(String(payload))), retain: packet.retain }));
  await client.subscribeAsync(topics.status(storeId, gatewayId), { qos: 1 });
  return seen;
}

describe('MQTT 5 session', () => {
  it('republishes its retained status as a heartbeat with counters and nothing else', async () => {
    const broker = await startPlainMosquitto();
    cleanups.push(() => broker.close());
    const seen = await statusWatcher(broker.url, 'store-1', 'gw-hb');
    const publisher = createMqttPublisher({ messageKey: randomBytes(32),
      url: broker.url, storeId: 'store-1', gatewayId: 'gw-hb', logger: silent, now: Date.now, version: 'test',
      heartbeatIntervalMs: 150, heartbeatCounts: () => ({ advertisements: 42, tracked: 3 }),
    });
    await publisher.start();
    cleanups.push(() => publisher.stop(200));
    await vi.waitFor(() => expect(seen.length).toBeGreaterThanOrEqual(4), { timeout: 5_000 });
    for (const { status } of seen) {
      expect(status).toMatchObject({ storeId: 'store-1', gatewayId: 'gw-hb', online: true, version: 'test' });
      expect(status.counts).toMatchObject({ advertisements: 42, tracked: 3, published: 0, pending: 0, droppedEvents: 0 });
      expect(Object.values(status.counts!).every((n) => Number.isInteger(n))).toBe(true);
    }
  });

  it('keeps events that reached no subscriber (PUBACK 0x10) and delivers them, once and in order, when one arrives', async () => {
    const broker = await startPlainMosquitto();
    cleanups.push(() => broker.close());
    const publisher = createMqttPublisher({ messageKey: randomBytes(32), url: broker.url, storeId: 'store-1', gatewayId: 'gw-nosub', logger: silent, now: Date.now, heartbeatIntervalMs: 0 });
    await publisher.start();
    cleanups.push(() => publisher.stop(200));
    await vi.waitFor(() => expect(publisher.stats().connected).toBe(true), { timeout: 5_000 });
    const events = Array.from({ length: 5 }, (_, i) => aPresenceEvent({ storeId: 'store-1', gatewayId: 'gw-nosub', atS: Math.floor(Date.now() / 1000), seq: i + 1 }));
    for (const event of events) publisher.publish(event);
    await vi.waitFor(() => expect(publisher.stats().unroutedRetries).toBeGreaterThanOrEqual(5), { timeout: 5_000 });
    expect(publisher.stats()).toMatchObject({ pending: 5, published: 0 });

    const server = await mqtt.connectAsync(broker.url, { clean: true, reconnectPeriod: 0, protocolVersion: 5 });
    cleanups.push(() => server.endAsync(true));
    const received: number[] = [];
    server.on('message', (_topic, payload) => received.push((JSON.parse(String(payload)) as { seq: number }).seq));
    await server.subscribeAsync('$share/vicino/vicino/v1/stores/+/gateways/+/events', { qos: 1 });
    await vi.waitFor(() => expect(publisher.stats()).toMatchObject({ pending: 0, published: 5 }), { timeout: 10_000 });
    await vi.waitFor(() => expect(received).toEqual([1, 2, 3, 4, 5]), { timeout: 2_000 });
  }, 20_000);

  it('shows the gateway offline only when it stays away past the will delay', async () => {
    const broker = await startPlainMosquitto();
    cleanups.push(() => broker.close());
    const path = await relay(broker.port);
    const seen = await statusWatcher(broker.url, 'store-1', 'gw-will');
    const publisher = createMqttPublisher({ messageKey: randomBytes(32),
      url: path.url, storeId: 'store-1', gatewayId: 'gw-will', logger: silent, now: Date.now, willDelayS: 2, heartbeatIntervalMs: 0, reconnectPeriodMs: 200,
    });
    const configs: unknown[] = [];
    publisher.onConfig((config) => configs.push(config));
    const admin = await mqtt.connectAsync(broker.url, { clean: true, reconnectPeriod: 0 });
    cleanups.push(() => admin.endAsync(true));
    await admin.publishAsync(topics.config('store-1', 'gw-will'), JSON.stringify({ v: 1, storeId: 'store-1', gatewayId: 'gw-will', zoneId: 'z', issuedAtS: 1, epochKeys: [], registeredBeacons: [] }), { qos: 1, retain: true });
    await publisher.start();
    cleanups.push(() => publisher.stop(200));
    await vi.waitFor(() => expect(seen.map((s) => s.status.online)).toEqual([true]), { timeout: 5_000 });
    await vi.waitFor(() => expect(configs).toHaveLength(1), { timeout: 5_000 });

    // A blip: the connection drops and the gateway is back within 200 ms — its session resumes, no will.
    path.cut();
    await vi.waitFor(() => expect(seen.map((s) => s.status.online)).toEqual([true, true]), { timeout: 5_000 });
    // It subscribes again although the session was resumed, and so gets the retained config afresh.
    await vi.waitFor(() => expect(configs).toHaveLength(2), { timeout: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(seen.every((s) => s.status.online)).toBe(true);

    // Gone for good: the broker publishes the retained offline status after the 2 s delay, not before.
    const cutAtMs = Date.now();
    await path.refuse();
    await vi.waitFor(() => expect(seen.at(-1)?.status.online).toBe(false), { timeout: 8_000 });
    const offline = seen.at(-1)!;
    expect(offline.atMs - cutAtMs).toBeGreaterThanOrEqual(1_900);
    expect(offline.atMs - cutAtMs).toBeLessThan(6_000);
    // Retained: a subscriber that arrives later still learns the gateway is offline.
    const late = await statusWatcher(broker.url, 'store-1', 'gw-will');
    await vi.waitFor(() => expect(late.map((s) => [s.status.online, s.retain])).toEqual([[false, true]]), { timeout: 5_000 });
  }, 30_000);
});
