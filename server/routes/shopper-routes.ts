import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { DEFAULT_ROTATION_EXPONENT } from '#gateway/protocol/index.ts';
import { CURRENT_CONSENT_TEXTS } from '../domain/consent-texts.ts';
import { PurposeSchema, type ConsentDraft, type ConsentRecord } from '../domain/consent.ts';
import { ApiError, parseOrThrow } from '../domain/errors.ts';
import { DeviceSecretSchema, deviceSecretDigest, refusedAfterObjection } from '../domain/objection.ts';
import { identityKeyFor, newAppToken, newShopperId } from '../identity.ts';
import { authenticateShopper } from '../auth/app-credential.ts';
import { identityKeyLabel } from '../resolver.ts';
import type { AppDeps } from '../app.ts';
import { applyBeaconChange } from './beacon-routes.ts';
import type { ShopperRecord } from '../store/store.ts';

// The shopper's own API, authenticated by the app's credential. A shopper reaches only their own data.

const RegisterSchema = z
  .object({
    appPublicKey: z.string().regex(/^[0-9a-f]{64}$/, 'appPublicKey is the app X25519 public key, 64 lowercase hex characters'),
    rotationExponent: z.number().int().min(0).max(10).default(DEFAULT_ROTATION_EXPONENT),
    locale: z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/, 'locale is like "en" or "it-IT"'),
    firstName: z.string().trim().min(1).max(40).optional(),
    /** DSR-3: the app's device secret (domain/objection.ts), so an objection survives a reinstall; only its keyed digest is stored. */
    deviceSecret: DeviceSecretSchema.optional(),
  })
  .strict();

const ConsentBodySchema = z
  .object({
    decisions: z
      .array(z.object({ purpose: PurposeSchema, granted: z.boolean(), textVersion: z.string().min(1), textSha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict())
      .min(1)
      .max(4),
    locale: z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/),
    clientTimeMs: z.number().int().nonnegative().optional(),
  })
  .strict();

const IdParamsSchema = z.object({ id: z.string().min(1).max(64) });

// The app credential check (expiry, rotation) lives in server/auth/app-credential.ts; re-exported for the other route files.
export { authenticateShopper };

export async function shopperRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { store, sealer, resolver, now } = deps;

  app.get('/v1/resolver', async () => ({
    publicKey: deps.resolverKeys.publicKey.toString('hex'),
    defaultRotationExponent: DEFAULT_ROTATION_EXPONENT,
    timeBase: 'unix-seconds',
    toleranceWindows: 1,
  }));

  app.get('/v1/consent-texts', async () => ({ texts: Object.values(CURRENT_CONSENT_TEXTS) }));

  app.post('/v1/shoppers', async (request, reply) => {
    const body = parseOrThrow(RegisterSchema, request.body);
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
    return { shopperId: shopper.id, locale: shopper.locale, registeredAtMs: shopper.createdAtMs, consents: await store.getConsentState(shopper.id) };
  });

  app.put('/v1/me/consents', async (request) => {
    const shopper = await authenticateShopper(deps, request);
    const body = parseOrThrow(ConsentBodySchema, request.body);
    // DSR-3: an objection is permanent; nothing is recorded. (recordPromotion re-checks it atomically.)
    const refused = shopper.objectedAtMs === null ? [] : body.decisions.flatMap((decision, i) => (refusedAfterObjection(decision) ? [i] : []));
    if (refused.length > 0) {
      const purposes = refused.map((i) => body.decisions[i]!.purpose).join(' and ');
      throw new ApiError('OBJECTED', `you objected to marketing: ${purposes} can no longer be granted`, refused.map((i) => `decisions.${i}`));
    }
    const records: ConsentDraft[] = body.decisions.map((decision, i) => {
      const current = CURRENT_CONSENT_TEXTS[decision.purpose];
      if (decision.textVersion !== current.version || decision.textSha256 !== current.sha256) {
        throw new ApiError('STALE_CONSENT_TEXT', `decisions.${i}: answers text ${decision.textVersion}, but the current ${decision.purpose} text is ${current.version} (sha256 ${current.sha256}); show it and ask again`, [`decisions.${i}`]);
      }
      return {
        id: randomUUID(), shopperId: shopper.id, purpose: decision.purpose, granted: decision.granted, textVersion: current.version,
        textSha256: current.sha256, locale: body.locale, serverTimeMs: now(), clientTimeMs: body.clientTimeMs ?? null, channel: 'app',
      };
    });
    // ACC-1: one audit entry per answer, written in the same transaction as the record. Each record's
    // previous state is read in that transaction (CON-3), even when a request answers a purpose twice
    // or two requests of this shopper race.
    const audit = (stored: readonly ConsentRecord[]) => stored.map((record) => ({
      atMs: record.serverTimeMs, actor: 'shopper', action: 'consent.changed', subject: shopper.id,
      details: { purpose: record.purpose, granted: record.granted, previousGranted: record.previousGranted, textVersion: record.textVersion, channel: record.channel },
    }));
    const state = await store.appendConsent(records, audit);
    // CON-4: no send on this instance that read consent before this commit goes out after the answer.
    if (records.some((record) => !record.granted)) deps.delivery.fence(shopper.id);
    // CON-4: the resolver forgets a shopper who withdrew presence before this response is sent.
    await resolver.refresh(shopper.id, state);
    // Their loyalty beacons follow presence consent too, in resolution and in the gateways' configs.
    const presenceAnswered = records.some((r) => r.purpose === 'presence');
    await applyBeaconChange(deps, presenceAnswered && (await store.listBeacons(shopper.id)).length > 0);
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

  // Authenticated before the upgrade: an unauthenticated client gets a 401, never a socket.
  const streamShopper = new WeakMap<FastifyRequest, ShopperRecord>();
  app.get(
    '/v1/me/promotions/stream',
    { websocket: true, preValidation: async (request) => void streamShopper.set(request, await authenticateShopper(deps, request)) },
    (socket, request) => deps.delivery.attach(streamShopper.get(request)!.id, socket),
  );
}
