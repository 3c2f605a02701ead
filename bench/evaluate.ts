/**
 * Evaluating many parameter sets of cnn-s on the real Fashion-MNIST test set (10,000 images):
 * the cached tail of ParamSetEvaluator against the straightforward full forward, and against
 * PyTorch (bench/torch/evaluate.py, same base model and the same kind of perturbation) when
 * `/usr/bin/python3 -c "import torch"` works. `ratio` (models per second, pdiff / PyTorch) is
 * against what a PyTorch user would run: in bn mode the cached tail (the stem once, channels-last,
 * 200-image chunks; ratio_vs_torch_cached), in whole mode the full forward (ratio_vs_torch_full).
 *
 *   node --import tsx bench/evaluate.ts [--mode bn|whole] [--models N] [--batch 1000] [--no-torch]
 *
 * Reports the analytical bound of caching, speedup_allowed = macs_full / macs_tail (per image,
 * flops.ts), the measured speedup of the tail over the full forward, and their ratio
 * fraction_of_allowed. The full forward is measured twice: through the ops as model.forward
 * (models_per_s_full, the reference) and with the same planned kernels as the tail but no cache
 * (models_per_s_full_planned), so the share of the speedup that comes from caching alone is
 * visible. The base model is a seed-0 random init whose BN running statistics are calibrated on
 * 2,000 training images (accuracies are therefore low; the timing does not depend on them).
 * Prints one JSON line on stdout; progress goes to stderr.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getBackend } from '../src/backend/index.js';
import { loadFashionMnist } from '../src/data/dataset.js';
import { classifierCost, tailMacs } from '../src/eval/cost.js';
import { ParamSetEvaluator } from '../src/eval/evaluate.js';
import { buildClassifier } from '../src/models/index.js';
import { Rng } from '../src/tensor/random.js';
import { Tensor, noGrad } from '../src/tensor/tensor.js';
import { ParamLayout, selectParams } from '../src/zoo/layout.js';
import { writeSafetensors } from '../src/zoo/safetensors.js';
import { round, runTorch, torchAvailable } from './util.js';

export interface BenchEvaluateResult {
  backend: string;
  mode: 'bn' | 'whole';
  models: number;
  batch: number;
  test_images: number;
  /** Stage whose output the evaluator caches, and the evaluator's path. */
  cache_stage: string;
  path: string;
  cache_mb: number;
  cache_build_s: number;
  macs_full: number;
  macs_tail: number;
  speedup_allowed: number;
  /** Tail (cached, planned) evaluation: parameter sets per second on the test set. */
  models_per_s: number;
  /** Straightforward full forward (model.forward through the ops). */
  models_per_s_full: number;
  /** Full forward with the planned kernels and no cache. */
  models_per_s_full_planned: number;
  speedup_measured: number;
  fraction_of_allowed: number;
  /** Speedup of the tail over the planned full forward, and its fraction of the allowed one. */
  speedup_vs_planned_full: number;
  fraction_of_allowed_planned: number;
  /** The tail's predictions equal the full forward's for every set. */
  preds_match_full: boolean;
  mean_test_acc: number;
  torch_models_per_s?: number;
  torch_cached_models_per_s?: number;
  torch_mean_test_acc?: number;
  torch_threads?: number;
  /** pdiff's models/s over what a PyTorch user would run: the cached stem in bn mode, the full forward in whole mode (> 1: pdiff is faster). */
  ratio?: number;
  /** pdiff tail models/s over PyTorch's full-forward models/s. */
  ratio_vs_torch_full?: number;
  /** pdiff tail models/s over PyTorch's own cached-stem evaluation (bn mode). */
  ratio_vs_torch_cached?: number;
  torch_skipped?: string;
  loadavg_1m_start: number;
  loadavg_1m_end: number;
}

const say = (m: string): void => { process.stderr.write(`[bench evaluate] ${m}\n`); };

function timed<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const r = fn();
  return [r, (performance.now() - t0) / 1000];
}

export async function benchEvaluate(opts: { mode: 'bn' | 'whole'; models?: number; torch?: boolean; batch?: number }): Promise<BenchEvaluateResult> {
  const mode = opts.mode;
  if (mode !== 'bn' && mode !== 'whole') throw new Error(`--mode: expected bn or whole, got ${String(mode)}`);
  const N = opts.models ?? (mode === 'bn' ? 10 : 4);
  const batch = opts.batch ?? 1000;
  if (!Number.isInteger(N) || N < 1) throw new Error(`--models: expected a positive integer, got ${N}`);
  const load0 = loadavg()[0]!;
  const be = getBackend();
  const { train, test } = loadFashionMnist({ limitTrain: 2400, valSize: 400 });
  const model = buildClassifier('cnn-s', { rng: new Rng(0), backend: be, inShape: [test.c, test.h, test.w], numClasses: test.numClasses });
  // Calibrate the BN running statistics (train-mode forwards, momentum 0.1) so eval mode is sane.
  const calib = new Tensor(be.fromArray(train.images), [train.n, train.c, train.h, train.w], be);
  noGrad(() => { for (let i = 0; i < 10; i++) model.forward(calib); });
  model.eval();

  const layout = ParamLayout.fromModel(model, selectParams(model, mode));
  const base = layout.read(model);
  const rng = new Rng(1);
  const vecs = new Float32Array(N * layout.total);
  for (let p = 0; p < N; p++) for (let j = 0; j < layout.total; j++) vecs[p * layout.total + j] = base[j]! * (1 + 0.01 * rng.normal());

  const [ev, buildS] = timed(() => new ParamSetEvaluator({ model, layout, datasets: { test }, batch }));
  const evNoCache = ev.stage === 0 ? ev : new ParamSetEvaluator({ model, layout, datasets: { test }, batch, cacheFeatures: false });
  const cost = classifierCost(model, [test.c, test.h, test.w]);
  const macsTail = tailMacs(cost, ev.stage);
  say(`${be.name}, mode ${mode}, ${N} sets, cache at ${model.stages[ev.stage]} (${(ev.cacheBytes / 2 ** 20).toFixed(1)} MiB, ${buildS.toFixed(2)} s), path ${ev.path}`);

  // Warm-up (JIT, buffers), then the timed runs.
  const one = vecs.subarray(0, layout.total);
  ev.evaluate(one, 1);
  if (evNoCache !== ev) evNoCache.evaluate(one, 1);
  ev.evaluateFull(one, 1);
  const [tail, tTail] = timed(() => ev.evaluate(vecs, N));
  say(`tail: ${(tTail / N * 1000).toFixed(0)} ms per set`);
  // Without a cache (stage 0, whole mode) the tail IS the planned full forward: time it once.
  const tPlanned = ev.stage === 0 ? tTail : timed(() => evNoCache.evaluate(vecs, N))[1];
  say(`full forward, planned kernels: ${(tPlanned / N * 1000).toFixed(0)} ms per set`);
  const [full, tFull] = timed(() => ev.evaluateFull(vecs, N));
  say(`full forward, ops: ${(tFull / N * 1000).toFixed(0)} ms per set`);
  const match = tail.every((r, p) => r.test.preds.every((v, i) => v === full[p]!.test.preds[i]));

  const allowed = cost.macs / macsTail;
  const res: BenchEvaluateResult = {
    backend: be.name,
    mode,
    models: N,
    batch,
    test_images: test.n,
    cache_stage: model.stages[ev.stage]!,
    path: ev.path,
    cache_mb: round(ev.cacheBytes / 2 ** 20, 1),
    cache_build_s: round(buildS),
    macs_full: cost.macs,
    macs_tail: macsTail,
    speedup_allowed: round(allowed),
    models_per_s: round(N / tTail),
    models_per_s_full: round(N / tFull),
    models_per_s_full_planned: round(N / tPlanned),
    speedup_measured: round(tFull / tTail),
    fraction_of_allowed: round(tFull / tTail / allowed),
    speedup_vs_planned_full: round(tPlanned / tTail),
    fraction_of_allowed_planned: round(tPlanned / tTail / allowed),
    preds_match_full: match,
    mean_test_acc: round(tail.reduce((s, r) => s + r.test.acc, 0) / N),
    loadavg_1m_start: round(load0, 2),
    loadavg_1m_end: 0,
  };

  if (opts.torch === false) res.torch_skipped = 'disabled';
  else if (!torchAvailable()) res.torch_skipped = '/usr/bin/python3 cannot import torch';
  else {
    const dir = mkdtempSync(join(tmpdir(), 'pdiff-bench-eval-'));
    try {
      const path = join(dir, 'base.safetensors');
      writeSafetensors(path, model.stateDict().map(([name, t]) => ({ name, shape: [...t.shape], data: Float32Array.from(t.toArray()) })));
      say(`PyTorch: bench/torch/evaluate.py --mode ${mode} --models ${N}`);
      const script = fileURLToPath(new URL('./torch/evaluate.py', import.meta.url));
      const t = runTorch(script, ['--mode', mode, '--models', String(N), '--base', path, '--batch', String(batch)]);
      if (!t) res.torch_skipped = 'bench/torch/evaluate.py failed (see stderr)';
      else {
        const tps = Number(t.models_per_s);
        res.torch_models_per_s = round(tps);
        res.torch_mean_test_acc = round(Number(t.mean_test_acc));
        res.torch_threads = Number(t.torch_threads);
        // like with like: in bn mode a PyTorch user caches the frozen stem too (channels-last, 200-image chunks)
        res.ratio_vs_torch_full = round(res.models_per_s / tps);
        res.ratio = res.ratio_vs_torch_full;
        if (t.cached_forward_ms_per_model !== undefined) {
          res.torch_cached_models_per_s = round(1000 / Number(t.cached_forward_ms_per_model));
          res.ratio_vs_torch_cached = round(res.models_per_s / res.torch_cached_models_per_s);
          res.ratio = res.ratio_vs_torch_cached;
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  res.loadavg_1m_end = round(loadavg()[0]!, 2);
  return res;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const res = await benchEvaluate({
    mode: (opt('mode') ?? 'bn') as 'bn' | 'whole',
    models: opt('models') !== undefined ? Number(opt('models')) : undefined,
    batch: opt('batch') !== undefined ? Number(opt('batch')) : undefined,
    torch: !args.includes('--no-torch'),
  });
  process.stdout.write(`${JSON.stringify(res)}\n`);
}
