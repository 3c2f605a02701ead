/**
 * Pure-TypeScript GEMM for the `js` backend and for float64 gradient checks:
 * row-major C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C (the `Gemm` contract of
 * kernels.ts), on Float32Array or Float64Array.
 *
 * Structure (Goto & van de Geijn, "Anatomy of High-Performance Matrix Multiplication", 2008):
 *   for jc in steps of NC          columns of C and op(B)
 *     for pc in steps of KC        the shared dimension
 *       pack op(B)[pc:+KC, jc:+NC] into NR-wide row panels      packB  [NC/NR][KC][NR]
 *       for ic in steps of MC      rows of C and op(A)
 *         pack op(A)[ic:+MC, pc:+KC] into MR-tall column panels packA  [MC/MR][KC][MR]
 *         for each NR-wide panel of B, each MR-tall panel of A: the 4x4 micro-kernel.
 * Packing hides the four transpose cases (the micro-kernel reads two contiguous streams
 * whatever the layout), zero-pads the fringes so the micro-kernel always runs 4x4, and
 * converts to float64 once, so the inner loop reads only Float64Arrays (one monomorphic
 * shape for V8) and accumulates in double. The 16 accumulators live in locals. V8 does not
 * vectorise, so this runs at about 4 GFLOP/s on 512^3 (one core of an AMD EPYC, Node 20):
 * far from BLAS, well above a naive triple loop.
 *
 * The packing buffers are module-level and grow on demand; a call allocates nothing once
 * they are large enough. (JS is single-threaded; each worker thread has its own module copy.)
 * A, B and C must not overlap in memory.
 */
import { ShapeError } from '../util/errors.js';
import type { FloatArray, Gemm } from './kernels.js';

/** Micro-tile: MR rows of op(A) by NR columns of op(B); 16 accumulators is what V8 keeps fast. */
const MR = 4;
const NR = 4;
/** Depth of a packed block: an A micro-panel (KC x MR doubles = 8 KiB) stays in L1. */
const KC = 256;
/** Rows of op(A) per packed block (MC x KC doubles = 256 KiB, L2). Multiple of MR. */
const MC = 128;
/** Columns of op(B) per packed block (KC x NC doubles = 2 MiB). Multiple of NR. */
const NC = 1024;
/** A product with fewer rows or columns than this (a row or column vector) skips packing: see smallGemm. */
const SMALL_MN = 2;

let packA = new Float64Array(0);
let packB = new Float64Array(0);
/** One micro-tile, for fringe tiles that only partly lie inside C. */
const tile = new Float64Array(MR * NR);

/**
 * Checks the arguments of a GEMM call against the `Gemm` contract: sizes are non-negative
 * integers, leading dimensions are at least the stored row length, and every matrix lies
 * inside its array. O(1); throws ShapeError saying which operand is wrong and by how much.
 * Shared by jsGemm and the OpenBLAS wrapper so that both backends reject the same calls.
 */
export function checkGemmArgs(
  where: string, transA: boolean, transB: boolean,
  m: number, n: number, k: number,
  aLen: number, aOff: number, lda: number,
  bLen: number, bOff: number, ldb: number,
  cLen: number, cOff: number, ldc: number,
): void {
  if (!isSize(m) || !isSize(n) || !isSize(k)) {
    throw new ShapeError(`${where}: m, n, k must be non-negative integers, got m=${m} n=${n} k=${k}`);
  }
  // op(A) is [m x k]: A is stored [m x k], or [k x m] when transposed; likewise B for [k x n].
  checkOperand(where, 'A', transA ? '[k x m]' : '[m x k]', transA ? k : m, transA ? m : k, aLen, aOff, lda, 'lda');
  checkOperand(where, 'B', transB ? '[n x k]' : '[k x n]', transB ? n : k, transB ? k : n, bLen, bOff, ldb, 'ldb');
  checkOperand(where, 'C', '[m x n]', m, n, cLen, cOff, ldc, 'ldc');
}

function isSize(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0;
}

function checkOperand(
  where: string, name: string, shape: string, rows: number, cols: number,
  len: number, off: number, ld: number, ldName: string,
): void {
  if (!isSize(off)) throw new ShapeError(`${where}: offset of ${name} must be a non-negative integer, got ${off}`);
  if (!Number.isSafeInteger(ld) || ld < Math.max(1, cols)) {
    throw new ShapeError(
      `${where}: ${ldName} = ${ld} is smaller than the row length of ${name} stored as ${shape} = ` +
      `[${rows} x ${cols}]; expected ${ldName} >= ${Math.max(1, cols)}`,
    );
  }
  const end = rows > 0 && cols > 0 ? off + (rows - 1) * ld + cols : off;
  if (end > len) {
    throw new ShapeError(
      `${where}: ${name} stored as ${shape} = [${rows} x ${cols}] at offset ${off} with ${ldName} = ${ld} ` +
      `needs ${end} elements, but its array has ${len}`,
    );
  }
}

/** C[m x n] = beta * C, with beta = 0 writing zeros (NaN in C is not propagated). */
function scaleC(m: number, n: number, beta: number, c: FloatArray, cOff: number, ldc: number): void {
  if (beta === 1) return;
  for (let i = 0; i < m; i++) {
    const row = cOff + i * ldc;
    if (beta === 0) c.fill(0, row, row + n);
    else for (let j = row; j < row + n; j++) c[j] = beta * c[j]!;
  }
}

/**
 * Packs op(A)[ic:ic+mc, pc:pc+kc] into packA as MR-row panels: element (i, p) of the block
 * goes to (i - i % MR) * kc + p * MR + i % MR. Rows past mc are zero.
 */
function packOpA(
  transA: boolean, a: FloatArray, aOff: number, lda: number,
  ic: number, mc: number, pc: number, kc: number,
): void {
  const ap = packA;
  for (let r0 = 0; r0 < mc; r0 += MR) {
    const base = r0 * kc;
    const rows = Math.min(MR, mc - r0);
    if (!transA) {
      // A[i, p] = a[aOff + i*lda + p]: each row of the panel is a contiguous read.
      for (let ii = 0; ii < MR; ii++) {
        let dst = base + ii;
        if (ii < rows) {
          const src = aOff + (ic + r0 + ii) * lda + pc;
          for (let p = 0; p < kc; p++, dst += MR) ap[dst] = a[src + p]!;
        } else {
          for (let p = 0; p < kc; p++, dst += MR) ap[dst] = 0;
        }
      }
    } else if (rows === MR) {
      // A^T: op(A)[i, p] = a[aOff + p*lda + i]: MR contiguous elements per p.
      let src = aOff + pc * lda + ic + r0;
      let dst = base;
      for (let p = 0; p < kc; p++, src += lda, dst += MR) {
        ap[dst] = a[src]!;
        ap[dst + 1] = a[src + 1]!;
        ap[dst + 2] = a[src + 2]!;
        ap[dst + 3] = a[src + 3]!;
      }
    } else {
      let src = aOff + pc * lda + ic + r0;
      let dst = base;
      for (let p = 0; p < kc; p++, src += lda, dst += MR) {
        for (let ii = 0; ii < MR; ii++) ap[dst + ii] = ii < rows ? a[src + ii]! : 0;
      }
    }
  }
}

/**
 * Packs op(B)[pc:pc+kc, jc:jc+nc] into packB as NR-column panels: element (p, j) of the block
 * goes to (j - j % NR) * kc + p * NR + j % NR. Columns past nc are zero.
 */
function packOpB(
  transB: boolean, b: FloatArray, bOff: number, ldb: number,
  pc: number, kc: number, jc: number, nc: number,
): void {
  const bp = packB;
  for (let c0 = 0; c0 < nc; c0 += NR) {
    const base = c0 * kc;
    const cols = Math.min(NR, nc - c0);
    if (transB) {
      // B^T: op(B)[p, j] = b[bOff + j*ldb + p]: each column of the panel is a contiguous read.
      for (let jj = 0; jj < NR; jj++) {
        let dst = base + jj;
        if (jj < cols) {
          const src = bOff + (jc + c0 + jj) * ldb + pc;
          for (let p = 0; p < kc; p++, dst += NR) bp[dst] = b[src + p]!;
        } else {
          for (let p = 0; p < kc; p++, dst += NR) bp[dst] = 0;
        }
      }
    } else if (cols === NR) {
      let src = bOff + pc * ldb + jc + c0;
      let dst = base;
      for (let p = 0; p < kc; p++, src += ldb, dst += NR) {
        bp[dst] = b[src]!;
        bp[dst + 1] = b[src + 1]!;
        bp[dst + 2] = b[src + 2]!;
        bp[dst + 3] = b[src + 3]!;
      }
    } else {
      let src = bOff + pc * ldb + jc + c0;
      let dst = base;
      for (let p = 0; p < kc; p++, src += ldb, dst += NR) {
        for (let jj = 0; jj < NR; jj++) bp[dst + jj] = jj < cols ? b[src + jj]! : 0;
      }
    }
  }
}

/**
 * The 4x4 micro-kernel: acc = sum_p packA[ai + 4p + r] * packB[bi + 4p + s] over kc steps,
 * then C[r, s] = alpha * acc + beta * C[r, s] for the mr x nr part of the tile inside C
 * (beta = 0 overwrites without reading C).
 */
function microKernel(
  kc: number, ap: Float64Array, ai: number, bp: Float64Array, bi: number,
  alpha: number, beta: number, c: FloatArray, ci: number, ldc: number, mr: number, nr: number,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let p = 0; p < kc; p++, ai += MR, bi += NR) {
    const a0 = ap[ai]!, a1 = ap[ai + 1]!, a2 = ap[ai + 2]!, a3 = ap[ai + 3]!;
    let b = bp[bi]!;
    c00 += a0 * b; c10 += a1 * b; c20 += a2 * b; c30 += a3 * b;
    b = bp[bi + 1]!;
    c01 += a0 * b; c11 += a1 * b; c21 += a2 * b; c31 += a3 * b;
    b = bp[bi + 2]!;
    c02 += a0 * b; c12 += a1 * b; c22 += a2 * b; c32 += a3 * b;
    b = bp[bi + 3]!;
    c03 += a0 * b; c13 += a1 * b; c23 += a2 * b; c33 += a3 * b;
  }
  if (mr === MR && nr === NR) {
    const r0 = ci, r1 = ci + ldc, r2 = r1 + ldc, r3 = r2 + ldc;
    if (beta === 0) {
      c[r0] = alpha * c00; c[r0 + 1] = alpha * c01; c[r0 + 2] = alpha * c02; c[r0 + 3] = alpha * c03;
      c[r1] = alpha * c10; c[r1 + 1] = alpha * c11; c[r1 + 2] = alpha * c12; c[r1 + 3] = alpha * c13;
      c[r2] = alpha * c20; c[r2 + 1] = alpha * c21; c[r2 + 2] = alpha * c22; c[r2 + 3] = alpha * c23;
      c[r3] = alpha * c30; c[r3 + 1] = alpha * c31; c[r3 + 2] = alpha * c32; c[r3 + 3] = alpha * c33;
    } else {
      c[r0] = alpha * c00 + beta * c[r0]!; c[r0 + 1] = alpha * c01 + beta * c[r0 + 1]!;
      c[r0 + 2] = alpha * c02 + beta * c[r0 + 2]!; c[r0 + 3] = alpha * c03 + beta * c[r0 + 3]!;
      c[r1] = alpha * c10 + beta * c[r1]!; c[r1 + 1] = alpha * c11 + beta * c[r1 + 1]!;
      c[r1 + 2] = alpha * c12 + beta * c[r1 + 2]!; c[r1 + 3] = alpha * c13 + beta * c[r1 + 3]!;
      c[r2] = alpha * c20 + beta * c[r2]!; c[r2 + 1] = alpha * c21 + beta * c[r2 + 1]!;
      c[r2 + 2] = alpha * c22 + beta * c[r2 + 2]!; c[r2 + 3] = alpha * c23 + beta * c[r2 + 3]!;
      c[r3] = alpha * c30 + beta * c[r3]!; c[r3 + 1] = alpha * c31 + beta * c[r3 + 1]!;
      c[r3 + 2] = alpha * c32 + beta * c[r3 + 2]!; c[r3 + 3] = alpha * c33 + beta * c[r3 + 3]!;
    }
    return;
  }
  // Fringe tile: only mr x nr of it lies inside C.
  const t = tile;
  t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03;
  t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
  t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23;
  t[12] = c30; t[13] = c31; t[14] = c32; t[15] = c33;
  for (let r = 0; r < mr; r++) {
    const row = ci + r * ldc;
    for (let s = 0; s < nr; s++) {
      const v = alpha * t[r * NR + s]!;
      c[row + s] = beta === 0 ? v : v + beta * c[row + s]!;
    }
  }
}

/**
 * GEMM without packing, for a row or column vector (m or n below SMALL_MN), where a 4x4
 * micro-tile would be mostly padding and packing op(B) or op(A) costs as much as the product.
 * C is first scaled by beta; then either rank-1 row updates C[i, :] += alpha * op(A)[i, p] * B[p, :]
 * (contiguous over j, when B is not transposed and rows are wide) or dot products over p.
 */
function smallGemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: FloatArray, aOff: number, lda: number, b: FloatArray, bOff: number, ldb: number,
  beta: number, c: FloatArray, cOff: number, ldc: number,
): void {
  // Strides of op(A) along (i, p) and of op(B) along (p, j).
  const sai = transA ? 1 : lda, sap = transA ? lda : 1;
  const sbp = transB ? 1 : ldb, sbj = transB ? ldb : 1;
  if (!transB && n >= 8) {
    scaleC(m, n, beta, c, cOff, ldc);
    for (let i = 0; i < m; i++) {
      const row = cOff + i * ldc, end = row + n;
      let ai = aOff + i * sai;
      let bRow = bOff;
      for (let p = 0; p < k; p++, ai += sap, bRow += ldb) {
        const s = alpha * a[ai]!;
        for (let j = row, bj = bRow; j < end; j++, bj++) c[j] = c[j]! + s * b[bj]!;
      }
    }
    return;
  }
  for (let i = 0; i < m; i++) {
    const row = cOff + i * ldc;
    const ai0 = aOff + i * sai;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0, ai = ai0, bi = bOff + j * sbj; p < k; p++, ai += sap, bi += sbp) s += a[ai]! * b[bi]!;
      c[row + j] = beta === 0 ? alpha * s : alpha * s + beta * c[row + j]!;
    }
  }
}

/** Row-major GEMM in pure TypeScript; see the module comment and `Gemm` in kernels.ts. */
function gemm(
  transA: boolean, transB: boolean,
  m: number, n: number, k: number,
  alpha: number,
  a: FloatArray, aOff: number, lda: number,
  b: FloatArray, bOff: number, ldb: number,
  beta: number,
  c: FloatArray, cOff: number, ldc: number,
): void {
  checkGemmArgs('jsGemm', transA, transB, m, n, k, a.length, aOff, lda, b.length, bOff, ldb, c.length, cOff, ldc);
  if (m === 0 || n === 0) return;
  // BLAS semantics: with k = 0 or alpha = 0, A and B are not read (NaN in them does not leak).
  if (k === 0 || alpha === 0) {
    scaleC(m, n, beta, c, cOff, ldc);
    return;
  }
  if (m < SMALL_MN || n < SMALL_MN) {
    smallGemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    return;
  }
  const kcMax = Math.min(KC, k);
  const needA = Math.ceil(Math.min(MC, m) / MR) * MR * kcMax;
  const needB = Math.ceil(Math.min(NC, n) / NR) * NR * kcMax;
  if (packA.length < needA) packA = new Float64Array(needA);
  if (packB.length < needB) packB = new Float64Array(needB);

  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      // The first depth block applies beta; later ones accumulate onto it.
      const betaBlk = pc === 0 ? beta : 1;
      packOpB(transB, b, bOff, ldb, pc, kc, jc, nc);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        packOpA(transA, a, aOff, lda, ic, mc, pc, kc);
        const ap = packA, bp = packB;
        const cBlk = cOff + ic * ldc + jc;
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = Math.min(NR, nc - jr);
          const bi = jr * kc;
          for (let ir = 0; ir < mc; ir += MR) {
            microKernel(kc, ap, ir * kc, bp, bi, alpha, betaBlk, c, cBlk + ir * ldc + jr, ldc, Math.min(MR, mc - ir), nr);
          }
        }
      }
    }
  }
}

/** The `js` backend's GEMM (Float32Array or Float64Array; all four transpose cases). */
export const jsGemm: Gemm = gemm;
