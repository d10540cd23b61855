import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backoffMs, classifyWebhookStatus, DEFAULT_BACKOFF, retryAfterMs, verifyWebhookSignature, webhookSignature } from '#server/domain/webhook.ts';

const SECRET = 'whsec_0123456789abcdef0123456789abcdef';
const BODY = '{"promotion":{"id":"pr_x"}}';

describe('webhook signature', () => {
  it('matches a pinned example a receiver can recompute (openssl dgst -sha256 -hmac)', () => {
    // printf '%s' '1764558000.{"promotion":{"id":"pr_x"}}' | openssl dgst -sha256 -hmac 'whsec_0123456789abcdef0123456789abcdef'
    expect(webhookSignature(SECRET, BODY, 1764558000)).toBe('t=1764558000,v1=4ba787851099104141a874fa730d53fcb1f75c67499693678c1122dd830e1ccc');
  });

  it('verifies its own signature within the tolerance, and refuses a changed body, secret, time or a stale t', () => {
    const header = webhookSignature(SECRET, BODY, 1764558000);
    expect(verifyWebhookSignature(SECRET, BODY, header, 1764558000 + 299)).toBe(true);
    expect(verifyWebhookSignature(SECRET, `${BODY} `, header, 1764558000)).toBe(false);
    expect(verifyWebhookSignature(`${SECRET}x`, BODY, header, 1764558000)).toBe(false);
    expect(verifyWebhookSignature(SECRET, BODY, header.replace('t=1764558000', 't=1764558001'), 1764558000)).toBe(false);
    expect(verifyWebhookSignature(SECRET, BODY, header, 1764558000 + 301)).toBe(false);
  });

  it('refuses malformed headers without throwing', () => {
    fc.assert(fc.property(fc.string(), (header) => {
      expect(verifyWebhookSignature(SECRET, BODY, header, 1764558000)).toBe(false);
    }));
  });
});

describe('webhook backoff', () => {
  it('doubles from 1 s to the 5 min cap, jittered within [half, whole]', () => {
    const lows = [1, 2, 3, 4, 5, 9, 10, 20].map((attempt) => backoffMs(attempt, DEFAULT_BACKOFF, 0));
    const highs = [1, 2, 3, 4, 5, 9, 10, 20].map((attempt) => backoffMs(attempt, DEFAULT_BACKOFF, 0.999_999));
    expect(lows).toEqual([500, 1_000, 2_000, 4_000, 8_000, 128_000, 150_000, 150_000]);
    expect(highs).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 256_000, 300_000, 300_000]);
  });

  it('stays within [0, cap] for any attempt and draw', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, random) => {
      const delay = backoffMs(attempt, { baseMs: 10, capMs: 1_000 }, random);
      expect(delay).toBeGreaterThanOrEqual(5);
      expect(delay).toBeLessThanOrEqual(1_000);
    }));
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const nowMs = Date.parse('2026-12-01T03:00:00Z');
    expect(retryAfterMs('7', nowMs)).toBe(7_000);
    expect(retryAfterMs('Tue, 01 Dec 2026 03:00:30 GMT', nowMs)).toBe(30_000);
    expect(retryAfterMs('soon', nowMs)).toBeUndefined();
    expect(retryAfterMs(null, nowMs)).toBeUndefined();
  });

  it('classifies statuses: 2xx sent, 408/429/5xx retry, other 4xx a permanent refusal', () => {
    expect([200, 204, 400, 401, 404, 408, 410, 429, 500, 503].map(classifyWebhookStatus))
      .toEqual(['sent', 'sent', 'refused', 'refused', 'refused', 'retry', 'refused', 'retry', 'retry', 'retry']);
  });
});
