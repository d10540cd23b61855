import { renderStoreForm } from '../store/store-form.js';
import { windowsText } from '../store/store-body.js';
import { alertBox, downloadLink, el, field, formatDuration, formatTime, heading, onApiSubmit, shownOnce, table, toast } from '../ui.js';

// Stores, their zones, gateways and POS tills.
//   #/stores              the list (and, for admins, a new store)
//   #/stores/<id>         a store: zones and hours; gateways with online status, last seen, version and key
//                         metrics; provisioning a gateway (its config file, with its secret, downloaded
//                         once); POS tills (a till's credential is shown once)
//   #/stores/<id>/edit    the store's zones, opening and quiet hours (admin)
// Each section shows only with the permission its API needs (stores.read, devices.read, devices.manage).

const storePath = (id) => `/v1/admin/stores/${encodeURIComponent(id)}`;

async function renderList(main, ctx) {
  main.append(heading('Stores'));
  if (ctx.can('stores.write')) main.append(el('div', { class: 'actions' }, el('a', { href: '#/stores/new', class: 'button', text: 'New store' })));
  const { stores } = await ctx.api('GET', '/v1/admin/stores');
  main.append(table([
    { label: 'Store', value: (s) => el('a', { href: `#/stores/${encodeURIComponent(s.id)}`, text: s.name }) },
    { label: 'ID', value: (s) => s.id },
    { label: 'Time zone', value: (s) => s.timezone },
    { label: 'Zones', value: (s) => s.zoneCount },
    { label: 'Gateways', value: (s) => s.gatewayCount },
  ], stores, { caption: `${stores.length} ${stores.length === 1 ? 'store' : 'stores'}`, empty: 'No stores yet.' }));
}

/** The gateway's own figures (from its heartbeats), the ones an operator looks at first. */
const METRICS = [
  ['uptimeS', 'up', (v) => formatDuration(v)],
  ['advertisements', 'adverts', String],
  ['droppedAdvertisements', 'dropped', String],
  ['published', 'published', String],
  ['pending', 'pending', String],
  ['droppedEvents', 'events dropped', String],
];

function metricsText(gateway) {
  const counts = gateway.counts ?? {};
  const parts = METRICS.filter(([key]) => typeof counts[key] === 'number').map(([key, label, format]) => `${label} ${format(counts[key])}`);
  return parts.length === 0 ? 'not reported' : parts.join(' · ');
}

async function gatewaysSection(ctx, store) {
  const section = el('section', { 'aria-labelledby': 'gateways-h' }, el('h2', { id: 'gateways-h', text: 'Gateways' }));
  const list = el('div');
  const refresh = async () => {
    const { gateways } = await ctx.api('GET', `/v1/admin/gateways?storeId=${encodeURIComponent(store.id)}`);
    const zoneName = (id) => store.zones.find((z) => z.id === id)?.name ?? id;
    list.replaceChildren(table([
      { label: 'Gateway', value: (g) => g.id },
      { label: 'Zone', value: (g) => zoneName(g.zoneId) },
      { label: 'Status', value: (g) => el('span', { class: `status status-${g.online ? 'online' : 'offline'}`, text: g.online ? 'online' : 'offline' }) },
      { label: 'Last seen', value: (g) => formatTime(g.lastSeenAtMs) },
      { label: 'Version', value: (g) => g.version ?? '—' },
      { label: 'Key metrics', value: (g) => metricsText(g), class: 'wrap' },
      { label: 'Reported', value: (g) => formatTime(g.reportedAtMs) },
    ], gateways, { caption: `Gateways of ${store.name}`, empty: 'No gateway provisioned yet.' }));
  };
  section.append(list);
  await refresh();
  if (ctx.can('devices.manage')) section.append(provisionForm(ctx, store, refresh));
  return section;
}

function provisionForm(ctx, store, refresh) {
  const id = el('input', { type: 'text', name: 'id', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' });
  const zone = el('select', { name: 'zoneId' }, store.zones.map((z) => el('option', { value: z.id, text: `${z.name} (${z.id})` })));
  const rotate = el('input', { type: 'checkbox', id: 'rotate-secret', name: 'rotateSecret' });
  const result = el('div', { 'aria-live': 'polite' });
  const form = el('form', { novalidate: true, 'aria-labelledby': 'provision-h' },
    el('h3', { id: 'provision-h', text: 'Provision a gateway' }),
    field('Gateway ID', id, 'Globally unique; it is also the gateway\'s MQTT login.'),
    field('Zone', zone),
    el('div', { class: 'choice' }, rotate, el('label', { for: 'rotate-secret', text: 'It exists: issue a new secret (the old one stops working)' })),
    el('div', { class: 'actions' }, el('button', { type: 'submit', text: 'Provision' })));
  onApiSubmit(form, id, async () => {
    result.replaceChildren();
    const { config } = await ctx.api('POST', `${storePath(store.id)}/gateways`, { id: id.value.trim(), zoneId: zone.value, rotateSecret: rotate.checked });
    const link = downloadLink(`gateway-${config.gatewayId}.json`, `${JSON.stringify(config, null, 2)}\n`, `Download gateway-${config.gatewayId}.json`);
    link.dataset.download = 'gateway-config';
    result.replaceChildren(shownOnce(`this file holds gateway ${config.gatewayId}'s secret, which the server does not keep in the clear and will not show again. Download it now, copy it to the gateway and keep it private (chmod 600). If it is lost, provision the gateway again with a new secret.`, link));
    link.focus();
    form.reset();
    await refresh();
  });
  return el('div', {}, form, result);
}

async function tillsSection(ctx, store) {
  const section = el('section', { 'aria-labelledby': 'tills-h' }, el('h2', { id: 'tills-h', text: 'POS tills' }),
    el('p', { class: 'hint', text: 'Each till redeems this store\'s coupons with its own credential until it is revoked.' }));
  const list = el('div');
  const refresh = async () => {
    const { devices } = await ctx.api('GET', `${storePath(store.id)}/pos-devices`);
    list.replaceChildren(table([
      { label: 'Till', value: (d) => d.name },
      { label: 'Device ID', value: (d) => d.deviceId },
      { label: 'Created', value: (d) => formatTime(d.createdAtMs) },
      { label: 'State', value: (d) => (d.revokedAtMs === null ? 'active' : `revoked ${formatTime(d.revokedAtMs)}`) },
      ...(ctx.can('devices.manage') ? [{
        label: 'Action', value: (d) => (d.revokedAtMs !== null ? '—' : el('button', { type: 'button', class: 'secondary', text: `Revoke ${d.name}`, onclick: async () => {
          if (!window.confirm(`Revoke till "${d.name}"? It can no longer redeem coupons.`)) return;
          try {
            await ctx.api('DELETE', `${storePath(store.id)}/pos-devices/${encodeURIComponent(d.deviceId)}`);
            toast(`Till ${d.name} revoked.`);
            await refresh();
          } catch (error) {
            toast(`Revoking ${d.name} failed: ${error.message}`, 'error');
          }
        } })),
      }] : []),
    ], devices, { caption: `Tills of ${store.name}`, empty: 'No till yet.' }));
  };
  section.append(list);
  await refresh();
  if (ctx.can('devices.manage')) {
    const name = el('input', { type: 'text', name: 'name', autocomplete: 'off' });
    const result = el('div', { 'aria-live': 'polite' });
    const form = el('form', { novalidate: true, 'aria-labelledby': 'till-h' }, el('h3', { id: 'till-h', text: 'Add a till' }),
      field('Name', name, 'Your label for it, such as "Till 3".'), el('div', { class: 'actions' }, el('button', { type: 'submit', text: 'Add till' })));
    onApiSubmit(form, name, async () => {
      const till = await ctx.api('POST', `${storePath(store.id)}/pos-devices`, { name: name.value });
      result.replaceChildren(shownOnce(`the credential of till "${till.name}". Enter it in the till now; it is not shown again.`, el('p', {}, el('code', { class: 'secret', text: till.token }))));
      form.reset();
      await refresh();
    });
    section.append(form, result);
  }
  return section;
}

async function renderStore(main, ctx, id) {
  const store = await ctx.api('GET', storePath(id));
  main.append(heading(store.name));
  if (ctx.can('stores.write')) main.append(el('div', { class: 'actions' }, el('a', { href: `#/stores/${encodeURIComponent(id)}/edit`, class: 'button secondary', text: 'Edit zones and hours' })));
  main.append(el('dl', { class: 'facts' },
    el('dt', { text: 'ID' }), el('dd', {}, el('code', { text: store.id })),
    el('dt', { text: 'Time zone' }), el('dd', { text: store.timezone }),
    el('dt', { text: 'Opening hours' }), el('dd', { text: windowsText(store.openingHours) ?? 'always open' }),
    el('dt', { text: 'Quiet hours' }), el('dd', { text: windowsText(store.quietHours) ?? 'none' }),
    el('dt', { text: 'Store beacons' }), el('dd', {}, `${store.beacons.length} `, el('a', { href: `#/beacons/${encodeURIComponent(id)}`, text: '(beacon registry)' }))));
  main.append(el('h2', { text: 'Zones' }), table([
    { label: 'Zone', value: (z) => z.name },
    { label: 'ID', value: (z) => z.id },
    { label: 'Sensitive', value: (z) => (z.sensitive ? 'yes: never triggers, never reported' : 'no') },
  ], store.zones, { caption: `Zones of ${store.name}` }));
  if (ctx.can('devices.read')) main.append(await gatewaysSection(ctx, store));
  if (ctx.can('devices.read')) main.append(await tillsSection(ctx, store));
}

export default {
  id: 'stores',
  title: 'Stores',
  permission: 'stores.read',
  async render(main, ctx) {
    const [first, second] = ctx.params;
    if (first === undefined) return renderList(main, ctx);
    if (first === 'new' || second === 'edit') {
      if (!ctx.can('stores.write')) {
        main.append(heading('Edit a store'), alertBox(`Your role (${ctx.session.user.role}) cannot change stores: it lacks stores.write.`));
        return undefined;
      }
      return renderStoreForm(main, ctx, first === 'new' ? undefined : first);
    }
    return renderStore(main, ctx, first);
  },
};
