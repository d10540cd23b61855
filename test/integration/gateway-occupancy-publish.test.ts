import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OccupancySchema, PROTOCOL_VERSION, signMessage, topics, type Occupancy } from '#gateway/protocol/index.ts';
import { createMqttPublisher } from '#gateway/publisher/mqtt-publisher.ts';
import { startEmbeddedBroker } from '#server/broker/embedded-broker.ts';

// The gateway's occupancy counts through the real MQTT publisher to a real broker: one message per
// window on the gateway's own occupancy topic, apart from the presence outbox.

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const messageKey = randomBytes(32);
const aCount = (windowStartS: number, count: number | null): Occupancy =>
  signMessage(messageKey, 'occupancy', { v: PROTOCOL_VERSION, storeId: 's1', gatewayId: 'g1', zoneId: 'entrance', windowStartS, windowEndS: windowStartS + 60, count });

describe('MQTT publisher: occupancy', () => {
  it('publishes each count on the gateway\'s occupancy topic at QoS 1, and none before start', async () => {
    const broker = await startEmbeddedBroker({ port: 0, logger: silent });
    cleanups.push(() => broker.close());
    const watcher = await mqtt.connectAsync(broker.url, { clean: true, reconnectPeriod: 0 });
    cleanups.push(() => watcher.endAsync(true));
    const received: { topic: string; payload: string }[] = [];
    watcher.on('message', (topic, payload) => received.push({ topic, payload: String(payload) }));
    await watcher.subscribeAsync('vicino/v1/stores/s1/gateways/g1/#', { qos: 1 });

    const publisher = createMqttPublisher({ messageKey: randomBytes(32), url: broker.url, storeId: 's1', gatewayId: 'g1', logger: silent, now: Date.now });
    publisher.publishOccupancy(aCount(1_800_000_000, 99)); // not started: dropped, does not throw
    await publisher.start();
    cleanups.push(() => publisher.stop());
    publisher.publishOccupancy(aCount(1_800_000_060, 7));
    publisher.publishOccupancy(aCount(1_800_000_120, null));
    await vi.waitFor(() => expect(received.filter((m) => m.topic === topics.occupancy('s1', 'g1'))).toHaveLength(2), { timeout: 5_000 });
    const counts = received.filter((m) => m.topic === topics.occupancy('s1', 'g1')).map((m) => OccupancySchema.parse(JSON.parse(m.payload)));
    expect(counts).toEqual([aCount(1_800_000_060, 7), aCount(1_800_000_120, null)]);
    // Counts do not go through the presence outbox.
    expect(publisher.stats()).toMatchObject({ published: 0, pending: 0 });
  });
});
