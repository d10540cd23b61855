import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { DEFAULT_ROTATION_EXPONENT } from '#gateway/protocol/index.ts';
import { ageGate, birthYearRange, COUNTRY_PATTERN, type AgeFacts } from '../domain/age-gate.ts';
import { currentTexts, findCurrentText } from '../domain/consent-texts.ts';
import { purposeStatuses } from '../domain/consent-lapse.ts';
import { isGranted, PURPOSES, PurposeSchema, type ConsentDraft, type ConsentRecord } from '../domain/consent.ts';
import { resolveConsentConfig } from '../consent/consent-config.ts';
import { lapseWrite } from '../consent/lapse-job.ts';
import { InterestSchema, LoyaltyTierSchema } from '../domain/campaign.ts';
import { ApiError, parseOrThrow } from '../domain/errors.ts';
import { DeviceSecretSchema, deviceSecretDigest, ObjectedGrantError, refusedAfterObjection } from '../domain/objection.ts';
import { identityKeyFor, newAppToken, newShopperId } from '../identity.ts';
import { authenticateShopper } from '../auth/app-credential.ts';
import { identityKeyLabel } from '../resolver.ts';
import type { AppDeps } from '../app.ts';
import { applyBeaconChange } from './beacon-routes.ts';
import type { ShopperRecord } from '../store/store.ts';

// The shopper's own API, authenticated by the app's credential. A shopper reaches only their own data.

export const RegisterSchema = z
  .object({
    appPublicKey: z.string().regex(/^[0-9a-f]{64}$/, 'appPublicKey is the app X25519 public key, 64 lowercase hex characters'),
    rotationExponent: z.number().int().min(0).max(10).default(DEFAULT_ROTATION_EXPONENT),
    locale: z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/, 'locale is like "en" or "it-IT"'),
    firstName: z.string().trim().min(1).max(40).optional(),
    /** DSR-3: the app's device secret (domain/objection.ts), so an objection survives a reinstall; only its keyed digest is stored. */
    deviceSecret: DeviceSecretSchema.optional(),
    // CON-7: the age gate's facts, both optional (without a birth year, P2 and P4 cannot be granted).
    country: z.string().regex(COUNTRY_PATTERN, 'country is an upper-case ISO 3166-1 alpha-2 code, like "IT"').optional(),
    birthYear: z.number().int('birthYear is a whole year, like 1990').optional(),
  })
  .strict();

// CON-7: the age gate's facts, settable later too; null clears one. The shopper's own attributes
// (loyalty tier, interests) are used for segments and templates only with personalisation (P2).
export const ProfilePatchSchema = z
  .object({
    country: z.string().regex(COUNTRY_PATTERN, 'country is an upper-case ISO 3166-1 alpha-2 code, like "IT"').nullable().optional(),
    birthYear: z.number().int('birthYear is a whole year, like 1990').nullable().optional(),
    loyaltyTier: LoyaltyTierSchema.nullable().optional(),
    interests: z.array(InterestSchema).max(50).refine((list) => new Set(list).size === list.length, 'an interest is listed twice').optional(),
  })
  .strict()
  .refine((body) => Object.values(body).some((value) => value !== undefined), 'send country, birthYear, loyaltyTier or interests');

export const TextsQuerySchema = z.object({ locale: z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/, 'locale is like "en" or "it-IT"').optional() }).strict();
export const Sha256ParamsSchema = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 is 64 lowercase hex characters') });

/** A birth year no living shopper can have is a typo: refused, naming the field. */
function checkBirthYear(birthYear: number | null | undefined, nowMs: number): void {
  if (birthYear === undefined || birthYear === null) return;
  const { min, max } = birthYearRange(nowMs);
  if (birthYear < min || birthYear > max) throw new ApiError('INVALID_BODY', `birthYear must be from ${min} to ${max}`, ['birthYear']);
}

export const ConsentBodySchema = z
  .object({
    decisions: z
      .array(z.object({ purpose: PurposeSchema, granted: z.boolean(), textVersion: z.string().min(1), textSha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict())
      .min(1)
      .max(4),
    locale: z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/),
    clientTimeMs: z.number().int().nonnegative().optional(),
  })
  .strict();

export const IdParamsSchema = z.object({ id: z.string().min(1).max(64) });

// The app credential check (expiry, rotation) lives in server/auth/app-credential.ts; re-exported for the other route files.
export { authenticateShopper };

export async function shopperRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { store, sealer, resolver, now } = deps;
  const consent = resolveConsentConfig(deps.consent);

  app.get('/v1/resolver', async () => ({
    publicKey: deps.resolverKeys.publicKey.toString('hex'),
    defaultRotationExponent: DEFAULT_ROTATION_EXPONENT,
    timeBase: 'unix-seconds',
    toleranceWindows: 1,
  }));

  // ACC-3: the current texts in the asked locale (English where one was not written in it), and any text ever shown, by hash.
  app.get('/v1/consent-texts', async (request) => {
    const { locale } = parseOrThrow(TextsQuerySchema, request.query, 'INVALID_PARAMS');
    return { texts: Object.values(currentTexts(consent.catalog, locale)) };
  });

  app.get('/v1/consent-texts/:sha256', async (request) => {
    const { sha256 } = parseOrThrow(Sha256ParamsSchema, request.params, 'INVALID_PARAMS');
    const text = await store.getConsentText(sha256);
    if (text === undefined) throw new ApiError('NOT_FOUND', `no archived consent text with sha256 ${sha256}`, ['sha256']);
    return text;
  });

  app.post('/v1/shoppers', async (request, reply) => {
    const body = parseOrThrow(RegisterSchema, request.body);
    checkBirthYear(body.birthYear, now());
    const appPublicKey = Buffer.from(body.appPublicKey, 'hex');
    let identityKey: Buffer;
    try {
      identityKey = identityKeyFor(deps.resolverKeys, appPublicKey);
    } catch (error) {
      throw new ApiError('INVALID_BODY', `appPublicKey: ${(error as Error).message}`, ['appPublicKey']);
    }
    const id = newShopperId();
    const { token, tokenHash } = newAppToken();
    const shopper = await store.createShopper({
      id, tokenHash, identityKeySealed: sealer.seal(identityKey, identityKeyLabel(id)), rotationExponent: body.rotationExponent,
      locale: body.locale, firstName: body.firstName ?? null, createdAtMs: now(), erasedAtMs: null,
      deviceSecretDigest: body.deviceSecret === undefined ? null : deviceSecretDigest(deps.deviceSecretDigestKey, body.deviceSecret),
      country: body.country ?? null, birthYear: body.birthYear ?? null,
    });
    identityKey.fill(0);
    // CON-1: registered but not yet consenting — the resolver does not index this shopper yet.
    // objected: this device objected to marketing under an earlier registration (DSR-3); P2 and P4 cannot be granted.
    return reply.code(201).send({
      shopperId: id, token, rotationExponent: body.rotationExponent, resolverPublicKey: deps.resolverKeys.publicKey.toString('hex'), objected: shopper.objectedAtMs !== null,
    });
  });

  app.get('/v1/me', async (request) => {
    const shopper = await authenticateShopper(deps, request);
    const nowMs = now();
    const statuses = purposeStatuses(await store.listConsentRecords(shopper.id), consent.policy, nowMs);
    const texts = currentTexts(consent.catalog, shopper.locale);
    // CON-6: a purpose that needs re-consent names the text to show.
    const purposes = Object.fromEntries(PURPOSES.map((purpose) => {
      const view = statuses[purpose];
      const { version, sha256, locale } = texts[purpose];
      return [purpose, view.status === 'needs-reconsent' ? { ...view, currentText: { version, sha256, locale } } : view];
    }));
    return {
      shopperId: shopper.id, locale: shopper.locale, registeredAtMs: shopper.createdAtMs, country: shopper.country ?? null, birthYear: shopper.birthYear ?? null,
      loyaltyTier: shopper.loyaltyTier ?? null, interests: shopper.interests ?? [], consents: await store.getConsentState(shopper.id), purposes,
    };
  });

  app.patch('/v1/me', async (request) => {
    const shopper = await authenticateShopper(deps, request);
    const body = parseOrThrow(ProfilePatchSchema, request.body);
    const nowMs = now();
    checkBirthYear(body.birthYear, nowMs);
    const facts: AgeFacts = { country: body.country === undefined ? shopper.country ?? null : body.country, birthYear: body.birthYear === undefined ? shopper.birthYear ?? null : body.birthYear };
    await store.setShopperAgeFacts(shopper.id, facts);
    const attributes = { loyaltyTier: body.loyaltyTier === undefined ? shopper.loyaltyTier ?? null : body.loyaltyTier, interests: body.interests ?? shopper.interests ?? [] };
    if (body.loyaltyTier !== undefined || body.interests !== undefined) await store.setShopperAttributes(shopper.id, attributes);
    // CON-7: facts that no longer pass the gate end the P2/P4 grants they held, as the lapse job would.
    const state = await store.getConsentState(shopper.id);
    const records = await store.listConsentRecords(shopper.id);
    const lapses = PURPOSES.filter((purpose) => isGranted(state, purpose) && !ageGate(consent.agePolicy, facts, purpose, nowMs).allowed).map((purpose) => {
      const grant = records.filter((r) => r.purpose === purpose).at(-1)!;
      const { textVersion, atMs } = state[purpose]!;
      return lapseWrite({ shopperId: shopper.id, purpose, textVersion, atMs, textSha256: grant.textSha256, locale: grant.locale, ...facts }, 'age-gate', nowMs);
    });
    if (lapses.length > 0) {
      await store.appendConsentLapses(lapses);
      deps.announce({ type: 'shopper', id: shopper.id });
    }
    return { country: facts.country, birthYear: facts.birthYear, ...attributes, consents: await store.getConsentState(shopper.id) };
  });

  app.put('/v1/me/consents', async (request) => {
    const shopper = await authenticateShopper(deps, request);
    const body = parseOrThrow(ConsentBodySchema, request.body);
    // DSR-3: an objection is permanent; nothing is recorded. (recordPromotion re-checks it atomically.)
    const barredByObjection = body.decisions.flatMap((decision, i) => (refusedAfterObjection(decision) ? [i] : []));
    const objected = (): ApiError => new ApiError('OBJECTED', `you objected to marketing: ${barredByObjection.map((i) => body.decisions[i]!.purpose).join(' and ')} can no longer be granted`,
      barredByObjection.map((i) => `decisions.${i}`));
    if (shopper.objectedAtMs !== null && barredByObjection.length > 0) throw objected();
    const nowMs = now();
    const shown = currentTexts(consent.catalog, body.locale);
    const facts: AgeFacts = { country: shopper.country ?? null, birthYear: shopper.birthYear ?? null };
    const refused: { purpose: string; requiredAge: number; why: string; field: string }[] = [];
    const records: ConsentDraft[] = body.decisions.map((decision, i) => {
      // Any locale of the current version will do; the record keeps the exact text's hash and locale (ACC-3).
      const text = findCurrentText(consent.catalog, decision.purpose, decision.textVersion, decision.textSha256);
      if (text === undefined) {
        const current = shown[decision.purpose];
        throw new ApiError('STALE_CONSENT_TEXT', `decisions.${i}: answers text ${decision.textVersion} (sha256 ${decision.textSha256}), but the current ${decision.purpose} text is ${current.version} (sha256 ${current.sha256} in ${current.locale}); show it and ask again`, [`decisions.${i}`]);
      }
      if (decision.granted) {
        const gate = ageGate(consent.agePolicy, facts, decision.purpose, nowMs);
        if (!gate.allowed) refused.push({ purpose: decision.purpose, requiredAge: gate.requiredAge, why: gate.why, field: `decisions.${i}` });
      }
      return {
        id: randomUUID(), shopperId: shopper.id, purpose: decision.purpose, granted: decision.granted, textVersion: text.version,
        textSha256: text.sha256, locale: text.locale, serverTimeMs: nowMs, clientTimeMs: body.clientTimeMs ?? null, channel: 'app', reason: null,
      };
    });
    // CON-7: a P2/P4 grant below the country's digital-consent age (or with no birth year) records nothing. The refusal is audited, without the birth year.
    if (refused.length > 0) {
      for (const r of refused) {
        await store.appendAudit({ atMs: nowMs, actor: 'shopper', action: 'consent.refused', subject: shopper.id, details: { purpose: r.purpose, requiredAge: r.requiredAge, why: r.why } });
      }
      const reasons = refused.map((r) => `${r.field}: granting ${r.purpose} needs the shopper to be at least ${r.requiredAge}${facts.country === null ? '' : ` in ${facts.country}`}${r.why === 'unknown-age' ? ' (no birth year given: set it with PATCH /v1/me)' : ''}`);
      throw new ApiError('AGE_GATE', reasons.join('; '), refused.map((r) => r.field));
    }
    // ACC-1: one audit entry per answer, written in the same transaction as the record. Each record's
    // previous state is read in that transaction (CON-3), even when a request answers a purpose twice
    // or two requests of this shopper race.
    const audit = (stored: readonly ConsentRecord[]) => stored.map((record) => ({
      atMs: record.serverTimeMs, actor: 'shopper', action: 'consent.changed', subject: shopper.id,
      details: { purpose: record.purpose, granted: record.granted, previousGranted: record.previousGranted, textVersion: record.textVersion, channel: record.channel },
    }));
    const state = await store.appendConsent(records, audit).catch((error: unknown) => {
      // An objection committed after the check above (a racing request): the Store refused, atomically.
      if (error instanceof ObjectedGrantError) throw objected();
      throw error;
    });
    // CON-4: no send on this instance that read consent before this commit goes out after the answer.
    if (records.some((record) => !record.granted)) deps.delivery.fence(shopper.id);
    // CON-4: the resolver forgets a shopper who withdrew presence before this response is sent.
    await resolver.refresh(shopper.id, state);
    // Their loyalty beacons follow presence consent too, in resolution and in the gateways' configs.
    const presenceAnswered = records.some((r) => r.purpose === 'presence');
    await applyBeaconChange(deps, presenceAnswered && (await store.listBeacons(shopper.id)).length > 0, shopper.id);
    deps.announce({ type: 'shopper', id: shopper.id });
    return { consents: state };
  });

  app.get('/v1/me/promotions', async (request) => {
    const shopper = await authenticateShopper(deps, request);
    return { promotions: (await store.listUnackedPromotions(shopper.id, now())).map((p) => p.message) };
  });

  app.post('/v1/me/promotions/:id/ack', async (request, reply) => {
    const shopper = await authenticateShopper(deps, request);
    const { id } = parseOrThrow(IdParamsSchema, request.params, 'INVALID_PARAMS');
    if (!(await store.ackPromotion(shopper.id, id, now()))) throw new ApiError('NOT_FOUND', `no promotion ${id} for this shopper`);
    deps.metrics.acks.inc();
    return reply.code(204).send();
  });

  // Analytics (issue 6): the shopper opened their promotion. Idempotent (the first open is kept); it counts as an ack.
  app.post('/v1/me/promotions/:id/opened', async (request, reply) => {
    const shopper = await authenticateShopper(deps, request);
    const { id } = parseOrThrow(IdParamsSchema, request.params, 'INVALID_PARAMS');
    if (!(await store.markPromotionOpened(shopper.id, id, now()))) throw new ApiError('NOT_FOUND', `no promotion ${id} for this shopper`);
    deps.metrics.opens.inc();
    return reply.code(204).send();
  });

  // Authenticated before the upgrade: an unauthenticated client gets a 401, never a socket.
  const streamShopper = new WeakMap<FastifyRequest, ShopperRecord>();
  app.get(
    '/v1/me/promotions/stream',
    { websocket: true, preValidation: async (request) => void streamShopper.set(request, await authenticateShopper(deps, request)) },
    (socket, request) => deps.delivery.attach(streamShopper.get(request)!.id, socket),
  );
}
