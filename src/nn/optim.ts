import type { Storage } from '../backend/backend.js';
import type { Tensor } from '../tensor/tensor.js';
import { NumericError } from '../util/errors.js';

export interface AdamArgs {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** true = AdamW (decoupled decay p -= lr wd p); false = Adam with L2 added to the gradient. */
  decoupled?: boolean;
}

/** Common interface of the optimisers: the learning rate may be changed between steps by a schedule. */
export interface Optimizer {
  lr: number;
  readonly params: readonly Tensor[];
  step(): void;
  /**
   * Drop the parameters' gradients (set them to null, as torch's zero_grad(set_to_none=True)) and
   * give their memory back to the backend now: the old .grad tensors must not be used afterwards.
   */
  zeroGrad(): void;
  /** Moments and step counters, for resuming (host copies). */
  state(): { step: number; buffers: Array<Float32Array | Float64Array> };
  loadState(s: { step: number; buffers: ArrayLike<number>[] }): void;
}

/** Adam / AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019), matching torch.optim semantics. */
export class Adam implements Optimizer {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly decoupled: boolean;
  private t = 0;
  private readonly m: Storage[];
  private readonly v: Storage[];

  constructor(readonly params: readonly Tensor[], args: AdamArgs) {
    this.lr = args.lr;
    [this.beta1, this.beta2] = args.betas ?? [0.9, 0.999];
    this.eps = args.eps ?? 1e-8;
    this.weightDecay = args.weightDecay ?? 0;
    this.decoupled = args.decoupled ?? false;
    this.m = params.map((p) => p.backend.alloc(p.size));
    this.v = params.map((p) => p.backend.alloc(p.size));
  }

  step(): void {
    this.t++;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i]!;
      if (!p.grad) continue;
      p.backend.adamStep({
        p: p.storage, g: p.grad.storage, m: this.m[i]!, v: this.v[i]!,
        lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step: this.t, decoupled: this.decoupled,
      });
    }
  }
  zeroGrad(): void { dropGrads(this.params); }
  state(): { step: number; buffers: Array<Float32Array | Float64Array> } {
    return { step: this.t, buffers: this.params.flatMap((p, i) => [p.backend.read(this.m[i]!), p.backend.read(this.v[i]!)]) };
  }
  loadState(s: { step: number; buffers: ArrayLike<number>[] }): void {
    this.t = s.step;
    this.params.forEach((p, i) => {
      p.backend.write(this.m[i]!, s.buffers[2 * i]!);
      p.backend.write(this.v[i]!, s.buffers[2 * i + 1]!);
    });
  }
}

/** AdamW: Adam with decoupled weight decay (default decay 1e-2 as in PyTorch). */
export class AdamW extends Adam {
  constructor(params: readonly Tensor[], args: Omit<AdamArgs, 'decoupled'>) {
    super(params, { weightDecay: 1e-2, ...args, decoupled: true });
  }
}

export interface SgdArgs { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean }

/** SGD with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD semantics). */
export class SGD implements Optimizer {
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  private t = 0;
  private readonly bufs: Array<Storage | null>;
  constructor(readonly params: readonly Tensor[], args: SgdArgs) {
    this.lr = args.lr;
    this.momentum = args.momentum ?? 0;
    this.dampening = args.dampening ?? 0;
    this.weightDecay = args.weightDecay ?? 0;
    this.nesterov = args.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) throw new RangeError('SGD: Nesterov momentum needs momentum > 0 and dampening 0');
    this.bufs = params.map((p) => (this.momentum !== 0 ? p.backend.alloc(p.size) : null));
  }
  step(): void {
    this.t++;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i]!;
      if (!p.grad) continue;
      p.backend.sgdStep({
        p: p.storage, g: p.grad.storage, buf: this.bufs[i]!,
        lr: this.lr, momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov, first: this.t === 1,
      });
    }
  }
  zeroGrad(): void { dropGrads(this.params); }
  state(): { step: number; buffers: Array<Float32Array | Float64Array> } {
    return { step: this.t, buffers: this.params.map((p, i) => (this.bufs[i] ? p.backend.read(this.bufs[i]!) : new Float32Array(0))) };
  }
  loadState(s: { step: number; buffers: ArrayLike<number>[] }): void {
    this.t = s.step;
    this.params.forEach((p, i) => { if (this.bufs[i]) p.backend.write(this.bufs[i]!, s.buffers[i]!); });
  }
}

/**
 * Scale gradients so their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_).
 * Returns the norm before clipping. Throws NumericError on a non-finite norm when `errorIfNonfinite`.
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number, errorIfNonfinite = false): number {
  let sq = 0;
  for (const p of params) if (p.grad) sq += p.backend.sumSquares(p.grad.storage);
  const norm = Math.sqrt(sq);
  if (!Number.isFinite(norm) && errorIfNonfinite) throw new NumericError(`clipGradNorm: the total gradient norm is ${norm}`);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (const p of params) if (p.grad) p.backend.unary('affine', p.grad.storage, p.grad.storage, coef, 0);
  return norm;
}

/** Exponential moving average of parameters: shadow = decay shadow + (1 - decay) param. */
export class EMA {
  readonly shadow: Storage[];
  constructor(readonly params: readonly Tensor[], readonly decay: number) {
    if (!(decay >= 0 && decay < 1)) throw new RangeError(`EMA: decay must be in [0, 1), got ${decay}`);
    this.shadow = params.map((p) => p.backend.clone(p.storage));
  }
  update(): void {
    this.params.forEach((p, i) => p.backend.emaUpdate(this.shadow[i]!, p.storage, this.decay));
  }
  /** Copy the averaged weights into the parameters, returning the originals for `restore`. */
  swapIn(): Storage[] {
    return this.params.map((p, i) => {
      const orig = p.backend.clone(p.storage);
      p.backend.write(p.storage, p.backend.read(this.shadow[i]!));
      return orig;
    });
  }
  restore(orig: Storage[]): void {
    this.params.forEach((p, i) => p.backend.write(p.storage, p.backend.read(orig[i]!)));
  }
}

/** Set each parameter's gradient to null, releasing its storage (see Optimizer.zeroGrad). */
function dropGrads(params: readonly Tensor[]): void {
  for (const p of params) {
    if (p.grad) p.backend.release(p.grad.storage);
    p.grad = null;
  }
}
