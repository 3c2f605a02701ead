import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderMarkdown, summaryTable, verdict, writeReport } from '../../src/report/render.js';
import { syntheticReport } from './fixtures.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

test('writeReport writes markdown, self-contained HTML, SVG and PNG plots', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdiff-report-'));
  try {
    const data = syntheticReport();
    const out = await writeReport(dir, data, { png: true, html: true });
    assert.equal(out.md, join(dir, 'report.md'));
    assert.equal(out.html, join(dir, 'report.html'));
    const stems = ['accuracy-hist', 'accuracy-vs-novelty', 'loss-curves', 'projection'];
    assert.deepEqual(out.plots.sort(), stems.flatMap((s) => [join(dir, 'plots', `${s}.png`), join(dir, 'plots', `${s}.svg`)]).sort());
    for (const p of out.plots) assert.ok(existsSync(p), `${p} missing`);
    // atomic writes leave no temporary files behind
    assert.deepEqual(readdirSync(join(dir, 'plots')).filter((f) => f.endsWith('.tmp')), []);

    const md = readFileSync(out.md, 'utf8');
    const header = md.split('\n').find((l) => l.startsWith('| group | n |'));
    assert.ok(header, 'main table header missing');
    for (const col of ['val best', 'val mean', 'val median', 'val min', 'val std', 'test best', 'test mean', 'test median', 'test min', 'test std', 'test@best-val', 'IoU-max', 'NN-L2', '>= best orig.']) {
      assert.ok(header.includes(`| ${col} |`), `column ${col} missing`);
    }
    for (const g of data.groups) {
      const row = md.split('\n').find((l) => l.startsWith(`| ${g.label ?? g.name} |`));
      assert.ok(row, `row for ${g.name} missing`);
      const cells = row.split('|').slice(1, -1).map((c) => c.trim());
      assert.equal(cells.length, 17);
      assert.equal(cells[1], String(g.n));
      assert.deepEqual(cells.slice(2, 7), [g.val.best, g.val.mean, g.val.median, g.val.min, g.val.std].map((v) => v.toFixed(2)));
      assert.deepEqual(cells.slice(7, 12), [g.test.best, g.test.mean, g.test.median, g.test.min, g.test.std].map((v) => v.toFixed(2)));
      assert.equal(cells[12], g.testAtBestVal.toFixed(2));
      assert.equal(cells[14], g.iouMax!.toFixed(3));
    }
    assert.match(md, /!\[Test accuracy per group\]\(plots\/accuracy-hist\.png\)/);
    assert.match(md, /## Stage wall times/);
    assert.match(md, /\| total \| 339 s \(5\.7 min\) \| 100\.0 % \|/);
    assert.match(md, /\| multiply-adds per example \| 1,941,824 \|/);
    assert.match(md, /\| gaussian_noise \| 1 \| 80\.20 \| 80\.90 \|/);
    assert.match(md, /\| Trouser \|/);
    assert.match(md, /AE loss plateaued/);
    assert.match(md, /"preset": "cpu"/);

    const html = readFileSync(out.html!, 'utf8');
    assert.doesNotMatch(html, /https?:\/\//i, 'the HTML must not reference anything external');
    assert.doesNotMatch(html, /<script|<link|src=/i);
    assert.equal((html.match(/<svg\b/g) ?? []).length, 4);
    assert.match(html, /&lt;check&gt;/, 'warnings are HTML-escaped');
    for (const g of data.groups) assert.ok(html.includes(`<td>${g.label ?? g.name}</td>`), `HTML row for ${g.name} missing`);

    for (const p of out.plots.filter((f) => f.endsWith('.png'))) {
      const png = readFileSync(p);
      assert.deepEqual([...png.subarray(0, 8)], PNG_SIGNATURE, `${p} is not a PNG`);
      assert.ok(png.length > 5000, `${p} looks empty (${png.length} bytes)`);
    }
    const svg = readFileSync(join(dir, 'plots', 'accuracy-hist.svg'), 'utf8');
    assert.match(svg, /^<svg/);
    assert.match(svg, /test accuracy \(%\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeReport without PNG/HTML links the SVGs and skips plots it has no data for', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdiff-report-'));
  try {
    const data = syntheticReport();
    data.curves = {};
    delete data.projection;
    for (const g of data.groups) delete g.novelty;
    const out = await writeReport(dir, data, { png: false, html: false });
    assert.equal(out.html, undefined);
    assert.deepEqual(out.plots, [join(dir, 'plots', 'accuracy-hist.svg')]);
    assert.ok(!existsSync(join(dir, 'report.html')));
    assert.match(readFileSync(out.md, 'utf8'), /\(plots\/accuracy-hist\.svg\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('summaryTable has one row per group with deltas against the originals', () => {
  const data = syntheticReport();
  const rows = summaryTable(data);
  assert.deepEqual(rows.map((r) => r.group), data.groups.map((g) => g.name));
  const orig = rows[0]!;
  assert.equal(orig.testMeanDelta, 0);
  const gen = rows.find((r) => r.group === 'generated')!;
  const g = data.groups.find((x) => x.name === 'generated')!;
  assert.equal(gen.testMean, g.test.mean);
  assert.equal(gen.testMeanDelta, g.test.mean - data.groups[0]!.test.mean);
  assert.equal(gen.iouMax, g.iouMax);
  delete g.iouMax;
  assert.equal(summaryTable(data).find((r) => r.group === 'generated')!.iouMax, null);
  assert.doesNotThrow(() => JSON.stringify(rows));
});

test('verdict is phrased from the numbers', () => {
  const data = syntheticReport();
  const o = data.groups[0]!;
  const g = data.groups.find((x) => x.name === 'generated')!;
  const e = data.groups.find((x) => x.name === 'ensemble')!;
  const v = verdict(data);
  const d = g.test.mean - o.test.mean;
  assert.ok(v.includes(`Generated test mean is ${d >= 0 ? '+' : '-'}${Math.abs(d).toFixed(2)} points`), v);
  assert.ok(v.includes(`IoU-max ${g.iouMax!.toFixed(3)} vs originals ${o.iouMax!.toFixed(3)} and ensemble ${e.iouMax!.toFixed(3)}`), v);
  assert.match(v, /sit near the checkpoint average/);
  assert.match(v, /within the seed-to-seed spread/);
  assert.match(v, /cheap baselines/i);

  const copy = verdict(syntheticReport({ generatedNovelty: { iou: 0.999, l2: 0.001 } }));
  assert.match(copy, /copying checkpoints/);
  const off = verdict(syntheticReport({ generatedDelta: -3 }));
  assert.match(off, /off the checkpoint manifold/);
  assert.doesNotMatch(off, /within the seed-to-seed spread/);
});

test('markdown escapes table cells and handles a run without a generated group', () => {
  const data = syntheticReport();
  data.groups = data.groups.filter((g) => g.name !== 'generated');
  data.groups[0]!.label = 'original | K=200';
  const md = renderMarkdown(data, []);
  assert.match(md, /\| original \\\| K=200 \|/);
  assert.match(md, /No generated group in this run/);
});
