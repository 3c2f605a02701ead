/**
 * Stage collect: continue training only the selected parameters of the base model and keep K
 * checkpoints of them (docs/zoo.md#collection); resumable. Writes the checkpoint stack and the
 * zoo's manifest (layout, seeds, config; eval-originals adds the checkpoints' accuracies). With
 * collect.seeds >= 2 the zoo comes from several base models (collect-seeds.ts); in task mode it
 * is a zoo of binary tasks (tasks/collect.ts), in accuracy mode one of whole training runs (accuracy/collect.ts).
 */
import { seedCount } from '../../config/index.js';
import { Rng, deriveSeed } from '../../tensor/random.js';
import { saveCheckpointStack, writeManifest } from '../../zoo/checkpoint.js';
import { collectCheckpoints, deserializeCollectState, serializeCollectState } from '../../zoo/collect.js';
import type { SubsetMode } from '../../zoo/layout.js';
import { checkFinite, loadStageState, metaOf, saveStageState } from '../artifacts.js';
import { ARTIFACTS, type StageFn } from '../context.js';
import { collectSeeds } from './collect-seeds.js';
import { collectTasks } from './tasks/collect.js';
import { collectAccuracy } from './accuracy/collect.js';
import { maybeKill } from '../store.js';

export const collect: StageFn = async (ctx, hash) => {
  const { cfg, store } = ctx;
  if (ctx.tasks) return collectTasks(ctx);
  if (ctx.accuracy) return collectAccuracy(ctx);
  if (seedCount(cfg.collect) >= 2) return collectSeeds(ctx);
  const model = ctx.baseModel();
  const layout = ctx.layout();
  const statePath = store.statePath('collect');
  const startFrom = loadStageState(statePath, hash, (tensors, meta, path) => deserializeCollectState(tensors, meta, path));
  if (startFrom) ctx.say(`[collect] resuming at checkpoint ${startFrom.k}/${cfg.collect.k}`);
  const every = Math.max(1, Math.ceil(cfg.collect.k / 10));
  let saves = 0;
  const rows = new Float32Array(cfg.collect.k * layout.total);
  if (startFrom?.ckpts) rows.set(startFrom.ckpts.subarray(0, startFrom.k * layout.total));
  const res = collectCheckpoints(model, ctx.splits().train, layout, cfg.collect, {
    rng: new Rng(deriveSeed(cfg.seed, 'collect')), progress: ctx.progress, log: ctx.log, startFrom,
    onCheckpoint: (k, vec, snapshot) => {
      rows.set(vec, k * layout.total);
      if ((k + 1) % every !== 0 || k + 1 === cfg.collect.k) return;
      saveStageState(statePath, serializeCollectState(snapshot(), rows, layout.total), hash);
      ctx.clock.save();
      maybeKill('collect', ++saves);
    },
  });
  checkFinite('collected checkpoints', res.ckpts);
  saveCheckpointStack(store.path(ARTIFACTS.ckpts(ctx.mode)), layout, res.ckpts, metaOf(cfg, 'collect'));
  writeManifest(store.path(ARTIFACTS.manifest), {
    version: 1, arch: cfg.model.arch, mode: ctx.mode as SubsetMode, k: cfg.collect.k, layout: layout.toJSON(),
    normalizer: null, // fitted by the ae stage (normalizer.json), which owns its settings
    config: cfg,
    seeds: { run: cfg.seed, init: deriveSeed(cfg.seed, 'init'), base: deriveSeed(cfg.seed, 'base'), collect: deriveSeed(cfg.seed, 'collect') },
    accuracies: null,
    files: { base: ARTIFACTS.base, ckpts: ARTIFACTS.ckpts(ctx.mode) },
    collectSeconds: res.seconds,
    createdAt: new Date().toISOString(),
  });
  return { files: [ARTIFACTS.ckpts(ctx.mode), ARTIFACTS.manifest] };
};
