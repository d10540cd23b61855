import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';
import { ScannerUnavailableError } from './scanner.ts';
import type { NobleLike } from './noble-scanner.ts';

// A noble instance on the Linux HCI socket bindings, with a tap that hands each advertising report's
// own AD bytes to the scanner (noble's parser merges fields across packets and keeps one 0xFF block).

const require = createRequire(import.meta.url);

export type HciOptions = { deviceId?: number; extended?: boolean };

type HciBindings = EventEmitter & { _hci: EventEmitter; emit(event: string, ...args: unknown[]): boolean };

const NEEDS = 'the gateway needs a BlueZ adapter (check `hciconfig` or `bluetoothctl list`) and CAP_NET_RAW (`sudo setcap cap_net_raw+eip $(readlink -f $(which node))`)';

export function openHciNoble(options: HciOptions = {}): NobleLike {
  if (process.platform !== 'linux') throw new ScannerUnavailableError(`noble HCI scanning runs on Linux only; ${NEEDS}`);
  let bindings: HciBindings;
  try {
    const HciNobleBindings = require('@abandonware/noble/lib/hci-socket/bindings') as new (opts: object) => HciBindings;
    bindings = new HciNobleBindings({ deviceId: options.deviceId, extended: options.extended ?? false });
  } catch (error) {
    throw explain(error);
  }

  // Stash the raw EIR of the report being processed; noble's gap handles it synchronously right after.
  let currentEir: Buffer | undefined;
  const stash = (_status: number, _type: number, _address: string, _addressType: string, eir: Buffer): void => {
    currentEir = eir;
  };
  bindings._hci.prependListener('leAdvertisingReport', stash);
  bindings._hci.prependListener('leExtendedAdvertisingReport', stash);
  const emit = bindings.emit.bind(bindings);
  bindings.emit = (event: string, ...args: unknown[]): boolean => {
    if (event === 'discover' && currentEir !== undefined) {
      args[4] = { ...(args[4] as object), eir: currentEir };
      currentEir = undefined;
    }
    return emit(event, ...args);
  };

  const withBindings = require('@abandonware/noble/with-bindings') as (b: unknown) => NobleLike;
  const noble = withBindings(bindings);
  // noble installs a SIGINT handler that calls process.exit; the gateway's own shutdown owns signals.
  noble.on('warning', () => undefined);
  try {
    // Reading state initialises the bindings, which opens the HCI socket.
    void noble.state;
  } catch (error) {
    throw explain(error);
  }
  return noble;
}

function explain(error: unknown): ScannerUnavailableError {
  const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  if (/EAFNOSUPPORT/.test(String(code)) || /Address family not supported/.test((error as Error).message)) {
    return new ScannerUnavailableError(`no Bluetooth on this machine (EAFNOSUPPORT): ${NEEDS}`, { cause: error });
  }
  if (/EPERM|EACCES/.test(String(code)) || /Operation not permitted/.test((error as Error).message)) {
    return new ScannerUnavailableError(`not permitted to open the HCI socket: ${NEEDS}`, { cause: error });
  }
  if (/Cannot find module|Could not locate the bindings/.test((error as Error).message)) {
    return new ScannerUnavailableError(`noble's native binding is not built: run \`npm rebuild @abandonware/noble @abandonware/bluetooth-hci-socket\` (package.json allowScripts approves them); ${NEEDS}`, { cause: error });
  }
  return new ScannerUnavailableError(`cannot open the Bluetooth adapter (${(error as Error).message}): ${NEEDS}`, { cause: error });
}
