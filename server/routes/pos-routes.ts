import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ApiError, HTTP_STATUS, parseOrThrow, type ErrorCode } from '../domain/errors.ts';
import { hashToken } from '../identity.ts';
import type { PosDeviceRecord } from '../store/store.ts';
import type { AppDeps } from '../app.ts';

// Point of sale: a store's till redeems a promotion's coupon, exactly once. The till authenticates with
// its own bearer token (issued by POST /v1/admin/stores/:storeId/pos-devices; only its SHA-256 is stored)
// and may redeem only its store's coupons — another store's code is "not found", so a till learns nothing
// about other stores. The claim is one conditional write in the Store (redeemCoupon), so it holds across
// every server instance; requestId, the till's idempotency key, makes a retry after a lost response safe.
// Logs and metrics carry the outcome, store, device and campaign — never the code or the shopper.

/** Crockford base32 without I, L, O, U (domain/promotion.ts newCouponCode), case-insensitive, dash optional. */
const CouponCodeSchema = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^[0-9A-HJKMNP-TV-Z]{5}-?[0-9A-HJKMNP-TV-Z]{5}$/, 'couponCode must be 10 symbols such as "7K3QD-9XW2M"')
  .transform((code) => (code.includes('-') ? code : `${code.slice(0, 5)}-${code.slice(5)}`));

export const RedemptionBodySchema = z
  .object({
    couponCode: CouponCodeSchema,
    /** The till's idempotency key: the same UUID again (a retry) gets the same answer. */
    requestId: z.uuid().optional(),
  })
  .strict();

async function requirePosDevice(deps: AppDeps, request: FastifyRequest): Promise<PosDeviceRecord> {
  const match = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '');
  const device = match === null ? undefined : await deps.store.findPosDeviceByTokenHash(hashToken(match[1]!));
  if (device === undefined) {
    deps.metrics.redemptions.inc({ outcome: 'unauthenticated' });
    throw new ApiError('UNAUTHENTICATED', 'point of sale: send "Authorization: Bearer <POS device token>" of a device that is not revoked');
  }
  return device;
}

/** An expected refusal: a value from the Store, answered with the status the error table gives its code. */
const refuse = (reply: FastifyReply, code: ErrorCode, message: string, extra: Record<string, number> = {}) =>
  reply.code(HTTP_STATUS[code]).send({ error: { code, message, fields: ['couponCode'], ...extra } });

export async function posRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const log = deps.logger.child({ component: 'pos' });

  app.post('/v1/pos/redemptions', async (request, reply) => {
    const device = await requirePosDevice(deps, request);
    let body: z.infer<typeof RedemptionBodySchema>;
    try {
      body = parseOrThrow(RedemptionBodySchema, request.body);
    } catch (error) {
      deps.metrics.redemptions.inc({ outcome: 'invalid' });
      throw error;
    }
    const result = await deps.store.redeemCoupon({ storeId: device.storeId, couponCode: body.couponCode, requestId: body.requestId ?? null, deviceId: device.id, atMs: deps.now() });
    const outcome = result.outcome === 'redeemed' && result.replayed ? 'replayed' : result.outcome;
    deps.metrics.redemptions.inc({ outcome });
    log.info({ outcome, storeId: device.storeId, deviceId: device.id, ...(result.outcome === 'redeemed' ? { campaignId: result.redemption.campaignId } : {}) }, 'coupon presented');
    switch (result.outcome) {
      case 'redeemed':
        return reply.code(200).send({ redemption: result.redemption });
      case 'already-redeemed':
        return refuse(reply, 'ALREADY_REDEEMED', 'this coupon was already redeemed', { redeemedAtMs: result.redeemedAtMs });
      case 'expired':
        return refuse(reply, 'COUPON_EXPIRED', 'this coupon has expired', { expiresAtMs: result.expiresAtMs });
      case 'cancelled':
        return refuse(reply, 'COUPON_CANCELLED', 'this coupon was cancelled (the shopper withdrew their consent)');
      case 'not-found':
        return refuse(reply, 'NOT_FOUND', 'no such coupon in this store');
    }
  });
}
