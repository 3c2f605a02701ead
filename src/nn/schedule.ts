/** Learning-rate schedules as pure functions of the 0-based iteration. */
export type LrSchedule = (iter: number) => number;

export const constantLr = (lr: number): LrSchedule => () => lr;

/** cosine(T, min): lr_i = min + (lr0 - min)(1 + cos(pi i / T)) / 2 (CosineAnnealingLR; docs/README.md#conventions). */
export const cosineLr = (lr0: number, total: number, min = 0): LrSchedule => (i) =>
  min + ((lr0 - min) * (1 + Math.cos((Math.PI * i) / total))) / 2;

/** Multiply by gamma every `stepSize` iterations (StepLR). */
export const stepLr = (lr0: number, stepSize: number, gamma = 0.1): LrSchedule => (i) => lr0 * Math.pow(gamma, Math.floor(i / stepSize));

/** Linear warm-up from lr/warmup to lr over `warmup` iterations, then `after` (shifted by warmup). */
export const withWarmup = (after: LrSchedule, lr0: number, warmup: number): LrSchedule => (i) =>
  warmup > 0 && i < warmup ? (lr0 * (i + 1)) / warmup : after(i - warmup);

/** torch.optim.lr_scheduler.LinearLR: lr0 (start + (end - start) min(i, total) / total). */
export const linearLr = (lr0: number, startFactor: number, endFactor: number, totalIters: number): LrSchedule => (i) =>
  lr0 * (startFactor + ((endFactor - startFactor) * Math.min(i, totalIters)) / totalIters);
