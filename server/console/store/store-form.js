import { ApiFailure } from '../api.js';
import { choiceGroup, el, field, heading, showError, toast } from '../ui.js';
import { storeBody } from './store-body.js';

// A store's own settings (admin, stores.write): name, time zone, zones, opening hours and quiet hours,
// saved with PUT /v1/admin/stores/:storeId. What this form does not edit — store beacons (the beacon
// registry page), the floor plan and zone outlines — is sent back as it was. Controls are named by the
// PUT body's paths ("zones.2.id", "openingHours.0.from"), so the server's messages land next to them.

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** Draws the form for store `id` (undefined: a new store). */
export async function renderStoreForm(main, ctx, id) {
  const existing = id === undefined ? undefined : await ctx.api('GET', `/v1/admin/stores/${encodeURIComponent(id)}`);
  const state = {
    id: id ?? '',
    name: existing?.name ?? '',
    timezone: existing?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC',
    zones: (existing?.zones ?? [{ id: 'entrance', name: 'Entrance', sensitive: false }]).map((z) => ({ ...z })),
    openingHours: (existing?.openingHours ?? []).map((w) => ({ ...w, days: [...w.days] })),
    quietHours: (existing?.quietHours ?? []).map((w) => ({ ...w, days: [...w.days] })),
  };
  main.append(heading(existing ? `Edit ${existing.name}` : 'New store'));
  const timezones = el('datalist', { id: 'timezones' }, (Intl.supportedValuesOf?.('timeZone') ?? []).map((tz) => el('option', { value: tz })));
  const form = el('form', { novalidate: true, 'aria-label': 'Store' });
  const body = el('div');
  form.append(body, timezones, el('div', { class: 'actions' }, el('button', { type: 'submit', text: 'Save store' }),
    el('a', { class: 'button secondary', href: existing ? `#/stores/${encodeURIComponent(id)}` : '#/stores', text: 'Cancel' })));
  main.append(form);

  const windowRows = (key, legend, hint) => {
    const part = el('fieldset', { dataset: { field: key } }, el('legend', { text: legend }), el('p', { class: 'hint', text: hint }));
    state[key].forEach((w, i) => {
      part.append(el('div', { class: 'repeat', dataset: { field: `${key}.${i}` } },
        choiceGroup(`${legend} ${i + 1}: days`, `${key}.${i}.days`, WEEKDAYS, { selected: w.days }),
        el('div', { class: 'inline-fields' },
          field('From (HH:MM)', el('input', { type: 'text', name: `${key}.${i}.from`, value: w.from, inputmode: 'numeric' })),
          field('To (HH:MM)', el('input', { type: 'text', name: `${key}.${i}.to`, value: w.to, inputmode: 'numeric' }))),
        el('button', { type: 'button', class: 'secondary', text: `Remove ${legend.toLowerCase()} ${i + 1}`, onclick: () => {
          state[key].splice(i, 1);
          draw();
          form.querySelector(`[data-add="${key}"]`)?.focus();
        } })));
    });
    part.append(el('button', { type: 'button', class: 'secondary', 'data-add': key, text: `Add ${legend.toLowerCase()}`, onclick: () => {
      state[key].push({ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'], from: '09:00', to: '19:00' });
      draw();
      form.querySelector(`[name="${key}.${state[key].length - 1}.from"]`)?.focus();
    } }));
    return part;
  };

  function draw() {
    body.replaceChildren(
      el('fieldset', {}, el('legend', { text: 'Store' }),
        existing ? el('p', {}, 'Store ID: ', el('code', { text: state.id })) : field('Store ID', el('input', { type: 'text', name: 'storeId', value: state.id, autocapitalize: 'none', spellcheck: 'false' }), 'Letters, digits, ".", "-" or "_"; it cannot change later.'),
        field('Name', el('input', { type: 'text', name: 'name', value: state.name })),
        field('Time zone', el('input', { type: 'text', name: 'timezone', value: state.timezone, list: 'timezones' }), 'An IANA time zone, such as Europe/Rome: campaign schedules and hours are local to it.')),
      el('fieldset', { dataset: { field: 'zones' } }, el('legend', { text: 'Zones' }),
        el('p', { class: 'hint', text: 'A sensitive zone (a pharmacy, a fitting room) never triggers a promotion and is never reported.' }),
        state.zones.map((z, i) => el('div', { class: 'repeat', dataset: { field: `zones.${i}` } },
          el('div', { class: 'inline-fields' },
            field(`Zone ${i + 1} ID`, el('input', { type: 'text', name: `zones.${i}.id`, value: z.id, readonly: existing?.zones.some((e) => e.id === z.id) ? true : null })),
            field('Name', el('input', { type: 'text', name: `zones.${i}.name`, value: z.name }))),
          el('div', { class: 'choice' }, el('input', { type: 'checkbox', id: `zone-${i}-sensitive`, name: `zones.${i}.sensitive`, checked: z.sensitive }),
            el('label', { for: `zone-${i}-sensitive`, text: 'Sensitive' })))),
        el('button', { type: 'button', class: 'secondary', 'data-add': 'zones', text: 'Add a zone', onclick: () => {
          state.zones.push({ id: '', name: '', sensitive: false });
          draw();
          form.querySelector(`[name="zones.${state.zones.length - 1}.id"]`)?.focus();
        } })),
      windowRows('openingHours', 'Opening hours', 'Nothing is sent outside them. None: always open.'),
      windowRows('quietHours', 'Quiet hours', 'Nothing is sent inside them, open or not.'));
  }

  form.addEventListener('input', (event) => {
    const { name, type, checked, value } = event.target;
    if (!name) return;
    const parts = name.split('.');
    if (name === 'storeId') state.id = value;
    else if (parts.length === 1) state[name] = value;
    else if (parts[0] === 'zones') state.zones[Number(parts[1])][parts[2]] = type === 'checkbox' ? checked : value;
    else if (parts[2] === 'days') state[parts[0]][Number(parts[1])].days = [...form.querySelectorAll(`input[name="${CSS.escape(name)}"]:checked`)].map((x) => x.value);
    else state[parts[0]][Number(parts[1])][parts[2]] = value;
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const storeId = state.id.trim();
    if (storeId === '') {
      showError(form, { issues: [{ field: 'storeId', message: 'required: letters, digits, ".", "-" or "_"' }], message: 'storeId is required' });
      form.querySelector('[name="storeId"]')?.focus();
      return;
    }
    const payload = storeBody(existing ?? {}, {
      name: state.name, timezone: state.timezone.trim(),
      zones: state.zones.map((z) => ({ ...(existing?.zones.find((e) => e.id === z.id) ?? {}), ...z })),
      openingHours: state.openingHours, quietHours: state.quietHours,
    });
    try {
      await ctx.api('PUT', `/v1/admin/stores/${encodeURIComponent(storeId)}`, payload);
      toast(`Saved store ${state.name}.`);
      ctx.navigate(`#/stores/${encodeURIComponent(storeId)}`);
    } catch (error) {
      if (!(error instanceof ApiFailure)) throw error;
      const first = showError(form, error);
      (first ?? form.querySelector('.form-alert'))?.focus?.();
    }
  });
  draw();
}
