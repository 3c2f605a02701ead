/**
 * eval.secondDataset does what it says (issue 22): on a tiny run the evaluate stage scores the
 * original, generated and ensemble members on the second dataset's test split (summary.json
 * `secondDataset`), the report shows a "Second dataset" section, and a second dataset whose
 * images are not the model's input shape is refused with a ConfigError naming the key.
 *
 * MNIST is not installed here, so the second dataset is Fashion-MNIST's own folder read as
 * `mnist` (MNIST's loader and normalisation): the point is the wiring, not the numbers.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/load.js';
import { DEFAULT_FASHION_MNIST_DIR } from '../../src/data/dataset.js';
import { idxBytes, microOverrides, skipWithoutFashionMnist } from '../helpers/data.js';
import { runPipeline } from '../../src/run/pipeline.js';
import { ConfigError } from '../../src/util/errors.js';

const skip = skipWithoutFashionMnist;
const tmp = mkdtempSync(join(tmpdir(), 'pdiff-second-dataset-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const out = join(tmp, 'run');

/** The micro run, shift off, with `secondDataset`. */
function microConfig(secondDataset: { dataset: 'mnist' | 'fashion-mnist'; dir: string | null }): ReturnType<typeof resolveConfig> {
  return resolveConfig({ preset: 'fmnist-tiny', overrides: microOverrides(out, { shift: { enabled: false, models: 2 }, secondDataset }) });
}


test('eval.secondDataset: summary.json has each group\'s accuracy on it, and the report a "Second dataset" section', { skip }, async () => {
  const said: string[] = [];
  await runPipeline(microConfig({ dataset: 'mnist', dir: DEFAULT_FASHION_MNIST_DIR }), { until: 'report', say: (l) => said.push(l) });
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { secondDataset?: Array<{ dataset: string; group: string; meanAcc: number; bestAcc: number; accs: number[] }> };
  const rows = summary.secondDataset;
  assert.ok(rows, 'summary.json has no secondDataset');
  assert.deepEqual(rows.map((r) => r.group), ['original', 'generated', 'ensemble']);
  // eval.shift.models = 2 members of original (k = 3) and generated (n = 2); the ensemble is one model
  assert.deepEqual(rows.map((r) => r.accs.length), [2, 2, 1]);
  for (const r of rows) {
    assert.equal(r.dataset, 'mnist/test');
    for (const a of [...r.accs, r.meanAcc, r.bestAcc]) assert.ok(Number.isFinite(a) && a >= 0 && a <= 100, `${r.group}: accuracy ${a} is not in [0, 100]`);
    assert.equal(r.bestAcc, Math.max(...r.accs));
    assert.ok(Math.abs(r.meanAcc - r.accs.reduce((s, v) => s + v, 0) / r.accs.length) < 1e-9);
  }
  assert.ok(said.some((l) => /^\[evaluate\] second dataset mnist\/test \(100 images\): mean accuracy original \d+\.\d\d \(2\), generated \d+\.\d\d \(2\), ensemble \d+\.\d\d \(1\) \(\d+\.\d s\)$/.test(l)), said.join('\n'));

  const md = readFileSync(join(out, 'report.md'), 'utf8');
  assert.match(md, /^## Second dataset: accuracy \(%\) on mnist\/test$/m);
  assert.match(md, /^\| group \| mean accuracy \| best accuracy \| models \|$/m);
  assert.match(md, /^\| generated \| \d+\.\d\d \| \d+\.\d\d \| 2 \|$/m);
  assert.match(md, /matched to the model's by index/);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /<li><a href="#second-dataset">Second dataset: accuracy \(%\) on mnist\/test<\/a><\/li>/);
  assert.match(html, /<h2 id="second-dataset">/);
});

test('eval.secondDataset: the run\'s own dataset as the second one scores each group\'s first members exactly as their test accuracies', { skip }, async () => {
  // Same images, labels and chunking as the test split, through another evaluator: the same accuracies.
  await runPipeline(microConfig({ dataset: 'fashion-mnist', dir: null }), { until: 'evaluate', say: () => {}, reconfigure: true });
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
    groups: Array<{ name: string; accuracies: { test: number[] } }>;
    secondDataset?: Array<{ dataset: string; group: string; accs: number[] }>;
  };
  assert.ok(summary.secondDataset, 'summary.json has no secondDataset');
  for (const r of summary.secondDataset) {
    assert.equal(r.dataset, 'fashion-mnist/test');
    const g = summary.groups.find((x) => x.name === r.group)!;
    assert.deepEqual(r.accs, g.accuracies.test.slice(0, r.accs.length), r.group);
  }
});

test('eval.secondDataset: a dataset whose images are not the model\'s input shape is refused, naming the key', { skip }, async () => {
  // 32x32 images in MNIST's IDX layout: the model takes [1, 28, 28]
  const dir = join(tmp, 'mnist-32');
  mkdirSync(dir, { recursive: true });
  const n = 4;
  for (const split of ['train', 't10k']) {
    writeFileSync(join(dir, `${split}-images-idx3-ubyte`), idxBytes([n, 32, 32], new Uint8Array(n * 32 * 32).fill(7)));
    writeFileSync(join(dir, `${split}-labels-idx1-ubyte`), idxBytes([n], Uint8Array.from([0, 1, 2, 3])));
  }
  // The same run folder as the test above when it ran (its groups are then up to date), else a fresh run.
  await assert.rejects(
    runPipeline(microConfig({ dataset: 'mnist', dir }), { until: 'evaluate', say: () => {}, reconfigure: true }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
      assert.match(e.message, /^eval\.secondDataset\.dataset: mnist has images \[1, 32, 32\], but the model takes \[1, 28, 28\] \(fashion-mnist\)/);
      return true;
    },
  );
});
