import { z } from 'zod';

// The opaque address a push provider gives the app (an FCM registration token, an APNs device token, a
// Web Push subscription endpoint): the app registers it (PUT /v1/me/push-target) so that a promotion
// can reach it while the app is in the background. It is personal data (it addresses one device): held
// sealed, never logged, sent only to the configured webhook, deleted on erasure.

export const PushTargetSchema = z
  .object({
    provider: z.enum(['fcm', 'apns', 'webpush']),
    token: z.string().min(1).max(4096),
  })
  .strict();
export type PushTarget = z.infer<typeof PushTargetSchema>;

/** Where the webhook delivery finds a shopper's push target; undefined if none was registered. */
export type PushTargets = { get(shopperId: string): Promise<PushTarget | undefined> };
