/**
 * A small accuracy-zoo setup for the tests: the synthetic blob images of the task tests (the class
 * shows as a bright 3x3 blob at a class-dependent place), a 144-16-10 MLP, and a recipe of a few
 * dozen steps that goes from chance to a well trained model.
 */
import type { Dataset } from '../../src/data/dataset.js';
import { Mlp } from '../../src/models/mlp.js';
import { CnnS } from '../../src/models/cnn-s.js';
import type { Classifier } from '../../src/models/classifier.js';
import { Rng } from '../../src/tensor/random.js';
import type { AccuracyRecipe } from '../../src/accuracy/zoo.js';
import { be, blobs, SIDE } from '../tasks/fixture.js';

export { be, SIDE };

export const train: Dataset = blobs('blobs/train', 240, 1);
export const val: Dataset = blobs('blobs/val', 60, 2);
export const test: Dataset = blobs('blobs/test', 80, 3);

/** A fresh MLP 144-16-10 from a generator (the `build` of collectAccuracyZoo). */
export const buildMlp = (rng: Rng): Classifier => new Mlp({ rng, backend: be, inFeatures: SIDE * SIDE, hidden: [16], numClasses: 10 });

/** A fresh cnn-s for 1 x 12 x 12 images. */
export const buildCnn = (rng: Rng): Classifier => new CnnS({ rng, backend: be });

/** 40 steps, 14 candidates (12 distinct steps: 0, 1, 2, 3, 5, 6, 9, 12, 16, 22, 29, 40), 5 kept. */
export const recipe: AccuracyRecipe = {
  steps: 40, lr: 0.01, warmupSteps: 0, batchSize: 16, weightDecay: 5e-4, candidates: 14, k: 5, bnMode: 'train', init: 'shared',
};
