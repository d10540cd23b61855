import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WeeklyWindowSchema, type WeeklyWindow } from '#server/domain/campaign.ts';
import {
  inAnyWeeklyWindow, isWithinSchedule, localDateTime, localToInstantMs, storeHoursRefusal, zoneOffsetMs,
} from '#server/domain/schedule.ts';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const window = (input: WeeklyWindow): WeeklyWindow => WeeklyWindowSchema.parse(input);
const wall = (timeZone: string, instantMs: number): string => {
  const l = localDateTime(timeZone, instantMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${l.year}-${p(l.month)}-${p(l.day)}T${p(l.hour)}:${p(l.minute)}`;
};

describe('local date-time to instant', () => {
  it('reads a plain local time with the offset in force', () => {
    expect(localToInstantMs('2030-01-07T09:00', 'UTC')).toBe(Date.UTC(2030, 0, 7, 9, 0));
    expect(localToInstantMs('2030-01-07T09:00', 'Europe/Rome')).toBe(Date.UTC(2030, 0, 7, 8, 0));
    expect(localToInstantMs('2030-07-07T09:00', 'Europe/Rome')).toBe(Date.UTC(2030, 6, 7, 7, 0));
    expect(localToInstantMs('2030-07-07T09:00', 'America/New_York')).toBe(Date.UTC(2030, 6, 7, 13, 0));
    expect(localToInstantMs('2030-01-07T09:00', 'Australia/Sydney')).toBe(Date.UTC(2030, 0, 6, 22, 0));
  });

  // Europe/Rome 2026: CET→CEST on Sunday 29 March at 02:00 (→ 03:00); CEST→CET on Sunday 25 October at 03:00 (→ 02:00).
  it('resolves a time in the spring-forward gap to the transition (Europe/Rome, last Sunday of March)', () => {
    const transition = Date.UTC(2026, 2, 29, 1, 0); // 02:00 CET = 01:00 UTC, and 03:00 CEST
    expect(localToInstantMs('2026-03-29T02:00', 'Europe/Rome')).toBe(transition);
    expect(localToInstantMs('2026-03-29T02:30', 'Europe/Rome')).toBe(transition);
    expect(localToInstantMs('2026-03-29T02:59', 'Europe/Rome')).toBe(transition);
    expect(localToInstantMs('2026-03-29T03:00', 'Europe/Rome')).toBe(transition);
    expect(localToInstantMs('2026-03-29T01:59', 'Europe/Rome')).toBe(transition - MINUTE_MS);
    expect(wall('Europe/Rome', transition)).toBe('2026-03-29T03:00');
  });

  it('resolves an ambiguous time to the earlier instant (Europe/Rome, last Sunday of October)', () => {
    // 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
    expect(localToInstantMs('2026-10-25T02:30', 'Europe/Rome')).toBe(Date.UTC(2026, 9, 25, 0, 30));
    expect(localToInstantMs('2026-10-25T03:00', 'Europe/Rome')).toBe(Date.UTC(2026, 9, 25, 2, 0));
    expect(wall('Europe/Rome', Date.UTC(2026, 9, 25, 1, 30))).toBe('2026-10-25T02:30');
  });

  it('handles America/New_York (8 March and 1 November 2026) and a southern-hemisphere zone (Australia/Sydney)', () => {
    expect(localToInstantMs('2026-03-08T02:30', 'America/New_York')).toBe(Date.UTC(2026, 2, 8, 7, 0)); // gap → 03:00 EDT
    expect(localToInstantMs('2026-11-01T01:30', 'America/New_York')).toBe(Date.UTC(2026, 10, 1, 5, 30)); // first 01:30 (EDT)
    // Sydney: AEDT→AEST on Sunday 5 April 2026 at 03:00 (→ 02:00); AEST→AEDT on Sunday 4 October 2026 at 02:00 (→ 03:00).
    expect(localToInstantMs('2026-04-05T02:30', 'Australia/Sydney')).toBe(Date.UTC(2026, 3, 4, 15, 30)); // first 02:30 (AEDT, +11)
    expect(localToInstantMs('2026-10-04T02:30', 'Australia/Sydney')).toBe(Date.UTC(2026, 9, 3, 16, 0)); // gap → 03:00 AEDT
    expect(zoneOffsetMs('Australia/Sydney', Date.UTC(2026, 0, 1))).toBe(11 * HOUR_MS);
    expect(zoneOffsetMs('Australia/Sydney', Date.UTC(2026, 6, 1))).toBe(10 * HOUR_MS);
  });

  it('names a malformed local date-time', () => {
    expect(() => localToInstantMs('2026-03-29 02:30', 'Europe/Rome')).toThrow(/YYYY-MM-DDTHH:MM/);
  });

  // The oracle: scan every minute from 14 h before the local day to 14 h after it once, recording each
  // instant's wall time; a local time's instant is the first scanned whose wall time is at or after it.
  const scanDay = (day: string, timeZone: string): ((local: string) => number) => {
    const dayMs = Date.parse(`${day}T00:00:00Z`);
    const scanned: [instant: number, wallMs: number][] = [];
    for (let instant = dayMs - 15 * HOUR_MS; instant <= dayMs + 39 * HOUR_MS; instant += MINUTE_MS) {
      scanned.push([instant, Date.parse(`${wall(timeZone, instant)}:00Z`)]);
    }
    return (local) => {
      const wallMs = Date.parse(`${local}:00Z`);
      const found = scanned.find(([, w]) => w >= wallMs);
      if (found === undefined) throw new Error(`no instant for ${local} in ${timeZone}`);
      return found[0];
    };
  };
  const pad = (n: number) => String(n).padStart(2, '0');
  const localOf = (day: string, minute: number) => `${day}T${pad(Math.floor(minute / 60))}:${pad(minute % 60)}`;

  it('agrees with a minute-by-minute scan on every minute of the DST days', () => {
    const days: [string, string][] = [
      ['Europe/Rome', '2026-03-29'], ['Europe/Rome', '2026-10-25'], ['America/New_York', '2026-03-08'], ['America/New_York', '2026-11-01'],
      ['Australia/Sydney', '2026-04-05'], ['Australia/Sydney', '2026-10-04'], ['Australia/Lord_Howe', '2026-10-04'],
    ];
    for (const [timeZone, day] of days) {
      const oracle = scanDay(day, timeZone);
      for (let minute = 0; minute < 24 * 60; minute += 1) {
        const local = localOf(day, minute);
        expect(localToInstantMs(local, timeZone), `${local} ${timeZone}`).toBe(oracle(local));
      }
    }
  });

  it('property: agrees with the scan for random local times in DST zones', () => {
    const zones = fc.constantFrom('Europe/Rome', 'America/New_York', 'Australia/Sydney', 'America/Santiago', 'UTC', 'Asia/Kolkata');
    const days = fc.integer({ min: 0, max: 3 * 365 });
    fc.assert(
      fc.property(zones, days, fc.array(fc.integer({ min: 0, max: 24 * 60 - 1 }), { minLength: 1, maxLength: 30 }), (timeZone, dayIndex, minutes) => {
        const day = new Date(Date.UTC(2026, 0, 1) + dayIndex * 86_400_000).toISOString().slice(0, 10);
        const oracle = scanDay(day, timeZone);
        for (const minute of minutes) expect(localToInstantMs(localOf(day, minute), timeZone)).toBe(oracle(localOf(day, minute)));
      }),
      { numRuns: 25 },
    );
  });
});

describe('weekly windows', () => {
  const rome = 'Europe/Rome';
  const at = (local: string, timeZone = rome) => localToInstantMs(local, timeZone);

  it('opens at from (inclusive) and closes at to (exclusive)', () => {
    const mornings = [window({ days: ['mon'], from: '09:00', to: '12:00' })];
    expect(inAnyWeeklyWindow(mornings, rome, at('2026-03-23T08:59'))).toBe(false);
    expect(inAnyWeeklyWindow(mornings, rome, at('2026-03-23T09:00'))).toBe(true);
    expect(inAnyWeeklyWindow(mornings, rome, at('2026-03-23T11:59'))).toBe(true);
    expect(inAnyWeeklyWindow(mornings, rome, at('2026-03-23T12:00'))).toBe(false);
    expect(inAnyWeeklyWindow(mornings, rome, at('2026-03-24T10:00'))).toBe(false);
  });

  it('runs an overnight window into the next day, and "24:00" to the end of the day', () => {
    const nights = [window({ days: ['fri'], from: '22:00', to: '06:00' })];
    expect(inAnyWeeklyWindow(nights, rome, at('2026-03-27T21:59'))).toBe(false);
    expect(inAnyWeeklyWindow(nights, rome, at('2026-03-27T22:00'))).toBe(true);
    expect(inAnyWeeklyWindow(nights, rome, at('2026-03-28T05:59'))).toBe(true);
    expect(inAnyWeeklyWindow(nights, rome, at('2026-03-28T06:00'))).toBe(false);
    // Friday morning is the tail of Thursday night, which is not listed.
    expect(inAnyWeeklyWindow(nights, rome, at('2026-03-27T05:00'))).toBe(false);
    const evening = [window({ days: ['sun'], from: '20:00', to: '24:00' })];
    expect(inAnyWeeklyWindow(evening, rome, at('2026-03-29T23:59'))).toBe(true);
    expect(inAnyWeeklyWindow(evening, rome, at('2026-03-30T00:00'))).toBe(false);
  });

  it('keeps a window in local time across the DST change (09:00–12:00 is 08:00 UTC in winter, 07:00 UTC in summer)', () => {
    const sundays = [window({ days: ['sun'], from: '09:00', to: '12:00' })];
    expect(inAnyWeeklyWindow(sundays, rome, Date.UTC(2026, 2, 22, 8, 0))).toBe(true);
    expect(inAnyWeeklyWindow(sundays, rome, Date.UTC(2026, 2, 22, 7, 30))).toBe(false);
    expect(inAnyWeeklyWindow(sundays, rome, Date.UTC(2026, 2, 29, 7, 0))).toBe(true);
    expect(inAnyWeeklyWindow(sundays, rome, Date.UTC(2026, 2, 29, 10, 30))).toBe(false);
  });

  it('spans an overnight window over the spring-forward night: 22:00–06:00 lasts 7 hours that night', () => {
    const nights = [window({ days: ['sat'], from: '22:00', to: '06:00' })];
    const opens = at('2026-03-28T22:00');
    const closes = at('2026-03-29T06:00');
    expect(closes - opens).toBe(7 * HOUR_MS);
    for (let instant = opens - HOUR_MS; instant < closes + HOUR_MS; instant += 15 * MINUTE_MS) {
      expect(inAnyWeeklyWindow(nights, rome, instant)).toBe(instant >= opens && instant < closes);
    }
  });

  it('opens a window over the repeated hour for both passes of it on the fall-back night', () => {
    const small = [window({ days: ['sun'], from: '02:00', to: '03:00' })];
    expect(inAnyWeeklyWindow(small, rome, Date.UTC(2026, 9, 25, 0, 30))).toBe(true); // 02:30 CEST
    expect(inAnyWeeklyWindow(small, rome, Date.UTC(2026, 9, 25, 1, 30))).toBe(true); // 02:30 CET
    expect(inAnyWeeklyWindow(small, rome, Date.UTC(2026, 9, 25, 2, 0))).toBe(false); // 03:00 CET
  });
});

describe('isWithinSchedule', () => {
  it('runs from its start (inclusive) to its end (exclusive), in the store’s zone', () => {
    const schedule = { from: '2026-03-29T02:30', until: '2026-10-25T02:30' };
    expect(isWithinSchedule(schedule, 'Europe/Rome', Date.UTC(2026, 2, 29, 1, 0) - 1)).toBe(false);
    expect(isWithinSchedule(schedule, 'Europe/Rome', Date.UTC(2026, 2, 29, 1, 0))).toBe(true);
    expect(isWithinSchedule(schedule, 'Europe/Rome', Date.UTC(2026, 9, 25, 0, 29))).toBe(true);
    expect(isWithinSchedule(schedule, 'Europe/Rome', Date.UTC(2026, 9, 25, 0, 30))).toBe(false);
    // The same local dates in New York are other instants.
    expect(isWithinSchedule(schedule, 'America/New_York', Date.UTC(2026, 2, 29, 1, 0))).toBe(false);
  });

  it('needs a window when it has any', () => {
    const schedule = { windows: [window({ days: ['mon', 'tue'], from: '09:00', to: '10:00' })] };
    expect(isWithinSchedule(schedule, 'UTC', Date.UTC(2030, 0, 7, 9, 30))).toBe(true);
    expect(isWithinSchedule(schedule, 'UTC', Date.UTC(2030, 0, 9, 9, 30))).toBe(false);
    expect(isWithinSchedule({}, 'UTC', 0)).toBe(true);
  });
});

describe('store hours', () => {
  const store = {
    timezone: 'America/New_York',
    openingHours: [window({ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '08:00', to: '22:00' })],
    quietHours: [window({ days: ['sun'], from: '08:00', to: '10:00' })],
  };

  it('refuses outside opening hours and inside quiet hours, in local time across the change to EDT', () => {
    expect(storeHoursRefusal(store, localToInstantMs('2026-03-07T07:59', store.timezone))).toBe('closed');
    expect(storeHoursRefusal(store, localToInstantMs('2026-03-07T08:00', store.timezone))).toBeUndefined();
    expect(storeHoursRefusal(store, localToInstantMs('2026-03-08T09:00', store.timezone))).toBe('quiet-hours');
    expect(storeHoursRefusal(store, Date.UTC(2026, 2, 8, 14, 0))).toBeUndefined(); // 10:00 EDT
    expect(storeHoursRefusal(store, Date.UTC(2026, 2, 7, 14, 0))).toBeUndefined(); // 09:00 EST on a Saturday: no quiet hours
    expect(storeHoursRefusal(store, Date.UTC(2026, 2, 9, 2, 0))).toBe('closed'); // 22:00 EDT
  });

  it('allows any time without hours set', () => {
    expect(storeHoursRefusal({ timezone: 'UTC' }, 0)).toBeUndefined();
    expect(storeHoursRefusal({ timezone: 'UTC', openingHours: [], quietHours: [] }, 0)).toBeUndefined();
  });
});
