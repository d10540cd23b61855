import { performance } from 'node:perf_hooks';
import { computeEid, pseudonymBytes, windowStart, type Pseudonym } from '#gateway/protocol/index.ts';
import { createResolverIndex, type LiveEpochKey, type ResolvableShopper, type Resolution } from '#server/domain/resolver-index.ts';
import { SLICE_BUDGET } from '#server/resolver.ts';
import { createRng, type Rng } from '../rng.ts';
import { createResolverIndex as createMapResolverIndex } from './baseline/map-resolver-index.ts';

// The resolver at scale (issue 3, point 5): N consenting shoppers with random identity keys, K = 10
// (1,024-second windows), one store with its live epoch key, then two keys around a key rotation.
// For each N it measures the full build, the memory the index holds, the CPU of one window roll
// (every shopper's window advances at the same instant, because windows start on multiples of 2^K),
// the longest time one slice of that work blocks the event loop, the periodic resync the server
// runs every minute, and resolve() hits and misses per second. It runs the compact index and the
// Map-based one it replaced (./baseline/) side by side. Importing this file does nothing.

type IndexUnderTest = {
  setKeys(keys: readonly LiveEpochKey[], nowS: number, budget?: number): void;
  reserve?(shoppers: number): void;
  upsert(shopper: ResolvableShopper, nowS: number): void;
  roll(nowS: number): number;
  rollStep?(nowS: number, budget: number): { rolled: number; done: boolean };
  resolve(pseudonym: Pseudonym): Resolution | undefined;
  has(shopperId: string): boolean;
  shopperIds(): string[];
  size(): { shoppers: number; pseudonyms: number };
};

export type ResolverBenchOptions = {
  /** Index sizes to measure. Default [100_000, 1_000_000]. */
  shoppers?: number[];
  /** Also measure the Map-based index it replaced, up to this many shoppers. Default: every size. */
  baselineUpTo?: number;
  /** rollStep's budget per slice (pseudonyms computed). Default: server/resolver.ts's, between event-loop turns. */
  sliceBudget?: number;
  /** resolve() calls per timed round. Default 200,000. */
  lookups?: number;
  rounds?: number;
  seed?: number;
  print?: (line: string) => void;
};

/** CPU and wall time of some work; the longest and the 99th-percentile time one slice of it blocked the event loop. */
export type WorkFigures = { cpuMs: number; wallMs: number; longestBlockMs: number; p99BlockMs: number; slices: number; blocks: number[] };

export type ResolverBenchResult = {
  implementation: 'compact' | 'map (before)';
  shoppers: number;
  build: { wallMs: number; usPerShopper: number };
  oneKey: {
    heapMb: number; rssMb: number; pseudonyms: number; roll: WorkFigures; resync: WorkFigures;
    /** % of one core: the roll per window, and the roll plus the minute's resync. */
    rollPercentOfCore: number; percentOfCore: number; hitsPerSec: number; missesPerSec: number;
  };
  twoKeys: { addKey: WorkFigures; heapMb: number; pseudonyms: number; roll: WorkFigures; rollPercentOfCore: number; percentOfCore: number; dropKey: WorkFigures };
};

type Implementation = {
  name: ResolverBenchResult['implementation'];
  create(): IndexUnderTest;
  /** The index side of server/resolver.ts sync(): what it does with the ids the Store listed (the query is not counted). */
  sync(index: IndexUnderTest, listed: readonly string[]): void;
};

const COMPACT: Implementation = {
  name: 'compact',
  create: () => createResolverIndex(),
  sync(index, listed) {
    index.reserve?.(listed.length);
    const missing = listed.filter((id) => !index.has(id));
    if (missing.length > 0 || index.size().shoppers !== listed.length) throw new Error('resolver bench: the index and the listed shoppers differ');
  },
};

const MAP_BEFORE: Implementation = {
  name: 'map (before)',
  create: () => createMapResolverIndex(),
  // sync() as it was: a set of the listed ids, every indexed shopper checked against it, every listed one looked up.
  sync(index, listed) {
    const keep = new Set(listed);
    for (const id of index.shopperIds()) if (!keep.has(id)) throw new Error('resolver bench: an indexed shopper is not listed');
    for (const id of listed) if (!index.has(id)) throw new Error('resolver bench: a listed shopper is missing');
  },
};

const K = 10;
const PERIOD_S = 2 ** K;
const RESYNC_EVERY_S = 60; // server/server.ts: keys and the index are re-read from the Store every minute
const TICK_S = 5; // server/server.ts: the roll timer
// The timeline: build mid-window; roll through the next boundary; add tomorrow's key early in the
// following window, roll through its boundary with two keys; drop today's key early in the one after.
const W0_S = windowStart(1_800_000_000, K);
const T0_S = W0_S + PERIOD_S / 2;
const ROTATION_S = W0_S + PERIOD_S + 300;
const DROP_S = W0_S + 2 * PERIOD_S + 300;

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
async function memory(): Promise<{ heap: number; rss: number }> {
  // Collect until the heap settles: native objects (the many Hmac and Cipher wrappers a build leaves)
  // and array buffers are released a collection or a turn of the event loop after they die.
  let last = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 8; round += 1) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    if (heapUsed + arrayBuffers > last * 0.995) break;
    last = heapUsed + arrayBuffers;
  }
  const m = process.memoryUsage();
  // Typed arrays live outside the JS heap (arrayBuffers): count both.
  return { heap: m.heapUsed + m.arrayBuffers, rss: m.rss };
}
const mb = (bytes: number): number => bytes / 1_048_576;

/** Runs `work` and returns its CPU and wall time; the longest block is the whole call. */
function timed(work: () => void): WorkFigures {
  const cpu = process.cpuUsage();
  const start = performance.now();
  work();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000, wallMs, longestBlockMs: wallMs, p99BlockMs: wallMs, slices: 1, blocks: [wallMs] };
}

/** Does all the index's due work at nowS, in slices if it has rollStep (as the server does), recording the longest slice. */
function drain(index: IndexUnderTest, nowS: number, slice: number, into: WorkFigures): void {
  const cpu = process.cpuUsage();
  for (;;) {
    const start = performance.now();
    const done = index.rollStep ? index.rollStep(nowS, slice).done : (index.roll(nowS), true);
    const ms = performance.now() - start;
    into.wallMs += ms;
    into.longestBlockMs = Math.max(into.longestBlockMs, ms);
    into.blocks.push(ms);
    into.slices += 1;
    if (done) break;
  }
  const used = process.cpuUsage(cpu);
  into.cpuMs += (used.user + used.system) / 1000;
  const sorted = [...into.blocks].sort((a, b) => a - b);
  into.p99BlockMs = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))] ?? 0;
}

/** setKeys() with a slice's budget (the first slice, as server/resolver.ts does), then the rest in slices. */
function setKeysAndDrain(index: IndexUnderTest, keys: readonly LiveEpochKey[], nowS: number, slice: number): WorkFigures {
  const first = timed(() => index.setKeys(keys, nowS, slice));
  const rest = noWork();
  rest.blocks.push(first.wallMs);
  rest.longestBlockMs = first.wallMs;
  drain(index, nowS, slice, rest);
  return { ...rest, cpuMs: rest.cpuMs + first.cpuMs, wallMs: rest.wallMs + first.wallMs, slices: rest.slices + 1 };
}

const noWork = (): WorkFigures => ({ cpuMs: 0, wallMs: 0, longestBlockMs: 0, p99BlockMs: 0, slices: 0, blocks: [] });

/** One window's worth of the 5-second roll timer: from fromS until a quarter window past the next boundary. */
function rollOneWindow(index: IndexUnderTest, fromS: number, slice: number): WorkFigures {
  const figures = noWork();
  const untilS = windowStart(fromS, K) + PERIOD_S + PERIOD_S / 4;
  for (let t = fromS; t <= untilS; t += TICK_S) drain(index, t, slice, figures);
  figures.slices = Math.max(figures.slices, 1);
  return figures;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** resolve() rate. Each round looks up strings made for it, as each event brings a freshly parsed one (no cached string hash). */
function lookupsPerSec(index: IndexUnderTest, pseudonyms: readonly Buffer[], lookups: number, rounds: number, expectHits: boolean): number {
  const rates: number[] = [];
  for (let round = 0; round <= rounds; round += 1) {
    const fresh = Array.from({ length: lookups }, (_, i) => pseudonyms[i % pseudonyms.length]!.toString('hex') as Pseudonym);
    let hits = 0;
    const start = performance.now();
    for (let i = 0; i < lookups; i += 1) if (index.resolve(fresh[i]!) !== undefined) hits += 1;
    const ms = performance.now() - start;
    if (hits !== (expectHits ? lookups : 0)) throw new Error(`resolver bench: ${hits} of ${lookups} lookups hit, expected ${expectHits ? 'all' : 'none'}`);
    if (round > 0) rates.push((lookups * 1000) / ms); // round 0 warms the JIT
  }
  return median(rates);
}

type Population = { size: number; identityKey(i: number): Buffer; shopperId(i: number): string };

function population(size: number, rng: Rng): Population {
  const keys = rng.bytes(size * 16);
  const salt = rng.uint32().toString(16).padStart(8, '0');
  return {
    size,
    identityKey: (i) => Buffer.from(keys.subarray(i * 16, i * 16 + 16)), // a copy: the index may zero what it is given
    // server/identity.ts: `sh_` + 32 hex digits. Built per call, so the index (not the bench) owns the
    // string, and decoded from bytes as a database driver does (a flat string, not a concatenation).
    shopperId: (i) => Buffer.from(`sh_${salt}${i.toString(16).padStart(24, '0')}`, 'latin1').toString('latin1'),
  };
}

async function measure(implementation: Implementation, people: Population, options: Required<Omit<ResolverBenchOptions, 'print' | 'baselineUpTo' | 'shoppers'>>, rng: Rng): Promise<ResolverBenchResult> {
  const epochKey = (name: string): LiveEpochKey => ({ keyId: name, storeId: 'store-1', key: rng.bytes(32) });
  const today = epochKey('store-1-today');
  const tomorrow = epochKey('store-1-tomorrow');
  const n = people.size;
  const slice = options.sliceBudget;

  const before = await memory();
  const index = implementation.create();
  index.setKeys([today], T0_S);
  const build = timed(() => {
    index.reserve?.(n); // as sync() does, knowing how many the Store listed
    for (let i = 0; i < n; i += 1) index.upsert({ shopperId: people.shopperId(i), identityKey: people.identityKey(i), rotationExponent: K }, T0_S);
  });
  const built = await memory();
  const pseudonymsOneKey = index.size().pseudonyms;

  const sample = Math.min(n, 20_000);
  const hits = Array.from({ length: sample }, () => {
    const i = rng.int(0, n - 1);
    return pseudonymBytes(today.key, 'eddystone-eid', computeEid(people.identityKey(i), K, T0_S + rng.int(-1, 1) * PERIOD_S));
  });
  const misses = Array.from({ length: sample }, () => rng.bytes(16));
  const hitsPerSec = lookupsPerSec(index, hits, options.lookups, options.rounds, true);
  const missesPerSec = lookupsPerSec(index, misses, options.lookups, options.rounds, false);

  // The minute's resync (server/server.ts): the same keys again, then sync() with the Store's list.
  const listed = Array.from({ length: n }, (_, i) => people.shopperId(i));
  const resync = timed(() => {
    index.setKeys([today], T0_S + 1, slice);
    drain(index, T0_S + 1, slice, noWork());
    implementation.sync(index, listed);
  });
  listed.length = 0;
  const rollOneKey = rollOneWindow(index, T0_S, slice);

  const rotationS = ROTATION_S;
  const addKey = setKeysAndDrain(index, [today, tomorrow], rotationS, slice);
  const twoKeysMemory = await memory();
  const pseudonymsTwoKeys = index.size().pseudonyms;
  const rollTwoKeys = rollOneWindow(index, rotationS, slice);
  const dropAt = DROP_S;
  const dropKey = setKeysAndDrain(index, [tomorrow], dropAt, slice);
  if (index.size().shoppers !== n) throw new Error('resolver bench: shoppers went missing');

  const percent = (cpuMs: number): number => (cpuMs / (PERIOD_S * 1000)) * 100;
  const resyncPerWindowMs = (resync.cpuMs * PERIOD_S) / RESYNC_EVERY_S;
  return {
    implementation: implementation.name,
    shoppers: n,
    build: { wallMs: build.wallMs, usPerShopper: (build.wallMs * 1000) / n },
    oneKey: {
      heapMb: mb(built.heap - before.heap), rssMb: mb(built.rss - before.rss), pseudonyms: pseudonymsOneKey,
      roll: rollOneKey, resync, rollPercentOfCore: percent(rollOneKey.cpuMs), percentOfCore: percent(rollOneKey.cpuMs + resyncPerWindowMs), hitsPerSec, missesPerSec,
    },
    twoKeys: {
      addKey, heapMb: mb(twoKeysMemory.heap - before.heap), pseudonyms: pseudonymsTwoKeys,
      roll: rollTwoKeys, rollPercentOfCore: percent(rollTwoKeys.cpuMs), percentOfCore: percent(rollTwoKeys.cpuMs + resyncPerWindowMs), dropKey,
    },
  };
}

const ms = (value: number): string => (value >= 100 ? Math.round(value).toLocaleString('en') : value.toFixed(value >= 10 ? 1 : 2));
const rate = (value: number): string => `${(value / 1e6).toFixed(2)} M/s`;

function report(r: ResolverBenchResult, print: (line: string) => void): void {
  const o = r.oneKey;
  const t = r.twoKeys;
  print(`${r.implementation}, ${r.shoppers.toLocaleString('en')} shoppers:`);
  print(`  build ${ms(r.build.wallMs)} ms (${r.build.usPerShopper.toFixed(1)} µs/shopper); 1 key: ${o.pseudonyms.toLocaleString('en')} pseudonyms, heap ${ms(o.heapMb)} MB, RSS +${ms(o.rssMb)} MB`);
  print(`  1 key: one window's roll ${ms(o.roll.cpuMs)} ms CPU (${o.rollPercentOfCore.toFixed(2)}% of one core), longest block ${ms(o.roll.longestBlockMs)} ms (p99 ${ms(o.roll.p99BlockMs)} ms) over ${o.roll.slices.toLocaleString('en')} slices; `
    + `with the minute's resync (${ms(o.resync.cpuMs)} ms) ${o.percentOfCore.toFixed(2)}% of one core`);
  print(`  resolve: hits ${rate(o.hitsPerSec)}, misses ${rate(o.missesPerSec)}`);
  print(`  key rotation: adding the 2nd key ${ms(t.addKey.cpuMs)} ms CPU (longest block ${ms(t.addKey.longestBlockMs)} ms, p99 ${ms(t.addKey.p99BlockMs)} ms); 2 keys: ${t.pseudonyms.toLocaleString('en')} pseudonyms, heap ${ms(t.heapMb)} MB`);
  print(`  2 keys: one window's roll ${ms(t.roll.cpuMs)} ms CPU (${t.rollPercentOfCore.toFixed(2)}% of one core, ${t.percentOfCore.toFixed(2)}% with the resync), longest block ${ms(t.roll.longestBlockMs)} ms (p99 ${ms(t.roll.p99BlockMs)} ms); `
    + `dropping the old key ${ms(t.dropKey.cpuMs)} ms CPU (longest block ${ms(t.dropKey.longestBlockMs)} ms)`);
}

export async function runResolverBench(opts: ResolverBenchOptions = {}): Promise<ResolverBenchResult[]> {
  const print = opts.print ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const sizes = opts.shoppers ?? [100_000, 1_000_000];
  const options = { sliceBudget: opts.sliceBudget ?? SLICE_BUDGET, lookups: opts.lookups ?? 200_000, rounds: opts.rounds ?? 5, seed: opts.seed ?? 11 };
  const results: ResolverBenchResult[] = [];
  for (const n of sizes) {
    const rng = createRng(options.seed).fork(`resolver:${n}`);
    const people = population(n, rng);
    const compact = await measure(COMPACT, people, options, rng.fork('compact'));
    report(compact, print);
    results.push(compact);
    if (n > (opts.baselineUpTo ?? Number.POSITIVE_INFINITY)) continue;
    const map = await measure(MAP_BEFORE, people, options, rng.fork('map'));
    report(map, print);
    results.push(map);
    const times = (before: number, after: number): string => `${(before / after).toFixed(before / after >= 10 ? 0 : 1)}×`;
    print(`  before ÷ after: memory ${times(map.oneKey.heapMb, compact.oneKey.heapMb)} (1 key), ${times(map.twoKeys.heapMb, compact.twoKeys.heapMb)} (2 keys); `
      + `build time ${times(map.build.wallMs, compact.build.wallMs)}; steady-state CPU ${times(map.oneKey.percentOfCore, compact.oneKey.percentOfCore)}; `
      + `longest block ${times(map.oneKey.roll.longestBlockMs, compact.oneKey.roll.longestBlockMs)}; lookups after ÷ before: hits ${times(compact.oneKey.hitsPerSec, map.oneKey.hitsPerSec)}, misses ${times(compact.oneKey.missesPerSec, map.oneKey.missesPerSec)}`);
  }
  return results;
}
