import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

// The machines run Node 20 (package.json engines: >=20.19). A dependency whose own engines field wants
// a later Node installs with only a warning and may then use what Node 20 lacks, so every package the
// lockfile installs must admit the oldest Node we support. (@fastify/cookie 11.1.2+ and @fastify/static
// 10.1.4+ pull cookie 2 and content-disposition 3, which want Node 22: both are pinned below that.)

type LockedPackage = { version?: string; engines?: { node?: string } | string[] };
const lock = JSON.parse(readFileSync(new URL('../../../package-lock.json', import.meta.url), 'utf8')) as { packages: Record<string, LockedPackage> };
const ownRange = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } }).engines.node;

describe('Node versions', () => {
  it('installs no package whose engines field refuses the oldest Node the project supports', () => {
    const oldest = semver.minVersion(ownRange)!.version;
    expect(oldest).toBe('20.19.0');
    const refusing = Object.entries(lock.packages)
      .filter(([path, meta]) => path !== '' && !Array.isArray(meta.engines) && meta.engines?.node !== undefined && !semver.satisfies(oldest, meta.engines.node))
      .map(([path, meta]) => `${path}@${meta.version} wants node ${(meta.engines as { node: string }).node}`);
    expect(refusing).toEqual([]);
    expect(Object.keys(lock.packages).length).toBeGreaterThan(100);
  });
});
