import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { principalOf } from '../auth/admin-access.ts';
import { parseOrThrow } from '../domain/errors.ts';
import { DEAD_LETTER_PAGE_MAX } from '../store/rows.ts';
import type { AppDeps } from '../app.ts';

// The push-provider webhook's dead letters (server/delivery/webhook-delivery.ts), for operators: a provider
// that was down for longer than the retries last, or that refused a request, leaves rows with status 'dead'.
// List them, then put them back in the queue once the cause is fixed. A replayed row is checked again before
// it is sent — the promotion still pending and unexpired, consent read then — so a replay never sends what a
// fresh attempt would not. Only IDs and delivery metadata are shown: no shopper, no message, no target.

export const ListQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(DEAD_LETTER_PAGE_MAX).default(100),
    after: z.string().min(1).max(80).optional(),
  })
  .strict();

export const ReplayBodySchema = z
  .object({ promotionIds: z.array(z.string().min(1).max(80)).min(1).max(DEAD_LETTER_PAGE_MAX).refine((ids) => new Set(ids).size === ids.length, 'must not list an ID twice') })
  .strict();

export async function deadLetterRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { store, now } = deps;

  app.get('/v1/admin/webhook/dead-letters', async (request) => {
    const { limit, after } = parseOrThrow(ListQuerySchema, request.query, 'INVALID_PARAMS');
    const rows = await store.listDeadWebhookDeliveries(limit, after);
    return {
      deadLetters: rows.map((r) => ({ promotionId: r.promotionId, attempts: r.attempts, replays: r.replays, lastError: r.lastError, deadAtMs: r.updatedAtMs })),
      next: rows.length === limit ? rows[rows.length - 1]!.promotionId : null,
    };
  });

  app.post('/v1/admin/webhook/dead-letters/replay', async (request) => {
    const { promotionIds } = parseOrThrow(ReplayBodySchema, request.body);
    const requeued = await store.replayDeadWebhookDeliveries(promotionIds, now(), principalOf(request).id);
    const done = new Set(requeued);
    // Not requeued: unknown, or no longer dead (sent, dropped, queued already, or replayed by someone else just now).
    return { requeued, notDead: promotionIds.filter((id) => !done.has(id)) };
  });
}
