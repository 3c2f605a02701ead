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
}
