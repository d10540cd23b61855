import type { PromotionMessage } from '../domain/promotion.ts';
import { num, numOrNull, type Row } from './rows.ts';
import type { CouponRedemptionRequest, PosDeviceRecord, RedemptionResult } from './store.ts';

// Rows of the point-of-sale tables, shared by both adapters: a till, and what a coupon's claim found.
// Both adapters claim a coupon with CLAIM_COUPON_WHERE in one UPDATE; only when it claims nothing do
// they read the row and classify it here. A redeemed or cancelled promotion never changes back and
// expiry is fixed, so the classification cannot be overtaken by another instance's claim.

/** The claim's condition after `coupon_code = ? AND store_id = ?`: unredeemed, not cancelled, not expired at the given time. */
// A held-out (control) row was never sent: its coupon is not claimable, and is answered as not found.
export const CLAIM_COUPON_CONDITION = `redeemed_at_ms IS NULL AND status NOT IN ('cancelled', 'held-out') AND expires_at_ms >`;

export function toPosDevice(row: Row): PosDeviceRecord {
  return {
    id: String(row.id),
    storeId: String(row.store_id),
    name: String(row.name),
    tokenHash: String(row.token_hash),
    createdAtMs: num(row.created_at_ms),
    revokedAtMs: numOrNull(row.revoked_at_ms),
  };
}

function redeemed(row: Row, replayed: boolean): RedemptionResult {
  const message = JSON.parse(String(row.message)) as PromotionMessage;
  return {
    outcome: 'redeemed',
    replayed,
    redemption: {
      couponCode: String(row.coupon_code), campaignId: String(row.campaign_id), title: message.title,
      redeemedAtMs: num(row.redeemed_at_ms), storeId: String(row.store_id), zoneId: String(row.zone_id),
    },
  };
}

/** The claim's row, when the claiming UPDATE returned one. */
export const claimedCoupon = (row: Row): RedemptionResult => redeemed(row, false);

/**
 * Why a claim claimed nothing, from the promotion row of that code and store (undefined: none). Undefined
 * when the row is claimable after all — it appeared after the claim ran — so the caller claims again.
 */
export function refusedClaim(row: Row | undefined, request: CouponRedemptionRequest): RedemptionResult | undefined {
  if (row === undefined || row.status === 'held-out') return { outcome: 'not-found' };
  const redeemedAtMs = numOrNull(row.redeemed_at_ms);
  if (redeemedAtMs !== null) {
    // The same till retrying the same request (its response was lost): the first answer again.
    const sameRequest = request.requestId !== null && row.redemption_request_id === request.requestId && row.redeemed_by_device_id === request.deviceId;
    return sameRequest ? redeemed(row, true) : { outcome: 'already-redeemed', redeemedAtMs };
  }
  if (row.status === 'cancelled') return { outcome: 'cancelled' };
  const expiresAtMs = num(row.expires_at_ms);
  if (expiresAtMs <= request.atMs) return { outcome: 'expired', expiresAtMs };
  return undefined;
}
