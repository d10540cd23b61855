import { execFile } from 'node:child_process';
import { chmod, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { loadGatewayConfig } from '#gateway/config.ts';
import type { MqttCredentials } from '#gateway/protocol/index.ts';
import { withGatewayAclBlock } from '#server/broker/mosquitto-acl.ts';

// `vicino gateway provision`: asks the admin API for a gateway's config file (its secret is issued
// once, in that response) and, for a Mosquitto broker, adds the gateway's MQTT login — derived from
// the secret, so the config file holds no second secret — to Mosquitto's password file, and the
// gateway's own topics (its store and gateway segments, nothing else) to Mosquitto's ACL file.

const run = promisify(execFile);

export type ProvisionRequest = {
  serverUrl: string;
  adminToken: string;
  storeId: string;
  gatewayId: string;
  zoneId: string;
  /** Issue a new secret for a gateway that exists (the old one stops working). */
  rotateSecret: boolean;
};

/** The gateway's config file as the server issued it, and the MQTT login the gateway will derive from it. */
export type ProvisionedGateway = { config: Record<string, unknown>; credentials: MqttCredentials };

export async function requestGatewayConfig(request: ProvisionRequest): Promise<ProvisionedGateway> {
  const path = `/v1/admin/stores/${encodeURIComponent(request.storeId)}/gateways`;
  let response: Response;
  try {
    response = await fetch(new URL(path, request.serverUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${request.adminToken}` },
      body: JSON.stringify({ id: request.gatewayId, zoneId: request.zoneId, rotateSecret: request.rotateSecret }),
    });
  } catch (error) {
    throw new Error(`cannot reach the server at ${request.serverUrl}: ${(error as Error).message}`);
  }
  const body = (await response.json().catch(() => ({}))) as { config?: Record<string, unknown>; error?: { message?: string } };
  if (!response.ok || body.config === undefined) {
    throw new Error(`the server refused to provision gateway ${request.gatewayId}: HTTP ${response.status} ${body.error?.message ?? ''}`.trim());
  }
  // Read back exactly as the gateway will read it, so the login written to Mosquitto is the one it uses.
  const loaded = loadGatewayConfig({}, JSON.stringify(body.config), 'the issued config');
  if (!loaded.ok) throw new Error(`the server issued a config this gateway cannot load: ${loaded.problems.join('; ')}`);
  return { config: body.config, credentials: loaded.config.credentials };
}

/** Fails with a clear message when Mosquitto's password tool is not installed — before anything is provisioned. */
export async function checkMosquittoPasswd(): Promise<void> {
  try {
    await run('mosquitto_passwd', ['-h']);
  } catch (error) {
    // It exits non-zero after printing its usage; only a missing program matters here.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('mosquitto_passwd is not installed (it comes with Mosquitto, e.g. `apt install mosquitto`); nothing was provisioned');
    }
  }
}

/** Adds (or replaces) the login in a Mosquitto password file, creating the file 0600 if there is none. */
export async function addToMosquittoPasswordFile(file: string, credentials: MqttCredentials): Promise<void> {
  await writeFile(file, '', { flag: 'a', mode: 0o600 });
  try {
    // -b takes the password as an argument (briefly visible to `ps` on this machine); Mosquitto stores only a salted hash.
    await run('mosquitto_passwd', ['-b', file, credentials.username, credentials.password]);
  } catch (error) {
    // Not error.message: it quotes the command line, password included.
    const detail = (error as { stderr?: string }).stderr?.trim() || `exit code ${String((error as { code?: unknown }).code)}`;
    throw new Error(`mosquitto_passwd could not add ${credentials.username} to ${file}: ${detail}`);
  }
}

/**
 * Puts the gateway's block into a Mosquitto ACL file (server/broker/mosquitto-acl.ts), replacing an
 * earlier one for the same gateway. The file is rewritten through a temporary file and a rename, so
 * Mosquitto never reads half of it; its mode is kept.
 */
export async function addToMosquittoAclFile(file: string, storeId: string, gatewayId: string): Promise<void> {
  let text: string;
  let mode = 0o640;
  try {
    text = await readFile(file, 'utf8');
    mode = (await stat(file)).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read the ACL file ${file}: ${(error as Error).message}`);
    throw new Error(`there is no ACL file at ${file}: copy server/broker/mosquitto/acl there first (it holds the servers' rules), or name it with --mosquitto-acl`);
  }
  const temporary = `${file}.vicino-${process.pid}.tmp`;
  await writeFile(temporary, withGatewayAclBlock(text, storeId, gatewayId), { mode });
  await chmod(temporary, mode);
  await rename(temporary, file);
}
