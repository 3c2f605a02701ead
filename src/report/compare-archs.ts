/**
 * Runs of different architectures side by side (`pdiff compare-archs RUN_DIR...`): what each
 * classifier costs and what P-Diff makes of it, one column per run. Everything is read from the
 * run folders (summary.json and config.json, which must exist; manifest.json, base.json and the
 * stage markers where present); nothing is recomputed. A number a run did not measure (latency
 * without eval.latency, top-5 below 5 classes, fields of older summaries) is null, shown as '-'.
 *
 * Times, in seconds:
 *   generation per model:      cost.generateSecondsPerModel (sampling + decoding, generate.json),
 *                              else the generate stage's wall time / config generate.n;
 *   collection per checkpoint: cost.trainSecondsPerCheckpoint (collection time / K), else the
 *                              collect stage's wall time / (collect.k x the number of seeds);
 *   base training per epoch:   base.json epochSeconds (training time / base.epochs), else the
 *                              base stage's wall time / config base.epochs.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { GROUP } from './types.js';
import { isObj, num, optNum, readJsonFile } from './compare.js';
import { DASH, fAcc, fInt, fNum } from './format.js';
import { PdiffError, FormatError } from '../util/errors.js';

/** One run's column of the comparison; null where the run did not measure the quantity. */
export interface ArchRun {
  /** The run folder as given. */
  dir: string;
  /** model.arch of config.json, e.g. 'cnn-s', 'resnet20'. */
  arch: string;
  /** data.dataset of config.json. */
  dataset: string;
  /** collect.mode of config.json: which parameters are generated ('bn', 'whole', 'custom'). */
  mode: string;
  /** Learnable parameters of the classifier (summary cost.params). */
  params: number | null;
  /** Floats per generated parameter set: the subset's size (manifest.json layout.total). */
  subsetFloats: number | null;
  /** Multiply-adds per image (summary cost.macs). */
  macs: number | null;
  /** Test accuracy of the base model, percent. */
  baseTest: number;
  /** Test mean (percent) of the original checkpoints, the generated sets and the avg16 baseline. */
  originalTestMean: number | null;
  generatedTestMean: number | null;
  avg16TestMean: number | null;
  /** Test top-5 accuracy (percent) and macro-F1 ([0, 1]) of the generated sets, group means. */
  generatedTop5Mean: number | null;
  generatedMacroF1Mean: number | null;
  /** Why top-5 is missing (fewer than 5 classes), when that is why. */
  top5Omitted: string | null;
  /** Forward latency in ms at batch 1 and 128 (eval.latency), peak RSS of the run in MiB. */
  latencyMsBatch1: number | null;
  latencyMsBatch128: number | null;
  /** The same in ONNX Runtime (docs/export.md#latency), null where not measured. */
  onnxLatencyMsBatch1: number | null;
  onnxLatencyMsBatch128: number | null;
  /** Why the run has no ONNX Runtime latency, when it says (onnxruntime-node not installed, ...). */
  onnxLatencyMissing: string | null;
  peakRssMb: number | null;
  /** Seconds per generated model, per collected checkpoint, per base-training epoch (module comment). */
  generateSecondsPerModel: number | null;
  collectSecondsPerCheckpoint: number | null;
  baseSecondsPerEpoch: number | null;
  /** Compute backend of the timings (summary cost.backend). */
  backend: string | null;
}

export interface ArchComparison {
  runs: ArchRun[];
}

const orNull = (v: number | undefined): number | null => (v === undefined ? null : v);

/** A dotted path into a JSON object, or undefined. */
function at(o: unknown, path: string): unknown {
  let v = o;
  for (const k of path.split('.')) v = isObj(v) ? v[k] : undefined;
  return v;
}

/** Seconds of a finished stage from its marker (stages/<stage>.json), or undefined. */
function stageSeconds(dir: string, stage: string): number | undefined {
  const f = join(dir, 'stages', `${stage}.json`);
  if (!existsSync(f)) return undefined;
  return optNum(at(readJsonFile(f), 'seconds'), f, 'seconds');
}

/** `seconds / count`, or null when either is missing or the count is not positive. */
function per(seconds: number | undefined, count: unknown): number | null {
  return seconds !== undefined && typeof count === 'number' && count > 0 ? seconds / count : null;
}

/** Checkpoints a run collected: collect.k per seed (collect.seeds: a count or a list of files; absent = 1). */
function checkpointCount(cfg: unknown): number | undefined {
  const k = at(cfg, 'collect.k'), seeds = at(cfg, 'collect.seeds');
  if (typeof k !== 'number') return undefined;
  const s = typeof seeds === 'number' ? seeds : Array.isArray(seeds) ? seeds.length : 1;
  return k * s;
}

/**
 * One run's column, read from its folder.
 * @throws PdiffError naming the folder when it has no summary.json or config.json (not a run
 * whose evaluate stage finished); FormatError naming the file and key for a malformed file.
 */
export function loadArchRun(dir: string): ArchRun {
  const sFile = join(dir, 'summary.json'), cFile = join(dir, 'config.json');
  for (const f of [sFile, cFile]) {
    if (!existsSync(f)) throw new PdiffError(`${dir}: no ${basename(f)}; compare-archs needs run folders whose evaluate stage has finished (pdiff run -o ${dir}, or pdiff evaluate -o ${dir})`);
  }
  const s = readJsonFile(sFile), cfg = readJsonFile(cFile);
  if (!isObj(s) || !isObj(s.base) || !Array.isArray(s.groups)) throw new FormatError(sFile, 'expected an object with "base" and "groups" (an evaluate stage summary)');
  if (!isObj(cfg)) throw new FormatError(cFile, 'expected a JSON object');
  const groups: unknown[] = s.groups;
  const str = (path: string): string => {
    const v = at(cfg, path);
    if (typeof v !== 'string') throw new FormatError(cFile, `"${path}" should be a string, got ${JSON.stringify(v)}`);
    return v;
  };
  const group = (name: string): Record<string, unknown> | undefined => groups.find((g): g is Record<string, unknown> => isObj(g) && g.name === name);
  const groupNum = (name: string, path: string): number | null => {
    const g = group(name);
    return g ? orNull(optNum(at(g, path), sFile, `groups (${name}).${path}`)) : null;
  };
  const cost = isObj(s.cost) ? s.cost : {};
  const costNum = (key: string): number | null => orNull(optNum(cost[key], sFile, `cost.${key}`));

  const mFile = join(dir, 'manifest.json');
  const subsetFloats = existsSync(mFile) ? orNull(optNum(at(readJsonFile(mFile), 'layout.total'), mFile, 'layout.total')) : null;
  const bFile = join(dir, 'base.json');
  const base = existsSync(bFile) ? readJsonFile(bFile) : undefined;
  const epochSeconds = optNum(at(base, 'epochSeconds'), bFile, 'epochSeconds');

  return {
    dir,
    arch: str('model.arch'),
    dataset: str('data.dataset'),
    mode: str('collect.mode'),
    params: costNum('params'),
    subsetFloats,
    macs: costNum('macs'),
    baseTest: num(s.base.test, sFile, 'base.test'),
    originalTestMean: groupNum(GROUP.original, 'test.mean'),
    generatedTestMean: groupNum(GROUP.generated, 'test.mean'),
    avg16TestMean: groupNum(GROUP.avg16, 'test.mean'),
    generatedTop5Mean: groupNum(GROUP.generated, 'top5.mean.test'),
    generatedMacroF1Mean: groupNum(GROUP.generated, 'macroF1.mean.test'),
    top5Omitted: typeof s.top5Omitted === 'string' ? s.top5Omitted : null,
    latencyMsBatch1: costNum('latencyMsBatch1'),
    latencyMsBatch128: costNum('latencyMsBatch128'),
    onnxLatencyMsBatch1: costNum('onnxLatencyMsBatch1'),
    onnxLatencyMsBatch128: costNum('onnxLatencyMsBatch128'),
    onnxLatencyMissing: typeof cost.onnxLatencyMissing === 'string' ? cost.onnxLatencyMissing : null,
    peakRssMb: costNum('peakRssMb'),
    generateSecondsPerModel: costNum('generateSecondsPerModel') ?? per(stageSeconds(dir, 'generate'), at(cfg, 'generate.n')),
    collectSecondsPerCheckpoint: costNum('trainSecondsPerCheckpoint') ?? per(stageSeconds(dir, 'collect'), checkpointCount(cfg)),
    baseSecondsPerEpoch: epochSeconds ?? per(stageSeconds(dir, 'base'), at(cfg, 'base.epochs')),
    backend: typeof cost.backend === 'string' ? cost.backend : null,
  };
}

/** The comparison of the run folders `dirs`, in the order given. */
export function compareArchs(dirs: readonly string[]): ArchComparison {
  if (dirs.length === 0) throw new PdiffError('compare-archs: expected at least one run folder');
  return { runs: dirs.map(loadArchRun) };
}

/** Seconds with three significant digits (0.000123 s and 412 s alike), '-' for null. */
function fSec(v: number | null): string {
  return v === null ? DASH : v >= 100 ? v.toFixed(0) : v.toPrecision(3);
}

/** The rows of the table: a label (with its unit) and one cell per run. */
const ROWS: ReadonlyArray<[string, (r: ArchRun) => string]> = [
  ['data set', (r) => r.dataset],
  ['generated subset (collect.mode)', (r) => r.mode],
  ['parameters (total)', (r) => fInt(r.params)],
  ['generated-subset floats', (r) => fInt(r.subsetFloats)],
  ['multiply-adds per image', (r) => fInt(r.macs)],
  ['base model test (%)', (r) => fAcc(r.baseTest)],
  ['originals test mean (%)', (r) => fAcc(r.originalTestMean)],
  ['generated test mean (%)', (r) => fAcc(r.generatedTestMean)],
  ['avg16 test mean (%)', (r) => fAcc(r.avg16TestMean)],
  ['generated top-5 mean (%)', (r) => fAcc(r.generatedTop5Mean)],
  ['generated macro-F1 mean', (r) => fNum(r.generatedMacroF1Mean, 4)],
  ['latency, batch 1 (ms)', (r) => fNum(r.latencyMsBatch1, 3)],
  ['latency, batch 128 (ms)', (r) => fNum(r.latencyMsBatch128, 2)],
  ['ONNX Runtime latency, batch 1 (ms)', (r) => fNum(r.onnxLatencyMsBatch1, 3)],
  ['ONNX Runtime latency, batch 128 (ms)', (r) => fNum(r.onnxLatencyMsBatch128, 2)],
  ['peak memory (MiB)', (r) => fNum(r.peakRssMb, 0)],
  ['generation per model (s)', (r) => fSec(r.generateSecondsPerModel)],
  ['collection per checkpoint (s)', (r) => fSec(r.collectSecondsPerCheckpoint)],
  ['base training per epoch (s)', (r) => fSec(r.baseSecondsPerEpoch)],
  ['backend', (r) => r.backend ?? DASH],
];

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/**
 * The comparison as a markdown table: one row per quantity, one column per run (headed by its
 * architecture and folder name), then a note on what '-' means.
 */
export function renderArchComparison(c: ArchComparison): string {
  const head = ['quantity', ...c.runs.map((r) => `${r.arch} (${basename(resolve(r.dir))})`)];
  const lines = [
    `| ${head.map(mdCell).join(' | ')} |`,
    `|:---|${c.runs.map(() => '---:').join('|')}|`,
    ...ROWS.map(([label, cell]) => `| ${[label, ...c.runs.map(cell)].map(mdCell).join(' | ')} |`),
    '',
    "'-': not measured by that run (latency needs eval.latency; top-5 needs at least 5 classes; older summaries lack top-5 and macro-F1).",
  ];
  for (const r of c.runs) if (r.top5Omitted) lines.push(`${r.dir}: ${r.top5Omitted}.`);
  for (const r of c.runs) if (r.onnxLatencyMissing) lines.push(`${r.dir}: no ONNX Runtime latency: ${r.onnxLatencyMissing}.`);
  return lines.join('\n') + '\n';
}
