/**
 * report.md, report.html and plots/ of a run, from a ReportData.
 *
 * Tables are built once as plain cells and printed twice (markdown, HTML). The HTML is
 * self-contained: inline CSS and inline SVG plots, no scripts, no external requests; it has a
 * table of contents, and fits a narrow window (wide tables scroll in their own box, plots shrink;
 * test/report/browser.test.ts checks this in headless Chromium).
 * The verdict (verdict.ts) is a headline sentence, then a paragraph phrased from the numbers.
 * A reproducibility section names version, commit, backend, command line and config hash, and
 * links every file of the run folder.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { reportCharts, renderSvg, svgToPng } from './charts.js';
import { DASH, finite, fAcc, fIou, fFrac, fSigned, fL2, fInt, fNum, fSeconds } from './format.js';
import { listRunFiles } from './provenance.js';
import { accuracyMethodTable, accuracyNote, accuracyPromptTable } from './accuracy.js';
import { taskCodeTable, taskNote, taskSummaryTable } from './tasks.js';
import { verdict, verdictHeadline } from './verdict.js';
import { GROUP, groupLabel, type GroupReport, type InterpolationReport, type ReportData, type RunFile, type SummaryRow } from './types.js';

export { groupLabel, GROUP_LABELS } from './types.js';
export { verdict, verdictHeadline } from './verdict.js';

export interface WriteReportOptions {
  /** Also rasterise every plot to plots/<name>.png (markdown then links the PNGs). */
  png: boolean;
  /** Also write the self-contained report.html. */
  html: boolean;
}

export interface WrittenReport {
  /** Path of report.md. */
  md: string;
  /** Path of report.html, when written. */
  html?: string;
  /** Paths of the plot files written (SVG, and PNG when asked). */
  plots: string[];
}

/** The group's table cell: its longer label when it has one, else its id. */
function groupCell(g: GroupReport): string {
  return g.label ?? g.name;
}

// ---------------------------------------------------------------------------------------------
// Summary rows (--json)

function orNull(v: number | undefined): number | null {
  return finite(v) ? v : null;
}

/** One row per group with every number of the main table; null where not measured. */
export function summaryTable(data: ReportData): SummaryRow[] {
  const orig = data.groups.find((g) => g.name === GROUP.original);
  return data.groups.map((g) => ({
    group: g.name,
    n: g.n,
    valBest: g.val.best,
    valMean: g.val.mean,
    valMedian: g.val.median,
    valMin: g.val.min,
    valStd: g.val.std,
    testBest: g.test.best,
    testMean: g.test.mean,
    testMedian: g.test.median,
    testMin: g.test.min,
    testStd: g.test.std,
    testAtBestVal: g.testAtBestVal,
    testMeanDelta: orig ? g.test.mean - orig.test.mean : null,
    iouMax: orNull(g.iouMax),
    nnL2: orNull(g.nnL2),
    fracAtLeastBestOriginal: orNull(g.fracAtLeastBestOriginal),
    top5Mean: orNull(g.top5?.mean.test),
    top5AtBestVal: orNull(g.top5?.atBestVal.test),
    macroF1Mean: orNull(g.macroF1?.mean.test),
    macroF1AtBestVal: orNull(g.macroF1?.atBestVal.test),
  }));
}

// ---------------------------------------------------------------------------------------------
// Tables

interface Table {
  headers: string[];
  /** 'l' or 'r' per column. */
  align: Array<'l' | 'r'>;
  rows: string[][];
  /**
   * The group id each row is about, when the first column names a group: the HTML then prints
   * the group's readable name beside it and highlights the generated row.
   */
  groups?: string[];
  /** Index of a column about the generated group (highlighted in HTML, like the generated row). */
  generatedColumn?: number;
}

function mainTable(data: ReportData): Table {
  const orig = data.groups.find((g) => g.name === GROUP.original);
  const headers = [
    'group', 'n',
    'val best', 'val mean', 'val median', 'val min', 'val std',
    'test best', 'test mean', 'test median', 'test min', 'test std',
    'test@best-val', 'Δ test mean', 'IoU-max', 'NN-L2',
  ];
  // multi-seed zoos: the distance to the nearest seed's centre as well
  const seedMean = data.groups.some((g) => finite(g.nnL2SeedMean));
  if (seedMean) headers.push('NN-L2 seed mean');
  headers.push('>= best orig.');
  const rows = data.groups.map((g) => [
    groupCell(g),
    String(g.n),
    fAcc(g.val.best), fAcc(g.val.mean), fAcc(g.val.median), fAcc(g.val.min), fAcc(g.val.std),
    fAcc(g.test.best), fAcc(g.test.mean), fAcc(g.test.median), fAcc(g.test.min), fAcc(g.test.std),
    fAcc(g.testAtBestVal),
    orig ? fSigned(g.test.mean - orig.test.mean) : DASH,
    fIou(g.iouMax), fL2(g.nnL2), ...(seedMean ? [fL2(g.nnL2SeedMean)] : []), fFrac(g.fracAtLeastBestOriginal),
  ]);
  return { headers, align: headers.map((_, i) => (i === 0 ? 'l' : 'r')), rows, groups: data.groups.map((g) => g.name) };
}

/**
 * Top-1, top-5 and macro-F1 of every group on one split: each the mean over the members and the
 * value of the best-on-val member. Top-5 columns only when some group has top-5; undefined when no
 * group has either (summaries written before they were added).
 */
function metricsTable(data: ReportData, split: 'val' | 'test'): Table | undefined {
  const hasTop5 = data.groups.some((g) => g.top5), hasF1 = data.groups.some((g) => g.macroF1);
  if (!hasTop5 && !hasF1) return undefined;
  const headers = [
    'group', 'n', 'top-1 mean', 'top-1 @best-val',
    ...(hasTop5 ? ['top-5 mean', 'top-5 @best-val'] : []),
    ...(hasF1 ? ['macro-F1 mean', 'macro-F1 @best-val'] : []),
  ];
  const rows = data.groups.map((g) => [
    groupCell(g), String(g.n),
    fAcc(g[split].mean), fAcc(split === 'test' ? g.testAtBestVal : g.val.best),
    ...(hasTop5 ? [fAcc(g.top5?.mean[split]), fAcc(g.top5?.atBestVal[split])] : []),
    ...(hasF1 ? [fNum(g.macroF1?.mean[split], 4), fNum(g.macroF1?.atBestVal[split], 4)] : []),
  ]);
  return { headers, align: headers.map((_, i) => (i === 0 ? 'l' : 'r')), rows, groups: data.groups.map((g) => g.name) };
}

/** The note above the top-5 / macro-F1 tables: what the columns are, and why top-5 is missing when it is. */
function metricsNote(data: ReportData): string {
  return 'Accuracies in percent, macro-F1 in [0, 1] (averaged over the classes present in the labels or the predictions). ' +
    'mean: over the group\'s members; @best-val: the member with the best val top-1 accuracy (the member of test@best-val).' +
    (data.top5Omitted ? ` ${data.top5Omitted.charAt(0).toUpperCase()}${data.top5Omitted.slice(1)}.` : '');
}

/** The groups of the run with their readable names (the markdown's legend to the tables). */
function groupsTable(data: ReportData): Table {
  const rows = data.groups.map((g) => [groupCell(g), groupLabel(g.name), String(g.n)]);
  return { headers: ['group', 'what it is', 'models'], align: ['l', 'l', 'r'], rows };
}

function perClassTable(data: ReportData): Table | undefined {
  const pc = data.perClass;
  if (!pc || pc.rows.length === 0) return undefined;
  const hasF1 = pc.rows.some((r) => finite(r.macroF1));
  const headers = ['group', ...pc.classNames, ...(hasF1 ? ['macro-F1'] : [])];
  const rows = pc.rows.map((r) => [
    r.group,
    ...pc.classNames.map((_, c) => fAcc(r.accuracy[c])),
    ...(hasF1 ? [fNum(r.macroF1, 4)] : []),
  ]);
  return { headers, align: headers.map((_, i) => (i === 0 ? 'l' : 'r')), rows, groups: pc.rows.map((r) => r.group) };
}

function shiftTable(data: ReportData): Table | undefined {
  const shift = data.shift;
  if (!shift || shift.length === 0) return undefined;
  const groups: string[] = [];
  const conds: Array<{ kind: string; severity: number }> = [];
  const cell = new Map<string, number>();
  for (const s of shift) {
    if (!groups.includes(s.group)) groups.push(s.group);
    if (!conds.some((c) => c.kind === s.kind && c.severity === s.severity)) conds.push({ kind: s.kind, severity: s.severity });
    cell.set(`${s.kind}\u0000${s.severity}\u0000${s.group}`, s.meanAcc);
  }
  const headers = ['shift', 'severity', ...groups.map((g) => `${g} mean`)];
  const rows = conds.map((c) => [c.kind, String(c.severity), ...groups.map((g) => fAcc(cell.get(`${c.kind}\u0000${c.severity}\u0000${g}`)))]);
  const gen = groups.indexOf(GROUP.generated);
  return { headers, align: headers.map((_, i) => (i < 1 ? 'l' : 'r')), rows, ...(gen >= 0 ? { generatedColumn: 2 + gen } : {}) };
}

function secondDatasetTable(data: ReportData): Table | undefined {
  const rows = data.secondDataset;
  if (!rows || rows.length === 0) return undefined;
  const headers = ['group', 'mean accuracy', 'best accuracy', 'models'];
  return {
    headers, align: ['l', 'r', 'r', 'r'],
    rows: rows.map((r) => [r.group, fAcc(r.meanAcc), fAcc(r.bestAcc), String(r.accs.length)]),
    groups: rows.map((r) => r.group),
  };
}

/** The second dataset's split name(s), e.g. 'mnist/test', for its section title. */
function secondDatasetName(data: ReportData): string {
  return [...new Set((data.secondDataset ?? []).map((r) => r.dataset))].join(', ');
}

const SECOND_DATASET_NOTE =
  'Its classes are matched to the model\'s by index (e.g. MNIST digit k counts as right when a Fashion-MNIST classifier predicts its class k), ' +
  'so this accuracy measures how far out of distribution the models are, not a task they learned.';

/** The loss barrier between two seeds, naive and aligned: test loss at both ends and the midpoint, accuracy at the midpoint. */
function barrierTable(data: ReportData): Table | undefined {
  const it = data.seeds?.interpolation;
  if (!it) return undefined;
  const mid = it.alphas.findIndex((a) => Math.abs(a - 0.5) < 1e-9);
  const line = (name: string, l: InterpolationReport): string[] => [
    name, fNum(l.loss[0], 4), mid >= 0 ? fNum(l.loss[mid], 4) : DASH, fNum(l.loss[l.loss.length - 1], 4), fNum(l.barrier, 4),
    fAcc(l.acc[0]), mid >= 0 ? fAcc(l.acc[mid]) : DASH, fAcc(l.acc[l.acc.length - 1]),
  ];
  const rows = [line('naive', it.naive), ...(it.aligned ? [line('aligned (weight matching)', it.aligned)] : [])];
  return {
    headers: ['path', `loss seed ${it.from}`, 'loss midpoint', `loss seed ${it.to}`, 'loss barrier', `acc seed ${it.from}`, 'acc midpoint', `acc seed ${it.to}`],
    align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'], rows,
  };
}

function barrierNote(data: ReportData): string {
  const s = data.seeds!;
  return `Test cross-entropy and accuracy (%) along theta(alpha) = (1 - alpha) theta_${s.interpolation.from} + alpha theta_${s.interpolation.to} between the base models of two seeds; ` +
    'the barrier is the largest excess of the loss over the straight line between the two ends. "aligned" permutes the second network\'s hidden units to match the first (weight matching); ' +
    'the ends are the same networks either way.';
}

/** The seeds of a multi-seed zoo: where each base model came from, its accuracy, and how far alignment moved it. */
function seedsTable(data: ReportData): Table | undefined {
  const s = data.seeds;
  if (!s) return undefined;
  const rows = s.seeds.map((m) => {
    const match = s.matching.find((x) => x.seed === m.index);
    return [String(m.index), m.source === 'trained' ? `trained, seed ${m.runSeed}` : m.source, fAcc(m.val), fAcc(m.test),
      m.index === 0 ? 'reference' : match ? `${match.unitsMoved} of ${match.units}` : DASH];
  });
  return { headers: ['seed', 'base model', 'val', 'test', 'units moved by matching'], align: ['r', 'l', 'r', 'r', 'r'], rows };
}

/** What the cross-seed baselines mean in this zoo (docs/seeds.md#baselines-across-seeds). */
function seedsNote(data: ReportData): string {
  const s = data.seeds!;
  const how = s.align === 'none'
    ? 'The zoo is NOT aligned: each seed keeps its own order of hidden units.'
    : 'The zoo is aligned: every seed\'s hidden units were permuted to match seed 0 (weight matching) before the autoencoder saw them.';
  return `${s.seeds.length} seeds x ${s.k} checkpoints. ${how} The ensemble, avg16 and gauss_fit baselines draw across all seeds, so their meaning depends on this: ` +
    (s.align === 'none'
      ? 'they average or mix units that do not correspond, so they are the naive interpolation of the table above and are expected to fall far below the originals.'
      : 'they average matched units, i.e. points inside the aligned basin; they measure how far a simple average of aligned networks gets, which is what the generated models must beat.') +
    ' NN-L2 seed mean: distance to the nearest seed\'s mean checkpoint.';
}

function costTable(data: ReportData): Table | undefined {
  const c = data.cost;
  if (!c) return undefined;
  const rows: string[][] = [
    ['learnable parameters', fInt(c.params)],
    ['multiply-adds per example', fInt(c.macs)],
  ];
  if (finite(c.latencyMsBatch1)) rows.push(['forward latency, batch 1', `${fNum(c.latencyMsBatch1, 3)} ms`]);
  if (finite(c.latencyMsBatch128)) rows.push(['forward latency, batch 128', `${fNum(c.latencyMsBatch128, 2)} ms`]);
  // the same model exported to ONNX, beside pdiff's engine (docs/export.md#latency)
  const ort = c.onnxRuntime ?? 'ONNX Runtime';
  if (finite(c.onnxLatencyMsBatch1)) rows.push([`forward latency, batch 1, ${ort}`, `${fNum(c.onnxLatencyMsBatch1, 3)} ms`]);
  if (finite(c.onnxLatencyMsBatch128)) rows.push([`forward latency, batch 128, ${ort}`, `${fNum(c.onnxLatencyMsBatch128, 2)} ms`]);
  if (c.onnxLatencyMissing !== undefined) rows.push(['forward latency, ONNX Runtime', `not measured: ${c.onnxLatencyMissing}`]);
  if (finite(c.peakRssMb)) rows.push(['peak RSS', `${fNum(c.peakRssMb, 0)} MiB`]);
  if (finite(c.generateSecondsPerModel)) rows.push(['generation per model', `${fNum(c.generateSecondsPerModel, 4)} s`]);
  if (finite(c.trainSecondsPerCheckpoint)) rows.push(['collection per checkpoint', `${fNum(c.trainSecondsPerCheckpoint, 4)} s`]);
  if (c.backend !== undefined) rows.push(['backend', c.backend]);
  return { headers: ['quantity', 'value'], align: ['l', 'r'], rows };
}

function stageTable(data: ReportData): Table | undefined {
  if (data.stages.length === 0) return undefined;
  let total = 0;
  for (const s of data.stages) if (finite(s.seconds)) total += s.seconds;
  const rows = data.stages.map((s) => [s.name, fSeconds(s.seconds), total > 0 && finite(s.seconds) ? `${((100 * s.seconds) / total).toFixed(1)} %` : DASH]);
  rows.push(['total', fSeconds(total), total > 0 ? '100.0 %' : DASH]);
  return { headers: ['stage', 'wall time', 'share'], align: ['l', 'r', 'r'], rows };
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function mdTable(t: Table): string {
  const head = `| ${t.headers.map(mdCell).join(' | ')} |`;
  const sep = `|${t.align.map((a) => (a === 'r' ? '---:' : ':---')).join('|')}|`;
  const body = t.rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`);
  return [head, sep, ...body].join('\n');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/**
 * A table wrapped in a horizontal scroll box, so a wide table scrolls inside the page instead of
 * widening it (or being clipped) on a narrow window. Rows about a group start with a row header
 * holding the id and its readable name; it stays in view while the table scrolls sideways.
 */
function htmlTable(t: Table): string {
  const cls = (i: number): string => {
    const c = [...(t.align[i] === 'r' ? ['num'] : []), ...(i === t.generatedColumn ? ['hl'] : [])];
    return c.length > 0 ? ` class="${c.join(' ')}"` : '';
  };
  const head = `<tr>${t.headers.map((h, i) => `<th${i === 0 && t.groups ? ' class="grp"' : cls(i)}>${esc(h)}</th>`).join('')}</tr>`;
  const body = t.rows
    .map((r, ri) => {
      const id = t.groups?.[ri];
      const cells = r.map((c, i) => {
        if (i !== 0 || id === undefined) return `<td${cls(i)}>${esc(c)}</td>`;
        const label = groupLabel(id);
        // The last two words stay together: 'checkpoints + noise' over a lone '0.05' reads badly.
        const name = label !== id && label !== c ? `<span class="gname">${esc(label).replace(/ (\S+)$/, '&nbsp;$1')}</span>` : '';
        return `<th scope="row" class="grp">${esc(c)}${name}</th>`;
      });
      return `<tr${id === GROUP.generated ? ' class="hl"' : ''}>${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<div class="scroll"><table>\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody>\n</table></div>`;
}

// ---------------------------------------------------------------------------------------------
// Documents

interface PlotRef {
  title: string;
  /** Relative link for markdown (plots/<name>.png or .svg). */
  link: string;
  /** SVG source, for inlining into HTML. */
  svg: string;
}

function configJson(data: ReportData): string {
  return JSON.stringify(data.config, null, 2);
}

function headerLines(data: ReportData): string[] {
  return [
    `Run folder: ${data.runDir}`,
    `Created: ${data.createdAt}`,
    `Base model: val ${fAcc(data.base.val)} %, test ${fAcc(data.base.test)} %`,
  ];
}

const MAIN_NOTE =
  'test@best-val: test accuracy of the member with the best val accuracy. Δ test mean: against the originals. ' +
  'IoU-max: wrong-set overlap with the nearest checkpoint (1 = same errors). ' +
  'NN-L2: distance to the nearest checkpoint in raw parameter space. Novelty is averaged over the group.';

/** A result section: its id, title, table and an optional one-line note printed above the table. */
interface ResultSection { id: string; title: string; table: Table; note?: string }

function metricsTitle(data: ReportData, split: 'val' | 'test'): string {
  const top5 = data.groups.some((g) => g.top5);
  return `${top5 ? 'Top-1, top-5' : 'Top-1'} and macro-F1 on ${split}`;
}

/** The result tables after the main one, with their section ids. */
function resultTables(data: ReportData): ResultSection[] {
  const all: Array<Omit<ResultSection, 'table'> & { table: Table | undefined }> = [
    // a task-conditioned run (docs/tasks.md#report): its results are these tables, not groups
    ...(data.tasks ? [
      { id: 'tasks', title: 'Tasks: generated against oracle and baselines, test accuracy (%)', table: taskSummaryTable(data.tasks), note: taskNote(data.tasks) },
      { id: 'task-codes', title: 'Tasks: every evaluated code, test accuracy (%)', table: taskCodeTable(data.tasks) },
    ] : []),
    // an accuracy-conditioned run (docs/accuracy.md#report): its methods over the prompt grid
    ...(data.accuracy ? [
      { id: 'accuracy', title: 'Target accuracy: generated against baselines', table: accuracyMethodTable(data.accuracy), note: accuracyNote(data.accuracy) },
      { id: 'accuracy-prompts', title: 'Target accuracy: every prompt, achieved test accuracy (%)', table: accuracyPromptTable(data.accuracy) },
    ] : []),
    { id: 'metrics-test', title: metricsTitle(data, 'test'), table: metricsTable(data, 'test'), note: metricsNote(data) },
    { id: 'metrics-val', title: metricsTitle(data, 'val'), table: metricsTable(data, 'val') },
    { id: 'per-class', title: 'Per-class test accuracy (%)', table: perClassTable(data) },
    { id: 'shift', title: 'Distribution shift: mean test accuracy (%)', table: shiftTable(data) },
    { id: 'second-dataset', title: `Second dataset: accuracy (%) on ${secondDatasetName(data)}`, table: secondDatasetTable(data), note: SECOND_DATASET_NOTE },
    { id: 'seeds', title: 'Seeds of the zoo', table: seedsTable(data), ...(data.seeds ? { note: seedsNote(data) } : {}) },
    { id: 'barrier', title: 'Loss barrier between two seeds', table: barrierTable(data), ...(data.seeds ? { note: barrierNote(data) } : {}) },
    { id: 'cost', title: 'Cost', table: costTable(data) },
    { id: 'stages', title: 'Stage wall times', table: stageTable(data) },
  ];
  return all.filter((s): s is ResultSection => s.table !== undefined);
}

function fBytes(n: number | undefined): string {
  if (!finite(n)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/** A relative link to a run file: each path segment URI-encoded. */
function fileHref(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** Files grouped by folder ('' for the run folder itself), in listing order. */
function filesByFolder(files: readonly RunFile[]): Array<{ folder: string; files: RunFile[] }> {
  const out: Array<{ folder: string; files: RunFile[] }> = [];
  for (const f of files) {
    const cut = f.path.lastIndexOf('/');
    const folder = cut < 0 ? '' : f.path.slice(0, cut + 1);
    let bucket = out.find((b) => b.folder === folder);
    if (!bucket) out.push((bucket = { folder, files: [] }));
    bucket.files.push(f);
  }
  return out;
}

/** The reproducibility facts as label/value pairs; `code` values are printed as code. */
function provenanceItems(data: ReportData): Array<{ label: string; value: string; code?: boolean; note?: string }> {
  const p = data.provenance;
  if (!p) return [];
  return [
    { label: 'pdiff version', value: p.pdiffVersion },
    p.git
      ? { label: 'git commit', value: p.git.commit, code: true, note: p.git.branch !== null ? `branch ${p.git.branch}` : 'detached HEAD' }
      : { label: 'git commit', value: 'none (not a git checkout)' },
    { label: 'Node.js', value: p.node },
    { label: 'backend', value: p.backend, note: p.device },
    { label: 'command', value: p.command, code: true, note: 'this report' },
    ...(p.earlierCommands ?? []).map((c) => ({ label: 'earlier command', value: c, code: true })),
    { label: 'config hash', value: p.configHash, code: true, note: 'sha256 of the canonical JSON of config.json without "out"' },
  ];
}

/** Inline code in markdown: a backtick fence longer than any run of backticks inside. */
function mdCode(s: string): string {
  const longest = Math.max(0, ...(s.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${s.replace(/\r?\n/g, ' ')}${pad}${fence}`;
}

function mdLinkText(s: string): string {
  return s.replace(/([\\[\]])/g, '\\$1');
}

const NO_PROVENANCE = 'Version, commit, backend and command line were not recorded for this report.';

function reproducibilityMarkdown(data: ReportData): string[] {
  const out: string[] = [];
  const items = provenanceItems(data);
  if (items.length === 0) out.push(NO_PROVENANCE, '');
  else {
    for (const it of items) out.push(`- ${it.label}: ${it.code ? mdCode(it.value) : it.value}${it.note ? ` (${it.note.replace(/\r?\n/g, ' ')})` : ''}`);
    out.push('');
  }
  const files = data.files ?? [];
  if (files.length > 0) {
    out.push('Files of the run folder:', '');
    for (const b of filesByFolder(files)) {
      const links = b.files.map((f) => `[${mdLinkText(f.path.slice(b.folder.length))}](${fileHref(f.path)})${f.bytes !== undefined ? ` (${fBytes(f.bytes)})` : ''}`);
      out.push(`- ${b.folder === '' ? 'run folder' : mdCode(b.folder)}: ${links.join(', ')}`);
    }
    out.push('');
  }
  return out;
}

function reproducibilityHtml(data: ReportData): string {
  const out: string[] = [];
  const items = provenanceItems(data);
  if (items.length === 0) out.push(`<p>${esc(NO_PROVENANCE)}</p>`);
  else {
    out.push('<dl class="repro">');
    for (const it of items) {
      const v = it.code ? `<code>${esc(it.value)}</code>` : esc(it.value);
      out.push(`<dt>${esc(it.label)}</dt><dd>${v}${it.note ? ` <span class="note">(${esc(it.note)})</span>` : ''}</dd>`);
    }
    out.push('</dl>');
  }
  const files = data.files ?? [];
  if (files.length > 0) {
    out.push('<h3>Files of the run folder</h3>', '<dl class="files">');
    for (const b of filesByFolder(files)) {
      const links = b.files.map((f) => {
        const size = f.bytes !== undefined ? ` <span class="size">${esc(fBytes(f.bytes))}</span>` : '';
        return `<li><a href="${esc(fileHref(f.path))}">${esc(f.path.slice(b.folder.length))}</a>${size}</li>`;
      });
      out.push(`<dt>${b.folder === '' ? 'run folder' : `<code>${esc(b.folder)}</code>`}</dt><dd><ul>${links.join('')}</ul></dd>`);
    }
    out.push('</dl>');
  }
  return out.join('\n');
}

/** The markdown report; `plots` are the rendered charts with their relative links. */
export function renderMarkdown(data: ReportData, plots: Array<{ title: string; link: string }>): string {
  const out: string[] = [];
  out.push(`# ${data.title}`, '');
  for (const l of headerLines(data)) out.push(`- ${l}`);
  out.push('', '## Verdict', '', `**${verdictHeadline(data)}**`, '', verdict(data), '');
  if (data.groups.length > 0) {
    out.push('## Groups', '', mdTable(groupsTable(data)), '');
    out.push('## Accuracy (%) and novelty', '');
    out.push(`Accuracies in percent. ${MAIN_NOTE}`, '');
    out.push(mdTable(mainTable(data)), '');
  }
  for (const s of resultTables(data)) out.push(`## ${s.title}`, '', ...(s.note ? [s.note, ''] : []), mdTable(s.table), '');
  if (plots.length > 0) {
    out.push('## Plots', '');
    for (const p of plots) out.push(`![${p.title}](${p.link})`, '');
  }
  out.push('## Warnings', '');
  if (data.warnings.length === 0) out.push('None.', '');
  else {
    for (const w of data.warnings) out.push(`- ${w.replace(/\r?\n/g, ' ')}`);
    out.push('');
  }
  out.push('## Reproducibility', '', ...reproducibilityMarkdown(data));
  out.push('## Configuration', '', '```json', configJson(data), '```', '');
  return out.join('\n');
}

/** Inline an SVG into HTML5: the namespace declarations are implied there and dropped. */
function inlineSvg(svg: string, title: string): string {
  return svg
    .replace(/^<\?xml[^>]*>\s*/, '')
    .replace(/\s+xmlns(:xlink)?="[^"]*"/g, '')
    .replace(/^<svg\b/, `<svg role="img" aria-label="${esc(title)}"`);
}

// Narrow windows: wide tables scroll inside .scroll boxes, plots shrink to the column (their
// viewBox keeps the proportions), long paths and hashes break anywhere; nothing may widen the page.
const CSS = `
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; line-height: 1.45; overflow-wrap: break-word; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 0.4rem; }
a { color: #1f5fbf; }
.meta li, .repro dd, .files dd { overflow-wrap: anywhere; }
nav.toc { background: #f7f7f7; border: 1px solid #e2e2e2; padding: 0.5rem 1rem; font-size: 0.9rem; }
nav.toc ol { margin: 0.3rem 0 0; padding-left: 1.4rem; columns: 3 12rem; column-gap: 2rem; }
.scroll { overflow-x: auto; max-width: 100%; margin: 0.5rem 0; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.45rem; }
th { background: #f3f3f3; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafafa; }
th.grp { text-align: left; position: sticky; left: 0; z-index: 1; }
tbody th.grp { background: #fff; font-weight: 600; min-width: 9rem; }
tbody tr:nth-child(even) th.grp { background: #fafafa; }
.gname { display: block; font-weight: normal; font-size: 0.75rem; color: #666; }
tbody tr.hl, tbody tr.hl th.grp, td.hl, th.hl { background: #fde8e8; }
tbody tr.hl th.grp { box-shadow: inset 4px 0 #d62728; }
.verdict { background: #f5f8ff; border-left: 4px solid #4a74c9; padding: 0.2rem 0.9rem; }
.verdict .headline { font-size: 1.05rem; font-weight: 600; }
.note { color: #555; font-size: 0.85rem; }
figure { margin: 1rem 0; overflow-x: auto; } figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: 0.85rem; }
pre { background: #f6f6f6; padding: 0.6rem; overflow-x: auto; font-size: 0.8rem; }
code { font-size: 0.85rem; }
.repro { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0.2rem 1rem; margin: 0.5rem 0; }
.repro dt { font-weight: 600; } .repro dd { margin: 0; }
.files dt { font-weight: 600; margin-top: 0.4rem; } .files dd { margin: 0 0 0 1rem; }
.files ul { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 0.1rem 1.2rem; }
.files .size { color: #777; font-size: 0.8rem; }
.warn li { color: #8a4b00; }
@media (max-width: 1000px) {
  body { margin: 1rem auto; }
  table { font-size: 0.8rem; } th, td { padding: 0.15rem 0.3rem; }
}
`;

/** The self-contained HTML report (inline CSS, inline SVG, no scripts or external references). */
export function renderHtml(data: ReportData, plots: Array<{ title: string; svg: string }>): string {
  const tables = resultTables(data);
  const toc: Array<[string, string]> = [
    ['verdict', 'Verdict'],
    ...(data.groups.length > 0 ? [['accuracy', 'Accuracy (%) and novelty'] as [string, string]] : []),
    ...tables.map((s): [string, string] => [s.id, s.title]),
    ...(plots.length > 0 ? [['plots', 'Plots'] as [string, string]] : []),
    ['warnings', `Warnings (${data.warnings.length})`],
    ['reproducibility', 'Reproducibility'],
    ['configuration', 'Configuration'],
  ];
  const h2 = (id: string, title: string): string => `<h2 id="${id}">${esc(title)}</h2>`;
  const out: string[] = [];
  out.push('<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">', '<meta name="viewport" content="width=device-width, initial-scale=1">');
  out.push(`<title>${esc(data.title)}</title>`, `<style>${CSS}</style>`, '</head>', '<body>');
  out.push(`<h1>${esc(data.title)}</h1>`, '<ul class="meta">');
  for (const l of headerLines(data)) out.push(`<li>${esc(l)}</li>`);
  out.push('</ul>');
  out.push('<nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>');
  for (const [id, title] of toc) out.push(`<li><a href="#${id}">${esc(title)}</a></li>`);
  out.push('</ol></nav>');
  out.push(h2('verdict', 'Verdict'), `<div class="verdict"><p class="headline">${esc(verdictHeadline(data))}</p><p>${esc(verdict(data))}</p></div>`);
  if (data.groups.length > 0) {
    out.push(h2('accuracy', 'Accuracy (%) and novelty'));
    out.push(`<p class="note">${esc(MAIN_NOTE)} The generated row is highlighted.</p>`);
    out.push(htmlTable(mainTable(data)));
  }
  for (const s of tables) out.push(h2(s.id, s.title), ...(s.note ? [`<p class="note">${esc(s.note)}</p>`] : []), htmlTable(s.table));
  if (plots.length > 0) {
    out.push(h2('plots', 'Plots'));
    for (const p of plots) out.push(`<figure>${inlineSvg(p.svg, p.title)}<figcaption>${esc(p.title)}</figcaption></figure>`);
  }
  out.push(h2('warnings', 'Warnings'));
  if (data.warnings.length === 0) out.push('<p>None.</p>');
  else out.push(`<ul class="warn">${data.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>`);
  out.push(h2('reproducibility', 'Reproducibility'), reproducibilityHtml(data));
  out.push(h2('configuration', 'Configuration'), `<details><summary>resolved configuration</summary><pre>${esc(configJson(data))}</pre></details>`);
  out.push('</body>', '</html>', '');
  return out.join('\n');
}

/**
 * Write report.md (and report.html), with plots/<name>.svg (and .png) under `runDir`; every file
 * is written atomically. A chart that fails to render is reported as a warning in the documents
 * instead of failing the whole report. The documents link every file of `runDir` (as listed after
 * the plots are written, plus the documents themselves). Returns the paths written.
 */
export async function writeReport(runDir: string, data: ReportData, opts: WriteReportOptions): Promise<WrittenReport> {
  const plotsDir = join(runDir, 'plots');
  const written: string[] = [];
  const refs: PlotRef[] = [];
  const extraWarnings: string[] = [];
  for (const chart of reportCharts(data)) {
    try {
      const svg = await renderSvg(chart.spec);
      const svgPath = join(plotsDir, `${chart.name}.svg`);
      writeFileAtomic(svgPath, svg);
      written.push(svgPath);
      let link = `plots/${chart.name}.svg`;
      if (opts.png) {
        const pngPath = join(plotsDir, `${chart.name}.png`);
        writeFileAtomic(pngPath, svgToPng(svg));
        written.push(pngPath);
        link = `plots/${chart.name}.png`;
      }
      refs.push({ title: chart.title, link, svg });
    } catch (e) {
      extraWarnings.push(`plot ${chart.name} could not be rendered: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  // The documents about to be written are listed without a size (an older copy's would be stale).
  const docs = ['report.md', ...(opts.html ? ['report.html'] : [])];
  const files: RunFile[] = [
    ...docs.map((path) => ({ path })),
    ...listRunFiles(runDir).filter((f) => !docs.includes(f.path)),
  ];
  const doc: ReportData = { ...data, files, warnings: [...data.warnings, ...extraWarnings] };
  const mdPath = join(runDir, 'report.md');
  writeFileAtomic(mdPath, renderMarkdown(doc, refs));
  const result: WrittenReport = { md: mdPath, plots: written };
  if (opts.html) {
    const htmlPath = join(runDir, 'report.html');
    writeFileAtomic(htmlPath, renderHtml(doc, refs));
    result.html = htmlPath;
  }
  return result;
}
