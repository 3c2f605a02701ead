import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsBackend, readArgmaxRows } from '../../src/backend/index.js';
import { CnnS } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, noGrad } from '../../src/tensor/tensor.js';
import { loadStateDict, saveStateDict } from '../../src/zoo/checkpoint.js';
import { readSafetensors } from '../../src/zoo/safetensors.js';
import { assertClose } from '../helpers/assert.js';

interface Arr { shape: number[]; data: number[] }
interface Fixture {
  x: Arr;
  logits: Arr;
  logits_f64: Arr;
  logits_train_mode: Arr;
  argmax: number[];
  variants: Array<{ file: string; dtype: string; logits: Arr }>;
}

const fixtures = new URL('../fixtures/', import.meta.url).pathname;
const fx = JSON.parse(readFileSync(join(fixtures, 'cnn_s_torch.json'), 'utf8')) as Fixture;
const be = jsBackend();
const dir = mkdtempSync(join(tmpdir(), 'pdiff-torch-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function logitsOf(m: CnnS): Float32Array {
  const x = new Tensor(be.fromArray(fx.x.data), fx.x.shape, be);
  return noGrad(() => m.forward(x)).toArray() as Float32Array;
}

describe('PyTorch cnn-s state_dict round trip', () => {
  for (const v of fx.variants) {
    it(`${v.file} (${v.dtype}) loads into a pdiff CnnS with eval-mode logits within 1e-4 of PyTorch`, () => {
      const m = new CnnS({ rng: new Rng(99), backend: be });
      loadStateDict(join(fixtures, v.file), m);
      m.eval();
      const got = logitsOf(m);
      assertClose(got, v.logits.data, { atol: 1e-4 }, v.file);
      if (v.dtype === 'F32') {
        assertClose(got, fx.logits.data, { atol: 1e-4 }, 'logits');
        assertClose(got, fx.logits_f64.data, { atol: 1e-4 }, 'logits_f64');
        const preds = new Int32Array(4);
        readArgmaxRows(be, be.fromArray(got), 4, 10, preds);
        assert.deepEqual(Array.from(preds), fx.argmax);
      }
    });
  }

  it('train-mode logits (batch statistics) match PyTorch too', () => {
    const m = new CnnS({ rng: new Rng(0), backend: be });
    loadStateDict(join(fixtures, 'cnn_s_torch.safetensors'), m);
    m.train();
    assertClose(logitsOf(m), fx.logits_train_mode.data, { atol: 1e-4 }, 'train mode');
  });

  it('saveStateDict writes the PyTorch names, order and values back bit-exactly', () => {
    const src = join(fixtures, 'cnn_s_torch.safetensors');
    const m = new CnnS({ rng: new Rng(1), backend: be });
    loadStateDict(src, m);
    const out = join(dir, 'again.safetensors');
    saveStateDict(out, m, { note: 'round trip' });
    const a = readSafetensors(src), b = readSafetensors(out);
    assert.deepEqual([...b.tensors.keys()], [...a.tensors.keys()]);
    for (const [name, t] of a.tensors) {
      const u = b.tensors.get(name)!;
      assert.equal(u.dtype, 'F32');
      assert.deepEqual(u.shape, t.shape, name);
      assert.deepEqual(u.data, t.data, name);
    }
    assert.deepEqual(b.metadata, { format: 'pt', note: 'round trip' });
  });
});
