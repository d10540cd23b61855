import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '#gateway/config.ts';
import { createGateway } from '#gateway/gateway.ts';
import { PROTOCOL_VERSION, wrapEpochKey } from '#gateway/protocol/index.ts';
import { createMemoryPublisher } from '#gateway/publisher/memory-publisher.ts';
import { createReplayScanner, type ReplaySpeed } from '#gateway/scanner/replay-scanner.ts';
import type { RawAdvertisement } from '#gateway/scanner/scanner.ts';
import { ScannerUnavailableError } from '#gateway/scanner/scanner.ts';
import { createAppIdentity } from '#simulator/app/app-identity.ts';
import { createBtsnoopWriter, type BtsnoopReport } from '#simulator/radio/btsnoop-writer.ts';
import { encodeAppleContinuity, encodeIBeacon } from '#simulator/radio/encoders.ts';

const T0 = Date.UTC(2026, 10, 30, 9);
const IBEACON = encodeIBeacon({ uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 1, minor: 2, measuredPowerDbm: -59 });
const PHONE = encodeAppleContinuity({ subtype: 0x10, payload: '0b1c6e8b40' });

function capture(reports: Omit<BtsnoopReport, 'address' | 'addressType'>[]): Buffer {
  const chunks: Uint8Array[] = [];
  const writer = createBtsnoopWriter((chunk) => chunks.push(chunk));
  reports.forEach((r, i) => writer.advertisingReport({ address: `c0:00:00:00:00:${i.toString(16).padStart(2, '0')}`, addressType: 'random', ...r }));
  return Buffer.concat(chunks);
}

async function replay(bytes: Uint8Array, speed: ReplaySpeed): Promise<{ heard: RawAdvertisement[]; summary: Awaited<ReturnType<ReturnType<typeof createReplayScanner>['finished']>> }> {
  const scanner = createReplayScanner({ file: 'capture.btsnoop', speed, now: Date.now, read: () => bytes });
  const heard: RawAdvertisement[] = [];
  await scanner.start((ad) => heard.push(ad));
  const summary = await scanner.finished();
  expect(scanner.stats().reports).toBe(heard.length);
  return { heard, summary };
}

describe('the replay scanner', () => {
  it('replays every report as fast as possible, in order, with its own bytes and RSSI and no address', async () => {
    const bytes = capture([
      { data: IBEACON, rssiDbm: -61, atMs: T0 },
      { data: PHONE, rssiDbm: null, atMs: T0 + 10 },
      { data: PHONE, rssiDbm: -70, atMs: T0 + 5_000 },
    ]);
    const started = Date.now();
    const { heard, summary } = await replay(bytes, 'max');
    expect(Date.now() - started).toBeLessThan(1_000); // 5 s of capture, not waited for
    expect(heard.map((ad) => ({ data: ad.data.toString('hex'), rssiDbm: ad.rssiDbm, keys: Object.keys(ad).sort() }))).toEqual([
      { data: IBEACON.toString('hex'), rssiDbm: -61, keys: ['data', 'receivedAtMs', 'rssiDbm'] },
      { data: PHONE.toString('hex'), rssiDbm: -70, keys: ['data', 'receivedAtMs', 'rssiDbm'] },
    ]);
    expect(summary).toEqual({ replayed: 2, withoutRssi: 1, captureErrors: 0, stopped: false });
  });

  it('keeps the recorded spacing at speed 1, and divides it at speed 4', async () => {
    const bytes = capture([0, 120, 320].map((offset) => ({ data: IBEACON, rssiDbm: -60, atMs: T0 + offset })));
    const atOne = (await replay(bytes, 1)).heard.map((ad) => ad.receivedAtMs);
    // Timers never fire early, but Date.now() counts whole milliseconds: 1 ms of slack.
    expect(atOne[1]! - atOne[0]!).toBeGreaterThanOrEqual(119);
    expect(atOne[2]! - atOne[0]!).toBeGreaterThanOrEqual(319);
    expect(atOne[2]! - atOne[0]!).toBeLessThan(2_000);
    const atFour = (await replay(bytes, 4)).heard.map((ad) => ad.receivedAtMs);
    expect(atFour[2]! - atFour[0]!).toBeGreaterThanOrEqual(79);
    expect(atFour[2]! - atFour[0]!).toBeLessThan(atOne[2]! - atOne[0]!);
  });

  it('stops mid-replay when told to', async () => {
    const scanner = createReplayScanner({ file: 'x', speed: 1, now: Date.now, read: () => capture([{ data: IBEACON, rssiDbm: -60, atMs: T0 }, { data: IBEACON, rssiDbm: -60, atMs: T0 + 60_000 }]) });
    const heard: RawAdvertisement[] = [];
    await scanner.start((ad) => heard.push(ad));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await scanner.stop();
    expect(await scanner.finished()).toMatchObject({ replayed: 1, stopped: true });
    expect(heard).toHaveLength(1);
  });

  it('refuses, when created, a file that is not a capture (naming the byte offset) and a file it cannot read', async () => {
    const notCapture = () => createReplayScanner({ file: 'notes.txt', now: Date.now, read: () => Buffer.from('hello world, no capture') });
    expect(notCapture).toThrow(ScannerUnavailableError);
    expect(notCapture).toThrow(/notes\.txt: byte offset 0: btsnoop: not a btsnoop file/);
    const dir = await mkdtemp(join(tmpdir(), 'vicino-replay-'));
    try {
      expect(() => createReplayScanner({ file: join(dir, 'missing.btsnoop'), now: Date.now })).toThrow(/cannot read the replay capture .*missing\.btsnoop: ENOENT/);
      const file = join(dir, 'capture.btsnoop');
      await writeFile(file, capture([{ data: IBEACON, rssiDbm: -60, atMs: T0 }]));
      const fromDisk = createReplayScanner({ file, speed: 'max', now: Date.now });
      await fromDisk.start(() => undefined);
      expect(await fromDisk.finished()).toMatchObject({ replayed: 1 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(() => createReplayScanner({ file: 'x', speed: -1, now: Date.now, read: () => capture([]) })).toThrow(RangeError);
  });

  it('drives the real gateway: an app token in the capture is published as an enter, the foreign phone dropped', async () => {
    const secret = Buffer.alloc(32, 7);
    const token = createAppIdentity().bind(createAppIdentity().publicKeyHex, 10);
    const now = Date.now();
    const reports = Array.from({ length: 6 }, (_, i) => ({ data: i % 2 === 0 ? token.advertisementAt(now) : PHONE, rssiDbm: -58, atMs: T0 + i * 100 }));
    const scanner = createReplayScanner({ file: 'x', speed: 'max', now: Date.now, read: () => capture(reports) });
    const publisher = createMemoryPublisher();
    const gateway = createGateway({ scanner, publisher, logger: pino({ level: 'silent' }), now: Date.now, settings: { storeId: 's', gatewayId: 'gw', zoneId: 'z', secret } });
    gateway.applyConfig({
      v: PROTOCOL_VERSION, storeId: 's', gatewayId: 'gw', zoneId: 'z', issuedAtS: 0, registeredBeacons: [],
      epochKeys: [{ keyId: 'k1', wrapped: wrapEpochKey(secret, 'gw', 'k1', Buffer.alloc(32, 9)), notBeforeS: 0, notAfterS: 4_000_000_000 }],
    });
    await gateway.start();
    await scanner.finished();
    await gateway.stop();
    expect(gateway.stats()).toMatchObject({ advertisements: 6, dropped: { 'not-a-beacon': 3 } });
    expect(publisher.events.map((e) => [e.kind, e.idKind])).toEqual([['enter', 'eddystone-eid'], ['exit', 'eddystone-eid']]);
  });
});

describe('the gateway config for a replay scanner', () => {
  const file = (scanner?: unknown) => JSON.stringify({
    storeId: 'store-1', gatewayId: 'gw-1', zoneId: 'entrance', secret: '00112233445566778899aabbccddeeff', mqtt: { url: 'mqtt://127.0.0.1:1883' }, scanner,
  });

  it('accepts {kind: "replay", file, speed}, with speed 1 by default and "max" or 0 for as fast as possible', () => {
    expect(loadGatewayConfig({}, file({ kind: 'replay', file: 'store.btsnoop' }))).toMatchObject({ ok: true, config: { scanner: { kind: 'replay', file: 'store.btsnoop', speed: 1 } } });
    expect(loadGatewayConfig({}, file({ kind: 'replay', file: 'store.btsnoop', speed: 'max' }))).toMatchObject({ ok: true, config: { scanner: { speed: 'max' } } });
  });

  it('keeps noble on HCI the default, with or without a kind', () => {
    expect(loadGatewayConfig({}, file())).toMatchObject({ ok: true, config: { scanner: { kind: 'noble-hci', extended: false } } });
    expect(loadGatewayConfig({}, file({ deviceId: 1 }))).toMatchObject({ ok: true, config: { scanner: { kind: 'noble-hci', deviceId: 1 } } });
  });

  it('names the field at fault', () => {
    const problems = (scanner: unknown) => { const r = loadGatewayConfig({}, file(scanner), 'gw.json'); return r.ok ? [] : r.problems; };
    expect(problems({ kind: 'replay' })).toEqual([expect.stringMatching(/^gw\.json: scanner\.file: /)]);
    expect(problems({ kind: 'replay', file: 'x', speed: -2 })).toEqual([expect.stringMatching(/^gw\.json: scanner\.speed: /)]);
    expect(problems({ kind: 'replay', file: 'x', deviceId: 1 })).toEqual([expect.stringMatching(/^gw\.json: scanner: .*deviceId/)]);
    expect(problems({ kind: 'bluetooth' })).toEqual([expect.stringMatching(/^gw\.json: scanner\.kind: /)]);
  });
});
