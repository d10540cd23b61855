import { describe, expect, it } from 'vitest';
import { roundsBy } from '#server/store/set-batches.ts';
import type { PresenceStep } from '#server/store/store.ts';
import { aPresence } from '#test/helpers/builders.ts';

// The PostgreSQL adapter applies a turn's presence steps in rounds (postgres-presence-batch.ts): a shopper at most
// once per round, so the zone arbiter sees each shopper's events one after another, in the order handed in.

const entry = (shopperId: string, eventId: string): { item: PresenceStep } => ({
  item: { event: aPresence({ shopperId, eventId }), receivedAtMs: 0, consent: (stored) => stored, arbitrate: () => ({ state: undefined, dueAtMs: null, result: { transitions: [], current: undefined } }) },
});
const byShopper = (e: { item: PresenceStep }): string => e.item.event.shopperId;
const ids = (rounds: { item: PresenceStep }[][]): string[][] => rounds.map((round) => round.map((e) => e.item.event.eventId));

describe('roundsBy (a shopper per round)', () => {
  it('puts distinct shoppers in one round, in the order handed in', () => {
    expect(ids(roundsBy([entry('a', '1'), entry('b', '2'), entry('c', '3')], byShopper))).toEqual([['1', '2', '3']]);
  });

  it('puts a shopper\'s later steps in later rounds, each shopper\'s in order', () => {
    const rounds = roundsBy([entry('a', 'a1'), entry('b', 'b1'), entry('a', 'a2'), entry('a', 'a3'), entry('c', 'c1'), entry('b', 'b2')], byShopper);
    expect(ids(rounds)).toEqual([['a1', 'b1', 'c1'], ['a2', 'b2'], ['a3']]);
  });

  it('gives no rounds for no steps', () => {
    expect(roundsBy([], byShopper)).toEqual([]);
  });
});
