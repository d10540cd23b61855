import { isGranted, type ConsentState } from '../domain/consent.ts';
import type { ZoneTransition } from '../domain/zone-arbiter.ts';
import type { PresenceStep } from './store.ts';

// Store.applyPresence's choices that do not depend on the database, shared by both adapters so they
// write the same rows: which arbitrated entries convert exposures, and what the visit history hears.

/** The arbitrated entries whose conversions are recorded: all of them, with analytics consent (P3); none without. */
export function conversionEntries(consent: ConsentState, transitions: readonly ZoneTransition[]): ZoneTransition[] {
  return isGranted(consent, 'analytics') ? transitions.filter((t) => t.kind === 'entered') : [];
}

/**
 * What the visit history is told of this event, or undefined when nothing is kept: only with
 * personalisation (P2, visit history is profiling), never from a sensitive zone (AN-3), never for a store
 * the server does not know. An arbitrated entry into a zone that is not sensitive may start a visit.
 */
export function visitPresence(
  presence: { zoneId: string; atMs: number }, visits: PresenceStep['visits'], consent: ConsentState, transitions: readonly ZoneTransition[],
): { atMs: number; startsVisit: boolean } | undefined {
  if (visits === undefined || !isGranted(consent, 'personalisation') || visits.sensitiveZoneIds.includes(presence.zoneId)) return undefined;
  const entry = transitions.find((t) => t.kind === 'entered' && !visits.sensitiveZoneIds.includes(t.zoneId));
  return { atMs: entry?.atMs ?? presence.atMs, startsVisit: entry !== undefined };
}
