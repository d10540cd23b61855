// Charts for the console (issue 8): bar, line, confidence-interval and floor-plan views of k-anonymous
// aggregates (AN-1). Pure functions build a plain tree ({ tag, attrs, children }); the page turns it into
// DOM with toDom(node, document), and tests read the tree or toMarkup(node).
//
// Every chart is a <figure>: its title as the caption, an SVG with role="img", <title> and <desc> (a
// summary in words), axis labels, an HTML legend, and the same numbers as a table under it (WCAG 1.1.1;
// 1.4.1: nothing is said by colour alone). A suppressed value (fewer than k shoppers) is drawn hatched and reads "suppressed (< k)", never 0.
// No inline style attributes (the console's CSP); colours are SVG presentation attributes.

const SVG_NS = 'http://www.w3.org/2000/svg';
const HTML_NS = 'http://www.w3.org/1999/xhtml';

/** Okabe–Ito hues darkened where needed for 3:1 against white (WCAG 1.4.11); series also differ by marker shape. */
export const PALETTE = ['#0072B2', '#D55E00', '#007D5C', '#AA4499', '#555555'];
const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'circle'];
const HATCH_FILL = '#e6e6e6';
const HATCH_STROKE = '#8c8c8c';
const NO_DATA_FILL = '#f4f4f4';

// ——— The tree ———

/** A node: h('rect', { x: 1 }, child, ...); null, undefined and false children are dropped, numbers become text. */
export function h(tag, attrs = {}, ...children) {
  const kept = children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);
  return { tag, attrs, children: kept.map((c) => (typeof c === 'number' ? String(c) : c)) };
}

const attrText = (value) => (typeof value === 'number' ? String(round(value)) : String(value));

/** The node as DOM of `doc`: SVG elements under <svg>, HTML elsewhere. */
export function toDom(node, doc, namespace = HTML_NS) {
  const ns = node.tag === 'svg' ? SVG_NS : namespace;
  const element = doc.createElementNS(ns, node.tag);
  for (const [name, value] of Object.entries(node.attrs)) {
    if (value !== undefined && value !== null && value !== false) element.setAttribute(name, value === true ? '' : attrText(value));
  }
  for (const child of node.children) element.append(typeof child === 'string' ? child : toDom(child, doc, ns));
  return element;
}

const escapeText = (s) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** The node as markup (the svg element gets its xmlns, so the SVG stands alone). */
export function toMarkup(node) {
  if (typeof node === 'string') return escapeText(node);
  const attrs = node.tag === 'svg' ? { xmlns: SVG_NS, ...node.attrs } : node.attrs;
  const list = Object.entries(attrs)
    .filter(([, value]) => value !== undefined && value !== null && value !== false)
    .map(([name, value]) => (value === true ? ` ${name}` : ` ${name}="${escapeText(attrText(value)).replaceAll('"', '&quot;')}"`))
    .join('');
  return `<${node.tag}${list}>${node.children.map(toMarkup).join('')}</${node.tag}>`;
}

// ——— Numbers and scales ———

/** Rounds away binary noise (0.1 + 0.2) so attributes and tick labels read cleanly. */
export const round = (n) => Number(n.toFixed(6));

/** A tick step of 1, 2, 2.5 or 5 × 10^n near span / count; integers only when `integer`. */
function niceStep(span, count, integer) {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  const steps = integer && power < 10 ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
  const step = steps.find((s) => f <= s) * power;
  return integer ? Math.max(1, Math.round(step)) : step;
}

/** Ticks covering [min, max], about `count` of them, on round numbers; the first ≤ min, the last ≥ max. */
export function niceTicks(min, max, { count = 5, integer = false } = {}) {
  const lo = Math.min(min, max);
  const hi = max > lo ? Math.max(min, max) : lo + 1;
  const step = niceStep(hi - lo, count, integer);
  const first = Math.floor(round(lo / step)) * step;
  const ticks = [];
  for (let v = first; ticks.length === 0 || ticks[ticks.length - 1] < hi; v += step) ticks.push(round(v));
  return ticks;
}

/** Maps [d0, d1] onto [r0, r1] linearly. */
export function linearScale([d0, d1], [r0, r1]) {
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

export const formatCount = (n) => n.toLocaleString('en-GB');

/** A difference of proportions in percentage points, with its sign: "+40.0 pp", "−3.1 pp". */
export function formatPercentPoints(d) {
  const pp = round(d * 100).toFixed(1);
  return d > 0 ? `+${pp} pp` : d < 0 ? `\u2212${pp.slice(1)} pp` : `${pp} pp`;
}

/** How a suppressed value reads everywhere in the console (AN-1). */
export const suppressedText = (k) => `suppressed (< ${k})`;

/** "chart-" and a slug of the parts: IDs for <title>, <desc> and patterns, unique when the parts are. */
export function chartId(...parts) {
  return `chart-${parts.join('-').toLowerCase().replaceAll(/[^a-z0-9]+/g, '-').replaceAll(/^-|-$/g, '')}`;
}

// ——— Shared pieces ———

function hatchPattern(id) {
  return h('pattern', { id, patternUnits: 'userSpaceOnUse', width: 8, height: 8, patternTransform: 'rotate(45)' },
    h('rect', { width: 8, height: 8, fill: HATCH_FILL }),
    h('line', { x1: 0, y1: 0, x2: 0, y2: 8, stroke: HATCH_STROKE, 'stroke-width': 3 }));
}

function svgRoot({ id, title, desc, width, height }, ...children) {
  return h('svg', {
    role: 'img', 'aria-labelledby': `${id}-title ${id}-desc`, viewBox: `0 0 ${width} ${height}`, width, height,
    preserveAspectRatio: 'xMinYMin meet', class: 'chart-svg', 'font-family': 'inherit', 'font-size': 12,
  }, h('title', { id: `${id}-title` }, title), h('desc', { id: `${id}-desc` }, desc), h('defs', {}, hatchPattern(`${id}-hatch`)), ...children);
}

/** A legend entry's 14 × 14 swatch, in its own small SVG (hatched ones carry their own pattern). */
function swatch(kind, colour, id) {
  const shape = kind === 'hatch'
    ? [h('defs', {}, hatchPattern(id)), h('rect', { width: 14, height: 14, fill: `url(#${id})`, stroke: HATCH_STROKE })]
    : kind === 'outline-dashed'
      ? [h('rect', { x: 1, y: 1, width: 12, height: 12, fill: 'none', stroke: colour, 'stroke-width': 2, 'stroke-dasharray': '3 2' })]
      : [h('rect', { width: 14, height: 14, fill: colour, stroke: '#00000033' })];
  return h('svg', { class: 'chart-swatch', width: 14, height: 14, viewBox: '0 0 14 14', 'aria-hidden': 'true', focusable: 'false' }, ...shape);
}

function legend(entries) {
  if (entries.length === 0) return null;
  return h('ul', { class: 'chart-legend' }, entries.map((e) => h('li', { class: `chart-legend-${e.kind}` }, e.swatch, ' ', e.label)));
}

function dataTable({ id, title, head, rows }) {
  return h('details', { class: 'chart-table' },
    h('summary', {}, `Table: ${title}`),
    h('div', { class: 'table-scroll' },
      h('table', { id: `${id}-table` },
        h('caption', {}, title),
        h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows.length === 0
          ? h('tr', {}, h('td', { colspan: head.length }, 'No data for this period.'))
          : rows.map((cells) => h('tr', {}, cells.map((cell, i) => (i === 0
            ? h('th', { scope: 'row' }, cell.text ?? cell)
            : h('td', { class: cell.suppressed ? 'suppressed' : undefined }, cell.text ?? cell)))))))));
}

const valueCell = (v, k, format) => (v === null ? { text: suppressedText(k), suppressed: true } : { text: format(v) });

function emptyText(width, height) {
  return h('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', fill: 'currentColor', class: 'chart-empty' }, 'No data for this period.');
}

// ——— Category charts: bars and lines ———

const MARGIN = { top: 16, right: 16, bottom: 48, left: 60 };

function validateSeries(categories, series) {
  for (const s of series) {
    if (s.values.length !== categories.length) throw new RangeError(`series ${s.name}: ${s.values.length} values for ${categories.length} categories`);
  }
}

/** A words-only summary of category data: what the chart shows, its peak, and how much is suppressed. */
function describeCategories({ xLabel, yLabel, categories, series, k, format }) {
  if (categories.length === 0 || series.length === 0) return `${yLabel} by ${xLabel}: no data for this period.`;
  const parts = series.map((s) => {
    const shown = s.values.map((v, i) => ({ v, i })).filter((p) => p.v !== null);
    const suppressed = s.values.length - shown.length;
    const peak = shown.reduce((best, p) => (best === undefined || p.v > best.v ? p : best), undefined);
    const peakText = peak === undefined ? 'no value shown' : `highest ${format(peak.v)} at ${categories[peak.i]}`;
    return `${s.name}: ${peakText}${suppressed > 0 ? `, ${suppressed} of ${s.values.length} suppressed (fewer than ${k} shoppers)` : ''}`;
  });
  return `${yLabel} by ${xLabel}, ${categories.length} points from ${categories[0]} to ${categories[categories.length - 1]}. ${parts.join('; ')}.`;
}

/** The y axis: gridlines and tick labels from 0 to a round maximum, and the rotated axis label. */
function yAxis({ ticks, y, left, right, top, bottom, label, format }) {
  return h('g', { class: 'chart-axis chart-axis-y' },
    ticks.map((t) => h('g', { class: 'chart-tick' },
      h('line', { x1: left, x2: right, y1: y(t), y2: y(t), stroke: t === 0 ? '#6b6b6b' : '#d9d9d9' }),
      h('text', { x: left - 6, y: y(t), dy: '0.32em', 'text-anchor': 'end', fill: 'currentColor' }, format(t)))),
    h('text', { class: 'chart-axis-label', transform: `translate(14 ${(top + bottom) / 2}) rotate(-90)`, 'text-anchor': 'middle', fill: 'currentColor' }, label));
}

/** Category labels under the plot, thinned so they do not overlap, and the axis label. */
function xAxis({ categories, centre, bottom, width, height, label, plotWidth }) {
  // About 6.5 px a character at 12 px, and a gap: as many labels as fit side by side.
  const labelWidth = Math.max(...categories.map((c) => c.length), 1) * 6.5 + 10;
  const every = Math.max(1, Math.ceil(categories.length / Math.max(1, Math.floor(plotWidth / labelWidth))));
  return h('g', { class: 'chart-axis chart-axis-x' },
    categories.map((c, i) => (i % every === 0 ? h('text', { x: centre(i), y: bottom + 16, 'text-anchor': 'middle', fill: 'currentColor' }, c) : null)),
    h('text', { class: 'chart-axis-label', x: width / 2, y: height - 6, 'text-anchor': 'middle', fill: 'currentColor' }, label));
}

function categoryFrame({ categories, series, width, height, bottomExtra = 0 }) {
  const left = MARGIN.left;
  const right = width - MARGIN.right;
  const top = MARGIN.top;
  const bottom = height - MARGIN.bottom - bottomExtra;
  const shown = series.flatMap((s) => s.values.filter((v) => v !== null));
  const ticks = niceTicks(0, Math.max(1, ...shown), { count: 5, integer: shown.every(Number.isInteger) });
  const yMax = ticks[ticks.length - 1];
  const slot = (right - left) / Math.max(1, categories.length);
  return { left, right, top, bottom, ticks, yMax, slot, y: linearScale([0, yMax], [bottom, top]), centre: (i) => left + slot * (i + 0.5) };
}

/**
 * Grouped bars: one group per category, one bar per series. `values[i]` is a count or null (suppressed,
 * drawn as a hatched column the plot's height, so it cannot pass for a small value).
 *
 * @param {{ id?: string, title: string, description?: string, xLabel: string, yLabel: string,
 *   categories: string[], series: { name: string, values: (number | null)[] }[], k: number,
 *   format?: (n: number) => string, width?: number, height?: number }} options
 */
export function barChart({ id, title, description, xLabel, yLabel, categories, series, k, format = formatCount, width = 560, height = 260 }) {
  validateSeries(categories, series);
  const cid = id ?? chartId(title);
  const desc = description ?? describeCategories({ xLabel, yLabel, categories, series, k, format });
  const empty = categories.length === 0 || series.length === 0;
  const f = categoryFrame({ categories, series, width, height });
  const groupWidth = f.slot * 0.8;
  const barWidth = groupWidth / Math.max(1, series.length);
  const anySuppressed = series.some((s) => s.values.includes(null));
  const bars = empty ? [] : categories.flatMap((category, i) => series.map((s, j) => {
    const v = s.values[i];
    const x = f.left + f.slot * i + (f.slot - groupWidth) / 2 + barWidth * j;
    const common = { x, width: Math.max(1, barWidth - 1), 'data-series': s.name, 'data-category': category };
    if (v === null) {
      return h('rect', { ...common, class: 'bar bar-suppressed', y: f.top, height: f.bottom - f.top, fill: `url(#${cid}-hatch)`, 'data-suppressed': 'true' },
        h('title', {}, `${s.name}, ${category}: ${suppressedText(k)}`));
    }
    return h('rect', { ...common, class: 'bar', y: f.y(v), height: f.bottom - f.y(v), fill: PALETTE[j % PALETTE.length], 'data-value': v },
      h('title', {}, `${s.name}, ${category}: ${format(v)}`));
  }));
  const svg = svgRoot({ id: cid, title, desc, width, height },
    empty ? emptyText(width, height) : [
      yAxis({ ticks: f.ticks, y: f.y, left: f.left, right: f.right, top: f.top, bottom: f.bottom, label: yLabel, format }),
      h('g', { class: 'chart-bars' }, bars),
      xAxis({ categories, centre: f.centre, bottom: f.bottom, width, height, label: xLabel, plotWidth: f.right - f.left }),
    ]);
  const entries = [
    ...(series.length > 1 ? series.map((s, j) => ({ kind: 'series', swatch: swatch('fill', PALETTE[j % PALETTE.length]), label: s.name })) : []),
    ...(anySuppressed ? [{ kind: 'suppressed', swatch: swatch('hatch', '', `${cid}-legend-hatch`), label: `suppressed: fewer than ${k} shoppers` }] : []),
  ];
  return h('figure', { class: 'chart chart-bar', id: cid, 'data-empty': empty ? 'true' : undefined },
    h('figcaption', { class: 'chart-caption' }, title), svg, legend(entries),
    dataTable({ id: cid, title, head: [xLabel, ...series.map((s) => s.name)], rows: empty ? [] : categories.map((c, i) => [c, ...series.map((s) => valueCell(s.values[i], k, format))]) }));
}

function marker(shape, x, y, size, attrs) {
  const r = size / 2;
  if (shape === 'square') return h('rect', { ...attrs, x: x - r, y: y - r, width: size, height: size });
  if (shape === 'triangle') return h('path', { ...attrs, d: `M${round(x)} ${round(y - r)}L${round(x + r)} ${round(y + r)}L${round(x - r)} ${round(y + r)}Z` });
  if (shape === 'diamond') return h('path', { ...attrs, d: `M${round(x)} ${round(y - r)}L${round(x + r)} ${round(y)}L${round(x)} ${round(y + r)}L${round(x - r)} ${round(y)}Z` });
  return h('circle', { ...attrs, cx: x, cy: y, r });
}

/** The runs of consecutive shown values: a line never bridges a suppressed point. */
function runs(values) {
  const out = [];
  let current = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (current.length > 0) out.push(current);
      current = [];
    } else current.push(i);
  });
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * Lines over categories (time buckets), one per series, each point marked (a shape per series). A
 * suppressed point breaks its line; where every series is suppressed the bucket is a hatched band, and
 * where only some are, each of those is an open marker in a "< k" lane under the axis.
 *
 * @param {{ id?: string, title: string, description?: string, xLabel: string, yLabel: string,
 *   categories: string[], series: { name: string, values: (number | null)[] }[], k: number,
 *   format?: (n: number) => string, width?: number, height?: number }} options
 */
export function lineChart({ id, title, description, xLabel, yLabel, categories, series, k, format = formatCount, width = 560, height = 280 }) {
  validateSeries(categories, series);
  const cid = id ?? chartId(title);
  const desc = description ?? describeCategories({ xLabel, yLabel, categories, series, k, format });
  const empty = categories.length === 0 || series.length === 0;
  const bandAt = categories.map((_, i) => series.length > 0 && series.every((s) => s.values[i] === null));
  const inLane = series.some((s) => s.values.some((v, i) => v === null && !bandAt[i]));
  const lane = inLane ? 20 : 0;
  const f = categoryFrame({ categories, series, width, height, bottomExtra: lane });
  const laneY = f.bottom + 30;
  const bands = empty ? [] : categories.map((category, i) => (bandAt[i]
    ? h('rect', {
      class: 'chart-band-suppressed', x: f.left + f.slot * i, y: f.top, width: f.slot, height: f.bottom - f.top, fill: `url(#${cid}-hatch)`, opacity: 0.55,
      'data-category': category, 'data-suppressed': 'true',
    }, h('title', {}, `${category}: every figure ${suppressedText(k)}`))
    : null));
  const lines = empty ? [] : series.map((s, j) => {
    const colour = PALETTE[j % PALETTE.length];
    const shape = MARKERS[j % MARKERS.length];
    const paths = runs(s.values).filter((run) => run.length > 1).map((run) =>
      h('path', { class: 'series-line', fill: 'none', stroke: colour, 'stroke-width': 2, d: run.map((i, n) => `${n === 0 ? 'M' : 'L'}${round(f.centre(i))} ${round(f.y(s.values[i]))}`).join('') }));
    const points = s.values.map((v, i) => (v === null
      ? bandAt[i] ? null : marker(shape, f.centre(i) + (j - (series.length - 1) / 2) * 8, laneY, 7, {
        class: 'chart-point chart-point-suppressed', fill: 'none', stroke: colour, 'stroke-width': 1.5, 'data-series': s.name, 'data-category': categories[i], 'data-suppressed': 'true',
      })
      : marker(shape, f.centre(i), f.y(v), 7, {
        class: 'chart-point', fill: colour, stroke: '#ffffff', 'stroke-width': 1, 'data-series': s.name, 'data-category': categories[i], 'data-value': v,
      })));
    // Each point's tooltip, as the table says it.
    points.forEach((p, i) => p?.children.push(h('title', {}, `${s.name}, ${categories[i]}: ${s.values[i] === null ? suppressedText(k) : format(s.values[i])}`)));
    return h('g', { class: 'chart-series', 'data-series': s.name }, paths, points);
  });
  const svg = svgRoot({ id: cid, title, desc, width, height },
    empty ? emptyText(width, height) : [
      yAxis({ ticks: f.ticks, y: f.y, left: f.left, right: f.right, top: f.top, bottom: f.bottom, label: yLabel, format }),
      h('g', { class: 'chart-bands' }, bands),
      lane > 0 ? h('text', { class: 'chart-lane-label', x: f.left - 6, y: laneY, dy: '0.32em', 'text-anchor': 'end', fill: 'currentColor' }, `< ${k}`) : null,
      h('g', { class: 'chart-lines' }, lines),
      xAxis({ categories, centre: f.centre, bottom: f.bottom, width, height, label: xLabel, plotWidth: f.right - f.left }),
    ]);
  const entries = [
    ...series.map((s, j) => ({ kind: 'series', swatch: swatch('fill', PALETTE[j % PALETTE.length]), label: `${s.name} (${MARKERS[j % MARKERS.length]})` })),
    ...(bandAt.some(Boolean) ? [{ kind: 'suppressed', swatch: swatch('hatch', '', `${cid}-legend-hatch`), label: `hatched: every figure suppressed, fewer than ${k} shoppers` }] : []),
    ...(inLane ? [{ kind: 'suppressed-point', swatch: swatch('outline-dashed', HATCH_STROKE), label: `open markers in the "< ${k}" lane: suppressed, fewer than ${k} shoppers` }] : []),
  ];
  return h('figure', { class: 'chart chart-line', id: cid, 'data-empty': empty ? 'true' : undefined },
    h('figcaption', { class: 'chart-caption' }, title), svg, legend(entries),
    dataTable({ id: cid, title, head: [xLabel, ...series.map((s) => s.name)], rows: empty ? [] : categories.map((c, i) => [c, ...series.map((s) => valueCell(s.values[i], k, format))]) }));
}

// ——— Confidence intervals ———

/**
 * Estimates with their 95 % intervals against a reference line (a forest plot): a dot at the estimate,
 * a whisker from lower to upper with caps. A row `{ label, reason }` has no interval and says why.
 *
 * @param {{ id?: string, title: string, description?: string, xLabel: string,
 *   rows: ({ label: string, estimate: number, lower: number, upper: number } | { label: string, reason: string })[],
 *   format?: (n: number) => string, reference?: number, referenceLabel?: string, width?: number }} options
 */
export function intervalChart({ id, title, description, xLabel, rows, format = formatPercentPoints, reference = 0, referenceLabel = 'no uplift', width = 560 }) {
  const cid = id ?? chartId(title);
  const rowHeight = 44;
  // Room on the right for half the last tick label ("+100 pp").
  const margin = { top: 28, right: 36, bottom: 48, left: 116 };
  const height = margin.top + Math.max(1, rows.length) * rowHeight + margin.bottom;
  const shown = rows.filter((r) => r.reason === undefined);
  const lo = Math.min(reference, ...shown.map((r) => r.lower));
  const hi = Math.max(reference, ...shown.map((r) => r.upper));
  const pad = (hi - lo || 0.1) * 0.05;
  // One tick label ("+20 pp") per 64 px or so, so that a phone's narrow axis does not crowd them.
  const ticks = niceTicks(lo - pad, hi + pad, { count: Math.max(2, Math.min(5, Math.floor((width - margin.left - margin.right) / 64))) });
  const tickText = (t) => format(t).replace(/\.0 /, ' ');
  const x = linearScale([ticks[0], ticks[ticks.length - 1]], [margin.left, width - margin.right]);
  const bottom = height - margin.bottom;
  const rowY = (i) => margin.top + rowHeight * (i + 0.5);
  const sentence = (r) => (r.reason !== undefined
    ? `${r.label}: no interval, ${r.reason}`
    : `${r.label}: ${format(r.estimate)}, 95 % confidence interval ${format(r.lower)} to ${format(r.upper)}`);
  const desc = description ?? (rows.length === 0 ? `${xLabel}: no data.` : `${xLabel}, with 95 % confidence intervals. ${rows.map(sentence).join('. ')}.`);
  const rowNodes = rows.map((r, i) => {
    const y = rowY(i);
    const label = h('text', { x: margin.left - 10, y, dy: '0.32em', 'text-anchor': 'end', fill: 'currentColor', class: 'ci-label' }, r.label);
    if (r.reason !== undefined) {
      return h('g', { class: 'ci-row ci-unavailable', 'data-label': r.label }, label,
        h('text', { x: margin.left + 6, y, dy: '0.32em', fill: 'currentColor', 'font-style': 'italic' }, `not enough data: ${r.reason}`));
    }
    const [x1, x2, xe] = [x(r.lower), x(r.upper), x(r.estimate)];
    return h('g', { class: 'ci-row', 'data-label': r.label, 'data-estimate': r.estimate, 'data-lower': r.lower, 'data-upper': r.upper },
      h('title', {}, sentence(r)),
      label,
      h('line', { class: 'ci-whisker', x1, x2, y1: y, y2: y, stroke: PALETTE[0], 'stroke-width': 2 }),
      h('line', { class: 'ci-cap ci-cap-lower', x1, x2: x1, y1: y - 7, y2: y + 7, stroke: PALETTE[0], 'stroke-width': 2 }),
      h('line', { class: 'ci-cap ci-cap-upper', x1: x2, x2, y1: y - 7, y2: y + 7, stroke: PALETTE[0], 'stroke-width': 2 }),
      h('circle', { class: 'ci-estimate', cx: xe, cy: y, r: 5, fill: PALETTE[0], stroke: '#ffffff' }),
      h('text', { x: xe, y: y - 11, 'text-anchor': 'middle', fill: 'currentColor', 'font-size': 11 }, format(r.estimate)));
  });
  const svg = svgRoot({ id: cid, title, desc, width, height },
    rows.length === 0 ? emptyText(width, height) : [
      h('g', { class: 'chart-axis chart-axis-x' },
        ticks.map((t) => h('g', { class: 'chart-tick' },
          h('line', { x1: x(t), x2: x(t), y1: margin.top, y2: bottom, stroke: '#e3e3e3' }),
          h('text', { x: x(t), y: bottom + 16, 'text-anchor': 'middle', fill: 'currentColor' }, tickText(t)))),
        h('text', { class: 'chart-axis-label', x: width / 2, y: height - 6, 'text-anchor': 'middle', fill: 'currentColor' }, xLabel)),
      h('g', { class: 'ci-reference', 'data-value': reference },
        h('line', { x1: x(reference), x2: x(reference), y1: margin.top - 6, y2: bottom, stroke: '#333333', 'stroke-dasharray': '4 3' }),
        h('text', { x: x(reference), y: margin.top - 12, 'text-anchor': 'middle', fill: 'currentColor', 'font-size': 11 }, referenceLabel)),
      h('g', { class: 'ci-rows' }, rowNodes),
    ]);
  return h('figure', { class: 'chart chart-interval', id: cid, 'data-empty': rows.length === 0 ? 'true' : undefined },
    h('figcaption', { class: 'chart-caption' }, title), svg,
    dataTable({
      id: cid, title, head: ['Group', 'Estimate', 'Lower 95 %', 'Upper 95 %'],
      rows: rows.map((r) => (r.reason !== undefined ? [r.label, `not enough data: ${r.reason}`, '', ''] : [r.label, format(r.estimate), format(r.lower), format(r.upper)])),
    }));
}

// ——— The live floor plan ———

/**
 * Occupancy bands relative to k, fixed so a refresh never changes what a colour means: k–2k−1, 2k–4k−1,
 * 4k–8k−1, 8k and more (ColorBrewer Blues; text colour chosen for contrast on each).
 */
export function occupancyBands(k) {
  return [
    { min: k, max: 2 * k - 1, fill: '#c6dbef', text: '#08306b', label: `${k}–${2 * k - 1} shoppers` },
    { min: 2 * k, max: 4 * k - 1, fill: '#6baed6', text: '#08306b', label: `${2 * k}–${4 * k - 1} shoppers` },
    { min: 4 * k, max: 8 * k - 1, fill: '#2171b5', text: '#ffffff', label: `${4 * k}–${8 * k - 1} shoppers` },
    { min: 8 * k, max: Infinity, fill: '#08306b', text: '#ffffff', label: `${8 * k} or more shoppers` },
  ];
}

export const bandOf = (occupancy, k) => occupancyBands(k).find((b) => occupancy >= b.min && occupancy <= b.max);

/** The area-weighted centroid of a polygon (shoelace), or its vertices' mean when it has no area. */
export function centroid(points) {
  let area = 0;
  let cx = 0;
  let cy = 0;
  points.forEach(([x0, y0], i) => {
    const [x1, y1] = points[(i + 1) % points.length];
    const cross = x0 * y1 - x1 * y0;
    area += cross;
    cx += (x0 + x1) * cross;
    cy += (y0 + y1) * cross;
  });
  if (Math.abs(area) < 1e-9) return [points.reduce((s, p) => s + p[0], 0) / points.length, points.reduce((s, p) => s + p[1], 0) / points.length];
  return [cx / (3 * area), cy / (3 * area)];
}

/** A zone's rate; the API withholds it (null) wherever it withholds the occupancy, since one tracks the other. */
const eventsText = (eps) => (eps === null || eps === undefined ? 'not shown' : `${round(eps).toLocaleString('en-GB', { maximumFractionDigits: 1 })} events/s`);

/**
 * The store's floor plan with each zone coloured by its k-anonymous occupancy. Zones with a polygon are
 * drawn on the plan (metres, x to the right, y down from the plan's top-left corner); the others, or all
 * of them when the store has no plan, are laid out as a labelled grid. A zone under k is hatched and says
 * "fewer than k"; a sensitive zone has a dashed outline, and its occupancy, which the API never gives
 * (AN-3), reads "not shown" rather than "fewer than k". Only counts: no shopper is drawn.
 *
 * @param {{ id?: string, title: string, plan?: { widthM: number, heightM: number },
 *   zones: { id: string, name: string, sensitive: boolean, polygon?: [number, number][] }[],
 *   live: { k: number, zones: { zoneId: string, occupancy: number | null, eventsPerSecond: number | null }[] },
 *   width?: number }} options
 */
export function floorPlan({ id, title, plan, zones, live, width = 560 }) {
  const cid = id ?? chartId(title);
  const { k } = live;
  const liveOf = new Map(live.zones.map((z) => [z.zoneId, z]));
  const onPlan = plan === undefined ? [] : zones.filter((z) => Array.isArray(z.polygon) && z.polygon.length >= 3);
  const inGrid = zones.filter((z) => !onPlan.includes(z));
  const scale = plan === undefined ? 1 : width / plan.widthM;
  const planHeight = plan === undefined ? 0 : plan.heightM * scale;
  const columns = Math.max(1, Math.min(inGrid.length, width < 400 ? 2 : 3));
  const cellWidth = width / columns;
  const cellHeight = 96;
  const gridTop = planHeight + (plan !== undefined && inGrid.length > 0 ? 28 : 0);
  const height = Math.max(cellHeight, gridTop + Math.ceil(inGrid.length / columns) * cellHeight);

  const stateOf = (zone) => {
    const reading = liveOf.get(zone.id);
    if (reading === undefined) return { state: 'no-data', fill: NO_DATA_FILL, text: '#333333', line: 'no data', cell: { text: 'no data' } };
    if (reading.occupancy === null && zone.sensitive) {
      return { state: 'withheld', fill: `url(#${cid}-hatch)`, text: '#1a1a1a', line: 'not shown', cell: { text: 'not shown (sensitive zone)', suppressed: true }, reading };
    }
    if (reading.occupancy === null) return { state: 'suppressed', fill: `url(#${cid}-hatch)`, text: '#1a1a1a', line: `fewer than ${k}`, cell: { text: suppressedText(k), suppressed: true }, reading };
    const band = bandOf(reading.occupancy, k) ?? occupancyBands(k)[0];
    const line = `${formatCount(reading.occupancy)} shoppers`;
    return { state: 'occupied', fill: band.fill, text: band.text, line, cell: { text: line }, reading };
  };
  const sentence = (zone, s) => `${zone.name}: ${s.state === 'suppressed' ? `${suppressedText(k)}, fewer than ${k} shoppers` : s.cell.text}${s.reading?.eventsPerSecond != null ? `, ${eventsText(s.reading.eventsPerSecond)}` : ''}${zone.sensitive ? ', sensitive zone' : ''}`;

  const zoneNode = (zone, shape, [lx, ly]) => {
    const s = stateOf(zone);
    const label = h('text', { x: lx, y: ly, 'text-anchor': 'middle', fill: s.text, class: 'zone-label' },
      h('tspan', { x: lx, dy: '-0.4em', 'font-weight': 'bold' }, zone.name),
      h('tspan', { x: lx, dy: '1.3em' }, s.line),
      zone.sensitive ? h('tspan', { x: lx, dy: '1.3em', 'font-style': 'italic' }, 'sensitive') : null);
    return h('g', {
      class: `zone zone-${s.state}${zone.sensitive ? ' zone-sensitive' : ''}`, 'data-zone-id': zone.id, 'data-state': s.state,
      'data-occupancy': s.state === 'occupied' ? s.reading.occupancy : undefined, 'data-sensitive': zone.sensitive ? 'true' : undefined, 'data-fill': s.fill,
    }, h('title', {}, sentence(zone, s)), { ...shape, attrs: { ...shape.attrs, fill: s.fill, stroke: '#333333', 'stroke-width': zone.sensitive ? 2.5 : 1, 'stroke-dasharray': zone.sensitive ? '6 4' : undefined } }, label);
  };

  const planNodes = onPlan.map((zone) => {
    const points = zone.polygon.map(([px, py]) => [px * scale, py * scale]);
    return zoneNode(zone, h('polygon', { points: points.map(([px, py]) => `${round(px)},${round(py)}`).join(' ') }), centroid(points));
  });
  const gridNodes = inGrid.map((zone, i) => {
    const x = (i % columns) * cellWidth + 3;
    const y = gridTop + Math.floor(i / columns) * cellHeight + 3;
    return zoneNode(zone, h('rect', { x, y, width: cellWidth - 6, height: cellHeight - 6, rx: 4 }), [x + (cellWidth - 6) / 2, y + (cellHeight - 6) / 2]);
  });
  const counts = zones.map((z) => stateOf(z).state);
  const desc = zones.length === 0
    ? 'The store has no zones.'
    : `${zones.length} zones; occupancy shown only at ${k} shoppers or more. ${zones.map((z) => sentence(z, stateOf(z))).join('. ')}.`;
  const svg = svgRoot({ id: cid, title, desc, width, height },
    plan !== undefined ? h('rect', { class: 'floor-outline', x: 0.5, y: 0.5, width: width - 1, height: Math.max(1, planHeight - 1), fill: '#ffffff', stroke: '#999999' }) : null,
    zones.length === 0 ? emptyText(width, height) : null,
    h('g', { class: 'zones' }, planNodes, gridNodes),
    plan !== undefined && inGrid.length > 0 ? h('text', { x: 4, y: planHeight + 18, fill: 'currentColor', 'font-size': 11 }, 'Zones without a drawn outline:') : null);
  const entries = [
    ...occupancyBands(k).map((b) => ({ kind: 'band', swatch: swatch('fill', b.fill), label: b.label })),
    { kind: 'suppressed', swatch: swatch('hatch', '', `${cid}-legend-hatch`), label: `fewer than ${k} shoppers (suppressed)` },
    ...(counts.includes('no-data') ? [{ kind: 'no-data', swatch: swatch('fill', NO_DATA_FILL), label: 'no reading' }] : []),
    ...(zones.some((z) => z.sensitive) ? [{ kind: 'sensitive', swatch: swatch('outline-dashed', '#333333'), label: 'sensitive zone, never shown (dashed outline)' }] : []),
  ];
  return h('figure', { class: 'chart chart-floor-plan', id: cid, 'data-layout': onPlan.length > 0 ? (inGrid.length > 0 ? 'plan+grid' : 'plan') : 'grid' },
    h('figcaption', { class: 'chart-caption' }, title), svg, legend(entries),
    dataTable({
      id: cid, title, head: ['Zone', 'Occupancy', 'Events per second', 'Sensitive'],
      rows: zones.map((z) => {
        const s = stateOf(z);
        return [z.name, s.cell,
          s.reading ? eventsText(s.reading.eventsPerSecond) : 'no reading',
          z.sensitive ? 'yes' : 'no'];
      }),
    }));
}

// ——— Time labels ———

const dayFormat = (timeZone) => new Intl.DateTimeFormat('en-GB', { timeZone, day: 'numeric', month: 'short' });
const timeFormat = (timeZone) => new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/**
 * Labels for bucket starts on the wall clock of `timeZone` (the store's, as the buckets are aligned):
 * days ("3 Jun") for '1d'; times ("09:00") for shorter buckets, with the day on the first label and
 * wherever the day changes ("4 Jun 00:00").
 */
export function bucketLabels(startsMs, timeZone, bucket) {
  const day = dayFormat(timeZone);
  if (bucket === '1d') return startsMs.map((ms) => day.format(ms));
  const time = timeFormat(timeZone);
  return startsMs.map((ms, i) => {
    const today = day.format(ms);
    return i === 0 || day.format(startsMs[i - 1]) !== today ? `${today} ${time.format(ms)}` : time.format(ms);
  });
}
