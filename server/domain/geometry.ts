// Plane geometry for store floor plans: pure, no I/O. Coordinates are metres; a polygon is its list of
// vertices in either winding order, closed implicitly (the last vertex joins the first; do not repeat it).
// Edge i joins vertex i to vertex i + 1 (mod n), so messages can name edges by the same index as the JSON.
// Shared by the simulator's store scenarios and the server's store floor plans (floor-plan.ts), so both
// accept and refuse the same outlines.

export type Point = { x: number; y: number };
export type BoundingBox = { minX: number; minY: number; maxX: number; maxY: number };
/** What keeps a polygon from being simple, with the vertex or edge indices at fault. */
export type PolygonDefect =
  | { kind: 'too-few-vertices'; count: number }
  | { kind: 'repeated-vertex'; vertices: [number, number] }
  | { kind: 'edges-cross'; edges: [number, number] }
  | { kind: 'zero-area' };
export type ZoneIndex = { zoneAt(p: Point): string | undefined };

/**
 * Tolerance (m) for "on the line" in the overlap test only: a shared wall given as decimal coordinates
 * (0.1 is not exact in binary) must still count as shared. A nanometre is far below any survey error.
 */
const TOUCH_EPSILON_M = 1e-9;

const vertex = (poly: readonly Point[], i: number): Point => poly[((i % poly.length) + poly.length) % poly.length] as Point;
const cross = (o: Point, a: Point, b: Point): number => (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);

/** Which side of the line a→b the point c is: 1 left, -1 right, 0 within epsilonM of the line. */
function orientation(a: Point, b: Point, c: Point, epsilonM = 0): -1 | 0 | 1 {
  const value = cross(a, b, c);
  if (Math.abs(value) <= epsilonM * Math.hypot(b.x - a.x, b.y - a.y)) return 0;
  return value > 0 ? 1 : -1;
}

/** p on the segment a–b (ends included), within epsilonM; with 0 the test is exact. */
function onSegment(p: Point, a: Point, b: Point, epsilonM = 0): boolean {
  if (orientation(a, b, p, epsilonM) !== 0) return false;
  return (
    p.x >= Math.min(a.x, b.x) - epsilonM && p.x <= Math.max(a.x, b.x) + epsilonM &&
    p.y >= Math.min(a.y, b.y) - epsilonM && p.y <= Math.max(a.y, b.y) + epsilonM
  );
}

/** Closed segments a–b and c–d share at least one point. */
function segmentsIntersect(a: Point, b: Point, c: Point, d: Point): boolean {
  if (orientation(a, b, c) * orientation(a, b, d) < 0 && orientation(c, d, a) * orientation(c, d, b) < 0) return true;
  return onSegment(c, a, b) || onSegment(d, a, b) || onSegment(a, c, d) || onSegment(b, c, d);
}

/** The segments cross at a single point inside both (not at an end, not collinear). */
function segmentsCrossProperly(a: Point, b: Point, c: Point, d: Point, epsilonM: number): boolean {
  return (
    orientation(a, b, c, epsilonM) * orientation(a, b, d, epsilonM) < 0 &&
    orientation(c, d, a, epsilonM) * orientation(c, d, b, epsilonM) < 0
  );
}

/** Shoelace formula: positive for counter-clockwise vertices (x right, y up). */
function signedArea(poly: readonly Point[]): number {
  let twice = 0;
  for (let i = 0; i < poly.length; i += 1) {
    const a = vertex(poly, i);
    const b = vertex(poly, i + 1);
    twice += a.x * b.y - b.x * a.y;
  }
  return twice / 2;
}

/** Area, m² (whatever the winding order). */
export function polygonArea(poly: readonly Point[]): number {
  return Math.abs(signedArea(poly));
}

/** Where p lies relative to poly; `boundary` within epsilonM of an edge (0: exactly on it). */
function locate(p: Point, poly: readonly Point[], epsilonM: number): 'inside' | 'boundary' | 'outside' {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i, i += 1) {
    const a = poly[j] as Point;
    const b = poly[i] as Point;
    if (onSegment(p, a, b, epsilonM)) return 'boundary';
    // Crossing-number test (PNPOLY, W. R. Franklin): a ray to +x crosses edges that straddle p.y, half-open in y.
    if (a.y > p.y !== b.y > p.y && p.x < a.x + ((p.y - a.y) * (b.x - a.x)) / (b.y - a.y)) inside = !inside;
  }
  return inside ? 'inside' : 'outside';
}

/** Ray casting; a point exactly on an edge or a vertex counts as inside. */
export function pointInPolygon(p: Point, poly: readonly Point[]): boolean {
  return locate(p, poly, 0) !== 'outside';
}

/** The first thing that keeps poly from being simple, or undefined if it is simple (and so encloses an area). */
export function polygonDefect(poly: readonly Point[]): PolygonDefect | undefined {
  const n = poly.length;
  if (n < 3) return { kind: 'too-few-vertices', count: n };
  for (let i = 0; i < n; i += 1) {
    const a = vertex(poly, i);
    const b = vertex(poly, i + 1);
    if (a.x === b.x && a.y === b.y) return { kind: 'repeated-vertex', vertices: [i, (i + 1) % n] };
  }
  for (let i = 0; i < n; i += 1) {
    for (let j = i + 2; j < n; j += 1) {
      if (i === 0 && j === n - 1) continue; // adjacent through the closing edge
      if (segmentsIntersect(vertex(poly, i), vertex(poly, i + 1), vertex(poly, j), vertex(poly, j + 1))) return { kind: 'edges-cross', edges: [i, j] };
    }
  }
  // With four or more vertices, an outline that doubles back on itself makes non-adjacent edges touch
  // (caught above); a triangle can only do so by lying on one line.
  if (signedArea(poly) === 0) return { kind: 'zero-area' };
  return undefined;
}

/** No repeated consecutive vertex, no two non-adjacent edges touching, a positive area. */
export function polygonIsSimple(poly: readonly Point[]): boolean {
  return polygonDefect(poly) === undefined;
}

export function boundingBox(poly: readonly Point[]): BoundingBox {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const p of poly) {
    minX = Math.min(minX, p.x);
    minY = Math.min(minY, p.y);
    maxX = Math.max(maxX, p.x);
    maxY = Math.max(maxY, p.y);
  }
  return { minX, minY, maxX, maxY };
}

/**
 * Does some edge piece of `a` show that the interiors meet? Each edge of `a` is cut at the vertices of `b`
 * lying on it; with no proper crossings, each piece is then wholly inside b, outside it, or along a wall
 * of b. A piece inside b means overlap; a piece along a wall means overlap only if both interiors lie on
 * the same side of it, i.e. the two edges run the same way once both polygons are wound alike.
 */
function edgePiecesOverlap(a: readonly Point[], b: readonly Point[], sameWinding: boolean): boolean {
  for (let i = 0; i < a.length; i += 1) {
    const p = vertex(a, i);
    const q = vertex(a, i + 1);
    const dx = q.x - p.x;
    const dy = q.y - p.y;
    const lengthSquared = dx * dx + dy * dy;
    const cuts = [0, 1];
    for (const v of b) {
      const t = ((v.x - p.x) * dx + (v.y - p.y) * dy) / lengthSquared;
      if (t > 0 && t < 1 && onSegment(v, p, q, TOUCH_EPSILON_M)) cuts.push(t);
    }
    cuts.sort((s, t) => s - t);
    for (let k = 0; k + 1 < cuts.length; k += 1) {
      const s = cuts[k] as number;
      const t = cuts[k + 1] as number;
      if (t - s <= 0) continue;
      const mid = { x: p.x + dx * ((s + t) / 2), y: p.y + dy * ((s + t) / 2) };
      const where = locate(mid, b, TOUCH_EPSILON_M);
      if (where === 'inside') return true;
      if (where === 'outside') continue;
      for (let j = 0; j < b.length; j += 1) {
        const u = vertex(b, j);
        const w = vertex(b, j + 1);
        if (!onSegment(mid, u, w, TOUCH_EPSILON_M) || orientation(p, q, u, TOUCH_EPSILON_M) !== 0 || orientation(p, q, w, TOUCH_EPSILON_M) !== 0) continue;
        const sameDirection = dx * (w.x - u.x) + dy * (w.y - u.y) > 0;
        if (sameDirection === sameWinding) return true;
      }
    }
  }
  return false;
}

/**
 * True iff the interiors intersect with positive area: edges cross, a vertex of one lies strictly inside
 * the other, one contains the other, or they coincide. Polygons that only share a wall or a corner (adjacent
 * shop zones) do not overlap. Expects simple polygons; one without area overlaps nothing.
 */
export function polygonsOverlap(a: readonly Point[], b: readonly Point[]): boolean {
  const areaA = signedArea(a);
  const areaB = signedArea(b);
  if (areaA === 0 || areaB === 0) return false;
  const boxA = boundingBox(a);
  const boxB = boundingBox(b);
  // Boxes that only touch cannot hold overlapping interiors.
  if (boxA.maxX <= boxB.minX || boxB.maxX <= boxA.minX || boxA.maxY <= boxB.minY || boxB.maxY <= boxA.minY) return false;
  for (let i = 0; i < a.length; i += 1) {
    for (let j = 0; j < b.length; j += 1) {
      if (segmentsCrossProperly(vertex(a, i), vertex(a, i + 1), vertex(b, j), vertex(b, j + 1), TOUCH_EPSILON_M)) return true;
    }
  }
  if (a.some((v) => locate(v, b, TOUCH_EPSILON_M) === 'inside') || b.some((v) => locate(v, a, TOUCH_EPSILON_M) === 'inside')) return true;
  const sameWinding = areaA > 0 === areaB > 0;
  return edgePiecesOverlap(a, b, sameWinding) || edgePiecesOverlap(b, a, sameWinding);
}

/** Area centroid (centre of mass of the lamina); the vertex mean for a polygon without area. */
export function centroid(poly: readonly Point[]): Point {
  const area = signedArea(poly);
  if (area === 0) {
    const sum = poly.reduce((acc, p) => ({ x: acc.x + p.x, y: acc.y + p.y }), { x: 0, y: 0 });
    return { x: sum.x / poly.length, y: sum.y / poly.length };
  }
  let cx = 0;
  let cy = 0;
  for (let i = 0; i < poly.length; i += 1) {
    const a = vertex(poly, i);
    const b = vertex(poly, i + 1);
    const f = a.x * b.y - b.x * a.y;
    cx += (a.x + b.x) * f;
    cy += (a.y + b.y) * f;
  }
  return { x: cx / (6 * area), y: cy / (6 * area) };
}

/** Euclidean distance, m. */
export function distance(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

/** Past this many cells the index coarsens its grid: a 2 km plan at 1 m would need 4 million. */
const MAX_CELLS = 1 << 16;

/**
 * A uniform grid over the zones' extent: each cell lists, in array order, the zones whose bounding box
 * touches it, so zoneAt tests a handful of polygons instead of all of them. Exact: the answer is the
 * first zone in array order containing p (a point on a shared wall belongs to the earlier zone).
 */
export function createZoneIndex(zones: readonly { id: string; polygon: readonly Point[] }[], cellM = 1): ZoneIndex {
  if (!(cellM > 0) || !Number.isFinite(cellM)) throw new RangeError(`createZoneIndex needs a cell size > 0 m, got ${cellM}`);
  // A zone without finite vertices contains no point, so it needs no cell.
  const boxes = zones.map((zone) => boundingBox(zone.polygon)).map((box) => ([box.minX, box.minY, box.maxX, box.maxY].every(Number.isFinite) ? box : undefined));
  const extent = boundingBox(boxes.flatMap((box) => (box ? [{ x: box.minX, y: box.minY }, { x: box.maxX, y: box.maxY }] : [])));
  if (!Number.isFinite(extent.minX)) return { zoneAt: () => undefined };
  const widthM = extent.maxX - extent.minX;
  const heightM = extent.maxY - extent.minY;
  const size = Math.max(cellM, Math.sqrt((widthM * heightM) / MAX_CELLS), widthM / MAX_CELLS, heightM / MAX_CELLS);
  // The same monotone floor() places zones and queries, so a point inside a box always lands in one of its cells.
  const column = (x: number): number => Math.floor((x - extent.minX) / size);
  const row = (y: number): number => Math.floor((y - extent.minY) / size);
  const columns = column(extent.maxX) + 1;
  const rows = row(extent.maxY) + 1;
  const cells: number[][] = Array.from({ length: columns * rows }, () => []);
  boxes.forEach((box, zone) => {
    if (!box) return;
    for (let r = row(box.minY); r <= row(box.maxY); r += 1) {
      for (let c = column(box.minX); c <= column(box.maxX); c += 1) cells[r * columns + c]?.push(zone);
    }
  });
  return {
    zoneAt(p) {
      const c = column(p.x);
      const r = row(p.y);
      if (!(c >= 0 && c < columns && r >= 0 && r < rows)) return undefined; // also NaN
      for (const zone of cells[r * columns + c] ?? []) {
        const candidate = zones[zone];
        if (candidate && pointInPolygon(p, candidate.polygon)) return candidate.id;
      }
      return undefined;
    },
  };
}
