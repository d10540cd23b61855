/**
 * One advertising report, as a scanner hands it over. There is deliberately no address field:
 * the MAC is dropped on receipt (an address is never a shopper identity, and it must not travel).
 */
export type RawAdvertisement = {
  /** This packet's own AD bytes (never merged across packets). */
  data: Buffer;
  rssiDbm: number;
  receivedAtMs: number;
};

/** Where a scanner is in its life; a health endpoint shows it. */
export type ScannerState =
  | 'idle' // not started
  | 'starting' // opening the adapter, waiting for it to power on, enabling the scan
  | 'scanning'
  | 'waiting' // the adapter is not usable (problem says why); the next attempt is scheduled
  | 'stopped';

/**
 * Why a scanner cannot scan, as a stable code. Each has one operator-facing message
 * (noble-problems.ts) saying what to do about it.
 */
export type ScannerProblem =
  | 'EAFNOSUPPORT' // the kernel (or container) has no AF_BLUETOOTH
  | 'EPERM' // opening the raw HCI socket was refused
  | 'NO_ADAPTER' // no HCI device at the configured index
  | 'NOT_BUILT' // noble's native HCI binding is missing
  | 'NOT_LINUX'
  | 'UNAUTHORIZED' // the adapter refused us (noble state 'unauthorized')
  | 'UNSUPPORTED' // the adapter cannot do Bluetooth LE (noble state 'unsupported')
  | 'POWERED_OFF' // rfkill, unplugged, `hciconfig hciN down`
  | 'SCAN_TIMEOUT' // the adapter did not confirm a scan command in time
  | 'OPEN_FAILED'; // anything else opening the adapter

/**
 * What every scanner reports: counters, and the sizes of every per-address structure it keeps
 * (a /metrics endpoint exports each number as a gauge). Adapters add their own fields.
 */
export type ScannerStats = {
  /** Reports handed to the gateway since start. */
  reports: number;
  /** Addresses the scanner (and the library under it) currently remembers. */
  trackedAddresses: number;
  state?: ScannerState;
  /** Set while the scanner cannot scan. */
  problem?: ScannerProblem | null;
  /** Scans restarted by the watchdog, or after the adapter came back. */
  restarts?: number;
  /** Failed attempts to start scanning that were retried. */
  retries?: number;
};

/** The port through which the gateway hears the radio. */
export interface Scanner {
  start(onAdvertisement: (advertisement: RawAdvertisement) => void): Promise<void>;
  stop(): Promise<void>;
  stats(): ScannerStats;
}

/** A scanner that cannot start (no adapter, no permission) explains what it needs in one line. */
export class ScannerUnavailableError extends Error {
  readonly code = 'SCANNER_UNAVAILABLE';
  readonly problem: ScannerProblem;
  constructor(message: string, options?: ErrorOptions & { problem?: ScannerProblem }) {
    super(message, options);
    this.name = 'ScannerUnavailableError';
    this.problem = options?.problem ?? 'OPEN_FAILED';
  }
}
