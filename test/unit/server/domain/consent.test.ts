import { describe, expect, it } from 'vitest';
import { isGranted, marketingAllowed, replayConsent, type ConsentState } from '#server/domain/consent.ts';
import { aConsent, SECOND_MS, START_MS } from '#test/helpers/builders.ts';

const shopperId = 'sh-replay';

describe('replayConsent', () => {
  it('starts from nothing: a shopper who never answered has granted no purpose (CON-1)', () => {
    const state = replayConsent([]);
    expect(state).toEqual({});
    expect(isGranted(state, 'presence')).toBe(false);
  });

  it('lets the last answer per purpose win', () => {
    const state = replayConsent([
      aConsent({ shopperId, purpose: 'presence', granted: true, serverTimeMs: START_MS }),
      aConsent({ shopperId, purpose: 'promotions', granted: true, serverTimeMs: START_MS + SECOND_MS }),
      aConsent({ shopperId, purpose: 'presence', granted: false, serverTimeMs: START_MS + 2 * SECOND_MS, textVersion: '2030-02' }),
    ]);
    expect(state).toEqual({
      presence: { granted: false, textVersion: '2030-02', atMs: START_MS + 2 * SECOND_MS },
      promotions: { granted: true, textVersion: '2030-01', atMs: START_MS + SECOND_MS },
    });
  });

  it('keeps purposes separate: withdrawing one leaves the others as they were (CON-2)', () => {
    const state = replayConsent([
      aConsent({ shopperId, purpose: 'presence', granted: true }),
      aConsent({ shopperId, purpose: 'analytics', granted: true }),
      aConsent({ shopperId, purpose: 'analytics', granted: false, previousGranted: true }),
    ]);
    expect(isGranted(state, 'presence')).toBe(true);
    expect(isGranted(state, 'analytics')).toBe(false);
    expect(isGranted(state, 'personalisation')).toBe(false);
  });

  it('rebuilds the same state from the same records every time, and from any prefix the state at that point (CON-3)', () => {
    const records = [
      aConsent({ shopperId, purpose: 'presence', granted: true, serverTimeMs: START_MS }),
      aConsent({ shopperId, purpose: 'promotions', granted: true, serverTimeMs: START_MS + 1 }),
      aConsent({ shopperId, purpose: 'promotions', granted: false, previousGranted: true, serverTimeMs: START_MS + 2 }),
      aConsent({ shopperId, purpose: 'promotions', granted: true, previousGranted: false, serverTimeMs: START_MS + 3 }),
    ];
    expect(replayConsent(records)).toEqual(replayConsent([...records]));
    expect(isGranted(replayConsent(records.slice(0, 3)), 'promotions')).toBe(false);
    expect(isGranted(replayConsent(records), 'promotions')).toBe(true);
    // Each record's previousGranted is what the prefix before it says.
    for (let i = 1; i < records.length; i += 1) {
      const record = records[i]!;
      const before = replayConsent(records.slice(0, i))[record.purpose]?.granted ?? null;
      expect(record.previousGranted).toBe(before);
    }
  });
});

describe('marketingAllowed', () => {
  const granted = (...purposes: (keyof ConsentState)[]): ConsentState =>
    Object.fromEntries(purposes.map((purpose) => [purpose, { granted: true, textVersion: 'v', atMs: START_MS }]));

  it('allows an unpersonalised message with presence (P1) and promotions (P4)', () => {
    expect(marketingAllowed(granted('presence', 'promotions'), false)).toEqual({ allowed: true });
  });

  it('lists every missing purpose', () => {
    expect(marketingAllowed({}, false)).toEqual({ allowed: false, missing: ['presence', 'promotions'] });
    expect(marketingAllowed(granted('presence'), false)).toEqual({ allowed: false, missing: ['promotions'] });
    expect(marketingAllowed(granted('promotions', 'personalisation', 'analytics'), false)).toEqual({ allowed: false, missing: ['presence'] });
  });

  it('needs personalisation (P2) as well for a personalised message', () => {
    expect(marketingAllowed(granted('presence', 'promotions'), true)).toEqual({ allowed: false, missing: ['personalisation'] });
    expect(marketingAllowed(granted('presence', 'promotions', 'personalisation'), true)).toEqual({ allowed: true });
  });

  it('treats a withdrawn purpose as missing', () => {
    const state: ConsentState = { ...granted('presence'), promotions: { granted: false, textVersion: 'v', atMs: START_MS } };
    expect(marketingAllowed(state, false)).toEqual({ allowed: false, missing: ['promotions'] });
  });
});
