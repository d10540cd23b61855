import { createHash, randomInt } from 'node:crypto';
import { z } from 'zod';
import type { Campaign, Variant } from './campaign.ts';
import type { Purpose } from './consent.ts';

// What the shopper's app receives. Idempotent by `id`: the app shows a promotion once even when
// it is delivered again (at-least-once delivery).

export const PromotionMessageSchema = z
  .object({
    type: z.literal('promotion'),
    id: z.string(),
    campaignId: z.string(),
    title: z.string(),
    body: z.string(),
    deepLink: z.string().optional(),
    couponCode: z.string(),
    issuedAtMs: z.number().int(),
    expiresAtMs: z.number().int(),
    /** The presence event that triggered it (lets a developer trace latency end to end). */
    eventId: z.string(),
    /** TRN-2: why am I seeing this. */
    why: z
      .object({ storeId: z.string(), zoneId: z.string(), trigger: z.string(), purposes: z.array(z.string()), settingsPath: z.string() })
      .strict(),
  })
  .strict();
export type PromotionMessage = z.infer<typeof PromotionMessageSchema>;

/** The same campaign, shopper and triggering event always give the same promotion ID. */
export function promotionId(campaignId: string, shopperId: string, eventId: string): string {
  return `pr_${createHash('sha256').update(`${campaignId}\0${shopperId}\0${eventId}`).digest('base64url').slice(0, 22)}`;
}

// Crockford base32 without I, L, O, U: readable at a till.
const COUPON_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A single-use coupon code: 10 symbols, 50 bits of randomness. Uniqueness is enforced by the store. */
export function newCouponCode(): string {
  let code = '';
  for (let i = 0; i < 10; i += 1) code += COUPON_ALPHABET[randomInt(COUPON_ALPHABET.length)];
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes a shopper-provided value for any HTML-ish rendering and strips control characters. */
export function escapeValue(value: string): string {
  return value
    // eslint-disable-next-line no-control-regex -- stripping control characters is the point
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .slice(0, 64)
    .replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}

/**
 * Renders {{name}} placeholders. Without personalisation consent every placeholder renders as its
 * neutral fallback, so no shopper attribute is used (P2).
 */
export function renderTemplate(template: string, attributes: Record<string, string | undefined>, personalised: boolean): string {
  return template
    .replace(/\{\{\s*(\w+)\s*\}\}/g, (_match, name: string) => {
      const value = personalised ? attributes[name] : undefined;
      return value === undefined || value === '' ? '' : escapeValue(value);
    })
    .replace(/\s+([,.!?])/g, '$1')
    // "Welcome back, {{firstName}}!" without a name: "Welcome back!", not "Welcome back,!".
    .replace(/,(?=[.!?])/g, '')
    .replace(/\s{2,}/g, ' ')
    .trim()
    // "Hello again, {{firstName}}" without a name: "Hello again", not "Hello again,".
    .replace(/,$/, '');
}

/** The text a shopper reads: the message's title and body rendered (renderTemplate), its deep link as is. What buildPromotion sends and the console previews. */
export function renderMessage(
  message: { title: string; body: string; deepLink?: string | undefined },
  attributes: Record<string, string | undefined>,
  personalised: boolean,
): { title: string; body: string; deepLink?: string } {
  return {
    title: renderTemplate(message.title, attributes, personalised),
    body: renderTemplate(message.body, attributes, personalised),
    ...(message.deepLink ? { deepLink: message.deepLink } : {}),
  };
}

/** The message a variant's shopper gets: the variant's overrides over the campaign's message, field by field. */
export function variantMessage<M extends { title: string; body: string; deepLink?: string | undefined }>(message: M, variant?: Pick<Variant, 'message'>): M {
  return { ...message, ...variant?.message };
}

export function buildPromotion(input: {
  campaign: Campaign;
  shopperId: string;
  eventId: string;
  storeId: string;
  zoneId: string;
  personalised: boolean;
  purposes: Purpose[];
  attributes: Record<string, string | undefined>;
  nowMs: number;
  /** The shopper's experiment variant (domain/experiment.ts): its message overrides the campaign's, field by field. */
  variant?: Variant;
}): PromotionMessage {
  const { campaign } = input;
  const message = variantMessage(campaign.message, input.variant);
  return {
    type: 'promotion',
    id: promotionId(campaign.id, input.shopperId, input.eventId),
    campaignId: campaign.id,
    ...renderMessage(message, input.attributes, input.personalised),
    couponCode: newCouponCode(),
    issuedAtMs: input.nowMs,
    expiresAtMs: input.nowMs + campaign.message.validForS * 1000,
    eventId: input.eventId,
    why: {
      storeId: input.storeId,
      zoneId: input.zoneId,
      trigger: campaign.trigger.kind,
      purposes: input.purposes,
      settingsPath: '/v1/me/consents',
    },
  };
}
