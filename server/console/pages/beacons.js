import { ApiFailure } from '../api.js';
import { storeBody } from '../store/store-body.js';
import { alertBox, clearIssues, el, field, heading, showError, table } from '../ui.js';

// The beacon registry: each store's own iBeacons (uuid, major, minor, in a zone), which iOS apps
// monitor in the background (server/domain/store-beacons.ts). They are the store's configuration, not
// anyone's data. Read with GET /v1/admin/stores/:id, changed with PUT /v1/admin/stores/:id (admin):
// the PUT replaces the store, so everything else about it is sent back unchanged (store/store-body.js).
//   #/beacons          every store's beacons
//   #/beacons/<store>  one store's, editable with stores.write

const storePath = (id) => `/v1/admin/stores/${encodeURIComponent(id)}`;

/** A number when the text reads as one; otherwise the text, for the server to name what is wrong. */
const numberOrText = (text) => (text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text);

function beaconTable(store) {
  const zoneName = (id) => store.zones.find((z) => z.id === id)?.name ?? id;
  return table([
    { label: 'Beacon', value: (b) => b.id },
    { label: 'Zone', value: (b) => zoneName(b.zoneId) },
    { label: 'UUID', value: (b) => el('code', { text: b.uuid }) },
    { label: 'Major', value: (b) => b.major },
    { label: 'Minor', value: (b) => b.minor },
  ], store.beacons, { caption: `Beacons of ${store.name}`, empty: 'No store beacons.' });
}

function editor(ctx, store) {
  const rows = store.beacons.map((b) => ({ id: b.id, zoneId: b.zoneId, uuid: b.uuid, major: String(b.major), minor: String(b.minor) }));
  const form = el('form', { novalidate: true, 'aria-label': `Beacons of ${store.name}` });
  const body = el('div');
  const status = el('div', { 'aria-live': 'polite' });
  form.append(body, el('div', { class: 'actions' }, el('button', { type: 'submit', text: 'Save beacons' })), status);

  function draw() {
    body.replaceChildren(el('fieldset', { dataset: { field: 'beacons' } }, el('legend', { text: `Beacons of ${store.name}` }),
      el('p', { class: 'hint', text: 'One beacon per zone is usual: the same UUID and major for the store, a minor per zone.' }),
      rows.map((b, i) => el('div', { class: 'repeat', dataset: { field: `beacons.${i}` } },
        el('div', { class: 'inline-fields' },
          field(`Beacon ${i + 1} ID`, el('input', { type: 'text', name: `beacons.${i}.id`, value: b.id, autocapitalize: 'none', spellcheck: 'false' })),
          field('Zone', el('select', { name: `beacons.${i}.zoneId` }, store.zones.map((z) => el('option', { value: z.id, selected: z.id === b.zoneId, text: `${z.name} (${z.id})` }))))),
        field('UUID', el('input', { type: 'text', name: `beacons.${i}.uuid`, value: b.uuid, autocapitalize: 'none', spellcheck: 'false', placeholder: 'f7826da6-4fa2-4e98-8024-bc5b71e0893e' })),
        el('div', { class: 'inline-fields' },
          field('Major (0–65535)', el('input', { type: 'text', inputmode: 'numeric', name: `beacons.${i}.major`, value: b.major })),
          field('Minor (0–65535)', el('input', { type: 'text', inputmode: 'numeric', name: `beacons.${i}.minor`, value: b.minor }))),
        el('button', { type: 'button', class: 'secondary', text: `Remove beacon ${b.id || i + 1}`, onclick: () => {
          rows.splice(i, 1);
          draw();
          form.querySelector('[data-add="beacon"]')?.focus();
        } }))),
      el('button', { type: 'button', class: 'secondary', 'data-add': 'beacon', text: 'Add a beacon', onclick: () => {
        const last = rows[rows.length - 1];
        rows.push({ id: '', zoneId: store.zones[0]?.id ?? '', uuid: last?.uuid ?? '', major: last?.major ?? '1', minor: String(rows.length + 1) });
        draw();
        form.querySelector(`[name="beacons.${rows.length - 1}.id"]`)?.focus();
      } })));
  }

  form.addEventListener('input', (event) => {
    const [, index, key] = (event.target.name ?? '').split('.');
    if (key !== undefined) rows[Number(index)][key] = event.target.value;
  });
  form.addEventListener('change', (event) => {
    const [, index, key] = (event.target.name ?? '').split('.');
    if (key !== undefined) rows[Number(index)][key] = event.target.value;
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const beacons = rows.map((b) => ({ id: b.id.trim(), zoneId: b.zoneId, uuid: b.uuid.trim(), major: numberOrText(b.major), minor: numberOrText(b.minor) }));
    try {
      const saved = await ctx.api('PUT', storePath(store.id), storeBody(store, { beacons }));
      store.beacons = saved.beacons ?? beacons;
      clearIssues(form);
      status.replaceChildren(alertBox(`Saved ${beacons.length} ${beacons.length === 1 ? 'beacon' : 'beacons'} of ${store.name}.`, 'ok'));
    } catch (error) {
      if (!(error instanceof ApiFailure)) throw error;
      status.replaceChildren();
      const first = showError(form, error);
      (first ?? form.querySelector('.form-alert'))?.focus?.();
    }
  });
  draw();
  return form;
}

export default {
  id: 'beacons',
  title: 'Beacons',
  permission: 'stores.read',
  async render(main, ctx) {
    main.append(heading('Beacon registry'),
      el('p', { class: 'hint', text: 'The stores\' own iBeacons, which iOS apps watch for in the background. Store configuration only: no shopper appears here.' }));
    const [storeId] = ctx.params;
    const { stores } = await ctx.api('GET', '/v1/admin/stores');
    if (stores.length === 0) {
      main.append(alertBox('No stores yet: create one first.', 'info'));
      return;
    }
    const picker = el('select', { name: 'store' }, el('option', { value: '', text: 'All stores' }), stores.map((s) => el('option', { value: s.id, selected: s.id === storeId, text: `${s.name} (${s.id})` })));
    picker.addEventListener('change', () => ctx.navigate(picker.value === '' ? '#/beacons' : `#/beacons/${encodeURIComponent(picker.value)}`));
    main.append(el('div', { class: 'inline-fields' }, field('Store', picker)));
    if (storeId === undefined) {
      for (const s of stores) {
        const store = await ctx.api('GET', storePath(s.id));
        main.append(el('h2', {}, el('a', { href: `#/beacons/${encodeURIComponent(s.id)}`, text: store.name })), beaconTable(store));
      }
      return;
    }
    const store = await ctx.api('GET', storePath(storeId));
    main.append(ctx.can('stores.write') ? editor(ctx, store) : beaconTable(store));
  },
};
