import { localDateTime, localToInstantMs, zoneOffsetMs } from './schedule.ts';

// The analytics time buckets (AN-1: 15 minutes or more) in a store's own time zone, pure. A marketer in
// New York reads "Tuesday" as midnight to midnight in New York, not 19:00 to 19:00; in Kolkata (UTC+5:30)
// an hour runs from 10:00 to 11:00 local, not from 10:30. So:
//
// - a day runs from one local midnight to the next: 23 or 25 hours on a DST change (a midnight that falls in
//   a DST gap begins at the transition);
// - 15-minute and hourly buckets start where the local wall clock shows a multiple of their size, and a
//   change of offset also starts one (only Lord Howe changes by half an hour; every other change falls on
//   an hour boundary anyway). No bucket is shorter than 15 minutes for any zone in use today.
//
// A bucket is named by its start instant. Its nominal size (15 min, 1 h, 1 day) names its kind in storage.

export type LocalBucketKind = '15m' | '1h' | '1d';
export type LocalBucket = { startMs: number; endMs: number };

const MINUTE_MS = 60_000;
const SIZE_MS: Record<Exclude<LocalBucketKind, '1d'>, number> = { '15m': 900_000, '1h': 3_600_000 };

const pad = (n: number): string => String(n).padStart(2, '0');

/** The first whole minute in (afterMs, atMs] whose offset is atMs's: the zone's transition between them. */
function transitionBefore(timeZone: string, afterMs: number, atMs: number): number {
  const offset = zoneOffsetMs(timeZone, atMs);
  let low = Math.floor(afterMs / MINUTE_MS); // its offset differs
  let high = Math.ceil(atMs / MINUTE_MS); // its offset is `offset` (zone transitions fall on whole minutes)
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (zoneOffsetMs(timeZone, middle * MINUTE_MS) === offset) high = middle;
    else low = middle;
  }
  return high * MINUTE_MS;
}

/** The local midnight starting the local date of the instant. */
function localMidnight(timeZone: string, instantMs: number, addDays = 0): number {
  const local = localDateTime(timeZone, instantMs);
  const date = new Date(Date.UTC(local.year, local.month - 1, local.day + addDays));
  return localToInstantMs(`${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}T00:00`, timeZone);
}

/** The bucket of the given kind, in timeZone, holding the instant. */
export function localBucketAt(timeZone: string, kind: LocalBucketKind, instantMs: number): LocalBucket {
  if (kind === '1d') {
    const startMs = localMidnight(timeZone, instantMs);
    // A midnight resolved forward out of a DST gap may lie after an instant just before it: that instant is the previous day's.
    if (startMs > instantMs) return { startMs: localMidnight(timeZone, instantMs, -1), endMs: startMs };
    return { startMs, endMs: localMidnight(timeZone, instantMs, 1) };
  }
  const size = SIZE_MS[kind];
  const offset = zoneOffsetMs(timeZone, instantMs);
  const intoBucket = (((instantMs + offset) % size) + size) % size;
  let startMs = instantMs - intoBucket;
  if (zoneOffsetMs(timeZone, startMs) !== offset) startMs = transitionBefore(timeZone, startMs, instantMs);
  let endMs = instantMs - intoBucket + size;
  if (zoneOffsetMs(timeZone, endMs - 1) !== offset) endMs = transitionBefore(timeZone, instantMs, endMs - 1);
  return { startMs, endMs };
}

/**
 * The buckets whose end lies in (afterMs, untilMs], in order: what a rollup pass from a watermark at
 * afterMs to one at untilMs must count. The first may start before afterMs.
 */
export function bucketsEndingIn(timeZone: string, kind: LocalBucketKind, afterMs: number, untilMs: number): LocalBucket[] {
  const out: LocalBucket[] = [];
  for (let bucket = localBucketAt(timeZone, kind, afterMs); bucket.endMs <= untilMs; bucket = localBucketAt(timeZone, kind, bucket.endMs)) out.push(bucket);
  return out;
}

/** The buckets lying wholly in [fromMs, toMs), in order: the rows of a report. */
export function bucketsWithin(timeZone: string, kind: LocalBucketKind, fromMs: number, toMs: number): LocalBucket[] {
  const first = localBucketAt(timeZone, kind, fromMs);
  const startFrom = first.startMs >= fromMs ? first.startMs : first.endMs;
  return bucketsEndingIn(timeZone, kind, startFrom, toMs).filter((b) => b.startMs >= fromMs);
}

/** The start of the bucket n buckets before the one starting at (or holding) atMs: the start of the last n whole buckets before it. */
export function bucketsBack(timeZone: string, kind: LocalBucketKind, atMs: number, n: number): number {
  let startMs = localBucketAt(timeZone, kind, atMs).startMs;
  for (let i = 0; i < n; i += 1) startMs = localBucketAt(timeZone, kind, startMs - 1).startMs;
  return startMs;
}
