/**
 * A classifier that is a chain of stages (stem, blocks, head), each a function of the previous
 * stage's output: the shape of ResNet, EfficientNet and ViT. It gives them forward, forwardTo,
 * forwardFrom and firstStageOf from one list, so that tail evaluation (src/eval) can cache the
 * output of the last stage before the generated parameters.
 */
import type { Backend } from '../backend/backend.js';
import { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Classifier } from './classifier.js';

/** One stage: its name, the state_dict prefixes of the parameters it uses, and its computation. */
export interface StageSpec {
  name: string;
  /** Parameter-name prefixes ("layer3.2", "fc"): a parameter belongs to the first stage whose prefix it starts with. */
  prefixes: readonly string[];
  run(h: Tensor): Tensor;
}

export abstract class StagedClassifier extends Module implements Classifier {
  abstract readonly arch: string;
  private specs: StageSpec[] = [];
  private names: string[] = ['input'];

  constructor(backend?: Backend) { super(backend); }

  /** Set the stage chain; the last stage returns the logits. Call once, at the end of the constructor. */
  protected setStages(specs: StageSpec[]): void {
    this.specs = specs;
    this.names = ['input', ...specs.map((s) => s.name)];
  }

  get stages(): readonly string[] { return this.names; }

  forward(x: Tensor): Tensor { return this.forwardFrom(x, 0); }

  forwardTo(x: Tensor, end: number): Tensor {
    let h = x;
    for (let i = 0; i < end && i < this.specs.length; i++) h = this.specs[i]!.run(h);
    return h;
  }

  forwardFrom(h: Tensor, start: number): Tensor {
    for (let i = Math.max(0, start); i < this.specs.length; i++) h = this.specs[i]!.run(h);
    return h;
  }

  /** The latest stage whose output depends on none of `names` (index into stages; 0 = the input). */
  firstStageOf(names: readonly string[]): number {
    let first = this.specs.length;
    for (const nm of names) {
      const i = this.specs.findIndex((s) => s.prefixes.some((p) => nm === p || nm.startsWith(`${p}.`)));
      if (i >= 0 && i < first) first = i;
    }
    return first;
  }
}
