/**
 * The accuracy section of a report: each method's row is read from its summary (MAE and Spearman
 * inside the zoo's range, the best prompt above it against the zoo's best, novelty inside the
 * range), the verdict reads the goal, the baselines that meet it too, novelty against the zoo's
 * own spacing and the prompts above the range, and the documents, the plot and the headline show
 * them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarizeAccuracyControl, type PromptNovelty } from '../../src/accuracy/prompts.js';
import { accuracyMethodRow, accuracyVerdict } from '../../src/report/accuracy.js';
import { reportCharts, renderSvg } from '../../src/report/charts.js';
import { headlineLines } from '../../src/report/headline.js';
import { renderHtml, renderMarkdown } from '../../src/report/render.js';
import type { AccuracyMethodReport, AccuracyReport, ReportData } from '../../src/report/types.js';

const range = { lo: 40, hi: 80 };
const prompts = [40, 50, 60, 70, 80, 81, 82];
const zooBestTest = 80.5;

/** A method whose models for prompt q score `achieved(q)` and `achieved(q) + 1` (mean + 0.5), with the given novelty. */
function method(name: string, achieved: (p: number) => number, nov: PromptNovelty): AccuracyMethodReport {
  const outcomes = prompts.map((p) => ({ prompt: p, test: [achieved(p) - 0.5, achieved(p) + 0.5] }));
  return { method: name, summary: summarizeAccuracyControl({ outcomes, range, zooBestTest }), novelty: prompts.map(() => ({ ...nov })) };
}

function report(gen: (p: number) => number, genNovelty: PromptNovelty): AccuracyReport {
  return {
    prompts, perPrompt: 2, scale: range, zooBestTest, meanValTestGap: 0.4,
    zoo: { rows: 400, runs: 10, floats: 55050, nnL2: 0.3, iouMax: 0.9 },
    methods: [
      method('generated', gen, genNovelty),
      method('nearest label (2 rows)', (p) => Math.min(p, 80) + 0.2, { nnL2: 0, iouMax: 1, nearestLabel: 60 }),
      method('ridge, degree 1', (p) => (p > 60 ? 60 - (p - 60) : p), { nnL2: 2, iouMax: 0.7, nearestLabel: 60 }),
    ],
  };
}

const data = (a: AccuracyReport): ReportData => ({
  title: 'pdiff run: fashion-mnist, mlp, accuracy mode', runDir: '/tmp/x', config: {}, createdAt: '2026-01-01T00:00:00Z', base: { val: 88, test: 87 },
  groups: [], curves: {}, stages: [], warnings: [], accuracy: a,
});

describe('accuracy report', () => {
  it('reads each method\'s goal metrics, the best prompt above the range and novelty inside it', () => {
    const a = report((p) => p + 1, { nnL2: 1.2, iouMax: 0.8, nearestLabel: 60 });
    const g = accuracyMethodRow(a, a.methods[0]!);
    assert.equal(g.inside, 5);
    assert.ok(Math.abs(g.mae - 1) < 1e-9, 'every prompt inside is missed by +1');
    assert.equal(g.spearman, 1);
    assert.equal(g.meetsGoals, true);
    assert.equal(g.aboveBest, 83);
    assert.ok(Math.abs(g.gainOverZoo - 2.5) < 1e-9);
    assert.equal(g.nnL2, 1.2);
    const ridge = accuracyMethodRow(a, a.methods[2]!);
    assert.equal(ridge.meetsGoals, false);
    assert.ok(ridge.spearman < 0.9);
  });

  it('meets the goal with novelty, names the baselines that meet it too, and reads the prompts above the range', () => {
    const v = accuracyVerdict(report((p) => p + 1, { nnL2: 1.2, iouMax: 0.8, nearestLabel: 60 }))!;
    assert.equal(v.goalMet, true);
    assert.equal(v.novelAndMet, true);
    assert.match(v.headline, /^Goal met on 5 prompts inside the zoo's range \(40\.00-80\.00\): generated models reach Spearman 1\.000 and mean absolute error 1\.00 points; above the range the best prompt reaches 83\.00 against the zoo's best 80\.50 \(\+2\.50\)\.$/);
    assert.match(v.paragraph, /The goal does not need a generator: nearest label \(2 rows\) \(MAE 0\.20, Spearman 1\.000\) meets it too\./);
    assert.match(v.paragraph, /The best baseline by MAE is nearest label \(2 rows\) \(0\.20\); the generated models are \+0\.80 points against it\./);
    assert.match(v.paragraph, /1\.200 from the nearest zoo row in raw parameters, against 0\.300 between neighbouring zoo rows, IoU-max 0\.800 \(zoo rows against each other 0\.900\): they are not copies of zoo rows\./);
    assert.match(v.paragraph, /above the zoo's best test accuracy 80\.50 \(\+2\.50\): a model better than any the generator learnt from/);

    const copies = accuracyVerdict(report((p) => p, { nnL2: 0.1, iouMax: 0.99, nearestLabel: 60 }))!;
    assert.equal(copies.goalMet, true);
    assert.equal(copies.novelAndMet, false, 'closer to the zoo than its rows are to each other');
    assert.match(copies.paragraph, /they are as close to zoo rows as the rows are to each other/);

    const flat = accuracyVerdict(report(() => 60, { nnL2: 1, iouMax: 0.8, nearestLabel: 60 }))!;
    assert.equal(flat.goalMet, false);
    assert.match(flat.paragraph, /Spearman >= 0\.9 \(not met: -\) and MAE <= 1\.5 points \(not met: 12\.00/);
    assert.match(flat.paragraph, /not above the zoo's best test accuracy 80\.50 \(-20\.50\)/);
  });

  it('the documents show the methods and the prompts instead of the group tables, with the plot and the headline lines', async () => {
    const d = data(report((p) => p + 1, { nnL2: 1.2, iouMax: 0.8, nearestLabel: 60 }));
    const md = renderMarkdown(d, []);
    assert.match(md, /^\*\*Goal met on 5 prompts inside/m);
    assert.match(md, /^\| method \| MAE inside \| Spearman inside \| max \\\|error\\\| \| Spearman all \| goal \| best above range \| vs zoo best \| NN-L2 \| IoU-max \|$/m);
    assert.match(md, /^\| generated \| 1\.00 \| 1\.000 \| 1\.00 \| 1\.000 \| met \| 83\.00 \| \+2\.50 \| 1\.200 \| 0\.800 \|$/m);
    assert.match(md, /^\| zoo rows \(400, each against the others\) \|/m);
    assert.match(md, /^\| 81\.00 \| above \| 82\.00 \| 0\.71 \| \+1\.00 \| 80\.20 \| 39\.00 \| 1\.200 \| 0\.800 \| 60\.00 \|$/m);
    assert.ok(!md.includes('## Accuracy (%) and novelty'));
    const html = renderHtml(d, []);
    assert.ok(html.includes('<h2 id="accuracy">') && html.includes('<h2 id="accuracy-prompts">') && !html.includes('id="tasks"'));
    const charts = reportCharts(d);
    assert.deepEqual(charts.map((c) => c.name), ['accuracy-control']);
    const svg = await renderSvg(charts[0]!.spec);
    assert.ok(svg.startsWith('<svg') && svg.includes('prompt: target test accuracy'));
    const lines = headlineLines(d, { md: '/tmp/x/report.md' });
    assert.match(lines[0]!, /^generated {19}MAE 1\.00 points, Spearman 1\.000 over 5 prompts inside the range, best above the range 83\.00 %$/);
    assert.match(lines[1]!, /^nearest label \(2 rows\)/);
    assert.match(lines.find((l) => l.startsWith('verdict: '))!, /^verdict: Goal met on 5 prompts/);
  });
});
