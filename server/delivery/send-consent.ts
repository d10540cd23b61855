import type { Logger } from 'pino';
import { activeConsent, isGranted, PurposeSchema, type ConsentPolicy, type ConsentState } from '../domain/consent.ts';
import { DEFAULT_CONSENT_POLICY } from '../domain/consent-texts.ts';
import type { Metrics } from '../metrics.ts';
import type { PromotionRecord, Store } from '../store/store.ts';

// The send-time consent check every Delivery adapter makes before it lets a promotion go (CON-5): the
// shopper's consent read now, lapsed grants read as withdrawn (CON-6), and every purpose the promotion
// was made under (always P1 and P4) still granted. A read that fails is counted where it happened and
// logged without identifiers; the caller sends nothing (fail closed).

const UNREADABLE_MESSAGE = {
  delivery: 'consent unreadable at send time; promotion held back (fail closed)',
  webhook: 'consent unreadable before a webhook attempt; held back (fail closed)',
} as const;

export type SendConsentDeps = { store: Store; metrics: Metrics; logger: Logger; now: () => number; consentPolicy?: ConsentPolicy };

export async function sendConsent(deps: SendConsentDeps, promotion: PromotionRecord, where: 'delivery' | 'webhook'): Promise<'allowed' | 'refused' | 'unreadable'> {
  let consent: ConsentState;
  try {
    consent = activeConsent(await deps.store.getConsentState(promotion.shopperId), deps.consentPolicy ?? DEFAULT_CONSENT_POLICY, deps.now());
  } catch (error) {
    deps.metrics.consentUnreadable.inc({ where });
    deps.logger.warn({ err: (error as Error).message }, UNREADABLE_MESSAGE[where]);
    return 'unreadable';
  }
  const needed = new Set(['presence', 'promotions', ...promotion.message.why.purposes]);
  const allowed = [...needed].every((purpose) => {
    const parsed = PurposeSchema.safeParse(purpose);
    return parsed.success && isGranted(consent, parsed.data);
  });
  return allowed ? 'allowed' : 'refused';
}
