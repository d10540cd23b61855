import { fork, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startLoadProcess, type LoadProcess } from '#simulator/bench/e2e-load-client.ts';
import { freePort } from '#simulator/bench/own-mosquitto.ts';
import { processRuns } from '#test/helpers/process-runs.ts';

// The end-to-end bench's load process (simulator/bench/e2e-load.ts) as its client sees it: another OS
// process, whose failures reach the bench as errors that say what happened, and which never outlives
// the bench — closed, crashed, or with the bench itself killed. No server is needed for that: the load
// process starts with no gateways, and its first request to a port nobody listens on fails.


const started: LoadProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((load) => load.close()));
});

async function startIdleLoad(): Promise<LoadProcess> {
  // A local port nobody listens on (taken from the OS, then released).
  const port = await freePort();
  const load = await startLoadProcess({ serverUrl: `http://127.0.0.1:${port}`, mqttUrl: `mqtt://127.0.0.1:${port}`, storeId: 'bench-00000000', gateways: [], logLevel: 'silent' });
  started.push(load);
  return load;
}

describe('the end-to-end bench load process', () => {
  it('runs in another process, answers, and is gone after close', async () => {
    const load = await startIdleLoad();
    expect(load.pid).not.toBe(process.pid);
    expect(processRuns(load.pid)).toBe(true);
    expect(await load.stats()).toEqual({ published: 0, present: 0 });

    await load.close();
    expect(processRuns(load.pid)).toBe(false);
    // Closing again is harmless; asking a closed process fails plainly.
    await load.close();
    await expect(load.stats()).rejects.toThrow(/load process/);
  });

  it('reports a command it could not carry out, with its reason, and still closes', async () => {
    const load = await startIdleLoad();
    await expect(load.ensureShoppers(1)).rejects.toThrow(/^the bench's load process could not ensure-shoppers: fetch failed/);
    await expect(load.startStep(0, 100, 1_000)).rejects.toThrow(/could not start-step: no gateways/);
    // One failed command does not end it.
    expect(await load.stats()).toEqual({ published: 0, present: 0 });
    await load.close();
    expect(processRuns(load.pid)).toBe(false);
  });

  it('refuses a malformed command, naming the field, and carries on', async () => {
    // The load process's own edge, spoken to directly (the client cannot send a malformed command).
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const child = fork(fileURLToPath(new URL('../../../simulator/bench/e2e-load.ts', import.meta.url)), ['--serve-bench-load'], { execArgv: ['--import', tsx], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const answer = (command: unknown): Promise<unknown> => new Promise((resolve) => {
        child.once('message', resolve);
        child.send(command as object);
      });
      expect(await answer({ type: 'start-step', id: 7, step: -1, offeredPerSec: 100, stepMs: 1_000 })).toEqual({
        type: 'failed', id: 7, command: 'start-step', message: expect.stringMatching(/^malformed command: step: /),
      });
      expect(await answer({ type: 'stats', id: 'eight' })).toEqual({ type: 'fatal', message: expect.stringMatching(/^malformed command: id: /) });
      expect(await answer({ type: 'stats', id: 9 })).toEqual({ type: 'stats', id: 9, published: 0, present: 0 });
    } finally {
      child.disconnect();
      await exited;
    }
    expect(child.exitCode).toBe(0);
  });

  it('fails what waits on it when it dies, naming the signal', async () => {
    const load = await startIdleLoad();
    process.kill(load.pid, 'SIGKILL');
    await expect(load.stats()).rejects.toThrow(/^the bench's load process \(pid \d+\) exited unexpectedly \(SIGKILL\)/);
    await load.close();
    expect(processRuns(load.pid)).toBe(false);
  });

  it('ends when the bench process is killed, leaving no orphan', async () => {
    // A bench of its own (TypeScript through tsx, as the `vicino` command runs), with an embedded stack: the
    // load process's gateways hold MQTT connections (and would reconnect forever) — then the bench is
    // killed with no chance to clean up.
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const stackFile = pathToFileURL(fileURLToPath(new URL('../../../simulator/bench/e2e-stack.ts', import.meta.url))).href;
    const code = `import { pino } from 'pino';
      import { startBenchStack } from ${JSON.stringify(stackFile)};
      const stack = await startBenchStack({ kind: 'embedded', shoppers: 1, gateways: 1, logger: pino({ level: 'silent' }) });
      process.stdout.write(stack.load.pid + '\\n');
      setInterval(() => undefined, 1_000);`;
    // Its SQLite file's temp dir outlives it (nothing cleans up after SIGKILL): a temp dir of the test's own holds it.
    const ownTmp = await mkdtemp(join(tmpdir(), 'vicino-orphan-test-'));
    const bench = spawn(process.execPath, ['--import', tsx, '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TMPDIR: ownTmp } });
    const benchExited = new Promise<void>((resolve) => bench.once('exit', () => resolve()));
    try {
      const loadPid = await new Promise<number>((resolve, reject) => {
        let out = '';
        bench.stdout.on('data', (chunk: Buffer) => {
          out += String(chunk);
          if (out.includes('\n')) resolve(Number(out.trim()));
        });
        bench.once('exit', (exitCode) => reject(new Error(`the bench process exited (${exitCode}) before starting its load process`)));
      });
      expect(loadPid).not.toBe(bench.pid);
      expect(processRuns(loadPid)).toBe(true);

      bench.kill('SIGKILL');
      await benchExited;
      await expect.poll(() => processRuns(loadPid), { timeout: 5_000 }).toBe(false);
    } finally {
      bench.kill('SIGKILL');
      await benchExited;
      await rm(ownTmp, { recursive: true, force: true });
    }
  });
});
