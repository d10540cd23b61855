import { ApiFailure } from '../api.js';
import { renderBuilder } from '../campaign/builder.js';
import { placementText, triggerText } from '../campaign/model.js';
import { alertBox, el, field, formatDuration, formatTime, heading, table, toast } from '../ui.js';

// Campaigns: the list with each one's status, a campaign's page with its lifecycle actions, and the
// builder (campaign/builder.js) for a new campaign or a new version of a draft or paused one.
//   #/campaigns              the list
//   #/campaigns/new          the builder, for a new campaign
//   #/campaigns/<id>         the campaign: its definition, history and the actions the user may take
//   #/campaigns/<id>/edit    the builder, for its next version
// An action button shows only when the user's permissions and the campaign's status allow it. Approval
// is maker–checker: the API refuses it to whoever wrote or submitted the version, and says so here.

const STATUS_FILTERS = ['', 'draft', 'pending', 'active', 'paused', 'ended'];

/** The lifecycle actions (server/domain/campaign-lifecycle.ts TRANSITIONS) and what each needs. */
const ACTIONS = [
  { action: 'submit', label: 'Submit for approval', from: ['draft'], permission: 'campaigns.write' },
  { action: 'approve', label: 'Approve', from: ['pending'], permission: 'campaigns.approve' },
  { action: 'reject', label: 'Reject', from: ['pending'], permission: 'campaigns.write', needsReason: true },
  { action: 'pause', label: 'Pause', from: ['active'], permission: 'campaigns.write' },
  { action: 'resume', label: 'Resume', from: ['paused'], permission: 'campaigns.write' },
  { action: 'end', label: 'End', from: ['draft', 'pending', 'active', 'paused'], permission: 'campaigns.write', danger: true },
];

const EDITABLE = new Set(['draft', 'paused']);

export const statusBadge = (status) => el('span', { class: `status status-${status}`, text: status });

const path = (id) => `/v1/admin/campaigns/${encodeURIComponent(id)}`;

async function renderList(main, ctx) {
  const wanted = ctx.query.get('status') ?? '';
  main.append(heading('Campaigns'));
  if (ctx.can('campaigns.write')) main.append(el('div', { class: 'actions' }, el('a', { href: '#/campaigns/new', class: 'button', text: 'New campaign' })));
  const filter = el('select', { id: 'status-filter', name: 'status' }, STATUS_FILTERS.map((s) => el('option', { value: s, selected: s === wanted, text: s === '' ? 'all' : s })));
  filter.addEventListener('change', () => ctx.navigate(filter.value === '' ? '#/campaigns' : `#/campaigns?status=${filter.value}`));
  main.append(el('div', { class: 'inline-fields' }, field('Status', filter)));
  const { campaigns } = await ctx.api('GET', `/v1/admin/campaigns${wanted ? `?status=${encodeURIComponent(wanted)}` : ''}`);
  main.append(table([
    { label: 'Name', value: (c) => el('a', { href: `#/campaigns/${encodeURIComponent(c.id)}`, text: c.name }) },
    { label: 'ID', value: (c) => c.id },
    { label: 'Status', value: (c) => statusBadge(c.status) },
    { label: 'Version', value: (c) => c.version },
    { label: 'Where', value: (c) => placementText(c.placement) },
    { label: 'Trigger', value: (c) => triggerText(c.trigger) },
    { label: 'Priority', value: (c) => c.priority },
    { label: 'Updated', value: (c) => formatTime(c.lifecycle.updatedAtMs) },
  ], campaigns, { caption: `${campaigns.length} ${campaigns.length === 1 ? 'campaign' : 'campaigns'}`, empty: 'No campaigns yet.' }));
}

/** Who did it: "you" for the user's own actions (principal IDs otherwise; never a shopper). */
const actor = (ctx, principalId) => (principalId === null ? '—' : principalId === ctx.session.user.id ? `you (${ctx.session.user.username})` : principalId);

function facts(rows) {
  return el('dl', { class: 'facts' }, rows.filter(([, value]) => value !== null && value !== undefined).flatMap(([label, value]) => [el('dt', { text: label }), el('dd', {}, value)]));
}

function summary(c) {
  const windows = c.schedule.windows?.map((w) => `${w.days.join(', ')} ${w.from}–${w.to}`).join('; ');
  const segment = c.audience.kind === 'segment'
    ? Object.entries(c.audience.segment).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(', ') : v}`).join('; ')
    : 'everyone who consented to promotions';
  return facts([
    ['Where', placementText(c.placement)],
    ['Trigger', triggerText(c.trigger)],
    ['Audience', segment],
    ['Schedule', [c.schedule.from ? `from ${c.schedule.from}` : 'from approval', c.schedule.until ? `until ${c.schedule.until}` : 'until ended', windows ? `in ${windows}` : null].filter(Boolean).join(', ')],
    ['Caps', `${c.caps.perShopper.count} per ${formatDuration(c.caps.perShopper.periodS)} per shopper, ${formatDuration(c.caps.minGapS)} apart; at most ${c.caps.perShopperDaily} a day from all campaigns; ${formatDuration(c.caps.cooldownS)} cool-down`],
    ['Budget', [c.budget.maxDeliveries ? `${c.budget.maxDeliveries} sends` : null, c.budget.maxRedemptions ? `${c.budget.maxRedemptions} redemptions` : null].filter(Boolean).join(', ') || 'none'],
    ['Priority', String(c.priority)],
    ['Message', el('span', {}, el('strong', { text: c.message.title }), ' — ', c.message.body)],
    ['Link', c.message.deepLink ?? null],
    ['Valid for', formatDuration(c.message.validForS)],
    ['Experiment', c.experiment ? `${c.experiment.variants.map((v) => `${v.id} (weight ${v.weight})`).join(', ')}; holdout ${c.experiment.holdoutPercent} %` : 'none'],
    ['Attribution', c.attribution ? `entering ${c.attribution.conversionZoneIds.join(', ')} within ${formatDuration(c.attribution.windowS)}` : 'none'],
  ]);
}

function actionsFor(ctx, campaign) {
  return ACTIONS.filter((a) => a.from.includes(campaign.status) && ctx.can(a.permission));
}

async function renderCampaign(main, ctx, id) {
  const campaign = await ctx.api('GET', path(id));
  const { lifecycle } = campaign;
  main.append(heading(campaign.name), el('p', {}, statusBadge(campaign.status), ` version ${campaign.version} · `, el('code', { text: campaign.id })));

  const outcome = el('div', { class: 'action-outcome', 'aria-live': 'assertive' });
  const buttons = el('div', { class: 'actions', role: 'group', 'aria-label': 'Campaign actions' });
  const reason = el('input', { type: 'text', name: 'reason', maxlength: '200' });
  const allowed = actionsFor(ctx, campaign);
  if (EDITABLE.has(campaign.status) && ctx.can('campaigns.write')) {
    buttons.append(el('a', { href: `#/campaigns/${encodeURIComponent(campaign.id)}/edit`, class: 'button secondary', text: campaign.status === 'paused' ? 'Edit (needs approval again)' : 'Edit' }));
  }
  for (const a of allowed) {
    buttons.append(el('button', { type: 'button', class: a.danger ? 'danger' : a.action === 'approve' || a.action === 'submit' ? '' : 'secondary', 'data-action': a.action, text: a.label, onclick: async (event) => {
      const button = event.currentTarget;
      if (a.needsReason && reason.value.trim() === '') {
        outcome.replaceChildren(alertBox('Say why it is rejected first (the reason field below): the author reads it.'));
        reason.focus();
        return;
      }
      if (a.action === 'end' && !window.confirm(`End ${campaign.name}? An ended campaign never sends again.`)) return;
      button.disabled = true;
      try {
        const body = { expectedVersion: campaign.version, ...(a.needsReason ? { reason: reason.value.trim() } : {}) };
        const updated = await ctx.api('POST', `${path(campaign.id)}/${a.action}`, body);
        toast(`${campaign.name}: ${a.action} done, now ${updated.status}.`);
        ctx.navigate(`#/campaigns/${encodeURIComponent(campaign.id)}`);
      } catch (error) {
        button.disabled = false;
        if (!(error instanceof ApiFailure)) throw error;
        outcome.replaceChildren(alertBox(`${a.label} refused: ${error.message}`));
      }
    } }));
  }
  if (allowed.length > 0 || buttons.childElementCount > 0) main.append(buttons);
  if (allowed.some((a) => a.needsReason)) main.append(field('Reason for rejecting', reason, 'Required to reject; the author sees it in the audit log.'));
  main.append(outcome);
  if (campaign.status === 'active' && ctx.can('campaigns.write')) main.append(el('p', { class: 'hint', text: 'An active campaign cannot be edited: pause it first (the edit then needs approval again).' }));

  main.append(el('h2', { text: 'Definition' }), summary(campaign),
    el('details', {}, el('summary', { text: 'JSON' }), el('pre', { text: JSON.stringify(campaign, null, 2) })));
  main.append(el('h2', { text: 'History' }), facts([
    ['Created', formatTime(lifecycle.createdAtMs)],
    ['This version written by', `${actor(ctx, lifecycle.authoredBy)}, ${formatTime(lifecycle.authoredAtMs)}`],
    ['Submitted by', lifecycle.submittedBy ? `${actor(ctx, lifecycle.submittedBy)}, ${formatTime(lifecycle.submittedAtMs)}` : null],
    ['Approved by', lifecycle.approvedBy ? `${actor(ctx, lifecycle.approvedBy)}, ${formatTime(lifecycle.approvedAtMs)}` : null],
    ['Status last changed by', lifecycle.statusChangedBy ? `${actor(ctx, lifecycle.statusChangedBy)}, ${formatTime(lifecycle.statusChangedAtMs)}` : null],
    ['Definition SHA-256', el('code', { text: lifecycle.definitionSha256 })],
  ]));
  if (ctx.can('analytics.read')) main.append(el('p', {}, el('a', { href: `#/analytics/${encodeURIComponent(campaign.id)}`, text: 'Results: deliveries, opens, redemptions and uplift' })));
}

async function renderEdit(main, ctx, id) {
  if (!ctx.can('campaigns.write')) throw new ApiFailure(403, 'FORBIDDEN', `Your role (${ctx.session.user.role}) cannot edit campaigns: it lacks campaigns.write.`);
  if (id === undefined) {
    main.append(heading('New campaign'));
    await renderBuilder(main, ctx, undefined);
    return;
  }
  const campaign = await ctx.api('GET', path(id));
  main.append(heading(`Edit ${campaign.name}`));
  if (!EDITABLE.has(campaign.status)) {
    main.append(alertBox(`${campaign.name} is ${campaign.status}: only a draft or a paused campaign can be edited.`), el('p', {}, el('a', { href: `#/campaigns/${encodeURIComponent(id)}`, text: 'Back to the campaign' })));
    return;
  }
  main.append(el('p', { class: 'hint', text: `Saving makes version ${campaign.version + 1}, a draft: it needs approval again before it sends.` }));
  await renderBuilder(main, ctx, campaign);
}

export default {
  id: 'campaigns',
  title: 'Campaigns',
  permission: 'campaigns.read',
  async render(main, ctx) {
    const [first, second] = ctx.params;
    if (first === undefined || first === '') return renderList(main, ctx);
    if (first === 'new') return renderEdit(main, ctx, undefined);
    if (second === 'edit') return renderEdit(main, ctx, first);
    return renderCampaign(main, ctx, first);
  },
};
