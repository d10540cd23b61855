import type { EventEmitter } from 'node:events';
import { ScannerUnavailableError, type RawAdvertisement, type Scanner } from './scanner.ts';

// The Scanner on @abandonware/noble. It works with any noble instance — the real HCI bindings
// (noble-hci.ts) or simulated ones through noble's bindings seam (`@abandonware/noble/with-bindings`).
//
// noble parses and *merges* advertisement fields per address, so stale manufacturer data survives
// into later packets and only the last 0xFF block is kept. We never decode noble's merged fields:
// bindings put the report's own bytes in `advertisement.eir`, and the gateway decodes those.
// noble also keeps per-address state forever (noble/noble#636); `sweep` bounds it.

/** The part of noble's Peripheral the scanner reads. */
type NoblePeripheral = { uuid: string; rssi: number; advertisement: { eir?: Buffer } };

/** The part of a Noble instance the scanner uses (noble's own typings do not expose the internals we bound). */
export type NobleLike = EventEmitter & {
  state: string;
  startScanningAsync(serviceUuids?: string[], allowDuplicates?: boolean): Promise<void>;
  stopScanningAsync(): Promise<void>;
  _peripherals?: Record<string, unknown>;
  _services?: Record<string, unknown>;
  _characteristics?: Record<string, unknown>;
  _descriptors?: Record<string, unknown>;
  _discoveredPeripheralUUids?: Record<string, unknown>;
  _bindings?: { _gap?: { _discoveries?: Record<string, unknown> }; _addresses?: Record<string, unknown>; _addresseTypes?: Record<string, unknown>; _connectable?: Record<string, unknown>; scannable?: Record<string, unknown> };
};

export type NobleScannerOptions = {
  noble: NobleLike;
  now: () => number;
  /** Forget an address not heard for this long (ms). */
  forgetAfterMs?: number;
  /** Never remember more addresses than this: under a flood (BLE spam, rotating MACs) the least recently heard go first. */
  maxAddresses?: number;
  /** How long to wait for the adapter to power on. */
  poweredOnTimeoutMs?: number;
};

export function createNobleScanner(options: NobleScannerOptions): Scanner {
  const { noble, now } = options;
  const forgetAfterMs = options.forgetAfterMs ?? 60_000;
  const maxAddresses = options.maxAddresses ?? 5_000;
  const lastSeen = new Map<string, number>();
  let reports = 0;
  let sweepTimer: NodeJS.Timeout | undefined;
  let onDiscover: ((peripheral: NoblePeripheral) => void) | undefined;

  const forget = (uuid: string): void => {
    lastSeen.delete(uuid);
    for (const map of [noble._peripherals, noble._services, noble._characteristics, noble._descriptors, noble._discoveredPeripheralUUids]) {
      if (map) delete map[uuid];
    }
    const bindings = noble._bindings;
    if (bindings) {
      for (const map of [bindings._addresses, bindings._addresseTypes, bindings._connectable, bindings.scannable]) {
        if (map) delete map[uuid];
      }
      // The HCI gap keys its cache by colon-separated address.
      const discoveries = bindings._gap?._discoveries;
      if (discoveries) delete discoveries[uuid.match(/../g)?.join(':') ?? uuid];
    }
  };

  const sweep = (): void => {
    const cutoff = now() - forgetAfterMs;
    for (const [uuid, seenMs] of lastSeen) if (seenMs < cutoff) forget(uuid);
  };

  const waitForPoweredOn = (): Promise<void> =>
    new Promise((resolve, reject) => {
      if (noble.state === 'poweredOn') return resolve();
      const timer = setTimeout(() => {
        noble.off('stateChange', onState);
        reject(new ScannerUnavailableError(`Bluetooth adapter did not power on within ${options.poweredOnTimeoutMs ?? 10_000} ms (state "${noble.state}")`));
      }, options.poweredOnTimeoutMs ?? 10_000);
      const onState = (state: string): void => {
        if (state === 'poweredOn') {
          clearTimeout(timer);
          noble.off('stateChange', onState);
          resolve();
        } else if (state === 'unauthorized' || state === 'unsupported') {
          clearTimeout(timer);
          noble.off('stateChange', onState);
          reject(new ScannerUnavailableError(`Bluetooth adapter is ${state}: the gateway needs a BlueZ adapter and CAP_NET_RAW`));
        }
      };
      noble.on('stateChange', onState);
    });

  return {
    async start(onAdvertisement: (advertisement: RawAdvertisement) => void) {
      onDiscover = (peripheral) => {
        const data = peripheral.advertisement.eir;
        if (data === undefined) return;
        reports += 1;
        const receivedAtMs = now();
        lastSeen.delete(peripheral.uuid);
        lastSeen.set(peripheral.uuid, receivedAtMs);
        if (lastSeen.size > maxAddresses) forget(lastSeen.keys().next().value!);
        onAdvertisement({ data, rssiDbm: peripheral.rssi, receivedAtMs });
      };
      noble.on('discover', onDiscover);
      try {
        await waitForPoweredOn();
      } catch (error) {
        noble.off('discover', onDiscover);
        throw error;
      }
      // allowDuplicates: every report, not one per address — presence needs the stream.
      await noble.startScanningAsync([], true);
      sweepTimer = setInterval(sweep, Math.max(1_000, forgetAfterMs / 4));
      sweepTimer.unref();
    },
    async stop() {
      if (sweepTimer) clearInterval(sweepTimer);
      if (onDiscover) noble.off('discover', onDiscover);
      if (noble.state === 'poweredOn') await noble.stopScanningAsync().catch(() => undefined);
      for (const uuid of [...lastSeen.keys()]) forget(uuid);
    },
    stats: () => ({ reports, trackedAddresses: Object.keys(noble._peripherals ?? {}).length }),
  };
}
