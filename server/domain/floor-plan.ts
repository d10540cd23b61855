import { z } from 'zod';
import { polygonDefect, polygonsOverlap, type Point } from './geometry.ts';

// A store's floor plan, as the console's live view draws it: the rectangle [0, widthM] × [0, heightM]
// in metres, x to the right and y down the page, and each zone's outline on it. Optional: a store
// without one still works, its live view then lists the zones instead of drawing them. The outlines are
// drawing aids only — which zone a shopper is in comes from the gateways (domain/zone-arbiter.ts), never
// from a position (MIN-4: the server knows no position). The limits are the store scenarios'
// (simulator/world/store-scenario.ts), so a scenario's plan is accepted as it is.

export const FLOOR_PLAN_MAX_M = 2000;
export const POLYGON_MAX_VERTICES = 64;

export const FloorPlanSchema = z
  .object({
    widthM: z.number().positive('must be more than 0 m').max(FLOOR_PLAN_MAX_M, `must be at most ${FLOOR_PLAN_MAX_M} m`),
    heightM: z.number().positive('must be more than 0 m').max(FLOOR_PLAN_MAX_M, `must be at most ${FLOOR_PLAN_MAX_M} m`),
  })
  .strict();
export type FloorPlan = z.infer<typeof FloorPlanSchema>;

/** One vertex, [x, y] in metres. */
const VertexSchema = z.tuple([z.number().finite(), z.number().finite()]);

/** A zone's outline: its vertices in either winding order, closed implicitly (do not repeat the first at the end). */
export const ZonePolygonSchema = z
  .array(VertexSchema)
  .min(3, 'a polygon needs at least 3 vertices')
  .max(POLYGON_MAX_VERTICES, `a polygon has at most ${POLYGON_MAX_VERTICES} vertices`);
export type ZonePolygon = z.infer<typeof ZonePolygonSchema>;

export type FloorPlanIssue = { path: (string | number)[]; message: string };

const points = (polygon: ZonePolygon): Point[] => polygon.map(([x, y]) => ({ x, y }));

/**
 * What is wrong with the zones' outlines on the plan, each naming its path in the store body
 * (zones.<i>.polygon…): an outline without a plan, a vertex outside the plan, an outline that is not a
 * simple polygon (repeated vertex, crossing edges, no area), or two outlines overlapping (zones that
 * only share a wall or a corner are fine). None when they fit.
 */
export function floorPlanIssues(floorPlan: FloorPlan | undefined, zones: readonly { id: string; polygon?: ZonePolygon | undefined }[]): FloorPlanIssue[] {
  const issues: FloorPlanIssue[] = [];
  const simple: { index: number; id: string; outline: Point[] }[] = [];
  zones.forEach((zone, i) => {
    // Fewer than 3 vertices is ZonePolygonSchema's to report (a refinement still runs after a failed length check).
    if (zone.polygon === undefined || zone.polygon.length < 3) return;
    const path = ['zones', i, 'polygon'];
    if (floorPlan === undefined) {
      issues.push({ path, message: 'a zone outline needs the store\'s floorPlan ({ widthM, heightM }) to be drawn on' });
      return;
    }
    let inside = true;
    zone.polygon.forEach(([x, y], k) => {
      if (x < 0 || y < 0 || x > floorPlan.widthM || y > floorPlan.heightM) {
        inside = false;
        issues.push({ path: [...path, k], message: `(${x}, ${y}) is outside the ${floorPlan.widthM} × ${floorPlan.heightM} m floor plan` });
      }
    });
    const outline = points(zone.polygon);
    const defect = polygonDefect(outline);
    if (defect === undefined) {
      if (inside) simple.push({ index: i, id: zone.id, outline });
      return;
    }
    if (defect.kind === 'repeated-vertex') {
      const [a, b] = defect.vertices;
      issues.push({ path, message: `vertices ${a} and ${b} are the same point${b === 0 ? '; do not repeat the first vertex at the end' : ''}` });
    } else if (defect.kind === 'edges-cross') {
      issues.push({ path, message: `edges ${defect.edges[0]} and ${defect.edges[1]} cross` });
    } else if (defect.kind === 'zero-area') {
      issues.push({ path, message: `encloses no area: all ${zone.polygon.length} vertices lie on one line` });
    }
  });
  for (let a = 0; a < simple.length; a += 1) {
    for (let b = a + 1; b < simple.length; b += 1) {
      const earlier = simple[a]!;
      const later = simple[b]!;
      if (polygonsOverlap(earlier.outline, later.outline)) issues.push({ path: ['zones', later.index, 'polygon'], message: `overlaps zone "${earlier.id}" (zones.${earlier.index})` });
    }
  }
  return issues;
}
