import type { GatewayStatusCounts } from '#gateway/protocol/index.ts';

// What a gateway says about itself on its status topic (gateway/protocol GatewayStatusSchema): its
// software version and, in each heartbeat, counters since its process started. The server keeps the
// last of each for the operator's gateway list. Only the operational counters are kept: `tracked` and
// `present` count the devices in one zone right now, a figure that is not k-anonymous (AN-1) — the live
// view's occupancy (k-suppressed) is the way to see how busy a zone is.

export const OPERATIONAL_COUNTS = ['uptimeS', 'advertisements', 'droppedAdvertisements', 'transitions', 'published', 'pending', 'outboxBytes', 'droppedEvents'] as const;
export type OperationalCount = (typeof OPERATIONAL_COUNTS)[number];
export type GatewayCounts = Partial<Record<OperationalCount, number>>;

/** What one status message adds to the gateway's record: either may be absent (the will carries no counts). */
export type GatewayStatusReport = { version?: string | undefined; counts?: GatewayCounts | undefined };

/** The operational counters of a heartbeat; undefined when it carries none of them. */
export function operationalCounts(counts: GatewayStatusCounts | undefined): GatewayCounts | undefined {
  if (counts === undefined) return undefined;
  const kept: GatewayCounts = {};
  for (const name of OPERATIONAL_COUNTS) if (counts[name] !== undefined) kept[name] = counts[name];
  return Object.keys(kept).length === 0 ? undefined : kept;
}
