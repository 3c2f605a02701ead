/**
 * A small task setup for the tests: synthetic 1x12x12 images whose class shows as a bright 3x3
 * blob at a class-dependent place (so the binary tasks are learnable), a cnn-s "base" with
 * calibrated BN running statistics, and its 2-way task model.
 */
import { jsBackend } from '../../src/backend/index.js';
import type { Dataset } from '../../src/data/dataset.js';
import { CnnS } from '../../src/models/cnn-s.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, noGrad } from '../../src/tensor/tensor.js';
import { prepareTaskModel, type TaskModel } from '../../src/tasks/task-model.js';

export const be = jsBackend();
export const SIDE = 12;

/** n images of SIDE x SIDE: noise plus a blob at position (class % 5, class / 5 | 0) * 2. */
export function blobs(name: string, n: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const hw = SIDE * SIDE;
  const images = rng.fillNormal(new Float32Array(n * hw), 0, 0.5) as Float32Array;
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const y = rng.int(10);
    labels[i] = y;
    const r0 = 1 + 2 * Math.floor(y / 5) * 2, c0 = 1 + 2 * (y % 5);
    for (let r = r0; r < r0 + 3; r++) for (let c = c0; c < c0 + 3; c++) images[i * hw + r * SIDE + c] = images[i * hw + r * SIDE + c]! + 2;
  }
  return { name, images, labels, n, c: 1, h: SIDE, w: SIDE, numClasses: 10, norm: { mean: [0], std: [1] } };
}

/** A cnn-s with BN running statistics from train-mode passes over `calib` (eval-mode activations in range). */
export function baseModel(calib: Dataset, seed = 3): CnnS {
  const m = new CnnS({ rng: new Rng(seed), backend: be });
  const x = new Tensor(be.fromArray(calib.images), [calib.n, 1, SIDE, SIDE], be);
  m.train();
  noGrad(() => { for (let i = 0; i < 5; i++) m.forward(x); });
  m.eval();
  return m;
}

export interface Setup {
  base: CnnS;
  task: TaskModel;
  train: Dataset;
  val: Dataset;
  test: Dataset;
}

export function setup(): Setup {
  const train = blobs('blobs/train', 240, 1), val = blobs('blobs/val', 60, 2), test = blobs('blobs/test', 80, 3);
  const base = baseModel(train);
  const task = prepareTaskModel({ base, taskModel: new CnnS({ rng: new Rng(9), backend: be, numClasses: 2 }) });
  return { base, task, train, val, test };
}
