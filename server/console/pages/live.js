import { el, field, heading } from '../ui.js';
import { chartId, floorPlan, toDom } from './charts.js';

// The live store view (issue 8): the store's floor plan with each zone coloured by how many shoppers are
// in it now — only from k shoppers up (AN-1); a zone under k is hatched and says "fewer than k" — and the
// events per second. Polls GET /v1/admin/stores/:storeId/live every 2 s while the page is open (and not
// paused: WCAG 2.2.2), and stops when the user leaves it. Counts only: no shopper, no pseudonym, no trail.

export const REFRESH_MS = 2000;

const eventsText = (eps) => `${eps.toLocaleString('en-GB', { maximumFractionDigits: 1 })}`;

export default {
  id: 'live',
  title: 'Live store',
  permission: 'live.read',
  async render(view, ctx) {
    view.append(
      heading('Live store view'),
      el('p', { class: 'hint', text: 'How many shoppers are in each zone now, shown only from k shoppers up; fewer are hatched and not counted. No individual shopper is ever shown. Updates every 2 seconds.' }));
    const { stores } = await ctx.api('GET', '/v1/admin/stores');
    if (stores.length === 0) {
      view.append(el('p', { class: 'empty', text: 'No store yet.' }));
      return undefined;
    }
    const chosen = stores.some((s) => s.id === ctx.params[0]) ? ctx.params[0] : stores[0].id;
    const picker = el('select', { name: 'store' }, stores.map((s) => el('option', { value: s.id, selected: s.id === chosen, text: `${s.name} (${s.id})` })));
    const pause = el('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false', text: 'Pause updates' });
    const eventsValue = el('span', { class: 'stat-value', text: '–' });
    const shownValue = el('span', { class: 'stat-value', text: '–' });
    const updatedValue = el('span', { class: 'stat-value', text: '–' });
    // Announced only when something changes for the user (paused, failing, back), not on every refresh.
    const status = el('p', { class: 'live-status', role: 'status' });
    const map = el('div', { class: 'live-map', dataset: { refreshes: '0' } });
    view.append(
      el('form', { class: 'toolbar', onsubmit: (e) => e.preventDefault() }, field('Store', picker), el('div', { class: 'actions' }, pause)),
      el('div', { class: 'stat-row' },
        el('div', { class: 'stat' }, eventsValue, el('span', { class: 'stat-label', text: 'events per second' })),
        el('div', { class: 'stat' }, shownValue, el('span', { class: 'stat-label', text: 'zones with k or more shoppers' })),
        el('div', { class: 'stat' }, updatedValue, el('span', { class: 'stat-label', text: 'last update (store time)' }))),
      status, map);

    let store = null;
    let timer = null;
    let generation = 0;
    let paused = false;
    let failing = false;
    const stopped = () => ctx.signal.aborted;

    const show = (live) => {
      const tableOpen = map.querySelector('details')?.open ?? false;
      // Drawn at the width it is shown at, up to 768, so its labels keep their size on a phone.
      const width = map.clientWidth > 0 ? Math.max(300, Math.min(768, map.clientWidth)) : 560;
      const figure = toDom(floorPlan({ id: chartId('live', store.id), title: `Occupancy now: ${store.name}`, plan: store.floorPlan, zones: store.zones, live, width }), document);
      if (tableOpen) figure.querySelector('details').open = true;
      map.replaceChildren(figure);
      map.dataset.atMs = String(live.atMs);
      map.dataset.refreshes = String(Number(map.dataset.refreshes) + 1);
      eventsValue.textContent = eventsText(live.eventsPerSecond);
      shownValue.textContent = `${live.zones.filter((z) => z.occupancy !== null).length} of ${live.zones.length}`;
      updatedValue.textContent = new Date(live.atMs).toLocaleTimeString(undefined, { timeZone: store.timezone });
    };

    const tick = async (run) => {
      try {
        const live = await ctx.api('GET', `/v1/admin/stores/${encodeURIComponent(store.id)}/live`);
        if (run !== generation || stopped()) return;
        show(live);
        if (failing) status.textContent = 'Updates resumed.';
        failing = false;
      } catch (error) {
        if (run !== generation || stopped()) return;
        failing = true;
        status.textContent = `The last update failed: ${error?.message ?? error}. Trying again every 2 seconds.`;
      }
      if (run === generation && !paused && !stopped()) timer = setTimeout(() => void tick(run), REFRESH_MS);
    };

    const stop = () => {
      generation += 1;
      clearTimeout(timer);
      timer = null;
    };

    const open = async (storeId) => {
      stop();
      const run = generation;
      map.replaceChildren(el('p', { class: 'loading', text: 'Loading the store…' }));
      store = await ctx.api('GET', `/v1/admin/stores/${encodeURIComponent(storeId)}`);
      if (run !== generation || stopped()) return;
      await tick(run);
    };

    picker.addEventListener('change', () => {
      history.replaceState(history.state, '', `#/live/${encodeURIComponent(picker.value)}`);
      open(picker.value).catch((error) => {
        status.textContent = `Could not open the store: ${error?.message ?? error}`;
      });
    });
    pause.addEventListener('click', () => {
      paused = !paused;
      pause.setAttribute('aria-pressed', String(paused));
      pause.textContent = paused ? 'Resume updates' : 'Pause updates';
      status.textContent = paused ? 'Updates paused.' : 'Updates resumed.';
      if (paused) stop();
      else void tick(generation);
    });
    ctx.signal.addEventListener('abort', stop);
    await open(chosen);
    return stop;
  },
};
