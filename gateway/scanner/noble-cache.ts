import type { EventEmitter } from 'node:events';

// noble keeps per-address state forever (noble/noble#636: out of memory after about half a day
// among rotating addresses). These are all the places, in @abandonware/noble 1.9.2:
//   lib/noble.js                 _peripherals, _services, _characteristics, _descriptors, _discoveredPeripheralUUids  (by uuid)
//   lib/hci-socket/bindings.js   _addresses, _addresseTypes, _connectable, scannable                                  (by uuid)
//   lib/hci-socket/gap.js        _discoveries                                                                          (by aa:bb:… address)
// The pruner remembers when each address was last heard, at most maxAddresses of them, and deletes
// an address from every one of those maps when it falls out: least recently heard first, or after
// forgetAfterMs of silence. A connected peripheral is never pruned (the gateway does not connect,
// but another user of the same noble might).

type Dict = Record<string, unknown>;

/** The part of a Noble instance whose per-address state the pruner bounds. */
export type NobleCaches = {
  _peripherals?: Dict;
  _services?: Dict;
  _characteristics?: Dict;
  _descriptors?: Dict;
  _discoveredPeripheralUUids?: Dict;
  _bindings?: {
    _hci?: EventEmitter;
    _gap?: { _discoveries?: Dict };
    _addresses?: Dict;
    _addresseTypes?: Dict;
    _connectable?: Dict;
    scannable?: Dict;
    _handles?: Dict;
  };
};

export type NobleCachePruner = {
  /** Records one report from `address` (`aa:bb:cc:dd:ee:ff`) at `nowMs`; evicts the least recently heard past the bound. */
  heard(address: string, nowMs: number): void;
  /** Forgets every address silent since before `nowMs - forgetAfterMs`. Returns how many went. */
  sweep(nowMs: number): number;
  /** Forgets everything it remembers. */
  clear(): void;
  /** Addresses remembered. */
  size(): number;
  /** Entries in noble's own per-address maps (counted, so it is meant for a metrics scrape, not per report). */
  nobleEntries(): number;
  /** Addresses forgotten so far. */
  pruned(): number;
};

export function createNobleCachePruner(noble: NobleCaches, options: { maxAddresses: number; forgetAfterMs: number }): NobleCachePruner {
  const { maxAddresses, forgetAfterMs } = options;
  // Insertion order is recency order: a report moves its address to the end.
  const lastHeard = new Map<string, number>();
  let pruned = 0;

  const byUuid = (): (Dict | undefined)[] => {
    const b = noble._bindings;
    return [noble._peripherals, noble._services, noble._characteristics, noble._descriptors, noble._discoveredPeripheralUUids,
      b?._addresses, b?._addresseTypes, b?._connectable, b?.scannable];
  };

  const forget = (address: string): void => {
    lastHeard.delete(address);
    // noble's peripheral id is the address without colons, lowercase (bindings.js onDiscover).
    const uuid = address.replaceAll(':', '').toLowerCase();
    if (noble._bindings?._handles?.[uuid] !== undefined) return; // connected: not ours to drop
    pruned += 1;
    for (const map of byUuid()) if (map !== undefined) delete map[uuid];
    const discoveries = noble._bindings?._gap?._discoveries;
    if (discoveries !== undefined) delete discoveries[address];
  };

  return {
    heard(address, nowMs) {
      lastHeard.delete(address);
      lastHeard.set(address, nowMs);
      if (lastHeard.size > maxAddresses) forget(lastHeard.keys().next().value!);
    },
    sweep(nowMs) {
      const cutoff = nowMs - forgetAfterMs;
      let count = 0;
      // Oldest first: stop at the first address heard recently enough.
      for (const [address, heardMs] of lastHeard) {
        if (heardMs >= cutoff) break;
        forget(address);
        count += 1;
      }
      return count;
    },
    clear() {
      for (const address of [...lastHeard.keys()]) forget(address);
    },
    size: () => lastHeard.size,
    nobleEntries: () => {
      let entries = 0;
      for (const map of byUuid()) if (map !== undefined) entries += Object.keys(map).length;
      const discoveries = noble._bindings?._gap?._discoveries;
      return entries + (discoveries === undefined ? 0 : Object.keys(discoveries).length);
    },
    pruned: () => pruned,
  };
}
