/**
 * Stage generate in accuracy mode (docs/accuracy.md#pipeline): tasks.accuracy.perPrompt models for
 * every prompt of the grid (accuracyPrompts over the scale saved with the denoiser: `inside`
 * prompts across the zoo's range, `above` beyond its best), conditioned on the prompt with
 * classifier-free guidance at generate.guidance. Prompts are sampled a batch at a time (as many as
 * fill generate.batchSize rows), each batch from its own seeded stream, and the latents so far are
 * saved after every batch (state/generate.safetensors), so an interrupted stage resumes at the
 * batch it reached. generated-accuracy.safetensors holds the models prompt after prompt (its
 * metadata and generate.json list the prompts).
 */
import { accuracyPrompts } from '../../../accuracy/index.js';
import { latentStats } from '../../../pdiff/index.js';
import { Rng, deriveSeed } from '../../../tensor/random.js';
import { writeFileAtomic } from '../../../util/atomic.js';
import { Progress } from '../../../util/progress.js';
import { saveCheckpointStack } from '../../../zoo/checkpoint.js';
import { loadStageState, metaOf, saveStageState } from '../../artifacts.js';
import { ARTIFACTS, type RunContext, type StageOutputs } from '../../context.js';
import { loadAccuracyGenerator, sampleAccuracyLatents } from '../../generate-accuracy.js';
import { maybeKill } from '../../store.js';
import { decodeTaskParams } from '../../tasks.js';

export async function generateAccuracy(ctx: RunContext, hash: string): Promise<StageOutputs> {
  const { cfg, store, be } = ctx;
  const plan = ctx.accuracy!;
  const g = loadAccuracyGenerator(store, cfg, be);
  const prompts = accuracyPrompts({ range: g.scale, ...plan.prompts });
  const per = plan.perPrompt, d = cfg.ae.latentDim;
  const perBatch = Math.max(1, Math.floor(cfg.generate.batchSize / per));
  const batches = Math.ceil(prompts.length / perBatch);
  const n = prompts.length * per;
  const latents = new Float32Array(n * d);
  const statePath = store.statePath('generate');
  const resume = loadStageState(statePath, hash, (tensors, meta) => {
    const t = tensors.get('latents'), b = Number(meta.batchesDone);
    if (!t || !(t.data instanceof Float32Array) || !(Number.isInteger(b) && b >= 1 && b < batches)) return undefined;
    return t.data.length === Math.min(b * perBatch, prompts.length) * per * d ? { batchesDone: b, data: t.data } : undefined;
  });
  if (resume) {
    latents.set(resume.data);
    ctx.say(`[generate] resuming at batch ${resume.batchesDone + 1} of ${batches}`);
  }
  const t0 = performance.now();
  const bar = new Progress({ label: 'generate prompts', total: prompts.length, enabled: ctx.progress, unit: 'prompt', start: (resume?.batchesDone ?? 0) * perBatch });
  for (let b = resume?.batchesDone ?? 0; b < batches; b++) {
    const batch = prompts.slice(b * perBatch, (b + 1) * perBatch);
    const lat = sampleAccuracyLatents(g, cfg, batch, per, new Rng(deriveSeed(cfg.seed, `generate/accuracy/${b}`)));
    latents.set(lat, b * perBatch * per * d);
    bar.tick(batch.length);
    if (b + 1 === batches) break;
    const rows = (b + 1) * perBatch * per;
    saveStageState(statePath, { tensors: [{ name: 'latents', shape: [rows, d], data: latents.subarray(0, rows * d) }], meta: { batchesDone: String(b + 1) } }, hash);
    ctx.clock.save();
    maybeKill('generate', b + 1);
  }
  const sampleSeconds = (performance.now() - t0) / 1000;
  const sets = decodeTaskParams(g, cfg, latents, n);
  const seconds = (performance.now() - t0) / 1000;
  bar.done(`${per} models for each of ${prompts.length} prompts (${prompts[0]!.toFixed(1)}..${prompts.at(-1)!.toFixed(1)} %; zoo ${g.scale.lo.toFixed(1)}..${g.scale.hi.toFixed(1)} %)`);
  saveCheckpointStack(store.path(ARTIFACTS.generated(ctx.mode)), g.norm.layout, sets, { ...metaOf(cfg, 'generate'), prompts: JSON.stringify(prompts), per_prompt: String(per) });
  writeFileAtomic(store.path(ARTIFACTS.generateJson), JSON.stringify({
    n, perPrompt: per, prompts, scale: g.scale, sampler: cfg.generate.sampler, guidance: cfg.generate.guidance, sampleSeconds, seconds, latentStats: latentStats(latents),
  }) + '\n');
  return { files: [ARTIFACTS.generated(ctx.mode), ARTIFACTS.generateJson] };
}
