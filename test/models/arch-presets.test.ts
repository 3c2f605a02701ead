/** The architecture presets collect the paper's choice of parameters (the last two normalisation layers). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveBackend } from '../../src/backend/index.js';
import { resolveConfig } from '../../src/config/index.js';
import { buildClassifier } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { selectParams } from '../../src/zoo/layout.js';

const be = resolveBackend('js', true);
const CASES: Array<[string, [number, number, number], string[]]> = [
  ['fmnist-resnet20-bn', [1, 28, 28], ['layer3.2.bn1.weight', 'layer3.2.bn1.bias', 'layer3.2.bn2.weight', 'layer3.2.bn2.bias']],
  ['fmnist-effnet-bn', [1, 28, 28], ['features.7.0.block.3.1.weight', 'features.7.0.block.3.1.bias', 'features.8.1.weight', 'features.8.1.bias']],
  ['fmnist-vit-ln', [1, 28, 28], ['encoder.layers.encoder_layer_3.ln_2.weight', 'encoder.layers.encoder_layer_3.ln_2.bias', 'encoder.ln.weight', 'encoder.ln.bias']],
  ['cifar10-resnet18-bn', [3, 32, 32], ['layer4.1.bn1.weight', 'layer4.1.bn1.bias', 'layer4.1.bn2.weight', 'layer4.1.bn2.bias']],
  ['cifar10-effnet-bn', [3, 32, 32], ['features.7.0.block.3.1.weight', 'features.7.0.block.3.1.bias', 'features.8.1.weight', 'features.8.1.bias']],
  ['cifar10-vit-ln', [3, 32, 32], ['encoder.layers.encoder_layer_5.ln_2.weight', 'encoder.layers.encoder_layer_5.ln_2.bias', 'encoder.ln.weight', 'encoder.ln.bias']],
];

describe('architecture presets', () => {
  for (const [preset, inShape, expected] of CASES) {
    test(`${preset} generates ${expected.map((n) => n.replace(/\.(weight|bias)$/, '')).filter((n, i, a) => a.indexOf(n) === i).join(' and ')}`, () => {
      const cfg = resolveConfig({ preset });
      const model = buildClassifier(cfg.model.arch, { rng: new Rng(0), backend: be, inShape, numClasses: 10, model: cfg.model });
      assert.deepEqual(selectParams(model, cfg.collect.mode, cfg.collect.params), expected);
      // the generated part is late: evaluation caches everything before the last block
      const start = model.firstStageOf(expected);
      assert.ok(start >= model.stages.length - 4, `${preset}: tail starts at stage ${start} of ${model.stages.length}`);
      // ResNet-20: bn1/bn2 of the last block need only its conv2 rerun (the stage boundary after conv1)
      if (cfg.model.arch === 'resnet20') assert.equal(model.stages[start], 'layer3.2.conv1');
      // EfficientNet: the last MBConv has no residual, so its project conv's output is cached
      if (cfg.model.arch.startsWith('efficientnet')) assert.equal(model.stages[start], 'features.7.0');
      // ViT: the last block's attention half is cached (ln_2 starts the tail)
      if (cfg.model.arch === 'vit') assert.match(model.stages[start]!, /^encoder\.layers\.encoder_layer_\d\.self_attention$/);
    });
  }
});
