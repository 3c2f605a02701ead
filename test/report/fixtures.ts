/** Synthetic ReportData shaped like a default run (cpu recipe, bn mode), for the report tests. */
import { fractionAtLeast, groupStats, meanFinite, testAtBestVal } from '../../src/eval/stats.js';
import { Rng } from '../../src/tensor/random.js';
import type { GroupReport, ReportData } from '../../src/report/types.js';

export function makeGroup(
  name: string,
  n: number,
  mean: { val: number; test: number },
  sd: number,
  novelty: { iou: number; l2: number } | undefined,
  rng: Rng,
): GroupReport {
  const val: number[] = [];
  const test: number[] = [];
  const iou: number[] = [];
  const l2: number[] = [];
  for (let i = 0; i < n; i++) {
    const z = rng.normal();
    // accuracies on 5,000 / 10,000 images are multiples of 0.02 / 0.01
    val.push(Math.round((mean.val + sd * z + 0.1 * sd * rng.normal()) * 50) / 50);
    test.push(Math.round((mean.test + sd * z) * 100) / 100);
    if (novelty) {
      iou.push(Math.min(1, novelty.iou + 0.01 * rng.normal()));
      l2.push(Math.abs(novelty.l2 * (1 + 0.1 * rng.normal())));
    }
  }
  const g: GroupReport = {
    name,
    n,
    val: groupStats(val),
    test: groupStats(test),
    testAtBestVal: testAtBestVal(val, test),
    accuracies: { val, test },
  };
  if (novelty) {
    g.novelty = { iou, nnL2: l2 };
    g.iouMax = meanFinite(iou);
    g.nnL2 = meanFinite(l2);
  }
  return g;
}

export interface FixtureOptions {
  /** Shift of the generated mean against the originals (points). */
  generatedDelta?: number;
  /** Override the generated novelty. */
  generatedNovelty?: { iou: number; l2: number };
}

export function syntheticReport(opts: FixtureOptions = {}): ReportData {
  const rng = new Rng(42);
  const d = opts.generatedDelta ?? 0.23;
  const groups = [
    makeGroup('original', 200, { val: 88.73, test: 88.13 }, 0.3, { iou: 0.943, l2: 0.026 }, rng),
    makeGroup('ensemble', 1, { val: 89.1, test: 88.47 }, 0, { iou: 0.914, l2: 0.153 }, rng),
    makeGroup('ae_recon', 200, { val: 88.85, test: 88.25 }, 0.25, { iou: 0.943, l2: 0.035 }, rng),
    makeGroup('generated', 200, { val: 88.73 + d, test: 88.13 + d }, 0.2, opts.generatedNovelty ?? { iou: 0.916, l2: 0.117 }, rng),
    makeGroup('noise_0.001', 50, { val: 88.66, test: 88.12 }, 0.3, { iou: 0.999, l2: 0.001 }, rng),
    makeGroup('noise_0.05', 50, { val: 88.7, test: 88.2 }, 0.2, { iou: 0.954, l2: 0.061 }, rng),
    makeGroup('noise_0.15', 50, { val: 88.47, test: 87.85 }, 0.4, { iou: 0.893, l2: 0.185 }, rng),
    makeGroup('avg16', 50, { val: 89.12, test: 88.47 }, 0.06, { iou: 0.92, l2: 0.144 }, rng),
    makeGroup('gauss_fit', 50, { val: 89.02, test: 88.39 }, 0.1, { iou: 0.915, l2: 0.472 }, rng),
  ];
  const orig = groups[0]!;
  for (const g of groups) g.fracAtLeastBestOriginal = fractionAtLeast(g.accuracies.test, orig.test.best);
  groups[1]!.label = 'ensemble (mean of K)';
  const points = [];
  for (const g of groups) {
    for (let i = 0; i < Math.min(g.n, 60); i++) points.push({ x: rng.normal() + (g.name === 'generated' ? 1 : 0), y: rng.normal(), group: g.name });
  }
  const ae = Array.from({ length: 2000 }, (_, i) => ({ step: i, loss: 0.002 + 0.5 * Math.exp(-i / 150) * (1 + 0.2 * rng.uniform()) }));
  const diffusion = Array.from({ length: 3000 }, (_, i) => ({ step: i, loss: 0.095 + 0.9 * Math.exp(-i / 300) * (1 + 0.3 * rng.uniform()) }));
  return {
    title: 'P-Diff report: cnn-s on Fashion-MNIST (bn)',
    runDir: 'runs/test-run',
    config: { preset: 'cpu', mode: 'bn', seed: 0, ae: { steps: 2000, channels: [16, 32, 64, 64, 16] } },
    createdAt: '2024-05-01T12:00:00.000Z',
    base: { val: 89.16, test: 88.45 },
    groups,
    perClass: {
      classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
      rows: [
        { group: 'original', accuracy: [84, 97, 81, 89, 82, 97, 66, 95, 97, 95], macroF1: 0.881 },
        { group: 'generated', accuracy: [84.3, 97.1, 81.2, 89.4, 82.1, 97.2, 66.6, 95.1, 97.3, 95.2], macroF1: 0.883 },
      ],
    },
    cost: { params: 24058, macs: 1941824, latencyMsBatch1: 0.41, latencyMsBatch128: 21.3, peakRssMb: 1100, generateSecondsPerModel: 0.13, trainSecondsPerCheckpoint: 0.0145, backend: 'js' },
    shift: [
      { kind: 'clean', severity: 0, group: 'original', meanAcc: 88.13 },
      { kind: 'clean', severity: 0, group: 'generated', meanAcc: 88.36 },
      { kind: 'gaussian_noise', severity: 1, group: 'original', meanAcc: 80.2 },
      { kind: 'gaussian_noise', severity: 1, group: 'generated', meanAcc: 80.9 },
    ],
    curves: { ae, diffusion },
    projection: { method: 'pca', explained: [0.41, 0.12], points },
    stages: [
      { name: 'data', seconds: 1.5 },
      { name: 'base training', seconds: 44 },
      { name: 'collection', seconds: 2.9 },
      { name: 'AE training', seconds: 123 },
      { name: 'diffusion training', seconds: 142 },
      { name: 'sampling', seconds: 26 },
    ],
    warnings: ['AE loss plateaued at step 1900 <check>'],
    provenance: {
      pdiffVersion: '0.1.0',
      git: { commit: '2c342455988be8d31c4b5157060011c99770812a', branch: 'main' },
      node: 'v20.19.0',
      backend: 'blas',
      // long on purpose: the HTML must wrap it, not widen the page
      device: 'OpenBLAS sgemm (OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64) + C kernels (2 threads)',
      command: "pdiff run --preset cpu --set 'eval.shift.kinds=[\"gaussian_noise\",\"contrast\"]' --set eval.noiseScales=[0.001,0.05,0.15] -o runs/a-rather-long-run-folder-name-for-testing/with/nested/parts --backend blas",
      configHash: 'd2313576af5449fcc3689230d1ebc2885fef1dcdba94e9a62522a0c3c06e250a',
    },
  };
}
