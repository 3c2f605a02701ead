/**
 * Stage diffusion: train the latent DDPM on the K latents (docs/diffusion.md#training); resumable.
 * In task mode the denoiser is conditioned on each latent's task code (docs/conditioning.md); in
 * accuracy mode on its row's val accuracy, under the scale that is saved with the denoiser so
 * that sampling (the generate stage, `pdiff generate --target-acc`) uses the same map.
 */
import { trainDiffusion, type DiffusionTrainState } from '../../pdiff/index.js';
import { Rng, deriveSeed } from '../../tensor/random.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { denoiserMeta, readStack, saveModule, trainStateHooks } from '../artifacts.js';
import { ARTIFACTS, type StageFn } from '../context.js';
import { ACCURACY_SCALE_META, accuracyConditions, zooLabels } from '../accuracy.js';
import { zooConditions } from '../tasks.js';

export const diffusion: StageFn = async (ctx, hash) => {
  const { cfg, store, be } = ctx;
  const lat = readStack(store.path(ARTIFACTS.latents));
  // task mode: each latent's condition is its zoo row's code, none of them held out (docs/tasks.md#pipeline)
  const acc = ctx.accuracy ? zooLabels(store, lat.rows, 'diffusion') : null;
  const cond = ctx.tasks ? zooConditions(store, ctx.tasks, lat.rows) : acc ? accuracyConditions(acc.labels, acc.scale) : undefined;
  const { resume, onCheckpoint } = trainStateHooks<DiffusionTrainState>(ctx, 'diffusion', hash, cfg.diffusion.steps);
  const res = trainDiffusion(lat.data, lat.rows, lat.cols, cfg.diffusion, {
    rng: new Rng(deriveSeed(cfg.seed, 'diffusion')), backend: be, progress: ctx.progress, log: ctx.log,
    resume, checkpointEvery: Math.max(1, Math.ceil(cfg.diffusion.steps / 8)), onCheckpoint, ...(cond ? { cond } : {}),
  });
  if (res.ema) res.ema.swapIn();
  ctx.say(`[diffusion] final loss ${res.lossCurve.at(-1)?.loss.toFixed(4)}`);
  saveModule(store.path(ARTIFACTS.diffusion), res.model, cfg, 'diffusion', { latentScale: String(res.latentScale), ema: String(cfg.diffusion.ema), ...denoiserMeta(res.model), ...(acc ? { [ACCURACY_SCALE_META]: JSON.stringify(acc.scale) } : {}) });
  writeFileAtomic(store.path(ARTIFACTS.diffusionJson), JSON.stringify({ lossCurve: res.lossCurve, seconds: res.seconds, latentScale: res.latentScale }) + '\n');
  return { files: [ARTIFACTS.diffusion, ARTIFACTS.diffusionJson] };
};
