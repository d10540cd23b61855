import type { FastifyInstance } from 'fastify';
import { counterValue } from '../metrics.ts';
import type { AppDeps } from '../app.ts';

// Health, Prometheus metrics and an aggregate status document (the console shows it: routes/console-routes.ts).
// Aggregates only: no shopper, pseudonym or identifier appears here.

export async function statusRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.get('/health', async () => ({ status: 'ok', store: deps.store.kind }));

  app.get('/metrics', async (_request, reply) => reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()));

  app.get('/v1/status', async () => {
    const counts = await deps.store.counts();
    const gateways = await deps.store.listGateways();
    return {
      atMs: deps.now(),
      gateways: { total: gateways.length, online: gateways.filter((g) => g.online).length },
      resolver: deps.resolver.size(),
      connectedApps: deps.delivery.connected(),
      presenceMessages: await counterValue(deps.metrics.presence),
      unresolvedMessages: await counterValue(deps.metrics.presence, { outcome: 'unresolved' }),
      counts,
    };
  });
}
