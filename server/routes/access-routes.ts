import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { principalOf } from '../auth/admin-access.ts';
import { ApiError, parseOrThrow } from '../domain/errors.ts';
import { RoleSchema } from '../domain/principal.ts';
import { hashToken } from '../identity.ts';
import { singleFlight } from '../single-flight.ts';
import { verifyStoredAuditLog } from '../verify-audit-log.ts';
import type { AppDeps } from '../app.ts';

// API keys of the operator API's people and machines (SEC-2), and the audit log read-only (ACC-1) for
// the auditor, with a check of its hash chain. A key is 256 random bits, shown once at its creation; the Store keeps its SHA-256 only.
// The audit log records principal IDs and roles, never a key or a principal's name.

export const ApiKeyBodySchema = z.object({ name: z.string().trim().min(1).max(80), role: RoleSchema }).strict();
export const AuditQuerySchema = z
  .object({ fromSeq: z.coerce.number().int().min(1).default(1), limit: z.coerce.number().int().min(1).max(500).default(100) })
  .strict();

export async function accessRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { store, now } = deps;

  app.post('/v1/admin/api-keys', async (request, reply) => {
    const body = parseOrThrow(ApiKeyBodySchema, request.body);
    const principalId = `pri_${randomUUID().replaceAll('-', '')}`;
    const key = `vk_${randomBytes(32).toString('base64url')}`;
    const createdAtMs = now();
    await store.createPrincipal({ id: principalId, name: body.name, role: body.role, keyHash: hashToken(key), createdAtMs });
    await store.appendAudit({ atMs: createdAtMs, actor: principalOf(request).id, action: 'principal.created', subject: principalId, details: { role: body.role } });
    return reply.code(201).send({ principalId, name: body.name, role: body.role, createdAtMs, key });
  });

  app.get('/v1/admin/api-keys', async () => ({
    principals: (await store.listPrincipals()).map((p) => ({ principalId: p.id, name: p.name, role: p.role, createdAtMs: p.createdAtMs, revokedAtMs: p.revokedAtMs })),
  }));

  app.delete('/v1/admin/api-keys/:principalId', async (request, reply) => {
    const { principalId } = parseOrThrow(z.object({ principalId: z.string().min(1).max(64) }), request.params, 'INVALID_PARAMS');
    if (!(await store.revokePrincipal(principalId, now()))) throw new ApiError('NOT_FOUND', `no active API key of principal ${principalId}`);
    await store.appendAudit({ atMs: now(), actor: principalOf(request).id, action: 'principal.revoked', subject: principalId, details: {} });
    return reply.code(204).send();
  });

  /** The audit log as stored, from a sequence number: entries carry IDs, never personal data (audit-chain.ts). */
  app.get('/v1/admin/audit', async (request) => {
    const { fromSeq, limit } = parseOrThrow(AuditQuerySchema, request.query, 'INVALID_PARAMS');
    const entries = await store.listAudit(fromSeq, limit);
    return { entries, nextSeq: entries.length === limit ? entries[entries.length - 1]!.seq + 1 : null };
  });

  // A walk of the whole chain at a time: requests arriving while one runs get its answer.
  const verify = singleFlight(() => verifyStoredAuditLog(store));

  /**
   * Re-walks the hash chain from entry 1 to the head, as `vicino audit verify` does (server/verify-audit-log.ts):
   * intact, how many entries and the head's hash; else the first bad entry, what is wrong with it and how
   * many entries before it are intact.
   */
  app.get('/v1/admin/audit/verify', async () => {
    const result = await verify();
    const checkedAtMs = now();
    if (result.ok) return { ok: true, entries: result.count, head: result.head, checkedAtMs };
    return { ok: false, entries: result.checked, firstBadSeq: result.fault.seq, fault: result.fault.kind, reason: result.fault.message, checkedAtMs };
  });
}
