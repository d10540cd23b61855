import { z } from 'zod';

// The wire contract between the end-to-end bench (the server under test, in the bench's own process)
// and its load process (e2e-load.ts: the gateways with their MQTT publishers and the virtual apps with
// their WebSockets). Node's IPC channel carries these as JSON; each side parses what it receives with
// the other side's schema, so a malformed message names its field instead of corrupting a figure.
// Every command carries an `id`; the load process answers it with exactly one reply of the type
// REPLY_TO[command] or `failed`, with the same `id`. `progress` and `fatal` come unasked.
//
// Clocks: every timestamp here is epoch milliseconds from Date.now(), in both processes — the
// gateways stamp reports with it, the apps their receptions, the server its decisions. Both processes
// read the same machine clock, so an advertisement → decision difference across them is meaningful
// (to the millisecond; Date.now() has no finer grain).

/** A shopper brought in at t makes its enter at t and its exit at about t + 1.1 s; it is brought in again after this. */
export const SHOPPER_REUSE_MS = 1_600;

const id = z.number().int().nonnegative();

export const BenchGatewayCredentialSchema = z.object({
  gatewayId: z.string().min(1),
  zoneId: z.string().min(1),
  /** The gateway's secret, base64url (as the admin API hands it out). */
  secret: z.string().min(1),
});
export type BenchGatewayCredential = z.infer<typeof BenchGatewayCredentialSchema>;

export const LoadCommandSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('start'), id,
    serverUrl: z.url(), mqttUrl: z.url(), storeId: z.string().min(1),
    gateways: z.array(BenchGatewayCredentialSchema),
    gatewayMaxLatencyMs: z.number().int().nonnegative().optional(),
    logLevel: z.string().min(1),
  }),
  /** Register, consent and connect shoppers until there are `count`. */
  z.object({ type: z.literal('ensure-shoppers'), id, count: z.number().int().nonnegative() }),
  /** Start offering `offeredPerSec` presence events (rate/2 visits a second) for at most `stepMs`. */
  z.object({ type: z.literal('start-step'), id, step: z.number().int().nonnegative(), offeredPerSec: z.number().positive(), stepMs: z.number().int().positive() }),
  /** Stop offering (the step's time is up, or the bench was interrupted). */
  z.object({ type: z.literal('end-step'), id }),
  z.object({ type: z.literal('stats'), id }),
  /** What the load process saw of a step: call after its drain, once. */
  z.object({ type: z.literal('step-report'), id, step: z.number().int().nonnegative() }),
  z.object({ type: z.literal('close'), id }),
]);
export type LoadCommand = z.infer<typeof LoadCommandSchema>;

const latencies = z.array(z.number());

export const LoadMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('started'), id, pid: z.number().int().positive() }),
  z.object({ type: z.literal('shoppers-ready'), id, added: z.number().int().nonnegative(), total: z.number().int().nonnegative() }),
  /** The generator's start, epoch ms (Date.now() in the load process). */
  z.object({ type: z.literal('step-started'), id, startedAtMs: z.number() }),
  /** Visits the generator could not start for want of a free shopper. */
  z.object({ type: z.literal('step-ended'), id, generatorShort: z.number().int().nonnegative() }),
  /** Cumulative events the gateways published (enter + exit), and shoppers present at a gateway now. */
  z.object({ type: z.literal('stats'), id, published: z.number().int().nonnegative(), present: z.number().int().nonnegative() }),
  z.object({
    type: z.literal('step-report'), id,
    published: z.number().int().nonnegative(), enters: z.number().int().nonnegative(), promotions: z.number().int().nonnegative(),
    /** Advertisement → app, per promotion, ms: both ends in the load process. */
    latenciesMs: latencies,
    /** Advertisement → the server's decision (the promotion's issuedAtMs, the server process's Date.now()), ms. */
    decisionsMs: latencies,
    /** The load process's own event-loop delay from the step's start to this report, p99 ms. */
    loopDelayP99Ms: z.number(),
    /** The load process's CPU time (user + system) over the same time, as a share of one core. */
    cpuShare: z.number().nonnegative(),
  }),
  z.object({ type: z.literal('closed'), id }),
  z.object({ type: z.literal('failed'), id, command: z.string(), message: z.string() }),
  z.object({ type: z.literal('progress'), line: z.string() }),
  z.object({ type: z.literal('fatal'), message: z.string() }),
]);
export type LoadMessage = z.infer<typeof LoadMessageSchema>;

/** The reply each command gets when it succeeds. */
export const REPLY_TO = {
  'start': 'started',
  'ensure-shoppers': 'shoppers-ready',
  'start-step': 'step-started',
  'end-step': 'step-ended',
  'stats': 'stats',
  'step-report': 'step-report',
  'close': 'closed',
} as const satisfies Record<LoadCommand['type'], LoadMessage['type']>;

export type ReplyTo<T extends LoadCommand['type']> = Extract<LoadMessage, { type: (typeof REPLY_TO)[T] }>;

/** CPU time (user + system) since `from`, as a share of one core: both processes report theirs this way. */
export function cpuShareSince(from: { usage: NodeJS.CpuUsage; atMs: number }): number {
  const used = process.cpuUsage(from.usage);
  return (used.user + used.system) / 1_000 / Math.max(1, performance.now() - from.atMs);
}

/** A zod error as "field: problem; …", for an error message that names the field at fault. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(message)'}: ${issue.message}`).join('; ');
}
