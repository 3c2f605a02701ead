/**
 * The webgpu backend agrees with the js backend to 1e-4 (relative to the tensor's scale) on every
 * op, forward and backward, and on a few cnn-s training steps. On a machine without a GPU this
 * runs on Mesa's llvmpipe through Dawn's OpenGL ES backend; the whole file is skipped, with the
 * reason, when no adapter is available.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readArgmaxRows, type Backend } from '../../src/backend/backend.js';
import { jsBackend } from '../../src/backend/index.js';
import { WebgpuBackend, loadWebgpu } from '../../src/backend/webgpu.js';
import { measureLatency } from '../../src/eval/cost.js';
import { CnnS } from '../../src/models/cnn-s.js';
import { LatentDenoiser } from '../../src/pdiff/denoiser.js';
import { denoiserEpsModel } from '../../src/pdiff/samplers.js';
import { AdamW, SGD } from '../../src/nn/optim.js';
import * as ops from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, backward, dispose, noGrad, scope, shapeSize } from '../../src/tensor/tensor.js';
import { BASE_CASES, labels, runOn, type Case } from '../helpers/op-cases.js';
import { assertClose, relToMax } from '../helpers/assert.js';

const loaded = loadWebgpu();
const js = jsBackend('float32');

/** The CASES of agreement.test.ts, then cases for the paths those do not reach. */
const CASES: Case[] = [
  ...BASE_CASES,
  // ---- beyond agreement.test.ts
  ['gelu tanh', [[4, 33]], ([x]) => ops.gelu(x!, 'tanh')],
  ['exp log sqrt', [[4, 9]], ([x]) => ops.log(ops.sqrt(ops.addScalar(ops.exp(x!), 0.5)))],
  ['square abs neg affine', [[4, 9]], ([x]) => ops.affine(ops.neg(ops.abs(ops.square(x!))), 0.5, 0.25)],
  ['sub broadcast both', [[4, 1, 6], [1, 5, 1]], ([a, b]) => ops.sub(a!, b!)],
  ['div broadcast', [[3, 5, 7], [5, 1]], ([a, b]) => ops.div(a!, ops.addScalar(ops.square(b!), 1))],
  ['sum all (long reduction)', [[7, 300]], ([x]) => ops.sum(x!)],
  ['mean keepdim', [[4, 6, 10]], ([x]) => ops.mean(x!, [1], true)],
  ['bmm shared B', [[3, 17, 23], [23, 9]], ([a, b]) => ops.matmul(a!, b!)],
  ['linear split-K', [[2500, 6], [4, 6], [4]], ([x, w, b]) => ops.linear(x!, w!, b!)],
  ['conv2d split-K', [[16, 2, 16, 16], [3, 2, 3, 3]], ([x, w]) => ops.conv2d(x!, w!, null, { padding: 1 })],
  ['conv2d 1x1', [[2, 5, 9, 9], [4, 5, 1, 1], [4]], ([x, w, b]) => ops.conv2d(x!, w!, b!)],
  ['conv2d s2 p2 k5', [[2, 3, 12, 10], [4, 3, 5, 5]], ([x, w]) => ops.conv2d(x!, w!, null, { stride: [2, 3], padding: 2 })],
  ['maxPool2d overlapping', [[2, 3, 11, 9]], ([x]) => ops.maxPool2d(x!, { kernel: 3, stride: 2, padding: 1 })],
  ['avgPool2d 2x2', [[2, 3, 8, 8]], ([x]) => ops.avgPool2d(x!, { kernel: 2 })],
  ['groupNorm wide, no affine', [[3, 6, 80]], ([x]) => ops.groupNorm(x!, 3, null, null)],
  ['instanceNorm', [[2, 4, 5, 5], [4], [4]], ([x, g, b]) => ops.groupNorm(x!, 4, g!, b!)],
  ['layerNorm no affine', [[5, 3, 16]], ([x]) => ops.layerNorm(x!, null, null)],
  ['batchNorm no affine', [[8, 5, 3]], ([x]) => ops.batchNorm(x!, null, null, null, null, { training: true })],
  ['softmax wide', [[3, 300]], ([x]) => ops.softmax(x!)],
  ['crossEntropy no smoothing', [[6, 5]], ([x]) => ops.crossEntropy(x!, labels)],
  ['permute 4d', [[2, 3, 4, 5]], ([x]) => ops.permute(x!, [0, 2, 3, 1])],
  ['pad value', [[3, 4]], ([x]) => ops.pad(x!, [[2, 1], [0, 3]], 0.5)],
];

const skip = loaded.ok ? false : `webgpu backend unavailable: ${loaded.reason}`;

/**
 * Call fn(0 .. warmup-1), then fn(warmup .. warmup+n-1) between two readings of the device
 * counters, and require that the second run leaves live buffers flat and creates no buffers and
 * no bind groups (what a loop that gives its memory back the same way each time achieves).
 * Returns the counters' differences.
 */
function assertSteady(be: WebgpuBackend, warmup: number, n: number, what: string, fn: (i: number) => void): { dispatches: number; waits: number } {
  for (let i = 0; i < warmup; i++) fn(i);
  const a = be.memoryStats();
  for (let i = warmup; i < warmup + n; i++) fn(i);
  const b = be.memoryStats();
  assert.equal(b.liveBuffers, a.liveBuffers, 'live device buffers');
  assert.equal(b.createdBuffers - a.createdBuffers, 0, `device buffers created in ${n} ${what}`);
  assert.equal(b.bindGroups - a.bindGroups, 0, `bind groups created in ${n} ${what} (of ${b.dispatches - a.dispatches} dispatches)`);
  return { dispatches: b.dispatches - a.dispatches, waits: b.waits - a.waits };
}
const gpu = loaded.ok ? loaded.backend : (null as unknown as Backend);

describe('webgpu and js backends agree to 1e-4', { skip }, () => {
  it('names its adapter', () => {
    assert.equal(gpu.name, 'webgpu');
    assert.match(gpu.description, /^WebGPU \(Dawn/);
  });

  for (const c of CASES) {
    it(c[0], () => {
      const a = runOn(gpu, c, 7), b = runOn(js, c, 7);
      assert.equal(a.length, b.length);
      a.forEach((arr, i) => assertClose(arr, b[i]!, relToMax(1e-4, 1e-10), `${c[0]} ${i === 0 ? 'output' : `grad ${i - 1}`}`));
    });
  }

  it('every op writes each element of its empty() outputs (they start as NaN with poisonEmpty)', () => {
    const g = gpu as WebgpuBackend;
    g.poisonEmpty = true;
    try {
      assert.ok(Number.isNaN(gpu.read(gpu.empty(3))[1]!));
      for (const c of CASES) {
        const a = runOn(gpu, c, 11), b = runOn(js, c, 11);
        a.forEach((arr, i) => assertClose(arr, b[i]!, relToMax(1e-4, 1e-10), `${c[0]} ${i === 0 ? 'output' : `grad ${i - 1}`} (poisoned empty)`));
      }
    } finally {
      g.poisonEmpty = false;
    }
  });

  it('memory: alloc, fromArray, read, write, fill, clone', () => {
    const z = gpu.alloc(40);
    assert.deepEqual(Array.from(gpu.read(z)), new Array(40).fill(0));
    const s = gpu.fromArray(Array.from({ length: 37 }, (_, i) => i));
    gpu.write(s, [100, 101, 102], 5);
    const c = gpu.clone(s);
    gpu.fill(s, 2.5);
    const expect = Array.from({ length: 37 }, (_, i) => (i >= 5 && i < 8 ? 95 + i : i));
    assert.deepEqual(Array.from(gpu.read(c)), expect);
    assert.deepEqual(Array.from(gpu.read(s)), new Array(37).fill(2.5));
    assert.throws(() => gpu.write(s, [1, 2], 36), RangeError);
    // a small storage written on the device (not only from the host) reads back its device value
    const t = gpu.fromArray([1, 2, 3]);
    gpu.unary('affine', t, t, 2, 1);
    assert.deepEqual(Array.from(gpu.read(t)), [3, 5, 7]);
  });

  it('reductions: sumSquares, countNonFinite, argmaxRows, axpy', () => {
    const rng = new Rng(3);
    const data = rng.fillNormal(new Float32Array(5000));
    const g = gpu.fromArray(data), j = js.fromArray(data);
    assert.ok(Math.abs(gpu.sumSquares(g) - js.sumSquares(j)) <= 1e-4 * js.sumSquares(j));
    const bad = Float32Array.from(data);
    bad[3] = NaN; bad[77] = Infinity; bad[4999] = -Infinity;
    assert.equal(gpu.countNonFinite(gpu.fromArray(bad)), 3);
    assert.equal(gpu.countNonFinite(g), 0);
    const rows = 50, cols = 100;
    const outG = gpu.allocIndex(rows), outJ = js.allocIndex(rows);
    gpu.argmaxRows(g, rows, cols, outG);
    js.argmaxRows(j, rows, cols, outJ);
    assert.deepEqual(gpu.readIndex(outG), js.readIndex(outJ));
    const ties = gpu.fromArray([1, 3, 3, 0, 0, 0]);
    const t = new Int32Array(2);
    readArgmaxRows(gpu, ties, 2, 3, t);
    assert.deepEqual(Array.from(t), [1, 0]);
    // an index storage is not a float storage, nor the reverse
    assert.throws(() => gpu.read(outG), TypeError);
    assert.throws(() => gpu.readIndex(g), TypeError);
    assert.throws(() => gpu.argmaxRows(g, rows, cols, gpu.alloc(rows)), TypeError);
    const y = gpu.fromArray(data.subarray(0, 100)), yj = js.fromArray(data.subarray(0, 100));
    gpu.axpy(-0.5, g, y); js.axpy(-0.5, j, yj);
    assertClose(gpu.read(y), js.read(yj).subarray(0, 100), relToMax(1e-4, 1e-10), 'axpy');
  });

  it('maxPool2d writes the same argmax indices as js, read back exactly with readIndex', () => {
    const rng = new Rng(5);
    const x = rng.fillNormal(new Float32Array(2 * 3 * 6 * 6));
    const geom = { n: 2, c: 3, h: 6, w: 6, kh: 2, kw: 2, sh: 2, sw: 2, ph: 0, pw: 0, oh: 3, ow: 3 };
    const yj = js.alloc(54), yg = gpu.alloc(54);
    const amJ = js.allocIndex(54), amG = gpu.allocIndex(54);
    js.maxPool2dForward(js.fromArray(x), yj, amJ, geom);
    gpu.maxPool2dForward(gpu.fromArray(x), yg, amG, geom);
    assert.deepEqual(gpu.readIndex(amG), js.readIndex(amJ));
    const gy = rng.fillNormal(new Float32Array(54));
    const gxJ = js.alloc(x.length), gxG = gpu.alloc(x.length);
    js.maxPool2dBackward(js.fromArray(gy), amJ, gxJ, geom);
    gpu.maxPool2dBackward(gpu.fromArray(gy), amG, gxG, geom);
    assertClose(gpu.read(gxG), js.read(gxJ), relToMax(1e-4, 1e-10), 'maxPool2d backward');
    gpu.release(amG);
  });

  it('a queued command keeps its own copy of the argument objects (the caller may change them after the call)', () => {
    const rng = new Rng(17);
    const data = rng.fillNormal(new Float32Array(24));
    const run = (be: Backend, mutate: boolean): Array<Float32Array | Float64Array> => {
      const x = be.fromArray(data), w = be.fromArray(data.subarray(0, 12));
      const mm = { a: x, b: w, c: be.alloc(8 * 4), batch: 1, m: 8, n: 4, k: 3, transB: true };
      be.matmul(mm);
      const sm = { rows: 4, cols: 6, log: true };
      const ys = be.alloc(24);
      be.softmax(x, ys, sm);
      const g = { n: 2, c: 3, s: 4, eps: 1e-5 };
      const yb = be.alloc(24);
      be.batchNormEvalForward({ x, gamma: null, beta: null, runMean: be.fromArray([0.1, 0.2, 0.3]), runVar: be.fromArray([1, 2, 3]), y: yb }, g);
      if (mutate) { mm.m = 1; mm.transB = false; sm.rows = 1; sm.log = false; g.n = 1; g.eps = 100; }
      return [be.read(mm.c), be.read(ys), be.read(yb)];
    };
    const a = run(gpu, true), r = run(js, false);
    a.forEach((arr, i) => assertClose(arr, r[i]!, relToMax(1e-4, 1e-10), `args copy ${i}`));
  });

  it('batch norm: eval mode forward / backward and running statistics', () => {
    const run = (be: Backend): Float32Array[] => {
      const rng = new Rng(11);
      const t = (shape: number[], req = false, off = 0): Tensor =>
        new Tensor(be.fromArray(rng.fillNormal(new Float32Array(shapeSize(shape))).map((v) => v + off)), shape, be, req);
      const x = t([6, 4, 5], true, 3), g = t([4], true), b = t([4], true);
      const rm = t([4]), rv = new Tensor(be.fromArray([0.5, 1, 2, 3]), [4], be);
      ops.batchNorm(x, g, b, rm, rv, { training: true, momentum: 0.2 });
      const y = ops.batchNorm(x, g, b, rm, rv, { training: false });
      backward(ops.sum(ops.mul(y, t([6, 4, 5]))));
      return [y, x.grad!, g.grad!, b.grad!, rm, rv].map((z) => Float32Array.from(z.toArray()));
    };
    const a = run(gpu), r = run(js);
    a.forEach((arr, i) => assertClose(arr, r[i]!, relToMax(1e-4, 1e-10), `bn eval ${i}`));
  });

  it('optimisers: Adam, AdamW, SGD (momentum, nesterov, dampening), EMA', () => {
    const run = (be: Backend): Float32Array[] => {
      const rng = new Rng(13);
      const n = 300;
      const p = be.fromArray(rng.fillNormal(new Float32Array(n)));
      const p2 = be.clone(p), p3 = be.clone(p), p4 = be.clone(p);
      const m = be.alloc(n), v = be.alloc(n), m2 = be.alloc(n), v2 = be.alloc(n), buf = be.alloc(n), ema = be.clone(p);
      for (let step = 1; step <= 3; step++) {
        const g = be.fromArray(rng.fillNormal(new Float32Array(n)));
        be.adamStep({ p, g, m, v, lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step, decoupled: false });
        be.adamStep({ p: p2, g, m: m2, v: v2, lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.05, step, decoupled: true });
        be.sgdStep({ p: p3, g, buf, lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 1e-3, nesterov: true, first: step === 1 });
        be.sgdStep({ p: p4, g, buf: null, lr: 0.1, momentum: 0, dampening: 0, weightDecay: 1e-3, nesterov: false, first: step === 1 });
        be.emaUpdate(ema, p, 0.9);
      }
      return [p, p2, p3, p4, m, v, buf, ema].map((s) => Float32Array.from(be.read(s)));
    };
    const a = run(gpu), r = run(js);
    a.forEach((arr, i) => assertClose(arr, r[i]!, relToMax(1e-4, 1e-10), `optimiser state ${i}`));
  });

  it('cnn-s: a few AdamW training steps give the same losses as js', () => {
    const losses = (be: Backend): number[] => {
      const rng = new Rng(0);
      const model = new CnnS({ rng, backend: be }).train();
      const opt = new AdamW(model.parameters(), { lr: 3e-3, weightDecay: 5e-3 });
      const batch = 8;
      const x = new Tensor(be.fromArray(rng.fillNormal(new Float32Array(batch * 28 * 28))), [batch, 1, 28, 28], be);
      const y = Int32Array.from({ length: batch }, () => rng.int(10));
      const out: number[] = [];
      for (let s = 0; s < 3; s++) {
        const loss = ops.crossEntropy(model.forward(x), y);
        out.push(loss.item());
        opt.zeroGrad();
        backward(loss);
        opt.step();
      }
      model.eval();
      out.push(ops.crossEntropy(model.forward(x), y).item());
      return out;
    };
    const a = losses(gpu), b = losses(js);
    for (let i = 0; i < a.length; i++) {
      assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-4 * Math.max(1, Math.abs(b[i]!)), `step ${i}: webgpu loss ${a[i]} vs js ${b[i]}`);
    }
  });

  it('device memory is recycled during a long synchronous loop', () => {
    const be = gpu as WebgpuBackend;
    if (!be.syncCleanup) return; // finalizers only run between tasks here; nothing to check synchronously
    const saved = be.gcBytes;
    be.gcBytes = 1 << 20;
    try {
      const rng = new Rng(1);
      const w = new Tensor(be.fromArray(rng.fillNormal(new Float32Array(64 * 64))), [64, 64], be, true);
      const x = new Tensor(be.fromArray(rng.fillNormal(new Float32Array(32 * 64))), [32, 64], be);
      const before = be.memoryStats();
      let last = 0;
      for (let step = 0; step < 200; step++) {
        const loss = ops.mean(ops.square(ops.relu(ops.linear(x, w, null))));
        backward(loss);
        w.grad = null;
        if (step === 199) last = loss.item();
      }
      const after = be.memoryStats();
      assert.ok(Number.isFinite(last));
      // about 10 device buffers per step: without recycling these would be ~2,000
      assert.ok(after.liveBuffers - before.liveBuffers < 400, `live buffers grew from ${before.liveBuffers} to ${after.liveBuffers}`);
      assert.ok(after.createdBuffers - before.createdBuffers < 400, `created ${after.createdBuffers - before.createdBuffers} buffers`);
      // every 1 MB of allocations forced a collection, and memoryStats counts them with their time
      assert.ok(after.forcedGcs - before.forcedGcs >= 5, `${after.forcedGcs - before.forcedGcs} forced collections`);
      assert.ok(after.forcedGcMs > before.forcedGcMs);
    } finally {
      be.gcBytes = saved;
    }
  });

  it('counts dispatches and bind groups; the same op on the same storages reuses its bind group', () => {
    const be = gpu as WebgpuBackend;
    const a = be.fromArray(new Float32Array(64).fill(1)), b = be.fromArray(new Float32Array(64).fill(2)), c = be.alloc(64);
    const add = (x: typeof a, y: typeof a): void => be.binary('add', x, [64], y, [64], c, [64]);
    add(a, b);
    const s0 = be.memoryStats();
    for (let i = 0; i < 5; i++) add(a, b);
    const s1 = be.memoryStats();
    assert.equal(s1.dispatches - s0.dispatches, 5);
    assert.equal(s1.bindGroups - s0.bindGroups, 0);
    add(b, a); // other buffers in the same slots: a new bind group
    const s2 = be.memoryStats();
    assert.equal(s2.bindGroups - s1.bindGroups, 1);
    assert.deepEqual(Array.from(be.read(c)).slice(0, 2), [3, 3]);
  });

  it('release frees a device buffer at once; the released storage cannot be used again', () => {
    const be = gpu as WebgpuBackend;
    const s = be.fromArray(new Float32Array(1000).fill(3));
    const s0 = be.memoryStats();
    be.release(s);
    const s1 = be.memoryStats();
    assert.equal(s1.liveBuffers, s0.liveBuffers - 1);
    assert.ok(s1.pooledBytes > s0.pooledBytes, 'the buffer went back to the pool');
    assert.throws(() => be.read(s), /used after release/);
    be.release(s); // twice: nothing happens (dispose and scope may both see a storage)
    assert.equal(be.memoryStats().liveBuffers, s1.liveBuffers);
  });

  it('backward releases the gradients passed between ops (fewer device buffers live after it)', () => {
    const be = gpu as WebgpuBackend;
    const xs = new Rng(3).fillNormal(new Float32Array(4096));
    const x = new Tensor(be.fromArray(xs), [64, 64], be, true);
    const live = (): number => be.memoryStats().liveBuffers;
    const y = ops.sum(ops.relu(ops.mulScalar(ops.tanh(x), 2)));
    const before = live();
    backward(y);
    // five gradients pass between the ops (seed, sum, relu, mulScalar, tanh) and sum's backward
    // broadcasts from a one-element zero; only x.grad stays live
    assert.ok(live() - before <= 1, `${live() - before} more live buffers after backward`);
    const g = be.read(x.grad!.storage);
    for (let i = 0; i < xs.length; i++) {
      const t = Math.tanh(xs[i]!);
      assert.ok(Math.abs(g[i]! - (t > 0 ? 2 * (1 - t * t) : 0)) < 1e-5, `x.grad[${i}] = ${g[i]}`);
    }
  });

  it('training steps with freeGraph reuse the same device memory: no buffers or bind groups made after warm-up', () => {
    const be = gpu as WebgpuBackend;
    const rng = new Rng(4);
    const model = new CnnS({ rng, backend: be }).train();
    const opt = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 5e-3 });
    const x = new Tensor(be.fromArray(rng.fillNormal(new Float32Array(16 * 784))), [16, 1, 28, 28], be);
    const y = Int32Array.from({ length: 16 }, (_, i) => i % 10);
    const losses: number[] = [];
    const step = (): void => {
      const loss = ops.crossEntropy(model.forward(x), y);
      opt.zeroGrad();
      backward(loss, { freeGraph: true });
      opt.step();
      losses.push(loss.item());
      dispose(loss);
    };
    // every activation, gradient, statistic, argmax and temporary of a step is released in the
    // same order each step, and the pool hands out the oldest free buffer: the same buffers meet
    // the same kernels again
    const d = assertSteady(be, 3, 4, 'steps', step);
    assert.equal(d.waits, 4, 'the loss read at the end is the only wait for the device per step');
    assert.ok(losses.every(Number.isFinite) && losses[6]! < losses[0]!, `losses ${losses.map((l) => l.toFixed(3)).join(' ')}`);
  });

  it('the denoiser too: its time embedding (a graphConstant) goes with the activations', () => {
    const be = gpu as WebgpuBackend;
    const rng = new Rng(9);
    const net = new LatentDenoiser({ d: 16, channels: [1, 4, 8, 8, 8, 8, 8, 4, 1], kernel: 3, rng, backend: be }).train();
    const opt = new AdamW(net.parameters(), { lr: 1e-3, weightDecay: 0 });
    const xt = new Tensor(be.fromArray(rng.fillNormal(new Float32Array(6 * 16))), [6, 16], be);
    const eps = new Tensor(be.fromArray(rng.fillNormal(new Float32Array(6 * 16))), [6, 16], be);
    const step = (i: number): void => {
      const t = Int32Array.from({ length: 6 }, (_, j) => (i * 7 + j * 13) % 1000);
      const loss = ops.mseLoss(net.forward(xt, t), eps);
      opt.zeroGrad();
      backward(loss, { freeGraph: true });
      opt.step();
      assert.ok(Number.isFinite(loss.item()));
      dispose(loss);
    };
    assertSteady(be, 3, 4, 'steps', step);
  });

  it('sampling: each denoiser call gives its device memory back (no buffers or bind groups made after the first)', () => {
    const be = gpu as WebgpuBackend;
    const net = new LatentDenoiser({ d: 16, channels: [1, 4, 8, 8, 8, 8, 8, 4, 1], kernel: 3, rng: new Rng(10), backend: be });
    const eps = denoiserEpsModel(net);
    const x = new Rng(11).fillNormal(new Float32Array(5 * 16)) as Float32Array;
    assertSteady(be, 2, 7, 'calls', (i) => eps(x, 999 - i, 5, 16));
  });

  it('scope gives a no-grad forward pass\'s device memory back at its end', () => {
    const be = gpu as WebgpuBackend;
    const model = new CnnS({ rng: new Rng(5), backend: be }).eval();
    const x = new Tensor(be.fromArray(new Rng(6).fillNormal(new Float32Array(8 * 784))), [8, 1, 28, 28], be);
    const live = (): number => be.memoryStats().liveBuffers;
    const before = live();
    const logits = scope(() => noGrad(() => model.forward(x)));
    assert.equal(live() - before, 1, 'only the returned logits stay live');
    const kept = Array.from(logits.toArray());
    dispose(logits);
    assert.equal(live(), before);
    scope(() => { noGrad(() => model.forward(x)).toArray(); });
    assert.equal(live(), before, 'nothing stays live when nothing is returned');
    // the same pass without a scope leaves its tensors to the collector
    const y = noGrad(() => model.forward(x));
    assert.ok(live() - before > 5, `${live() - before} buffers live without a scope`);
    assert.deepEqual(Array.from(y.toArray()), kept);
    // a training step inside a scope: what freeGraph or dispose released is not released again
    const w = new Tensor(be.fromArray(new Rng(7).fillNormal(new Float32Array(40))), [10, 4], be, true);
    const xin = new Tensor(be.fromArray(new Rng(8).fillNormal(new Float32Array(12))), [3, 4], be);
    const before2 = live();
    scope(() => {
      const loss = ops.mean(ops.square(ops.relu(ops.linear(xin, w, null))));
      backward(loss, { freeGraph: true });
      dispose(loss);
      dispose(loss);
    });
    assert.equal(live() - before2, 1, 'only w.grad stays live');
  });

  it('measureLatency waits for the device: the same order as a forward pass read back', () => {
    const model = new CnnS({ rng: new Rng(0), backend: gpu }).eval();
    const x = new Tensor(gpu.fromArray(new Rng(1).fillNormal(new Float32Array(32 * 784))), [32, 1, 28, 28], gpu);
    model.forward(x).toArray();
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      model.forward(x).toArray();
      times.push(performance.now() - t0);
    }
    const sync = Math.min(...times);
    const l = measureLatency(model, [1, 28, 28], 32, { repeats: 3, warmup: 1 });
    // queueing alone takes a small fraction of a pass on any device
    assert.ok(l.medianMs >= 0.3 * sync, `latency ${l.medianMs.toFixed(3)} ms, a forward pass read back ${sync.toFixed(3)} ms`);
  });

  it('SGD through the optimiser class on a linear model', () => {
    const run = (be: Backend): Float32Array => {
      const rng = new Rng(21);
      const w = new Tensor(be.fromArray(rng.fillNormal(new Float32Array(12))), [3, 4], be, true);
      const x = new Tensor(be.fromArray(rng.fillNormal(new Float32Array(20))), [5, 4], be);
      const opt = new SGD([w], { lr: 0.05, momentum: 0.9 });
      for (let i = 0; i < 3; i++) {
        opt.zeroGrad();
        backward(ops.mean(ops.square(ops.linear(x, w, null))));
        opt.step();
      }
      return Float32Array.from(w.toArray());
    };
    assertClose(run(gpu), run(js), relToMax(1e-4, 1e-10), 'sgd weights');
  });
});
