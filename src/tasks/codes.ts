/**
 * Binary tasks on a C-class data set (docs/tasks.md#tasks): a task is a C-bit code string,
 * character i = class i ('1' = the images of class i are positive). Codes of all zeros or all
 * ones have one label only and are not tasks, so C = 10 classes give 2^10 - 2 = 1,022 tasks.
 *
 * The codes are split once, from a seed, into seen codes (the zoo is trained on them) and unseen
 * codes (held out from everything the generator learns from; docs/tasks.md#split).
 */
import { deriveSeed, Rng } from '../tensor/random.js';
import { ConfigError } from '../util/errors.js';

/** Classes of the data sets the tasks are defined on (Fashion-MNIST, MNIST, KMNIST). */
export const TASK_CLASSES = 10;

/** Why a code was refused. */
export type TaskCodeProblem = 'length' | 'characters' | 'all-zeros' | 'all-ones';

/** A task code that is not one: names the flag (or config key) it came from. */
export class TaskCodeError extends ConfigError {
  constructor(readonly flag: string, readonly problem: TaskCodeProblem, message: string) {
    super(message);
  }
}

/**
 * Check a task code given by a user and return it.
 * @param text e.g. "0110010011" (character i = class i)
 * @param flagName where it came from, for the message (e.g. "--task", "eval.tasks[3]")
 * @param classes the code length (default 10)
 * @throws TaskCodeError naming the flag for a wrong length, characters other than 0 and 1, or a
 *   code of all zeros or all ones (one class only: no binary task).
 */
export function parseTaskCode(text: string, flagName: string, classes = TASK_CLASSES): string {
  const shown = JSON.stringify(text);
  if (text.length !== classes) {
    throw new TaskCodeError(flagName, 'length', `${flagName}: expected a task code of ${classes} characters 0/1 (character i = class i), got ${shown} (${text.length} characters)`);
  }
  const bad = /[^01]/.exec(text);
  if (bad) {
    throw new TaskCodeError(flagName, 'characters', `${flagName}: expected only the characters 0 and 1 in the task code, got ${shown} (${JSON.stringify(bad[0])} at position ${bad.index})`);
  }
  if (!text.includes('1')) {
    throw new TaskCodeError(flagName, 'all-zeros', `${flagName}: the task code ${shown} has no positive class (all zeros); a task needs at least one 1 and one 0`);
  }
  if (!text.includes('0')) {
    throw new TaskCodeError(flagName, 'all-ones', `${flagName}: the task code ${shown} has no negative class (all ones); a task needs at least one 1 and one 0`);
  }
  return text;
}

function checkClasses(classes: number): void {
  if (!Number.isInteger(classes) || classes < 2 || classes > 30) {
    throw new ConfigError(`task codes: expected a number of classes in [2, 30], got ${classes}`);
  }
}

/**
 * Every task code of `classes` bits (2^classes - 2 of them), in lexicographic string order:
 * "0000000001" first, "1111111110" last (the code read as a binary number, character 0 the most
 * significant digit, ascending). This order is the index of a code everywhere (split, zoo).
 */
export function allTaskCodes(classes = TASK_CLASSES): string[] {
  checkClasses(classes);
  const n = 2 ** classes;
  const out: string[] = [];
  for (let m = 1; m < n - 1; m++) out.push(m.toString(2).padStart(classes, '0'));
  return out;
}

/** A code's bits: out[i] = 1 when class i is positive. */
export function codeBits(code: string): Uint8Array {
  const out = new Uint8Array(code.length);
  for (let i = 0; i < code.length; i++) out[i] = code.charCodeAt(i) === 49 ? 1 : 0;
  return out;
}

/** A code as signs: +1 where class i is positive, -1 where it is negative (the ridge baseline's features). */
export function codeSigns(code: string): Float64Array {
  const out = new Float64Array(code.length);
  for (let i = 0; i < code.length; i++) out[i] = code.charCodeAt(i) === 49 ? 1 : -1;
  return out;
}

/**
 * Number of classes on which two codes differ.
 * @throws ConfigError when the codes differ in length.
 */
export function hamming(a: string, b: string): number {
  if (a.length !== b.length) throw new ConfigError(`hamming: codes of different lengths, "${a}" (${a.length}) and "${b}" (${b.length})`);
  let d = 0;
  for (let i = 0; i < a.length; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) d++;
  return d;
}

/** A seeded split of the task codes. */
export interface TaskSplit {
  /** Codes the zoo (and everything trained on it) may use, in allTaskCodes order. */
  seen: string[];
  /** Held-out codes, in allTaskCodes order. */
  unseen: string[];
  /** The seed the split was drawn from. */
  seed: number;
  classes: number;
}

/** Arguments of {@link splitCodes}: exactly one of unseenCount and unseenFraction. */
export interface SplitCodesArgs {
  /** The split depends on this seed only (and on the count). */
  seed: number;
  /** Number of unseen codes, in [1, total - 1]. */
  unseenCount?: number;
  /** Fraction of the codes held out, in (0, 1): round(fraction * total) codes, at least 1 and at most total - 1. */
  unseenFraction?: number;
  /** Code length (default 10: 1,022 codes). */
  classes?: number;
}

/**
 * Split the task codes into seen and unseen, exactly and deterministically: the unseen codes are
 * the first `count` draws of a partial Fisher-Yates shuffle of the code indices by
 * Rng(deriveSeed(seed, "tasks/split")); both lists are returned in allTaskCodes order.
 * @throws ConfigError when neither or both of unseenCount and unseenFraction are given, or one
 *   is out of range.
 */
export function splitCodes(args: SplitCodesArgs): TaskSplit {
  const classes = args.classes ?? TASK_CLASSES;
  const codes = allTaskCodes(classes);
  const N = codes.length;
  if (!Number.isInteger(args.seed) || args.seed < 0 || args.seed > 0xffffffff) {
    throw new ConfigError(`splitCodes: seed must be an integer in [0, 2^32), got ${args.seed}`);
  }
  const hasCount = args.unseenCount !== undefined, hasFrac = args.unseenFraction !== undefined;
  if (hasCount === hasFrac) throw new ConfigError('splitCodes: give exactly one of unseenCount and unseenFraction');
  let count: number;
  if (hasCount) {
    count = args.unseenCount!;
    if (!Number.isInteger(count) || count < 1 || count > N - 1) {
      throw new ConfigError(`splitCodes: unseenCount must be an integer in [1, ${N - 1}], got ${count}`);
    }
  } else {
    const f = args.unseenFraction!;
    if (!(f > 0 && f < 1)) throw new ConfigError(`splitCodes: unseenFraction must be in (0, 1), got ${f}`);
    count = Math.min(N - 1, Math.max(1, Math.round(f * N)));
  }
  const rng = new Rng(deriveSeed(args.seed, 'tasks/split'));
  const held = new Uint8Array(N);
  for (const i of rng.choiceWithoutReplacement(N, count)) held[i] = 1;
  const seen: string[] = [], unseen: string[] = [];
  codes.forEach((c, i) => (held[i] ? unseen : seen).push(c));
  return { seen, unseen, seed: args.seed, classes };
}

/**
 * `n` of `codes` chosen by Rng(deriveSeed(seed, label)), returned in their order in `codes` (e.g.
 * the sample of seen codes evaluated beside the unseen ones); all of them when n >= codes.length.
 */
export function sampleCodes(codes: readonly string[], n: number, seed: number, label = 'tasks/sample'): string[] {
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`sampleCodes: n must be a non-negative integer, got ${n}`);
  if (n >= codes.length) return [...codes];
  const pick = new Uint8Array(codes.length);
  for (const i of new Rng(deriveSeed(seed, label)).choiceWithoutReplacement(codes.length, n)) pick[i] = 1;
  return codes.filter((_, i) => pick[i] === 1);
}
