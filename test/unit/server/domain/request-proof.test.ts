import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalProofString, nonceExpiresAtMs, parseProof, proofFreshness, proofKeyFor, proofSignature, proofSignatureMatches, PROOF_MAX_SKEW_S,
} from '#server/domain/request-proof.ts';
import { createProofSigner } from '#simulator/app/request-proof.ts';

// The worked example of docs/app-integration.md "Request proofs". Its key and signature were computed
// outside this code too (openssl kdf HKDF and openssl dgst -hmac; Python hmac), so a developer can check theirs.
const EXAMPLE = {
  identityKeyHex: '000102030405060708090a0b0c0d0e0f',
  proofKeyHex: '449c030b8f0fb553b6d8dadbdccaa779b4e40dd7f2fbb9200a8bcc7b698f6af6',
  request: { method: 'POST', pathWithQuery: '/v1/me/token', body: '' },
  timeS: 1_764_547_200,
  nonce: '00112233445566778899aabbccddeeff',
  canonical: 'vicino-proof-v1\nPOST\n/v1/me/token\n1764547200\n00112233445566778899aabbccddeeff\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  signature: 'a09b1c1372408f9ea8c5697eef19a2317fc985f9b5a4f4a828a4ed979e79c957',
};

const identityKey = Buffer.from(EXAMPLE.identityKeyHex, 'hex');

describe('request proofs', () => {
  it('matches the documented example, on the server side and the app side', () => {
    const key = proofKeyFor(identityKey);
    expect(key.toString('hex')).toBe(EXAMPLE.proofKeyHex);
    expect(canonicalProofString(EXAMPLE.request, EXAMPLE.timeS, EXAMPLE.nonce)).toBe(EXAMPLE.canonical);
    expect(proofSignature(key, EXAMPLE.request, EXAMPLE.timeS, EXAMPLE.nonce)).toBe(EXAMPLE.signature);
    const header = createProofSigner(identityKey).sign({ ...EXAMPLE.request, nowMs: EXAMPLE.timeS * 1000 + 999, nonceHex: EXAMPLE.nonce });
    expect(header).toBe(`t=${EXAMPLE.timeS},n=${EXAMPLE.nonce},sig=${EXAMPLE.signature}`);
  });

  it('is the example docs/app-integration.md shows, value for value', () => {
    const doc = readFileSync(new URL('../../../../docs/app-integration.md', import.meta.url), 'utf8');
    expect(doc).toContain(`| IK (16 bytes) | \`${EXAMPLE.identityKeyHex}\` |`);
    expect(doc).toContain(`| proof key | \`${EXAMPLE.proofKeyHex}\` |`);
    expect(doc).toContain(`t = \`${EXAMPLE.timeS}\`, n = \`${EXAMPLE.nonce}\``);
    expect(doc).toContain(`| canonical string | \`${EXAMPLE.canonical.replaceAll('\n', '\\n')}\` |`);
    expect(doc).toContain(`Vicino-Proof: t=${EXAMPLE.timeS},n=${EXAMPLE.nonce},sig=${EXAMPLE.signature}`);
  });

  it('verifies what the app signs, for any request, and nothing that differs in one part', () => {
    const key = proofKeyFor(identityKey);
    const signer = createProofSigner(identityKey);
    fc.assert(fc.property(
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), fc.webPath(), fc.string(), fc.integer({ min: 0, max: 4_000_000_000 }),
      (method, path, body, timeS) => {
        const request = { method, pathWithQuery: path || '/', body };
        const parsed = parseProof(signer.sign({ ...request, nowMs: timeS * 1000 }));
        if (!parsed.ok) return false;
        expect(proofSignatureMatches(key, request, parsed.proof)).toBe(true);
        expect(proofSignatureMatches(key, { ...request, body: `${body}x` }, parsed.proof)).toBe(false);
        expect(proofSignatureMatches(key, { ...request, pathWithQuery: `${request.pathWithQuery}?a=1` }, parsed.proof)).toBe(false);
        expect(proofSignatureMatches(key, { ...request, method: method === 'GET' ? 'POST' : 'GET' }, parsed.proof)).toBe(false);
        expect(proofSignatureMatches(key, request, { ...parsed.proof, timeS: parsed.proof.timeS + 1 })).toBe(false);
        return true;
      },
    ), { numRuns: 200 });
  });

  it('refuses a proof made with another identity key', () => {
    const other = createProofSigner(Buffer.alloc(32, 7));
    const parsed = parseProof(other.sign({ ...EXAMPLE.request, nowMs: EXAMPLE.timeS * 1000 }));
    expect(parsed.ok && proofSignatureMatches(proofKeyFor(identityKey), EXAMPLE.request, parsed.proof)).toBe(false);
  });

  it.each([
    [undefined, 'missing'],
    [['t=1,n=00112233445566778899aabbccddeeff,sig=' + 'a'.repeat(64), 'x'], 'more than once'],
    ['t=1,n=0011,sig=' + 'a'.repeat(64), 'not of the form'],
    ['t=-1,n=00112233445566778899aabbccddeeff,sig=' + 'a'.repeat(64), 'not of the form'],
    ['t=1.5,n=00112233445566778899aabbccddeeff,sig=' + 'a'.repeat(64), 'not of the form'],
    ['t=1,n=00112233445566778899AABBCCDDEEFF,sig=' + 'a'.repeat(64), 'not of the form'],
    ['t=1,n=00112233445566778899aabbccddeeff,sig=' + 'a'.repeat(63), 'not of the form'],
    ['n=00112233445566778899aabbccddeeff,t=1,sig=' + 'a'.repeat(64), 'not of the form'],
    ['Bearer abc', 'not of the form'],
  ])('refuses the header %j (%s)', (value, problem) => {
    const parsed = parseProof(value);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.problem).toContain(problem);
  });

  it('never throws on arbitrary header text', () => {
    fc.assert(fc.property(fc.string(), (value) => typeof parseProof(value).ok === 'boolean'));
  });

  it(`accepts a time up to ${PROOF_MAX_SKEW_S} s either side of now, and remembers the nonce until the time alone would refuse it`, () => {
    const proof = { timeS: 1_000_000, nonce: EXAMPLE.nonce, signature: EXAMPLE.signature };
    expect(proofFreshness(proof, (1_000_000 + PROOF_MAX_SKEW_S) * 1000)).toBe('fresh');
    expect(proofFreshness(proof, (1_000_000 - PROOF_MAX_SKEW_S) * 1000)).toBe('fresh');
    expect(proofFreshness(proof, (1_000_000 + PROOF_MAX_SKEW_S) * 1000 + 1)).toBe('expired');
    expect(proofFreshness(proof, (1_000_000 - PROOF_MAX_SKEW_S) * 1000 - 1)).toBe('expired');
    expect(proofFreshness(proof, nonceExpiresAtMs(proof))).toBe('expired');
  });

  it('stops signing once the app forgets its key', () => {
    const signer = createProofSigner(identityKey);
    signer.forget();
    expect(() => signer.sign({ ...EXAMPLE.request, nowMs: 0 })).toThrow(/forgotten/);
  });
});
