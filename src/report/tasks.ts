/**
 * The task section of a report (docs/tasks.md#report): the results of a task-conditioned run
 * per set of codes (unseen, seen) and per code, and the verdict against the goal of issue 17:
 * on unseen codes, the generated models' mean test accuracy within 1.0 point of the oracle's and
 * at least 3 points above what memorising the zoo gives (the nearest seen task), and whether
 * diffusion beats a linear map from the code (ridge). Everything is computed from the numbers in
 * the TaskReport; nothing here needs a model.
 */
import { argmaxFirst } from '../eval/stats.js';
import { fAcc, fSigned, finite } from './format.js';
import type { TaskCodeReport, TaskReport } from './types.js';

/** The goal (issue 17): generated within this many points below the oracle, and this many above nearest seen. */
export const TASK_GOAL = { oracleGap: 1.0, aboveNearest: 3.0 } as const;

/** Mean test accuracy (%) of each method over a set of codes (each code's value first averaged over its models). */
export interface TaskSummaryRow {
  set: 'unseen' | 'seen';
  codes: number;
  /** The code's generated models' mean. */
  generatedMean: number;
  /** The test accuracy of the code's generated model best on val. */
  generatedBestVal: number;
  oracle: number;
  nearest: number;
  meanSeen: number;
  ridge: number;
  majority: number;
}

const mean = (v: readonly number[]): number => v.reduce((s, x) => s + x, 0) / v.length;

/** Per-code test accuracies (%) of each method, each averaged over the code's models. */
export function codeMeans(r: TaskCodeReport): Omit<TaskSummaryRow, 'set' | 'codes'> {
  return {
    generatedMean: mean(r.generated.test),
    generatedBestVal: r.generated.test[argmaxFirst(r.generated.val)]!,
    oracle: mean(r.oracle.test),
    nearest: mean(r.nearest.test),
    meanSeen: r.meanSeen.test,
    ridge: r.ridge.test,
    majority: r.majority.test,
  };
}

/** One row per set of codes that has any: unseen first, then seen. */
export function taskSummaryRows(t: TaskReport): TaskSummaryRow[] {
  const rows: TaskSummaryRow[] = [];
  for (const set of ['unseen', 'seen'] as const) {
    const rs = t.codes.filter((c) => c.seen === (set === 'seen')).map(codeMeans);
    if (rs.length === 0) continue;
    const avg = (k: keyof ReturnType<typeof codeMeans>): number => mean(rs.map((r) => r[k]));
    rows.push({
      set, codes: rs.length, generatedMean: avg('generatedMean'), generatedBestVal: avg('generatedBestVal'), oracle: avg('oracle'),
      nearest: avg('nearest'), meanSeen: avg('meanSeen'), ridge: avg('ridge'), majority: avg('majority'),
    });
  }
  return rows;
}

/** A paired comparison over codes: the mean difference and its standard error (0 for one code). */
export interface PairedDiff {
  diff: number;
  se: number;
  /** Codes where the first is strictly above the second. */
  wins: number;
  n: number;
  /** diff > 2 se and > 0: 'beats'; diff < -2 se and < 0: 'loses'; else 'ties'. */
  reading: 'beats' | 'ties' | 'loses';
}

/** The paired difference a[c] - b[c] over codes. */
export function pairedDiff(a: readonly number[], b: readonly number[]): PairedDiff {
  const d = a.map((x, i) => x - b[i]!);
  const n = d.length, m = mean(d);
  const se = n >= 2 ? Math.sqrt(d.reduce((s, x) => s + (x - m) ** 2, 0) / (n - 1) / n) : 0;
  const reading = m > 0 && m > 2 * se ? 'beats' : m < 0 && -m > 2 * se ? 'loses' : 'ties';
  return { diff: m, se, wins: d.filter((x) => x > 0).length, n, reading };
}

/** The verdict of a task run, from its numbers. */
export interface TaskVerdict {
  headline: string;
  paragraph: string;
  /** Both parts of the goal hold on the unseen codes. */
  goalMet: boolean;
  /** oracle - generated mean on unseen codes (goal: <= TASK_GOAL.oracleGap). */
  oracleGap: number;
  /** generated mean - nearest seen on unseen codes (goal: >= TASK_GOAL.aboveNearest). */
  aboveNearest: number;
  /** Generated against ridge, paired over the unseen codes. */
  ridge: PairedDiff;
}

const f1 = (v: number): string => (finite(v) ? v.toFixed(2) : '-');

/** The verdict against the goal (module comment), phrased from the numbers; null without unseen codes. */
export function taskVerdict(t: TaskReport): TaskVerdict | null {
  const unseen = t.codes.filter((c) => !c.seen).map(codeMeans);
  if (unseen.length === 0) return null;
  const rows = taskSummaryRows(t);
  const u = rows.find((r) => r.set === 'unseen')!;
  const s = rows.find((r) => r.set === 'seen');
  const oracleGap = u.oracle - u.generatedMean, aboveNearest = u.generatedMean - u.nearest;
  const closeEnough = oracleGap <= TASK_GOAL.oracleGap, beatsMemory = aboveNearest >= TASK_GOAL.aboveNearest;
  const goalMet = closeEnough && beatsMemory;
  const ridge = pairedDiff(unseen.map((r) => r.generatedMean), unseen.map((r) => r.ridge));
  const nearest = pairedDiff(unseen.map((r) => r.generatedMean), unseen.map((r) => r.nearest));
  const n = unseen.length;
  const gapText = oracleGap >= 0 ? `${f1(oracleGap)} points below the oracle (${fAcc(u.oracle)})` : `${f1(-oracleGap)} points above the oracle (${fAcc(u.oracle)})`;
  const ridgeText = ridge.reading === 'beats' ? 'beats the ridge baseline' : ridge.reading === 'loses' ? 'loses to the ridge baseline' : 'does not clearly differ from the ridge baseline';
  const headline = `${goalMet ? 'Goal met' : 'Goal not met'} on ${n} unseen code${n === 1 ? '' : 's'}: generated models reach ${fAcc(u.generatedMean)} % test, ` +
    `${gapText} and ${fSigned(aboveNearest)} against the nearest seen task (${fAcc(u.nearest)}); diffusion ${ridgeText} (${fAcc(u.ridge)}).`;
  const parts: string[] = [];
  parts.push(`Goal on unseen codes: generated mean test accuracy within ${TASK_GOAL.oracleGap.toFixed(1)} point of the oracle (${closeEnough ? 'met' : 'not met'}: ${fSigned(-oracleGap)}) ` +
    `and at least ${TASK_GOAL.aboveNearest.toFixed(1)} points above the nearest seen task (${beatsMemory ? 'met' : 'not met'}: ${fSigned(aboveNearest)}, above it on ${nearest.wins} of ${n} codes).`);
  parts.push(`Against the ridge map from the code (a linear model, no diffusion): ${fSigned(ridge.diff)} points on average` +
    `${n >= 2 ? ` (standard error ${f1(ridge.se)} over the codes)` : ''}, generated above ridge on ${ridge.wins} of ${n} codes.`);
  parts.push(`The generated model best on val reaches ${fAcc(u.generatedBestVal)}; the mean of all seen checkpoints ${fAcc(u.meanSeen)}; always answering the larger class ${fAcc(u.majority)}.`);
  if (s) {
    parts.push(`On ${s.codes} seen code${s.codes === 1 ? '' : 's'} (in the zoo; the nearest seen task is the code itself, so memorising would suffice): ` +
      `generated ${fAcc(s.generatedMean)} against the zoo's own checkpoints ${fAcc(s.oracle)} (${fSigned(s.generatedMean - s.oracle)}).`);
  }
  if (t.zoo) parts.push(`The zoo's ${t.zoo.tasks} tasks reach ${fAcc(t.zoo.test.mean)} % test on average with their last checkpoint (min ${fAcc(t.zoo.test.min)}).`);
  return { headline, paragraph: parts.join(' '), goalMet, oracleGap, aboveNearest, ridge };
}

/** A table as plain cells (render.ts prints it as markdown and HTML). */
export interface TaskTable {
  headers: string[];
  align: Array<'l' | 'r'>;
  rows: string[][];
}

/** The summary table: one row per set of codes. */
export function taskSummaryTable(t: TaskReport): TaskTable {
  const headers = ['codes', 'n', 'generated mean', 'generated @best-val', 'oracle', 'nearest seen', 'mean seen', 'ridge', 'majority class'];
  const rows = taskSummaryRows(t).map((r) => [
    r.set, String(r.codes), fAcc(r.generatedMean), fAcc(r.generatedBestVal), fAcc(r.oracle), fAcc(r.nearest), fAcc(r.meanSeen), fAcc(r.ridge), fAcc(r.majority),
  ]);
  return { headers, align: headers.map((_, i) => (i === 0 ? 'l' : 'r')), rows };
}

/** The per-code table: one row per evaluated code, unseen first. */
export function taskCodeTable(t: TaskReport): TaskTable {
  const headers = ['code', 'set', 'generated mean', 'generated @best-val', 'oracle', 'nearest seen', 'distance', 'mean seen', 'ridge', 'majority class'];
  const rows = t.codes.map((c) => {
    const m = codeMeans(c);
    return [c.code, c.seen ? 'seen' : 'unseen', fAcc(m.generatedMean), fAcc(m.generatedBestVal), fAcc(m.oracle), fAcc(m.nearest),
      `${c.nearest.distance}${c.nearest.codes.length > 1 ? ` (${c.nearest.codes.length} tasks)` : ''}`, fAcc(m.meanSeen), fAcc(m.ridge), fAcc(m.majority)];
  });
  return { headers, align: headers.map((_, i) => (i <= 1 ? 'l' : 'r')), rows };
}

/** The note above the task tables. */
export function taskNote(t: TaskReport): string {
  return `Test accuracy (%) on each code's binary test set, averaged over the codes. ${t.zooTasks} seen tasks x ${t.k} checkpoints in the zoo, ${t.heldOut} codes held out; ` +
    `generated part ${t.params.join(', ')} (${t.floats} floats). generated: ${t.perCode} models per code (guidance ${t.guidance}), their mean, and the one best on val (@best-val). ` +
    'oracle: the generated part trained for the code with the zoo\'s recipe (seen codes: their zoo checkpoints). ' +
    'nearest seen: the checkpoints of the zoo task(s) at the smallest Hamming distance (what memorising the zoo gives). ' +
    `mean seen: the mean of all zoo checkpoints. ridge: a linear map from the code to the parameters (lambda ${t.ridgeLambda}). majority class: always answering the larger class.`;
}
