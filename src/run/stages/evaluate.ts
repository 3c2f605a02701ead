/**
 * The evaluation stage (docs/evaluation.md): every group of parameter sets is written into the base
 * model and scored on val and test (top-1, top-5 from 5 classes up, macro-F1); novelty against the
 * training checkpoints; per-class metrics
 * of each group's best-on-val member; cost; optional distribution shift and second dataset. Each
 * group's result is saved on its own (eval/<group>.json + eval/<group>.preds.safetensors), so an
 * interrupted evaluation resumes with the next group; within a group, the predictions so far are
 * saved about once a minute (state/eval-<group>.safetensors), so it resumes at the image chunk it
 * reached.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { classifierCost, measureLatency, peakRssMb } from '../../eval/cost.js';
import { ParamSetEvaluator, type EvalPartial } from '../../eval/evaluate.js';
import { onnxLatencyCost } from '../../export/latency.js';
import { classificationMetrics, wrongSet } from '../../eval/metrics.js';
import { iouMax, nearestL2 } from '../../eval/novelty.js';
import { evaluateOnDataset, evaluateUnderShift } from '../../eval/shift-eval.js';
import { argmaxFirst, fractionAtLeast, groupStats, testAtBestVal } from '../../eval/stats.js';
import { seedCount, type Config } from '../../config/index.js';
import type { Dataset } from '../../data/dataset.js';
import type { GroupReport, MemberMetric, PerClassReport, ShiftRow, CostReport, SecondDatasetRow, SeedsReport, TaskReport, AccuracyReport } from '../../report/types.js';
import { Rng, deriveSeed } from '../../tensor/random.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { ConfigError } from '../../util/errors.js';
import { readManifest } from '../../zoo/checkpoint.js';
import { Progress } from '../../util/progress.js';
import { readSafetensors, writeSafetensors } from '../../zoo/safetensors.js';
import { ARTIFACTS, loadData, type RunContext, type StageFn } from '../context.js';
import { evalGroup, groupNames, type GroupSets } from '../groups.js';
import { maybeKill, sha256 } from '../store.js';
import { evaluateTasks } from './tasks/evaluate.js';
import { evaluateAccuracy } from './accuracy/evaluate.js';

export interface GroupResult {
  name: string;
  n: number;
  /** Top-1 accuracy (percent) per member. */
  val: number[];
  test: number[];
  /** Top-5 accuracy (percent) per member; absent below 5 classes (and in results saved before it was added). */
  top5?: { val: number[]; test: number[] };
  /** Macro-F1 in [0, 1] per member (absent in results saved before it was added). */
  macroF1?: { val: number[]; test: number[] };
}
export interface EvalOutputs { files: string[]; groups: Record<string, GroupResult> }

/** Summary written by the evaluate stage and read by the report. */
export interface EvalSummary {
  base: { val: number; test: number };
  /** Classes of the data set (absent in summaries written before it was added). */
  numClasses?: number;
  /** Why the groups have no top-5: set when the data set has fewer than 5 classes. */
  top5Omitted?: string;
  /** Number of test examples the accuracies are over (absent in summaries written before it was added). */
  testSize?: number;
  groups: GroupReport[];
  perClass?: PerClassReport;
  cost?: CostReport;
  shift?: ShiftRow[];
  /** Each group's accuracy on eval.secondDataset's test split (absent when it is null). */
  secondDataset?: SecondDatasetRow[];
  /** A multi-seed zoo's seeds, alignment and interpolation (the collect stage's seeds.json; absent for one seed). */
  seeds?: SeedsReport;
  /** A task-conditioned run's per-code results (then `groups` is empty; tasks/evaluate.ts). */
  tasks?: TaskReport;
  /** An accuracy-conditioned run's results per method and prompt (then `groups` is empty; accuracy/evaluate.ts). */
  accuracy?: AccuracyReport;
  warnings: string[];
}

/** The collect stage's seeds.json of a multi-seed zoo, or null for a one-seed zoo. */
function readSeedsReport(ctx: RunContext): SeedsReport | null {
  if (seedCount(ctx.cfg.collect) < 2) return null;
  return JSON.parse(readFileSync(ctx.store.path(ARTIFACTS.seedsJson), 'utf8')) as SeedsReport;
}

/** The mean of each seed's k consecutive rows of ckpts [seeds * k, total], as [seeds] vectors (float64 sums). */
export function seedCentres(ckpts: Float32Array, seeds: number, k: number, total: number): Float32Array[] {
  return Array.from({ length: seeds }, (_, s) => {
    const acc = new Float64Array(total);
    for (let r = s * k; r < (s + 1) * k; r++) for (let j = 0; j < total; j++) acc[j] = acc[j]! + ckpts[r * total + j]!;
    return Float32Array.from(acc, (v) => v / k);
  });
}

function groupFiles(name: string): [string, string] {
  return [`eval/${name}.json`, `eval/${name}.preds.safetensors`];
}

/**
 * The test split of eval.secondDataset, loaded by the same loader as data.dataset (loadData) with
 * data.limitTest; the training split is cut to one image (limitTrain 1, valSize 0), so only the
 * test images are normalised and kept.
 * @throws ConfigError naming eval.secondDataset.dataset when its images are not the model's
 * input shape [c, h, w] (those of `like`, the run's test split) or it has more classes than the
 * model predicts: its labels are read as the model's class indices.
 */
function loadSecondTest(cfg: Config, second: NonNullable<Config['eval']['secondDataset']>, like: Dataset): Dataset {
  const test = loadData({ ...cfg, data: { ...cfg.data, dataset: second.dataset, dir: second.dir, limitTrain: 1, valSize: 0 } }).test;
  const shape = (d: Dataset): string => `[${d.c}, ${d.h}, ${d.w}]`;
  if (test.c !== like.c || test.h !== like.h || test.w !== like.w) {
    throw new ConfigError(`eval.secondDataset.dataset: ${second.dataset} has images ${shape(test)}, but the model takes ${shape(like)} (${cfg.data.dataset}); choose a dataset with the same image shape, or set eval.secondDataset to null`);
  }
  if (test.numClasses > like.numClasses) {
    throw new ConfigError(`eval.secondDataset.dataset: ${second.dataset} has ${test.numClasses} classes, but the model predicts ${like.numClasses} (${cfg.data.dataset}); choose a dataset with at most ${like.numClasses} classes, or set eval.secondDataset to null`);
  }
  return test;
}

/** The parameter sets of group `name`, [n, total]. */
function groupSets(ctx: RunContext, name: string): GroupSets {
  return evalGroup(name).sets(ctx);
}

/**
 * Seconds between saves of an unfinished group's predictions (state/eval-<group>.safetensors), so
 * an interrupted evaluation resumes at the image chunk it reached. PDIFF_EVAL_SAVE_SECONDS, default 60.
 */
function partialSaveSeconds(): number {
  const v = process.env.PDIFF_EVAL_SAVE_SECONDS;
  if (v === undefined || v === '') return 60;
  const s = Number(v);
  if (!(Number.isFinite(s) && s >= 0)) throw new Error(`PDIFF_EVAL_SAVE_SECONDS must be a number of seconds >= 0, got "${v}"`);
  return s;
}

/**
 * A saved unfinished group for this hash and size, or null (none, stale or unreadable: start over).
 * With `top5` the state must hold the top-5 hit counts [n, chunks] ('top5_hits'): a state saved
 * before they were kept has lost them, so the group starts over rather than resuming without them.
 */
function loadPartial(path: string, hash: string, n: number, chunks: number, rows: number, top5: boolean): EvalPartial | null {
  if (!existsSync(path)) return null;
  try {
    const f = readSafetensors(path);
    const t = f.tensors.get('preds');
    const h = f.tensors.get('top5_hits');
    const m = f.metadata ?? {};
    const c = Number(m.chunksDone);
    if (m.hash !== hash || m.n !== String(n) || !t || !(t.data instanceof Float32Array) || t.data.length !== n * rows) return null;
    if (!(Number.isInteger(c) && c >= 1 && c <= chunks)) return null;
    if (!top5) return h ? null : { chunksDone: c, preds: Int32Array.from(t.data) };
    if (!h || !(h.data instanceof Float32Array) || h.data.length !== n * chunks) return null;
    return { chunksDone: c, preds: Int32Array.from(t.data), top5Hits: Int32Array.from(h.data) };
  } catch {
    return null;
  }
}

/** Top-5 needs 5 classes: the reason it is left out of a run's results, or null when it is not. */
export function top5OmittedReason(numClasses: number): string | null {
  return numClasses >= 5 ? null : `top-5 accuracy is omitted: the data set has ${numClasses} classes, and top-5 needs at least 5 (every prediction would be a hit)`;
}

/** A saved group result that has every metric this version computes (top-5 exactly when `top5`). */
function isComplete(g: GroupResult, top5: boolean): boolean {
  return g.macroF1 !== undefined && (g.top5 !== undefined) === top5;
}

/** A per-member metric's group mean and its value at the best-on-val (top-1) member. */
function memberMetric(m: { val: number[]; test: number[] }, valTop1: readonly number[]): MemberMetric {
  const i = argmaxFirst(valTop1);
  return {
    mean: { val: groupStats(m.val).mean, test: groupStats(m.test).mean },
    atBestVal: { val: m.val[i]!, test: m.test[i]! },
    members: { val: m.val, test: m.test },
  };
}

let evaluatorCache: { key: string; ev: ParamSetEvaluator } | null = null;

function evaluator(ctx: RunContext): ParamSetEvaluator {
  const key = ctx.store.dir;
  if (evaluatorCache?.key !== key) {
    const s = ctx.splits();
    evaluatorCache = { key, ev: new ParamSetEvaluator({ model: ctx.baseModel(), layout: ctx.layout(), datasets: { val: s.val, test: s.test }, batch: ctx.cfg.eval.evalBatch }) };
  }
  return evaluatorCache.ev;
}

/** Evaluate the named groups (all when null), reusing saved per-group results with the same hash. */
export async function evaluateGroups(ctx: RunContext, only: string[] | null): Promise<EvalOutputs> {
  const { store, cfg } = ctx;
  const names = only ?? groupNames(ctx);
  const groups: Record<string, GroupResult> = {};
  const files: string[] = [];
  // Group results depend on the checkpoints, the model and the eval settings; generated and
  // ae_recon also on their files' contents, which the markers of upstream stages pin.
  // Only the settings that change a group's members or their scores count: turning on the shift
  // evaluation or latency measurement must not re-evaluate hundreds of models.
  const e = cfg.eval;
  const scoring = JSON.stringify({ baselineCount: e.baselineCount, avgOf: e.avgOf, noiseScales: e.noiseScales, evalBatch: e.evalBatch });
  const hashOf = (name: string): string => sha256(store.marker('collect')?.hash ?? '', store.marker(evalGroup(name).upstream)?.hash ?? '', name, scoring, String(cfg.seed));
  let done = 0;
  const numClasses = ctx.splits().test.numClasses;
  const top5 = top5OmittedReason(numClasses) === null;
  for (const name of names) {
    const [jsonPath, predsPath] = groupFiles(name);
    files.push(jsonPath, predsPath);
    const h = hashOf(name);
    if (existsSync(store.path(jsonPath)) && existsSync(store.path(predsPath))) {
      const saved = JSON.parse(readFileSync(store.path(jsonPath), 'utf8')) as GroupResult & { hash: string };
      if (saved.hash === h && isComplete(saved, top5)) { groups[name] = saved; ctx.say(`[evaluate] ${name}: up to date`); continue; }
      if (saved.hash === h) ctx.say(`[evaluate] ${name}: saved result has no ${top5 ? 'top-5 or ' : ''}macro-F1 (written by an older version): evaluating again`);
    }
    const { sets, n } = groupSets(ctx, name);
    const t0 = performance.now();
    const ev = evaluator(ctx);
    const partialPath = store.path('state', `eval-${name}.safetensors`);
    const resume = loadPartial(partialPath, h, n, ev.chunkCount, ev.rowCount, top5);
    if (resume) {
      ctx.say(`[evaluate] ${name}: resuming at image chunk ${resume.chunksDone} of ${ev.chunkCount}`);
      ctx.log.write({ stage: 'evaluate', group: name, event: 'resume', chunksDone: resume.chunksDone, chunks: ev.chunkCount });
    }
    // progress counts (image chunk, parameter set) pairs
    const start = resume ? resume.chunksDone * n : 0;
    const bar = new Progress({ label: `evaluate ${name}`, total: ev.chunkCount * n, enabled: ctx.progress, unit: 'model-chunk', start });
    let last = start;
    const saveEvery = partialSaveSeconds();
    let lastSave = performance.now(), saves = 0;
    const res = ev.evaluate(sets, n, {
      top5,
      resume: resume ?? undefined,
      onProgress: (d) => {
        bar.tick(d - last);
        last = d;
      },
      onChunk: (chunksDone, snapshot) => {
        if (chunksDone === ev.chunkCount || performance.now() - lastSave < saveEvery * 1000) return;
        const part = snapshot();
        // top-5 hits per (set, chunk) are counts <= evalBatch: exact in float32
        const hits = part.top5Hits ? [{ name: 'top5_hits', shape: [n, ev.chunkCount], data: Float32Array.from(part.top5Hits) }] : [];
        writeSafetensors(partialPath, [{ name: 'preds', shape: [n, part.preds.length / n], data: Float32Array.from(part.preds) }, ...hits],
          { hash: h, group: name, n: String(n), chunksDone: String(chunksDone) });
        lastSave = performance.now();
        ctx.clock.save();
        maybeKill('evaluate-chunk', ++saves);
      },
    });
    bar.done();
    const val = res.map((r) => r.val.acc), test = res.map((r) => r.test.acc);
    const nTest = ctx.splits().test.n;
    const preds = new Float32Array(n * nTest);
    res.forEach((r, i) => { for (let j = 0; j < nTest; j++) preds[i * nTest + j] = r.test.preds[j]!; });
    writeSafetensors(store.path(predsPath), [{ name: 'test_preds', shape: [n, nTest], data: preds }], { group: name });
    const sp = ctx.splits();
    const f1 = (preds: Int32Array, labels: Uint8Array | Int32Array): number => classificationMetrics(preds, labels, ev.numClasses).macroF1;
    const g: GroupResult = {
      name, n, val, test,
      ...(top5 ? { top5: { val: res.map((r) => r.val.top5!), test: res.map((r) => r.test.top5!) } } : {}),
      macroF1: { val: res.map((r) => f1(r.val.preds, sp.val.labels)), test: res.map((r) => f1(r.test.preds, sp.test.labels)) },
    };
    writeFileAtomic(store.path(jsonPath), JSON.stringify({ ...g, hash: h }) + '\n');
    rmSync(partialPath, { force: true });
    ctx.clock.save();
    groups[name] = g;
    const st = groupStats(test);
    ctx.say(`[evaluate] ${name}: ${n} models, test mean ${st.mean.toFixed(2)} best ${st.best.toFixed(2)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    ctx.log.write({ stage: 'evaluate', group: name, n, testMean: st.mean, testBest: st.best, seconds: (performance.now() - t0) / 1000 });
    maybeKill('evaluate', ++done);
  }
  if (only) return { files, groups };

  // ---- novelty, statistics, per-class metrics, cost, shift -> summary.json
  const layout = ctx.layout();
  const testLabels = ctx.splits().test.labels;
  const wrongOf = (name: string, n: number): Uint8Array[] => {
    const p = readSafetensors(store.path(groupFiles(name)[1])).tensors.get('test_preds')!.data as Float32Array;
    const nTest = p.length / n;
    return Array.from({ length: n }, (_, i) => wrongSet(Int32Array.from(p.subarray(i * nTest, (i + 1) * nTest)), testLabels));
  };
  const K = ctx.K;
  const origWrong = wrongOf('original', K);
  const ck = ctx.ckpts();
  const rowsOf = (sets: Float32Array, n: number): Float32Array[] => Array.from({ length: n }, (_, i) => sets.subarray(i * layout.total, (i + 1) * layout.total));
  const origRows = rowsOf(ck, K);
  const bestOriginalTest = Math.max(...groups.original!.test);
  // A multi-seed zoo: the centre of each seed's checkpoints, to tell a copy of one seed from a new network.
  const seedsReport = readSeedsReport(ctx);
  const seedMeans = seedsReport ? seedCentres(ck, seedsReport.seeds.length, seedsReport.k, layout.total) : null;
  const reports: GroupReport[] = [];
  // The phases below take seconds to minutes on a full run: each says what it did and how long it took.
  const seconds = (t: number): string => `${((performance.now() - t) / 1000).toFixed(1)} s`;
  let tPhase = performance.now();
  for (const name of names) {
    const g = groups[name]!;
    const isOrig = name === 'original';
    const { sets } = groupSets(ctx, name);
    const iou = iouMax(isOrig ? origWrong : wrongOf(name, g.n), origWrong, isOrig).value;
    const l2 = nearestL2(rowsOf(sets, g.n), origRows, isOrig).value;
    const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
    reports.push({
      name, n: g.n, val: groupStats(g.val), test: groupStats(g.test), testAtBestVal: testAtBestVal(g.val, g.test),
      iouMax: mean(iou), nnL2: mean(l2),
      ...(seedMeans ? { nnL2SeedMean: mean(nearestL2(rowsOf(sets, g.n), seedMeans, false).value) } : {}),
      fracAtLeastBestOriginal: fractionAtLeast(g.test, bestOriginalTest),
      accuracies: { val: g.val, test: g.test }, novelty: { iou, nnL2: l2 },
      ...(g.top5 ? { top5: memberMetric(g.top5, g.val) } : {}),
      ...(g.macroF1 ? { macroF1: memberMetric(g.macroF1, g.val) } : {}),
    });
  }
  ctx.say(`[evaluate] novelty (IoU-max, nearest L2) of ${names.length} groups against the ${K} originals (${seconds(tPhase)})`);
  tPhase = performance.now();

  // Per-class metrics of each group's best-on-val member (selection on val, reported on test).
  const ev = evaluator(ctx);
  const test = ctx.splits().test;
  const perClass: PerClassReport = { classNames: test.classNames ?? Array.from({ length: test.numClasses }, (_, i) => String(i)), rows: [] };
  for (const r of reports) {
    const g = groups[r.name]!;
    let bi = 0;
    for (let i = 1; i < g.val.length; i++) if (g.val[i]! > g.val[bi]!) bi = i;
    const { sets } = groupSets(ctx, r.name);
    const m = ev.evaluateDetailed(sets.subarray(bi * layout.total, (bi + 1) * layout.total));
    perClass.rows.push({ group: r.name, accuracy: m.test.perClassAccuracy, macroF1: m.test.macroF1 });
  }
  ctx.say(`[evaluate] per-class metrics of each group's best-on-val model (${seconds(tPhase)})`);
  tPhase = performance.now();

  // Cost of the classifier and of generation against training.
  const model = ctx.baseModel();
  const inShape: [number, number, number] = [test.c, test.h, test.w];
  const cc = classifierCost(model, inShape);
  const cost: CostReport = { params: cc.params, macs: cc.macs, backend: ctx.be.name, peakRssMb: peakRssMb() };
  if (cfg.eval.latency) {
    cost.latencyMsBatch1 = measureLatency(model, inShape, 1, { repeats: 20 }).medianMs;
    cost.latencyMsBatch128 = measureLatency(model, inShape, 128, { repeats: 10 }).medianMs;
    // the same model in ONNX Runtime, beside pdiff's engine (or why it was not measured)
    Object.assign(cost, await onnxLatencyCost({ model, inShape, numClasses: test.numClasses }));
    if (cost.onnxLatencyMissing) ctx.say(`[evaluate] ONNX Runtime latency not measured: ${cost.onnxLatencyMissing}`);
  }
  const gen = existsSync(store.path(ARTIFACTS.generateJson)) ? JSON.parse(readFileSync(store.path(ARTIFACTS.generateJson), 'utf8')) as { seconds: number; n: number } : null;
  const manifest = readManifest(store.path(ARTIFACTS.manifest));
  if (gen) cost.generateSecondsPerModel = gen.seconds / gen.n;
  if (manifest.collectSeconds !== undefined) cost.trainSecondsPerCheckpoint = manifest.collectSeconds / K;
  ctx.say(`[evaluate] cost: ${cost.params} parameters, ${cost.macs} MACs per image${cost.latencyMsBatch1 !== undefined ? `, latency ${cost.latencyMsBatch1.toFixed(2)} ms at batch 1` : ''} (${seconds(tPhase)})`);

  // The second dataset is loaded and checked before the shift pass, so one that does not fit the
  // model fails in seconds instead of after the corruptions; it is scored after them.
  const tSecond = performance.now();
  const secondTest = cfg.eval.secondDataset ? loadSecondTest(cfg, cfg.eval.secondDataset, test) : undefined;
  const secondLoadMs = performance.now() - tSecond;

  // The members scored under shift and on the second dataset: the first eval.shift.models of a group.
  const pick = (name: string): { vecs: Float32Array; P: number } => {
    const { sets, n } = groupSets(ctx, name);
    const P = Math.min(n, cfg.eval.shift.models);
    return { vecs: sets.subarray(0, P * layout.total), P };
  };

  // Distribution shift: originals against generated (and the ensemble), on corrupted test sets.
  let shift: ShiftRow[] | undefined;
  if (cfg.eval.shift.enabled) {
    const vecsByGroup: Record<string, { vecs: Float32Array; P: number }> = { original: pick('original'), generated: pick('generated'), ensemble: pick('ensemble') };
    const { kinds, severities } = cfg.eval.shift;
    ctx.say(`[evaluate] distribution shift: ${kinds.length} corruptions x ${severities.length} severities, ` +
      `${Object.entries(vecsByGroup).map(([g, v]) => `${g} ${v.P}`).join(', ')} models`);
    // The bar is made at the first pass, when the total (which depends on the evaluator's chunks) is known.
    let bar: Progress | undefined;
    const rows = evaluateUnderShift({ model, layout }, vecsByGroup, test, kinds, severities, new Rng(deriveSeed(cfg.seed, 'shift')), {
      batch: cfg.eval.evalBatch,
      onPass: (done, total, at) => {
        bar ??= new Progress({ label: 'evaluate shift', total, enabled: ctx.progress, unit: 'model-chunk' });
        bar.tick(done - bar.current, { on: `${at.kind} ${at.severity}` });
      },
    });
    shift = rows.map((r) => ({ kind: r.kind, severity: r.severity, group: r.group, meanAcc: r.meanAcc, bestAcc: Math.max(...r.accs) }));
    const meanOf = (g: string): string => { const rs = rows.filter((r) => r.group === g); return (rs.reduce((s, r) => s + r.meanAcc, 0) / rs.length).toFixed(2); };
    bar?.done(`mean test accuracy under shift: ${Object.keys(vecsByGroup).map((g) => `${g} ${meanOf(g)}`).join(', ')}`);
  }

  // Second dataset (eval.secondDataset): the same members on another dataset's test split, its
  // labels read as the model's class indices: how far out of distribution the models are.
  let secondDataset: SecondDatasetRow[] | undefined;
  if (secondTest) {
    const t0 = performance.now();
    const vecsByGroup: Record<string, { vecs: Float32Array; P: number }> = { original: pick('original'), generated: pick('generated'), ensemble: pick('ensemble') };
    const rows = evaluateOnDataset({ model, layout }, vecsByGroup, secondTest, { batch: cfg.eval.evalBatch });
    secondDataset = rows.map((r) => ({ dataset: r.dataset, group: r.group, meanAcc: r.meanAcc, bestAcc: Math.max(...r.accs), accs: r.accs }));
    const secs = (performance.now() - t0 + secondLoadMs) / 1000;
    ctx.say(`[evaluate] second dataset ${secondTest.name} (${secondTest.n} images): mean accuracy ${rows.map((r) => `${r.group} ${r.meanAcc.toFixed(2)} (${r.accs.length})`).join(', ')} (${secs.toFixed(1)} s)`);
    ctx.log.write({ stage: 'evaluate', event: 'secondDataset', dataset: secondTest.name, rows: secondDataset.map((r) => ({ group: r.group, meanAcc: r.meanAcc, bestAcc: r.bestAcc, models: r.accs.length })), seconds: secs });
  }

  const base = JSON.parse(readFileSync(store.path(ARTIFACTS.baseJson), 'utf8')) as { val: number; test: number };
  const warnings: string[] = [];
  const gen0 = reports.find((r) => r.name === 'generated');
  const orig0 = reports.find((r) => r.name === 'original')!;
  if (gen0 && gen0.test.mean < orig0.test.mean - 1) warnings.push(`generated models are ${(orig0.test.mean - gen0.test.mean).toFixed(2)} points below the originals on average: samples may be off the checkpoint manifold (check the latent scale, AE eval mode and the inverse normalisation)`);
  if (gen0 && (gen0.iouMax ?? 0) > 0.99 && (gen0.nnL2 ?? 1) < 1e-3) warnings.push('generated models copy training checkpoints (IoU-max near 1 and NN-L2 near 0)');
  const omitted = top5OmittedReason(numClasses);
  const summary: EvalSummary = {
    base: { val: base.val, test: base.test }, numClasses, ...(omitted ? { top5Omitted: omitted } : {}), testSize: test.n, groups: reports, perClass, cost, shift, secondDataset,
    ...(seedsReport ? { seeds: seedsReport } : {}), warnings,
  };
  writeFileAtomic(store.path(ARTIFACTS.summary), JSON.stringify(summary, null, 1) + '\n');
  files.push(ARTIFACTS.summary);
  return { files, groups };
}

/** Stage evaluate: every group on val and test, then novelty, per-class metrics, cost, shift and the second dataset (summary.json); in task mode, every evaluated code (tasks/evaluate.ts). */
export const evaluate: StageFn = async (ctx, hash) => {
  if (ctx.tasks) return evaluateTasks(ctx, hash);
  if (ctx.accuracy) return evaluateAccuracy(ctx);
  const out = await evaluateGroups(ctx, null);
  return { files: out.files };
};
