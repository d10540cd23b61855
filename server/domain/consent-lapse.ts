import { ageGate, type AgePolicy } from './age-gate.ts';
import { grantLapse, PURPOSES, type ConsentPolicy, type ConsentRecord, type LapseReason, type Purpose } from './consent.ts';

// When a grant stops counting (CON-6, CON-7), decided from the stored state, the catalog's current
// versions, the validity period, the age policy and the clock — no I/O. The lapse job
// (server/consent/lapse-job.ts) turns each lapse into a withdrawal record written by the server itself
// (channel 'system', with the reason), so the state, the resolver, the send-time SQL re-check and a replay
// of the ledger all see it like any withdrawal. GET /v1/me shows the same rules as statuses.

/** A granted purpose the Store found worth checking, with what the lapse needs to know and to record. */
export type LapseCandidate = {
  shopperId: string;
  purpose: Purpose;
  /** The grant's text version and time, as consent_state holds them: the lapse is written only if they still do. */
  textVersion: string;
  atMs: number;
  /** The exact text (hash and locale) the grant answered, from its ledger record. */
  textSha256: string;
  locale: string;
  country: string | null;
  birthYear: number | null;
};

/** Why this grant lapses at nowMs, or null if it still counts. An age-gate lapse comes first: re-consenting cannot cure it. */
export function lapseOf(candidate: LapseCandidate, policy: ConsentPolicy, agePolicy: AgePolicy, nowMs: number): LapseReason | null {
  const gate = ageGate(agePolicy, { country: candidate.country, birthYear: candidate.birthYear }, candidate.purpose, nowMs);
  if (!gate.allowed) return 'age-gate';
  const lapse = grantLapse({ granted: true, textVersion: candidate.textVersion, atMs: candidate.atMs }, candidate.purpose, policy, nowMs);
  // A version this catalog does not hold was published by a newer deployment (instances updated one by one):
  // it is not this instance's to withdraw as superseded. Its send path still reads it as not granted (fail closed).
  if (lapse === 'text-superseded' && policy.knownVersions !== undefined && !policy.knownVersions[candidate.purpose].includes(candidate.textVersion)) {
    return nowMs - candidate.atMs >= policy.validityMs ? 'expired' : null;
  }
  return lapse;
}

/** The server's withdrawal record for a lapse: it names the text whose grant ended. */
export function lapseRecord(candidate: LapseCandidate, reason: LapseReason, id: string, nowMs: number): ConsentRecord {
  return {
    id, shopperId: candidate.shopperId, purpose: candidate.purpose, granted: false, textVersion: candidate.textVersion,
    textSha256: candidate.textSha256, locale: candidate.locale, serverTimeMs: nowMs, clientTimeMs: null, channel: 'system',
    previousGranted: true, reason,
  };
}

/** A grant this close to lapsing asks to be renewed (CON-6). */
export const RENEWAL_WINDOW_MS = 30 * 86_400_000;

export type PurposeStatus = 'granted' | 'withdrawn' | 'unanswered' | 'needs-reconsent' | 'renewal-due' | 'expired';

/** One purpose as the shopper's settings show it; the times belong to the grant in force or the one that lapsed. */
export type PurposeStatusView = { status: PurposeStatus; textVersion: string | null; grantedAtMs: number | null; expiresAtMs: number | null };

/** Each purpose's status from the shopper's ledger records (in order), under the policy at nowMs. */
export function purposeStatuses(records: readonly ConsentRecord[], policy: ConsentPolicy, nowMs: number): Record<Purpose, PurposeStatusView> {
  const last = new Map<Purpose, ConsentRecord>();
  const lastGrant = new Map<Purpose, ConsentRecord>();
  for (const record of records) {
    last.set(record.purpose, record);
    if (record.granted) lastGrant.set(record.purpose, record);
  }
  const views = {} as Record<Purpose, PurposeStatusView>;
  for (const purpose of PURPOSES) {
    const record = last.get(purpose);
    const grant = lastGrant.get(purpose);
    const times = grant === undefined ? { grantedAtMs: null, expiresAtMs: null } : { grantedAtMs: grant.serverTimeMs, expiresAtMs: grant.serverTimeMs + policy.validityMs };
    if (record === undefined) {
      views[purpose] = { status: 'unanswered', textVersion: null, grantedAtMs: null, expiresAtMs: null };
      continue;
    }
    let status: PurposeStatus;
    if (record.granted) {
      const lapse = grantLapse({ granted: true, textVersion: record.textVersion, atMs: record.serverTimeMs }, purpose, policy, nowMs);
      if (lapse === 'text-superseded') status = 'needs-reconsent';
      else if (lapse === 'expired') status = 'expired';
      else status = nowMs >= times.expiresAtMs! - RENEWAL_WINDOW_MS ? 'renewal-due' : 'granted';
    } else if (record.reason === 'text-superseded') status = 'needs-reconsent';
    else if (record.reason === 'expired') status = 'expired';
    else status = 'withdrawn';
    const keepTimes = status !== 'withdrawn';
    views[purpose] = { status, textVersion: record.textVersion, ...(keepTimes ? times : { grantedAtMs: null, expiresAtMs: null }) };
  }
  return views;
}
