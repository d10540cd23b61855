import type { FastifyRequest } from 'fastify';
import { ApiError } from '../domain/errors.ts';
import { hashToken } from '../identity.ts';
import type { AppDeps } from '../app.ts';
import type { ShopperRecord } from '../store/store.ts';
import { auditRefusal, credentialRefusal } from './credential-audit.ts';

// The app credential: a bearer token (256 random bits; only its SHA-256 is stored) that ages from its
// issue and is replaced by POST /v1/me/token (token-routes.ts), which a request proof must sign.
//   unknown                → 401 UNAUTHENTICATED, not audited (nothing to attribute it to)
//   replaced by a rotation → 401 CREDENTIAL_REVOKED, audited once per credential
//   older than the max age → 401 CREDENTIAL_EXPIRED, audited once per credential; rotate it
// "Once per credential" is an atomic conditional update in the Store, so an app retrying in a loop, on
// any number of instances, writes one audit entry rather than one a request.

export const DEFAULT_APP_TOKEN_MAX_AGE_MS = 180 * 86_400_000;

const BEARER = /^Bearer ([A-Za-z0-9_-]{20,128})$/;

export type AuthenticatedShopper = ShopperRecord & { presentedTokenHash: string };

/**
 * The shopper whose app credential the request carries. allowExpired: the credential rotation route
 * accepts an expired credential, since the request proof it also requires shows possession of the key.
 */
export async function authenticateShopper(deps: AppDeps, request: FastifyRequest, options: { allowExpired?: boolean } = {}): Promise<AuthenticatedShopper> {
  const header = request.headers.authorization;
  const match = header === undefined ? null : BEARER.exec(header);
  if (match === null) throw new ApiError('UNAUTHENTICATED', 'send the app credential as "Authorization: Bearer <token>"');
  const tokenHash = hashToken(match[1]!);
  const shopper = await deps.store.findShopperByTokenHash(tokenHash);
  if (shopper === undefined) {
    const replaced = await deps.store.findReplacedAppToken(tokenHash);
    // An erased shopper's old credentials say nothing more than unknown ones.
    const owner = replaced === undefined ? undefined : await deps.store.getShopper(replaced.shopperId);
    if (replaced === undefined || owner === undefined || owner.erasedAtMs !== null) throw new ApiError('UNAUTHENTICATED', 'unknown or revoked app credential');
    await auditRefusal(deps, () => deps.store.auditCredentialRefusalOnce({ reason: 'rotated', tokenHash },
      credentialRefusal(deps, request, replaced.shopperId, 'app-token', 'rotated'), deps.now()));
    throw new ApiError('CREDENTIAL_REVOKED', 'the app credential was replaced (POST /v1/me/token): use the credential that rotation returned');
  }
  if (shopper.erasedAtMs !== null) throw new ApiError('UNAUTHENTICATED', 'unknown or revoked app credential');
  const maxAgeMs = deps.appTokenMaxAgeMs ?? DEFAULT_APP_TOKEN_MAX_AGE_MS;
  if (!options.allowExpired && deps.now() - shopper.tokenIssuedAtMs > maxAgeMs) {
    await auditRefusal(deps, () => deps.store.auditCredentialRefusalOnce({ reason: 'expired', shopperId: shopper.id, tokenHash },
      credentialRefusal(deps, request, shopper.id, 'app-token', 'expired'), deps.now()));
    throw new ApiError('CREDENTIAL_EXPIRED',
      `the app credential expired (valid ${Math.floor(maxAgeMs / 86_400_000)} days from issue): rotate it with POST /v1/me/token, signed with a Vicino-Proof header, and retry`);
  }
  return { ...shopper, presentedTokenHash: tokenHash };
}
