import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';
import type { NobleLike } from './noble-scanner.ts';
import { problemOfError, unavailable } from './noble-problems.ts';

// A noble instance on the Linux HCI socket bindings (lib/hci-socket/bindings.js), on the adapter at
// HCI index `deviceId` (hci0 = 0; noble's own default is NOBLE_HCI_DEVICE_ID, else the first adapter).
// The scanner taps each report's own bytes from `_bindings._hci` (report-tap.ts).

const require = createRequire(import.meta.url);

export type HciOptions = {
  /** HCI index of the adapter (`hciconfig` lists them); undefined = the first one. */
  deviceId?: number;
  /** LE extended scanning (Bluetooth 5 adapters): reports carry up to 1650 bytes of data. */
  extended?: boolean;
};

export type HciBindings = EventEmitter & { _hci: EventEmitter };

/** Builds noble's HCI bindings; replaceable so a test can see what the adapter is opened with. */
export type HciBindingsFactory = (options: { deviceId?: number; extended: boolean }) => HciBindings;

const realBindings: HciBindingsFactory = (options) => {
  const HciNobleBindings = require('@abandonware/noble/lib/hci-socket/bindings') as new (opts: object) => HciBindings;
  return new HciNobleBindings(options);
};

/** Opens the adapter, or throws ScannerUnavailableError naming the problem and what to do about it. */
export function openHciNoble(options: HciOptions = {}, createBindings: HciBindingsFactory = realBindings): NobleLike {
  if (process.platform !== 'linux') throw unavailable('NOT_LINUX');
  let bindings: HciBindings;
  try {
    // Opening the raw HCI socket happens here: EAFNOSUPPORT (no Bluetooth in the kernel), EPERM (no CAP_NET_RAW).
    bindings = createBindings({ deviceId: options.deviceId, extended: options.extended ?? false });
  } catch (error) {
    throw unavailable(problemOfError(error), error);
  }
  const withBindings = require('@abandonware/noble/with-bindings') as (b: unknown) => NobleLike;
  const noble = withBindings(bindings);
  // noble prints warnings with console.warn when nobody listens; the scanner logs what matters.
  noble.on('warning', () => undefined);
  try {
    // Reading state initialises the bindings, which binds the socket to the adapter (ENODEV: no such index).
    void noble.state;
  } catch (error) {
    throw unavailable(problemOfError(error), error);
  }
  return noble;
}
