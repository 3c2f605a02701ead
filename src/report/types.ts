/**
 * The contract between the pipeline and the report: everything report.md / report.html and the
 * plots show. The pipeline fills a ReportData (plain JSON-serialisable data, no typed arrays) and
 * hands it to writeReport; the report computes nothing that needs a model.
 *
 * Units: accuracies in percent; IoU in [0, 1]; NN-L2 in raw parameter units; fractions in [0, 1];
 * times in seconds unless the field name says otherwise.
 */
import type { AccuracyControlSummary, PromptNovelty } from '../accuracy/prompts.js';
import type { GroupStats } from '../eval/stats.js';

export type { GroupStats };

/**
 * Group names the verdict recognises (docs/evaluation.md#groups). Other names are shown in the tables and
 * plots but not interpreted. Noise baselines are named `noise_<s>`, e.g. `noise_0.05`.
 */
export const GROUP = {
  original: 'original',
  ensemble: 'ensemble',
  aeRecon: 'ae_recon',
  generated: 'generated',
  avg16: 'avg16',
  gaussFit: 'gauss_fit',
} as const;

/** Readable names of the evaluation groups, shown beside their ids. */
export const GROUP_LABELS: Readonly<Record<string, string>> = {
  [GROUP.original]: 'training checkpoints',
  [GROUP.ensemble]: 'mean of all checkpoints',
  [GROUP.aeRecon]: 'autoencoder reconstructions',
  [GROUP.generated]: 'sampled by the diffusion model',
  [GROUP.avg16]: 'means of random checkpoints',
  [GROUP.gaussFit]: 'Gaussian fit to the checkpoints',
};

/**
 * The readable name of a group id: 'ae_recon' -> 'autoencoder reconstructions', 'noise_0.05' ->
 * 'checkpoints + noise 0.05'. An id without a readable name is returned as it is.
 */
export function groupLabel(id: string): string {
  if (Object.hasOwn(GROUP_LABELS, id)) return GROUP_LABELS[id]!;
  const noise = /^noise_(.+)$/.exec(id);
  if (noise) return `checkpoints + noise ${noise[1]}`;
  return id;
}

export interface GroupReport {
  /** Group name, e.g. 'original', 'generated', 'noise_0.05' (see {@link GROUP}). */
  name: string;
  /** Optional longer label for tables, e.g. 'generated (DDPM)'. */
  label?: string;
  /** Number of members. */
  n: number;
  /** Statistics of the members' val / test accuracies (percent). */
  val: GroupStats;
  test: GroupStats;
  /** Test accuracy of the member with the highest val accuracy. */
  testAtBestVal: number;
  /** Group mean of the per-model IoU-max against the K checkpoints. */
  iouMax?: number;
  /** Group mean of the per-model nearest-checkpoint L2 distance. */
  nnL2?: number;
  /**
   * Multi-seed zoos: group mean of the per-model L2 distance to the nearest seed's mean checkpoint
   * (the centre of one seed's cluster, in the zoo's aligned or raw coordinates).
   */
  nnL2SeedMean?: number;
  /** Fraction of members whose test accuracy is >= the best original's test accuracy. */
  fracAtLeastBestOriginal?: number;
  /** Per-member accuracies (percent), same member order in both. */
  accuracies: { val: number[]; test: number[] };
  /** Per-member novelty, same member order as `accuracies`. */
  novelty?: { iou: number[]; nnL2: number[] };
  /**
   * Top-5 accuracy (percent) of the members; absent below 5 classes (ReportData.top5Omitted says
   * why) and in summaries written before it was added.
   */
  top5?: MemberMetric;
  /** Macro-F1 in [0, 1] of the members (from their predictions); absent in older summaries. */
  macroF1?: MemberMetric;
}

/**
 * A metric beside top-1 (top-5, macro-F1) of a group's members on val and test: the mean over the
 * members and the value of the member picked by val top-1 accuracy (the member of testAtBestVal).
 */
export interface MemberMetric {
  /** Mean over the members, per split. */
  mean: { val: number; test: number };
  /** The member with the highest val top-1 accuracy, the first on ties (the member of testAtBestVal). */
  atBestVal: { val: number; test: number };
  /** Per member, in the order of `accuracies`. */
  members: { val: number[]; test: number[] };
}

/** Per-class test accuracy (percent) of one group, averaged over its members. */
export interface PerClassRow {
  group: string;
  /** One entry per class; NaN/null for a class without examples. */
  accuracy: number[];
  /** Macro-F1 in [0, 1], averaged over the members. */
  macroF1?: number;
}

export interface PerClassReport {
  /** Class names in label order (Fashion-MNIST: 'T-shirt/top', 'Trouser', ...). */
  classNames: string[];
  rows: PerClassRow[];
}

/** Cost of the classifier and of the pipeline (docs/evaluation.md#cost: wall time, peak memory). */
export interface CostReport {
  /** Learnable parameters of the classifier. */
  params: number;
  /** Multiply-adds per example (see src/eval/flops.ts for the convention). */
  macs: number;
  /** Forward latency in milliseconds at batch 1 and batch 128 (per batch). */
  latencyMsBatch1?: number;
  latencyMsBatch128?: number;
  /** The same model exported to ONNX (docs/export.md), its latency in ONNX Runtime (CPU) in ms at batch 1 and batch 128. */
  onnxLatencyMsBatch1?: number;
  onnxLatencyMsBatch128?: number;
  /** The ONNX Runtime that measured them, e.g. 'onnxruntime-node 1.30.0'. */
  onnxRuntime?: string;
  /** Why the ONNX Runtime latency was not measured (e.g. onnxruntime-node is not installed). */
  onnxLatencyMissing?: string;
  /** Peak resident set size of the whole run, MiB. */
  peakRssMb?: number;
  /** Sampling + decoding time per generated model, seconds. */
  generateSecondsPerModel?: number;
  /** Collection time per checkpoint, seconds. */
  trainSecondsPerCheckpoint?: number;
  /** Compute backend that produced the timings ('js', 'blas', ...). */
  backend?: string;
}

/** Mean accuracy of one group under one distribution shift (corruption kind and severity). */
export interface ShiftRow {
  /** Corruption name, e.g. 'gaussian_noise'; 'clean' for the unshifted test set. */
  kind: string;
  severity: number;
  group: string;
  /** Mean test accuracy of the group's members, percent. */
  meanAcc: number;
  /** Best member's test accuracy, percent. */
  bestAcc?: number;
}

/**
 * Accuracy of one group on a second dataset (eval.secondDataset, docs/evaluation.md#second-dataset):
 * its test images through the run's models, its labels read as the models' class indices.
 */
export interface SecondDatasetRow {
  /** The split scored, e.g. 'mnist/test'. */
  dataset: string;
  group: string;
  /** Mean accuracy of the evaluated members, percent. */
  meanAcc: number;
  /** Best member's accuracy, percent. */
  bestAcc: number;
  /** Accuracy (percent) of each evaluated member, in group order; its length is the number of models. */
  accs: number[];
}

export interface LossPoint {
  step: number;
  loss: number;
}

export interface ProjectionPoint {
  x: number;
  y: number;
  group: string;
}

export interface ProjectionReport {
  method: 'pca' | 'tsne';
  /** PCA only: fraction of the variance along each axis. */
  explained?: [number, number];
  points: ProjectionPoint[];
}

export interface StageTime {
  name: string;
  seconds: number;
}

/** The git commit of the checkout pdiff ran from. */
export interface GitInfo {
  /** Full commit hash HEAD resolves to. */
  commit: string;
  /** Branch checked out (without refs/heads/); null for a detached HEAD. */
  branch: string | null;
}

/** What a reader needs to reproduce the run (the report's reproducibility block). */
export interface Provenance {
  /** pdiff's version (package.json). */
  pdiffVersion: string;
  /** Commit of the checkout pdiff ran from; null when it is not a git checkout (an installed package). */
  git: GitInfo | null;
  /** Node.js version, e.g. 'v20.19.0'. */
  node: string;
  /** Compute backend name ('js', 'blas', 'webgpu'). */
  backend: string;
  /** The backend's description of its device (CPU threads, GPU adapter). */
  device: string;
  /** The command line of the process that wrote this report, or "(library call)". */
  command: string;
  /** The other commands that ran in this run folder, oldest first (absent: none recorded). */
  earlierCommands?: string[];
  /** sha256 of the canonical JSON of the resolved configuration without `out`. */
  configHash: string;
}

/** One file of the run folder. */
export interface RunFile {
  /** Relative to the run folder, '/' separators. */
  path: string;
  /** Size in bytes; absent for the report files being written. */
  bytes?: number;
}

export interface ReportData {
  title: string;
  /** Run folder (shown in the report; files are written where writeReport is told). */
  runDir: string;
  /** Resolved configuration of the run (printed as JSON). */
  config: Record<string, unknown>;
  /** ISO 8601 time the run finished. */
  createdAt: string;
  /** The base model's accuracies (percent). */
  base: { val: number; test: number };
  /** Groups in display order; 'original' should come first. */
  groups: GroupReport[];
  /** Why the groups have no top-5 (fewer than 5 classes), when they have none for that reason. */
  top5Omitted?: string;
  perClass?: PerClassReport;
  cost?: CostReport;
  shift?: ShiftRow[];
  /** Accuracy of original / generated / ensemble members on a second dataset (eval.secondDataset). */
  secondDataset?: SecondDatasetRow[];
  /** A zoo of several independently trained networks (collect.seeds >= 2): its seeds, their alignment, the interpolation between two. */
  seeds?: SeedsReport;
  /** A task-conditioned run (tasks.condition "task"): every evaluated code's results (docs/tasks.md#report). */
  tasks?: TaskReport;
  /** An accuracy-conditioned run (tasks.condition "accuracy"): every method's results per prompt (docs/accuracy.md#report). */
  accuracy?: AccuracyReport;
  /** Training-loss curves (one point per logged step). */
  curves: { ae?: LossPoint[]; diffusion?: LossPoint[]; base?: LossPoint[] };
  projection?: ProjectionReport;
  /** Wall time per pipeline stage, in order. */
  stages: StageTime[];
  /** Messages the pipeline raised (divergence, clipped values, skipped stages). */
  warnings: string[];
  /** Version, commit, backend, command line and config hash of the run. */
  provenance?: Provenance;
  /** Files of the run folder, linked from the report; writeReport fills it from the folder it writes to. */
  files?: RunFile[];
}

/** One row of `pdiff ... --json` output: a group's numbers, null where not measured. */
export interface SummaryRow {
  group: string;
  n: number;
  valBest: number;
  valMean: number;
  valMedian: number;
  valMin: number;
  valStd: number;
  testBest: number;
  testMean: number;
  testMedian: number;
  testMin: number;
  testStd: number;
  testAtBestVal: number;
  /** testMean minus the originals' testMean; null without an 'original' group. */
  testMeanDelta: number | null;
  iouMax: number | null;
  nnL2: number | null;
  fracAtLeastBestOriginal: number | null;
  /** Test top-5 accuracy (percent): group mean and the best-on-val member's; null below 5 classes or in older summaries. */
  top5Mean: number | null;
  top5AtBestVal: number | null;
  /** Test macro-F1 in [0, 1]: group mean and the best-on-val member's; null in older summaries. */
  macroF1Mean: number | null;
  macroF1AtBestVal: number | null;
}

/** Loss and accuracy along the straight line between two networks (src/eval/interpolation.ts). */
export interface InterpolationReport {
  /** Mean test cross-entropy at each alpha. */
  loss: number[];
  /** Test accuracy (%) at each alpha. */
  acc: number[];
  /** max over alpha of loss - ((1 - alpha) loss(0) + alpha loss(1)). */
  barrier: number;
}

/** One base model of a multi-seed zoo. */
export interface SeedMemberReport {
  /** 0-based index in collect.seeds; the zoo's rows index*k .. (index+1)*k - 1 are its checkpoints. */
  index: number;
  /** The seed of its random streams (the run's seed + index). */
  runSeed: number;
  /** "trained", or the base-model file it was loaded from. */
  source: string;
  /** Base model accuracy (%). */
  val: number;
  test: number;
  /** Seconds spent training it (0 when loaded). */
  trainSeconds: number;
}

/** Weight matching of one seed to seed 0 (docs/seeds.md#weight-matching). */
export interface SeedMatchReport {
  seed: number;
  passes: number;
  converged: boolean;
  /** Hidden units (over all permutation groups) that the alignment moved, of `units`. */
  unitsMoved: number;
  units: number;
}

/** A multi-seed zoo (docs/seeds.md), written by the collect stage as seeds.json and copied into summary.json. */
export interface SeedsReport {
  /** collect.align: whether the zoo's rows were aligned to seed 0. */
  align: 'none' | 'weight-matching';
  /** Checkpoints per seed. */
  k: number;
  seeds: SeedMemberReport[];
  /** Every seed s >= 1 matched to seed 0 (computed for the diagnostics even when align is "none"; empty without a permutation spec). */
  matching: SeedMatchReport[];
  /** Test loss and accuracy between the base models of seeds `from` and `to`, as trained (naive) and with `to` aligned to `from`. */
  interpolation: {
    from: number;
    to: number;
    alphas: number[];
    naive: InterpolationReport;
    /** null when the architecture has no permutation spec. */
    aligned: InterpolationReport | null;
  };
}

/** Val and test accuracy (%) of several parameter sets, in the same order. */
export interface TaskAccuracies {
  val: number[];
  test: number[];
}

/** One evaluated code of a task-conditioned run: accuracies (%) on the code's binary val and test sets. */
export interface TaskCodeReport {
  /** The task code, e.g. "0110010011" (character i = class i). */
  code: string;
  /** Whether the zoo was trained on it (false: held out from the zoo, the autoencoder and the denoiser). */
  seen: boolean;
  /** The generated models (tasks.perCode of them). */
  generated: TaskAccuracies;
  /** The generated part trained for the code with the zoo's recipe (for a seen code: its zoo checkpoints). */
  oracle: TaskAccuracies;
  /** The checkpoints of the zoo task(s) nearest in Hamming distance (0 for a seen code: itself), every tied task's, in zoo order. */
  nearest: TaskAccuracies & { distance: number; codes: string[] };
  /** The mean of every zoo checkpoint. */
  meanSeen: { val: number; test: number };
  /** The ridge map's parameters for the code. */
  ridge: { val: number; test: number };
  /** Always answering the larger class. */
  majority: { val: number; test: number };
}

/** The zoo's own tasks: each task's last checkpoint on its own code (the eval-originals stage). */
export interface TaskZooScores {
  tasks: number;
  val: { mean: number; min: number; max: number };
  test: { mean: number; min: number; max: number };
  /** Mean over the tasks of the majority-class test accuracy. */
  majorityTest: number;
}

/** A task-conditioned run's evaluation (docs/tasks.md#report). */
export interface TaskReport {
  /** Seen tasks in the zoo, checkpoints per task, held-out codes. */
  zooTasks: number;
  k: number;
  heldOut: number;
  /** Generated models per evaluated code. */
  perCode: number;
  /** The generated part: tensor names and floats. */
  params: string[];
  floats: number;
  /** generate.guidance and tasks.ridgeLambda of the run. */
  guidance: number;
  ridgeLambda: number;
  /** The zoo's own tasks (absent when not measured). */
  zoo?: TaskZooScores;
  /** Every evaluated code: the unseen ones, then the sample of seen ones. */
  codes: TaskCodeReport[];
}

/** One method of an accuracy-conditioned run: its summary over the prompts and its novelty per prompt. */
export interface AccuracyMethodReport {
  /** "generated" first, then the baselines ("nearest label (5 rows)", "ridge, degree 5", ...). */
  method: string;
  summary: AccuracyControlSummary;
  /** Per prompt, in prompt order: NN-L2 and IoU-max against every zoo row. */
  novelty: PromptNovelty[];
}

/** An accuracy-conditioned run's evaluation (eval-accuracy.json; docs/accuracy.md#report). */
export interface AccuracyReport {
  /** The prompt grid (test accuracy asked for, %), in generation order. */
  prompts: number[];
  perPrompt: number;
  /** The zoo's label range (val %), the condition's scale. */
  scale: { lo: number; hi: number };
  /** The best test accuracy of any zoo row: what a prompt above the range has to beat. */
  zooBestTest: number;
  /** Mean |val - test| over the zoo's rows (points): the floor of every method's error. */
  meanValTestGap: number;
  /** The zoo: its rows and runs, and each row's novelty against the other rows (its own spacing). Absent in files written before it was added. */
  zoo?: { rows: number; runs: number; floats: number; nnL2: number; iouMax: number };
  /** generated first, then the baselines in a fixed order. */
  methods: AccuracyMethodReport[];
}
