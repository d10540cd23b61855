import { z } from 'zod';

// The campaign model, thin for now: placement, trigger, caps, schedule window and message.
// Issue "campaign engine" deepens it (audience, quiet hours, budgets, experiments, lifecycle).

export const CampaignIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/);

export const TriggerSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('enter') }).strict(),
  z.object({ kind: z.literal('dwell'), minDwellS: z.number().int().min(1) }).strict(),
  z.object({ kind: z.literal('exit') }).strict(),
]);
export type Trigger = z.infer<typeof TriggerSchema>;

export const CapsSchema = z
  .object({
    /** Per shopper per campaign: at most `count` per `periodS`. */
    perShopper: z.object({ count: z.number().int().min(1), periodS: z.number().int().min(1) }).strict(),
    /** Per shopper per campaign: at least this long between two sends. */
    minGapS: z.number().int().min(0),
    /** Per shopper across all campaigns, per rolling day. */
    perShopperDaily: z.number().int().min(1),
    /** After any delivery to a shopper, nothing else for this long. */
    cooldownS: z.number().int().min(0),
  })
  .strict();
export type Caps = z.infer<typeof CapsSchema>;

export const MessageSchema = z
  .object({
    title: z.string().min(1).max(80),
    /** May use {{firstName}} — only rendered with personalisation consent (P2). */
    body: z.string().min(1).max(500),
    deepLink: z.string().url().optional(),
    /** How long the promotion stays valid after it is sent. */
    validForS: z.number().int().min(60).max(30 * 86_400),
  })
  .strict();
export type Message = z.infer<typeof MessageSchema>;

export const CampaignStatusSchema = z.enum(['draft', 'active', 'paused', 'ended']);

export const CampaignSchema = z
  .object({
    id: CampaignIdSchema,
    storeId: z.string().min(1),
    name: z.string().min(1).max(120),
    status: CampaignStatusSchema,
    zoneIds: z.array(z.string().min(1)).min(1),
    trigger: TriggerSchema,
    caps: CapsSchema,
    message: MessageSchema,
    startsAtMs: z.number().int().nonnegative().optional(),
    endsAtMs: z.number().int().nonnegative().optional(),
    priority: z.number().int().min(0).max(1000).default(100),
  })
  .strict();
export type Campaign = z.infer<typeof CampaignSchema>;
export type CampaignInput = z.input<typeof CampaignSchema>;
