/**
 * Named presets: partial configs applied on top of the schema defaults (which are the cpu
 * recipe in `bn` mode, docs/README.md). A preset, once published, is only added to, never silently
 * changed: stored run configs name the values, but people remember presets by name.
 */
import type { Config, DeepPartial } from './schema.js';

export interface Preset {
  /** One line shown by `pdiff config presets`. */
  description: string;
  /** Values that differ from the schema defaults. */
  overrides: DeepPartial<Config>;
}

/** The preset used when none is named. */
export const DEFAULT_PRESET = 'fmnist-bn';

export const PRESETS: Record<string, Preset> = {
  'fmnist-bn': {
    description: 'Fashion-MNIST cnn-s, last two BN layers (192 floats); the cpu recipe, bn mode, denoiser EMA 0.999 (about 15 min on 2 cores)',
    // Measured (RESULTS.md, seed 0, same checkpoints and autoencoder): sampling from an EMA of the
    // denoiser weights (decay 0.999 over the 3,000 steps; the recipe is silent on EMA; docs/diffusion.md#ema) gives a
    // tighter generated group than the raw weights: test mean 88.38 vs 88.35, min 87.70 vs 87.31,
    // std 0.13 vs 0.16, test@best-val 88.47 vs 88.45.
    overrides: { diffusion: { ema: 0.999 } },
  },

  'fmnist-full': {
    description: 'Fashion-MNIST cnn-s, all 24,058 parameters; the cpu recipe, whole mode, per-coordinate normalisation and rescaled latents (about 40 min on 2 cores)',
    overrides: {
      out: 'runs/fmnist-full',
      collect: { mode: 'whole', lr: 1e-4, weightDecay: 5e-3 },
      // Measured (RESULTS.md, seed 0): with per-tensor normalisation (docs/zoo.md#normalisation) the differences
      // between checkpoints (~1e-4 of weights of size ~0.1) sit at the level of the AE's 0.001
      // input noise; the AE learns a blurred average (reconstructions: test std 0.02, NN-L2 0.98
      // against 0.0033 between checkpoints) and the generated models land 1.3 points below the
      // checkpoints (mean 86.94, best 88.13). Per-coordinate normalisation makes the differences
      // the signal: reconstructions 88.30 (std 0.15, NN-L2 0.011), generated mean 88.42.
      ae: { channels: [8, 16, 32, 32, 16], latentDim: 128, steps: 600, batchSize: 16, normalize: 'coordinate' },
      // Measured: with the recipe's AE settings (docs/diffusion.md#latent-scale) the whole-network latents explode (std 16-32, range
      // about -70..95), and a DDPM on unit-variance noise cannot fit them (loss stuck near 0.3).
      // Dividing the latents by their std before diffusion (and multiplying samples back) fixes it.
      diffusion: { steps: 2000, latentScale: 'std' },
      generate: { n: 100 },
      eval: { baselineCount: 20 },
    },
  },

  'fmnist-seeds': {
    description: 'Fashion-MNIST MLP 784-64-64-10 (55,050 parameters), whole network from 10 independently trained seeds x 20 checkpoints, aligned by weight matching (about 50 min on 2 cores)',
    // The MLP's forward pass costs 1/35 of cnn-s's, so base training (10 seeds), collection and
    // evaluation take minutes; the autoencoder on 55,104 floats is the largest stage. Measured in
    // RESULTS.md#multi-seed-zoos: at 600 AE steps and kernel-7 denoiser (the first settings) the AE
    // loss stalled at 0.136 and the samples fell between the seeds' clusters (test mean 34.5 %).
    overrides: {
      out: 'runs/fmnist-seeds',
      model: { arch: 'mlp', mlpHidden: [64, 64] },
      // 20 checkpoints per seed, 10 AdamW steps apart at the fmnist-full rate: each seed a small
      // cluster, the seeds far apart (the alignment decides whether "far apart" is a permutation)
      collect: { mode: 'whole', seeds: 10, align: 'weight-matching', k: 20, saveEvery: 10, lr: 1e-4, weightDecay: 5e-3 },
      // the whole-network settings of fmnist-full (per-coordinate normalisation, rescaled latents)
      ae: { channels: [8, 16, 32, 32, 16], latentDim: 128, steps: 2000, batchSize: 16, normalize: 'coordinate' },
      // one latent cluster per seed, nearly orthogonal: the denoiser must see the whole 128-long
      // latent to tell them apart, so kernel 17 (receptive field 129; docs/diffusion.md#denoiser)
      diffusion: { steps: 4000, kernel: 17, latentScale: 'std' },
      generate: { n: 100 },
      eval: { baselineCount: 20, shift: { kinds: ['gaussian_noise', 'contrast', 'rotation'], severities: [3], models: 5 } },
    },
  },

  'fmnist-tasks': {
    description: 'Fashion-MNIST cnn-s, task-conditioned generation: a zoo of 972 binary tasks (bn3 + a 2-way fc, 258 floats), 50 codes held out and evaluated against oracle, nearest-seen, mean-seen and ridge (32 min on 2 cores)',
    // Sizes (docs/tasks.md#the-preset; the whole run took 31.6 min, RESULTS.md): the zoo is 972 tasks
    // x about 0.6 s; the autoencoder sees 9,720 rows of 320 floats and the denoiser 972
    // conditions, far more than fmnist-bn's 200 rows of one trajectory, so both train longer (AE
    // 3,000 steps of 50; denoiser 6,000 steps of 100, each latent seen about 60 times, the
    // largest stage); generation is 70 codes x 10 models with the DDPM, evaluation 70 codes with
    // their oracle and nearest-seen checkpoints.
    overrides: {
      out: 'runs/fmnist-tasks',
      tasks: { condition: 'task' },
      // Per-coordinate normalisation and rescaled latents, as for fmnist-full: between tasks the
      // head's weights move far more than bn3's, and per coordinate both are signal (a choice,
      // not a measurement).
      ae: { steps: 3000, normalize: 'coordinate' },
      diffusion: { steps: 6000, batchSize: 100, ema: 0.999, latentScale: 'std' },
      generate: { batchSize: 200 },
    },
  },

  'fmnist-target-acc': {
    description: 'Fashion-MNIST MLP 784-64-64-10 (55,050 parameters), accuracy-conditioned generation: 10 training runs from one initialisation x 40 checkpoints labelled with their val accuracy, 14 prompts (12 inside the range, 2 above) against nearest-label, nearest-label-mean and ridge baselines (about 40 min on 2 cores)',
    // The generated part is the whole MLP, trained from its random initialisation (docs/accuracy.md#zoo):
    // the base model is only the holder of the architecture, so one epoch of it is enough. The
    // zoo is 400 rows of 55,050 floats, the size of fmnist-seeds' zoo, so the autoencoder and the
    // denoiser take fmnist-seeds' measured settings (per-coordinate normalisation, 2,000 AE steps,
    // rescaled latents, a kernel-17 denoiser that sees the whole latent); they are the largest stages.
    overrides: {
      out: 'runs/fmnist-target-acc',
      model: { arch: 'mlp', mlpHidden: [64, 64] },
      base: { epochs: 1 },
      tasks: { condition: 'accuracy' },
      ae: { channels: [8, 16, 32, 32, 16], latentDim: 128, steps: 2000, batchSize: 16, normalize: 'coordinate' },
      diffusion: { steps: 4000, kernel: 17, latentScale: 'std' },
    },
  },

  'fmnist-tiny': {
    description: 'tiny Fashion-MNIST bn run for tests and smoke checks (well under a minute)',
    overrides: {
      out: 'runs/fmnist-tiny',
      data: { limitTrain: 5000, limitTest: 1000, valSize: 1000 },
      base: { epochs: 2 },
      collect: { k: 20 },
      ae: { steps: 300 },
      diffusion: { steps: 300 },
      generate: { n: 10 },
      eval: { baselineCount: 5, latency: false, shift: { enabled: false } },
    },
  },

  'fmnist-resnet20-bn': {
    description: 'Fashion-MNIST ResNet-20 (0.27M parameters), last block\'s bn1/bn2 (256 floats); SGD base training with crop+flip (50 min on 2 cores)',
    overrides: {
      out: 'runs/fmnist-resnet20-bn',
      data: { augment: true },
      model: { arch: 'resnet20' },
      // SGD + momentum with a cosine schedule is the ResNet recipe (He et al.); 10 epochs is what
      // the hour allows on 2 cores (about 2.5 min an epoch; the whole run took 49.6 min, RESULTS.md).
      base: { epochs: 10, optimizer: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 5e-4, warmupSteps: 200 },
      // 'bn' mode = the last two BN layers = layer3.2.bn1 and layer3.2.bn2, the paper's choice
      generate: { n: 100 },
      // every evaluated set reruns layer3.2's second conv on 15k images: fewer baseline members
      // and a lighter shift sweep keep the evaluate stage near 12 minutes
      eval: { baselineCount: 20, shift: { kinds: ['gaussian_noise', 'contrast', 'rotation'], severities: [3], models: 5 } },
    },
  },

  'fmnist-effnet-bn': {
    description: 'Fashion-MNIST EfficientNet small (B0 rows at width 0.5, depth 0.5; stride-1 stem), last two BN layers (features.7.0.block.3.1, features.8.1: 1,600 floats) (49 min on 2 cores)',
    overrides: {
      out: 'runs/fmnist-effnet-bn',
      data: { augment: true },
      model: { arch: 'efficientnet-s' },
      base: { epochs: 10, lr: 2e-3, weightDecay: 5e-3, warmupSteps: 200 },
      generate: { n: 100 },
      eval: { baselineCount: 20, shift: { kinds: ['gaussian_noise', 'contrast', 'rotation'], severities: [3], models: 5 } },
    },
  },

  'fmnist-vit-ln': {
    description: 'Fashion-MNIST ViT (patch 7, 4 layers, 4 heads, width 64, MLP 128), last block\'s ln_2 and the final encoder.ln (256 floats)',
    overrides: {
      out: 'runs/fmnist-vit-ln',
      // no crop+flip: this small ViT underfits Fashion-MNIST, and the augmented recipe (lr 1e-3,
      // 10 epochs) ended at 83.4% test with train accuracy no higher; without augmentation and
      // at lr 2e-3, 10 epochs reached 89.42% val / 88.80% test with val still rising 0.2-0.3 an
      // epoch, so the cosine schedule is stretched to 15 epochs (RESULTS.md, issue 16)
      data: { augment: false },
      model: { arch: 'vit', vit: { patchSize: 7, layers: 4, heads: 4, hidden: 64, mlp: 128 } },
      base: { epochs: 15, lr: 2e-3, weightDecay: 0.05, warmupSteps: 200 },
      collect: { mode: 'custom', params: ['encoder.layers.encoder_layer_3.ln_2.*', 'encoder.ln.*'] },
      generate: { n: 100 },
      eval: { baselineCount: 20, shift: { kinds: ['gaussian_noise', 'contrast', 'rotation'], severities: [3], models: 5 } },
    },
  },

  'cifar10-resnet18-bn': {
    description: 'CIFAR-10 torchvision resnet18 with the small stem (P-Diff\'s CIFAR setting), crop+flip, last block\'s bn1/bn2 (layer4.1: 2,048 floats); bring the binary batches in data.dir',
    overrides: {
      out: 'runs/cifar10-resnet18-bn',
      data: { dataset: 'cifar10', augment: true },
      model: { arch: 'resnet18' },
      base: { epochs: 30, optimizer: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 5e-4, warmupSteps: 400 },
    },
  },

  'cifar10-effnet-bn': {
    description: 'CIFAR-10 EfficientNet-B0 (stride-1 stem), crop+flip, last two BN layers; bring the binary batches in data.dir',
    overrides: {
      out: 'runs/cifar10-effnet-bn',
      data: { dataset: 'cifar10', augment: true },
      model: { arch: 'efficientnet-b0' },
      base: { epochs: 30, lr: 2e-3, weightDecay: 5e-3, warmupSteps: 400 },
    },
  },

  'cifar10-vit-ln': {
    description: 'CIFAR-10 ViT (patch 4, 6 layers, 4 heads, width 64, MLP 128), crop+flip, last block\'s ln_2 and encoder.ln; bring the binary batches in data.dir',
    overrides: {
      out: 'runs/cifar10-vit-ln',
      data: { dataset: 'cifar10', augment: true },
      model: { arch: 'vit' },
      base: { epochs: 30, lr: 1e-3, weightDecay: 0.05, warmupSteps: 400 },
      collect: { mode: 'custom', params: ['encoder.layers.encoder_layer_5.ln_2.*', 'encoder.ln.*'] },
    },
  },

  'cifar10-resnet-bn': {
    description: 'CIFAR-10 resnet20 with augmentation, last two BN layers (layer3.2.bn1, layer3.2.bn2)',
    overrides: {
      out: 'runs/cifar10-resnet-bn',
      data: { dataset: 'cifar10', augment: true },
      model: { arch: 'resnet20' },
      base: { epochs: 30, lr: 1e-3, weightDecay: 5e-4 },
      collect: { mode: 'custom', params: ['layer3.2.bn1.*', 'layer3.2.bn2.*'] },
    },
  },

  paper: {
    description: 'Fashion-MNIST cnn-s, bn mode, with the official full-scale values',
    overrides: {
      out: 'runs/fmnist-paper',
      data: { augment: true },
      base: { epochs: 25 },
      collect: { lr: 0.03, weightDecay: 5e-4, k: 300, bnMode: 'train' },
      ae: { channels: [64, 128, 256, 256, 32], latentDim: 128, lr: 2e-5, steps: 500, batchSize: 50 },
      diffusion: { channels: [1, 64, 128, 256, 512, 256, 128, 64, 1], lr: 1e-4, steps: 1000, batchSize: 50 },
      generate: { n: 200 },
    },
  },
};
