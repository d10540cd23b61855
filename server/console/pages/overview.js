import { el, formatTime, heading } from '../ui.js';

// The start page: the system's aggregate status (GET /v1/status), refreshed every few seconds.
// Aggregates only: no shopper, pseudonym or identifier.

const REFRESH_MS = 5_000;

function facts(status) {
  const rows = [
    ['Gateways online', `${status.gateways.online} / ${status.gateways.total}`],
    ['Apps connected', status.connectedApps],
    ['Consenting shoppers indexed', status.resolver.shoppers],
    ['Presence messages', status.presenceMessages],
    ['Unresolved (dropped) messages', status.unresolvedMessages],
    ['Promotions recorded', status.counts.promotions],
    ['Held out (experiment control)', status.counts.exposuresHeldOut],
    ['Promotions acknowledged', status.counts.promotionsAcked],
    ['As of', formatTime(status.atMs)],
  ];
  return el('dl', { class: 'facts' }, rows.flatMap(([label, value]) => [el('dt', { text: label }), el('dd', { text: String(value) })]));
}

export default {
  id: 'overview',
  title: 'Overview',
  permission: null,
  async render(main, ctx) {
    const box = el('div', { 'aria-live': 'polite' });
    main.append(heading('Overview'), el('p', { class: 'hint', text: `Signed in as ${ctx.session.user.username}, role ${ctx.session.user.role}. Aggregates only: the console shows no individual shopper.` }), box);
    const refresh = async () => {
      try {
        box.replaceChildren(facts(await ctx.api('GET', '/v1/status')));
      } catch (error) {
        box.replaceChildren(el('p', { class: 'alert', role: 'alert', text: `Status unavailable: ${error.message}` }));
      }
    };
    await refresh();
    const timer = setInterval(() => void refresh(), REFRESH_MS);
    return () => clearInterval(timer);
  },
};
