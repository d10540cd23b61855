import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ApiError, parseOrThrow } from '../domain/errors.ts';
import { newAppToken } from '../identity.ts';
import { authenticateShopper, DEFAULT_APP_TOKEN_MAX_AGE_MS } from '../auth/app-credential.ts';
import { requireProof } from '../auth/request-proof.ts';
import type { AppDeps } from '../app.ts';

// POST /v1/me/token: the app replaces its credential. It needs the current credential — expired is
// fine — and a request proof, which only the holder of the identity key can make: a leaked token alone
// cannot be turned into a fresh one. The swap is a compare-and-swap on the old credential's hash, so of
// two concurrent rotations one wins (201) and the other gets 409; the old credential is then refused
// with 401 CREDENTIAL_REVOKED.

export const RotateBodySchema = z.object({}).strict().optional();

export async function tokenRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.post('/v1/me/token', async (request, reply) => {
    const shopper = await authenticateShopper(deps, request, { allowExpired: true });
    await requireProof(deps, request, shopper);
    parseOrThrow(RotateBodySchema, request.body);
    const { token, tokenHash } = newAppToken();
    const atMs = deps.now();
    const rotated = await deps.store.rotateAppToken(
      { shopperId: shopper.id, previousTokenHash: shopper.presentedTokenHash, tokenHash, atMs },
      { atMs, actor: 'shopper', action: 'credential.rotated', subject: shopper.id, details: { route: 'POST /v1/me/token' } },
    );
    if (rotated === 'conflict') throw new ApiError('CONFLICT', 'the app credential was rotated meanwhile by another request: use the credential that request returned');
    const maxAgeMs = deps.appTokenMaxAgeMs ?? DEFAULT_APP_TOKEN_MAX_AGE_MS;
    return reply.code(201).send({ token, issuedAtMs: atMs, expiresAtMs: atMs + maxAgeMs });
  });
}
