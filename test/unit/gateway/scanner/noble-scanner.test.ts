import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createNobleScanner, type NobleLike } from '#gateway/scanner/noble-scanner.ts';
import { ScannerUnavailableError, type RawAdvertisement } from '#gateway/scanner/scanner.ts';

const EIR = Buffer.from('0201060303aafe0d16aafe30eca9b76a71c5f89290', 'hex');
const UUID = 'c12233445566';
const OTHER_UUID = 'd1e2f3a4b5c6';

type Maps = Record<string, unknown>;

/** Enough of a Noble instance for the scanner: state, scanning calls recorded, noble's per-address maps as plain objects. */
class FakeNoble extends EventEmitter implements NobleLike {
  state: string;
  readonly scans: { serviceUuids?: string[]; allowDuplicates?: boolean }[] = [];
  stops = 0;
  _peripherals: Maps = {};
  _services: Maps = {};
  _characteristics: Maps = {};
  _descriptors: Maps = {};
  _discoveredPeripheralUUids: Maps = {};
  _bindings = { _gap: { _discoveries: {} as Maps }, _addresses: {} as Maps, _addresseTypes: {} as Maps, _connectable: {} as Maps, scannable: {} as Maps };

  constructor(state = 'poweredOn') {
    super();
    this.state = state;
  }

  async startScanningAsync(serviceUuids?: string[], allowDuplicates?: boolean): Promise<void> {
    this.scans.push({ serviceUuids, allowDuplicates });
  }

  async stopScanningAsync(): Promise<void> {
    this.stops += 1;
  }

  /** What noble does for each report: remember the address everywhere, then emit the peripheral. */
  discover(uuid: string, rssi: number, advertisement: { eir?: Buffer; localName?: string; manufacturerData?: Buffer }): void {
    const address = uuid.match(/../g)!.join(':');
    for (const map of [this._peripherals, this._services, this._characteristics, this._descriptors, this._discoveredPeripheralUUids]) map[uuid] = {};
    for (const map of [this._bindings._addresses, this._bindings._addresseTypes, this._bindings._connectable, this._bindings.scannable]) map[uuid] = {};
    this._bindings._gap._discoveries[address] = {};
    this.emit('discover', { uuid, address, addressType: 'random', connectable: false, rssi, advertisement });
  }

  /** Every map that still mentions the address. */
  remembered(uuid: string): string[] {
    const address = uuid.match(/../g)!.join(':');
    const maps: Record<string, Maps> = {
      _peripherals: this._peripherals, _services: this._services, _characteristics: this._characteristics, _descriptors: this._descriptors,
      _discoveredPeripheralUUids: this._discoveredPeripheralUUids, _addresses: this._bindings._addresses, _addresseTypes: this._bindings._addresseTypes,
      _connectable: this._bindings._connectable, scannable: this._bindings.scannable,
    };
    const named = Object.entries(maps).filter(([, map]) => uuid in map).map(([name]) => name);
    return address in this._bindings._gap._discoveries ? [...named, '_gap._discoveries'] : named;
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('noble scanner', () => {
  it('scans with duplicates allowed once the adapter is on', async () => {
    const noble = new FakeNoble();
    const scanner = createNobleScanner({ noble, now: () => 0 });
    await scanner.start(() => {});
    expect(noble.scans).toEqual([{ serviceUuids: [], allowDuplicates: true }]);
    await scanner.stop();
    expect(noble.stops).toBe(1);
  });

  it('waits for the adapter to power on before scanning', async () => {
    const noble = new FakeNoble('unknown');
    const scanner = createNobleScanner({ noble, now: () => 0 });
    const started = scanner.start(() => {});
    await Promise.resolve();
    expect(noble.scans).toEqual([]);
    noble.state = 'poweredOn';
    noble.emit('stateChange', 'poweredOn');
    await started;
    expect(noble.scans).toHaveLength(1);
    await scanner.stop();
  });

  it('hands over each report\'s own bytes and RSSI, with no address', async () => {
    const noble = new FakeNoble();
    let nowMs = 1_000;
    const seen: RawAdvertisement[] = [];
    const scanner = createNobleScanner({ noble, now: () => nowMs });
    await scanner.start((advertisement) => seen.push(advertisement));
    noble.discover(UUID, -61, { eir: EIR, localName: 'Phone', manufacturerData: Buffer.from('4c00', 'hex') });
    nowMs = 1_100;
    noble.discover(UUID, -63, { eir: EIR });
    expect(seen).toEqual([
      { data: EIR, rssiDbm: -61, receivedAtMs: 1_000 },
      { data: EIR, rssiDbm: -63, receivedAtMs: 1_100 },
    ]);
    expect(Object.keys(seen[0]!).sort()).toEqual(['data', 'receivedAtMs', 'rssiDbm']);
    expect(JSON.stringify(seen)).not.toContain(UUID);
    expect(scanner.stats()).toEqual({ reports: 2, trackedAddresses: 1 });
    await scanner.stop();
  });

  it('ignores a report without its own bytes (no eir), never decoding noble\'s merged fields', async () => {
    const noble = new FakeNoble();
    const seen: RawAdvertisement[] = [];
    const scanner = createNobleScanner({ noble, now: () => 0 });
    await scanner.start((advertisement) => seen.push(advertisement));
    noble.discover(UUID, -61, { localName: 'Phone', manufacturerData: Buffer.from('4c000215', 'hex') });
    expect(seen).toEqual([]);
    expect(scanner.stats().reports).toBe(0);
    await scanner.stop();
  });

  it('forgets addresses not heard for forgetAfterMs from every noble map (noble/noble#636)', async () => {
    vi.useFakeTimers();
    const noble = new FakeNoble();
    let nowMs = 0;
    const scanner = createNobleScanner({ noble, now: () => nowMs, forgetAfterMs: 10_000 });
    await scanner.start(() => {});
    noble.discover(UUID, -61, { eir: EIR });
    nowMs = 8_000;
    noble.discover(OTHER_UUID, -70, { eir: EIR });
    expect(noble.remembered(UUID)).toHaveLength(10);

    nowMs = 10_000;
    vi.advanceTimersByTime(2_500); // one sweep: nothing is older than 10 s yet
    expect(noble.remembered(UUID)).toHaveLength(10);

    nowMs = 12_000;
    vi.advanceTimersByTime(2_500);
    expect(noble.remembered(UUID)).toEqual([]);
    expect(noble.remembered(OTHER_UUID)).toHaveLength(10);
    expect(scanner.stats().trackedAddresses).toBe(1);

    nowMs = 20_000;
    vi.advanceTimersByTime(2_500);
    expect(noble.remembered(OTHER_UUID)).toEqual([]);
    expect(scanner.stats().trackedAddresses).toBe(0);
    await scanner.stop();
  });

  it('remembers at most maxAddresses under a flood, forgetting the least recently heard first', async () => {
    const noble = new FakeNoble();
    const scanner = createNobleScanner({ noble, now: () => 1_000, maxAddresses: 3 });
    await scanner.start(() => undefined);
    const uuids = ['a10000000001', 'a10000000002', 'a10000000003', 'a10000000004', 'a10000000005'];
    noble.discover(uuids[0]!, -60, { eir: EIR });
    noble.discover(uuids[1]!, -60, { eir: EIR });
    noble.discover(uuids[2]!, -60, { eir: EIR });
    noble.discover(uuids[0]!, -60, { eir: EIR }); // heard again: now the most recent
    noble.discover(uuids[3]!, -60, { eir: EIR });
    noble.discover(uuids[4]!, -60, { eir: EIR });

    expect(Object.keys(noble._peripherals).sort()).toEqual([uuids[0], uuids[3], uuids[4]].sort());
    expect(noble.remembered(uuids[1]!)).toEqual([]);
    expect(noble.remembered(uuids[2]!)).toEqual([]);
    expect(scanner.stats().trackedAddresses).toBe(3);
    await scanner.stop();
  });

  it('keeps an address that keeps reporting', async () => {
    vi.useFakeTimers();
    const noble = new FakeNoble();
    let nowMs = 0;
    const scanner = createNobleScanner({ noble, now: () => nowMs, forgetAfterMs: 4_000 });
    await scanner.start(() => {});
    for (; nowMs <= 20_000; nowMs += 500) {
      noble.discover(UUID, -61, { eir: EIR });
      vi.advanceTimersByTime(500);
    }
    expect(noble.remembered(UUID)).toHaveLength(10);
    await scanner.stop();
  });

  it('forgets every address it saw when it stops, and stops listening', async () => {
    const noble = new FakeNoble();
    const seen: RawAdvertisement[] = [];
    const scanner = createNobleScanner({ noble, now: () => 0 });
    await scanner.start((advertisement) => seen.push(advertisement));
    noble.discover(UUID, -61, { eir: EIR });
    await scanner.stop();
    expect(noble.remembered(UUID)).toEqual([]);
    noble.discover(OTHER_UUID, -61, { eir: EIR });
    expect(seen).toHaveLength(1);
  });

  it.each(['unauthorized', 'unsupported'])('rejects with ScannerUnavailableError naming CAP_NET_RAW when the adapter is %s', async (state) => {
    const noble = new FakeNoble('unknown');
    const scanner = createNobleScanner({ noble, now: () => 0 });
    const started = scanner.start(() => {});
    noble.state = state;
    noble.emit('stateChange', state);
    await expect(started).rejects.toBeInstanceOf(ScannerUnavailableError);
    await expect(started).rejects.toThrow(/CAP_NET_RAW/);
    await expect(started).rejects.toMatchObject({ code: 'SCANNER_UNAVAILABLE' });
    expect(noble.scans).toEqual([]);
    expect(noble.listenerCount('stateChange')).toBe(0);
  });

  it('rejects when the adapter does not power on in time', async () => {
    vi.useFakeTimers();
    const noble = new FakeNoble('poweredOff');
    const scanner = createNobleScanner({ noble, now: () => 0, poweredOnTimeoutMs: 5_000 });
    const started = scanner.start(() => {});
    const outcome = expect(started).rejects.toThrow(/did not power on within 5000 ms \(state "poweredOff"\)/);
    await vi.advanceTimersByTimeAsync(5_000);
    await outcome;
    expect(noble.scans).toEqual([]);
  });
});
