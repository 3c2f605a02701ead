/**
 * Stage generate in accuracy mode (docs/accuracy.md#pipeline): tasks.accuracy.perPrompt models for
 * every prompt of the grid (accuracyPrompts over the scale saved with the denoiser: `inside`
 * prompts across the zoo's range, `above` beyond its best), conditioned on the prompt with
 * classifier-free guidance at generate.guidance, a batch of prompts at a time and resumable at the
 * batch it reached (sampleConditionsInBatches). generated-accuracy.safetensors holds the models prompt after prompt (its
 * metadata and generate.json list the prompts).
 */
import { accuracyPrompts } from '../../../accuracy/index.js';
import { latentStats } from '../../../pdiff/index.js';
import { writeFileAtomic } from '../../../util/atomic.js';
import { saveCheckpointStack } from '../../../zoo/checkpoint.js';
import { metaOf } from '../../artifacts.js';
import { ARTIFACTS, type RunContext, type StageOutputs } from '../../context.js';
import { loadAccuracyGenerator, sampleAccuracyLatents } from '../../generate-accuracy.js';
import { sampleConditionsInBatches } from '../conditional-generate.js';
import { decodeTaskParams } from '../../tasks.js';

export async function generateAccuracy(ctx: RunContext, hash: string): Promise<StageOutputs> {
  const { cfg, store, be } = ctx;
  const plan = ctx.accuracy!;
  const g = loadAccuracyGenerator(store, cfg, be);
  const prompts = accuracyPrompts({ range: g.scale, ...plan.prompts });
  const per = plan.perPrompt;
  const n = prompts.length * per;
  const t0 = performance.now();
  const { latents, bar } = sampleConditionsInBatches(ctx, hash, {
    items: prompts, per, label: 'generate prompts', unit: 'prompt', stream: 'generate/accuracy',
    sample: (batch, rng) => sampleAccuracyLatents(g, cfg, batch, per, rng),
  });
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
