import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bf16ToF32, decodeSafetensors, encodeSafetensors, f16ToF32, inspectSafetensors, readSafetensors,
  readSafetensorsHeader, writeSafetensors,
} from '../../src/zoo/safetensors.js';
import { FormatError, ShapeError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'pdiff-st-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** A file made of an 8-byte LE header length, the header text (or given length), and data. */
function rawFile(header: string | Uint8Array, data: Uint8Array = new Uint8Array(0), claimedLength?: bigint): string {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(claimedLength ?? BigInt(h.length));
  const p = join(dir, `f${counter++}.safetensors`);
  writeFileSync(p, Buffer.concat([len, h, data]));
  return p;
}

/** Assert that reading `p` throws a FormatError whose message is `${p}: ${detail}` (or matches). */
function throwsFormat(p: string, detail: string | RegExp): void {
  assert.throws(() => readSafetensors(p), (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${String(e)}`);
    if (typeof detail === 'string') assert.equal(e.message, `${p}: ${detail}`);
    else {
      assert.ok(e.message.startsWith(`${p}: `), e.message);
      assert.match(e.message, detail);
    }
    return true;
  });
}

const entry = (dtype: string, shape: number[], begin: number, end: number): object => ({ dtype, shape, data_offsets: [begin, end] });

test('round trip write -> read is bit-exact, including NaN payloads, -0, subnormals and infinities', () => {
  const special = new Float32Array(8);
  new Uint32Array(special.buffer).set([0x7fc00001, 0xffbad123, 0x80000000, 0x00000001, 0x7f800000, 0xff800000, 0x3f800000, 0x7fa00000]);
  const big = new Float32Array(1000);
  for (let i = 0; i < big.length; i++) big[i] = Math.sin(i) * 1e3;
  const tensors = [
    { name: 'conv1.weight', shape: [2, 1, 2, 2], data: special },
    { name: 'bn1.running_var', shape: [1000], data: big },
    { name: 'empty', shape: [0, 3], data: new Float32Array(0) },
    { name: 'scalar', shape: [], data: Float32Array.of(-0) },
  ];
  const p = join(dir, 'round.safetensors');
  writeSafetensors(p, tensors, { format: 'pt', seed: '0' });
  const r = readSafetensors(p);
  assert.deepEqual(r.metadata, { format: 'pt', seed: '0' });
  assert.deepEqual([...r.tensors.keys()], ['conv1.weight', 'bn1.running_var', 'empty', 'scalar']);
  for (const t of tensors) {
    const got = r.tensors.get(t.name)!;
    assert.equal(got.dtype, 'F32');
    assert.deepEqual(got.shape, t.shape);
    assert.ok(got.data instanceof Float32Array);
    assert.deepEqual(
      new Uint32Array(got.data.buffer, got.data.byteOffset, got.data.length),
      new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length),
      t.name,
    );
  }
  assert.deepEqual(new Uint8Array(readFileSync(p)), encodeSafetensors(tensors, { format: 'pt', seed: '0' }));
  assert.equal(decodeSafetensors(encodeSafetensors(tensors)).metadata, null);
});

test('the encoding is pinned: contiguous offsets, space padding to a multiple of 8, LE data', () => {
  const bytes = encodeSafetensors([{ name: 'test', shape: [2, 2], data: Float32Array.of(1, 0, 0, -2) }]);
  const header = '{"test":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}';
  assert.equal(header.length, 60);
  const expected = Buffer.concat([
    Buffer.from([64, 0, 0, 0, 0, 0, 0, 0]),
    Buffer.from(header + '    '),
    Buffer.from([0, 0, 0x80, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0]),
  ]);
  assert.deepEqual(Buffer.from(bytes), expected);
});

test('header is padded to a multiple of 8 for every name length; order is kept for integer-like names', () => {
  for (let len = 1; len <= 12; len++) {
    const name = 'x'.repeat(len);
    const bytes = encodeSafetensors(new Map([[name, { shape: [1], data: Float32Array.of(len) }], ['2', { shape: [2], data: Float32Array.of(1, 2) }]]), {});
    const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
    assert.equal(n % 8, 0);
    const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
    assert.match(text, /^\{"__metadata__":\{\},"x+":\{.*\},"2":\{.*"data_offsets":\[4,12\]\}\} *$/);
    assert.ok(n - text.trimEnd().length < 8, 'at most 7 spaces of padding');
    const r = decodeSafetensors(bytes);
    assert.deepEqual([...r.tensors.keys()], [name, '2'], 'data-offset order, not JSON key order');
  }
});

test('writer rejects data that does not match its shape and duplicate names', () => {
  assert.throws(() => encodeSafetensors([{ name: 'fc.bias', shape: [10], data: new Float32Array(9) }]), {
    name: 'ShapeError', message: 'fc.bias: shape [10] needs 10 floats, data holds 9',
  });
  const t = { name: 'a', shape: [1], data: new Float32Array(1) };
  assert.throws(() => encodeSafetensors([t, t]), ShapeError);
  assert.throws(() => encodeSafetensors([{ ...t, name: '__metadata__' }]), /reserved/);
});

test('F16 widening matches hand-computed values', () => {
  const h = Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x8000, 0x3555, 0x0000, 0x8001);
  const out = new Float32Array(h.length);
  f16ToF32(h, out);
  assert.deepEqual([...out], [
    1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, Infinity, -Infinity, -0, 0.333251953125, 0, -(2 ** -24),
  ]);
  assert.ok(Object.is(out[8], -0));
  const nan = new Float32Array(2);
  f16ToF32(Uint16Array.of(0x7e00, 0x7c01), nan);
  assert.deepEqual([...new Uint32Array(nan.buffer)], [0x7fc00000, 0x7f802000], 'NaN payloads are kept');
});

test('BF16 widening is the upper half of float32', () => {
  const out = new Float32Array(6);
  bf16ToF32(Uint16Array.of(0x3f80, 0xc000, 0x7f80, 0x4049, 0x0001, 0x8000), out);
  assert.deepEqual([...out], [1, -2, Infinity, 3.140625, Math.fround(2 ** -133), -0]);
});

test('reads F16, BF16 and I64 tensors from a file', () => {
  const f16 = Buffer.from(Uint16Array.of(0x3c00, 0xc000, 0x3800).buffer);
  const bf16 = Buffer.from(Uint16Array.of(0x3f80, 0x4049).buffer);
  const i64 = Buffer.from(BigInt64Array.of(-1n, 9007199254740993n).buffer);
  const header = JSON.stringify({
    h: entry('F16', [3], 0, 6), b: entry('BF16', [2], 6, 10), n: entry('I64', [2, 1], 10, 26),
    __metadata__: { step: '7' },
  });
  const p = rawFile(header, Buffer.concat([f16, bf16, i64]));
  const r = readSafetensors(p);
  assert.deepEqual(r.metadata, { step: '7' });
  const h = r.tensors.get('h')!;
  assert.equal(h.dtype, 'F16');
  assert.deepEqual([...(h.data as Float32Array)], [1, -2, 0.5]);
  assert.deepEqual([...(r.tensors.get('b')!.data as Float32Array)], [1, 3.140625]);
  const n = r.tensors.get('n')!;
  assert.ok(n.data instanceof BigInt64Array);
  assert.deepEqual(n.shape, [2, 1]);
  assert.deepEqual([...n.data], [-1n, 9007199254740993n]);
});

test('throws on a file shorter than the length prefix', () => {
  const p = join(dir, 'short.safetensors');
  writeFileSync(p, Buffer.from([1, 2, 3, 4, 5]));
  throwsFormat(p, 'file is 5 bytes, too short for the 8-byte header length');
});

test('throws when the header length runs past the file or the 100 MB cap', () => {
  const p = rawFile('{}', new Uint8Array(10), 1000n);
  throwsFormat(p, 'header length 1000 exceeds the file size (8 + 1000 > 20 bytes)');
  const q = rawFile('{}', new Uint8Array(0), 1n << 40n);
  throwsFormat(q, 'header length 1099511627776 exceeds the 100000000-byte limit');
});

test('throws on a header that is not UTF-8, not JSON, or not an object', () => {
  throwsFormat(rawFile(Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d)), 'header is not valid UTF-8');
  throwsFormat(rawFile('{"a": {"dtype": "F32",'), /^.*: header is not valid JSON \(.+\)$/);
  throwsFormat(rawFile('[1, 2]'), 'header JSON is not an object');
});

test('throws on an unknown or unsupported dtype, naming the tensor', () => {
  throwsFormat(rawFile(JSON.stringify({ w: entry('F99', [1], 0, 4) }), new Uint8Array(4)), 'w: unknown dtype "F99" (pdiff reads F32, F16, BF16, I64)');
  throwsFormat(rawFile(JSON.stringify({ w: entry('F64', [1], 0, 8) }), new Uint8Array(8)), 'w: unsupported dtype "F64" (pdiff reads F32, F16, BF16, I64)');
});

test('throws on a malformed shape or data_offsets', () => {
  throwsFormat(rawFile(JSON.stringify({ w: entry('F32', [-1], 0, 4) }), new Uint8Array(4)), 'w: shape must be an array of non-negative integers, found [-1]');
  throwsFormat(rawFile(JSON.stringify({ w: entry('F32', [1.5], 0, 4) }), new Uint8Array(4)), /w: shape must be an array of non-negative integers/);
  throwsFormat(rawFile(JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }), new Uint8Array(4)), 'w: data_offsets must be [begin, end] with non-negative integers, found [0]');
  throwsFormat(rawFile(JSON.stringify({ w: entry('F32', [0], 4, 0) }), new Uint8Array(4)), 'w: data_offsets [4, 0] have begin > end');
  throwsFormat(rawFile(JSON.stringify({ w: 3 })), 'w: entry must be an object with dtype, shape and data_offsets');
});

test('throws on offsets outside the data section before allocating anything', () => {
  throwsFormat(rawFile(JSON.stringify({ w: entry('F32', [100], 0, 400) }), new Uint8Array(16)), 'w: data_offsets [0, 400] lie outside the data section (16 bytes)');
  // A header announcing 4 TB of data fails on the offsets, without trying to allocate it.
  throwsFormat(rawFile(JSON.stringify({ huge: entry('F32', [1e6, 1e6], 0, 4e12) }), new Uint8Array(8)), 'huge: data_offsets [0, 4000000000000] lie outside the data section (8 bytes)');
});

test('throws when offsets and shape disagree on the byte count', () => {
  throwsFormat(
    rawFile(JSON.stringify({ 'conv1.weight': entry('F32', [16, 1, 3, 3], 0, 100) }), new Uint8Array(100)),
    'conv1.weight: data_offsets [0, 100] hold 100 bytes but shape [16,1,3,3] of F32 needs 576',
  );
  throwsFormat(rawFile(JSON.stringify({ h: entry('F16', [3], 0, 12) }), new Uint8Array(12)), 'h: data_offsets [0, 12] hold 12 bytes but shape [3] of F16 needs 6');
});

test('throws on overlapping tensors, holes and trailing bytes', () => {
  throwsFormat(
    rawFile(JSON.stringify({ a: entry('F32', [4], 0, 16), b: entry('F32', [4], 8, 24) }), new Uint8Array(24)),
    'b: data_offsets [8, 24] overlap a [0, 16]',
  );
  throwsFormat(
    rawFile(JSON.stringify({ a: entry('F32', [1], 0, 4), b: entry('F32', [1], 8, 12) }), new Uint8Array(12)),
    'b: data_offsets [8, 12] leave bytes [4, 8) of the data section unused (safetensors allows no holes)',
  );
  throwsFormat(
    rawFile(JSON.stringify({ a: entry('F32', [1], 0, 4) }), new Uint8Array(12)),
    'data section is 12 bytes but the tensors cover only [0, 4) (safetensors allows no trailing bytes)',
  );
});

test('throws on metadata that is not an object of strings', () => {
  throwsFormat(rawFile(JSON.stringify({ __metadata__: { epoch: 3 } })), '__metadata__.epoch: value must be a string, found number');
  throwsFormat(rawFile(JSON.stringify({ __metadata__: ['a'] })), '__metadata__ must be an object of string values');
});

test('readSafetensorsHeader reads entries in offset order without the data', () => {
  const p = join(dir, 'hdr.safetensors');
  writeSafetensors(p, [{ name: 'b', shape: [2], data: Float32Array.of(1, 2) }, { name: 'a', shape: [1], data: Float32Array.of(3) }]);
  const h = readSafetensorsHeader(p);
  assert.deepEqual(h.entries.map((e) => [e.name, e.begin, e.end]), [['b', 0, 8], ['a', 8, 12]]);
  assert.equal(h.dataStart % 8, 0);
});

test('inspectSafetensors reports per-tensor statistics over finite values', () => {
  const p = join(dir, 'inspect.safetensors');
  writeSafetensors(p, [
    { name: 'w', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, NaN, Infinity) },
    { name: 'z', shape: [0], data: new Float32Array(0) },
  ], { note: 'x' });
  const s = inspectSafetensors(p);
  assert.deepEqual(s.metadata, { note: 'x' });
  assert.equal(s.fileBytes, readFileSync(p).length);
  const [w, z] = s.tensors;
  assert.deepEqual(
    { ...w },
    { name: 'w', dtype: 'F32', shape: [2, 3], numel: 6, min: 1, max: 4, mean: 2.5, std: Math.sqrt(5 / 3), nanCount: 1, infCount: 1 },
  );
  assert.equal(z!.numel, 0);
  assert.ok(Number.isNaN(z!.mean));
});
