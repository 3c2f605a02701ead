/**
 * The P-Diff generator: parameter autoencoder, noise schedules, latent denoiser, samplers and
 * their training loops (SPEC sections 6-7).
 */
export { ParamAutoencoder, type ParamAutoencoderArgs } from './autoencoder.js';
export { DiffusionSchedule, cosineBetas, linearBetas, makeSchedule, type QPosterior, type ScheduleArgs, type ScheduleName } from './schedule.js';
export { LatentDenoiser, TIME_EMBED_DIM, type LatentDenoiserArgs } from './denoiser.js';
export {
  ddimSampleLoop, ddimSigma, ddimStep, ddimTimesteps, ddpmStep, denoiserEpsModel, pSampleLoop,
  type DdimOptions, type EpsModel, type OnStep, type StepBuffers, type StepResult,
} from './samplers.js';
export {
  decodeAll, deserializeTrainState, encodeAll, generateLatents, latentStats, scheduleFromConfig, serializeTrainState,
  trainAutoencoder, trainDiffusion,
  type AeTrainResult, type AeTrainState, type DiffusionTrainResult, type DiffusionTrainState,
  type LatentStats, type LossPoint, type NamedArray, type TrainLog, type TrainOptions as GeneratorTrainOptions, type TrainState,
} from './train.js';
