import { createRequire } from 'node:module';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createSimulatedBindings, type SimulatedBindings } from '#simulator/noble-bindings.ts';
import { createNobleScanner, type NobleLike } from '#gateway/scanner/noble-scanner.ts';
import type { RawAdvertisement } from '#gateway/scanner/scanner.ts';

const require = createRequire(import.meta.url);
const withBindings = require('@abandonware/noble/with-bindings') as (bindings: SimulatedBindings) => NobleLike & { address: string };

type Peripheral = { uuid: string; address: string; addressType: string; connectable: boolean; rssi: number; advertisement: { manufacturerData?: Buffer; localName?: string } };

// iBeacon: flags, then 1A FF 4C 00 02 15 <uuid 16> <major> <minor> <measured power C5 = −59 dBm>.
const IBEACON = Buffer.from('0201061aff4c000215f7826da64fa24e988024bc5b71e0893e00010002c5', 'hex');
// Eddystone-UID with a local name and no manufacturer data.
const EDDYSTONE_UID = Buffer.from('0201060303aafe1716aafe00e700010203040506070809aabbccddeeff0000' + '05095669636e', 'hex');
const ADDRESS = 'c1:22:33:44:55:66';

const poweredOnNoble = async (bindings = createSimulatedBindings()) => {
  const noble = withBindings(bindings);
  const [state] = await once(noble, 'stateChange');
  return { noble, bindings, state };
};
const nextDiscover = (noble: NobleLike): Promise<Peripheral> => once(noble, 'discover').then(([p]) => p as Peripheral);

describe('simulated noble bindings under a real noble', () => {
  it('powers on and reports the adapter address', async () => {
    const { noble, state } = await poweredOnNoble(createSimulatedBindings({ address: '00:00:5e:00:53:aa' }));
    expect(state).toBe('poweredOn');
    expect(noble.state).toBe('poweredOn');
    expect(noble.address).toBe('00:00:5e:00:53:aa');
  });

  it('starts scanning with duplicates allowed, so the controller filters nothing', async () => {
    const { noble, bindings } = await poweredOnNoble();
    const scanStart = once(noble, 'scanStart');
    await noble.startScanningAsync([], true);
    expect(await scanStart).toEqual([false]);
    expect(bindings.isScanning()).toBe(true);
  });

  it("merges each address's advertisement in noble's own gap, as on hardware", async () => {
    const { noble, bindings } = await poweredOnNoble();
    await noble.startScanningAsync([], true);

    const first = nextDiscover(noble);
    expect(bindings.report({ address: ADDRESS, addressType: 'random', eir: IBEACON, rssi: -61 })).toBe(true);
    const p1 = await first;
    expect(p1.uuid).toBe('c12233445566');
    expect(p1.address).toBe(ADDRESS);
    expect(p1.addressType).toBe('random');
    expect(p1.connectable).toBe(false);
    expect(p1.rssi).toBe(-61);
    expect(p1.advertisement.manufacturerData?.toString('hex')).toBe('4c000215f7826da64fa24e988024bc5b71e0893e00010002c5');

    const second = nextDiscover(noble);
    bindings.report({ address: ADDRESS, addressType: 'random', eir: EDDYSTONE_UID, rssi: -70 });
    const p2 = await second;
    expect(p2.rssi).toBe(-70);
    expect(p2.advertisement.localName).toBe('Vicn');
    // noble's merge keeps the first packet's iBeacon in the same peripheral: why the gateway never reads it.
    expect(p2.advertisement.manufacturerData?.toString('hex')).toBe('4c000215f7826da64fa24e988024bc5b71e0893e00010002c5');
  });

  it('keeps the per-address state noble keeps on hardware, in the same places', async () => {
    const { noble, bindings } = await poweredOnNoble();
    await noble.startScanningAsync([], true);
    bindings.report({ address: ADDRESS, addressType: 'random', eir: IBEACON, rssi: -61 });
    expect(Object.keys(bindings._gap._discoveries)).toEqual([ADDRESS]);
    expect(bindings._addresses).toEqual({ c12233445566: ADDRESS });
    expect(bindings._addresseTypes).toEqual({ c12233445566: 'random' });
    expect(Object.keys(noble._peripherals ?? {})).toEqual(['c12233445566']);
  });

  it('emits the raw report events of hci.js for the tap, legacy and extended', async () => {
    const { noble, bindings } = await poweredOnNoble();
    await noble.startScanningAsync([], true);
    const legacy: unknown[][] = [];
    const extended: unknown[][] = [];
    bindings._hci.on('leAdvertisingReport', (...args: unknown[]) => legacy.push(args));
    bindings._hci.on('leExtendedAdvertisingReport', (...args: unknown[]) => extended.push(args));
    bindings.report({ address: ADDRESS, addressType: 'random', eir: IBEACON, rssi: -61, connectable: true });
    bindings.report({ address: ADDRESS, addressType: 'public', eir: EDDYSTONE_UID, rssi: -62, extended: true });
    expect(legacy).toEqual([[0, 0x00, ADDRESS, 'random', IBEACON, -61]]);
    expect(extended).toHaveLength(1);
    const [status, type, address, addressType, txPower, rssi, data] = extended[0]!;
    expect([status, type, address, addressType, txPower, rssi]).toEqual([0, 0b0010000, ADDRESS, 'public', 0x7f, -62]);
    expect(data).toEqual(EDDYSTONE_UID);
    // As hci.js slices it: a view into the event, just after the report's Data_Length octet.
    const view = data as Buffer;
    expect(new Uint8Array(view.buffer, view.byteOffset - 1, 1)[0]).toBe(EDDYSTONE_UID.length);
  });

  it('hands the gateway scanner each packet exactly as sent, including those noble keeps to itself', async () => {
    const bindings = createSimulatedBindings();
    const noble = withBindings(bindings);
    let nowMs = 1_000;
    const scanner = createNobleScanner({ noble, now: () => nowMs });
    const seen: RawAdvertisement[] = [];
    const discovered: string[] = [];
    noble.on('discover', () => discovered.push('discover'));
    await scanner.start((advertisement) => seen.push(advertisement));
    bindings.report({ address: ADDRESS, addressType: 'random', eir: IBEACON, rssi: -60 });
    nowMs = 1_100;
    bindings.report({ address: ADDRESS, addressType: 'random', eir: EDDYSTONE_UID, rssi: -65, extended: true });
    // A connectable beacon: noble's gap withholds its first ADV_IND until the scan response.
    const SCAN_RESPONSE = Buffer.from('05095669636e', 'hex');
    nowMs = 1_200;
    expect(bindings.report({ address: 'c1:22:33:44:55:77', addressType: 'random', eir: IBEACON, rssi: -66, connectable: true })).toBe(false);
    expect(bindings.report({ address: 'c1:22:33:44:55:77', addressType: 'random', eir: SCAN_RESPONSE, rssi: -67, scanResponse: true })).toBe(true);
    // ...and after that scan response, every ADV_IND of that address: noble reports none of them.
    expect(bindings.report({ address: 'c1:22:33:44:55:77', addressType: 'random', eir: IBEACON, rssi: -68, connectable: true })).toBe(false);
    expect(seen).toEqual([
      { data: IBEACON, rssiDbm: -60, receivedAtMs: 1_000 },
      { data: EDDYSTONE_UID, rssiDbm: -65, receivedAtMs: 1_100 },
      { data: IBEACON, rssiDbm: -66, receivedAtMs: 1_200 },
      { data: SCAN_RESPONSE, rssiDbm: -67, receivedAtMs: 1_200 },
      { data: IBEACON, rssiDbm: -68, receivedAtMs: 1_200 },
    ]);
    expect(discovered).toHaveLength(3);
    await scanner.stop();
    expect(bindings.isScanning()).toBe(false);
  });

  it('tells noble nothing while it is not scanning', async () => {
    const { noble, bindings } = await poweredOnNoble();
    let discovered = 0;
    noble.on('discover', () => { discovered += 1; });
    expect(bindings.report({ address: ADDRESS, addressType: 'random', eir: IBEACON, rssi: -60 })).toBe(false);
    await noble.startScanningAsync([], true);
    await noble.stopScanningAsync();
    expect(bindings.report({ address: ADDRESS, addressType: 'random', eir: IBEACON, rssi: -60 })).toBe(false);
    expect(discovered).toBe(0);
  });

  it('reports an address once per scan when duplicates are filtered', async () => {
    const { noble, bindings } = await poweredOnNoble();
    await noble.startScanningAsync([], false);
    const report = { address: ADDRESS, addressType: 'random', eir: IBEACON, rssi: -60 } as const;
    expect(bindings.report(report)).toBe(true);
    expect(bindings.report(report)).toBe(false);
    expect(bindings.report({ ...report, address: 'c1:22:33:44:55:67' })).toBe(true);
  });

  it('passes only advertisements that mention a requested service', async () => {
    const { noble, bindings } = await poweredOnNoble();
    await noble.startScanningAsync(['feaa'], true);
    expect(bindings.report({ address: ADDRESS, addressType: 'random', eir: IBEACON, rssi: -60 })).toBe(false);
    expect(bindings.report({ address: ADDRESS, addressType: 'random', eir: EDDYSTONE_UID, rssi: -60 })).toBe(true);
  });

  it('stops hearing anything when the adapter goes away, and noble sees it power off', async () => {
    const { noble, bindings } = await poweredOnNoble();
    await noble.startScanningAsync([], true);
    const stateChange = once(noble, 'stateChange');
    bindings.poweredOff();
    expect(await stateChange).toEqual(['poweredOff']);
    expect(noble.state).toBe('poweredOff');
    expect(bindings.report({ address: ADDRESS, addressType: 'random', eir: IBEACON, rssi: -60 })).toBe(false);
    await expect(noble.startScanningAsync([], true)).rejects.toThrow(/poweredOff/);

    const back = once(noble, 'stateChange');
    bindings.poweredOn();
    expect(await back).toEqual(['poweredOn']);
    await noble.startScanningAsync([], true);
    expect(bindings.isScanning()).toBe(true);
  });

  it('refuses connections, so a caller does not wait forever', async () => {
    const { noble, bindings } = await poweredOnNoble();
    await noble.startScanningAsync([], true);
    const discovered = nextDiscover(noble);
    bindings.report({ address: ADDRESS, addressType: 'random', eir: IBEACON, rssi: -60 });
    const peripheral = (await discovered) as unknown as { connectAsync(): Promise<void> };
    await expect(peripheral.connectAsync()).rejects.toThrow(/not connectable/);
  });

  it('answers GATT operations with a warning instead of throwing', async () => {
    const bindings = createSimulatedBindings();
    const warning = once(bindings, 'warning');
    bindings.discoverServices('c12233445566');
    expect(String((await warning)[0])).toMatch(/discoverServices c12233445566: .*not connectable/);
  });
});
