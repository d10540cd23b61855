// The campaign builder's state and its mapping to and from the campaign definition of the API
// (server/domain/campaign.ts CampaignDefinitionSchema). The form keeps what the user typed, as typed;
// toDefinition turns it into the body the API validates, so every message about it comes from the
// server's own schema (POST /v1/admin/campaigns/preview, PUT /v1/admin/campaigns/:id).
// Each control's name is its field's dotted path in the definition ("caps.perShopper.count"), which is
// how the server's issues find their field.

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
export const LOYALTY_TIERS = ['basic', 'silver', 'gold', 'platinum'];
export const TRIGGER_KINDS = [
  { value: 'enter', label: 'Enters a zone' },
  { value: 'dwell', label: 'Stays in a zone (dwell)' },
  { value: 'exit', label: 'Leaves a zone' },
  { value: 'return', label: 'Comes back after some days away' },
  { value: 'visit', label: 'Makes their Nth visit' },
];
export const PLACEMENT_LEVELS = [
  { value: 'organisation', label: 'Every store' },
  { value: 'stores', label: 'Some stores (all their zones)' },
  { value: 'zones', label: 'Some zones of one store' },
];

const emptyVariant = (id) => ({ id, weight: '1', message: { title: '', body: '', deepLink: '' } });

/** A new campaign's state: sensible caps and expiry, the rest for the marketer to fill in. */
export function emptyState(stores = []) {
  return {
    campaignId: '',
    name: '',
    placement: { level: 'zones', storeIds: [], storeId: stores[0]?.id ?? '', zoneIds: [] },
    trigger: { kind: 'enter', minDwellS: '120', minDaysAway: '30', nth: '5', repeat: false },
    audience: { kind: 'everyone', segment: { loyaltyTiers: [], interests: '', minPastVisits: '', maxPastVisits: '' } },
    schedule: { from: '', until: '', windows: [] },
    caps: { perShopper: { count: '1', periodS: '86400' }, minGapS: '0', perShopperDaily: '3', cooldownS: '600' },
    budget: { maxDeliveries: '', maxRedemptions: '' },
    experiment: { enabled: false, holdoutPercent: '10', variants: [emptyVariant('A'), emptyVariant('B')] },
    attribution: { enabled: false, conversionZoneIds: [], windowS: '86400' },
    message: { title: '', body: '', deepLink: '', validForS: '3600' },
    priority: '100',
  };
}

export const newWindow = () => ({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '18:00' });
export const newVariant = (state) => {
  const used = new Set(state.experiment.variants.map((v) => v.id));
  const id = 'ABCDEFGHIJ'.split('').find((letter) => !used.has(letter)) ?? `v${state.experiment.variants.length + 1}`;
  return emptyVariant(id);
};

const str = (value) => (value === undefined || value === null ? '' : String(value));

/** The builder's state for a saved definition (a campaign from the API, or JSON pasted by the user). */
export function fromDefinition(definition, campaignId = '') {
  const state = emptyState();
  state.campaignId = campaignId;
  state.name = str(definition.name);
  const placement = definition.placement ?? {};
  state.placement = {
    level: placement.level ?? 'zones',
    storeIds: placement.storeIds ?? [],
    storeId: placement.storeId ?? '',
    zoneIds: placement.zoneIds ?? [],
  };
  const trigger = definition.trigger ?? {};
  state.trigger = {
    ...state.trigger, kind: trigger.kind ?? 'enter',
    ...(trigger.minDwellS !== undefined ? { minDwellS: str(trigger.minDwellS) } : {}),
    ...(trigger.minDaysAway !== undefined ? { minDaysAway: str(trigger.minDaysAway) } : {}),
    ...(trigger.nth !== undefined ? { nth: str(trigger.nth) } : {}),
    repeat: trigger.repeat === true,
  };
  const segment = definition.audience?.segment ?? {};
  state.audience = {
    kind: definition.audience?.kind ?? 'everyone',
    segment: {
      loyaltyTiers: segment.loyaltyTiers ?? [], interests: (segment.interests ?? []).join(', '),
      minPastVisits: str(segment.minPastVisits), maxPastVisits: str(segment.maxPastVisits),
    },
  };
  const schedule = definition.schedule ?? {};
  state.schedule = {
    from: str(schedule.from), until: str(schedule.until),
    windows: (schedule.windows ?? []).map((w) => ({ days: [...(w.days ?? [])], from: str(w.from), to: str(w.to) })),
  };
  const caps = definition.caps ?? {};
  state.caps = {
    perShopper: { count: str(caps.perShopper?.count), periodS: str(caps.perShopper?.periodS) },
    minGapS: str(caps.minGapS), perShopperDaily: str(caps.perShopperDaily), cooldownS: str(caps.cooldownS),
  };
  state.budget = { maxDeliveries: str(definition.budget?.maxDeliveries), maxRedemptions: str(definition.budget?.maxRedemptions) };
  if (definition.experiment) {
    state.experiment = {
      enabled: true,
      holdoutPercent: str(definition.experiment.holdoutPercent),
      variants: (definition.experiment.variants ?? []).map((v) => ({
        id: str(v.id), weight: str(v.weight),
        message: { title: str(v.message?.title), body: str(v.message?.body), deepLink: str(v.message?.deepLink) },
      })),
    };
  }
  if (definition.attribution) {
    state.attribution = { enabled: true, conversionZoneIds: [...(definition.attribution.conversionZoneIds ?? [])], windowS: str(definition.attribution.windowS) };
  }
  const message = definition.message ?? {};
  state.message = { title: str(message.title), body: str(message.body), deepLink: str(message.deepLink), validForS: str(message.validForS) };
  state.priority = str(definition.priority ?? 100);
  return state;
}

/** A number field: a number when it reads as one, else what was typed (the server says what is wrong with it); empty → absent. */
function num(text) {
  const trimmed = String(text ?? '').trim();
  if (trimmed === '') return undefined;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : trimmed;
}

const text = (value) => (String(value ?? '').trim() === '' ? undefined : String(value));

/** Drops the keys whose value is undefined, so "not set" is absent rather than null. */
function compact(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}

/** The definition the API validates, from the builder's state. */
export function toDefinition(state) {
  const { placement, trigger, audience, schedule, caps, budget, experiment, attribution, message } = state;
  const placementBody = placement.level === 'organisation'
    ? { level: 'organisation' }
    : placement.level === 'stores'
      ? { level: 'stores', storeIds: placement.storeIds }
      : { level: 'zones', storeId: placement.storeId, zoneIds: placement.zoneIds };
  const triggerBody = {
    enter: { kind: 'enter' },
    exit: { kind: 'exit' },
    dwell: { kind: 'dwell', minDwellS: num(trigger.minDwellS) },
    return: { kind: 'return', minDaysAway: num(trigger.minDaysAway) },
    visit: { kind: 'visit', nth: num(trigger.nth), repeat: trigger.repeat === true },
  }[trigger.kind] ?? { kind: trigger.kind };
  const interests = audience.segment.interests.split(',').map((s) => s.trim()).filter(Boolean);
  const audienceBody = audience.kind === 'segment'
    ? {
      kind: 'segment',
      segment: compact({
        loyaltyTiers: audience.segment.loyaltyTiers.length > 0 ? audience.segment.loyaltyTiers : undefined,
        interests: interests.length > 0 ? interests : undefined,
        minPastVisits: num(audience.segment.minPastVisits),
        maxPastVisits: num(audience.segment.maxPastVisits),
      }),
    }
    : { kind: 'everyone' };
  const scheduleBody = compact({
    from: text(schedule.from),
    until: text(schedule.until),
    windows: schedule.windows.length > 0 ? schedule.windows.map((w) => ({ days: w.days, from: w.from.trim(), to: w.to.trim() })) : undefined,
  });
  return compact({
    name: state.name,
    placement: placementBody,
    trigger: compact(triggerBody),
    audience: audienceBody,
    schedule: scheduleBody,
    caps: compact({
      perShopper: compact({ count: num(caps.perShopper.count), periodS: num(caps.perShopper.periodS) }),
      minGapS: num(caps.minGapS), perShopperDaily: num(caps.perShopperDaily), cooldownS: num(caps.cooldownS),
    }),
    budget: compact({ maxDeliveries: num(budget.maxDeliveries), maxRedemptions: num(budget.maxRedemptions) }),
    experiment: experiment.enabled
      ? {
        variants: experiment.variants.map((v) => compact({
          id: v.id, weight: num(v.weight),
          message: Object.keys(compact({ title: text(v.message.title), body: text(v.message.body), deepLink: text(v.message.deepLink) })).length > 0
            ? compact({ title: text(v.message.title), body: text(v.message.body), deepLink: text(v.message.deepLink) })
            : undefined,
        })),
        holdoutPercent: num(experiment.holdoutPercent),
      }
      : undefined,
    attribution: attribution.enabled ? { conversionZoneIds: attribution.conversionZoneIds, windowS: num(attribution.windowS) } : undefined,
    message: compact({ title: message.title, body: message.body, deepLink: text(message.deepLink), validForS: num(message.validForS) }),
    priority: num(state.priority),
  });
}

/** The value at a dotted path ("experiment.variants.0.id"). */
export function getPath(object, path) {
  return path.split('.').reduce((node, key) => (node === undefined || node === null ? undefined : node[key]), object);
}

/** Sets the value at a dotted path, creating nothing: the state has every path the form shows. */
export function setPath(object, path, value) {
  const keys = path.split('.');
  const last = keys.pop();
  const parent = keys.reduce((node, key) => (node === undefined || node === null ? undefined : node[key]), object);
  if (parent !== undefined && parent !== null) parent[last] = value;
}

/** One line on where a campaign runs. */
export function placementText(placement) {
  switch (placement?.level) {
    case 'organisation':
      return 'every store';
    case 'stores':
      return `stores ${placement.storeIds.join(', ')}`;
    case 'zones':
      return `${placement.storeId}: ${placement.zoneIds.join(', ')}`;
    default:
      return '—';
  }
}

/** One line on what sets it off. */
export function triggerText(trigger) {
  switch (trigger?.kind) {
    case 'enter':
      return 'on entering';
    case 'exit':
      return 'on leaving';
    case 'dwell':
      return `after ${trigger.minDwellS} s in the zone`;
    case 'return':
      return `on a return after ${trigger.minDaysAway}+ days`;
    case 'visit':
      return trigger.repeat ? `every ${trigger.nth}th visit` : `on visit ${trigger.nth}`;
    default:
      return '—';
  }
}
