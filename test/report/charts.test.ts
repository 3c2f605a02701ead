import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracyHistogramSpec, bestBaseline, downsampleCurve, groupColors, lossCurvesSpec, noveltyScatterSpec, projectionSpec, renderSvg, svgToPng } from '../../src/report/charts.js';
import { makeGroup, syntheticReport } from './fixtures.js';
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

test('the novelty scatter draws originals, generated and the best baseline strong and on top, the rest muted', async () => {
  const data = syntheticReport();
  // avg16 has the highest test mean of the baselines (ae_recon is not a baseline)
  const means = data.groups.filter((g) => !['original', 'generated', 'ae_recon'].includes(g.name)).map((g) => [g.name, g.test.mean] as const);
  const top = means.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  assert.equal(bestBaseline(data.groups), top);
  const spec = noveltyScatterSpec(data.groups) as unknown as {
    data: { values: Array<{ group: string; alpha: number }> };
    encoding: { color: { scale: { domain: string[]; range: string[] } } };
    title: { subtitle: string[] };
  };
  const { domain, range } = spec.encoding.color.scale;
  assert.deepEqual(domain, data.groups.map((g) => g.name), 'the legend keeps the group order');
  const color = (n: string): string => range[domain.indexOf(n)]!;
  assert.equal(color('generated'), '#d62728');
  assert.equal(color('original'), '#1f5fbf');
  assert.equal(color(top), '#2ca02c');
  const strong = new Set(['#d62728', '#1f5fbf', '#2ca02c']);
  for (const n of domain) if (!['generated', 'original', top].includes(n)) assert.ok(!strong.has(color(n)), `${n} should be muted`);
  assert.equal(new Set(range).size, range.length, 'every group has its own colour');
  // muted points first, the generated ones last (drawn on top)
  const order = [...new Set(spec.data.values.map((v) => v.group))];
  assert.deepEqual(order.slice(-3), ['original', top, 'generated']);
  assert.ok(spec.title.subtitle.some((l) => l.includes(`green: best baseline (${top})`)));
  const svg = await renderSvg(spec as never);
  assert.match(svg, /#d62728|rgb\(214, ?39, ?40\)/i);

  // the projection shares the colours, and names no baseline it does not show
  const proj = projectionSpec(data.projection!, domain, groupColors(domain, top)) as unknown as {
    encoding: { color: { scale: { domain: string[]; range: string[] } } };
    title: { subtitle: string[] };
  };
  const p = proj.encoding.color.scale;
  for (const n of p.domain) assert.equal(p.range[p.domain.indexOf(n)], color(n));
  const noBaseline = projectionSpec({ method: 'pca', points: [{ x: 0, y: 0, group: 'original' }, { x: 1, y: 1, group: 'generated' }] }, domain, groupColors(domain, top)) as unknown as { title: { subtitle: string[] } };
  assert.ok(!noBaseline.title.subtitle.join(' ').includes('best baseline'));
});
