import { PURPOSES, type Purpose } from '../domain/consent.ts';
import type { LapseCandidate } from '../domain/consent-lapse.ts';
import { num, numOrNull, type Row } from './rows.ts';
import type { ArchivedConsentText, LapseCandidateQuery } from './store.ts';

// The consent ledger's statements shared by the SQL adapters: the lapse job's candidate query and the
// rebuild of consent_state from consent_records (CON-3, CON-6, CON-7). Portable SQL; the placeholders are
// filled per driver, and text order is bytewise in both (COLLATE "C" on PostgreSQL, SQLite's default).

type Placeholders = 'numbered' | 'question';

/** The candidate query and its parameters, in placeholder order. */
export function lapseCandidateStatement(query: LapseCandidateQuery, placeholders: Placeholders): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const p = (value: unknown): string => {
    params.push(value);
    return placeholders === 'numbered' ? `$${params.length}` : '?';
  };
  const collate = placeholders === 'numbered' ? ' COLLATE "C"' : '';
  const after = query.after ?? { shopperId: '', purpose: '' };
  // Placeholders are numbered as they are made: make them in the order they appear in the text ('?' is positional).
  const afterKey = `(c.shopper_id${collate} > ${p(after.shopperId)}${collate} OR (c.shopper_id = ${p(after.shopperId)} AND c.purpose${collate} > ${p(after.purpose)}${collate}))`;
  const old = `c.at_ms < ${p(query.grantedBeforeMs)}`;
  const superseded = PURPOSES.map((purpose) => `(c.purpose = ${p(purpose)} AND c.text_version <> ${p(query.currentVersions[purpose])})`).join(' OR ');
  const gated = query.ageGated.purposes.length === 0 ? '' :
    ` OR (c.purpose IN (${query.ageGated.purposes.map((purpose) => p(purpose)).join(', ')}) AND (s.birth_year IS NULL OR s.birth_year > ${p(query.ageGated.bornAfterYear)}))`;
  const sql = `SELECT c.shopper_id, c.purpose, c.text_version, c.at_ms, s.country, s.birth_year, r.text_sha256, r.locale
    FROM consent_state c JOIN shoppers s ON s.id = c.shopper_id
    JOIN consent_records r ON r.shopper_id = c.shopper_id AND r.seq = (SELECT MAX(r2.seq) FROM consent_records r2 WHERE r2.shopper_id = c.shopper_id AND r2.purpose = c.purpose)
    WHERE c.granted = 1 AND s.erased_at_ms IS NULL AND ${afterKey} AND (${old} OR ${superseded}${gated})
    ORDER BY c.shopper_id${collate}, c.purpose${collate} LIMIT ${p(query.limit)}`;
  return { sql, params };
}

export const toLapseCandidate = (row: Row): LapseCandidate => ({
  shopperId: String(row.shopper_id),
  purpose: row.purpose as Purpose,
  textVersion: String(row.text_version),
  atMs: num(row.at_ms),
  textSha256: String(row.text_sha256),
  locale: String(row.locale),
  country: row.country === null || row.country === undefined ? null : String(row.country),
  birthYear: numOrNull(row.birth_year),
});

export const toArchivedText = (row: Row): ArchivedConsentText => ({
  purpose: row.purpose as Purpose,
  version: String(row.version),
  locale: String(row.locale),
  text: String(row.text),
  sha256: String(row.sha256),
  archivedAtMs: num(row.archived_at_ms),
});

/** Rebuild, step 1: every state row goes. */
export const CLEAR_CONSENT_STATE = 'DELETE FROM consent_state';
/** Rebuild, step 2: each (shopper, purpose)'s last record, by seq, becomes its state — as replayConsent folds them. */
export const REBUILD_CONSENT_STATE = `INSERT INTO consent_state (shopper_id, purpose, granted, text_version, at_ms)
  SELECT r.shopper_id, r.purpose, r.granted, r.text_version, r.server_time_ms FROM consent_records r
  WHERE r.seq = (SELECT MAX(r2.seq) FROM consent_records r2 WHERE r2.shopper_id = r.shopper_id AND r2.purpose = r.purpose)`;

/** The archived text already holding this (purpose, version, locale) under another hash: a text edited without a new version. */
export const conflictMessage = (text: { purpose: string; version: string; locale: string; sha256: string }, archived: string): string =>
  `consent text ${text.purpose} ${text.version} ${text.locale} changed (archived sha256 ${archived}, now ${text.sha256}): publish a changed text as a new version`;

/** The ledger's last record per (shopper, purpose), as state columns: what consent_state must equal. */
const DERIVED_STATE = `SELECT r.shopper_id, r.purpose, r.granted, r.text_version, r.server_time_ms AS at_ms FROM consent_records r
  WHERE r.seq = (SELECT MAX(r2.seq) FROM consent_records r2 WHERE r2.shopper_id = r.shopper_id AND r2.purpose = r.purpose)`;

/** Pairs whose consent_state row differs from the ledger, or exists on one side only; one placeholder: the limit. */
export function consentDriftStatement(placeholders: Placeholders): string {
  const limit = placeholders === 'numbered' ? '$1' : '?';
  const collate = placeholders === 'numbered' ? ' COLLATE "C"' : '';
  return `WITH derived AS (${DERIVED_STATE})
    SELECT shopper_id, purpose FROM (
      SELECT d.shopper_id, d.purpose FROM derived d LEFT JOIN consent_state c ON c.shopper_id = d.shopper_id AND c.purpose = d.purpose
        WHERE c.shopper_id IS NULL OR c.granted <> d.granted OR c.text_version <> d.text_version OR c.at_ms <> d.at_ms
      UNION
      SELECT c.shopper_id, c.purpose FROM consent_state c LEFT JOIN derived d ON d.shopper_id = c.shopper_id AND d.purpose = c.purpose
        WHERE d.shopper_id IS NULL
    ) AS drift ORDER BY shopper_id${collate}, purpose${collate} LIMIT ${limit}`;
}
