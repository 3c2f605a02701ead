/**
 * The ops EfficientNet and ViT need beyond the dense ones: grouped and depthwise conv2d, matmul
 * with transposed operands, stochastic depth, and nn.Conv2d's groups. Gradients against central
 * finite differences in float64; grouped convolutions also against an independent reference, the
 * dense conv2d of each group's channel slice, concatenated.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Conv2d } from '../../src/nn/layers.js';
import * as ops from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, backward } from '../../src/tensor/tensor.js';
import { ShapeError } from '../../src/util/errors.js';
import { assertClose } from '../helpers/assert.js';
import { be64, gradcheck, randT } from '../helpers/gradcheck.js';

const rng = new Rng(4242);

/** Grouped conv2d as `groups` dense convolutions of channel slices, concatenated (the definition). */
function groupedByDefinition(x: Tensor, w: Tensor, b: Tensor | null, groups: number, stride: number, padding: number): Tensor {
  const c = x.shape[1]! / groups, o = w.shape[0]! / groups;
  const outs: Tensor[] = [];
  for (let j = 0; j < groups; j++) {
    const bj = b === null ? null : ops.slice(b, 0, j * o, (j + 1) * o);
    outs.push(ops.conv2d(ops.slice(x, 1, j * c, (j + 1) * c), ops.slice(w, 0, j * o, (j + 1) * o), bj, { stride, padding }));
  }
  return ops.concat(outs, 1);
}

/** [name, x shape, weight shape, groups, stride, padding] */
const GROUPED: Array<[string, number[], number[], number, number, number]> = [
  ['groups 2, k3 s1 p1', [2, 4, 6, 5], [6, 2, 3, 3], 2, 1, 1],
  ['groups 3, k3 s2 p0', [2, 6, 7, 8], [3, 2, 3, 3], 3, 2, 0],
  ['depthwise k3 s1 p1', [2, 3, 6, 7], [3, 1, 3, 3], 3, 1, 1],
  ['depthwise k3 s2 p1', [2, 3, 7, 6], [3, 1, 3, 3], 3, 2, 1],
  ['depthwise k5 s2 p2', [1, 4, 9, 8], [4, 1, 5, 5], 4, 2, 2],
  ['depthwise k5 s1 p2, multiplier 2', [2, 2, 6, 6], [4, 1, 5, 5], 2, 1, 2],
  ['depthwise k3 s2 p0, odd plane', [1, 2, 5, 4], [2, 1, 3, 3], 2, 2, 0],
];

describe('grouped and depthwise conv2d', () => {
  for (const [name, xs, ws, groups, stride, padding] of GROUPED) {
    it(`${name}: forward and gradients match the per-group definition`, () => {
      const x = randT(xs, rng), w = randT(ws, rng), b = randT([ws[0]!], rng);
      const y = ops.conv2d(x, w, b, { groups, stride, padding });
      const xr = x.detach(), wr = w.detach(), br = b.detach();
      for (const t of [xr, wr, br]) t.requiresGrad = true;
      const yr = groupedByDefinition(xr, wr, br, groups, stride, padding);
      assert.deepEqual(y.shape, yr.shape);
      assertClose(y.toArray(), yr.toArray(), { rtol: 1e-12, atol: 1e-12 }, `${name} output`);
      const up = randT([...y.shape], rng, be64, 1, false);
      // one backward through both graphs (it frees the tape); their leaves are distinct
      backward(ops.add(ops.sum(ops.mul(y, up)), ops.sum(ops.mul(yr, up))));
      for (const [a, r, nm] of [[x, xr, 'x'], [w, wr, 'w'], [b, br, 'b']] as const) {
        assertClose(a.grad!.toArray(), r.grad!.toArray(), { rtol: 1e-12, atol: 1e-12 }, `${name} grad ${nm}`);
      }
    });
    it(`${name}: gradients match finite differences`, () => {
      gradcheck(name, ([x, w, b]) => ops.conv2d(x!, w!, b!, { groups, stride, padding }), [randT(xs, rng), randT(ws, rng), randT([ws[0]!], rng)]);
    });
  }

  it('depthwise without bias, rectangular stride and padding', () => {
    gradcheck('depthwise s(1,2) p(2,1) no bias', ([x, w]) => ops.conv2d(x!, w!, null, { groups: 3, stride: [1, 2], padding: [2, 1] }),
      [randT([2, 3, 5, 7], rng), randT([3, 1, 3, 3], rng)]);
  });

  it('names the shapes when the channels do not split into the groups', () => {
    const x = randT([1, 4, 5, 5], rng, be64, 1, false);
    assert.throws(() => ops.conv2d(x, randT([6, 2, 3, 3], rng, be64, 1, false), null, { groups: 3 }),
      (e: unknown) => e instanceof ShapeError && /3 groups/.test(e.message) && /\[1, 4, 5, 5\]/.test(e.message));
    assert.throws(() => ops.conv2d(x, randT([4, 4, 3, 3], rng, be64, 1, false), null, { groups: 2 }),
      (e: unknown) => e instanceof ShapeError && /\[4, 4, 3, 3\]/.test(e.message) && /groups 2/.test(e.message));
    assert.throws(() => ops.conv2d(x, randT([4, 1, 3, 3], rng, be64, 1, false), null, { groups: 0 }), RangeError);
  });

  it('nn.Conv2d takes groups: weight [out, in / groups, k, k], PyTorch fan-in bound', () => {
    const conv = new Conv2d(8, 16, 3, { rng: new Rng(1), backend: be64, padding: 1, groups: 8 });
    assert.deepEqual(conv.weight.shape, [16, 1, 3, 3]);
    const bound = 1 / Math.sqrt(1 * 3 * 3);
    const wv = conv.weight.toArray();
    assert.ok(wv.every((v) => Math.abs(v) <= bound) && wv.some((v) => Math.abs(v) > bound / 3), 'uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in / groups k k');
    const y = conv.forward(randT([2, 8, 5, 5], rng, be64, 1, false));
    assert.deepEqual(y.shape, [2, 16, 5, 5]);
    assert.throws(() => new Conv2d(6, 8, 3, { rng: new Rng(1), backend: be64, groups: 4 }), ShapeError);
    assert.deepEqual(new Conv2d(4, 6, 3, { rng: new Rng(1), backend: be64 }).weight.shape, [6, 4, 3, 3]);
  });
});

describe('matmul with transposed operands', () => {
  const T = (a: Tensor, perm: number[]): Tensor => ops.permute(a, perm);
  for (const [transA, transB] of [[false, true], [true, false], [true, true]] as const) {
    const tag = `${transA ? 'A^T' : 'A'} @ ${transB ? 'B^T' : 'B'}`;
    it(`${tag}: batched, shared B and 2-D, against the permuted product and finite differences`, () => {
      const m = 3, k = 5, n = 4, B = 2;
      const aShape = (batched: boolean): number[] => [...(batched ? [B] : []), ...(transA ? [k, m] : [m, k])];
      const bShape = (batched: boolean): number[] => [...(batched ? [B] : []), ...(transB ? [n, k] : [k, n])];
      for (const [ab, bb] of [[true, true], [true, false], [false, false]] as const) {
        const a = randT(aShape(ab), rng), b = randT(bShape(bb), rng);
        const y = ops.matmul(a, b, { transA, transB });
        const ap = transA ? T(a, ab ? [0, 2, 1] : [1, 0]) : a;
        const bp = transB ? T(b, bb ? [0, 2, 1] : [1, 0]) : b;
        assertClose(y.toArray(), ops.matmul(ap, bp).toArray(), { rtol: 1e-12, atol: 1e-12 }, `${tag} ${ab}/${bb}`);
        gradcheck(`${tag} ${ab}/${bb}`, ([p, q]) => ops.matmul(p!, q!, { transA, transB }), [a, b]);
      }
    });
  }
  it('names both shapes and the transposition when the inner sizes differ', () => {
    const a = randT([2, 3, 5], rng, be64, 1, false), b = randT([2, 5, 4], rng, be64, 1, false);
    assert.throws(() => ops.matmul(a, b, { transB: true }), (e: unknown) => e instanceof ShapeError && /\[2, 5, 4\]\^T/.test(e.message));
  });
});

describe('stochasticDepth (torchvision mode "row")', () => {
  it('is the identity in eval mode and for p = 0', () => {
    const x = randT([4, 3, 2, 2], rng);
    assert.equal(ops.stochasticDepth(x, 0.5, new Rng(1), false), x);
    assert.equal(ops.stochasticDepth(x, 0, new Rng(1), true), x);
  });

  it('keeps or zeroes whole rows, scaling kept ones by 1 / (1 - p); the gradient follows the mask', () => {
    const x = randT([64, 3, 2, 2], rng);
    const p = 0.25;
    const y = ops.stochasticDepth(x, p, new Rng(7), true);
    const xv = x.toArray(), yv = y.toArray();
    const per = 12;
    let kept = 0;
    for (let r = 0; r < 64; r++) {
      const ratio = yv[r * per]! / xv[r * per]!;
      const want = ratio === 0 ? 0 : 1 / (1 - p);
      if (want !== 0) kept++;
      for (let j = 0; j < per; j++) assert.ok(Math.abs(yv[r * per + j]! - want * xv[r * per + j]!) < 1e-12, `row ${r} is one mask value`);
    }
    assert.ok(kept > 0 && kept < 64, `some rows kept, some dropped (${kept} of 64)`);
    backward(ops.sum(y));
    const gx = x.grad!.toArray();
    for (let r = 0; r < 64; r++) for (let j = 0; j < per; j++) assert.ok(Math.abs(gx[r * per + j]! - yv[r * per]! / xv[r * per]!) < 1e-9);
  });

  it('keeps each row with probability 1 - p, so the expectation of y is x', () => {
    const rows = 20000, p = 0.3;
    const x = new Tensor(be64.fromArray(new Float64Array(rows).fill(1)), [rows, 1], be64);
    const yv = ops.stochasticDepth(x, p, new Rng(11), true).toArray();
    const keptFrac = yv.filter((v) => v !== 0).length / rows;
    let meanY = 0;
    for (const v of yv) meanY += v / rows;
    const sd = Math.sqrt(p * (1 - p) / rows);
    assert.ok(Math.abs(keptFrac - (1 - p)) < 5 * sd, `kept ${keptFrac}`);
    assert.ok(Math.abs(meanY - 1) < 5 * sd / (1 - p), `mean ${meanY}`);
  });

  it('p = 1 drops every row; p outside [0, 1] is an error', () => {
    const x = randT([5, 2], rng, be64, 1, false);
    assert.ok(ops.stochasticDepth(x, 1, new Rng(3), true).toArray().every((v) => v === 0));
    assert.throws(() => ops.stochasticDepth(x, 1.5, new Rng(3), true), RangeError);
    assert.throws(() => ops.stochasticDepth(x, -0.1, new Rng(3), false), RangeError);
  });
});
