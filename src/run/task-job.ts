/**
 * One chunk of a task zoo, run as a queue worker's job (docs/queue.md#task-zoos): in the shared
 * run folder, under the run's own config.json, with the same code as a local collect
 * (trainTaskChunk), on the training features the coordinator wrote once to the folder
 * (queue/task-features.safetensors), so that every job trains on the same bytes whatever machine
 * it runs on. What a job writes is its chunk file, tasks/tasks-NNNN.safetensors (atomically), and
 * its log, queue/tasks-<i>.jsonl. A chunk has no state of its own: a job taken again trains the
 * chunk from its start.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveBackend } from '../backend/index.js';
import { readFeatureCache, taskChunks, trainTaskChunk, zooPlanDigest, type TaskChunk } from '../tasks/index.js';
import { sha256File } from '../util/atomic.js';
import { ConfigError } from '../util/errors.js';
import { JsonlLog } from '../util/jsonl.js';
import type { QueueJobResult } from '../queue/coordinator.js';
import { ARTIFACTS, makeContext } from './context.js';
import { folderConfig } from './seed-job.js';
import { RunStore, sha256 } from './store.js';

/** What a chunk's checkpoints depend on: the zoo's plan digest (zooPlanDigest) and the chunk's codes. */
export function taskChunkKey(plan: string, codes: readonly string[]): string {
  return sha256('pdiff-task-chunk-v1', plan, JSON.stringify(codes));
}

/** How logs name a chunk: "task chunk 3 (codes 0011100000 to 1100000011)". */
export function taskChunkLabel(index: number, chunk: TaskChunk): string {
  const codes = chunk.codes;
  return `task chunk ${index} (${codes.length === 1 ? `code ${codes[0]}` : `codes ${codes[0]} to ${codes.at(-1)}`})`;
}

/**
 * Train chunk `index` of the task zoo of the run in `dir`, whose key the coordinator computed as `key`.
 * @throws ConfigError when the folder's run is not a task run, the chunk does not exist, or the
 *   folder's config and features no longer give that key (the run changed after the job was queued).
 */
export function runTaskChunkJob(args: { dir: string; index: number; key: string; say?: (line: string) => void }): QueueJobResult {
  const dir = resolve(args.dir);
  const cfg = folderConfig(dir);
  const say = args.say ?? ((l: string) => process.stderr.write(`${l}\n`));
  const store = new RunStore(dir);
  const ctx = makeContext({
    cfg, be: resolveBackend(cfg.backend, true), store, say, progress: false, command: 'pdiff worker',
    log: new JsonlLog(store.path('queue', `tasks-${args.index}.jsonl`)),
    clock: store.clock(`collect-tasks-${args.index}`, args.key),
  });
  const plan = ctx.tasks;
  if (!plan) throw new ConfigError(`queue job: the run in ${dir} is not task-conditioned (tasks.condition "${cfg.tasks.condition}"); a task chunk job needs a task run`);
  const chunks = taskChunks(plan.zooCodes, cfg.tasks.chunkSize);
  const chunk = chunks[args.index];
  if (!chunk || !Number.isInteger(args.index)) throw new ConfigError(`queue job: task chunk ${args.index} is not one of the run's ${chunks.length} chunks (${dir})`);
  const features = readFeatureCache(store.path(ARTIFACTS.taskFeatures));
  const task = ctx.taskModel();
  const digest = zooPlanDigest(task, features, plan.recipe, cfg.seed);
  const key = taskChunkKey(digest, chunk.codes);
  if (key !== args.key) {
    throw new ConfigError(`queue job: task chunk ${args.index} of ${dir} was queued under another config or other features (key ${args.key.slice(0, 12)}, the folder gives ${key.slice(0, 12)}); run the coordinator again to queue it anew`);
  }
  const t0 = performance.now();
  const file = `${ARTIFACTS.taskZoo}/${chunk.file}`;
  trainTaskChunk({ task, features, recipe: plan.recipe, seed: cfg.seed, plan: digest, codes: chunk.codes, path: store.path(file) });
  const seconds = (performance.now() - t0) / 1000;
  ctx.log.write({ stage: 'collect', event: 'taskChunk', index: args.index, tasks: chunk.codes.length, seconds });
  say(`[collect] ${chunk.codes.length} task${chunk.codes.length === 1 ? '' : 's'} x ${plan.recipe.k} checkpoints in ${seconds.toFixed(1)} s`);
  return { file, sha256: sha256File(store.path(file)) };
}

/** Remove a chunk's file (a file the coordinator refused: its job starts over). */
export function clearTaskChunk(dir: string, chunk: TaskChunk): void {
  rmSync(join(dir, ARTIFACTS.taskZoo, chunk.file), { force: true });
}
