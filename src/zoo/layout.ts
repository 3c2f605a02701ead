/**
 * Parameter subsets, their flat layout and their normalisation (docs/zoo.md#subsets, #layout, #normalisation).
 *
 * A checkpoint is one flat Float32Array: the subset's tensors concatenated in manifest order
 * (state_dict order unless chosen otherwise). Many checkpoints are stacked row-major as
 * [K, total]. The Normalizer maps a stack to the autoencoder's input [K, L] and back.
 */
import { BatchNorm } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import { ConfigError, FormatError, NumericError, ShapeError } from '../util/errors.js';

/** Which parameters are collected and generated. */
export type SubsetMode = 'bn' | 'whole' | 'custom';

function arch(model: Module): string {
  const a = (model as { arch?: unknown }).arch;
  return typeof a === 'string' ? a : model.constructor.name;
}

/**
 * A glob over dotted names as a RegExp: `*` matches within one dotted component, `**` across
 * components (any characters, dots included), everything else literally.
 */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        re += '.*';
        i++;
      } else {
        re += '[^.]*';
      }
    } else {
      re += ch.replace(/[\\^$.|?+()[\]{}]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

/**
 * Names of the parameters to collect, in state_dict order.
 * - 'bn': weight and bias of the last two BatchNorm layers (found by module type, so any
 *   architecture works; cnn-s: bn2.weight, bn2.bias, bn3.weight, bn3.bias = 192 floats).
 * - 'whole': every learnable parameter (cnn-s: 11 tensors, 24,058 floats).
 * - 'custom': parameters matching any of `patterns` (see globToRegExp).
 * @throws ConfigError when the model has fewer than two affine BN layers ('bn'), no pattern is
 *   given or a pattern matches nothing ('custom').
 */
export function selectParams(model: Module, mode: SubsetMode, patterns: readonly string[] = []): string[] {
  const params = model.namedParameters().map(([n]) => n);
  switch (mode) {
    case 'whole':
      return params;
    case 'bn': {
      const bns = model.namedModules().filter(([, m]) => m instanceof BatchNorm && (m as BatchNorm).weight !== null);
      if (bns.length < 2) {
        throw new ConfigError(`collect.mode "bn": expected at least two BatchNorm layers with weight and bias, ${arch(model)} has ${bns.length}`);
      }
      const chosen = new Set<string>();
      for (const [name, m] of bns.slice(-2)) {
        const prefix = name === '' ? '' : `${name}.`;
        chosen.add(`${prefix}weight`);
        if ((m as BatchNorm).bias) chosen.add(`${prefix}bias`);
      }
      return params.filter((n) => chosen.has(n));
    }
    case 'custom': {
      if (patterns.length === 0) throw new ConfigError('collect.params: expected at least one pattern for mode "custom", got []');
      const chosen = new Set<string>();
      for (const p of patterns) {
        const re = globToRegExp(p);
        const hits = params.filter((n) => re.test(n));
        if (hits.length === 0) {
          throw new ConfigError(`collect.params: pattern "${p}" matches no parameter of ${arch(model)} (parameters: ${params.join(', ')})`);
        }
        for (const h of hits) chosen.add(h);
      }
      return params.filter((n) => chosen.has(n));
    }
    default:
      throw new ConfigError(`collect.mode: expected "bn", "whole" or "custom", got "${String(mode)}"`);
  }
}

/** JSON form of a ParamLayout (stored in manifests). */
export interface LayoutJSON {
  names: string[];
  shapes: number[][];
  offsets: number[];
  total: number;
}

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Live host array of a tensor (no copy) where the backend keeps it on the host, else a host copy. */
function hostValues(t: Tensor): Float32Array | Float64Array {
  const be = t.backend;
  return be.hostView(t.storage) ?? be.read(t.storage);
}

/** Where each tensor of a parameter subset lives in the flat checkpoint vector. */
export class ParamLayout {
  readonly names: readonly string[];
  readonly shapes: ReadonlyArray<readonly number[]>;
  readonly offsets: readonly number[];
  readonly sizes: readonly number[];
  /** Floats per checkpoint. */
  readonly total: number;
  /** The model tensors of each name, resolved once per model. */
  private readonly bound = new WeakMap<Module, Tensor[]>();

  constructor(names: readonly string[], shapes: ReadonlyArray<readonly number[]>) {
    if (names.length !== shapes.length) throw new ShapeError(`ParamLayout: ${names.length} names but ${shapes.length} shapes`);
    if (names.length === 0) throw new ShapeError('ParamLayout: expected at least one tensor, got none');
    if (new Set(names).size !== names.length) throw new ShapeError(`ParamLayout: duplicate tensor names in [${names.join(', ')}]`);
    this.names = [...names];
    this.shapes = shapes.map((s) => [...s]);
    const offsets: number[] = [], sizes: number[] = [];
    let off = 0;
    for (const s of this.shapes) {
      const n = sizeOf(s);
      offsets.push(off);
      sizes.push(n);
      off += n;
    }
    this.offsets = offsets;
    this.sizes = sizes;
    this.total = off;
  }

  /** The layout of `names` (state_dict names: parameters or buffers) of `model`, in the given order. */
  static fromModel(model: Module, names: readonly string[]): ParamLayout {
    const sd = new Map(model.stateDict());
    const shapes = names.map((n) => {
      const t = sd.get(n);
      if (!t) throw new ShapeError(`ParamLayout: ${arch(model)} has no tensor "${n}" (it has ${[...sd.keys()].join(', ')})`);
      return t.shape;
    });
    return new ParamLayout(names, shapes);
  }

  /** Index of a tensor name, or -1. */
  indexOf(name: string): number {
    return this.names.indexOf(name);
  }

  /** The model's tensors in layout order (checked against the layout's shapes once per model). */
  tensors(model: Module): Tensor[] {
    let ts = this.bound.get(model);
    if (ts) return ts;
    const sd = new Map(model.stateDict());
    ts = this.names.map((n, i) => {
      const t = sd.get(n);
      if (!t) throw new ShapeError(`ParamLayout: ${arch(model)} has no tensor "${n}"`);
      const want = this.shapes[i]!;
      if (t.shape.length !== want.length || t.shape.some((d, j) => d !== want[j])) {
        throw new ShapeError(`ParamLayout: tensor "${n}" of ${arch(model)} has shape [${t.shape.join(', ')}], the layout expects [${want.join(', ')}]`);
      }
      return t;
    });
    this.bound.set(model, ts);
    return ts;
  }

  /** Flatten the subset of `model` into a new vector [total]. */
  read(model: Module): Float32Array {
    const out = new Float32Array(this.total);
    this.readInto(model, out, 0);
    return out;
  }

  /** Flatten the subset of `model` into out[offset .. offset + total) (e.g. one row of a stack). */
  readInto(model: Module, out: Float32Array, offset = 0): void {
    if (offset < 0 || offset + this.total > out.length) {
      throw new ShapeError(`ParamLayout.readInto: ${this.total} floats at offset ${offset} do not fit an array of ${out.length}`);
    }
    const ts = this.tensors(model);
    for (let i = 0; i < ts.length; i++) out.set(hostValues(ts[i]!), offset + this.offsets[i]!);
  }

  /**
   * Copy a flat vector [total] into the model's tensors.
   * @throws ShapeError on a length mismatch, NumericError naming the tensor on NaN/Inf (the model
   *   is left unchanged in both cases).
   */
  write(model: Module, vec: Float32Array): void {
    if (vec.length !== this.total) {
      throw new ShapeError(`ParamLayout.write: expected a vector of ${this.total} floats (${this.names.join(', ')}), got ${vec.length}`);
    }
    for (let i = 0; i < vec.length; i++) {
      const v = vec[i]!;
      if (v - v !== 0) this.throwNonFinite(vec, i);
    }
    const ts = this.tensors(model);
    for (let i = 0; i < ts.length; i++) {
      const t = ts[i]!, off = this.offsets[i]!;
      t.backend.write(t.storage, vec.subarray(off, off + this.sizes[i]!));
    }
  }

  /** Index of the tensor that holds element i of the flat vector. */
  tensorOf(i: number): number {
    let k = 0;
    while (k + 1 < this.offsets.length && this.offsets[k + 1]! <= i) k++;
    return k;
  }

  /** "coordinate i (tensor "x" element j)", for messages. */
  describeCoordinate(i: number): string {
    const k = this.tensorOf(i);
    return `coordinate ${i} (tensor "${this.names[k]}" element ${i - this.offsets[k]!})`;
  }

  private throwNonFinite(vec: Float32Array, i: number): never {
    const k = this.tensorOf(i);
    throw new NumericError(`ParamLayout.write: tensor "${this.names[k]}" element ${i - this.offsets[k]!} (vector index ${i}) is ${vec[i]}, expected a finite value`);
  }

  /** Same names and shapes in the same order. */
  equals(other: ParamLayout): boolean {
    return this.names.length === other.names.length &&
      this.names.every((n, i) => n === other.names[i] && this.shapes[i]!.length === other.shapes[i]!.length &&
        this.shapes[i]!.every((d, j) => d === other.shapes[i]![j]));
  }

  toJSON(): LayoutJSON {
    return { names: [...this.names], shapes: this.shapes.map((s) => [...s]), offsets: [...this.offsets], total: this.total };
  }

  /** Parse (and check) a LayoutJSON; `source` names where it came from in errors. */
  static fromJSON(json: unknown, source = 'layout'): ParamLayout {
    const j = json as Partial<LayoutJSON> | null;
    if (typeof j !== 'object' || j === null || !Array.isArray(j.names) || !Array.isArray(j.shapes)) {
      throw new FormatError(source, 'expected a layout object with "names" and "shapes" arrays');
    }
    if (!j.names.every((n) => typeof n === 'string')) throw new FormatError(source, 'layout.names must be strings');
    if (!j.shapes.every((s) => Array.isArray(s) && s.every((d) => Number.isInteger(d) && d >= 0))) {
      throw new FormatError(source, 'layout.shapes must be arrays of non-negative integers');
    }
    const layout = new ParamLayout(j.names, j.shapes);
    if (j.total !== undefined && j.total !== layout.total) {
      throw new FormatError(source, `layout.total is ${j.total} but the shapes add up to ${layout.total}`);
    }
    if (j.offsets !== undefined && (j.offsets.length !== layout.offsets.length || j.offsets.some((o, i) => o !== layout.offsets[i]))) {
      throw new FormatError(source, `layout.offsets [${j.offsets.join(', ')}] do not match the shapes (expected [${layout.offsets.join(', ')}])`);
    }
    return layout;
  }
}

/**
 * How the Normalizer's statistics are taken:
 * - 'tensor' (docs/zoo.md#normalisation): one scalar pair per tensor, mu_k = mean over checkpoints of the
 *   tensor's mean, sd_k = mean over checkpoints of its unbiased standard deviation.
 * - 'coordinate': one pair per parameter, the mean and unbiased standard deviation of that
 *   parameter over the K checkpoints. Every coordinate then varies with unit spread across the
 *   checkpoints, so the differences between checkpoints (not the shape of the weights) are what
 *   the autoencoder sees; the mean checkpoint is z = 0.
 */
export type NormalizeKind = 'tensor' | 'coordinate';

/** JSON form of a Normalizer. */
export interface NormalizerJSON {
  layout: LayoutJSON;
  /** Absent in files written before 'coordinate' existed: 'tensor'. */
  kind?: NormalizeKind;
  padMultiple: number;
  /** Padded length L. */
  L: number;
  /** Means: per tensor (kind 'tensor', layout order) or per coordinate (kind 'coordinate', [total]). */
  mu: number[];
  /** Scales, as mu (1 where the checkpoints do not vary). */
  sd: number[];
}

/**
 * Maps checkpoints w [K, total] to the autoencoder's input z [K, L] and back (docs/zoo.md#normalisation):
 * forward z = (w - mu) / sd with the statistics of `kind` (see NormalizeKind), concatenated,
 * zero-padded to L (a multiple of padMultiple); inverse drops the padding and applies
 * w = z sd + mu.
 *
 * A tensor that is constant within every checkpoint (or a coordinate that is constant across
 * them) gets sd = 1, as does a single element or a single checkpoint (no unbiased std): it is only
 * centred, and the inverse stays exact.
 */
export class Normalizer {
  /** Padded length of a normalised vector. */
  readonly L: number;

  constructor(readonly layout: ParamLayout, readonly mu: Float64Array, readonly sd: Float64Array, readonly padMultiple = 64,
    readonly kind: NormalizeKind = 'tensor') {
    if (kind !== 'tensor' && kind !== 'coordinate') throw new ShapeError(`Normalizer: kind must be "tensor" or "coordinate", got "${String(kind)}"`);
    const n = kind === 'tensor' ? layout.names.length : layout.total;
    const what = kind === 'tensor' ? 'tensors' : 'coordinates';
    if (mu.length !== n || sd.length !== n) throw new ShapeError(`Normalizer (${kind}): ${n} ${what} but ${mu.length} means and ${sd.length} scales`);
    if (!Number.isInteger(padMultiple) || padMultiple < 1) throw new ShapeError(`Normalizer: padMultiple must be a positive integer, got ${padMultiple}`);
    for (let k = 0; k < n; k++) {
      if (!Number.isFinite(mu[k]!) || !(sd[k]! > 0) || !Number.isFinite(sd[k]!)) {
        throw new NumericError(`Normalizer: ${this.where(k)} has mean ${mu[k]} and scale ${sd[k]}, expected finite values and a positive scale`);
      }
    }
    this.L = Math.ceil(layout.total / padMultiple) * padMultiple;
  }

  /** "tensor "x"" or "coordinate i (tensor "x" element j)" for messages. */
  private where(k: number): string {
    return this.kind === 'tensor' ? `tensor "${this.layout.names[k]}"` : this.layout.describeCoordinate(k);
  }

  /** Fit the statistics on a stack of checkpoints ckpts [K, total] (float64 accumulation). */
  static fit(layout: ParamLayout, ckpts: Float32Array, padMultiple = 64, kind: NormalizeKind = 'tensor'): Normalizer {
    const total = layout.total;
    if (ckpts.length === 0 || ckpts.length % total !== 0) {
      throw new ShapeError(`Normalizer.fit: expected checkpoints [K, ${total}], got ${ckpts.length} floats`);
    }
    const K = ckpts.length / total;
    if (kind === 'coordinate') {
      const mu = new Float64Array(total), sd = new Float64Array(total);
      for (let r = 0; r < K; r++) {
        const base = r * total;
        for (let j = 0; j < total; j++) mu[j] = mu[j]! + ckpts[base + j]!;
      }
      for (let j = 0; j < total; j++) mu[j] = mu[j]! / K;
      for (let r = 0; r < K; r++) {
        const base = r * total;
        for (let j = 0; j < total; j++) {
          const d = ckpts[base + j]! - mu[j]!;
          sd[j] = sd[j]! + d * d;
        }
      }
      for (let j = 0; j < total; j++) {
        if (!Number.isFinite(mu[j]!) || !Number.isFinite(sd[j]!)) {
          throw new NumericError(`Normalizer.fit: ${layout.describeCoordinate(j)} has non-finite values in the checkpoints (mean ${mu[j]})`);
        }
        const s = K > 1 ? Math.sqrt(sd[j]! / (K - 1)) : 0;
        sd[j] = s > 0 ? s : 1;
      }
      return new Normalizer(layout, mu, sd, padMultiple, 'coordinate');
    }
    const n = layout.names.length;
    const mu = new Float64Array(n), sd = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const off = layout.offsets[k]!, size = layout.sizes[k]!;
      let sumMean = 0, sumStd = 0;
      for (let r = 0; r < K; r++) {
        const base = r * total + off;
        let s = 0;
        for (let i = 0; i < size; i++) s += ckpts[base + i]!;
        const m = s / size;
        let ss = 0;
        for (let i = 0; i < size; i++) {
          const d = ckpts[base + i]! - m;
          ss += d * d;
        }
        sumMean += m;
        sumStd += size > 1 ? Math.sqrt(ss / (size - 1)) : 0;
      }
      mu[k] = sumMean / K;
      const s = sumStd / K;
      if (!Number.isFinite(mu[k]!) || !Number.isFinite(s)) {
        throw new NumericError(`Normalizer.fit: tensor "${layout.names[k]}" has non-finite values in the checkpoints (mean ${mu[k]}, std ${s})`);
      }
      sd[k] = s > 0 ? s : 1;
    }
    return new Normalizer(layout, mu, sd, padMultiple, 'tensor');
  }

  private rows(len: number, width: number, what: string): number {
    if (len % width !== 0) throw new ShapeError(`Normalizer.${what}: expected [K, ${width}] (a multiple of ${width} floats), got ${len}`);
    return len / width;
  }

  /** w [K, total] (or [total]) -> z [K, L]; written into `out` when given. */
  forward(w: Float32Array, out?: Float32Array): Float32Array {
    const total = this.layout.total, L = this.L;
    const K = this.rows(w.length, total, 'forward');
    const z = out ?? new Float32Array(K * L);
    if (z.length !== K * L) throw new ShapeError(`Normalizer.forward: out holds ${z.length} floats, expected ${K} x ${L}`);
    const { offsets, sizes } = this.layout;
    const { mu, sd } = this;
    for (let r = 0; r < K; r++) {
      const src = r * total, dst = r * L;
      if (this.kind === 'coordinate') {
        for (let j = 0; j < total; j++) z[dst + j] = (w[src + j]! - mu[j]!) / sd[j]!;
      } else {
        for (let k = 0; k < offsets.length; k++) {
          const m = mu[k]!, s = sd[k]!;
          const o = offsets[k]!, n = sizes[k]!;
          for (let i = 0; i < n; i++) z[dst + o + i] = (w[src + o + i]! - m) / s;
        }
      }
      z.fill(0, dst + total, dst + L);
    }
    return z;
  }

  /** z [K, L] (or [L]) -> w [K, total], the padding dropped; written into `out` when given. */
  inverse(z: Float32Array, out?: Float32Array): Float32Array {
    const total = this.layout.total, L = this.L;
    const K = this.rows(z.length, L, 'inverse');
    const w = out ?? new Float32Array(K * total);
    if (w.length !== K * total) throw new ShapeError(`Normalizer.inverse: out holds ${w.length} floats, expected ${K} x ${total}`);
    const { offsets, sizes } = this.layout;
    const { mu, sd } = this;
    for (let r = 0; r < K; r++) {
      const src = r * L, dst = r * total;
      if (this.kind === 'coordinate') {
        for (let j = 0; j < total; j++) w[dst + j] = z[src + j]! * sd[j]! + mu[j]!;
      } else {
        for (let k = 0; k < offsets.length; k++) {
          const m = mu[k]!, s = sd[k]!;
          const o = offsets[k]!, n = sizes[k]!;
          for (let i = 0; i < n; i++) w[dst + o + i] = z[src + o + i]! * s + m;
        }
      }
    }
    return w;
  }

  toJSON(): NormalizerJSON {
    return { layout: this.layout.toJSON(), kind: this.kind, padMultiple: this.padMultiple, L: this.L, mu: [...this.mu], sd: [...this.sd] };
  }

  static fromJSON(json: unknown, source = 'normalizer'): Normalizer {
    const j = json as Partial<NormalizerJSON> | null;
    if (typeof j !== 'object' || j === null || !Array.isArray(j.mu) || !Array.isArray(j.sd) || typeof j.padMultiple !== 'number') {
      throw new FormatError(source, 'expected a normalizer object with "layout", "padMultiple", "mu" and "sd"');
    }
    const layout = ParamLayout.fromJSON(j.layout, source);
    const kind = j.kind ?? 'tensor';
    if (kind !== 'tensor' && kind !== 'coordinate') throw new FormatError(source, `kind must be "tensor" or "coordinate", got ${JSON.stringify(kind)}`);
    const want = kind === 'tensor' ? layout.names.length : layout.total;
    if (j.mu.length !== want || j.sd.length !== want) {
      throw new FormatError(source, `a "${kind}" normalizer of this layout has ${want} means and scales, found ${j.mu.length} and ${j.sd.length}`);
    }
    const norm = new Normalizer(layout, Float64Array.from(j.mu), Float64Array.from(j.sd), j.padMultiple, kind);
    if (j.L !== undefined && j.L !== norm.L) throw new FormatError(source, `L is ${j.L} but the layout and padMultiple give ${norm.L}`);
    return norm;
  }
}
