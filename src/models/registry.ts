/**
 * The architectures pdiff can build, by the name `model.arch` takes. Adding one is its own file,
 * its tests and one line here (docs/models.md#adding-an-architecture).
 */
import type { Backend } from '../backend/backend.js';
import type { Rng } from '../tensor/random.js';
import type { Classifier } from './classifier.js';
import { CnnS } from './cnn-s.js';
import { Mlp } from './mlp.js';
import { B0_ROWS, EfficientNet } from './efficientnet.js';
import { ResNetCifar } from './resnet.js';
import { ResNetTv } from './resnet-tv.js';
import { VisionTransformer } from './vit.js';

/** The `model` settings an architecture may read (the config's model section has this shape). */
export interface ModelOptions {
  mlpHidden?: readonly number[];
  stem?: 'auto' | 'small' | 'imagenet';
  dropout?: number | null;
  stochasticDepth?: number | null;
  vit?: { patchSize: number; layers: number; heads: number; hidden: number; mlp: number };
}

export interface BuildArgs {
  rng: Rng;
  backend?: Backend;
  /** One input image [C, H, W]. */
  inShape: readonly [number, number, number];
  numClasses: number;
  model?: ModelOptions;
}

export interface ArchSpec {
  /** One line for `pdiff config` and docs/models.md. */
  description: string;
  build(args: BuildArgs): Classifier;
}

/** `auto` stem: the CIFAR-style small stem for images of side <= 64 (docs/models.md#stems). */
export const smallStem = (a: BuildArgs): boolean => (a.model?.stem ?? 'auto') === 'auto' ? Math.max(a.inShape[1], a.inShape[2]) <= 64 : a.model?.stem === 'small';

const VIT_DEFAULTS = { patchSize: 4, layers: 6, heads: 4, hidden: 64, mlp: 128 };

const tvResNet = (depth: 18 | 50) => (a: BuildArgs) =>
  new ResNetTv({ rng: a.rng, backend: a.backend, depth, inChannels: a.inShape[0], numClasses: a.numClasses, smallStem: smallStem(a) });

const efficientNet = (arch: string, widthMult: number, depthMult: number) => (a: BuildArgs) => new EfficientNet({
  rng: a.rng, backend: a.backend, arch, rows: B0_ROWS, widthMult, depthMult, inChannels: a.inShape[0], numClasses: a.numClasses,
  smallStem: smallStem(a), dropout: a.model?.dropout ?? 0.2, stochasticDepth: a.model?.stochasticDepth ?? 0.2,
});

const cifarResNet = (n: number) => (a: BuildArgs) => new ResNetCifar({ rng: a.rng, backend: a.backend, inChannels: a.inShape[0], numClasses: a.numClasses, depthN: n });

export const ARCH_REGISTRY = {
  'cnn-s': { description: 'the SPEC\'s small CNN (3 conv + BN + max-pool, 24k parameters on 1x28x28)', build: (a) => new CnnS({ rng: a.rng, backend: a.backend, inChannels: a.inShape[0], numClasses: a.numClasses }) },
  mlp: { description: 'flatten + Linear/ReLU per model.mlpHidden width + linear head', build: (a) => new Mlp({ rng: a.rng, backend: a.backend, inFeatures: a.inShape[0] * a.inShape[1] * a.inShape[2], hidden: [...(a.model?.mlpHidden ?? [128])], numClasses: a.numClasses }) },
  resnet20: { description: 'CIFAR ResNet-20 (He et al. 2016: 3 stages of 3 basic blocks, 16/32/64 channels; 0.27M parameters)', build: cifarResNet(3) },
  resnet32: { description: 'CIFAR ResNet-32 (5 blocks per stage)', build: cifarResNet(5) },
  resnet56: { description: 'CIFAR ResNet-56 (9 blocks per stage)', build: cifarResNet(9) },
  resnet18: { description: 'torchvision resnet18 (BasicBlock x [2, 2, 2, 2], 11.2M parameters); model.stem', build: tvResNet(18) },
  resnet50: { description: 'torchvision resnet50 (Bottleneck x [3, 4, 6, 3], 23.5M parameters); model.stem', build: tvResNet(50) },
  'efficientnet-b0': { description: 'torchvision efficientnet_b0 (16 MBConv blocks, 4.0M parameters); model.stem, dropout, stochasticDepth', build: efficientNet('efficientnet-b0', 1, 1) },
  'efficientnet-s': { description: 'EfficientNet-B0 rows at width 0.5, depth 0.5 (10 MBConv blocks); model.stem, dropout, stochasticDepth', build: efficientNet('efficientnet-s', 0.5, 0.5) },
  vit: {
    description: 'torchvision VisionTransformer, sizes from model.vit (default patch 4, 6 layers, 4 heads, width 64, MLP 128)',
    build: (a) => new VisionTransformer({ rng: a.rng, backend: a.backend, inShape: a.inShape, numClasses: a.numClasses, ...(a.model?.vit ?? VIT_DEFAULTS), dropout: a.model?.dropout ?? 0 }),
  },
} satisfies Record<string, ArchSpec>;

export type Arch = keyof typeof ARCH_REGISTRY;
export const ARCH_NAMES = Object.keys(ARCH_REGISTRY) as [Arch, ...Arch[]];

/** Build a classifier by architecture name. */
export function buildClassifier(arch: Arch, args: BuildArgs): Classifier {
  const spec: ArchSpec | undefined = ARCH_REGISTRY[arch];
  if (!spec) throw new RangeError(`unknown architecture "${String(arch)}" (known: ${ARCH_NAMES.join(', ')})`);
  return spec.build(args);
}
