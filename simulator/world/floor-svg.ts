import type { HeatGrid } from './store-report.ts';

// The floor plan with the day's aggregate occupancy heat as a standalone SVG 1.1 document. It takes
// only the aggregate grid, never a track: suppressed cells stay unpainted. Output is a pure function
// of the input (no ids, dates or randomness), with coordinates in pixels rounded to 2 decimals.

type Point = { x: number; y: number };

/** What the renderer needs of a floor plan; structurally a subset of the scenario's floor plan. Metres, y pointing down. */
export type FloorPlanView = {
  widthM: number;
  heightM: number;
  entrances: { x: number; y: number }[];
  zones: { id: string; name: string; sensitive: boolean; polygon: { x: number; y: number }[] }[];
  gateways: { id: string; position: { x: number; y: number } }[];
};

export type FloorSvgOptions = { title?: string; pixelsPerMetre?: number };

const DEFAULT_PIXELS_PER_METRE = 12;
const MARGIN_PX = 16;
const TITLE_PX = 28;
const LEGEND_GAP_PX = 14;
const LEGEND_PX = 64;
const MIN_WIDTH_PX = 660;
const ENTRANCE_PX = 12;
const HEAT_OPACITY = 0.8;

// ColorBrewer YlOrRd, 7 classes (Brewer, colorbrewer2.org): perceptual and sequential, and its light
// low end keeps the dark labels legible where most of a floor's cells are.
const RAMP: readonly (readonly [number, number, number])[] = [
  [0xff, 0xff, 0xb2], [0xfe, 0xd9, 0x76], [0xfe, 0xb2, 0x4c], [0xfd, 0x8d, 0x3c], [0xfc, 0x4e, 0x2a], [0xe3, 0x1a, 0x1c], [0xb1, 0x00, 0x26],
];
const RAMP_END = [0xb1, 0x00, 0x26] as const;

/** A pixel coordinate rounded to 2 decimals, never "-0". */
const num = (value: number): string => {
  const rounded = Math.round(value * 100) / 100;
  return Object.is(rounded, -0) || !Number.isFinite(rounded) ? '0' : String(rounded);
};

const hex = (rgb: readonly number[]): string => `#${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`;

/** The ramp's colour at t ∈ [0, 1], interpolated linearly in sRGB between neighbouring stops. */
const rampColour = (t: number): string => {
  const position = Math.min(Math.max(Number.isFinite(t) ? t : 0, 0), 1) * (RAMP.length - 1);
  const i = Math.min(Math.floor(position), RAMP.length - 2);
  const [from, to] = [RAMP[i] ?? RAMP_END, RAMP[i + 1] ?? RAMP_END];
  return hex(from.map((c, k) => Math.round(c + ((to[k] ?? c) - c) * (position - i))));
};

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Text safe in XML content and attribute values; control characters XML 1.0 forbids (§2.2 Char) are dropped. */
// eslint-disable-next-line no-control-regex
const escapeXml = (text: string): string => text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '').replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);

const count = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 });

/** The area centroid (shoelace formula); the vertex mean for a degenerate polygon; undefined for none. */
const centroid = (polygon: readonly Point[]): Point | undefined => {
  if (polygon.length === 0) return undefined;
  let twiceArea = 0;
  let cx = 0;
  let cy = 0;
  polygon.forEach((p, i) => {
    const q = polygon[(i + 1) % polygon.length] ?? p;
    const cross = p.x * q.y - q.x * p.y;
    twiceArea += cross;
    cx += (p.x + q.x) * cross;
    cy += (p.y + q.y) * cross;
  });
  if (Math.abs(twiceArea) < 1e-9) {
    return { x: polygon.reduce((s, p) => s + p.x, 0) / polygon.length, y: polygon.reduce((s, p) => s + p.y, 0) / polygon.length };
  }
  return { x: cx / (3 * twiceArea), y: cy / (3 * twiceArea) };
};

const heatCells = (heat: HeatGrid, ppm: number, planW: number, planH: number): { cells: string[]; max: number } => {
  const values = heat.seconds.map((v) => (v === null || !Number.isFinite(v) ? null : v));
  const max = values.reduce<number>((m, v) => (v === null ? m : Math.max(m, v)), 0);
  const cellPx = heat.cellM * ppm;
  if (!(cellPx > 0) || !(heat.columns > 0)) return { cells: [], max };
  const cells: string[] = [];
  values.forEach((value, i) => {
    if (value === null) return;
    const [x, y] = [(i % heat.columns) * cellPx, Math.floor(i / heat.columns) * cellPx];
    // The grid may overhang the floor by part of a cell: clip to the floor; a cell wholly outside has nothing to paint.
    const [w, h] = [Math.min(cellPx, planW - x), Math.min(cellPx, planH - y)];
    if (w <= 0 || h <= 0) return;
    const fill = rampColour(max > 0 ? value / max : 0);
    cells.push(`<rect class="cell" x="${num(x)}" y="${num(y)}" width="${num(w)}" height="${num(h)}" fill="${fill}"/>`);
  });
  return { cells, max };
};

const points = (polygon: readonly Point[], ppm: number): string => polygon.map((p) => `${num(p.x * ppm)},${num(p.y * ppm)}`).join(' ');

/** A triangle on the entrance pointing into the store, away from the nearest wall. */
const entranceTriangle = (e: Point, plan: FloorPlanView, ppm: number): string => {
  const walls: [number, Point][] = [
    [e.x, { x: 1, y: 0 }],
    [plan.widthM - e.x, { x: -1, y: 0 }],
    [e.y, { x: 0, y: 1 }],
    [plan.heightM - e.y, { x: 0, y: -1 }],
  ];
  const inward = walls.reduce((best, wall) => (wall[0] < best[0] ? wall : best))[1];
  const [px, py, half] = [e.x * ppm, e.y * ppm, ENTRANCE_PX / 2];
  const apex = { x: px + inward.x * half, y: py + inward.y * half };
  const [bx, by] = [px - inward.x * half, py - inward.y * half];
  const corners = [apex, { x: bx - inward.y * half, y: by + inward.x * half }, { x: bx + inward.y * half, y: by - inward.x * half }];
  return `<polygon class="entrance" points="${corners.map((c) => `${num(c.x)},${num(c.y)}`).join(' ')}"/>`;
};

const zoneShapes = (plan: FloorPlanView, ppm: number): { outlines: string[]; labels: string[] } => {
  const outlines: string[] = [];
  const labels: string[] = [];
  for (const zone of plan.zones) {
    const dash = zone.sensitive ? ' stroke-dasharray="6 4"' : '';
    outlines.push(`<polygon class="${zone.sensitive ? 'zone sensitive' : 'zone'}" points="${points(zone.polygon, ppm)}"${dash}/>`);
    const at = centroid(zone.polygon);
    if (at === undefined) continue;
    const [x, y] = [num(at.x * ppm), num(at.y * ppm)];
    const mark = zone.sensitive ? `<tspan x="${x}" dy="12" font-size="9" font-weight="normal" font-style="italic">(sensitive)</tspan>` : '';
    labels.push(`<text x="${x}" y="${y}" dominant-baseline="central">${escapeXml(zone.name)}${mark}</text>`);
  }
  return { outlines, labels };
};

const gatewayMarks = (plan: FloorPlanView, ppm: number): string[] =>
  plan.gateways.flatMap((g) => {
    const [x, y] = [g.position.x * ppm, g.position.y * ppm];
    return [`<circle cx="${num(x)}" cy="${num(y)}" r="4"/>`, `<text x="${num(x + 6)}" y="${num(y - 5)}" fill="#0b2a5c" stroke="none">${escapeXml(g.id)}</text>`];
  });

const gradient = (): string => {
  const stops = RAMP.map((_, i) => `<stop offset="${num(i / (RAMP.length - 1))}" stop-color="${rampColour(i / (RAMP.length - 1))}"/>`);
  return `<defs><linearGradient id="heat-ramp" x1="0" y1="0" x2="1" y2="0">${stops.join('')}</linearGradient></defs>`;
};

const legend = (heat: HeatGrid, max: number): string[] => {
  const symbol = (x: number, shape: string, label: string): string[] => [shape, `<text x="${x + 26}" y="27" font-size="10">${label}</text>`];
  return [
    `<text x="0" y="10" font-size="11" font-weight="bold">Occupancy per ${num(heat.cellM)} m × ${num(heat.cellM)} m cell (shopper-seconds)</text>`,
    `<rect x="0" y="18" width="200" height="12" fill="url(#heat-ramp)" fill-opacity="${HEAT_OPACITY}" stroke="#999999" stroke-width="0.5"/>`,
    `<text x="0" y="42" font-size="10">0</text>`,
    `<text x="200" y="42" font-size="10" text-anchor="end">max ${count.format(max)} shopper-seconds</text>`,
    ...symbol(230, '<line x1="230" y1="24" x2="250" y2="24" stroke="#1a1a1a" stroke-width="1.5"/>', 'zone'),
    ...symbol(320, '<line x1="320" y1="24" x2="340" y2="24" stroke="#1a1a1a" stroke-width="1.5" stroke-dasharray="6 4"/>', 'sensitive zone'),
    ...symbol(430, '<circle cx="440" cy="24" r="4" fill="#1f4e9c" stroke="#ffffff"/>', 'gateway'),
    ...symbol(520, `<polygon points="524,24 536,18 536,30" fill="#2a7d2e"/>`, 'entrance'),
    `<text x="0" y="60" font-size="10.5">${escapeXml(occupancyNote(heat.minShoppers))}</text>`,
  ];
};

/** The privacy note every rendering carries. */
export const occupancyNote = (minShoppers: number): string =>
  `Aggregate occupancy heat; cells visited by fewer than ${minShoppers} shoppers are not shown. No individual tracks.`;

/** The floor plan, the aggregate heat, zones, gateways and entrances, and a legend, as an SVG 1.1 document. */
export const renderFloorSvg = (plan: FloorPlanView, heat: HeatGrid, options: FloorSvgOptions = {}): string => {
  const ppm = options.pixelsPerMetre ?? DEFAULT_PIXELS_PER_METRE;
  if (!Number.isFinite(ppm) || ppm <= 0) throw new RangeError(`pixelsPerMetre must be a positive number, got ${ppm}`);
  const title = options.title ?? 'Store floor: aggregate occupancy';
  const [planW, planH] = [Math.max(plan.widthM, 0) * ppm, Math.max(plan.heightM, 0) * ppm];
  const width = Math.max(planW + 2 * MARGIN_PX, MIN_WIDTH_PX);
  const planTop = MARGIN_PX + TITLE_PX;
  const legendTop = planTop + planH + LEGEND_GAP_PX;
  const height = legendTop + LEGEND_PX + MARGIN_PX;
  const { cells, max } = heatCells(heat, ppm, planW, planH);
  const { outlines, labels } = zoneShapes(plan, ppm);
  const group = (depth: number, attributes: string, children: string[]): string[] => {
    const indent = '  '.repeat(depth);
    return [`${indent}<g ${attributes}>`, ...children.map((c) => `${indent}  ${c}`), `${indent}</g>`];
  };
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" font-family="sans-serif">`,
    `  <title>${escapeXml(title)}</title>`,
    `  <desc>${escapeXml(occupancyNote(heat.minShoppers))}</desc>`,
    `  ${gradient()}`,
    `  <rect width="${num(width)}" height="${num(height)}" fill="#ffffff"/>`,
    `  <text x="${MARGIN_PX}" y="${MARGIN_PX + 16}" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
    `  <g transform="translate(${MARGIN_PX} ${planTop})">`,
    `    <rect class="floor" x="0" y="0" width="${num(planW)}" height="${num(planH)}" fill="#f4f4f4"/>`,
    ...group(2, `class="heat" fill-opacity="${HEAT_OPACITY}"`, cells),
    `    <rect class="outline" x="0" y="0" width="${num(planW)}" height="${num(planH)}" fill="none" stroke="#333333" stroke-width="2"/>`,
    ...group(2, 'class="zones" fill="none" stroke="#1a1a1a" stroke-width="1.5"', outlines),
    ...group(2, 'class="entrances" fill="#2a7d2e"', plan.entrances.map((e) => entranceTriangle(e, plan, ppm))),
    ...group(2, 'class="gateways" fill="#1f4e9c" stroke="#ffffff" stroke-width="1" font-size="9"', gatewayMarks(plan, ppm)),
    ...group(2, 'class="zone-labels" fill="#111111" font-size="11" font-weight="bold" text-anchor="middle"', labels),
    '  </g>',
    ...group(1, `class="legend" transform="translate(${MARGIN_PX} ${num(legendTop)})"`, legend(heat, max)),
    '</svg>',
    '',
  ].join('\n');
};
