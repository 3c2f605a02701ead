/**
 * The lines `pdiff run` prints when a run finishes: the three test means a reader looks for
 * first (originals, generated, the best cheap baseline), each with test accuracy of the member
 * picked on val (a task run: its unseen and seen codes' means; an accuracy run: each method's
 * error inside the zoo's range), the verdict's headline sentence,
 * and where the report is.
 */
import { bestBaseline } from './charts.js';
import { groupLabel, verdictHeadline } from './render.js';
import { accuracyMethodRow } from './accuracy.js';
import { taskSummaryRows } from './tasks.js';
import type { GroupReport, ReportData } from './types.js';

/** Plain-text headline of a finished run (no trailing newline on the lines). */
export function headlineLines(data: ReportData, files: { md: string; html?: string }): string[] {
  const by = (n: string): GroupReport | undefined => data.groups.find((g) => g.name === n);
  const rows: [string, GroupReport | undefined, string][] = [['originals', by('original'), ''], ['generated', by('generated'), '']];
  const bb = by(bestBaseline(data.groups) ?? '');
  if (bb) rows.push(['best baseline', bb, `${bb.name}: ${groupLabel(bb.name)}, `]);
  const out: string[] = [];
  // a task-conditioned run: the mean test accuracies over its unseen and seen codes
  for (const r of data.tasks ? taskSummaryRows(data.tasks) : []) {
    out.push(`${`${r.set} codes`.padEnd(13)}  generated ${r.generatedMean.toFixed(2)} % (@best-val ${r.generatedBestVal.toFixed(2)} %), oracle ${r.oracle.toFixed(2)} %, ` +
      `nearest seen ${r.nearest.toFixed(2)} %, ridge ${r.ridge.toFixed(2)} % (${r.codes} code${r.codes === 1 ? '' : 's'})`);
  }
  // an accuracy-conditioned run: each method's error and rank correlation inside the zoo's range
  const acc = data.accuracy;
  for (const m of acc ? acc.methods : []) {
    const r = accuracyMethodRow(acc!, m);
    out.push(`${r.method.padEnd(26)}  MAE ${r.mae.toFixed(2)} points, Spearman ${r.spearman.toFixed(3)} over ${r.inside} prompts inside the range` +
      `${Number.isFinite(r.aboveBest) ? `, best above the range ${r.aboveBest.toFixed(2)} %` : ''}`);
  }
  for (const [label, g, what] of rows) {
    if (!g) continue;
    out.push(`${label.padEnd(13)}  test mean ${g.test.mean.toFixed(2)} %, test@best-val ${g.testAtBestVal.toFixed(2)} % (${what}${g.n} model${g.n === 1 ? '' : 's'})`);
  }
  out.push(`verdict: ${verdictHeadline(data)}`);
  out.push(`report: ${files.md}`);
  if (files.html) out.push(`        ${files.html}`);
  return out;
}
