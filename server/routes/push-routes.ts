import type { FastifyInstance } from 'fastify';
import { PushTargetSchema } from '../domain/push-target.ts';
import { parseOrThrow } from '../domain/errors.ts';
import { createSealedPushTargets } from '../delivery/push-targets.ts';
import type { AppDeps } from '../app.ts';
import { authenticateShopper } from './shopper-routes.ts';

// The app registers where its push provider reaches it in the background (server/delivery/webhook-delivery.ts):
// PUT /v1/me/push-target {provider: 'fcm'|'apns'|'webpush', token}. The token is personal data: stored sealed
// (delivery/push-targets.ts), never echoed or logged, sent only to the configured webhook, deleted on erasure
// and listed in the shopper's export. A later PUT replaces it.

export async function pushRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const targets = createSealedPushTargets(deps);

  app.put('/v1/me/push-target', async (request, reply) => {
    const shopper = await authenticateShopper(deps, request);
    const target = parseOrThrow(PushTargetSchema, request.body);
    await targets.put(shopper.id, target, deps.now());
    return reply.code(204).send();
  });
}
