import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { pino, type Level, type Logger } from 'pino';
import { createGateway, type Gateway } from '#gateway/gateway.ts';
import { deriveEventMacKey, gatewayMqttCredentials, type PresenceEvent } from '#gateway/protocol/index.ts';
import { createMqttPublisher } from '#gateway/publisher/mqtt-publisher.ts';
import type { Scanner } from '#gateway/scanner/scanner.ts';
import { registerVirtualApp, type VirtualApp } from '../app/virtual-app.ts';
import { cpuShareSince, describeIssues, LoadCommandSchema, SHOPPER_REUSE_MS, type LoadCommand, type LoadMessage } from './e2e-load-protocol.ts';

// The end-to-end bench's load process (forked by e2e-load-client.ts), so that the server under test has
// the bench's main process, and its event loop, to itself: the gateways — the real gateway code
// (decode → pseudonymise → presence → sign → MQTT publisher) fed the reports a radio would hand them —
// and the consenting virtual apps, which register, consent and open their promotion stream through the
// real API and acknowledge what they receive. It answers the commands of e2e-load-protocol.ts and keeps
// each step's own account: events published, enters, promotions and their latencies.
//
// Clocks: Date.now() (epoch ms) throughout, as the server's; see e2e-load-protocol.ts.

/**
 * Presence tuned so that one report makes an enter and silence makes the exit a second later: the
 * bench controls the event rate by how many shoppers it brings in per second. (A real gateway needs
 * two sightings and 10 s away; the cost per event is the same.)
 */
export const BENCH_PRESENCE = { minSightings: 1, awayTimeoutMs: 1_000 };
export const BENCH_TICK_MS = 100;

const idleScanner: Scanner = { start: async () => undefined, stop: async () => undefined, stats: () => ({ reports: 0, trackedAddresses: 0 }) };

type StepAccount = { published: number; enters: number; promotions: number; latenciesMs: number[]; decisionsMs: number[] };

async function runPool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  }));
  return out;
}

/** The load side, driven by commands; `send` carries its replies and progress to the bench. */
export function createLoad(send: (message: LoadMessage) => void): { handle(command: LoadCommand): Promise<LoadMessage>; close(): Promise<void> } {
  let logger: Logger = pino({ level: 'error' }, pino.destination(2));
  let serverUrl = '';
  const gateways: { zoneId: string; gateway: Gateway }[] = [];
  const apps: VirtualApp[] = [];
  // The step a published event or a promotion belongs to (-1 before the first), and each step's account.
  let step = -1;
  const accounts = new Map<number, StepAccount>();
  const account = (s: number): StepAccount => {
    let found = accounts.get(s);
    if (found === undefined) accounts.set(s, (found = { published: 0, enters: 0, promotions: 0, latenciesMs: [], decisionsMs: [] }));
    return found;
  };
  const enterOf = new Map<string, { step: number; causedByMs: number }>();
  const onPublished = (event: PresenceEvent, causedByMs: number): void => {
    if (step < 0) return;
    const a = account(step);
    a.published += 1;
    if (event.kind !== 'enter') return;
    a.enters += 1;
    enterOf.set(event.eventId, { step, causedByMs });
  };
  const listen = (app: VirtualApp): void => app.onPromotion((promotion) => {
    const enter = enterOf.get(promotion.eventId);
    if (enter === undefined) return;
    enterOf.delete(promotion.eventId);
    const a = account(enter.step);
    a.promotions += 1;
    // receivedAtMs is this process's Date.now(); issuedAtMs the server process's; causedByMs this one's (the report's receive time).
    a.latenciesMs.push(promotion.receivedAtMs - enter.causedByMs);
    a.decisionsMs.push(promotion.issuedAtMs - enter.causedByMs);
  });
  // The shoppers free to be brought in, in order; a shopper is reused SHOPPER_REUSE_MS after its visit.
  const free: { shopper: number; availableAtMs: number }[] = [];
  let generator: { timer: NodeJS.Timeout; head: number; short: () => number } | undefined;
  let loopDelay: IntervalHistogram | undefined;
  let cpuFrom = { usage: process.cpuUsage(), atMs: 0 };

  const stopGenerator = (): number => {
    if (generator === undefined) return 0;
    clearInterval(generator.timer);
    // The shoppers brought in are queued again behind the rest; drop the consumed head.
    free.splice(0, generator.head);
    const short = generator.short();
    generator = undefined;
    return short;
  };

  const handlers: { [T in LoadCommand['type']]: (command: Extract<LoadCommand, { type: T }>) => Promise<LoadMessage> } = {
    async start(command) {
      logger = pino({ level: command.logLevel as Level }, pino.destination(2));
      serverUrl = command.serverUrl;
      for (const c of command.gateways) {
        const secret = Buffer.from(c.secret, 'base64url');
        const gatewayLogger = logger.child({ component: 'gateway', gatewayId: c.gatewayId });
        const gateway = createGateway({
          scanner: idleScanner,
          publisher: createMqttPublisher({
            url: command.mqttUrl, ...gatewayMqttCredentials(c.gatewayId, secret), storeId: command.storeId, gatewayId: c.gatewayId, logger: gatewayLogger, now: Date.now,
            version: 'bench', messageKey: deriveEventMacKey(secret, c.gatewayId), sessionExpiryS: 60, maxLatencyMs: command.gatewayMaxLatencyMs,
          }),
          logger: gatewayLogger,
          now: Date.now,
          settings: { storeId: command.storeId, gatewayId: c.gatewayId, zoneId: c.zoneId, secret, presence: BENCH_PRESENCE, tickMs: BENCH_TICK_MS },
          onPublished,
        });
        gateways.push({ zoneId: c.zoneId, gateway });
        await gateway.start();
      }
      const keysBy = Date.now() + 10_000;
      while (gateways.some((g) => g.gateway.stats().liveKeys === 0)) {
        if (Date.now() > keysBy) throw new Error('the bench gateways received no epoch key within 10 s: is the server connected to the same broker?');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return { type: 'started', id: command.id, pid: process.pid };
    },

    async ['ensure-shoppers'](command) {
      const from = apps.length;
      const count = command.count;
      if (count <= from) return { type: 'shoppers-ready', id: command.id, added: 0, total: from };
      const startedMs = Date.now();
      const added = await runPool(count - from, 16, async (i) => {
        const app = await registerVirtualApp({ baseUrl: serverUrl, now: Date.now });
        // Closed with the rest even if a later registration fails.
        apps.push(app);
        await app.setConsent({ presence: true, promotions: true });
        await app.connect();
        listen(app);
        if ((i + 1) % 500 === 0) send({ type: 'progress', line: `${from + i + 1} of ${count} shoppers registered, consented and connected` });
        return app;
      });
      for (let shopper = from; shopper < apps.length; shopper++) free.push({ shopper, availableAtMs: 0 });
      send({ type: 'progress', line: `${count} consenting shoppers ready (${added.length} more in ${((Date.now() - startedMs) / 1000).toFixed(1)} s)` });
      return { type: 'shoppers-ready', id: command.id, added: added.length, total: apps.length };
    },

    async ['start-step'](command) {
      if (generator !== undefined) throw new Error('step already running: end-step first');
      if (gateways.length === 0) throw new Error('no gateways: start with at least one');
      step = command.step;
      account(step);
      loopDelay?.disable();
      loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
      cpuFrom = { usage: process.cpuUsage(), atMs: performance.now() };
      const visitsPerSec = command.offeredPerSec / 2;
      const startedMs = Date.now();
      let issued = 0;
      let short = 0;
      const state = { timer: undefined as unknown as NodeJS.Timeout, head: 0, short: () => short };
      state.timer = setInterval(() => {
        const nowMs = Date.now();
        const due = Math.floor(((Math.min(nowMs, startedMs + command.stepMs) - startedMs) / 1000) * visitsPerSec);
        while (issued < due) {
          const next = free[state.head];
          if (next === undefined || next.availableAtMs > nowMs) {
            short += due - issued;
            issued = due;
            break;
          }
          state.head += 1;
          issued += 1;
          const app = apps[next.shopper]!;
          // What the radio hands the gateway: the app's advertisement, heard strongly, with its receive time.
          // The gateway that hears shopper i is fixed, so a shopper is present at one gateway at a time.
          gateways[next.shopper % gateways.length]!.gateway.handle({ data: app.tokens.advertisementAt(nowMs), rssiDbm: -55, receivedAtMs: nowMs });
          free.push({ shopper: next.shopper, availableAtMs: nowMs + SHOPPER_REUSE_MS });
        }
      }, 2);
      generator = state;
      return { type: 'step-started', id: command.id, startedAtMs: startedMs };
    },

    async ['end-step'](command) {
      return { type: 'step-ended', id: command.id, generatorShort: stopGenerator() };
    },

    async stats(command) {
      let published = 0;
      let present = 0;
      for (const g of gateways) {
        const stats = g.gateway.stats();
        published += stats.transitions;
        present += stats.present;
      }
      return { type: 'stats', id: command.id, published, present };
    },

    async ['step-report'](command) {
      if (loopDelay === undefined || command.step !== step) throw new Error(`no step ${command.step} to report on: the last started was ${step}, and each is reported once`);
      const a = account(command.step);
      accounts.delete(command.step);
      const loopDelayP99Ms = loopDelay.percentile(99) / 1e6;
      loopDelay.disable();
      loopDelay = undefined;
      return { type: 'step-report', id: command.id, ...a, loopDelayP99Ms, cpuShare: cpuShareSince(cpuFrom) };
    },

    async close(command) {
      await close();
      return { type: 'closed', id: command.id };
    },
  };

  const close = async (): Promise<void> => {
    stopGenerator();
    loopDelay?.disable();
    const results = await Promise.allSettled([...gateways.map((g) => g.gateway.stop()), ...apps.map((app) => app.close())]);
    gateways.length = 0;
    apps.length = 0;
    for (const r of results) if (r.status === 'rejected') logger.error({ err: (r.reason as Error).message }, 'load cleanup step failed');
  };

  return {
    handle: (command) => (handlers[command.type] as (c: LoadCommand) => Promise<LoadMessage>)(command),
    close,
  };
}

/** The child process's side of the channel: parse, dispatch, answer; stop with the parent. */
function serve(): void {
  // `then` runs once the message has left (or the channel is gone).
  const send = (message: LoadMessage, then?: () => void): void => {
    if (process.connected) process.send!(message, undefined, {}, () => then?.());
    else then?.();
  };
  const load = createLoad((message) => send(message));
  const fatal = (error: unknown): void => {
    send({ type: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }, () => process.exit(1));
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  // Ctrl-C reaches the whole process group: the bench ends the step and closes this process itself.
  process.on('SIGINT', () => undefined);
  // The bench is gone (it ended, or was killed): nothing to serve, no orphan.
  process.on('disconnect', () => {
    setTimeout(() => process.exit(0), 2_000).unref();
    void load.close().finally(() => process.exit(0));
  });
  process.on('message', (raw: unknown) => {
    const parsed = LoadCommandSchema.safeParse(raw);
    if (!parsed.success) {
      const rawId = (raw as { id?: unknown } | null)?.id;
      const message = `malformed command: ${describeIssues(parsed.error)}`;
      if (typeof rawId === 'number') send({ type: 'failed', id: rawId, command: String((raw as { type?: unknown }).type), message });
      else send({ type: 'fatal', message });
      return;
    }
    const command = parsed.data;
    load.handle(command).then(
      (reply) => send(reply, command.type === 'close' ? () => process.disconnect() : undefined),
      (error: unknown) => send({ type: 'failed', id: command.id, command: command.type, message: error instanceof Error ? error.message : String(error) }),
    );
  });
}

if (process.send !== undefined && process.argv[2] === '--serve-bench-load') serve();
