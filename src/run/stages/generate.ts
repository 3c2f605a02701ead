/**
 * Stage generate: sample latents with the DDPM, decode them and undo the normalisation
 * (docs/diffusion.md#generation); in task mode, for every evaluated code (tasks/generate.ts); in accuracy mode, for every prompt (accuracy/generate.ts).
 */
import { ParamAutoencoder } from '../../pdiff/autoencoder.js';
import { decodeAll, generateLatents, latentStats, scheduleFromConfig } from '../../pdiff/index.js';
import { Rng, deriveSeed } from '../../tensor/random.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { NumericError } from '../../util/errors.js';
import { saveCheckpointStack } from '../../zoo/checkpoint.js';
import { loadDenoiser, loadModule, loadNormalizer, metaOf } from '../artifacts.js';
import { ARTIFACTS, type StageFn } from '../context.js';
import { generateTasks } from './tasks/generate.js';
import { generateAccuracy } from './accuracy/generate.js';

export const generate: StageFn = async (ctx, hash) => {
  if (ctx.tasks) return generateTasks(ctx, hash);
  if (ctx.accuracy) return generateAccuracy(ctx, hash);
  const { cfg, store, be } = ctx;
  const layout = ctx.layout();
  const norm = loadNormalizer(store);
  const ae = new ParamAutoencoder({ L: norm.L, channels: cfg.ae.channels, latentDim: cfg.ae.latentDim, kernel: cfg.ae.kernel, rng: new Rng(0), backend: be });
  loadModule(store.path(ARTIFACTS.ae), ae);
  ae.eval();
  const { model: den, meta: dMeta } = loadDenoiser(store.path(ARTIFACTS.diffusion), { d: cfg.ae.latentDim, channels: cfg.diffusion.channels, kernel: cfg.diffusion.kernel, backend: be });
  const t0 = performance.now();
  const n = cfg.generate.n, d = cfg.ae.latentDim;
  const latents = generateLatents(den, scheduleFromConfig(cfg.diffusion), n, d, cfg.generate, new Rng(deriveSeed(cfg.seed, 'generate')), Number(dMeta.latentScale ?? 1), { progress: ctx.progress });
  const sampleSeconds = (performance.now() - t0) / 1000;
  const sets = norm.inverse(decodeAll(ae, latents, n, d));
  const seconds = (performance.now() - t0) / 1000;
  let bad = 0;
  for (let i = 0; i < sets.length; i++) if (!Number.isFinite(sets[i]!)) bad++;
  if (bad > 0) throw new NumericError(`generate: ${bad} generated parameter values are NaN or infinite (check the latent scale and the diffusion loss)`);
  saveCheckpointStack(store.path(ARTIFACTS.generated(ctx.mode)), layout, sets, metaOf(cfg, 'generate'));
  writeFileAtomic(store.path(ARTIFACTS.generateJson), JSON.stringify({ n, sampler: cfg.generate.sampler, sampleSeconds, seconds, latentStats: latentStats(latents) }) + '\n');
  ctx.say(`[generate] ${n} parameter sets in ${seconds.toFixed(1)} s (${cfg.generate.sampler})`);
  return { files: [ARTIFACTS.generated(ctx.mode), ARTIFACTS.generateJson] };
};
