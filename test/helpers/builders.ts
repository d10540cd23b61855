import { randomBytes, randomUUID } from 'node:crypto';
import {
  deriveEventMacKey, PROTOCOL_VERSION, signPresenceEvent, type PresenceEvent, type Pseudonym, type UnsignedPresenceEvent,
} from '#gateway/protocol/index.ts';
import { CampaignSchema, type Campaign, type CampaignInput, type Caps } from '#server/domain/campaign.ts';
import type { ConsentPolicy, ConsentRecord } from '#server/domain/consent.ts';
import type { ResolvedPresence } from '#server/domain/decision.ts';
import { buildPromotion } from '#server/domain/promotion.ts';
import type { LinkedBeaconRecord, PromotionDraft, ShopperRecord } from '#server/store/store.ts';

// Builders: a valid thing by default, with only what the test is about spelled out
// (`aCampaign({ caps: { ...generousCaps, minGapS: 60 } })`). IDs are unique per call, so tests
// sharing one database never see each other's rows.

/** A fixed instant the tests count from, so times are readable offsets rather than wall-clock reads. */
export const START_MS = Date.UTC(2030, 0, 7, 9, 0, 0);
export const SECOND_MS = 1000;
export const DAY_MS = 86_400_000;

export const uniqueId = (prefix: string): string => `${prefix}-${randomUUID()}`;

/** Caps loose enough that no test trips one by accident. */
export const generousCaps: Caps = { perShopper: { count: 1000, periodS: 86_400 }, minGapS: 0, perShopperDaily: 1000, cooldownS: 0 };

export function aShopper(overrides: Partial<ShopperRecord> = {}): ShopperRecord {
  return {
    id: uniqueId('sh'),
    tokenHash: randomBytes(32).toString('hex'),
    identityKeySealed: randomBytes(44),
    rotationExponent: 10,
    locale: 'en-GB',
    firstName: 'Ada',
    createdAtMs: START_MS,
    tokenIssuedAtMs: overrides.createdAtMs ?? START_MS,
    erasedAtMs: null,
    restricted: false,
    objectedAtMs: null,
    deviceSecretDigest: null,
    country: null,
    birthYear: null,
    loyaltyTier: null,
    interests: [],
    ...overrides,
  };
}

/** A linked beacon as the Store sees it: sealed identifier bytes and a digest unique per call. */
export function aLinkedBeacon(overrides: Partial<LinkedBeaconRecord> & Pick<LinkedBeaconRecord, 'shopperId'>): LinkedBeaconRecord {
  return {
    id: uniqueId('bc'),
    kind: 'ibeacon',
    identifierSealed: randomBytes(49),
    identifierDigest: randomBytes(32).toString('hex'),
    createdAtMs: START_MS,
    ...overrides,
  };
}

/**
 * What aCampaign takes: any campaign field, or the shorthand `storeId` / `zoneIds` for a placement at
 * zone level (store-1's entrance by default).
 */
export type CampaignOverrides = Partial<CampaignInput> & { storeId?: string; zoneIds?: string[] };

export function aCampaign(overrides: CampaignOverrides = {}): Campaign {
  const { storeId, zoneIds, ...rest } = overrides;
  return CampaignSchema.parse({
    id: uniqueId('cmp').toLowerCase(),
    name: 'Coffee corner',
    status: 'active',
    placement: { level: 'zones', storeId: storeId ?? 'store-1', zoneIds: zoneIds ?? ['entrance'] },
    trigger: { kind: 'enter' },
    caps: generousCaps,
    message: { title: 'Fresh coffee', body: 'Two for one at the coffee corner today.', validForS: 3600 },
    ...rest,
  });
}

/** The first store and zone a campaign is placed in (store-1's entrance when placed wider). */
export function firstPlacedZone(campaign: Campaign): { storeId: string; zoneId: string } {
  const { placement } = campaign;
  if (placement.level === 'zones') return { storeId: placement.storeId, zoneId: placement.zoneIds[0]! };
  return { storeId: placement.level === 'stores' ? placement.storeIds[0]! : 'store-1', zoneId: 'entrance' };
}

/** The consent policy under which aConsent's grants (text version 2030-01) are current: for code built outside buildTestApp. */
export const BUILDER_CONSENT_POLICY: ConsentPolicy = {
  currentVersions: { presence: '2030-01', personalisation: '2030-01', analytics: '2030-01', promotions: '2030-01' },
  validityMs: 365 * DAY_MS,
};

export function aConsent(overrides: Partial<ConsentRecord> & Pick<ConsentRecord, 'shopperId'>): ConsentRecord {
  return {
    id: uniqueId('cr'),
    purpose: 'presence',
    granted: true,
    textVersion: '2030-01',
    textSha256: 'a'.repeat(64),
    locale: 'en-GB',
    serverTimeMs: START_MS,
    clientTimeMs: null,
    channel: 'app',
    previousGranted: null,
    reason: null,
    ...overrides,
  };
}

export function aPresence(overrides: Partial<ResolvedPresence> & Pick<ResolvedPresence, 'shopperId'>): ResolvedPresence {
  return { eventId: uniqueId('ev'), storeId: 'store-1', zoneId: 'entrance', kind: 'enter', atS: START_MS / 1000, dwellS: 0, proximity: 'near', ...overrides };
}

/**
 * A send as the delivery path would ask for it: the message built by the domain, caps taken from
 * the campaign. The same (campaign, shopper, event) always gives the same promotion ID.
 */
export function aDraft(options: {
  shopperId: string;
  campaign?: Campaign;
  eventId?: string;
  createdAtMs?: number;
  expiresAtMs?: number;
  requiredPurposes?: readonly string[];
}): PromotionDraft {
  const campaign = options.campaign ?? aCampaign();
  const eventId = options.eventId ?? uniqueId('ev');
  const createdAtMs = options.createdAtMs ?? START_MS;
  const { storeId, zoneId } = firstPlacedZone(campaign);
  const purposes = ['presence', 'promotions'] as const;
  const message = buildPromotion({ campaign, shopperId: options.shopperId, eventId, storeId, zoneId, personalised: false, purposes: [...purposes], attributes: {}, nowMs: createdAtMs });
  return {
    message: options.expiresAtMs === undefined ? message : { ...message, expiresAtMs: options.expiresAtMs },
    campaignId: campaign.id,
    shopperId: options.shopperId,
    eventId,
    storeId,
    zoneId,
    createdAtMs,
    caps: campaign.caps,
    budget: campaign.budget,
    requiredPurposes: options.requiredPurposes ?? purposes,
  };
}

/** The secret aPresenceEvent signs with when given none. */
export const TEST_GATEWAY_SECRET: Buffer = randomBytes(32);
/** One gateway process start for every event built here; each event takes the next sequence number. */
export const TEST_BOOT = randomUUID();
let lastSeq = 0;

/**
 * A presence message as a gateway publishes it (MIN-4), valid against PresenceEventSchema and signed
 * for its gatewayId with `secret` (gateway/protocol/event-auth.ts). Overrides are signed too; to tamper
 * with a signed event, spread fields over the result instead.
 */
export function aPresenceEvent(overrides: Partial<UnsignedPresenceEvent> = {}, secret: Uint8Array = TEST_GATEWAY_SECRET): PresenceEvent {
  lastSeq += 1;
  const event: UnsignedPresenceEvent = {
    v: PROTOCOL_VERSION,
    eventId: randomUUID(),
    storeId: 'store-1',
    gatewayId: 'gw-1',
    zoneId: 'entrance',
    keyId: 'store-1-0',
    idKind: 'eddystone-eid',
    pseudonym: randomBytes(16).toString('hex') as Pseudonym,
    kind: 'enter',
    atS: START_MS / 1000,
    dwellS: 0,
    proximity: 'near',
    boot: TEST_BOOT,
    seq: lastSeq,
    ...overrides,
  };
  return signPresenceEvent(deriveEventMacKey(secret, event.gatewayId), event);
}
