import { createHash } from 'node:crypto';
import { z } from 'zod';
import { IdSchema } from '#gateway/protocol/index.ts';

// A store's own iBeacons and the iOS path built on them. iOS apps cannot advertise anything a gateway
// can read while in the background (shared/reference/ble-frames.md, "Platform limits"), so they watch
// for the store's beacons with region monitoring and report a sighting over their authenticated API.
// Store beacons are the store's configuration, not personal data.

/** Core Location monitors at most 20 regions per app (CLLocationManager, "Monitoring the user's proximity to geographic regions"). */
export const IOS_REGION_LIMIT = 20;

const UuidSchema = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'uuid is a UUID like "f7826da6-4fa2-4e98-8024-bc5b71e0893e"')
  .transform((s) => s.toLowerCase());
const U16Schema = z.number().int().min(0, 'is 0–65535').max(65_535, 'is 0–65535');

export const StoreBeaconSchema = z.object({ id: IdSchema, zoneId: IdSchema, uuid: UuidSchema, major: U16Schema, minor: U16Schema }).strict();
export type StoreBeacon = z.infer<typeof StoreBeaconSchema>;

export const SightingSchema = z
  .object({
    storeId: IdSchema,
    beacon: z.object({ uuid: UuidSchema, major: U16Schema, minor: U16Schema }).strict(),
    /** Region monitoring reports entering and leaving (and the app its time inside); it has no proximity band, so no 'move'. */
    kind: z.enum(['enter', 'dwell', 'exit']),
    /** Unix time of the sighting, whole seconds. */
    atS: z.number().int().nonnegative(),
    /** Seconds in the region so far (0 on enter). */
    dwellS: z.number().int().nonnegative().max(86_400).default(0),
  })
  .strict();
export type Sighting = z.infer<typeof SightingSchema>;

export type MonitoringRegion = { uuid: string; major?: number };

/**
 * The regions an app should monitor to see every store beacon, within iOS's limit. A region of UUID +
 * major covers all of a store's beacons (they differ by minor, one per zone), so it costs one region per
 * store; if that is still over the limit, regions widen to the UUID alone (all stores of a chain sharing
 * it), and only past that is the list cut.
 */
export function monitoringRegions(beacons: readonly Pick<StoreBeacon, 'uuid' | 'major'>[], limit = IOS_REGION_LIMIT): MonitoringRegion[] {
  const byMajor = new Map<string, MonitoringRegion>();
  for (const b of beacons) byMajor.set(`${b.uuid}/${b.major}`, { uuid: b.uuid, major: b.major });
  const sorted = (regions: MonitoringRegion[]): MonitoringRegion[] =>
    regions.sort((a, b) => (a.uuid === b.uuid ? (a.major ?? -1) - (b.major ?? -1) : a.uuid < b.uuid ? -1 : 1));
  if (byMajor.size <= limit) return sorted([...byMajor.values()]);
  return sorted([...new Set(beacons.map((b) => b.uuid))].map((uuid) => ({ uuid }))).slice(0, limit);
}

/**
 * A sighting's event ID, derived from what identifies the report — shopper, store, beacon, kind and
 * time — so an app that sends a report twice (a retry after a lost response) gets one presence event
 * and at most one promotion. SHA-256, shaped as an RFC 9562 version-8 UUID.
 */
export function sightingEventId(shopperId: string, sighting: Pick<Sighting, 'storeId' | 'beacon' | 'kind' | 'atS'>): string {
  const { storeId, beacon, kind, atS } = sighting;
  const hash = createHash('sha256').update(JSON.stringify(['sighting', shopperId, storeId, beacon.uuid, beacon.major, beacon.minor, kind, atS])).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x80;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
