import type { Backend } from '../backend/backend.js';
import type { Rng } from '../tensor/random.js';
import type { Classifier } from './classifier.js';
import { CnnS } from './cnn-s.js';
import { Mlp } from './mlp.js';
import { ResNetCifar } from './resnet.js';

export type { Classifier, EvalTailRequest, TailChoice, TailKind, TailRunner } from './classifier.js';
export { GenericTail, firstExactTail, type TailCandidate } from './tail.js';
export { CnnS } from './cnn-s.js';
export { Mlp } from './mlp.js';
export { ResNetCifar } from './resnet.js';

export type Arch = 'cnn-s' | 'mlp' | 'resnet20';

/** Build a classifier by architecture name for inputs [C, H, W]. */
export function buildClassifier(arch: Arch, opts: { rng: Rng; backend?: Backend; inShape: [number, number, number]; numClasses: number; mlpHidden?: number[] }): Classifier {
  const [c, h, w] = opts.inShape;
  switch (arch) {
    case 'cnn-s': return new CnnS({ rng: opts.rng, backend: opts.backend, inChannels: c, numClasses: opts.numClasses });
    case 'mlp': return new Mlp({ rng: opts.rng, backend: opts.backend, inFeatures: c * h * w, hidden: opts.mlpHidden ?? [128], numClasses: opts.numClasses });
    case 'resnet20': return new ResNetCifar({ rng: opts.rng, backend: opts.backend, inChannels: c, numClasses: opts.numClasses });
  }
}
