import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsBackend } from '../../src/backend/index.js';
import { resolveConfig } from '../../src/config/index.js';
import { CnnS } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { FormatError, ShapeError } from '../../src/util/errors.js';
import {
  type Manifest, loadCheckpointStack, loadStateDict, readManifest, saveCheckpointStack, saveStateDict, writeManifest,
} from '../../src/zoo/checkpoint.js';
import { Normalizer, ParamLayout, selectParams } from '../../src/zoo/layout.js';
import { readSafetensors, writeSafetensors } from '../../src/zoo/safetensors.js';

const be = jsBackend();
const dir = mkdtempSync(join(tmpdir(), 'pdiff-ckpt-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** A cnn-s whose every tensor (running stats included) holds distinct random values. */
function randomModel(seed: number): CnnS {
  const m = new CnnS({ rng: new Rng(seed), backend: be });
  const rng = new Rng(seed + 1000);
  for (const [, t] of m.stateDict()) be.write(t.storage, rng.fillUniform(new Float32Array(t.size), 0.1, 2));
  return m;
}

/** State dict entries as safetensors input (copies). */
const entries = (m: CnnS): Array<{ name: string; shape: number[]; data: Float32Array }> =>
  m.stateDict().map(([name, t]) => ({ name, shape: [...t.shape], data: t.toArray() as Float32Array }));

describe('saveStateDict / loadStateDict', () => {
  it('writes the full state_dict in PyTorch order as F32 and reads it back bit-exactly', () => {
    const m = randomModel(1);
    const p = join(dir, 'base.safetensors');
    saveStateDict(p, m, { seed: '1' });
    const f = readSafetensors(p);
    assert.deepEqual([...f.tensors.keys()], m.stateDict().map(([n]) => n));
    assert.equal(f.tensors.size, 17);
    assert.ok([...f.tensors.values()].every((t) => t.dtype === 'F32'));
    assert.deepEqual(f.tensors.get('bn2.running_var')!.shape, [32]);
    assert.deepEqual(f.metadata, { format: 'pt', seed: '1' });
    const back = new CnnS({ rng: new Rng(7), backend: be });
    assert.deepEqual(loadStateDict(p, back), { format: 'pt', seed: '1' });
    back.stateDict().forEach(([n, t], i) => assert.deepEqual(t.toArray(), m.stateDict()[i]![1].toArray(), n));
  });

  it('names the file and tensor for missing, unexpected and mis-shaped tensors', () => {
    const m = randomModel(2);
    const cases: Array<[string, (e: ReturnType<typeof entries>) => ReturnType<typeof entries>, RegExp]> = [
      ['missing', (e) => e.filter((t) => t.name !== 'bn3.bias'), /missing tensors: bn3\.bias/],
      ['unexpected', (e) => [...e, { name: 'head.weight', shape: [2], data: new Float32Array(2) }], /unexpected tensor "head\.weight"/],
      ['shape', (e) => e.map((t) => (t.name === 'fc.weight' ? { ...t, shape: [64, 10] } : t)), /tensor "fc\.weight" has shape \[64, 10\] but the model expects \[10, 64\]/],
    ];
    for (const [what, edit, re] of cases) {
      const p = join(dir, `${what}.safetensors`);
      writeSafetensors(p, edit(entries(m)));
      assert.throws(() => loadStateDict(p, new CnnS({ rng: new Rng(0), backend: be })), (e: unknown) => {
        assert.ok(e instanceof ShapeError, `${what}: ${String(e)}`);
        assert.ok(e.message.startsWith(`${p}: `), e.message);
        assert.match(e.message, re);
        return true;
      });
    }
  });

  it('ignores PyTorch\'s int64 num_batches_tracked buffers', () => {
    const m = randomModel(3);
    // Hand-built file: the state dict plus an I64 bn1.num_batches_tracked, as torch writes it.
    const list = entries(m);
    const header: Record<string, unknown> = {};
    let off = 0;
    const chunks: Buffer[] = [];
    for (const t of list) {
      header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
      chunks.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      off += t.data.byteLength;
    }
    header['bn1.num_batches_tracked'] = { dtype: 'I64', shape: [], data_offsets: [off, off + 8] };
    chunks.push(Buffer.from(new BigInt64Array([30n]).buffer));
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const p = join(dir, 'torch-style.safetensors');
    writeFileSync(p, Buffer.concat([len, json, ...chunks]));
    const back = new CnnS({ rng: new Rng(0), backend: be });
    loadStateDict(p, back);
    assert.deepEqual(back.bn3.runningVar!.toArray(), m.bn3.runningVar!.toArray());
  });
});

describe('checkpoint stacks (docs/zoo.md#checkpoint-files)', () => {
  const m = randomModel(4);
  const layout = ParamLayout.fromModel(m, selectParams(m, 'bn'));
  const K = 5;
  const ckpts = new Rng(5).fillNormal(new Float32Array(K * layout.total)) as Float32Array;

  it('stores one tensor per subset name with leading dimension K, raw little-endian F32 after the header', () => {
    const p = join(dir, 'ckpts-bn.safetensors');
    saveCheckpointStack(p, layout, ckpts, { mode: 'bn' });
    const bytes = readFileSync(p);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    assert.deepEqual(Object.keys(header).filter((k) => k !== '__metadata__'), ['bn2.weight', 'bn2.bias', 'bn3.weight', 'bn3.bias']);
    assert.deepEqual(header['bn2.weight']!.shape, [5, 32]);
    assert.deepEqual(header['bn3.bias']!.shape, [5, 64]);
    assert.deepEqual(header['bn3.bias']!.data_offsets, [4 * 5 * 128, 4 * 5 * 192]);
    assert.deepEqual(header.__metadata__, { k: '5', mode: 'bn' });
    // bn3.bias of checkpoint 2, element 7 = row 2, flat index 128 + 7.
    const at = 8 + n + header['bn3.bias']!.data_offsets[0] + 4 * (2 * 64 + 7);
    assert.equal(bytes.readFloatLE(at), ckpts[2 * 192 + 128 + 7]);
  });

  it('round-trips bit-exactly, layout included', () => {
    const p = join(dir, 'rt.safetensors');
    saveCheckpointStack(p, layout, ckpts, { mode: 'bn' });
    const s = loadCheckpointStack(p);
    assert.equal(s.k, K);
    assert.ok(s.layout.equals(layout));
    assert.deepEqual(s.ckpts, ckpts);
    assert.equal(s.metadata.mode, 'bn');
  });

  it('rejects stacks whose tensors disagree on K, and state_dict files', () => {
    const p = join(dir, 'badk.safetensors');
    writeSafetensors(p, [{ name: 'a', shape: [3, 2], data: new Float32Array(6) }, { name: 'b', shape: [4, 2], data: new Float32Array(8) }]);
    assert.throws(() => loadCheckpointStack(p), (e: unknown) => e instanceof FormatError && e.message.startsWith(`${p}: tensor "b" has leading dimension 4 but "a" has 3`));
    const base = join(dir, 'sd.safetensors');
    saveStateDict(base, m);
    assert.throws(() => loadCheckpointStack(base), FormatError);
    assert.throws(() => saveCheckpointStack(join(dir, 'x.safetensors'), layout, new Float32Array(layout.total + 1)), ShapeError);
  });
});

describe('manifest', () => {
  const m = randomModel(6);
  const layout = ParamLayout.fromModel(m, selectParams(m, 'bn'));
  const ckpts = new Rng(8).fillNormal(new Float32Array(3 * layout.total)) as Float32Array;
  const manifest = (): Manifest => ({
    version: 1, arch: 'cnn-s', mode: 'bn', k: 3,
    layout: layout.toJSON(),
    normalizer: Normalizer.fit(layout, ckpts).toJSON(),
    config: resolveConfig({ preset: 'fmnist-tiny' }),
    seeds: { run: 0, collect: 123 },
    accuracies: { val: [88.1, 88.2, 88.3], test: [87.1, 87.2, 87.3] },
    files: { ckpts: 'ckpts-bn.safetensors' },
  });

  it('round-trips, and the normalizer rebuilt from it is the same', () => {
    const p = join(dir, 'manifest.json');
    writeManifest(p, manifest());
    const back = readManifest(p);
    assert.deepEqual(back, JSON.parse(JSON.stringify(manifest())));
    assert.deepEqual(Normalizer.fromJSON(back.normalizer).forward(ckpts), Normalizer.fit(layout, ckpts).forward(ckpts));
  });

  it('names the bad field', () => {
    const p = join(dir, 'bad.json');
    const cases: Array<[Partial<Record<keyof Manifest, unknown>>, RegExp]> = [
      [{ version: 2 }, /version: expected 1, found 2/],
      [{ accuracies: { val: [1], test: [1, 2, 3] } }, /accuracies\.val: expected 3 numbers, found 1 entries/],
      [{ layout: { ...layout.toJSON(), total: 5 } }, /layout\.total is 5/],
    ];
    for (const [edit, re] of cases) {
      writeFileSync(p, JSON.stringify({ ...manifest(), ...edit }));
      assert.throws(() => readManifest(p), (e: unknown) => e instanceof FormatError && re.test(e.message) && e.message.includes(p));
    }
    writeFileSync(p, '{"version": 1,');
    assert.throws(() => readManifest(p), (e: unknown) => e instanceof FormatError && /not valid JSON/.test(e.message));
  });
});
