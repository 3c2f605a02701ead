/**
 * `pdiff export`: one member of a run written as a standalone model (docs/export.md). ONNX files
 * are checked in ONNX Runtime against pdiff's forward before they are written (when it is
 * installed); safetensors files are the model's full state_dict with PyTorch names, written by
 * the same code as the run's own state_dicts (src/zoo/checkpoint.ts saveStateDict).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { resolveBackend } from '../backend/index.js';
import { canonicalJson } from '../config/index.js';
import { Rng } from '../tensor/random.js';
import { Tensor, noGrad } from '../tensor/tensor.js';
import { writeFileAtomic } from '../util/atomic.js';
import { saveStateDict } from '../zoo/checkpoint.js';
import { ExportError, loadRunMember, type MemberInfo, type MemberSpec, type RunMember } from './member.js';
import { BATCH_DIM, ONNX_INPUT, ONNX_OUTPUT, exportOnnx } from './onnx.js';
import { OnnxRuntimeError, OnnxSession, loadOnnxRuntime, type OnnxRuntime } from './runtime.js';

export { ARCH_GRAPHS, type ArchGraph, type ArchGraphArgs } from './archs.js';
export { OnnxGraph } from './graph.js';
export { EXPORT_ARGS, ExportError, loadRunMember, parseMember, type MemberInfo, type MemberSpec, type RunMember } from './member.js';
export { BATCH_DIM, ONNX_INPUT, ONNX_OUTPUT, buildOnnxModel, exportOnnx, type OnnxExportArgs } from './onnx.js';
export { decodeModel, encodeModel, OPSET, IR_VERSION } from './onnx-proto.js';
export { OnnxRuntimeError, OnnxSession, loadOnnxRuntime, onnxLatency, type OnnxRuntime } from './runtime.js';

export const EXPORT_FORMATS = ['onnx', 'safetensors'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Inputs of the ONNX Runtime check, and its tolerance (docs/export.md#the-check). */
export const CHECK_BATCH = 4;
export const CHECK_TOLERANCE = 1e-4;

const pkgVersion = (): string => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '';
  }
};

/**
 * The metadata both formats carry (ONNX metadata_props, safetensors __metadata__): what the model
 * is, the input it expects and where it came from. Keys and meaning in docs/export.md#metadata.
 */
export function exportMetadata(m: RunMember): Record<string, string> {
  const { data, member, cfg } = m;
  const [c, h, w] = data.inShape;
  return {
    pdiff_arch: cfg.model.arch,
    pdiff_model: JSON.stringify(cfg.model),
    pdiff_dataset: cfg.data.dataset,
    pdiff_input: `${ONNX_INPUT} [${BATCH_DIM}, ${c}, ${h}, ${w}] float32`,
    pdiff_input_shape: JSON.stringify(data.inShape),
    pdiff_input_normalisation: 'input = (pixel / 255 - mean[c]) / std[c] per channel c, pixel in 0..255',
    pdiff_input_mean: JSON.stringify(data.norm.mean),
    pdiff_input_std: JSON.stringify(data.norm.std),
    pdiff_output: `${ONNX_OUTPUT} [${BATCH_DIM}, ${data.numClasses}] float32, logits (no softmax)`,
    pdiff_num_classes: String(data.numClasses),
    pdiff_class_names: JSON.stringify(data.classNames),
    pdiff_member: member.description,
    pdiff_member_kind: member.kind,
    ...(member.index !== undefined ? { pdiff_member_index: String(member.index) } : {}),
    pdiff_replaced: JSON.stringify(m.replaced),
    pdiff_run: resolve(m.runDir),
    pdiff_version: pkgVersion(),
    pdiff_config: canonicalJson(cfg),
  };
}

export interface ExportArgs {
  runDir: string;
  member: MemberSpec;
  format: ExportFormat;
  /** The file to write (its folder must exist); written atomically. */
  out: string;
  /** Run an ONNX export in ONNX Runtime against pdiff's forward before writing it (default true). */
  check?: boolean;
  /** The ONNX Runtime to check with (default: onnxruntime-node when installed). */
  runtime?: OnnxRuntime;
  backend?: Backend;
}

/** The ONNX Runtime check: ran (its largest difference) or why not. */
export type ExportCheck =
  | { ran: true; runtime: string; batch: number; maxAbsDiff: number; tolerance: number }
  | { ran: false; reason: string };

export interface ExportResult {
  out: string;
  format: ExportFormat;
  bytes: number;
  arch: string;
  member: MemberInfo;
  input: { name: string; shape: Array<number | string>; mean: number[]; std: number[] } | null;
  output: { name: string; shape: Array<number | string> } | null;
  check: ExportCheck;
}

/** `--out` must name a file in an existing folder (an export never creates folders). */
function checkOut(out: string): void {
  if (out === '' || out.endsWith('/')) throw new ExportError('out', `"${out}": expected a file name`);
  const dir = dirname(resolve(out));
  if (!existsSync(dir)) throw new ExportError('out', `${out}: the folder ${dir} does not exist (pdiff export does not create folders)`);
  if (!statSync(dir).isDirectory()) throw new ExportError('out', `${out}: ${dir} is not a folder`);
  if (existsSync(out) && statSync(out).isDirectory()) throw new ExportError('out', `${out}: is a folder, expected a file name`);
}

/** The format an output name implies (.onnx, .safetensors), or undefined. */
export function formatOfName(out: string): ExportFormat | undefined {
  const ext = extname(out).toLowerCase();
  return ext === '.onnx' ? 'onnx' : ext === '.safetensors' ? 'safetensors' : undefined;
}

/** Run `bytes` in ONNX Runtime on CHECK_BATCH fixed inputs and compare with the model's forward. */
async function checkInRuntime(rt: Extract<OnnxRuntime, { available: true }>, bytes: Uint8Array, m: RunMember): Promise<ExportCheck> {
  const [c, h, w] = m.data.inShape;
  const be = m.model.backend;
  const x = Float32Array.from(new Rng(0).fillNormal(new Float32Array(CHECK_BATCH * c * h * w)));
  const want = noGrad(() => be.read(m.model.forward(new Tensor(be.fromArray(x), [CHECK_BATCH, c, h, w], be)).storage));
  const session = await OnnxSession.create(rt, { bytes, input: ONNX_INPUT, output: ONNX_OUTPUT });
  let got: Float32Array;
  try {
    got = (await session.run(x, [CHECK_BATCH, c, h, w])).data;
  } finally {
    await session.release();
  }
  let worst = got.length === want.length ? 0 : Infinity, bad = got.length !== want.length;
  for (let i = 0; i < want.length && i < got.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= worst)) worst = d;
    if (!(d <= CHECK_TOLERANCE * (1 + Math.abs(want[i]!)))) bad = true;
  }
  if (bad) {
    throw new OnnxRuntimeError(`the exported ${m.cfg.model.arch} graph does not reproduce pdiff's forward in ONNX Runtime ${rt.version}: largest logit difference ${worst} ` +
      `(tolerance ${CHECK_TOLERANCE} x (1 + |logit|)); nothing was written. This is a bug of the ${m.cfg.model.arch} exporter (src/export/archs.ts); --no-check writes the file anyway`);
  }
  return { ran: true, runtime: `onnxruntime-node ${rt.version}`, batch: CHECK_BATCH, maxAbsDiff: worst, tolerance: CHECK_TOLERANCE };
}

/**
 * Export one member of a run (see member.ts for `best`, an index and `ensemble`) as `a.format`
 * to `a.out`. Arguments are checked before anything is computed; the file appears whole or not
 * at all (atomic write).
 * @throws ExportError naming the argument, OnnxRuntimeError when the check fails.
 */
export async function exportMember(a: ExportArgs): Promise<ExportResult> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(a.format)) throw new ExportError('format', `"${a.format}": expected one of ${EXPORT_FORMATS.join(', ')}`);
  checkOut(a.out);
  const m = loadRunMember({ runDir: a.runDir, member: a.member, backend: a.backend ?? resolveBackend('auto', true) });
  const meta = exportMetadata(m);
  const [c, h, w] = m.data.inShape;
  const base = { out: a.out, format: a.format, arch: m.cfg.model.arch, member: m.member };
  if (a.format === 'safetensors') {
    saveStateDict(a.out, m.model, meta);
    return { ...base, bytes: statSync(a.out).size, input: null, output: null, check: { ran: false, reason: 'safetensors: nothing to run (load it with loadStateDict, or load_state_dict(strict=True) in PyTorch)' } };
  }
  const bytes = exportOnnx({
    model: m.model, inShape: m.data.inShape, numClasses: m.data.numClasses, metadata: meta, producerVersion: pkgVersion(),
    docString: `pdiff ${m.cfg.model.arch}, ${m.member.description}, from ${resolve(m.runDir)}`,
  });
  let check: ExportCheck = { ran: false, reason: 'skipped (--no-check)' };
  if (a.check !== false) {
    const rt = a.runtime ?? await loadOnnxRuntime();
    check = rt.available ? await checkInRuntime(rt, bytes, m) : { ran: false, reason: rt.reason };
  }
  writeFileAtomic(a.out, bytes);
  return {
    ...base, bytes: bytes.length, check,
    input: { name: ONNX_INPUT, shape: [BATCH_DIM, c, h, w], mean: [...m.data.norm.mean], std: [...m.data.norm.std] },
    output: { name: ONNX_OUTPUT, shape: [BATCH_DIM, m.data.numClasses] },
  };
}
