import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * The run folder's bookkeeping: one marker per finished stage (stages/<name>.json) holding the hash
 * of everything the stage's outputs depend on. A stage whose marker hash matches is skipped; a
 * stage in progress keeps its resumable state under state/.
 */
export interface StageMarker { hash: string; seconds: number; finishedAt: string; outputs: string[] }

export class RunStore {
  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'stages'), { recursive: true });
    mkdirSync(join(dir, 'state'), { recursive: true });
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
  markDone(stage: string, hash: string, seconds: number, outputs: string[]): void {
    const m: StageMarker = { hash, seconds, finishedAt: new Date().toISOString(), outputs };
    writeFileAtomic(this.path('stages', `${stage}.json`), JSON.stringify(m, null, 2) + '\n');
  }

  statePath(stage: string, ext = 'safetensors'): string { return this.path('state', `${stage}.${ext}`); }
  clearState(stage: string): void {
    for (const ext of ['safetensors', 'json']) rmSync(this.statePath(stage, ext), { force: true });
  }
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
