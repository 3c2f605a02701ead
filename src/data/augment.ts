/**
 * Training-time augmentation applied in place to a batch buffer [B, C, H, W]: random crop with
 * zero padding (torchvision `RandomCrop(size, padding)`) followed by a random horizontal flip
 * (`RandomHorizontalFlip(0.5)`). Deterministic under the Rng; allocation-free per call.
 */
import { ShapeError } from '../util/errors.js';
import type { Rng } from '../tensor/random.js';

/** Batch geometry. */
export interface BatchShape {
  /** Images in the batch. */
  n: number;
  c: number;
  h: number;
  w: number;
}

/** Options for {@link randomCropFlip}. */
export interface CropFlipOptions {
  /** Padding on each side before cropping back to h x w; default 4 (the CIFAR recipe). 0 disables the crop. */
  pad?: number;
  /** Flip horizontally with probability 1/2; default true. */
  flip?: boolean;
  /**
   * Value of the padded border, in the units of the buffer: a number or one per channel.
   * Default 0. To pad with black pixels of a normalised buffer (as torchvision does when it
   * crops before normalising) pass -mean[c]/std[c].
   */
  fill?: number | readonly number[];
}

/**
 * Randomly crop (with padding) and flip each of the `shape.n` images in `images` in place.
 * Per image the Rng draws, in order: the vertical offset int(2 pad + 1), the horizontal offset
 * int(2 pad + 1), then uniform() < 0.5 for the flip (when enabled).
 * @param scratch at least c*h*w floats, reused across calls.
 */
export function randomCropFlip(images: Float32Array, shape: BatchShape, rng: Rng, scratch: Float32Array, opts: CropFlipOptions = {}): void {
  const { n, c, h, w } = shape;
  const pad = opts.pad ?? 4;
  const flip = opts.flip ?? true;
  const fill = opts.fill ?? 0;
  const hw = h * w;
  const sz = c * hw;
  if (images.length < n * sz) throw new ShapeError(`randomCropFlip: buffer holds ${images.length} floats, shape [${n}, ${c}, ${h}, ${w}] needs ${n * sz}`);
  if (scratch.length < sz) throw new ShapeError(`randomCropFlip: scratch holds ${scratch.length} floats, need ${sz} (one image)`);
  if (typeof fill !== 'number' && fill.length !== c) throw new ShapeError(`randomCropFlip: fill has ${fill.length} values for ${c} channels`);
  if (!Number.isInteger(pad) || pad < 0) throw new ShapeError(`randomCropFlip: pad must be a non-negative integer, got ${pad}`);
  for (let b = 0; b < n; b++) {
    const dy = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
    const dx = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
    const flipped = flip && rng.uniform() < 0.5;
    if (dy === 0 && dx === 0 && !flipped) continue;
    const base = b * sz;
    for (let i = 0; i < sz; i++) scratch[i] = images[base + i]!;
    // out[y][x] = in[y + dy][x' + dx] with x' = w-1-x when flipped (crop, then flip).
    for (let ch = 0; ch < c; ch++) {
      const fv = typeof fill === 'number' ? fill : fill[ch]!;
      const cb = ch * hw;
      for (let y = 0; y < h; y++) {
        const sy = y + dy;
        const ob = base + cb + y * w;
        if (sy < 0 || sy >= h) {
          for (let x = 0; x < w; x++) images[ob + x] = fv;
          continue;
        }
        const sb = cb + sy * w;
        // Output columns [x0, x1) read inside the image; the rest is padding.
        const x0 = Math.min(w, flipped ? Math.max(0, dx) : Math.max(0, -dx));
        const x1 = Math.max(x0, flipped ? Math.min(w, w + dx) : Math.min(w, w - dx));
        for (let x = 0; x < x0; x++) images[ob + x] = fv;
        if (flipped) {
          const s0 = sb + w - 1 + dx; // source of x = 0; moves left as x grows
          for (let x = x0; x < x1; x++) images[ob + x] = scratch[s0 - x]!;
        } else {
          const s0 = sb + dx;
          for (let x = x0; x < x1; x++) images[ob + x] = scratch[s0 + x]!;
        }
        for (let x = x1; x < w; x++) images[ob + x] = fv;
      }
    }
  }
}
