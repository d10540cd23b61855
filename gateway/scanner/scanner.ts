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

export type ScannerStats = { reports: number; trackedAddresses: number };

/** The port through which the gateway hears the radio. */
export interface Scanner {
  start(onAdvertisement: (advertisement: RawAdvertisement) => void): Promise<void>;
  stop(): Promise<void>;
  stats(): ScannerStats;
}

/** A scanner that cannot start (no adapter, no permission) explains what it needs in one line. */
export class ScannerUnavailableError extends Error {
  readonly code = 'SCANNER_UNAVAILABLE';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ScannerUnavailableError';
  }
}
