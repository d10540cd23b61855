import { describe, expect, it } from 'vitest';
import { CURRENT_CONSENT_TEXTS } from '#server/domain/consent-texts.ts';
import { buildPrivacyNotice, buildRecordOfProcessing, describeDuration, stableJson, UNCONFIGURED_CONTROLLER, type StoreConfiguration, type TransparencySettings } from '#server/domain/transparency.ts';
import { aCampaign } from '#test/helpers/builders.ts';

const settings = (overrides: Partial<TransparencySettings> = {}): TransparencySettings => ({
  controller: { name: 'Example Retail', contact: 'https://example.com/privacy' },
  retention: { presenceEventsMs: 24 * 3_600_000, deliveryRecordsMs: 730 * 86_400_000 },
  epochRotationS: 86_400,
  consentTexts: CURRENT_CONSENT_TEXTS,
  ...overrides,
});

const shop: StoreConfiguration = {
  id: 'shop-2', name: 'Shop 2', timezone: 'Europe/Paris',
  zones: [{ id: 'z-b', name: 'B', sensitive: false }, { id: 'z-a', name: 'A', sensitive: true }],
  campaigns: [aCampaign({ id: 'c-2', storeId: 'shop-2', zoneIds: ['z-b'], status: 'paused' }), aCampaign({ id: 'c-1', storeId: 'shop-2', zoneIds: ['z-b'] })],
};

describe('transparency documents', () => {
  it('states durations as people read them', () => {
    expect(describeDuration(3_600_000)).toBe('1 hour');
    expect(describeDuration(24 * 3_600_000)).toBe('24 hours');
    expect(describeDuration(730 * 86_400_000)).toBe('730 days');
    expect(describeDuration(36 * 3_600_000)).toBe('36 hours');
    expect(describeDuration(90_000)).toBe('90 seconds');
  });

  it('builds the record from the stores given, sorted, and from the windows and epoch period in force', () => {
    const record = buildRecordOfProcessing(settings({ epochRotationS: 3_600, retention: { presenceEventsMs: 2 * 3_600_000, deliveryRecordsMs: 30 * 86_400_000 } }), [shop,
      { id: 'shop-1', name: 'Shop 1', timezone: 'Europe/Rome', zones: [], campaigns: [] }]);
    expect(record.stores.map((s) => s.id)).toEqual(['shop-1', 'shop-2']);
    expect(record.stores[1]).toMatchObject({ zoneIds: ['z-a', 'z-b'], sensitiveZoneIds: ['z-a'], campaigns: [{ id: 'c-1' }, { id: 'c-2', status: 'paused' }] });
    expect(record.dataCategories.find((c) => c.id === 'presence')?.retention).toMatch(/^2 hours, then deleted/);
    expect(record.dataCategories.find((c) => c.id === 'promotion-deliveries')?.retention).toMatch(/^30 days, then deleted/);
    // Visit history is profiling: 12 months by default (RET-3), kept only with P2.
    expect(record.dataCategories.find((c) => c.id === 'visit-history')).toMatchObject({ retentionMs: 365 * 86_400_000, purposes: ['personalisation', 'promotions'] });
    expect(record.securityMeasures[0]).toContain('rotated every 1 hour and destroyed after use');
    expect(record.purposes.every((p) => p.legalBasis.startsWith('Consent'))).toBe(true);
    expect(record.controller.configured).toBe(true);
  });

  it('marks a notice whose controller is not configured, and counts only active campaigns', () => {
    const notice = buildPrivacyNotice(settings({ controller: UNCONFIGURED_CONTROLLER }), shop);
    expect(notice.controller.configured).toBe(false);
    expect(notice.contact).toBe('(not configured: set CONTROLLER_CONTACT)');
    expect(notice.activeCampaigns).toBe(1);
    expect(notice.zones.map((z) => [z.id, z.note !== null])).toEqual([['z-a', true], ['z-b', false]]);
  });

  it('tells shoppers how to exercise each right from the app, naming the endpoints', () => {
    const how = Object.fromEntries(buildPrivacyNotice(settings(), shop).rights.map((r) => [r.right.split(' (')[0], r.how]));
    expect(how['Access and portability']).toContain('GET /v1/me/export');
    expect(how['Access and portability']).toContain('/v1/schemas/shopper-export.v1.json');
    expect(how.Erasure).toContain('DELETE /v1/me');
    expect(how['Objection to marketing']).toContain('POST /v1/me/objection');
    expect(how.Restriction).toContain('PUT /v1/me/restriction');
    for (const right of ['Erasure', 'Objection to marketing', 'Restriction']) expect(how[right]).not.toMatch(/^Ask the controller/);
    // What survives an erasure is declared as a data category of its own.
    expect(buildRecordOfProcessing(settings(), [shop]).dataCategories.map((c) => c.id)).toContain('objection-and-erasure');
  });

  it('writes JSON with sorted keys at every level, whatever the insertion order', () => {
    expect(stableJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } }, 0)).toBe('{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}');
    const record = buildRecordOfProcessing(settings(), [shop]);
    expect(stableJson(record)).toBe(stableJson(JSON.parse(JSON.stringify(record)) as unknown));
  });
});
