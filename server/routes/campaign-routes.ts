import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { principalOf } from '../auth/admin-access.ts';
import { CampaignDefinitionSchema, CampaignIdSchema, CampaignStatusSchema, LoyaltyTierSchema, type CampaignDefinition } from '../domain/campaign.ts';
import { previewCampaign } from '../domain/campaign-preview.ts';
import { checkCampaignAgainstStores, type StoreForChecks } from '../domain/campaign-checks.ts';
import {
  checkTransition, definitionSha256, LIFECYCLE_ACTIONS, planEdit, type CampaignRecord, type LifecycleAction, type LifecycleRefusal,
} from '../domain/campaign-lifecycle.ts';
import { ApiError, parseOrThrow } from '../domain/errors.ts';
import type { AppDeps } from '../app.ts';

// Campaigns through their lifecycle (issue 6 item 1; domain/campaign-lifecycle.ts): a PUT saves a
// definition as a new draft version; submit, approve (by another principal: maker–checker), reject,
// pause, resume and end move it along. Each change is one atomic Store operation conditional on what
// was read, so two instances acting at once cannot both win; the Store audits each (ACC-1) in the same
// transaction, with the acting principal, the statuses, the version and the definition's SHA-256
// (campaignSavedAudit, campaignTransitionAudit). Permissions: auth/permissions.ts.

export const ParamsSchema = z.object({ campaignId: CampaignIdSchema }).strict();
const VersionSchema = z.coerce.number().int().min(0);
export const ListQuerySchema = z.object({ status: CampaignStatusSchema.optional(), storeId: z.string().min(1).max(64).optional() }).strict();
export const TransitionBodySchema = z.object({ expectedVersion: z.number().int().min(1).optional() }).strict();
export const RejectBodySchema = z.object({ reason: z.string().trim().min(1).max(200), expectedVersion: z.number().int().min(1).optional() }).strict();

/**
 * The builder's check and preview (domain/campaign-preview.ts): any definition, valid or not — a definition
 * that would be refused is answered valid: false with its issues, never a 400 — and optional sample values
 * for the personalised rendering. Only a body that is not this object is a 400.
 */
export const PreviewBodySchema = z
  .object({
    definition: z.unknown().refine((value) => value !== undefined, 'required: the campaign definition to check, as PUT /v1/admin/campaigns/:campaignId takes it'),
    sample: z.object({ firstName: z.string().trim().min(1).max(64).optional(), loyaltyTier: LoyaltyTierSchema.optional() }).strict().optional(),
  })
  .strict();

/** A campaign as the API shows it: the campaign, and who did what to it when. */
function view(record: CampaignRecord) {
  const { campaign, ...lifecycle } = record;
  return { ...campaign, lifecycle: { ...lifecycle, definitionSha256: definitionSha256(campaign) } };
}

const refused = (refusal: LifecycleRefusal): ApiError => new ApiError(refusal.code, refusal.reason);

/** The expected version, from If-Match ("3", W/"3" or 3), the query (?expectedVersion=3) or the body; undefined when none is given. */
function expectedVersionOf(request: FastifyRequest, fromBody: unknown): number | undefined {
  const header = request.headers['if-match'];
  const query = (request.query as Record<string, unknown> | undefined)?.expectedVersion;
  const raw = header === undefined ? (query ?? fromBody) : header.replace(/^W\//, '').replaceAll('"', '');
  if (raw === undefined) return undefined;
  const parsed = VersionSchema.safeParse(raw);
  if (!parsed.success) throw new ApiError('INVALID_PARAMS', 'expectedVersion (If-Match): must be a version number, such as "3"', ['expectedVersion']);
  return parsed.data;
}

export async function campaignRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { store, now } = deps;

  const storesForChecks = async (): Promise<StoreForChecks[]> =>
    Promise.all((await store.listStores()).map(async (s) => ({ id: s.id, timezone: s.timezone, openingHours: s.openingHours, zones: await store.listZones(s.id) })));

  /** Refuses a definition that does not fit the stores as configured now: every issue, each naming its field. */
  const checkAgainstStores = async (definition: CampaignDefinition): Promise<void> => {
    const issues = checkCampaignAgainstStores(definition, await storesForChecks(), now());
    if (issues.length > 0) throw new ApiError('INVALID_BODY', issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues.map((i) => i.field), issues);
  };

  /** Checks a definition as the PUT would, against the stores as they are now, and renders its message; changes nothing. */
  app.post('/v1/admin/campaigns/preview', async (request) => {
    const body = parseOrThrow(PreviewBodySchema, request.body);
    return previewCampaign(body.definition, await storesForChecks(), now(), body.sample);
  });

  const found = async (campaignId: string): Promise<CampaignRecord> => {
    const record = await store.getCampaign(campaignId);
    if (record === undefined) throw new ApiError('NOT_FOUND', `no campaign ${campaignId}`);
    return record;
  };

  app.get('/v1/admin/campaigns', async (request) => {
    const filter = parseOrThrow(ListQuerySchema, request.query ?? {}, 'INVALID_PARAMS');
    return { campaigns: (await store.listCampaignRecords(filter)).map(view) };
  });

  app.get('/v1/admin/campaigns/:campaignId', async (request) => {
    const { campaignId } = parseOrThrow(ParamsSchema, request.params, 'INVALID_PARAMS');
    return view(await found(campaignId));
  });

  app.get('/v1/admin/campaigns/:campaignId/versions', async (request) => {
    const { campaignId } = parseOrThrow(ParamsSchema, request.params, 'INVALID_PARAMS');
    await found(campaignId);
    return { versions: await store.listCampaignVersions(campaignId) };
  });

  /** Creates a campaign (draft, version 1) or saves a new version of a draft or paused one (back to draft: it needs approval again). */
  app.put('/v1/admin/campaigns/:campaignId', async (request, reply) => {
    const { campaignId } = parseOrThrow(ParamsSchema, request.params, 'INVALID_PARAMS');
    const { expectedVersion: bodyVersion, ...body } = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
    const expectedVersion = expectedVersionOf(request, bodyVersion);
    const definition = parseOrThrow(CampaignDefinitionSchema, body);
    await checkAgainstStores(definition);
    const current = await store.getCampaign(campaignId);
    const plan = planEdit(campaignId, current, expectedVersion);
    if ('code' in plan) throw refused(plan);
    const actor = principalOf(request).id;
    const campaign = { ...definition, id: campaignId, status: 'draft' as const, version: plan.version };
    const sha256 = definitionSha256(campaign);
    const atMs = now();
    const expected = current === undefined ? null : { status: current.campaign.status, version: current.campaign.version };
    if (!(await store.saveCampaignDefinition({ campaign, definitionSha256: sha256, expected, actor, atMs }))) {
      throw new ApiError('CONFLICT', `campaign ${campaignId} changed while this edit was being saved: reload it and apply the change again`);
    }
    return reply.code(current === undefined ? 201 : 200).send(view(await found(campaignId)));
  });

  const transition = (action: LifecycleAction) => async (request: FastifyRequest) => {
    const { campaignId } = parseOrThrow(ParamsSchema, request.params, 'INVALID_PARAMS');
    const body = parseOrThrow(action === 'reject' ? RejectBodySchema : TransitionBodySchema, request.body ?? {});
    const expectedVersion = expectedVersionOf(request, body.expectedVersion);
    const actor = principalOf(request).id;
    const current = await found(campaignId);
    const refusal = checkTransition(action, current, actor, expectedVersion);
    if (refusal !== undefined) throw refused(refusal);
    // Submitting asks for approval of a definition against the stores as they are now, not as they were when it was saved.
    if (action === 'submit') await checkAgainstStores(current.campaign);
    const atMs = now();
    const reason = 'reason' in body && typeof body.reason === 'string' ? body.reason : undefined;
    const updated = await store.transitionCampaign({ id: campaignId, action, actor, atMs, expectedVersion: current.campaign.version, reason });
    if (updated === undefined) {
      // Another request changed it since it was read: say why this one no longer applies.
      const latest = await found(campaignId);
      throw refused(checkTransition(action, latest, actor, current.campaign.version)
        ?? { code: 'CONFLICT', reason: `campaign ${campaignId} changed while this ${action} was being applied: reload it and try again` });
    }
    return view(updated);
  };
  for (const action of LIFECYCLE_ACTIONS) app.post(`/v1/admin/campaigns/:campaignId/${action}`, transition(action));
}
