/**
 * The architectures against torchvision (fixtures from scripts/torch/make_arch_fixtures.py):
 * the same state_dict names, shapes and order as torchvision's constructor, and the same logits
 * (to 1e-4) with the same weights: the deterministic weights of test/helpers/det-weights.ts for
 * every architecture, torchvision's own random init for the small ones.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { resolveBackend } from '../../src/backend/index.js';
import { buildClassifier, type Arch } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { loadStateDict } from '../../src/zoo/checkpoint.js';
import { assertClose } from '../helpers/assert.js';
import { detFill } from '../helpers/det-weights.js';

interface Fixture {
  arch: Arch;
  inShape: [number, number, number];
  numClasses: number;
  stem: 'auto' | 'imagenet';
  vit: { patchSize: number; layers: number; heads: number; hidden: number; mlp: number } | null;
  names: Array<[string, number[]]>;
  x: { shape: number[]; data: number[] };
  logits: number[];
  initFile?: string;
  initLogits?: number[];
}

const CASES = ['resnet20', 'resnet18_small', 'resnet50_small', 'resnet18_imagenet', 'efficientnet_s', 'efficientnet_b0', 'vit'];
const be = resolveBackend('blas', true);

function setup(name: string) {
  const fx = JSON.parse(readFileSync(new URL(`../fixtures/arch_${name}.json`, import.meta.url), 'utf8')) as Fixture;
  const model = buildClassifier(fx.arch, {
    rng: new Rng(1), backend: be, inShape: fx.inShape, numClasses: fx.numClasses,
    model: { stem: fx.stem, ...(fx.vit ? { vit: fx.vit } : {}) },
  }).eval();
  const x = new Tensor(be.fromArray(Float32Array.from(fx.x.data)), fx.x.shape, be);
  return { fx, model, x };
}

describe('architectures match torchvision', () => {
  for (const name of CASES) {
    test(`${name}: state_dict names, shapes and order; logits with the same weights`, () => {
      const { fx, model, x } = setup(name);
      const mine = model.stateDict().map(([n, t]) => [n, [...t.shape]] as [string, number[]]);
      assert.deepEqual(mine, fx.names);
      detFill(model);
      const got = be.read(model.forward(x).storage);
      assertClose(got, fx.logits, { atol: 1e-4, rtol: 1e-4 }, `${name} logits`);
    });
  }

  for (const name of ['resnet20', 'vit']) {
    test(`${name}: torchvision's random init loads strictly and gives its logits`, () => {
      const { fx, model, x } = setup(name);
      loadStateDict(new URL(`../fixtures/${fx.initFile!}`, import.meta.url).pathname, model);
      assertClose(be.read(model.forward(x).storage), fx.initLogits!, { atol: 1e-4, rtol: 1e-4 }, `${name} logits`);
    });
  }

  test('stages split the forward pass anywhere: forwardFrom(forwardTo(x, k), k) = forward(x)', () => {
    for (const name of ['resnet20', 'resnet18_small', 'vit', 'efficientnet_s']) {
      const { model, x } = setup(name);
      detFill(model);
      const full = be.read(model.forward(x).storage);
      for (let k = 0; k < model.stages.length; k++) {
        assert.deepEqual(be.read(model.forwardFrom(model.forwardTo(x, k), k).storage), full, `${name} split at stage ${k} (${model.stages[k]})`);
      }
    }
  });
});
