/**
 * Stage collect in accuracy mode (docs/accuracy.md#pipeline): tasks.accuracy.runs training runs of
 * the generated part from its random initialisation (collectAccuracyZoo: one file per run under
 * accuracy/, so an interrupted collection resumes at the run it reached), each run's checkpoints
 * labelled with their val accuracy. Writes the stack every later stage reads (all rows, run after
 * run: ckpts-accuracy.safetensors) and the record of labels and scale (accuracy.json).
 */
import { accuracyRunFile, collectAccuracyZoo } from '../../../accuracy/index.js';
import { buildClassifier } from '../../../models/index.js';
import { fitAccuracyScale } from '../../../pdiff/condition.js';
import { writeFileAtomic } from '../../../util/atomic.js';
import { makeDir } from '../../../util/fsdir.js';
import { saveCheckpointStack } from '../../../zoo/checkpoint.js';
import type { AccuracyJson } from '../../accuracy.js';
import { checkFinite, metaOf } from '../../artifacts.js';
import { ARTIFACTS, type RunContext, type StageOutputs } from '../../context.js';
import { maybeKill } from '../../store.js';

export async function collectAccuracy(ctx: RunContext): Promise<StageOutputs> {
  const { cfg, store, be } = ctx;
  const plan = ctx.accuracy!;
  const holder = ctx.baseModel();
  const layout = ctx.layout();
  const { train, val } = ctx.splits();
  const dir = store.path(ARTIFACTS.accuracyZoo);
  makeDir(dir);
  ctx.say(`[collect] ${plan.runs} runs x ${plan.recipe.k} checkpoints of ${layout.total} floats (${plan.recipe.steps} steps each, init "${plan.recipe.init}")`);
  const zoo = collectAccuracyZoo({
    model: holder,
    build: (rng) => buildClassifier(cfg.model.arch, { rng, backend: be, inShape: [train.c, train.h, train.w], numClasses: train.numClasses, model: cfg.model }),
    layout, train, val, recipe: plan.recipe, seed: cfg.seed, runs: plan.runs, dir, evalBatch: cfg.eval.evalBatch, progress: ctx.progress,
    onRun: (done, runs) => {
      if (done === runs) return;
      ctx.clock.save(); // the run files are the resumable state
      maybeKill('collect', done);
    },
  });
  checkFinite('accuracy zoo checkpoints', zoo.rows);
  saveCheckpointStack(store.path(ARTIFACTS.ckpts(ctx.mode)), layout, zoo.rows, metaOf(cfg, 'collect'));
  const labels = Array.from(zoo.labels);
  const record: AccuracyJson = {
    version: 1, runs: zoo.runs, k: zoo.k, recipe: zoo.recipe, plan: zoo.plan, layout: layout.toJSON(),
    labels, run: Array.from(zoo.run), step: Array.from(zoo.step), scale: fitAccuracyScale(labels, 'collect'),
    curves: zoo.info.map((i) => ({ steps: i.candidateSteps, labels: i.candidateLabels })),
  };
  writeFileAtomic(store.path(ARTIFACTS.accuracyJson), `${JSON.stringify(record)}\n`);
  ctx.log.write({ stage: 'collect', event: 'accuracyZoo', runs: zoo.runs, k: zoo.k, total: layout.total, lo: record.scale.lo, hi: record.scale.hi });
  const runFiles = Array.from({ length: zoo.runs }, (_, r) => `${ARTIFACTS.accuracyZoo}/${accuracyRunFile(r)}`);
  return { files: [ARTIFACTS.ckpts(ctx.mode), ARTIFACTS.accuracyJson, `${ARTIFACTS.accuracyZoo}/zoo.json`, ...runFiles] };
}
