import { describe, expect, it } from 'vitest';
import { DEFAULT_AGE_POLICY } from '#server/domain/age-gate.ts';
import { lapseOf, lapseRecord, purposeStatuses, RENEWAL_WINDOW_MS, type LapseCandidate } from '#server/domain/consent-lapse.ts';
import { activeConsent, grantLapse, PURPOSES, type ConsentPolicy, type Purpose } from '#server/domain/consent.ts';
import { aConsent, DAY_MS, START_MS } from '#test/helpers/builders.ts';

const YEAR_MS = 365 * DAY_MS;
const policy: ConsentPolicy = { currentVersions: Object.fromEntries(PURPOSES.map((p) => [p, 'v2'])) as Record<Purpose, string>, validityMs: YEAR_MS };
const shopperId = 'sh-lapse';

const aCandidate = (overrides: Partial<LapseCandidate> = {}): LapseCandidate => ({
  shopperId, purpose: 'presence', textVersion: 'v2', atMs: START_MS, textSha256: 'c'.repeat(64), locale: 'it', country: 'IT', birthYear: 1990, ...overrides,
});

describe('grantLapse and activeConsent (the send path between lapse-job runs)', () => {
  it('counts a grant on the current text younger than the validity', () => {
    expect(grantLapse({ granted: true, textVersion: 'v2', atMs: START_MS }, 'presence', policy, START_MS + YEAR_MS - 1)).toBeNull();
  });

  it('reads a grant on a superseded text, or as old as the validity, as not granted', () => {
    expect(grantLapse({ granted: true, textVersion: 'v1', atMs: START_MS }, 'presence', policy, START_MS)).toBe('text-superseded');
    expect(grantLapse({ granted: true, textVersion: 'v2', atMs: START_MS }, 'presence', policy, START_MS + YEAR_MS)).toBe('expired');
    const state = { presence: { granted: true, textVersion: 'v2', atMs: START_MS }, promotions: { granted: true, textVersion: 'v1', atMs: START_MS } };
    expect(activeConsent(state, policy, START_MS + DAY_MS)).toEqual({ ...state, promotions: { ...state.promotions, granted: false } });
    expect(activeConsent(state, policy, START_MS + YEAR_MS).presence?.granted).toBe(false);
  });

  it('has nothing to lapse in a withdrawal', () => {
    expect(grantLapse({ granted: false, textVersion: 'v1', atMs: 0 }, 'presence', policy, START_MS)).toBeNull();
  });
});

describe('lapseOf (what the lapse job withdraws)', () => {
  it('names the reason: superseded text, expiry, or the age gate first (re-consenting cannot cure it)', () => {
    expect(lapseOf(aCandidate(), policy, DEFAULT_AGE_POLICY, START_MS + DAY_MS)).toBeNull();
    expect(lapseOf(aCandidate({ textVersion: 'v1' }), policy, DEFAULT_AGE_POLICY, START_MS)).toBe('text-superseded');
    expect(lapseOf(aCandidate(), policy, DEFAULT_AGE_POLICY, START_MS + YEAR_MS)).toBe('expired');
    const young = aCandidate({ purpose: 'promotions', textVersion: 'v1', country: 'DE', birthYear: 2014 });
    expect(lapseOf(young, policy, DEFAULT_AGE_POLICY, START_MS)).toBe('age-gate');
    expect(lapseOf({ ...young, country: 'IT' }, policy, DEFAULT_AGE_POLICY, START_MS)).toBe('text-superseded');
    expect(lapseOf({ ...young, purpose: 'presence', textVersion: 'v2' }, policy, DEFAULT_AGE_POLICY, START_MS)).toBeNull();
  });

  it('leaves alone a grant on a version its catalog does not know (a newer deployment\'s), unless it expired', () => {
    const known: ConsentPolicy = { ...policy, knownVersions: Object.fromEntries(PURPOSES.map((p) => [p, ['v1', 'v2']])) as Record<Purpose, string[]> };
    expect(lapseOf(aCandidate({ textVersion: 'v1' }), known, DEFAULT_AGE_POLICY, START_MS)).toBe('text-superseded');
    expect(lapseOf(aCandidate({ textVersion: 'v3' }), known, DEFAULT_AGE_POLICY, START_MS)).toBeNull();
    expect(lapseOf(aCandidate({ textVersion: 'v3' }), known, DEFAULT_AGE_POLICY, START_MS + YEAR_MS)).toBe('expired');
    // The send path stays closed for it all the same.
    expect(activeConsent({ presence: { granted: true, textVersion: 'v3', atMs: START_MS } }, known, START_MS).presence?.granted).toBe(false);
  });

  it('writes the lapse as the server\'s withdrawal of the text that was granted', () => {
    expect(lapseRecord(aCandidate({ textVersion: 'v1' }), 'text-superseded', 'cr-1', START_MS + DAY_MS)).toEqual({
      id: 'cr-1', shopperId, purpose: 'presence', granted: false, textVersion: 'v1', textSha256: 'c'.repeat(64), locale: 'it',
      serverTimeMs: START_MS + DAY_MS, clientTimeMs: null, channel: 'system', previousGranted: true, reason: 'text-superseded',
    });
  });
});

describe('purposeStatuses (GET /v1/me)', () => {
  const granted = aConsent({ shopperId, purpose: 'presence', textVersion: 'v2', serverTimeMs: START_MS });

  it('says unanswered, granted and withdrawn, with the grant\'s times', () => {
    const statuses = purposeStatuses([granted, aConsent({ shopperId, purpose: 'analytics', granted: false, textVersion: 'v2' })], policy, START_MS + DAY_MS);
    expect(statuses.presence).toEqual({ status: 'granted', textVersion: 'v2', grantedAtMs: START_MS, expiresAtMs: START_MS + YEAR_MS });
    expect(statuses.analytics).toEqual({ status: 'withdrawn', textVersion: 'v2', grantedAtMs: null, expiresAtMs: null });
    expect(statuses.promotions.status).toBe('unanswered');
  });

  it('asks for renewal in the last 30 days, and says expired from the end of the validity, before and after the job ran', () => {
    expect(purposeStatuses([granted], policy, START_MS + YEAR_MS - RENEWAL_WINDOW_MS - 1).presence.status).toBe('granted');
    expect(purposeStatuses([granted], policy, START_MS + YEAR_MS - RENEWAL_WINDOW_MS).presence.status).toBe('renewal-due');
    expect(purposeStatuses([granted], policy, START_MS + YEAR_MS).presence).toEqual({ status: 'expired', textVersion: 'v2', grantedAtMs: START_MS, expiresAtMs: START_MS + YEAR_MS });
    const lapse = aConsent({ shopperId, purpose: 'presence', granted: false, previousGranted: true, channel: 'system', reason: 'expired', textVersion: 'v2', serverTimeMs: START_MS + YEAR_MS });
    expect(purposeStatuses([granted, lapse], policy, START_MS + YEAR_MS + DAY_MS).presence).toEqual({ status: 'expired', textVersion: 'v2', grantedAtMs: START_MS, expiresAtMs: START_MS + YEAR_MS });
  });

  it('says needs-reconsent when the text changed, before and after the job ran, until the shopper answers', () => {
    const old = aConsent({ shopperId, purpose: 'promotions', textVersion: 'v1', serverTimeMs: START_MS });
    expect(purposeStatuses([old], policy, START_MS).promotions.status).toBe('needs-reconsent');
    const lapse = aConsent({ shopperId, purpose: 'promotions', granted: false, previousGranted: true, channel: 'system', reason: 'text-superseded', textVersion: 'v1' });
    expect(purposeStatuses([old, lapse], policy, START_MS).promotions.status).toBe('needs-reconsent');
    const answer = aConsent({ shopperId, purpose: 'promotions', textVersion: 'v2', serverTimeMs: START_MS + DAY_MS });
    expect(purposeStatuses([old, lapse, answer], policy, START_MS + DAY_MS).promotions.status).toBe('granted');
  });

  it('shows an age-gate lapse as a plain withdrawal', () => {
    const old = aConsent({ shopperId, purpose: 'promotions', textVersion: 'v2' });
    const lapse = aConsent({ shopperId, purpose: 'promotions', granted: false, previousGranted: true, channel: 'system', reason: 'age-gate', textVersion: 'v2' });
    expect(purposeStatuses([old, lapse], policy, START_MS).promotions).toEqual({ status: 'withdrawn', textVersion: 'v2', grantedAtMs: null, expiresAtMs: null });
  });
});
