import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracyHistogramSpec, downsampleCurve, lossCurvesSpec, renderSvg, svgToPng } from '../../src/report/charts.js';
import { makeGroup } from './fixtures.js';
import { Rng } from '../../src/tensor/random.js';

test('downsampleCurve keeps short curves, bucket-averages long ones and drops non-positive losses', () => {
  const short = [{ step: 0, loss: 1 }, { step: 1, loss: 0 }, { step: 2, loss: NaN }, { step: 3, loss: 0.5 }];
  assert.deepEqual(downsampleCurve(short), [{ step: 0, loss: 1 }, { step: 3, loss: 0.5 }]);
  const long = Array.from({ length: 1000 }, (_, i) => ({ step: i, loss: i + 1 }));
  const ds = downsampleCurve(long, 100);
  assert.equal(ds.length, 100);
  assert.deepEqual(ds[0], { step: 4.5, loss: 5.5 });
  assert.deepEqual(ds[99], { step: 994.5, loss: 995.5 });
});

test('renderSvg renders a histogram headless and svgToPng rasterises it', async () => {
  const rng = new Rng(1);
  const groups = [makeGroup('original', 30, { val: 88, test: 88 }, 0.3, undefined, rng), makeGroup('ensemble', 1, { val: 89, test: 88.5 }, 0, undefined, rng)];
  const svg = await renderSvg(accuracyHistogramSpec(groups, { bestOriginal: groups[0]!.test.best, meanOriginal: groups[0]!.test.mean }));
  assert.match(svg, /^<svg[^>]*width="\d+"/);
  assert.match(svg, /ensemble/);
  const png = svgToPng(svg, 300);
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  // IHDR width (big-endian u32 at byte 16) honours the requested width
  assert.equal(new DataView(png.buffer, png.byteOffset).getUint32(16), 300);
});

test('loss curves use a log y scale and skip absent curves', async () => {
  const spec = lossCurvesSpec({ ae: [{ step: 0, loss: 1 }, { step: 1, loss: 0.1 }] }) as unknown as { spec: { encoding: { y: { scale: { type: string } } } }; data: { values: Array<{ curve: string }> } };
  assert.equal(spec.spec.encoding.y.scale.type, 'log');
  assert.deepEqual([...new Set(spec.data.values.map((v) => v.curve))], ['autoencoder']);
  const svg = await renderSvg(spec as never);
  assert.match(svg, /autoencoder/);
});
