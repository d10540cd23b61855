import type { PromotionRecord } from '../store/store.ts';

/**
 * The Delivery port: gets a recorded promotion to the shopper's app. At least once: a promotion stays
 * pending in the Store until the app acknowledges it, and is sent again on reconnect; the app
 * deduplicates by promotion ID.
 */
export interface Delivery {
  notify(promotion: PromotionRecord): void;
  close(): Promise<void>;
}
