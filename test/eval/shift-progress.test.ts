/**
 * The shift evaluation reports its progress while it runs (it takes minutes on a full run):
 * after every image chunk, the passes done over all test sets, their total and the test set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset } from '../../src/data/dataset.js';
import { evaluateUnderShift, type ShiftPoint } from '../../src/eval/shift-eval.js';
import { Mlp } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { Progress } from '../../src/util/progress.js';
import { ParamLayout, selectParams } from '../../src/zoo/layout.js';
import { jsBackend } from '../../src/backend/index.js';

const be = jsBackend();

/** n random images [n, 1, 8, 8] with random labels 0..3. */
function noise(n: number, rng: Rng): Dataset {
  const images = new Float32Array(n * 64).map(() => rng.normal());
  const labels = Uint8Array.from({ length: n }, () => rng.int(4));
  return { name: 'noise/test', images, labels, n, c: 1, h: 8, w: 8, numClasses: 4, norm: { mean: [0], std: [1] } };
}

test('evaluateUnderShift reports each (chunk x parameter set) pass over every test set, through onPass', () => {
  const model = new Mlp({ rng: new Rng(1), backend: be, inFeatures: 64, hidden: [8], numClasses: 4 });
  const layout = ParamLayout.fromModel(model, selectParams(model, 'whole'));
  const base = layout.read(model);
  const two = new Float32Array(2 * layout.total);
  two.set(base, 0);
  two.set(base.map((v) => v * 1.1), layout.total);
  const groups = { original: { vecs: two, P: 2 }, ensemble: { vecs: base, P: 1 } };
  const testSet = noise(25, new Rng(2));

  const calls: Array<{ done: number; total: number; at: ShiftPoint }> = [];
  const messages: string[] = [];
  const rows = evaluateUnderShift({ model, layout }, groups, testSet, ['gaussian_noise', 'rotation'], [1, 3], new Rng(3), {
    batch: 10, includeClean: true,
    onPass: (done, total, at) => calls.push({ done, total, at }),
    onProgress: (m) => messages.push(m),
  });
  assert.equal(rows.length, 5 * 2);
  // 5 test sets (clean + 2 kinds x 2 severities) x 3 chunks of 10 images x 3 parameter sets
  const total = 5 * 3 * 3;
  assert.equal(calls.length, 5 * 3, 'one call per image chunk of every test set');
  assert.ok(calls.every((c) => c.total === total), `totals ${[...new Set(calls.map((c) => c.total))].join(', ')}`);
  assert.deepEqual(calls.map((c) => c.done), Array.from({ length: 15 }, (_, i) => 3 * (i + 1)));
  assert.deepEqual([...new Set(calls.map((c) => `${c.at.kind} ${c.at.severity}`))], ['clean 0', 'gaussian_noise 1', 'gaussian_noise 3', 'rotation 1', 'rotation 3']);
  assert.equal(messages.length, 5);

  // the same numbers without a progress callback: reporting changes nothing
  assert.deepEqual(evaluateUnderShift({ model, layout }, groups, testSet, ['gaussian_noise', 'rotation'], [1, 3], new Rng(3), { batch: 10, includeClean: true }), rows);

  // through a Progress that is not on a terminal: plain lines while it runs, then the final one
  const out: string[] = [];
  let bar: Progress | undefined;
  evaluateUnderShift({ model, layout }, groups, testSet, ['gaussian_noise'], [1, 3, 5], new Rng(3), {
    batch: 5,
    onPass: (done, t, at) => {
      bar ??= new Progress({ label: 'evaluate shift', total: t, stream: { write: (s: string) => out.push(s) }, unit: 'model-chunk', enabled: true });
      bar.tick(done - bar.current, { on: `${at.kind} ${at.severity}` });
    },
  });
  bar?.done();
  assert.ok(out.length >= 9, out.join(''));
  assert.match(out[0]!, /^\[evaluate shift\] model-chunk \d+\/45 on gaussian_noise 1 /);
  assert.match(out.at(-1)!, /^\[evaluate shift\] done: 45 model-chunks in /);
});
