/**
 * The verdict: the run's numbers read as sentences (docs/evaluation.md#verdict). Compare the
 * generated models with the originals of the same run (seed noise is about +-0.5 points), and
 * judge novelty by where IoU-max / NN-L2 sit between the originals and the ensemble. A
 * task-conditioned run is judged against its own goal instead (tasks.ts), and so is an
 * accuracy-conditioned run (accuracy.ts).
 */
import { finite, fAcc, fIou, fFrac, fSigned, fL2 } from './format.js';
import { accuracyVerdict } from './accuracy.js';
import { taskVerdict } from './tasks.js';
import { GROUP, type GroupReport, type ReportData } from './types.js';

/** Seed-to-seed spread of group means (docs/evaluation.md#verdict): differences below it are not evidence. */
const SEED_NOISE = 0.5;
/** A generated mean this far below the originals means samples are off the checkpoint manifold. */
const OFF_MANIFOLD_DROP = 1.0;
/** Two group means closer than this are said to match. */
const MATCH_TOLERANCE = 0.25;
/** IoU-max at or above this, with NN-L2 no larger than the checkpoints' own spacing, reads as copying. */
const COPY_IOU = 0.99;

/** Fraction of `values` strictly above `threshold`. */
function fracAbove(values: number[], threshold: number): number {
  if (values.length === 0) return NaN;
  let c = 0;
  for (const v of values) if (v > threshold) c++;
  return c / values.length;
}

/** Where the generated models sit between the checkpoints and their average (docs/evaluation.md#verdict). */
type NoveltyReading = 'copying' | 'near-ensemble' | 'like-checkpoints' | 'novel';

/** The reading of IoU-max / NN-L2, or undefined when novelty was not measured. */
function noveltyReading(o: GroupReport, g: GroupReport, e: GroupReport | undefined): NoveltyReading | undefined {
  if (!finite(g.iouMax) || !finite(o.iouMax)) return undefined;
  if (g.iouMax >= COPY_IOU && (!finite(g.nnL2) || !finite(o.nnL2) || g.nnL2 <= o.nnL2)) return 'copying';
  if (e && finite(e.iouMax) && Math.abs(g.iouMax - e.iouMax) < Math.abs(g.iouMax - o.iouMax)) return 'near-ensemble';
  return g.iouMax >= o.iouMax ? 'like-checkpoints' : 'novel';
}

/**
 * The verdict in one sentence, for the top of the report and the CLI: how the generated models'
 * test mean compares with the originals' (within the seed-to-seed spread or not), and where their
 * novelty sits, by the same thresholds as {@link verdict}.
 */
export function verdictHeadline(data: ReportData): string {
  const tv = data.tasks ? taskVerdict(data.tasks) : data.accuracy ? accuracyVerdict(data.accuracy) : null;
  if (tv) return tv.headline;
  const by = (name: string): GroupReport | undefined => data.groups.find((g) => g.name === name);
  const o = by(GROUP.original);
  const g = by(GROUP.generated);
  if (!o) return 'No original group in this run, so there is nothing to compare against.';
  if (!g) return `No generated models in this run; the originals reach test mean ${fAcc(o.test.mean)} (best ${fAcc(o.test.best)}).`;
  const d = g.test.mean - o.test.mean;
  const nums = `(test mean ${fAcc(g.test.mean)} vs ${fAcc(o.test.mean)})`;
  // Accuracy decides the tone: a "but" introduces bad news after good, an "and" more of the same.
  if (d < -OFF_MANIFOLD_DROP) return `Generated models fall well below the originals ${nums}: the samples are off the checkpoint manifold.`;
  const good = d >= -SEED_NOISE;
  const acc =
    d < -SEED_NOISE ? `Generated models score below the originals ${nums}`
    : d > SEED_NOISE ? `Generated models beat the originals ${nums}`
    : `Generated models match the originals ${nums}`;
  const e = by(GROUP.ensemble);
  const iou = `IoU-max ${fIou(g.iouMax)} vs originals ${fIou(o.iouMax)}`;
  switch (noveltyReading(o, g, e)) {
    case undefined:
      return `${acc}; their novelty was not measured.`;
    case 'copying':
      return `${acc} ${good ? 'but' : 'and'} behave like, and lie as close as, individual checkpoints (${iou}): the pipeline may be copying them.`;
    case 'near-ensemble':
      return `${acc} ${good ? 'but' : 'and'} sit as close to the checkpoints as their average does (IoU-max ${fIou(g.iouMax)} vs ensemble ${fIou(e?.iouMax)}): interpolation, not new networks.`;
    case 'like-checkpoints':
      return `${acc} ${good ? 'but' : 'and'} behave like individual training checkpoints (${iou}): no sign of new networks.`;
    case 'novel':
      return `${acc} ${good ? 'and' : 'but'} differ from the checkpoints more than the checkpoints differ from each other (${iou}).`;
  }
}

/** A short paragraph reading the run's numbers (docs/evaluation.md#verdict), phrased from the data. */
export function verdict(data: ReportData): string {
  const tv = data.tasks ? taskVerdict(data.tasks) : data.accuracy ? accuracyVerdict(data.accuracy) : null;
  if (tv) return data.warnings.length > 0 ? `${tv.paragraph} The run raised ${data.warnings.length} warning(s); see below.` : tv.paragraph;
  const by = (name: string): GroupReport | undefined => data.groups.find((g) => g.name === name);
  const o = by(GROUP.original);
  const g = by(GROUP.generated);
  const e = by(GROUP.ensemble);
  const r = by(GROUP.aeRecon);
  const parts: string[] = [];
  if (!o) return 'No original group in this run, so there is nothing to compare against.';
  if (!g) {
    parts.push(`No generated group in this run; the originals reach test mean ${fAcc(o.test.mean)} (best ${fAcc(o.test.best)}).`);
  } else {
    const d = g.test.mean - o.test.mean;
    const bestGap = g.test.best - o.test.best;
    let s =
      `Generated test mean is ${fSigned(d)} points against the originals (${fAcc(g.test.mean)} vs ${fAcc(o.test.mean)}); ` +
      `generated best ${fAcc(g.test.best)} vs original best ${fAcc(o.test.best)} (${fSigned(bestGap)})`;
    const frac = g.fracAtLeastBestOriginal;
    if (finite(frac)) s += `, ${fFrac(frac)} of the generated models at or above the best original`;
    const above = fracAbove(g.accuracies.test, o.test.mean);
    if (finite(above)) s += `, ${fFrac(above)} above the original mean`;
    s += '. ';
    if (d < -OFF_MANIFOLD_DROP) {
      s +=
        `That is well below the originals: the samples are off the checkpoint manifold ` +
        `(check the latent scale, AE eval mode and the inverse normalisation first).`;
    } else if (d < -SEED_NOISE) {
      s += `That is below the originals by more than the seed-to-seed spread (about ${SEED_NOISE} points).`;
    } else if (d > SEED_NOISE) {
      s += `That is above the originals by more than the seed-to-seed spread (about ${SEED_NOISE} points).`;
    } else {
      s += `That is within the seed-to-seed spread (about ${SEED_NOISE} points) of the originals.`;
    }
    parts.push(s);
  }

  const refs: string[] = [];
  if (e) refs.push(`the ensemble (mean of the K checkpoints) is ${fSigned(e.test.mean - o.test.mean)}`);
  if (r) refs.push(`AE reconstructions are ${fSigned(r.test.mean - o.test.mean)}`);
  if (refs.length > 0) parts.push(`Against the original mean, ${refs.join(' and ')}.`);

  if (g && finite(g.iouMax) && finite(o.iouMax)) {
    let s = `IoU-max ${fIou(g.iouMax)} vs originals ${fIou(o.iouMax)}`;
    if (e && finite(e.iouMax)) s += ` and ensemble ${fIou(e.iouMax)}`;
    if (finite(g.nnL2) && finite(o.nnL2)) {
      s += `; NN-L2 ${fL2(g.nnL2)} vs originals ${fL2(o.nnL2)}`;
      if (e && finite(e.nnL2)) s += ` and ensemble ${fL2(e.nnL2)}`;
    }
    s += ': ';
    const reading = noveltyReading(o, g, e);
    if (reading === 'copying') {
      s += 'the generated models behave like, and lie as close as, individual checkpoints. Warning: the pipeline may be copying checkpoints.';
    } else if (reading === 'near-ensemble') {
      s += 'generated models sit near the checkpoint average (closer to the ensemble than to individual checkpoints).';
    } else if (reading === 'like-checkpoints') {
      s += 'generated models behave like individual training checkpoints.';
    } else {
      s += 'generated models differ from the checkpoints more than the checkpoints differ from each other.';
    }
    parts.push(s);
  }

  if (g) {
    const cheap = [by(GROUP.avg16), by(GROUP.gaussFit)].filter((b): b is GroupReport => b !== undefined);
    if (cheap.length > 0) {
      const diffs = cheap.map((b) => ({ name: b.name, d: b.test.mean - g.test.mean }));
      const listed = diffs.map((x) => `${x.name} ${fSigned(x.d)}`).join(', ');
      if (diffs.every((x) => Math.abs(x.d) <= MATCH_TOLERANCE)) {
        parts.push(`The cheap baselines match the generated models (test mean ${listed} against generated, within ${MATCH_TOLERANCE}).`);
      } else if (diffs.every((x) => x.d > MATCH_TOLERANCE)) {
        parts.push(`The cheap baselines beat the generated models (test mean ${listed} against generated).`);
      } else {
        parts.push(`Cheap baselines against the generated test mean: ${listed}.`);
      }
    }
  }
  if (data.warnings.length > 0) parts.push(`The run raised ${data.warnings.length} warning(s); see below.`);
  return parts.join(' ');
}
