/**
 * pdiff's library API. The CLI (src/cli) is a thin layer over these exports.
 */
export * from './tensor/index.js';
export * from './nn/index.js';
export { getBackend, setBackend, resolveBackend, jsBackend, blasBackend, CpuBackend, type Backend, type BackendName } from './backend/index.js';
export * from './models/index.js';
export * from './data/dataset.js';
export { loadCifar10, loadCifar100 } from './data/cifar.js';
export { corrupt, corruptDataset, SHIFT_KINDS } from './data/shift.js';
export * from './zoo/index.js';
export * from './pdiff/index.js';
export * from './accuracy/index.js';
export * from './config/index.js';
export { runPipeline, loadData, STAGES, type StageName, type RunResult, type PipelineOptions } from './run/pipeline.js';
export { writeReport, summaryTable } from './report/render.js';
export { compareRuns, loadRunForCompare, renderComparison, type RunComparison, type CompareRow, type RunForCompare } from './report/compare.js';
export { compareArchs, loadArchRun, renderArchComparison, type ArchComparison, type ArchRun } from './report/compare-archs.js';
export type { ReportData, GroupReport, MemberMetric } from './report/types.js';
export { classificationMetrics, argmaxRows as argmaxRowsHost } from './eval/metrics.js';
export { ParamSetEvaluator } from './eval/evaluate.js';
export { noiseBaseline, averageBaseline, gaussFitBaseline, ensembleAverage } from './eval/baselines.js';
export { iouMax, nearestL2 } from './eval/novelty.js';
export { groupStats } from './eval/stats.js';
export { pca2, tsne2 } from './eval/projection.js';
export {
  exportMember, exportOnnx, buildOnnxModel, loadRunMember, parseMember, loadOnnxRuntime, OnnxSession, onnxLatency, ExportError, OnnxRuntimeError,
  ARCH_GRAPHS, OnnxGraph, ONNX_INPUT, ONNX_OUTPUT, EXPORT_FORMATS, type ExportArgs, type ExportResult, type ExportFormat, type MemberSpec, type OnnxRuntime,
} from './export/index.js';
export { DATASET_INFO, datasetInfo, type DatasetInfo } from './data/info.js';
export { PdiffError, FormatError, ConfigError, ShapeError, NumericError } from './util/errors.js';
