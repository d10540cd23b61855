import type { FastifyInstance } from 'fastify';
import { PushTargetSchema } from '../domain/push-target.ts';
import { ApiError, parseOrThrow } from '../domain/errors.ts';
import { createSealedPushTargets } from '../delivery/push-targets.ts';
import type { AppDeps } from '../app.ts';
import { authenticateShopper } from './shopper-routes.ts';

// The app registers where its push provider reaches it in the background (server/delivery/webhook-delivery.ts):
// PUT /v1/me/push-target {provider: 'fcm'|'apns'|'webpush', token}. The token is personal data: stored sealed
// (delivery/push-targets.ts), never echoed or logged, sent only to the configured webhook, deleted on erasure
// and listed in the shopper's export. A later PUT replaces it; DELETE /v1/me/push-target removes it (204, or 404
// if none was registered), and promotions still queued for the webhook are then dropped, not sent.

export async function pushRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const targets = createSealedPushTargets(deps);

  app.put('/v1/me/push-target', async (request, reply) => {
    const shopper = await authenticateShopper(deps, request);
    const target = parseOrThrow(PushTargetSchema, request.body);
    await targets.put(shopper.id, target, deps.now());
    return reply.code(204).send();
  });

  app.delete('/v1/me/push-target', async (request, reply) => {
    const shopper = await authenticateShopper(deps, request);
    if (!(await deps.store.deletePushTarget(shopper.id))) throw new ApiError('NOT_FOUND', 'no push target is registered');
    return reply.code(204).send();
  });
}
