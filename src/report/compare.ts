/**
 * Compare two finished runs (`pdiff compare A B`): the same result table side by side, each
 * difference measured in units of the noise expected between two runs that differ only by
 * chance (another seed, another backend's summation order).
 *
 * Noise model, per row (accuracies in percent, N test examples, p the pooled accuracy):
 *   test-set sampling of one model's accuracy: q = 100^2 p (1 - p) / N
 *   group mean:       sigma = sqrt(sA^2 / nA + sB^2 / nB + 2 q)   (member spread + test sampling)
 *   single model:     sigma = sqrt(2 q)                           (base model, n = 1 groups)
 *   test@best-val:    sigma = sqrt(sA^2 + sB^2 + 2 q)             (the pick is one member: its spread counts whole)
 * The 2q term is conservative: two models of one base disagree on fewer examples than two
 * independent ones. A row is "same" within 2 sigma, "close" within 3, "differs" beyond.
 * Novelty (NN-L2, IoU-max) is shown, not judged: it has no such noise model.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, PdiffError } from '../util/errors.js';
import { readSafetensorsHeader } from '../zoo/safetensors.js';

/** What one run contributes to a comparison (read from its folder by {@link loadRunForCompare}). */
export interface RunForCompare {
  dir: string;
  base: { val: number; test: number };
  groups: Array<{
    name: string;
    n: number;
    test: { mean: number; std: number; best: number };
    testAtBestVal: number;
    nnL2?: number;
    iouMax?: number;
  }>;
  /** Number of test examples the accuracies are over. */
  testSize: number;
  /** The run's resolved config (config.json), for the list of settings that differ. */
  config: Record<string, unknown>;
}

export type CompareVerdict = 'same' | 'close' | 'differs';

export interface CompareRow {
  /** Group name, or 'base' for the base model. */
  group: string;
  /** 'test mean', 'test@best-val' or 'test' (the base model). */
  metric: string;
  a: number;
  b: number;
  /** b - a. */
  delta: number;
  /** Noise scale of the difference (see the module comment). */
  sigma: number;
  /** |delta| / sigma. */
  z: number;
  verdict: CompareVerdict;
}

export interface RunComparison {
  a: string;
  b: string;
  testSize: number;
  /** Config keys (dotted) whose values differ, with both values; `out` is left out. */
  configDiff: Array<{ key: string; a: unknown; b: unknown }>;
  rows: CompareRow[];
  /** Groups present in only one run. */
  onlyIn: { a: string[]; b: string[] };
  /** Novelty side by side (not judged). */
  novelty: Array<{ group: string; nnL2: [number | null, number | null]; iouMax: [number | null, number | null] }>;
  /** True when no row differs by more than 3 sigma. */
  equivalent: boolean;
}

function fail(file: string, what: string): never {
  throw new FormatError(file, what);
}

function num(v: unknown, file: string, key: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(file, `"${key}" should be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

function optNum(v: unknown, file: string, key: string): number | undefined {
  return v === undefined || v === null ? undefined : num(v, file, key);
}

function readJsonFile(file: string): unknown {
  if (!existsSync(file)) throw new PdiffError(`${file} is missing: is this a finished run folder (pdiff run ... -o DIR)?`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    return fail(file, `not valid JSON (${(e as Error).message})`);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads summary.json and config.json of a run folder (older summaries: the test size from eval/original.preds.safetensors). */
export function loadRunForCompare(dir: string): RunForCompare {
  const sFile = join(dir, 'summary.json');
  const s = readJsonFile(sFile);
  if (!isObj(s) || !isObj(s.base) || !Array.isArray(s.groups)) fail(sFile, 'expected an object with "base" and "groups" (an evaluate stage summary)');
  const groups = s.groups.map((g: unknown, i: number) => {
    if (!isObj(g) || typeof g.name !== 'string' || !isObj(g.test)) fail(sFile, `groups[${i}] should have "name" and "test"`);
    const k = `groups[${i}] (${g.name})`;
    return {
      name: g.name,
      n: num(g.n, sFile, `${k}.n`),
      test: { mean: num(g.test.mean, sFile, `${k}.test.mean`), std: num(g.test.std, sFile, `${k}.test.std`), best: num(g.test.best, sFile, `${k}.test.best`) },
      testAtBestVal: num(g.testAtBestVal, sFile, `${k}.testAtBestVal`),
      nnL2: optNum(g.nnL2, sFile, `${k}.nnL2`),
      iouMax: optNum(g.iouMax, sFile, `${k}.iouMax`),
    };
  });
  const cFile = join(dir, 'config.json');
  const config = readJsonFile(cFile);
  if (!isObj(config)) fail(cFile, 'expected a JSON object');
  let testSize = optNum(s.testSize, sFile, 'testSize');
  if (testSize === undefined) { // summaries written before testSize was added: the predictions file knows
    const pFile = join(dir, 'eval', 'original.preds.safetensors');
    if (!existsSync(pFile)) throw new PdiffError(`${sFile} does not give the test size and ${pFile}, which would, is missing (run the evaluate stage)`);
    const preds = readSafetensorsHeader(pFile).entries.find((t) => t.name === 'test_preds');
    if (!preds || preds.shape.length !== 2) fail(pFile, 'has no 2-D tensor "test_preds"');
    testSize = preds.shape[1]!;
  }
  if (!Number.isInteger(testSize) || testSize < 1) fail(sFile, `"testSize" should be a positive integer, got ${testSize}`);
  return {
    dir,
    base: { val: num(s.base.val, sFile, 'base.val'), test: num(s.base.test, sFile, 'base.test') },
    groups,
    testSize,
    config,
  };
}

function flatten(v: unknown, prefix: string, out: Map<string, unknown>): void {
  if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, v);
  }
}

function verdictOf(z: number): CompareVerdict {
  return z <= 2 ? 'same' : z <= 3 ? 'close' : 'differs';
}

/** The comparison of run B against run A (see the module comment for the noise model). */
export function compareRuns(a: RunForCompare, b: RunForCompare): RunComparison {
  if (a.testSize !== b.testSize) {
    throw new PdiffError(`the runs were evaluated on different test sets (${a.dir}: ${a.testSize} examples, ${b.dir}: ${b.testSize}); their accuracies are not comparable`);
  }
  const N = a.testSize;
  const q = (pa: number, pb: number): number => {
    const p = Math.min(Math.max((pa + pb) / 200, 0), 1);
    return (1e4 * p * (1 - p)) / N;
  };
  const row = (group: string, metric: string, va: number, vb: number, variance: number): CompareRow => {
    const delta = vb - va;
    const sigma = Math.sqrt(Math.max(variance, 1e-12));
    const z = Math.abs(delta) / sigma;
    return { group, metric, a: va, b: vb, delta, sigma, z, verdict: verdictOf(z) };
  };
  const rows: CompareRow[] = [row('base', 'test', a.base.test, b.base.test, 2 * q(a.base.test, b.base.test))];
  const byName = new Map(b.groups.map((g) => [g.name, g]));
  const novelty: RunComparison['novelty'] = [];
  for (const ga of a.groups) {
    const gb = byName.get(ga.name);
    if (!gb) continue;
    const qm = 2 * q(ga.test.mean, gb.test.mean);
    rows.push(row(ga.name, 'test mean', ga.test.mean, gb.test.mean, ga.test.std ** 2 / ga.n + gb.test.std ** 2 / gb.n + qm));
    if (ga.n > 1 || gb.n > 1) {
      rows.push(row(ga.name, 'test@best-val', ga.testAtBestVal, gb.testAtBestVal, ga.test.std ** 2 + gb.test.std ** 2 + 2 * q(ga.testAtBestVal, gb.testAtBestVal)));
    }
    if (ga.nnL2 !== undefined || gb.nnL2 !== undefined || ga.iouMax !== undefined || gb.iouMax !== undefined) {
      novelty.push({ group: ga.name, nnL2: [ga.nnL2 ?? null, gb.nnL2 ?? null], iouMax: [ga.iouMax ?? null, gb.iouMax ?? null] });
    }
  }
  const namesA = new Set(a.groups.map((g) => g.name));
  const ca = new Map<string, unknown>(), cb = new Map<string, unknown>();
  flatten(a.config, '', ca);
  flatten(b.config, '', cb);
  const configDiff: RunComparison['configDiff'] = [];
  for (const key of new Set([...ca.keys(), ...cb.keys()])) {
    if (key === 'out') continue;
    const va = ca.get(key), vb = cb.get(key);
    if (JSON.stringify(va) !== JSON.stringify(vb)) configDiff.push({ key, a: va, b: vb });
  }
  return {
    a: a.dir,
    b: b.dir,
    testSize: N,
    configDiff,
    rows,
    onlyIn: { a: a.groups.filter((g) => !byName.has(g.name)).map((g) => g.name), b: b.groups.filter((g) => !namesA.has(g.name)).map((g) => g.name) },
    novelty,
    equivalent: rows.every((r) => r.verdict !== 'differs'),
  };
}

/** The comparison as plain text (a table per section), for the terminal. */
export function renderComparison(c: RunComparison): string {
  const f2 = (v: number): string => v.toFixed(2);
  const sign = (v: number): string => (v >= 0 ? '+' : '') + v.toFixed(2);
  const lines = [`A: ${c.a}`, `B: ${c.b}`, `test set: ${c.testSize} examples`];
  if (c.configDiff.length) {
    lines.push('', 'settings that differ (A -> B):');
    for (const d of c.configDiff) lines.push(`  ${d.key}: ${JSON.stringify(d.a)} -> ${JSON.stringify(d.b)}`);
  } else {
    lines.push('', 'settings: identical (apart from the run folder)');
  }
  lines.push('', `${'group'.padEnd(14)} ${'metric'.padEnd(14)} ${'A'.padStart(7)} ${'B'.padStart(7)} ${'B-A'.padStart(7)} ${'sigma'.padStart(6)} ${'|z|'.padStart(5)}  verdict`);
  for (const r of c.rows) {
    lines.push(`${r.group.padEnd(14)} ${r.metric.padEnd(14)} ${f2(r.a).padStart(7)} ${f2(r.b).padStart(7)} ${sign(r.delta).padStart(7)} ${f2(r.sigma).padStart(6)} ${r.z.toFixed(1).padStart(5)}  ${r.verdict}`);
  }
  if (c.novelty.length) {
    const o = (v: number | null, d: number): string => (v === null ? '-' : v.toFixed(d));
    lines.push('', `${'group'.padEnd(14)} ${'NN-L2 A'.padStart(8)} ${'NN-L2 B'.padStart(8)} ${'IoU A'.padStart(6)} ${'IoU B'.padStart(6)}   (novelty: shown, not judged)`);
    for (const n of c.novelty) lines.push(`${n.group.padEnd(14)} ${o(n.nnL2[0], 3).padStart(8)} ${o(n.nnL2[1], 3).padStart(8)} ${o(n.iouMax[0], 3).padStart(6)} ${o(n.iouMax[1], 3).padStart(6)}`);
  }
  if (c.onlyIn.a.length) lines.push('', `only in A: ${c.onlyIn.a.join(', ')}`);
  if (c.onlyIn.b.length) lines.push('', `only in B: ${c.onlyIn.b.join(', ')}`);
  const worst = c.rows.reduce((m, r) => (r.z > m.z ? r : m), c.rows[0]!);
  lines.push('', c.equivalent
    ? `equivalent within sampling noise: every difference is within 3 sigma (largest: ${worst.group} ${worst.metric}, |z| ${worst.z.toFixed(1)})`
    : `NOT equivalent: ${c.rows.filter((r) => r.verdict === 'differs').map((r) => `${r.group} ${r.metric} (|z| ${r.z.toFixed(1)})`).join(', ')} differ by more than 3 sigma`);
  return lines.join('\n');
}
