/** The report of a multi-seed zoo: its seeds, the loss barrier table, what the baselines mean, and the interpolation plot. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reportCharts, renderSvg } from '../../src/report/charts.js';
import { renderMarkdown } from '../../src/report/render.js';
import type { ReportData, SeedsReport } from '../../src/report/types.js';
import { syntheticReport } from './fixtures.js';

const alphas = Array.from({ length: 11 }, (_, i) => i / 10);
const seeds = (align: SeedsReport['align']): SeedsReport => ({
  align, k: 20,
  seeds: [0, 1, 2].map((s) => ({ index: s, runSeed: s, source: 'trained', val: 88 + s / 10, test: 87.5, trainSeconds: 9 })),
  matching: [1, 2].map((s) => ({ seed: s, passes: 3, converged: true, unitsMoved: 120 + s, units: 128 })),
  interpolation: {
    from: 0, to: 1, alphas,
    naive: { loss: alphas.map((a) => 0.35 + 1.2 * a * (1 - a) * 4), acc: alphas.map((a) => 87 - 40 * a * (1 - a) * 4), barrier: 1.2 },
    aligned: { loss: alphas.map((a) => 0.35 + 0.1 * a * (1 - a) * 4), acc: alphas.map((a) => 87 - 2 * a * (1 - a) * 4), barrier: 0.1 },
  },
});
const withSeeds = (align: SeedsReport['align']): ReportData => {
  const d = syntheticReport();
  return { ...d, seeds: seeds(align), groups: d.groups.map((g, i) => ({ ...g, nnL2SeedMean: 1 + i })) };
};

describe('multi-seed report', () => {
  it('shows the seeds, the barrier naive and aligned, and the distance to the nearest seed mean', () => {
    const md = renderMarkdown(withSeeds('weight-matching'), []);
    assert.match(md, /## Seeds of the zoo\n\n3 seeds x 20 checkpoints\. The zoo is aligned/);
    assert.match(md, /\| 1 \| trained, seed 1 \| 88\.10 \| 87\.50 \| 121 of 128 \|/);
    assert.match(md, /## Loss barrier between two seeds/);
    assert.match(md, /\| naive \| 0\.3500 \| 1\.5500 \| 0\.3500 \| 1\.2000 \| 87\.00 \| 47\.00 \| 87\.00 \|/);
    assert.match(md, /\| aligned \(weight matching\) \| 0\.3500 \| 0\.4500 \| 0\.3500 \| 0\.1000 \|/);
    assert.match(md, /\| NN-L2 \| NN-L2 seed mean \| >= best orig\. \|/);
    assert.match(md, /avg16 and gauss_fit baselines draw across all seeds/);
  });

  it('says what the baselines mean without alignment, and leaves one-seed reports as they were', () => {
    assert.match(renderMarkdown(withSeeds('none'), []), /The zoo is NOT aligned.*naive interpolation/);
    const plain = renderMarkdown(syntheticReport(), []);
    assert.doesNotMatch(plain, /Seeds of the zoo|Loss barrier|NN-L2 seed mean/);
    assert.ok(!reportCharts(syntheticReport()).some((c) => c.name === 'interpolation'));
  });

  it('plots test loss and accuracy against alpha, naive and aligned', async () => {
    const chart = reportCharts(withSeeds('weight-matching')).find((c) => c.name === 'interpolation');
    assert.ok(chart);
    const svg = await renderSvg(chart.spec);
    for (const text of ['test loss', 'test accuracy (%)', 'naive', 'aligned', 'alpha']) assert.ok(svg.includes(text), text);
  });
});
