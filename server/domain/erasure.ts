import { createHash } from 'node:crypto';
import { canonicalJson } from '#gateway/protocol/index.ts';
import { exportedConsentRecord } from './shopper-export.ts';
import type { ConsentRecord, ConsentState } from './consent.ts';

// Erasure (DSR-2, ID-4): everything about the shopper is deleted in one transaction, their sealed
// identity key first among it (crypto-shredding: their app's tokens never resolve again). What is kept
// is a minimal proof that they consented and withdrew — without personal content — so the controller
// can still show lawful processing (GDPR art. 7(1), 17(3)(e)) after the ledger itself is gone:
//   the shopper ID (random, opaque), when, how many consent records there were, the SHA-256 of the
//   canonical ledger (so a copy the shopper kept, e.g. an earlier export, can be matched to it) and the
//   final per-purpose state with its times and text versions. No locale, client time, name or token.
// Pure: hashing and shaping only; the Store writes it (docs/data-subject-rights.md).

/** The final state of one purpose when the ledger was erased. */
export type ErasedPurposeState = { granted: boolean; textVersion: string; atMs: number };

export type ErasureProof = {
  shopperId: string;
  erasedAtMs: number;
  consentRecords: number;
  /** SHA-256 (hex) of canonicalLedger(records): the deleted ledger's fingerprint. */
  consentLedgerSha256: string;
  finalState: ConsentState;
};

/** Rows each erasure deleted, by kind: what the audit entry records (counts only). */
export type ErasureCounts = {
  consentRecords: number;
  consentStates: number;
  presenceEvents: number;
  zoneStates: number;
  /** Visit-history rows (one per store visited). */
  visits: number;
  promotions: number;
  beacons: number;
};

/**
 * The canonical ledger: the records in ledger order, each as canonical JSON (keys sorted, no
 * whitespace), in a JSON array — the same form as an export's consents.records, so a kept export can
 * be checked against the proof.
 */
export function canonicalLedger(records: readonly ConsentRecord[]): string {
  return canonicalJson(records.map(exportedConsentRecord));
}

export function erasureProof(shopperId: string, erasedAtMs: number, records: readonly ConsentRecord[], finalState: ConsentState): ErasureProof {
  return {
    shopperId, erasedAtMs, consentRecords: records.length,
    consentLedgerSha256: createHash('sha256').update(canonicalLedger(records), 'utf8').digest('hex'),
    finalState: Object.fromEntries(Object.entries(finalState).map(([purpose, s]) => [purpose, { granted: s.granted, textVersion: s.textVersion, atMs: s.atMs }])),
  };
}

/** The revoked credential's stored value: never a SHA-256 hex digest, so no token can ever match it. */
export const revokedTokenHash = (shopperId: string): string => `erased:${shopperId}`;
