import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../domain/errors.ts';
import {
  nonceExpiresAtMs, parseProof, PROOF_HEADER, PROOF_MAX_SKEW_S, proofFreshness, proofKeyFor, proofSignatureMatches,
} from '../domain/request-proof.ts';
import { identityKeyLabel } from '../resolver.ts';
import type { AppDeps } from '../app.ts';
import type { ShopperRecord } from '../store/store.ts';
import { authenticateShopper, type AuthenticatedShopper } from './app-credential.ts';
import { auditRefusal, credentialRefusal, type RefusalReason } from './credential-audit.ts';

// Checks a request's Vicino-Proof header (domain/request-proof.ts) for a shopper already authenticated
// by their bearer token. The signature is checked first, so a forged header can neither burn a nonce
// nor be audited as anything but invalid; then the time (±300 s); then the nonce is claimed, once
// across every instance (Store.claimProofNonce, a conditional insert).
//   missing or malformed → 401 PROOF_REQUIRED (the header is named); not audited
//   bad signature        → 401 PROOF_INVALID, audited
//   too old or too early → 401 PROOF_EXPIRED, audited
//   nonce already used   → 401 PROOF_REPLAYED, audited
// An erased shopper's identity key is gone (NULL): no proof of theirs can ever verify.
//
// The MAC covers the body's exact bytes, so captureRawBodies keeps them beside the parsed JSON.

const rawBodies = new WeakMap<FastifyRequest, Buffer>();

/** Replaces the JSON body parser with the same parser that also keeps the raw bytes for requireProof. */
export function captureRawBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    rawBodies.set(request, body as Buffer);
    parseJson(request, (body as Buffer).toString('utf8'), done);
  });
}

const DOCS = 'see docs/app-integration.md "Request proofs"';

/** Refuses the request (401) unless it carries a valid, fresh, unused proof made with this shopper's identity key. */
export async function requireProof(deps: AppDeps, request: FastifyRequest, shopper: ShopperRecord): Promise<void> {
  const parsed = parseProof(request.headers[PROOF_HEADER]);
  if (!parsed.ok) {
    throw new ApiError('PROOF_REQUIRED', `this request must be signed: Vicino-Proof header ${parsed.problem}; send "Vicino-Proof: t=<unix seconds>,n=<16 random bytes hex>,sig=<HMAC-SHA-256 hex>" (${DOCS})`, ['headers.vicino-proof']);
  }
  const { proof } = parsed;
  const refuse = async (code: 'PROOF_INVALID' | 'PROOF_EXPIRED' | 'PROOF_REPLAYED', reason: RefusalReason, message: string): Promise<never> => {
    await auditRefusal(deps, () => deps.store.appendAudit(credentialRefusal(deps, request, shopper.id, 'request-proof', reason)));
    throw new ApiError(code, message, ['headers.vicino-proof']);
  };

  let valid = false;
  if (shopper.identityKeySealed !== null) {
    const identityKey = deps.sealer.open(shopper.identityKeySealed, identityKeyLabel(shopper.id));
    const proofKey = proofKeyFor(identityKey);
    identityKey.fill(0);
    const body = rawBodies.get(request) ?? Buffer.alloc(0);
    valid = proofSignatureMatches(proofKey, { method: request.method, pathWithQuery: request.url, body }, proof);
    proofKey.fill(0);
  }
  if (!valid) await refuse('PROOF_INVALID', 'invalid', `Vicino-Proof: the signature does not match this request (method, path with query, t, n and the body's SHA-256) under this app's key (${DOCS})`);
  if (proofFreshness(proof, deps.now()) === 'expired') {
    await refuse('PROOF_EXPIRED', 'expired', `Vicino-Proof: t is more than ${PROOF_MAX_SKEW_S} s from the server's time (${Math.floor(deps.now() / 1000)}); sign again with the current time`);
  }
  if ((await deps.store.claimProofNonce(shopper.id, proof.nonce, nonceExpiresAtMs(proof))) === 'replay') {
    await refuse('PROOF_REPLAYED', 'replayed', 'Vicino-Proof: this nonce was used already; sign each request with a fresh random nonce');
  }
}

/**
 * For a route that must be signed (the data-subject rights routes: export, erasure, objection,
 * restriction): the shopper of the bearer credential (which must not have expired), once the request's
 * Vicino-Proof has been verified for them. Throws the 401 of whichever check failed.
 */
export async function authenticateSignedRequest(deps: AppDeps, request: FastifyRequest): Promise<AuthenticatedShopper> {
  const shopper = await authenticateShopper(deps, request);
  await requireProof(deps, request, shopper);
  return shopper;
}
