/**
 * The lines `pdiff run` prints when a run finishes: the three test means a reader looks for
 * first (originals, generated, the best cheap baseline), each with test accuracy of the member
 * picked on val, the verdict's headline sentence, and where the report is.
 */
import { bestBaseline } from './charts.js';
import { groupLabel, verdictHeadline } from './render.js';
import type { GroupReport, ReportData } from './types.js';

/** Plain-text headline of a finished run (no trailing newline on the lines). */
export function headlineLines(data: ReportData, files: { md: string; html?: string }): string[] {
  const by = (n: string): GroupReport | undefined => data.groups.find((g) => g.name === n);
  const rows: [string, GroupReport | undefined, string][] = [['originals', by('original'), ''], ['generated', by('generated'), '']];
  const bb = by(bestBaseline(data.groups) ?? '');
  if (bb) rows.push(['best baseline', bb, `${bb.name}: ${groupLabel(bb.name)}, `]);
  const out: string[] = [];
  for (const [label, g, what] of rows) {
    if (!g) continue;
    out.push(`${label.padEnd(13)}  test mean ${g.test.mean.toFixed(2)} %, test@best-val ${g.testAtBestVal.toFixed(2)} % (${what}${g.n} model${g.n === 1 ? '' : 's'})`);
  }
  out.push(`verdict: ${verdictHeadline(data)}`);
  out.push(`report: ${files.md}`);
  if (files.html) out.push(`        ${files.html}`);
  return out;
}
