import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.ts';
import { addressForms, encodingsOf, findLeaks, identifierForms, type Secret } from '../helpers/leak-search.ts';
import { captureMqtt, startTestBroker, type CapturedMessage, type TestBroker } from '../helpers/start-broker.ts';

// The proof, as an auditor would run it: `vicino demo --ground-truth FILE` writes every raw identifier
// and key the run involved; every MQTT message, log line and database row of that run is then searched
// for each of them, in every encoding. None may appear. The run's epoch keys rotate every 4 s instead
// of daily (`--epoch-rotation`), so the search covers keys after rotation too: keys that served, aged
// out and were destroyed while the run went on.

type GroundTruth = {
  addresses: string[]; eids: string[]; identityKeys: string[]; deviceIdentifiers: string[];
  epochKeys: string[]; epochKeyIds: string[]; gatewaySecrets: string[]; masterKey: string;
};

describe('vicino demo --ground-truth', () => {
  let dir: string;
  let broker: TestBroker;
  let captured: CapturedMessage[];
  let truth: GroundTruth;
  let stdout = '';
  let stderr = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vicino-truth-'));
    broker = await startTestBroker();
    const capture = await captureMqtt(broker.url, 'vicino/#');
    captured = capture.messages;
    const run = runCli(['demo', '--duration', '12s', '--epoch-rotation', '4s', '--json', '--port', '0', '--mqtt-url', broker.url, '--data-dir', join(dir, 'data'), '--ground-truth', join(dir, 'truth.json')]);
    const { code } = await run.exited;
    stdout = run.stdout();
    stderr = run.stderr();
    expect(code, stderr).toBe(0);
    truth = JSON.parse(await readFile(join(dir, 'truth.json'), 'utf8')) as GroundTruth;
    await capture.close();
  }, 60_000);

  afterAll(async () => {
    await broker?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('knows what there was to leak: addresses, tokens, identity keys, beacon IDs, epoch keys', () => {
    expect(truth.addresses.length).toBeGreaterThan(20);
    expect(truth.eids.length).toBeGreaterThan(17);
    expect(truth.identityKeys).toHaveLength(17);
    expect(truth.deviceIdentifiers.length).toBeGreaterThan(0);
    expect(truth.epochKeys.length).toBeGreaterThanOrEqual(1);
    expect(truth.gatewaySecrets).toHaveLength(3);
    expect(captured.filter((m) => m.topic.endsWith('/events')).length).toBeGreaterThan(0);
  });

  it('rotated epoch keys during the run: gateways used several, and the aged ones were destroyed', () => {
    expect(truth.epochKeyIds.length).toBeGreaterThanOrEqual(3);
    expect(truth.epochKeys).toHaveLength(truth.epochKeyIds.length);
    const keyIdsUsed = new Set(captured.filter((m) => m.topic.endsWith('/events')).map((m) => (JSON.parse(m.payload.toString('utf8')) as { keyId: string }).keyId));
    expect(keyIdsUsed.size).toBeGreaterThanOrEqual(2);
    const db = new Database(join(dir, 'data', 'vicino.db'), { readonly: true });
    const keys = db.prepare('SELECT key_id AS keyId, key_sealed AS keySealed, destroyed_at_s AS destroyedAtS FROM epoch_keys').all() as { keyId: string; keySealed: string | null; destroyedAtS: number | null }[];
    db.close();
    const destroyed = keys.filter((k) => k.destroyedAtS !== null);
    expect(destroyed.length).toBeGreaterThanOrEqual(1);
    // Destroyed means gone: not even the sealed copy is left, so no one — server, DBA, backup — can recompute a pseudonym.
    expect(destroyed.every((k) => k.keySealed === null)).toBe(true);
    expect(truth.epochKeyIds).toEqual(expect.arrayContaining(keys.map((k) => k.keyId)));
  });

  it('finds none of them in any MQTT message, log line, database row or console output', async () => {
    const secrets: Secret[] = [
      ...truth.addresses.flatMap(addressForms),
      ...truth.eids.flatMap((eid) => identifierForms('EID', eid)),
      ...truth.identityKeys.flatMap((key) => identifierForms('identity key', key)),
      ...truth.deviceIdentifiers.flatMap((id) => identifierForms('beacon or device identifier', id)),
      ...truth.epochKeys.flatMap((key) => identifierForms('epoch key', key)),
      ...truth.gatewaySecrets.flatMap((secret) => identifierForms('gateway secret', secret)),
      ...encodingsOf('master key', Buffer.from(truth.masterKey, 'hex')),
    ];
    const db = new Database(join(dir, 'data', 'vicino.db'), { readonly: true });
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
    const rows = tables.flatMap((table) => (db.prepare(`SELECT * FROM "${table}"`).all() as object[]).map((row) => JSON.stringify(row)));
    db.close();
    const logs = (await readFile(join(dir, 'data', 'vicino.log'), 'utf8')).split('\n');
    const corpus = [...captured.map((m) => `${m.topic} ${m.payload.toString('utf8')}`), ...logs, ...rows, stdout, stderr];
    expect(rows.length).toBeGreaterThan(50);
    expect(logs.length).toBeGreaterThan(5);
    expect(findLeaks(corpus, secrets).map((s) => s.what)).toEqual([]);
    // The search itself finds a planted leak in each form it claims to cover.
    const planted = [truth.addresses[0]!.toUpperCase(), Buffer.from(truth.eids[0]!, 'hex').toString('base64'), truth.identityKeys[0]!.toUpperCase()];
    expect(findLeaks([`innocent ${planted.join(' ')}`], secrets).map((s) => s.what)).toEqual(expect.arrayContaining(['MAC', 'EID', 'identity key']));
  });
});
