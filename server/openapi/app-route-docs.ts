import { z } from 'zod';
import { BeaconIdentifierSchema } from '../domain/beacon-identifier.ts';
import { PushTargetSchema } from '../domain/push-target.ts';
import { SHOPPER_EXPORT_SCHEMA_PATH, ShopperExportSchema } from '../domain/shopper-export.ts';
import { SightingSchema } from '../domain/store-beacons.ts';
import { BeaconParamsSchema } from '../routes/beacon-routes.ts';
import { RedemptionBodySchema } from '../routes/pos-routes.ts';
import { ObjectionBodySchema, RestrictionBodySchema } from '../routes/rights-routes.ts';
import { ConsentBodySchema, IdParamsSchema, ProfilePatchSchema, RegisterSchema, Sha256ParamsSchema, TextsQuerySchema } from '../routes/shopper-routes.ts';
import { RotateBodySchema } from '../routes/token-routes.ts';
import {
  ArchivedConsentTextSchema, BeaconLinkedSchema, BeaconListSchema, ConsentsSchema, ConsentTextsSchema, HealthSchema, ObjectionSchema, ProfileSchema, PromotionListSchema,
  RedeemedSchema, RegionsSchema, RegisteredSchema, ResolverInfoSchema, RestrictionSchema, ShopperSelfSchema, SightingOutcomeSchema, StatusSchema, TokenRotatedSchema,
} from './response-schemas.ts';
import type { RouteDoc } from './route-docs.ts';

// The shopper app's API (/v1/me and registration), the point of sale, and the public routes (privacy
// notices, health, metrics, status, the console page, this documentation), for openapi-document.ts.
// docs/app-integration.md is the app developer's guide; this is the reference.

export const APP_ROUTE_DOCS: Record<string, RouteDoc> = {
  // Registration and what the app needs before it.
  'GET /v1/resolver': {
    summary: "The resolver's public key", description: 'What an app needs to derive its identity key at registration.', tag: 'Shopper app',
    responses: { 200: { description: 'the key and the rotation parameters', schema: ResolverInfoSchema } },
  },
  'GET /v1/consent-texts': {
    summary: 'Current consent texts', description: 'One per purpose, in the asked locale (English where it was not written in it) (ACC-3).', tag: 'Consent', query: TextsQuerySchema,
    responses: { 200: { description: 'the texts, with their versions and hashes', schema: ConsentTextsSchema } },
  },
  'GET /v1/consent-texts/:sha256': {
    summary: 'A consent text ever shown, by hash', tag: 'Consent', params: Sha256ParamsSchema,
    responses: { 200: { description: 'the archived text', schema: ArchivedConsentTextSchema } }, errors: ['NOT_FOUND'],
  },
  'POST /v1/shoppers': {
    summary: 'Register an app', description: 'Registered is not consenting: nothing is processed until a purpose is granted (CON-1).', tag: 'Shopper app', body: RegisterSchema,
    responses: { 201: { description: "the shopper's ID and the app's credential", schema: RegisteredSchema } },
  },

  // The shopper's own data.
  'GET /v1/me': {
    summary: 'The shopper, their consents and purposes', tag: 'Shopper app', errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED'],
    responses: { 200: { description: 'the profile, the consent state and each purpose\'s status', schema: ShopperSelfSchema } },
  },
  'PATCH /v1/me': {
    summary: 'Update age facts and attributes', description: 'Country and birth year (the age gate, CON-7), loyalty tier and interests; null clears one.', tag: 'Shopper app', body: ProfilePatchSchema,
    responses: { 200: { description: 'the profile after the change', schema: ProfileSchema } }, errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED'],
  },
  'PUT /v1/me/consents': {
    summary: 'Answer consent requests', description: 'Each decision names the text it answers, by version and SHA-256; a stale text is refused with 409 STALE_CONSENT_TEXT.', tag: 'Consent', body: ConsentBodySchema,
    responses: { 200: { description: 'the consent state after the answers', schema: ConsentsSchema } },
    errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED', 'STALE_CONSENT_TEXT', 'AGE_GATE', 'OBJECTED'],
  },
  'POST /v1/me/token': {
    summary: "Rotate the app's credential", description: 'Needs the current credential (expired is fine) and a request proof; the old credential is refused from then on.', tag: 'Shopper app',
    auth: 'app-proof', body: RotateBodySchema, bodyOptional: true,
    responses: { 201: { description: 'the new credential', schema: TokenRotatedSchema } }, errors: ['CREDENTIAL_REVOKED', 'PROOF_REQUIRED', 'PROOF_INVALID', 'PROOF_EXPIRED', 'PROOF_REPLAYED', 'CONFLICT'],
  },
  'PUT /v1/me/push-target': {
    summary: 'Register the push target', description: "Where the push provider reaches the app in the background; stored sealed, never echoed.", tag: 'Promotions', body: PushTargetSchema,
    responses: { 204: { description: 'registered (replacing any earlier one)' } }, errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED'],
  },
  'DELETE /v1/me/push-target': {
    summary: 'Remove the push target', tag: 'Promotions', responses: { 204: { description: 'removed; queued pushes are dropped' } }, errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED', 'NOT_FOUND'],
  },

  // Promotions.
  'GET /v1/me/promotions': {
    summary: 'Unacknowledged promotions', tag: 'Promotions', responses: { 200: { description: 'promotions not yet acknowledged', schema: PromotionListSchema } },
    errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED'],
  },
  'POST /v1/me/promotions/:id/ack': {
    summary: 'Acknowledge a promotion', tag: 'Promotions', params: IdParamsSchema, responses: { 204: { description: 'acknowledged' } }, errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED', 'NOT_FOUND'],
  },
  'POST /v1/me/promotions/:id/opened': {
    summary: 'Report a promotion opened', description: 'Idempotent; it counts as an acknowledgement.', tag: 'Promotions', params: IdParamsSchema,
    responses: { 204: { description: 'recorded' } }, errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED', 'NOT_FOUND'],
  },
  'GET /v1/me/promotions/stream': {
    summary: 'Promotions in real time (WebSocket)', description: 'Upgrades to a WebSocket that carries promotion messages as they are sent; the app acknowledges each. Authenticated before the upgrade.',
    tag: 'Promotions', websocket: true, responses: { 101: { description: 'switching to the WebSocket protocol' } }, errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED'],
  },

  // Loyalty beacons and iOS sightings.
  'POST /v1/me/beacons': {
    summary: 'Link a loyalty beacon', description: 'Needs presence consent. The identifier comes back to its owner only.', tag: 'Beacons', body: BeaconIdentifierSchema,
    responses: { 201: { description: 'linked', schema: BeaconLinkedSchema } }, errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED', 'PRESENCE_CONSENT_REQUIRED', 'BEACON_ALREADY_LINKED'],
  },
  'GET /v1/me/beacons': {
    summary: "The shopper's loyalty beacons", tag: 'Beacons', responses: { 200: { description: 'their beacons, with identifiers', schema: BeaconListSchema } },
    errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED'],
  },
  'DELETE /v1/me/beacons/:id': {
    summary: 'Unlink a loyalty beacon', tag: 'Beacons', params: BeaconParamsSchema, responses: { 204: { description: 'unlinked' } }, errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED', 'NOT_FOUND'],
  },
  'GET /v1/me/regions': {
    summary: 'Beacon regions to monitor (iOS)', description: 'One per UUID and major, widened to the UUID alone past the iOS limit of 20.', tag: 'Beacons',
    responses: { 200: { description: 'the regions', schema: RegionsSchema } }, errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED'],
  },
  'POST /v1/me/sightings': {
    summary: 'Report a store beacon sighting (iOS)', description: 'Becomes the same presence event a gateway reports; needs presence consent.', tag: 'Beacons', body: SightingSchema,
    responses: { 202: { description: 'accepted; whether a promotion went out, never why not', schema: SightingOutcomeSchema } },
    errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED', 'NOT_FOUND', 'PRESENCE_CONSENT_REQUIRED'],
  },

  // Data-subject rights (docs/data-subject-rights.md).
  'GET /v1/me/export': {
    summary: 'Export everything held about the shopper (DSR-1)', tag: 'Rights', auth: 'app-proof',
    responses: { 200: { description: 'one JSON document, as an attachment', schema: ShopperExportSchema } },
    errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED', 'PROOF_REQUIRED', 'PROOF_INVALID', 'PROOF_EXPIRED', 'PROOF_REPLAYED'],
  },
  'DELETE /v1/me': {
    summary: 'Erase the shopper (DSR-2)', description: 'The identity key is destroyed (crypto-shredding); the credential stops working.', tag: 'Rights', auth: 'app-proof',
    responses: { 204: { description: 'erased' } }, errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED', 'PROOF_REQUIRED', 'PROOF_INVALID', 'PROOF_EXPIRED', 'PROOF_REPLAYED'],
  },
  'POST /v1/me/objection': {
    summary: 'Object to marketing (DSR-3)', description: 'Permanent: promotions and personalisation are withdrawn and can no longer be granted, even after reinstalling.', tag: 'Rights',
    auth: 'app-proof', body: ObjectionBodySchema, bodyOptional: true,
    responses: { 200: { description: 'objected', schema: ObjectionSchema } }, errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED', 'PROOF_REQUIRED', 'PROOF_INVALID', 'PROOF_EXPIRED', 'PROOF_REPLAYED'],
  },
  'PUT /v1/me/restriction': {
    summary: 'Restrict processing, or lift it (DSR-4)', tag: 'Rights', auth: 'app-proof', body: RestrictionBodySchema,
    responses: { 200: { description: 'the restriction now', schema: RestrictionSchema } }, errors: ['CREDENTIAL_EXPIRED', 'CREDENTIAL_REVOKED', 'PROOF_REQUIRED', 'PROOF_INVALID', 'PROOF_EXPIRED', 'PROOF_REPLAYED'],
  },
  [`GET ${SHOPPER_EXPORT_SCHEMA_PATH}`]: {
    summary: 'The JSON Schema of the data export', tag: 'Rights', auth: 'none',
    responses: { 200: { description: 'the schema', contentType: 'application/schema+json' } },
  },

  // Point of sale.
  'POST /v1/pos/redemptions': {
    summary: 'Redeem a coupon at a till', description: "Exactly once, in the till's own store; requestId makes a retry safe. Refusals carry the field couponCode.", tag: 'Point of sale', body: RedemptionBodySchema,
    responses: { 200: { description: 'redeemed (or the same retry again)', schema: RedeemedSchema } },
    errors: ['NOT_FOUND', 'ALREADY_REDEEMED', 'COUPON_CANCELLED', 'COUPON_EXPIRED'],
  },

  // Public.
  'GET /p/:storeId': {
    summary: "A store's privacy notice", description: 'The notice for in-store signage (TRN-1): HTML, or JSON at /p/{storeId}.json.', tag: 'Privacy', auth: 'none',
    params: z.object({ storeId: z.string().min(1).max(69).describe('a store ID, optionally followed by .json') }),
    responses: { 200: { description: 'the notice', contentType: 'text/html', alternatives: [{ contentType: 'application/json' }] } }, errors: ['NOT_FOUND'],
  },
  'GET /health': { summary: 'Health check', tag: 'Status', auth: 'none', responses: { 200: { description: 'up', schema: HealthSchema } } },
  'GET /metrics': { summary: 'Prometheus metrics', tag: 'Status', auth: 'none', responses: { 200: { description: 'the metrics, in the Prometheus text format', contentType: 'text/plain' } } },
  'GET /v1/status': { summary: 'Aggregate status', description: 'Counts only: no shopper, pseudonym or identifier.', tag: 'Status', auth: 'none', responses: { 200: { description: 'the status', schema: StatusSchema } } },
  'GET /console': { summary: 'The console', tag: 'Console', auth: 'none', responses: { 200: { description: 'the console page', contentType: 'text/html' } } },
  'GET /docs/openapi.json': { summary: 'This document', tag: 'Documentation', auth: 'none', responses: { 200: { description: 'the OpenAPI 3.1 document of this API' } } },
};
