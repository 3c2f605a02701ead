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
import { preparedModel, VIT_SMALL, type ArchCase } from './arch-cases.js';
import { saveStateDict } from '../src/zoo/checkpoint.js';

const CASES: ArchCase[] = [
  { name: 'resnet20', arch: 'resnet20', inShape: [1, 28, 28], model: {} },
  { name: 'resnet56', arch: 'resnet56', inShape: [3, 32, 32], model: {} },
  { name: 'resnet18_small', arch: 'resnet18', inShape: [3, 32, 32], model: {} },
  { name: 'resnet50_imagenet', arch: 'resnet50', inShape: [3, 64, 64], model: { stem: 'imagenet' } },
  { name: 'efficientnet_s', arch: 'efficientnet-s', inShape: [1, 28, 28], model: {} },
  { name: 'efficientnet_b0', arch: 'efficientnet-b0', inShape: [3, 32, 32], model: {} },
  { name: 'vit', arch: 'vit', inShape: [1, 28, 28], model: VIT_SMALL },
];

const dir = process.argv[2];
if (!dir) { console.error('usage: npx tsx scripts/arch-interop.ts DIR'); process.exit(2); }
mkdirSync(dir, { recursive: true });
const be = resolveBackend('blas', true);
for (const c of CASES) {
  const { model, x, logits } = preparedModel(be, c);
  saveStateDict(join(dir, `${c.name}.safetensors`), model);
  writeFileSync(join(dir, `${c.name}.json`), JSON.stringify({ arch: c.arch, inShape: c.inShape, model: c.model, x: Array.from(be.read(x.storage)), logits: Array.from(logits) }));
  console.log(`${c.name}: ${model.numParameters()} parameters`);
}
