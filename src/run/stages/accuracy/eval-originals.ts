/**
 * Stage eval-originals in accuracy mode: every zoo row scored on the test split (zoo-eval.json;
 * its val accuracy is its label, in accuracy.json). The evaluation compares the generated models'
 * test accuracy with these: the zoo's best test accuracy is what a model above the zoo's range
 * has to beat, and the val-test gap is part of every method's error (docs/accuracy.md#labels).
 */
import { scoreSets } from '../../../accuracy/index.js';
import { ParamSetEvaluator } from '../../../eval/evaluate.js';
import { writeFileAtomic } from '../../../util/atomic.js';
import { readAccuracyJson } from '../../accuracy.js';
import { ARTIFACTS, type RunContext, type StageOutputs } from '../../context.js';

/** zoo-eval.json of an accuracy run. */
export interface AccuracyZooEval {
  /** Test accuracy (%) of each zoo row, in row order. */
  test: number[];
  /** The best of them. */
  bestTest: number;
  /** Mean |val - test| over the rows (points): the floor of every method's error. */
  meanValTestGap: number;
}

export async function evalOriginalsAccuracy(ctx: RunContext): Promise<StageOutputs> {
  const { cfg, store } = ctx;
  const rec = readAccuracyJson(store);
  const layout = ctx.layout();
  const rows = ctx.ckpts();
  const ev = new ParamSetEvaluator({ model: ctx.baseModel(), layout, datasets: { test: ctx.splits().test }, batch: cfg.eval.evalBatch });
  const [scores] = scoreSets(ev, [rows], 'test');
  const test = scores!.acc;
  const gap = test.reduce((s, t, i) => s + Math.abs(rec.labels[i]! - t), 0) / test.length;
  const out: AccuracyZooEval = { test, bestTest: Math.max(...test), meanValTestGap: gap };
  ctx.say(`[eval-originals] ${test.length} zoo rows on test: best ${out.bestTest.toFixed(2)} %, mean |val - test| ${gap.toFixed(2)} points`);
  writeFileAtomic(store.path(ARTIFACTS.zooEval), `${JSON.stringify(out)}\n`);
  return { files: [ARTIFACTS.zooEval] };
}
