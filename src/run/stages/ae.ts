/**
 * Stage ae: fit the normaliser to the checkpoints and train the parameter autoencoder on the
 * normalised checkpoints (docs/autoencoder.md#training); resumable. Writes the autoencoder, the
 * normaliser (the one place it is fitted), the K latents and the reconstructions.
 */
import { decodeAll, encodeAll, latentStats, trainAutoencoder, type AeTrainState } from '../../pdiff/index.js';
import { Rng, deriveSeed } from '../../tensor/random.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { saveCheckpointStack } from '../../zoo/checkpoint.js';
import { Normalizer } from '../../zoo/layout.js';
import { metaOf, saveModule, saveNormalizer, trainStateHooks, writeStack } from '../artifacts.js';
import { ARTIFACTS, type StageFn } from '../context.js';
import { seenRowCodes } from '../tasks.js';

export const ae: StageFn = async (ctx, hash) => {
  const { cfg, store, be } = ctx;
  const layout = ctx.layout();
  const K = ctx.K;
  // task mode: no row of a held-out code may reach the autoencoder (docs/tasks.md#split)
  if (ctx.tasks) seenRowCodes(store, ctx.tasks, ctx.ckpts().length / layout.total, 'ae');
  const norm = Normalizer.fit(layout, ctx.ckpts(), cfg.ae.padMultiple, cfg.ae.normalize);
  const z = norm.forward(ctx.ckpts());
  const L = norm.L;
  const { resume, onCheckpoint } = trainStateHooks<AeTrainState>(ctx, 'ae', hash, cfg.ae.steps);
  const res = trainAutoencoder(z, K, L, cfg.ae, {
    rng: new Rng(deriveSeed(cfg.seed, 'ae')), backend: be, progress: ctx.progress, log: ctx.log,
    resume, checkpointEvery: Math.max(1, Math.ceil(cfg.ae.steps / 8)), onCheckpoint,
  });
  const model = res.model.eval();
  const latents = encodeAll(model, z, K, L);
  const recon = norm.inverse(decodeAll(model, latents, K, cfg.ae.latentDim));
  const st = latentStats(latents);
  ctx.say(`[ae] final loss ${res.lossCurve.at(-1)?.loss.toExponential(3)}; latents min ${st.min.toFixed(3)} max ${st.max.toFixed(3)} std ${st.std.toFixed(3)}`);
  saveModule(store.path(ARTIFACTS.ae), model, cfg, 'ae', { L: String(L) });
  saveNormalizer(store, norm);
  writeStack(store.path(ARTIFACTS.latents), latents, K, cfg.ae.latentDim, metaOf(cfg, 'ae'));
  saveCheckpointStack(store.path(ARTIFACTS.recon(ctx.mode)), layout, recon, metaOf(cfg, 'ae'));
  writeFileAtomic(store.path(ARTIFACTS.aeJson), JSON.stringify({ lossCurve: res.lossCurve, seconds: res.seconds, latentStats: st }) + '\n');
  return { files: [ARTIFACTS.ae, ARTIFACTS.normalizer, ARTIFACTS.latents, ARTIFACTS.recon(ctx.mode), ARTIFACTS.aeJson] };
};
