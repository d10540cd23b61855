import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { beaconIdentifierFromBytes, beaconIdentifierLabel } from '../domain/beacon-identifier.ts';
import { CURRENT_CONSENT_TEXTS } from '../domain/consent-texts.ts';
import type { ConsentRecord } from '../domain/consent.ts';
import { ApiError, parseOrThrow } from '../domain/errors.ts';
import { objectionRecords } from '../domain/objection.ts';
import { PushTargetSchema } from '../domain/push-target.ts';
import { pushTargetLabel } from '../delivery/push-targets.ts';
import { exportCounts, exportedConsentRecord, SHOPPER_EXPORT_SCHEMA, SHOPPER_EXPORT_SCHEMA_PATH, shopperExportJsonSchema, type ShopperExport } from '../domain/shopper-export.ts';
import type { AppDeps } from '../app.ts';
import type { Sealer } from '../domain/sealing.ts';
import type { ShopperData, ShopperRecord } from '../store/store.ts';
import { applyBeaconChange } from './beacon-routes.ts';
import { authenticateSignedRequest } from '../auth/request-proof.ts';

// The shopper's data-subject rights (shared/reference/privacy-requirements.md DSR-1…4, ID-4), on their
// own data only: no route takes another shopper's ID, so a credential reaches its own shopper and no
// one else. What each keeps, and why, is in docs/data-subject-rights.md.
//   GET    /v1/me/export       DSR-1 everything held about them, one JSON document (schema below)
//   DELETE /v1/me             DSR-2 erasure; the identity key is destroyed (crypto-shredding, ID-4)
//   POST   /v1/me/objection   DSR-3 permanent objection to marketing (P4, P2), surviving re-registration
//   PUT    /v1/me/restriction DSR-4 restriction of processing, on or off
// Every one is audited, the change and its entry in one transaction; details are counts, never content.

export const RestrictionBodySchema = z.object({ restricted: z.boolean() }).strict();
export const ObjectionBodySchema = z.object({ clientTimeMs: z.number().int().nonnegative().optional() }).strict();

/**
 * The one place these routes authenticate. The rights reveal or destroy everything, so a bearer
 * credential alone is not enough (a leaked one would hand over the whole export, or erase the
 * shopper): the request must also carry the app's Vicino-Proof — signed with a key derived from the
 * identity key only the app and the resolver hold, fresh (±300 s) and single-use
 * (server/auth/request-proof.ts; refusals are audited).
 */
export async function authenticateForRights(deps: AppDeps, request: FastifyRequest): Promise<ShopperRecord> {
  return authenticateSignedRequest(deps, request);
}

/** The export document from what the Store read; beacon identifiers are opened here, for their owner. */
export function shopperExport(data: ShopperData, sealer: Sealer, exportedAtMs: number): ShopperExport {
  const { shopper } = data;
  return {
    schema: SHOPPER_EXPORT_SCHEMA,
    exportedAtMs,
    profile: {
      shopperId: shopper.id, locale: shopper.locale, firstName: shopper.firstName, registeredAtMs: shopper.createdAtMs, rotationExponent: shopper.rotationExponent,
      restricted: shopper.restricted, objectedAtMs: shopper.objectedAtMs, deviceSecretRegistered: shopper.deviceSecretDigest !== null,
      country: shopper.country ?? null, birthYear: shopper.birthYear ?? null, credentialIssuedAtMs: shopper.tokenIssuedAtMs,
      loyaltyTier: shopper.loyaltyTier ?? null, interests: shopper.interests ?? [],
    },
    consents: {
      state: data.consentState,
      records: data.consentRecords.map(exportedConsentRecord),
    },
    presenceEvents: data.presenceEvents.map((e) => ({ eventId: e.eventId, storeId: e.storeId, zoneId: e.zoneId, kind: e.kind, atS: e.atS, dwellS: e.dwellS, receivedAtMs: e.receivedAtMs })),
    zoneStates: data.zoneStates.map((z) => ({ storeId: z.storeId, state: z.state, dueAtMs: z.dueAtMs })),
    visits: data.visits.map((v) => ({ storeId: v.storeId, visitCount: v.visitCount, visitStartedAtMs: v.visitStartedAtMs, lastSeenAtMs: v.lastSeenAtMs, previousVisitLastSeenMs: v.previousVisitLastSeenMs })),
    promotions: data.promotions.map((p) => ({
      id: p.id, campaignId: p.campaignId, eventId: p.eventId, storeId: p.storeId, zoneId: p.zoneId, status: p.status,
      createdAtMs: p.createdAtMs, deliveredAtMs: p.deliveredAtMs, ackedAtMs: p.ackedAtMs, redeemedAtMs: p.redeemedAtMs, message: p.message,
      variant: p.variant, openedAtMs: p.openedAtMs, convertedAtMs: p.convertedAtMs,
    })),
    beacons: data.beacons.map((b) => ({
      id: b.id, createdAtMs: b.createdAtMs, ...beaconIdentifierFromBytes(b.kind, sealer.open(b.identifierSealed, beaconIdentifierLabel(b.id))),
    })),
    pushTarget: data.pushTarget === null ? null : { ...PushTargetSchema.parse(JSON.parse(sealer.open(data.pushTarget.sealed, pushTargetLabel(shopper.id)).toString('utf8'))), updatedAtMs: data.pushTarget.updatedAtMs },
    audit: data.audit.map((a) => ({ seq: a.seq, atMs: a.atMs, actor: a.actor, action: a.action, details: a.details as ShopperExport['audit'][number]['details'] })),
  };
}

export async function rightsRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { store, resolver, now } = deps;
  const jsonSchema = shopperExportJsonSchema();

  app.get(SHOPPER_EXPORT_SCHEMA_PATH, async (_request, reply) => reply.type('application/schema+json').send(jsonSchema));

  app.get('/v1/me/export', async (request, reply) => {
    const shopper = await authenticateForRights(deps, request);
    const data = await store.readShopperData(shopper.id);
    // Erased between authentication and the read: their credential is revoked now.
    if (data === undefined) throw new ApiError('UNAUTHENTICATED', 'unknown or revoked app credential');
    const document = shopperExport(data, deps.sealer, now());
    await store.appendAudit({ atMs: document.exportedAtMs, actor: 'shopper', action: 'shopper.exported', subject: shopper.id, details: exportCounts(document) });
    return reply
      .header('content-disposition', `attachment; filename="vicino-export-${shopper.id}.json"`)
      .header('cache-control', 'no-store')
      .send(document);
  });

  app.delete('/v1/me', async (request, reply) => {
    const shopper = await authenticateForRights(deps, request);
    const atMs = now();
    const erased = await store.eraseShopper(shopper.id, atMs, (counts) => ({ atMs, actor: 'shopper', action: 'shopper.erased', subject: shopper.id, details: counts }));
    if (erased === undefined) throw new ApiError('UNAUTHENTICATED', 'unknown or revoked app credential');
    // ID-4: this instance's resolver forgets them now; every other instance on the announcement (or its resync).
    await resolver.refresh(shopper.id);
    await applyBeaconChange(deps, erased.beacons > 0, shopper.id);
    deps.delivery.disconnect(shopper.id, 'erased');
    deps.announce({ type: 'shopper', id: shopper.id });
    request.log.info({ erased }, 'shopper erased');
    return reply.code(204).send();
  });

  app.post('/v1/me/objection', async (request) => {
    const shopper = await authenticateForRights(deps, request);
    const body = parseOrThrow(ObjectionBodySchema, request.body ?? {});
    const atMs = now();
    const records = objectionRecords({
      shopperId: shopper.id, state: await store.getConsentState(shopper.id), texts: CURRENT_CONSENT_TEXTS, locale: shopper.locale,
      atMs, clientTimeMs: body.clientTimeMs ?? null, newId: randomUUID,
    });
    // ACC-1: each withdrawal audited as any consent change, and the objection itself, in the same transaction.
    const audit = (stored: readonly ConsentRecord[]) => [
      ...stored.map((r) => ({
        atMs, actor: 'shopper', action: 'consent.changed', subject: shopper.id,
        details: { purpose: r.purpose, granted: false, previousGranted: r.previousGranted, textVersion: r.textVersion, channel: r.channel },
      })),
      { atMs, actor: 'shopper', action: 'shopper.objected', subject: shopper.id, details: { purposes: records.map((r) => r.purpose), deviceSecret: shopper.deviceSecretDigest !== null } },
    ];
    const result = await store.recordObjection(shopper.id, atMs, records, audit);
    if (result.outcome === 'objected') {
      await resolver.refresh(shopper.id, result.state);
      deps.announce({ type: 'shopper', id: shopper.id });
    }
    return { objected: true, objectedAtMs: result.outcome === 'objected' ? atMs : shopper.objectedAtMs, consents: result.state };
  });

  app.put('/v1/me/restriction', async (request) => {
    const shopper = await authenticateForRights(deps, request);
    const { restricted } = parseOrThrow(RestrictionBodySchema, request.body);
    const atMs = now();
    const changed = await store.setRestriction(shopper.id, restricted, atMs, {
      atMs, actor: 'shopper', action: restricted ? 'shopper.restricted' : 'shopper.unrestricted', subject: shopper.id, details: {},
    });
    if (changed) {
      // As a consent change: this resolver at once, the beacons in resolution and in the gateways' configs, the other instances.
      await resolver.refresh(shopper.id);
      await applyBeaconChange(deps, (await store.listBeacons(shopper.id)).length > 0, shopper.id);
      deps.announce({ type: 'shopper', id: shopper.id });
    }
    return { restricted };
  });
}
