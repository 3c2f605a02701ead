/**
 * Stage collect in task mode (docs/tasks.md#pipeline): cache the frozen features of the training
 * images once, train the generated part for every zoo code (collectTaskZoo: one file per chunk
 * of tasks under tasks/, so an interrupted collection resumes at the chunk it reached), then write
 * the stack every later stage reads, all zoo rows task after task (ckpts-task.safetensors), and
 * the record of what was trained (tasks.json). Only seen codes are trained: the held-out ones are
 * refused by collectTaskZoo itself.
 */
import { readFileSync } from 'node:fs';
import { cacheFeatures, collectTaskZoo } from '../../../tasks/index.js';
import { writeFileAtomic } from '../../../util/atomic.js';
import { makeDir } from '../../../util/fsdir.js';
import { saveCheckpointStack } from '../../../zoo/checkpoint.js';
import { checkFinite, metaOf } from '../../artifacts.js';
import { ARTIFACTS, type RunContext, type StageOutputs } from '../../context.js';
import { maybeKill } from '../../store.js';
import type { TasksJson } from '../../tasks.js';

export async function collectTasks(ctx: RunContext): Promise<StageOutputs> {
  const { cfg, store } = ctx;
  const plan = ctx.tasks!;
  const task = ctx.taskModel();
  const { train } = ctx.splits();
  const t0 = performance.now();
  const features = cacheFeatures({ model: task.model, stage: task.stage, dataset: train });
  ctx.say(`[collect] features of ${features.n} training images after stage ${task.stage} ([${features.shape.join(', ')}], ${(features.data.byteLength / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  ctx.say(`[collect] ${plan.zooCodes.length} seen tasks x ${plan.recipe.k} checkpoints of ${task.layout.total} floats (${task.layout.names.join(', ')}); ${plan.split.unseen.length} codes held out`);
  const dir = store.path(ARTIFACTS.taskZoo);
  makeDir(dir);
  const t1 = performance.now();
  const zoo = collectTaskZoo({
    task, features, split: plan.split, codes: plan.zooCodes, recipe: plan.recipe, seed: cfg.seed, dir, chunkSize: cfg.tasks.chunkSize, progress: ctx.progress,
    onChunk: (done, chunks) => {
      if (done === chunks) return;
      ctx.clock.save(); // the chunk files are the resumable state
      maybeKill('collect', done);
    },
  });
  const seconds = (performance.now() - t1) / 1000;
  checkFinite('task zoo checkpoints', zoo.ckpts);
  saveCheckpointStack(store.path(ARTIFACTS.ckpts(ctx.mode)), task.layout, zoo.ckpts, metaOf(cfg, 'collect'));
  const record: TasksJson = {
    version: 1, unseen: plan.split.unseen, splitSeed: plan.split.seed, zooCodes: zoo.codes, k: zoo.k, recipe: zoo.recipe, evalSeen: plan.evalSeen,
    layout: task.layout.toJSON(), fresh: task.fresh, stage: task.stage, trainImages: features.n,
  };
  writeFileAtomic(store.path(ARTIFACTS.tasksJson), `${JSON.stringify(record, null, 1)}\n`);
  ctx.log.write({ stage: 'collect', event: 'taskZoo', tasks: zoo.codes.length, k: zoo.k, total: task.layout.total, seconds });
  const chunks = readChunkFiles(store.path(ARTIFACTS.taskZoo, 'zoo.json'));
  return { files: [ARTIFACTS.ckpts(ctx.mode), ARTIFACTS.tasksJson, `${ARTIFACTS.taskZoo}/zoo.json`, ...chunks.map((f) => `${ARTIFACTS.taskZoo}/${f}`)] };
}

/** The chunk files a zoo manifest lists. */
function readChunkFiles(manifestPath: string): string[] {
  const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as { chunks: Array<{ file: string }> };
  return m.chunks.map((c) => c.file);
}
