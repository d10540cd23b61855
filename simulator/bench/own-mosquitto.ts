import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// A Mosquitto of the bench's own (`npm run bench:e2e -- --e2e-mosquitto own`): the installed binary, on a free
// loopback port, with the shipped mosquitto.conf's latency and queue settings (server/broker/mosquitto/
// mosquitto.conf: Nagle off, a deep per-client queue) and none of its TLS, logins or persistence. A broker left
// at Mosquitto's defaults — Nagle on, 1,000 queued messages a client — delays each hop and drops QoS 1 presence
// under bursts, which is the broker's configuration speaking, not Vicino. The settings are read from the shipped
// file, so the bench follows it.

export type OwnMosquitto = { url: string; settings: string[]; close(): Promise<void> };

/** The shipped file's directives the bench broker takes over: what decides latency and loss, not security. */
const TAKEN = ['set_tcp_nodelay', 'max_queued_messages', 'max_inflight_messages'];

export const SHIPPED_MOSQUITTO_CONF = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'server', 'broker', 'mosquitto', 'mosquitto.conf');

/** The shipped settings in TAKEN, as written there; an error names any that is missing. */
export function shippedBrokerSettings(conf: string): string[] {
  const lines = conf.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  return TAKEN.map((name) => {
    const line = lines.find((l) => l.split(/\s+/)[0] === name);
    if (line === undefined) throw new Error(`${SHIPPED_MOSQUITTO_CONF} has no "${name}" line; the bench broker takes it from there`);
    return line;
  });
}

/** A port that was free a moment ago: listen on 0, note the port, close. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const accepts = (port: number): Promise<boolean> => new Promise((resolve) => {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.once('connect', () => {
    socket.destroy();
    resolve(true);
  });
  socket.once('error', () => resolve(false));
});

export async function startOwnMosquitto(options: { binary?: string; timeoutMs?: number } = {}): Promise<OwnMosquitto> {
  const binary = options.binary ?? 'mosquitto';
  const settings = shippedBrokerSettings(await readFile(SHIPPED_MOSQUITTO_CONF, 'utf8'));
  const dir = await mkdtemp(join(tmpdir(), 'vicino-bench-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  // Started as root, Mosquitto would switch to the "mosquitto" user; the bench's own user keeps it simple.
  await writeFile(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', ...settings, `user ${userInfo().username}`, ''].join('\n'));
  let child: ChildProcess;
  let exited: string | undefined;
  try {
    child = spawn(binary, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2_000)));
    child.once('error', (error) => (exited = `${binary} could not be started (${error.message}); install Mosquitto or pass --e2e-mosquitto url with MQTT_URL`));
    child.once('exit', (code) => (exited ??= `${binary} exited with ${code}: ${stderr.trim() || 'no output'}`));
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    while (!(await accepts(port))) {
      if (exited !== undefined) throw new Error(exited);
      if (Date.now() > deadline) throw new Error(`${binary} did not listen on 127.0.0.1:${port} within ${options.timeoutMs ?? 10_000} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    settings,
    async close() {
      if (child.exitCode === null && exited === undefined) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
