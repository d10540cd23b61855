import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AGE_GATED_PURPOSES, latestSafeBirthYear, type AgePolicy } from '../domain/age-gate.ts';
import { lapseOf, lapseRecord, type LapseCandidate } from '../domain/consent-lapse.ts';
import type { ConsentPolicy, ConsentRecord, LapseReason, Purpose } from '../domain/consent.ts';
import type { Metrics } from '../metrics.ts';
import type { ConsentLapseWrite, Store } from '../store/store.ts';
import { singleFlight } from '../single-flight.ts';

// The consent lapse job (CON-6, CON-7): at start and then hourly, it finds the grants that no longer count
// — on a text version the catalog has replaced, older than the validity period, or of an age-gated purpose
// (P2, P4) whose shopper is now below their country's configured age — and withdraws each with a record
// the server writes itself (channel 'system', with the reason). The Store appends a lapse only if the
// state is still the grant the job read, so two instances running at once append it exactly once, and a
// shopper who answered meanwhile keeps their answer. One audit entry per lapse (in the lapse's
// transaction) and one per run; a failed run is the alert (error log + vicino_consent_lapse_failures_total)
// and the next run retries, since nothing it missed stops being a candidate.

export type LapseRunReport = { atMs: number; checked: number; lapsed: Record<LapseReason, number>; failed?: string };

/** Candidates read (and lapses written) per Store call. */
export const DEFAULT_LAPSE_BATCH_LIMIT = 500;

export type ConsentLapseJobDeps = {
  store: Pick<Store, 'listConsentLapseCandidates' | 'appendConsentLapses' | 'appendAudit'>;
  /** The catalog's current versions and the validity period, as the send path applies them. */
  policy: () => ConsentPolicy;
  agePolicy: AgePolicy;
  now: () => number;
  logger: Logger;
  metrics: Pick<Metrics, 'consentLapses' | 'consentLapseFailures'>;
  /** Told of the records each batch appended, after their commit: the resolver and the other instances must learn of a presence lapse. */
  onLapsed?: (records: readonly ConsentRecord[]) => Promise<void>;
  batchLimit?: number;
};

/** A lapse as the Store appends it: the server's withdrawal, the grant it expects to end, and its audit entry (ACC-1, no personal data). */
export function lapseWrite(candidate: LapseCandidate, reason: LapseReason, atMs: number): ConsentLapseWrite {
  return {
    record: lapseRecord(candidate, reason, randomUUID(), atMs),
    expected: { textVersion: candidate.textVersion, atMs: candidate.atMs },
    audit: {
      atMs, actor: 'system', action: 'consent.changed', subject: candidate.shopperId,
      details: { purpose: candidate.purpose, granted: false, previousGranted: true, textVersion: candidate.textVersion, channel: 'system', reason },
    },
  };
}

export type ConsentLapseJob = {
  /** One pass; a run asked for while one is going returns that one's report. */
  run(): Promise<LapseRunReport>;
};

export function createConsentLapseJob(deps: ConsentLapseJobDeps): ConsentLapseJob {
  const { store, agePolicy, now, logger, metrics } = deps;
  const batchLimit = deps.batchLimit ?? DEFAULT_LAPSE_BATCH_LIMIT;

  async function lapseAll(): Promise<LapseRunReport> {
    const atMs = now();
    const policy = deps.policy();
    const report: LapseRunReport = { atMs, checked: 0, lapsed: { 'text-superseded': 0, expired: 0, 'age-gate': 0 } };
    try {
      let after: { shopperId: string; purpose: Purpose } | undefined;
      for (;;) {
        const candidates: LapseCandidate[] = await store.listConsentLapseCandidates({
          // A grant is expired once validityMs has passed (grantLapse): at or before atMs − validityMs.
          currentVersions: policy.currentVersions, grantedBeforeMs: atMs - policy.validityMs + 1,
          ageGated: { purposes: AGE_GATED_PURPOSES, bornAfterYear: latestSafeBirthYear(agePolicy, atMs) }, after, limit: batchLimit,
        });
        report.checked += candidates.length;
        const writes: ConsentLapseWrite[] = [];
        for (const candidate of candidates) {
          const reason = lapseOf(candidate, policy, agePolicy, atMs);
          if (reason === null) continue;
          writes.push(lapseWrite(candidate, reason, atMs));
        }
        if (writes.length > 0) {
          const appended = await store.appendConsentLapses(writes);
          for (const record of appended) {
            report.lapsed[record.reason!] += 1;
            metrics.consentLapses.inc({ reason: record.reason! });
          }
          if (appended.length > 0) await deps.onLapsed?.(appended);
        }
        const last = candidates[candidates.length - 1];
        if (last === undefined || candidates.length < batchLimit) break;
        after = { shopperId: last.shopperId, purpose: last.purpose };
      }
      await store.appendAudit({ atMs, actor: 'system', action: 'consent.lapse-run', subject: 'consent-ledger', details: { checked: report.checked, ...report.lapsed } });
      logger.info({ checked: report.checked, lapsed: report.lapsed }, 'consent lapse run');
    } catch (error) {
      report.failed = error instanceof Error ? error.message : String(error);
      metrics.consentLapseFailures.inc();
      logger.error({ err: report.failed, lapsed: report.lapsed, alert: 'consent' }, 'consent lapse run failed; the next run retries');
    }
    return report;
  }

  return { run: singleFlight(lapseAll) };
}
