import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '#gateway/protocol/index.ts';

// The tamper-evident audit log (ACC-1): hash_i = SHA-256(hash_{i-1} ‖ canonical(entry_i)), the first
// entry chained to a fixed genesis value. Pure: hashing and verification only, no I/O.
//
// canonical(entry) is the UTF-8 of canonical JSON: an array [seq, atMs, actor, action, subject, details]
// in that fixed order, with `details` serialised with its object keys sorted (recursively) and no
// whitespace. hash_{i-1} enters as its 32 raw bytes, so the pre-image is 32 bytes ‖ canonical JSON.
// Details carry no personal data — IDs, counts, purposes, text versions — never tokens, keys or names.

/** The predecessor of the first entry: SHA-256 of a fixed label, as lower-case hex. */
export const AUDIT_GENESIS_HASH = createHash('sha256').update('vicino.audit.genesis.v1').digest('hex');

export type AuditDetailValue = string | number | boolean | null | readonly AuditDetailValue[] | { readonly [key: string]: AuditDetailValue };
export type AuditDetails = { readonly [key: string]: AuditDetailValue };

/** What a caller asks to be logged; the store gives it its seq and chains it. */
export type AuditDraft = { atMs: number; actor: string; action: string; subject: string; details: AuditDetails };
export type AuditEntry = AuditDraft & { seq: number };
/** One stored row of the chain. */
export type AuditRecord = AuditEntry & { prevHash: string; hash: string };

const DetailValueSchema: z.ZodType<AuditDetailValue> = z.lazy(() =>
  z.union([z.string().max(200), z.number().finite(), z.boolean(), z.null(), z.array(DetailValueSchema).max(50), z.record(z.string(), DetailValueSchema)]));

/** Checks a draft before it is chained: bad input names its field. */
export const AuditDraftSchema = z
  .object({
    atMs: z.number().int().nonnegative(),
    actor: z.string().min(1).max(64),
    action: z.string().regex(/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/, 'action is dotted lower-case words, such as "consent.changed"'),
    subject: z.string().max(128),
    details: z.record(z.string(), DetailValueSchema).refine((details) => canonicalJson(details).length <= 4096, 'details must be at most 4 KiB of JSON'),
  })
  .strict();

/** The draft, checked; a bad one throws an error naming the field at fault. */
export function parseAuditDraft(draft: AuditDraft): AuditDraft {
  const result = AuditDraftSchema.safeParse(draft);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`audit entry ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data as AuditDraft;
}

/**
 * JSON with object keys sorted (by UTF-16 code units) at every depth and no whitespace: the same
 * canonical form the gateways' message tags use (gateway/protocol/event-auth.ts).
 */
export { canonicalJson };

/** canonical(entry_i): the bytes that are hashed after the previous hash. */
export function canonicalEntry(entry: AuditEntry): Buffer {
  return Buffer.from(`[${entry.seq},${entry.atMs},${JSON.stringify(entry.actor)},${JSON.stringify(entry.action)},${JSON.stringify(entry.subject)},${canonicalJson(entry.details)}]`, 'utf8');
}

/** hash_i = SHA-256(hash_{i-1} ‖ canonical(entry_i)), as lower-case hex. */
export function chainHash(prevHash: string, entry: AuditEntry): string {
  return createHash('sha256').update(Buffer.from(prevHash, 'hex')).update(canonicalEntry(entry)).digest('hex');
}

/** The record that follows `head` (undefined for an empty log). */
export function chainEntry(head: Pick<AuditRecord, 'seq' | 'hash'> | undefined, draft: AuditDraft): AuditRecord {
  const entry: AuditEntry = { seq: head === undefined ? 1 : head.seq + 1, atMs: draft.atMs, actor: draft.actor, action: draft.action, subject: draft.subject, details: draft.details };
  const prevHash = head?.hash ?? AUDIT_GENESIS_HASH;
  return { ...entry, prevHash, hash: chainHash(prevHash, entry) };
}

export type AuditFault =
  | { seq: number; kind: 'altered'; message: string }
  | { seq: number; kind: 'missing'; message: string }
  | { seq: number; kind: 'out-of-order'; message: string }
  | { seq: number; kind: 'broken-link'; message: string };

/**
 * Walks stored records in the order read (by seq) and stops at the first bad one. Feed it page after
 * page; `expect` carries what the next record must be. The first seq must be 1 unless the walk starts
 * mid-chain from a trusted head (`from`).
 */
export function createAuditVerifier(from?: Pick<AuditRecord, 'seq' | 'hash'>) {
  let lastSeq = from?.seq ?? 0;
  let lastHash = from?.hash ?? AUDIT_GENESIS_HASH;
  let count = 0;
  let fault: AuditFault | undefined;
  return {
    /** Checks the next records; returns the first fault (and keeps returning it), or undefined. */
    push(records: readonly AuditRecord[]): AuditFault | undefined {
      for (const record of records) {
        if (fault !== undefined) return fault;
        fault = check(record);
        if (fault !== undefined) return fault;
        lastSeq = record.seq;
        lastHash = record.hash;
        count += 1;
      }
      return fault;
    },
    get fault() { return fault; },
    get count() { return count; },
    /** The hash of the last good record (the genesis value before any). */
    get head() { return lastHash; },
    get lastSeq() { return lastSeq; },
  };

  function check(record: AuditRecord): AuditFault | undefined {
    const { seq } = record;
    if (!Number.isSafeInteger(seq) || seq <= lastSeq) {
      return { seq, kind: 'out-of-order', message: `entry ${seq}: out of order (follows entry ${lastSeq}; sequence numbers must increase)` };
    }
    // Content first: a record whose own hash is wrong was altered, whatever else is also wrong with it.
    if (chainHash(record.prevHash, record) !== record.hash) return { seq, kind: 'altered', message: `entry ${seq}: altered (hash does not match its content)` };
    if (seq !== lastSeq + 1) {
      return lastSeq === 0 && from === undefined
        ? { seq: 1, kind: 'missing', message: `entry 1: missing (the log starts at entry ${seq})` }
        : { seq: lastSeq + 1, kind: 'missing', message: `entry ${lastSeq + 1}: missing (sequence jumps from ${lastSeq} to ${seq})` };
    }
    if (record.prevHash !== lastHash) {
      return { seq, kind: 'broken-link', message: `entry ${seq}: broken link (its previous hash is not the hash of entry ${lastSeq === 0 ? 'genesis' : lastSeq}; inserted or re-chained)` };
    }
    return undefined;
  }
}

/** Verifies a whole chain held in memory. */
export function verifyAuditChain(records: readonly AuditRecord[]): { ok: true; count: number; head: string } | { ok: false; fault: AuditFault } {
  const verifier = createAuditVerifier();
  const fault = verifier.push(records);
  return fault === undefined ? { ok: true, count: verifier.count, head: verifier.head } : { ok: false, fault };
}
