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

export const ConsentChannelSchema = z.enum(['app', 'console', 'api']);
export type ConsentChannel = z.infer<typeof ConsentChannelSchema>;

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

/** Marketing needs presence (P1) and promotional messages (P4); personalised content also P2 (MKT-1). */
export function marketingAllowed(state: ConsentState, personalised: boolean): { allowed: true } | { allowed: false; missing: Purpose[] } {
  const needed: Purpose[] = personalised ? ['presence', 'promotions', 'personalisation'] : ['presence', 'promotions'];
  const missing = needed.filter((purpose) => !isGranted(state, purpose));
  return missing.length === 0 ? { allowed: true } : { allowed: false, missing };
}
