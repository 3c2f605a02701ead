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
  constants.clear();
}

/** Tensors marked by graphConstant while ops were being recorded, until the tape is freed. */
const constants = new Set<Tensor>();

/**
 * Mark t, made inside a forward pass for that pass only and held by nothing else (an embedding
 * of the timesteps, a dropout mask), as part of the pass: backward's freeGraph releases it with
 * the activations, and a scope() as it would an op's output.
 */
export function graphConstant(t: Tensor): Tensor {
  if (gradEnabled) constants.add(t);
  return track(t);
}

export interface BackwardOptions {
  /** d(result)/d(loss), shaped like `loss`; needed when the loss has more than one element. */
  seed?: Tensor;
  /**
   * Release the memory of every tensor the loss was computed through (the forward pass's
   * activations, and its graphConstant inputs) once the gradients are known, instead of when the
   * garbage collector finds them: a training step's memory then returns to the backend's pool at
   * the same point every step. Only for callers that use none of those tensors afterwards (read
   * them before, or name them in `keep`); `loss` itself stays usable. A released tensor is
   * unusable (webgpu refuses it; a large CPU storage reads as empty). Leaves, inputs, ops the
   * loss does not depend on and anything made off the tape are never touched, nor are tensors
   * that share their memory (a reshape of a parameter).
   */
  freeGraph?: boolean;
  /** Tensors of the tape that freeGraph must leave alone. */
  keep?: readonly Tensor[];
}

/**
 * Reverse-mode autodiff from a scalar `loss`: accumulates into `.grad` of every leaf that requires
 * grad, then frees the tape (intermediate tensors no longer require grad).
 */
export function backward(loss: Tensor, opts: BackwardOptions = {}): void {
  const seed = opts.seed;
  if (!loss._node) throw new Error('backward: the loss was not computed from tensors that require grad (or the tape was already freed)');
  if (!seed && loss.size !== 1) throw new ShapeError(`backward: loss must have one element, got shape [${loss.shape.join(', ')}]`);
  const be = loss.backend;
  const grads = new Map<Tensor, Storage>();
  const owned = new Set<Storage>();
  const g0 = seed ? be.clone(seed.storage) : be.fromArray([1]);
  grads.set(loss, g0);
  owned.add(g0);
  const leaves: Tensor[] = [];
  const visited: Node[] = []; // the ops the loss was computed with, last first
  const end = tape.indexOf(loss._node);
  for (let i = end; i >= 0; i--) {
    const node = tape[i]!;
    const gy = grads.get(node.out);
    if (!gy) continue;
    if (opts.freeGraph) visited.push(node);
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
  if (opts.freeGraph) releaseGraph(visited, loss, opts.keep);
  clearTape();
}

/**
 * Release the outputs of the ops the loss was computed with (see BackwardOptions.freeGraph), in
 * the order they were computed, then the graphConstant inputs of those ops; other ops on the tape
 * (a forward pass never differentiated) are left alone. Storages that anything else may reach
 * are kept: those of the ops' other inputs (leaves, inputs), of `loss` and of `keep`.
 */
function releaseGraph(visited: readonly Node[], loss: Tensor, keep: readonly Tensor[] | undefined): void {
  const outs = new Set<Tensor>();
  for (const n of visited) outs.add(n.out);
  const done = new Set<Storage>([loss.storage]);
  if (keep) for (const t of keep) done.add(t.storage);
  const owned: Tensor[] = [];
  for (const n of visited) {
    for (const inp of n.inputs) {
      if (!inp || outs.has(inp)) continue;
      if (constants.has(inp)) owned.push(inp);
      else done.add(inp.storage);
    }
  }
  // (releasing a storage twice, as a reshape's shared one, does nothing)
  const free = (t: Tensor): void => { if (!done.has(t.storage)) t.backend.release(t.storage); };
  for (let i = visited.length - 1; i >= 0; i--) free(visited[i]!.out);
  for (const t of owned) free(t);
}


/**
 * Give the tensors' memory back to their backend now rather than when the garbage collector finds
 * them (on a device backend, the only way to free device memory at a known point). The tensors,
 * and any sharing their memory (a reshape, detach()), must not be used afterwards. Disposing of a
 * tensor twice, or one that freeGraph or a scope released, does nothing.
 */
export function dispose(...ts: Tensor[]): void {
  for (const t of ts) t.backend.release(t.storage);
}

// ---------------------------------------------------------------- scopes

/** Tensors made by ops inside each active scope(), innermost last. */
const scopes: Tensor[][] = [];

/** @internal Ops register each output with fresh memory here, for the enclosing scope(). */
export function track(t: Tensor): Tensor {
  const s = scopes[scopes.length - 1];
  if (s) s.push(t);
  return t;
}

/**
 * Run `fn`, then release the memory of every tensor that ops created during it (see dispose),
 * except what fn returns (a tensor, or an array or plain object holding tensors) and what the
 * tape still needs for backward. For loops of forward passes outside training (evaluation,
 * sampling), so that each pass's intermediate tensors go back to the backend's pool at once
 * instead of when the garbage collector finds them. fn must not keep an op's output anywhere
 * else (a cache, a module field); tensors made directly (tensor(), zeros(), fromArray) are not
 * touched. What a scope keeps (its result, tensors on the tape) and, when fn throws, everything
 * it made, passes to the enclosing scope, if any.
 */
export function scope<T>(fn: () => T): T {
  scopes.push([]);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    const made = scopes.pop()!;
    scopes[scopes.length - 1]?.push(...made);
    throw e;
  }
  const made = scopes.pop()!;
  const keep = new Set<Storage>();
  keepReachable(result, keep, 0);
  for (const n of tape) {
    keep.add(n.out.storage);
    for (const inp of n.inputs) if (inp) keep.add(inp.storage);
  }
  const outer = scopes[scopes.length - 1];
  for (const t of made) {
    if (keep.has(t.storage)) outer?.push(t);
    else t.backend.release(t.storage);
  }
  return result;
}

/** Storages of the tensors in v (a tensor, or arrays and plain objects of them, a few levels deep). */
function keepReachable(v: unknown, keep: Set<Storage>, depth: number): void {
  if (v instanceof Tensor) { keep.add(v.storage); return; }
  if (depth > 4 || v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) { for (const x of v) keepReachable(x, keep, depth + 1); return; }
  if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) keepReachable(x, keep, depth + 1);
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
