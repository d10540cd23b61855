import type { Logger } from 'pino';
import type { ConsentPolicy } from '../domain/consent.ts';
import type { PushTarget, PushTargets } from '../domain/push-target.ts';
import { backoffMs, classifyWebhookStatus, DEFAULT_BACKOFF, retryAfterMs, webhookSignature, type Backoff } from '../domain/webhook.ts';
import type { Metrics } from '../metrics.ts';
import type { PromotionRecord, Store, WebhookAttemptOutcome, WebhookDeliveryRecord } from '../store/store.ts';
import type { Delivery } from './delivery.ts';
import { sendConsent } from './send-consent.ts';

// Delivery through a push provider's webhook, for an app in the background (no socket). Durable and
// safe across instances: notify() only queues the promotion in the Store (if its shopper registered a
// push target); a worker loop on every instance claims due rows with one atomic statement that sets a
// lease (Store.claimWebhookDeliveries), so two instances never send one row at once and a killed
// instance's lease runs out for another to retry. A finished attempt is recorded only if its claim is
// still the row's latest (Store.finishWebhookAttempt).
//
// Before each attempt, fail closed (CON-5): the promotion must still be pending (a withdrawal, an
// acknowledgement, a restriction or an erasure ends that) and unexpired, and the shopper's consent, read
// now, must grant presence, promotions and every purpose in its why.purposes (the grant's lapse counted,
// as the WebSocket delivery does); otherwise the row is 'dropped' with the reason as a metric label.
// Consent that cannot be read sends nothing: the attempt is retried later.
//
// The request (docs/app-integration.md): POST JSON {target, message}, only what the push needs (the
// message's id, title, body, deepLink, couponCode, expiresAtMs, why; no shopper ID), signed
// `Vicino-Signature: t=…,v1=…` (domain/webhook.ts), `Idempotency-Key: <promotion id>` so a retry after a
// lost response is recognised. 2xx = sent; 408, 429, 5xx, network errors and timeouts = retry with
// jittered exponential backoff (or after Retry-After); another 4xx = dead at once; the maxAttempts-th
// failure = dead. A dead row is counted (vicino_webhook_deliveries_total{outcome="dead"}) and logged
// with alert: true, without personal data (ops find it in webhook_deliveries by status).

export type WebhookDeliveryOptions = {
  url: string;
  secret: string;
  maxAttempts?: number;
  backoff?: Backoff;
  /** Per request; the lease must outlast it. */
  timeoutMs?: number;
  leaseMs?: number;
  pollMs?: number;
  batchSize?: number;
};

export type WebhookDelivery = Delivery & {
  /** Claims and attempts every due row once; resolves with how many were attempted. The loop calls it too. */
  runOnce(): Promise<number>;
};

const MAX_RETRY_AFTER_MS = 60 * 60_000;

type Attempt = { outcome: WebhookAttemptOutcome; reason: string };

export function createWebhookDelivery(deps: {
  store: Store; metrics: Metrics; logger: Logger; now: () => number; pushTargets: PushTargets; options: WebhookDeliveryOptions;
  consentPolicy?: ConsentPolicy; random?: () => number; fetch?: typeof fetch;
}): WebhookDelivery {
  const { store, metrics, now, pushTargets, options } = deps;
  const logger = deps.logger.child({ component: 'webhook-delivery' });
  const maxAttempts = options.maxAttempts ?? 8;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const leaseMs = options.leaseMs ?? 60_000;
  const pollMs = options.pollMs ?? 1_000;
  const batchSize = options.batchSize ?? 16;
  const random = deps.random ?? Math.random;
  const send = deps.fetch ?? fetch;
  if (leaseMs <= timeoutMs) throw new RangeError(`webhook leaseMs (${leaseMs}) must exceed timeoutMs (${timeoutMs}): a lease must outlast its request`);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`webhook maxAttempts must be a positive integer, got ${maxAttempts}`);

  const retry = (row: WebhookDeliveryRecord, reason: string, error: string, afterMs?: number): Attempt => {
    const atMs = now();
    // A row replayed from the dead letters has a fresh set of tries (Store.replayDeadWebhookDeliveries).
    const tries = row.attempts - row.attemptsBeforeReplay;
    if (tries >= maxAttempts) return { outcome: { status: 'dead', atMs, error: `${error} (after ${tries} attempts${row.replays > 0 ? ` since replay ${row.replays}` : ''})` }, reason: 'attempts-exhausted' };
    const delay = afterMs === undefined ? backoffMs(tries, backoff, random()) : Math.min(afterMs, MAX_RETRY_AFTER_MS);
    return { outcome: { status: 'queued', atMs, nextAttemptAtMs: atMs + delay, error }, reason };
  };
  const dropped = (reason: string): Attempt => ({ outcome: { status: 'dropped', atMs: now(), error: reason }, reason });

  /** Whether consent, read now, allows the promotion; undefined if it cannot be read (counted, logged). */
  const consentAllows = async (promotion: PromotionRecord): Promise<boolean | undefined> => {
    const verdict = await sendConsent(deps, promotion, 'webhook');
    return verdict === 'unreadable' ? undefined : verdict === 'allowed';
  };

  const post = async (row: WebhookDeliveryRecord, promotion: PromotionRecord, target: PushTarget): Promise<Attempt> => {
    const { id, title, body: text, deepLink, couponCode, expiresAtMs, why } = promotion.message;
    const body = JSON.stringify({ target, message: { id, title, body: text, ...(deepLink === undefined ? {} : { deepLink }), couponCode, expiresAtMs, why } });
    let response: Response;
    try {
      response = await send(options.url, {
        method: 'POST',
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
        headers: { 'content-type': 'application/json', 'idempotency-key': promotion.id, 'vicino-signature': webhookSignature(options.secret, body, Math.floor(now() / 1000)) },
        body,
      });
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      const code = ((error as Error & { cause?: { code?: unknown } }).cause?.code);
      return retry(row, timedOut ? 'timeout' : 'network', timedOut ? 'timeout' : `network: ${typeof code === 'string' ? code : (error as Error).name}`);
    }
    await response.arrayBuffer().catch(() => undefined);
    const verdict = classifyWebhookStatus(response.status);
    if (verdict === 'sent') return { outcome: { status: 'sent', atMs: now() }, reason: 'http-2xx' };
    if (verdict === 'refused') return { outcome: { status: 'dead', atMs: now(), error: `http ${response.status}` }, reason: 'refused' };
    return retry(row, response.status >= 500 ? 'http-5xx' : `http-${response.status}`, `http ${response.status}`, retryAfterMs(response.headers.get('retry-after'), now()));
  };

  const attempt = async (row: WebhookDeliveryRecord): Promise<Attempt> => {
    const promotion = await store.getPromotion(row.promotionId);
    if (promotion === undefined) return dropped('not-found');
    if (promotion.status !== 'pending') return dropped(promotion.status);
    if (promotion.message.expiresAtMs <= now()) return dropped('expired');
    let target: PushTarget | undefined;
    try {
      target = await pushTargets.get(promotion.shopperId);
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'push target unreadable; webhook attempt held back');
      return retry(row, 'store-unreadable', 'push target unreadable');
    }
    if (target === undefined) return dropped('no-push-target');
    // Consent last, right before the request: the narrowest window for a withdrawal to slip in.
    const allows = await consentAllows(promotion);
    if (allows === undefined) return retry(row, 'consent-unreadable', 'consent unreadable');
    if (!allows) return dropped('consent');
    return post(row, promotion, target);
  };

  const settle = async (row: WebhookDeliveryRecord): Promise<void> => {
    let result: Attempt;
    try {
      result = await attempt(row);
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'webhook attempt failed before sending; retried');
      result = retry(row, 'store-unreadable', 'store error');
    }
    const recorded = await store.finishWebhookAttempt(row.promotionId, row.attempts, result.outcome);
    if (!recorded) {
      logger.warn({ attempt: row.attempts }, 'webhook lease lost before the attempt was recorded');
      return;
    }
    // Counted as soon as the attempt's outcome is recorded (what the delivery row says, the metric says).
    const outcome = result.outcome.status === 'queued' ? 'retry' : result.outcome.status;
    metrics.webhookDeliveries.inc({ outcome, reason: result.reason });
    if (result.outcome.status === 'sent') {
      await store.markPromotionDelivered(row.promotionId, result.outcome.atMs).catch((error: Error) => logger.error({ err: error.message }, 'markPromotionDelivered failed'));
    }
    if (result.outcome.status === 'dead') {
      logger.error({ alert: true, reason: result.reason, attempts: row.attempts, lastError: result.outcome.error },
        'webhook delivery dead-lettered: list them with GET /v1/admin/webhook/dead-letters, and requeue them once the provider is back with POST /v1/admin/webhook/dead-letters/replay');
    }
  };

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  const notifying = new Set<Promise<void>>();

  const runOnce = async (): Promise<number> => {
    let attempted = 0;
    while (!stopped) {
      const batch = await store.claimWebhookDeliveries(now(), leaseMs, batchSize);
      await Promise.all(batch.map((row) => settle(row).catch((error: Error) => logger.error({ err: error.message }, 'recording a webhook attempt failed; the lease will run out'))));
      attempted += batch.length;
      if (batch.length < batchSize) break;
    }
    return attempted;
  };

  const loop = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce().catch((error: Error) => {
        logger.error({ err: error.message }, 'webhook claim failed');
        return 0;
      });
      void running.finally(loop);
    }, pollMs);
    timer.unref();
  };
  loop();

  return {
    notify(promotion) {
      const queued = (async () => {
        // No push target registered: the shopper's app is reached by its socket only.
        if ((await pushTargets.get(promotion.shopperId)) === undefined) return;
        await store.enqueueWebhookDelivery(promotion.id, now());
      })().catch((error: Error) => logger.error({ err: error.message }, 'queueing a webhook delivery failed'));
      notifying.add(queued);
      void queued.finally(() => notifying.delete(queued));
    },
    runOnce,
    async close() {
      await Promise.all(notifying);
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
