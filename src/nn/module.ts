import type { Backend } from '../backend/backend.js';
import { getBackend } from '../backend/index.js';
import { Tensor } from '../tensor/tensor.js';
import { ShapeError } from '../util/errors.js';

/**
 * Base of all layers and models (PyTorch's nn.Module in miniature). Parameters, buffers and child
 * modules are registered in order, so `stateDict()` yields PyTorch's names and order:
 * a module's own parameters, then its own buffers, then each child's entries under `child.`.
 */
export abstract class Module {
  training = true;
  private readonly _params = new Map<string, Tensor>();
  private readonly _buffers = new Map<string, Tensor>();
  private readonly _children = new Map<string, Module>();

  constructor(readonly backend: Backend = getBackend()) {}

  protected registerParameter(name: string, t: Tensor): Tensor {
    t.requiresGrad = true;
    this._params.set(name, t);
    return t;
  }
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this._buffers.set(name, t);
    return t;
  }
  protected registerModule<M extends Module>(name: string, m: M): M {
    this._children.set(name, m);
    return m;
  }

  /** Named parameters in state_dict order. */
  namedParameters(prefix = ''): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    for (const [n, p] of this._params) out.push([prefix + n, p]);
    for (const [n, c] of this._children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }
  parameters(): Tensor[] { return this.namedParameters().map(([, p]) => p); }
  /** Parameters that are not frozen. */
  trainableParameters(): Tensor[] { return this.parameters().filter((p) => p.requiresGrad); }

  namedBuffers(prefix = ''): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    for (const [n, b] of this._buffers) out.push([prefix + n, b]);
    for (const [n, c] of this._children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Parameters and buffers with PyTorch state_dict names, in PyTorch's order. */
  stateDict(prefix = ''): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    for (const [n, p] of this._params) out.push([prefix + n, p]);
    for (const [n, b] of this._buffers) out.push([prefix + n, b]);
    for (const [n, c] of this._children) out.push(...c.stateDict(`${prefix}${n}.`));
    return out;
  }

  /**
   * Copy values into this module's tensors. Every entry must exist with the same number of values
   * (shape checked); with `strict`, every tensor of the module must be given.
   */
  loadStateDict(entries: Iterable<[string, { shape: readonly number[]; data: ArrayLike<number> }]>, opts: { strict?: boolean; source?: string } = {}): void {
    const mine = new Map(this.stateDict());
    const seen = new Set<string>();
    const where = opts.source ? `${opts.source}: ` : '';
    for (const [name, v] of entries) {
      const t = mine.get(name);
      if (!t) throw new ShapeError(`${where}unexpected tensor "${name}" (the model has ${[...mine.keys()].join(', ')})`);
      const same = v.shape.length === t.shape.length && v.shape.every((d, i) => d === t.shape[i]);
      if (!same) throw new ShapeError(`${where}tensor "${name}" has shape [${v.shape.join(', ')}] but the model expects [${t.shape.join(', ')}]`);
      t.backend.write(t.storage, v.data);
      seen.add(name);
    }
    if (opts.strict !== false) {
      const missing = [...mine.keys()].filter((k) => !seen.has(k));
      if (missing.length) throw new ShapeError(`${where}missing tensors: ${missing.join(', ')}`);
    }
  }

  children(): Module[] { return [...this._children.values()]; }
  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [[prefix.replace(/\.$/, ''), this]];
    for (const [n, c] of this._children) out.push(...c.namedModules(`${prefix}${n}.`));
    return out;
  }

  train(on = true): this {
    this.training = on;
    for (const c of this._children.values()) c.train(on);
    return this;
  }
  eval(): this { return this.train(false); }

  /** Freeze (or unfreeze) every parameter. */
  requiresGrad(on: boolean): this {
    for (const p of this.parameters()) p.requiresGrad = on;
    return this;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  numParameters(): number { return this.parameters().reduce((s, p) => s + p.size, 0); }
}

/** A module with a single-input forward. */
export abstract class Layer extends Module {
  abstract forward(x: Tensor): Tensor;
}
