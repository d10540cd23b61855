import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Frame } from '#gateway/ble/frames.ts';
import { createGateway, identifierOf, type Gateway } from '#gateway/gateway.ts';
import {
  deriveEventMacKey,
  GatewayConfigMessageSchema,
  PresenceEventSchema,
  pseudonymise,
  verifyPresenceEvent,
  wrapEpochKey,
  type GatewayConfigMessage,
  type PresenceEvent,
  type Pseudonym,
} from '#gateway/protocol/index.ts';
import { createMemoryPublisher, type MemoryPublisher } from '#gateway/publisher/memory-publisher.ts';
import { ScannerUnavailableError, type RawAdvertisement, type Scanner, type ScannerStats } from '#gateway/scanner/scanner.ts';
import { encodeAppleContinuity, encodeEddystoneEid, encodeExposureNotification, encodeIBeacon } from '#simulator/radio/encoders.ts';
import { createLogSink, type LogSink } from '#test/helpers/log-sink.ts';

const STORE = 'store-1';
const GATEWAY = 'gw-entrance';
const ZONE = 'entrance';
const NOW_MS = Date.UTC(2030, 0, 7, 9, 0, 0);
const NOW_S = NOW_MS / 1000;
const SECRET = randomBytes(32);
const EPOCH_KEY = randomBytes(32);
const KEY_ID = 'k-2030-01-07';

const EID_HEX = 'a9b76a71c5f89290';
const EID = Buffer.from(EID_HEX, 'hex');
const EID_AD = encodeEddystoneEid({ eid: EID_HEX, txPowerDbm: -20 });
const IBEACON = { uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 1, minor: 2, measuredPowerDbm: -59 };
const IBEACON_AD = encodeIBeacon(IBEACON);
const IBEACON_ID = Buffer.from('e2c56db5dffb48d2b060d0f5a71096e000010002', 'hex');

/** A Scanner that the test drives: it records its lifecycle and hands over what the test emits. */
type FakeScanner = Scanner & { emit(advertisement: RawAdvertisement): void; readonly started: boolean; readonly stopped: boolean };
function createFakeScanner(): FakeScanner {
  let listener: ((advertisement: RawAdvertisement) => void) | undefined;
  let reports = 0;
  let stopped = false;
  return {
    async start(onAdvertisement) {
      listener = onAdvertisement;
    },
    async stop() {
      stopped = true;
      listener = undefined;
    },
    stats: (): ScannerStats => ({ reports, trackedAddresses: 0 }),
    emit(advertisement) {
      reports += 1;
      listener?.(advertisement);
    },
    get started() {
      return listener !== undefined;
    },
    get stopped() {
      return stopped;
    },
  };
}

const aConfig = (overrides: Partial<Record<keyof GatewayConfigMessage, unknown>> = {}): GatewayConfigMessage =>
  GatewayConfigMessageSchema.parse({
    v: 1,
    storeId: STORE,
    gatewayId: GATEWAY,
    zoneId: ZONE,
    issuedAtS: NOW_S,
    epochKeys: [{ keyId: KEY_ID, wrapped: wrapEpochKey(SECRET, GATEWAY, KEY_ID, EPOCH_KEY), notBeforeS: NOW_S - 3_600, notAfterS: NOW_S + 86_400 }],
    registeredBeacons: [],
    ...overrides,
  });

type Harness = { gateway: Gateway; publisher: MemoryPublisher; scanner: FakeScanner; logs: LogSink; published: [PresenceEvent, number][] };
function aGateway(): Harness {
  const publisher = createMemoryPublisher();
  const scanner = createFakeScanner();
  const logs = createLogSink();
  const published: [PresenceEvent, number][] = [];
  const gateway = createGateway({
    scanner, publisher, logger: logs.logger, now: () => NOW_MS,
    settings: { storeId: STORE, gatewayId: GATEWAY, zoneId: ZONE, secret: SECRET },
    onPublished: (event, causedByMs) => void published.push([event, causedByMs]),
  });
  return { gateway, publisher, scanner, logs, published };
}

/** Two strong packets 100 ms apart: enough for an enter with the default presence settings. */
const twice = (gateway: Gateway, data: Buffer, atMs = NOW_MS): void => {
  gateway.handle({ data, rssiDbm: -60, receivedAtMs: atMs });
  gateway.handle({ data, rssiDbm: -60, receivedAtMs: atMs + 100 });
};

describe('gateway pipeline', () => {
  it('drops everything as no-epoch-key and publishes nothing before any config arrives', () => {
    const { gateway, publisher } = aGateway();
    twice(gateway, EID_AD);
    twice(gateway, IBEACON_AD);
    expect(gateway.stats()).toMatchObject({ advertisements: 4, dropped: { 'no-epoch-key': 4 }, transitions: 0, tracked: 0, liveKeys: 0 });
    expect(publisher.events).toEqual([]);
  });

  it('publishes an enter for an app token under the pseudonym of its EID', () => {
    const { gateway, publisher, published } = aGateway();
    gateway.applyConfig(aConfig());
    twice(gateway, EID_AD);
    expect(publisher.events).toHaveLength(1);
    const [event] = publisher.events;
    expect(event).toMatchObject({
      v: 1, storeId: STORE, gatewayId: GATEWAY, zoneId: ZONE, keyId: KEY_ID, idKind: 'eddystone-eid',
      pseudonym: pseudonymise(EPOCH_KEY, 'eddystone-eid', EID), kind: 'enter', atS: NOW_S, dwellS: 0, proximity: 'near',
    });
    expect(published).toEqual([[event, NOW_MS + 100]]);
    expect(gateway.stats()).toMatchObject({ transitions: 1, tracked: 1, present: 1, liveKeys: 1 });
  });

  it('lets no EID leave in any encoding, in events or logs (MIN-1)', async () => {
    const { gateway, publisher, logs } = aGateway();
    await gateway.start();
    gateway.applyConfig(aConfig());
    twice(gateway, EID_AD);
    await gateway.stop();
    expect(publisher.events.map((e) => e.kind)).toEqual(['enter', 'exit']);
    const outside = `${JSON.stringify(publisher.events)}\n${logs.text()}`;
    const decimal = [...EID].join(',');
    for (const form of [EID_HEX, EID_HEX.toUpperCase(), EID.toString('base64'), EID.toString('base64url'), decimal, [...EID].join(', '), EID_AD.toString('hex'), EID_AD.toString('base64')]) {
      expect(outside).not.toContain(form);
    }
  });

  it('publishes events that PresenceEventSchema accepts, with nothing else in them', () => {
    const { gateway, publisher } = aGateway();
    gateway.applyConfig(aConfig({ registeredBeacons: [pseudonymise(EPOCH_KEY, 'ibeacon', IBEACON_ID)] }));
    twice(gateway, EID_AD);
    twice(gateway, IBEACON_AD);
    expect(publisher.events).toHaveLength(2);
    for (const event of publisher.events) expect(PresenceEventSchema.parse(JSON.parse(JSON.stringify(event)))).toEqual(event);
  });

  it('numbers its events 1, 2, 3… under one boot ID, each signed with its own secret', async () => {
    const { gateway, publisher } = aGateway();
    await gateway.start();
    gateway.applyConfig(aConfig({ registeredBeacons: [pseudonymise(EPOCH_KEY, 'ibeacon', IBEACON_ID)] }));
    twice(gateway, EID_AD);
    twice(gateway, IBEACON_AD);
    await gateway.stop();
    expect(publisher.events.map((e) => [e.kind, e.seq])).toEqual([['enter', 1], ['enter', 2], ['exit', 3], ['exit', 4]]);
    expect(new Set(publisher.events.map((e) => e.boot)).size).toBe(1);
    const key = deriveEventMacKey(SECRET, GATEWAY);
    for (const event of publisher.events) expect(verifyPresenceEvent(key, event)).toBe(true);
    expect(publisher.events.some((event) => verifyPresenceEvent(deriveEventMacKey(randomBytes(32), GATEWAY), event))).toBe(false);
  });

  it('starts again at seq 1 under a new boot ID after a restart', () => {
    const runs = [aGateway(), aGateway()].map(({ gateway, publisher }) => {
      gateway.applyConfig(aConfig());
      twice(gateway, EID_AD);
      return publisher.events;
    });
    expect(runs.map((events) => events.map((e) => e.seq))).toEqual([[1], [1]]);
    expect(runs[0]![0]!.boot).not.toBe(runs[1]![0]!.boot);
  });

  it('drops an iBeacon nobody registered as unregistered-beacon (MIN-2)', () => {
    const { gateway, publisher } = aGateway();
    gateway.applyConfig(aConfig({ registeredBeacons: [pseudonymise(EPOCH_KEY, 'ibeacon', Buffer.alloc(20))] }));
    twice(gateway, IBEACON_AD);
    expect(gateway.stats()).toMatchObject({ dropped: { 'unregistered-beacon': 2 }, tracked: 0 });
    expect(publisher.events).toEqual([]);
  });

  it('publishes an iBeacon whose pseudonym is registered', () => {
    const { gateway, publisher } = aGateway();
    const registered = pseudonymise(EPOCH_KEY, 'ibeacon', IBEACON_ID);
    gateway.applyConfig(aConfig({ registeredBeacons: [registered] }));
    twice(gateway, IBEACON_AD);
    expect(publisher.events.map((e) => [e.idKind, e.pseudonym, e.kind])).toEqual([['ibeacon', registered, 'enter']]);
    expect(gateway.stats().dropped['unregistered-beacon']).toBe(0);
  });

  it.each([
    ['Apple Continuity', encodeAppleContinuity({ subtype: 0x10, payload: '0b1c6e8b40' })],
    ['Exposure Notification', encodeExposureNotification({ rpi: '8b12077e510c4f3a9d63e2a15c08bb70', metadata: '40080000' })],
    ['an empty packet', Buffer.alloc(0)],
  ])('drops %s as not-a-beacon', (_name, data) => {
    const { gateway, publisher } = aGateway();
    gateway.applyConfig(aConfig());
    twice(gateway, data);
    expect(gateway.stats()).toMatchObject({ advertisements: 2, dropped: { 'not-a-beacon': 2 }, tracked: 0 });
    expect(publisher.events).toEqual([]);
  });

  it('counts a malformed packet and carries on', () => {
    const { gateway, publisher } = aGateway();
    gateway.applyConfig(aConfig());
    // A manufacturer-data structure that claims 5 bytes and holds 3.
    expect(() => gateway.handle({ data: Buffer.from('0201060505ff4c00', 'hex'), rssiDbm: -60, receivedAtMs: NOW_MS })).not.toThrow();
    expect(gateway.stats().dropped.malformed).toBe(1);
    twice(gateway, EID_AD, NOW_MS + 1_000);
    expect(publisher.events).toHaveLength(1);
  });

  it('never throws on arbitrary bytes, and accounts for every report', () => {
    const { gateway } = aGateway();
    gateway.applyConfig(aConfig());
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 62 }), fc.integer({ min: -127, max: 20 }), (bytes, rssiDbm) => {
        const before = gateway.stats();
        gateway.handle({ data: Buffer.from(bytes), rssiDbm, receivedAtMs: NOW_MS });
        const after = gateway.stats();
        expect(after.advertisements).toBe(before.advertisements + 1);
        const drops = (s: typeof after): number => Object.values(s.dropped).reduce((a, b) => a + b, 0);
        expect(drops(after) - drops(before)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps no key that does not unwrap with its own secret, and says so in the log without the key', () => {
    const { gateway, publisher, logs } = aGateway();
    const foreign = randomBytes(32);
    gateway.applyConfig(aConfig({ epochKeys: [{ keyId: KEY_ID, wrapped: wrapEpochKey(foreign, GATEWAY, KEY_ID, EPOCH_KEY), notBeforeS: 0, notAfterS: NOW_S + 86_400 }] }));
    expect(gateway.stats().liveKeys).toBe(0);
    twice(gateway, EID_AD);
    expect(gateway.stats().dropped['no-epoch-key']).toBe(2);
    expect(publisher.events).toEqual([]);
    expect(logs.lines()).toContainEqual(expect.objectContaining({ level: 50, keyId: KEY_ID }));
    expect(logs.text()).not.toContain(EPOCH_KEY.toString('hex'));
    expect(logs.text()).not.toContain(EPOCH_KEY.toString('base64'));
  });

  it('keeps no key wrapped for another gateway', () => {
    const { gateway } = aGateway();
    gateway.applyConfig(aConfig({ epochKeys: [{ keyId: KEY_ID, wrapped: wrapEpochKey(SECRET, 'gw-checkout', KEY_ID, EPOCH_KEY), notBeforeS: 0, notAfterS: NOW_S + 86_400 }] }));
    expect(gateway.stats().liveKeys).toBe(0);
  });

  it('takes its configuration from the publisher and closes open presences on stop', async () => {
    const { gateway, publisher, scanner } = aGateway();
    await gateway.start();
    expect(scanner.started).toBe(true);
    publisher.deliverConfig(aConfig());
    scanner.emit({ data: EID_AD, rssiDbm: -60, receivedAtMs: NOW_MS });
    scanner.emit({ data: EID_AD, rssiDbm: -60, receivedAtMs: NOW_MS + 100 });
    await gateway.stop();
    expect(scanner.stopped).toBe(true);
    expect(publisher.events.map((e) => e.kind)).toEqual(['enter', 'exit']);
    expect(gateway.stats().present).toBe(0);
  });
});

describe('gateway start with a scanner that cannot start', () => {
  it('stops its publisher again, so the broker connection does not keep a failed process alive', async () => {
    let publisherStopped = false;
    const publisher = { ...createMemoryPublisher(), stop: async () => void (publisherStopped = true) };
    const scanner = { ...createFakeScanner(), start: async () => Promise.reject(new ScannerUnavailableError('no Bluetooth HCI support in this kernel or container')) };
    const gateway = createGateway({
      scanner, publisher, logger: createLogSink().logger, now: () => NOW_MS,
      settings: { storeId: STORE, gatewayId: GATEWAY, zoneId: ZONE, secret: SECRET },
    });
    await expect(gateway.start()).rejects.toThrow(ScannerUnavailableError);
    expect(publisherStopped).toBe(true);
  });
});

describe('identifierOf', () => {
  it('uses the 8 EID bytes of an Eddystone-EID', () => {
    expect(identifierOf({ type: 'eddystone-eid', eid: EID_HEX, txPowerDbm: -20 })).toEqual({ kind: 'eddystone-eid', bytes: EID });
  });

  it('lays an iBeacon out as UUID ‖ major BE ‖ minor BE (20 bytes)', () => {
    const id = identifierOf({ type: 'ibeacon', uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 0x0102, minor: 0xfffe, measuredPowerDbm: -59 });
    expect(id?.kind).toBe('ibeacon');
    expect(id?.bytes.toString('hex')).toBe('e2c56db5dffb48d2b060d0f5a71096e00102fffe');
  });

  it('lays an AltBeacon out as ID1 ‖ ID2 BE ‖ ID3 BE (its 20-byte beacon ID)', () => {
    const id = identifierOf({ type: 'altbeacon', companyId: 0x0118, id1: '00112233-4455-6677-8899-aabbccddeeff', id2: 1, id3: 0x0203, referenceRssiDbm: -59, reserved: 0 });
    expect(id).toEqual({ kind: 'altbeacon', bytes: Buffer.from('00112233445566778899aabbccddeeff00010203', 'hex') });
  });

  it('lays an Eddystone-UID out as namespace ‖ instance (16 bytes)', () => {
    const id = identifierOf({ type: 'eddystone-uid', namespace: '00010203040506070809', instance: '0a0b0c0d0e0f', txPowerDbm: -25 });
    expect(id).toEqual({ kind: 'eddystone-uid', bytes: Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex') });
  });

  it('gives the same pseudonym to the same beacon ID only within one kind', () => {
    const bytes = identifierOf({ type: 'ibeacon', ...IBEACON })!.bytes;
    const alt = identifierOf({ type: 'altbeacon', companyId: 0x0118, id1: IBEACON.uuid, id2: 1, id3: 2, referenceRssiDbm: -59, reserved: 0 })!;
    expect(alt.bytes).toEqual(bytes);
    expect(pseudonymise(EPOCH_KEY, alt.kind, alt.bytes)).not.toBe(pseudonymise(EPOCH_KEY, 'ibeacon', bytes) as Pseudonym);
  });

  it.each<Frame>([
    { type: 'exposure-notification' },
    { type: 'apple-continuity', subtype: 0x10 },
    { type: 'apple-findmy' },
    { type: 'eddystone-url', url: 'https://example.com/', txPowerDbm: -20 },
    { type: 'microsoft-cdp' },
  ])('has no identifier for a $type frame', (frame) => {
    expect(identifierOf(frame)).toBeUndefined();
  });
});
