import { DEFAULT_AGE_POLICY, type AgePolicy } from '../domain/age-gate.ts';
import { consentPolicyOf, DEFAULT_CONSENT_CATALOG, DEFAULT_CONSENT_VALIDITY_MS, validateCatalog, type ConsentCatalog } from '../domain/consent-texts.ts';
import type { ConsentPolicy } from '../domain/consent.ts';

// The consent ledger's settings a server runs with: the text catalog (ACC-3; injectable, so a deployment —
// or a test — publishes a new version), how long a grant counts (CON-6) and the digital-consent ages (CON-7).
// Every part has the built-in default; resolveConsentConfig fills them in and checks the catalog.

export type ConsentConfig = { catalog: ConsentCatalog; validityMs: number; agePolicy: AgePolicy };

export type ConsentConfigInput = Partial<ConsentConfig>;

export function resolveConsentConfig(input: ConsentConfigInput = {}): ConsentConfig & { policy: ConsentPolicy } {
  const catalog = input.catalog ?? DEFAULT_CONSENT_CATALOG;
  validateCatalog(catalog);
  const validityMs = input.validityMs ?? DEFAULT_CONSENT_VALIDITY_MS;
  if (!(Number.isSafeInteger(validityMs) && validityMs > 0 && validityMs <= DEFAULT_CONSENT_VALIDITY_MS)) {
    throw new RangeError(`consent validityMs must be a positive integer of at most ${DEFAULT_CONSENT_VALIDITY_MS} (365 days), got ${validityMs}`);
  }
  const agePolicy = input.agePolicy ?? DEFAULT_AGE_POLICY;
  return { catalog, validityMs, agePolicy, policy: consentPolicyOf(catalog, validityMs) };
}
