/**
 * IDX files (MNIST, Fashion-MNIST, KMNIST), raw or gzipped.
 *
 * Layout: a 4-byte big-endian magic `0x00 0x00 <type> <ndim>`, then `ndim` big-endian uint32
 * dimensions, then the data, row-major. pdiff reads type 0x08 (unsigned byte) only, which is what
 * every MNIST-style dataset uses. Gzip is detected by its magic bytes (1f 8b), not by the file name.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { FormatError } from '../util/errors.js';

/** An IDX array of unsigned bytes. */
export interface IdxArray {
  /** Dimensions, outermost first (e.g. [60000, 28, 28] for images, [60000] for labels). */
  dims: number[];
  /** Row-major data, product(dims) bytes. */
  data: Uint8Array;
}

/** IDX type byte for unsigned bytes, the only element type pdiff reads. */
const IDX_UBYTE = 0x08;

function hex32(x: number): string {
  return '0x' + (x >>> 0).toString(16).padStart(8, '0');
}

function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/**
 * Read an IDX file of unsigned bytes, gzipped or raw.
 * @param expectNdim when given, the magic must announce exactly this many dimensions
 *   (3 for image files, 1 for label files).
 * @throws FormatError naming the file: corrupt gzip, short header, wrong magic, or a data size
 *   that does not match the dimensions.
 */
export function readIdx(path: string, expectNdim?: number): IdxArray {
  const raw = readFileSync(path);
  let buf: Uint8Array = raw;
  if (isGzip(raw)) {
    try {
      buf = gunzipSync(raw);
    } catch (e) {
      throw new FormatError(path, `not a valid gzip stream (${(e as Error).message})`);
    }
  } else if (path.endsWith('.gz') && !(raw.length >= 3 && raw[0] === 0 && raw[1] === 0 && raw[2] === IDX_UBYTE)) {
    // A .gz name with neither gzip magic nor an IDX magic: most likely a damaged download.
    throw new FormatError(path, `not a valid gzip stream (first bytes ${hexBytes(raw, 4)}, expected 1f 8b) and not a raw IDX file`);
  }
  return parseIdx(path, buf, expectNdim);
}

function hexBytes(buf: Uint8Array, n: number): string {
  const parts: string[] = [];
  for (let i = 0; i < Math.min(n, buf.length); i++) parts.push(buf[i]!.toString(16).padStart(2, '0'));
  return parts.length ? parts.join(' ') : '(empty)';
}

/** Parse decompressed IDX bytes; `path` is only used in error messages. */
export function parseIdx(path: string, buf: Uint8Array, expectNdim?: number): IdxArray {
  if (buf.length < 4) {
    throw new FormatError(path, `too few bytes for an IDX header: ${buf.length} bytes, expected at least 4`);
  }
  const magic = ((buf[0]! << 24) | (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!) >>> 0;
  const ndim = buf[3]!;
  const wantNdim = expectNdim ?? ndim;
  if (buf[0] !== 0 || buf[1] !== 0 || buf[2] !== IDX_UBYTE || ndim !== wantNdim || ndim === 0) {
    const expected = expectNdim !== undefined ? hex32(0x800 | expectNdim) : '0x000008NN';
    throw new FormatError(
      path,
      `bad IDX magic ${hex32(magic)}, expected ${expected} (two zero bytes, type 0x08 = unsigned byte, then ndim${
        expectNdim !== undefined ? ` = ${expectNdim}` : ' >= 1'
      })`,
    );
  }
  const headerLen = 4 + 4 * ndim;
  if (buf.length < headerLen) {
    throw new FormatError(path, `too few bytes for an IDX header with ${ndim} dims: ${buf.length} bytes, expected at least ${headerLen}`);
  }
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    const o = 4 + 4 * i;
    const d = ((buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!) >>> 0;
    dims.push(d);
    count *= d;
  }
  const found = buf.length - headerLen;
  if (found !== count) {
    throw new FormatError(
      path,
      `expected ${count} bytes of data for dims [${dims.join(', ')}], found ${found}${found < count ? ' (truncated file)' : ' (trailing bytes)'}`,
    );
  }
  // A view, not a copy, when the buffer is ours alone (gunzip output, or a file big enough not to
  // come from Node's shared small-buffer pool).
  const data =
    buf.byteOffset === 0 && buf.buffer.byteLength === buf.length
      ? new Uint8Array(buf.buffer, headerLen, count)
      : buf.slice(headerLen);
  return { dims, data };
}

/** Images and labels from a matching pair of IDX files. */
export interface IdxPair {
  /** [n, h, w] pixel bytes. */
  images: Uint8Array;
  /** [n] class indices, each in [0, numClasses). */
  labels: Uint8Array;
  n: number;
  h: number;
  w: number;
}

/** Options for {@link loadIdxPair}. */
export interface IdxPairOptions {
  /** Labels must lie in [0, numClasses). Default 10. */
  numClasses?: number;
}

/**
 * Read an image file ([n, h, w]) and its label file ([n]) and check that they agree.
 * @throws FormatError when the counts differ (naming both files and both counts) or a label is
 *   out of range.
 */
export function loadIdxPair(imagesPath: string, labelsPath: string, opts: IdxPairOptions = {}): IdxPair {
  const numClasses = opts.numClasses ?? 10;
  const img = readIdx(imagesPath, 3);
  const lab = readIdx(labelsPath, 1);
  const [n, h, w] = img.dims as [number, number, number];
  const nl = lab.dims[0]!;
  if (n !== nl) {
    throw new FormatError(
      imagesPath,
      `holds ${n} images but ${labelsPath} holds ${nl} labels; the two files must have the same count`,
    );
  }
  const labels = lab.data;
  for (let i = 0; i < nl; i++) {
    if (labels[i]! >= numClasses) {
      throw new FormatError(labelsPath, `label ${labels[i]} at index ${i} is out of range [0, ${numClasses})`);
    }
  }
  return { images: img.data, labels, n, h, w };
}
