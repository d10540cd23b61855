import { createAuditVerifier, type AuditFault } from './domain/audit-chain.ts';
import type { Store } from './store/store.ts';

// Re-walks the audit log's hash chain (ACC-1, domain/audit-chain.ts) from entry 1 to the head, page by
// page, and names the first entry that was altered, removed, reordered or re-linked: what
// `vicino audit verify` prints and GET /v1/admin/audit/verify answers.

export const DEFAULT_AUDIT_PAGE_SIZE = 1_000;

/** Intact: how many entries and the head's hash; broken: the first fault and how many entries before it are intact. */
export type AuditVerification = { ok: true; count: number; head: string } | { ok: false; fault: AuditFault; checked: number };

/** Walks the whole chain in pages of pageSize, stopping at the first bad entry. */
export async function verifyStoredAuditLog(store: Store, pageSize = DEFAULT_AUDIT_PAGE_SIZE): Promise<AuditVerification> {
  const verifier = createAuditVerifier();
  for (let from = 1; ;) {
    const page = await store.listAudit(from, pageSize);
    const fault = verifier.push(page);
    if (fault !== undefined) return { ok: false, fault, checked: verifier.count };
    if (page.length < pageSize) return { ok: true, count: verifier.count, head: verifier.head };
    from = page.at(-1)!.seq + 1;
  }
}
