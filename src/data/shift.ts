/**
 * Corruptions for distribution-shift evaluation, in the spirit of Fashion-MNIST-C / CIFAR-10-C
 * (Hendrycks & Dietterich 2019): six kinds at five severities, deterministic under an Rng.
 *
 * Each image is taken back to pixel space [0, 1] (x * std + mean), corrupted, clipped to [0, 1]
 * and normalised again. Pixels that a geometric corruption brings in from outside the image are 0
 * (black, the Fashion-MNIST background).
 *
 * Severity tables (index = severity - 1):
 *   gaussian_noise  x + sigma n, n ~ N(0, 1) per pixel      sigma 0.04, 0.08, 0.12, 0.16, 0.20
 *   gaussian_blur   separable Gaussian, radius ceil(3 sigma), edges replicated
 *                                                           sigma 0.5, 1.0, 1.5, 2.0, 2.5
 *   contrast        (x - m) f + m, m = the image's channel mean
 *                                                           f 0.7, 0.575, 0.45, 0.325, 0.2
 *   brightness      x + b                                   b 0.1, 0.2, 0.3, 0.4, 0.5
 *   rotation        about the image centre, sign random per image, bilinear sampling
 *                                                           degrees 5, 10, 15, 20, 25
 *   translation     by d pixels in a direction uniform on the circle per image, bilinear
 *                                                           d 1, 2, 3, 4, 5
 */
import { ConfigError, ShapeError } from '../util/errors.js';
import type { Rng } from '../tensor/random.js';
import type { Dataset, Norm } from './dataset.js';

export const SHIFT_KINDS = ['gaussian_noise', 'gaussian_blur', 'contrast', 'brightness', 'rotation', 'translation'] as const;
export type ShiftKind = (typeof SHIFT_KINDS)[number];

/** The corruption strength at severities 1..5, per kind (see the table above). */
export const SHIFT_SEVERITY: Readonly<Record<ShiftKind, readonly number[]>> = {
  gaussian_noise: [0.04, 0.08, 0.12, 0.16, 0.2],
  gaussian_blur: [0.5, 1.0, 1.5, 2.0, 2.5],
  contrast: [0.7, 0.575, 0.45, 0.325, 0.2],
  brightness: [0.1, 0.2, 0.3, 0.4, 0.5],
  rotation: [5, 10, 15, 20, 25],
  translation: [1, 2, 3, 4, 5],
};

/** Image geometry of a flat [n, c, h, w] array. */
export interface ImageShape {
  n: number;
  c: number;
  h: number;
  w: number;
}

/**
 * A corrupted copy of `images` [n, c, h, w] (normalised with `norm`; one mean/std per channel,
 * or one for all). `images` is not modified.
 * @throws ConfigError for an unknown kind or a severity outside 1..5.
 */
export function corrupt(
  images: Float32Array, shape: ImageShape, kind: ShiftKind, severity: number, rng: Rng, norm: Norm,
): Float32Array {
  const table = SHIFT_SEVERITY[kind];
  if (!table) throw new ConfigError(`unknown shift kind "${kind}"; expected one of ${SHIFT_KINDS.join(', ')}`);
  if (!Number.isInteger(severity) || severity < 1 || severity > 5) {
    throw new ConfigError(`shift severity must be an integer 1..5, got ${severity}`);
  }
  const level = table[severity - 1]!;
  const { n, c, h, w } = shape;
  const hw = h * w;
  const sz = c * hw;
  if (images.length !== n * sz) throw new ShapeError(`corrupt: ${images.length} floats do not match shape [${n}, ${c}, ${h}, ${w}]`);
  const mean = perChannel('mean', norm.mean, c);
  const std = perChannel('std', norm.std, c);

  const out = new Float32Array(images.length);
  const pix = new Float64Array(sz); // one image in pixel space
  const tmp = new Float64Array(sz); // second buffer for blur and warps
  const blurKernel = kind === 'gaussian_blur' ? gaussianKernel(level) : null;

  for (let b = 0; b < n; b++) {
    const base = b * sz;
    for (let ch = 0; ch < c; ch++) {
      const m = mean[ch]!, s = std[ch]!;
      for (let i = ch * hw; i < (ch + 1) * hw; i++) pix[i] = images[base + i]! * s + m;
    }
    let res: Float64Array = pix;
    switch (kind) {
      case 'gaussian_noise':
        for (let i = 0; i < sz; i++) pix[i] = pix[i]! + level * rng.normal();
        break;
      case 'gaussian_blur':
        blurSeparable(pix, tmp, c, h, w, blurKernel!);
        break;
      case 'contrast':
        for (let ch = 0; ch < c; ch++) {
          let sum = 0;
          for (let i = ch * hw; i < (ch + 1) * hw; i++) sum += pix[i]!;
          const mu = sum / hw;
          for (let i = ch * hw; i < (ch + 1) * hw; i++) pix[i] = (pix[i]! - mu) * level + mu;
        }
        break;
      case 'brightness':
        for (let i = 0; i < sz; i++) pix[i] = pix[i]! + level;
        break;
      case 'rotation': {
        const theta = ((rng.uniform() < 0.5 ? -1 : 1) * level * Math.PI) / 180;
        warpBilinear(pix, tmp, c, h, w, theta, 0, 0);
        res = tmp;
        break;
      }
      case 'translation': {
        const phi = 2 * Math.PI * rng.uniform();
        warpBilinear(pix, tmp, c, h, w, 0, level * Math.cos(phi), level * Math.sin(phi));
        res = tmp;
        break;
      }
    }
    for (let ch = 0; ch < c; ch++) {
      const m = mean[ch]!, s = std[ch]!;
      for (let i = ch * hw; i < (ch + 1) * hw; i++) {
        const v = res[i]!;
        out[base + i] = ((v < 0 ? 0 : v > 1 ? 1 : v) - m) / s;
      }
    }
  }
  return out;
}

/** A corrupted copy of a dataset (labels shared), using its recorded normalisation. */
export function corruptDataset(ds: Dataset, kind: ShiftKind, severity: number, rng: Rng): Dataset {
  if (!ds.norm) throw new ConfigError(`corruptDataset(${ds.name}): the dataset does not record its normalisation`);
  const images = corrupt(ds.images, ds, kind, severity, rng, ds.norm);
  return { ...ds, name: `${ds.name}@${kind}-${severity}`, images };
}

function perChannel(what: string, v: readonly number[], c: number): Float64Array {
  if (v.length !== c && v.length !== 1) throw new ShapeError(`corrupt: norm.${what} has ${v.length} values for ${c} channels`);
  const out = new Float64Array(c);
  for (let i = 0; i < c; i++) out[i] = v.length === 1 ? v[0]! : v[i]!;
  return out;
}

/** Normalised 1D Gaussian weights for offsets -r..r, r = ceil(3 sigma). */
function gaussianKernel(sigma: number): Float64Array {
  const r = Math.ceil(3 * sigma);
  const k = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) {
    const v = Math.exp(-(i * i) / (2 * sigma * sigma));
    k[i + r] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] = k[i]! / sum;
  return k;
}

/** Blur `img` in place (rows into `tmp`, then columns back), replicating edge pixels. */
function blurSeparable(img: Float64Array, tmp: Float64Array, c: number, h: number, w: number, k: Float64Array): void {
  const r = (k.length - 1) >> 1;
  const hw = h * w;
  for (let ch = 0; ch < c; ch++) {
    const cb = ch * hw;
    for (let y = 0; y < h; y++) {
      const row = cb + y * w;
      for (let x = 0; x < w; x++) {
        let acc = 0;
        for (let j = -r; j <= r; j++) {
          const sx = x + j < 0 ? 0 : x + j >= w ? w - 1 : x + j;
          acc += k[j + r]! * img[row + sx]!;
        }
        tmp[row + x] = acc;
      }
    }
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let acc = 0;
        for (let j = -r; j <= r; j++) {
          const sy = y + j < 0 ? 0 : y + j >= h ? h - 1 : y + j;
          acc += k[j + r]! * tmp[cb + sy * w + x]!;
        }
        img[cb + y * w + x] = acc;
      }
    }
  }
}

/**
 * dst = src rotated by `theta` (radians, counter-clockwise on screen for theta > 0, i.e. with
 * y pointing down) about the image centre, then shifted by (tx, ty) pixels. Inverse mapping with
 * bilinear interpolation; samples outside the image read 0.
 */
function warpBilinear(src: Float64Array, dst: Float64Array, c: number, h: number, w: number, theta: number, tx: number, ty: number): void {
  const cx = (w - 1) / 2, cy = (h - 1) / 2;
  const cos = Math.cos(theta), sin = Math.sin(theta);
  const hw = h * w;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Source of output (x, y): undo the shift, then rotate by -theta about the centre.
      const ux = x - tx - cx, uy = y - ty - cy;
      const sx = cos * ux - sin * uy + cx;
      const sy = sin * ux + cos * uy + cy;
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      const in00 = x0 >= 0 && x0 < w && y0 >= 0 && y0 < h;
      const in10 = x0 + 1 >= 0 && x0 + 1 < w && y0 >= 0 && y0 < h;
      const in01 = x0 >= 0 && x0 < w && y0 + 1 >= 0 && y0 + 1 < h;
      const in11 = x0 + 1 >= 0 && x0 + 1 < w && y0 + 1 >= 0 && y0 + 1 < h;
      const w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy;
      const o = y * w + x;
      const s00 = y0 * w + x0;
      for (let ch = 0; ch < c; ch++) {
        const cb = ch * hw;
        let v = 0;
        if (in00) v += w00 * src[cb + s00]!;
        if (in10) v += w10 * src[cb + s00 + 1]!;
        if (in01) v += w01 * src[cb + s00 + w]!;
        if (in11) v += w11 * src[cb + s00 + w + 1]!;
        dst[cb + o] = v;
      }
    }
  }
}
