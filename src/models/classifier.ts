import type { PermutationSpec } from '../align/spec.js';
import type { Storage } from '../backend/backend.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * A classifier whose forward pass can be split at stage boundaries, so that evaluating many
 * parameter sets that differ only in late layers can reuse the activations before them.
 */
export interface Classifier extends Module {
  readonly arch: string;
  /** Stage names; stages[0] is the input. */
  readonly stages: readonly string[];
  forward(x: Tensor): Tensor;
  /** Output of stages 1..end applied to x. */
  forwardTo(x: Tensor, end: number): Tensor;
  /** Apply the stages after `start` to h (an output of forwardTo(x, start)) and return logits. */
  forwardFrom(h: Tensor, start: number): Tensor;
  /** The latest stage whose output does not depend on any of the named parameters. */
  firstStageOf(names: readonly string[]): number;
  /**
   * Optional: a faster runner of forwardFrom(·, req.start) for evaluating many parameter sets on
   * cached features (planned buffers, fused backend passes), already checked to reproduce
   * forwardFrom bit for bit on req.check; null where the model has none for this request. Without
   * it, callers use the generic tail (GenericTail in tail.ts: forwardTo / forwardFrom).
   */
  evalTail?(req: EvalTailRequest): TailRunner | null;
  /**
   * Optional: the permutation symmetry of the network's hidden units (docs/seeds.md#permutation-groups):
   * every (tensor, axis) each hidden permutation acts on. Needed to align networks trained from
   * different seeds (collect.align); absent where the architecture has none described yet.
   */
  permutationSpec?(): PermutationSpec;
}

/**
 * How a tail computes the logits: 'fused' (fused backend passes, see Backend.fusedEval), 'planned'
 * (the backend's separate kernels on buffers allocated once, a pass fused here and there) or
 * 'generic' (forwardFrom through the ops).
 */
export type TailKind = 'fused' | 'planned' | 'generic';

/**
 * Which tail to ask for: 'auto' (default) = what the backend prefers (fused passes where
 * Backend.fusedEval.preferred, else its separate kernels with the passes that fusion always
 * wins); 'fused' = fused passes wherever the backend has them; 'unfused' = separate kernels with
 * the passes that fusion always wins; 'kernels' = the backend's separate kernels only;
 * 'generic' = forwardFrom through the ops. A model tries its variants from the one asked for down
 * to the more literal ones, and uses the first that reproduces forwardFrom bit for bit.
 */
export type TailChoice = 'auto' | 'fused' | 'unfused' | 'kernels' | 'generic';

/** What Classifier.evalTail is asked for. */
export interface EvalTailRequest {
  /** The stage whose output the tail starts from (0 = the input images). */
  start: number;
  /** Shape of one input image [c, h, w]. */
  inShape: readonly [number, number, number];
  /** A few input images [rows, c, h, w]: the tail must reproduce forwardFrom on them bit for bit. */
  check: Tensor;
  /** Which variants to try (see TailChoice). */
  choice: TailChoice;
  /** Records why a variant was not taken; `warn` marks a note the user should see. */
  note(message: string, warn: boolean): void;
}

/**
 * Runs a model's tail from stage `start` on features of image chunks: features() once per
 * chunk (what a cache keeps), run() once per chunk and parameter set.
 */
export interface TailRunner {
  /** The stage the tail starts from. */
  readonly start: number;
  readonly kind: TailKind;
  /** Features of images x [b, c, h, w] at stage `start` (what run() consumes). */
  features(x: Tensor): Tensor[];
  /** Logits [rows, classes] of the tail for one chunk's features. Valid until the next call. */
  run(feats: readonly Tensor[], rows: number): Storage;
  /** Floats per image in features(). */
  featureFloats(): number;
}

/**
 * Input floats one forward pass sees at most (100 Fashion-MNIST images, 25 CIFAR ones): a chunk of
 * `batch` images is run in pieces of this size. Every op output of a pass stays alive until the
 * pass ends, so at 1,000 images ResNet-20's ~60 activations of 50 MB each are 3 GB of fresh
 * memory (page faults on every pass, nothing the buffer pool can hold); at 100 images they fit
 * in the pool and in cache. Measured on val (5,000 images), eval mode: ResNet-20 24.7 s at 1,000
 * images a pass against 3.6 s at 100; EfficientNet-s 21.4 s against 5.5 s; cnn-s 0.96 s against
 * 0.41 s (CPU backends; webgpu passes whole chunks). A pass's rows are independent of one another (eval mode), so pieces give the same
 * predictions as whole chunks.
 */
export const EVAL_PIECE_FLOATS = 100 * 784;

/**
 * Rows per forward pass for images of `imageFloats` floats: EVAL_PIECE_FLOATS of input, at least
 * one row. On a GPU (`backend` webgpu) there is no page-faulting host memory to spare and larger
 * passes keep the device busy: no limit there.
 */
export function evalPieceRows(imageFloats: number, backend?: { name: string }): number {
  if (backend?.name === 'webgpu') return Number.MAX_SAFE_INTEGER;
  return Math.max(1, Math.floor(EVAL_PIECE_FLOATS / imageFloats));
}
