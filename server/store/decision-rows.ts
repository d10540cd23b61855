import { z } from 'zod';
import { WeeklyWindowSchema, type Budget, type Caps, type WeeklyWindow } from '../domain/campaign.ts';
import { FloorPlanSchema, type FloorPlan } from '../domain/floor-plan.ts';
import type { VisitRecord, VisitState } from '../domain/visits.ts';
import { num, type Row } from './rows.ts';
import type { StoreRecord } from './store.ts';

// What the decision reads and writes, shared by the SQL adapters: store hours (JSON columns), shopper
// attributes, visit-history rows and the budget's counting statements.

const WindowsSchema = z.array(WeeklyWindowSchema);

/** A stores row: hours are JSON arrays of weekly windows, the floor plan a JSON object; NULL when none. */
export function toStoreRecord(row: Row): StoreRecord {
  const hours = (value: unknown): WeeklyWindow[] | undefined => (value === null || value === undefined ? undefined : WindowsSchema.parse(JSON.parse(String(value))));
  const openingHours = hours(row.opening_hours);
  const quietHours = hours(row.quiet_hours);
  const floorPlan = row.floor_plan === null || row.floor_plan === undefined ? undefined : FloorPlanSchema.parse(JSON.parse(String(row.floor_plan)));
  return {
    id: String(row.id), name: String(row.name), timezone: String(row.timezone),
    ...(openingHours ? { openingHours } : {}), ...(quietHours ? { quietHours } : {}), ...(floorPlan ? { floorPlan } : {}),
  };
}

/** The columns every store read selects. */
export const STORE_COLUMNS = 'id, name, timezone, opening_hours, quiet_hours, floor_plan';

/** A store's floor plan as stored: JSON, or NULL for none. */
export const floorPlanColumn = (floorPlan: FloorPlan | undefined): string | null => (floorPlan === undefined ? null : JSON.stringify(floorPlan));

/** A store's hours as stored: JSON, or NULL for none. */
export const hoursColumn = (windows: readonly WeeklyWindow[] | undefined): string | null => (windows === undefined ? null : JSON.stringify(windows));

/** Interests as stored: a JSON array, NULL for none. */
export const interestsColumn = (interests: readonly string[]): string | null => (interests.length === 0 ? null : JSON.stringify(interests));

export const visitStateOf = (row: Row | undefined): VisitState | undefined =>
  row === undefined ? undefined : {
    visitCount: num(row.visit_count), visitStartedAtMs: num(row.visit_started_at_ms), lastSeenAtMs: num(row.last_seen_at_ms),
    previousVisitLastSeenMs: row.previous_visit_last_seen_ms === null || row.previous_visit_last_seen_ms === undefined ? null : num(row.previous_visit_last_seen_ms),
  };

export const toVisitRecord = (row: Row): VisitRecord => ({ storeId: String(row.store_id), shopperId: String(row.shopper_id), ...visitStateOf(row)! });

/**
 * The budget's two counts for one campaign at nowMs, as one SELECT with its parameters: promotions
 * recorded (cancelled ones never went out; held-out control rows were never sent), and coupons redeemed or still redeemable — sent,
 * unexpired, unredeemed, not cancelled.
 */
export function budgetCountsStatement(placeholders: 'numbered' | 'question', campaignId: string, nowMs: number): { sql: string; params: unknown[] } {
  const [now, campaign] = placeholders === 'numbered' ? ['$1', '$2'] : ['?', '?'];
  const sql = `SELECT
      COUNT(*) FILTER (WHERE status NOT IN ('cancelled', 'held-out')) AS delivered,
      COUNT(*) FILTER (WHERE redeemed_at_ms IS NOT NULL OR (status NOT IN ('cancelled', 'expired', 'held-out') AND expires_at_ms > ${now})) AS redeemable
    FROM promotions WHERE campaign_id = ${campaign}`;
  // In the order the placeholders appear: positional '?' needs it.
  return { sql, params: [nowMs, campaignId] };
}

/**
 * Whether the budget limits anything: only then are the campaign's promotions counted (and, on PostgreSQL,
 * its sends serialised) — a budget without limits (the default, {}) costs a send nothing.
 */
export const hasBudgetLimit = (budget: Budget | undefined): budget is Budget =>
  budget !== undefined && (budget.maxDeliveries !== undefined || budget.maxRedemptions !== undefined);

/** Whether the budget refuses one more send, given the counts budgetCountsStatement read. */
export function budgetExhausted(budget: Budget | undefined, counts: Row | undefined): boolean {
  if (budget === undefined) return false;
  if (budget.maxDeliveries !== undefined && num(counts?.delivered ?? 0) >= budget.maxDeliveries) return true;
  return budget.maxRedemptions !== undefined && num(counts?.redeemable ?? 0) >= budget.maxRedemptions;
}

export type CapRefusal = 'perShopper' | 'minGapS' | 'perShopperDaily' | 'cooldownS';

/**
 * The four cap counts of one send (MKT-2), as ONE statement over the shopper's promotions (index
 * promotions_shopper): this campaign in its period, this campaign within its minimum gap either side of
 * now, every campaign in the last day, every campaign within the cooldown either side — gaps are measured
 * both ways, so a send recorded out of order (clock skew, a slower instance) still keeps them, and a zero
 * gap never refuses. Cancelled promotions do not count; held-out ones do.
 */
export function capCountsStatement(
  placeholders: 'numbered' | 'question', draft: { shopperId: string; campaignId: string; caps: Caps; createdAtMs: number },
): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const p = (value: unknown): string => {
    params.push(value);
    return placeholders === 'numbered' ? `$${params.length}` : '?';
  };
  const bounds = capWindows(draft);
  const count = (condition: string): string => `COALESCE(SUM(CASE WHEN ${condition} THEN 1 ELSE 0 END), 0)`;
  const sql = `SELECT
      ${count(`campaign_id = ${p(draft.campaignId)} AND created_at_ms > ${p(bounds.period)}`)} AS in_period,
      ${count(`campaign_id = ${p(draft.campaignId)} AND created_at_ms > ${p(bounds.gap[0])} AND created_at_ms < ${p(bounds.gap[1])}`)} AS near_this,
      ${count(`created_at_ms > ${p(bounds.day)}`)} AS daily,
      ${count(`created_at_ms > ${p(bounds.cooldown[0])} AND created_at_ms < ${p(bounds.cooldown[1])}`)} AS near_any
    FROM promotions WHERE shopper_id = ${p(draft.shopperId)} AND status <> 'cancelled'
      AND created_at_ms > ${p(Math.min(bounds.period, bounds.gap[0], bounds.day, bounds.cooldown[0]))}`;
  return { sql, params };
}

/**
 * The windows of a send's four cap counts (epoch ms, exclusive bounds): this campaign's period, the minimum gap either
 * side of the send, the last day, the cooldown either side. capCountsStatement and the PostgreSQL set-based send
 * (postgres-promotion-batch.ts) count over them.
 */
export function capWindows(draft: { caps: Caps; createdAtMs: number }): { period: number; gap: readonly [number, number]; day: number; cooldown: readonly [number, number] } {
  const { caps, createdAtMs: now } = draft;
  return {
    period: now - caps.perShopper.periodS * 1000,
    gap: [now - caps.minGapS * 1000, now + caps.minGapS * 1000],
    day: now - 86_400_000,
    cooldown: [now - caps.cooldownS * 1000, now + caps.cooldownS * 1000],
  };
}

/** The first cap the counts break, in the order they are checked, or undefined. */
export function capRefusal(caps: Caps, counts: Row | undefined): CapRefusal | undefined {
  if (num(counts?.in_period ?? 0) >= caps.perShopper.count) return 'perShopper';
  if (num(counts?.near_this ?? 0) > 0) return 'minGapS';
  if (num(counts?.daily ?? 0) >= caps.perShopperDaily) return 'perShopperDaily';
  if (num(counts?.near_any ?? 0) > 0) return 'cooldownS';
  return undefined;
}
