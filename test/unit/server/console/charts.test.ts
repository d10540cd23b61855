import { describe, expect, it } from 'vitest';
import { newcombeDifference } from '#server/domain/analytics.ts';
import {
  barChart, bandOf, bucketLabels, centroid, floorPlan, formatPercentPoints, h, intervalChart, lineChart, niceTicks, occupancyBands, toDom, toMarkup, type ChartNode,
} from '#server/console/pages/charts.js';

// The console's charts (server/console/pages/charts.js) are pure: they build a tree, which these tests read
// the way a browser would draw it — bar heights, whisker ends, zone fills — and the text a screen reader
// or the table fallback gives.

const all = (node: ChartNode, test: (n: ChartNode) => boolean): ChartNode[] =>
  [...(test(node) ? [node] : []), ...node.children.flatMap((c) => (typeof c === 'string' ? [] : all(c, test)))];
const hasClass = (cls: string) => (n: ChartNode) => String(n.attrs.class ?? '').split(' ').includes(cls);
const byTag = (tag: string) => (n: ChartNode) => n.tag === tag;
const text = (node: ChartNode | string): string => (typeof node === 'string' ? node : node.children.map(text).join(''));
const num = (v: unknown): number => Number(v);
const one = (node: ChartNode, test: (n: ChartNode) => boolean): ChartNode => {
  const found = all(node, test);
  expect(found).toHaveLength(1);
  return found[0]!;
};
/** The data table's body rows as text, cell by cell. */
const tableRows = (figure: ChartNode): string[][] => all(one(figure, byTag('tbody')), byTag('tr')).map((tr) => tr.children.map(text));

const HOURS = ['09:00', '10:00', '11:00', '12:00'];

describe('niceTicks', () => {
  it('covers the range on round steps, starting at or below the minimum and ending at or above the maximum', () => {
    expect(niceTicks(0, 37)).toEqual([0, 10, 20, 30, 40]);
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-0.031, 0.642)).toEqual([-0.2, 0, 0.2, 0.4, 0.6, 0.8]);
  });
  it('uses whole steps for counts, and a unit range when there is nothing to span', () => {
    expect(niceTicks(0, 3, { integer: true })).toEqual([0, 1, 2, 3]);
    expect(niceTicks(0, 0, { integer: true })).toEqual([0, 1]);
  });
});

describe('barChart', () => {
  const chart = barChart({
    title: 'Footfall by hour: Entrance', xLabel: 'Hour', yLabel: 'Shoppers', categories: HOURS, k: 10,
    series: [{ name: 'Entrance', values: [12, null, 30, 45] }],
  });

  it('draws each bar with a height proportional to its value, on a common baseline', () => {
    const bars = all(chart, (n) => hasClass('bar')(n) && n.attrs['data-value'] !== undefined);
    expect(bars.map((b) => num(b.attrs['data-value']))).toEqual([12, 30, 45]);
    const heights = bars.map((b) => num(b.attrs.height));
    expect(heights[1]! / heights[0]!).toBeCloseTo(30 / 12, 5);
    expect(heights[2]! / heights[0]!).toBeCloseTo(45 / 12, 5);
    const baselines = bars.map((b) => num(b.attrs.y) + num(b.attrs.height));
    expect(new Set(baselines.map((b) => b.toFixed(3))).size).toBe(1);
    // The axis reaches the tallest bar: the 0 and top tick labels bound it.
    const yTicks = all(one(chart, hasClass('chart-axis-y')), hasClass('chart-tick')).map(text);
    expect(yTicks[0]).toBe('0');
    expect(Number(yTicks[yTicks.length - 1])).toBeGreaterThanOrEqual(45);
  });

  it('draws a suppressed value as a hatched column, never as a zero bar, and the table says "suppressed (< k)"', () => {
    const suppressed = one(chart, hasClass('bar-suppressed'));
    expect(suppressed.attrs['data-category']).toBe('10:00');
    expect(suppressed.attrs['data-value']).toBeUndefined();
    expect(suppressed.attrs.fill).toBe(`url(#${String(chart.attrs.id)}-hatch)`);
    expect(num(suppressed.attrs.height)).toBeGreaterThan(0);
    expect(text(suppressed)).toBe('Entrance, 10:00: suppressed (< 10)');
    expect(tableRows(chart)).toEqual([['09:00', '12'], ['10:00', 'suppressed (< 10)'], ['11:00', '30'], ['12:00', '45']]);
    expect(text(one(chart, byTag('ul')))).toContain('suppressed: fewer than 10 shoppers');
  });

  it('is an image with a title, a description that summarises it, and axis labels', () => {
    const svg = one(chart, (n) => n.tag === 'svg' && n.attrs.role === 'img');
    const [titleId, descId] = String(svg.attrs['aria-labelledby']).split(' ');
    expect(text(one(svg, (n) => n.attrs.id === titleId))).toBe('Footfall by hour: Entrance');
    expect(text(one(svg, (n) => n.attrs.id === descId))).toBe('Shoppers by Hour, 4 points from 09:00 to 12:00. Entrance: highest 45 at 12:00, 1 of 4 suppressed (fewer than 10 shoppers).');
    expect(all(svg, hasClass('chart-axis-label')).map(text)).toEqual(['Shoppers', 'Hour']);
    expect(text(one(chart, byTag('caption')))).toBe('Footfall by hour: Entrance');
    expect(text(one(chart, byTag('figcaption')))).toBe('Footfall by hour: Entrance');
  });

  it('groups bars per category with one colour per series, and names the series in the legend', () => {
    const grouped = barChart({
      title: 'Dwell', xLabel: 'Dwell', yLabel: 'Shoppers', categories: ['0-1m', '1-5m'], k: 10,
      series: [{ name: 'Entrance', values: [10, 20] }, { name: 'Checkout', values: [40, null] }],
    });
    const bars = all(grouped, hasClass('bar'));
    expect(bars.map((b) => [b.attrs['data-category'], b.attrs['data-series']])).toEqual([['0-1m', 'Entrance'], ['0-1m', 'Checkout'], ['1-5m', 'Entrance'], ['1-5m', 'Checkout']]);
    expect(bars[0]!.attrs.fill).not.toBe(bars[1]!.attrs.fill);
    expect(num(bars[1]!.attrs.x)).toBeGreaterThan(num(bars[0]!.attrs.x));
    expect(num(bars[1]!.attrs.height) / num(bars[0]!.attrs.height)).toBeCloseTo(4, 5);
    expect(all(grouped, byTag('li')).map(text).map((s) => s.trim())).toEqual(['Entrance', 'Checkout', 'suppressed: fewer than 10 shoppers']);
    expect(tableRows(grouped)).toEqual([['0-1m', '10', '40'], ['1-5m', '20', 'suppressed (< 10)']]);
  });

  it('says there is no data, with no bars, when there are no categories', () => {
    const empty = barChart({ title: 'Nothing', xLabel: 'Hour', yLabel: 'Shoppers', categories: [], k: 10, series: [{ name: 'Entrance', values: [] }] });
    expect(empty.attrs['data-empty']).toBe('true');
    expect(all(empty, hasClass('bar'))).toEqual([]);
    expect(text(one(empty, hasClass('chart-empty')))).toBe('No data for this period.');
    expect(tableRows(empty)).toEqual([['No data for this period.']]);
  });

  it('keeps a flat, all-suppressed series on a unit axis without a bar', () => {
    const hidden = barChart({ title: 'Quiet', xLabel: 'Hour', yLabel: 'Shoppers', categories: HOURS.slice(0, 2), k: 10, series: [{ name: 'Quiet', values: [null, null] }] });
    expect(all(hidden, (n) => n.attrs['data-value'] !== undefined)).toEqual([]);
    expect(all(hidden, hasClass('bar-suppressed'))).toHaveLength(2);
  });

  it('thins the category labels so that the longest ones do not overlap', () => {
    const hours = Array.from({ length: 24 }, (_, i) => (i === 0 ? '7 Jan 00:00' : `${String(i).padStart(2, '0')}:00`));
    const day = barChart({ title: 'Day', xLabel: 'Hour', yLabel: 'Shoppers', categories: hours, k: 10, series: [{ name: 'Entrance', values: hours.map(() => 12) }] });
    const labels = all(one(day, hasClass('chart-axis-x')), (n) => n.tag === 'text' && !hasClass('chart-axis-label')(n));
    expect(labels.map(text)[0]).toBe('7 Jan 00:00');
    expect(labels.length).toBeLessThan(24);
    const xs = labels.map((l) => num(l.attrs.x));
    expect(Math.min(...xs.slice(1).map((x, i) => x - xs[i]!))).toBeGreaterThanOrEqual('7 Jan 00:00'.length * 6.5);
  });

  it('refuses a series whose length does not match the categories, naming it', () => {
    expect(() => barChart({ title: 'x', xLabel: 'x', yLabel: 'y', categories: ['a'], k: 10, series: [{ name: 'Opens', values: [1, 2] }] }))
      .toThrow('series Opens: 2 values for 1 categories');
  });
});

describe('lineChart', () => {
  const chart = lineChart({
    title: 'Campaign activity', xLabel: 'Hour', yLabel: 'Count', categories: HOURS, k: 10,
    series: [{ name: 'Deliveries', values: [20, 40, null, 10] }, { name: 'Opens', values: [null, null, null, null] }],
  });

  it('plots every shown value at a height proportional to it, and breaks the line at a suppressed one', () => {
    const points = all(chart, (n) => hasClass('chart-point')(n) && n.attrs['data-series'] === 'Deliveries' && n.attrs['data-value'] !== undefined);
    expect(points.map((p) => num(p.attrs['data-value']))).toEqual([20, 40, 10]);
    const ys = points.map((p) => num(p.attrs.cy));
    const baseline = num(one(chart, (n) => n.tag === 'line' && n.attrs.stroke === '#6b6b6b').attrs.y1);
    expect((baseline - ys[1]!) / (baseline - ys[0]!)).toBeCloseTo(2, 5);
    expect((baseline - ys[2]!) / (baseline - ys[0]!)).toBeCloseTo(0.5, 5);
    // One segment 09:00–10:00; 12:00 stands alone after the suppressed 11:00.
    const lines = all(chart, hasClass('series-line'));
    expect(lines).toHaveLength(1);
    expect(String(lines[0]!.attrs.d).match(/[ML]/g)).toEqual(['M', 'L']);
  });

  it('puts a point suppressed in some series as an open marker in the "< k" lane under the axis, and hatches a bucket suppressed in all', () => {
    const suppressed = all(chart, hasClass('chart-point-suppressed'));
    // 11:00 is suppressed in both series: a band, not markers; Opens at 09:00, 10:00 and 12:00: markers.
    expect(suppressed.map((p) => [p.attrs['data-series'], p.attrs['data-category']])).toEqual([['Opens', '09:00'], ['Opens', '10:00'], ['Opens', '12:00']]);
    expect(suppressed.every((p) => p.attrs.fill === 'none' && p.attrs['data-value'] === undefined)).toBe(true);
    expect(text(one(chart, hasClass('chart-lane-label')))).toBe('< 10');
    const baseline = num(one(chart, (n) => n.tag === 'line' && n.attrs.stroke === '#6b6b6b').attrs.y1);
    const laneY = (p: ChartNode) => num(p.attrs.cy ?? num(p.attrs.y) + num(p.attrs.height) / 2);
    expect(suppressed.every((p) => laneY(p) > baseline)).toBe(true);
    expect(suppressed.map(text)).toContain('Opens, 09:00: suppressed (< 10)');
    const band = one(chart, hasClass('chart-band-suppressed'));
    expect([band.attrs['data-category'], text(band)]).toEqual(['11:00', '11:00: every figure suppressed (< 10)']);
    expect(num(band.attrs.y) + num(band.attrs.height)).toBeCloseTo(baseline, 5);
    expect(tableRows(chart)[2]).toEqual(['11:00', 'suppressed (< 10)', 'suppressed (< 10)']);
  });

  it('has no lane when only whole buckets are suppressed', () => {
    const banded = lineChart({ title: 'B', xLabel: 'Hour', yLabel: 'Count', categories: HOURS.slice(0, 2), k: 10, series: [{ name: 'Deliveries', values: [null, 12] }] });
    expect(all(banded, hasClass('chart-lane-label'))).toEqual([]);
    expect(all(banded, hasClass('chart-band-suppressed'))).toHaveLength(1);
  });

  it('marks each series with its own shape as well as its colour', () => {
    const first = all(chart, (n) => n.attrs['data-series'] === 'Deliveries' && hasClass('chart-point')(n));
    const second = all(chart, (n) => n.attrs['data-series'] === 'Opens' && hasClass('chart-point')(n));
    expect(new Set(first.map((p) => p.tag))).toEqual(new Set(['circle']));
    expect(new Set(second.map((p) => p.tag))).toEqual(new Set(['rect']));
  });
});

describe('intervalChart', () => {
  const ci = newcombeDifference(6, 10, 2, 10);
  const chart = intervalChart({
    title: 'Uplift over the holdout', xLabel: 'Conversion uplift (percentage points)',
    rows: [{ label: 'All variants', ...ci }, { label: 'Variant b', reason: 'the holdout has fewer than 10 shoppers' }],
  });

  it('draws the whisker from the lower to the upper limit and the dot at the estimate, on one linear axis with the no-uplift line', () => {
    const row = one(chart, (n) => hasClass('ci-row')(n) && n.attrs['data-label'] === 'All variants');
    const whisker = one(row, hasClass('ci-whisker'));
    const [x1, x2] = [num(whisker.attrs.x1), num(whisker.attrs.x2)];
    const xe = num(one(row, hasClass('ci-estimate')).attrs.cx);
    const xRef = num(one(one(chart, hasClass('ci-reference')), byTag('line')).attrs.x1);
    expect(x2).toBeGreaterThan(x1);
    // Positions are affine in the values: the estimate and 0 fall where their values do between the limits.
    expect((xe - x1) / (x2 - x1)).toBeCloseTo((ci.estimate - ci.lower) / (ci.upper - ci.lower), 4);
    expect((xRef - x1) / (x2 - x1)).toBeCloseTo((0 - ci.lower) / (ci.upper - ci.lower), 4);
    // 6 of 10 against 2 of 10: the interval spans 0, so the line falls inside the whisker.
    expect(ci.lower).toBeLessThan(0);
    expect(xRef).toBeGreaterThan(x1);
    expect(xRef).toBeLessThan(x2);
    expect(num(one(row, hasClass('ci-cap-lower')).attrs.x1)).toBe(x1);
    expect(num(one(row, hasClass('ci-cap-upper')).attrs.x1)).toBe(x2);
  });

  it('keeps its tick labels apart on a narrow axis', () => {
    for (const width of [343, 560]) {
      const narrow = intervalChart({ title: 'W', xLabel: 'pp', width, rows: [{ label: 'All variants', ...ci }] });
      const ticks = all(one(narrow, hasClass('chart-axis-x')), hasClass('chart-tick')).map((g) => one(g, byTag('text')));
      const xs = ticks.map((t) => num(t.attrs.x));
      expect(Math.min(...xs.slice(1).map((x, i) => x - xs[i]!))).toBeGreaterThanOrEqual(Math.max(...ticks.map((t) => text(t).length)) * 6.5);
    }
  });

  it('says why a group has no interval, and gives the numbers as a table', () => {
    const unavailable = one(chart, hasClass('ci-unavailable'));
    expect(text(unavailable)).toContain('not enough data: the holdout has fewer than 10 shoppers');
    expect(all(unavailable, hasClass('ci-whisker'))).toEqual([]);
    expect(tableRows(chart)).toEqual([
      ['All variants', formatPercentPoints(ci.estimate), formatPercentPoints(ci.lower), formatPercentPoints(ci.upper)],
      ['Variant b', 'not enough data: the holdout has fewer than 10 shoppers', '', ''],
    ]);
    expect(formatPercentPoints(ci.estimate)).toBe('+40.0 pp');
    expect(formatPercentPoints(-0.031)).toBe('\u22123.1 pp');
  });

  it('keeps a clearly positive interval right of the no-uplift line, and a negative one left of it', () => {
    const up = newcombeDifference(60, 100, 20, 100);
    const chart2 = intervalChart({ title: 'Both', xLabel: 'pp', rows: [{ label: 'Up', ...up }, { label: 'Down', estimate: -0.2, lower: -0.35, upper: -0.05 }] });
    const xRef = num(one(one(chart2, hasClass('ci-reference')), byTag('line')).attrs.x1);
    const whisker = (label: string) => one(one(chart2, (n) => n.attrs['data-label'] === label), hasClass('ci-whisker'));
    expect(num(whisker('Up').attrs.x1)).toBeGreaterThan(xRef);
    expect(num(whisker('Down').attrs.x2)).toBeLessThan(xRef);
  });

  it('says there is no data when there are no rows', () => {
    const empty = intervalChart({ title: 'None', xLabel: 'pp', rows: [] });
    expect(empty.attrs['data-empty']).toBe('true');
    expect(all(empty, hasClass('ci-row'))).toEqual([]);
  });
});

describe('floorPlan', () => {
  const zones = [
    { id: 'entrance', name: 'Entrance', sensitive: false, polygon: [[0, 0], [10, 0], [10, 5], [0, 5]] as [number, number][] },
    { id: 'checkout', name: 'Checkout', sensitive: false, polygon: [[10, 0], [20, 0], [20, 5], [10, 5]] as [number, number][] },
    { id: 'pharmacy', name: 'Pharmacy', sensitive: true },
  ];
  // As GET /v1/admin/stores/:storeId/live answers (domain/live-view.ts): a zone under k, and a sensitive one, have neither count nor rate.
  const live = { k: 10, zones: [{ zoneId: 'entrance', occupancy: 25, eventsPerSecond: 1.25 }, { zoneId: 'checkout', occupancy: null, eventsPerSecond: null }] };

  it('draws zones with outlines on the plan, scaled from metres, and the others in a labelled grid', () => {
    const map = floorPlan({ title: 'Store 1', plan: { widthM: 20, heightM: 10 }, zones, live, width: 400 });
    expect(map.attrs['data-layout']).toBe('plan+grid');
    const entrance = one(map, (n) => n.attrs['data-zone-id'] === 'entrance');
    expect(one(entrance, byTag('polygon')).attrs.points).toBe('0,0 200,0 200,100 0,100');
    const pharmacy = one(map, (n) => n.attrs['data-zone-id'] === 'pharmacy');
    expect(num(one(pharmacy, byTag('rect')).attrs.y)).toBeGreaterThanOrEqual(200);
  });

  it('colours a zone of k or more by its band, hatches one under k as "fewer than k", and shows no shopper', () => {
    const map = floorPlan({ title: 'Store 1', plan: { widthM: 20, heightM: 10 }, zones, live });
    const entrance = one(map, (n) => n.attrs['data-zone-id'] === 'entrance');
    expect(entrance.attrs['data-state']).toBe('occupied');
    expect(one(entrance, byTag('polygon')).attrs.fill).toBe(bandOf(25, 10)!.fill);
    expect(text(one(entrance, hasClass('zone-label')))).toBe('Entrance25 shoppers');
    const checkout = one(map, (n) => n.attrs['data-zone-id'] === 'checkout');
    expect(checkout.attrs['data-state']).toBe('suppressed');
    expect(checkout.attrs['data-occupancy']).toBeUndefined();
    expect(one(checkout, byTag('polygon')).attrs.fill).toBe(`url(#${String(map.attrs.id)}-hatch)`);
    expect(text(one(checkout, hasClass('zone-label')))).toBe('Checkoutfewer than 10');
    expect(tableRows(map)).toEqual([
      ['Entrance', '25 shoppers', '1.3 events/s', 'no'],
      ['Checkout', 'suppressed (< 10)', 'not shown', 'no'],
      ['Pharmacy', 'no data', 'no reading', 'yes'],
    ]);
    expect(text(one(checkout, byTag('title')))).toBe('Checkout: suppressed (< 10), fewer than 10 shoppers');
  });

  it('marks a sensitive zone with a dashed outline and the word, and a zone without a reading as such', () => {
    const map = floorPlan({ title: 'Store 1', zones, live });
    const pharmacy = one(map, (n) => n.attrs['data-zone-id'] === 'pharmacy');
    expect(pharmacy.attrs['data-sensitive']).toBe('true');
    expect(pharmacy.attrs['data-state']).toBe('no-data');
    expect(one(pharmacy, byTag('rect')).attrs['stroke-dasharray']).toBe('6 4');
    expect(text(one(pharmacy, hasClass('zone-label')))).toBe('Pharmacyno datasensitive');
    expect(all(map, byTag('li')).map(text).map((s) => s.trim())).toEqual([
      '10–19 shoppers', '20–39 shoppers', '40–79 shoppers', '80 or more shoppers', 'fewer than 10 shoppers (suppressed)', 'no reading', 'sensitive zone, never shown (dashed outline)',
    ]);
  });

  it('says a sensitive zone\'s occupancy is not shown, not that it has fewer than k', () => {
    const map = floorPlan({ title: 'Store 1', zones, live: { k: 10, zones: [...live.zones, { zoneId: 'pharmacy', occupancy: null, eventsPerSecond: null }] } });
    const pharmacy = one(map, (n) => n.attrs['data-zone-id'] === 'pharmacy');
    expect(pharmacy.attrs['data-state']).toBe('withheld');
    expect(text(one(pharmacy, hasClass('zone-label')))).toBe('Pharmacynot shownsensitive');
    expect(tableRows(map)[2]).toEqual(['Pharmacy', 'not shown (sensitive zone)', 'not shown', 'yes']);
    expect(text(one(pharmacy, byTag('title')))).not.toContain('fewer than');
  });

  it('lays every zone out as a grid when the store has no plan', () => {
    const map = floorPlan({ title: 'Store 1', zones: zones.map(({ polygon: _p, ...z }) => z), live, width: 560 });
    expect(map.attrs['data-layout']).toBe('grid');
    const rects = ['entrance', 'checkout', 'pharmacy'].map((id) => one(one(map, (n) => n.attrs['data-zone-id'] === id), byTag('rect')));
    expect(rects.map((r) => num(r.attrs.y))).toEqual([3, 3, 3]);
    expect(num(rects[1]!.attrs.x)).toBeGreaterThan(num(rects[0]!.attrs.x) + num(rects[0]!.attrs.width));
  });

  it('has fixed bands relative to k, and puts labels at the centroid', () => {
    expect(occupancyBands(10).map((b) => [b.min, b.max])).toEqual([[10, 19], [20, 39], [40, 79], [80, Infinity]]);
    expect(bandOf(9, 10)).toBeUndefined();
    expect(centroid([[0, 0], [4, 0], [4, 2], [0, 2]])).toEqual([2, 1]);
    expect(centroid([[0, 0], [1, 1], [2, 2]])).toEqual([1, 1]);
  });
});

describe('bucketLabels', () => {
  it('labels hours on the store\'s wall clock, with the day where it starts and where it changes', () => {
    // 22:00 and 23:00 UTC on 30 June are 00:00 and 01:00 on 1 July in Paris (UTC+2 in summer).
    const starts = [Date.UTC(2030, 5, 30, 20), Date.UTC(2030, 5, 30, 21), Date.UTC(2030, 5, 30, 22), Date.UTC(2030, 5, 30, 23)];
    expect(bucketLabels(starts, 'Europe/Paris', '1h')).toEqual(['30 Jun 22:00', '23:00', '1 Jul 00:00', '01:00']);
    expect(bucketLabels(starts, 'UTC', '1h')).toEqual(['30 Jun 20:00', '21:00', '22:00', '23:00']);
  });
  it('labels days by their date', () => {
    expect(bucketLabels([Date.UTC(2030, 0, 1, 5), Date.UTC(2030, 0, 2, 5)], 'America/New_York', '1d')).toEqual(['1 Jan', '2 Jan']);
  });
});

describe('toMarkup and toDom', () => {
  it('escapes text and attributes, so a zone or campaign name cannot inject markup', () => {
    const markup = toMarkup(h('svg', { 'aria-label': 'a"b' }, h('title', {}, '<script>alert(1)</script> & co')));
    expect(markup).toBe('<svg xmlns="http://www.w3.org/2000/svg" aria-label="a&quot;b"><title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</title></svg>');
  });

  it('creates SVG elements under <svg> and HTML elements elsewhere, with every attribute', () => {
    type Fake = { ns: string; tag: string; attrs: Record<string, string>; children: (Fake | string)[] };
    const doc = {
      createElementNS: (ns: string, tag: string): Fake & { setAttribute(n: string, v: string): void; append(c: Fake | string): void } => {
        const element: Fake = { ns, tag, attrs: {}, children: [] };
        return Object.assign(element, { setAttribute: (n: string, v: string) => void (element.attrs[n] = v), append: (c: Fake | string) => void element.children.push(c) });
      },
    };
    const chart = barChart({ title: 'T', xLabel: 'x', yLabel: 'y', categories: ['a'], k: 10, series: [{ name: 's', values: [12] }] });
    const figure: Fake = toDom(chart, doc);
    expect(figure.ns).toBe('http://www.w3.org/1999/xhtml');
    expect((figure.children[0] as Fake).tag).toBe('figcaption');
    const svg = figure.children[1] as Fake;
    expect([svg.tag, svg.ns, svg.attrs.role]).toEqual(['svg', 'http://www.w3.org/2000/svg', 'img']);
    const flat = (f: Fake): Fake[] => [f, ...f.children.flatMap((c) => (typeof c === 'string' ? [] : flat(c)))];
    const bar = flat(svg).find((f) => f.attrs['data-value'] === '12')!;
    expect([bar.tag, bar.ns]).toEqual(['rect', 'http://www.w3.org/2000/svg']);
    expect(flat(figure).find((f) => f.tag === 'table')!.ns).toBe('http://www.w3.org/1999/xhtml');
  });
});
