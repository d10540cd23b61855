import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  boundingBox,
  centroid,
  createZoneIndex,
  distance,
  pointInPolygon,
  polygonArea,
  polygonDefect,
  polygonIsSimple,
  polygonsOverlap,
  type Point,
} from '#server/domain/geometry.ts';

const rect = (x0: number, y0: number, x1: number, y1: number): Point[] => [
  { x: x0, y: y0 },
  { x: x1, y: y0 },
  { x: x1, y: y1 },
  { x: x0, y: y1 },
];
const p = (x: number, y: number): Point => ({ x, y });
/** An L: the 4 × 4 square without its top-right 2 × 2 quarter. */
const ell = [p(0, 0), p(4, 0), p(4, 2), p(2, 2), p(2, 4), p(0, 4)];

/** A random guillotine tiling of [0, 40] × [0, 30]: cut a tile in two at a whole or half metre, repeatedly. */
const tiling = fc
  .array(fc.record({ tile: fc.nat(), vertical: fc.boolean(), at: fc.double({ min: 0.05, max: 0.95, noNaN: true }) }), { maxLength: 25 })
  .map((cuts) => {
    const tiles: [number, number, number, number][] = [[0, 0, 40, 30]];
    for (const cut of cuts) {
      const index = cut.tile % tiles.length;
      const [x0, y0, x1, y1] = tiles[index] as [number, number, number, number];
      const [lo, hi] = cut.vertical ? [x0, x1] : [y0, y1];
      const at = Math.round((lo + (hi - lo) * cut.at) * 2) / 2;
      if (at <= lo || at >= hi) continue;
      tiles.splice(index, 1, ...(cut.vertical ? [[x0, y0, at, y1], [at, y0, x1, y1]] : [[x0, y0, x1, at], [x0, at, x1, y1]]) as [number, number, number, number][]);
    }
    return tiles.map(([x0, y0, x1, y1], i) => ({ id: `zone-${i}`, polygon: rect(x0, y0, x1, y1) }));
  });
/** Points on the half-metre lattice (so many fall on walls and corners), anywhere, and outside the plan. */
const probe = fc.oneof(
  fc.record({ x: fc.integer({ min: -4, max: 84 }).map((v) => v / 2), y: fc.integer({ min: -4, max: 64 }).map((v) => v / 2) }),
  fc.record({ x: fc.double({ min: -5, max: 45, noNaN: true }), y: fc.double({ min: -5, max: 35, noNaN: true }) }),
);
const smallRect = fc
  .tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 10 }))
  .map(([x, y, w, h]) => rect(x, y, x + w, y + h));

describe('polygonArea and centroid', () => {
  it('measures m² whatever the winding order', () => {
    expect(polygonArea(rect(0, 0, 4, 3))).toBe(12);
    expect(polygonArea([...rect(0, 0, 4, 3)].reverse())).toBe(12);
    expect(polygonArea([p(0, 0), p(4, 0), p(0, 3)])).toBe(6);
    expect(polygonArea(ell)).toBe(12);
  });

  it('finds the centre of mass, not the mean of the vertices', () => {
    expect(centroid(rect(2, 2, 6, 4))).toEqual(p(4, 3));
    expect(centroid([p(0, 0), p(3, 0), p(0, 3)])).toEqual(p(1, 1));
    // L = 4×2 bottom bar (centre 2,1) + 2×2 top-left square (centre 1,3), areas 8 and 4.
    const c = centroid(ell);
    expect(c.x).toBeCloseTo((8 * 2 + 4 * 1) / 12, 12);
    expect(c.y).toBeCloseTo((8 * 1 + 4 * 3) / 12, 12);
    expect(centroid([...ell].reverse())).toEqual(c);
  });

  it('gives bounding boxes and distances in metres', () => {
    expect(boundingBox(ell)).toEqual({ minX: 0, minY: 0, maxX: 4, maxY: 4 });
    expect(distance(p(1, 1), p(4, 5))).toBe(5);
  });
});

describe('pointInPolygon', () => {
  it('tells inside from outside, also in the notch of a concave polygon', () => {
    expect(pointInPolygon(p(1, 1), ell)).toBe(true);
    expect(pointInPolygon(p(3, 3), ell)).toBe(false);
    expect(pointInPolygon(p(5, 1), ell)).toBe(false);
    expect(pointInPolygon(p(1, 3.9), ell)).toBe(true);
  });

  it('counts points on an edge or a vertex as inside', () => {
    expect(pointInPolygon(p(2, 0), ell)).toBe(true);
    expect(pointInPolygon(p(3, 2), ell)).toBe(true); // the notch's floor
    expect(pointInPolygon(p(2, 2), ell)).toBe(true); // the reflex vertex
    expect(pointInPolygon(p(4, 0), ell)).toBe(true);
    expect(pointInPolygon(p(1, 1), [p(0, 0), p(2, 2), p(0, 2)])).toBe(true); // on the diagonal
  });
});

describe('polygonDefect and polygonIsSimple', () => {
  it('accepts convex, concave and T-junction outlines (a vertex in the middle of a straight wall)', () => {
    expect(polygonIsSimple(rect(0, 0, 2, 2))).toBe(true);
    expect(polygonIsSimple(ell)).toBe(true);
    expect(polygonIsSimple([p(0, 0), p(2, 0), p(4, 0), p(4, 3), p(0, 3)])).toBe(true);
  });

  it('names the two edges of a bow tie that cross (edge i joins vertex i to i + 1)', () => {
    expect(polygonDefect([p(0, 0), p(2, 2), p(2, 0), p(0, 2)])).toEqual({ kind: 'edges-cross', edges: [0, 2] });
  });

  it('rejects an outline that touches itself or doubles back', () => {
    // Vertices 1 and 4 are the same point, a pinch: edge 0 ends there and edge 3 ends there.
    expect(polygonDefect([p(0, 0), p(2, 2), p(4, 0), p(4, 4), p(2, 2), p(0, 4)])).toEqual({ kind: 'edges-cross', edges: [0, 3] });
    // A spike up the right wall and back: edge 2 runs over the point where edge 4 starts.
    expect(polygonIsSimple([p(0, 0), p(4, 0), p(4, 4), p(4, 6), p(4, 5), p(0, 4)])).toBe(false);
  });

  it('rejects repeated consecutive vertices, including the first repeated at the end', () => {
    expect(polygonDefect([p(0, 0), p(2, 0), p(2, 0), p(0, 2)])).toEqual({ kind: 'repeated-vertex', vertices: [1, 2] });
    expect(polygonDefect([...rect(0, 0, 2, 2), p(0, 0)])).toEqual({ kind: 'repeated-vertex', vertices: [4, 0] });
  });

  it('rejects a polygon without area and one with fewer than three vertices', () => {
    expect(polygonDefect([p(0, 0), p(1, 0), p(2, 0)])).toEqual({ kind: 'zero-area' });
    expect(polygonDefect([p(0, 0), p(1, 0)])).toEqual({ kind: 'too-few-vertices', count: 2 });
  });
});

describe('polygonsOverlap', () => {
  it('does not count a shared wall or a shared corner as overlap (adjacent shops)', () => {
    expect(polygonsOverlap(rect(0, 0, 2, 2), rect(2, 0, 4, 2))).toBe(false);
    expect(polygonsOverlap(rect(0, 0, 2, 2), rect(2, 2, 4, 4))).toBe(false);
    // A long wall shared with two shorter neighbours: T-junctions, no vertex on the long side.
    expect(polygonsOverlap(rect(0, 0, 2, 4), rect(2, 0, 4, 1))).toBe(false);
    expect(polygonsOverlap(rect(0, 0, 2, 4), rect(2, 1, 5, 3))).toBe(false);
    expect(polygonsOverlap(ell, rect(2, 2, 4, 4))).toBe(false); // the notch filled
  });

  it('does not count a shared diagonal wall given in decimal metres as overlap', () => {
    const a = [p(0.1, 0.1), p(0.7, 0.1), p(0.7, 0.3)];
    const b = [p(0.1, 0.1), p(0.7, 0.3), p(0.1, 0.3)];
    expect(polygonsOverlap(a, b)).toBe(false);
    expect(polygonsOverlap(a, [p(0.1, 0.1), p(0.4, 0.2), p(0.1, 0.3)])).toBe(false); // a vertex in the middle of the diagonal
  });

  it('finds crossing edges, a vertex inside, containment and identical polygons', () => {
    expect(polygonsOverlap(rect(0, 1, 4, 2), rect(1, 0, 2, 4))).toBe(true); // a plus sign: no vertex inside the other
    expect(polygonsOverlap(rect(0, 0, 2, 2), rect(1, 1, 3, 3))).toBe(true);
    expect(polygonsOverlap(rect(0, 0, 10, 10), rect(4, 4, 6, 6))).toBe(true);
    expect(polygonsOverlap(rect(0, 0, 4, 4), rect(0, 0, 2, 4))).toBe(true); // inside, sharing three walls
    expect(polygonsOverlap(rect(0, 0, 2, 2), rect(0, 0, 2, 2))).toBe(true);
    expect(polygonsOverlap(rect(0, 0, 2, 2), [...rect(0, 0, 2, 2)].reverse())).toBe(true);
    expect(polygonsOverlap(rect(0, 0, 2, 2), [p(0, 0), p(1, 0), p(2, 0), p(2, 2), p(0, 2)])).toBe(true); // same square, extra vertex
  });

  it('is symmetric', () => {
    fc.assert(fc.property(smallRect, smallRect, fc.boolean(), (a, b, flip) => {
      const other = flip ? [...b].reverse() : b;
      expect(polygonsOverlap(a, other)).toBe(polygonsOverlap(other, a));
    }));
  });

  it('agrees with interval arithmetic on axis-aligned rectangles', () => {
    fc.assert(fc.property(smallRect, smallRect, (a, b) => {
      const [ba, bb] = [boundingBox(a), boundingBox(b)];
      const overlaps = Math.min(ba.maxX, bb.maxX) > Math.max(ba.minX, bb.minX) && Math.min(ba.maxY, bb.maxY) > Math.max(ba.minY, bb.minY);
      expect(polygonsOverlap(a, b)).toBe(overlaps);
    }));
  });

  it('never finds overlap between rectangles that share an edge, and always finds it for one inside another', () => {
    fc.assert(fc.property(smallRect, fc.integer({ min: 1, max: 10 }), fc.boolean(), (a, w, horizontal) => {
      const box = boundingBox(a);
      const neighbour = horizontal ? rect(box.maxX, box.minY, box.maxX + w, box.maxY) : rect(box.minX, box.maxY, box.maxX, box.maxY + w);
      expect(polygonsOverlap(a, neighbour)).toBe(false);
      const inner = rect(box.minX + (box.maxX - box.minX) / 4, box.minY, box.maxX - (box.maxX - box.minX) / 4, box.maxY - (box.maxY - box.minY) / 3);
      expect(polygonsOverlap(a, inner)).toBe(true);
      expect(polygonsOverlap(inner, a)).toBe(true);
    }));
  });
});

describe('createZoneIndex', () => {
  const linearScan = (zones: { id: string; polygon: Point[] }[], point: Point) => zones.find((zone) => pointInPolygon(point, zone.polygon))?.id;

  it('answers exactly as a linear scan over random tilings, walls and corners included', () => {
    fc.assert(
      fc.property(tiling, fc.array(probe, { minLength: 1, maxLength: 60 }), fc.double({ min: 0.3, max: 6, noNaN: true }), (zones, points, cellM) => {
        const index = createZoneIndex(zones, cellM);
        for (const point of points) expect(index.zoneAt(point)).toBe(linearScan(zones, point));
      }),
      { numRuns: 200 },
    );
  });

  it('answers exactly with gaps between zones and non-rectangular zones', () => {
    const zones = [
      { id: 'triangle', polygon: [p(0, 0), p(10, 0), p(0, 10)] },
      { id: 'ell', polygon: ell.map((v) => p(v.x + 12, v.y + 1)) },
      { id: 'far', polygon: rect(30, 20, 31, 21) },
    ];
    const index = createZoneIndex(zones, 0.7);
    fc.assert(fc.property(probe, (point) => {
      expect(index.zoneAt(point)).toBe(linearScan(zones, point));
    }));
    expect(index.zoneAt(p(15, 4))).toBeUndefined(); // in the ell's notch
  });

  it('gives a point on a shared wall to the zone listed first', () => {
    const zones = [{ id: 'bakery', polygon: rect(0, 0, 2, 2) }, { id: 'dairy', polygon: rect(2, 0, 4, 2) }];
    expect(createZoneIndex(zones).zoneAt(p(2, 1))).toBe('bakery');
    expect(createZoneIndex([...zones].reverse()).zoneAt(p(2, 1))).toBe('dairy');
  });

  it('finds nothing outside every zone, for an empty list, or for a NaN position', () => {
    const index = createZoneIndex([{ id: 'a', polygon: rect(0, 0, 2, 2) }]);
    expect(index.zoneAt(p(-1, 1))).toBeUndefined();
    expect(index.zoneAt(p(Number.NaN, 1))).toBeUndefined();
    expect(createZoneIndex([]).zoneAt(p(0, 0))).toBeUndefined();
  });

  it('coarsens its grid for a 2 km plan instead of allocating millions of cells', () => {
    const zones = [{ id: 'hall', polygon: rect(0, 0, 2000, 2000) }, { id: 'kiosk', polygon: rect(999, 999, 1001, 1001) }];
    const index = createZoneIndex(zones, 0.1);
    expect(index.zoneAt(p(1000, 1000))).toBe('hall');
    expect(createZoneIndex([...zones].reverse(), 0.1).zoneAt(p(1000, 1000))).toBe('kiosk');
  });

  it('rejects a cell size that is not a positive number of metres', () => {
    expect(() => createZoneIndex([], 0)).toThrow(RangeError);
    expect(() => createZoneIndex([], Number.NaN)).toThrow(RangeError);
  });
});
