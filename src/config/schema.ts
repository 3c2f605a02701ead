/**
 * The configuration schema: every setting with its default and a one-line description
 * (nanoGPT style). Every object is strict, so an unknown key is an error, never ignored.
 * Defaults are the cpu recipe (docs/README.md) in `bn` mode; other presets live in presets.ts.
 *
 * Parsing `{}` gives the complete default config; sections use `.prefault({})` so that their
 * own defaults are filled in when a section is absent.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { ARCH_NAMES } from '../models/registry.js';
import { candidateSteps } from '../accuracy/schedule.js';

// ---- field builders (kept tiny so the schema below reads as a table) ----

/** Integer >= 1 (steps, batch sizes, counts). */
const posInt = () => z.int().min(1);
/** Integer >= 0. */
const nonNegInt = () => z.int().min(0);
/** Number > 0 (learning rates). */
const posNum = () => z.number().gt(0);
/** Number >= 0 (weight decay, noise scales). */
const nonNegNum = () => z.number().min(0);

/** Datasets pdiff can read (IDX for the MNIST family, binary batches for CIFAR). */
export const DATASETS = ['fashion-mnist', 'mnist', 'kmnist', 'cifar10', 'cifar100'] as const;
/** Classifier architectures (src/models/registry.ts builds them; docs/models.md describes them). */
export const ARCHS = ARCH_NAMES;
/** Distribution-shift corruptions used by the robustness evaluation. */
export const SHIFT_KINDS = [
  'gaussian_noise',
  'gaussian_blur',
  'contrast',
  'brightness',
  'rotation',
  'translation',
] as const;

const dataSchema = z
  .strictObject({
    dataset: z.enum(DATASETS).default('fashion-mnist').describe('dataset to train and evaluate on'),
    dir: z
      .string()
      .nullable()
      .default(null)
      .describe('folder holding the dataset files (null = the default location for the dataset)'),
    valSize: posInt().default(5000).describe('validation images held out from the end of the training set'),
    limitTrain: posInt()
      .nullable()
      .default(null)
      .describe('use only the first N training images (null = all; for quick tests)'),
    limitTest: posInt()
      .nullable()
      .default(null)
      .describe('use only the first N test images (null = all; for quick tests)'),
    augment: z
      .boolean()
      .default(false)
      .describe('random-resized-crop + horizontal-flip augmentation while training the base model'),
  })
  .prefault({})
  .describe('dataset and splits');

const modelSchema = z
  .strictObject({
    arch: z.enum(ARCHS).default('cnn-s').describe('classifier architecture'),
    mlpHidden: z
      .array(posInt())
      .default([128])
      .describe('hidden layer sizes of the mlp architecture (ignored by the others)'),
    stem: z
      .enum(['auto', 'small', 'imagenet'])
      .default('auto')
      .describe('stem of resnet18/resnet50/efficientnet-*: imagenet = torchvision\'s (strided conv, resnet max-pool), small = stride-1 3x3 conv without max-pool (the CIFAR stem), auto = small for images of side <= 64'),
    dropout: z
      .number()
      .min(0)
      .lt(1)
      .nullable()
      .default(null)
      .describe('dropout before the classifier of efficientnet-* and in the MLP/attention of vit (null = the architecture\'s torchvision default: 0.2 for efficientnet, 0 for vit)'),
    stochasticDepth: z
      .number()
      .min(0)
      .lt(1)
      .nullable()
      .default(null)
      .describe('efficientnet-* stochastic depth probability of the last block, linearly scaled over blocks (null = torchvision\'s 0.2)'),
    vit: z
      .strictObject({
        patchSize: posInt().default(4).describe('side of the square patches (must divide the image side)'),
        layers: posInt().default(6).describe('encoder blocks'),
        heads: posInt().default(4).describe('attention heads (must divide hidden)'),
        hidden: posInt().default(64).describe('token width'),
        mlp: posInt().default(128).describe('width of the MLP in each block'),
      })
      .prefault({})
      .describe('vision transformer sizes (torchvision VisionTransformer arguments; ignored by the others)'),
  })
  .prefault({})
  .describe('classifier architecture');

const baseSchema = z
  .strictObject({
    epochs: posInt().default(4).describe('training epochs of the base model'),
    batchSize: posInt().default(128).describe('minibatch size (reshuffled each epoch, last partial batch dropped)'),
    lr: posNum().default(3e-3).describe('peak learning rate'),
    weightDecay: nonNegNum().default(5e-3).describe('decoupled weight decay (AdamW) or L2 (SGD)'),
    schedule: z
      .enum(['cosine', 'constant', 'step'])
      .default('cosine')
      .describe('learning-rate schedule over all iterations (cosine decays to 0)'),
    warmupSteps: nonNegInt().default(0).describe('linear learning-rate warm-up iterations'),
    optimizer: z.enum(['adamw', 'sgd']).default('adamw').describe('optimiser'),
    momentum: z.number().min(0).lt(1).default(0.9).describe('SGD momentum (ignored by adamw)'),
  })
  .prefault({})
  .describe('base-model training');

const collectSchema = z
  .strictObject({
    mode: z
      .enum(['bn', 'whole', 'custom'])
      .default('bn')
      .describe('parameter subset to collect: last two BN layers, all learnable tensors, or collect.params'),
    params: z
      .array(z.string().min(1))
      .default([])
      .describe('parameter-name patterns for mode "custom" (glob-like, e.g. "bn3.*")'),
    k: z.int().min(2).default(200).describe('number of checkpoints K (one saved every saveEvery iterations)'),
    lr: posNum().default(0.01).describe('constant AdamW learning rate while collecting'),
    weightDecay: nonNegNum().default(5e-4).describe('AdamW weight decay while collecting'),
    batchSize: posInt().default(128).describe('minibatch size (drawn uniformly with replacement from train)'),
    bnMode: z
      .enum(['eval', 'train'])
      .default('eval')
      .describe('BN mode while collecting (eval = running stats frozen at the base model)'),
    saveEvery: posInt().default(1).describe('iterations between saved checkpoints'),
    seeds: z
      .union([posInt(), z.array(z.string().min(1)).min(1)])
      .default(1)
      .describe('base models the zoo is collected from: a number S (seed s trains as a run with seed + s would) or a list of state_dict files (.safetensors, PyTorch-written included); S >= 2 needs collect.mode "whole" (docs/seeds.md)'),
    align: z
      .enum(['none', 'weight-matching'])
      .default('none')
      .describe('align every seed\'s hidden units to seed 0 before the autoencoder sees the zoo (weight-matching: Git Re-Basin; needs 2 or more seeds)'),
    queue: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe('Redis URL redis://HOST:PORT/DB of a job queue: each seed of a multi-seed zoo, or each chunk of a task zoo (tasks.chunkSize tasks), is one job, run by `pdiff worker` processes that share the run folder; null = collect locally. Changes no result and is in no hash (docs/queue.md)'),
  })
  .prefault({})
  .describe('checkpoint collection');

const aeSchema = z
  .strictObject({
    channels: z
      .array(posInt())
      .length(5)
      .default([16, 32, 64, 64, 16])
      .describe('channels of the 5 encoder stages (decoder mirrors them)'),
    latentDim: posInt().default(64).describe('latent size d'),
    steps: posInt().default(2000).describe('training iterations'),
    batchSize: posInt().default(50).describe('checkpoints per minibatch (drawn with replacement)'),
    lr: posNum().default(1e-3).describe('peak AdamW learning rate'),
    weightDecay: nonNegNum().default(0).describe('AdamW weight decay'),
    schedule: z.enum(['cosine', 'constant']).default('cosine').describe('learning-rate schedule (cosine decays to 0)'),
    inputNoise: nonNegNum().default(0.001).describe('std of the noise added to the AE input while training'),
    latentNoise: nonNegNum().default(0.1).describe('std of the noise added to the latent while training'),
    normalize: z
      .enum(['tensor', 'coordinate'])
      .default('tensor')
      .describe('checkpoint normalisation before the AE: "tensor" = one mean/std per tensor (docs/zoo.md#normalisation), "coordinate" = per parameter over the K checkpoints'),
    kernel: posInt()
      .refine((k) => k % 2 === 1, { error: (iss) => `expected an odd integer (same padding), got ${String(iss.input)}` })
      .default(7)
      .describe('Conv1d kernel size (odd)'),
    padMultiple: posInt()
      .refine((m) => m % 32 === 0, {
        error: (iss) => `expected a multiple of 32 (the encoder halves the length 5 times), got ${String(iss.input)}`,
      })
      .default(64)
      .describe('zero-pad the flattened parameter vector to a multiple of this'),
  })
  .prefault({})
  .describe('parameter autoencoder');

const diffusionSchema = z
  .strictObject({
    channels: z
      .array(posInt())
      .length(9)
      // A wrong length is reported by .length(9) alone.
      .refine((c) => c.length !== 9 || (c[0] === 1 && c[8] === 1), {
        error: (iss) => `expected the first and last entries to be 1, got ${JSON.stringify(iss.input)}`,
      })
      .default([1, 16, 32, 64, 128, 64, 32, 16, 1])
      .describe('denoiser channel list [1, a, b, c, e, c, b, a, 1]'),
    kernel: z
      .int()
      .min(1)
      .refine((k) => k % 2 === 1, { error: (iss) => `expected an odd integer, got ${String(iss.input)}` })
      .default(7)
      .describe('kernel size of every denoiser conv (odd; 7 = P-Diff). The 8 convs see 1 + 8 (kernel - 1) latent entries: 49 at 7, so a longer latent is never seen whole by one output (docs/diffusion.md#denoiser)'),
    timesteps: z.int().min(2).default(1000).describe('diffusion timesteps T'),
    schedule: z.enum(['linear', 'cosine']).default('linear').describe('beta schedule'),
    betaStart: z.number().gt(0).lt(1).default(1e-4).describe('first beta of the linear schedule'),
    betaEnd: z.number().gt(0).lt(1).default(0.02).describe('last beta of the linear schedule'),
    steps: posInt().default(3000).describe('training iterations'),
    batchSize: posInt().default(50).describe('latents per minibatch (drawn with replacement)'),
    lr: posNum().default(1e-3).describe('peak AdamW learning rate'),
    weightDecay: nonNegNum().default(0).describe('AdamW weight decay'),
    lrSchedule: z
      .enum(['cosine', 'constant'])
      .default('cosine')
      .describe('learning-rate schedule (cosine decays to 0)'),
    ema: z.number().min(0).lt(1).default(0).describe('EMA decay of the denoiser weights (0 = off)'),
    latentScale: z
      .enum(['none', 'std'])
      .default('none')
      .describe('rescale latents before diffusion (std = divide by their overall std)'),
    condDropout: z
      .number()
      .min(0)
      .lt(1)
      .default(0.1)
      .describe('conditional denoiser only: probability that a training row\'s condition is replaced by the null condition (classifier-free guidance; docs/conditioning.md#condition-dropout)'),
  })
  .prefault({})
  .superRefine((d, ctx) => {
    if (d.betaEnd <= d.betaStart) {
      ctx.addIssue({
        code: 'custom',
        path: ['betaEnd'],
        message: `expected greater than diffusion.betaStart (${d.betaStart}), got ${d.betaEnd}`,
      });
    }
  })
  .describe('latent diffusion model');

const generateSchema = z
  .strictObject({
    n: posInt().default(200).describe('number of parameter sets to generate'),
    sampler: z.enum(['ddpm', 'ddim']).default('ddpm').describe('sampler'),
    ddimSteps: posInt().default(60).describe('DDIM timesteps, evenly spaced over [0, T-1]'),
    eta: z.number().min(0).max(1).default(0).describe('DDIM stochasticity (0 = deterministic)'),
    batchSize: posInt().default(200).describe('latents sampled per batch'),
    guidance: z
      .number()
      .min(0)
      .default(1)
      .describe('conditional denoiser only: classifier-free guidance scale w, eps = eps(null) + w (eps(c) - eps(null)); 1 = plain conditional, 0 = unconditional (docs/conditioning.md#guidance)'),
  })
  .prefault({})
  .describe('sampling');

const shiftSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('evaluate under distribution shift (corrupted test sets)'),
    kinds: z.array(z.enum(SHIFT_KINDS)).default([...SHIFT_KINDS]).describe('corruptions to apply'),
    severities: z.array(z.int().min(1).max(5)).default([1, 3, 5]).describe('corruption severities (1..5)'),
    models: posInt().default(10).describe('models per group evaluated under shift and on eval.secondDataset'),
  })
  .prefault({})
  .superRefine((s, ctx) => {
    if (s.enabled && s.kinds.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['kinds'], message: 'expected at least one kind when eval.shift.enabled is true, got []' });
    }
  })
  .describe('distribution-shift evaluation');

const secondDatasetSchema = z
  .strictObject({
    dataset: z.enum(DATASETS).default('mnist').describe('second dataset'),
    dir: z
      .string()
      .nullable()
      .default(null)
      .describe('folder holding its files (null = the default location for the dataset)'),
  })
  .nullable()
  .default(null)
  .describe('also test every model on a second dataset (null = off)');

const evalSchema = z
  .strictObject({
    baselines: z.boolean().default(true).describe('evaluate the noise / avg / gauss_fit baselines'),
    noiseScales: z.array(nonNegNum()).default([0.001, 0.05, 0.15]).describe('noise_s baseline scales s'),
    baselineCount: posInt().default(50).describe('models per baseline group'),
    avgOf: posInt().default(16).describe('distinct checkpoints averaged per avg baseline model'),
    shift: shiftSchema,
    secondDataset: secondDatasetSchema,
    latency: z.boolean().default(true).describe('measure inference latency and memory'),
    tsne: z.boolean().default(false).describe('compute a t-SNE map of original and generated parameters'),
    evalBatch: posInt().default(1000).describe('images per forward pass while evaluating'),
  })
  .prefault({})
  .describe('evaluation');

/**
 * Task-conditioned generation (docs/tasks.md#pipeline): a zoo of binary tasks on a 10-class data
 * set, a denoiser conditioned on the task code, evaluation on codes the zoo never saw. With
 * condition "none" (the default) the run is the unconditional pipeline and nothing here is read.
 */
const taskRecipeSchema = z
  .strictObject({
    steps: posInt().default(200).describe('AdamW steps per task'),
    saveEvery: posInt().default(10).describe('steps between the k kept checkpoints (the last k, ending at the last step)'),
    k: posInt().default(10).describe('checkpoints kept per task'),
    lr: posNum().default(0.01).describe('constant AdamW learning rate'),
    batchSize: posInt().default(128).describe('cached feature rows per minibatch (drawn with replacement)'),
    weightDecay: nonNegNum().default(5e-4).describe('AdamW weight decay'),
  })
  .prefault({})
  .superRefine((r, ctx) => {
    if ((r.k - 1) * r.saveEvery >= r.steps) {
      ctx.addIssue({ code: 'custom', path: ['k'], message: `expected k checkpoints saveEvery (${r.saveEvery}) steps apart to fit in steps (${r.steps}): (k - 1) * saveEvery < steps, got k = ${r.k}` });
    }
  })
  .describe('how the generated part is trained for each task (the zoo and the oracle)');

/** Conditions a run can be trained with: none (unconditional P-Diff), a task's class code, or a target accuracy. */
export const TASK_CONDITIONS = ['none', 'task', 'accuracy'] as const;

/**
 * Accuracy-conditioned generation (tasks.condition "accuracy"; docs/accuracy.md#pipeline): a zoo of
 * whole training runs from one random initialisation, each checkpoint labelled with its val
 * accuracy, a denoiser conditioned on that label, and prompts inside and above the zoo's range.
 * The recipe's defaults are DEFAULT_ACCURACY_RECIPE (src/accuracy/zoo.ts); a test holds them equal.
 */
const accuracyRecipeSchema = z
  .strictObject({
    steps: posInt().default(4000).describe('AdamW steps per run'),
    lr: posNum().default(3e-4).describe('AdamW learning rate (constant after the warm-up)'),
    warmupSteps: nonNegInt().default(0).describe('steps of linear learning-rate warm-up (0 = none)'),
    batchSize: posInt().default(128).describe('training images per minibatch (drawn with replacement)'),
    weightDecay: nonNegNum().default(5e-4).describe('AdamW weight decay'),
    candidates: posInt().min(3).default(100).describe('candidate checkpoints per run on the geometric step schedule'),
    k: posInt().default(40).describe('checkpoints kept per run, spread evenly over the run\'s accuracy range'),
    bnMode: z.enum(['train', 'eval']).default('train').describe('BatchNorm while training: "train" = batch statistics (the layout holds the buffers), "eval" = the holder\'s, frozen'),
    init: z.enum(['shared', 'per-run']).default('shared').describe('one initialisation for every run ("shared", aligned zoo) or one per run'),
  })
  .prefault({})
  .superRefine((r, ctx) => {
    if (r.warmupSteps > r.steps) ctx.addIssue({ code: 'custom', path: ['warmupSteps'], message: `expected at most steps (${r.steps}), got ${r.warmupSteps}` });
    // zod runs this even when a field failed its own check; candidateSteps would throw on those
    if (!(Number.isInteger(r.steps) && r.steps >= 1 && Number.isInteger(r.candidates) && r.candidates >= 3)) return;
    const c = candidateSteps(r.steps, r.candidates).length;
    if (r.k > c) ctx.addIssue({ code: 'custom', path: ['k'], message: `${r.k} checkpoints cannot be chosen from ${c} distinct candidate steps (steps ${r.steps}, candidates ${r.candidates})` });
  })
  .describe('how each run of the accuracy zoo is trained and sampled (docs/accuracy.md#zoo)');

const accuracyPromptsSchema = z
  .strictObject({
    inside: posInt().min(2).default(12).describe('prompts evenly spaced inside the zoo\'s label range, its best label included'),
    from: z.number().min(0).max(100).nullable().default(null).describe('lowest prompt inside the range, % (null = the zoo\'s lowest label)'),
    above: nonNegInt().default(2).describe('prompts above the zoo\'s best label (those above 100 are dropped)'),
    step: posNum().default(1).describe('spacing of the prompts above the best, in points'),
  })
  .prefault({})
  .describe('the evaluation\'s prompt grid (accuracyPrompts)');

const accuracySchema = z
  .strictObject({
    runs: posInt().default(10).describe('training runs of the accuracy zoo (runs * recipe.k rows)'),
    params: z
      .array(z.string().min(1))
      .default([])
      .describe('generated part as parameter-name patterns; [] = the whole network (other tensors keep the base model\'s values, frozen)'),
    recipe: accuracyRecipeSchema,
    prompts: accuracyPromptsSchema,
    perPrompt: posInt().default(5).describe('models generated (and nearest-label rows taken) per prompt'),
    nearest: posInt().default(5).describe('zoo rows averaged by the nearest-label-mean baseline'),
    ridgeDegrees: z
      .array(posInt().max(8))
      .default([1, 5])
      .describe('degrees of the ridge baselines (accuracy -> parameters polynomials; docs/accuracy.md#baselines)'),
    ridgeLambda: nonNegNum().default(0).describe('L2 penalty of the ridge baselines'),
  })
  .prefault({})
  .superRefine((a, ctx) => {
    const seen = new Set<number>();
    a.ridgeDegrees.forEach((d, i) => {
      if (seen.has(d)) ctx.addIssue({ code: 'custom', path: ['ridgeDegrees', i], message: `expected each degree once, got ${d} twice` });
      seen.add(d);
    });
  })
  .describe('accuracy-conditioned generation (tasks.condition "accuracy")');

const tasksSchema = z
  .strictObject({
    condition: z
      .enum(TASK_CONDITIONS)
      .default('none')
      .describe('what the denoiser is conditioned on: "none" = unconditional P-Diff; "task" = the 10-bit class code of a binary task (docs/tasks.md#pipeline)'),
    unseen: posInt().max(1021).default(50).describe('task codes held out from the zoo, the autoencoder and the denoiser (seeded split of the 1,022 codes by seed)'),
    seen: posInt()
      .nullable()
      .default(null)
      .describe('seen codes the zoo trains (null = every code not held out; a number = that many of them, sampled by seed)'),
    params: z
      .array(z.string().min(1))
      .default([])
      .describe('generated part of the 2-way task model as parameter-name patterns; [] = the last BatchNorm layer and the new head (cnn-s: bn3 + fc, 258 floats)'),
    recipe: taskRecipeSchema,
    chunkSize: posInt().default(16).describe('tasks per zoo file (an interrupted collection redoes at most one file; changes no result)'),
    evalSeen: nonNegInt().default(20).describe('seen codes evaluated beside every unseen code (sampled from the zoo by seed)'),
    perCode: posInt().default(10).describe('models generated per evaluated code'),
    ridgeLambda: nonNegNum().default(1e-3).describe('L2 penalty of the ridge baseline (code -> parameters; docs/tasks.md#baselines)'),
    accuracy: accuracySchema,
  })
  .prefault({})
  .describe('task-conditioned generation on codes the zoo never saw');

/** Classes a task code has (tasks.condition "task" needs a data set with exactly this many). */
const TASK_CLASSES = 10;
/** Classes of each data set, for the checks of tasks.condition. */
const DATASET_CLASSES: Record<(typeof DATASETS)[number], number> = { 'fashion-mnist': 10, mnist: 10, kmnist: 10, cifar10: 10, cifar100: 100 };
/** Architectures without a BatchNorm layer: the default generated part (last BN + head) does not exist there. */
const ARCHS_WITHOUT_BATCHNORM: readonly string[] = ['mlp', 'vit'];

/** The rules of a task-conditioned run (tasks.condition "task"). */
function taskIssues(c: { data: { dataset: (typeof DATASETS)[number] }; model: { arch: string }; collect: { seeds: number | string[] }; tasks: z.output<typeof tasksSchema> }, add: (path: (string | number)[], message: string) => void): void {
  const t = c.tasks;
  if (t.condition === 'accuracy') {
    if (seedCount(c.collect) !== 1) {
      add(['collect', 'seeds'], `expected 1 with tasks.condition "accuracy" (the accuracy zoo is trained on one base model's frozen part, from one initialisation), got ${seedCount(c.collect)} seeds`);
    }
    return;
  }
  if (t.condition !== 'task') return;
  const classes = DATASET_CLASSES[c.data.dataset];
  if (classes !== TASK_CLASSES) {
    add(['tasks', 'condition'], `"task" needs a data set of ${TASK_CLASSES} classes (a task is a ${TASK_CLASSES}-bit class code), data.dataset "${c.data.dataset}" has ${classes}; choose fashion-mnist, mnist, kmnist or cifar10`);
  }
  if (t.params.length === 0 && ARCHS_WITHOUT_BATCHNORM.includes(c.model.arch)) {
    add(['tasks', 'params'], `expected parameter patterns for model.arch "${c.model.arch}": it has no BatchNorm layer for the default generated part (last BN layer + head); give patterns that include the head`);
  }
  if (seedCount(c.collect) !== 1) {
    add(['collect', 'seeds'], `expected 1 with tasks.condition "task" (the task zoo is trained from one base model), got ${seedCount(c.collect)} seeds`);
  }
  const seenMax = 2 ** TASK_CLASSES - 2 - t.unseen;
  if (t.seen !== null && t.seen > seenMax) {
    add(['tasks', 'seen'], `expected at most ${seenMax} (1,022 codes minus tasks.unseen = ${t.unseen}), got ${t.seen}`);
  }
}

const reportSchema = z
  .strictObject({
    png: z.boolean().default(true).describe('render charts to PNG'),
    html: z.boolean().default(true).describe('write report.html'),
  })
  .prefault({})
  .describe('report');

/** Number of base models the zoo is collected from (collect.seeds: a count or a list of files). */
export function seedCount(c: { seeds: number | readonly string[] }): number {
  return typeof c.seeds === 'number' ? c.seeds : c.seeds.length;
}

/**
 * The rules of collect.seeds and collect.align: a multi-seed zoo holds whole networks (a subset of
 * one seed's network means nothing inside another seed's), a file is listed once, and alignment
 * needs a second seed to align.
 */
function seedIssues(c: { seeds: number | string[]; align: string; mode: string }, add: (path: string, message: string) => void): void {
  const n = seedCount(c);
  if (Array.isArray(c.seeds)) {
    const files = c.seeds, seen = new Map<string, number>();
    files.forEach((f, i) => {
      const key = resolve(f);
      const first = seen.get(key);
      if (first !== undefined) add('seeds', `expected each base-model file once, got "${f}" at [${i}] and "${files[first]}" at [${first}] (the same file)`);
      else seen.set(key, i);
    });
  }
  if (c.align !== 'none' && n < 2) {
    add('align', `"${c.align}" aligns seeds to seed 0 and needs at least 2 seeds, collect.seeds gives ${n}; set collect.seeds to 2 or more, or collect.align to "none"`);
  }
  if (n >= 2 && c.mode !== 'whole') {
    add('mode', `expected "whole" with ${n} seeds (collect.seeds): the zoo of several independently trained networks holds whole networks, got "${c.mode}"`);
  }
}

/** The whole configuration. `ConfigSchema.parse({})` is the default (the cpu recipe, bn mode). */
export const ConfigSchema = z
  .strictObject({
    seed: z.int().min(0).max(0xffffffff).default(0).describe('seed of every random generator in the run'),
    backend: z
      .enum(['auto', 'js', 'blas', 'webgpu'])
      .default('auto')
      .describe('compute backend (auto = best available)'),
    out: z.string().min(1).default('runs/fmnist-bn').describe('run folder (results, checkpoints, resolved config)'),
    data: dataSchema,
    model: modelSchema,
    base: baseSchema,
    collect: collectSchema,
    ae: aeSchema,
    diffusion: diffusionSchema,
    generate: generateSchema,
    eval: evalSchema,
    report: reportSchema,
    tasks: tasksSchema,
  })
  .superRefine((c, ctx) => {
    if (c.collect.mode === 'custom' && c.collect.params.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['collect', 'params'],
        message: 'expected at least one pattern when collect.mode is "custom", got []',
      });
    }
    seedIssues(c.collect, (path, message) => ctx.addIssue({ code: 'custom', path: ['collect', path], message }));
    taskIssues(c, (path, message) => ctx.addIssue({ code: 'custom', path, message }));
    if (c.eval.avgOf > c.collect.k) {
      ctx.addIssue({
        code: 'custom',
        path: ['eval', 'avgOf'],
        message: `expected at most collect.k (${c.collect.k}), got ${c.eval.avgOf}`,
      });
    }
    if (c.generate.ddimSteps > c.diffusion.timesteps) {
      ctx.addIssue({
        code: 'custom',
        path: ['generate', 'ddimSteps'],
        message: `expected at most diffusion.timesteps (${c.diffusion.timesteps}), got ${c.generate.ddimSteps}`,
      });
    }
  });

/**
 * Keys that only act under another setting. A user who sets one of them (to a non-default value)
 * while its condition does not hold gets an error naming both keys instead of a silently ignored
 * setting; presets and a run folder's own config are exempt.
 */
export const CONDITIONAL_KEYS: readonly { key: string; when: string; needs: string; applies: (c: z.output<typeof ConfigSchema>) => boolean }[] = [
  { key: 'collect.params', when: 'collect.mode', needs: '"custom"', applies: (c) => c.collect.mode === 'custom' },
  // a seed, or a chunk of a task zoo, is the queue's job (docs/queue.md); an accuracy zoo's runs are not queued yet
  { key: 'collect.queue', when: 'collect.seeds', needs: '2 or more (a multi-seed zoo), or tasks.condition "task" (a task zoo)', applies: (c) => (seedCount(c.collect) >= 2 && c.tasks.condition === 'none') || c.tasks.condition === 'task' },
  { key: 'model.mlpHidden', when: 'model.arch', needs: '"mlp"', applies: (c) => c.model.arch === 'mlp' },
  { key: 'model.stem', when: 'model.arch', needs: 'resnet18, resnet50 or efficientnet-*', applies: (c) => ['resnet18', 'resnet50'].includes(c.model.arch) || c.model.arch.startsWith('efficientnet') },
  { key: 'model.dropout', when: 'model.arch', needs: 'efficientnet-* or vit', applies: (c) => c.model.arch.startsWith('efficientnet') || c.model.arch === 'vit' },
  { key: 'model.stochasticDepth', when: 'model.arch', needs: 'efficientnet-*', applies: (c) => c.model.arch.startsWith('efficientnet') },
  { key: 'model.vit', when: 'model.arch', needs: '"vit"', applies: (c) => c.model.arch === 'vit' },
  { key: 'base.momentum', when: 'base.optimizer', needs: '"sgd"', applies: (c) => c.base.optimizer === 'sgd' },
  { key: 'diffusion.betaStart', when: 'diffusion.schedule', needs: '"linear"', applies: (c) => c.diffusion.schedule === 'linear' },
  { key: 'diffusion.betaEnd', when: 'diffusion.schedule', needs: '"linear"', applies: (c) => c.diffusion.schedule === 'linear' },
  { key: 'generate.ddimSteps', when: 'generate.sampler', needs: '"ddim"', applies: (c) => c.generate.sampler === 'ddim' },
  { key: 'generate.eta', when: 'generate.sampler', needs: '"ddim"', applies: (c) => c.generate.sampler === 'ddim' },
  { key: 'eval.shift.kinds', when: 'eval.shift.enabled', needs: 'true', applies: (c) => c.eval.shift.enabled },
  { key: 'eval.shift.severities', when: 'eval.shift.enabled', needs: 'true', applies: (c) => c.eval.shift.enabled },
  // also the number of members scored on the second dataset
  { key: 'eval.shift.models', when: 'eval.shift.enabled', needs: 'true (or eval.secondDataset set)', applies: (c) => c.eval.shift.enabled || c.eval.secondDataset !== null },
  ...(['unseen', 'seen', 'params', 'recipe', 'chunkSize', 'evalSeen', 'perCode', 'ridgeLambda'] as const).map((k) => (
    { key: `tasks.${k}`, when: 'tasks.condition', needs: '"task"', applies: (c: z.output<typeof ConfigSchema>) => c.tasks.condition === 'task' })),
  { key: 'tasks.accuracy', when: 'tasks.condition', needs: '"accuracy"', applies: (c) => c.tasks.condition === 'accuracy' },
];

/** The fully resolved configuration: every field present. */
export type Config = z.output<typeof ConfigSchema>;
export type DataConfig = Config['data'];
export type ModelConfig = Config['model'];
export type BaseConfig = Config['base'];
export type CollectConfig = Config['collect'];
export type AeConfig = Config['ae'];
export type DiffusionConfig = Config['diffusion'];
export type GenerateConfig = Config['generate'];
export type EvalConfig = Config['eval'];
export type ReportConfig = Config['report'];
export type TasksConfig = Config['tasks'];

/** Recursively optional; arrays (and other leaves) are replaced whole, never merged. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;
