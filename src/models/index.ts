export type { Classifier, EvalTailRequest, TailChoice, TailKind, TailRunner } from './classifier.js';
export { GenericTail, firstExactTail, type TailCandidate } from './tail.js';
export { CnnS } from './cnn-s.js';
export { Mlp } from './mlp.js';
export { ResNetCifar } from './resnet.js';
export { ResNetTv } from './resnet-tv.js';
export { EfficientNet, makeDivisible } from './efficientnet.js';
export { VisionTransformer } from './vit.js';
export { StagedClassifier, type StageSpec } from './staged.js';

export { ARCH_NAMES, ARCH_REGISTRY, buildClassifier, smallStem, type Arch, type ArchSpec, type BuildArgs, type ModelOptions } from './registry.js';
