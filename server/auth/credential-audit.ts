import type { FastifyRequest } from 'fastify';
import type { AuditDraft } from '../domain/audit-chain.ts';
import type { AppDeps } from '../app.ts';

// The audit entry of a refused shopper credential (ACC-1): who (the shopper's random ID), which
// credential, why, on which route (its pattern, with no IDs). Never the token, nonce or signature.

export type RefusedCredential = 'app-token' | 'request-proof';
export type RefusalReason = 'expired' | 'rotated' | 'invalid' | 'replayed';

export function credentialRefusal(deps: Pick<AppDeps, 'now'>, request: FastifyRequest, shopperId: string, credential: RefusedCredential, reason: RefusalReason): AuditDraft {
  return {
    atMs: deps.now(), actor: 'shopper', action: 'credential.refused', subject: shopperId,
    details: { credential, reason, route: `${request.method} ${request.routeOptions.url ?? '(unknown)'}` },
  };
}

/**
 * Writes a refusal's audit entry. The refusal stands whatever happens here: a Store that cannot write
 * the entry is logged (no identifiers) and the request is refused all the same — never let through.
 */
export async function auditRefusal(deps: Pick<AppDeps, 'logger'>, write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (error) {
    deps.logger.error({ component: 'auth', err: (error as Error).message }, 'credential refusal not audited');
  }
}
