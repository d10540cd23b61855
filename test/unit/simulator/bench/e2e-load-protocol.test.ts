import { describe, expect, it } from 'vitest';
import { describeIssues, LoadCommandSchema, LoadMessageSchema, REPLY_TO } from '#simulator/bench/e2e-load-protocol.ts';

// The wire contract between the end-to-end bench and its load process: what either side accepts, and
// how a malformed message is described (by the field at fault, so a bad figure never slips through).

const report = { type: 'step-report', id: 4, published: 200, enters: 100, promotions: 100, latenciesMs: [3, 5], decisionsMs: [1, 2], loopDelayP99Ms: 12.5, cpuShare: 0.4 };

describe('the bench load protocol', () => {
  it('accepts a well-formed command and reply', () => {
    expect(LoadCommandSchema.parse({ type: 'start-step', id: 3, step: 0, offeredPerSec: 100, stepMs: 3_000 })).toEqual({ type: 'start-step', id: 3, step: 0, offeredPerSec: 100, stepMs: 3_000 });
    expect(LoadMessageSchema.parse(report)).toEqual(report);
  });

  it('names the field at fault in a malformed message', () => {
    // NaN travels as null in JSON: a latency lost that way is refused, not counted.
    const parsed = LoadMessageSchema.safeParse({ ...report, latenciesMs: [3, null] });
    expect(parsed.success).toBe(false);
    expect(describeIssues(parsed.error!)).toMatch(/^latenciesMs\.1: /);

    const command = LoadCommandSchema.safeParse({ type: 'start-step', id: 3, step: -1, offeredPerSec: 0, stepMs: 3_000 });
    expect(describeIssues(command.error!).split('; ').map((issue) => issue.split(':')[0])).toEqual(['step', 'offeredPerSec']);
  });

  it('refuses a message of no known type, and one without its id', () => {
    expect(LoadMessageSchema.safeParse({ type: 'promotion', id: 1 }).success).toBe(false);
    expect(describeIssues(LoadCommandSchema.safeParse({ type: 'stats' }).error!)).toMatch(/^id: /);
    expect(describeIssues(LoadCommandSchema.safeParse('stats').error!)).toMatch(/^\(message\): /);
  });

  it('pairs every command with a reply type the load process can send', () => {
    for (const reply of Object.values(REPLY_TO)) expect(LoadMessageSchema.options.map((o) => o.shape.type.value)).toContain(reply);
  });
});
