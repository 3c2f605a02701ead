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
