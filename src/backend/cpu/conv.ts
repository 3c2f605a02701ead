/**
 * 2-D convolution (dilation 1, groups 1) on the CPU by im2col + GEMM, row-major NCHW.
 * Conv1d is the case h = kh = oh = 1.
 *
 * A chunk of `m` samples is unfolded into one column matrix cols [K = c*kh*kw, m*P]
 * (P = oh*ow, column index = sample-in-chunk * P + output position), so each chunk costs one
 * GEMM instead of m small ones:
 *   forward           Y'[o, m*P] = W[o, K] * cols               then scatter Y' -> y (NCHW)
 *   backward (weight) gW[o, K]  += gY'[o, m*P] * cols^T
 *   backward (data)   per output phase, a stride-1 forward conv of gy (see Phase), or
 *                     gcols[K, m*P] = W^T * gY' then col2im-add into gx
 * where Y' / gY' are the chunk's outputs gathered channel-major. Samples with big enough
 * GEMMs go one per chunk, which needs no gather/scatter (a sample's [o, P] block of y already
 * has that layout); smaller ones are batched up to CONV_SCRATCH_BYTES of scratch.
 * im2col builds most rows of cols with memmoves from neighbouring rows (see derivation), so
 * little of it runs as JS element loops.
 *
 * A 1x1, stride-1, unpadded conv with large planes skips im2col: x itself is the column matrix.
 *
 * Workspace slots used: 0 (columns), 1 (gathered / phase outputs), 2 (phase weights).
 */
import type { Conv2dGeom, FloatArray, Gemm, Workspace } from '../kernels.js';

/** Bound on the scratch one batched chunk takes from the workspace (columns + gathered block); one sample may exceed it. */
export const CONV_SCRATCH_BYTES = 2 * 1024 * 1024;

/** Runs at least this long are copied with TypedArray.set (memcpy) instead of an element loop. */
const MEMCPY_MIN = 48;

/** Column-matrix rows at least this long are derived from a neighbouring row (see derivation). */
const SHIFT_MIN = 16;

/**
 * A sample whose output plane has at least PER_SAMPLE_MIN_PLANE positions (forward, backward
 * data) or PER_SAMPLE_MIN_PLANE_WEIGHT (backward weight, whose per-sample GEMMs have a short
 * reduction), or whose GEMM has at least PER_SAMPLE_MIN_MACS multiply-adds, gets a GEMM of its
 * own (no gather/scatter); smaller ones are batched. Measured with OpenBLAS (1-2 threads) at
 * the cnn-s and autoencoder shapes.
 */
const PER_SAMPLE_MIN_PLANE = 128;
const PER_SAMPLE_MIN_PLANE_WEIGHT = 512;
const PER_SAMPLE_MIN_MACS = 1 << 22;

/** Backward data by phases when o <= PHASES_MAX_RATIO * c, else by col2im (see conv2dBackwardData). */
const PHASES_MAX_RATIO = 4;

/** Planes of at least this many positions take the no-im2col path for 1x1 stride-1 convs. */
const POINTWISE_MIN_PLANE = 64;

function isPointwise(g: Conv2dGeom): boolean {
  return g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0
    && g.oh === g.h && g.ow === g.w && g.oh * g.ow >= POINTWISE_MIN_PLANE;
}

/**
 * Samples per chunk. One sample per chunk when its GEMM is big enough alone (an output plane
 * of `minPlane` positions, or PER_SAMPLE_MIN_MACS multiply-adds): that needs no gather/scatter.
 * Otherwise as many samples as fit the scratch budget (at least one), balanced so the last
 * chunk is not a sliver. `maxChunk` caps it further (tests use it to exercise several chunks).
 */
function chunkSamples(
  n: number, perSample: number, plane: number, minPlane: number, macs: number,
  bytesPerElement: number, maxChunk: number | undefined,
): number {
  if (plane >= minPlane || macs >= PER_SAMPLE_MIN_MACS) return 1;
  let cap = Math.max(1, Math.floor(CONV_SCRATCH_BYTES / bytesPerElement / Math.max(1, perSample)));
  if (maxChunk !== undefined) cap = Math.max(1, Math.min(cap, Math.floor(maxChunk)));
  if (cap >= n) return Math.max(1, n);
  const chunks = Math.ceil(n / cap);
  return Math.ceil(n / chunks);
}

/** a[lo, hi) = 0; short ranges in a loop (cheaper than a native call). */
function zero(a: FloatArray, lo: number, hi: number): void {
  if (hi - lo >= MEMCPY_MIN) a.fill(0, lo, hi);
  else for (let i = lo; i < hi; i++) a[i] = 0;
}

/** First t >= 0 with t * s + off >= 0. */
function firstInside(off: number, s: number): number {
  return off >= 0 ? 0 : Math.ceil(-off / s);
}

/** First t >= 0 with t * s + off >= limit (clamped to [lo, count]). */
function firstPast(off: number, s: number, limit: number, lo: number, count: number): number {
  const t = limit - off <= 0 ? 0 : Math.ceil((limit - off) / s);
  return t < lo ? lo : t > count ? count : t;
}

/**
 * How row (ki, kj) of the column matrix relates to an earlier row. A kernel tap ki >= sh reads
 * what tap ki - sh reads one output row later; a tap kj >= sw reads what kj - sw reads one
 * output column later. So such a row of cols is the earlier row shifted by ow (or by 1), apart
 * from the last output row (or column) of each segment: im2col builds it with one memmove
 * (copyWithin) plus that thin edge instead of a gather. (The mirror trick for col2im, long
 * contiguous adds into the source rows, measured slower than the direct scatter-add.)
 */
const GATHER = 0;
const FROM_UP = 1;
const FROM_LEFT = 2;

function derivation(ki: number, kj: number, g: Conv2dGeom, rowLen: number): number {
  if (rowLen < SHIFT_MIN) return GATHER;
  if (ki >= g.sh && g.oh > 1) return FROM_UP;
  if (kj >= g.sw && g.ow > 1) return FROM_LEFT;
  return GATHER;
}

/**
 * cols[r0 + s*P + oy*ow + ox] = x[n0 + s, ci, oy*sh - ph + ki, ox*sw - pw + kj] (0 outside)
 * for every sample s < m and output rows oy in [oyA, oyB).
 */
function gatherRows(
  x: FloatArray, n0: number, m: number, g: Conv2dGeom,
  ci: number, ki: number, kj: number, oyA: number, oyB: number, cols: FloatArray, r0: number,
): void {
  const { c, h, w, sh, sw, ph, pw, oh, ow } = g;
  const plane = h * w;
  const P = oh * ow;
  // Output rows whose input row oy*sh - ph + ki lies in [0, h), output columns likewise.
  const oyLo = Math.min(Math.max(firstInside(ki - ph, sh), oyA), oyB);
  const oyHi = Math.max(Math.min(firstPast(ki - ph, sh, h, 0, oh), oyB), oyLo);
  const oxLo = Math.min(firstInside(kj - pw, sw), ow);
  const oxHi = firstPast(kj - pw, sw, w, oxLo, ow);
  const run = oxHi - oxLo;
  const tail = ow - oxHi;
  if (sh === 1 && sw === 1 && ow === w) {
    // Same width: the inside block is one contiguous stretch of x shifted by kj - pw; copy it
    // whole, then clear the entries that wrapped around from the neighbouring input row.
    const len = (oyHi - oyLo) * ow;
    for (let s = 0; s < m; s++) {
      const d0 = r0 + s * P;
      zero(cols, d0 + oyA * ow, d0 + oyLo * ow);
      const q0 = d0 + oyLo * ow;
      const src = ((n0 + s) * c + ci) * plane + (oyLo - ph + ki) * w + kj - pw + oxLo;
      const cnt = len - oxLo - tail;
      if (cnt >= MEMCPY_MIN) cols.set(x.subarray(src, src + cnt), q0 + oxLo);
      else for (let j = 0; j < cnt; j++) cols[q0 + oxLo + j] = x[src + j]!;
      if (oxLo > 0 || tail > 0) {
        for (let r = q0, e = q0 + len; r < e; r += ow) {
          for (let j = 0; j < oxLo; j++) cols[r + j] = 0;
          for (let j = ow - tail; j < ow; j++) cols[r + j] = 0;
        }
      }
      zero(cols, q0 + len, d0 + oyB * ow);
    }
    return;
  }
  for (let s = 0; s < m; s++) {
    const xBase = ((n0 + s) * c + ci) * plane;
    let dst = r0 + s * P + oyA * ow;
    for (let e = r0 + s * P + oyLo * ow; dst < e; dst++) cols[dst] = 0;
    for (let oy = oyLo; oy < oyHi; oy++) {
      for (let e = dst + oxLo; dst < e; dst++) cols[dst] = 0;
      let src = xBase + (oy * sh - ph + ki) * w + oxLo * sw - pw + kj;
      if (sw === 1) {
        if (run >= MEMCPY_MIN) {
          cols.set(x.subarray(src, src + run), dst);
          dst += run;
        } else {
          for (let e = dst + run; dst < e; dst++) cols[dst] = x[src++]!;
        }
      } else {
        for (let e = dst + run; dst < e; dst++, src += sw) cols[dst] = x[src]!;
      }
      for (let e = dst + tail; dst < e; dst++) cols[dst] = 0;
    }
    for (let e = r0 + s * P + oyB * ow; dst < e; dst++) cols[dst] = 0;
  }
}

/** The output-column ox = ow - 1 entries of row (ci, ki, kj) of cols, for every sample and output row. */
function gatherLastColumn(
  x: FloatArray, n0: number, m: number, g: Conv2dGeom,
  ci: number, ki: number, kj: number, cols: FloatArray, r0: number,
): void {
  const { c, h, w, sh, sw, ph, pw, oh, ow } = g;
  const plane = h * w;
  const ix = (ow - 1) * sw - pw + kj;
  const xOk = ix >= 0 && ix < w;
  let dst = r0 + ow - 1;
  for (let s = 0; s < m; s++) {
    const xBase = ((n0 + s) * c + ci) * plane + ix;
    for (let oy = 0; oy < oh; oy++, dst += ow) {
      const iy = oy * sh - ph + ki;
      cols[dst] = xOk && iy >= 0 && iy < h ? x[xBase + iy * w]! : 0;
    }
  }
}

/**
 * Unfold samples [n0, n0 + m) of x into cols [c*kh*kw, m*P]:
 * cols[(ci*kh + ki)*kw + kj, s*P + oy*ow + ox] = x[n0 + s, ci, oy*sh - ph + ki, ox*sw - pw + kj] (0 outside).
 */
function im2col(x: FloatArray, n0: number, m: number, g: Conv2dGeom, cols: FloatArray): void {
  const { c, kh, kw, sh, sw, oh, ow } = g;
  const L = m * oh * ow;
  for (let ci = 0; ci < c; ci++) {
    for (let ki = 0; ki < kh; ki++) {
      for (let kj = 0; kj < kw; kj++) {
        const r0 = ((ci * kh + ki) * kw + kj) * L;
        switch (derivation(ki, kj, g, L)) {
          case FROM_UP: {
            const src = r0 - sh * kw * L + ow;
            cols.copyWithin(r0, src, src + L - ow);
            gatherRows(x, n0, m, g, ci, ki, kj, oh - 1, oh, cols, r0);
            break;
          }
          case FROM_LEFT: {
            const src = r0 - sw * L + 1;
            cols.copyWithin(r0, src, src + L - 1);
            gatherLastColumn(x, n0, m, g, ci, ki, kj, cols, r0);
            break;
          }
          default:
            gatherRows(x, n0, m, g, ci, ki, kj, 0, oh, cols, r0);
        }
      }
    }
  }
}

/**
 * Fold cols [c*kh*kw, m*P] back onto samples [n0, n0 + m) of gx, adding (the adjoint of
 * im2col). cols is scratch and may be modified.
 */
function col2imAdd(cols: FloatArray, n0: number, m: number, g: Conv2dGeom, gx: FloatArray): void {
  const { c, h, w, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const plane = h * w;
  const sameWidth = sh === 1 && sw === 1 && ow === w;
  let src = 0;
  for (let ci = 0; ci < c; ci++) {
    for (let ki = 0; ki < kh; ki++) {
      const oyLo = Math.min(firstInside(ki - ph, sh), oh);
      const oyHi = firstPast(ki - ph, sh, h, oyLo, oh);
      for (let kj = 0; kj < kw; kj++) {
        const oxLo = Math.min(firstInside(kj - pw, sw), ow);
        const oxHi = firstPast(kj - pw, sw, w, oxLo, ow);
        const run = oxHi - oxLo;
        if (sameWidth) {
          // Consecutive output rows map to consecutive input rows, so the inside block of this
          // row of cols lands on one contiguous stretch of gx, shifted by kj - pw. The entries
          // that fall off the left/right edge would wrap onto the neighbouring input row:
          // clear them in cols (scratch) and add the whole stretch in one loop.
          const head = oxLo;
          const tail = ow - oxHi;
          const len = (oyHi - oyLo) * ow;
          for (let s = 0; s < m; s++) {
            const q0 = src + oyLo * ow;
            if (head > 0 || tail > 0) {
              for (let r = q0, e = q0 + len; r < e; r += ow) {
                for (let j = 0; j < head; j++) cols[r + j] = 0;
                for (let j = ow - tail; j < ow; j++) cols[r + j] = 0;
              }
            }
            const shift = ((n0 + s) * c + ci) * plane + (oyLo - ph + ki) * w + kj - pw - q0;
            for (let q = q0 + head, e = q0 + len - tail; q < e; q++) gx[q + shift] = gx[q + shift]! + cols[q]!;
            src += oh * ow;
          }
          continue;
        }
        for (let s = 0; s < m; s++) {
          const xBase = ((n0 + s) * c + ci) * plane;
          src += oyLo * ow;
          for (let oy = oyLo; oy < oyHi; oy++) {
            let d = xBase + (oy * sh - ph + ki) * w + oxLo * sw - pw + kj;
            let q = src + oxLo;
            if (sw === 1) {
              for (let e = q + run; q < e; q++, d++) gx[d] = gx[d]! + cols[q]!;
            } else {
              for (let e = q + run; q < e; q++, d += sw) gx[d] = gx[d]! + cols[q]!;
            }
            src += ow;
          }
          src += (oh - oyHi) * ow;
        }
      }
    }
  }
}

/** Copy samples [n0, n0 + m) of t [n, rows, P] into blk [rows, m*P] (channel-major gather). */
function gather(t: FloatArray, n0: number, m: number, rows: number, P: number, blk: FloatArray): void {
  const ld = m * P;
  for (let s = 0; s < m; s++) {
    let src = (n0 + s) * rows * P;
    for (let r = 0; r < rows; r++, src += P) {
      const dst = r * ld + s * P;
      if (P >= MEMCPY_MIN) blk.set(t.subarray(src, src + P), dst);
      else for (let j = 0; j < P; j++) blk[dst + j] = t[src + j]!;
    }
  }
}

/** Inverse of gather: blk [rows, m*P] -> samples [n0, n0 + m) of t [n, rows, P], adding bias[r] when given. */
function scatter(blk: FloatArray, n0: number, m: number, rows: number, P: number, t: FloatArray, bias: FloatArray | null): void {
  const ld = m * P;
  for (let s = 0; s < m; s++) {
    let dst = (n0 + s) * rows * P;
    for (let r = 0; r < rows; r++, dst += P) {
      const src = r * ld + s * P;
      if (bias === null) {
        if (P >= MEMCPY_MIN) t.set(blk.subarray(src, src + P), dst);
        else for (let j = 0; j < P; j++) t[dst + j] = blk[src + j]!;
      } else {
        const b = bias[r]!;
        for (let j = 0; j < P; j++) t[dst + j] = blk[src + j]! + b;
      }
    }
  }
}

/** y[off + r*P + j] += bias[r] for one sample's [rows, P] block. */
function addBias(y: FloatArray, off: number, rows: number, P: number, bias: FloatArray): void {
  for (let r = 0; r < rows; r++) {
    const b = bias[r]!;
    for (let j = off + r * P, e = j + P; j < e; j++) y[j] = y[j]! + b;
  }
}

/**
 * y = conv(x, w) + bias. x [n, c, h, w], w [o, c, kh, kw], bias [o] or null, y [n, o, oh, ow] (overwritten).
 * `maxChunk` optionally caps the samples unfolded per GEMM (for tests and tuning).
 */
export function conv2dForward(
  x: FloatArray, w: FloatArray, bias: FloatArray | null, y: FloatArray,
  g: Conv2dGeom, gemm: Gemm, ws: Workspace, maxChunk?: number,
): void {
  const { n, c, o } = g;
  const K = c * g.kh * g.kw;
  const P = g.oh * g.ow;
  if (n === 0 || o === 0 || P === 0) return;
  if (K === 0) {
    for (let s = 0; s < n; s++) for (let r = 0; r < o; r++) y.fill(bias === null ? 0 : bias[r]!, (s * o + r) * P, (s * o + r + 1) * P);
    return;
  }
  if (isPointwise(g)) {
    for (let s = 0; s < n; s++) {
      gemm(false, false, o, P, c, 1, w, 0, c, x, s * c * P, P, 0, y, s * o * P, P);
      if (bias !== null) addBias(y, s * o * P, o, P, bias);
    }
    return;
  }
  const nc = chunkSamples(n, (K + o) * P, P, PER_SAMPLE_MIN_PLANE, o * K * P, x.BYTES_PER_ELEMENT, maxChunk);
  const cols = ws.get(K * nc * P, 0);
  const blk = nc > 1 ? ws.get(o * nc * P, 1) : null;
  for (let n0 = 0; n0 < n; n0 += nc) {
    const m = Math.min(nc, n - n0);
    im2col(x, n0, m, g, cols);
    if (m === 1 || blk === null) {
      gemm(false, false, o, P, K, 1, w, 0, K, cols, 0, P, 0, y, n0 * o * P, P);
      if (bias !== null) addBias(y, n0 * o * P, o, P, bias);
    } else {
      gemm(false, false, o, m * P, K, 1, w, 0, K, cols, 0, m * P, 0, blk, 0, m * P);
      scatter(blk, n0, m, o, P, y, bias);
    }
  }
}

/**
 * One output phase of the backward-data pass: the input positions (py + sh*ty, px + sw*tx).
 * Only the kernel taps ki = ki0 + sh*u, kj = kj0 + sw*v reach them, and for those taps the
 * gradient is a stride-1 correlation of gy with the flipped sub-kernel (Dumoulin & Visin,
 * "A guide to convolution arithmetic", 2016, sec. 4):
 *   gx[py + sh*ty, px + sw*tx] = sum_{r,u,v} W[r, ci, ki0 + sh*u, kj0 + sw*v] * gy[r, ty + dy - u, tx + dx - v]
 * with dy = floor((py + ph) / sh), ki0 = (py + ph) mod sh (likewise x).
 */
interface Phase {
  py: number; px: number;
  /** The phase's stride-1 conv: gy [n, o, oh, ow] -> [n, c, ty, tx] with the flipped sub-kernel [c, o, ku, kv]. */
  g: Conv2dGeom;
  /** Offset of its weights [c, o*ku*kv] in the phase-weight buffer. */
  wOff: number;
}

function makePhases(g: Conv2dGeom, w: FloatArray, wp: FloatArray): Phase[] {
  const { c, o, h, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const phases: Phase[] = [];
  let wOff = 0;
  for (let py = 0; py < Math.min(sh, h); py++) {
    const ki0 = (py + ph) % sh;
    const ku = ki0 < kh ? Math.ceil((kh - ki0) / sh) : 0;
    const dy = Math.floor((py + ph) / sh);
    const ty = Math.ceil((h - py) / sh);
    for (let px = 0; px < Math.min(sw, g.w); px++) {
      const kj0 = (px + pw) % sw;
      const kv = kj0 < kw ? Math.ceil((kw - kj0) / sw) : 0;
      const dx = Math.floor((px + pw) / sw);
      const tx = Math.ceil((g.w - px) / sw);
      const pg: Conv2dGeom = {
        n: g.n, c: o, h: oh, w: ow, o: c, kh: ku, kw: kv, sh: 1, sw: 1,
        ph: ku - 1 - dy, pw: kv - 1 - dx, oh: ty, ow: tx,
      };
      // wp[ci, r, u', v'] = W[r, ci, ki0 + sh*(ku-1-u'), kj0 + sw*(kv-1-v')]
      let q = wOff;
      for (let ci = 0; ci < c; ci++) {
        for (let r = 0; r < o; r++) {
          const base = (r * c + ci) * kh;
          for (let u = ku - 1; u >= 0; u--) {
            const row = (base + ki0 + sh * u) * kw + kj0;
            for (let v = kv - 1; v >= 0; v--) wp[q++] = w[row + sw * v]!;
          }
        }
      }
      phases.push({ py, px, g: pg, wOff });
      wOff = q;
    }
  }
  return phases;
}

/** gx[n0 + s, ci, py + sh*ty, px + sw*tx] = blk[ci, s*Pp + ty*Tx + tx] with Tx = p.g.ow (or 0 when blk is null). */
function scatterPhase(
  blk: FloatArray | null, n0: number, m: number, g: Conv2dGeom, p: Phase, gx: FloatArray,
): void {
  const { c, h, w, sh, sw } = g;
  const ty = p.g.oh;
  const tx = p.g.ow;
  const Pp = ty * tx;
  const ld = m * Pp;
  const plane = h * w;
  for (let s = 0; s < m; s++) {
    for (let ci = 0; ci < c; ci++) {
      const base = ((n0 + s) * c + ci) * plane + p.py * w + p.px;
      let src = ci * ld + s * Pp;
      if (sh === 1 && sw === 1) {
        // The only phase: the whole plane is contiguous.
        if (blk === null) gx.fill(0, base, base + plane);
        else if (plane >= MEMCPY_MIN) gx.set(blk.subarray(src, src + plane), base);
        else for (let j = 0; j < plane; j++) gx[base + j] = blk[src + j]!;
        continue;
      }
      for (let y = 0; y < ty; y++) {
        let d = base + y * sh * w;
        if (blk === null) {
          for (let e = d + tx * sw; d < e; d += sw) gx[d] = 0;
        } else {
          for (let e = d + tx * sw; d < e; d += sw) gx[d] = blk[src++]!;
        }
      }
    }
  }
}

/**
 * gx = dL/dx of y = conv(x, w), given gy = dL/dy. gy [n, o, oh, ow], w [o, c, kh, kw], gx [n, c, h, w] (overwritten).
 * Also the forward of a transposed convolution (with the roles of c and o swapped).
 *
 * Two methods, chosen by their data movement (the GEMM flops are the same):
 * - phases (see Phase): stride-1 convolutions of gy; im2col of o*kh*kw rows, mostly memmoves,
 *   and one plain write of each gx element;
 * - col2im: gcols = W^T gy, then a JS scatter-add over c*kh*kw rows.
 * A JS add costs about ten memmoved elements, so phases win unless o is much larger than c.
 */
export function conv2dBackwardData(
  gy: FloatArray, w: FloatArray, gx: FloatArray,
  g: Conv2dGeom, gemm: Gemm, ws: Workspace, maxChunk?: number,
): void {
  const { n, c, o } = g;
  const P = g.oh * g.ow;
  if (n === 0 || c === 0 || g.h * g.w === 0) return;
  if (isPointwise(g) && o > 0) {
    for (let s = 0; s < n; s++) gemm(true, false, c, P, o, 1, w, 0, c, gy, s * o * P, P, 0, gx, s * c * P, P);
    return;
  }
  if (o === 0 || P === 0 || g.kh * g.kw === 0) {
    gx.fill(0, 0, n * c * g.h * g.w);
    return;
  }
  if (o <= PHASES_MAX_RATIO * c) backwardDataByPhases(gy, w, gx, g, gemm, ws, maxChunk);
  else backwardDataByCol2im(gy, w, gx, g, gemm, ws, maxChunk);
}

function backwardDataByCol2im(
  gy: FloatArray, w: FloatArray, gx: FloatArray,
  g: Conv2dGeom, gemm: Gemm, ws: Workspace, maxChunk: number | undefined,
): void {
  const { n, c, o } = g;
  const K = c * g.kh * g.kw;
  const P = g.oh * g.ow;
  gx.fill(0, 0, n * c * g.h * g.w);
  const nc = chunkSamples(n, (K + o) * P, P, PER_SAMPLE_MIN_PLANE, o * K * P, gy.BYTES_PER_ELEMENT, maxChunk);
  const cols = ws.get(K * nc * P, 0);
  const blk = nc > 1 ? ws.get(o * nc * P, 1) : null;
  for (let n0 = 0; n0 < n; n0 += nc) {
    const m = Math.min(nc, n - n0);
    if (m === 1 || blk === null) {
      gemm(true, false, K, P, o, 1, w, 0, K, gy, n0 * o * P, P, 0, cols, 0, P);
    } else {
      gather(gy, n0, m, o, P, blk);
      gemm(true, false, K, m * P, o, 1, w, 0, K, blk, 0, m * P, 0, cols, 0, m * P);
    }
    col2imAdd(cols, n0, m, g, gx);
  }
}

function backwardDataByPhases(
  gy: FloatArray, w: FloatArray, gx: FloatArray,
  g: Conv2dGeom, gemm: Gemm, ws: Workspace, maxChunk: number | undefined,
): void {
  const { n, c, o } = g;
  const P = g.oh * g.ow;
  const wp = ws.get(c * o * g.kh * g.kw, 2);
  const phases = makePhases(g, w, wp);
  let perSample = 0;
  let maxCols = 0;
  let maxOut = 0;
  for (const p of phases) {
    const pp = p.g.oh * p.g.ow;
    const kp = o * p.g.kh * p.g.kw;
    perSample = Math.max(perSample, (kp + c) * pp);
    maxCols = Math.max(maxCols, kp * pp);
    maxOut = Math.max(maxOut, c * pp);
  }
  const single = phases.length === 1;
  const nc = chunkSamples(n, perSample, P, PER_SAMPLE_MIN_PLANE, o * c * g.kh * g.kw * P, gy.BYTES_PER_ELEMENT, maxChunk);
  const cols = ws.get(maxCols * nc, 0);
  const blk = ws.get(maxOut * nc, 1);
  for (let n0 = 0; n0 < n; n0 += nc) {
    const m = Math.min(nc, n - n0);
    for (const p of phases) {
      const pg = p.g;
      const kp = o * pg.kh * pg.kw;
      const pp = pg.oh * pg.ow;
      if (kp === 0) {
        scatterPhase(null, n0, m, g, p, gx);
        continue;
      }
      im2col(gy, n0, m, pg, cols);
      if (single && m === 1) {
        gemm(false, false, c, pp, kp, 1, wp, p.wOff, kp, cols, 0, pp, 0, gx, n0 * c * pp, pp);
      } else {
        gemm(false, false, c, m * pp, kp, 1, wp, p.wOff, kp, cols, 0, m * pp, 0, blk, 0, m * pp);
        scatterPhase(blk, n0, m, g, p, gx);
      }
    }
  }
}

/**
 * gw = dL/dw of y = conv(x, w), given gy = dL/dy. gy [n, o, oh, ow], x [n, c, h, w], gw [o, c, kh, kw] (overwritten).
 */
export function conv2dBackwardWeight(
  gy: FloatArray, x: FloatArray, gw: FloatArray,
  g: Conv2dGeom, gemm: Gemm, ws: Workspace, maxChunk?: number,
): void {
  const { n, c, o } = g;
  const K = c * g.kh * g.kw;
  const P = g.oh * g.ow;
  if (n === 0 || P === 0 || K === 0 || o === 0) {
    gw.fill(0, 0, o * K);
    return;
  }
  if (isPointwise(g)) {
    for (let s = 0; s < n; s++) gemm(false, true, o, c, P, 1, gy, s * o * P, P, x, s * c * P, P, s === 0 ? 0 : 1, gw, 0, c);
    return;
  }
  const nc = chunkSamples(n, (K + o) * P, P, PER_SAMPLE_MIN_PLANE_WEIGHT, o * K * P, x.BYTES_PER_ELEMENT, maxChunk);
  const cols = ws.get(K * nc * P, 0);
  const blk = nc > 1 ? ws.get(o * nc * P, 1) : null;
  for (let n0 = 0; n0 < n; n0 += nc) {
    const m = Math.min(nc, n - n0);
    im2col(x, n0, m, g, cols);
    const beta = n0 === 0 ? 0 : 1;
    if (m === 1 || blk === null) {
      gemm(false, true, o, K, P, 1, gy, n0 * o * P, P, cols, 0, P, beta, gw, 0, K);
    } else {
      gather(gy, n0, m, o, P, blk);
      gemm(false, true, o, K, m * P, 1, blk, 0, m * P, cols, 0, m * P, beta, gw, 0, K);
    }
  }
}

/** gb[r] = sum of gy[:, r, :, :]. gy [n, o, oh, ow], gb [o] (overwritten). Sums in float64. */
export function conv2dBackwardBias(gy: FloatArray, gb: FloatArray, g: Conv2dGeom): void {
  const { n, o } = g;
  const P = g.oh * g.ow;
  for (let r = 0; r < o; r++) {
    let acc = 0;
    for (let s = 0; s < n; s++) {
      for (let j = (s * o + r) * P, e = j + P; j < e; j++) acc += gy[j]!;
    }
    gb[r] = acc;
  }
}
