/**
 * Stage evaluate in task mode (docs/tasks.md#evaluation): for every unseen code and the sample of
 * seen codes, on the code's binary val and test sets, the generated models against
 * - the oracle: the generated part trained for the code with the zoo's recipe (oracleCheckpoints;
 *   for a seen code that is its zoo checkpoints, bit for bit, so they are read instead of retrained);
 * - the nearest seen task(s) in Hamming distance: what memorising the zoo gives;
 * - the mean of all seen checkpoints: what ignoring the code gives;
 * - the ridge map from the code to the parameters: what a linear model gives;
 * - the majority class: the floor.
 * Each code's result is written on its own (eval/tasks/<code>.json, under the stage's hash), so an
 * interrupted evaluation resumes at the next code. summary.json holds them all.
 */
import { existsSync, readFileSync } from 'node:fs';
import { argmaxFirst } from '../../../eval/stats.js';
import type { TaskAccuracies, TaskCodeReport, TaskReport, TaskZooScores } from '../../../report/types.js';
import {
  TaskEvaluator, assertNoUnseen, binaryLabels, cacheFeatures, classBalance, fitRidge, meanSeen, nearestSeen, oracleCheckpoints, readTaskZoo,
  ridgePredict, taskCheckpoints, type FeatureCache, type TaskAccuracy, type TaskPredictions,
} from '../../../tasks/index.js';
import { writeFileAtomic } from '../../../util/atomic.js';
import { FormatError } from '../../../util/errors.js';
import { Progress } from '../../../util/progress.js';
import { loadCheckpointStack } from '../../../zoo/checkpoint.js';
import { ARTIFACTS, type RunContext, type StageOutputs } from '../../context.js';
import { maybeKill, sha256 } from '../../store.js';
import type { EvalSummary } from '../evaluate.js';

let evaluatorCache: { key: string; ev: TaskEvaluator } | null = null;

/** The task evaluator of a run (val and test features cached once per process and run folder). */
export function taskEvaluator(ctx: RunContext): TaskEvaluator {
  const key = ctx.store.dir;
  if (evaluatorCache?.key !== key) {
    const s = ctx.splits();
    evaluatorCache = { key, ev: new TaskEvaluator({ task: ctx.taskModel(), val: s.val, test: s.test, batch: ctx.cfg.eval.evalBatch, onWarning: (m) => ctx.say(`[evaluate] ${m}`) }) };
  }
  return evaluatorCache.ev;
}

const accs = (a: readonly TaskAccuracy[]): TaskAccuracies => ({ val: a.map((x) => x.val), test: a.map((x) => x.test) });

/** A code's saved result: the whole of it under this stage hash, its baselines under this baselines key, or null. */
function savedResult(path: string, hash: string, baselinesKey: string): { whole: boolean; r: TaskCodeReport } | null {
  if (!existsSync(path)) return null;
  try {
    const saved = JSON.parse(readFileSync(path, 'utf8')) as TaskCodeReport & { hash?: string; baselinesKey?: string };
    const { hash: h, baselinesKey: b, ...r } = saved;
    if (h === hash) return { whole: true, r };
    return b === baselinesKey ? { whole: false, r } : null;
  } catch {
    return null; // a damaged result is computed again
  }
}

export async function evaluateTasks(ctx: RunContext, hash: string): Promise<StageOutputs> {
  const { cfg, store } = ctx;
  const plan = ctx.tasks!;
  const task = ctx.taskModel();
  const total = task.layout.total, per = cfg.tasks.perCode;
  const zoo = readTaskZoo(store.path(ARTIFACTS.taskZoo));
  assertNoUnseen(zoo.codes, plan.split, 'evaluate: the task zoo');
  const genPath = store.path(ARTIFACTS.generated(ctx.mode));
  const gen = loadCheckpointStack(genPath);
  if (gen.metadata.codes !== JSON.stringify(plan.evalCodes) || gen.k !== plan.evalCodes.length * per || gen.layout.total !== total) {
    throw new FormatError(genPath, `expected ${per} models for each of the ${plan.evalCodes.length} evaluated codes; rerun the generate stage`);
  }
  const { val, test, train } = ctx.splits();
  const codes = plan.evalCodes;
  const files: string[] = [];
  const results: TaskCodeReport[] = [];
  // Made on first use: the oracle's training features (only for unseen codes), the ridge map and
  // the mean of the zoo with its predictions (the same vectors for every code).
  let features: FeatureCache | null = null;
  let shared: { ridge: ReturnType<typeof fitRidge>; meanPreds: TaskPredictions } | null = null;
  // The baselines of a code depend on the zoo (and so on everything upstream of it) and the ridge
  // penalty only: a run that changes the generator (guidance, diffusion steps) keeps them and
  // scores its new generated models alone.
  const baselinesKey = sha256('pdiff-task-baselines-v1', store.marker('collect')?.hash ?? '', String(cfg.tasks.ridgeLambda));
  const bar = new Progress({ label: 'evaluate tasks', total: codes.length, enabled: ctx.progress, unit: 'code' });
  let done = 0;
  for (const [i, code] of codes.entries()) {
    const file = ARTIFACTS.taskEval(code);
    files.push(file);
    const saved = savedResult(store.path(file), hash, baselinesKey);
    if (saved?.whole) {
      results.push(saved.r);
      bar.tick(1, { code: `${code} (saved)` });
      continue;
    }
    const ev = taskEvaluator(ctx);
    const genVecs = gen.ckpts.subarray(i * per * total, (i + 1) * per * total);
    const generated = accs(ev.evaluate(genVecs, per, code));
    const b = saved ? saved.r : scoreBaselines(code);
    const r: TaskCodeReport = { code, seen: b.seen, generated, oracle: b.oracle, nearest: b.nearest, meanSeen: b.meanSeen, ridge: b.ridge, majority: b.majority };
    writeFileAtomic(store.path(file), `${JSON.stringify({ ...r, hash, baselinesKey })}\n`);
    ctx.clock.save();
    results.push(r);
    const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
    bar.tick(1, { code, generated: mean(r.generated.test).toFixed(2), oracle: mean(r.oracle.test).toFixed(2), nearest: mean(r.nearest.test).toFixed(2) });
    ctx.log.write({ stage: 'evaluate', event: 'task', code, seen: r.seen, generated: mean(r.generated.test), oracle: mean(r.oracle.test), nearest: mean(r.nearest.test), ridge: r.ridge.test, baselinesKept: saved !== null });
    maybeKill('evaluate', ++done);
  }
  bar.done();

  /** Every baseline of one code (its generated models are scored by the caller). */
  function scoreBaselines(code: string): Omit<TaskCodeReport, 'generated'> {
    const ev = taskEvaluator(ctx);
    shared ??= { ridge: fitRidge({ zoo, lambda: cfg.tasks.ridgeLambda }), meanPreds: ev.predict(meanSeen(zoo), 1)[0]! };
    const t = zoo.codes.indexOf(code);
    const seen = t >= 0;
    let oracleVecs: Float32Array;
    if (seen) oracleVecs = taskCheckpoints(zoo, t);
    else {
      features ??= cacheFeatures({ model: task.model, stage: task.stage, dataset: train });
      oracleVecs = oracleCheckpoints({ task, features, code, recipe: zoo.recipe, seed: zoo.seed });
    }
    const oraclePreds = ev.predict(oracleVecs, zoo.k);
    const near = nearestSeen(zoo, code);
    // a seen code's nearest zoo task is itself (distance 0): its predictions are the oracle's
    const nearPreds = near.distance === 0 ? oraclePreds : ev.predict(near.ckpts, near.codes.length * zoo.k);
    const ridgePreds = ev.predict(ridgePredict(shared.ridge, code), 1)[0]!;
    const score = (preds: readonly TaskPredictions[]): TaskAccuracies => accs(preds.map((p) => ev.score(p, code)));
    const majority = (labels: ArrayLike<number>): number => classBalance(binaryLabels(labels, code)).majorityAcc;
    return {
      code, seen,
      oracle: score(oraclePreds),
      nearest: { distance: near.distance, codes: near.codes, ...score(nearPreds) },
      meanSeen: ev.score(shared.meanPreds, code),
      ridge: ev.score(ridgePreds, code),
      majority: { val: majority(val.labels), test: majority(test.labels) },
    };
  }

  const zooScores = existsSync(store.path(ARTIFACTS.zooEval)) ? (JSON.parse(readFileSync(store.path(ARTIFACTS.zooEval), 'utf8')) as { summary: TaskZooScores }).summary : undefined;
  const tasks: TaskReport = {
    zooTasks: zoo.codes.length, k: zoo.k, heldOut: plan.split.unseen.length, perCode: per, params: [...task.layout.names], floats: total,
    guidance: cfg.generate.guidance, ridgeLambda: cfg.tasks.ridgeLambda, ...(zooScores ? { zoo: zooScores } : {}), codes: results,
  };
  const base = JSON.parse(readFileSync(store.path(ARTIFACTS.baseJson), 'utf8')) as { val: number; test: number };
  const warnings: string[] = [];
  const unseen = results.filter((r) => !r.seen);
  const below = unseen.filter((r) => {
    const best = r.generated.test[argmaxFirst(r.generated.val)]!;
    return best <= r.majority.test;
  });
  if (below.length > 0) warnings.push(`on ${below.length} of ${unseen.length} unseen codes the generated model best on val is no better than always answering the larger class (${below.slice(0, 5).map((r) => r.code).join(', ')}${below.length > 5 ? ', ...' : ''})`);
  const summary: EvalSummary = { base: { val: base.val, test: base.test }, numClasses: 2, testSize: test.n, groups: [], warnings, tasks };
  writeFileAtomic(store.path(ARTIFACTS.summary), `${JSON.stringify(summary, null, 1)}\n`);
  return { files: [...files, ARTIFACTS.summary] };
}
