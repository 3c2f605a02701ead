/**
 * Compare two finished runs (`pdiff compare A B`): the same result table side by side, each
 * difference measured in units of the noise expected between two runs that differ only by
 * chance (another seed, another backend's summation order).
 *
 * Noise model, per row (accuracies in percent, N test examples):
 *   group mean:       sigma = sqrt(sA^2 / nA + sB^2 / nB + q)   (member spread + test sampling)
 *   test@best-val:    sigma = sqrt(sA^2 + sB^2 + q)             (the pick is one member: its spread counts whole)
 *   single model:     sigma = sqrt(q)                           (base model, n = 1 groups)
 * q is the test-set sampling variance of the accuracy difference of a model of A and a model of
 * B. Paired (both runs have the group's test predictions, eval/<group>.preds.safetensors):
 * q = 100^2 r / N with r the fraction of test examples on which member i of A and member i of B
 * predict differently (up to 50 pairs; the base model uses the originals' r). Two models' accuracies
 * can differ only on examples where their predictions do, so this bounds the variance without
 * the labels (McNemar: (b + c) / N^2 <= r / N). Without the predictions: q = 2 100^2 p (1 - p) / N,
 * p the pooled accuracy, which treats the two models as independent (looser).
 * A row is "same" within 2 sigma, "close" within 3, "differs" beyond.
 * Novelty (NN-L2, IoU-max) is shown, not judged: it has no such noise model.
 *
 * Conditional runs compare only with their own kind. Two task runs (tasks.condition "task") add a
 * row per set of codes and method: the mean test accuracy over the codes both evaluated, B - A
 * paired over those codes, sigma the standard error of the paired differences (the code-to-code
 * spread is the noise there; report/tasks.ts pairedDiff). Two accuracy runs add each method's MAE
 * and Spearman inside the zoo's range, shown and not judged.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evalGroupNames } from '../eval/baselines.js';
import { groupStats, testAtBestVal } from '../eval/stats.js';
import { FormatError, PdiffError } from '../util/errors.js';
import { accuracyMethodRow } from './accuracy.js';
import { codeMeans, pairedDiff } from './tasks.js';
import type { AccuracyReport, TaskReport } from './types.js';
import { readSafetensors, readSafetensorsHeader } from '../zoo/safetensors.js';

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
  /** A group's test predictions [n, testSize] (class indices), or null where they are not stored. */
  preds?: (group: string) => { n: number; data: Float32Array } | null;
  /** True when read from the finished groups of an unfinished evaluation (no summary.json yet). */
  partial?: boolean;
  /** A task run's per-code results (summary.json "tasks"). */
  tasks?: TaskReport;
  /** An accuracy run's per-method results (summary.json "accuracy"). */
  accuracy?: AccuracyReport;
}

/** A row of a conditional comparison: a method's number in A and B; sigma and verdict only where there is a noise model. */
export interface ConditionalRow {
  /** 'unseen' / 'seen' (task runs) or the method (accuracy runs). */
  what: string;
  metric: string;
  a: number;
  b: number;
  delta: number;
  /** Codes the task rows are over. */
  n?: number;
  sigma: number | null;
  z: number | null;
  verdict: CompareVerdict | null;
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
  /** How the test-sampling term was had: from paired predictions, or the independent-models bound. */
  noise: 'paired' | 'binomial';
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
  /** Per group: fraction of test examples where paired members of A and B predict differently. */
  disagreement: Record<string, number>;
  /** Two conditional runs: their own rows (see the module comment). */
  conditional?: ConditionalRow[];
  /** Novelty side by side (not judged). */
  novelty: Array<{ group: string; nnL2: [number | null, number | null]; iouMax: [number | null, number | null] }>;
  /** True when no row differs by more than 3 sigma. */
  equivalent: boolean;
  /** Runs (folders) whose evaluation had not finished: only their finished groups were compared. */
  partial: string[];
}

function fail(file: string, what: string): never {
  throw new FormatError(file, what);
}

/** `v` as a finite number, else a FormatError naming the file and the key. */
export function num(v: unknown, file: string, key: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(file, `"${key}" should be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

/** Like {@link num}; undefined for a missing or null value. */
export function optNum(v: unknown, file: string, key: string): number | undefined {
  return v === undefined || v === null ? undefined : num(v, file, key);
}

/** A JSON file's value; a PdiffError when it is missing, a FormatError naming it when it is not JSON. */
export function readJsonFile(file: string): unknown {
  if (!existsSync(file)) throw new PdiffError(`${file} is missing: is this a finished run folder (pdiff run ... -o DIR)?`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    return fail(file, `not valid JSON (${(e as Error).message})`);
  }
}

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A summary built from the groups an unfinished evaluate stage has finished (eval/<group>.json
 * with its predictions) and base.json: accuracies only, no novelty, in the summary's order (from
 * the run's eval settings; groups it does not name follow by name). Null when there are none.
 */
function finishedGroups(dir: string, config: () => Record<string, unknown>): Record<string, unknown> | null {
  const evalDir = join(dir, 'eval');
  const bFile = join(dir, 'base.json');
  if (!existsSync(evalDir) || !existsSync(bFile)) return null;
  const names = readdirSync(evalDir).filter((f) => f.endsWith('.json') && existsSync(join(evalDir, f.replace(/\.json$/, '.preds.safetensors'))))
    .map((f) => f.replace(/\.json$/, ''));
  if (!names.length) return null;
  const cfg = config();
  const e = isObj(cfg.eval) ? cfg.eval : {};
  const order = evalGroupNames({ baselines: e.baselines !== false, noiseScales: Array.isArray(e.noiseScales) ? e.noiseScales as number[] : [] });
  const rank = (n: string): number => (order.includes(n) ? order.indexOf(n) : order.length);
  names.sort((x, y) => rank(x) - rank(y) || (x < y ? -1 : x > y ? 1 : 0));
  const groups = names.map((name) => {
    const f = join(evalDir, `${name}.json`);
    const g = readJsonFile(f);
    if (!isObj(g) || !Array.isArray(g.val) || !Array.isArray(g.test) || g.val.length !== g.test.length || g.test.length === 0) {
      fail(f, 'expected "val" and "test": equally long, non-empty arrays of accuracies (an evaluation group)');
    }
    const val = g.val.map((v: unknown, i: number) => num(v, f, `val[${i}]`));
    const test = g.test.map((v: unknown, i: number) => num(v, f, `test[${i}]`));
    return { name, n: test.length, test: groupStats(test), testAtBestVal: testAtBestVal(val, test) };
  });
  const base = readJsonFile(bFile);
  if (!isObj(base)) fail(bFile, 'expected a JSON object with "val" and "test"');
  const pFile = join(evalDir, `${names[0]}.preds.safetensors`);
  const preds = readSafetensorsHeader(pFile).entries.find((t) => t.name === 'test_preds');
  if (!preds || preds.shape.length !== 2) fail(pFile, 'has no 2-D tensor "test_preds"');
  return { base: { val: base.val, test: base.test }, groups, testSize: preds.shape[1] };
}

/**
 * Reads summary.json and config.json of a run folder (older summaries: the test size from
 * eval/original.preds.safetensors). A run whose evaluate stage has not finished (no summary.json)
 * is read from its finished groups, marked `partial`.
 */
export function loadRunForCompare(dir: string): RunForCompare {
  const cFile = join(dir, 'config.json');
  let cfg: Record<string, unknown> | null = null;
  const config = (): Record<string, unknown> => {
    if (!cfg) {
      const c = readJsonFile(cFile);
      if (!isObj(c)) fail(cFile, 'expected a JSON object');
      cfg = c;
    }
    return cfg;
  };
  let sFile = join(dir, 'summary.json');
  const partial = !existsSync(sFile) ? finishedGroups(dir, config) : null;
  if (partial) sFile = join(dir, 'eval');
  const s = partial ?? readJsonFile(sFile);
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
  let testSize = optNum(s.testSize, sFile, 'testSize');
  if (testSize === undefined) { // summaries written before testSize was added: the predictions file knows
    const pFile = join(dir, 'eval', 'original.preds.safetensors');
    if (!existsSync(pFile)) throw new PdiffError(`${sFile} does not give the test size and ${pFile}, which would, is missing (run the evaluate stage)`);
    const preds = readSafetensorsHeader(pFile).entries.find((t) => t.name === 'test_preds');
    if (!preds || preds.shape.length !== 2) fail(pFile, 'has no 2-D tensor "test_preds"');
    testSize = preds.shape[1]!;
  }
  if (!Number.isInteger(testSize) || testSize < 1) fail(sFile, `"testSize" should be a positive integer, got ${testSize}`);
  const N = testSize;
  const preds = (group: string): { n: number; data: Float32Array } | null => {
    const f = join(dir, 'eval', `${group}.preds.safetensors`);
    if (!existsSync(f)) return null;
    const t = readSafetensors(f).tensors.get('test_preds');
    if (!t || t.shape.length !== 2 || t.shape[1] !== N || !(t.data instanceof Float32Array)) {
      fail(f, `expected an F32 tensor "test_preds" of shape [n, ${N}] (the run's test size), got ${t ? `${t.dtype} [${t.shape.join(', ')}]` : 'none'}`);
    }
    return { n: t.shape[0]!, data: t.data };
  };
  return {
    dir,
    base: { val: num(s.base.val, sFile, 'base.val'), test: num(s.base.test, sFile, 'base.test') },
    groups,
    testSize,
    config: config(),
    preds,
    ...(partial ? { partial: true } : {}),
    ...(isObj(s.tasks) && Array.isArray(s.tasks.codes) ? { tasks: s.tasks as unknown as TaskReport } : {}),
    ...(isObj(s.accuracy) && Array.isArray(s.accuracy.methods) ? { accuracy: s.accuracy as unknown as AccuracyReport } : {}),
  };
}

const kindOf = (r: RunForCompare): string => (r.tasks ? 'a task-conditioned run' : r.accuracy ? 'an accuracy-conditioned run' : 'an unconditional run');

/** Task rows: per set of codes and method, paired over the codes both runs evaluated. */
function taskRows(a: TaskReport, b: TaskReport): ConditionalRow[] {
  const rows: ConditionalRow[] = [];
  const byCode = new Map(b.codes.map((c) => [c.code, c]));
  for (const set of ['unseen', 'seen'] as const) {
    const pairs = a.codes.filter((c) => c.seen === (set === 'seen') && byCode.get(c.code)?.seen === c.seen).map((c) => [codeMeans(c), codeMeans(byCode.get(c.code)!)] as const);
    if (pairs.length === 0) continue;
    const methods = [['generatedMean', 'generated mean'], ['generatedBestVal', 'generated @best-val'], ['oracle', 'oracle'], ['nearest', 'nearest seen'], ['ridge', 'ridge']] as const;
    for (const [key, metric] of methods) {
      const va = pairs.map(([x]) => x[key]), vb = pairs.map(([, y]) => y[key]);
      const d = pairedDiff(vb, va);
      const mean = (v: number[]): number => v.reduce((t, x) => t + x, 0) / v.length;
      const z = d.diff === 0 ? 0 : d.se > 0 ? Math.abs(d.diff) / d.se : Infinity;
      rows.push({ what: set, metric, a: mean(va), b: mean(vb), delta: d.diff, n: pairs.length, sigma: d.se, z, verdict: verdictOf(z) });
    }
  }
  return rows;
}

/** Accuracy rows: each method's MAE and Spearman inside the zoo's range (shown, not judged). */
function accuracyRows(a: AccuracyReport, b: AccuracyReport): ConditionalRow[] {
  const rows: ConditionalRow[] = [];
  for (const ma of a.methods) {
    const mb = b.methods.find((m) => m.method === ma.method);
    if (!mb) continue;
    const ra = accuracyMethodRow(a, ma), rb = accuracyMethodRow(b, mb);
    rows.push({ what: ma.method, metric: 'MAE inside', a: ra.mae, b: rb.mae, delta: rb.mae - ra.mae, sigma: null, z: null, verdict: null });
    rows.push({ what: ma.method, metric: 'Spearman inside', a: ra.spearman, b: rb.spearman, delta: rb.spearman - ra.spearman, sigma: null, z: null, verdict: null });
  }
  return rows;
}

function flatten(v: unknown, prefix: string, out: Map<string, unknown>): void {
  if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, v);
  }
}

/** Pairs compared per group for the disagreement rate. */
const MAX_PAIRS = 50;

/**
 * Fraction of the N examples on which member i of A and member i of B predict differently, over
 * up to MAX_PAIRS pairs spread evenly over the members.
 */
export function disagreementRate(a: { n: number; data: Float32Array }, b: { n: number; data: Float32Array }, N: number): number {
  const m = Math.min(a.n, b.n);
  const pairs = Math.min(m, MAX_PAIRS);
  let d = 0;
  for (let p = 0; p < pairs; p++) {
    const i = pairs === 1 ? 0 : Math.round((p * (m - 1)) / (pairs - 1));
    const ra = a.data.subarray(i * N, (i + 1) * N), rb = b.data.subarray(i * N, (i + 1) * N);
    for (let j = 0; j < N; j++) if (ra[j] !== rb[j]) d++;
  }
  return d / (pairs * N);
}

function verdictOf(z: number): CompareVerdict {
  return z <= 2 ? 'same' : z <= 3 ? 'close' : 'differs';
}

/** The comparison of run B against run A (see the module comment for the noise model). */
export function compareRuns(a: RunForCompare, b: RunForCompare): RunComparison {
  if (kindOf(a) !== kindOf(b)) {
    throw new PdiffError(`${a.dir} is ${kindOf(a)} and ${b.dir} is ${kindOf(b)}: their results are different tables, so compare needs two runs of the same kind`);
  }
  if (a.testSize !== b.testSize) {
    throw new PdiffError(`the runs were evaluated on different test sets (${a.dir}: ${a.testSize} examples, ${b.dir}: ${b.testSize}); their accuracies are not comparable`);
  }
  const N = a.testSize;
  const byName = new Map(b.groups.map((g) => [g.name, g]));
  const disagreement: Record<string, number> = {};
  for (const ga of a.groups) {
    if (!byName.has(ga.name)) continue;
    const pa = a.preds?.(ga.name) ?? null, pb = pa ? b.preds?.(ga.name) ?? null : null;
    if (pa && pb) disagreement[ga.name] = disagreementRate(pa, pb, N);
  }
  /** Test-sampling variance of an accuracy difference (percent^2): paired where the group's r is known. */
  const q = (group: string, pa: number, pb: number): { v: number; noise: CompareRow['noise'] } => {
    const r = disagreement[group];
    if (r !== undefined) return { v: (1e4 * r) / N, noise: 'paired' };
    const p = Math.min(Math.max((pa + pb) / 200, 0), 1);
    return { v: (2e4 * p * (1 - p)) / N, noise: 'binomial' };
  };
  const row = (group: string, metric: string, va: number, vb: number, spread: number, t: { v: number; noise: CompareRow['noise'] }): CompareRow => {
    const delta = vb - va;
    const sigma = Math.sqrt(Math.max(spread + t.v, 1e-12));
    const z = Math.abs(delta) / sigma;
    return { group, metric, a: va, b: vb, delta, sigma, z, verdict: verdictOf(z), noise: t.noise };
  };
  const rows: CompareRow[] = [row('base', 'test', a.base.test, b.base.test, 0, q('original', a.base.test, b.base.test))];
  const novelty: RunComparison['novelty'] = [];
  for (const ga of a.groups) {
    const gb = byName.get(ga.name);
    if (!gb) continue;
    rows.push(row(ga.name, 'test mean', ga.test.mean, gb.test.mean, ga.test.std ** 2 / ga.n + gb.test.std ** 2 / gb.n, q(ga.name, ga.test.mean, gb.test.mean)));
    if (ga.n > 1 || gb.n > 1) {
      rows.push(row(ga.name, 'test@best-val', ga.testAtBestVal, gb.testAtBestVal, ga.test.std ** 2 + gb.test.std ** 2, q(ga.name, ga.testAtBestVal, gb.testAtBestVal)));
    }
    if (ga.nnL2 !== undefined || gb.nnL2 !== undefined || ga.iouMax !== undefined || gb.iouMax !== undefined) {
      novelty.push({ group: ga.name, nnL2: [ga.nnL2 ?? null, gb.nnL2 ?? null], iouMax: [ga.iouMax ?? null, gb.iouMax ?? null] });
    }
  }
  const conditional = a.tasks && b.tasks ? taskRows(a.tasks, b.tasks) : a.accuracy && b.accuracy ? accuracyRows(a.accuracy, b.accuracy) : [];
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
    disagreement,
    onlyIn: { a: a.groups.filter((g) => !byName.has(g.name)).map((g) => g.name), b: b.groups.filter((g) => !namesA.has(g.name)).map((g) => g.name) },
    novelty,
    ...(conditional.length > 0 ? { conditional } : {}),
    equivalent: rows.every((r) => r.verdict !== 'differs') && conditional.every((r) => r.verdict !== 'differs'),
    partial: [a, b].filter((r) => r.partial).map((r) => r.dir),
  };
}

/** The comparison as plain text (a table per section), for the terminal. */
export function renderComparison(c: RunComparison): string {
  const f2 = (v: number): string => v.toFixed(2);
  const sign = (v: number): string => (v >= 0 ? '+' : '') + v.toFixed(2);
  const lines = [`A: ${c.a}`, `B: ${c.b}`, `test set: ${c.testSize} examples`];
  for (const d of c.partial) lines.push(`note: ${d} has no summary.json (its evaluation has not finished): its finished groups are compared, without novelty`);
  if (c.configDiff.length) {
    lines.push('', 'settings that differ (A -> B):');
    for (const d of c.configDiff) lines.push(`  ${d.key}: ${JSON.stringify(d.a)} -> ${JSON.stringify(d.b)}`);
  } else {
    lines.push('', 'settings: identical (apart from the run folder)');
  }
  lines.push('', `${'group'.padEnd(14)} ${'metric'.padEnd(14)} ${'A'.padStart(7)} ${'B'.padStart(7)} ${'B-A'.padStart(7)} ${'sigma'.padStart(6)} ${'|z|'.padStart(5)}  ${'verdict'.padEnd(8)} noise`);
  for (const r of c.rows) {
    const d = c.disagreement[r.group === 'base' ? 'original' : r.group];
    const how = r.noise === 'paired' ? `paired (${(100 * d!).toFixed(1)} % disagree)` : 'binomial bound';
    lines.push(`${r.group.padEnd(14)} ${r.metric.padEnd(14)} ${f2(r.a).padStart(7)} ${f2(r.b).padStart(7)} ${sign(r.delta).padStart(7)} ${f2(r.sigma).padStart(6)} ${r.z.toFixed(1).padStart(5)}  ${r.verdict.padEnd(8)} ${how}`);
  }
  if (c.conditional) {
    const task = c.conditional.some((r) => r.verdict !== null);
    lines.push('', task ? 'task results: mean test accuracy (%) over the codes both runs evaluated; B-A paired over the codes, sigma its standard error'
      : 'accuracy control inside the zoo\'s range, per method (shown, not judged)');
    const w = Math.max(14, ...c.conditional.map((r) => r.what.length));
    lines.push(`${(task ? 'codes' : 'method').padEnd(w)} ${'metric'.padEnd(19)} ${'A'.padStart(7)} ${'B'.padStart(7)} ${'B-A'.padStart(7)}${task ? ` ${'sigma'.padStart(6)} ${'|z|'.padStart(5)}  verdict` : ''}`);
    for (const r of c.conditional) {
      const judged = r.sigma !== null && r.z !== null ? ` ${f2(r.sigma).padStart(6)} ${(Number.isFinite(r.z) ? r.z.toFixed(1) : 'inf').padStart(5)}  ${r.verdict}` : '';
      const digits = r.metric.startsWith('Spearman') ? 3 : 2;
      const delta = (r.delta >= 0 ? '+' : '') + r.delta.toFixed(digits);
      lines.push(`${`${r.what}${r.n !== undefined ? ` (${r.n})` : ''}`.padEnd(w)} ${r.metric.padEnd(19)} ${r.a.toFixed(digits).padStart(7)} ${r.b.toFixed(digits).padStart(7)} ${delta.padStart(7)}${judged}`);
    }
  }
  if (c.novelty.length) {
    const o = (v: number | null, d: number): string => (v === null ? '-' : v.toFixed(d));
    lines.push('', `${'group'.padEnd(14)} ${'NN-L2 A'.padStart(8)} ${'NN-L2 B'.padStart(8)} ${'IoU A'.padStart(6)} ${'IoU B'.padStart(6)}   (novelty: shown, not judged)`);
    for (const n of c.novelty) lines.push(`${n.group.padEnd(14)} ${o(n.nnL2[0], 3).padStart(8)} ${o(n.nnL2[1], 3).padStart(8)} ${o(n.iouMax[0], 3).padStart(6)} ${o(n.iouMax[1], 3).padStart(6)}`);
  }
  if (c.onlyIn.a.length) lines.push('', `only in A: ${c.onlyIn.a.join(', ')}`);
  if (c.onlyIn.b.length) lines.push('', `only in B: ${c.onlyIn.b.join(', ')}`);
  const judged = [...c.rows.map((r) => ({ name: `${r.group} ${r.metric}`, z: r.z, verdict: r.verdict })),
    ...(c.conditional ?? []).filter((r) => r.z !== null).map((r) => ({ name: `${r.what} ${r.metric}`, z: r.z!, verdict: r.verdict }))];
  const worst = judged.reduce((m, r) => (r.z > m.z ? r : m), judged[0]!);
  lines.push('', c.equivalent
    ? `equivalent within sampling noise: every difference is within 3 sigma (largest: ${worst.name}, |z| ${worst.z.toFixed(1)})`
    : `NOT equivalent: ${judged.filter((r) => r.verdict === 'differs').map((r) => `${r.name} (|z| ${Number.isFinite(r.z) ? r.z.toFixed(1) : 'inf'})`).join(', ')} differ by more than 3 sigma`);
  return lines.join('\n');
}
