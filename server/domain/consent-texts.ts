import { createHash } from 'node:crypto';
import type { Purpose } from './consent.ts';

// The exact texts a shopper is shown, per purpose, versioned and addressed by SHA-256 (ACC-3).
// A consent record names the version and hash of the text it answers, so the controller can show
// what was agreed to. The consent issue adds the archive, locales and re-consent.

export type ConsentText = { purpose: Purpose; version: string; locale: string; text: string; sha256: string };

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

const TEXTS: Record<Purpose, string> = {
  presence:
    'Detect when I am in a participating store. My phone broadcasts a rotating code that only this service can recognise; store devices never learn who I am. I can withdraw at any time.',
  personalisation:
    'Use my first name and my visit history to personalise offers. I can withdraw at any time; offers then stay generic.',
  analytics: 'Count my visits in aggregated statistics (at least 10 people per figure). I can withdraw at any time.',
  promotions: 'Send me promotional offers in the app while I am in a participating store. I can withdraw at any time.',
};

export const CURRENT_CONSENT_TEXTS: Record<Purpose, ConsentText> = Object.fromEntries(
  (Object.entries(TEXTS) as [Purpose, string][]).map(([purpose, text]) => [purpose, { purpose, version: '2026-11-01', locale: 'en', text, sha256: sha256(text) }]),
) as Record<Purpose, ConsentText>;
