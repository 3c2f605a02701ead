/**
 * The P-Diff pipeline as a chain of resumable stages:
 *
 *   base -> collect -> eval-originals -> ae -> diffusion -> generate -> evaluate -> report
 *
 * Every stage writes its outputs into the run folder (atomically), then a marker with the hash of
 * the config sections and upstream stages it depends on. A rerun skips stages whose marker matches,
 * and a stage that was interrupted resumes from the state it saved last (state/<stage>.*), so a
 * killed run started again reaches the same result as an uninterrupted one.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Backend } from '../backend/backend.js';
import { resolveBackend } from '../backend/index.js';
import { canonicalJson, changeLines, configHash, diffConfigs, type Config, type ConfigChange } from '../config/index.js';
import { loadCifar10, loadCifar100 } from '../data/cifar.js';
import { KMNIST_NORM, MNIST_NORM, loadFashionMnist, loadIdxDataset, type Dataset, type Splits } from '../data/dataset.js';
import { buildClassifier, type Classifier } from '../models/index.js';
import {
  decodeAll, deserializeTrainState, encodeAll, generateLatents, latentStats, scheduleFromConfig, serializeTrainState,
  trainAutoencoder, trainDiffusion, type AeTrainState, type DiffusionTrainState, type LossPoint,
} from '../pdiff/index.js';
import { ParamAutoencoder } from '../pdiff/autoencoder.js';
import { LatentDenoiser } from '../pdiff/denoiser.js';
import { Rng, deriveSeed } from '../tensor/random.js';
import { writeFileAtomic } from '../util/atomic.js';
import { ConfigError, FormatError, NumericError } from '../util/errors.js';
import { PathError, makeDir } from '../util/fsdir.js';
import { JsonlLog } from '../util/jsonl.js';
import { collectCheckpoints, type CollectResume } from '../zoo/collect.js';
import { Normalizer, ParamLayout, selectParams } from '../zoo/layout.js';
import { loadCheckpointStack, saveCheckpointStack } from '../zoo/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../zoo/safetensors.js';
import { evaluateClassifier, trainClassifier } from '../zoo/train.js';
import { evaluateGroups, type EvalOutputs } from './evaluate-stage.js';
import { buildReport } from './report-stage.js';
import { runFolderState } from './folder.js';
import { RunLock } from './lock.js';
import { RunStore, StageClock, maybeKill, sha256 } from './store.js';
import type { ReportData } from '../report/types.js';

export const STAGES = ['base', 'collect', 'eval-originals', 'ae', 'diffusion', 'generate', 'evaluate', 'report'] as const;
export type StageName = (typeof STAGES)[number];

/** Config sections each stage depends on (besides everything upstream). */
const STAGE_KEYS: Record<StageName, string[]> = {
  base: ['seed', 'data', 'model', 'base'],
  collect: ['collect'],
  'eval-originals': [],
  ae: ['ae'],
  diffusion: ['diffusion'],
  generate: ['generate'],
  evaluate: ['eval'],
  report: ['report'],
};

export interface PipelineOptions {
  /** Stop after this stage (default: report). */
  until?: StageName;
  /** No progress bars or log lines on stderr. */
  quiet?: boolean;
  /** Where log lines go (default stderr). */
  say?: (line: string) => void;
  /** The command line that started this run, for the report's reproducibility block (default: "(library call)"). */
  command?: string;
  /**
   * Allow a config that differs from the one the run folder was made with (default false: refused
   * with the keys that differ). Stages that depend on the changed keys are then redone.
   */
  reconfigure?: boolean;
}

export interface StageResult { name: StageName; seconds: number; skipped: boolean }

export interface RunResult {
  runDir: string;
  stages: StageResult[];
  /** Path of report.md when the report stage ran. */
  reportPath?: string;
  /** Path of report.html when the report stage wrote one. */
  reportHtmlPath?: string;
  report?: ReportData;
}

/** Everything the stages share. */
export interface RunContext {
  cfg: Config;
  be: Backend;
  store: RunStore;
  log: JsonlLog;
  progress: boolean;
  say: (line: string) => void;
  splits(): Splits;
  baseModel(): Classifier;
  layout(): ParamLayout;
  ckpts(): Float32Array;
  K: number;
  mode: string;
  /** The running stage's clock: resumable stages call clock.save() after saving their state. */
  clock: StageClock;
  /** The command line that started this process's run ("(library call)" from the library). */
  command: string;
}

/** Load the dataset named by the config, with its train/val/test splits (docs/data.md#splits). */
export function loadData(cfg: Config): Splits {
  const d = cfg.data;
  const opts = { valSize: d.valSize, limitTrain: d.limitTrain ?? undefined, limitTest: d.limitTest ?? undefined };
  switch (d.dataset) {
    case 'fashion-mnist': return loadFashionMnist({ dir: d.dir ?? undefined, ...opts });
    case 'mnist': return loadIdxDataset(d.dir ?? '/usr/share/datasets/mnist', { name: 'mnist', mean: MNIST_NORM.mean[0]!, std: MNIST_NORM.std[0]!, ...opts });
    case 'kmnist': return loadIdxDataset(d.dir ?? 'data/kmnist', { name: 'kmnist', mean: KMNIST_NORM.mean[0]!, std: KMNIST_NORM.std[0]!, ...opts });
    case 'cifar10': return loadCifar10(d.dir ?? 'data/cifar-10-batches-bin', opts);
    case 'cifar100': return loadCifar100(d.dir ?? 'data/cifar-100-binary', opts);
  }
}

function newModel(cfg: Config, ds: Dataset, be: Backend): Classifier {
  return buildClassifier(cfg.model.arch, {
    rng: new Rng(deriveSeed(cfg.seed, 'init')), backend: be, inShape: [ds.c, ds.h, ds.w], numClasses: ds.numClasses, mlpHidden: cfg.model.mlpHidden,
  });
}

const metaOf = (cfg: Config, stage: string): Record<string, string> => ({ format: 'pt', pdiff_stage: stage, pdiff_config: canonicalJson(cfg) });

function loadModelFile(path: string, model: Classifier): void {
  const f = readSafetensors(path);
  model.loadStateDict([...f.tensors].map(([n, t]) => [n, { shape: t.shape, data: t.data as Float32Array }]), { source: path });
}

function readStack(path: string): { data: Float32Array; rows: number; cols: number } {
  const f = readSafetensors(path);
  const t = f.tensors.get('data');
  if (!t || t.shape.length !== 2) throw new FormatError(path, 'expected one tensor "data" of shape [rows, cols]');
  return { data: t.data as Float32Array, rows: t.shape[0]!, cols: t.shape[1]! };
}

function writeStack(path: string, data: Float32Array, rows: number, cols: number, meta: Record<string, string>): void {
  writeSafetensors(path, [{ name: 'data', shape: [rows, cols], data }], meta);
}

function checkFinite(what: string, a: Float32Array): void {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) throw new NumericError(`${what}: value ${a[i]} at index ${i} is not finite`);
}

function saveTrainState(path: string, state: AeTrainState | DiffusionTrainState, hash: string): void {
  const s = serializeTrainState(state);
  writeSafetensors(path, s.tensors, { ...s.meta, pdiff_stage_hash: hash });
}

function loadTrainState<S extends AeTrainState | DiffusionTrainState>(path: string, hash: string, kind: S['kind']): S | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const f = readSafetensors(path);
    if (f.metadata?.pdiff_stage_hash !== hash) return undefined;
    const st = deserializeTrainState(f.tensors as never, f.metadata, path);
    return st.kind === kind ? (st as S) : undefined;
  } catch {
    return undefined; // a damaged state file only costs the progress it held
  }
}

/** Run the pipeline up to `opts.until`, skipping stages that are up to date. */
export async function runPipeline(cfg: Config, opts: PipelineOptions = {}): Promise<RunResult> {
  const say = opts.say ?? ((l: string) => { if (!opts.quiet) process.stderr.write(`${l}\n`); });
  const command = opts.command ?? '(library call)';
  const state = runFolderState(cfg.out);
  if (state.kind === 'other') {
    const shown = state.entries.slice(0, 5).join(', ') + (state.entries.length > 5 ? ', ...' : '');
    throw new PathError(`run folder ${cfg.out} is not empty and holds no pdiff run (no config.json; it has ${shown}); choose a new or empty folder with --out`);
  }
  makeDir(cfg.out);
  const lock = RunLock.acquire(cfg.out, command, (o) => say(`[run] ${cfg.out}: took over the lock of pid ${o.pid}, which is no longer running`));
  try {
    const changes = state.kind === 'run' ? diffConfigs(state.config, cfg) : [];
    if (changes.length > 0 && !opts.reconfigure) {
      throw new ConfigError([
        `config: run folder ${cfg.out} was made with another config; ${changes.length === 1 ? 'this key differs' : `these ${changes.length} keys differ`} (folder -> now):`,
        ...changeLines(changes).map((l) => `  ${l}`),
        `To continue that run, give no --preset, --config, --set or --seed; to change it, add --reconfigure (stages that depend on these keys are redone); or use another --out.`,
      ].join('\n'));
    }
    return await runStages(cfg, opts, say, command, changes);
  } finally {
    lock.release();
  }
}

async function runStages(cfg: Config, opts: PipelineOptions, say: (line: string) => void, command: string, changes: ConfigChange[]): Promise<RunResult> {
  const until = opts.until ?? 'report';
  const be = resolveBackend(cfg.backend, opts.quiet);
  const store = new RunStore(cfg.out);
  const log = new JsonlLog(store.path('metrics.jsonl'));
  log.write({ event: 'invocation', command, at: new Date().toISOString(), until });
  if (changes.length > 0) {
    log.write({ event: 'reconfigure', command, changes });
    say(`[run] reconfigured: ${changeLines(changes).join('; ')}`);
  }
  writeFileAtomic(store.path('config.json'), JSON.stringify(cfg, null, 2) + '\n');
  const mode = cfg.collect.mode;

  let splits: Splits | null = null;
  let base: Classifier | null = null;
  let layout: ParamLayout | null = null;
  let ckpts: Float32Array | null = null;
  const ctx: RunContext = {
    cfg, be, store, log, progress: !opts.quiet, say, mode, K: cfg.collect.k, command,
    clock: store.clock('pipeline', ''), // replaced by the stage's own clock before each stage runs
    splits: () => {
      if (!splits) {
        const t0 = performance.now();
        splits = loadData(cfg);
        say(`[data] ${splits.train.name}: train ${splits.train.n}, val ${splits.val.n}, test ${splits.test.n} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      }
      return splits;
    },
    baseModel: () => {
      if (!base) {
        base = newModel(cfg, ctx.splits().train, be);
        loadModelFile(store.path('base.safetensors'), base);
        base.eval();
      }
      return base;
    },
    layout: () => {
      if (!layout) layout = ParamLayout.fromModel(ctx.baseModel(), selectParams(ctx.baseModel(), mode, cfg.collect.params));
      return layout;
    },
    ckpts: () => {
      if (!ckpts) ckpts = loadCheckpointStack(store.path(`ckpts-${mode}.safetensors`)).ckpts;
      return ckpts;
    },
  };

  const results: StageResult[] = [];
  let prevHash = sha256('pdiff-pipeline-v1');
  let report: ReportData | undefined;
  let reportPath: string | undefined;
  for (const stage of STAGES) {
    const hash = sha256(prevHash, stage, configHash(cfg, STAGE_KEYS[stage]));
    prevHash = hash;
    if (store.isDone(stage, hash) && stage !== 'report') {
      results.push({ name: stage, seconds: store.marker(stage)!.seconds, skipped: true });
      say(`[${stage}] up to date`);
    } else {
      say(`[${stage}] running`);
      maybeKill(stage, 0);
      const clock = ctx.clock = store.clock(stage, hash);
      const outputs = await STAGE_FNS[stage](ctx, hash);
      if (stage === 'report') { report = outputs.report; reportPath = outputs.reportPath; }
      const seconds = clock.seconds();
      store.markDone(stage, hash, seconds, outputs.files, clock.resumes);
      store.clearState(stage);
      const own = clock.own(), resumes = clock.resumes;
      log.write({ stage, event: 'done', seconds, ...(resumes > 0 ? { resumes, ownSeconds: own } : {}) });
      say(`[${stage}] done in ${seconds.toFixed(1)} s${resumes > 0 ? ` (${own.toFixed(1)} s in this process; resumed ${resumes === 1 ? 'once' : `${resumes} times`})` : ''}`);
      results.push({ name: stage, seconds, skipped: false });
    }
    if (stage === until) break;
  }
  const html = store.path('report.html');
  return { runDir: store.dir, stages: results, report, reportPath, ...(reportPath && existsSync(html) ? { reportHtmlPath: html } : {}) };
}

interface StageOutputs { files: string[]; report?: ReportData; reportPath?: string }
type StageFn = (ctx: RunContext, hash: string) => Promise<StageOutputs>;

const STAGE_FNS: Record<StageName, StageFn> = {
  // ---- train the base classifier (docs/zoo.md#base-training)
  async base(ctx) {
    const { cfg, be, store } = ctx;
    const { train, val, test } = ctx.splits();
    const model = newModel(cfg, train, be);
    const t0 = performance.now();
    const { history } = trainClassifier(model, train, cfg.base, {
      rng: new Rng(deriveSeed(cfg.seed, 'base')), val, log: ctx.log, progress: ctx.progress, augment: cfg.data.augment, evalBatch: cfg.eval.evalBatch,
    });
    const trainSeconds = (performance.now() - t0) / 1000;
    model.eval();
    const v = evaluateClassifier(model, val, { batch: cfg.eval.evalBatch });
    const t = evaluateClassifier(model, test, { batch: cfg.eval.evalBatch });
    for (const [n, p] of model.stateDict()) checkFinite(`base model tensor "${n}"`, p.toArray() as Float32Array);
    writeSafetensors(store.path('base.safetensors'), model.stateDict().map(([name, p]) => ({ name, shape: [...p.shape], data: Float32Array.from(p.toArray()) })), metaOf(cfg, 'base'));
    writeFileAtomic(store.path('base.json'), JSON.stringify({ val: v.acc, test: t.acc, history, trainSeconds, epochSeconds: trainSeconds / cfg.base.epochs }, null, 2) + '\n');
    ctx.say(`[base] val ${v.acc.toFixed(2)} %, test ${t.acc.toFixed(2)} %`);
    return { files: ['base.safetensors', 'base.json'] };
  },

  // ---- collect K checkpoints of the subset (docs/zoo.md#collection), resumable
  async collect(ctx, hash) {
    const { cfg, store } = ctx;
    const model = ctx.baseModel();
    const layout = ctx.layout();
    const statePath = store.statePath('collect');
    let startFrom: CollectResume | undefined;
    if (existsSync(statePath)) {
      try {
        const f = readSafetensors(statePath);
        const m = f.metadata ?? {};
        if (m.pdiff_stage_hash === hash) {
          const k = Number(m.k);
          const nb = Number(m.buffers);
          startFrom = {
            k, vec: f.tensors.get('vec')!.data as Float32Array, ckpts: f.tensors.get('ckpts')!.data as Float32Array,
            rngState: JSON.parse(m.rng!) as number[],
            optimizerState: { step: Number(m.optStep), buffers: Array.from({ length: nb }, (_, i) => f.tensors.get(`optim.${i}`)!.data as Float32Array) },
          };
          ctx.say(`[collect] resuming at checkpoint ${k}/${cfg.collect.k}`);
        }
      } catch { startFrom = undefined; }
    }
    const every = Math.max(1, Math.ceil(cfg.collect.k / 10));
    let saves = 0;
    const rows = new Float32Array(cfg.collect.k * layout.total);
    if (startFrom?.ckpts) rows.set(startFrom.ckpts.subarray(0, startFrom.k * layout.total));
    const res = collectCheckpoints(model, ctx.splits().train, layout, cfg.collect, {
      rng: new Rng(deriveSeed(cfg.seed, 'collect')), progress: ctx.progress, log: ctx.log, startFrom,
      onCheckpoint: (k, vec, snapshot) => {
        rows.set(vec, k * layout.total);
        if ((k + 1) % every !== 0 || k + 1 === cfg.collect.k) return;
        const s = snapshot();
        const done = rows.subarray(0, s.k * layout.total);
        const tensors = [
          { name: 'vec', shape: [s.vec.length], data: Float32Array.from(s.vec) },
          { name: 'ckpts', shape: [done.length], data: done },
          ...s.optimizerState.buffers.map((b, i) => ({ name: `optim.${i}`, shape: [b.length], data: Float32Array.from(b) })),
        ];
        writeSafetensors(statePath, tensors, {
          pdiff_stage_hash: hash, k: String(s.k), rng: JSON.stringify(s.rngState.map((x) => (Number.isNaN(x) ? null : x))),
          optStep: String(s.optimizerState.step), buffers: String(s.optimizerState.buffers.length),
        });
        ctx.clock.save(); maybeKill('collect', ++saves);
      },
    });
    checkFinite('collected checkpoints', res.ckpts);
    saveCheckpointStack(store.path(`ckpts-${ctx.mode}.safetensors`), layout, res.ckpts, metaOf(cfg, 'collect'));
    const norm = Normalizer.fit(layout, res.ckpts, cfg.ae.padMultiple);
    const manifest = {
      mode: ctx.mode, K: cfg.collect.k, layout: layout.toJSON(), total: layout.total, normalizer: norm.toJSON(),
      seed: cfg.seed, seeds: { init: deriveSeed(cfg.seed, 'init'), base: deriveSeed(cfg.seed, 'base'), collect: deriveSeed(cfg.seed, 'collect') },
      collectSeconds: res.seconds, config: cfg,
    };
    writeFileAtomic(store.path('manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    return { files: [`ckpts-${ctx.mode}.safetensors`, 'manifest.json'] };
  },

  // ---- evaluate the K checkpoints (val and test), record their accuracies in the manifest
  async 'eval-originals'(ctx) {
    const out = await evaluateGroups(ctx, ['original']);
    const manifestPath = ctx.store.path('manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
    const g = out.groups.original!;
    manifest.accuracies = { val: g.val, test: g.test };
    writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
    return { files: out.files };
  },

  // ---- train the parameter autoencoder (docs/autoencoder.md#training), resumable
  async ae(ctx, hash) {
    const { cfg, store, be } = ctx;
    const layout = ctx.layout();
    const K = cfg.collect.k;
    const norm = Normalizer.fit(layout, ctx.ckpts(), cfg.ae.padMultiple, cfg.ae.normalize);
    const z = norm.forward(ctx.ckpts());
    const L = norm.L;
    const statePath = store.statePath('ae');
    const every = Math.max(1, Math.ceil(cfg.ae.steps / 8));
    let saves = 0;
    const res = trainAutoencoder(z, K, L, cfg.ae, {
      rng: new Rng(deriveSeed(cfg.seed, 'ae')), backend: be, progress: ctx.progress, log: ctx.log,
      resume: loadTrainState<AeTrainState>(statePath, hash, 'ae'), checkpointEvery: every,
      onCheckpoint: (s) => { if (s.step < cfg.ae.steps) { saveTrainState(statePath, s, hash); ctx.clock.save(); maybeKill('ae', ++saves); } },
    });
    const ae = res.model.eval();
    const latents = encodeAll(ae, z, K, L);
    const recon = norm.inverse(decodeAll(ae, latents, K, cfg.ae.latentDim));
    const st = latentStats(latents);
    ctx.say(`[ae] final loss ${res.lossCurve.at(-1)?.loss.toExponential(3)}; latents min ${st.min.toFixed(3)} max ${st.max.toFixed(3)} std ${st.std.toFixed(3)}`);
    writeSafetensors(store.path('ae.safetensors'), ae.stateDict().map(([name, p]) => ({ name, shape: [...p.shape], data: Float32Array.from(p.toArray()) })),
      { ...metaOf(cfg, 'ae'), pdiff_normalizer: JSON.stringify(norm.toJSON()), L: String(L) });
    writeStack(store.path('latents.safetensors'), latents, K, cfg.ae.latentDim, metaOf(cfg, 'ae'));
    saveCheckpointStack(store.path(`recon-${ctx.mode}.safetensors`), layout, recon, metaOf(cfg, 'ae'));
    writeFileAtomic(store.path('ae.json'), JSON.stringify({ lossCurve: res.lossCurve, seconds: res.seconds, latentStats: st }) + '\n');
    return { files: ['ae.safetensors', 'latents.safetensors', `recon-${ctx.mode}.safetensors`, 'ae.json'] };
  },

  // ---- train the latent DDPM (docs/diffusion.md#training), resumable
  async diffusion(ctx, hash) {
    const { cfg, store, be } = ctx;
    const lat = readStack(store.path('latents.safetensors'));
    const statePath = store.statePath('diffusion');
    const every = Math.max(1, Math.ceil(cfg.diffusion.steps / 8));
    let saves = 0;
    const res = trainDiffusion(lat.data, lat.rows, lat.cols, cfg.diffusion, {
      rng: new Rng(deriveSeed(cfg.seed, 'diffusion')), backend: be, progress: ctx.progress, log: ctx.log,
      resume: loadTrainState<DiffusionTrainState>(statePath, hash, 'diffusion'), checkpointEvery: every,
      onCheckpoint: (s) => { if (s.step < cfg.diffusion.steps) { saveTrainState(statePath, s, hash); ctx.clock.save(); maybeKill('diffusion', ++saves); } },
    });
    if (res.ema) res.ema.swapIn();
    ctx.say(`[diffusion] final loss ${res.lossCurve.at(-1)?.loss.toFixed(4)}`);
    writeSafetensors(store.path('diffusion.safetensors'), res.model.stateDict().map(([name, p]) => ({ name, shape: [...p.shape], data: Float32Array.from(p.toArray()) })),
      { ...metaOf(cfg, 'diffusion'), latentScale: String(res.latentScale), ema: String(cfg.diffusion.ema) });
    writeFileAtomic(store.path('diffusion.json'), JSON.stringify({ lossCurve: res.lossCurve, seconds: res.seconds, latentScale: res.latentScale }) + '\n');
    return { files: ['diffusion.safetensors', 'diffusion.json'] };
  },

  // ---- sample latents, decode, un-normalise (docs/diffusion.md#generation)
  async generate(ctx) {
    const { cfg, store, be } = ctx;
    const layout = ctx.layout();
    const aeFile = readSafetensors(store.path('ae.safetensors'));
    const norm = Normalizer.fromJSON(JSON.parse(aeFile.metadata!.pdiff_normalizer!), store.path('ae.safetensors'));
    const ae = new ParamAutoencoder({ L: norm.L, channels: cfg.ae.channels, latentDim: cfg.ae.latentDim, kernel: cfg.ae.kernel, rng: new Rng(0), backend: be });
    ae.loadStateDict([...aeFile.tensors].map(([n, t]) => [n, { shape: t.shape, data: t.data as Float32Array }]), { source: store.path('ae.safetensors') });
    ae.eval();
    const dFile = readSafetensors(store.path('diffusion.safetensors'));
    const den = new LatentDenoiser({ d: cfg.ae.latentDim, channels: cfg.diffusion.channels, rng: new Rng(0), backend: be });
    den.loadStateDict([...dFile.tensors].map(([n, t]) => [n, { shape: t.shape, data: t.data as Float32Array }]), { source: store.path('diffusion.safetensors') });
    den.eval();
    const t0 = performance.now();
    const n = cfg.generate.n, d = cfg.ae.latentDim;
    const latents = generateLatents(den, scheduleFromConfig(cfg.diffusion), n, d, cfg.generate, new Rng(deriveSeed(cfg.seed, 'generate')), Number(dFile.metadata?.latentScale ?? 1), { progress: ctx.progress });
    const sampleSeconds = (performance.now() - t0) / 1000;
    const sets = norm.inverse(decodeAll(ae, latents, n, d));
    const seconds = (performance.now() - t0) / 1000;
    let bad = 0;
    for (let i = 0; i < sets.length; i++) if (!Number.isFinite(sets[i]!)) bad++;
    if (bad > 0) throw new NumericError(`generate: ${bad} generated parameter values are NaN or infinite (check the latent scale and the diffusion loss)`);
    saveCheckpointStack(store.path(`generated-${ctx.mode}.safetensors`), layout, sets, metaOf(cfg, 'generate'));
    writeFileAtomic(store.path('generate.json'), JSON.stringify({ n, sampler: cfg.generate.sampler, sampleSeconds, seconds, latentStats: latentStats(latents) }) + '\n');
    ctx.say(`[generate] ${n} parameter sets in ${seconds.toFixed(1)} s (${cfg.generate.sampler})`);
    return { files: [`generated-${ctx.mode}.safetensors`, 'generate.json'] };
  },

  // ---- evaluate every group (docs/evaluation.md)
  async evaluate(ctx) {
    const out: EvalOutputs = await evaluateGroups(ctx, null);
    return { files: out.files };
  },

  // ---- report.md, report.html, plots
  async report(ctx) {
    const r = await buildReport(ctx);
    return { files: r.files, report: r.data, reportPath: r.mdPath };
  },
};

export type { LossPoint };
