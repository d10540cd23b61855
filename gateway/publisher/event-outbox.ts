// The outbox port: signed, pseudonymised presence events (their JSON text) waiting for the broker's
// PUBACK. Two adapters pass one contract (test/unit/gateway/publisher/event-outbox.contract.ts): the
// in-memory one (memory-outbox.ts, embedded and simulated gateways) and the on-disk one
// (disk-outbox.ts, a real gateway: survives a restart). Both are bounded in bytes, expire events, and
// count every event they drop, by reason.

/** overflow: pushed out by the byte bound; expired: too old to send; corrupt: a damaged record on load; write-error: the disk refused it. */
export type OutboxDropReason = 'overflow' | 'expired' | 'corrupt' | 'write-error';

export type OutboxEntry = {
  /** Position in this outbox, increasing by one per append (kept across restarts on disk). */
  readonly n: number;
  readonly payload: string;
  /** Unix ms after which the event is not worth sending (a stale enter must not trigger a late promotion). */
  readonly expiresAtMs: number;
};

export type OutboxStats = {
  /** Events held and not yet acknowledged (waiting + in flight). */
  depth: number;
  inFlight: number;
  /** Bytes held: payload bytes in memory, or segment file bytes on disk. */
  bytes: number;
  dropped: Record<OutboxDropReason, number>;
};

export interface EventOutbox {
  /** Loads what a previous process left (disk); a no-op in memory. */
  open(): Promise<void>;
  /** Holds one event until it is acknowledged, expires, or is pushed out by the byte bound (oldest first). */
  append(payload: string, expiresAtMs: number): void;
  /**
   * Up to `max` events, oldest first, that are neither in flight nor acknowledged; they become in
   * flight. Expired ones met on the way are dropped and counted.
   */
  take(max: number): OutboxEntry[];
  /** The broker acknowledged entry n: it is gone for good. Unknown or dropped entries are ignored. */
  ack(n: number): void;
  /** Entry n was not delivered (the client gave up on it): it is sent again, in order. */
  release(n: number): void;
  /** Drops every expired event now (not only when it reaches the front). */
  purgeExpired(): void;
  stats(): OutboxStats;
  /** Makes everything durable and releases resources. */
  close(): Promise<void>;
}

export const emptyDropCounts = (): Record<OutboxDropReason, number> => ({ overflow: 0, expired: 0, corrupt: 0, 'write-error': 0 });

export type QueueSlot = OutboxEntry & { readonly bytes: number; readonly segment: number; done: boolean };

/**
 * The ordered queue both adapters share: entries in append order, the in-flight set, expiry. An entry
 * leaves the front once it is done (acknowledged or dropped), so order is kept across out-of-order
 * PUBACKs and redeliveries.
 */
export function createOutboxQueue(options: { now: () => number; onRemoved?: () => void }) {
  let slots: QueueSlot[] = [];
  let head = 0;
  let next = 0;
  let live = 0;
  let liveBytes = 0;
  const inFlight = new Map<number, QueueSlot>();
  const dropped = emptyDropCounts();

  const finish = (slot: QueueSlot): void => {
    if (slot.done) return;
    slot.done = true;
    inFlight.delete(slot.n);
    live -= 1;
    liveBytes -= slot.bytes;
  };

  const advance = (): void => {
    const before = head;
    while (head < slots.length && slots[head]!.done) head += 1;
    const removed = head !== before;
    if (next < head) next = head;
    if (head > 1_024 && head * 2 > slots.length) {
      slots = slots.slice(head);
      next -= head;
      head = 0;
    }
    if (removed) options.onRemoved?.();
  };

  return {
    push(slot: Omit<QueueSlot, 'done'>): void {
      slots.push({ ...slot, done: false });
      live += 1;
      liveBytes += slot.bytes;
    },
    take(max: number): OutboxEntry[] {
      const out: OutboxEntry[] = [];
      const nowMs = options.now();
      while (out.length < max && next < slots.length) {
        const slot = slots[next]!;
        next += 1;
        if (slot.done || inFlight.has(slot.n)) continue;
        if (slot.expiresAtMs <= nowMs) {
          finish(slot);
          dropped.expired += 1;
          continue;
        }
        inFlight.set(slot.n, slot);
        out.push({ n: slot.n, payload: slot.payload, expiresAtMs: slot.expiresAtMs });
      }
      advance();
      return out;
    },
    ack(n: number): void {
      const slot = inFlight.get(n);
      if (slot === undefined) return;
      finish(slot);
      advance();
    },
    release(n: number): void {
      if (!inFlight.delete(n)) return;
      next = head;
    },
    /** Drops the oldest live entry (the byte bound); false when there is none. */
    dropOldest(reason: OutboxDropReason): boolean {
      for (let i = head; i < slots.length; i += 1) {
        const slot = slots[i]!;
        if (slot.done) continue;
        finish(slot);
        dropped[reason] += 1;
        advance();
        return true;
      }
      return false;
    },
    /** Drops the live entries at the front that belong to a segment (disk overflow drops whole segments). */
    dropSegment(segment: number, reason: OutboxDropReason): void {
      for (let i = head; i < slots.length && slots[i]!.segment <= segment; i += 1) {
        const slot = slots[i]!;
        if (slot.done) continue;
        finish(slot);
        dropped[reason] += 1;
      }
      advance();
    },
    purgeExpired(): void {
      const nowMs = options.now();
      for (let i = head; i < slots.length; i += 1) {
        const slot = slots[i]!;
        if (!slot.done && !inFlight.has(slot.n) && slot.expiresAtMs <= nowMs) {
          finish(slot);
          dropped.expired += 1;
        }
      }
      advance();
    },
    /** The first entry not yet done: everything before it may be forgotten. */
    firstLive(): number | undefined {
      return head < slots.length ? slots[head]!.n : undefined;
    },
    count(reason: OutboxDropReason, by = 1): void {
      dropped[reason] += by;
    },
    stats: (): Omit<OutboxStats, 'bytes'> & { liveBytes: number } => ({ depth: live, inFlight: inFlight.size, liveBytes, dropped: { ...dropped } }),
  };
}
