/**
 * The P-Diff generator: parameter autoencoder, noise schedules, latent denoiser, samplers and
 * their training loops (docs/autoencoder.md, docs/diffusion.md).
 */
export { ParamAutoencoder, type ParamAutoencoderArgs } from './autoencoder.js';
export { DiffusionSchedule, cosineBetas, linearBetas, makeSchedule, type QPosterior, type ScheduleArgs, type ScheduleName } from './schedule.js';
export { LatentDenoiser, TIME_EMBED_DIM, type LatentDenoiserArgs } from './denoiser.js';
export {
  ACCURACY_COND_DIM, conditionRows, encodeAccuracy, encodeCode, fitAccuracyScale, isNullCondition, nullCondition, type AccuracyScale,
} from './condition.js';
export {
  ddimSampleLoop, ddimSigma, ddimStep, ddimTimesteps, ddpmStep, denoiserEpsModel, guidedEpsModel, pSampleLoop,
  type DdimOptions, type EpsModel, type OnStep, type StepBuffers, type StepResult,
} from './samplers.js';
export { latentStats, type LatentStats, type TrainLog, type TrainOptions as GeneratorTrainOptions } from './train-loop.js';
export {
  deserializeTrainState, serializeTrainState,
  type AeTrainState, type DiffusionTrainState, type LossPoint, type NamedArray, type TrainState,
} from './train-state.js';
export { decodeAll, encodeAll, trainAutoencoder, type AeTrainResult } from './train-ae.js';
export { scheduleFromConfig, trainDiffusion, type DiffusionTrainOptions, type DiffusionTrainResult, type RowConditions } from './train-diffusion.js';
export { generateLatents, type GenerateLatentsOptions } from './generate.js';
