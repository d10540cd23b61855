import { z } from 'zod';

// Purposes (shared/reference/privacy-requirements.md): each consent is separate and optional.
// P1 presence detection · P2 personalisation/profiling · P3 analytics · P4 promotional messages.

export const PurposeSchema = z.enum(['presence', 'personalisation', 'analytics', 'promotions']);
export type Purpose = z.infer<typeof PurposeSchema>;
export const PURPOSES = PurposeSchema.options;

export const PURPOSE_CODES: Record<Purpose, 'P1' | 'P2' | 'P3' | 'P4'> = {
  presence: 'P1',
  personalisation: 'P2',
  analytics: 'P3',
  promotions: 'P4',
};

/** Who wrote a record: the shopper (app), an operator (console, api), or the server itself (a lapse, CON-6/7). */
export const ConsentChannelSchema = z.enum(['app', 'console', 'api', 'system']);
export type ConsentChannel = z.infer<typeof ConsentChannelSchema>;

/**
 * Why the server withdrew a grant (channel 'system'): its text was replaced by a new version (CON-6),
 * it is older than the validity period (CON-6, 12 months by default), or the shopper is below the
 * digital-consent age now configured for their country (CON-7).
 */
export const LapseReasonSchema = z.enum(['text-superseded', 'expired', 'age-gate']);
export type LapseReason = z.infer<typeof LapseReasonSchema>;

/** One append-only consent record (CON-3). Replaying them in order rebuilds the state. */
export type ConsentRecord = {
  id: string;
  shopperId: string;
  purpose: Purpose;
  granted: boolean;
  textVersion: string;
  textSha256: string;
  locale: string;
  serverTimeMs: number;
  clientTimeMs: number | null;
  channel: ConsentChannel;
  /** The purpose's state before this record: true, false, or null if never answered. */
  previousGranted: boolean | null;
  /** Set on the server's own withdrawals (channel 'system') only; null (or absent) on a shopper's answer. */
  reason?: LapseReason | null;
};

/** A record as a caller makes it: the Store fills in previousGranted from the state it holds (Store.appendConsent). */
export type ConsentDraft = Omit<ConsentRecord, 'previousGranted'>;

export type PurposeState = { granted: boolean; textVersion: string; atMs: number };
export type ConsentState = Partial<Record<Purpose, PurposeState>>;

/** Folds records (in order) into the current state: last answer per purpose wins. */
export function replayConsent(records: readonly ConsentRecord[]): ConsentState {
  const state: ConsentState = {};
  for (const record of records) state[record.purpose] = { granted: record.granted, textVersion: record.textVersion, atMs: record.serverTimeMs };
  return state;
}

export const isGranted = (state: ConsentState, purpose: Purpose): boolean => state[purpose]?.granted === true;

/**
 * What a grant must still satisfy to count (CON-6): it answers the purpose's current text version, and
 * it is younger than validityMs. The lapse job writes the withdrawal records; until it has run, the send
 * path applies the same rule through activeConsent, so a lapsed grant is never used in between.
 */
export type ConsentPolicy = {
  currentVersions: Record<Purpose, string>;
  validityMs: number;
  /** Every version the catalog holds, per purpose; a version outside it came from a newer deployment (see consent-lapse.ts). */
  knownVersions?: Record<Purpose, readonly string[]>;
};

/** Why a grant no longer counts under the policy at nowMs, or null if it does (or is not a grant). */
export function grantLapse(state: PurposeState | undefined, purpose: Purpose, policy: ConsentPolicy, nowMs: number): 'text-superseded' | 'expired' | null {
  if (state?.granted !== true) return null;
  if (state.textVersion !== policy.currentVersions[purpose]) return 'text-superseded';
  if (nowMs - state.atMs >= policy.validityMs) return 'expired';
  return null;
}

/** The state with every lapsed grant read as not granted: what a send decision may use. */
export function activeConsent(state: ConsentState, policy: ConsentPolicy, nowMs: number): ConsentState {
  const active: ConsentState = {};
  for (const [purpose, entry] of Object.entries(state) as [Purpose, PurposeState][]) {
    active[purpose] = grantLapse(entry, purpose, policy, nowMs) === null ? entry : { ...entry, granted: false };
  }
  return active;
}

/** Marketing needs presence (P1) and promotional messages (P4); personalised content also P2 (MKT-1). */
export function marketingAllowed(state: ConsentState, personalised: boolean): { allowed: true } | { allowed: false; missing: Purpose[] } {
  const needed: Purpose[] = personalised ? ['presence', 'promotions', 'personalisation'] : ['presence', 'promotions'];
  const missing = needed.filter((purpose) => !isGranted(state, purpose));
  return missing.length === 0 ? { allowed: true } : { allowed: false, missing };
}
