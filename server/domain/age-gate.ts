import type { Purpose } from './consent.ts';

// The age gate (CON-7): no personalisation (P2) or promotions (P4) below the digital-consent age of the
// shopper's country. GDPR art. 8(1) sets 16 and lets each member state lower it to no less than 13;
// the table below lists the national ages (EU, EEA and the UK). Presence (P1) and analytics (P3) are
// not gated. Age is known only as a birth year, so it is taken conservatively: the youngest the shopper
// can be (their birthday this year not yet come), and an unknown age never passes.

export const AGE_GATED_PURPOSES: readonly Purpose[] = ['personalisation', 'promotions'];

/** Art. 8(1) GDPR default, used for a country not in the table or an unknown country. */
export const GDPR_DEFAULT_CONSENT_AGE = 16;

/** National digital-consent ages (art. 8 GDPR as implemented), by ISO 3166-1 alpha-2 code. */
export const DEFAULT_CONSENT_AGES: Readonly<Record<string, number>> = {
  AT: 14, BE: 13, BG: 14, CY: 14, CZ: 15, DE: 16, DK: 13, EE: 13, ES: 14, FI: 13, FR: 15, GB: 13, GR: 15, HR: 16, HU: 16,
  IE: 16, IS: 13, IT: 14, LI: 16, LT: 14, LU: 16, LV: 13, MT: 13, NL: 16, NO: 13, PL: 16, PT: 13, RO: 16, SE: 13, SI: 15, SK: 16,
};

/** The ages in force: the table (with configured overrides) and the age for every other country. */
export type AgePolicy = { byCountry: Readonly<Record<string, number>>; defaultAge: number };

export const DEFAULT_AGE_POLICY: AgePolicy = { byCountry: DEFAULT_CONSENT_AGES, defaultAge: GDPR_DEFAULT_CONSENT_AGE };

/** What the age gate knows about a shopper: both may be unknown. */
export type AgeFacts = { country: string | null; birthYear: number | null };

export const requiredAge = (policy: AgePolicy, country: string | null): number =>
  (country === null ? undefined : policy.byCountry[country]) ?? policy.defaultAge;

/** The youngest a person born in birthYear can be at nowMs (UTC calendar year). */
export const youngestAge = (birthYear: number, nowMs: number): number => Math.max(0, new Date(nowMs).getUTCFullYear() - birthYear - 1);

export type AgeGateResult = { allowed: true } | { allowed: false; requiredAge: number; why: 'unknown-age' | 'below-age' };

/** Whether a shopper may hold a P2/P4 grant now. Purposes outside AGE_GATED_PURPOSES always may. */
export function ageGate(policy: AgePolicy, facts: AgeFacts, purpose: Purpose, nowMs: number): AgeGateResult {
  if (!AGE_GATED_PURPOSES.includes(purpose)) return { allowed: true };
  const age = requiredAge(policy, facts.country);
  if (facts.birthYear === null) return { allowed: false, requiredAge: age, why: 'unknown-age' };
  return youngestAge(facts.birthYear, nowMs) >= age ? { allowed: true } : { allowed: false, requiredAge: age, why: 'below-age' };
}

/**
 * The latest birth year that passes every age in the policy: a shopper born after it may be below their
 * country's age. The lapse job's candidate query uses it as a coarse, indexed pre-filter; ageGate decides.
 */
export function latestSafeBirthYear(policy: AgePolicy, nowMs: number): number {
  const oldest = Math.max(policy.defaultAge, ...Object.values(policy.byCountry));
  return new Date(nowMs).getUTCFullYear() - 1 - oldest;
}

/** The plausible birth years at nowMs: nobody older than 120, nobody born in the future. */
export const birthYearRange = (nowMs: number): { min: number; max: number } => {
  const year = new Date(nowMs).getUTCFullYear();
  return { min: year - 120, max: year };
};

export const COUNTRY_PATTERN = /^[A-Z]{2}$/;
const AGE_MIN = 13;
const AGE_MAX = 18;

/** A consent age as configured: art. 8 allows 13–16; a controller may be stricter, up to 18. */
export function checkConsentAge(age: number, name: string): string | undefined {
  if (!Number.isInteger(age) || age < AGE_MIN || age > AGE_MAX) return `${name} must be a whole number of years from ${AGE_MIN} to ${AGE_MAX}, got ${age}`;
  return undefined;
}

/**
 * Parses "IT=14,DE=16" (CONSENT_AGE_BY_COUNTRY) into overrides of the table; returns every problem at once,
 * each naming the entry at fault.
 */
export function parseAgeByCountry(text: string): { ok: true; ages: Record<string, number> } | { ok: false; problems: string[] } {
  const ages: Record<string, number> = {};
  const problems: string[] = [];
  const entries = text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  for (const entry of entries) {
    const match = /^([A-Za-z]+)\s*=\s*(\S+)$/.exec(entry);
    if (match === null) {
      problems.push(`"${entry}" is not COUNTRY=AGE (like IT=14)`);
      continue;
    }
    const [, country, ageText] = match as unknown as [string, string, string];
    if (!COUNTRY_PATTERN.test(country)) problems.push(`"${entry}": the country must be an upper-case ISO 3166-1 alpha-2 code, like IT`);
    else if (Object.hasOwn(ages, country)) problems.push(`"${entry}": ${country} is given twice`);
    const problem = checkConsentAge(Number(ageText), `"${entry}": the age`);
    if (problem !== undefined) problems.push(problem);
    else if (COUNTRY_PATTERN.test(country)) ages[country] = Number(ageText);
  }
  return problems.length === 0 ? { ok: true, ages } : { ok: false, problems };
}
