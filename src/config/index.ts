/** Configuration: schema (defaults + descriptions), presets, resolving and hashing. */
export {
  ARCHS,
  CONDITIONAL_KEYS,
  ConfigSchema,
  DATASETS,
  SHIFT_KINDS,
  seedCount,
  type AeConfig,
  type BaseConfig,
  type CollectConfig,
  type Config,
  type DataConfig,
  type DeepPartial,
  type DiffusionConfig,
  type EvalConfig,
  type GenerateConfig,
  type ModelConfig,
  type ReportConfig,
} from './schema.js';
export { DEFAULT_PRESET, PRESETS, type Preset } from './presets.js';
export {
  canonicalJson,
  configHash,
  defaultConfig,
  describeConfig,
  parseConfig,
  parseSet,
  resolveConfig,
  type ConfigKeyInfo,
  type ResolveOptions,
} from './load.js';
export { RUN_LOCAL_KEYS, changeLines, diffConfigs, type ConfigChange } from './diff.js';
