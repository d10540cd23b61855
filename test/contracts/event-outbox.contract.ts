import { describe, expect, it } from 'vitest';
import type { EventOutbox } from '#gateway/publisher/event-outbox.ts';

// One suite for every outbox adapter (memory-outbox.ts, disk-outbox.ts): order, in-flight bookkeeping,
// expiry and the byte bound, each drop counted by reason.

export type OutboxFactory = (options: { now: () => number; maxBytes: number }) => Promise<EventOutbox>;

const payload = (i: number): string => JSON.stringify({ i: String(i).padStart(6, '0'), pseudonym: 'a'.repeat(32) });

export function eventOutboxContract(name: string, make: OutboxFactory): void {
  describe(`${name} (outbox contract)`, () => {
    const fixed = (ms: number) => () => ms;

    it('hands events out oldest first and forgets each one once it is acknowledged', async () => {
      const outbox = await make({ now: fixed(0), maxBytes: 1 << 20 });
      for (let i = 0; i < 5; i += 1) outbox.append(payload(i), 60_000);
      const first = outbox.take(3);
      expect(first.map((e) => e.payload)).toEqual([0, 1, 2].map(payload));
      expect(outbox.stats()).toMatchObject({ depth: 5, inFlight: 3 });
      for (const entry of first) outbox.ack(entry.n);
      expect(outbox.take(10).map((e) => e.payload)).toEqual([3, 4].map(payload));
      expect(outbox.stats()).toMatchObject({ depth: 2, inFlight: 2, dropped: { overflow: 0, expired: 0, corrupt: 0 } });
      await outbox.close();
    });

    it('never hands out an event that is in flight, and sends a released one again in order', async () => {
      const outbox = await make({ now: fixed(0), maxBytes: 1 << 20 });
      for (let i = 0; i < 4; i += 1) outbox.append(payload(i), 60_000);
      const [a, b, c] = outbox.take(3);
      expect(outbox.take(1).map((e) => e.payload)).toEqual([payload(3)]);
      outbox.ack(a!.n);
      outbox.release(c!.n);
      outbox.release(b!.n);
      expect(outbox.take(10).map((e) => e.payload)).toEqual([payload(1), payload(2)]);
      outbox.ack(a!.n); // a second PUBACK for the same entry changes nothing
      expect(outbox.stats().depth).toBe(3);
      await outbox.close();
    });

    it('keeps order when acknowledgements arrive out of order', async () => {
      const outbox = await make({ now: fixed(0), maxBytes: 1 << 20 });
      for (let i = 0; i < 6; i += 1) outbox.append(payload(i), 60_000);
      const taken = outbox.take(4);
      outbox.ack(taken[2]!.n);
      outbox.ack(taken[0]!.n);
      outbox.release(taken[1]!.n);
      outbox.release(taken[3]!.n);
      expect(outbox.take(10).map((e) => e.payload)).toEqual([1, 3, 4, 5].map(payload));
      expect(outbox.stats().depth).toBe(4);
      await outbox.close();
    });

    it('drops expired events instead of sending them, and counts each one', async () => {
      let nowMs = 1_000;
      const outbox = await make({ now: () => nowMs, maxBytes: 1 << 20 });
      outbox.append(payload(0), 5_000);
      outbox.append(payload(1), 9_000);
      outbox.append(payload(2), 20_000);
      nowMs = 10_000;
      expect(outbox.take(10).map((e) => e.payload)).toEqual([payload(2)]);
      expect(outbox.stats()).toMatchObject({ depth: 1, dropped: { expired: 2 } });
      outbox.append(payload(3), 11_000);
      nowMs = 12_000;
      outbox.purgeExpired();
      expect(outbox.stats()).toMatchObject({ depth: 1, inFlight: 1, dropped: { expired: 3 } });
      await outbox.close();
    });

    it('stays within its byte bound: the oldest events go first and every one is counted', async () => {
      const maxBytes = 64 * 1024;
      const outbox = await make({ now: fixed(0), maxBytes });
      const total = 3_000; // ~240 KB of payload
      for (let i = 0; i < total; i += 1) {
        outbox.append(payload(i), 60_000);
        expect(outbox.stats().bytes).toBeLessThanOrEqual(maxBytes);
      }
      const { depth, dropped } = outbox.stats();
      expect(dropped.overflow).toBeGreaterThan(0);
      expect(depth + dropped.overflow).toBe(total);
      // What is left is the newest events, still in order.
      const left = outbox.take(total).map((e) => e.payload);
      expect(left).toEqual(Array.from({ length: depth }, (_, k) => payload(total - depth + k)));
      await outbox.close();
    });
  });
}
