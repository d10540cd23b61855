import type { Point } from '#server/domain/geometry.ts';

// Per-gateway presence settings from the floor plan, as an installer would set them: a gateway should
// claim a shopper only while they are inside its zone, and a disc is all one receiver can tell. The
// disc's radius is the gateway's clearance: its distance to the nearest edge of its zone that is not an
// outside wall (beyond an outside wall nobody stands).

/** Distance from p to the segment ab. */
function toSegment(p: Point, a: Point, b: Point): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const lengthSq = dx * dx + dy * dy;
  const t = lengthSq === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / lengthSq));
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

const EPSILON_M = 1e-6;
/** Whether the segment lies along one side of the floor plan rectangle. */
function onOutsideWall(a: Point, b: Point, floor: { widthM: number; heightM: number }): boolean {
  const along = (u: number, v: number, at: number): boolean => Math.abs(u - at) < EPSILON_M && Math.abs(v - at) < EPSILON_M;
  return along(a.x, b.x, 0) || along(a.x, b.x, floor.widthM) || along(a.y, b.y, 0) || along(a.y, b.y, floor.heightM);
}

/** The gateway's distance to the nearest inner edge of its zone, metres (Infinity if the zone is the whole floor). */
export function zoneClearanceM(position: Point, polygon: readonly Point[], floor: { widthM: number; heightM: number }): number {
  let clearance = Number.POSITIVE_INFINITY;
  for (let i = 0; i < polygon.length; i += 1) {
    const a = polygon[i]!;
    const b = polygon[(i + 1) % polygon.length]!;
    if (!onOutsideWall(a, b, floor)) clearance = Math.min(clearance, toSegment(position, a, b));
  }
  return clearance;
}

/** How a floor plan becomes presence settings (chosen on the supermarket scenario; docs/benchmarks.md, "Store-day accuracy"). */
export const FLOOR_PLAN_CALIBRATION = {
  /** The capture radius as a share of the clearance: a margin inside the zone against shadowing. */
  captureShare: 0.8,
  /** Never capture closer than this, m: below it a phone in a pocket is missed at the counter. */
  minCaptureM: 1.5,
  /** The release radius is the capture radius plus this, m (hysteresis). */
  hysteresisM: 1.5,
  /** Exits are dated at the last moment inside, so waiting longer costs only reporting latency, ms. */
  awayTimeoutMs: 8_000,
  /**
   * The enter hold is the time to walk across the capture disc at this (slow) pace, m/s: someone who
   * stops inside it enters, someone who walks past the gateway does not.
   */
  crossingSpeedMps: 0.8,
  /** …and never shorter than this, ms: a glance at a shelf on the way past is not a stop. */
  minEnterHoldMs: 6_000,
} as const;

export type GatewayCalibration = {
  gatewayId: string;
  zoneId: string;
  /** Distance to the nearest inner edge of the zone, m (null: the zone has none). */
  clearanceM: number | null;
  captureM: number;
  releaseM: number;
  /** The settings to push to the gateway (PUT /v1/admin/stores/:store/gateways/:gateway/settings). */
  presence: { enterRssiDbm: number; exitRssiDbm: number; awayTimeoutMs: number; enterHoldMs: number };
  /** 'floor-plan': derived here; 'scenario': the scenario set them. */
  source: 'floor-plan' | 'scenario';
};

const round1 = (x: number): number => Math.round(x * 10) / 10;

/**
 * The presence settings for a gateway in its zone: it enters a device once the estimated distance has
 * stayed within the capture radius for longer than walking across it takes, and releases it beyond the
 * release radius, both in dBm through the log-distance model with the reference phone's RSSI at 1 m. The
 * gateway's own rssiOffsetDb is applied by the gateway.
 */
export function calibrateGateway(
  gateway: { id: string; zoneId: string; position: Point },
  zonePolygon: readonly Point[],
  floor: { widthM: number; heightM: number },
  radio: { pathLossExponent: number; txPowerAt1mDbm: number },
  policy: typeof FLOOR_PLAN_CALIBRATION = FLOOR_PLAN_CALIBRATION,
): GatewayCalibration {
  const clearance = zoneClearanceM(gateway.position, zonePolygon, floor);
  // A zone that is the whole floor: capture as far as the floor's half-diagonal.
  const reach = Number.isFinite(clearance) ? clearance : Math.hypot(floor.widthM, floor.heightM) / 2;
  const captureM = Math.max(policy.minCaptureM, reach * policy.captureShare);
  const releaseM = captureM + policy.hysteresisM;
  const rssiAt = (m: number): number => round1(radio.txPowerAt1mDbm - 10 * radio.pathLossExponent * Math.log10(m));
  return {
    gatewayId: gateway.id, zoneId: gateway.zoneId, clearanceM: Number.isFinite(clearance) ? round1(clearance) : null, captureM: round1(captureM), releaseM: round1(releaseM),
    presence: {
      enterRssiDbm: rssiAt(captureM), exitRssiDbm: rssiAt(releaseM), awayTimeoutMs: policy.awayTimeoutMs,
      enterHoldMs: Math.max(policy.minEnterHoldMs, Math.round(((2 * captureM) / policy.crossingSpeedMps) * 10) * 100),
    },
    source: 'floor-plan',
  };
}
