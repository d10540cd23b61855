import type { Rng } from '../rng.ts';
import { createPositionCursor, type Leg } from '../world/store-visits.ts';

// A shopper's visit as a timed path: from the door through some zones (dwelling in each) and back
// out. Pure: position is a function of time, so a run replays exactly and ground truth is known.

export type Point = { x: number; y: number };

export type Stop = { zoneId: string; at: Point; arriveMs: number; leaveMs: number };

export type Visit = { startMs: number; endMs: number; stops: Stop[]; positionAt(nowMs: number): Point | undefined };

export function planVisit(options: {
  rng: Rng;
  startMs: number;
  door: Point;
  zones: readonly { id: string; centre: Point }[];
  dwellS: readonly [number, number];
  speedMps: number;
}): Visit {
  const { rng, door, speedMps } = options;
  // Everyone passes the first zone (the entrance); then a random subset of the rest, in store order.
  const [first, ...rest] = options.zones;
  const chosen = [first!, ...rest.filter(() => rng.next() < 0.7)];
  const waypoints: { point: Point; dwellMs: number; zoneId?: string }[] = [{ point: door, dwellMs: 0 }];
  for (const zone of chosen) {
    const at = { x: zone.centre.x + rng.normal(0, 0.8), y: zone.centre.y + rng.normal(0, 0.8) };
    const dwellMs = (options.dwellS[0] + rng.next() * (options.dwellS[1] - options.dwellS[0])) * 1000;
    waypoints.push({ point: at, dwellMs, zoneId: zone.id });
  }
  waypoints.push({ point: door, dwellMs: 0 });

  // Legs: walk to each waypoint, then stand there for its dwell.
  const legs: Leg[] = [];
  const stops: Stop[] = [];
  let t = options.startMs;
  for (let i = 1; i < waypoints.length; i += 1) {
    const from = waypoints[i - 1]!.point;
    const target = waypoints[i]!;
    const walkMs = (Math.hypot(target.point.x - from.x, target.point.y - from.y) / speedMps) * 1000;
    legs.push({ fromMs: t, toMs: t + walkMs, from, to: target.point });
    t += walkMs;
    if (target.dwellMs > 0) {
      legs.push({ fromMs: t, toMs: t + target.dwellMs, from: target.point, to: target.point });
      if (target.zoneId !== undefined) stops.push({ zoneId: target.zoneId, at: target.point, arriveMs: t, leaveMs: t + target.dwellMs });
      t += target.dwellMs;
    }
  }
  return { startMs: options.startMs, endMs: t, stops, positionAt: createPositionCursor({ startMs: options.startMs, endMs: t, legs, stops }) };
}
