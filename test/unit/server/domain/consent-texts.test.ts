import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  allCatalogTexts, CURRENT_CONSENT_TEXTS, currentTexts, currentVersions, DEFAULT_CONSENT_CATALOG, findCurrentText, sha256Text, validateCatalog, type ConsentCatalog,
} from '#server/domain/consent-texts.ts';
import { PURPOSES } from '#server/domain/consent.ts';

const withNewPresenceVersion: ConsentCatalog = {
  ...DEFAULT_CONSENT_CATALOG,
  presence: [...DEFAULT_CONSENT_CATALOG.presence, { version: '2027-03-01', texts: { en: 'Detect me in stores (new wording).', de: 'Mich im Geschäft erkennen.' } }],
};

describe('the consent text catalog (ACC-3)', () => {
  it('addresses each text by the SHA-256 of its exact UTF-8 bytes', () => {
    const presence = CURRENT_CONSENT_TEXTS.presence;
    expect(presence.sha256).toBe(sha256Text(presence.text));
    // FIPS 180-2 test vector, and UTF-8 bytes: é is C3 A9 precomposed, a different text from e + U+0301.
    expect(sha256Text('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Text('\u00e9')).toBe(createHash('sha256').update(Buffer.from([0xc3, 0xa9])).digest('hex'));
    expect(sha256Text('\u00e9')).not.toBe(sha256Text('e\u0301'));
  });

  it('keeps the texts answered before the archive existed: their hashes do not move', () => {
    expect(CURRENT_CONSENT_TEXTS.presence).toMatchObject({ version: '2026-11-01', locale: 'en' });
    expect(CURRENT_CONSENT_TEXTS.presence.sha256).toBe(sha256Text(DEFAULT_CONSENT_CATALOG.presence[0]!.texts.en!));
  });

  it('offers every purpose in English and Italian, and falls back to English for another language', () => {
    expect(Object.values(currentTexts(DEFAULT_CONSENT_CATALOG, 'it-IT')).map((t) => t.locale)).toEqual(['it', 'it', 'it', 'it']);
    expect(Object.values(currentTexts(DEFAULT_CONSENT_CATALOG, 'fr')).map((t) => t.locale)).toEqual(['en', 'en', 'en', 'en']);
    expect(currentTexts(withNewPresenceVersion, 'it').presence).toMatchObject({ version: '2027-03-01', locale: 'en' });
  });

  it('takes the last version of a purpose as its current one, and accepts an answer to it in any of its locales', () => {
    expect(currentVersions(withNewPresenceVersion)).toMatchObject({ presence: '2027-03-01', promotions: '2026-11-01' });
    const german = sha256Text('Mich im Geschäft erkennen.');
    expect(findCurrentText(withNewPresenceVersion, 'presence', '2027-03-01', german)).toMatchObject({ locale: 'de', sha256: german });
    expect(findCurrentText(withNewPresenceVersion, 'presence', '2026-11-01', CURRENT_CONSENT_TEXTS.presence.sha256)).toBeUndefined();
    expect(findCurrentText(withNewPresenceVersion, 'presence', '2027-03-01', CURRENT_CONSENT_TEXTS.presence.sha256)).toBeUndefined();
  });

  it('lists every text of every version for the archive', () => {
    const texts = allCatalogTexts(withNewPresenceVersion);
    expect(texts).toHaveLength(PURPOSES.length * 2 + 2);
    expect(new Set(texts.map((t) => t.sha256)).size).toBe(texts.length);
  });

  it.each<[string, ConsentCatalog, string]>([
    ['a purpose without versions', { ...DEFAULT_CONSENT_CATALOG, analytics: [] }, 'analytics has no text version'],
    ['a version without English', { ...DEFAULT_CONSENT_CATALOG, analytics: [{ version: 'v9', texts: { it: 'Contare le visite.' } }] }, 'analytics version v9 has no "en" text'],
    ['a version twice', { ...DEFAULT_CONSENT_CATALOG, analytics: [...DEFAULT_CONSENT_CATALOG.analytics, ...DEFAULT_CONSENT_CATALOG.analytics] }, 'analytics version 2026-11-01 appears twice'],
    ['a bad locale', { ...DEFAULT_CONSENT_CATALOG, analytics: [{ version: 'v9', texts: { en: 'Count.', 'it-IT': 'Contare.' } }] }, 'locale "it-IT" must be two lower-case letters'],
  ])('refuses %s, naming it', (_, catalog, message) => {
    expect(() => validateCatalog(catalog)).toThrow(message);
  });
});
