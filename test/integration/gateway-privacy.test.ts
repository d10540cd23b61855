import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createGateway } from '#gateway/gateway.ts';
import { createGatewayMetrics } from '#gateway/ops/gateway-metrics.ts';
import { startOpsServer } from '#gateway/ops/ops-server.ts';
import { PROTOCOL_VERSION, pseudonymise, topics, wrapEpochKey, type GatewayConfigMessage } from '#gateway/protocol/index.ts';
import { createDiskOutbox } from '#gateway/publisher/disk-outbox.ts';
import { createMqttPublisher } from '#gateway/publisher/mqtt-publisher.ts';
import { createNobleScanner, type NobleLike } from '#gateway/scanner/noble-scanner.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '#server/broker/embedded-broker.ts';
import { createSimulatedBindings } from '#simulator/noble-bindings.ts';
import { encodeAppleContinuity, encodeEddystoneEid, encodeEddystoneUid, encodeIBeacon } from '#simulator/radio/encoders.ts';
import { addressForms, encodingsOf, findLeaks, identifierForms, type Secret } from '#test/helpers/leak-search.ts';
import { createLogSink } from '#test/helpers/log-sink.ts';
import { freePort } from '#test/helpers/start-mosquitto.ts';

// MIN-1 / MIN-3 for the delivery path: a simulated run through the real gateway (noble on simulated
// bindings, decode, pseudonymise, presence, the MQTT publisher with its DISK outbox, metrics and the ops
// port), with a broker outage in the middle so events sit on disk. Everything the gateway emitted
// (MQTT), logged (every level), wrote (the outbox segment files, read both during the outage and at the
// end) and served (/metrics, /health) is searched for every raw identifier of the run, in every
// encoding, and the files also byte for byte. None may appear.

const require = createRequire(import.meta.url);
const withBindings = require('@abandonware/noble/with-bindings') as (bindings: unknown) => NobleLike;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

const randomMac = (): string => [...randomBytes(6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
const uuidOf = (bytes: Buffer): string => bytes.toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

async function capture(url: string, into: string[]): Promise<() => Promise<void>> {
  const client = await mqtt.connectAsync(url, { clean: true, reconnectPeriod: 0 });
  client.on('message', (topic, payload) => into.push(`${topic} ${payload.toString('utf8')}`));
  await client.subscribeAsync('vicino/#', { qos: 1 });
  return () => client.endAsync();
}

async function readOutbox(dir: string): Promise<Buffer[]> {
  const names = (await readdir(dir)).filter((name) => name.startsWith('segment-'));
  return Promise.all(names.map((name) => readFile(join(dir, name))));
}

describe('gateway privacy (MIN-1, MIN-3)', () => {
  it('lets no raw identifier reach MQTT, the logs, the outbox files or the ops port', async () => {
    const storeId = 'store-1';
    const gatewayId = 'gw-1';
    const secret = randomBytes(32);
    const epochKey = randomBytes(32);
    const port = await freePort();
    let broker: EmbeddedBroker = await startEmbeddedBroker({ port, logger: createLogSink({ level: 'silent' }).logger });
    cleanups.push(() => broker.close());
    const wire: string[] = [];
    const stopCapture1 = await capture(broker.url, wire);

    // The run's devices: app phones (EIDs), registered and foreign beacons, and non-beacon phones.
    const phones = Array.from({ length: 30 }, () => ({ mac: randomMac(), eid: randomBytes(8).toString('hex') }));
    const registered = Array.from({ length: 5 }, () => ({ mac: randomMac(), uuid: uuidOf(randomBytes(16)), major: 1_000 + randomBytes(1)[0]!, minor: 2_000 + randomBytes(1)[0]! }));
    const foreign = Array.from({ length: 5 }, () => ({ mac: randomMac(), uuid: uuidOf(randomBytes(16)), major: 3_000, minor: 4_000 }));
    const uids = Array.from({ length: 3 }, () => ({ mac: randomMac(), namespace: randomBytes(10).toString('hex'), instance: randomBytes(6).toString('hex') }));
    const others = Array.from({ length: 5 }, () => ({ mac: randomMac(), payload: randomBytes(5).toString('hex') }));
    const beaconId = (b: { uuid: string; major: number; minor: number }): Buffer => {
      const bytes = Buffer.alloc(20);
      Buffer.from(b.uuid.replaceAll('-', ''), 'hex').copy(bytes);
      bytes.writeUInt16BE(b.major, 16);
      bytes.writeUInt16BE(b.minor, 18);
      return bytes;
    };

    // The gateway, as main.ts composes it, with every log line kept.
    const logs = createLogSink({ level: 'trace' });
    const outboxDir = await mkdtemp(join(tmpdir(), 'vicino-privacy-outbox-'));
    cleanups.push(() => rm(outboxDir, { recursive: true, force: true }));
    const bindings = createSimulatedBindings();
    const scanner = createNobleScanner({ noble: withBindings(bindings), now: Date.now });
    const publisher = createMqttPublisher({ messageKey: randomBytes(32),
      url: broker.url, storeId, gatewayId, logger: logs.logger.child({ component: 'mqtt' }), now: Date.now,
      outbox: createDiskOutbox({ dir: outboxDir, maxBytes: 1 << 20, fsyncIntervalMs: 0, now: Date.now, logger: logs.logger.child({ component: 'outbox' }) }),
      heartbeatIntervalMs: 100, heartbeatCounts: () => ({ advertisements: gateway.stats().advertisements }),
    });
    const metrics = createGatewayMetrics({ pipeline: () => gateway.stats(), publisher: () => publisher.stats(), mapSizes: [() => ({ 'scanner-addresses': scanner.stats().trackedAddresses })] });
    const gateway = createGateway({
      scanner, publisher, logger: logs.logger, now: Date.now,
      settings: { storeId, gatewayId, zoneId: 'entrance', secret, presence: { minSightings: 2 } },
      onPublished: (event, causedByMs) => metrics.observePublish(event.kind, Date.now() - causedByMs),
    });
    const ops = await startOpsServer({
      host: '127.0.0.1', port: 0, logger: logs.logger, registry: metrics.registry, now: Date.now,
      health: () => ({ scanner: 'scanning', brokerConnected: publisher.stats().connected, brokerDownSinceMs: null, outboxDepth: 0, outboxBytes: 0, outboxMaxBytes: 1 << 20, lastAdvertisementAtMs: gateway.stats().lastAdvertisementAtMs, startedAtMs: Date.now() }),
    });
    cleanups.push(() => ops.close());

    // The server's retained config, through the broker: the epoch key, wrapped, and the registered beacons.
    const nowS = Math.floor(Date.now() / 1000);
    const config: GatewayConfigMessage = {
      v: PROTOCOL_VERSION, storeId, gatewayId, zoneId: 'entrance', issuedAtS: nowS,
      epochKeys: [{ keyId: 'k1', wrapped: wrapEpochKey(secret, gatewayId, 'k1', epochKey), notBeforeS: nowS - 60, notAfterS: nowS + 3_600 }],
      registeredBeacons: registered.map((b) => pseudonymise(epochKey, 'ibeacon', beaconId(b))),
    };
    const admin = await mqtt.connectAsync(broker.url, { clean: true });
    await admin.publishAsync(topics.config(storeId, gatewayId), JSON.stringify(config), { qos: 1, retain: true });
    await admin.endAsync();
    await gateway.start();
    cleanups.push(() => gateway.stop());
    await vi.waitFor(() => expect(gateway.stats().liveKeys).toBe(1), { timeout: 5_000 });

    const advertise = (round: number, half: 0 | 1): void => {
      const mine = <T>(list: T[]): T[] => list.filter((_, i) => i % 2 === half);
      for (const p of mine(phones)) bindings.report({ address: p.mac, addressType: 'random', eir: encodeEddystoneEid({ eid: p.eid, txPowerDbm: -20 }), rssi: -60 - round });
      for (const b of [...mine(registered), ...mine(foreign)]) bindings.report({ address: b.mac, addressType: 'public', eir: encodeIBeacon({ ...b, measuredPowerDbm: -59 }), rssi: -62 });
      for (const u of mine(uids)) bindings.report({ address: u.mac, addressType: 'public', eir: encodeEddystoneUid({ ...u, txPowerDbm: -20 }), rssi: -62 });
      for (const o of mine(others)) bindings.report({ address: o.mac, addressType: 'random', eir: encodeAppleContinuity({ subtype: 0x10, payload: o.payload }), rssi: -55 });
    };

    // 1. Half the devices with the broker up.
    for (let round = 0; round < 3; round += 1) advertise(round, 0);
    await vi.waitFor(() => expect(wire.filter((m) => m.includes('/events ')).length).toBeGreaterThanOrEqual(15 + 3), { timeout: 5_000 });

    // 2. The broker goes away: the other half's events wait in the outbox files.
    await stopCapture1();
    await broker.close();
    await vi.waitFor(() => expect(publisher.stats().connected).toBe(false), { timeout: 5_000 });
    for (let round = 0; round < 3; round += 1) advertise(round, 1);
    expect(publisher.stats().pending).toBeGreaterThanOrEqual(15 + 2);
    const duringOutage = await readOutbox(outboxDir);
    expect(duringOutage.reduce((sum, file) => sum + file.length, 0)).toBeGreaterThan(17 * 300);

    // 3. It comes back; the outbox drains; the gateway stops (exits for everyone present).
    broker = await startEmbeddedBroker({ port, logger: createLogSink({ level: 'silent' }).logger });
    const stopCapture2 = await capture(broker.url, wire);
    cleanups.push(stopCapture2);
    await vi.waitFor(() => expect(publisher.stats()).toMatchObject({ connected: true, pending: 0 }), { timeout: 10_000 });
    const served = [await (await fetch(`${ops.url}/metrics`)).text(), await (await fetch(`${ops.url}/health`)).text()];
    await gateway.stop();
    const atEnd = await readOutbox(outboxDir);
    await vi.waitFor(() => expect(wire.filter((m) => m.includes('"kind":"exit"')).length).toBeGreaterThanOrEqual(35), { timeout: 5_000 });

    const rawIds: { what: string; bytes: Buffer }[] = [
      ...phones.map((p) => ({ what: 'EID', bytes: Buffer.from(p.eid, 'hex') })),
      ...[...registered, ...foreign].map((b) => ({ what: 'iBeacon ID', bytes: beaconId(b) })),
      ...uids.map((u) => ({ what: 'Eddystone-UID', bytes: Buffer.from(u.namespace + u.instance, 'hex') })),
      ...[...phones, ...registered, ...foreign, ...uids, ...others].map((d) => ({ what: 'MAC', bytes: Buffer.from(d.mac.replaceAll(':', ''), 'hex') })),
      { what: 'epoch key', bytes: epochKey },
      { what: 'gateway secret', bytes: secret },
    ];
    const secrets: Secret[] = [
      ...[...phones, ...registered, ...foreign, ...uids, ...others].flatMap((d) => addressForms(d.mac)),
      ...phones.flatMap((p) => identifierForms('EID', p.eid)),
      ...[...registered, ...foreign].flatMap((b) => [...identifierForms('beacon UUID', b.uuid), ...encodingsOf('iBeacon ID', beaconId(b))]),
      ...uids.flatMap((u) => [...identifierForms('Eddystone-UID namespace', u.namespace), ...identifierForms('Eddystone-UID', u.namespace + u.instance)]),
      ...identifierForms('epoch key', epochKey.toString('hex')),
      ...identifierForms('gateway secret', secret.toString('hex')),
    ];
    const files = [...duringOutage, ...atEnd];
    const corpus = [...wire, logs.text(), ...served, ...files.map((file) => file.toString('latin1'))];

    // There was something to find: events on the wire and on disk, log lines, metrics.
    expect(wire.filter((m) => m.includes('/events ')).length).toBeGreaterThanOrEqual(70);
    expect(logs.lines().length).toBeGreaterThan(5);
    expect(served[0]).toContain('vicino_gateway_advertisements_total');
    expect(findLeaks(corpus, secrets).map((s) => s.what)).toEqual([]);
    // The files byte for byte: no identifier written raw.
    expect(rawIds.filter((id) => files.some((file) => file.includes(id.bytes))).map((id) => id.what)).toEqual([]);
    // The search finds a planted leak in each form it covers (and raw bytes in a file).
    const planted = [phones[0]!.mac.toUpperCase(), Buffer.from(phones[1]!.eid, 'hex').toString('base64'), registered[0]!.uuid];
    expect(findLeaks([`innocent ${planted.join(' ')}`], secrets).map((s) => s.what)).toEqual(expect.arrayContaining(['MAC', 'EID', 'beacon UUID']));
    // And the files searched held the events themselves (their pseudonyms), not nothing.
    const pseudonyms = wire.filter((m) => m.includes('/events ')).map((m) => (JSON.parse(m.slice(m.indexOf(' ') + 1)) as { pseudonym: string }).pseudonym);
    expect(pseudonyms.filter((p) => duringOutage.some((file) => file.includes(p))).length).toBeGreaterThanOrEqual(17);
  }, 40_000);
});
