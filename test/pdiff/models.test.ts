import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blasBackend, getBackend } from '../../src/backend/index.js';
import * as ops from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, backward, noGrad } from '../../src/tensor/tensor.js';
import { ParamAutoencoder } from '../../src/pdiff/autoencoder.js';
import { LatentDenoiser } from '../../src/pdiff/denoiser.js';
import { denoiserEpsModel } from '../../src/pdiff/samplers.js';
import { ConfigError, ShapeError } from '../../src/util/errors.js';

const be = getBackend();

function randn(shape: number[], rng: Rng, requiresGrad = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(be.fromArray(rng.fillNormal(new Float32Array(n))), shape, be, requiresGrad);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('ParamAutoencoder (default bn sizes): shapes, state_dict names and parameter count', () => {
  const c = [16, 32, 64, 64, 16], L = 192, d = 64;
  const ae = new ParamAutoencoder({ L, channels: c, latentDim: d, rng: new Rng(0), backend: be });
  const x = randn([5, L], new Rng(1));
  const h = ae.encode(x);
  assert.deepEqual(h.shape, [5, d]);
  assert.deepEqual(ae.decode(h).shape, [5, L]);
  const sd = new Map(ae.stateDict().map(([n, t]) => [n, t.shape]));
  assert.deepEqual(sd.get('encoder.0.conv.weight'), [16, 1, 7]);
  assert.deepEqual(sd.get('encoder.4.bn.running_var'), [16]);
  assert.deepEqual(sd.get('enc_fc1.weight'), [d, 16 * (L / 32)]);
  assert.deepEqual(sd.get('enc_fc2.weight'), [d, d]);
  assert.deepEqual(sd.get('dec_fc.weight'), [16 * (L / 32), d]);
  assert.deepEqual(sd.get('decoder.0.conv.weight'), [16, 64, 7]); // ConvTranspose1d [in, out, k]: c5 -> c4
  assert.deepEqual(sd.get('decoder.3.conv.weight'), [32, 16, 7]); // c2 -> c1
  assert.deepEqual(sd.get('decoder.4.conv.weight'), [16, 16, 7]); // c1 -> c1
  assert.deepEqual(sd.get('out_conv.weight'), [1, 16, 7]);
  assert.equal(ae.stateDict()[0]![0], 'encoder.0.conv.weight');
  assert.equal(ae.stateDict().at(-1)![0], 'out_conv.bias');
  // Parameter count from the layer formulas.
  let expected = 0;
  let prev = 1;
  for (const ci of c) { expected += prev * ci * 7 + ci + 2 * ci; prev = ci; }
  const flat = 16 * (L / 32);
  expected += flat * d + d + d * d + d + d * flat + flat;
  const r = [...c].reverse();
  for (let i = 0; i < 4; i++) expected += r[i]! * r[i + 1]! * 7 + r[i + 1]! + 2 * r[i + 1]!;
  expected += 16 * 16 * 7 + 16 + 2 * 16 + 16 * 7 + 1;
  assert.equal(ae.numParameters(), expected);
  assert.equal(expected, 127297);
});

test('ParamAutoencoder rejects lengths that are not multiples of 32 and bad channel lists', () => {
  const rng = new Rng(0);
  assert.throws(() => new ParamAutoencoder({ L: 100, channels: [4, 4, 4, 4, 4], latentDim: 8, rng, backend: be }), /multiple of 32.*got 100/);
  assert.throws(() => new ParamAutoencoder({ L: 64, channels: [4, 4, 4, 4], latentDim: 8, rng, backend: be }), ConfigError);
  assert.throws(() => new ParamAutoencoder({ L: 64, channels: [4, 4, 4, 4, 4], latentDim: 8, kernel: 4, rng, backend: be }), /ae.kernel/);
  const ae = new ParamAutoencoder({ L: 64, channels: [4, 4, 4, 4, 4], latentDim: 8, rng, backend: be });
  assert.throws(() => ae.encode(randn([2, 32], rng)), /expected x \[B, 64\], got \[2, 32\]/);
  assert.throws(() => ae.decode(randn([2, 4], rng)), ShapeError);
});

test('ParamAutoencoder in eval mode treats rows independently (BN running statistics)', () => {
  const rng = new Rng(3);
  const ae = new ParamAutoencoder({ L: 64, channels: [4, 8, 8, 8, 4], latentDim: 8, rng, backend: be });
  noGrad(() => ae.forward(randn([8, 64], rng))); // a train-mode pass moves the running stats
  ae.eval();
  const x = randn([4, 64], rng);
  const all = noGrad(() => ae.forward(x)).toArray();
  const one = noGrad(() => ae.forward(ops.slice(x, 0, 2, 3))).toArray();
  assert.ok(maxAbsDiff(all.subarray(2 * 64, 3 * 64), one) < 1e-5);
});

test('LatentDenoiser (default channels): shapes, state_dict names, gradients reach every parameter', () => {
  const d = 16, ch = [1, 4, 8, 8, 16, 8, 8, 4, 1];
  const rng = new Rng(5);
  const net = new LatentDenoiser({ d, channels: ch, rng, backend: be });
  const names = net.stateDict().map(([n]) => n);
  assert.deepEqual(names.slice(0, 4), ['time_embed.0.weight', 'time_embed.0.bias', 'time_embed.2.weight', 'time_embed.2.bias']);
  assert.equal(names.at(-2), 'blocks.7.conv.weight');
  assert.equal(names.at(-1), 'blocks.7.conv.bias');
  assert.ok(!names.includes('blocks.7.bn.weight'), 'the last conv has no norm');
  const sd = new Map(net.stateDict().map(([n, t]) => [n, t.shape]));
  assert.deepEqual(sd.get('time_embed.0.weight'), [d, 256]);
  assert.deepEqual(sd.get('blocks.3.conv.weight'), [16, 8, 7]);
  assert.deepEqual(sd.get('blocks.4.conv.weight'), [8, 16, 7]);
  assert.deepEqual(sd.get('blocks.6.bn.running_mean'), [4]);
  const x = randn([6, d], rng);
  const y = net.forward(x, Int32Array.from([0, 1, 2, 500, 998, 999]));
  assert.deepEqual(y.shape, [6, d]);
  backward(ops.sum(ops.square(y)));
  for (const [n, p] of net.namedParameters()) {
    assert.ok(p.grad, `${n} got no gradient`);
    assert.ok(p.grad.toArray().some((v) => v !== 0), `${n} has an all-zero gradient`);
  }
  const spec = new LatentDenoiser({ d: 64, channels: [1, 16, 32, 64, 128, 64, 32, 16, 1], rng, backend: be });
  assert.equal(spec.numParameters(), 172417);
});

test('LatentDenoiser: one shared timestep equals the same timestep per row; t changes the output', () => {
  const d = 16, rng = new Rng(6);
  const net = new LatentDenoiser({ d, channels: [1, 4, 8, 8, 16, 8, 8, 4, 1], rng, backend: be });
  net.eval();
  const x = randn([3, d], rng);
  const a = noGrad(() => net.forward(x, 250)).toArray();
  const b = noGrad(() => net.forward(x, [250, 250, 250])).toArray();
  assert.ok(maxAbsDiff(a, b) < 1e-6);
  const c = noGrad(() => net.forward(x, 10)).toArray();
  assert.ok(maxAbsDiff(a, c) > 1e-4, 'the time embedding must change the prediction');
  assert.throws(() => net.forward(x, [1, 2]), /expected 3 timesteps/);
  assert.throws(() => net.forward(randn([3, 8], rng), 1), /expected x \[B, 16\]/);
  assert.throws(() => new LatentDenoiser({ d, channels: [1, 4, 8, 8, 16, 8, 8, 8, 1], rng, backend: be }), /mirrored/);
  assert.throws(() => new LatentDenoiser({ d, channels: [2, 4, 8, 8, 16, 8, 8, 4, 1], rng, backend: be }), ConfigError);
});

test('denoiserEpsModel puts the net in eval mode, matches forward and reuses its output buffer', () => {
  const d = 16, rng = new Rng(7);
  const net = new LatentDenoiser({ d, channels: [1, 4, 8, 8, 16, 8, 8, 4, 1], rng, backend: be });
  noGrad(() => net.forward(randn([8, d], rng), Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8]))); // move running stats
  const eps = denoiserEpsModel(net);
  assert.equal(net.training, false);
  const x = rng.fillNormal(new Float32Array(4 * d)) as Float32Array;
  const out1 = eps(x, 42, 4, d);
  const want = noGrad(() => net.forward(new Tensor(be.fromArray(x), [4, d], be), 42)).toArray();
  assert.ok(maxAbsDiff(out1, want) < 1e-6);
  const first = out1.slice();
  const out2 = eps(x, 7, 4, d);
  assert.equal(out2, out1, 'the output buffer is reused for the same n');
  assert.notDeepEqual([...out2], [...first]);
  assert.throws(() => eps(x, 1, 4, 8), /expected x \[4, 16\]/);
});

test('LatentDenoiser in eval mode: the fused conv + BN + ELU pass (blas) gives the bits of the separate ops', () => {
  const blas = blasBackend();
  if (typeof blas === 'string') return; // no addon: nothing fused to compare
  const rng = new Rng(21);
  const den = new LatentDenoiser({ d: 64, channels: [1, 16, 32, 64, 128, 64, 32, 16, 1], rng, backend: blas });
  // running statistics and affine parameters away from their initial 0 / 1, so the BN does something
  for (const [name, t] of den.namedBuffers()) {
    if (name.endsWith('running_var')) blas.write(t.storage, rng.fillUniform(new Float32Array(t.size), 0.3, 2));
    else if (name.endsWith('running_mean')) blas.write(t.storage, rng.fillNormal(new Float32Array(t.size), 0, 0.2));
  }
  for (const [name, p] of den.namedParameters()) if (/\.bn\./.test(name)) blas.write(p.storage, rng.fillNormal(new Float32Array(p.size), 0.5, 0.5));
  den.eval();
  for (const rows of [200, 3]) { // 3 rows: the ELU's separate kernel would be the TS one there, so the fused pass steps aside
    const x = new Tensor(blas.fromArray(rng.fillNormal(new Float32Array(rows * 64))), [rows, 64], blas);
    const t = Array.from({ length: rows }, (_, i) => (i * 37) % 1000);
    const fused = blas.read(noGrad(() => den.forward(x, t)).storage); // nothing needs a gradient: fused
    const plain = blas.read(den.forward(x, t).storage); // the parameters need gradients: the separate ops
    assert.deepEqual(fused, plain, `${rows} rows`);
  }
  // the fused op itself refuses when a tensor needs a gradient, and when elu's separate kernel would not be the C one
  const b0 = den.blocks.items[1]!;
  const x = new Tensor(blas.fromArray(new Float32Array(2 * 16 * 64)), [2, 16, 64], blas);
  const bn = { weight: b0.bn!.weight, bias: b0.bn!.bias, runningMean: b0.bn!.runningMean!, runningVar: b0.bn!.runningVar!, eps: b0.bn!.eps };
  assert.equal(ops.conv1dBnActEval(x, b0.conv.weight, b0.conv.bias, { padding: 3 }, bn, 'elu'), null, 'weights need gradients');
  noGrad(() => {
    assert.notEqual(ops.conv1dBnActEval(x, b0.conv.weight, b0.conv.bias, { padding: 3 }, bn, 'elu'), null, '2 x 32 x 64 outputs');
    const tiny = new Tensor(blas.fromArray(new Float32Array(16 * 4)), [1, 16, 4], blas);
    assert.equal(ops.conv1dBnActEval(tiny, b0.conv.weight, b0.conv.bias, { padding: 3 }, bn, 'elu'), null, '1 x 32 x 4 outputs');
  });
});
