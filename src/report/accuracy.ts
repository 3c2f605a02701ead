/**
 * The accuracy section of a report (docs/accuracy.md#report): an accuracy-conditioned run's
 * methods (the generated models and the baselines that memorisation and regression give) over the
 * prompt grid, and the verdict against the goal of issue 17: inside the zoo's label range,
 * Spearman >= 0.9 between prompt and achieved test accuracy, and a mean absolute error <= 1.5
 * points. Meeting it shows little by itself (nearest label, a copy of a zoo row, meets it too), so
 * the verdict also reads novelty (NN-L2 and IoU-max against the zoo, beside the zoo's own spacing)
 * and the prompts above the zoo's best. Everything is computed from the AccuracyReport.
 */
import { ACCURACY_GOALS } from '../accuracy/prompts.js';
import { fAcc, fIou, fL2, fNum, fSigned, finite } from './format.js';
import type { AccuracyMethodReport, AccuracyReport } from './types.js';

/** A table as plain cells (render.ts prints it as markdown and HTML). */
export interface AccuracyTable {
  headers: string[];
  align: Array<'l' | 'r'>;
  rows: string[][];
}

const mean = (v: readonly number[]): number => (v.length === 0 ? NaN : v.reduce((s, x) => s + x, 0) / v.length);

/** One method's numbers over the prompts: the goal's two metrics, the prompts above the range, novelty. */
export interface AccuracyMethodRow {
  method: string;
  /** Prompts inside the zoo's range. */
  inside: number;
  mae: number;
  spearman: number;
  maxAbsError: number;
  spearmanAll: number;
  meetsGoals: boolean;
  /** The best mean achieved by a prompt above the range, and that minus the zoo's best test accuracy; NaN without such prompts. */
  aboveBest: number;
  gainOverZoo: number;
  /** Means over the prompts inside the range. */
  nnL2: number;
  iouMax: number;
}

/** The numbers of one method (see AccuracyMethodRow). */
export function accuracyMethodRow(a: AccuracyReport, m: AccuracyMethodReport): AccuracyMethodRow {
  const s = m.summary;
  const inside = s.perPrompt.map((p, q) => (p.inRange ? q : -1)).filter((q) => q >= 0);
  const above = s.above;
  return {
    method: m.method, inside: s.inside.count, mae: s.inside.mae, spearman: s.inside.spearman, maxAbsError: s.inside.maxAbsError,
    spearmanAll: s.spearmanAll, meetsGoals: s.meetsGoals,
    aboveBest: above ? Math.max(...above.mean) : NaN,
    gainOverZoo: above ? Math.max(...above.mean) - a.zooBestTest : NaN,
    nnL2: mean(inside.map((q) => m.novelty[q]!.nnL2)),
    iouMax: mean(inside.map((q) => m.novelty[q]!.iouMax)),
  };
}

/** The methods table: one row per method, generated first. */
export function accuracyMethodTable(a: AccuracyReport): AccuracyTable {
  const headers = ['method', 'MAE inside', 'Spearman inside', 'max |error|', 'Spearman all', 'goal', 'best above range', 'vs zoo best', 'NN-L2', 'IoU-max'];
  const rows = a.methods.map((m) => {
    const r = accuracyMethodRow(a, m);
    return [r.method, fAcc(r.mae), fNum(r.spearman, 3), fAcc(r.maxAbsError), fNum(r.spearmanAll, 3), r.meetsGoals ? 'met' : 'not met',
      fAcc(r.aboveBest), finite(r.gainOverZoo) ? fSigned(r.gainOverZoo) : '-', fL2(r.nnL2), fIou(r.iouMax)];
  });
  if (a.zoo) rows.push([`zoo rows (${a.zoo.rows}, each against the others)`, '', '', '', '', '', '', '', fL2(a.zoo.nnL2), fIou(a.zoo.iouMax)]);
  return { headers, align: headers.map((_, i) => (i === 0 || i === 5 ? 'l' : 'r')), rows };
}

/** The per-prompt table: achieved test accuracy of every method, the generated models' spread, error and novelty. */
export function accuracyPromptTable(a: AccuracyReport): AccuracyTable {
  const [gen, ...baselines] = a.methods;
  const headers = ['prompt', 'where', 'generated', 'std', 'error', ...baselines.map((b) => b.method), 'NN-L2', 'IoU-max', 'label of nearest zoo row'];
  const rows = a.prompts.map((prompt, q) => {
    const g = gen!.summary.perPrompt[q]!, nov = gen!.novelty[q]!;
    return [fAcc(prompt), g.inRange ? 'inside' : prompt > a.scale.hi ? 'above' : 'below', fAcc(g.mean), fAcc(g.std), fSigned(g.error),
      ...baselines.map((b) => fAcc(b.summary.perPrompt[q]!.mean)), fL2(nov.nnL2), fIou(nov.iouMax), fAcc(nov.nearestLabel)];
  });
  return { headers, align: headers.map((_, i) => (i === 1 ? 'l' : 'r')), rows };
}

/** The note above the accuracy tables. */
export function accuracyNote(a: AccuracyReport): string {
  const zoo = a.zoo ? `${a.zoo.rows} zoo rows from ${a.zoo.runs} training runs (${a.zoo.floats} floats each), ` : '';
  return `Test accuracy (%) achieved for each prompt; ${zoo}labelled with their val accuracy, range ${fAcc(a.scale.lo)}-${fAcc(a.scale.hi)} ` +
    `(best zoo row on test ${fAcc(a.zooBestTest)}; mean |val - test| over the rows ${fNum(a.meanValTestGap, 2)} points, the floor of every method's error). ` +
    `${a.perPrompt} models per prompt. MAE and Spearman over the prompts inside the range (goal: Spearman >= ${ACCURACY_GOALS.spearman}, MAE <= ${ACCURACY_GOALS.mae}). ` +
    'nearest label: zoo rows whose label is nearest the prompt (memorisation); nearest-label mean: the average of such rows; ' +
    'ridge: a polynomial map from the prompt to the parameters fitted on the zoo. NN-L2 and IoU-max against every zoo row, averaged over the prompts inside the range; ' +
    'the last row is the zoo\'s own spacing (each row against the others).';
}

/** The verdict of an accuracy run, from its numbers. */
export interface AccuracyVerdict {
  headline: string;
  paragraph: string;
  goalMet: boolean;
  /** The goal met with models that are not copies: NN-L2 above the zoo's own spacing and IoU-max below 1. */
  novelAndMet: boolean;
}

/** The verdict against the goal (module comment), phrased from the numbers; null without a generated method. */
export function accuracyVerdict(a: AccuracyReport): AccuracyVerdict | null {
  const gen = a.methods.find((m) => m.method === 'generated');
  if (!gen) return null;
  const g = accuracyMethodRow(a, gen);
  const others = a.methods.filter((m) => m !== gen).map((m) => accuracyMethodRow(a, m));
  const spacing = a.zoo?.nnL2;
  const novel = finite(g.nnL2) && g.iouMax < 1 && (finite(spacing) ? g.nnL2 > spacing : g.nnL2 > 0);
  const headline = `${g.meetsGoals ? 'Goal met' : 'Goal not met'} on ${g.inside} prompts inside the zoo's range (${fAcc(a.scale.lo)}-${fAcc(a.scale.hi)}): ` +
    `generated models reach Spearman ${fNum(g.spearman, 3)} and mean absolute error ${fAcc(g.mae)} points` +
    `${finite(g.aboveBest) ? `; above the range the best prompt reaches ${fAcc(g.aboveBest)} against the zoo's best ${fAcc(a.zooBestTest)} (${fSigned(g.gainOverZoo)})` : ''}.`;
  const parts: string[] = [];
  parts.push(`Goal inside the range: Spearman >= ${ACCURACY_GOALS.spearman} (${g.spearman >= ACCURACY_GOALS.spearman ? 'met' : 'not met'}: ${fNum(g.spearman, 3)}) ` +
    `and MAE <= ${ACCURACY_GOALS.mae} points (${g.mae <= ACCURACY_GOALS.mae ? 'met' : 'not met'}: ${fAcc(g.mae)}; largest error ${fAcc(g.maxAbsError)}).`);
  const meeting = others.filter((o) => o.meetsGoals);
  if (others.length > 0) {
    parts.push(meeting.length > 0
      ? `The goal does not need a generator: ${meeting.map((o) => `${o.method} (MAE ${fAcc(o.mae)}, Spearman ${fNum(o.spearman, 3)})`).join(', ')} meet${meeting.length === 1 ? 's' : ''} it too.`
      : 'No baseline meets it.');
    const best = others.reduce((b, o) => (finite(o.mae) && (!finite(b.mae) || o.mae < b.mae) ? o : b));
    parts.push(`The best baseline by MAE is ${best.method} (${fAcc(best.mae)}); the generated models are ${fSigned(g.mae - best.mae)} points against it.`);
  }
  const spacingText = finite(spacing) ? `, against ${fL2(spacing)} between neighbouring zoo rows` : '';
  parts.push(`Novelty inside the range: the generated models lie ${fL2(g.nnL2)} from the nearest zoo row in raw parameters${spacingText}, IoU-max ${fIou(g.iouMax)}` +
    `${a.zoo ? ` (zoo rows against each other ${fIou(a.zoo.iouMax)})` : ''}: ${novel ? 'they are not copies of zoo rows' : 'they are as close to zoo rows as the rows are to each other'}.`);
  if (finite(g.aboveBest)) {
    const beat = others.filter((o) => finite(o.gainOverZoo) && o.gainOverZoo > 0);
    parts.push(`Above the range (${a.methods[0]!.summary.above!.prompts.map(fAcc).join(', ')}), the best of the generated models' means is ${fAcc(g.aboveBest)}, ` +
      `${g.gainOverZoo > 0 ? `above the zoo's best test accuracy ${fAcc(a.zooBestTest)} (${fSigned(g.gainOverZoo)}): a model better than any the generator learnt from` : `not above the zoo's best test accuracy ${fAcc(a.zooBestTest)} (${fSigned(g.gainOverZoo)})`}` +
      `${beat.length > 0 ? `; ${beat.map((o) => o.method).join(', ')} also ${beat.length === 1 ? 'goes' : 'go'} above it` : ''}.`);
  }
  return { headline, paragraph: parts.join(' '), goalMet: g.meetsGoals, novelAndMet: g.meetsGoals && novel };
}
