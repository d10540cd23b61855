import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PresenceEventSchema, topics, type PresenceEvent } from '#gateway/protocol/index.ts';
import { createDiskOutbox } from '#gateway/publisher/disk-outbox.ts';
import { createMqttPublisher } from '#gateway/publisher/mqtt-publisher.ts';
import { connectMqttIngress } from '#server/ingest/mqtt-ingress.ts';
import { aPresenceEvent } from '#test/helpers/builders.ts';
import { startPlainMosquitto } from '#test/helpers/start-plain-mosquitto.ts';

// Item 8's acceptance test: the broker (a private Mosquitto, MQTT 5, persistence on) goes away for 30 s
// in the middle of a run and comes back on the same port. The gateway's publisher keeps its events in
// the disk outbox meanwhile; the server's MQTT ingress (with a persistent session) receives every unexpired event exactly once and in order, and the
// gateway drops and counts the ones that expired. The 30 s pass on the gateway's clock (a fake one,
// advanced per event), so the test takes a few seconds of real time, not 30.

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe('broker outage', () => {
  it('delivers every unexpired event exactly once, in order, after a 30 s outage; the expired ones are dropped and counted', async () => {
    const broker = await startPlainMosquitto();
    cleanups.push(() => broker.close());
    const storeId = 'store-1';
    const gatewayId = 'gw-1';

    const received: PresenceEvent[] = [];
    const ingress = await connectMqttIngress({
      // A stable client ID, so a persistent session that Mosquitto restores after its restart. Not a
      // shared subscription: Mosquitto 2.0 does not restore those from its persistence file yet reports
      // the session present, so MQTT.js does not subscribe again and the ingress stays deaf (see the
      // 0x10 test in gateway-mqtt5-session.test.ts for what the gateway does when nobody subscribes).
      url: broker.url, clientId: 'vicino-server-outage', logger: silent,
      handle: async (topic, payload) => {
        if (topic === topics.events(storeId, gatewayId)) received.push(PresenceEventSchema.parse(JSON.parse(String(payload))));
      },
    });
    cleanups.push(() => ingress.close());

    let nowMs = 1_800_000_000_000;
    const outboxDir = await mkdtemp(join(tmpdir(), 'vicino-outage-outbox-'));
    cleanups.push(() => rm(outboxDir, { recursive: true, force: true }));
    const outbox = createDiskOutbox({ dir: outboxDir, maxBytes: 1 << 20, now: () => nowMs, logger: silent });
    const publisher = createMqttPublisher({ messageKey: randomBytes(32),
      url: broker.url, storeId, gatewayId, logger: silent, now: () => nowMs, outbox, maxEventAgeS: 20, heartbeatIntervalMs: 0, reconnectPeriodMs: 250,
    });
    await publisher.start();
    cleanups.push(() => publisher.stop(500));
    await vi.waitFor(() => expect(publisher.stats().connected).toBe(true), { timeout: 10_000 });

    let seq = 0;
    const emit = (): PresenceEvent => {
      seq += 1;
      const event = aPresenceEvent({ storeId, gatewayId, atS: Math.floor(nowMs / 1000), seq });
      publisher.publish(event);
      return event;
    };

    // 1. Ten events with the broker up.
    for (let i = 0; i < 10; i += 1, nowMs += 1_000) emit();
    await vi.waitFor(() => expect(received).toHaveLength(10), { timeout: 5_000 });

    // 2. The broker goes away; the gateway keeps producing one event a second for 30 s.
    await broker.stop();
    await vi.waitFor(() => expect(publisher.stats().connected).toBe(false), { timeout: 5_000 });
    const duringOutage: PresenceEvent[] = [];
    for (let i = 0; i < 30; i += 1, nowMs += 1_000) duringOutage.push(emit());
    expect(publisher.stats()).toMatchObject({ pending: 30, connected: false });

    // 3. It comes back at 40 s; with a 20 s age limit the outage's events from 10 s to 20 s are stale.
    await broker.start();
    const fresh = duringOutage.filter((e) => e.atS * 1_000 + 20_000 > nowMs);
    const stale = duringOutage.filter((e) => e.atS * 1_000 + 20_000 <= nowMs);
    expect(stale).toHaveLength(11);
    await vi.waitFor(() => expect(publisher.stats()).toMatchObject({ connected: true, pending: 0 }), { timeout: 15_000 });

    // 4. And the run goes on.
    for (let i = 0; i < 10; i += 1, nowMs += 1_000) emit();
    await vi.waitFor(() => expect(received).toHaveLength(10 + fresh.length + 10), { timeout: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 300)); // a duplicate would have arrived by now

    const seqs = received.map((e) => e.seq);
    const expected = [...Array.from({ length: 10 }, (_, i) => i + 1), ...fresh.map((e) => e.seq), ...Array.from({ length: 10 }, (_, i) => 41 + i)];
    expect(seqs).toEqual(expected);
    expect(new Set(received.map((e) => e.eventId)).size).toBe(received.length);
    expect(seqs.some((s) => stale.some((e) => e.seq === s))).toBe(false);
    expect(publisher.stats()).toMatchObject({ published: 39, dropped: { expired: 11, overflow: 0, corrupt: 0 } });
  }, 45_000);
});
