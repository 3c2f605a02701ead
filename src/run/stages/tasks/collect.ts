/**
 * Stage collect in task mode (docs/tasks.md#pipeline): cache the frozen features of the training
 * images once, train the generated part for every zoo code (collectTaskZoo: one file per chunk
 * of tasks under tasks/, so an interrupted collection resumes at the chunk it reached), then write
 * the stack every later stage reads, all zoo rows task after task (ckpts-task.safetensors), and
 * the record of what was trained (tasks.json). Only seen codes are trained: the held-out ones are
 * refused by collectTaskZoo itself. With collect.queue, every chunk is first a job for `pdiff worker`
 * processes (docs/queue.md#task-zoos); collectTaskZoo then finds each chunk file up to date.
 */
import { readFileSync, rmSync } from 'node:fs';
import { cacheFeatures, collectTaskZoo, readTaskChunk, taskChunks, writeFeatureCache, zooPlanDigest, type FeatureCache } from '../../../tasks/index.js';
import { writeFileAtomic } from '../../../util/atomic.js';
import { makeDir } from '../../../util/fsdir.js';
import { saveCheckpointStack } from '../../../zoo/checkpoint.js';
import { checkFinite, metaOf } from '../../artifacts.js';
import { ARTIFACTS, type RunContext, type StageOutputs } from '../../context.js';
import { maybeKill } from '../../store.js';
import type { TasksJson } from '../../tasks.js';
import { clearTaskChunk, taskChunkKey, taskChunkLabel } from '../../task-job.js';

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
  if (cfg.collect.queue !== null) await queueTaskChunks(ctx, features);
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

/**
 * Every chunk of the zoo as a job on the queue cfg.collect.queue, trained by `pdiff worker`
 * processes on the features written to the run folder once (ARTIFACTS.taskFeatures, removed when
 * all chunks are in); returns when every chunk file is there and verified.
 */
async function queueTaskChunks(ctx: RunContext, features: FeatureCache): Promise<void> {
  const { cfg, store } = ctx;
  const plan = ctx.tasks!, task = ctx.taskModel();
  const digest = zooPlanDigest(task, features, plan.recipe, cfg.seed);
  const chunks = taskChunks(plan.zooCodes, cfg.tasks.chunkSize);
  writeFeatureCache(store.path(ARTIFACTS.taskFeatures), features);
  const { collectThroughQueue } = await import('../../../queue/coordinator.js'); // BullMQ only when a queue is used
  await collectThroughQueue({
    url: cfg.collect.queue!, dir: store.dir, say: ctx.say, progress: ctx.progress,
    members: chunks.map((ch, i) => ({ kind: 'tasks', index: i, key: taskChunkKey(digest, ch.codes), file: `${ARTIFACTS.taskZoo}/${ch.file}`, label: taskChunkLabel(i, ch) })),
    usable: (m) => readTaskChunk(store.path(m.file), chunks[m.index]!.codes, digest, plan.recipe.k, task.layout.total) !== null,
    discard: (m) => clearTaskChunk(store.dir, chunks[m.index]!),
  });
  rmSync(store.path(ARTIFACTS.taskFeatures), { force: true });
}

/** The chunk files a zoo manifest lists. */
function readChunkFiles(manifestPath: string): string[] {
  const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as { chunks: Array<{ file: string }> };
  return m.chunks.map((c) => c.file);
}
