/**
 * Writes, for each architecture, a pdiff-initialised model (BN statistics moved by a few
 * train-mode passes) as safetensors plus an input batch and pdiff's logits, for
 * scripts/torch/check_arch_interop.py to load into torchvision with strict=True:
 *
 *   npx tsx scripts/arch-interop.ts DIR && /usr/bin/python3 scripts/torch/check_arch_interop.py DIR
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveBackend } from '../src/backend/index.js';
import { buildClassifier, type Arch, type ModelOptions } from '../src/models/index.js';
import { Rng } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import { saveStateDict } from '../src/zoo/checkpoint.js';

const CASES: Array<{ name: string; arch: Arch; inShape: [number, number, number]; model: ModelOptions }> = [
  { name: 'resnet20', arch: 'resnet20', inShape: [1, 28, 28], model: {} },
  { name: 'resnet56', arch: 'resnet56', inShape: [3, 32, 32], model: {} },
  { name: 'resnet18_small', arch: 'resnet18', inShape: [3, 32, 32], model: {} },
  { name: 'resnet50_imagenet', arch: 'resnet50', inShape: [3, 64, 64], model: { stem: 'imagenet' } },
  { name: 'efficientnet_s', arch: 'efficientnet-s', inShape: [1, 28, 28], model: {} },
  { name: 'efficientnet_b0', arch: 'efficientnet-b0', inShape: [3, 32, 32], model: {} },
  { name: 'vit', arch: 'vit', inShape: [1, 28, 28], model: { vit: { patchSize: 7, layers: 4, heads: 4, hidden: 64, mlp: 128 } } },
];

const dir = process.argv[2];
if (!dir) { console.error('usage: npx tsx scripts/arch-interop.ts DIR'); process.exit(2); }
mkdirSync(dir, { recursive: true });
const be = resolveBackend('blas', true);
for (const c of CASES) {
  const rng = new Rng(7);
  const model = buildClassifier(c.arch, { rng, backend: be, inShape: c.inShape, numClasses: 10, model: c.model });
  const rand = (n: number) => new Tensor(be.fromArray(rng.fillNormal(new Float32Array(n * c.inShape[0] * c.inShape[1] * c.inShape[2]))), [n, ...c.inShape], be);
  model.train();
  for (let i = 0; i < 3; i++) model.forward(rand(8)); // moves BN running statistics off their init
  model.eval();
  const x = rand(3);
  const logits = be.read(model.forward(x).storage);
  saveStateDict(join(dir, `${c.name}.safetensors`), model);
  writeFileSync(join(dir, `${c.name}.json`), JSON.stringify({ arch: c.arch, inShape: c.inShape, model: c.model, x: Array.from(be.read(x.storage)), logits: Array.from(logits) }));
  console.log(`${c.name}: ${model.numParameters()} parameters`);
}
