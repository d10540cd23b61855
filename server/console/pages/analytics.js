import { alertBox, el, field, heading, uid } from '../ui.js';
import { barChart, bucketLabels, chartId, formatCount, formatPercentPoints, intervalChart, lineChart, suppressedText, toDom } from './charts.js';

// Analytics (issue 8; docs/analytics.md): a campaign's deliveries, opens and redemptions over time, its
// uplift over the holdout with the 95 % interval, and a store's footfall by hour per zone and dwell
// distribution. Aggregates only, as the API gives them: k-anonymous (AN-1), a suppressed figure reads
// "suppressed (< k)" and is never drawn as 0, sensitive zones are not reported (AN-3). Each report has
// its CSV next to it (the API's .csv variants, downloaded with the session cookie).

const draw = (node) => toDom(node, document);

/**
 * The width to draw a chart at: its container's, on a narrow screen, so that text keeps its size
 * rather than shrinking with the drawing; 560 (the charts' default) where there is room.
 */
export const chartWidth = (container) => (container.clientWidth > 0 && container.clientWidth < 560 ? Math.max(300, container.clientWidth) : 560);
const enc = encodeURIComponent;
const percent = (r) => (r === null ? '—' : `${(r * 100).toFixed(1)} %`);

function select(label, name, options, selected, hint) {
  const control = el('select', { name }, options.map((o) => el('option', { value: o.value, selected: o.value === selected, text: o.label })));
  return { control, wrapper: field(label, control, hint) };
}

/** Keeps the choices in the address (#/analytics/<campaign>/<store>), so a reload or a shared link opens the same reports. */
function remember(state) {
  history.replaceState(history.state, '', `#/analytics/${enc(state.campaignId ?? '')}/${enc(state.storeId ?? '')}`);
}

/** Loads a section's content, replacing what was there; an API error is shown in its place. */
async function fill(target, ctx, build) {
  target.replaceChildren(el('p', { class: 'loading', text: 'Loading…' }));
  target.setAttribute('aria-busy', 'true');
  try {
    const nodes = await build(chartWidth(target));
    // (replaceChildren would write a null as the text "null".)
    if (!ctx.signal.aborted) target.replaceChildren(...nodes.filter((node) => node !== null && node !== undefined));
  } catch (error) {
    if (!ctx.signal.aborted) target.replaceChildren(alertBox(error?.message ?? String(error)));
  } finally {
    target.removeAttribute('aria-busy');
  }
}

// ——— Campaign ———

const GROUP_COLUMNS = [
  ['Shoppers', 'shoppers'], ['Deliveries', 'deliveries'], ['Opens', 'opens'], ['Redemptions', 'redemptions'], ['Conversions', 'conversions'],
];

function groupsTable(report) {
  const name = (g) => (g.holdout ? 'Holdout (control)' : g.variant === 'default' ? 'All shoppers' : `Variant ${g.variant}`);
  return el('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Groups of the experiment' },
    el('table', {},
      el('caption', { text: 'Per group' }),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Group' }), GROUP_COLUMNS.map(([label]) => el('th', { scope: 'col', text: label })),
        el('th', { scope: 'col', text: 'Redemption rate' }), el('th', { scope: 'col', text: 'Conversion rate' }))),
      el('tbody', {}, report.groups.map((g) => el('tr', { dataset: { variant: g.variant } },
        el('th', { scope: 'row', text: name(g) }),
        g.suppressed
          ? el('td', { class: 'suppressed', colspan: GROUP_COLUMNS.length + 2, text: `${suppressedText(report.k)}: fewer than ${report.k} shoppers in this group` })
          : [GROUP_COLUMNS.map(([, key]) => el('td', { text: formatCount(g[key]) })), el('td', { text: percent(g.redemptionRate) }), el('td', { text: percent(g.conversionRate) })])))));
}

function upliftRow(label, uplift) {
  return uplift.status === 'ok' ? { label, ...uplift.absolute } : { label, reason: uplift.reason };
}

/** The uplift in words: the estimate, its interval, and whether the interval excludes no effect. */
function upliftSentence(uplift) {
  if (uplift.status !== 'ok') return `Uplift: not enough data yet (${uplift.reason}).`;
  const { estimate, lower, upper } = uplift.absolute;
  const relative = uplift.relative === null ? '' : ` (${uplift.relative >= 0 ? '+' : '\u2212'}${Math.abs(uplift.relative * 100).toFixed(0)} % relative to the holdout)`;
  const verdict = lower > 0 ? 'The interval is above 0: the campaign raised conversion.'
    : upper < 0 ? 'The interval is below 0: the campaign lowered conversion.'
      : 'The interval includes 0: no difference can be claimed yet.';
  return `Uplift in conversion over the holdout: ${formatPercentPoints(estimate)}${relative}, 95 % confidence interval ${formatPercentPoints(lower)} to ${formatPercentPoints(upper)}. ${verdict}`;
}

async function campaignReport(ctx, campaignId, bucket, width) {
  const base = `/v1/admin/analytics/campaigns/${enc(campaignId)}`;
  const [report, series] = await Promise.all([
    ctx.api('GET', base),
    ctx.api('GET', `${base}/series?bucket=${bucket}`),
  ]);
  const labels = bucketLabels(series.points.map((p) => p.bucketStartMs), series.timezone, series.bucket);
  const activity = lineChart({
    id: chartId('activity', campaignId), width, title: `Deliveries, opens and redemptions per ${bucket === '1d' ? 'day' : 'hour'}`,
    xLabel: `${bucket === '1d' ? 'Day' : 'Hour'} (${series.timezone})`, yLabel: 'Count', categories: labels, k: series.k,
    series: [
      { name: 'Deliveries', values: series.points.map((p) => p.deliveries) },
      { name: 'Opens', values: series.points.map((p) => p.opens) },
      { name: 'Redemptions', values: series.points.map((p) => p.redemptions) },
    ],
  });
  const rows = [upliftRow('All variants', report.uplift), ...(report.variants.length > 1 ? report.variants.map((v) => upliftRow(`Variant ${v.variant}`, v.uplift)) : [])];
  const uplift = intervalChart({
    id: chartId('uplift', campaignId), width, title: 'Uplift in conversion over the holdout, with 95 % confidence intervals',
    xLabel: 'Conversion, treatment minus holdout (pp)', rows,
  });
  return [
    el('h3', { text: 'Over time' }),
    draw(activity),
    el('h3', { text: 'Uplift against the holdout' }),
    el('p', { class: 'uplift-summary', text: upliftSentence(report.uplift) }),
    report.uplift.status === 'ok'
      ? el('p', { class: 'hint', text: `Newcombe hybrid score interval on distinct shoppers: ${report.uplift.treatment.converted} of ${report.uplift.treatment.shoppers} treated and ${report.uplift.holdout.converted} of ${report.uplift.holdout.shoppers} held-out shoppers converted.` })
      : null,
    draw(uplift),
    groupsTable(report),
    el('div', { class: 'downloads' },
      el('a', { href: `${base}.csv`, download: `campaign-${campaignId}.csv`, class: 'button secondary', text: 'Download the campaign report (CSV)' }),
      el('a', { href: `${base}/series.csv?bucket=${bucket}`, download: `campaign-${campaignId}-series-${bucket}.csv`, class: 'button secondary', text: 'Download the series (CSV)' })),
  ];
}

async function campaignPart(section, ctx, state) {
  const { campaigns } = await ctx.api('GET', '/v1/admin/campaigns');
  if (campaigns.length === 0) {
    section.append(el('p', { class: 'empty', text: 'No campaign yet.' }));
    return;
  }
  const chosen = campaigns.some((c) => c.id === state.campaignId) ? state.campaignId : campaigns[0].id;
  state.campaignId = chosen;
  const picker = select('Campaign', 'campaign', campaigns.map((c) => ({ value: c.id, label: `${c.name} (${c.id}, ${c.status})` })), chosen);
  const bucket = select('Buckets', 'bucket', [{ value: '1h', label: 'Hourly' }, { value: '1d', label: 'Daily' }], '1h');
  bucket.wrapper.classList.add('field-narrow');
  const body = el('div', { class: 'campaign-report' });
  section.append(el('form', { class: 'toolbar', onsubmit: (e) => e.preventDefault() }, picker.wrapper, bucket.wrapper), body);
  const load = () => fill(body, ctx, (width) => campaignReport(ctx, picker.control.value, bucket.control.value, width));
  picker.control.addEventListener('change', () => {
    state.campaignId = picker.control.value;
    remember(state);
    void load();
  });
  bucket.control.addEventListener('change', () => void load());
  await load();
}

// ——— Store ———

async function storeReport(ctx, storeId, width) {
  const base = `/v1/admin/analytics/stores/${enc(storeId)}/zones`;
  const [hourly, daily, store] = await Promise.all([
    ctx.api('GET', `${base}?bucket=1h`),
    ctx.api('GET', `${base}?bucket=1d`),
    ctx.api('GET', `/v1/admin/stores/${enc(storeId)}`).catch(() => null),
  ]);
  const nameOf = new Map((store?.zones ?? []).map((z) => [z.id, z.name]));
  const zoneName = (id) => nameOf.get(id) ?? id;
  const sensitive = (store?.zones ?? []).filter((z) => z.sensitive);
  const zoneIds = [...new Set(hourly.footfall.map((c) => c.zoneId))];
  const out = [
    el('p', { class: 'hint', text: `Buckets on the store's clock (${hourly.timezone}); rolled up to ${new Date(hourly.rolledUntilMs).toLocaleString(undefined, { timeZone: hourly.timezone })}. k = ${hourly.k}.` }),
    sensitive.length > 0 ? el('p', { class: 'hint', text: `Not reported (sensitive zones, AN-3): ${sensitive.map((z) => z.name).join(', ')}.` }) : null,
    el('h3', { text: 'Footfall by hour, per zone' }),
  ];
  if (zoneIds.length === 0) out.push(el('p', { class: 'empty', text: 'No closed hour to report yet.' }));
  const grid = el('div', { class: 'charts-grid' });
  for (const zoneId of zoneIds) {
    const cells = hourly.footfall.filter((c) => c.zoneId === zoneId);
    grid.append(draw(barChart({
      id: chartId('footfall', storeId, zoneId), width, title: `Footfall by hour: ${zoneName(zoneId)}`, xLabel: `Hour (${hourly.timezone})`, yLabel: 'Shoppers',
      categories: bucketLabels(cells.map((c) => c.bucketStartMs), hourly.timezone, '1h'), k: hourly.k,
      series: [{ name: zoneName(zoneId), values: cells.map((c) => (c.suppressed ? null : c.shoppers)) }],
    })));
  }
  out.push(grid, el('h3', { text: 'Dwell distribution, per zone and day' }));
  const days = [...new Set(daily.dwell.map((c) => c.bucketStartMs))].sort((a, b) => b - a);
  const dwellBody = el('div', { class: 'dwell' });
  const bins = daily.dwellBins ?? [...new Set(daily.dwell.map((c) => c.bin))];
  const drawDay = (dayMs) => {
    const cells = daily.dwell.filter((c) => c.bucketStartMs === dayMs);
    const dayIds = [...new Set(cells.map((c) => c.zoneId))];
    const [dayLabel] = bucketLabels([dayMs], daily.timezone, '1d');
    dwellBody.replaceChildren(draw(barChart({
      id: chartId('dwell', storeId, String(dayMs)), width, title: `Dwell time on ${dayLabel}: shoppers per dwell band and zone`, xLabel: 'Time in the zone', yLabel: 'Shoppers',
      categories: bins, k: daily.k,
      series: dayIds.map((zoneId) => ({ name: zoneName(zoneId), values: bins.map((bin) => {
        const cell = cells.find((c) => c.zoneId === zoneId && c.bin === bin);
        return cell === undefined || cell.suppressed ? null : cell.shoppers;
      }) })),
    })));
  };
  if (days.length === 0) out.push(el('p', { class: 'empty', text: 'No closed day to report yet.' }));
  else {
    const day = select('Day', 'day', days.map((ms) => ({ value: String(ms), label: bucketLabels([ms], daily.timezone, '1d')[0] })), String(days[0]));
    day.wrapper.classList.add('field-narrow');
    day.control.addEventListener('change', () => drawDay(Number(day.control.value)));
    out.push(el('form', { class: 'toolbar', onsubmit: (e) => e.preventDefault() }, day.wrapper), dwellBody);
    drawDay(days[0]);
  }
  out.push(el('div', { class: 'downloads' },
    el('a', { href: `${base}.csv?bucket=1h`, download: `zones-${storeId}-1h.csv`, class: 'button secondary', text: 'Download hourly footfall and dwell (CSV)' }),
    el('a', { href: `${base}.csv?bucket=1d`, download: `zones-${storeId}-1d.csv`, class: 'button secondary', text: 'Download daily footfall and dwell (CSV)' })));
  return out;
}

async function storePart(section, ctx, state) {
  const { stores } = await ctx.api('GET', '/v1/admin/stores');
  if (stores.length === 0) {
    section.append(el('p', { class: 'empty', text: 'No store yet.' }));
    return;
  }
  const chosen = stores.some((s) => s.id === state.storeId) ? state.storeId : stores[0].id;
  state.storeId = chosen;
  const picker = select('Store', 'store', stores.map((s) => ({ value: s.id, label: `${s.name} (${s.id})` })), chosen);
  const body = el('div', { class: 'store-report' });
  section.append(el('form', { class: 'toolbar', onsubmit: (e) => e.preventDefault() }, picker.wrapper), body);
  picker.control.addEventListener('change', () => {
    state.storeId = picker.control.value;
    remember(state);
    void fill(body, ctx, (width) => storeReport(ctx, picker.control.value, width));
  });
  await fill(body, ctx, (width) => storeReport(ctx, chosen, width));
}

/** Runs one part of the page; its failure is shown in its own section, the other part still loads. */
async function part(section, run) {
  try {
    await run();
  } catch (error) {
    section.append(alertBox(error?.message ?? String(error)));
  }
}

export default {
  id: 'analytics',
  title: 'Analytics',
  permission: 'analytics.read',
  async render(view, ctx) {
    const campaignHeading = uid('h');
    const storeHeading = uid('h');
    const campaignSection = el('section', { class: 'analytics-campaign', 'aria-labelledby': campaignHeading }, el('h2', { id: campaignHeading, text: 'Campaign results' }));
    const storeSection = el('section', { class: 'analytics-store', 'aria-labelledby': storeHeading }, el('h2', { id: storeHeading, text: 'Store footfall and dwell' }));
    view.append(
      heading('Analytics'),
      el('p', { class: 'hint', text: 'Aggregates only, from shoppers who consented to analytics. A figure that would come from fewer than k shoppers is suppressed — shown as "suppressed (< k)", never as 0 — and no shopper is ever listed.' }),
      campaignSection, storeSection);
    const [campaignId, storeId] = ctx.params;
    const state = { campaignId, storeId };
    await Promise.all([
      part(campaignSection, () => campaignPart(campaignSection, ctx, state)),
      part(storeSection, () => storePart(storeSection, ctx, state)),
    ]);
  },
};
