/**
 * Stage generate in task mode (docs/tasks.md#pipeline): tasks.perCode models for every unseen code
 * and for the sample of seen codes, sampled with the code as the condition and classifier-free
 * guidance at generate.guidance. Codes are sampled a batch at a time (as many codes as fill
 * generate.batchSize rows), each batch from its own seeded stream, and the latents so far are
 * saved after every batch (state/generate.safetensors), so an interrupted stage resumes at the
 * batch it reached; all latents are decoded at the end. generated-task.safetensors holds the
 * models code after code, in the plan's order (its metadata lists the codes).
 */
import { Rng, deriveSeed } from '../../../tensor/random.js';
import { writeFileAtomic } from '../../../util/atomic.js';
import { Progress } from '../../../util/progress.js';
import { latentStats } from '../../../pdiff/index.js';
import { saveCheckpointStack } from '../../../zoo/checkpoint.js';
import { loadStageState, metaOf, saveStageState } from '../../artifacts.js';
import { ARTIFACTS, type RunContext, type StageOutputs } from '../../context.js';
import { maybeKill } from '../../store.js';
import { decodeTaskParams, loadTaskGenerator, sampleTaskLatents } from '../../tasks.js';

export async function generateTasks(ctx: RunContext, hash: string): Promise<StageOutputs> {
  const { cfg, store, be } = ctx;
  const plan = ctx.tasks!;
  const codes = plan.evalCodes, per = cfg.tasks.perCode, d = cfg.ae.latentDim;
  const g = loadTaskGenerator(store, cfg, be);
  const codesPerBatch = Math.max(1, Math.floor(cfg.generate.batchSize / per));
  const batches = Math.ceil(codes.length / codesPerBatch);
  const n = codes.length * per;
  const latents = new Float32Array(n * d);
  const statePath = store.statePath('generate');
  const resume = loadStageState(statePath, hash, (tensors, meta) => {
    const t = tensors.get('latents'), b = Number(meta.batchesDone);
    if (!t || !(t.data instanceof Float32Array) || !(Number.isInteger(b) && b >= 1 && b < batches)) return undefined;
    return t.data.length === Math.min(b * codesPerBatch, codes.length) * per * d ? { batchesDone: b, data: t.data } : undefined;
  });
  if (resume) {
    latents.set(resume.data);
    ctx.say(`[generate] resuming at batch ${resume.batchesDone + 1} of ${batches}`);
  }
  const t0 = performance.now();
  const bar = new Progress({ label: 'generate tasks', total: codes.length, enabled: ctx.progress, unit: 'code', start: (resume?.batchesDone ?? 0) * codesPerBatch });
  for (let b = resume?.batchesDone ?? 0; b < batches; b++) {
    const batch = codes.slice(b * codesPerBatch, (b + 1) * codesPerBatch);
    const lat = sampleTaskLatents(g, cfg, batch, per, new Rng(deriveSeed(cfg.seed, `generate/tasks/${b}`)));
    latents.set(lat, b * codesPerBatch * per * d);
    bar.tick(batch.length, { codes: batch.length === 1 ? batch[0]! : `${batch[0]}..${batch.at(-1)}` });
    if (b + 1 === batches) break;
    const rows = (b + 1) * codesPerBatch * per;
    saveStageState(statePath, { tensors: [{ name: 'latents', shape: [rows, d], data: latents.subarray(0, rows * d) }], meta: { batchesDone: String(b + 1) } }, hash);
    ctx.clock.save();
    maybeKill('generate', b + 1);
  }
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
