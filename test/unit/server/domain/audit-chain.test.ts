import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AUDIT_GENESIS_HASH, AuditDraftSchema, canonicalEntry, canonicalJson, chainEntry, chainHash, createAuditVerifier, verifyAuditChain, type AuditDraft, type AuditRecord } from '#server/domain/audit-chain.ts';

const draft = (n: number, overrides: Partial<AuditDraft> = {}): AuditDraft => ({
  atMs: 1_700_000_000_000 + n, actor: 'admin', action: 'campaign.changed', subject: `campaign-${n}`, details: { status: 'active', zones: n }, ...overrides,
});

function chainOf(drafts: readonly AuditDraft[]): AuditRecord[] {
  const records: AuditRecord[] = [];
  for (const d of drafts) records.push(chainEntry(records.at(-1), d));
  return records;
}

describe('audit chain', () => {
  it('chains the first entry to the genesis value and each next one to the hash before it', () => {
    const [first, second] = chainOf([draft(1), draft(2)]);
    expect(first).toMatchObject({ seq: 1, prevHash: AUDIT_GENESIS_HASH });
    expect(second).toMatchObject({ seq: 2, prevHash: first!.hash });
    // hash_i = SHA-256(hash_{i-1} ‖ canonical(entry_i)), recomputed here independently of chainHash.
    const expected = createHash('sha256').update(Buffer.from(first!.hash, 'hex')).update(canonicalEntry(second!)).digest('hex');
    expect(second!.hash).toBe(expected);
    expect(chainHash(first!.hash, second!)).toBe(expected);
  });

  it('serialises an entry canonically: fixed field order, details keys sorted at every depth', () => {
    const entry = { seq: 3, atMs: 5, actor: 'shopper', action: 'consent.changed', subject: 's-1', details: { b: 1, a: { d: [true, null], c: 'x' } } };
    expect(canonicalEntry(entry).toString('utf8')).toBe('[3,5,"shopper","consent.changed","s-1",{"a":{"c":"x","d":[true,null]},"b":1}]');
    const reordered = { ...entry, details: { a: { c: 'x', d: [true, null] }, b: 1 } };
    expect(chainHash(AUDIT_GENESIS_HASH, reordered)).toBe(chainHash(AUDIT_GENESIS_HASH, entry));
    expect(canonicalJson('é"')).toBe('"é\\""');
  });

  it('verifies an intact chain and reports its length and head', () => {
    const records = chainOf([1, 2, 3, 4].map((n) => draft(n)));
    expect(verifyAuditChain(records)).toEqual({ ok: true, count: 4, head: records[3]!.hash });
    expect(verifyAuditChain([])).toEqual({ ok: true, count: 0, head: AUDIT_GENESIS_HASH });
  });

  it('names an altered entry', () => {
    const records = chainOf([1, 2, 3, 4].map((n) => draft(n)));
    records[2] = { ...records[2]!, details: { status: 'paused', zones: 3 } };
    expect(verifyAuditChain(records)).toEqual({ ok: false, fault: { seq: 3, kind: 'altered', message: 'entry 3: altered (hash does not match its content)' } });
  });

  it('names a removed entry by the gap it leaves, including the first one', () => {
    const records = chainOf([1, 2, 3, 4].map((n) => draft(n)));
    expect(verifyAuditChain([records[0]!, records[2]!, records[3]!])).toEqual({ ok: false, fault: { seq: 2, kind: 'missing', message: 'entry 2: missing (sequence jumps from 1 to 3)' } });
    expect(verifyAuditChain(records.slice(1))).toMatchObject({ ok: false, fault: { seq: 1, kind: 'missing' } });
  });

  it('names entries out of order', () => {
    const records = chainOf([1, 2, 3].map((n) => draft(n)));
    expect(verifyAuditChain([records[0]!, records[2]!, records[1]!])).toMatchObject({ ok: false, fault: { seq: 2, kind: 'missing' } });
    expect(verifyAuditChain([records[0]!, records[1]!, records[1]!])).toMatchObject({ ok: false, fault: { seq: 2, kind: 'out-of-order' } });
  });

  it('names an entry inserted with a hash of its own but a link to the wrong predecessor', () => {
    const records = chainOf([1, 2, 3].map((n) => draft(n)));
    // A forged entry 3 that hashes correctly but chains to entry 1, not entry 2.
    const forged = chainEntry({ seq: 2, hash: records[0]!.hash }, draft(9));
    expect(verifyAuditChain([records[0]!, records[1]!, forged])).toEqual({
      ok: false, fault: { seq: 3, kind: 'broken-link', message: 'entry 3: broken link (its previous hash is not the hash of entry 2; inserted or re-chained)' },
    });
  });

  it('finds the same first fault whether the records come in one page or many', () => {
    const records = chainOf(Array.from({ length: 10 }, (_, i) => draft(i)));
    records[6] = { ...records[6]!, actor: 'someone-else' };
    const verifier = createAuditVerifier();
    for (let i = 0; i < records.length; i += 3) verifier.push(records.slice(i, i + 3));
    expect(verifier.fault).toMatchObject({ seq: 7, kind: 'altered' });
    expect(verifier.count).toBe(6);
  });

  it('refuses a draft with a bad field, naming it', () => {
    const result = AuditDraftSchema.safeParse(draft(1, { action: 'Not An Action' }));
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['action']);
    expect(AuditDraftSchema.safeParse(draft(1, { details: { big: 'x'.repeat(300) } })).success).toBe(false);
    expect(AuditDraftSchema.safeParse(draft(1)).success).toBe(true);
  });

  it('detects any single alteration or deletion at the right entry (property)', () => {
    const value = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null));
    const arbDraft = fc.record({
      atMs: fc.nat(), actor: fc.constantFrom('admin', 'shopper', 'system'), action: fc.constantFrom('consent.changed', 'campaign.changed', 'store.changed'),
      subject: fc.string({ maxLength: 12 }), details: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), value, { maxKeys: 4 }),
    });
    const field = fc.constantFrom('atMs', 'actor', 'action', 'subject', 'details', 'prevHash', 'hash');
    fc.assert(fc.property(fc.array(arbDraft, { minLength: 2, maxLength: 30 }), fc.nat(), fc.boolean(), field, (drafts, pick, remove, which) => {
      const records = chainOf(drafts);
      expect(verifyAuditChain(records)).toMatchObject({ ok: true, count: records.length });
      if (remove) {
        // The last entry is left alone: its removal shows only against a head recorded elsewhere.
        const index = pick % (records.length - 1);
        records.splice(index, 1);
        expect(verifyAuditChain(records)).toMatchObject({ ok: false, fault: { seq: index + 1, kind: 'missing' } });
        return;
      }
      const index = pick % records.length;
      const original = records[index]!;
      const altered: AuditRecord = { ...original };
      if (which === 'atMs') altered.atMs = original.atMs + 1;
      else if (which === 'details') altered.details = { ...original.details, tampered: true };
      else if (which === 'prevHash' || which === 'hash') altered[which] = createHash('sha256').update(original[which]).digest('hex');
      else altered[which] = `${original[which]}x`;
      records[index] = altered;
      expect(verifyAuditChain(records)).toMatchObject({ ok: false, fault: { seq: index + 1, kind: 'altered' } });
    }), { numRuns: 300 });
  });
});
