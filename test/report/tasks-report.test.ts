/**
 * The task section of a report: the rows are means over codes of means over models, the verdict
 * reads the goal and the ridge comparison from the numbers, and the documents, the plot and the
 * headline show them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reportCharts } from '../../src/report/charts.js';
import { headlineLines } from '../../src/report/headline.js';
import { renderHtml, renderMarkdown } from '../../src/report/render.js';
import { pairedDiff, taskSummaryRows, taskVerdict } from '../../src/report/tasks.js';
import type { ReportData, TaskCodeReport, TaskReport } from '../../src/report/types.js';

/** A code whose methods score the given test accuracies (val = test, except the generated models' first). */
function code(name: string, seen: boolean, gen: number[], oracle: number, nearest: number, ridge: number): TaskCodeReport {
  return {
    code: name, seen,
    generated: { val: gen.map((g, i) => (i === 0 ? 99 : g)), test: gen },
    oracle: { val: [oracle, oracle], test: [oracle - 1, oracle + 1] },
    nearest: { distance: seen ? 0 : 1, codes: [name], val: [nearest], test: [nearest] },
    meanSeen: { val: 60, test: 60 }, ridge: { val: ridge, test: ridge }, majority: { val: 70, test: 70 },
  };
}

function report(codes: TaskCodeReport[]): TaskReport {
  return { zooTasks: 972, k: 10, heldOut: 3, perCode: 2, params: ['bn3.weight', 'bn3.bias', 'fc.weight', 'fc.bias'], floats: 258, guidance: 1, ridgeLambda: 1e-3, codes };
}

const data = (t: TaskReport): ReportData => ({
  title: 'pdiff run: fashion-mnist, cnn-s, task mode', runDir: '/tmp/x', config: {}, createdAt: '2026-01-01T00:00:00Z', base: { val: 90, test: 89 },
  groups: [], curves: {}, stages: [], warnings: [], tasks: t,
});

describe('task report', () => {
  it('summarises unseen and seen codes as means over codes of means over models', () => {
    const t = report([code('0000000011', false, [90, 94], 93, 85, 88), code('0000000101', false, [80, 82], 82, 76, 79), code('0000001001', true, [95, 95], 96, 96, 90)]);
    const [u, s] = taskSummaryRows(t);
    assert.deepEqual(u, { set: 'unseen', codes: 2, generatedMean: (92 + 81) / 2, generatedBestVal: (90 + 80) / 2, oracle: (93 + 82) / 2, nearest: (85 + 76) / 2, meanSeen: 60, ridge: (88 + 79) / 2, majority: 70 });
    assert.equal(s!.codes, 1);
    assert.equal(s!.generatedMean, 95);
  });

  it('meets the goal within 1 point of the oracle and 3 above nearest seen, and reads ridge by its paired standard error', () => {
    const met = taskVerdict(report([code('0000000011', false, [92, 92], 92.5, 85, 88), code('0000000101', false, [81, 81], 81.5, 76, 79), code('0000000111', false, [86, 86], 86.2, 80, 82)]))!;
    assert.equal(met.goalMet, true);
    assert.ok(Math.abs(met.oracleGap - (92.5 + 81.5 + 86.2 - 92 - 81 - 86) / 3) < 1e-9);
    assert.equal(met.ridge.reading, 'beats');
    assert.match(met.headline, /^Goal met on 3 unseen codes: generated models reach 86\.33 % test, 0\.40 points below the oracle \(86\.73\) and \+6\.00 against the nearest seen task \(80\.33\); diffusion beats the ridge baseline \(83\.00\)\.$/);
    const far = taskVerdict(report([code('0000000011', false, [90, 90], 92, 85, 88), code('0000000101', false, [80, 80], 82, 78, 81)]))!;
    assert.equal(far.goalMet, false, 'two points below the oracle');
    assert.match(far.paragraph, /within 1\.0 point of the oracle \(not met: -2\.00\) and at least 3\.0 points above the nearest seen task \(met: \+3\.50, above it on 2 of 2 codes\)/);
    const close = taskVerdict(report([code('0000000011', false, [90, 90], 90.5, 89, 88), code('0000000101', false, [80, 80], 80.5, 78, 81)]))!;
    assert.equal(close.goalMet, false, 'only 1.5 points above nearest seen');
    assert.equal(close.ridge.reading, 'ties');
    assert.equal(taskVerdict(report([code('0000001001', true, [95, 95], 96, 96, 90)])), null, 'no unseen codes, no verdict');
    assert.deepEqual(pairedDiff([1, 2, 3], [2, 3, 4]), { diff: -1, se: 0, wins: 0, n: 3, reading: 'loses' });
  });

  it('the documents show the tables and the verdict instead of the group tables, with the scatter plot and the headline lines', () => {
    const d = data(report([code('0000000011', false, [92, 92], 92.5, 85, 88), code('0000000101', false, [81, 81], 81.5, 76, 79), code('0000001001', true, [95, 95], 96, 96, 90)]));
    const md = renderMarkdown(d, []);
    assert.match(md, /^\*\*Goal met on 2 unseen codes/m);
    assert.match(md, /^\| codes \| n \| generated mean \| generated @best-val \| oracle \| nearest seen \| mean seen \| ridge \| majority class \|$/m);
    assert.match(md, /^\| unseen \| 2 \| 86\.50 \| 86\.50 \| 87\.00 \| 80\.50 \| 60\.00 \| 83\.50 \| 70\.00 \|$/m);
    assert.match(md, /^\| 0000001001 \| seen \| 95\.00 \| 95\.00 \| 96\.00 \| 96\.00 \| 0 \| 60\.00 \| 90\.00 \| 70\.00 \|$/m);
    assert.ok(!md.includes('## Groups') && !md.includes('## Accuracy (%) and novelty'));
    const html = renderHtml(d, []);
    assert.ok(html.includes('<h2 id="tasks">') && !html.includes('id="accuracy"'));
    assert.deepEqual(reportCharts(d).map((c) => c.name), ['tasks-generated-vs-oracle']);
    const lines = headlineLines(d, { md: '/tmp/x/report.md' });
    assert.match(lines[0]!, /^unseen codes {3}generated 86\.50 % \(@best-val 86\.50 %\), oracle 87\.00 %, nearest seen 80\.50 %, ridge 83\.50 % \(2 codes\)$/);
    assert.match(lines[1]!, /^seen codes {5}generated 95\.00 %/);
    assert.match(lines[2]!, /^verdict: Goal met on 2 unseen codes/);
  });
});
