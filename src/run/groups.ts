/**
 * The evaluation groups of a run, in one table: for each group, the stage whose output holds its
 * parameter sets (which pins the group's cached results), the run-folder file it is read from if
 * any, and how its sets are made. The evaluate stage scores every group; the report projects the
 * ones that are files. Baselines draw from their own seeded stream (docs/evaluation.md#baselines).
 */
import { averageBaseline, ensembleAverage, evalGroupNames, gaussFitBaseline, noiseBaseline } from '../eval/baselines.js';
import { groupLabel } from '../report/types.js';
import { Rng, deriveSeed } from '../tensor/random.js';
import { loadCheckpointStack } from '../zoo/checkpoint.js';
import { ARTIFACTS, type RunContext, type StageName } from './context.js';

/** Parameter sets [n, layout.total], row-major. */
export interface GroupSets { sets: Float32Array; n: number }

export interface EvalGroup {
  /** Group id, e.g. 'generated', 'noise_0.05'. */
  name: string;
  /** Readable name, e.g. "autoencoder reconstructions". */
  label: string;
  /** The stage whose output the sets come from. */
  upstream: StageName;
  /** The run-folder file holding the sets (a checkpoint stack), if they are one. */
  file?: (mode: string) => string;
  /** The group's parameter sets. */
  sets(ctx: RunContext): GroupSets;
}

const fromFile = (file: (mode: string) => string) => (ctx: RunContext): GroupSets => {
  const r = loadCheckpointStack(ctx.store.path(file(ctx.mode)));
  return { sets: r.ckpts, n: r.k };
};

/** A baseline's own random stream: the same sets whatever else the run evaluates. */
const baselineRng = (ctx: RunContext, name: string): Rng => new Rng(deriveSeed(ctx.cfg.seed, `baseline:${name}`));

/** The group `name` (one of {@link groupNames}). */
export function evalGroup(name: string): EvalGroup {
  const label = groupLabel(name);
  switch (name) {
    case 'original': return { name, label, upstream: 'collect', file: ARTIFACTS.ckpts, sets: (ctx) => ({ sets: ctx.ckpts(), n: ctx.K }) };
    case 'ae_recon': return { name, label, upstream: 'ae', file: ARTIFACTS.recon, sets: fromFile(ARTIFACTS.recon) };
    case 'generated': return { name, label, upstream: 'generate', file: ARTIFACTS.generated, sets: fromFile(ARTIFACTS.generated) };
    case 'ensemble': return { name, label, upstream: 'collect', sets: (ctx) => ({ sets: ensembleAverage(ctx.ckpts(), ctx.K, ctx.layout().total), n: 1 }) };
    case 'avg16': return {
      name, label, upstream: 'collect',
      sets: (ctx) => {
        const count = ctx.cfg.eval.baselineCount;
        return { sets: averageBaseline(ctx.ckpts(), ctx.K, ctx.layout().total, Math.min(ctx.cfg.eval.avgOf, ctx.K), count, baselineRng(ctx, name)), n: count };
      },
    };
    case 'gauss_fit': return {
      name, label, upstream: 'collect',
      sets: (ctx) => {
        const count = ctx.cfg.eval.baselineCount;
        return { sets: gaussFitBaseline(ctx.ckpts(), ctx.K, ctx.layout().total, count, baselineRng(ctx, name)), n: count };
      },
    };
  }
  if (name.startsWith('noise_')) {
    const scale = Number(name.slice(6));
    return {
      name, label, upstream: 'collect',
      sets: (ctx) => {
        const count = ctx.cfg.eval.baselineCount;
        return { sets: noiseBaseline(ctx.ckpts(), ctx.K, ctx.layout(), scale, count, baselineRng(ctx, name)), n: count };
      },
    };
  }
  throw new Error(`unknown evaluation group ${name}`);
}

/** The groups the config asks for, in evaluation and report order. */
export function groupNames(ctx: RunContext): string[] {
  return evalGroupNames(ctx.cfg.eval);
}
