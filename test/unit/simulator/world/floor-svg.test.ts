import { describe, expect, it } from 'vitest';
import { occupancyNote, renderFloorSvg, type FloorPlanView } from '#simulator/world/floor-svg.ts';
import type { HeatGrid } from '#simulator/world/store-report.ts';

const aPlan = (overrides: Partial<FloorPlanView> = {}): FloorPlanView => ({
  widthM: 60,
  heightM: 20,
  entrances: [{ x: 0, y: 10 }],
  zones: [
    { id: 'bakery', name: 'Bakery', sensitive: false, polygon: [{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 10, y: 10 }, { x: 0, y: 10 }] },
    { id: 'wine', name: 'Wine & <Spirits>', sensitive: false, polygon: [{ x: 20, y: 0 }, { x: 30, y: 0 }, { x: 30, y: 10 }, { x: 20, y: 10 }] },
    { id: 'pharmacy', name: 'Pharmacy', sensitive: true, polygon: [{ x: 40, y: 0 }, { x: 50, y: 0 }, { x: 50, y: 10 }, { x: 40, y: 10 }] },
  ],
  gateways: [
    { id: 'gw-door', position: { x: 1, y: 10 } },
    { id: 'gw-bakery', position: { x: 5, y: 5 } },
    { id: 'gw-pharmacy', position: { x: 45, y: 5 } },
  ],
  ...overrides,
});

/** A 6 × 2 grid of 10 m cells: two suppressed, one empty, the busiest at 3,600 shopper-seconds. */
const aHeat = (overrides: Partial<HeatGrid> = {}): HeatGrid => ({
  cellM: 10,
  columns: 6,
  rows: 2,
  minShoppers: 5,
  seconds: [3_600, null, 1_800, 0, null, 900, 100, 200, 300, 400, 500, 600],
  ...overrides,
});

const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;

/** A minimal XML well-formedness check: one root, balanced and properly nested tags, quoted attributes, no bare & or <. */
const wellFormednessProblems = (xml: string): string[] => {
  const problems: string[] = [];
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  let roots = 0;
  const token = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->|([^<]+)|(<)/g;
  for (const m of body.matchAll(token)) {
    const [, closing, name, attributes, selfClosing, text, stray] = m;
    if (stray !== undefined) problems.push(`stray < at ${m.index}`);
    else if (text !== undefined) {
      if (text.replace(ENTITY, '').includes('&')) problems.push(`bare & in text ${JSON.stringify(text)}`);
      if (stack.length === 0 && text.trim() !== '') problems.push('text outside the root');
    } else if (name !== undefined) {
      if ((attributes ?? '').replace(ENTITY, '').includes('&')) problems.push(`bare & in <${name}> attributes`);
      const names = [...(attributes ?? '').matchAll(/([\w:.-]+)=/g)].map((a) => a[1]);
      if (new Set(names).size !== names.length) problems.push(`repeated attribute in <${name}>`);
      if (closing === '/') {
        if (stack.pop() !== name) problems.push(`</${name}> closes the wrong element`);
      } else {
        if (stack.length === 0) roots += 1;
        if (selfClosing !== '/') stack.push(name);
      }
    }
  }
  if (stack.length > 0) problems.push(`unclosed ${stack.join(', ')}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
};

const elements = (svg: string, tag: string, classes?: string): string[] =>
  [...svg.matchAll(new RegExp(`<${tag}\\b[^>]*>`, 'g'))].map((m) => m[0]).filter((e) => classes === undefined || e.includes(`class="${classes}"`));

describe('the well-formedness check', () => {
  it('catches what it is meant to', () => {
    expect(wellFormednessProblems('<a><b/></a>')).toStrictEqual([]);
    expect(wellFormednessProblems('<a><b></a>')).not.toStrictEqual([]);
    expect(wellFormednessProblems('<a>Wine & Spirits</a>')).not.toStrictEqual([]);
    expect(wellFormednessProblems('<a>x < y</a>')).not.toStrictEqual([]);
    expect(wellFormednessProblems('<a/><b/>')).not.toStrictEqual([]);
  });
});

describe('renderFloorSvg', () => {
  it('is a well-formed standalone SVG 1.1 document, sized in pixels at 12 px per metre by default', () => {
    const svg = renderFloorSvg(aPlan(), aHeat());
    expect(wellFormednessProblems(svg)).toStrictEqual([]);
    expect(svg).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" version="1\.1"/);
    // 60 m × 12 px + 2 × 16 px margin; 16 + 28 title + 240 plan + 14 + 64 legend + 16.
    expect(svg).toContain('width="752" height="378" viewBox="0 0 752 378"');
    expect(elements(svg, 'rect', 'floor')).toStrictEqual(['<rect class="floor" x="0" y="0" width="720" height="240" fill="#f4f4f4"/>']);
    // The outline is drawn over the heat, so cells along the walls do not hide it.
    expect(svg.indexOf('class="outline"')).toBeGreaterThan(svg.lastIndexOf('class="cell"'));
    expect(elements(svg, 'rect', 'outline')).toStrictEqual(['<rect class="outline" x="0" y="0" width="720" height="240" fill="none" stroke="#333333" stroke-width="2"/>']);
  });

  it('paints one rect per unsuppressed heat cell, row by row, on the ramp scaled to the busiest cell', () => {
    const cells = elements(renderFloorSvg(aPlan(), aHeat()), 'rect', 'cell');
    expect(cells).toHaveLength(10);
    expect(cells[0]).toBe('<rect class="cell" x="0" y="0" width="120" height="120" fill="#b10026"/>');
    expect(cells[2]).toBe('<rect class="cell" x="360" y="0" width="120" height="120" fill="#ffffb2"/>'); // the empty cell: bottom of the ramp
    expect(cells[4]).toBe('<rect class="cell" x="0" y="120" width="120" height="120" fill="#fff9a8"/>'); // 100 / 3600: a sixth of the way to the second stop
    expect(cells.join('')).not.toMatch(/x="120" y="0"|x="480" y="0"/); // suppressed cells stay unpainted
  });

  it('clips cells that overhang the floor and paints nothing when every cell is suppressed', () => {
    const overhang = elements(renderFloorSvg(aPlan({ widthM: 55 }), aHeat()), 'rect', 'cell');
    expect(overhang[3]).toBe('<rect class="cell" x="600" y="0" width="60" height="120" fill="#fec661"/>'); // 900 / 3600: halfway between the second and third stops
    const none = renderFloorSvg(aPlan(), aHeat({ seconds: Array<null>(12).fill(null) }));
    expect(elements(none, 'rect', 'cell')).toStrictEqual([]);
    expect(none).toContain('max 0 shopper-seconds');
  });

  it('escapes XML special characters in every text', () => {
    const svg = renderFloorSvg(aPlan({ gateways: [{ id: 'gw-"1"&<2>', position: { x: 1, y: 1 } }] }), aHeat(), { title: 'Tom\'s <Store> & "Co"' });
    expect(wellFormednessProblems(svg)).toStrictEqual([]);
    expect(svg).toContain('Wine &amp; &lt;Spirits&gt;');
    expect(svg).not.toContain('Wine & <Spirits>');
    expect(svg).toContain('>gw-&quot;1&quot;&amp;&lt;2&gt;</text>');
    expect(svg).toContain('<title>Tom&apos;s &lt;Store&gt; &amp; &quot;Co&quot;</title>');
  });

  it('drops control characters XML cannot carry', () => {
    const svg = renderFloorSvg(aPlan({ zones: [{ id: 'z', name: 'Bell\u0007 aisle\u0000', sensitive: false, polygon: [{ x: 0, y: 0 }, { x: 1, y: 0 }, { x: 1, y: 1 }] }] }), aHeat());
    expect(svg).toContain('>Bell aisle</text>');
    expect([...svg].filter((c) => c < ' ' && c !== '\n')).toStrictEqual([]);
  });

  it('marks every gateway with its ID and every entrance with a triangle pointing into the store', () => {
    const svg = renderFloorSvg(aPlan(), aHeat());
    for (const id of ['gw-door', 'gw-bakery', 'gw-pharmacy']) expect(svg).toMatch(new RegExp(`<text [^>]*>${id}</text>`));
    expect(elements(svg, 'circle')).toContain('<circle cx="540" cy="60" r="4"/>');
    // On the left wall at y = 10 m: apex 6 px inside, base 6 px outside.
    expect(elements(svg, 'polygon', 'entrance')).toStrictEqual(['<polygon class="entrance" points="6,120 -6,126 -6,114"/>']);
    const bottom = renderFloorSvg(aPlan({ entrances: [{ x: 30, y: 20 }] }), aHeat());
    expect(elements(bottom, 'polygon', 'entrance')).toStrictEqual(['<polygon class="entrance" points="360,234 366,246 354,246"/>']);
  });

  it('outlines zones without fill, sensitive ones dashed and labelled as sensitive', () => {
    const svg = renderFloorSvg(aPlan(), aHeat());
    expect(svg).toMatch(/<g class="zones" fill="none"/);
    expect(elements(svg, 'polygon', 'zone')).toHaveLength(2);
    expect(elements(svg, 'polygon', 'zone').join('')).not.toContain('stroke-dasharray');
    expect(elements(svg, 'polygon', 'zone sensitive')).toStrictEqual(['<polygon class="zone sensitive" points="480,0 600,0 600,120 480,120" stroke-dasharray="6 4"/>']);
    expect(svg).toMatch(/>Pharmacy<tspan [^>]*>\(sensitive\)<\/tspan><\/text>/);
    expect(svg).not.toMatch(/>Bakery<tspan/);
  });

  it('labels each zone at its area centroid, not the mean of its vertices', () => {
    // An L: a 4 × 1 bar and a 1 × 3 leg; area 7 m², centroid (10/7, 15/14)... in metres from (0, 0).
    const lShape = [{ x: 0, y: 0 }, { x: 4, y: 0 }, { x: 4, y: 1 }, { x: 1, y: 1 }, { x: 1, y: 4 }, { x: 0, y: 4 }];
    const svg = renderFloorSvg(aPlan({ zones: [{ id: 'l', name: 'L', sensitive: false, polygon: lShape }] }), aHeat(), { pixelsPerMetre: 14 });
    // x̄ = (4·2 + 3·0.5) / 7 = 9.5/7 m → 19 px; ȳ = (4·0.5 + 3·2.5) / 7 = 9.5/7 m → 19 px.
    expect(svg).toContain('<text x="19" y="19" dominant-baseline="central">L</text>');
  });

  it('scales with pixelsPerMetre and rounds every number to 2 decimals', () => {
    const svg = renderFloorSvg(aPlan({ gateways: [{ id: 'g', position: { x: 1 / 3, y: 2 / 3 } }] }), aHeat(), { pixelsPerMetre: 20 });
    expect(elements(svg, 'rect', 'floor')[0]).toContain('width="1200" height="400"');
    expect(elements(svg, 'circle')).toContain('<circle cx="6.67" cy="13.33" r="4"/>');
    expect(svg).not.toMatch(/\d\.\d{3,}/);
    expect(() => renderFloorSvg(aPlan(), aHeat(), { pixelsPerMetre: 0 })).toThrow(RangeError);
    expect(() => renderFloorSvg(aPlan(), aHeat(), { pixelsPerMetre: Number.NaN })).toThrow(RangeError);
  });

  it('carries a legend for the ramp from 0 to the busiest cell, and the aggregate-only note', () => {
    const svg = renderFloorSvg(aPlan(), aHeat());
    expect(svg).toContain('<linearGradient id="heat-ramp"');
    expect(elements(svg, 'stop')).toHaveLength(7);
    expect(svg).toMatch(/>0<\/text>/);
    expect(svg).toContain('>max 3,600 shopper-seconds</text>');
    expect(occupancyNote(5)).toBe('Aggregate occupancy heat; cells visited by fewer than 5 shoppers are not shown. No individual tracks.');
    expect(svg).toContain(`>${occupancyNote(5)}</text>`);
  });

  it('gives the same string for the same input', () => {
    expect(renderFloorSvg(aPlan(), aHeat(), { title: 'Day 1' })).toBe(renderFloorSvg(structuredClone(aPlan()), structuredClone(aHeat()), { title: 'Day 1' }));
  });
});
