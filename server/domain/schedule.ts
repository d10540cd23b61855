import { minutesOf, WEEKDAYS, type Schedule, type Weekday, type WeeklyWindow } from './campaign.ts';

// Local time in a store's time zone, pure (MKT-3): campaign schedules, opening hours and quiet hours
// are written in wall-clock time ("YYYY-MM-DDTHH:MM", weekly "HH:MM" windows) and evaluated against an
// instant here, with the IANA zone rules of the runtime's ICU (Intl.DateTimeFormat), so a window stays
// 09:00–12:00 local on both sides of a DST change.
//
// DST, on the two days a year the wall clock jumps:
// - A local time in the spring-forward gap (02:30 in Rome on the last Sunday of March) does not exist:
//   it resolves forward, to the first instant whose wall time is at or after it — the transition itself
//   (03:00 local). A schedule "from 02:30" starts at 03:00; "until 02:30" ends at 03:00.
// - A local time in the fall-back overlap (02:30 in Rome on the last Sunday of October) happens twice:
//   it resolves to the earlier instant (the first pass, still in summer time).
// Both are one rule: the earliest instant whose wall time is at or after the local time.
// Weekly windows compare wall-clock minutes: on a fall-back day, a window covering the repeated hour is
// open for both passes of it; on a spring-forward day, the part of a window inside the gap never occurs.

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (format === undefined) {
    // Throws a RangeError for an unknown zone: a store's zone is validated when it is saved.
    format = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** A wall-clock reading in one time zone. `weekday` is the local day of the week. */
export type LocalDateTime = { year: number; month: number; day: number; hour: number; minute: number; second: number; weekday: Weekday };

const WEEKDAY_OF: Record<string, Weekday> = { Mon: 'mon', Tue: 'tue', Wed: 'wed', Thu: 'thu', Fri: 'fri', Sat: 'sat', Sun: 'sun' };

/** The wall-clock time in timeZone at the instant (to the second). */
export function localDateTime(timeZone: string, instantMs: number): LocalDateTime {
  const parts: Record<string, string> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(instantMs))) parts[part.type] = part.value;
  return {
    year: Number(parts.year), month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour) % 24,
    minute: Number(parts.minute), second: Number(parts.second), weekday: WEEKDAY_OF[parts.weekday!]!,
  };
}

/** The zone's offset from UTC at the instant, ms (+3_600_000 for CET). */
export function zoneOffsetMs(timeZone: string, instantMs: number): number {
  const local = localDateTime(timeZone, instantMs);
  const wallAsUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  return wallAsUtc - Math.floor(instantMs / 1000) * 1000;
}

/** "YYYY-MM-DDTHH:MM" read as if it were UTC: the wall time as a number, for comparisons. */
function wallMsOf(local: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(local);
  if (match === null) throw new RangeError(`not a local date-time "YYYY-MM-DDTHH:MM": "${local}"`);
  const [, y, mo, d, h, mi] = match.map(Number) as [number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi);
}

/**
 * The instant of a local date-time "YYYY-MM-DDTHH:MM" in timeZone: the earliest instant whose wall time
 * is at or after it. A time in a DST gap resolves forward to the transition; an ambiguous one (fall
 * back) to its first, earlier occurrence.
 */
export function localToInstantMs(local: string, timeZone: string): number {
  const wallMs = wallMsOf(local);
  // Every offset in force within a day either side: zone rules never change twice in a day.
  const offsets = [...new Set([zoneOffsetMs(timeZone, wallMs - DAY_MS), zoneOffsetMs(timeZone, wallMs), zoneOffsetMs(timeZone, wallMs + DAY_MS)])];
  const exact = offsets.map((offset) => wallMs - offset).filter((instant) => zoneOffsetMs(timeZone, instant) === wallMs - instant);
  if (exact.length > 0) return Math.min(...exact);
  // In a gap: the transition lies between the instants the two offsets give; bisect to the minute
  // (zone transitions fall on whole minutes), looking for the first instant whose wall time is past it.
  let before = Math.min(...offsets.map((offset) => wallMs - offset)); // its wall time is before `local`
  let after = Math.max(...offsets.map((offset) => wallMs - offset)); // its wall time is after `local`
  before = Math.floor(before / MINUTE_MS);
  after = Math.ceil(after / MINUTE_MS);
  while (after - before > 1) {
    const middle = Math.floor((before + after) / 2);
    const instant = middle * MINUTE_MS;
    if (instant + zoneOffsetMs(timeZone, instant) >= wallMs) after = middle;
    else before = middle;
  }
  return after * MINUTE_MS;
}

/** Minutes (with their fraction) since local midnight. */
const minuteOfDay = (local: LocalDateTime): number => local.hour * 60 + local.minute + local.second / 60;

const previousDay = (day: Weekday): Weekday => WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7]!;

/**
 * Whether a wall-clock reading falls in a weekly window: `from` inclusive, `to` exclusive; "24:00" is
 * the end of the day; a `to` before `from` runs overnight into the next day, so "fri 22:00–06:00"
 * includes Saturday 05:59.
 */
export function inWeeklyWindow(window: WeeklyWindow, local: LocalDateTime): boolean {
  const minute = minuteOfDay(local);
  const from = minutesOf(window.from);
  const to = minutesOf(window.to);
  if (to > from) return window.days.includes(local.weekday) && minute >= from && minute < to;
  // Overnight: the evening part on a listed day, the morning part on the day after one.
  return (window.days.includes(local.weekday) && minute >= from) || (window.days.includes(previousDay(local.weekday)) && minute < to);
}

/** Whether the instant falls in any of the windows, in timeZone. */
export function inAnyWeeklyWindow(windows: readonly WeeklyWindow[], timeZone: string, instantMs: number): boolean {
  const local = localDateTime(timeZone, instantMs);
  return windows.some((window) => inWeeklyWindow(window, local));
}

/** Whether the instant lies in the schedule's period: from (inclusive) to until (exclusive), in timeZone. */
export function inSchedulePeriod(schedule: Schedule, timeZone: string, instantMs: number): boolean {
  if (schedule.from !== undefined && instantMs < localToInstantMs(schedule.from, timeZone)) return false;
  if (schedule.until !== undefined && instantMs >= localToInstantMs(schedule.until, timeZone)) return false;
  return true;
}

/** Whether a campaign with this schedule may send at the instant in a store of timeZone: in its period and, if it has windows, in one. */
export function isWithinSchedule(schedule: Schedule, timeZone: string, instantMs: number): boolean {
  return inSchedulePeriod(schedule, timeZone, instantMs) && (schedule.windows === undefined || inAnyWeeklyWindow(schedule.windows, timeZone, instantMs));
}

/** A store's hours: nothing is sent outside its opening hours (when it has any) or inside its quiet hours. */
export type StoreHours = { timezone: string; openingHours?: readonly WeeklyWindow[] | undefined; quietHours?: readonly WeeklyWindow[] | undefined };

/** Why a store's hours forbid sending at the instant, or undefined if they allow it. */
export function storeHoursRefusal(store: StoreHours, instantMs: number): 'closed' | 'quiet-hours' | undefined {
  const local = localDateTime(store.timezone, instantMs);
  if (store.quietHours !== undefined && store.quietHours.some((window) => inWeeklyWindow(window, local))) return 'quiet-hours';
  if (store.openingHours !== undefined && store.openingHours.length > 0 && !store.openingHours.some((window) => inWeeklyWindow(window, local))) return 'closed';
  return undefined;
}
