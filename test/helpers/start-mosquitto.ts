import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '#simulator/bench/own-mosquitto.ts';
import { promisify } from 'node:util';
import { vi } from 'vitest';
import { addToMosquittoAclFile, addToMosquittoPasswordFile } from '#simulator/cli/provision-gateway.ts';

// A Mosquitto of the test's own, run from the files Vicino ships (server/broker/mosquitto/): a
// throwaway CA from make-test-ca.sh, password files written with mosquitto_passwd, the shipped acl
// with each gateway's block added as provisioning adds it, and the shipped mosquitto.conf with temp
// paths and free ports. Never the machine's broker on 1883.

const run = promisify(execFile);
export const MOSQUITTO_DIR = fileURLToPath(new URL('../../server/broker/mosquitto/', import.meta.url));

export type TestMosquitto = {
  /** The gateways' TLS listener (client ID = login). */
  gatewayUrl: string;
  /** The servers' TLS listener. */
  serverUrl: string;
  /** The plain loopback listener (health). */
  plainUrl: string;
  /** The throwaway CA that signed the broker's certificate. */
  ca: Buffer;
  /** Holds passwd, acl, mosquitto.conf and the certificates. */
  dir: string;
  /** SIGHUP: Mosquitto re-reads the password and ACL files. */
  reload(): void;
  close(): Promise<void>;
};


/**
 * The shipped mosquitto.conf with this run's paths and ports. Every directive the renderer relies on
 * must be found, so a change to the shipped file fails here rather than testing something else.
 */
export function renderMosquittoConf(text: string, at: { dir: string; gatewayPort: number; serverPort: number; plainPort: number }): string {
  const rules: [RegExp, string][] = [
    [/^listener 8883$/m, `listener ${at.gatewayPort} 127.0.0.1`],
    [/^listener 8884$/m, `listener ${at.serverPort} 127.0.0.1`],
    [/^listener 1883 127\.0\.0\.1$/m, `listener ${at.plainPort} 127.0.0.1`],
    [/^certfile .*$/gm, `certfile ${join(at.dir, 'server.crt')}`],
    [/^keyfile .*$/gm, `keyfile ${join(at.dir, 'server.key')}`],
    [/^password_file \/etc\/mosquitto\/vicino\/passwd$/gm, `password_file ${join(at.dir, 'passwd')}`],
    [/^password_file \/etc\/mosquitto\/vicino\/servers\.passwd$/gm, `password_file ${join(at.dir, 'servers.passwd')}`],
    [/^acl_file .*$/gm, `acl_file ${join(at.dir, 'acl')}`],
    [/^persistence_location .*$/m, `persistence_location ${join(at.dir, 'data')}/`],
  ];
  let rendered = text;
  for (const [pattern, replacement] of rules) {
    if (!pattern.test(rendered)) throw new Error(`the shipped mosquitto.conf has no line matching ${pattern}: update renderMosquittoConf`);
    pattern.lastIndex = 0;
    rendered = rendered.replace(pattern, replacement);
  }
  // Started as root, Mosquitto drops to the "mosquitto" user, which cannot read this 0700 temp dir;
  // run as whoever runs the tests (ignored when that is not root).
  return `${rendered}\nuser ${userInfo().username}\n`;
}

/** Whether something accepts TCP connections on 127.0.0.1:port now. */
export async function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export type ProvisionedLogin = { storeId: string; gatewayId: string; username: string; password: string };

/**
 * `gateways` are provisioned as `vicino gateway provision --mosquitto-passwd` does it (the password
 * file, and the gateway's block in the acl); `servers` go into servers.passwd.
 */
export async function startMosquitto(options: { gateways?: readonly ProvisionedLogin[]; servers?: Record<string, string> }): Promise<TestMosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'vicino-mosquitto-'));
  await mkdir(join(dir, 'data'));
  await run('bash', [join(MOSQUITTO_DIR, 'make-test-ca.sh'), dir]);
  await copyFile(join(MOSQUITTO_DIR, 'acl'), join(dir, 'acl'));
  for (const file of ['passwd', 'servers.passwd']) await writeFile(join(dir, file), '', { mode: 0o600 });
  for (const login of options.gateways ?? []) {
    await addToMosquittoPasswordFile(join(dir, 'passwd'), login);
    await addToMosquittoAclFile(join(dir, 'acl'), login.storeId, login.gatewayId);
  }
  for (const [user, password] of Object.entries(options.servers ?? {})) await run('mosquitto_passwd', ['-b', join(dir, 'servers.passwd'), user, password]);
  const gatewayPort = await freePort();
  const serverPort = await freePort();
  const plainPort = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(conf, renderMosquittoConf(await readFile(join(MOSQUITTO_DIR, 'mosquitto.conf'), 'utf8'), { dir, gatewayPort, serverPort, plainPort }));

  const child = spawn(process.env.MOSQUITTO_BIN ?? 'mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) => reject(new Error(`cannot run mosquitto (${error.message}): install Mosquitto 2.x or set MOSQUITTO_BIN`)));
  });
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await spawned;
    await vi.waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}:\n${stderr}`);
      if (!(await portAccepts(gatewayPort)) || !(await portAccepts(serverPort)) || !(await portAccepts(plainPort))) throw new Error(`mosquitto is not listening yet:\n${stderr}`);
    }, { timeout: 10_000, interval: 50 });
  } catch (error) {
    await close();
    throw error;
  }
  return {
    gatewayUrl: `mqtts://127.0.0.1:${gatewayPort}`,
    serverUrl: `mqtts://127.0.0.1:${serverPort}`,
    plainUrl: `mqtt://127.0.0.1:${plainPort}`,
    ca: await readFile(join(dir, 'ca.crt')),
    dir,
    reload: () => void child.kill('SIGHUP'),
    close,
  };
}

export { freePort };
