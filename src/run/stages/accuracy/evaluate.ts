/**
 * Stage evaluate in accuracy mode (docs/accuracy.md#pipeline): the generated models of every prompt
 * and each baseline's models for the same prompts, scored the same way on test (one
 * ParamSetEvaluator pass each): achieved accuracy per prompt, MAE and Spearman inside the zoo's
 * range, the prompts above its best against the zoo's best test accuracy, and novelty (NN-L2,
 * IoU-max) against the zoo. Baselines: nearest label (perPrompt rows; memorisation), nearest-label
 * mean (tasks.accuracy.nearest rows), ridge of each degree in tasks.accuracy.ridgeDegrees. Beside
 * them, the zoo's own spacing (each row's NN-L2 and IoU-max against the other rows). Writes
 * eval-accuracy.json, and summary.json with it under `accuracy` for the report. It keeps no
 * state: a killed evaluation reruns whole, to the same result.
 */
import { readFileSync } from 'node:fs';
import {
  accuracyRidgePredict, fitAccuracyRidge, nearestLabel, nearestLabelMean, promptNovelty, scoreSets, summarizeAccuracyControl, promptOutcomes,
} from '../../../accuracy/index.js';
import { ParamSetEvaluator } from '../../../eval/evaluate.js';
import { wrongSet } from '../../../eval/metrics.js';
import { iouMax, nearestL2 } from '../../../eval/novelty.js';
import type { AccuracyMethodReport, AccuracyReport } from '../../../report/types.js';
import { writeFileAtomic } from '../../../util/atomic.js';
import { FormatError } from '../../../util/errors.js';
import { loadCheckpointStack } from '../../../zoo/checkpoint.js';
import { readAccuracyJson } from '../../accuracy.js';
import { ARTIFACTS, type RunContext, type StageOutputs } from '../../context.js';
import type { EvalSummary } from '../evaluate.js';
import type { AccuracyZooEval } from './eval-originals.js';

/** File of the accuracy evaluation, relative to the run folder. */
export const ACCURACY_EVAL = 'eval-accuracy.json';

/** One method's result: its summary over the prompts and its novelty per prompt. */
export type AccuracyMethodResult = AccuracyMethodReport;

/** eval-accuracy.json, and the `accuracy` field of summary.json. */
export type AccuracyEval = AccuracyReport;

export async function evaluateAccuracy(ctx: RunContext): Promise<StageOutputs> {
  const { cfg, store } = ctx;
  const plan = ctx.accuracy!;
  const rec = readAccuracyJson(store);
  const gen = JSON.parse(readFileSync(store.path(ARTIFACTS.generateJson), 'utf8')) as { prompts: number[]; perPrompt: number };
  const zooEval = JSON.parse(readFileSync(store.path(ARTIFACTS.zooEval), 'utf8')) as AccuracyZooEval;
  const layout = ctx.layout(), total = layout.total;
  const rows = ctx.ckpts();
  const prompts = gen.prompts, per = gen.perPrompt;
  const generated = loadCheckpointStack(store.path(ARTIFACTS.generated(ctx.mode))).ckpts;
  if (generated.length !== prompts.length * per * total) throw new FormatError(store.path(ARTIFACTS.generated(ctx.mode)), `expected ${prompts.length} prompts x ${per} models of ${total} floats; rerun the generate stage`);
  const zooSet = { rows, labels: rec.labels, total };
  const methods: Array<{ method: string; sets: Float32Array[] }> = [
    { method: 'generated', sets: prompts.map((_, q) => generated.subarray(q * per * total, (q + 1) * per * total)) },
    { method: `nearest label (${per} rows)`, sets: prompts.map((p) => nearestLabel(zooSet, p, Math.min(per, rec.labels.length)).rows) },
    { method: `nearest-label mean (${plan.nearest})`, sets: prompts.map((p) => nearestLabelMean(zooSet, p, Math.min(plan.nearest, rec.labels.length))) },
    ...plan.ridgeDegrees.map((degree) => {
      const map = fitAccuracyRidge({ zoo: zooSet, scale: rec.scale, degree, lambda: plan.ridgeLambda });
      return { method: `ridge, degree ${degree}`, sets: prompts.map((p) => accuracyRidgePredict(map, p)) };
    }),
  ];
  const test = ctx.splits().test;
  const ev = new ParamSetEvaluator({ model: ctx.baseModel(), layout, datasets: { test }, batch: cfg.eval.evalBatch });
  const [zooScores] = scoreSets(ev, [rows], 'test');
  const results = methods.map(({ method, sets }): AccuracyMethodResult => {
    const scores = scoreSets(ev, sets, 'test');
    const summary = summarizeAccuracyControl({ outcomes: promptOutcomes(prompts, scores), range: rec.scale, zooBestTest: zooEval.bestTest });
    const novelty = promptNovelty({ sets, preds: scores.map((s) => s.preds), zoo: { rows, labels: rec.labels, preds: zooScores!.preds }, testLabels: test.labels, total });
    ctx.say(`[evaluate] ${method}: MAE inside ${summary.inside.mae.toFixed(2)}, Spearman ${summary.inside.spearman.toFixed(3)}${summary.above?.gainOverZoo != null ? `, above best ${summary.above.gainOverZoo.toFixed(2)} vs the zoo` : ''}`);
    return { method, summary, novelty };
  });
  // The zoo's own spacing, the scale to read the methods' novelty against: each row's NN-L2 and
  // IoU-max against the other rows (its neighbour on its own run, as a rule).
  const N = rows.length / total;
  const zooVecs = Array.from({ length: N }, (_, i) => rows.subarray(i * total, (i + 1) * total));
  const zooWrong = zooScores!.preds.map((p) => wrongSet(p, test.labels));
  const meanOf = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
  const zoo = N >= 2 ? { rows: N, runs: rec.runs, floats: total, nnL2: meanOf(nearestL2(zooVecs, zooVecs, true).value), iouMax: meanOf(iouMax(zooWrong, zooWrong, true).value) } : undefined;
  const out: AccuracyEval = { prompts, perPrompt: per, scale: rec.scale, zooBestTest: zooEval.bestTest, meanValTestGap: zooEval.meanValTestGap, ...(zoo ? { zoo } : {}), methods: results };
  writeFileAtomic(store.path(ACCURACY_EVAL), `${JSON.stringify(out)}\n`);
  // summary.json, what the report reads: the base model, no groups, and this evaluation
  const base = JSON.parse(readFileSync(store.path(ARTIFACTS.baseJson), 'utf8')) as { val: number; test: number };
  const warnings: string[] = [];
  const g = results[0]!.summary;
  if (!(g.inside.spearman > 0)) warnings.push(`the generated models' accuracy does not rise with the prompt inside the zoo's range (Spearman ${g.inside.spearman.toFixed(3)})`);
  const summary: EvalSummary = { base: { val: base.val, test: base.test }, numClasses: test.numClasses, testSize: test.n, groups: [], warnings, accuracy: out };
  writeFileAtomic(store.path(ARTIFACTS.summary), `${JSON.stringify(summary, null, 1)}\n`);
  return { files: [ACCURACY_EVAL, ARTIFACTS.summary] };
}
