import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { freePort, portAccepts } from './start-mosquitto.ts';

// A private Mosquitto (MQTT 5) without TLS or logins, on a port of its own, with persistence, that a
// test can stop and start again on the same port: a broker outage. (start-mosquitto.ts runs the
// shipped configuration with TLS and ACLs; this one is for delivery tests that need neither.)

export type PlainMosquitto = { url: string; port: number; start(): Promise<void>; stop(): Promise<void>; close(): Promise<void> };

export async function startPlainMosquitto(): Promise<PlainMosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'vicino-plain-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(conf, [
    `listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${dir}/`,
    'max_queued_messages 100000', 'set_tcp_nodelay true',
    // Started as root, Mosquitto would switch to the "mosquitto" user, which cannot write this temp dir.
    `user ${userInfo().username}`, '',
  ].join('\n'));
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const started = spawn(process.env.MOSQUITTO_BIN ?? 'mosquitto', ['-c', conf], { stdio: 'ignore' });
    child = started;
    await vi.waitFor(async () => {
      if (started.exitCode !== null) throw new Error(`mosquitto exited with ${started.exitCode}`);
      if (!(await portAccepts(port))) throw new Error('mosquitto is not listening yet');
    }, { timeout: 10_000, interval: 50 });
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null) return;
    // SIGTERM: Mosquitto writes its persistence file (the sessions) before it exits.
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGTERM');
    });
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    start,
    stop,
    close: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
