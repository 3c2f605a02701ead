/**
 * Engine benchmark: one training step of the SPEC's cnn-s (batch 128, 1x28x28, forward + backward +
 * AdamW), of the parameter autoencoder at its default batch, and of the latent denoiser; sgemm
 * GFLOP/s; the fixed cost of one small op (small_op_us); and, where PyTorch is importable, the same
 * steps in PyTorch (2 threads) with ratios.
 */
import { fileURLToPath } from 'node:url';
import type { Backend } from '../src/backend/backend.js';
import { resolveBackend } from '../src/backend/index.js';
import { CnnS } from '../src/models/cnn-s.js';
import { buildClassifier, type Arch, type ModelOptions } from '../src/models/index.js';
import type { Module } from '../src/nn/module.js';
import { AdamW } from '../src/nn/optim.js';
import { ParamAutoencoder } from '../src/pdiff/autoencoder.js';
import { LatentDenoiser } from '../src/pdiff/denoiser.js';
import * as ops from '../src/tensor/ops.js';
import { Rng } from '../src/tensor/random.js';
import { Tensor, backward, dispose } from '../src/tensor/tensor.js';
import { benchSgemm } from './sgemm.js';
import { medianMs, round, runTorch, torchAvailable } from './util.js';

function randTensor(be: Backend, shape: number[], rng: Rng): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(be.fromArray(rng.fillNormal(new Float32Array(n))), shape, be);
}

/**
 * Median ms of one classifier training step: batch 128 of 1x28x28 drawn from `rng` after the model
 * was built from it, cross-entropy, backward, AdamW.
 */
function classifierStepMs(be: Backend, model: Module & { forward(x: Tensor): Tensor }, rng: Rng, opt: { lr: number; weightDecay: number }, steps: number, warmup: number): number {
  const adam = new AdamW(model.parameters(), opt);
  const x = randTensor(be, [128, 1, 28, 28], rng);
  const y = Int32Array.from({ length: 128 }, () => rng.int(10));
  return medianMs(() => {
    const loss = ops.crossEntropy(model.forward(x), y);
    adam.zeroGrad();
    backward(loss, { freeGraph: true });
    adam.step();
    loss.item(); // a device backend must finish the step before the clock stops
    dispose(loss);
  }, steps, warmup);
}

export function cnnStepMs(be: Backend, steps = 20): number {
  const rng = new Rng(0);
  return classifierStepMs(be, new CnnS({ rng, backend: be }).train(), rng, { lr: 3e-3, weightDecay: 5e-3 }, steps, 3);
}

/** The Fashion-MNIST presets' architectures (src/config/presets.ts) timed by archStepMs, by result key. */
export const BENCH_ARCHS: Record<string, { arch: Arch; model: ModelOptions }> = {
  resnet20: { arch: 'resnet20', model: {} },
  effnet_s: { arch: 'efficientnet-s', model: {} },
  vit: { arch: 'vit', model: { vit: { patchSize: 7, layers: 4, heads: 4, hidden: 64, mlp: 128 } } },
};

/** One training step of a preset's architecture: batch 128, 1x28x28, forward + backward + AdamW, train mode. */
export function archStepMs(be: Backend, key: string, steps = 10): number {
  const spec = BENCH_ARCHS[key]!;
  const rng = new Rng(0);
  const model = buildClassifier(spec.arch, { rng, backend: be, inShape: [1, 28, 28], numClasses: 10, model: spec.model }).train();
  return classifierStepMs(be, model, rng, { lr: 1e-3, weightDecay: 5e-4 }, steps, 2);
}

export function aeStepMs(be: Backend, opts: { L: number; channels: number[]; latent: number; batch: number }, steps = 20): number {
  const rng = new Rng(0);
  const ae = new ParamAutoencoder({ L: opts.L, channels: opts.channels, latentDim: opts.latent, kernel: 7, rng, backend: be }).train();
  const opt = new AdamW(ae.parameters(), { lr: 1e-3, weightDecay: 0 });
  const x0 = randTensor(be, [opts.batch, opts.L], rng);
  return medianMs(() => {
    const nx = ops.mulScalar(randTensor(be, [opts.batch, opts.L], rng), 0.001);
    const nh = ops.mulScalar(randTensor(be, [opts.batch, opts.latent], rng), 0.1);
    const x = ops.add(x0, nx);
    const h = ops.add(ae.encode(x), nh);
    const loss = ops.mseLoss(ae.decode(h), x);
    opt.zeroGrad();
    backward(loss, { freeGraph: true });
    opt.step();
    loss.item(); // a device backend must finish the step before the clock stops
    dispose(loss, nx, nh, x); // the inputs made for this step (the random tensors themselves are left to the collector)
  }, steps, 3);
}

export function ddpmStepMs(be: Backend, steps = 20): number {
  const rng = new Rng(0);
  const d = 64, B = 50;
  const net = new LatentDenoiser({ d, channels: [1, 16, 32, 64, 128, 64, 32, 16, 1], kernel: 7, rng, backend: be }).train();
  const opt = new AdamW(net.parameters(), { lr: 1e-3, weightDecay: 0 });
  const xt = randTensor(be, [B, d], rng);
  const eps = randTensor(be, [B, d], rng);
  const t = Int32Array.from({ length: B }, () => rng.int(1000));
  return medianMs(() => {
    const loss = ops.mseLoss(net.forward(xt, t), eps);
    opt.zeroGrad();
    backward(loss, { freeGraph: true });
    opt.step();
    loss.item(); // a device backend must finish the step before the clock stops
    dispose(loss);
  }, steps, 3);
}

/**
 * Per cnn-s training step (batch 128) on a backend with memoryStats (webgpu): dispatches, bind
 * groups created, device buffers created, milliseconds of forced garbage collection and waits
 * for the device, averaged over 30 steps after 3 warm-up steps. Bind groups and buffers are
 * created when the step's tensors get buffers the device has not seen with that kernel, a full
 * collection is forced after every PDIFF_WEBGPU_GC_MB of device allocations left to the collector
 * (so that collected handles free their buffers), and each wait leaves the GPU idle while the
 * next commands are prepared: fixed costs per step that bound small networks on a GPU.
 */
export function cnnStepCounts(be: Backend): Record<string, number> | null {
  const stats = (be as Partial<{ memoryStats(): { createdBuffers: number; dispatches: number; bindGroups: number; forcedGcs: number; forcedGcMs: number; waits: number } }>).memoryStats;
  if (!stats) return null;
  const rng = new Rng(0);
  const model = new CnnS({ rng, backend: be }).train();
  const opt = new AdamW(model.parameters(), { lr: 3e-3, weightDecay: 5e-3 });
  const x = randTensor(be, [128, 1, 28, 28], rng);
  const y = Int32Array.from({ length: 128 }, () => rng.int(10));
  const step = (): void => {
    const loss = ops.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    backward(loss, { freeGraph: true });
    opt.step();
    loss.item();
    dispose(loss);
  };
  for (let i = 0; i < 3; i++) step();
  const a = stats.call(be);
  const n = 30;
  for (let i = 0; i < n; i++) step();
  const b = stats.call(be);
  return {
    cnn_s_dispatches_per_step: round((b.dispatches - a.dispatches) / n, 1),
    cnn_s_bind_groups_per_step: round((b.bindGroups - a.bindGroups) / n, 1),
    cnn_s_buffers_created_per_step: round((b.createdBuffers - a.createdBuffers) / n, 1),
    cnn_s_forced_gc_ms_per_step: round((b.forcedGcMs - a.forcedGcMs) / n, 2),
    cnn_s_waits_per_step: round((b.waits - a.waits) / n, 1),
  };
}

/**
 * GFLOP/s of ops.matmul on device-resident n x n operands (backends other than js/blas, e.g.
 * webgpu): `reps` products enqueued back to back, one read at the end so the clock stops when the
 * device is done; median of 5 such batches after a warm-up batch. Output tensors are dropped as
 * they go, so the backend's buffer pool recycles them.
 */
export function deviceSgemmGflops(be: Backend, n: number, reps: number): number {
  const rng = new Rng(1);
  const a = randTensor(be, [n, n], rng), b = randTensor(be, [n, n], rng);
  const batch = (): void => {
    let c: Tensor | null = null;
    for (let i = 0; i < reps; i++) c = ops.matmul(a, b);
    c!.backend.read(c!.storage);
  };
  const ms = medianMs(batch, 5, 1);
  return (2 * n * n * n * reps) / (ms / 1000) / 1e9;
}

/**
 * Microseconds per elementwise op on a 4-element tensor (k pairs of add + mul, one read at the
 * end; best of 3): the fixed cost of one op, which bounds a step of small networks on a device
 * backend (command queueing, the worker, bind groups, the dispatch).
 */
export function smallOpUs(be: Backend, k = 5000): number {
  const x = new Tensor(be.fromArray(new Float32Array(4).fill(1)), [4], be);
  const run = (n: number): number => {
    let y = x;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) y = ops.mulScalar(ops.addScalar(y, 1), 0.5);
    y.toArray();
    return performance.now() - t0;
  };
  run(200);
  return (Math.min(run(k), run(k), run(k)) * 1000) / (2 * k);
}

/** Timed steps per measurement: BENCH_STEPS (default 20; e.g. 3 on a software adapter). */
const STEPS = Number(process.env.BENCH_STEPS) || 20;

export async function benchEngine(opts: { backend?: string; torch?: boolean } = {}): Promise<Record<string, number | string | null>> {
  const be = resolveBackend((opts.backend ?? 'auto') as 'auto');
  const out: Record<string, number | string | null> = { bench: 'engine', backend: be.name, device: be.description };
  out.cnn_s_train_step_ms = round(cnnStepMs(be, STEPS));
  out.ae_train_step_ms = round(aeStepMs(be, { L: 192, channels: [16, 32, 64, 64, 16], latent: 64, batch: 50 }, STEPS));
  out.ae_whole_train_step_ms = round(aeStepMs(be, { L: 24064, channels: [8, 16, 32, 32, 16], latent: 128, batch: 16 }, Math.min(5, STEPS)));
  out.ddpm_train_step_ms = round(ddpmStepMs(be, STEPS));
  // BENCH_ARCHS=none skips the architectures' steps (several seconds each on a software adapter)
  const archKeys = process.env.BENCH_ARCHS === 'none' ? [] : Object.keys(BENCH_ARCHS);
  for (const k of archKeys) out[`${k}_train_step_ms`] = round(archStepMs(be, k, Math.min(10, STEPS)));
  out.small_op_us = round(smallOpUs(be), 2);
  const device = be.name !== 'js' && be.name !== 'blas';
  if (device) {
    // a GPU needs a large product to fill it; BENCH_SGEMM_N shrinks it on a software adapter
    const n = Number(process.env.BENCH_SGEMM_N) || 2048;
    out.sgemm_size = n;
    out.sgemm_gflops = round(deviceSgemmGflops(be, n, n >= 1024 ? 20 : 2), 1);
    const per = cnnStepCounts(be);
    if (per) Object.assign(out, per);
  } else {
    const s = await benchSgemm({ size: 512 });
    out.sgemm_size = 512;
    out.sgemm_gflops = round(be.name === 'js' ? s.js_gflops : (s.blas_gflops ?? s.js_gflops), 1);
    out.openblas_direct_gflops = s.openblas_direct_gflops === null ? null : round(s.openblas_direct_gflops, 1);
    if (s.openblas_direct_gflops && s.blas_gflops) out.sgemm_fraction_of_openblas = round(s.blas_gflops / s.openblas_direct_gflops);
  }
  if (opts.torch !== false && torchAvailable()) {
    // on a device backend, compare with PyTorch on CUDA when it has a GPU (else its CPU numbers)
    const only = ['cnn_s', 'ae', 'ae_whole', 'ddpm', 'sgemm', 'small_op', ...archKeys].join(',');
    const tArgs = [...(device ? ['--device', 'auto', '--sgemm-size', String(out.sgemm_size)] : []), '--only', only];
    const t = runTorch(fileURLToPath(new URL('./torch/engine.py', import.meta.url)), tArgs);
    if (t) {
      out.torch_version = String(t.torch_version);
      out.torch_device = String(t.device ?? 'cpu');
      for (const k of ['cnn_s_train_step_ms', 'ae_train_step_ms', 'ae_whole_train_step_ms', 'ddpm_train_step_ms', ...archKeys.map((a) => `${a}_train_step_ms`), 'sgemm_gflops', 'small_op_us']) {
        const tv = Number(t[k]);
        out[`torch_${k}`] = round(tv);
        const mine = Number(out[k]);
        // ratio pdiff / PyTorch: below 1 means pdiff is faster (for times) or slower (for GFLOP/s)
        out[`ratio_${k}`] = round(mine / tv);
      }
    }
  } else out.torch = 'not importable: no comparison';
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--backend');
  console.log(JSON.stringify(await benchEngine({ backend: i > 0 ? process.argv[i + 1] : undefined })));
}
