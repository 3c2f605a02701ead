/**
 * Stage generate in task mode (docs/tasks.md#pipeline): tasks.perCode models for every unseen code
 * and for the sample of seen codes, sampled with the code as the condition and classifier-free
 * guidance at generate.guidance, a batch of codes at a time and resumable at the batch it reached
 * (sampleConditionsInBatches); all latents are decoded at the end. generated-task.safetensors holds the
 * models code after code, in the plan's order (its metadata lists the codes).
 */
import { writeFileAtomic } from '../../../util/atomic.js';
import { latentStats } from '../../../pdiff/index.js';
import { saveCheckpointStack } from '../../../zoo/checkpoint.js';
import { metaOf } from '../../artifacts.js';
import { ARTIFACTS, type RunContext, type StageOutputs } from '../../context.js';
import { sampleConditionsInBatches } from '../conditional-generate.js';
import { decodeTaskParams, loadTaskGenerator, sampleTaskLatents } from '../../tasks.js';

export async function generateTasks(ctx: RunContext, hash: string): Promise<StageOutputs> {
  const { cfg, store, be } = ctx;
  const plan = ctx.tasks!;
  const codes = plan.evalCodes, per = cfg.tasks.perCode;
  const g = loadTaskGenerator(store, cfg, be);
  const n = codes.length * per;
  const t0 = performance.now();
  const { latents, bar } = sampleConditionsInBatches(ctx, hash, {
    items: codes, per, label: 'generate tasks', unit: 'code', stream: 'generate/tasks',
    sample: (batch, rng) => sampleTaskLatents(g, cfg, batch, per, rng),
    info: (batch) => ({ codes: batch.length === 1 ? batch[0]! : `${batch[0]}..${batch.at(-1)}` }),
  });
  const sampleSeconds = (performance.now() - t0) / 1000;
  const sets = decodeTaskParams(g, cfg, latents, n);
  const seconds = (performance.now() - t0) / 1000;
  bar.done(`${per} models for each of ${codes.length} codes (${plan.split.unseen.length} unseen, ${plan.evalSeen.length} seen)`);
  saveCheckpointStack(store.path(ARTIFACTS.generated(ctx.mode)), g.norm.layout, sets, { ...metaOf(cfg, 'generate'), codes: JSON.stringify(codes), per_code: String(per) });
  writeFileAtomic(store.path(ARTIFACTS.generateJson), JSON.stringify({
    n, perCode: per, codes, sampler: cfg.generate.sampler, guidance: cfg.generate.guidance, sampleSeconds, seconds, latentStats: latentStats(latents),
  }) + '\n');
  return { files: [ARTIFACTS.generated(ctx.mode), ARTIFACTS.generateJson] };
}
