/**
 * Typed errors. Library code throws these; only the CLI turns them into exit codes.
 * Every message says what was expected, what was found, and where (file, key, tensor).
 */
export class PdiffError extends Error {
  /** Process exit code the CLI uses for this kind of error. */
  readonly exitCode: number = 1;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A malformed or truncated input file (dataset, safetensors, checkpoint). */
export class FormatError extends PdiffError {
  override readonly exitCode: number = 3;
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
  }
}

/** A bad configuration: unknown key, wrong type, bad value. */
export class ConfigError extends PdiffError {
  override readonly exitCode: number = 2;
}

/** Tensor shapes that do not fit (op inputs, a state_dict entry and its model). */
export class ShapeError extends PdiffError {}

/** A value that must be finite is not (NaN or Inf in parameters, a diverged loss). */
export class NumericError extends PdiffError {}
