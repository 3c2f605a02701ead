import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getBackend } from '../../src/backend/index.js';
import * as ops from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, backward, noGrad } from '../../src/tensor/tensor.js';
import { LatentDenoiser } from '../../src/pdiff/denoiser.js';
import { encodeCode, nullCondition } from '../../src/pdiff/condition.js';
import { ConfigError, ShapeError } from '../../src/util/errors.js';
import { be64, gradcheck, randT } from '../helpers/gradcheck.js';

const be = getBackend();
const CH = [1, 4, 8, 8, 16, 8, 8, 4, 1];

function randn(shape: number[], rng: Rng): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(be.fromArray(rng.fillNormal(new Float32Array(n))), shape, be);
}

const bits = (a: ArrayLike<number>): Buffer => Buffer.from(Float32Array.from(a).buffer);

/** A conditional denoiser (other init) holding `uncond`'s shared weights and running statistics. */
function conditionalCopy(uncond: LatentDenoiser, condDim: number, seed: number): LatentDenoiser {
  const net = new LatentDenoiser({ d: uncond.d, channels: CH, condDim, rng: new Rng(seed), backend: be });
  net.loadStateDict(uncond.stateDict().map(([n, t]) => [n, { shape: [...t.shape], data: t.toArray() }] as [string, { shape: number[]; data: ArrayLike<number> }]), { strict: false });
  return net;
}

test('conditional LatentDenoiser: cond_embed (no biases) after the unconditional state_dict; same shared init from the same rng', () => {
  const d = 16, c = 10;
  const plain = new LatentDenoiser({ d, channels: CH, rng: new Rng(5), backend: be });
  const cond = new LatentDenoiser({ d, channels: CH, condDim: c, rng: new Rng(5), backend: be });
  const pn = plain.stateDict(), cn = cond.stateDict();
  assert.deepEqual(cn.slice(0, pn.length).map(([n]) => n), pn.map(([n]) => n));
  assert.deepEqual(cn.slice(pn.length).map(([n, t]) => [n, t.shape]), [['cond_embed.0.weight', [d, c]], ['cond_embed.2.weight', [d, d]]]);
  pn.forEach(([n, t], i) => assert.ok(bits(t.toArray()).equals(bits(cn[i]![1].toArray())), `${n}: the shared weights draw the same values`));
  assert.equal(plain.condDim, 0);
  assert.equal(plain.condEmbed, null);
  assert.equal(cond.numParameters() - plain.numParameters(), d * c + d * d);
  assert.throws(() => new LatentDenoiser({ d, channels: CH, condDim: -1, rng: new Rng(0), backend: be }), (e: unknown) => e instanceof ConfigError && /condDim: expected a non-negative integer/.test(e.message));
  assert.throws(() => new LatentDenoiser({ d, channels: CH, condDim: 1.5, rng: new Rng(0), backend: be }), ConfigError);
});

test('the conditional denoiser with the condition zeroed reproduces the unconditional one bit for bit', () => {
  const d = 16, c = 10, rng = new Rng(8);
  const plain = new LatentDenoiser({ d, channels: CH, rng: new Rng(1), backend: be });
  noGrad(() => plain.forward(randn([8, d], rng), Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8]))); // move the running stats
  const cond = conditionalCopy(plain, c, 2);
  const x = randn([5, d], rng);
  const ts = Int32Array.from([0, 3, 99, 500, 999]);
  const zeros = new Tensor(be.fromArray(nullCondition(c, 5)), [5, c], be);
  const zero1 = new Tensor(be.fromArray(nullCondition(c)), [1, c], be);
  for (const mode of ['eval', 'train'] as const) {
    plain.train(mode === 'train');
    cond.train(mode === 'train');
    const want = noGrad(() => plain.forward(x, ts)).toArray();
    assert.ok(bits(noGrad(() => cond.forward(x, ts, zeros)).toArray()).equals(bits(want)), `${mode}: per-row timesteps, per-row null condition`);
    assert.ok(bits(noGrad(() => cond.forward(x, ts, zero1)).toArray()).equals(bits(want)), `${mode}: one null condition for all rows`);
    const want1 = noGrad(() => plain.forward(x, 250)).toArray();
    assert.ok(bits(noGrad(() => cond.forward(x, 250, zeros)).toArray()).equals(bits(want1)), `${mode}: one timestep, per-row null condition`);
    assert.ok(bits(noGrad(() => cond.forward(x, 250, zero1)).toArray()).equals(bits(want1)), `${mode}: one timestep, one null condition`);
  }
  // A real code changes the prediction, row by row.
  cond.eval();
  const code = new Tensor(be.fromArray(encodeCode('0110010011')), [1, c], be);
  const a = noGrad(() => cond.forward(x, 250, code)).toArray();
  const b = noGrad(() => cond.forward(x, 250, zero1)).toArray();
  assert.ok(a.some((v, i) => Math.abs(v - b[i]!) > 1e-4), 'the condition must change the prediction');
});

test('LatentDenoiser.forward: a missing, misshapen or unexpected condition is a ShapeError', () => {
  const d = 16, c = 3, rng = new Rng(9);
  const plain = new LatentDenoiser({ d, channels: CH, rng, backend: be });
  const cond = new LatentDenoiser({ d, channels: CH, condDim: c, rng, backend: be });
  const x = randn([4, d], rng);
  assert.throws(() => cond.forward(x, 1), (e: unknown) => e instanceof ShapeError && /conditional \(condDim 3\); expected a condition \[4, 3\]/.test(e.message));
  assert.throws(() => cond.forward(x, 1, randn([4, 2], rng)), /expected a condition \[4, 3\] or \[1, 3\], got \[4, 2\]/);
  assert.throws(() => cond.forward(x, 1, randn([2, 3], rng)), /got \[2, 3\]/);
  assert.throws(() => cond.forward(x, 1, randn([12], rng)), /got \[12\]/);
  assert.throws(() => plain.forward(x, 1, randn([4, 3], rng)), (e: unknown) => e instanceof ShapeError && /unconditional \(condDim 0\) and takes no condition/.test(e.message));
});

test('gradients of the condition path match central differences in float64', () => {
  const d = 8, c = 3, rng = new Rng(11);
  const net = new LatentDenoiser({ d, channels: [1, 2, 3, 3, 4, 3, 3, 2, 1], kernel: 3, condDim: c, rng, backend: be64 });
  net.train();
  const x = randT([3, d], rng, be64, 1, false);
  const cond = randT([3, c], rng, be64);
  const ts = Int32Array.from([4, 40, 400]);
  const w1 = net.condEmbed!.fc1.weight, w2 = net.condEmbed!.fc2.weight;
  gradcheck('denoiser cond path', ([, cc]) => net.forward(x, ts, cc), [x, cond, w1, w2], { rtol: 1e-5, atol: 1e-8 });
  // one condition broadcast over the rows: its gradient sums the rows'
  const one = randT([1, c], rng, be64);
  gradcheck('denoiser cond broadcast', ([cc]) => net.forward(x, ts, cc), [one, w1, w2], { rtol: 1e-5, atol: 1e-8 });
  // the rest of the net still gets gradients through the conditional forward
  for (const p of net.parameters()) p.grad = null;
  backward(ops.sum(ops.square(net.forward(x, ts, cond))));
  for (const [n, p] of net.namedParameters()) assert.ok(p.grad?.toArray().some((v) => v !== 0), `${n} got no gradient`);
});
