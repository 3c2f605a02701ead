import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { ConfigError } from '../util/errors.js';
import { makeDir } from '../util/fsdir.js';

/**
 * The run folder's bookkeeping: one marker per finished stage (stages/<name>.json) holding the hash
 * of everything the stage's outputs depend on. A stage whose marker hash matches is skipped; a
 * stage in progress keeps its resumable state under state/.
 */
export interface StageMarker {
  hash: string;
  /** Seconds the stage worked, summed over the processes that ran it (see StageClock). */
  seconds: number;
  finishedAt: string;
  outputs: string[];
  /** How many times the stage continued from saved state (absent: never). */
  resumes?: number;
}

export class RunStore {
  constructor(readonly dir: string) {
    makeDir(join(dir, 'stages'));
    makeDir(join(dir, 'state'));
  }

  path(...parts: string[]): string { return join(this.dir, ...parts); }

  marker(stage: string): StageMarker | null {
    const p = this.path('stages', `${stage}.json`);
    if (!existsSync(p)) return null;
    try { return JSON.parse(readFileSync(p, 'utf8')) as StageMarker; } catch { return null; }
  }

  /** Whether `stage` finished with this hash and its outputs are still there. */
  isDone(stage: string, hash: string): boolean {
    const m = this.marker(stage);
    return !!m && m.hash === hash && m.outputs.every((o) => existsSync(this.path(o)));
  }

  /** Mark a stage finished. Called only after all its outputs are written. */
  markDone(stage: string, hash: string, seconds: number, outputs: string[], resumes = 0): void {
    const m: StageMarker = { hash, seconds, finishedAt: new Date().toISOString(), outputs, ...(resumes > 0 ? { resumes } : {}) };
    writeFileAtomic(this.path('stages', `${stage}.json`), JSON.stringify(m, null, 2) + '\n');
  }

  statePath(stage: string, ext = 'safetensors'): string { return this.path('state', `${stage}.${ext}`); }
  clearState(stage: string): void {
    for (const ext of ['safetensors', 'json', 'clock.json']) rmSync(this.statePath(stage, ext), { force: true });
  }

  /** The clock of a stage about to run with this hash (continuing the time of an interrupted run). */
  clock(stage: string, hash: string): StageClock { return new StageClock(this.statePath(stage, 'clock.json'), hash); }
}

/**
 * The working time of one stage across interruptions. A resumable stage calls save() right after it
 * saved its state; a later process that resumes from that state starts its clock at the saved
 * seconds. So a stage's time is what its kept work took plus the redone work, about what an
 * uninterrupted run takes, rather than only the last process's share.
 */
export class StageClock {
  private readonly t0 = performance.now();
  /** Seconds recorded by earlier processes. */
  readonly prior: number;
  /** Earlier processes that saved state for this stage. */
  readonly resumes: number;

  constructor(private readonly path: string, private readonly hash: string) {
    let prior = 0, resumes = 0;
    if (existsSync(path)) {
      try {
        const c = JSON.parse(readFileSync(path, 'utf8')) as { hash?: unknown; seconds?: unknown; resumes?: unknown };
        if (c.hash === hash && typeof c.seconds === 'number' && c.seconds >= 0 && typeof c.resumes === 'number') {
          prior = c.seconds;
          resumes = c.resumes + 1;
        }
      } catch { /* a damaged clock only loses the earlier time */ }
    }
    this.prior = prior;
    this.resumes = resumes;
  }

  /** Seconds in this process. */
  own(): number { return (performance.now() - this.t0) / 1000; }
  /** Seconds in all processes so far. */
  seconds(): number { return this.prior + this.own(); }
  /** Record the time so far (call after the stage saved resumable state). */
  save(): void {
    writeFileAtomic(this.path, JSON.stringify({ hash: this.hash, seconds: this.seconds(), resumes: this.resumes }) + '\n');
  }
}

/**
 * sha256 (hex) of a file's contents, for a stage input outside the run folder; `key` names the
 * config key that points at it.
 * @throws ConfigError naming the key and path when the file cannot be read.
 */
export function fileDigest(path: string, key: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ConfigError(`config: ${key}: cannot read "${path}" (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return createHash('sha256').update(bytes).digest('hex');
}

export function sha256(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

/**
 * Test hook for interruption tests: PDIFF_KILL_AT="stage:n" makes the process SIGKILL itself at the
 * n-th checkpoint of that stage (after its state was saved), as a crash or Ctrl-C would.
 */
export function maybeKill(stage: string, n: number): void {
  const spec = process.env.PDIFF_KILL_AT;
  if (!spec) return;
  const [s, k] = spec.split(':');
  if (s === stage && Number(k) === n) process.kill(process.pid, 'SIGKILL');
}
