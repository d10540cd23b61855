import { z } from 'zod';
import { IdSchema } from '#gateway/protocol/index.ts';
import { CampaignDefinitionSchema } from '../domain/campaign.ts';
import { ApiKeyBodySchema, AuditQuerySchema } from '../routes/access-routes.ts';
import { GatewayBodySchema, GatewayListQuerySchema, GatewaySettingsBodySchema, PosDeviceBodySchema, StoreBodySchema } from '../routes/admin-routes.ts';
import { CampaignQuerySchema, SeriesQuerySchema, ZonesQuerySchema } from '../routes/analytics-routes.ts';
import {
  ParamsSchema as CampaignParamsSchema, ListQuerySchema as CampaignListQuerySchema, PreviewBodySchema, RejectBodySchema, TransitionBodySchema,
} from '../routes/campaign-routes.ts';
import { ListQuerySchema as DeadLetterQuerySchema, ReplayBodySchema } from '../routes/dead-letter-routes.ts';
import { RopaQuerySchema } from '../routes/privacy-routes.ts';
import { LoginBodySchema } from '../routes/session-routes.ts';
import { StoreParamsSchema } from '../routes/store-read-routes.ts';
import { CreateUserBodySchema, UserParamsSchema } from '../routes/user-routes.ts';
import {
  ApiKeyCreatedSchema, ApiKeyListSchema, AuditPageSchema, AuditVerificationSchema, CampaignListSchema, CampaignPreviewSchema, CampaignReportSchema, CampaignSeriesSchema,
  CampaignVersionsSchema, CampaignViewSchema, DeadLetterPageSchema, DeadLetterReplaySchema, GatewayConfigFileSchema, GatewayListSchema, GatewaySettingsRecordSchema,
  LiveStoreSchema, PosDeviceCreatedSchema, PosDeviceListSchema, RecordOfProcessingSchema, SessionSchema, StoreListSchema, StoreSchema,
  UserListSchema, UserSchema, ZoneReportSchema,
} from './response-schemas.ts';
import type { HeaderDoc, RouteDoc } from './route-docs.ts';

// The operator API (/v1/admin, used by the console and by machines with API keys) and the console's
// session, documented for openapi-document.ts. Each /v1/admin route's permission and the roles holding
// it are added from auth/permissions.ts by the document itself.

const StoreParams = z.object({ storeId: IdSchema });
const GatewayParams = z.object({ storeId: IdSchema, gatewayId: IdSchema });
const PosDeviceParams = z.object({ storeId: IdSchema, deviceId: IdSchema });

const IF_MATCH: HeaderDoc = {
  name: 'If-Match', description: 'The campaign version this change was made against ("3" or W/"3"); a stale one is refused with 409. Or ?expectedVersion=3, or expectedVersion in the body.',
  schema: z.string(),
};
const ExpectedVersionQuery = z.object({ expectedVersion: z.coerce.number().int().min(0).optional().describe('as If-Match; 0 on a PUT: create only') });

const csv = { contentType: 'text/csv' };

const transition = (summary: string, description: string, body: z.ZodType = TransitionBodySchema): RouteDoc => ({
  summary, description, tag: 'Campaigns', params: CampaignParamsSchema, query: ExpectedVersionQuery, headers: [IF_MATCH], body, bodyOptional: body === TransitionBodySchema,
  responses: { 200: { description: 'the campaign after the change', schema: CampaignViewSchema } },
  errors: ['NOT_FOUND', 'CONFLICT'],
});


export const OPERATOR_ROUTE_DOCS: Record<string, RouteDoc> = {
  // Session.
  'POST /v1/session': {
    summary: 'Log in to the console', tag: 'Session', auth: 'none', body: LoginBodySchema,
    description: 'Sets the HttpOnly session cookie `vicino_session` (SameSite=Strict) and returns the CSRF token to send as X-CSRF-Token on every change. A wrong password or a locked account is a 401 with a message.',
    responses: { 200: { description: 'logged in', schema: SessionSchema } },
    errors: ['UNAUTHENTICATED', 'FORBIDDEN'],
  },
  'GET /v1/session': {
    summary: 'The current session', tag: 'Session', auth: 'session',
    description: 'The logged-in user, their permissions and the session\'s CSRF token; 401 when there is no session or it expired (message "session expired…").',
    responses: { 200: { description: 'the session', schema: SessionSchema } },
  },
  'DELETE /v1/session': {
    summary: 'Log out', tag: 'Session', auth: 'session',
    responses: { 204: { description: 'logged out; the cookie is cleared' } },
  },

  // Console users.
  'POST /v1/admin/users': {
    summary: 'Create a console user', tag: 'Users', body: CreateUserBodySchema,
    responses: { 201: { description: 'the user (never the password or its hash)', schema: UserSchema.omit({ disabledAtMs: true }) } },
    errors: ['CONFLICT'],
  },
  'GET /v1/admin/users': { summary: 'List console users', tag: 'Users', responses: { 200: { description: 'every user, disabled ones too', schema: UserListSchema } } },
  'DELETE /v1/admin/users/:userId': {
    summary: 'Disable a console user', description: 'Ends their sessions; the account stays for the audit log. An admin cannot disable their own account (409).', tag: 'Users',
    params: UserParamsSchema, responses: { 204: { description: 'disabled' } }, errors: ['NOT_FOUND', 'CONFLICT'],
  },

  // API keys and the audit log.
  'POST /v1/admin/api-keys': {
    summary: 'Create an API key', tag: 'API keys', body: ApiKeyBodySchema,
    responses: { 201: { description: 'the key, shown this once', schema: ApiKeyCreatedSchema } },
  },
  'GET /v1/admin/api-keys': { summary: 'List API keys', description: 'Their holders and roles; never a key.', tag: 'API keys', responses: { 200: { description: 'every principal', schema: ApiKeyListSchema } } },
  'DELETE /v1/admin/api-keys/:principalId': {
    summary: 'Revoke an API key', tag: 'API keys', params: z.object({ principalId: z.string().min(1).max(64) }),
    responses: { 204: { description: 'revoked' } }, errors: ['NOT_FOUND'],
  },
  'GET /v1/admin/audit': {
    summary: 'Read the audit log', description: 'From a sequence number, in order. Entries carry IDs, never personal data.', tag: 'Audit', query: AuditQuerySchema,
    responses: { 200: { description: 'a page of entries', schema: AuditPageSchema } },
  },
  'GET /v1/admin/audit/verify': {
    summary: 'Verify the audit chain', description: 'Recomputes the hash chain of the whole log; names the first entry that does not chain.', tag: 'Audit',
    responses: { 200: { description: 'the verification', schema: AuditVerificationSchema } },
  },

  // Stores, gateways, tills.
  'GET /v1/admin/stores': { summary: 'List stores', tag: 'Stores', responses: { 200: { description: 'every store, with its zone and gateway counts', schema: StoreListSchema } } },
  'GET /v1/admin/stores/:storeId': {
    summary: 'Read a store', tag: 'Stores', params: StoreParamsSchema,
    responses: { 200: { description: 'the store as PUT takes it, with its ID', schema: StoreSchema } }, errors: ['NOT_FOUND'],
  },
  'PUT /v1/admin/stores/:storeId': {
    summary: 'Create or replace a store', description: 'Its zones (a PUT adds and renames zones, with their outlines on the floor plan), opening and quiet hours, floor plan and store beacons (replaced).', tag: 'Stores',
    params: StoreParams, body: StoreBodySchema, responses: { 200: { description: 'the store as saved', schema: StoreSchema } },
  },
  'GET /v1/admin/stores/:storeId/live': {
    summary: 'Live store view', description: 'k-anonymous occupancy per zone and events per second (AN-1): no shopper, no pseudonym.', tag: 'Live', params: StoreParamsSchema,
    responses: { 200: { description: 'the store now', schema: LiveStoreSchema } }, errors: ['NOT_FOUND'],
  },
  'POST /v1/admin/stores/:storeId/gateways': {
    summary: 'Provision a gateway', description: "Returns the gateway's config file with its secret, shown this once. rotateSecret issues a new secret for an existing gateway.", tag: 'Gateways',
    params: StoreParams, body: GatewayBodySchema, responses: { 201: { description: "the gateway's config file", schema: GatewayConfigFileSchema } }, errors: ['NOT_FOUND', 'CONFLICT'],
  },
  'PUT /v1/admin/stores/:storeId/gateways/:gatewayId/settings': {
    summary: "Set a gateway's presence settings", description: 'They reach the gateway on its retained config topic and apply without a restart.', tag: 'Gateways',
    params: GatewayParams, body: GatewaySettingsBodySchema, responses: { 200: { description: 'the settings as saved', schema: GatewaySettingsRecordSchema } }, errors: ['NOT_FOUND'],
  },
  'GET /v1/admin/stores/:storeId/gateways/:gatewayId/settings': {
    summary: "Read a gateway's presence settings", tag: 'Gateways', params: GatewayParams,
    responses: { 200: { description: 'the settings (empty, updatedAtMs null, if never set)', schema: GatewaySettingsRecordSchema } }, errors: ['NOT_FOUND'],
  },
  'GET /v1/admin/gateways': {
    summary: 'List gateways', description: 'Each with its store, zone, whether it is online, when it was last heard, and its version and counters as it last reported them.', tag: 'Gateways',
    query: GatewayListQuerySchema, responses: { 200: { description: "every gateway, or one store's", schema: GatewayListSchema } },
  },
  'POST /v1/admin/stores/:storeId/pos-devices': {
    summary: 'Register a till', description: "Issues the point-of-sale device's bearer token, shown this once.", tag: 'POS devices',
    params: StoreParams, body: PosDeviceBodySchema, responses: { 201: { description: 'the device and its token', schema: PosDeviceCreatedSchema } }, errors: ['NOT_FOUND'],
  },
  'GET /v1/admin/stores/:storeId/pos-devices': {
    summary: "List a store's tills", tag: 'POS devices', params: StoreParams,
    responses: { 200: { description: 'every device, revoked ones too', schema: PosDeviceListSchema } }, errors: ['NOT_FOUND'],
  },
  'DELETE /v1/admin/stores/:storeId/pos-devices/:deviceId': {
    summary: 'Revoke a till', tag: 'POS devices', params: PosDeviceParams, responses: { 204: { description: 'revoked' } }, errors: ['NOT_FOUND'],
  },

  // Campaigns.
  'GET /v1/admin/campaigns': {
    summary: 'List campaigns', tag: 'Campaigns', query: CampaignListQuerySchema, responses: { 200: { description: 'the campaigns, with their lifecycle', schema: CampaignListSchema } },
  },
  'GET /v1/admin/campaigns/:campaignId': {
    summary: 'Read a campaign', tag: 'Campaigns', params: CampaignParamsSchema, responses: { 200: { description: 'the campaign', schema: CampaignViewSchema } }, errors: ['NOT_FOUND'],
  },
  'GET /v1/admin/campaigns/:campaignId/versions': {
    summary: "A campaign's saved versions", tag: 'Campaigns', params: CampaignParamsSchema,
    responses: { 200: { description: 'every version, oldest first', schema: CampaignVersionsSchema } }, errors: ['NOT_FOUND'],
  },
  'PUT /v1/admin/campaigns/:campaignId': {
    summary: 'Create a campaign or save a new version',
    description: 'Saves the definition as a draft (version 1, or the next version of a draft or paused campaign, which then needs approval again). It must fit the stores as configured: every problem is named with its field.',
    tag: 'Campaigns', params: CampaignParamsSchema, query: ExpectedVersionQuery, headers: [IF_MATCH],
    body: CampaignDefinitionSchema.safeExtend({ expectedVersion: z.number().int().min(0).optional().describe('as If-Match') }),
    responses: { 200: { description: 'a new version of an existing campaign', schema: CampaignViewSchema }, 201: { description: 'the campaign, created', schema: CampaignViewSchema } },
    errors: ['CONFLICT'],
  },
  'POST /v1/admin/campaigns/preview': {
    summary: 'Check and preview a campaign definition',
    description: 'Checks `definition` (a campaign definition, as PUT /v1/admin/campaigns/{campaignId} takes it: the CampaignDefinition schema) exactly as saving it would, against the stores as they are now, and renders its message with the renderer that sends it, personalised with `sample` (the marketer\'s sample values) and generic. A definition that would be refused is answered valid: false with its issues, never a 400; nothing is saved.',
    tag: 'Campaigns', body: PreviewBodySchema,
    responses: { 200: { description: 'whether it is valid, its issues, and the rendered message', schema: CampaignPreviewSchema } },
  },
  'POST /v1/admin/campaigns/:campaignId/submit': transition('Submit a draft for approval', 'Checks it against the stores as they are now; draft → pending.'),
  'POST /v1/admin/campaigns/:campaignId/approve': transition('Approve a submitted campaign', 'By another principal than its author (maker–checker); pending → active.'),
  'POST /v1/admin/campaigns/:campaignId/reject': transition('Reject a submitted campaign', 'With a reason; pending → draft.', RejectBodySchema),
  'POST /v1/admin/campaigns/:campaignId/pause': transition('Pause an active campaign', 'active → paused: nothing is sent.'),
  'POST /v1/admin/campaigns/:campaignId/resume': transition('Resume a paused campaign', 'paused → active.'),
  'POST /v1/admin/campaigns/:campaignId/end': transition('End a campaign', 'For good: its coupons stay redeemable until they expire.'),

  // Analytics (AN-1: aggregates only, k-anonymous).
  'GET /v1/admin/analytics/campaigns/:campaignId': {
    summary: 'Campaign report', description: 'Per variant and holdout: shoppers, exposures, deliveries, opens, redemptions, conversions and the uplift over the holdout. Counts under k are suppressed. `{campaignId}.csv` or ?format=csv for CSV.',
    tag: 'Analytics', params: z.object({ campaignId: z.string().max(80).describe('a campaign ID, optionally followed by .csv') }), query: CampaignQuerySchema,
    responses: { 200: { description: 'the report', schema: CampaignReportSchema, alternatives: [csv] } }, errors: ['NOT_FOUND'],
  },
  'GET /v1/admin/analytics/campaigns/:campaignId/series': {
    summary: 'Campaign time series',
    description: "Deliveries, opens and redemptions per closed bucket, on the wall clock of the campaign's stores (UTC when they differ); the bucket still filling is never shown. k-anonymous. ?format=csv for CSV.",
    tag: 'Analytics', params: z.object({ campaignId: z.string().max(80).describe('a campaign ID') }), query: SeriesQuerySchema,
    responses: { 200: { description: 'the series', schema: CampaignSeriesSchema, alternatives: [csv] } }, errors: ['NOT_FOUND'],
  },
  'GET /v1/admin/analytics/campaigns/:campaignId/series.csv': {
    summary: 'Campaign time series, as CSV', tag: 'Analytics', params: z.object({ campaignId: z.string().max(80).describe('a campaign ID') }), query: SeriesQuerySchema,
    responses: { 200: { description: 'one row per bucket; withheld counts are empty', contentType: 'text/csv' } }, errors: ['NOT_FOUND'],
  },
  'GET /v1/admin/analytics/stores/:storeId/zones': {
    summary: 'Zone footfall and dwell', description: "Per zone and bucket of the store's local time; sensitive zones are never reported (AN-3). ?format=csv for CSV.",
    tag: 'Analytics', params: StoreParams, query: ZonesQuerySchema,
    responses: { 200: { description: 'the report', schema: ZoneReportSchema, alternatives: [csv] } }, errors: ['NOT_FOUND'],
  },
  'GET /v1/admin/analytics/stores/:storeId/zones.csv': {
    summary: 'Zone footfall and dwell, as CSV', tag: 'Analytics', params: StoreParams, query: ZonesQuerySchema,
    responses: { 200: { description: 'footfall rows, then dwell rows; suppressed cells are empty', contentType: 'text/csv' } }, errors: ['NOT_FOUND'],
  },

  // Privacy and deliveries.
  'GET /v1/admin/privacy/ropa': {
    summary: 'Record of processing',
    description: 'The record of processing activities (GDPR art. 30, ACC-2) that `vicino ropa` prints, from the live configuration: JSON, or Markdown with ?format=markdown. Each store\'s public notice is at /p/{storeId}.',
    tag: 'Privacy', query: RopaQuerySchema,
    responses: { 200: { description: 'the record', schema: RecordOfProcessingSchema, alternatives: [{ contentType: 'text/markdown' }] } },
  },
  'GET /v1/admin/webhook/dead-letters': {
    summary: "List the push webhook's dead letters", description: 'Deliveries the push provider never took: IDs and delivery metadata only.', tag: 'Deliveries', query: DeadLetterQuerySchema,
    responses: { 200: { description: 'a page of dead letters', schema: DeadLetterPageSchema } },
  },
  'POST /v1/admin/webhook/dead-letters/replay': {
    summary: 'Requeue dead letters', description: 'Each is checked again before it is sent (still pending, unexpired, consent read then).', tag: 'Deliveries', body: ReplayBodySchema,
    responses: { 200: { description: 'what was requeued', schema: DeadLetterReplaySchema } },
  },
};
