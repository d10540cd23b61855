import type { FastifyInstance } from 'fastify';
import { counterValue } from '../metrics.ts';
import type { AppDeps } from '../app.ts';

// Health, Prometheus metrics, an aggregate status document and the console's status page.
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

  app.get('/console', async (_request, reply) => reply.type('text/html; charset=utf-8').send(CONSOLE_PAGE));
}

const CONSOLE_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Vicino console</title>
<style>
 body{font:16px/1.4 system-ui,sans-serif;margin:0;padding:1rem;max-width:48rem;color:#1b1b1b}
 h1{font-size:1.4rem} dl{display:grid;grid-template-columns:auto 1fr;gap:.4rem 1rem} dt{color:#555} dd{margin:0;font-variant-numeric:tabular-nums}
 .note{color:#555;font-size:.9rem}
</style></head>
<body><h1>Vicino — live status</h1>
<p class="note">Aggregates only. The full console (campaigns, stores, analytics) is served here as it is built.</p>
<dl id="s" aria-live="polite"><dt>Loading…</dt><dd></dd></dl>
<script type="module">
const rows = (s) => [
  ['Gateways online', s.gateways.online + ' / ' + s.gateways.total],
  ['Consenting shoppers indexed', s.resolver.shoppers],
  ['Apps connected', s.connectedApps],
  ['Presence messages', s.presenceMessages],
  ['Unresolved (dropped) messages', s.unresolvedMessages],
  ['Promotions recorded', s.counts.promotions],
  ['Held out (experiment control)', s.counts.exposuresHeldOut],
  ['Promotions acknowledged', s.counts.promotionsAcked],
];
async function tick() {
  try {
    const s = await (await fetch('/v1/status')).json();
    const dl = document.getElementById('s');
    dl.replaceChildren(...rows(s).flatMap(([k, v]) => { const dt = document.createElement('dt'); dt.textContent = k; const dd = document.createElement('dd'); dd.textContent = String(v); return [dt, dd]; }));
  } catch { /* the server may be restarting */ }
}
tick(); setInterval(tick, 1000);
</script></body></html>`;
