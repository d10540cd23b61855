import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildTestApp, campaignTeam, createApiKey, expectStatus, putStore, type TestApp } from '#test/helpers/build-test-app.ts';

// The campaign builder's check and preview (issue 8): POST /v1/admin/campaigns/preview answers what a PUT
// of the same definition would refuse — the same issues, field by field — without a 400 and without writing
// anything, and renders the message as the send path does, personalised with sample values and generic.

let t: TestApp;
let maker: string;

beforeAll(async () => {
  t = await buildTestApp();
  maker = (await campaignTeam(t)).maker.key;
  expectStatus(await putStore(t, 'store-1', [{ id: 'entrance' }, { id: 'pharmacy', sensitive: true }]), 200);
});
afterAll(async () => t.close());

const definition = (overrides: Record<string, unknown> = {}) => ({
  name: 'Welcome back',
  placement: { level: 'zones', storeId: 'store-1', zoneIds: ['entrance'] },
  trigger: { kind: 'enter' },
  caps: { perShopper: { count: 1, periodS: 86_400 }, minGapS: 0, perShopperDaily: 3, cooldownS: 600 },
  message: { title: 'Welcome back, {{firstName}}!', body: 'As a {{loyaltyTier}} member, coffee is on us today.', deepLink: 'https://shop.example/coffee', validForS: 3600 },
  ...overrides,
});

type Preview = {
  valid: boolean;
  issues: { field: string; message: string }[];
  preview: { personalised: Record<string, string>; generic: Record<string, string>; variants: ({ id: string } & Record<string, Record<string, string>>)[] } | null;
};
const preview = async (body: unknown, key = maker): Promise<Preview> =>
  expectStatus<Preview>(await t.app.inject({ method: 'POST', url: '/v1/admin/campaigns/preview', headers: bearer(key), payload: body as Record<string, unknown> }), 200);
const put = (id: string, body: unknown) => t.app.inject({ method: 'PUT', url: `/v1/admin/campaigns/${id}`, headers: bearer(maker), payload: body as Record<string, unknown> });

describe('POST /v1/admin/campaigns/preview', () => {
  it('passes a definition the PUT accepts, and renders it personalised with sample values and generic', async () => {
    expect(await preview({ definition: definition() })).toEqual({
      valid: true,
      issues: [],
      preview: {
        personalised: { title: 'Welcome back, Alex!', body: 'As a gold member, coffee is on us today.', deepLink: 'https://shop.example/coffee' },
        generic: { title: 'Welcome back!', body: 'As a member, coffee is on us today.', deepLink: 'https://shop.example/coffee' },
        variants: [],
      },
    });
    expect((await put('welcome-back', definition())).statusCode).toBe(201);
  });

  it('renders the sample as the send path renders a shopper\'s own values: escaped', async () => {
    const { preview: shown } = await preview({ definition: definition(), sample: { firstName: '<b>Zoë</b>', loyaltyTier: 'platinum' } });
    expect(shown?.personalised).toMatchObject({ title: 'Welcome back, &lt;b&gt;Zoë&lt;/b&gt;!', body: 'As a platinum member, coffee is on us today.' });
  });

  it('gives, field by field, the issues the PUT gives for the same definition, with valid: false and no 400', async () => {
    const bad = definition({
      caps: { perShopper: { count: 5, periodS: 3600 }, minGapS: 1200, perShopperDaily: 2, cooldownS: 0 },
      budget: { maxDeliveries: 10, maxRedemptions: 20 },
      colour: 'red',
    });
    const checked = await preview({ definition: bad });
    expect(checked.valid).toBe(false);
    expect(checked.issues.map((i) => i.field).sort()).toEqual(['budget.maxRedemptions', 'caps.minGapS', 'caps.perShopper.count', 'colour']);
    const refused = await put('bad-caps', bad);
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.issues).toEqual(checked.issues);
    // The message is fine, so the builder still shows it.
    expect(checked.preview?.generic.title).toBe('Welcome back!');
  });

  it('gives the placement checks the PUT runs against the stores: a sensitive or unknown zone, an unknown store', async () => {
    const sensitive = definition({ placement: { level: 'zones', storeId: 'store-1', zoneIds: ['pharmacy', 'bakery'] } });
    const checked = await preview({ definition: sensitive });
    expect(checked).toMatchObject({ valid: false });
    expect(checked.issues).toEqual([
      { field: 'placement.zoneIds', message: 'store store-1 has no zone bakery' },
      { field: 'placement.zoneIds', message: 'pharmacy is marked sensitive and cannot be targeted (AN-3)' },
    ]);
    expect((await put('sensitive', sensitive)).json().error.issues).toEqual(checked.issues);
    expect((await preview({ definition: definition({ placement: { level: 'stores', storeIds: ['store-9'] } }) })).issues)
      .toEqual([{ field: 'placement.storeIds', message: 'unknown store store-9' }]);
  });

  it('shows no preview while the message itself is not valid, and names the placeholder at fault', async () => {
    const checked = await preview({ definition: definition({ message: { title: 'Hi {{lastName}}', body: 'x', validForS: 3600 } }) });
    expect(checked).toEqual({
      valid: false, preview: null,
      issues: [{ field: 'message.title', message: 'unknown placeholder {{lastName}}: use {{firstName}} or {{loyaltyTier}}' }],
    });
    expect(await preview({ definition: 'not a campaign' })).toEqual({ valid: false, preview: null, issues: [{ field: '(root)', message: expect.any(String) }] });
  });

  it('renders each experiment variant with its overrides', async () => {
    const experiment = { holdoutPercent: 0, variants: [{ id: 'a', weight: 1 }, { id: 'b', weight: 1, message: { title: 'Hello again, {{firstName}}' } }] };
    const { preview: shown, valid } = await preview({ definition: definition({ experiment }) });
    expect(valid).toBe(true);
    expect(shown?.variants.map((v) => [v.id, v.personalised!.title, v.generic!.title, v.generic!.body])).toEqual([
      ['a', 'Welcome back, Alex!', 'Welcome back!', 'As a member, coffee is on us today.'],
      ['b', 'Hello again, Alex', 'Hello again', 'As a member, coffee is on us today.'],
    ]);
  });

  it('writes nothing: no campaign, no version, no audit entry', async () => {
    const campaigns = (await t.deps.store.listCampaignRecords()).length;
    const audit = (await t.deps.store.listAudit(1, 100_000)).length;
    await preview({ definition: definition() });
    await preview({ definition: definition({ caps: {} }) });
    expect((await t.deps.store.listCampaignRecords()).length).toBe(campaigns);
    expect((await t.deps.store.listAudit(1, 100_000)).length).toBe(audit);
  });

  it('answers 400 only for a body that is not { definition, sample? }, naming the field', async () => {
    const send = (payload: string) => t.app.inject({ method: 'POST', url: '/v1/admin/campaigns/preview', headers: { ...bearer(maker), 'content-type': 'application/json' }, payload });
    for (const [payload, field] of [
      ['"a string"', '(root)'], ['[]', '(root)'], ['{}', 'definition'], ['{"definition":{},"extra":1}', 'extra'],
      ['{"definition":{},"sample":{"loyaltyTier":"diamond"}}', 'sample.loyaltyTier'], ['{"definition":{},"sample":{"firstName":""}}', 'sample.firstName'],
    ] as const) {
      const response = await send(payload);
      expect(response.statusCode, payload).toBe(400);
      expect(response.json().error, payload).toMatchObject({ code: 'INVALID_BODY', fields: [field] });
    }
  });

  it('is for those who write campaigns: the analyst and the auditor are refused', async () => {
    expect((await preview({ definition: definition() }, (await createApiKey(t, 'admin')).key)).valid).toBe(true);
    for (const role of ['analyst', 'auditor'] as const) {
      const response = await t.app.inject({ method: 'POST', url: '/v1/admin/campaigns/preview', headers: bearer((await createApiKey(t, role)).key), payload: { definition: definition() } });
      expect(response.statusCode).toBe(403);
    }
  });
});
