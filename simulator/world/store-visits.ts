import type { Rng } from '../rng.ts';
import { boundingBox, pointInPolygon, type Point } from '#server/domain/geometry.ts';

// Who comes in, when, and where they walk: pure functions of the scenario and a seeded RNG.
//   arrivals   a non-homogeneous Poisson process: each local hour h has rate λ·w(h)/mean(w), w the
//              scenario's hourly profile (flat without one), so the day's expected total is λ × open hours;
//   stops      k zones drawn by weight without replacement, k uniform in stopsPerVisit;
//   dwell      log-normal (median m, shape σ): ln D ~ N(ln m, σ²), the usual fit for shop dwell times;
//   path       from an entrance through each stop and out by an entrance, along the walkways graph
//              (Dijkstra between the nodes nearest to each end) or in straight lines without one;
//   speed      normal(mean, sd) per shopper, clamped to 0.3–2.5 m/s.
// A visit is a list of timed legs, so the true position at any moment is known: the ground truth.

export type Leg = { fromMs: number; toMs: number; from: Point; to: Point };
export type PlannedStop = { zoneId: string; at: Point; arriveMs: number; leaveMs: number };
export type PlannedVisit = { startMs: number; endMs: number; legs: Leg[]; stops: PlannedStop[] };

export type Walkways = { nodes: Record<string, Point>; edges: readonly (readonly [string, string])[] };

export type HourlyRate = { fromMs: number; toMs: number; perHour: number };

/** Arrival times (Unix ms) of a Poisson process with a piecewise-constant rate. */
export function poissonArrivals(rng: Rng, rates: readonly HourlyRate[]): number[] {
  const arrivals: number[] = [];
  for (const { fromMs, toMs, perHour } of rates) {
    if (!(perHour > 0)) continue;
    const perMs = perHour / 3_600_000;
    for (let t = fromMs + rng.exponential(perMs); t < toMs; t += rng.exponential(perMs)) arrivals.push(t);
  }
  return arrivals;
}

/** A log-normal draw with the given median and shape σ. */
export function logNormal(rng: Rng, median: number, sigma: number): number {
  return median * Math.exp(sigma * rng.normal(0, 1));
}

/** A uniformly random point inside a polygon, at least marginM from its bounding box edges where the box allows (rejection sampling). */
export function pointInside(rng: Rng, polygon: readonly Point[], marginM = 0.5): Point {
  const box = boundingBox(polygon);
  const mx = Math.min(marginM, (box.maxX - box.minX) / 4);
  const my = Math.min(marginM, (box.maxY - box.minY) / 4);
  for (let attempt = 0; attempt < 1_000; attempt += 1) {
    const p = { x: box.minX + mx + rng.next() * (box.maxX - box.minX - 2 * mx), y: box.minY + my + rng.next() * (box.maxY - box.minY - 2 * my) };
    if (pointInPolygon(p, polygon)) return p;
  }
  throw new RangeError('no point found inside the polygon: is its area zero?');
}

/** k distinct items drawn by weight without replacement (fewer if fewer have a positive weight). */
export function weightedSample<T>(rng: Rng, items: readonly T[], weightOf: (item: T) => number, k: number): T[] {
  const pool = items.filter((item) => weightOf(item) > 0);
  const chosen: T[] = [];
  while (chosen.length < k && pool.length > 0) {
    const total = pool.reduce((sum, item) => sum + weightOf(item), 0);
    let r = rng.next() * total;
    let index = pool.length - 1;
    for (let i = 0; i < pool.length; i += 1) {
      r -= weightOf(pool[i]!);
      if (r < 0) {
        index = i;
        break;
      }
    }
    chosen.push(pool.splice(index, 1)[0]!);
  }
  return chosen;
}

const dist = (a: Point, b: Point): number => Math.hypot(a.x - b.x, a.y - b.y);

export type Router = (from: Point, to: Point) => Point[];

/**
 * Routes along the walkways: the intermediate points of the shortest path from the node nearest `from`
 * to the node nearest `to` (Dijkstra over Euclidean edge lengths). Without walkways, a straight line.
 */
export function createRouter(walkways: Walkways | undefined): Router {
  if (walkways === undefined || Object.keys(walkways.nodes).length === 0) return () => [];
  const ids = Object.keys(walkways.nodes);
  const index = new Map(ids.map((id, i) => [id, i]));
  const points = ids.map((id) => walkways.nodes[id]!);
  const adjacency: { to: number; lengthM: number }[][] = ids.map(() => []);
  for (const [a, b] of walkways.edges) {
    const i = index.get(a)!;
    const j = index.get(b)!;
    const lengthM = dist(points[i]!, points[j]!);
    adjacency[i]!.push({ to: j, lengthM });
    adjacency[j]!.push({ to: i, lengthM });
  }
  // All-pairs predecessors, once: a store has tens of nodes, and every visit routes several times.
  const previous = points.map((_, source) => {
    const best = new Float64Array(points.length).fill(Number.POSITIVE_INFINITY);
    const prev = new Int32Array(points.length).fill(-1);
    const done = new Uint8Array(points.length);
    best[source] = 0;
    for (;;) {
      let u = -1;
      for (let i = 0; i < points.length; i += 1) if (!done[i] && best[i]! < Number.POSITIVE_INFINITY && (u < 0 || best[i]! < best[u]!)) u = i;
      if (u < 0) break;
      done[u] = 1;
      for (const { to, lengthM } of adjacency[u]!) {
        if (best[u]! + lengthM < best[to]!) {
          best[to] = best[u]! + lengthM;
          prev[to] = u;
        }
      }
    }
    return prev;
  });
  const nearest = (p: Point): number => {
    let bestIndex = 0;
    for (let i = 1; i < points.length; i += 1) if (dist(points[i]!, p) < dist(points[bestIndex]!, p)) bestIndex = i;
    return bestIndex;
  };
  return (from, to) => {
    const start = nearest(from);
    const end = nearest(to);
    // Both ends by the same node, or the target nearer than the corridor: walk straight.
    if (start === end || dist(from, to) <= dist(from, points[start]!)) return [];
    const path: Point[] = [];
    for (let at = end; at !== -1; at = previous[start]![at]!) {
      path.push(points[at]!);
      if (at === start) break;
    }
    return path.reverse();
  };
}

export type VisitPlanOptions = {
  rng: Rng;
  startMs: number;
  entrances: readonly Point[];
  zones: readonly { id: string; polygon: readonly Point[]; weight: number; dwellS?: { medianS: number; sigma: number } | undefined }[];
  stopsPerVisit: readonly [number, number];
  dwellS: { medianS: number; sigma: number };
  walkingSpeedMps: { mean: number; sd: number };
  route: Router;
};

export function planStoreVisit(options: VisitPlanOptions): PlannedVisit {
  const { rng, route } = options;
  const speedMps = Math.min(2.5, Math.max(0.3, rng.normal(options.walkingSpeedMps.mean, options.walkingSpeedMps.sd)));
  const [minStops, maxStops] = options.stopsPerVisit;
  const chosen = weightedSample(rng, options.zones, (zone) => zone.weight, rng.int(minStops, maxStops));
  const legs: Leg[] = [];
  const stops: PlannedStop[] = [];
  let t = options.startMs;
  let at = rng.pick(options.entrances);
  const walkTo = (target: Point): void => {
    for (const point of [...route(at, target), target]) {
      const toMs = t + (dist(at, point) / speedMps) * 1000;
      if (toMs > t) legs.push({ fromMs: t, toMs, from: at, to: point });
      t = toMs;
      at = point;
    }
  };
  for (const zone of chosen) {
    const spot = pointInside(rng, zone.polygon);
    walkTo(spot);
    const dwell = zone.dwellS ?? options.dwellS;
    const dwellMs = Math.min(3 * 3_600_000, logNormal(rng, dwell.medianS, dwell.sigma) * 1000);
    stops.push({ zoneId: zone.id, at: spot, arriveMs: t, leaveMs: t + dwellMs });
    legs.push({ fromMs: t, toMs: t + dwellMs, from: spot, to: spot });
    t += dwellMs;
  }
  walkTo(rng.pick(options.entrances));
  return { startMs: options.startMs, endMs: t, legs, stops };
}

/** A cursor over a visit's legs for times that mostly move forward: the position at nowMs, or undefined outside the visit. */
export function createPositionCursor(visit: PlannedVisit): (nowMs: number) => Point | undefined {
  let cursor = 0;
  return (nowMs) => {
    if (nowMs < visit.startMs || nowMs > visit.endMs || visit.legs.length === 0) return undefined;
    if (nowMs < visit.legs[cursor]!.fromMs) cursor = 0;
    while (cursor < visit.legs.length - 1 && nowMs > visit.legs[cursor]!.toMs) cursor += 1;
    const leg = visit.legs[cursor]!;
    const f = leg.toMs === leg.fromMs ? 1 : Math.min(1, Math.max(0, (nowMs - leg.fromMs) / (leg.toMs - leg.fromMs)));
    return { x: leg.from.x + (leg.to.x - leg.from.x) * f, y: leg.from.y + (leg.to.y - leg.from.y) * f };
  };
}
