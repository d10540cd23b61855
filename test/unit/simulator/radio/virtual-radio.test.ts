import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRng } from '#simulator/rng.ts';
import { createSimulatedBindings } from '#simulator/noble-bindings.ts';
import { createVirtualRadio, randomAddress, runRealtime, type Advertiser, type Receiver, type VirtualRadio } from '#simulator/radio/virtual-radio.ts';
import type { RadioEnvironment } from '#simulator/radio/propagation.ts';

type Heard = { receiver: string; address: string; rssi: number; eir: string };

const IBEACON = Buffer.from('0201061aff4c000215f7826da64fa24e988024bc5b71e0893e00010002c5', 'hex');
/** A quiet room: no shadowing, fades or loss, so only geometry and the sensitivity edge matter. */
const CLEAN: Partial<RadioEnvironment> = { shadowingSigmaDb: 0, multipathBurstProbability: 0, packetLoss: 0 };

/** A receiver whose bindings are powered on and scanning, recording what it hears. */
const aReceiver = (id: string, x: number, heard: Heard[], overrides: Partial<Receiver> = {}): Receiver => {
  const bindings = createSimulatedBindings();
  bindings.init();
  bindings.startScanning([], true);
  // Each report as the controller hands it to the host (what the gateway's scanner taps).
  bindings._hci.on('leAdvertisingReport', (_status: number, _type: number, address: string, _addressType: string, eir: Buffer, rssi: number) => {
    heard.push({ receiver: id, address, rssi, eir: eir.toString('hex') });
  });
  return { id, position: { x, y: 0 }, bindings, rssiOffsetDb: 0, ...overrides };
};

const aBeacon = (overrides: Partial<Advertiser> = {}): Advertiser => ({
  id: 'beacon-1',
  position: () => ({ x: 0, y: 0 }),
  intervalMs: 100,
  txPowerAt1mDbm: -59,
  payload: () => IBEACON,
  ...overrides,
});

const radioWith = (receivers: Receiver[], seed = 1, propagation: Partial<RadioEnvironment> = CLEAN): VirtualRadio =>
  createVirtualRadio({ rng: createRng(seed), receivers, propagation });

describe('virtual radio', () => {
  it('sends about one advertising event per interval plus the random advDelay', () => {
    const emits: number[] = [];
    const radio = radioWith([]);
    radio.addAdvertiser(aBeacon({ onEmit: (nowMs) => emits.push(nowMs) }));
    radio.advance(10_000);
    // Mean spacing is 100 ms + U(0, 10) ms = 105 ms: about 95 events in 10 s.
    expect(emits.length).toBeGreaterThanOrEqual(90);
    expect(emits.length).toBeLessThanOrEqual(101);
    const gaps = emits.slice(1).map((t, i) => t - (emits[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(110);
    expect(radio.stats().emitted).toBe(emits.length);
  });

  it('without advDelay sends exactly once per interval', () => {
    let emits = 0;
    const radio = radioWith([]);
    radio.addAdvertiser(aBeacon({ jitterMs: 0, onEmit: () => { emits += 1; } }));
    radio.advance(10_000);
    expect(emits).toBe(100);
  });

  it('delivers events in time order across advertisers, and never past the time advanced to', () => {
    const times: number[] = [];
    const radio = radioWith([]);
    for (const [i, intervalMs] of [100, 152.5, 211, 1_000].entries()) {
      radio.addAdvertiser(aBeacon({ id: `b${i}`, intervalMs, onEmit: (nowMs) => times.push(nowMs) }));
    }
    radio.advance(1_234);
    radio.advance(5_000);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(Math.max(...times)).toBeLessThanOrEqual(5_000);
    expect(radio.nowMs()).toBe(5_000);
  });

  it('gives a nearer receiver a higher mean RSSI', () => {
    const heard: Heard[] = [];
    const radio = radioWith([aReceiver('near', 2, heard), aReceiver('far', 15, heard)], 1, { shadowingSigmaDb: 6, multipathBurstProbability: 0.1 });
    radio.addAdvertiser(aBeacon());
    radio.advance(30_000);
    const meanRssi = (id: string): number => {
      const rssis = heard.filter((h) => h.receiver === id).map((h) => h.rssi);
      expect(rssis.length).toBeGreaterThan(100);
      return rssis.reduce((s, v) => s + v, 0) / rssis.length;
    };
    // 10·2.5·log10(15/2) ≈ 21.9 dB apart.
    expect(meanRssi('near') - meanRssi('far')).toBeGreaterThan(18);
  });

  it('reports the exact path loss and receiver offset in a quiet room', () => {
    const heard: Heard[] = [];
    const radio = radioWith([aReceiver('r', 10, heard, { rssiOffsetDb: -3 })]);
    radio.addAdvertiser(aBeacon());
    radio.advance(1_000);
    expect(heard.length).toBeGreaterThan(0);
    expect(new Set(heard.map((h) => h.rssi))).toEqual(new Set([-59 - 25 - 3])); // n = 2.5 by default
    expect(heard.every((h) => h.eir === IBEACON.toString('hex'))).toBe(true);
  });

  it('lets a receiver out of range hear nothing, counting every packet as lost', () => {
    const heard: Heard[] = [];
    const radio = radioWith([aReceiver('far away', 1_000, heard)]);
    radio.addAdvertiser(aBeacon());
    radio.advance(2_000);
    expect(heard).toEqual([]);
    const { emitted, delivered, lost } = radio.stats();
    expect(emitted).toBeGreaterThan(0);
    expect(delivered).toBe(0);
    expect(lost).toBe(emitted);
  });

  it('drops packets in proportion to the time a receiver is not scanning', () => {
    const heard: Heard[] = [];
    const radio = radioWith([aReceiver('always', 3, heard), aReceiver('quarter', 3, heard, { dutyCycle: 0.25 })]);
    radio.addAdvertiser(aBeacon({ intervalMs: 20, jitterMs: 0 }));
    radio.advance(20_000);
    const count = (id: string) => heard.filter((h) => h.receiver === id).length;
    expect(count('always')).toBe(1_000);
    expect(count('quarter') / 1_000).toBeGreaterThan(0.2);
    expect(count('quarter') / 1_000).toBeLessThan(0.3);
    const { emitted, delivered, lost } = radio.stats();
    expect(delivered + lost).toBe(2 * emitted);
  });

  it('sends nothing while the payload says the device is not advertising', () => {
    const heard: Heard[] = [];
    const radio = radioWith([aReceiver('r', 1, heard)]);
    radio.addAdvertiser(aBeacon({ payload: (nowMs) => (nowMs >= 1_000 && nowMs < 2_000 ? IBEACON : undefined) }));
    radio.advance(5_000);
    expect(heard.length).toBeGreaterThanOrEqual(9);
    expect(heard.length).toBeLessThanOrEqual(10);
    expect(radio.stats().emitted).toBe(heard.length);
  });

  it('keeps a static random address, top bits 11', () => {
    const heard: Heard[] = [];
    const radio = radioWith([aReceiver('r', 1, heard)]);
    radio.addAdvertiser(aBeacon());
    radio.advance(60_000);
    const addresses = new Set(heard.map((h) => h.address));
    expect(addresses.size).toBe(1);
    const [address] = addresses;
    expect(address).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(parseInt(address?.slice(0, 2) ?? '', 16) >> 6).toBe(0b11);
  });

  it('rotates a resolvable private address (top bits 01) once per period', () => {
    const heard: { address: string; atMs: number }[] = [];
    const receiver = aReceiver('r', 1, []);
    let nowMs = 0;
    receiver.bindings.on('discover', (_uuid: string, address: string) => heard.push({ address, atMs: nowMs }));
    const radio = radioWith([receiver]);
    radio.addAdvertiser(aBeacon({ addressRotationMs: 1_000, onEmit: (t) => { nowMs = t; } }));
    radio.advance(3_500);
    const addressesBetween = (from: number, to: number) => new Set(heard.filter((h) => h.atMs >= from && h.atMs < to).map((h) => h.address));
    const periods = [addressesBetween(0, 1_000), addressesBetween(1_000, 2_000), addressesBetween(2_000, 3_000), addressesBetween(3_000, 3_500)];
    for (const period of periods) expect(period.size).toBe(1);
    expect(new Set(periods.map((period) => [...period][0])).size).toBe(4);
    for (const { address } of heard) expect(parseInt(address.slice(0, 2), 16) >> 6).toBe(0b01);
  });

  it('replays identical reports from the same seed, and different ones from another', () => {
    const run = (seed: number): Heard[] => {
      const heard: Heard[] = [];
      const radio = radioWith([aReceiver('a', 4, heard), aReceiver('b', 12, heard, { dutyCycle: 0.8 })], seed, {});
      for (let i = 0; i < 5; i += 1) {
        radio.addAdvertiser(aBeacon({ id: `phone-${i}`, position: () => ({ x: i, y: 1 }), addressRotationMs: 2_000, payload: (t) => Buffer.from([2, 1, 6, 3, 0xff, i, Math.floor(t / 1_000)]) }));
      }
      radio.advance(5_000);
      radio.advance(10_000);
      return heard;
    };
    const first = run(99);
    expect(first.length).toBeGreaterThan(500);
    expect(run(99)).toEqual(first);
    expect(run(100)).not.toEqual(first);
  });

  it('keeps an advertiser on the same addresses and timing when others join', () => {
    const firstEmits = (withOthers: boolean): number[] => {
      const emits: number[] = [];
      const radio = radioWith([]);
      if (withOthers) radio.addAdvertiser(aBeacon({ id: 'other' }));
      radio.addAdvertiser(aBeacon({ id: 'tracked', onEmit: (t) => emits.push(t) }));
      radio.advance(2_000);
      return emits;
    };
    expect(firstEmits(true)).toEqual(firstEmits(false));
  });

  it('stops sending for a removed advertiser', () => {
    const emits: number[] = [];
    const radio = radioWith([]);
    radio.addAdvertiser(aBeacon({ onEmit: (t) => emits.push(t) }));
    radio.addAdvertiser(aBeacon({ id: 'stays' }));
    radio.advance(1_000);
    const before = emits.length;
    expect(radio.removeAdvertiser('beacon-1')).toBe(true);
    expect(radio.removeAdvertiser('beacon-1')).toBe(false);
    expect(radio.advertiserCount()).toBe(1);
    radio.advance(5_000);
    expect(before).toBeGreaterThan(0);
    expect(emits).toHaveLength(before);
  });

  it('replaces an advertiser added again under the same id', () => {
    let oldEmits = 0;
    let newEmits = 0;
    const radio = radioWith([]);
    radio.addAdvertiser(aBeacon({ onEmit: () => { oldEmits += 1; } }));
    radio.advance(500);
    radio.addAdvertiser(aBeacon({ onEmit: () => { newEmits += 1; } }));
    const frozen = oldEmits;
    radio.advance(2_000);
    expect(radio.advertiserCount()).toBe(1);
    expect(oldEmits).toBe(frozen);
    expect(newEmits).toBeGreaterThan(10);
  });

  it('ignores time running backwards', () => {
    const radio = radioWith([]);
    radio.addAdvertiser(aBeacon());
    radio.advance(1_000);
    const { emitted } = radio.stats();
    radio.advance(500);
    expect(radio.nowMs()).toBe(1_000);
    expect(radio.stats().emitted).toBe(emitted);
  });

  it('rejects an advertiser with no interval', () => {
    expect(() => radioWith([]).addAdvertiser(aBeacon({ intervalMs: 0 }))).toThrow(RangeError);
  });
});

describe('randomAddress', () => {
  it('marks the address kind in the two most significant bits', () => {
    const rng = createRng(5);
    for (let i = 0; i < 100; i += 1) {
      expect(parseInt(randomAddress(rng, 'static').slice(0, 2), 16) >> 6).toBe(0b11);
      expect(parseInt(randomAddress(rng, 'resolvable').slice(0, 2), 16) >> 6).toBe(0b01);
    }
  });
});

describe('runRealtime', () => {
  afterEach(() => vi.useRealTimers());

  it('advances the radio to the clock on every step until stopped', () => {
    vi.useFakeTimers();
    let clockMs = 10_000;
    const radio = createVirtualRadio({ rng: createRng(1), receivers: [], startMs: clockMs });
    radio.addAdvertiser(aBeacon());
    const stop = runRealtime(radio, { now: () => clockMs, stepMs: 20 });
    clockMs = 11_000;
    vi.advanceTimersByTime(20);
    expect(radio.nowMs()).toBe(11_000);
    expect(radio.stats().emitted).toBeGreaterThanOrEqual(9);
    stop();
    clockMs = 20_000;
    vi.advanceTimersByTime(100);
    expect(radio.nowMs()).toBe(11_000);
  });
});
