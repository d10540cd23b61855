import { kAnonymity } from './analytics.ts';

// The console's live view of a store (issue 8), pure: how many shoppers are in each zone now, and how
// busy its gateways are, from counts the Store keeps in storage (so every server instance shows the same).
// Nothing about an individual: no shopper, no pseudonym, no trajectory (AN-2).
//
// - occupancy: present shoppers in the zone (the zone arbiter's current zone), shown only from k up
//   (AN-1; below k, zero included, it is null, so "fewer than k" never shows); a sensitive zone's is
//   always null (AN-3: it is not used to watch anyone).
// - eventsPerSecond of a zone: presence events its gateways sent over the last window. A zone's event rate
//   tracks how many shoppers are in it, so it is shown only where the occupancy is; the store's rate adds up
//   every zone that is not sensitive, so no sensitive zone's rate can be worked out by subtraction.

/** How far back the events per second look. */
export const LIVE_WINDOW_MS = 10_000;

export type LiveZone = { zoneId: string; name: string; sensitive: boolean; occupancy: number | null; eventsPerSecond: number | null };

export type LiveView = {
  storeId: string;
  atMs: number;
  k: number;
  /** The window the rates are averaged over, s. */
  windowS: number;
  zones: LiveZone[];
  /** Events per second of the store's gateways outside sensitive zones. */
  eventsPerSecond: number;
};

export function liveView(input: {
  storeId: string;
  atMs: number;
  k?: number;
  windowMs?: number;
  zones: readonly { id: string; name: string; sensitive: boolean }[];
  occupancy: readonly { zoneId: string; shoppers: number }[];
  events: readonly { zoneId: string; events: number }[];
}): LiveView {
  const k = kAnonymity(input.k);
  const windowMs = input.windowMs ?? LIVE_WINDOW_MS;
  const perSecond = (events: number): number => events / (windowMs / 1000);
  const present = new Map(input.occupancy.map((o) => [o.zoneId, o.shoppers]));
  const events = new Map(input.events.map((e) => [e.zoneId, e.events]));
  const zones = input.zones.map((zone): LiveZone => {
    const shoppers = present.get(zone.id) ?? 0;
    const shown = !zone.sensitive && shoppers >= k;
    return {
      zoneId: zone.id, name: zone.name, sensitive: zone.sensitive,
      occupancy: shown ? shoppers : null,
      eventsPerSecond: shown ? perSecond(events.get(zone.id) ?? 0) : null,
    };
  });
  const outsideSensitive = input.zones.filter((zone) => !zone.sensitive).reduce((sum, zone) => sum + (events.get(zone.id) ?? 0), 0);
  return { storeId: input.storeId, atMs: input.atMs, k, windowS: windowMs / 1000, zones, eventsPerSecond: perSecond(outsideSensitive) };
}
