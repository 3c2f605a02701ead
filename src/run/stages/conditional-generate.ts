/**
 * The sampling loop of a conditional run's generate stage (task codes or target accuracies):
 * `per` latents for every condition, a batch of conditions at a time (as many as fill
 * generate.batchSize rows), each batch from its own seeded stream `<stream>/<b>`, the latents so
 * far saved after every batch (state/generate.safetensors) so an interrupted stage resumes at the
 * batch it reached.
 */
import { Rng, deriveSeed } from '../../tensor/random.js';
import { Progress, type ProgressInfo } from '../../util/progress.js';
import { loadStageState, saveStageState } from '../artifacts.js';
import type { RunContext } from '../context.js';
import { maybeKill } from '../store.js';

export interface ConditionalSampling<T> {
  /** The conditions, in the order their latents are stored. */
  items: readonly T[];
  /** Latents per condition. */
  per: number;
  /** Progress label and unit, e.g. "generate tasks" / "code". */
  label: string;
  unit: string;
  /** The name of the batches' random streams (deriveSeed(seed, `${stream}/${b}`)). */
  stream: string;
  /** Latents [batch.length * per, latentDim] for one batch of conditions. */
  sample: (batch: readonly T[], rng: Rng) => Float32Array;
  /** What the progress line shows of a batch. */
  info?: (batch: readonly T[]) => ProgressInfo;
}

/** All latents [items.length * per, latentDim], and the progress bar (to close with the stage's summary). */
export function sampleConditionsInBatches<T>(ctx: RunContext, hash: string, s: ConditionalSampling<T>): { latents: Float32Array; bar: Progress } {
  const { cfg, store } = ctx;
  const d = cfg.ae.latentDim, per = s.per, items = s.items;
  const perBatch = Math.max(1, Math.floor(cfg.generate.batchSize / per));
  const batches = Math.ceil(items.length / perBatch);
  const latents = new Float32Array(items.length * per * d);
  const statePath = store.statePath('generate');
  const resume = loadStageState(statePath, hash, (tensors, meta) => {
    const t = tensors.get('latents'), b = Number(meta.batchesDone);
    if (!t || !(t.data instanceof Float32Array) || !(Number.isInteger(b) && b >= 1 && b < batches)) return undefined;
    return t.data.length === Math.min(b * perBatch, items.length) * per * d ? { batchesDone: b, data: t.data } : undefined;
  });
  if (resume) {
    latents.set(resume.data);
    ctx.say(`[generate] resuming at batch ${resume.batchesDone + 1} of ${batches}`);
  }
  const bar = new Progress({ label: s.label, total: items.length, enabled: ctx.progress, unit: s.unit, start: (resume?.batchesDone ?? 0) * perBatch });
  for (let b = resume?.batchesDone ?? 0; b < batches; b++) {
    const batch = items.slice(b * perBatch, (b + 1) * perBatch);
    latents.set(s.sample(batch, new Rng(deriveSeed(cfg.seed, `${s.stream}/${b}`))), b * perBatch * per * d);
    bar.tick(batch.length, s.info?.(batch));
    if (b + 1 === batches) break;
    const rows = (b + 1) * perBatch * per;
    saveStageState(statePath, { tensors: [{ name: 'latents', shape: [rows, d], data: latents.subarray(0, rows * d) }], meta: { batchesDone: String(b + 1) } }, hash);
    ctx.clock.save();
    maybeKill('generate', b + 1);
  }
  return { latents, bar };
}
