/**
 * 2-D max and average pooling on the CPU, row-major NCHW, with PyTorch semantics
 * (dilation 1). x [n, c, h, w] -> y [n, c, oh, ow]; the caller chooses oh/ow, so a ceil_mode
 * geometry also works (windows are clipped to the padded input as PyTorch does).
 */
import type { FloatArray, Pool2dGeom } from '../kernels.js';

/**
 * Max pooling; padding acts as -inf. argmax [n, c, oh, ow] receives, like PyTorch's
 * `return_indices`, the flat index iy*w + ix of the winner inside its own (sample, channel)
 * plane of x (not into the whole of x). The first maximum in row-major window order wins
 * ties; a NaN in the window wins (the result is NaN), as in PyTorch.
 */
export function maxPool2dForward(x: FloatArray, y: FloatArray, argmax: Int32Array, g: Pool2dGeom): void {
  const { n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const planes = n * c;
  const inPlane = h * w;
  const outPlane = oh * ow;
  if (kh === 2 && kw === 2 && sh === 2 && sw === 2 && ph === 0 && pw === 0 && 2 * oh <= h && 2 * ow <= w) {
    // Fast path for the common 2x2/stride-2 pool: the window is always fully inside.
    for (let p = 0; p < planes; p++) {
      const xb = p * inPlane;
      let o = p * outPlane;
      for (let oy = 0; oy < oh; oy++) {
        const r0 = 2 * oy * w;
        for (let ox = 0; ox < ow; ox++, o++) {
          let bi = r0 + 2 * ox;
          let best = x[xb + bi]!;
          let v = x[xb + bi + 1]!;
          if (v > best || v !== v) { best = v; bi = r0 + 2 * ox + 1; }
          v = x[xb + r0 + w + 2 * ox]!;
          if (v > best || v !== v) { best = v; bi = r0 + w + 2 * ox; }
          v = x[xb + r0 + w + 2 * ox + 1]!;
          if (v > best || v !== v) { best = v; bi = r0 + w + 2 * ox + 1; }
          y[o] = best;
          argmax[o] = bi;
        }
      }
    }
    return;
  }
  for (let p = 0; p < planes; p++) {
    const xb = p * inPlane;
    let o = p * outPlane;
    for (let oy = 0; oy < oh; oy++) {
      const hs = oy * sh - ph;
      const he = Math.min(hs + kh, h);
      const hs0 = Math.max(hs, 0);
      for (let ox = 0; ox < ow; ox++, o++) {
        const wsx = ox * sw - pw;
        const we = Math.min(wsx + kw, w);
        const ws0 = Math.max(wsx, 0);
        let best = -Infinity;
        let bi = hs0 * w + ws0;
        for (let iy = hs0; iy < he; iy++) {
          const row = iy * w;
          for (let ix = ws0; ix < we; ix++) {
            const v = x[xb + row + ix]!;
            if (v > best || v !== v) { best = v; bi = row + ix; }
          }
        }
        y[o] = best;
        argmax[o] = bi;
      }
    }
  }
}

/** gx [n, c, h, w] = dL/dx of max pooling (overwritten): each gy goes to its argmax (indices within the plane). */
export function maxPool2dBackward(gy: FloatArray, argmax: Int32Array, gx: FloatArray, g: Pool2dGeom): void {
  const planes = g.n * g.c;
  const inPlane = g.h * g.w;
  const outPlane = g.oh * g.ow;
  gx.fill(0, 0, planes * inPlane);
  for (let p = 0; p < planes; p++) {
    const xb = p * inPlane;
    for (let o = p * outPlane, e = o + outPlane; o < e; o++) {
      const i = xb + argmax[o]!;
      gx[i] = gx[i]! + gy[o]!;
    }
  }
}

/**
 * Average pooling with PyTorch's defaults (count_include_pad = true): each window sum is
 * divided by the window's size clipped to the padded input (kh*kw unless ceil_mode overhangs).
 */
export function avgPool2dForward(x: FloatArray, y: FloatArray, g: Pool2dGeom): void {
  const { n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const planes = n * c;
  const inPlane = h * w;
  const outPlane = oh * ow;
  for (let p = 0; p < planes; p++) {
    const xb = p * inPlane;
    let o = p * outPlane;
    for (let oy = 0; oy < oh; oy++) {
      const hs = oy * sh - ph;
      const hp = Math.min(hs + kh, h + ph);
      const he = Math.min(hs + kh, h);
      const hs0 = Math.max(hs, 0);
      for (let ox = 0; ox < ow; ox++, o++) {
        const wsx = ox * sw - pw;
        const wp = Math.min(wsx + kw, w + pw);
        const we = Math.min(wsx + kw, w);
        const ws0 = Math.max(wsx, 0);
        let acc = 0;
        for (let iy = hs0; iy < he; iy++) {
          for (let i = xb + iy * w + ws0, e = xb + iy * w + we; i < e; i++) acc += x[i]!;
        }
        y[o] = acc / ((hp - hs) * (wp - wsx));
      }
    }
  }
}

/** gx [n, c, h, w] = dL/dx of average pooling (overwritten). */
export function avgPool2dBackward(gy: FloatArray, gx: FloatArray, g: Pool2dGeom): void {
  const { n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const planes = n * c;
  const inPlane = h * w;
  const outPlane = oh * ow;
  gx.fill(0, 0, planes * inPlane);
  for (let p = 0; p < planes; p++) {
    const xb = p * inPlane;
    let o = p * outPlane;
    for (let oy = 0; oy < oh; oy++) {
      const hs = oy * sh - ph;
      const hp = Math.min(hs + kh, h + ph);
      const he = Math.min(hs + kh, h);
      const hs0 = Math.max(hs, 0);
      for (let ox = 0; ox < ow; ox++, o++) {
        const wsx = ox * sw - pw;
        const wp = Math.min(wsx + kw, w + pw);
        const we = Math.min(wsx + kw, w);
        const ws0 = Math.max(wsx, 0);
        const v = gy[o]! / ((hp - hs) * (wp - wsx));
        for (let iy = hs0; iy < he; iy++) {
          for (let i = xb + iy * w + ws0, e = xb + iy * w + we; i < e; i++) gx[i] = gx[i]! + v;
        }
      }
    }
  }
}
