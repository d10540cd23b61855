import type { EventEmitter } from 'node:events';

// The tap: each advertising report's own bytes, straight from noble's HCI layer (lib/hci-socket/hci.js),
// before noble's gap merges them per address. It hears every report, including the ones noble's gap
// keeps to itself: gap.js emits a connectable ADV_IND only until the address's first scan response,
// and after that only the scan responses — carrying the *merged* fields, where a stale iBeacon from an
// earlier packet survives and only the last 0xFF block is kept.
//
// hci.js emits, per report in an HCI LE Meta event:
//   'leAdvertisingReport'         (status, type, address, addressType, eir, rssi)
//   'leExtendedAdvertisingReport' (status, type, address, addressType, txPower, rssi, eir)
// Core Spec v5.4 Vol 4 Part E §7.7.65.2 and §7.7.65.13 give the report layouts.

/**
 * Called once per advertisement with its own bytes. `address` (`aa:bb:cc:dd:ee:ff`) is there only to
 * bound noble's per-address caches and must not be handed on. Positional, so a flood allocates nothing here.
 */
export type ReportListener = (address: string, eir: Buffer, rssiDbm: number) => void;

export type TapStats = { legacy: number; extended: number; fragmentsPending: number; fragmentsDropped: number };

/** Extended Event_Type bits 5–6, Data_Status: 0 complete, 1 incomplete with more to come, 2 truncated. */
const DATA_STATUS_SHIFT = 5;
const DATA_STATUS_MASK = 0b11;
const INCOMPLETE_MORE = 1;
/** Extended RSSI 0x7F = "not available" (§7.7.65.13). */
const RSSI_NOT_AVAILABLE = 127;
/** An extended advertisement spans at most 1650 bytes of data (Vol 6 Part B §2.3.4.9 / Vol 4 Part E §7.8.54). */
const MAX_EXTENDED_DATA = 1650;
/** Chains being reassembled at once; a chain left pending by a lost fragment falls out past this. */
const MAX_PENDING_CHAINS = 16;

/**
 * The exact Data bytes of one extended report. hci.js passes `data.slice(24)` — the rest of the
 * event, which with several reports in one event runs on into the next one. The octet just before
 * is Data_Length (offset 23 of the report), so a view into the event buffer is trimmed to it.
 */
export function extendedReportData(eir: Buffer): Buffer {
  if (eir.byteOffset < 1) return eir;
  const dataLength = new Uint8Array(eir.buffer, eir.byteOffset - 1, 1)[0]!;
  return dataLength <= eir.length ? eir.subarray(0, dataLength) : eir;
}

/**
 * Listens to an HCI layer's report events (prepended, so it runs before noble's gap) and calls
 * `onReport` once per complete advertisement. Returns a function that removes the tap.
 */
export function tapAdvertisingReports(hci: EventEmitter, onReport: ReportListener): { detach(): void; stats(): TapStats } {
  const stats = { legacy: 0, extended: 0, fragmentsDropped: 0 };
  // Fragments of an extended advertisement, by address, in arrival order (one chain per address at a time).
  const pending = new Map<string, Buffer[]>();

  const legacy = (_status: number, _type: number, address: string, _addressType: string, eir: Buffer, rssi: number): void => {
    stats.legacy += 1;
    onReport(address, eir, rssi);
  };

  const extended = (_status: number, type: number, address: string, _addressType: string, _txPower: number, rssi: number, eir: Buffer): void => {
    const data = extendedReportData(eir);
    const status = (type >> DATA_STATUS_SHIFT) & DATA_STATUS_MASK;
    const chain = pending.get(address);
    if (status === INCOMPLETE_MORE) {
      if (chain === undefined) {
        if (pending.size >= MAX_PENDING_CHAINS) {
          pending.delete(pending.keys().next().value!);
          stats.fragmentsDropped += 1;
        }
        // Copied: the event buffer it views is reused by the next HCI packet.
        pending.set(address, [Buffer.from(data)]);
      } else {
        chain.push(Buffer.from(data));
        if (chain.reduce((sum, part) => sum + part.length, 0) > MAX_EXTENDED_DATA) {
          pending.delete(address);
          stats.fragmentsDropped += 1;
        }
      }
      return;
    }
    if (chain !== undefined) pending.delete(address);
    if (status !== 0) {
      // Truncated: the controller gave up on the rest; half an advertisement is not decoded.
      stats.fragmentsDropped += 1;
      return;
    }
    if (rssi === RSSI_NOT_AVAILABLE) return;
    stats.extended += 1;
    onReport(address, chain === undefined ? data : Buffer.concat([...chain, data]), rssi);
  };

  hci.prependListener('leAdvertisingReport', legacy);
  hci.prependListener('leExtendedAdvertisingReport', extended);
  return {
    detach() {
      hci.off('leAdvertisingReport', legacy);
      hci.off('leExtendedAdvertisingReport', extended);
      pending.clear();
    },
    stats: () => ({ ...stats, fragmentsPending: pending.size }),
  };
}
