import { describe, expect, it } from 'vitest';
import { bucketsBack, bucketsEndingIn, bucketsWithin, localBucketAt, type LocalBucketKind } from '#server/domain/local-buckets.ts';
import { localDateTime } from '#server/domain/schedule.ts';

// Analytics buckets in the store's own time zone: days from local midnight to local midnight, hours on the
// local hour, across DST changes, half-hour zones and Lord Howe's half-hour DST shift.

const H = 3_600_000;
const iso = (ms: number): string => new Date(ms).toISOString();
const wall = (timeZone: string, ms: number): string => {
  const l = localDateTime(timeZone, ms);
  return `${l.year}-${String(l.month).padStart(2, '0')}-${String(l.day).padStart(2, '0')} ${String(l.hour).padStart(2, '0')}:${String(l.minute).padStart(2, '0')}`;
};

describe('local days', () => {
  it('run from midnight to midnight in the store\'s zone: New York\'s Tuesday starts at 05:00 UTC, not 00:00', () => {
    const day = localBucketAt('America/New_York', '1d', Date.parse('2026-12-01T15:00:00Z'));
    expect([iso(day.startMs), iso(day.endMs)]).toEqual(['2026-12-01T05:00:00.000Z', '2026-12-02T05:00:00.000Z']);
    // 03:00 UTC on the 1st is still Monday the 30th in New York.
    expect(iso(localBucketAt('America/New_York', '1d', Date.parse('2026-12-01T03:00:00Z')).startMs)).toBe('2026-11-30T05:00:00.000Z');
  });

  it.each([
    ['Europe/Rome', '2026-03-29T12:00:00Z', 23], ['Europe/Rome', '2026-10-25T12:00:00Z', 25],
    ['America/New_York', '2026-03-08T12:00:00Z', 23], ['America/New_York', '2026-11-01T12:00:00Z', 25],
    ['Australia/Lord_Howe', '2026-10-04T03:00:00Z', 23.5], ['Asia/Kolkata', '2026-03-29T12:00:00Z', 24],
  ])('in %s, the day holding %s lasts %d hours, midnight to midnight', (timeZone, at, hours) => {
    const day = localBucketAt(timeZone, '1d', Date.parse(at));
    expect((day.endMs - day.startMs) / H).toBe(hours);
    expect(wall(timeZone, day.startMs).slice(11)).toBe('00:00');
    expect(wall(timeZone, day.endMs).slice(11)).toBe('00:00');
  });

  it('starts a day whose midnight falls in a DST gap at the transition (Santiago, 2026-09-06)', () => {
    // Chile springs forward at local midnight: 2026-09-06 00:00 does not exist, the day begins at 01:00.
    const day = localBucketAt('America/Santiago', '1d', Date.parse('2026-09-06T15:00:00Z'));
    expect(wall('America/Santiago', day.startMs)).toBe('2026-09-06 01:00');
    expect((day.endMs - day.startMs) / H).toBe(23);
    // The instant just before it belongs to the day before, which ends there.
    expect(localBucketAt('America/Santiago', '1d', day.startMs - 1).endMs).toBe(day.startMs);
  });
});

describe('hours and quarter-hours', () => {
  it('start on the local hour in a half-hour zone: Kolkata\'s 10:00–11:00 is 04:30–05:30 UTC', () => {
    const hour = localBucketAt('Asia/Kolkata', '1h', Date.parse('2026-12-01T04:45:00Z'));
    expect([iso(hour.startMs), iso(hour.endMs)]).toEqual(['2026-12-01T04:30:00.000Z', '2026-12-01T05:30:00.000Z']);
    expect(wall('Asia/Kolkata', hour.startMs)).toBe('2026-12-01 10:00');
  });

  it('give the repeated hour of a fall-back night two buckets of an hour each (Rome, 2026-10-25 02:00)', () => {
    const first = localBucketAt('Europe/Rome', '1h', Date.parse('2026-10-25T00:30:00Z'));
    const second = localBucketAt('Europe/Rome', '1h', Date.parse('2026-10-25T01:30:00Z'));
    expect([wall('Europe/Rome', first.startMs), wall('Europe/Rome', second.startMs)]).toEqual(['2026-10-25 02:00', '2026-10-25 02:00']);
    expect([first.endMs - first.startMs, second.endMs - second.startMs, second.startMs - first.endMs]).toEqual([H, H, 0]);
  });

  it('cut an hour at Lord Howe\'s half-hour shift, never below 15 minutes', () => {
    const around = bucketsWithin('Australia/Lord_Howe', '1h', Date.parse('2026-10-03T12:00:00Z'), Date.parse('2026-10-03T20:00:00Z'));
    const lengths = around.map((b) => (b.endMs - b.startMs) / 60_000);
    expect(lengths).toContain(30);
    expect(Math.min(...lengths)).toBeGreaterThanOrEqual(15);
  });

  it.each([
    ['Europe/Rome', '2026-03-28T20:00:00Z'], ['Europe/Rome', '2026-10-24T20:00:00Z'], ['America/New_York', '2026-11-01T00:00:00Z'],
    ['Asia/Kolkata', '2026-06-01T00:00:00Z'], ['Australia/Lord_Howe', '2026-04-04T10:00:00Z'], ['Australia/Lord_Howe', '2026-10-03T10:00:00Z'],
    ['Asia/Kathmandu', '2026-06-01T00:00:00Z'], ['America/Santiago', '2026-09-05T20:00:00Z'], ['UTC', '2026-06-01T00:00:00Z'],
  ])('in %s from %s, every minute of 36 hours lies in exactly one bucket of each kind, and the buckets tile time', (timeZone, from) => {
    const fromMs = Date.parse(from);
    const toMs = fromMs + 36 * H;
    for (const kind of ['15m', '1h', '1d'] as LocalBucketKind[]) {
      for (let t = fromMs; t < toMs; t += 60_000) {
        const bucket = localBucketAt(timeZone, kind, t);
        expect(bucket.startMs <= t && t < bucket.endMs, `${kind} at ${iso(t)}`).toBe(true);
        // The same bucket, read from its first instant and its last.
        expect(localBucketAt(timeZone, kind, bucket.startMs)).toEqual(bucket);
        expect(localBucketAt(timeZone, kind, bucket.endMs - 1)).toEqual(bucket);
      }
      const buckets = bucketsEndingIn(timeZone, kind, fromMs, toMs);
      buckets.slice(1).forEach((b, i) => expect(b.startMs).toBe(buckets[i]!.endMs));
      if (kind !== '1d') expect(Math.min(...buckets.map((b) => b.endMs - b.startMs))).toBeGreaterThanOrEqual(15 * 60_000);
    }
  });
});

describe('the buckets of a rollup pass and of a report', () => {
  it('a pass counts each bucket once: those ending after the old watermark and by the new one', () => {
    const timeZone = 'America/New_York';
    const marks = [Date.parse('2026-11-30T00:00:00Z'), Date.parse('2026-11-30T07:12:00Z'), Date.parse('2026-12-01T05:00:00Z'), Date.parse('2026-12-03T01:00:00Z')];
    const passes = marks.slice(1).map((until, i) => bucketsEndingIn(timeZone, '1d', marks[i]!, until).map((b) => iso(b.startMs)));
    expect(passes).toEqual([['2026-11-29T05:00:00.000Z'], ['2026-11-30T05:00:00.000Z'], ['2026-12-01T05:00:00.000Z']]);
  });

  it('steps back whole local buckets: 30 New York days before 12 March 2030 start at midnight on 10 February, across the 23-hour Sunday', () => {
    expect(iso(bucketsBack('America/New_York', '1d', Date.parse('2030-03-12T04:00:00Z'), 30))).toBe('2030-02-10T05:00:00.000Z');
    // 24 hourly buckets before 08:00 EDT on the Sunday: the 02:00 hour does not exist, so they span 23 hours, from 07:00 EST.
    expect(iso(bucketsBack('America/New_York', '1h', Date.parse('2030-03-10T12:30:00Z'), 24))).toBe('2030-03-09T12:00:00.000Z');
    expect(bucketsWithin('America/New_York', '1d', Date.parse('2030-02-10T05:00:00Z'), Date.parse('2030-03-12T04:00:00Z'))).toHaveLength(30);
  });

  it('a report lists the buckets lying wholly in [from, to)', () => {
    const rows = bucketsWithin('Asia/Kolkata', '1h', Date.parse('2026-12-01T04:00:00Z'), Date.parse('2026-12-01T07:00:00Z'));
    expect(rows.map((b) => iso(b.startMs))).toEqual(['2026-12-01T04:30:00.000Z', '2026-12-01T05:30:00.000Z']);
  });
});
