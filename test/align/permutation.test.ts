/**
 * The permutation symmetry of the classifiers and weight matching (docs/seeds.md): permuting hidden
 * units by a spec leaves the logits unchanged; weight matching undoes a random permutation exactly
 * and leaves a network matched to itself alone; the assignment solver agrees with brute force.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyPermutations, checkSpec, identityPermutations, invertPermutation, isPermutation, permuteVector, randomPermutations,
  solveAssignment, tensorsOfVector, weightMatching, type NamedTensor, type PermutationSpec,
} from '../../src/align/index.js';
import { jsBackend } from '../../src/backend/index.js';
import { CnnS, Mlp, ResNetCifar, buildClassifier, type Classifier } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, noGrad } from '../../src/tensor/tensor.js';
import { ParamLayout } from '../../src/zoo/layout.js';
import { assertClose } from '../helpers/assert.js';

const be = jsBackend();

/** The model's state_dict by value. */
function tensorsOf(m: Classifier): Map<string, NamedTensor> {
  return new Map(m.stateDict().map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.toArray()) }]));
}

function load(m: Classifier, tensors: ReadonlyMap<string, NamedTensor>): void {
  m.loadStateDict([...tensors].map(([n, t]) => [n, { shape: t.shape, data: t.data }]), { strict: true });
}

/** Random BN affine parameters and running statistics, so that eval-mode BN is not the identity. */
function randomizeBn(m: Classifier, seed: number): void {
  const rng = new Rng(seed);
  for (const [n, t] of m.stateDict()) {
    if (!/\.(running_mean|running_var|bias)$/.test(n) && !/bn\d\.weight$|downsample\.1\.weight$/.test(n)) continue;
    const v = new Float32Array(t.size);
    if (n.endsWith('running_var') || n.endsWith('.weight')) rng.fillUniform(v, 0.5, 1.5); else rng.fillNormal(v, 0, 0.3);
    t.backend.write(t.storage, v);
  }
}

function logits(m: Classifier, x: Tensor): number[] {
  return noGrad(() => Array.from(m.eval().forward(x).toArray()));
}

const images = (n: number, c: number, h: number, seed: number): Tensor =>
  new Tensor(be.fromArray(new Rng(seed).fillNormal(new Float32Array(n * c * h * h))), [n, c, h, h], be);

/** Tiny instances of each architecture with a permutation spec, and inputs for them. */
const cases: Array<{ name: string; make: (seed: number) => Classifier; x: Tensor }> = [
  { name: 'mlp', make: (s) => new Mlp({ rng: new Rng(s), backend: be, inFeatures: 36, hidden: [7, 5] }), x: images(4, 1, 6, 11) },
  { name: 'cnn-s', make: (s) => new CnnS({ rng: new Rng(s), backend: be, widths: [4, 6, 8] }), x: images(3, 1, 8, 12) },
  { name: 'resnet20', make: (s) => new ResNetCifar({ rng: new Rng(s), backend: be, inChannels: 1 }), x: images(2, 1, 8, 13) },
];

describe('permutation specs', () => {
  it('fit the state_dict of every architecture that has one (names, axes, sizes)', () => {
    const expected: Record<string, string[]> = {
      mlp: ['P_fc1:128', 'P_fc2:64'],
      'cnn-s': ['P_conv1:16', 'P_conv2:32', 'P_conv3:64'],
      resnet20: ['P_layer1:16', 'P_layer2:32', 'P_layer3:64', ...[1, 2, 3].flatMap((l) => [0, 1, 2].map((b) => `P_layer${l}.${b}:${8 << l}`))],
    };
    for (const arch of ['mlp', 'cnn-s', 'resnet20', 'resnet32', 'resnet56'] as const) {
      const m = buildClassifier(arch, { rng: new Rng(0), backend: be, inShape: [1, 28, 28], numClasses: 10, model: { mlpHidden: [128, 64] } });
      const spec = m.permutationSpec!();
      checkSpec(spec, new Map(m.stateDict().map(([n, t]) => [n, t.shape])));
      if (expected[arch]) assert.deepEqual(spec.groups.map((g) => `${g.name}:${g.size}`), expected[arch], arch);
    }
    // every conv/linear weight and BN tensor of resnet20 but the stem's input axis and the head's output is covered
    const r = new ResNetCifar({ rng: new Rng(0), backend: be, inChannels: 1 });
    const touched = new Set(r.permutationSpec().groups.flatMap((g) => g.axes.map((a) => a.tensor)));
    for (const [n] of r.stateDict()) if (n !== 'fc.bias') assert.ok(touched.has(n), n);
  });

  for (const c of cases) {
    it(`permuting ${c.name}'s hidden units by random permutations leaves its logits unchanged`, () => {
      const m = c.make(1);
      randomizeBn(m, 2);
      const before = logits(m, c.x);
      const spec = m.permutationSpec!();
      const perms = randomPermutations(spec, new Rng(3));
      assert.ok(perms.some((p, i) => p.some((v, j) => v !== j)), 'some unit moved');
      const original = tensorsOf(m);
      const permuted = applyPermutations(spec, original, perms);
      load(m, permuted);
      assertClose(logits(m, c.x), before, { atol: 1e-5, rtol: 1e-5, relativeTo: 'max' }, `${c.name} logits`);
      // the weights did move: the test would see a spec that forgot a tensor
      const moved = spec.groups.findIndex((_, i) => perms[i]!.some((v, j) => v !== j));
      const first = spec.groups[moved]!.axes[0]!.tensor;
      assert.notDeepEqual(tensorsOf(m).get(first)!.data, original.get(first)!.data);
      const broken: PermutationSpec = { groups: spec.groups.map((g, i) => (i === moved ? { ...g, axes: g.axes.slice(0, -1) } : g)) };
      load(m, applyPermutations(broken, original, perms));
      const off = logits(m, c.x);
      assert.ok(off.some((v, i) => Math.abs(v - before[i]!) > 1e-3), `${c.name}: a spec without the next layer's input axis changes the logits`);
    });
  }

  it('applyPermutations names a tensor the spec needs and the network lacks', () => {
    const m = cases[0]!.make(1);
    const spec = m.permutationSpec!();
    const t = tensorsOf(m);
    t.delete('fc2.weight');
    assert.throws(() => applyPermutations(spec, t, identityPermutations(spec)), /"fc2\.weight", which is missing/);
    assert.throws(() => applyPermutations(spec, tensorsOf(m), [new Int32Array([0, 0, 1, 2, 3, 4, 5]), identityPermutations(spec)[1]!]), /not a permutation of the 7 units of group P_fc1/);
  });

  it('permuteVector on a flat layout equals applyPermutations on the tensors', () => {
    const m = cases[1]!.make(4);
    const spec = m.permutationSpec!();
    const layout = ParamLayout.fromModel(m, m.stateDict().map(([n]) => n));
    const vec = layout.read(m);
    const perms = randomPermutations(spec, new Rng(5));
    const viaTensors = applyPermutations(spec, tensorsOfVector(layout, vec), perms);
    const flat = permuteVector(spec, layout, vec, perms);
    for (const [n, t] of tensorsOfVector(layout, flat)) assert.deepEqual(t.data, viaTensors.get(n)!.data, n);
  });
});

describe('weight matching', () => {
  for (const c of cases) {
    it(`recovers a known random permutation of ${c.name} exactly`, () => {
      const m = c.make(6);
      randomizeBn(m, 7);
      const spec = m.permutationSpec!();
      const a = tensorsOf(m);
      const secret = randomPermutations(spec, new Rng(8));
      const b = applyPermutations(spec, a, secret);
      const params = new Set(m.namedParameters().map(([n]) => n));
      const only = (t: Map<string, NamedTensor>): Map<string, NamedTensor> => new Map([...t].filter(([n]) => params.has(n)));
      const res = weightMatching({ spec, reference: only(a), other: only(b), rng: new Rng(9) });
      assert.ok(res.converged);
      // b = take(a, secret): the alignment is its inverse, and aligned b is a, bit for bit
      res.perms.forEach((p, i) => assert.deepEqual(p, invertPermutation(secret[i]!), spec.groups[i]!.name));
      const aligned = applyPermutations(spec, b, res.perms);
      for (const [n, t] of a) assert.deepEqual(aligned.get(n)!.data, t.data, n);
      assert.ok(res.similarity.after > res.similarity.before);
    });
  }

  it('aligning a network to itself is the identity, found in one pass', () => {
    for (const c of cases) {
      const m = c.make(10);
      const spec = m.permutationSpec!();
      const a = tensorsOf(m);
      const res = weightMatching({ spec, reference: a, other: a, rng: new Rng(11) });
      assert.equal(res.passes, 1, c.name);
      assert.ok(res.converged);
      assert.deepEqual(res.perms, identityPermutations(spec), c.name);
      assert.equal(res.similarity.after, res.similarity.before);
    }
  });

  it('names a tensor whose shape differs between the two networks', () => {
    const a = tensorsOf(new Mlp({ rng: new Rng(0), backend: be, inFeatures: 36, hidden: [7, 5] }));
    const b = tensorsOf(new Mlp({ rng: new Rng(0), backend: be, inFeatures: 25, hidden: [7, 5] }));
    const spec = new Mlp({ rng: new Rng(0), backend: be, inFeatures: 36, hidden: [7, 5] }).permutationSpec();
    assert.throws(() => weightMatching({ spec, reference: a, other: b, rng: new Rng(0) }), /"fc1\.weight" is \[7, 36\] in the reference and \[7, 25\]/);
  });
});

describe('solveAssignment', () => {
  /** The best total over all n! permutations. */
  function bruteForce(c: Float64Array, n: number, maximize: boolean): number {
    let best = maximize ? -Infinity : Infinity;
    const p = Array.from({ length: n }, (_, i) => i);
    const visit = (k: number): void => {
      if (k === n) {
        let s = 0;
        for (let i = 0; i < n; i++) s += c[i * n + p[i]!]!;
        best = maximize ? Math.max(best, s) : Math.min(best, s);
        return;
      }
      for (let i = k; i < n; i++) {
        [p[k], p[i]] = [p[i]!, p[k]!];
        visit(k + 1);
        [p[k], p[i]] = [p[i]!, p[k]!];
      }
    };
    visit(0);
    return best;
  }

  it('finds the optimum of random matrices (minimum and maximum), as brute force does', () => {
    const rng = new Rng(21);
    for (let n = 1; n <= 7; n++) {
      for (let trial = 0; trial < 20; trial++) {
        const c = new Float64Array(n * n);
        // integers with many ties, and continuous values
        for (let k = 0; k < c.length; k++) c[k] = trial % 2 === 0 ? rng.int(5) - 2 : rng.normal();
        for (const maximize of [false, true]) {
          const r = solveAssignment(c, n, { maximize });
          assert.ok(isPermutation(r.colOf, n));
          let s = 0;
          for (let i = 0; i < n; i++) s += c[i * n + r.colOf[i]!]!;
          assert.equal(r.total, s);
          assertClose(r.total, bruteForce(c, n, maximize), { atol: 1e-9 }, `n=${n} trial ${trial} ${maximize ? 'max' : 'min'}`);
        }
      }
    }
  });

  it('solves a 256 x 256 problem with a planted optimum', () => {
    const n = 256, rng = new Rng(22);
    const planted = rng.permutation(n);
    const c = new Float64Array(n * n);
    for (let k = 0; k < c.length; k++) c[k] = rng.uniform();
    for (let i = 0; i < n; i++) c[i * n + planted[i]!] = 2; // every planted entry beats any other
    const r = solveAssignment(c, n, { maximize: true });
    assert.deepEqual(r.colOf, planted);
  });

  it('handles n = 0 and rejects a wrong size or a non-finite entry', () => {
    assert.deepEqual(solveAssignment(new Float64Array(0), 0), { colOf: new Int32Array(0), total: 0 });
    assert.throws(() => solveAssignment(new Float64Array(5), 2), /expected an n x n matrix with n = 2/);
    assert.throws(() => solveAssignment(Float64Array.from([0, 1, NaN, 2]), 2), /entry \[1\]\[0\] is NaN/);
  });
});
