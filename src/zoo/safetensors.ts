/**
 * safetensors, the whole format in a few lines: an 8-byte little-endian u64 header length N,
 * N bytes of UTF-8 JSON `{"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {string: string}}` (offsets relative to the end of the header), then the raw
 * little-endian tensor bytes. https://github.com/huggingface/safetensors
 *
 * pdiff writes F32 only, in the given (state_dict) order, offsets contiguous from 0, the header
 * padded with spaces so the data starts at a multiple of 8. It reads F32, F16 and BF16 (widened
 * to Float32Array) and I64 (BigInt64Array). The header is validated completely before any
 * tensor memory is allocated.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic.js';
import { FormatError, ShapeError } from '../util/errors.js';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I64';

/** A tensor as read from a file. */
export interface SafeTensor {
  /** Dtype stored in the file (F16/BF16 data is widened to float32). */
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | BigInt64Array;
}

/** A tensor to write (float32). */
export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array;
}

/** Contents of a safetensors file; the map is in data-offset order (the writer's order). */
export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string> | null;
}

/** One validated header entry. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range [begin, end) relative to the start of the data section. */
  begin: number;
  end: number;
}

/** A validated header. */
export interface SafetensorsHeader {
  /** Entries in data-offset order. */
  entries: SafetensorsEntry[];
  metadata: Record<string, string> | null;
  /** Header JSON bytes (N). */
  headerBytes: number;
  /** Byte position of the data section in the file (8 + N). */
  dataStart: number;
}

/** Largest header accepted (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2, I64: 8 };
/** Dtypes of the format that pdiff does not read (named in the error, unlike unknown ones). */
const OTHER_DTYPES = new Set(['F64', 'F8_E4M3', 'F8_E5M2', 'I8', 'I16', 'I32', 'U8', 'U16', 'U32', 'U64', 'BOOL']);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Random access to the bytes of a file or buffer. */
interface ByteSource {
  size: number;
  /** Fill `dst` from byte `pos`. */
  read(dst: Uint8Array, pos: number): void;
}

function fileSource(path: string, fd: number): ByteSource {
  return {
    size: fstatSync(fd).size,
    read(dst, pos) {
      let off = 0;
      while (off < dst.length) {
        const got = readSync(fd, dst, off, dst.length - off, pos + off);
        if (got === 0) throw new FormatError(path, `unexpected end of file at byte ${pos + off}`);
        off += got;
      }
    },
  };
}

function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(dst, pos) {
      dst.set(bytes.subarray(pos, pos + dst.length));
    },
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Bytes in hex and as text, e.g. `7b 0a 20 20 22 6f 22 3a / "{\n  "o":"` (control bytes escaped, quotes not). */
function showBytes(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
  const escapes: Record<number, string> = { 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };
  const text = Array.from(bytes, (b) => escapes[b] ?? (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
  return `${hex} / "${text}"`;
}

/** Read and validate the header; allocates nothing proportional to the tensor data. */
function parseHeader(file: string, src: ByteSource): SafetensorsHeader {
  if (src.size < 8) throw new FormatError(file, `file is ${src.size} bytes, too short for the 8-byte header length`);
  const lenBuf = new Uint8Array(8);
  src.read(lenBuf, 0);
  const n64 = new DataView(lenBuf.buffer).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES) || 8n + n64 > BigInt(src.size)) {
    // A header length that cannot be right, and no header after it (the format requires it to
    // start with "{"): another kind of file (a JSON config, a .pt, text), not a damaged one.
    const next = new Uint8Array(src.size > 8 ? 1 : 0);
    src.read(next, 8);
    if (next[0] !== 0x7b) throw new FormatError(file, `not a safetensors file (the first 8 bytes are ${showBytes(lenBuf)})`);
  }
  if (n64 > BigInt(MAX_HEADER_BYTES)) {
    throw new FormatError(file, `header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const n = Number(n64);
  if (8 + n > src.size) {
    throw new FormatError(file, `header length ${n} exceeds the file size (8 + ${n} > ${src.size} bytes)`);
  }
  const hbuf = new Uint8Array(n);
  src.read(hbuf, 8);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(hbuf);
  } catch {
    throw new FormatError(file, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FormatError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw new FormatError(file, 'header JSON is not an object');

  const dataLen = src.size - 8 - n;
  let metadata: Record<string, string> | null = null;
  const entries: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(raw)) throw new FormatError(file, '__metadata__ must be an object of string values');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') {
          throw new FormatError(file, `__metadata__.${k}: value must be a string, found ${v === null ? 'null' : typeof v}`);
        }
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    entries.push(parseEntry(file, name, raw, dataLen));
  }

  // The format requires the tensors to tile the data section exactly: no overlaps, no holes.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let prev: SafetensorsEntry | null = null;
  for (const e of entries) {
    if (prev && e.begin < prev.end) {
      throw new FormatError(file, `${e.name}: data_offsets [${e.begin}, ${e.end}] overlap ${prev.name} [${prev.begin}, ${prev.end}]`);
    }
    if (e.begin > covered) {
      throw new FormatError(
        file,
        `${e.name}: data_offsets [${e.begin}, ${e.end}] leave bytes [${covered}, ${e.begin}) of the data section unused (safetensors allows no holes)`,
      );
    }
    covered = e.end;
    prev = e;
  }
  if (covered !== dataLen) {
    throw new FormatError(file, `data section is ${dataLen} bytes but the tensors cover only [0, ${covered}) (safetensors allows no trailing bytes)`);
  }
  return { entries, metadata, headerBytes: n, dataStart: 8 + n };
}

function parseEntry(file: string, name: string, raw: unknown, dataLen: number): SafetensorsEntry {
  if (!isPlainObject(raw)) throw new FormatError(file, `${name}: entry must be an object with dtype, shape and data_offsets`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string') throw new FormatError(file, `${name}: dtype must be a string, found ${JSON.stringify(dtype)}`);
  if (!(dtype in DTYPE_SIZE)) {
    const why = OTHER_DTYPES.has(dtype) ? 'unsupported dtype' : 'unknown dtype';
    throw new FormatError(file, `${name}: ${why} ${JSON.stringify(dtype)} (pdiff reads F32, F16, BF16, I64)`);
  }
  const dt = dtype as SafetensorsDtype;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new FormatError(file, `${name}: shape must be an array of non-negative integers, found ${JSON.stringify(shape)}`);
  }
  const dims = shape as number[];
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
  ) {
    throw new FormatError(file, `${name}: data_offsets must be [begin, end] with non-negative integers, found ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new FormatError(file, `${name}: data_offsets [${begin}, ${end}] have begin > end`);
  if (end > dataLen) {
    throw new FormatError(file, `${name}: data_offsets [${begin}, ${end}] lie outside the data section (${dataLen} bytes)`);
  }
  let numel = 1;
  for (const d of dims) numel *= d;
  const need = numel * DTYPE_SIZE[dt];
  if (end - begin !== need) {
    throw new FormatError(
      file,
      `${name}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape ${fmtShape(dims)} of ${dt} needs ${need}`,
    );
  }
  return { name, dtype: dt, shape: [...dims], begin, end };
}

/** Read one tensor's bytes into a fresh, aligned array. */
function readTensor(src: ByteSource, dataStart: number, e: SafetensorsEntry): SafeTensor {
  const numel = (e.end - e.begin) / DTYPE_SIZE[e.dtype];
  const pos = dataStart + e.begin;
  if (e.dtype === 'F32') {
    const out = new Float32Array(numel);
    src.read(new Uint8Array(out.buffer), pos);
    if (!LITTLE_ENDIAN) swapBytes(new Uint8Array(out.buffer), 4);
    return { dtype: e.dtype, shape: e.shape, data: out };
  }
  if (e.dtype === 'I64') {
    const out = new BigInt64Array(numel);
    src.read(new Uint8Array(out.buffer), pos);
    if (!LITTLE_ENDIAN) swapBytes(new Uint8Array(out.buffer), 8);
    return { dtype: e.dtype, shape: e.shape, data: out };
  }
  const half = new Uint16Array(numel);
  src.read(new Uint8Array(half.buffer), pos);
  if (!LITTLE_ENDIAN) swapBytes(new Uint8Array(half.buffer), 2);
  const out = new Float32Array(numel);
  if (e.dtype === 'BF16') bf16ToF32(half, out);
  else f16ToF32(half, out);
  return { dtype: e.dtype, shape: e.shape, data: out };
}

function swapBytes(b: Uint8Array, size: number): void {
  for (let i = 0; i < b.length; i += size) b.subarray(i, i + size).reverse();
}

/** bfloat16 is the top half of a float32: widening is a 16-bit shift, exact for every value. */
export function bf16ToF32(src: Uint16Array, dst: Float32Array): void {
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
}

/** IEEE half -> float32 bit patterns, built on first use (256 KiB). */
let f16Table: Uint32Array | null = null;

/** Float32 bit pattern of an IEEE half; exact, keeping signed zeros, subnormals and NaN payloads. */
export function f16Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / NaN
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // normal: rebias 15 -> 127
  if (mant === 0) return sign >>> 0; // signed zero
  // Subnormal half = mant * 2^-24: normalise into a float32 normal.
  let e = 113; // 127 - 14
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

export function f16ToF32(src: Uint16Array, dst: Float32Array): void {
  if (!f16Table) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16Bits(h);
  }
  const table = f16Table;
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) bits[i] = table[src[i]!]!;
}

/** Open `path` for reading, with a FormatError naming it for a missing file or a folder. */
function openFile(path: string): number {
  const folder = (): FormatError => new FormatError(path, 'is a folder, not a safetensors file');
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FormatError(path, 'no such file');
    if (code === 'EISDIR') throw folder();
    throw e;
  }
  // Linux opens a folder for reading; the read would fail with a bare EISDIR.
  if (fstatSync(fd).isDirectory()) {
    closeSync(fd);
    throw folder();
  }
  return fd;
}

function withFile<T>(path: string, fn: (src: ByteSource) => T): T {
  const fd = openFile(path);
  try {
    return fn(fileSource(path, fd));
  } finally {
    closeSync(fd);
  }
}

function readAll(src: ByteSource, file: string): SafetensorsFile {
  const h = parseHeader(file, src);
  const tensors = new Map<string, SafeTensor>();
  for (const e of h.entries) tensors.set(e.name, readTensor(src, h.dataStart, e));
  return { tensors, metadata: h.metadata };
}

/**
 * Read a safetensors file. Tensors come back in data-offset order.
 * @throws FormatError naming the file (and the tensor) for any malformed header or size.
 */
export function readSafetensors(path: string): SafetensorsFile {
  return withFile(path, (src) => readAll(src, path));
}

/** Decode safetensors bytes held in memory; `name` is used in error messages. */
export function decodeSafetensors(bytes: Uint8Array, name = '<buffer>'): SafetensorsFile {
  return readAll(bufferSource(bytes), name);
}

/** Read and validate only the header of a file (no tensor data is read). */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  return withFile(path, (src) => parseHeader(path, src));
}

// ---------------------------------------------------------------------------------------------
// Writing

function normaliseInput(
  tensors: ReadonlyArray<{ name: string } & TensorToWrite> | ReadonlyMap<string, TensorToWrite>,
): ReadonlyArray<{ name: string } & TensorToWrite> {
  const list = Array.isArray(tensors)
    ? (tensors as ReadonlyArray<{ name: string } & TensorToWrite>)
    : [...(tensors as ReadonlyMap<string, TensorToWrite>)].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  const seen = new Set<string>();
  for (const t of list) {
    if (t.name === '__metadata__') throw new ShapeError('safetensors: "__metadata__" is reserved and cannot name a tensor');
    if (seen.has(t.name)) throw new ShapeError(`safetensors: duplicate tensor name "${t.name}"`);
    seen.add(t.name);
    let numel = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new ShapeError(`${t.name}: shape ${fmtShape(t.shape)} has a dimension that is not a non-negative integer`);
      numel *= d;
    }
    if (!(t.data instanceof Float32Array)) throw new ShapeError(`${t.name}: data must be a Float32Array`);
    if (numel !== t.data.length) {
      throw new ShapeError(`${t.name}: shape ${fmtShape(t.shape)} needs ${numel} floats, data holds ${t.data.length}`);
    }
  }
  return list;
}

/** Header bytes and the tensor byte views, in order. */
function encodeParts(
  tensors: ReadonlyArray<{ name: string } & TensorToWrite> | ReadonlyMap<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Uint8Array[] {
  const list = normaliseInput(tensors);
  // Built by hand, not JSON.stringify(object): object keys that look like integers would be
  // reordered, and the order of the header is the state_dict order.
  const parts: string[] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new ShapeError(`safetensors metadata ${k}: value must be a string, got ${typeof v}`);
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const t of list) {
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"F32","shape":${JSON.stringify([...t.shape])},"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.length); // spaces
  const out: Uint8Array[] = [head];
  for (const t of list) {
    let bytes: Uint8Array = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (!LITTLE_ENDIAN) {
      bytes = bytes.slice();
      swapBytes(bytes, 4);
    }
    out.push(bytes);
  }
  return out;
}

/**
 * Encode float32 tensors as safetensors bytes, in the given order (a Map's insertion order),
 * offsets contiguous from 0, header padded with spaces to a multiple of 8.
 * @throws ShapeError when a tensor's data does not match its shape, or names repeat.
 */
export function encodeSafetensors(
  tensors: ReadonlyArray<{ name: string } & TensorToWrite> | ReadonlyMap<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Uint8Array {
  const parts = encodeParts(tensors, metadata);
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Write float32 tensors to `path` atomically (see {@link encodeSafetensors}); no copy of the data is made. */
export function writeSafetensors(
  path: string,
  tensors: ReadonlyArray<{ name: string } & TensorToWrite> | ReadonlyMap<string, TensorToWrite>,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(path, encodeParts(tensors, metadata));
}

// ---------------------------------------------------------------------------------------------
// Inspection

/** Summary statistics of one tensor (over its finite values; NaN and infinities are counted). */
export interface TensorSummary {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  numel: number;
  /** Minimum / maximum finite value (NaN when there is none). */
  min: number;
  max: number;
  /** Mean and unbiased (n-1) standard deviation of the finite values. */
  mean: number;
  std: number;
  nanCount: number;
  infCount: number;
}

/** What `pdiff inspect` shows for a safetensors file. */
export interface SafetensorsSummary {
  file: string;
  fileBytes: number;
  headerBytes: number;
  metadata: Record<string, string> | null;
  /** In data-offset order. */
  tensors: TensorSummary[];
}

/** Statistics of a float or int64 array, computed in float64 (two passes). */
export function summarise(data: Float32Array | BigInt64Array): Omit<TensorSummary, 'name' | 'dtype' | 'shape'> {
  const n = data.length;
  let nan = 0, inf = 0, count = 0, sum = 0;
  let min = Infinity, max = -Infinity;
  const isBig = data instanceof BigInt64Array;
  for (let i = 0; i < n; i++) {
    const v = isBig ? Number((data as BigInt64Array)[i]!) : (data as Float32Array)[i]!;
    if (Number.isNaN(v)) { nan++; continue; }
    if (v === Infinity || v === -Infinity) { inf++; continue; }
    count++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = count > 0 ? sum / count : NaN;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const v = isBig ? Number((data as BigInt64Array)[i]!) : (data as Float32Array)[i]!;
    if (Number.isFinite(v)) ss += (v - mean) * (v - mean);
  }
  return {
    numel: n,
    min: count > 0 ? min : NaN,
    max: count > 0 ? max : NaN,
    mean,
    std: count > 1 ? Math.sqrt(ss / (count - 1)) : count === 1 ? 0 : NaN,
    nanCount: nan,
    infCount: inf,
  };
}

/** Per-tensor statistics and metadata of a safetensors file. */
export function inspectSafetensors(path: string): SafetensorsSummary {
  return withFile(path, (src) => {
    const h = parseHeader(path, src);
    const tensors: TensorSummary[] = [];
    for (const e of h.entries) {
      const t = readTensor(src, h.dataStart, e);
      tensors.push({ name: e.name, dtype: e.dtype, shape: e.shape, ...summarise(t.data) });
    }
    return { file: path, fileBytes: src.size, headerBytes: h.headerBytes, metadata: h.metadata, tensors };
  });
}
