/**
 * Writes, for each architecture, a pdiff model (BN statistics moved by a few train-mode passes)
 * exported the way `pdiff export` exports a run member: DIR/<name>.onnx and DIR/<name>.safetensors
 * with the same metadata keys, plus DIR/<name>.json (an input batch and pdiff's logits), for
 * scripts/torch/check_export.py (onnx.checker, torchvision strict load, same logits):
 *
 *   npx tsx scripts/export-archs.ts DIR && /usr/bin/python3 scripts/torch/check_export.py DIR
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveBackend } from '../src/backend/index.js';
import { exportOnnx } from '../src/export/onnx.js';
import { preparedModel, VIT_SMALL, type ArchCase } from './arch-cases.js';
import { saveStateDict } from '../src/zoo/checkpoint.js';

const CASES: ArchCase[] = [
  { name: 'mlp', arch: 'mlp', inShape: [1, 28, 28], model: { mlpHidden: [128] } },
  { name: 'cnn-s', arch: 'cnn-s', inShape: [1, 28, 28], model: {} },
  { name: 'resnet20', arch: 'resnet20', inShape: [1, 28, 28], model: {} },
  { name: 'resnet32', arch: 'resnet32', inShape: [3, 32, 32], model: {} },
  { name: 'resnet56', arch: 'resnet56', inShape: [3, 32, 32], model: {} },
  { name: 'resnet18', arch: 'resnet18', inShape: [3, 32, 32], model: {} },
  { name: 'resnet50_imagenet', arch: 'resnet50', inShape: [3, 64, 64], model: { stem: 'imagenet' } },
  { name: 'efficientnet_s', arch: 'efficientnet-s', inShape: [1, 28, 28], model: {} },
  { name: 'efficientnet_b0', arch: 'efficientnet-b0', inShape: [3, 32, 32], model: {} },
  { name: 'vit', arch: 'vit', inShape: [1, 28, 28], model: VIT_SMALL },
];

const dir = process.argv[2];
if (!dir) { console.error('usage: npx tsx scripts/export-archs.ts DIR'); process.exit(2); }
mkdirSync(dir, { recursive: true });
const be = resolveBackend('blas', true);
for (const c of CASES) {
  const { model, x, logits } = preparedModel(be, c);
  // the keys of `pdiff export` that check_export.py reads (src/export/index.ts exportMetadata)
  const meta = { pdiff_arch: c.arch, pdiff_model: JSON.stringify(c.model), pdiff_input_shape: JSON.stringify(c.inShape), pdiff_num_classes: '10' };
  writeFileSync(join(dir, `${c.name}.onnx`), exportOnnx({ model, inShape: c.inShape, numClasses: 10, metadata: meta }));
  saveStateDict(join(dir, `${c.name}.safetensors`), model, meta);
  writeFileSync(join(dir, `${c.name}.json`), JSON.stringify({ arch: c.arch, inShape: c.inShape, model: c.model, x: Array.from(be.read(x.storage)), logits: Array.from(logits) }));
  console.log(`${c.name}: ${model.numParameters()} parameters`);
}
