import type { Backend, Storage } from '../backend/backend.js';
import { getBackend } from '../backend/index.js';
import { ShapeError } from '../util/errors.js';

/**
 * Backward function of one recorded op: given d(loss)/d(output), return d(loss)/d(input) for each
 * input (null where the input needs no gradient). It may return `gy` itself for one input;
 * anything else it returns must be a fresh storage, never a tensor's: backward() releases the
 * gradients it passes between ops once they are consumed.
 */
export type BackwardFn = (gy: Storage) => Array<Storage | null>;

interface Node {
  out: Tensor;
  inputs: ReadonlyArray<Tensor | null>;
  backward: BackwardFn;
}

/** A dense row-major float tensor. Its memory is a backend Storage; only the backend reads it directly. */
export class Tensor {
  readonly size: number;
  /** Gradient accumulated by `backward` (leaves only). */
  grad: Tensor | null = null;
  /** @internal the op that produced this tensor, while the tape holds it */
  _node: Node | null = null;

  constructor(
    readonly storage: Storage,
    readonly shape: readonly number[],
    readonly backend: Backend,
    public requiresGrad = false,
  ) {
    this.size = shapeSize(shape);
    if (storage.length !== this.size) {
      throw new ShapeError(`tensor storage has ${storage.length} elements but shape [${shape.join(', ')}] needs ${this.size}`);
    }
  }

  get rank(): number { return this.shape.length; }

  /** Copy of the values on the host. */
  toArray(): Float32Array | Float64Array { return this.backend.read(this.storage); }
  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new ShapeError(`item() needs a one-element tensor, got shape [${this.shape.join(', ')}]`);
    return this.backend.read(this.storage)[0]!;
  }
  /** A tensor over the same values that is cut from the tape. */
  detach(): Tensor { return new Tensor(this.storage, this.shape, this.backend, false); }
  toString(): string { return `Tensor[${this.shape.join('x')}]`; }
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`invalid shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

// ---------------------------------------------------------------- tape

const tape: Node[] = [];
let gradEnabled = true;

export function isGradEnabled(): boolean { return gradEnabled; }

/** Run `fn` without recording ops (evaluation, sampling, parameter updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try { return fn(); } finally { gradEnabled = prev; }
}

/** Whether an op with these inputs must be recorded. */
export function needsGrad(...inputs: Array<Tensor | null | undefined>): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/** Record `out` as produced from `inputs` (called by ops only when needsGrad(...inputs)). */
export function record(out: Tensor, inputs: ReadonlyArray<Tensor | null>, backward: BackwardFn): Tensor {
  out.requiresGrad = true;
  const node: Node = { out, inputs, backward };
  out._node = node;
  tape.push(node);
  return out;
}

/** Number of ops on the tape (for tests of memory behaviour). */
export function tapeLength(): number { return tape.length; }

/** Drop the tape without computing gradients (e.g. after a forward pass that will not be differentiated). */
export function clearTape(): void {
  for (const n of tape) { n.out._node = null; n.out.requiresGrad = false; }
  tape.length = 0;
}

/**
 * Reverse-mode autodiff from a scalar `loss`: accumulates into `.grad` of every leaf that requires
 * grad, then frees the tape (intermediate tensors no longer require grad).
 */
export function backward(loss: Tensor, seed?: Tensor): void {
  if (!loss._node) throw new Error('backward: the loss was not computed from tensors that require grad (or the tape was already freed)');
  if (!seed && loss.size !== 1) throw new ShapeError(`backward: loss must have one element, got shape [${loss.shape.join(', ')}]`);
  const be = loss.backend;
  const grads = new Map<Tensor, Storage>();
  const owned = new Set<Storage>();
  const g0 = seed ? be.clone(seed.storage) : be.fromArray([1]);
  grads.set(loss, g0);
  owned.add(g0);
  const leaves: Tensor[] = [];
  const end = tape.indexOf(loss._node);
  for (let i = end; i >= 0; i--) {
    const node = tape[i]!;
    const gy = grads.get(node.out);
    if (!gy) continue;
    grads.delete(node.out);
    owned.delete(gy);
    const gs = node.backward(gy);
    for (let j = 0; j < node.inputs.length; j++) {
      const inp = node.inputs[j];
      const g = gs[j];
      if (!inp || !inp.requiresGrad || !g) continue;
      const prev = grads.get(inp);
      if (prev) {
        be.axpy(1, g, prev);
      } else {
        const own = owned.has(g) ? be.clone(g) : g;
        owned.add(own);
        grads.set(inp, own);
        if (!inp._node) leaves.push(inp);
      }
    }
    // gy and the gradients the op returned are dead unless one was kept for an input: free them
    // now, so the next ops reuse their memory (the garbage collector would free them much later).
    // Backward functions return fresh storages or gy itself, never a tensor's storage.
    if (!owned.has(gy)) be.release(gy);
    for (let j = 0; j < gs.length; j++) {
      const g = gs[j];
      if (g && g !== gy && !owned.has(g) && gs.indexOf(g) === j) be.release(g);
    }
  }
  for (const leaf of leaves) {
    const g = grads.get(leaf)!;
    if (leaf.grad) {
      be.axpy(1, g, leaf.grad.storage);
      be.release(g);
    } else leaf.grad = new Tensor(g, leaf.shape, be);
  }
  clearTape();
}

// ---------------------------------------------------------------- creation

export function tensor(data: ArrayLike<number>, shape?: readonly number[], backend: Backend = getBackend()): Tensor {
  const s = shape ?? [data.length];
  if (shapeSize(s) !== data.length) throw new ShapeError(`tensor: ${data.length} values do not fill shape [${s.join(', ')}]`);
  return new Tensor(backend.fromArray(data), s, backend);
}

export function zeros(shape: readonly number[], backend: Backend = getBackend()): Tensor {
  return new Tensor(backend.alloc(shapeSize(shape)), shape, backend);
}

export function full(shape: readonly number[], value: number, backend: Backend = getBackend()): Tensor {
  const t = zeros(shape, backend);
  if (value !== 0) backend.fill(t.storage, value);
  return t;
}

export function ones(shape: readonly number[], backend: Backend = getBackend()): Tensor {
  return full(shape, 1, backend);
}

export function scalar(v: number, backend: Backend = getBackend()): Tensor {
  return new Tensor(backend.fromArray([v]), [], backend);
}

/** A leaf that requires grad (a parameter). */
export function param(t: Tensor): Tensor {
  t.requiresGrad = true;
  return t;
}
