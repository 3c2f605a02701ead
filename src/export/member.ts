/**
 * One member of a run as a complete classifier: the run's base model with one parameter set of
 * the run written into it (docs/export.md#members):
 * - `best`: the generated model with the highest val accuracy (first on ties), as the evaluate
 *   stage scored it (eval/generated.json), the selection rule of docs/data.md;
 * - an index: that row of generated-<mode>.safetensors (0-based);
 * - `ensemble`: the report's "ensemble" group, the uniform mean of the K collected checkpoints
 *   (src/eval/baselines.ts ensembleAverage): one parameter set, so one ordinary model.
 * Reads the run folder only; the data set is not needed (src/data/info.ts gives its shape).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import type { Config } from '../config/index.js';
import { datasetInfo, type DatasetInfo } from '../data/info.js';
import { ensembleAverage } from '../eval/baselines.js';
import { argmaxFirst } from '../eval/stats.js';
import type { Classifier } from '../models/classifier.js';
import { buildClassifier } from '../models/registry.js';
import { ARTIFACTS } from '../run/context.js';
import { runFolderState } from '../run/folder.js';
import { Rng } from '../tensor/random.js';
import { FormatError, PdiffError } from '../util/errors.js';
import { loadCheckpointStack, loadStateDict } from '../zoo/checkpoint.js';
import { ParamLayout } from '../zoo/layout.js';

/** The arguments of `pdiff export`, by the names the CLI gives them (error messages use these). */
export const EXPORT_ARGS = { runDir: 'RUN_DIR', member: '--member', format: '--format', out: '--out' } as const;
export type ExportArgName = keyof typeof EXPORT_ARGS;

/** A bad argument of an export: the message starts with the argument's CLI name. Exit code 2. */
export class ExportError extends PdiffError {
  override readonly exitCode: number = 2;
  constructor(readonly argument: ExportArgName, detail: string) {
    super(`${EXPORT_ARGS[argument]} ${detail}`);
  }
}

/** Which member: the best generated model on val, a generated model by row, or the ensemble. */
export type MemberSpec = 'best' | 'ensemble' | number;

/** Parse `--member`: best, ensemble or a 0-based index. */
export function parseMember(text: string): MemberSpec {
  const t = text.trim();
  if (t === 'best' || t === 'ensemble') return t;
  if (/^\d+$/.test(t)) return Number(t);
  throw new ExportError('member', `"${text}": expected best, ensemble or the index of a generated model (0, 1, ...)`);
}

/** What was exported, for the file's metadata and the command's output. */
export interface MemberInfo {
  kind: 'generated' | 'ensemble';
  /** Row of the generated stack (generated members). */
  index?: number;
  /** How it was chosen: 'best' (on val), 'index' or 'ensemble'. */
  chosenBy: 'best' | 'index' | 'ensemble';
  /** Generated models in the run (generated members), or checkpoints averaged (ensemble). */
  of: number;
  /** Top-1 accuracy (%) on val and test as the evaluate stage scored it, where it has. */
  valAcc?: number;
  testAcc?: number;
  /** One line: "generated model 17 of 100, best on val (93.82 % val, 93.41 % test)". */
  description: string;
}

export interface RunMember {
  runDir: string;
  cfg: Config;
  /** The classifier (eval mode) with the member's parameters. */
  model: Classifier;
  /** Input shape, classes, normalisation of the run's data set. */
  data: DatasetInfo;
  member: MemberInfo;
  /** The state_dict names the member's parameter set replaced in the base model. */
  replaced: readonly string[];
}

interface GroupScores { n: number; val: number[]; test: number[] }

/** eval/<group>.json of the run, when it exists and is at least as new as `newerThan` (the file its sets come from). */
function groupScores(runDir: string, group: string, newerThan: string): GroupScores | null {
  const p = join(runDir, 'eval', `${group}.json`);
  if (!existsSync(p) || statSync(p).mtimeMs < statSync(newerThan).mtimeMs) return null;
  try {
    const j = JSON.parse(readFileSync(p, 'utf8')) as Partial<GroupScores>;
    if (typeof j.n === 'number' && Array.isArray(j.val) && Array.isArray(j.test) && j.val.length === j.n) return j as GroupScores;
  } catch { /* unreadable: treated as not evaluated */ }
  return null;
}

const pct = (v: number | undefined): string => (v === undefined ? '?' : `${v.toFixed(2)} %`);

export interface LoadMemberArgs {
  runDir: string;
  member: MemberSpec;
  /** Backend of the model (default: the CPU backend `auto` picks, quietly). */
  backend?: Backend;
}

/**
 * The member `a.member` of the run in `a.runDir` as a classifier.
 * @throws ExportError naming RUN_DIR (no run, no base model or no generated models; best before
 *   the evaluate stage) or --member (an index out of range).
 */
export function loadRunMember(a: LoadMemberArgs & { backend: Backend }): RunMember {
  const { runDir } = a;
  let state;
  try {
    state = runFolderState(runDir);
  } catch (e) {
    throw new ExportError('runDir', `${runDir}: ${(e as Error).message}`);
  }
  if (state.kind !== 'run') throw new ExportError('runDir', `${runDir}: not a pdiff run folder (no config.json)`);
  const cfg = state.config;
  // a conditional run's generated models are per condition, not members of one group
  if (cfg.tasks.condition === 'task') throw new ExportError('runDir', `${runDir}: a task-conditioned run (tasks.condition "task") generates a 2-way head per task code, not a ${datasetInfo(cfg.data.dataset).numClasses}-way classifier; write one code's with "pdiff generate -o ${runDir} --task CODE --save FILE"`);
  if (cfg.tasks.condition === 'accuracy') throw new ExportError('runDir', `${runDir}: an accuracy-conditioned run (tasks.condition "accuracy") generates models per target accuracy; write one with "pdiff generate -o ${runDir} --target-acc N --save FILE"`);
  const mode = cfg.collect.mode;
  const basePath = join(runDir, ARTIFACTS.base);
  if (!existsSync(basePath)) throw new ExportError('runDir', `${runDir}: has no trained base model (${ARTIFACTS.base}); run "pdiff run -o ${runDir}" first`);
  const data = datasetInfo(cfg.data.dataset);
  const model = buildClassifier(cfg.model.arch, { rng: new Rng(0), backend: a.backend, inShape: data.inShape, numClasses: data.numClasses, model: cfg.model });
  loadStateDict(basePath, model);
  model.eval();

  let vec: Float32Array, stack: ParamLayout, file: string, member: MemberInfo;
  if (a.member === 'ensemble') {
    const ckPath = join(runDir, ARTIFACTS.ckpts(mode));
    if (!existsSync(ckPath)) throw new ExportError('runDir', `${runDir}: has no collected checkpoints (${ARTIFACTS.ckpts(mode)}) to average for --member ensemble; run "pdiff collect -o ${runDir}" first`);
    const st = loadCheckpointStack(ckPath);
    vec = ensembleAverage(st.ckpts, st.k, st.layout.total);
    stack = st.layout;
    file = ckPath;
    const s = groupScores(runDir, 'ensemble', ckPath);
    member = {
      kind: 'ensemble', chosenBy: 'ensemble', of: st.k, valAcc: s?.val[0], testAcc: s?.test[0],
      description: `ensemble: the mean of the ${st.k} collected checkpoints${s ? ` (${pct(s.val[0])} val, ${pct(s.test[0])} test)` : ''}`,
    };
  } else {
    const genPath = join(runDir, ARTIFACTS.generated(mode));
    if (!existsSync(genPath)) throw new ExportError('runDir', `${runDir}: holds no generated models (${ARTIFACTS.generated(mode)} is missing); run "pdiff generate -o ${runDir}" first`);
    const st = loadCheckpointStack(genPath);
    const scores = groupScores(runDir, 'generated', genPath);
    let index: number;
    if (a.member === 'best') {
      if (!scores || scores.n !== st.k) {
        throw new ExportError('runDir', `${runDir}: its generated models have not been evaluated (eval/generated.json is missing or older than ${ARTIFACTS.generated(mode)}), so --member best cannot choose; run "pdiff evaluate -o ${runDir}", or pick one with --member INDEX`);
      }
      index = argmaxFirst(scores.val);
    } else {
      index = a.member;
      if (index >= st.k) throw new ExportError('member', `${index}: out of range: ${runDir} has ${st.k} generated models (indices 0 to ${st.k - 1})`);
    }
    vec = st.ckpts.subarray(index * st.layout.total, (index + 1) * st.layout.total);
    stack = st.layout;
    file = genPath;
    const val = scores?.n === st.k ? scores.val[index] : undefined, test = scores?.n === st.k ? scores.test[index] : undefined;
    member = {
      kind: 'generated', index, chosenBy: a.member === 'best' ? 'best' : 'index', of: st.k, valAcc: val, testAcc: test,
      description: `generated model ${index} of ${st.k}${a.member === 'best' ? ', best on val' : ''}${val !== undefined ? ` (${pct(val)} val, ${pct(test)} test)` : ''}`,
    };
  }
  // the stack's tensors must be tensors of the model, with the model's shapes
  const layout = ParamLayout.fromModel(model, stack.names);
  if (!layout.equals(stack)) throw new FormatError(file, `its tensors do not have the shapes of the ${cfg.model.arch} model's (${layout.names.map((n, i) => `${n} [${layout.shapes[i]!.join(', ')}]`).join(', ')})`);
  layout.write(model, vec);
  return { runDir, cfg, model, data, member, replaced: stack.names };
}
