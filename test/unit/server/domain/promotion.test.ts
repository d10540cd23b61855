import { describe, expect, it } from 'vitest';
import { buildPromotion, escapeValue, newCouponCode, PromotionMessageSchema, promotionId, renderTemplate } from '#server/domain/promotion.ts';
import { aCampaign, START_MS } from '#test/helpers/builders.ts';

describe('renderTemplate', () => {
  it('fills placeholders from the shopper’s attributes when personalised', () => {
    expect(renderTemplate('Hi {{firstName}}, coffee is ready.', { firstName: 'Ada' }, true)).toBe('Hi Ada, coffee is ready.');
    expect(renderTemplate('Hi {{ firstName }}!', { firstName: 'Ada' }, true)).toBe('Hi Ada!');
  });

  it('uses no attribute at all when not personalised (P2)', () => {
    const rendered = renderTemplate('Hi {{firstName}}, coffee is ready.', { firstName: 'Ada' }, false);
    expect(rendered).toBe('Hi, coffee is ready.');
    expect(rendered).not.toContain('Ada');
  });

  it('renders the loyalty tier with P2 only', () => {
    const template = 'A {{loyaltyTier}} treat for you, {{firstName}}!';
    expect(renderTemplate(template, { firstName: 'Ada', loyaltyTier: 'gold' }, true)).toBe('A gold treat for you, Ada!');
    expect(renderTemplate(template, { firstName: 'Ada', loyaltyTier: 'gold' }, false)).toBe('A treat for you!');
  });

  it('tidies the gap an empty placeholder leaves ("Hi , x" → "Hi, x")', () => {
    expect(renderTemplate('Hi {{firstName}} , your coupon', {}, true)).toBe('Hi, your coupon');
    expect(renderTemplate('Hi {{firstName}}, your coupon', { firstName: '' }, true)).toBe('Hi, your coupon');
    expect(renderTemplate('Thanks {{firstName}}!', {}, false)).toBe('Thanks!');
    expect(renderTemplate('Welcome back, {{firstName}}!', {}, false)).toBe('Welcome back!');
    expect(renderTemplate('Hello again, {{firstName}}', {}, false)).toBe('Hello again');
    expect(renderTemplate('  {{firstName}} two  spaces  ', {}, true)).toBe('two spaces');
  });

  it('renders an unknown placeholder as nothing rather than leaking its name', () => {
    expect(renderTemplate('Hi {{loyaltyTier}}.', { firstName: 'Ada' }, true)).toBe('Hi.');
  });

  it('escapes HTML in a shopper-provided value', () => {
    const rendered = renderTemplate('Hi {{firstName}}', { firstName: '<script>alert("x")</script>' }, true);
    expect(rendered).not.toContain('<script>');
    expect(rendered).toBe('Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
  });

  it('strips control characters from a shopper-provided value', () => {
    expect(renderTemplate('Hi {{firstName}}', { firstName: 'A\u0000d\u001ba\u007f\n' }, true)).toBe('Hi Ada');
  });

  it('renders a value that looks like a placeholder literally, once', () => {
    expect(renderTemplate('Hi {{firstName}}', { firstName: '{{firstName}} $& $1' }, true)).toBe('Hi {{firstName}} $&amp; $1');
  });
});

describe('escapeValue', () => {
  it('escapes each of & < > " \'', () => {
    expect(escapeValue(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });

  it('caps a value at 64 characters before escaping', () => {
    expect(escapeValue('x'.repeat(200))).toHaveLength(64);
  });
});

describe('promotionId', () => {
  it('is the same for the same campaign, shopper and event', () => {
    expect(promotionId('cmp-1', 'sh-1', 'ev-1')).toBe(promotionId('cmp-1', 'sh-1', 'ev-1'));
    expect(promotionId('cmp-1', 'sh-1', 'ev-1')).toMatch(/^pr_[A-Za-z0-9_-]{22}$/);
  });

  it('differs when any of campaign, shopper or event differs', () => {
    const ids = new Set([
      promotionId('cmp-1', 'sh-1', 'ev-1'),
      promotionId('cmp-2', 'sh-1', 'ev-1'),
      promotionId('cmp-1', 'sh-2', 'ev-1'),
      promotionId('cmp-1', 'sh-1', 'ev-2'),
      // The separator keeps shifted boundaries apart.
      promotionId('cmp-1s', 'h-1', 'ev-1'),
    ]);
    expect(ids.size).toBe(5);
  });
});

describe('newCouponCode', () => {
  it('is two groups of five from the Crockford alphabet (no I, L, O, U)', () => {
    for (let i = 0; i < 200; i += 1) expect(newCouponCode()).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/);
  });

  it('does not repeat in 10,000 codes', () => {
    const codes = new Set(Array.from({ length: 10_000 }, newCouponCode));
    expect(codes.size).toBe(10_000);
  });
});

describe('buildPromotion', () => {
  const campaign = aCampaign({
    id: 'coffee-corner',
    storeId: 'store-7',
    message: { title: 'Hi {{firstName}}', body: 'Two for one, {{firstName}}.', deepLink: 'https://example.test/offer', validForS: 600 },
  });
  const build = (personalised: boolean) =>
    buildPromotion({
      campaign, shopperId: 'sh-1', eventId: 'ev-1', storeId: 'store-7', zoneId: 'bakery', personalised,
      purposes: personalised ? ['presence', 'promotions', 'personalisation'] : ['presence', 'promotions'],
      attributes: { firstName: 'Ada' }, nowMs: START_MS,
    });

  it('says why it was sent: store, zone, trigger, purposes and where to change them (TRN-2)', () => {
    expect(build(false).why).toEqual({ storeId: 'store-7', zoneId: 'bakery', trigger: 'enter', purposes: ['presence', 'promotions'], settingsPath: '/v1/me/consents' });
    expect(build(true).why.purposes).toEqual(['presence', 'promotions', 'personalisation']);
  });

  it('is a valid promotion message with a deterministic ID, an expiry and the triggering event', () => {
    const message = build(true);
    expect(PromotionMessageSchema.parse(message)).toEqual(message);
    expect(message).toMatchObject({
      type: 'promotion', id: promotionId('coffee-corner', 'sh-1', 'ev-1'), campaignId: 'coffee-corner', eventId: 'ev-1',
      title: 'Hi Ada', body: 'Two for one, Ada.', deepLink: 'https://example.test/offer',
      issuedAtMs: START_MS, expiresAtMs: START_MS + 600_000,
    });
  });

  it('renders no shopper attribute without personalisation', () => {
    const message = build(false);
    expect(message.title).toBe('Hi');
    expect(message.body).toBe('Two for one.');
    expect(JSON.stringify(message)).not.toContain('Ada');
  });

  it('issues a fresh coupon each time but keeps the ID', () => {
    expect(build(false).couponCode).not.toBe(build(false).couponCode);
    expect(build(false).id).toBe(build(true).id);
  });

  it('omits the deep link when the campaign has none', () => {
    const plain = buildPromotion({ campaign: aCampaign(), shopperId: 'sh-1', eventId: 'ev-1', storeId: 'store-1', zoneId: 'entrance', personalised: false, purposes: ['presence', 'promotions'], attributes: {}, nowMs: START_MS });
    expect(plain).not.toHaveProperty('deepLink');
  });
});
