import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsBackend } from '../../src/backend/index.js';
import { CnnS, Mlp, ResNetCifar } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { ConfigError, FormatError, NumericError, ShapeError } from '../../src/util/errors.js';
import { Normalizer, ParamLayout, globToRegExp, selectParams } from '../../src/zoo/layout.js';

const be = jsBackend();
const cnn = (seed = 0): CnnS => new CnnS({ rng: new Rng(seed), backend: be });

describe('selectParams', () => {
  it('bn mode on cnn-s is the last two BN layers: bn2.weight, bn2.bias, bn3.weight, bn3.bias (192 floats)', () => {
    const m = cnn();
    const names = selectParams(m, 'bn');
    assert.deepEqual(names, ['bn2.weight', 'bn2.bias', 'bn3.weight', 'bn3.bias']);
    const layout = ParamLayout.fromModel(m, names);
    assert.equal(layout.total, 192);
    assert.deepEqual(layout.offsets, [0, 32, 64, 128]);
    assert.deepEqual(layout.shapes, [[32], [32], [64], [64]]);
  });

  it('bn mode finds BN layers by type (resnet20: the last block\'s bn1 and bn2)', () => {
    const m = new ResNetCifar({ rng: new Rng(0), backend: be });
    assert.deepEqual(selectParams(m, 'bn'), ['layer3.2.bn1.weight', 'layer3.2.bn1.bias', 'layer3.2.bn2.weight', 'layer3.2.bn2.bias']);
  });

  it('bn mode throws a ConfigError on a model without two BN layers', () => {
    const m = new Mlp({ rng: new Rng(0), backend: be, inFeatures: 4, hidden: [3] });
    assert.throws(() => selectParams(m, 'bn'), (e: unknown) => e instanceof ConfigError && /at least two BatchNorm layers with weight and bias, mlp has 0/.test(e.message));
  });

  it('whole mode is every learnable tensor of cnn-s (11 tensors, 24,058 floats), no buffers', () => {
    const m = cnn();
    const names = selectParams(m, 'whole');
    assert.equal(names.length, 11);
    assert.ok(!names.some((n) => n.includes('running')));
    assert.equal(ParamLayout.fromModel(m, names).total, 24058);
  });

  it('custom mode matches globs and returns state_dict order', () => {
    const m = cnn();
    assert.deepEqual(selectParams(m, 'custom', ['bn3.*']), ['bn3.weight', 'bn3.bias']);
    assert.deepEqual(selectParams(m, 'custom', ['fc.*', 'bn1.*']), ['bn1.weight', 'bn1.bias', 'fc.weight', 'fc.bias']);
    assert.deepEqual(selectParams(m, 'custom', ['conv*.weight']), ['conv1.weight', 'conv2.weight', 'conv3.weight']);
    const r = new ResNetCifar({ rng: new Rng(0), backend: be });
    assert.equal(selectParams(r, 'custom', ['layer3.*.bn2.weight']).length, 3);
    assert.deepEqual(selectParams(r, 'custom', ['layer3.2.**']), selectParams(r, 'whole').filter((n) => n.startsWith('layer3.2.')));
  });

  it('custom mode names the pattern that matches nothing', () => {
    assert.throws(() => selectParams(cnn(), 'custom', ['bn3.*', 'bn*']), (e: unknown) => e instanceof ConfigError && e.message.includes('pattern "bn*" matches no parameter of cnn-s'));
    assert.throws(() => selectParams(cnn(), 'custom', []), ConfigError);
  });

  it('globToRegExp: * stays within a dotted component, ** crosses, the rest is literal', () => {
    assert.ok(globToRegExp('a.*').test('a.b'));
    assert.ok(!globToRegExp('a.*').test('a.b.c'));
    assert.ok(globToRegExp('a.**').test('a.b.c'));
    assert.ok(!globToRegExp('a.b').test('axb'));
  });
});

describe('ParamLayout', () => {
  it('write then read round-trips bit-exactly and lands in the named tensors', () => {
    const m = cnn();
    const layout = ParamLayout.fromModel(m, selectParams(m, 'bn'));
    const vec = new Rng(3).fillNormal(new Float32Array(layout.total)) as Float32Array;
    layout.write(m, vec);
    assert.deepEqual(layout.read(m), vec);
    assert.deepEqual(Array.from(m.bn3.bias!.toArray()), Array.from(vec.subarray(128, 192)));
    const out = new Float32Array(layout.total + 5);
    layout.readInto(m, out, 5);
    assert.deepEqual(out.subarray(5), vec);
  });

  it('rejects a wrong length (ShapeError) and NaN/Inf (NumericError naming the tensor), leaving the model unchanged', () => {
    const m = cnn();
    const layout = ParamLayout.fromModel(m, selectParams(m, 'bn'));
    const before = layout.read(m);
    assert.throws(() => layout.write(m, new Float32Array(191)), (e: unknown) => e instanceof ShapeError && /expected a vector of 192 floats.*got 191/.test(e.message));
    const bad = new Float32Array(192);
    bad[100] = NaN;
    assert.throws(() => layout.write(m, bad), (e: unknown) => e instanceof NumericError && e.message.includes('tensor "bn3.weight" element 36') && e.message.includes('NaN'));
    bad[100] = 0;
    bad[3] = -Infinity;
    assert.throws(() => layout.write(m, bad), (e: unknown) => e instanceof NumericError && e.message.includes('"bn2.weight" element 3'));
    assert.deepEqual(layout.read(m), before);
  });

  it('fromModel names a missing tensor; toJSON/fromJSON round-trips and checks offsets', () => {
    const m = cnn();
    assert.throws(() => ParamLayout.fromModel(m, ['bn9.weight']), (e: unknown) => e instanceof ShapeError && e.message.includes('"bn9.weight"'));
    const layout = ParamLayout.fromModel(m, selectParams(m, 'whole'));
    const back = ParamLayout.fromJSON(JSON.parse(JSON.stringify(layout)));
    assert.ok(back.equals(layout));
    assert.deepEqual(back.offsets, layout.offsets);
    const j = layout.toJSON();
    j.offsets[2] = 7;
    assert.throws(() => ParamLayout.fromJSON(j, 'm.json'), (e: unknown) => e instanceof FormatError && e.message.startsWith('m.json: layout.offsets'));
  });

  it('a layout may name buffers (running statistics) too', () => {
    const m = cnn();
    const layout = ParamLayout.fromModel(m, ['bn3.running_var']);
    assert.deepEqual(Array.from(layout.read(m)), new Array(64).fill(1));
  });
});

describe('Normalizer (docs/zoo.md#normalisation)', () => {
  // Tensors a [4], b [2, 3] (constant), c [1]; K = 2 checkpoints; total 11.
  const layout = new ParamLayout(['a', 'b', 'c'], [[4], [2, 3], [1]]);
  const ckpts = Float32Array.from([
    1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 0.5,
    2, 4, 6, 8, 5, 5, 5, 5, 5, 5, -1.5,
  ]);

  it('mu_k = mean of tensor means, sd_k = mean of unbiased tensor stds; sd 0 and single elements use 1', () => {
    const n = Normalizer.fit(layout, ckpts, 8);
    // a: means 2.5 and 5; unbiased stds sqrt(5/3) and 2 sqrt(5/3).
    assert.ok(Math.abs(n.mu[0]! - 3.75) < 1e-12);
    assert.ok(Math.abs(n.sd[0]! - 1.5 * Math.sqrt(5 / 3)) < 1e-12);
    assert.equal(n.mu[1], 5);
    assert.equal(n.sd[1], 1);
    assert.equal(n.mu[2], -0.5);
    assert.equal(n.sd[2], 1);
    assert.equal(n.L, 16);
  });

  it('forward standardises per tensor and zero-pads; inverse drops the padding and inverts', () => {
    const n = Normalizer.fit(layout, ckpts, 8);
    const z = n.forward(ckpts);
    assert.equal(z.length, 2 * 16);
    const sdA = 1.5 * Math.sqrt(5 / 3);
    assert.ok(Math.abs(z[0]! - (1 - 3.75) / sdA) < 1e-6);
    assert.equal(z[16 + 10], -1);
    assert.deepEqual(Array.from(z.subarray(11, 16)), [0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(z.subarray(27, 32)), [0, 0, 0, 0, 0]);
    z[13] = 99; // padding is ignored by the inverse
    const w = n.inverse(z);
    assert.equal(w.length, ckpts.length);
    for (let i = 0; i < w.length; i++) assert.ok(Math.abs(w[i]! - ckpts[i]!) <= 1e-6 * Math.max(1, Math.abs(ckpts[i]!)), `index ${i}`);
    const one = n.forward(ckpts.subarray(0, 11));
    assert.deepEqual(one, z.subarray(0, 16).map((v, i) => (i === 13 ? 0 : v)));
  });

  it('cnn-s lengths: bn L = 192 (no padding), whole L = 24,064', () => {
    const m = cnn();
    for (const [mode, L] of [['bn', 192], ['whole', 24064]] as const) {
      const lay = ParamLayout.fromModel(m, selectParams(m, mode));
      const rows = new Rng(1).fillNormal(new Float32Array(3 * lay.total)) as Float32Array;
      assert.equal(Normalizer.fit(lay, rows).L, L);
    }
  });

  it('checks shapes and round-trips through JSON', () => {
    const n = Normalizer.fit(layout, ckpts, 8);
    assert.throws(() => Normalizer.fit(layout, new Float32Array(10)), ShapeError);
    assert.throws(() => n.forward(new Float32Array(12)), ShapeError);
    assert.throws(() => n.inverse(new Float32Array(11)), ShapeError);
    const back = Normalizer.fromJSON(JSON.parse(JSON.stringify(n)));
    assert.deepEqual(back.forward(ckpts), n.forward(ckpts));
    assert.throws(() => Normalizer.fit(layout, Float32Array.from(ckpts, (v, i) => (i === 0 ? NaN : v))), NumericError);
  });

  it('a file without "kind" is a per-tensor normalizer; a kind that does not fit its statistics is refused', () => {
    const j = Normalizer.fit(layout, ckpts, 8).toJSON();
    assert.equal(j.kind, 'tensor');
    const { kind: _k, ...old } = j;
    assert.equal(Normalizer.fromJSON(old).kind, 'tensor');
    assert.throws(() => Normalizer.fromJSON({ ...j, kind: 'coordinate' }, 'ae.safetensors'), /ae\.safetensors.*"coordinate" normalizer of this layout has 11 means and scales, found 3 and 3/);
    assert.throws(() => Normalizer.fromJSON({ ...j, kind: 'layer' }, 'x'), /kind must be "tensor" or "coordinate", got "layer"/);
  });
});

describe('Normalizer, kind "coordinate"', () => {
  const layout = new ParamLayout(['a', 'b', 'c'], [[4], [2, 3], [1]]);
  const ckpts = Float32Array.from([
    1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 0.5,
    2, 4, 6, 8, 5, 5, 5, 5, 5, 5, -1.5,
    3, 0, 6, 2, 5, 5, 5, 5, 5, 5, 2.5,
  ]);

  it('mean and unbiased std per coordinate over the checkpoints; constant coordinates use sd 1', () => {
    const n = Normalizer.fit(layout, ckpts, 8, 'coordinate');
    assert.equal(n.kind, 'coordinate');
    assert.equal(n.mu.length, 11);
    assert.equal(n.mu[0], 2);
    assert.equal(n.sd[0], 1); // 1, 2, 3: unbiased std 1
    assert.ok(Math.abs(n.mu[1]! - 2) < 1e-12);
    assert.ok(Math.abs(n.sd[1]! - 2) < 1e-12); // 2, 4, 0
    assert.equal(n.mu[4], 5);
    assert.equal(n.sd[4], 1); // constant: centred only
    assert.ok(Math.abs(n.mu[10]! - 0.5) < 1e-12);
    assert.ok(Math.abs(n.sd[10]! - 2) < 1e-12); // 0.5, -1.5, 2.5
  });

  it('every coordinate of z has mean 0 and unbiased std 1 over the checkpoints; the inverse is exact', () => {
    const n = Normalizer.fit(layout, ckpts, 8, 'coordinate');
    const z = n.forward(ckpts);
    assert.equal(z.length, 3 * 16);
    for (let j = 0; j < 11; j++) {
      const col = [z[j]!, z[16 + j]!, z[32 + j]!];
      const m = (col[0]! + col[1]! + col[2]!) / 3;
      const v = col.reduce((s, x) => s + (x - m) ** 2, 0) / 2;
      assert.ok(Math.abs(m) < 1e-6, `mean of coordinate ${j}`);
      assert.ok(j >= 4 && j < 10 ? v === 0 : Math.abs(v - 1) < 1e-6, `variance of coordinate ${j}: ${v}`);
    }
    assert.deepEqual(Array.from(z.subarray(11, 16)), [0, 0, 0, 0, 0]);
    const w = n.inverse(z);
    for (let i = 0; i < w.length; i++) assert.ok(Math.abs(w[i]! - ckpts[i]!) <= 1e-6 * Math.max(1, Math.abs(ckpts[i]!)), `index ${i}`);
    // the mean checkpoint maps to z = 0
    assert.deepEqual(Array.from(n.inverse(new Float32Array(16)).subarray(0, 4)), [2, 2, 5, 14 / 3].map(Math.fround));
  });

  it('round-trips through JSON; a single checkpoint is only centred; NaN names the coordinate', () => {
    const n = Normalizer.fit(layout, ckpts, 8, 'coordinate');
    const back = Normalizer.fromJSON(JSON.parse(JSON.stringify(n)));
    assert.equal(back.kind, 'coordinate');
    assert.deepEqual(back.forward(ckpts), n.forward(ckpts));
    const one = Normalizer.fit(layout, ckpts.subarray(0, 11), 8, 'coordinate');
    assert.deepEqual(Array.from(one.sd), new Array(11).fill(1));
    assert.deepEqual(Array.from(one.forward(ckpts.subarray(0, 11)).subarray(0, 11)), new Array(11).fill(0));
    assert.throws(() => Normalizer.fit(layout, Float32Array.from(ckpts, (v, i) => (i === 16 ? NaN : v)), 8, 'coordinate'),
      /coordinate 5 \(tensor "b" element 1\) has non-finite values/);
  });
});
