import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ageGate, DEFAULT_AGE_POLICY, DEFAULT_CONSENT_AGES, latestSafeBirthYear, parseAgeByCountry, requiredAge, youngestAge, type AgePolicy,
} from '#server/domain/age-gate.ts';
import { PURPOSES } from '#server/domain/consent.ts';
import { START_MS } from '#test/helpers/builders.ts';

// START_MS is in January 2030: someone born in 2014 is 15 or 16, so the gate takes 15.
const FIFTEEN = 2014;

describe('the digital-consent age per country (GDPR art. 8)', () => {
  it('uses the national ages, and 16 for a country not in the table or none', () => {
    expect(requiredAge(DEFAULT_AGE_POLICY, 'IT')).toBe(14);
    expect(requiredAge(DEFAULT_AGE_POLICY, 'DE')).toBe(16);
    expect(requiredAge(DEFAULT_AGE_POLICY, 'FR')).toBe(15);
    expect(requiredAge(DEFAULT_AGE_POLICY, 'BE')).toBe(13);
    expect(requiredAge(DEFAULT_AGE_POLICY, 'US')).toBe(16);
    expect(requiredAge(DEFAULT_AGE_POLICY, null)).toBe(16);
  });

  it('matches the table documented in docs/consent-ledger.md', () => {
    const doc = readFileSync(new URL('../../../../docs/consent-ledger.md', import.meta.url), 'utf8');
    const documented: Record<string, number> = {};
    for (const [, age, countries] of doc.matchAll(/^\| (1[3-6]) \| ([A-Z, ]+?)(?: —.*)? \|$/gm)) {
      for (const country of countries!.split(', ')) documented[country] = Number(age);
    }
    expect(documented).toEqual(DEFAULT_CONSENT_AGES);
  });

  it('keeps every national age within art. 8\'s bounds, 13 to 16', () => {
    for (const age of Object.values(DEFAULT_CONSENT_AGES)) {
      expect(age).toBeGreaterThanOrEqual(13);
      expect(age).toBeLessThanOrEqual(16);
    }
  });
});

describe('ageGate', () => {
  it('lets a 15-year-old in Italy grant promotions, and refuses the same shopper in Germany, naming the age', () => {
    expect(ageGate(DEFAULT_AGE_POLICY, { country: 'IT', birthYear: FIFTEEN }, 'promotions', START_MS)).toEqual({ allowed: true });
    expect(ageGate(DEFAULT_AGE_POLICY, { country: 'DE', birthYear: FIFTEEN }, 'personalisation', START_MS))
      .toEqual({ allowed: false, requiredAge: 16, why: 'below-age' });
  });

  it('takes the youngest the birth year allows: born 2014, in 2030, counts as 15', () => {
    expect(youngestAge(FIFTEEN, START_MS)).toBe(15);
    expect(youngestAge(2030, START_MS)).toBe(0);
  });

  it('refuses P2 and P4 with no birth year, and never gates presence or analytics', () => {
    expect(ageGate(DEFAULT_AGE_POLICY, { country: 'IT', birthYear: null }, 'promotions', START_MS)).toEqual({ allowed: false, requiredAge: 14, why: 'unknown-age' });
    for (const purpose of ['presence', 'analytics'] as const) {
      expect(ageGate(DEFAULT_AGE_POLICY, { country: null, birthYear: null }, purpose, START_MS)).toEqual({ allowed: true });
    }
  });

  it('never lets through anyone who may be below the required age (property)', () => {
    fc.assert(fc.property(
      fc.constantFrom(null, 'IT', 'DE', 'FR', 'BE', 'US'), fc.integer({ min: 1900, max: 2030 }), fc.constantFrom(...PURPOSES), fc.integer({ min: 0, max: 365 }),
      (country, birthYear, purpose, day) => {
        const nowMs = START_MS + day * 86_400_000;
        const result = ageGate(DEFAULT_AGE_POLICY, { country, birthYear }, purpose, nowMs);
        if (result.allowed && (purpose === 'promotions' || purpose === 'personalisation')) {
          // Born on the last day of the birth year, the youngest they can be: their age at nowMs still passes.
          const year = new Date(nowMs).getUTCFullYear();
          const ageIfBornDec31 = year - birthYear - (nowMs < Date.UTC(year, 11, 31) ? 1 : 0);
          expect(ageIfBornDec31).toBeGreaterThanOrEqual(requiredAge(DEFAULT_AGE_POLICY, country));
        }
      },
    ));
  });

  it('flags as a lapse candidate every birth year the strictest age could refuse', () => {
    const policy: AgePolicy = { byCountry: { IT: 14, DE: 16 }, defaultAge: 15 };
    const safe = latestSafeBirthYear(policy, START_MS);
    expect(safe).toBe(2013);
    for (const country of ['IT', 'DE', 'XX']) expect(ageGate(policy, { country, birthYear: safe }, 'promotions', START_MS).allowed).toBe(true);
    expect(ageGate(policy, { country: 'DE', birthYear: safe + 1 }, 'promotions', START_MS).allowed).toBe(false);
  });
});

describe('parseAgeByCountry', () => {
  it('reads COUNTRY=AGE entries, spaces allowed', () => {
    expect(parseAgeByCountry(' IT=14 , DE = 16,')).toEqual({ ok: true, ages: { IT: 14, DE: 16 } });
    expect(parseAgeByCountry('')).toEqual({ ok: true, ages: {} });
  });

  it('names every bad entry at once', () => {
    expect(parseAgeByCountry('ITA=14,DE=sixteen,FR=12,IT')).toEqual({
      ok: false,
      problems: [
        '"ITA=14": the country must be an upper-case ISO 3166-1 alpha-2 code, like IT',
        '"DE=sixteen": the age must be a whole number of years from 13 to 18, got NaN',
        '"FR=12": the age must be a whole number of years from 13 to 18, got 12',
        '"IT" is not COUNTRY=AGE (like IT=14)',
      ],
    });
    expect(parseAgeByCountry('IT=14,IT=15')).toEqual({ ok: false, problems: ['"IT=15": IT is given twice'] });
  });
});
