/**
 * The collect stage of a multi-seed zoo (collect.seeds >= 2; docs/seeds.md#collection): for each
 * seed s, its base model (seed 0: the base stage's; the others trained as a run with seed
 * cfg.seed + s would train them, or loaded from collect.seeds[s]) and K checkpoints collected from
 * it as in a one-seed run; then every seed aligned to seed 0 by weight matching (collect.align),
 * BatchNorm running statistics folded into the BN weights and biases, and the loss along the line
 * between seeds 0 and 1, naive and aligned.
 *
 * Each seed is kept in seeds/seed-<s>.safetensors (base model and raw checkpoints) under a key
 * that leaves out collect.align and the number of seeds: an interrupted stage resumes at the seed
 * (and, through state/collect.safetensors, the checkpoint) it reached, and a rerun with another
 * alignment or more seeds reuses the seeds already there.
 */
import { readFileSync } from 'node:fs';
import { permuteVector, tensorsOfVector, weightMatching, type PermutationSpec, type WeightMatchingResult } from '../../align/index.js';
import { canonicalJson, configHash, seedCount, type Config } from '../../config/index.js';
import { interpolationCurve, lossBarrier } from '../../eval/interpolation.js';
import type { Classifier } from '../../models/classifier.js';
import type { InterpolationReport, SeedMatchReport, SeedMemberReport, SeedsReport } from '../../report/types.js';
import { Rng, deriveSeed } from '../../tensor/random.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { ConfigError } from '../../util/errors.js';
import { saveCheckpointStack, writeManifest } from '../../zoo/checkpoint.js';
import { collectCheckpoints, deserializeCollectState, serializeCollectState } from '../../zoo/collect.js';
import type { ParamLayout } from '../../zoo/layout.js';
import { foldBatchNorm, foldableNorms, loadBaseModelFile, readSeedFile, writeSeedFile, type SeedFile } from '../../zoo/seeds.js';
import { evaluateClassifier, trainClassifier } from '../../zoo/train.js';
import { checkFinite, loadStageState, metaOf, saveStageState } from '../artifacts.js';
import { ARTIFACTS, newModel, type RunContext, type StageOutputs } from '../context.js';
import { fileDigest, maybeKill, sha256 } from '../store.js';
import { clearSeedJobState } from '../seed-job.js';

/** Points on the line between two seeds (alpha = 0, 0.1, ..., 1). */
const INTERPOLATION_POINTS = 11;

/** The seed of seed s's random streams: the run's seed + s, as `pdiff run --seed` would use. */
const runSeedOf = (cfg: Config, s: number): number => (cfg.seed + s) >>> 0;

/**
 * What one seed's base model and checkpoints depend on: data, model, base training, collection
 * (all but seeds and align), the seed's streams and, for a file, its contents.
 */
export function seedKey(cfg: Config, s: number): string {
  const { seeds: _seeds, align: _align, queue: _queue, ...collect } = cfg.collect;
  const file = Array.isArray(cfg.collect.seeds) ? cfg.collect.seeds[s] : undefined;
  return sha256('pdiff-seed-v1', configHash(cfg, ['data', 'model', 'base']), canonicalJson(collect), String(runSeedOf(cfg, s)),
    file !== undefined ? `file:${fileDigest(file, `collect.seeds[${s}]`)}` : 'trained');
}

/** The base model of seed s >= 1: trained, or loaded from its file. */
function seedBaseModel(ctx: RunContext, s: number): { model: Classifier; trainSeconds: number; source: string } {
  const { cfg } = ctx;
  const { train, val } = ctx.splits();
  const runSeed = runSeedOf(cfg, s);
  const model = newModel(cfg, train, ctx.be, runSeed);
  const file = Array.isArray(cfg.collect.seeds) ? cfg.collect.seeds[s] : undefined;
  if (file !== undefined) {
    loadBaseModelFile(model, file, `collect.seeds[${s}]`, `[${train.c}, ${train.h}, ${train.w}] images and ${train.numClasses} classes (${cfg.data.dataset})`);
    return { model: model.eval(), trainSeconds: 0, source: file };
  }
  const t0 = performance.now();
  trainClassifier(model, train, cfg.base, {
    rng: new Rng(deriveSeed(runSeed, 'base')), val, log: ctx.log, progress: ctx.progress, augment: cfg.data.augment, evalBatch: cfg.eval.evalBatch,
  });
  return { model: model.eval(), trainSeconds: (performance.now() - t0) / 1000, source: 'trained' };
}

/**
 * Seed s's base model and raw checkpoints, from its file or made now (resumable through
 * `statePath`: the stage's own state locally, a file per seed for a queue's job).
 */
export function collectSeed(ctx: RunContext, s: number, layout: ParamLayout, kills: { saves: number }, statePath = ctx.store.statePath('collect')): SeedFile {
  const { cfg, store } = ctx;
  const K = cfg.collect.k, total = layout.total;
  const key = seedKey(cfg, s);
  const path = store.path(ARTIFACTS.seedFile(s));
  let sf = readSeedFile(path, key, layout, K);
  if (sf?.ckpts) {
    ctx.say(`[collect] seed ${s}: up to date (${ARTIFACTS.seedFile(s)})`);
    return sf;
  }
  const runSeed = runSeedOf(cfg, s);
  let model: Classifier;
  if (sf) {
    // the base model was kept; its checkpoints were not all collected
    model = s === 0 ? ctx.baseModel() : newModel(cfg, ctx.splits().train, ctx.be, runSeed).eval();
    if (s > 0) layout.write(model, sf.base); // the whole state_dict
  } else {
    let made: { model: Classifier; trainSeconds: number; source: string; val?: number; test?: number };
    if (s === 0) {
      const b = JSON.parse(readFileSync(store.path(ARTIFACTS.baseJson), 'utf8')) as { val: number; test: number; trainSeconds: number };
      made = { model: ctx.baseModel(), trainSeconds: b.trainSeconds, source: Array.isArray(cfg.collect.seeds) ? cfg.collect.seeds[0]! : 'trained', val: b.val, test: b.test };
    } else {
      ctx.say(`[collect] seed ${s}: base model (${Array.isArray(cfg.collect.seeds) ? cfg.collect.seeds[s] : `trained with seed ${runSeed}`})`);
      made = seedBaseModel(ctx, s);
    }
    model = made.model;
    const { val, test } = ctx.splits();
    sf = {
      meta: {
        key, runSeed, source: made.source, trainSeconds: made.trainSeconds,
        val: made.val ?? evaluateClassifier(model, val, { batch: cfg.eval.evalBatch }).acc,
        test: made.test ?? evaluateClassifier(model, test, { batch: cfg.eval.evalBatch }).acc,
      },
      base: layout.read(model),
      ckpts: null,
    };
    checkFinite(`seed ${s} base model`, sf.base);
    writeSeedFile(path, layout, sf); // kept before its checkpoints are collected
    ctx.clock.save();
    ctx.say(`[collect] seed ${s}: base val ${sf.meta.val.toFixed(2)} %, test ${sf.meta.test.toFixed(2)} %`);
  }

  // keyed by the seed's own key, not the stage's hash: the state of another seed is never resumed
  const startFrom = loadStageState(statePath, key, (tensors, meta, p) => deserializeCollectState(tensors, meta, p));
  if (startFrom) ctx.say(`[collect] seed ${s}: resuming at checkpoint ${startFrom.k}/${K}`);
  const every = Math.max(1, Math.ceil(K / 10));
  const rows = new Float32Array(K * total);
  if (startFrom?.ckpts) rows.set(startFrom.ckpts.subarray(0, startFrom.k * total));
  const res = collectCheckpoints(model, ctx.splits().train, layout, cfg.collect, {
    rng: new Rng(deriveSeed(runSeed, 'collect')), progress: ctx.progress, log: ctx.log, startFrom, recordBuffers: true,
    onCheckpoint: (k, vec, snapshot) => {
      rows.set(vec, k * total);
      if ((k + 1) % every !== 0 || k + 1 === K) return;
      saveStageState(statePath, serializeCollectState(snapshot(), rows, total), key);
      ctx.clock.save();
      maybeKill('collect', ++kills.saves);
    },
  });
  checkFinite(`seed ${s} checkpoints`, res.ckpts);
  sf = { ...sf, meta: { ...sf.meta, collectSeconds: res.seconds }, ckpts: res.ckpts };
  writeSeedFile(path, layout, sf);
  ctx.clock.save();
  return sf;
}

/** Units a permutation moves. */
const moved = (p: Int32Array): number => p.reduce((n, v, i) => n + (v !== i ? 1 : 0), 0);

/** The collect stage for collect.seeds >= 2 (see the module comment). */
export async function collectSeeds(ctx: RunContext): Promise<StageOutputs> {
  const { cfg, store } = ctx;
  const S = seedCount(cfg.collect), K = cfg.collect.k;
  const holder = ctx.baseModel();
  const layout = ctx.layout();
  const total = layout.total;
  const spec: PermutationSpec | null = holder.permutationSpec?.() ?? null;
  if (cfg.collect.align !== 'none' && !spec) {
    throw new ConfigError(`config: collect.align: "${cfg.collect.align}" needs the permutation symmetry of ${cfg.model.arch}, which pdiff does not describe (mlp, cnn-s and resnet20/32/56 have one); set collect.align to "none"`);
  }
  const kills = { saves: 0 };
  if (cfg.collect.queue !== null) {
    // every seed is a job for `pdiff worker` processes (docs/queue.md); the loop below then finds each file up to date
    const complete = (s: number): boolean => readSeedFile(store.path(ARTIFACTS.seedFile(s)), seedKey(cfg, s), layout, K)?.ckpts != null;
    const { collectThroughQueue } = await import('../../queue/coordinator.js'); // BullMQ only when a queue is used
    await collectThroughQueue({
      url: cfg.collect.queue, dir: store.dir, say: ctx.say, progress: ctx.progress,
      members: Array.from({ length: S }, (_, s) => ({ kind: 'seed', index: s, key: seedKey(cfg, s), file: ARTIFACTS.seedFile(s), label: `seed ${s}` })),
      usable: (q) => complete(q.index), discard: (q) => clearSeedJobState(store.dir, q.index),
    });
  }
  const seeds: SeedFile[] = [];
  for (let s = 0; s < S; s++) seeds.push(collectSeed(ctx, s, layout, kills));

  // Weight matching of every seed's base model to seed 0's, on the learnable parameters.
  const params = new Set(holder.namedParameters().map(([n]) => n));
  const weights = (vec: Float32Array) => new Map([...tensorsOfVector(layout, vec)].filter(([n]) => params.has(n)));
  const matches: WeightMatchingResult[] = [];
  if (spec) {
    const ref = weights(seeds[0]!.base);
    for (let s = 1; s < S; s++) {
      const t0 = performance.now();
      const m = weightMatching({ spec, reference: ref, other: weights(seeds[s]!.base), rng: new Rng(deriveSeed(cfg.seed, `align:${s}`)) });
      matches.push(m);
      const mv = m.perms.reduce((n, p) => n + moved(p), 0);
      ctx.say(`[collect] seed ${s} matched to seed 0: ${mv} of ${spec.groups.reduce((n, g) => n + g.size, 0)} units moved, ${m.passes} passes (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
  const aligned = cfg.collect.align === 'weight-matching';
  // Each seed has its own BN running statistics: folded into the BN weights and biases, they become
  // one shared set (mean 0, variance 1) that no average or sample can mix up.
  const norms = foldableNorms(holder);
  const zoo = new Float32Array(S * K * total);
  seeds.forEach((sf, s) => {
    for (let k = 0; k < K; k++) {
      const row = sf.ckpts!.subarray(k * total, (k + 1) * total);
      const out = aligned && s > 0 ? permuteVector(spec!, layout, row, matches[s - 1]!.perms) : row.slice();
      foldBatchNorm(layout, out, norms);
      zoo.set(out, (s * K + k) * total);
    }
  });

  // The line between seeds 0 and 1, as trained and with seed 1 aligned to seed 0.
  const test = ctx.splits().test;
  const line = (b: Float32Array): InterpolationReport => {
    const c = interpolationCurve({ model: holder, layout, a: seeds[0]!.base, b, data: test, points: INTERPOLATION_POINTS, batch: cfg.eval.evalBatch });
    return { loss: c.loss, acc: c.acc, barrier: lossBarrier(c).barrier };
  };
  const t0 = performance.now();
  const naive = line(seeds[1]!.base);
  const alignedLine = spec ? line(permuteVector(spec, layout, seeds[1]!.base, matches[0]!.perms)) : null;
  ctx.say(`[collect] test loss barrier between seeds 0 and 1: naive ${naive.barrier.toFixed(3)}${alignedLine ? `, aligned ${alignedLine.barrier.toFixed(3)}` : ''} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  const units = spec ? spec.groups.reduce((n, g) => n + g.size, 0) : 0;
  const report: SeedsReport = {
    align: cfg.collect.align,
    k: K,
    seeds: seeds.map((sf, s): SeedMemberReport => ({ index: s, runSeed: sf.meta.runSeed, source: sf.meta.source, val: sf.meta.val, test: sf.meta.test, trainSeconds: sf.meta.trainSeconds })),
    matching: matches.map((m, i): SeedMatchReport => ({ seed: i + 1, passes: m.passes, converged: m.converged, unitsMoved: m.perms.reduce((n, p) => n + moved(p), 0), units })),
    interpolation: { from: 0, to: 1, alphas: Array.from({ length: INTERPOLATION_POINTS }, (_, i) => i / (INTERPOLATION_POINTS - 1)), naive, aligned: alignedLine },
  };
  writeFileAtomic(store.path(ARTIFACTS.seedsJson), JSON.stringify(report, null, 1) + '\n');
  saveCheckpointStack(store.path(ARTIFACTS.ckpts(ctx.mode)), layout, zoo, metaOf(cfg, 'collect'));
  const collectSeconds = seeds.reduce((t, sf) => t + (sf.meta.collectSeconds ?? 0), 0);
  writeManifest(store.path(ARTIFACTS.manifest), {
    version: 1, arch: cfg.model.arch, mode: 'whole', k: S * K, layout: layout.toJSON(),
    normalizer: null,
    config: cfg,
    seeds: { run: cfg.seed, init: deriveSeed(cfg.seed, 'init'), base: deriveSeed(cfg.seed, 'base'), collect: deriveSeed(cfg.seed, 'collect') },
    multiSeed: {
      align: cfg.collect.align,
      members: seeds.map((sf, s) => ({ index: s, runSeed: sf.meta.runSeed, source: sf.meta.source, file: ARTIFACTS.seedFile(s) })),
      rowSeed: Array.from({ length: S * K }, (_, r) => Math.floor(r / K)),
    },
    accuracies: null,
    files: { base: ARTIFACTS.base, ckpts: ARTIFACTS.ckpts(ctx.mode), seeds: ARTIFACTS.seedsJson },
    collectSeconds,
    createdAt: new Date().toISOString(),
  });
  return { files: [ARTIFACTS.ckpts(ctx.mode), ARTIFACTS.manifest, ARTIFACTS.seedsJson, ...seeds.map((_, s) => ARTIFACTS.seedFile(s))] };
}
