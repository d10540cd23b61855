import { createHmac, timingSafeEqual } from 'node:crypto';

// The push-provider webhook's wire rules, pure (server/delivery/webhook-delivery.ts does the I/O).
//
// Signature, Stripe-style (docs/app-integration.md): the header
//   Vicino-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256(secret, t + "." + raw body)>
// binds the body to its send time, so a receiver checks the MAC over the exact bytes it received and
// refuses a t too far from its own clock (a replayed request). Each attempt is signed anew.

export const SIGNATURE_HEADER = 'vicino-signature';

export function webhookSignature(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** A receiver's check: the header's v1 MAC matches the body under the secret and t is within toleranceSeconds of nowSeconds. */
export function verifyWebhookSignature(secret: string, body: string, header: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const parts = new Map(header.split(',').map((part) => {
    const at = part.indexOf('=');
    return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
  }));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}

export type Backoff = { baseMs: number; capMs: number };

export const DEFAULT_BACKOFF: Backoff = { baseMs: 1_000, capMs: 5 * 60_000 };

/**
 * The wait before the retry that follows failed attempt number `attempt` (1-based): exponential,
 * min(cap, base × 2^(attempt−1)), with "equal jitter" — a uniform draw in [half, whole] of it — so
 * many rows failing together (a receiver outage) do not all come back at the same instant.
 * `random` is in [0, 1).
 */
export function backoffMs(attempt: number, backoff: Backoff, random: number): number {
  const exponential = Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 40)));
  return Math.round(exponential / 2 + random * (exponential / 2));
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP date; undefined if absent or unreadable. */
export function retryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1_000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** What an HTTP answer means for the delivery: 2xx sent; 408, 429 and 5xx worth a retry; any other status a permanent refusal. */
export function classifyWebhookStatus(status: number): 'sent' | 'retry' | 'refused' {
  if (status >= 200 && status < 300) return 'sent';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'refused';
}
