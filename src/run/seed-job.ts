/**
 * One seed of a multi-seed zoo, run as a queue worker's job (docs/queue.md#jobs): in the shared
 * run folder, under the run's own config.json, with the same code as a local collect
 * (collectSeed), but without the run lock (the coordinator holds it) and with a state file of its
 * own, so that several workers can work in one folder at once. What a job writes is its seed file,
 * seeds/seed-<s>.safetensors (atomically), and its log, queue/seed-<s>.jsonl.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveBackend } from '../backend/index.js';
import { seedCount, type Config } from '../config/index.js';
import { ConfigError } from '../util/errors.js';
import { PathError } from '../util/fsdir.js';
import { sha256File } from '../util/atomic.js';
import { JsonlLog } from '../util/jsonl.js';
import { ARTIFACTS, makeContext } from './context.js';
import { runFolderState } from './folder.js';
import { collectSeed, seedKey } from './stages/collect-seeds.js';
import { RunStore } from './store.js';
import type { QueueJobResult } from '../queue/coordinator.js';


/** The config stored in run folder `dir` (config.json, read by runFolderState), with out = dir. */
export function folderConfig(dir: string): Config {
  const state = runFolderState(dir);
  if (state.kind !== 'run') {
    throw new PathError(`${join(dir, ARTIFACTS.config)}: no run's config there; a queue job needs the coordinator's run folder at the same path on every machine`);
  }
  return { ...state.config, out: dir };
}

/**
 * Collect seed `seed` of the run in `dir`, whose seed key the coordinator computed as `key`.
 * @throws ConfigError when the folder's config no longer gives that key (the run changed after the job was queued).
 */
export function runSeedJob(args: { dir: string; seed: number; key: string; say?: (line: string) => void; progress?: boolean }): QueueJobResult {
  const dir = resolve(args.dir);
  const cfg = folderConfig(dir);
  const S = seedCount(cfg.collect);
  if (!(Number.isInteger(args.seed) && args.seed >= 0 && args.seed < S)) {
    throw new ConfigError(`queue job: seed ${args.seed} is not one of the run's ${S} seeds (${dir})`);
  }
  const key = seedKey(cfg, args.seed);
  if (key !== args.key) {
    throw new ConfigError(`queue job: seed ${args.seed} of ${dir} was queued under another config (seed key ${args.key.slice(0, 12)}, the folder's config gives ${key.slice(0, 12)}); run the coordinator again to queue it anew`);
  }
  const say = args.say ?? ((l: string) => process.stderr.write(`${l}\n`));
  const store = new RunStore(dir);
  const state = `collect-seed-${args.seed}`;
  const ctx = makeContext({
    cfg, be: resolveBackend(cfg.backend, true), store, say, progress: args.progress ?? false, command: 'pdiff worker',
    log: new JsonlLog(store.path('queue', `seed-${args.seed}.jsonl`)),
    clock: store.clock(state, key),
  });
  collectSeed(ctx, args.seed, ctx.layout(), { saves: 0 }, store.statePath(state));
  store.clearState(state);
  const file = ARTIFACTS.seedFile(args.seed);
  return { file, sha256: sha256File(store.path(file)) };
}

/** Remove a seed's job state (a file the coordinator refused: its job starts over). */
export function clearSeedJobState(dir: string, seed: number): void {
  new RunStore(dir).clearState(`collect-seed-${seed}`);
  rmSync(join(dir, ARTIFACTS.seedFile(seed)), { force: true });
}
