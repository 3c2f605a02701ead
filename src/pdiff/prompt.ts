/**
 * Prompts a user gives a conditional generator, checked before anything is read or written: a
 * target accuracy (`pdiff generate --target-acc 85`). A task code is checked by parseTaskCode
 * (src/tasks/codes.ts).
 */
import { ConfigError } from '../util/errors.js';

/** A target accuracy that is not one; names the flag (or config key) it came from. Exit code 2. */
export class TargetAccuracyError extends ConfigError {
  constructor(readonly flag: string, message: string) {
    super(message);
  }
}

/**
 * A target accuracy in percent, given as text: a finite number in [0, 100] (e.g. "85", "92.5").
 * @param flagName where it came from, for the message (default "--target-acc")
 * @throws TargetAccuracyError naming the flag for text that is not a number, or a number outside [0, 100].
 */
export function parseTargetAccuracy(text: string, flagName = '--target-acc'): number {
  const t = text.trim();
  const v = t === '' ? NaN : Number(t);
  if (!Number.isFinite(v)) throw new TargetAccuracyError(flagName, `${flagName}: expected a target accuracy in percent, a number in [0, 100], got ${JSON.stringify(text)}`);
  if (v < 0 || v > 100) throw new TargetAccuracyError(flagName, `${flagName}: expected a target accuracy in percent in [0, 100], got ${v}`);
  return v;
}
