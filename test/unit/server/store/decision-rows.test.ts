import { describe, expect, it } from 'vitest';
import { budgetExhausted, hasBudgetLimit } from '#server/store/decision-rows.ts';

// A budget costs a send something (a count of the campaign's promotions, and on PostgreSQL the campaign's
// lock) only when it limits something: the default budget, {}, must leave sends of one campaign parallel.

describe('campaign budgets in the Store', () => {
  it('counts only for a budget with a limit', () => {
    expect(hasBudgetLimit(undefined)).toBe(false);
    expect(hasBudgetLimit({})).toBe(false);
    expect(hasBudgetLimit({ maxDeliveries: 10 })).toBe(true);
    expect(hasBudgetLimit({ maxRedemptions: 3 })).toBe(true);
  });

  it('refuses the send that would pass a limit, by deliveries or by redeemable coupons', () => {
    expect(budgetExhausted({ maxDeliveries: 10 }, { delivered: 9, redeemable: 0 })).toBe(false);
    expect(budgetExhausted({ maxDeliveries: 10 }, { delivered: 10, redeemable: 0 })).toBe(true);
    expect(budgetExhausted({ maxRedemptions: 3 }, { delivered: 50, redeemable: 2 })).toBe(false);
    expect(budgetExhausted({ maxRedemptions: 3 }, { delivered: 50, redeemable: 3 })).toBe(true);
    expect(budgetExhausted({}, { delivered: 1_000_000, redeemable: 1_000_000 })).toBe(false);
  });
});
