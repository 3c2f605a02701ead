/**
 * Stage eval-originals in task mode: the zoo's own tasks, each task's last checkpoint scored on
 * its own code's binary val and test sets (zoo-eval.json). It says how well the zoo learnt its
 * tasks, the bar the generated models of seen codes are held to; the evaluate stage scores every
 * checkpoint of the sampled seen codes (their oracle) beside the generated models.
 */
import { binaryLabels, classBalance, readTaskZoo, type TaskAccuracy } from '../../../tasks/index.js';
import type { TaskZooScores } from '../../../report/types.js';
import { writeFileAtomic } from '../../../util/atomic.js';
import { Progress } from '../../../util/progress.js';
import { ARTIFACTS, type RunContext, type StageOutputs } from '../../context.js';
import { taskEvaluator } from './evaluate.js';

/** Checkpoints scored per pass of the evaluator (one pass over the cached val and test features serves all of them). */
const VECTORS_PER_PASS = 64;

export async function evalOriginalsTasks(ctx: RunContext): Promise<StageOutputs> {
  const { store } = ctx;
  const zoo = readTaskZoo(store.path(ARTIFACTS.taskZoo));
  const ev = taskEvaluator(ctx);
  const total = zoo.layout.total, T = zoo.codes.length;
  const last = new Float32Array(T * total);
  for (let t = 0; t < T; t++) last.set(zoo.ckpts.subarray(((t + 1) * zoo.k - 1) * total, (t + 1) * zoo.k * total), t * total);
  const scores: TaskAccuracy[] = [];
  const bar = new Progress({ label: 'eval-originals tasks', total: T, enabled: ctx.progress, unit: 'task' });
  for (let s = 0; s < T; s += VECTORS_PER_PASS) {
    const m = Math.min(VECTORS_PER_PASS, T - s);
    ev.predict(last.subarray(s * total, (s + m) * total), m).forEach((p, j) => scores.push(ev.score(p, zoo.codes[s + j]!)));
    bar.tick(m);
  }
  const testLabels = ctx.splits().test.labels;
  const majority = zoo.codes.map((c) => classBalance(binaryLabels(testLabels, c)).majorityAcc);
  const stat = (v: number[]): { mean: number; min: number; max: number } => ({ mean: v.reduce((a, b) => a + b, 0) / v.length, min: Math.min(...v), max: Math.max(...v) });
  const summary: TaskZooScores = {
    tasks: T, val: stat(scores.map((x) => x.val)), test: stat(scores.map((x) => x.test)), majorityTest: majority.reduce((a, b) => a + b, 0) / T,
  };
  bar.done(`zoo tasks' last checkpoints: test mean ${summary.test.mean.toFixed(2)} % (min ${summary.test.min.toFixed(2)}), majority class ${summary.majorityTest.toFixed(2)} %`);
  writeFileAtomic(store.path(ARTIFACTS.zooEval), `${JSON.stringify({ summary, codes: zoo.codes, val: scores.map((x) => x.val), test: scores.map((x) => x.test), majorityTest: majority })}\n`);
  return { files: [ARTIFACTS.zooEval] };
}
