import { choiceGroup, el, field, formatDuration } from '../ui.js';
import { LOYALTY_TIERS, PLACEMENT_LEVELS, TRIGGER_KINDS, WEEKDAYS } from './model.js';

// The builder's form, one fieldset per part of the campaign model (server/domain/campaign.ts), drawn
// from the builder's state. Controls are named by their field's path in the definition; data-structural
// marks the ones whose change redraws the form (another trigger kind shows other fields).

const numberInput = (name, value, attrs = {}) => el('input', { type: 'number', name, value, step: 'any', ...attrs });
/** A number of seconds, whose hint says it in words (the builder updates the hint as it changes). */
const durationInput = (name, value) => numberInput(name, value, { 'data-duration': 'true' });
const textInput = (name, value, attrs = {}) => el('input', { type: 'text', name, value, ...attrs });
export const durationHint = (seconds) => {
  const n = Number(seconds);
  return Number.isFinite(n) && String(seconds).trim() !== '' ? formatDuration(n) : ' ';
};

function select(name, options, value, attrs = {}) {
  return el('select', { name, ...attrs }, options.map((o) => el('option', { value: o.value, selected: o.value === value, text: o.label })));
}

function basics(state, env) {
  return el('fieldset', { dataset: { field: 'basics' } }, el('legend', { text: 'Campaign' }),
    env.isNew
      ? field('Campaign ID', textInput('campaignId', state.campaignId, { autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' }),
        'Lower-case letters, digits, "-" or "_"; it cannot change later.')
      : el('p', {}, 'Campaign ID: ', el('code', { text: state.campaignId })),
    field('Name', textInput('name', state.name, { autocomplete: 'off' })));
}

function placement(state, env) {
  const { level } = state.placement;
  const part = el('fieldset', { dataset: { field: 'placement' } }, el('legend', { text: 'Where it runs' }),
    choiceGroup('Placement', 'placement.level', PLACEMENT_LEVELS, { type: 'radio', selected: level }));
  part.querySelectorAll('input[name="placement.level"]').forEach((input) => (input.dataset.structural = 'true'));
  if (level === 'stores') {
    const group = choiceGroup('Stores', 'placement.storeIds', env.stores.map((s) => ({ value: s.id, label: `${s.name} (${s.id})` })), { selected: state.placement.storeIds });
    group.querySelectorAll('input').forEach((input) => (input.dataset.structural = 'true'));
    part.append(group);
  } else if (level === 'zones') {
    part.append(field('Store', select('placement.storeId', [{ value: '', label: 'Choose a store' }, ...env.stores.map((s) => ({ value: s.id, label: `${s.name} (${s.id})` }))], state.placement.storeId, { 'data-structural': 'true' })));
    const zones = env.storeDetails.get(state.placement.storeId)?.zones ?? [];
    if (state.placement.storeId !== '') {
      part.append(choiceGroup('Zones', 'placement.zoneIds', zones.map((z) => ({ value: z.id, label: z.sensitive ? `${z.name} (${z.id}) — sensitive, never triggers` : `${z.name} (${z.id})` })), {
        selected: state.placement.zoneIds, disabled: (id) => zones.find((z) => z.id === id)?.sensitive === true,
        hint: zones.length === 0 ? 'This store has no zones yet.' : undefined,
      }));
    }
  }
  part.append(el('p', { class: 'hint', text: 'Sensitive zones (a pharmacy, say) never trigger a promotion, whatever the placement.' }));
  return part;
}

function trigger(state) {
  const t = state.trigger;
  const part = el('fieldset', { dataset: { field: 'trigger' } }, el('legend', { text: 'What sets it off' }),
    field('Trigger', select('trigger.kind', TRIGGER_KINDS, t.kind, { 'data-structural': 'true' })));
  if (t.kind === 'dwell') part.append(field('Minimum dwell (seconds)', durationInput('trigger.minDwellS', t.minDwellS), durationHint(t.minDwellS)));
  if (t.kind === 'return') part.append(field('Minimum days away', numberInput('trigger.minDaysAway', t.minDaysAway)));
  if (t.kind === 'visit') {
    part.append(field('Visit number', numberInput('trigger.nth', t.nth), '1 is the first visit recorded.'));
    const id = 'trigger-repeat';
    part.append(el('div', { class: 'choice' }, el('input', { type: 'checkbox', id, name: 'trigger.repeat', 'data-kind': 'bool', checked: t.repeat }),
      el('label', { for: id, text: 'Every Nth visit (N, 2N, 3N…), not only the Nth' })));
  }
  return part;
}

function audience(state) {
  const a = state.audience;
  const part = el('fieldset', { dataset: { field: 'audience' } }, el('legend', { text: 'Audience' }),
    choiceGroup('Who receives it', 'audience.kind', [
      { value: 'everyone', label: 'Everyone who consented to promotions' },
      { value: 'segment', label: 'A segment' },
    ], { type: 'radio', selected: a.kind }));
  part.querySelectorAll('input[name="audience.kind"]').forEach((input) => (input.dataset.structural = 'true'));
  if (a.kind === 'segment') {
    const segment = el('div', { class: 'repeat', dataset: { field: 'audience.segment' } },
      el('p', { class: 'hint', text: 'A segment uses attributes and visit history, so it reaches only shoppers who also consented to personalisation. Every condition given must hold.' }),
      choiceGroup('Loyalty tiers', 'audience.segment.loyaltyTiers', LOYALTY_TIERS, { selected: a.segment.loyaltyTiers }),
      field('Interests (any of them)', textInput('audience.segment.interests', a.segment.interests), 'Comma-separated tags, such as "coffee, kids-fashion".'),
      el('div', { class: 'inline-fields' },
        field('At least this many past visits', numberInput('audience.segment.minPastVisits', a.segment.minPastVisits)),
        field('At most this many past visits', numberInput('audience.segment.maxPastVisits', a.segment.maxPastVisits))));
    part.append(segment);
  }
  return part;
}

function hoursText(windows) {
  if (!windows || windows.length === 0) return null;
  return windows.map((w) => `${w.days.join(', ')} ${w.from}–${w.to}`).join('; ');
}

function schedule(state, env, actions) {
  const s = state.schedule;
  const part = el('fieldset', { dataset: { field: 'schedule' } }, el('legend', { text: 'Schedule' }),
    el('p', { class: 'hint', text: "Dates and times are local to each store's time zone." }),
    el('div', { class: 'inline-fields' },
      field('From (optional)', el('input', { type: 'datetime-local', name: 'schedule.from', value: s.from }), 'Empty: from approval.'),
      field('Until (optional)', el('input', { type: 'datetime-local', name: 'schedule.until', value: s.until }), 'Empty: until ended. This is when the campaign expires.')));
  const windows = el('div', { dataset: { field: 'schedule.windows' } }, el('h3', { text: 'Weekly windows' }),
    el('p', { class: 'hint', text: 'When in the week it may send. None: whenever the store is open. A "to" before "from" runs overnight; 24:00 is the end of the day.' }));
  s.windows.forEach((w, i) => {
    windows.append(el('div', { class: 'repeat', dataset: { field: `schedule.windows.${i}` } },
      choiceGroup(`Window ${i + 1}: days`, `schedule.windows.${i}.days`, WEEKDAYS, { selected: w.days }),
      el('div', { class: 'inline-fields' },
        field('From (HH:MM)', textInput(`schedule.windows.${i}.from`, w.from, { inputmode: 'numeric', placeholder: '09:00' })),
        field('To (HH:MM)', textInput(`schedule.windows.${i}.to`, w.to, { inputmode: 'numeric', placeholder: '18:00' }))),
      el('button', { type: 'button', class: 'secondary', text: `Remove window ${i + 1}`, onclick: () => actions.removeWindow(i) })));
  });
  windows.append(el('button', { type: 'button', class: 'secondary', 'data-action': 'add-window', text: 'Add a weekly window', onclick: () => actions.addWindow() }));
  part.append(windows);
  // Opening and quiet hours belong to each store (PUT /v1/admin/stores/:id): shown here, since they bound the schedule.
  const hours = env.placedStores.map((store) => {
    const opening = hoursText(store.openingHours);
    const quiet = hoursText(store.quietHours);
    return el('li', {}, `${store.name}: `, opening ? `open ${opening}` : 'always open', quiet ? `; quiet hours ${quiet}` : '; no quiet hours');
  });
  if (hours.length > 0) {
    part.append(el('div', { class: 'hint' }, el('p', { text: 'Nothing is sent outside opening hours or inside quiet hours, whatever the schedule:' }), el('ul', {}, hours)));
  }
  return part;
}

function capsAndPriority(state) {
  const c = state.caps;
  return el('fieldset', { dataset: { field: 'caps' } }, el('legend', { text: 'Frequency caps and priority' }),
    el('div', { class: 'inline-fields' },
      field('Sends per shopper', numberInput('caps.perShopper.count', c.perShopper.count)),
      field('…per period (seconds)', durationInput('caps.perShopper.periodS', c.perShopper.periodS), durationHint(c.perShopper.periodS))),
    el('div', { class: 'inline-fields' },
      field('Minimum gap between sends (s)', durationInput('caps.minGapS', c.minGapS), durationHint(c.minGapS)),
      field('Cool-down after any promotion (s)', durationInput('caps.cooldownS', c.cooldownS), durationHint(c.cooldownS))),
    field('Promotions per shopper per day, all campaigns', numberInput('caps.perShopperDaily', c.perShopperDaily)),
    field('Priority (0–1000)', numberInput('priority', state.priority), 'When several campaigns match one moment, only the highest priority sends.'));
}

function budget(state) {
  return el('fieldset', { dataset: { field: 'budget' } }, el('legend', { text: 'Budget (optional)' }),
    el('div', { class: 'inline-fields' },
      field('At most this many promotions sent', numberInput('budget.maxDeliveries', state.budget.maxDeliveries)),
      field('At most this many coupons redeemed', numberInput('budget.maxRedemptions', state.budget.maxRedemptions))));
}

function message(state) {
  const m = state.message;
  return el('fieldset', { dataset: { field: 'message' } }, el('legend', { text: 'Message' }),
    el('p', { class: 'hint', text: 'Placeholders {{firstName}} and {{loyaltyTier}} are filled in only for shoppers who consented to personalisation; the others get the generic text.' }),
    field('Title', textInput('message.title', m.title, { maxlength: '200' })),
    field('Body', el('textarea', { name: 'message.body', rows: '4', text: m.body })),
    field('Link (optional)', el('input', { type: 'url', name: 'message.deepLink', value: m.deepLink, placeholder: 'https://…' })),
    field('Valid for (seconds) — the coupon expires then', durationInput('message.validForS', m.validForS), durationHint(m.validForS)));
}

function experiment(state, actions) {
  const x = state.experiment;
  const part = el('fieldset', { dataset: { field: 'experiment' } }, el('legend', { text: 'Experiment (optional)' }),
    el('div', { class: 'choice' },
      el('input', { type: 'checkbox', id: 'experiment-enabled', name: 'experiment.enabled', 'data-kind': 'bool', 'data-structural': 'true', checked: x.enabled }),
      el('label', { for: 'experiment-enabled', text: 'A/B variants and a holdout (control group)' })));
  if (!x.enabled) return part;
  part.append(field('Holdout (% of the audience sent nothing)', numberInput('experiment.holdoutPercent', x.holdoutPercent), 'Uplift is measured against it; 0–50.'));
  x.variants.forEach((v, i) => {
    part.append(el('div', { class: 'repeat', dataset: { field: `experiment.variants.${i}` } },
      el('div', { class: 'inline-fields' },
        field(`Variant ${i + 1} ID`, textInput(`experiment.variants.${i}.id`, v.id)),
        field('Weight', numberInput(`experiment.variants.${i}.weight`, v.weight))),
      field('Title (empty: the campaign\'s)', textInput(`experiment.variants.${i}.message.title`, v.message.title)),
      field('Body (empty: the campaign\'s)', el('textarea', { name: `experiment.variants.${i}.message.body`, rows: '2', text: v.message.body })),
      field('Link (empty: the campaign\'s)', el('input', { type: 'url', name: `experiment.variants.${i}.message.deepLink`, value: v.message.deepLink })),
      x.variants.length > 1 ? el('button', { type: 'button', class: 'secondary', text: `Remove variant ${v.id || i + 1}`, onclick: () => actions.removeVariant(i) }) : null));
  });
  part.append(el('button', { type: 'button', class: 'secondary', 'data-action': 'add-variant', text: 'Add a variant', onclick: () => actions.addVariant() }));
  return part;
}

function attribution(state, env) {
  const a = state.attribution;
  const part = el('fieldset', { dataset: { field: 'attribution' } }, el('legend', { text: 'Attribution (optional)' }),
    el('div', { class: 'choice' },
      el('input', { type: 'checkbox', id: 'attribution-enabled', name: 'attribution.enabled', 'data-kind': 'bool', 'data-structural': 'true', checked: a.enabled }),
      el('label', { for: 'attribution-enabled', text: 'Count conversions: entering a zone (a checkout, a department) after the promotion' })));
  if (!a.enabled) return part;
  const zones = env.placedZones;
  part.append(
    choiceGroup('Conversion zones', 'attribution.conversionZoneIds', zones.map((z) => ({ value: z.id, label: `${z.name} (${z.id})` })), {
      selected: a.conversionZoneIds, hint: zones.length === 0 ? 'Choose where the campaign runs first: its stores\' zones are listed here.' : undefined,
    }),
    field('Conversion window (seconds)', durationInput('attribution.windowS', a.windowS), durationHint(a.windowS)));
  return part;
}

/** The builder's fieldsets for this state. env: { isNew, stores, storeDetails, placedStores, placedZones }; actions: add/remove rows. */
export function renderSections(state, env, actions) {
  return [
    basics(state, env), placement(state, env), trigger(state), audience(state), schedule(state, env, actions),
    capsAndPriority(state), budget(state), message(state), experiment(state, actions), attribution(state, env),
  ];
}
