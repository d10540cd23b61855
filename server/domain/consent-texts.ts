import { createHash } from 'node:crypto';
import { PURPOSES, type ConsentPolicy, type Purpose } from './consent.ts';

// The exact texts a shopper is shown, per purpose, versioned, in several locales, each addressed by the
// SHA-256 of its exact UTF-8 text (ACC-3). A consent record names the version, hash and locale of the text
// it answers, so the controller can show what was agreed to; the server archives every text of its
// catalog at start (Store.archiveConsentTexts, insert-if-absent by hash), so an old text stays fetchable
// after a new version replaces it. The last version of a purpose is its current one: publishing a new
// version sets everyone who granted an older one to "needs re-consent" (CON-6, docs/consent-ledger.md).

export type ConsentText = { purpose: Purpose; version: string; locale: string; text: string; sha256: string };

/** One version of a purpose's text, in every locale it was written in; FALLBACK_LOCALE is required. */
export type ConsentTextVersion = { version: string; texts: Readonly<Record<string, string>> };

/** Per purpose, its versions oldest first; the last is the current one. */
export type ConsentCatalog = Readonly<Record<Purpose, readonly ConsentTextVersion[]>>;

/** The locale shown when a text does not exist in the one asked for. */
export const FALLBACK_LOCALE = 'en';

export const sha256Text = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

export const DEFAULT_CONSENT_CATALOG: ConsentCatalog = {
  presence: [{
    version: '2026-11-01',
    texts: {
      en: 'Detect when I am in a participating store. My phone broadcasts a rotating code that only this service can recognise; store devices never learn who I am. I can withdraw at any time.',
      it: 'Rilevare quando mi trovo in un negozio aderente. Il mio telefono trasmette un codice che cambia di continuo e che solo questo servizio sa riconoscere; i dispositivi del negozio non sanno mai chi sono. Posso revocare il consenso in qualsiasi momento.',
    },
  }],
  personalisation: [{
    version: '2026-11-01',
    texts: {
      en: 'Use my first name and my visit history to personalise offers. I can withdraw at any time; offers then stay generic.',
      it: 'Usare il mio nome e lo storico delle mie visite per personalizzare le offerte. Posso revocare il consenso in qualsiasi momento; le offerte restano allora generiche.',
    },
  }],
  analytics: [{
    version: '2026-11-01',
    texts: {
      en: 'Count my visits in aggregated statistics (at least 10 people per figure). I can withdraw at any time.',
      it: 'Contare le mie visite in statistiche aggregate (almeno 10 persone per dato). Posso revocare il consenso in qualsiasi momento.',
    },
  }],
  promotions: [{
    version: '2026-11-01',
    texts: {
      en: 'Send me promotional offers in the app while I am in a participating store. I can withdraw at any time.',
      it: 'Inviarmi offerte promozionali nell\'app mentre mi trovo in un negozio aderente. Posso revocare il consenso in qualsiasi momento.',
    },
  }],
};

/** Checks a catalog, throwing an Error that names the purpose and version at fault. */
export function validateCatalog(catalog: ConsentCatalog): void {
  for (const purpose of PURPOSES) {
    const versions = catalog[purpose];
    if (versions === undefined || versions.length === 0) throw new Error(`consent catalog: ${purpose} has no text version`);
    const seen = new Set<string>();
    for (const { version, texts } of versions) {
      if (!/^[A-Za-z0-9._-]{1,40}$/.test(version)) throw new Error(`consent catalog: ${purpose} version "${version}" must be 1–40 of A-Z, a-z, 0-9, . _ -`);
      if (seen.has(version)) throw new Error(`consent catalog: ${purpose} version ${version} appears twice`);
      seen.add(version);
      if (typeof texts[FALLBACK_LOCALE] !== 'string') throw new Error(`consent catalog: ${purpose} version ${version} has no "${FALLBACK_LOCALE}" text (the fallback locale)`);
      for (const [locale, text] of Object.entries(texts)) {
        if (!/^[a-z]{2}$/.test(locale)) throw new Error(`consent catalog: ${purpose} version ${version} locale "${locale}" must be two lower-case letters`);
        if (text.trim() === '') throw new Error(`consent catalog: ${purpose} version ${version} ${locale} text is empty`);
      }
    }
  }
}

const textOf = (purpose: Purpose, version: string, locale: string, text: string): ConsentText => ({ purpose, version, locale, text, sha256: sha256Text(text) });

/** Every text of every version and locale: what the server archives at start. */
export function allCatalogTexts(catalog: ConsentCatalog): ConsentText[] {
  return PURPOSES.flatMap((purpose) => catalog[purpose].flatMap(({ version, texts }) =>
    Object.entries(texts).map(([locale, text]) => textOf(purpose, version, locale, text))));
}

const currentVersionOf = (catalog: ConsentCatalog, purpose: Purpose): ConsentTextVersion => catalog[purpose][catalog[purpose].length - 1]!;

/** The current version of each purpose. */
export function currentVersions(catalog: ConsentCatalog): Record<Purpose, string> {
  return Object.fromEntries(PURPOSES.map((purpose) => [purpose, currentVersionOf(catalog, purpose).version])) as Record<Purpose, string>;
}

/** The language of a locale tag ("it-IT" → "it"). */
export const languageOf = (locale: string): string => locale.slice(0, 2).toLowerCase();

/** Each purpose's current text in the locale's language, or in FALLBACK_LOCALE when it was not written in it. */
export function currentTexts(catalog: ConsentCatalog, locale: string = FALLBACK_LOCALE): Record<Purpose, ConsentText> {
  const language = languageOf(locale);
  return Object.fromEntries(PURPOSES.map((purpose) => {
    const { version, texts } = currentVersionOf(catalog, purpose);
    const chosen = texts[language] === undefined ? FALLBACK_LOCALE : language;
    return [purpose, textOf(purpose, version, chosen, texts[chosen]!)];
  })) as Record<Purpose, ConsentText>;
}

/** The current text of a purpose with this version and hash, in whichever locale; undefined if it is not current. */
export function findCurrentText(catalog: ConsentCatalog, purpose: Purpose, version: string, sha256: string): ConsentText | undefined {
  const current = currentVersionOf(catalog, purpose);
  if (current.version !== version) return undefined;
  for (const [locale, text] of Object.entries(current.texts)) {
    if (sha256Text(text) === sha256) return textOf(purpose, version, locale, text);
  }
  return undefined;
}

/** One year, the validity of a grant unless configured shorter (CON-6: "older than 12 months asks to be renewed"). */
export const DEFAULT_CONSENT_VALIDITY_MS = 365 * 86_400_000;

/** The rule a grant must satisfy to count, from a catalog and a validity period. */
export const consentPolicyOf = (catalog: ConsentCatalog, validityMs: number = DEFAULT_CONSENT_VALIDITY_MS): ConsentPolicy => ({
  currentVersions: currentVersions(catalog), validityMs,
  knownVersions: Object.fromEntries(PURPOSES.map((purpose): [Purpose, readonly string[]] => [purpose, catalog[purpose].map((v) => v.version)])) as Record<Purpose, readonly string[]>,
});

/** The built-in catalog's policy with a 12-month validity: the default of every send-path check. */
export const DEFAULT_CONSENT_POLICY: ConsentPolicy = consentPolicyOf(DEFAULT_CONSENT_CATALOG);

/** The built-in catalog's current texts in English (the privacy notice and the record of processing cite them). */
export const CURRENT_CONSENT_TEXTS: Record<Purpose, ConsentText> = currentTexts(DEFAULT_CONSENT_CATALOG);
