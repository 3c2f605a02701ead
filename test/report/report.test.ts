import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupLabel, renderHtml, renderMarkdown, summaryTable, verdict, verdictHeadline, writeReport } from '../../src/report/render.js';
import { syntheticReport } from './fixtures.js';
import type { MemberMetric } from '../../src/report/types.js';
import { top5OmittedReason } from '../../src/run/stages/evaluate.js';

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
    const mainSection = md.split('## Accuracy (%) and novelty')[1]!;
    const header = mainSection.split('\n').find((l) => l.startsWith('| group | n |'));
    assert.ok(header, 'main table header missing');
    for (const col of ['val best', 'val mean', 'val median', 'val min', 'val std', 'test best', 'test mean', 'test median', 'test min', 'test std', 'test@best-val', 'IoU-max', 'NN-L2', '>= best orig.']) {
      assert.ok(header.includes(`| ${col} |`), `column ${col} missing`);
    }
    for (const g of data.groups) {
      const row = mainSection.split('\n').find((l) => l.startsWith(`| ${g.label ?? g.name} |`));
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
    for (const g of data.groups) assert.ok(html.includes(`<th scope="row" class="grp">${g.label ?? g.name}<`), `HTML row for ${g.name} missing`);

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

test('groupLabel gives readable names beside the ids, and the id itself for unknown groups', () => {
  assert.equal(groupLabel('ae_recon'), 'autoencoder reconstructions');
  assert.equal(groupLabel('original'), 'training checkpoints');
  assert.equal(groupLabel('generated'), 'sampled by the diffusion model');
  assert.equal(groupLabel('ensemble'), 'mean of all checkpoints');
  assert.equal(groupLabel('avg16'), 'means of random checkpoints');
  assert.equal(groupLabel('gauss_fit'), 'Gaussian fit to the checkpoints');
  assert.equal(groupLabel('noise_0.05'), 'checkpoints + noise 0.05');
  assert.equal(groupLabel('my_group'), 'my_group');
  assert.equal(groupLabel('constructor'), 'constructor', 'Object.prototype members are not labels');
});

test('verdictHeadline is one sentence read from the numbers, by the verdict\'s thresholds', () => {
  const data = syntheticReport();
  const o = data.groups[0]!;
  const g = data.groups.find((x) => x.name === 'generated')!;
  const e = data.groups.find((x) => x.name === 'ensemble')!;
  const h = verdictHeadline(data);
  assert.equal(
    h,
    `Generated models match the originals (test mean ${g.test.mean.toFixed(2)} vs ${o.test.mean.toFixed(2)}) but sit as close to the checkpoints ` +
      `as their average does (IoU-max ${g.iouMax!.toFixed(3)} vs ensemble ${e.iouMax!.toFixed(3)}): interpolation, not new networks.`,
  );
  // one sentence: a single full stop, at the end (decimal points are followed by digits)
  assert.equal(h.match(/\.(\s|$)/g)?.length, 1, h);

  assert.match(verdictHeadline(syntheticReport({ generatedNovelty: { iou: 0.999, l2: 0.001 } })), /^Generated models match the originals .* may be copying them\.$/);
  assert.match(verdictHeadline(syntheticReport({ generatedDelta: -3 })), /^Generated models fall well below the originals .*off the checkpoint manifold\.$/);
  assert.match(verdictHeadline(syntheticReport({ generatedDelta: -0.8 })), /^Generated models score below the originals .* and sit as close/);
  assert.match(verdictHeadline(syntheticReport({ generatedDelta: 0.9 })), /^Generated models beat the originals/);
  // originals' IoU-max is about 0.943, the ensemble's 0.932: 0.940 is below the originals but nearer to them
  assert.match(verdictHeadline(syntheticReport({ generatedNovelty: { iou: 0.940, l2: 0.5 } })), /match the originals .* and differ from the checkpoints more than the checkpoints differ from each other \(IoU-max 0\.93\d vs originals 0\.94\d\)\.$/);
  assert.match(verdictHeadline(syntheticReport({ generatedNovelty: { iou: 0.96, l2: 0.5 } })), /match the originals .* but behave like individual training checkpoints \(IoU-max 0\.9[56]\d vs originals 0\.94\d\): no sign of new networks\.$/);
  const noNovelty = syntheticReport();
  for (const x of noNovelty.groups) delete x.iouMax;
  assert.match(verdictHeadline(noNovelty), /; their novelty was not measured\.$/);
  const noGen = syntheticReport();
  noGen.groups = noGen.groups.filter((x) => x.name !== 'generated');
  assert.match(verdictHeadline(noGen), /^No generated models in this run/);
  noGen.groups = noGen.groups.filter((x) => x.name !== 'original');
  assert.match(verdictHeadline(noGen), /^No original group/);
});

test('the verdict leads with the headline, and the groups are named in markdown and HTML', () => {
  const data = syntheticReport();
  const md = renderMarkdown(data, []);
  const verdictSection = md.split('## Verdict\n\n')[1]!;
  assert.ok(verdictSection.startsWith(`**${verdictHeadline(data)}**\n\n${verdict(data)}`), verdictSection.slice(0, 200));
  assert.match(md, /## Groups\n\n\| group \| what it is \| models \|/);
  assert.match(md, /\| ae_recon \| autoencoder reconstructions \| 200 \|/);
  assert.match(md, /\| noise_0\.05 \| checkpoints \+ noise 0\.05 \| 50 \|/);

  const html = renderHtml(data, []);
  assert.match(html, /<p class="headline">Generated models match the originals/);
  assert.match(html, /<tr class="hl"><th scope="row" class="grp">generated<span class="gname">sampled by the diffusion&nbsp;model<\/span><\/th>/);
  assert.equal((html.match(/<tr class="hl">/g) ?? []).length, 2, 'the generated row of the main and the per-class table');
  assert.match(html, /<th class="num">original mean<\/th><th class="num hl">generated mean<\/th>/, 'the generated column of the shift table');
  assert.match(html, /<td class="num">80\.20<\/td><td class="num hl">80\.90<\/td>/);
  assert.match(html, /<th scope="row" class="grp">ae_recon<span class="gname">autoencoder&nbsp;reconstructions<\/span>/);
});

test('the HTML has a table of contents whose anchors exist, and every table sits in a scroll box', () => {
  const html = renderHtml(syntheticReport(), [{ title: 'a plot', svg: '<svg width="900" height="10" viewBox="0 0 900 10"></svg>' }]);
  const toc = /<nav class="toc"[^>]*>(.*?)<\/nav>/s.exec(html)?.[1];
  assert.ok(toc, 'no table of contents');
  const targets = [...toc.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]!);
  assert.deepEqual(targets, ['verdict', 'accuracy', 'per-class', 'shift', 'cost', 'stages', 'plots', 'warnings', 'reproducibility', 'configuration']);
  for (const t of targets) assert.ok(html.includes(`<h2 id="${t}">`), `anchor #${t} has no target`);
  const tables = html.match(/<table>/g)?.length ?? 0;
  assert.equal(tables, 5);
  assert.equal(html.match(/<div class="scroll"><table>/g)?.length, tables, 'a table outside a scroll box');
  assert.match(html, /\.scroll \{ overflow-x: auto;/);
  assert.match(html, /figure svg \{ max-width: 100%; height: auto;/);
});

test('the reproducibility block names version, commit, Node, backend, command and config hash, and links the run files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdiff-report-'));
  try {
    mkdirSync(join(dir, 'eval'));
    mkdirSync(join(dir, 'state'));
    writeFileSync(join(dir, 'summary.json'), '{}');
    writeFileSync(join(dir, 'eval', 'generated.json'), '{"n": 1}');
    writeFileSync(join(dir, 'state', 'ae.safetensors'), 'x');
    writeFileSync(join(dir, '.summary.json.123.tmp'), 'x');
    writeFileSync(join(dir, 'report.md'), 'an older report');
    const data = syntheticReport();
    const p = data.provenance!;
    const out = await writeReport(dir, data, { png: false, html: true });
    const md = readFileSync(out.md, 'utf8');
    const repro = md.split('## Reproducibility\n\n')[1]!.split('## Configuration')[0]!;
    assert.match(repro, /^- pdiff version: 0\.1\.0$/m);
    assert.match(repro, new RegExp(`^- git commit: \`${p.git!.commit}\` \\(branch main\\)$`, 'm'));
    assert.match(repro, /^- Node\.js: v20\.19\.0$/m);
    assert.match(repro, /^- backend: blas \(OpenBLAS sgemm/m);
    assert.ok(repro.includes(`- command: \`${p.command}\``), repro);
    assert.match(repro, new RegExp(`^- config hash: \`${p.configHash}\``, 'm'));
    assert.match(repro, /^- run folder: \[report\.md\]\(report\.md\), \[report\.html\]\(report\.html\), \[summary\.json\]\(summary\.json\) \(2 B\)$/m);
    assert.match(repro, /^- `eval\/`: \[generated\.json\]\(eval\/generated\.json\) \(8 B\)$/m);
    assert.match(repro, /^- `plots\/`: \[accuracy-hist\.svg\]\(plots\/accuracy-hist\.svg\) \(\d+\.\d KiB\), /m);
    assert.doesNotMatch(repro, /state\/|\.tmp/);

    const html = readFileSync(out.html!, 'utf8');
    const block = html.split('<h2 id="reproducibility">')[1]!.split('<h2 id="configuration">')[0]!;
    assert.ok(block.includes(`<dt>command</dt><dd><code>${p.command.replace(/"/g, '&quot;').replace(/'/g, '&#39;')}</code> <span class="note">(this report)</span></dd>`), block);
    const links = [...block.matchAll(/<a href="([^"]+)">/g)].map((m) => m[1]!);
    assert.ok(links.includes('eval/generated.json') && links.includes('report.html') && links.includes('plots/projection.svg'), links.join(' '));
    for (const l of links) assert.ok(existsSync(join(dir, decodeURIComponent(l))), `link ${l} points nowhere`);

    delete data.provenance;
    assert.match(renderMarkdown(data, []), /## Reproducibility\n\nVersion, commit, backend and command line were not recorded/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Give every group of `data` top-5 (unless `noTop5`) and macro-F1 per member, derived from its top-1 accuracies. */
function withMetrics(data: ReturnType<typeof syntheticReport>, noTop5 = false): void {
  for (const g of data.groups) {
    const { val, test } = g.accuracies;
    const mk = (f: (a: number) => number): MemberMetric => {
      const v = val.map(f), t = test.map(f);
      const mean = (a: number[]): number => a.reduce((s, x) => s + x, 0) / a.length;
      const i = val.indexOf(Math.max(...val));
      return { mean: { val: mean(v), test: mean(t) }, atBestVal: { val: v[i]!, test: t[i]! }, members: { val: v, test: t } };
    };
    if (!noTop5) g.top5 = mk((a) => Math.min(100, a + 9.5));
    g.macroF1 = mk((a) => a / 101);
  }
}

test('the top-1 / top-5 / macro-F1 tables give each group\'s mean and best-on-val member, one table per split', () => {
  const data = syntheticReport();
  withMetrics(data);
  const md = renderMarkdown(data, []);
  const section = (title: string): string[] => md.split(`## ${title}\n`)[1]!.split('\n## ')[0]!.split('\n');
  for (const split of ['test', 'val'] as const) {
    const lines = section(`Top-1, top-5 and macro-F1 on ${split}`);
    assert.ok(lines.includes('| group | n | top-1 mean | top-1 @best-val | top-5 mean | top-5 @best-val | macro-F1 mean | macro-F1 @best-val |'), lines.join('\n'));
    for (const g of data.groups) {
      const row = lines.find((l) => l.startsWith(`| ${g.label ?? g.name} |`))!;
      const cells = row.split('|').slice(1, -1).map((c) => c.trim());
      assert.deepEqual(cells.slice(2), [
        g[split].mean.toFixed(2), (split === 'test' ? g.testAtBestVal : g.val.best).toFixed(2),
        g.top5!.mean[split].toFixed(2), g.top5!.atBestVal[split].toFixed(2),
        g.macroF1!.mean[split].toFixed(4), g.macroF1!.atBestVal[split].toFixed(4),
      ], `${g.name} ${split}`);
    }
  }
  assert.match(md, /@best-val: the member with the best val top-1 accuracy/);
  // the main table keeps its 17 columns
  assert.ok(md.split('## Accuracy (%) and novelty')[1]!.split('\n').some((l) => l.startsWith('| group | n | val best |') && l.split('|').length === 19));
  const html = renderHtml(data, []);
  assert.match(html, /<li><a href="#metrics-test">Top-1, top-5 and macro-F1 on test<\/a><\/li>/);
  assert.match(html, /<h2 id="metrics-val">/);
  const gen = summaryTable(data).find((r) => r.group === 'generated')!;
  const g = data.groups.find((x) => x.name === 'generated')!;
  assert.deepEqual([gen.top5Mean, gen.top5AtBestVal, gen.macroF1Mean, gen.macroF1AtBestVal], [g.top5!.mean.test, g.top5!.atBestVal.test, g.macroF1!.mean.test, g.macroF1!.atBestVal.test]);
});

test('with fewer than 5 classes the tables leave top-5 out and say why; an older summary has no such tables', () => {
  const data = syntheticReport();
  withMetrics(data, true);
  data.top5Omitted = top5OmittedReason(3)!;
  const md = renderMarkdown(data, []);
  assert.match(md, /^## Top-1 and macro-F1 on test$/m);
  assert.match(md, /^\| group \| n \| top-1 mean \| top-1 @best-val \| macro-F1 mean \| macro-F1 @best-val \|$/m);
  assert.doesNotMatch(md, /top-5 mean/);
  assert.match(md, /Top-5 accuracy is omitted: the data set has 3 classes, and top-5 needs at least 5/);
  assert.equal(summaryTable(data)[0]!.top5Mean, null);
  const old = renderMarkdown(syntheticReport(), []);
  assert.doesNotMatch(old, /macro-F1 on test/);
  assert.equal(summaryTable(syntheticReport())[0]!.macroF1Mean, null);
});
