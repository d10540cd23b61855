import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createLoad } from './e2e-load.ts';
import {
  describeIssues, LoadMessageSchema, REPLY_TO, type BenchGatewayCredential, type LoadCommand, type LoadMessage, type ReplyTo,
} from './e2e-load-protocol.ts';

// The bench's side of its load process (e2e-load.ts): fork it, talk the protocol of
// e2e-load-protocol.ts, and make sure it ends — on close(), when it fails, and when this process
// ends (the child leaves when its IPC channel closes). Any failure of the child rejects what waits
// on it with a message that says so: a command it refused, its crash (with its last words on stderr),
// a malformed message (naming the field). startInlineLoad runs the same load in this process instead.

export type LoadProcessOptions = {
  serverUrl: string;
  mqttUrl: string;
  storeId: string;
  gateways: readonly BenchGatewayCredential[];
  gatewayMaxLatencyMs?: number;
  /** The pino level of the load process's logs (to stderr); 'error' by default. */
  logLevel?: string;
  /** The load process's progress lines (shoppers registering). */
  print?: (line: string) => void;
};

export type LoadStepReport = Omit<ReplyTo<'step-report'>, 'type' | 'id'>;

export type LoadProcess = {
  /** The load process's pid (this process's own only for startInlineLoad). */
  pid: number;
  /** Registers, consents and connects shoppers (in the load process) until there are `count`. */
  ensureShoppers(count: number): Promise<{ added: number; total: number }>;
  /** Starts offering presence events; resolves with the generator's start, epoch ms. */
  startStep(step: number, offeredPerSec: number, stepMs: number): Promise<number>;
  /** Stops offering; resolves with the visits the generator could not start. */
  endStep(): Promise<number>;
  /** Cumulative events published, and shoppers present at a gateway now. */
  stats(): Promise<{ published: number; present: number }>;
  stepReport(step: number): Promise<LoadStepReport>;
  /** Closes the gateways and apps and ends the process (killed if it does not end in time). Idempotent. */
  close(): Promise<void>;
};

const ENTRY = fileURLToPath(new URL('./e2e-load.ts', import.meta.url));
// The TypeScript loader, by its resolved path, so the child starts from any working directory.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const START_TIMEOUT_MS = 30_000;
const CLOSE_TIMEOUT_MS = 5_000;
const STDERR_TAIL_CHARS = 2_000;

export async function startLoadProcess(options: LoadProcessOptions): Promise<LoadProcess> {
  const child = fork(ENTRY, ['--serve-bench-load'], { execArgv: ['--import', TSX], stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  const pending = new Map<number, { expect: LoadMessage['type']; command: string; resolve: (message: LoadMessage) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let failure: Error | undefined;
  let closing = false;
  // Its logs go on to our stderr; the tail is kept for the error if it dies.
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    stderrTail = (stderrTail + chunk.toString()).slice(-STDERR_TAIL_CHARS);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const fail = (error: Error): void => {
    failure ??= error;
    for (const waiting of pending.values()) waiting.reject(failure);
    pending.clear();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const lastWords = (): string => (stderrTail.trim() === '' ? '' : `; its stderr ended with: ${stderrTail.trim().slice(-500)}`);
  child.on('error', (error) => fail(new Error(`the bench's load process (pid ${child.pid ?? '?'}): ${error.message}`)));
  child.once('exit', (code, signal) => {
    if (closing && pending.size === 0) return;
    fail(new Error(`the bench's load process (pid ${child.pid ?? '?'}) exited unexpectedly (${signal ?? `code ${code}`})${lastWords()}`));
  });
  child.on('message', (raw: unknown) => {
    const parsed = LoadMessageSchema.safeParse(raw);
    if (!parsed.success) return fail(new Error(`the bench's load process sent a malformed message: ${describeIssues(parsed.error)}`));
    const message = parsed.data;
    if (message.type === 'progress') return options.print?.(message.line);
    if (message.type === 'fatal') return fail(new Error(`the bench's load process crashed: ${message.message}`));
    const waiting = pending.get(message.id);
    if (waiting === undefined) return fail(new Error(`the bench's load process answered command ${message.id}, which is not waiting`));
    pending.delete(message.id);
    if (message.type === 'failed') waiting.reject(new Error(`the bench's load process could not ${message.command}: ${message.message}`));
    else if (message.type !== waiting.expect) waiting.reject(new Error(`the bench's load process answered ${waiting.command} with ${message.type}`));
    else waiting.resolve(message);
  });

  const request: Requester = (command) => {
    if (failure !== undefined) return Promise.reject(failure);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { expect: REPLY_TO[command.type], command: command.type, resolve: resolve as (message: LoadMessage) => void, reject });
      child.send({ ...command, id } satisfies LoadCommand, (error) => {
        if (error) fail(new Error(`the bench's load process cannot be reached: ${error.message}`));
      });
    });
  };

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      if (failure === undefined && child.connected) {
        const timer = setTimeout(() => fail(new Error(`the bench's load process did not close within ${CLOSE_TIMEOUT_MS} ms; killed`)), CLOSE_TIMEOUT_MS);
        try {
          await request({ type: 'close' });
        } catch {
          // Its failure is already recorded; what matters now is that it ends.
        } finally {
          clearTimeout(timer);
        }
      }
      const killTimer = setTimeout(() => child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
      await exited;
      clearTimeout(killTimer);
    })();
    return closed;
  };

  try {
    const startTimer = setTimeout(() => fail(new Error(`the bench's load process did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    const started = await request(startCommand(options)).finally(() => clearTimeout(startTimer));
    return loadOver(started.pid, request, close);
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The same load in this process, beside the server (as the bench ran before the load process): for a
 * side-by-side comparison on a machine whose cores slow each other down (`--e2e-load inline`).
 */
export async function startInlineLoad(options: LoadProcessOptions): Promise<LoadProcess> {
  const load = createLoad((message) => {
    if (message.type === 'progress') options.print?.(message.line);
  });
  let nextId = 0;
  const request: Requester = async (command) => {
    const id = nextId++;
    try {
      return await load.handle({ ...command, id } as LoadCommand) as never;
    } catch (error) {
      throw new Error(`the bench's load could not ${command.type}: ${(error as Error).message}`, { cause: error });
    }
  };
  try {
    await request(startCommand(options));
  } catch (error) {
    await load.close();
    throw error;
  }
  return loadOver(process.pid, request, load.close);
}

type Command = LoadCommand extends infer C ? (C extends LoadCommand ? Omit<C, 'id'> : never) : never;
type Requester = <C extends Command>(command: C) => Promise<ReplyTo<C['type']>>;

const startCommand = (options: LoadProcessOptions): Extract<Command, { type: 'start' }> => ({
  type: 'start', serverUrl: options.serverUrl, mqttUrl: options.mqttUrl, storeId: options.storeId, gateways: [...options.gateways],
  gatewayMaxLatencyMs: options.gatewayMaxLatencyMs, logLevel: options.logLevel ?? 'error',
});

function loadOver(pid: number, request: Requester, close: () => Promise<void>): LoadProcess {
  return {
    pid,
    ensureShoppers: async (count) => {
      const { added, total } = await request({ type: 'ensure-shoppers', count });
      return { added, total };
    },
    startStep: async (step, offeredPerSec, stepMs) => (await request({ type: 'start-step', step, offeredPerSec, stepMs })).startedAtMs,
    endStep: async () => (await request({ type: 'end-step' })).generatorShort,
    stats: async () => {
      const { published, present } = await request({ type: 'stats' });
      return { published, present };
    },
    stepReport: async (step) => {
      const { type: _type, id: _id, ...report } = await request({ type: 'step-report', step });
      return report;
    },
    close,
  };
}
