import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

// Request proofs (issue 5): a sensitive shopper request carries, besides its bearer token, a MAC made
// with a key only the app and the server hold — derived from the shopper's identity key, which both
// sides derived at registration and which never travels. A stolen bearer token alone cannot make one;
// the time and single-use nonce in it make a captured request useless to replay.
//
//   Vicino-Proof: t=<unix seconds>,n=<16 random bytes, 32 lowercase hex>,sig=<64 lowercase hex>
//   key  = HKDF-SHA-256(IKM = identity key, salt = empty, info = "vicino request proof v1", L = 32)
//   sig  = HMAC-SHA-256(key, canonical string)
//   canonical string = "vicino-proof-v1\n" ‖ METHOD ‖ "\n" ‖ path with query ‖ "\n" ‖ t ‖ "\n" ‖ n ‖ "\n" ‖ hex SHA-256(body bytes)
//
// Pure: parsing, the canonical string and the check. Time, nonce single use and auditing are the
// caller's (server/auth/request-proof.ts). simulator/app/request-proof.ts is the app's side, written
// from this description with no server imports, so a test that one verifies the other checks both.

export const PROOF_HEADER = 'vicino-proof';
export const PROOF_KEY_INFO = 'vicino request proof v1';
export const PROOF_VERSION_LINE = 'vicino-proof-v1';
/** How far a proof's time may be from the server's clock, either way. */
export const PROOF_MAX_SKEW_S = 300;

export type RequestProof = { timeS: number; nonce: string; signature: string };
export type ProofRequest = { method: string; pathWithQuery: string; body: Buffer | string };

/** The proof key: HKDF-SHA-256 of the identity key (info "vicino request proof v1", no salt), 32 bytes. */
export const proofKeyFor = (identityKey: Buffer): Buffer => Buffer.from(hkdfSync('sha256', identityKey, Buffer.alloc(0), PROOF_KEY_INFO, 32));

const PROOF_PATTERN = /^t=(0|[1-9][0-9]{0,11}),n=([0-9a-f]{32}),sig=([0-9a-f]{64})$/;

/** Parses a Vicino-Proof header value, or says what is wrong with it. */
export function parseProof(value: string | string[] | undefined): { ok: true; proof: RequestProof } | { ok: false; problem: string } {
  if (value === undefined) return { ok: false, problem: 'missing' };
  if (Array.isArray(value)) return { ok: false, problem: 'sent more than once' };
  const match = PROOF_PATTERN.exec(value.trim());
  if (match === null) return { ok: false, problem: 'not of the form t=<unix seconds>,n=<32 lowercase hex>,sig=<64 lowercase hex>' };
  return { ok: true, proof: { timeS: Number(match[1]), nonce: match[2]!, signature: match[3]! } };
}

export const sha256Hex = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

/** The exact bytes the MAC covers. The method is upper-cased; the path is as sent, query included. */
export function canonicalProofString(request: ProofRequest, timeS: number, nonce: string): string {
  return [PROOF_VERSION_LINE, request.method.toUpperCase(), request.pathWithQuery, String(timeS), nonce, sha256Hex(request.body)].join('\n');
}

export const proofSignature = (proofKey: Buffer, request: ProofRequest, timeS: number, nonce: string): string =>
  createHmac('sha256', proofKey).update(canonicalProofString(request, timeS, nonce), 'utf8').digest('hex');

/** Whether the signature is right for this request, compared in constant time. */
export function proofSignatureMatches(proofKey: Buffer, request: ProofRequest, proof: RequestProof): boolean {
  const expected = Buffer.from(proofSignature(proofKey, request, proof.timeS, proof.nonce), 'hex');
  const given = Buffer.from(proof.signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** 'fresh' when the proof's time is within PROOF_MAX_SKEW_S of now (either way). */
export const proofFreshness = (proof: RequestProof, nowMs: number): 'fresh' | 'expired' =>
  Math.abs(nowMs / 1000 - proof.timeS) > PROOF_MAX_SKEW_S ? 'expired' : 'fresh';

/** Until when the nonce must be remembered: past it, the proof's time alone refuses the request. */
export const nonceExpiresAtMs = (proof: RequestProof): number => (proof.timeS + PROOF_MAX_SKEW_S + 1) * 1000;
