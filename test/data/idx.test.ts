import { test } from 'node:test';
import { idxBytes } from '../helpers/data.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadIdxPair, readIdx } from '../../src/data/idx.js';
import { FormatError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'pdiff-idx-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));


function put(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

function pattern(n: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (i * 37 + 11) & 0xff;
  return a;
}

test('reads raw and gzipped IDX images with big-endian dims', () => {
  const data = pattern(2 * 3 * 4);
  for (const [name, bytes] of [
    ['raw-idx3-ubyte', idxBytes([2, 3, 4], data)],
    ['gz-idx3-ubyte.gz', gzipSync(idxBytes([2, 3, 4], data))],
  ] as const) {
    const r = readIdx(put(name, bytes), 3);
    assert.deepEqual(r.dims, [2, 3, 4]);
    assert.deepEqual([...r.data], [...data]);
  }
});

test('detects gzip by magic bytes, not by name', () => {
  const data = pattern(5);
  const gzNoExt = put('labels-no-ext', gzipSync(idxBytes([5], data)));
  assert.deepEqual([...readIdx(gzNoExt, 1).data], [...data]);
  const rawNamedGz = put('raw-named.gz', idxBytes([5], data));
  assert.deepEqual([...readIdx(rawNamedGz, 1).data], [...data]);
});

test('reads a 60000-entry gzipped label file like MNIST', () => {
  const data = new Uint8Array(60000);
  for (let i = 0; i < data.length; i++) data[i] = i % 10;
  const r = readIdx(put('big-labels.gz', gzipSync(idxBytes([60000], data))), 1);
  assert.equal(r.data.length, 60000);
  assert.equal(r.data[59999], 9);
});

test('throws on a .gz file that is neither gzip nor IDX', () => {
  const p = put('junk.gz', Buffer.from('<html>404 not found</html>'));
  assert.throws(() => readIdx(p), (e: unknown) => {
    assert.ok(e instanceof FormatError);
    assert.equal(e.message, `${p}: not a valid gzip stream (first bytes 3c 68 74 6d, expected 1f 8b) and not a raw IDX file`);
    return true;
  });
});

test('throws on a corrupt or truncated gzip stream', () => {
  const corrupt = put('corrupt.gz', Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
  assert.throws(() => readIdx(corrupt), new RegExp(`^FormatError: ${corrupt}: not a valid gzip stream \\(`));
  const gz = gzipSync(idxBytes([100], pattern(100)));
  const cut = put('cut.gz', gz.subarray(0, gz.length - 10));
  assert.throws(() => readIdx(cut), (e: unknown) => e instanceof FormatError && /not a valid gzip stream \(unexpected end of file\)/.test(e.message));
});

test('throws on a truncated IDX file, naming dims and byte counts', () => {
  const full = idxBytes([2, 28, 28], pattern(2 * 784));
  const p = put('trunc-idx3-ubyte.gz', gzipSync(full.subarray(0, full.length - 100)));
  assert.throws(() => readIdx(p, 3), {
    name: 'FormatError',
    message: `${p}: expected 1568 bytes of data for dims [2, 28, 28], found 1468 (truncated file)`,
  });
});

test('throws on trailing bytes after the data', () => {
  const p = put('trailing', Buffer.concat([idxBytes([3], pattern(3)), Buffer.from([0])]));
  assert.throws(() => readIdx(p, 1), { message: `${p}: expected 3 bytes of data for dims [3], found 4 (trailing bytes)` });
});

test('throws on a wrong magic: wrong ndim, wrong type byte, nonzero leading bytes', () => {
  const labels = put('labels-as-images', idxBytes([4], pattern(4)));
  assert.throws(() => readIdx(labels, 3), {
    message: `${labels}: bad IDX magic 0x00000801, expected 0x00000803 (two zero bytes, type 0x08 = unsigned byte, then ndim = 3)`,
  });
  const floats = put('float-type', idxBytes([4], pattern(16), 0x0d));
  assert.throws(() => readIdx(floats, 1), { message: /bad IDX magic 0x00000d01, expected 0x00000801/ });
  const noExpect = put('garbage', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0]));
  assert.throws(() => readIdx(noExpect), { message: /bad IDX magic 0x504b0304, expected 0x000008NN/ });
});

test('throws when the file is too short for the header', () => {
  const tiny = put('tiny', Buffer.from([0, 0]));
  assert.throws(() => readIdx(tiny), { message: `${tiny}: too few bytes for an IDX header: 2 bytes, expected at least 4` });
  const short = put('short-dims', Buffer.from([0, 0, 8, 3, 0, 0, 0, 2, 0, 0]));
  assert.throws(() => readIdx(short, 3), { message: `${short}: too few bytes for an IDX header with 3 dims: 10 bytes, expected at least 16` });
});

test('loadIdxPair reads matching images and labels', () => {
  const img = put('pair-images', idxBytes([3, 2, 2], pattern(12)));
  const lab = put('pair-labels.gz', gzipSync(idxBytes([3], Uint8Array.of(0, 9, 4))));
  const r = loadIdxPair(img, lab);
  assert.equal(r.n, 3);
  assert.equal(r.h, 2);
  assert.equal(r.w, 2);
  assert.deepEqual([...r.labels], [0, 9, 4]);
});

test('loadIdxPair throws when counts differ, naming both files and counts', () => {
  const img = put('mm-images', idxBytes([3, 2, 2], pattern(12)));
  const lab = put('mm-labels', idxBytes([4], Uint8Array.of(0, 1, 2, 3)));
  assert.throws(() => loadIdxPair(img, lab), {
    message: `${img}: holds 3 images but ${lab} holds 4 labels; the two files must have the same count`,
  });
});

test('loadIdxPair throws on a label out of range', () => {
  const img = put('oor-images', idxBytes([3, 2, 2], pattern(12)));
  const lab = put('oor-labels', idxBytes([3], Uint8Array.of(0, 10, 1)));
  assert.throws(() => loadIdxPair(img, lab), { message: `${lab}: label 10 at index 1 is out of range [0, 10)` });
  assert.equal(loadIdxPair(img, lab, { numClasses: 11 }).n, 3);
});
