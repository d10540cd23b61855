import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createNobleScanner, type NobleLike, type NobleScannerOptions } from '#gateway/scanner/noble-scanner.ts';
import { PROBLEM_MESSAGES } from '#gateway/scanner/noble-problems.ts';
import { ScannerUnavailableError, type RawAdvertisement, type ScannerProblem } from '#gateway/scanner/scanner.ts';
import { createSimulatedBindings, type SimulatedBindings } from '#simulator/noble-bindings.ts';
import { createLogSink } from '#test/helpers/log-sink.ts';

const require = createRequire(import.meta.url);
const withBindings = require('@abandonware/noble/with-bindings') as (bindings: SimulatedBindings) => NobleLike;

const EIR = Buffer.from('0201060303aafe0d16aafe30eca9b76a71c5f89290', 'hex');
const ADDRESS = 'c1:22:33:44:55:66';
const addressOf = (i: number): string => `c2:00:00:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

/** Real noble on the simulator's bindings, with the fake clock's Date.now as the scanner's clock. */
function simulated(options: Partial<NobleScannerOptions> = {}) {
  const bindings = createSimulatedBindings();
  const noble = withBindings(bindings);
  const log = createLogSink();
  const scanner = createNobleScanner({ noble, now: Date.now, logger: log.logger, ...options });
  const seen: RawAdvertisement[] = [];
  const report = (address = ADDRESS, rssi = -60): boolean => bindings.report({ address, addressType: 'random', eir: EIR, rssi });
  return { bindings, noble, scanner, seen, report, log, start: () => scanner.start((a) => seen.push(a)) };
}

/** Every map of noble's (and its bindings' and gap's) that mentions an address. */
function remembered(noble: NobleLike, bindings: SimulatedBindings, address: string): string[] {
  const uuid = address.replaceAll(':', '');
  const maps: Record<string, Record<string, unknown> | undefined> = {
    _peripherals: noble._peripherals, _services: noble._services, _characteristics: noble._characteristics, _descriptors: noble._descriptors,
    _discoveredPeripheralUUids: noble._discoveredPeripheralUUids, _addresses: bindings._addresses, _addresseTypes: bindings._addresseTypes,
    _connectable: bindings._connectable, scannable: bindings.scannable,
  };
  const named = Object.entries(maps).filter(([, map]) => map !== undefined && uuid in map).map(([name]) => name);
  return address in bindings._gap._discoveries ? [...named, '_gap._discoveries'] : named;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('noble scanner on real noble (simulated HCI)', () => {
  it('scans with duplicates allowed once the adapter is on, and hands over each report with no address', async () => {
    vi.useFakeTimers({ now: 1_000 });
    const s = simulated();
    const started = s.start();
    await vi.advanceTimersByTimeAsync(0);
    await started;
    expect(s.bindings.isScanning()).toBe(true);
    s.report(ADDRESS, -61);
    vi.setSystemTime(1_100);
    s.report(ADDRESS, -63);
    expect(s.seen).toEqual([
      { data: EIR, rssiDbm: -61, receivedAtMs: 1_000 },
      { data: EIR, rssiDbm: -63, receivedAtMs: 1_100 },
    ]);
    expect(JSON.stringify(s.seen)).not.toContain('c12233445566');
    expect(s.scanner.stats()).toMatchObject({ state: 'scanning', problem: null, reports: 2, trackedAddresses: 1, restarts: 0, retries: 0 });
    await s.scanner.stop();
    expect(s.bindings.isScanning()).toBe(false);
    expect(s.scanner.stats().state).toBe('stopped');
  });

  it('keeps at most maxAddresses addresses in every noble map under a flood, and the one just heard', async () => {
    const s = simulated({ maxAddresses: 10 });
    await s.start();
    let most = 0;
    for (let i = 0; i < 500; i += 1) {
      s.report(addressOf(i));
      expect(remembered(s.noble, s.bindings, addressOf(i))).toHaveLength(10);
      most = Math.max(most, Object.keys(s.noble._peripherals ?? {}).length, Object.keys(s.bindings._gap._discoveries).length, Object.keys(s.bindings._addresses).length);
    }
    expect(most).toBe(10);
    expect(remembered(s.noble, s.bindings, addressOf(0))).toEqual([]);
    // Ten addresses, each in noble's five maps, the bindings' four and the gap's one.
    expect(s.scanner.stats()).toMatchObject({ trackedAddresses: 10, nobleCacheEntries: 100, prunedAddresses: 490, nobleCacheResets: 49, reports: 500 });
    expect(s.seen).toHaveLength(500);
    await s.scanner.stop();
  });

  it('carries a connected peripheral over when noble\'s maps start over', async () => {
    const s = simulated({ maxAddresses: 10 });
    await s.start();
    s.report(addressOf(0));
    s.bindings._handles[addressOf(0).replaceAll(':', '')] = 64; // as bindings.js records a connection
    for (let i = 1; i < 30; i += 1) s.report(addressOf(i));
    expect(remembered(s.noble, s.bindings, addressOf(0))).toHaveLength(10);
    expect(remembered(s.noble, s.bindings, addressOf(1))).toEqual([]);
    await s.scanner.stop();
  });

  it('forgets addresses silent for forgetAfterMs from every noble map, and keeps those still talking', async () => {
    vi.useFakeTimers({ now: 0 });
    const s = simulated({ forgetAfterMs: 10_000, watchdogMs: 0 });
    const started = s.start();
    await vi.advanceTimersByTimeAsync(0);
    await started;
    s.report(ADDRESS);
    for (let t = 0; t < 13_000; t += 500) { // sweeps every 2.5 s; the one at 12.5 s finds ADDRESS 12.5 s silent
      s.report(addressOf(1));
      await vi.advanceTimersByTimeAsync(500);
    }
    expect(remembered(s.noble, s.bindings, ADDRESS)).toEqual([]);
    expect(remembered(s.noble, s.bindings, addressOf(1))).toHaveLength(10);
    expect(s.scanner.stats().trackedAddresses).toBe(1);
    await s.scanner.stop();
    expect(remembered(s.noble, s.bindings, addressOf(1))).toEqual([]);
    s.report(ADDRESS);
    expect(s.seen).toHaveLength(27);
  });

  it('restarts the scan when advertisements stop for watchdogMs while the adapter is on', async () => {
    vi.useFakeTimers({ now: 0 });
    const s = simulated({ watchdogMs: 30_000 });
    const started = s.start();
    await vi.advanceTimersByTimeAsync(0);
    await started;
    for (let t = 0; t < 60_000; t += 1_000) {
      s.report();
      await vi.advanceTimersByTimeAsync(1_000);
    }
    expect(s.scanner.stats().restarts).toBe(0);

    s.bindings.stall(); // the controller says it scans, and reports nothing
    expect(s.report()).toBe(false);
    await vi.advanceTimersByTimeAsync(29_000);
    expect(s.scanner.stats().restarts).toBe(0);
    await vi.advanceTimersByTimeAsync(9_000);
    expect(s.scanner.stats()).toMatchObject({ state: 'scanning', restarts: 1 });
    expect(s.report()).toBe(true);
    const warning = s.log.lines().find((line) => line.msg === 'no advertisements while the adapter is on; restarting the scan');
    expect(warning).toMatchObject({ watchdogMs: 30_000 });
    expect((warning!.silentMs as number) >= 30_000).toBe(true);
    await s.scanner.stop();
  });

  it('waits twice as long after each restart that brought nothing, as in an empty shop at night', async () => {
    vi.useFakeTimers({ now: 0 });
    const s = simulated({ watchdogMs: 30_000 });
    const started = s.start();
    await vi.advanceTimersByTimeAsync(0);
    await started;
    const restartsAt: number[] = [];
    for (let t = 0; t < 400_000; t += 2_500) {
      const before = s.scanner.stats().restarts;
      await vi.advanceTimersByTimeAsync(2_500);
      if (s.scanner.stats().restarts > before) restartsAt.push(Date.now());
    }
    expect(restartsAt).toEqual([30_000, 90_000, 210_000]);
    const watchdogLines = s.log.lines().filter((l) => l.msg === 'no advertisements while the adapter is on; restarting the scan');
    expect(watchdogLines.map((l) => l.level)).toEqual([40, 20, 20]); // one warning, then debug

    s.report(); // someone walks in: the watchdog is back to 30 s
    await vi.advanceTimersByTimeAsync(37_500);
    expect(s.scanner.stats().restarts).toBe(4);
    await s.scanner.stop();
  });

  it('waits out a powered-off adapter without the watchdog, and scans again when it is back', async () => {
    vi.useFakeTimers({ now: 0 });
    const s = simulated({ watchdogMs: 5_000, random: () => 0 });
    const started = s.start();
    await vi.advanceTimersByTimeAsync(0);
    await started;
    s.bindings.poweredOff();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.scanner.stats()).toMatchObject({ state: 'waiting', problem: 'POWERED_OFF' });
    expect(s.log.lines().find((l) => l.msg === 'Bluetooth adapter lost; scanning stopped')).toMatchObject({ problem: 'POWERED_OFF', hint: PROBLEM_MESSAGES.POWERED_OFF });
    await vi.advanceTimersByTimeAsync(120_000); // retries fail (noble refuses to scan while off); no watchdog restarts
    expect(s.scanner.stats().restarts).toBe(0);
    expect(s.scanner.stats().retries).toBeGreaterThan(1);
    s.bindings.poweredOn();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.scanner.stats()).toMatchObject({ state: 'scanning', problem: null, restarts: 1 });
    expect(s.bindings.isScanning()).toBe(true);
    expect(s.report()).toBe(true);
    await s.scanner.stop();
  });
});

/** A noble whose adapter does what a test says: its state, and whether scan commands are confirmed. */
class FakeNoble extends EventEmitter {
  state: string;
  confirmScans = true;
  scans = 0;
  _bindings = { _hci: new EventEmitter() };
  constructor(state: string) {
    super();
    this.state = state;
  }
  setState(state: string): void {
    this.state = state;
    this.emit('stateChange', state);
  }
  startScanningAsync(): Promise<void> {
    if (this.state !== 'poweredOn') return Promise.reject(new Error(`Could not start scanning, state is ${this.state} (not poweredOn)`));
    this.scans += 1;
    return this.confirmScans ? Promise.resolve() : new Promise<void>(() => undefined);
  }
  stopScanningAsync(): Promise<void> {
    return Promise.resolve();
  }
}

const errno = (code: string, message: string): NodeJS.ErrnoException => Object.assign(new Error(message), { code });

type Case = { problem: ScannerProblem; message: RegExp; setup: () => { open: () => NobleLike; fix: () => void } };

/** Each problem: how it shows up, and how the adapter recovers so the retry succeeds. */
const cases: Case[] = [
  {
    problem: 'EAFNOSUPPORT', message: /no Bluetooth HCI support in this kernel or container \(EAFNOSUPPORT\).*BlueZ.*CAP_NET_RAW/,
    setup: () => {
      let fixed = false;
      return { open: () => { if (!fixed) throw errno('EAFNOSUPPORT', 'EAFNOSUPPORT, Address family not supported by protocol'); return new FakeNoble('poweredOn') as unknown as NobleLike; }, fix: () => { fixed = true; } };
    },
  },
  {
    problem: 'EPERM', message: /\(EPERM\): run with CAP_NET_RAW\/CAP_NET_ADMIN \(`sudo setcap cap_net_raw,cap_net_admin\+eip .*\) or as root/,
    setup: () => {
      let fixed = false;
      return { open: () => { if (!fixed) throw errno('EPERM', 'EPERM, Operation not permitted'); return new FakeNoble('poweredOn') as unknown as NobleLike; }, fix: () => { fixed = true; } };
    },
  },
  {
    problem: 'NO_ADAPTER', message: /no Bluetooth adapter at the configured HCI index \(ENODEV\).*scanner\.deviceId/,
    setup: () => {
      let fixed = false;
      return { open: () => { if (!fixed) throw errno('ENODEV', 'ENODEV, No such device'); return new FakeNoble('poweredOn') as unknown as NobleLike; }, fix: () => { fixed = true; } };
    },
  },
  {
    problem: 'UNAUTHORIZED', message: /refused access \(unauthorized\): run with CAP_NET_RAW\/CAP_NET_ADMIN .* or as root/,
    setup: () => {
      const noble = new FakeNoble('unauthorized');
      return { open: () => noble as unknown as NobleLike, fix: () => { noble.state = 'poweredOn'; } };
    },
  },
  {
    problem: 'UNSUPPORTED', message: /does not support Bluetooth Low Energy \(unsupported\).*scanner\.deviceId/,
    setup: () => {
      const noble = new FakeNoble('unsupported');
      return { open: () => noble as unknown as NobleLike, fix: () => { noble.state = 'poweredOn'; } };
    },
  },
  {
    problem: 'POWERED_OFF', message: /powered off: check `rfkill list`/,
    setup: () => {
      const noble = new FakeNoble('poweredOff');
      return { open: () => noble as unknown as NobleLike, fix: () => { noble.state = 'poweredOn'; } };
    },
  },
  {
    problem: 'SCAN_TIMEOUT', message: /did not confirm the scan command in time/,
    setup: () => {
      const noble = new FakeNoble('poweredOn');
      noble.confirmScans = false;
      return { open: () => noble as unknown as NobleLike, fix: () => { noble.confirmScans = true; } };
    },
  },
];

const OPERATOR_PROBLEMS = new Set<ScannerProblem>(['EAFNOSUPPORT', 'EPERM', 'UNAUTHORIZED', 'UNSUPPORTED']);

describe('noble scanner problems', () => {
  it.each(cases)('$problem: says what to do, retries at 750, 1500, 3000, 6000, 6000 ms (backoff 1 s ×2 ≤ 8 s, jitter ½), then scans', async ({ problem, message, setup }) => {
    vi.useFakeTimers({ now: 0 });
    const { open, fix } = setup();
    const opened = vi.fn(open);
    const log = createLogSink();
    const scanner = createNobleScanner({
      noble: opened, now: Date.now, logger: log.logger, onStartupProblem: 'retry', random: () => 0.5,
      backoff: { initialDelayMs: 1_000, maxDelayMs: 8_000 }, poweredOnTimeoutMs: 100, commandTimeoutMs: 100,
    });
    expect(PROBLEM_MESSAGES[problem]).toMatch(message);
    const started = scanner.start(() => undefined);
    await vi.advanceTimersByTimeAsync(100);
    await started;
    expect(scanner.stats()).toMatchObject({ state: 'waiting', problem, retries: 1 });

    // Each failed attempt takes the poweredOn/command timeout (100 ms) unless it fails at once.
    const warnings = (): { attempt: number; retryInMs: number }[] =>
      log.lines().filter((l) => l.msg === 'cannot scan; retrying').map((l) => ({ attempt: l.attempt as number, retryInMs: l.retryInMs as number }));
    await vi.advanceTimersByTimeAsync(750 + 1_500 + 3_000 + 6_000 + 500);
    expect(warnings().slice(0, 5)).toEqual([
      { attempt: 1, retryInMs: 750 }, { attempt: 2, retryInMs: 1_500 }, { attempt: 3, retryInMs: 3_000 }, { attempt: 4, retryInMs: 6_000 }, { attempt: 5, retryInMs: 6_000 },
    ]);
    for (const line of log.lines().filter((l) => l.msg === 'cannot scan; retrying')) {
      expect(line).toMatchObject({ problem, hint: PROBLEM_MESSAGES[problem] });
    }
    fix();
    await vi.advanceTimersByTimeAsync(6_500);
    expect(scanner.stats()).toMatchObject({ state: 'scanning', problem: null, retries: 5 });
    if (['EAFNOSUPPORT', 'EPERM', 'NO_ADAPTER'].includes(problem)) expect(opened).toHaveBeenCalledTimes(6);
    else expect(opened).toHaveBeenCalledTimes(1); // an opened noble is kept, never opened twice
    await scanner.stop();
  });

  it.each(cases)('$problem at startup with onStartupProblem "fail": rejects only if an operator must act', async ({ problem, setup }) => {
    vi.useFakeTimers({ now: 0 });
    const scanner = createNobleScanner({ noble: setup().open, now: Date.now, poweredOnTimeoutMs: 100, commandTimeoutMs: 100 });
    const started = scanner.start(() => undefined);
    const outcome = started.then(() => 'started', (error: unknown) => error);
    await vi.advanceTimersByTimeAsync(100);
    const result = await outcome;
    if (OPERATOR_PROBLEMS.has(problem)) {
      expect(result).toBeInstanceOf(ScannerUnavailableError);
      expect(result).toMatchObject({ code: 'SCANNER_UNAVAILABLE', problem, message: PROBLEM_MESSAGES[problem] });
      expect(scanner.stats().state).toBe('stopped');
    } else {
      expect(result).toBe('started');
      expect(scanner.stats()).toMatchObject({ state: 'waiting', problem });
      await scanner.stop();
    }
  });

  it('logs problems without any identifier, and stops retrying when stopped', async () => {
    vi.useFakeTimers({ now: 0 });
    const noble = new FakeNoble('poweredOff');
    const log = createLogSink();
    const scanner = createNobleScanner({ noble: noble as unknown as NobleLike, now: Date.now, logger: log.logger, poweredOnTimeoutMs: 100, random: () => 0 });
    await Promise.all([scanner.start(() => undefined), vi.advanceTimersByTimeAsync(100)]);
    await scanner.stop();
    const retries = scanner.stats().retries;
    await vi.advanceTimersByTimeAsync(600_000);
    expect(scanner.stats().retries).toBe(retries);
    expect(log.text()).not.toMatch(/([0-9a-f]{2}:){5}[0-9a-f]{2}/i);
  });
});
