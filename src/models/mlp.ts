import type { PermutationSpec } from '../align/spec.js';
import type { Backend } from '../backend/backend.js';
import { Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Classifier } from './classifier.js';

/** A plain MLP: flatten, then Linear + ReLU per hidden width, then a linear head (`fc1`, `fc2`, ..., `head`). */
export class Mlp extends Module implements Classifier {
  readonly arch = 'mlp';
  readonly layers: Linear[] = [];
  readonly stages: string[];

  constructor(opts: { rng: Rng; backend?: Backend; inFeatures: number; hidden: number[]; numClasses?: number }) {
    super(opts.backend);
    let prev = opts.inFeatures;
    opts.hidden.forEach((h, i) => {
      this.layers.push(this.registerModule(`fc${i + 1}`, new Linear(prev, h, { rng: opts.rng, backend: this.backend })));
      prev = h;
    });
    this.layers.push(this.registerModule('head', new Linear(prev, opts.numClasses ?? 10, { rng: opts.rng, backend: this.backend })));
    this.stages = ['input', ...opts.hidden.map((_, i) => `fc${i + 1}`), 'head'];
  }

  forward(x: Tensor): Tensor { return this.forwardFrom(ops.flatten(x), 0); }

  forwardTo(x: Tensor, end: number): Tensor {
    let h = ops.flatten(x);
    for (let i = 0; i < end && i < this.layers.length - 1; i++) h = ops.relu(this.layers[i]!.forward(h));
    return h;
  }

  forwardFrom(h: Tensor, start: number): Tensor {
    let x = h.rank > 2 ? ops.flatten(h) : h;
    for (let i = start; i < this.layers.length - 1; i++) x = ops.relu(this.layers[i]!.forward(x));
    return this.layers[this.layers.length - 1]!.forward(x);
  }

  /**
   * One permutation per hidden layer fc<i>: its output units (rows of fc<i>.weight, fc<i>.bias)
   * and the input units of the layer after it (columns of fc<i+1>.weight or head.weight). ReLU is
   * elementwise, so it commutes with the permutation.
   */
  permutationSpec(): PermutationSpec {
    const names = this.stages.slice(1); // fc1, ..., head
    return {
      groups: this.layers.slice(0, -1).map((l, i) => ({
        name: `P_${names[i]}`,
        size: l.outFeatures,
        axes: [
          { tensor: `${names[i]}.weight`, axis: 0 },
          { tensor: `${names[i]}.bias`, axis: 0 },
          { tensor: `${names[i + 1]}.weight`, axis: 1 },
        ],
      })),
    };
  }

  firstStageOf(names: readonly string[]): number {
    let first = this.stages.length - 1;
    for (const n of names) {
      const idx = this.stages.indexOf(n.split('.')[0]!);
      if (idx > 0 && idx - 1 < first) first = idx - 1;
    }
    return first;
  }
}
