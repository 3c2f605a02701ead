/**
 * The CIFAR-10 architecture presets (cifar10-resnet18-bn, cifar10-effnet-bn, cifar10-vit-ln) run
 * the whole pipeline on small CIFAR-10 binary batches that the test writes (3x32x32 images,
 * crop+flip augmentation, the presets' generated layers), and a missing or malformed CIFAR folder
 * gets the loader's error naming the file. No real CIFAR-10 is needed (none can be downloaded).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { resolveConfig } from '../../src/config/load.js';
import { runPipeline } from '../../src/run/pipeline.js';
import { Rng } from '../../src/tensor/random.js';
import { microOverrides } from '../helpers/data.js';

const tmp = mkdtempSync(join(tmpdir(), 'pdiff-cifar-presets-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** CIFAR-10 binary batches of random images whose mean brightness follows the label (learnable). */
function writeCifar(dir: string, perBatch: number, testCount: number): void {
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(3);
  const batch = (n: number): Buffer => {
    const b = Buffer.alloc(n * 3073);
    for (let r = 0; r < n; r++) {
      const label = rng.int(10);
      b[r * 3073] = label;
      for (let j = 0; j < 3072; j++) b[r * 3073 + 1 + j] = Math.min(255, Math.floor(label * 20 + rng.uniform() * 60));
    }
    return b;
  };
  for (let i = 1; i <= 5; i++) writeFileSync(join(dir, `data_batch_${i}.bin`), batch(perBatch));
  writeFileSync(join(dir, 'test_batch.bin'), batch(testCount));
}

const cifarDir = join(tmp, 'cifar-10-batches-bin');
writeCifar(cifarDir, 16, 16);

function microCifar(preset: string, out: string, dir = cifarDir) {
  const o = microOverrides(out, { shift: { enabled: false }, evalBatch: 20 });
  return resolveConfig({ preset, overrides: { ...o, data: { dir, limitTrain: null, limitTest: null, valSize: 16 }, base: { epochs: 1, batchSize: 16, warmupSteps: 0 }, collect: { ...o.collect, batchSize: 16 } } });
}

for (const [preset, arch, generated] of [
  ['cifar10-resnet18-bn', 'resnet18', 'layer4.1.bn1.weight'],
  ['cifar10-effnet-bn', 'efficientnet-b0', 'features.8.1.weight'],
  ['cifar10-vit-ln', 'vit', 'encoder.ln.weight'],
] as const) {
  test(`${preset}: the whole pipeline on CIFAR-format files (3x32x32, augmentation on)`, async () => {
    const out = join(tmp, preset);
    const cfg = microCifar(preset, out);
    assert.deepEqual([cfg.data.dataset, cfg.model.arch, cfg.data.augment], ['cifar10', arch, true]);
    const res = await runPipeline(cfg, { until: 'report', say: () => {} });
    assert.ok(res.reportPath, 'a report was written');
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { params?: Array<{ name: string }>; layout?: Array<{ name: string }> };
    const names = JSON.stringify(manifest);
    assert.ok(names.includes(generated), `${preset}: the zoo holds ${generated}`);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { groups: Array<{ name: string; test: { mean: number }; top5?: unknown }> };
    const gen = summary.groups.find((g) => g.name === 'generated');
    assert.ok(gen && Number.isFinite(gen.test.mean), `${preset}: generated models were evaluated`);
    assert.ok(gen.top5, `${preset}: top-5 reported for 10 classes`);
  });
}

test('a missing or malformed CIFAR-10 folder: the loader\'s error naming the file', async () => {
  await assert.rejects(runPipeline(microCifar('cifar10-vit-ln', join(tmp, 'missing'), join(tmp, 'nowhere')), { until: 'base', say: () => {} }), /cifar-10/i);
  const bad = join(tmp, 'bad-cifar');
  writeCifar(bad, 4, 4);
  writeFileSync(join(bad, 'data_batch_2.bin'), Buffer.alloc(3073 * 2 + 5));
  await assert.rejects(runPipeline(microCifar('cifar10-vit-ln', join(tmp, 'bad'), bad), { until: 'base', say: () => {} }), (e: Error) => e.message.includes(join(bad, 'data_batch_2.bin')));
});
