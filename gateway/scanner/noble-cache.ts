import type { EventEmitter } from 'node:events';

// noble keeps per-address state forever (noble/noble#636: out of memory after about half a day
// among rotating addresses). These are all the places, in @abandonware/noble 1.9.2:
//   lib/noble.js                 _peripherals, _services, _characteristics, _descriptors, _discoveredPeripheralUUids  (by uuid)
//   lib/hci-socket/bindings.js   _addresses, _addresseTypes, _connectable, scannable                                  (by uuid)
//   lib/hci-socket/gap.js        _discoveries                                                                          (by aa:bb:… address)
// The pruner bounds them by generations: it counts the distinct addresses heard since noble's maps
// last started over, and when that reaches maxAddresses, or the generation is forgetAfterMs old, every
// one of those maps starts over empty. Deleting keys one by one from noble's dictionary-mode objects
// costs about four times as much under a flood (measured: 10 objects, 1M addresses), and the gateway
// needs none of that state: it reads each report's bytes from the tap. Noble re-creates a peripheral
// on its next report. A connected peripheral is carried over (the gateway does not connect, but another
// user of the same noble might).

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
  /** Records one report from `address` (`aa:bb:cc:dd:ee:ff`) at `nowMs`; starts noble's maps over past the bound. */
  heard(address: string, nowMs: number): void;
  /** Starts noble's maps over if the generation is forgetAfterMs old. Returns how many addresses went. */
  sweep(nowMs: number): number;
  /** Forgets everything. */
  clear(): void;
  /** Distinct addresses in noble's maps (heard this generation). */
  size(): number;
  /** Entries in noble's own per-address maps (counted, so it is meant for a metrics scrape, not per report). */
  nobleEntries(): number;
  /** Addresses forgotten so far. */
  pruned(): number;
  /** Times noble's maps started over. */
  generations(): number;
};

const BY_UUID = ['_peripherals', '_services', '_characteristics', '_descriptors', '_discoveredPeripheralUUids'] as const;
const BINDINGS_BY_UUID = ['_addresses', '_addresseTypes', '_connectable', 'scannable'] as const;

export function createNobleCachePruner(noble: NobleCaches, options: { maxAddresses: number; forgetAfterMs: number }): NobleCachePruner {
  const { maxAddresses, forgetAfterMs } = options;
  let heardThisGeneration = new Set<string>();
  let generationStartMs: number | undefined;
  let pruned = 0;
  let generations = 0;

  /**
   * A fresh map holding only the connected peripherals' entries of the old one. Without a prototype:
   * noble only indexes these maps, and a new address is inserted about twice as fast (measured).
   */
  const keepConnected = (old: Dict, connected: string[], key: (uuid: string) => string): Dict => {
    const fresh = Object.create(null) as Dict;
    for (const uuid of connected) if (key(uuid) in old) fresh[key(uuid)] = old[key(uuid)];
    return fresh;
  };

  const startOver = (nowMs: number): number => {
    const bindings = noble._bindings;
    // bindings.js keeps _handles[uuid] = handle (and the reverse) while connected.
    const connected = Object.keys(bindings?._handles ?? {}).filter((k) => /^[0-9a-f]{12}$/.test(k));
    const sameKey = (uuid: string): string => uuid;
    for (const name of BY_UUID) {
      const old = noble[name];
      if (old !== undefined) noble[name] = keepConnected(old, connected, sameKey);
    }
    if (bindings !== undefined) {
      for (const name of BINDINGS_BY_UUID) {
        const old = bindings[name];
        if (old !== undefined) bindings[name] = keepConnected(old, connected, sameKey);
      }
      // gap.js keys its cache by colon-separated address.
      const gap = bindings._gap;
      if (gap?._discoveries !== undefined) gap._discoveries = keepConnected(gap._discoveries, connected, (uuid) => uuid.match(/../g)!.join(':'));
    }
    const forgotten = heardThisGeneration.size;
    pruned += forgotten;
    generations += 1;
    heardThisGeneration = new Set();
    generationStartMs = nowMs;
    return forgotten;
  };

  return {
    heard(address, nowMs) {
      if (heardThisGeneration.has(address)) return;
      if (heardThisGeneration.size >= maxAddresses) startOver(nowMs);
      generationStartMs ??= nowMs;
      heardThisGeneration.add(address);
    },
    sweep(nowMs) {
      if (generationStartMs === undefined || nowMs - generationStartMs < forgetAfterMs) return 0;
      return startOver(nowMs);
    },
    clear() {
      startOver(0);
      generationStartMs = undefined;
    },
    size: () => heardThisGeneration.size,
    nobleEntries: () => {
      let entries = 0;
      const bindings = noble._bindings;
      for (const name of BY_UUID) entries += Object.keys(noble[name] ?? {}).length;
      for (const name of BINDINGS_BY_UUID) entries += Object.keys(bindings?.[name] ?? {}).length;
      return entries + Object.keys(bindings?._gap?._discoveries ?? {}).length;
    },
    pruned: () => pruned,
    generations: () => generations,
  };
}
