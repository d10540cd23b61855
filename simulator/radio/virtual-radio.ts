import type { Rng } from '#simulator/rng.ts';
import type { SimulatedBindings } from '#simulator/noble-bindings.ts';
import { defaultRadioEnvironment, receptionProbability, rssiAt, type LinkParams, type RadioEnvironment } from './propagation.ts';

// The air between advertisers (phones, beacons) and gateways' adapters. The caller drives time —
// virtual or real — through `advance(toMs)`; nothing here reads a clock.
//
// Each advertising event (Core Spec Vol 6 Part B §4.4.2.2.1: T_advEvent = advInterval + advDelay,
// advDelay uniform in 0–10 ms) is heard by every receiver independently: RSSI from the propagation
// model, then dropped by the reception edge, packet loss and the receiver's scan duty cycle.
// Events come off a binary min-heap keyed by time, so cost grows with events, not with advertisers.

export type Position = { x: number; y: number };

export type Receiver = {
  id: string;
  /** Metres. */
  position: Position;
  bindings: SimulatedBindings;
  /** This receiver's calibration error, dB. */
  rssiOffsetDb: number;
  /** Fraction of time the receiver is scanning (scan window / scan interval), 0..1. */
  dutyCycle?: number;
};

export type Advertiser = {
  id: string;
  /** Where it is now, metres. Called once per advertising event. */
  position: () => Position;
  intervalMs: number;
  /** Upper bound of the random advDelay added to each interval; the spec's is 10 ms. */
  jitterMs?: number;
  txPowerAt1mDbm: number;
  /** The AD bytes to send at this moment; undefined = not advertising right now. Never mutate a buffer once returned: receivers keep views into it. */
  payload: (nowMs: number) => Buffer | undefined;
  /** Rotate a resolvable private address on this period; undefined = a static random address. */
  addressRotationMs?: number;
  /** The address of each event, chosen by the device itself (a spammer cycling through a pool); overrides the rotation. */
  addressAt?: (nowMs: number) => string;
  onEmit?: (nowMs: number) => void;
};

export type VirtualRadioOptions = {
  rng: Rng;
  receivers: readonly Receiver[];
  propagation?: Partial<RadioEnvironment>;
  /** The time the radio starts at; pass `clock.now()` when driving it by real time. */
  startMs?: number;
  /** Told each address an advertiser takes (its first, and each rotation): ground truth for privacy checks. */
  onAddress?: (advertiserId: string, address: string) => void;
};

export type RadioStats = {
  /** Advertising events sent. */
  emitted: number;
  /** Packets handed to a receiver's bindings (one event reaches up to every receiver). */
  delivered: number;
  /** Packets a receiver missed (weak signal, loss, not scanning at that moment). */
  lost: number;
};

export type VirtualRadio = {
  addAdvertiser(advertiser: Advertiser): void;
  removeAdvertiser(id: string): boolean;
  advance(toMs: number): void;
  nowMs(): number;
  stats(): RadioStats;
  advertiserCount(): number;
};

type Scheduled = {
  advertiser: Advertiser;
  rng: Rng;
  nextMs: number;
  /** Insertion order: breaks ties between events due at the same time, so runs replay exactly. */
  seq: number;
  address: string;
  addressSinceMs: number;
  removed: boolean;
};

const DEFAULT_ADV_DELAY_MS = 10;

export function createVirtualRadio(options: VirtualRadioOptions): VirtualRadio {
  const environment: RadioEnvironment = { ...defaultRadioEnvironment, ...options.propagation };
  const receivers = [...options.receivers];
  // The channel draws from its own stream; each advertiser (address, timing) from its own fork.
  const channelRng = options.rng.fork('channel');
  const heap: Scheduled[] = [];
  const active = new Map<string, Scheduled>();
  let clockMs = options.startMs ?? 0;
  let seq = 0;
  const stats: RadioStats = { emitted: 0, delivered: 0, lost: 0 };
  const link: LinkParams = { ...environment, txPowerAt1mDbm: 0, distanceM: 0, rssiOffsetDb: 0 };

  const less = (a: Scheduled, b: Scheduled): boolean => a.nextMs < b.nextMs || (a.nextMs === b.nextMs && a.seq < b.seq);
  const push = (item: Scheduled): void => {
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as Scheduled;
      if (!less(item, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = item;
  };
  const pop = (): Scheduled | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && less(heap[right] as Scheduled, heap[left] as Scheduled) ? right : left;
      const c = heap[child] as Scheduled;
      if (!less(c, last)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
    return top;
  };

  const deliver = (item: Scheduled, eir: Buffer): void => {
    const { x, y } = item.advertiser.position();
    link.txPowerAt1mDbm = item.advertiser.txPowerAt1mDbm;
    for (const receiver of receivers) {
      const dx = receiver.position.x - x;
      const dy = receiver.position.y - y;
      link.distanceM = Math.sqrt(dx * dx + dy * dy);
      link.rssiOffsetDb = receiver.rssiOffsetDb;
      const rssi = rssiAt(link, channelRng);
      const p = receptionProbability(rssi, environment.sensitivityDbm, environment.packetLoss) * (receiver.dutyCycle ?? 1);
      if (channelRng.next() >= p) {
        stats.lost += 1;
        continue;
      }
      stats.delivered += 1;
      receiver.bindings.report({ address: item.address, addressType: 'random', eir, rssi });
    }
  };

  const emit = (item: Scheduled): void => {
    const atMs = item.nextMs;
    const { advertiser } = item;
    const rotation = advertiser.addressRotationMs;
    if (rotation !== undefined && atMs - item.addressSinceMs >= rotation) {
      // The device's rotation timer fired; the new address goes out with the next event.
      item.address = randomAddress(item.rng, 'resolvable');
      options.onAddress?.(item.advertiser.id, item.address);
      item.addressSinceMs += rotation * Math.floor((atMs - item.addressSinceMs) / rotation);
    }
    if (advertiser.addressAt !== undefined) item.address = advertiser.addressAt(atMs);
    const eir = advertiser.payload(atMs);
    if (eir !== undefined) {
      stats.emitted += 1;
      advertiser.onEmit?.(atMs);
      deliver(item, eir);
    }
    item.nextMs = atMs + advertiser.intervalMs + item.rng.next() * (advertiser.jitterMs ?? DEFAULT_ADV_DELAY_MS);
  };

  // Removal is lazy: the heap entry is flagged and dropped when it comes up.
  const removeScheduled = (id: string): boolean => {
    const item = active.get(id);
    if (item === undefined) return false;
    item.removed = true;
    active.delete(id);
    return true;
  };

  return {
    addAdvertiser(advertiser) {
      if (!(advertiser.intervalMs > 0)) throw new RangeError(`advertiser ${advertiser.id}: intervalMs must be > 0, got ${advertiser.intervalMs}`);
      removeScheduled(advertiser.id); // the same id again replaces it
      // Named by id and start time: independent of other advertisers, and a returning one gets new addresses.
      const rng = options.rng.fork(`advertiser:${advertiser.id}@${clockMs}`);
      const rotating = advertiser.addressRotationMs !== undefined;
      const item: Scheduled = {
        advertiser,
        rng,
        // A random phase, so advertisers added together do not transmit in lockstep.
        nextMs: clockMs + rng.next() * advertiser.intervalMs,
        seq: seq++,
        address: randomAddress(rng, rotating ? 'resolvable' : 'static'),
        addressSinceMs: clockMs,
        removed: false,
      };
      active.set(advertiser.id, item);
      options.onAddress?.(advertiser.id, item.address);
      push(item);
    },
    removeAdvertiser: (id) => removeScheduled(id),
    advance(toMs) {
      if (toMs < clockMs) return; // time does not run backwards
      for (let top = heap[0]; top !== undefined && top.nextMs <= toMs; top = heap[0]) {
        pop();
        if (top.removed) continue;
        // Callbacks that add advertisers see the time of the event being processed.
        clockMs = top.nextMs;
        emit(top);
        push(top);
      }
      clockMs = toMs;
    },
    nowMs: () => clockMs,
    stats: () => ({ ...stats }),
    advertiserCount: () => active.size,
  };
}

/**
 * A random device address (Core Spec Vol 6 Part B §1.3.2): the two most significant bits say its
 * kind — 0b11 static random, 0b01 resolvable private. Printed most significant byte first.
 */
export function randomAddress(rng: Rng, kind: 'static' | 'resolvable'): string {
  const bytes = rng.bytes(6);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | (kind === 'static' ? 0xc0 : 0x40);
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export type RealtimeOptions = {
  now: () => number;
  stepMs?: number;
};

/** Drives the radio by a clock. The timer keeps the process alive until `stop()` is called. */
export function runRealtime(radio: VirtualRadio, options: RealtimeOptions): () => void {
  const timer = setInterval(() => radio.advance(options.now()), options.stepMs ?? 20);
  return () => clearInterval(timer);
}
