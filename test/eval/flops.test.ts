import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countModel, layerMacs, layerParams, type LayerSpec } from '../../src/eval/flops.js';

/** cnn-s (docs/zoo.md#classifiers), one 1x28x28 image. */
const cnnS: LayerSpec[] = [
  { kind: 'conv2d', name: 'conv1', cin: 1, cout: 16, kh: 3, kw: 3, hout: 28, wout: 28, bias: false },
  { kind: 'batchnorm', name: 'bn1', c: 16, spatial: 28 * 28 },
  { kind: 'relu', name: 'relu1', elements: 16 * 28 * 28 },
  { kind: 'maxpool', name: 'pool1', c: 16, hout: 14, wout: 14, kh: 2, kw: 2 },
  { kind: 'conv2d', name: 'conv2', cin: 16, cout: 32, kh: 3, kw: 3, hout: 14, wout: 14, bias: false },
  { kind: 'batchnorm', name: 'bn2', c: 32, spatial: 14 * 14 },
  { kind: 'relu', name: 'relu2', elements: 32 * 14 * 14 },
  { kind: 'maxpool', name: 'pool2', c: 32, hout: 7, wout: 7, kh: 2, kw: 2 },
  { kind: 'conv2d', name: 'conv3', cin: 32, cout: 64, kh: 3, kw: 3, hout: 7, wout: 7, bias: false },
  { kind: 'batchnorm', name: 'bn3', c: 64, spatial: 7 * 7 },
  { kind: 'relu', name: 'relu3', elements: 64 * 7 * 7 },
  { kind: 'gap', name: 'gap', c: 64, spatial: 7 * 7 },
  { kind: 'linear', name: 'fc', in: 64, out: 10, bias: true },
];

test('cnn-s per-layer MACs match hand counts', () => {
  const m = countModel(cnnS);
  const byName = new Map(m.perLayer.map((l) => [l.name, l]));
  assert.equal(byName.get('conv1')!.macs, 16 * 28 * 28 * 9); // 112,896
  assert.equal(byName.get('conv1')!.macs, 112_896);
  assert.equal(byName.get('bn1')!.macs, 12_544);
  assert.equal(byName.get('conv2')!.macs, 32 * 14 * 14 * 16 * 9); // 903,168
  assert.equal(byName.get('conv3')!.macs, 64 * 7 * 7 * 32 * 9); // 903,168
  assert.equal(byName.get('fc')!.macs, 640);
  assert.equal(byName.get('fc')!.adds, 10);
  assert.equal(byName.get('relu1')!.macs, 0);
  assert.equal(byName.get('pool1')!.elementOps, 16 * 14 * 14 * 4);
  assert.equal(byName.get('gap')!.elementOps, 64 * 49);
  assert.equal(m.macs, 112_896 + 12_544 + 903_168 + 6_272 + 903_168 + 3_136 + 640); // 1,941,824
  assert.equal(m.adds, 10);
});

test('cnn-s learnable parameters total 24,058 (docs/zoo.md#classifiers)', () => {
  const m = countModel(cnnS);
  assert.equal(m.params, 24_058);
  assert.deepEqual(
    m.perLayer.filter((l) => l.params > 0).map((l) => [l.name, l.params]),
    [['conv1', 144], ['bn1', 32], ['conv2', 4608], ['bn2', 64], ['conv3', 18432], ['bn3', 128], ['fc', 650]],
  );
});

test('1-D convolutions, transposed convolutions and grouped convs', () => {
  // AE encoder stage 1 (docs/autoencoder.md#architecture, bn mode): Conv1d(1 -> 16, k 7, stride 2) on L = 192.
  assert.equal(layerMacs({ kind: 'conv1d', cin: 1, cout: 16, k: 7, lout: 96, bias: true }), 16 * 96 * 7);
  assert.equal(layerParams({ kind: 'conv1d', cin: 1, cout: 16, k: 7, lout: 96, bias: true }), 16 * 7 + 16);
  // ConvTranspose1d(64 -> 32, k 7, stride 2): L 6 -> 12; each input element scatters to k outputs.
  const ct: LayerSpec = { kind: 'convtranspose1d', cin: 64, cout: 32, k: 7, lin: 6, lout: 12, bias: true };
  assert.equal(layerMacs(ct), 64 * 6 * 32 * 7);
  assert.equal(layerParams(ct), 64 * 32 * 7 + 32);
  const g: LayerSpec = { kind: 'conv2d', cin: 8, cout: 8, kh: 3, kw: 3, hout: 4, wout: 4, bias: false, groups: 8 };
  assert.equal(layerMacs(g), 8 * 16 * 9);
  assert.throws(() => layerMacs({ ...g, groups: 3 }), /groups = 3/);
});
