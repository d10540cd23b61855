import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PresenceEventSchema, topics, type PresenceEvent, type Pseudonym } from '#gateway/protocol/index.ts';
import { createMemoryOutbox } from '#gateway/publisher/memory-outbox.ts';
import { createMqttPublisher } from '#gateway/publisher/mqtt-publisher.ts';
import type { Publisher } from '#gateway/publisher/publisher.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '#server/broker/embedded-broker.ts';
import { aPresenceEvent } from '#test/helpers/builders.ts';
import { freePort } from '#test/helpers/start-mosquitto.ts';

// The gateway's MQTT publisher against a real broker: QoS 1, the retained online/offline status, the
// config subscription, and — the point — no event lost while the broker is away.

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});


function anEvent(i: number, storeId: string, gatewayId: string): PresenceEvent {
  return aPresenceEvent({ storeId, gatewayId, pseudonym: i.toString(16).padStart(32, '0') as Pseudonym, atS: 1_800_000_000 + i, seq: 100_000 + i });
}

async function subscriber(url: string, filter: string) {
  const client = await mqtt.connectAsync(url, { clean: true, reconnectPeriod: 200 });
  const received: { topic: string; payload: string; retain: boolean }[] = [];
  client.on('message', (topic, payload, packet) => received.push({ topic, payload: String(payload), retain: packet.retain }));
  client.on('connect', () => void client.subscribe(filter, { qos: 1 }));
  await client.subscribeAsync(filter, { qos: 1 });
  cleanups.push(() => client.endAsync(true));
  return received;
}

describe('MQTT publisher', () => {
  it('publishes presence at QoS 1 and a retained online status, then offline on stop', async () => {
    const broker = await startEmbeddedBroker({ port: 0, logger: silent });
    cleanups.push(() => broker.close());
    const received = await subscriber(broker.url, 'vicino/v1/stores/s1/#');
    const publisher = createMqttPublisher({ messageKey: randomBytes(32), url: broker.url, storeId: 's1', gatewayId: 'g1', logger: silent, now: Date.now });
    await publisher.start();
    for (let i = 0; i < 100; i += 1) publisher.publish(anEvent(i, 's1', 'g1'));
    await vi.waitFor(() => expect(received.filter((m) => m.topic === topics.events('s1', 'g1'))).toHaveLength(100), { timeout: 5_000 });
    const events = received.filter((m) => m.topic.endsWith('/events')).map((m) => PresenceEventSchema.parse(JSON.parse(m.payload)));
    expect(events.map((e) => e.atS)).toEqual(Array.from({ length: 100 }, (_, i) => 1_800_000_000 + i));
    expect(publisher.stats()).toMatchObject({ published: 100, pending: 0, droppedOverflow: 0, connected: true });
    // Batched: 100 events given at once leave in a few socket writes (64 in flight at most), not 100.
    expect(publisher.stats().batches).toBeLessThanOrEqual(3);
    await publisher.stop();
    const statuses = received.filter((m) => m.topic === topics.status('s1', 'g1')).map((m) => JSON.parse(m.payload) as { online: boolean });
    expect(statuses.at(0)?.online).toBe(true);
    expect(statuses.at(-1)?.online).toBe(false);
  });

  it('loses nothing while the broker is down: the outbox holds events and sends them after it returns', async () => {
    const port = await freePort();
    let broker: EmbeddedBroker = await startEmbeddedBroker({ port, logger: silent });
    cleanups.push(() => broker.close());
    const publisher: Publisher = createMqttPublisher({ messageKey: randomBytes(32), url: broker.url, storeId: 's2', gatewayId: 'g2', logger: silent, now: Date.now });
    await publisher.start();
    cleanups.push(() => publisher.stop(500));
    for (let i = 0; i < 50; i += 1) publisher.publish(anEvent(i, 's2', 'g2'));
    await vi.waitFor(() => expect(publisher.stats().published).toBe(50), { timeout: 5_000 });

    await broker.close();
    await vi.waitFor(() => expect(publisher.stats().connected).toBe(false), { timeout: 5_000 });
    for (let i = 50; i < 250; i += 1) publisher.publish(anEvent(i, 's2', 'g2'));
    expect(publisher.stats().pending).toBe(200);

    broker = await startEmbeddedBroker({ port, logger: silent });
    const received = await subscriber(broker.url, topics.events('s2', 'g2'));
    // The subscriber joins the new broker first; the publisher reconnects within its 1 s period.
    await vi.waitFor(() => expect(publisher.stats()).toMatchObject({ connected: true, pending: 0, published: 250 }), { timeout: 10_000 });
    await vi.waitFor(() => expect(new Set(received.map((m) => (JSON.parse(m.payload) as PresenceEvent).atS)).size).toBe(200), { timeout: 5_000 });
    expect(publisher.stats().droppedOverflow).toBe(0);
  }, 20_000);

  it('sends a lone event at once and holds what follows for at most maxLatencyMs, then sends it together', async () => {
    const broker = await startEmbeddedBroker({ port: 0, logger: silent });
    cleanups.push(() => broker.close());
    const arrivals: number[] = [];
    const client = await mqtt.connectAsync(broker.url, { clean: true });
    cleanups.push(() => client.endAsync(true));
    client.on('message', () => arrivals.push(performance.now()));
    await client.subscribeAsync(topics.events('s5', 'g5'), { qos: 1 });
    const publisher = createMqttPublisher({ messageKey: randomBytes(32), url: broker.url, storeId: 's5', gatewayId: 'g5', logger: silent, now: Date.now, maxLatencyMs: 400 });
    await publisher.start();
    cleanups.push(() => publisher.stop(500));
    await vi.waitFor(() => expect(publisher.stats().connected).toBe(true), { timeout: 5_000 });

    const t0 = performance.now();
    publisher.publish(anEvent(0, 's5', 'g5'));
    await vi.waitFor(() => expect(arrivals).toHaveLength(1), { timeout: 2_000, interval: 5 });
    expect(arrivals[0]! - t0).toBeLessThan(200);
    // Three more right behind it: they wait for the 400 ms window, then leave in one batch.
    for (let i = 1; i <= 3; i += 1) publisher.publish(anEvent(i, 's5', 'g5'));
    await vi.waitFor(() => expect(arrivals).toHaveLength(4), { timeout: 2_000, interval: 5 });
    expect(arrivals[1]! - t0).toBeGreaterThanOrEqual(350);
    expect(arrivals[3]! - t0).toBeLessThan(900);
    expect(publisher.stats().batches).toBe(2);
  });

  it('bounds the outbox: past capacity the oldest events go, and each one is counted', async () => {
    const port = await freePort();
    // Room for exactly ten events (they all serialise to the same length).
    const outbox = createMemoryOutbox({ maxBytes: 10 * Buffer.byteLength(JSON.stringify(anEvent(0, 's3', 'g3'))), now: Date.now });
    const publisher = createMqttPublisher({ messageKey: randomBytes(32), url: `mqtt://127.0.0.1:${port}`, storeId: 's3', gatewayId: 'g3', logger: silent, now: Date.now, outbox });
    // No broker: start() returns (a store box may boot before its network); publishing neither throws nor grows.
    await publisher.start();
    cleanups.push(() => publisher.stop(100));
    for (let i = 0; i < 25; i += 1) publisher.publish(anEvent(i, 's3', 'g3'));
    expect(publisher.stats()).toMatchObject({ pending: 10, droppedOverflow: 15, connected: false });
  });

  it('hands a valid config to its listener and rejects a malformed one without crashing', async () => {
    const broker = await startEmbeddedBroker({ port: 0, logger: silent });
    cleanups.push(() => broker.close());
    const publisher = createMqttPublisher({ messageKey: randomBytes(32), url: broker.url, storeId: 's4', gatewayId: 'g4', logger: silent, now: Date.now });
    const configs: unknown[] = [];
    publisher.onConfig((config) => configs.push(config));
    await publisher.start();
    cleanups.push(() => publisher.stop(500));
    // Subscribed before the configs arrive (aedes answers MQTT 5 with a refusal, so the first connect is a retry in 3.1.1).
    await vi.waitFor(() => expect(publisher.stats().connected).toBe(true), { timeout: 5_000 });
    const admin = await mqtt.connectAsync(broker.url, { clean: true });
    cleanups.push(() => admin.endAsync());
    await admin.publishAsync(topics.config('s4', 'g4'), '{"v":1,"storeId":"s4"', { qos: 1, retain: true });
    await admin.publishAsync(topics.config('s4', 'g4'), JSON.stringify({ v: 1, storeId: 's4', gatewayId: 'g4', zoneId: 'z', issuedAtS: 1, epochKeys: [], registeredBeacons: [] }), { qos: 1, retain: true });
    await vi.waitFor(() => expect(configs).toHaveLength(1), { timeout: 5_000 });
    expect(publisher.stats().rejectedConfigs).toBe(1);
  });
});
