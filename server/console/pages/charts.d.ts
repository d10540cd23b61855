// Types of charts.js (plain JavaScript, served to the browser as it is), for the TypeScript that imports
// it: the unit tests. The behaviour is documented, and tested, at the functions in charts.js.

export type ChartNode = { tag: string; attrs: Record<string, string | number | boolean | undefined>; children: (ChartNode | string)[] };
type Child = ChartNode | string | number | null | undefined | false | Child[];

export const PALETTE: readonly string[];
export function h(tag: string, attrs?: ChartNode['attrs'], ...children: Child[]): ChartNode;
/** What toDom needs of a DOM: the browser's document, or a test's stand-in. */
export type ElementLike<E> = { setAttribute(name: string, value: string): void; append(child: E | string): void };
export function toDom<E extends ElementLike<E>>(node: ChartNode, doc: { createElementNS(namespace: string, tag: string): E }): E;
export function toMarkup(node: ChartNode | string): string;

export function round(n: number): number;
export function niceTicks(min: number, max: number, options?: { count?: number; integer?: boolean }): number[];
export function linearScale(domain: [number, number], range: [number, number]): (v: number) => number;
export function formatCount(n: number): string;
export function formatPercentPoints(d: number): string;
export function suppressedText(k: number): string;
export function chartId(...parts: string[]): string;

export type CategoryChartOptions = {
  id?: string;
  title: string;
  description?: string;
  xLabel: string;
  yLabel: string;
  categories: string[];
  /** values[i] belongs to categories[i]; null = suppressed (fewer than k shoppers). */
  series: { name: string; values: (number | null)[] }[];
  k: number;
  format?: (n: number) => string;
  width?: number;
  height?: number;
};
export function barChart(options: CategoryChartOptions): ChartNode;
export function lineChart(options: CategoryChartOptions): ChartNode;

export type IntervalRow = { label: string; estimate: number; lower: number; upper: number } | { label: string; reason: string };
export function intervalChart(options: {
  id?: string;
  title: string;
  description?: string;
  xLabel: string;
  rows: IntervalRow[];
  format?: (n: number) => string;
  reference?: number;
  referenceLabel?: string;
  width?: number;
}): ChartNode;

export type OccupancyBand = { min: number; max: number; fill: string; text: string; label: string };
export function occupancyBands(k: number): OccupancyBand[];
export function bandOf(occupancy: number, k: number): OccupancyBand | undefined;
export function centroid(points: [number, number][]): [number, number];
export function floorPlan(options: {
  id?: string;
  title: string;
  plan?: { widthM: number; heightM: number };
  zones: { id: string; name: string; sensitive: boolean; polygon?: [number, number][] }[];
  live: { k: number; zones: { zoneId: string; occupancy: number | null; eventsPerSecond: number | null }[] };
  width?: number;
}): ChartNode;
export function bucketLabels(startsMs: number[], timeZone: string, bucket: '15m' | '1h' | '1d'): string[];
