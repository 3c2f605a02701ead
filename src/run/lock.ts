/**
 * One process at a time in a run folder.
 *
 * Two pipelines writing the same folder leave models of one config beside evaluations of another,
 * and nothing in the folder shows it. `RunLock.acquire` creates `<dir>/run.lock` exclusively
 * (O_EXCL), holding the owner's pid, host, boot id and process start time. A second process finds
 * the lock, checks that its owner still lives, and is refused at once with the owner's pid and
 * command. A lock whose owner is gone (SIGKILL, crash, reboot) is stale and is taken over: it is
 * renamed away first, so of several processes that find the same stale lock only one takes it.
 */
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { PdiffError } from '../util/errors.js';
import { pathError } from '../util/fsdir.js';

/** Another live process holds the run folder. */
export class RunLockedError extends PdiffError {
  override readonly exitCode: number = 5;
}

export interface LockOwner {
  pid: number;
  host: string;
  /** Linux boot id: a lock from before a reboot is stale whatever its pid. */
  bootId: string | null;
  /** The owner's start time in clock ticks since boot (/proc/<pid>/stat field 22): guards against pid reuse. */
  startTicks: number | null;
  command: string;
  since: string;
}

export const LOCK_FILE = 'run.lock';

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function bootId(): string | null {
  return readText('/proc/sys/kernel/random/boot_id')?.trim() ?? null;
}

/** Start time of a process in clock ticks since boot, or null where /proc does not say. */
export function processStartTicks(pid: number): number | null {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return null;
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const v = Number(rest[19]); // field 22 overall; rest[0] is field 3
  return Number.isFinite(v) ? v : null;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

/** Whether the process that wrote `o` is still running (on this host; a lock from another host counts as live). */
export function ownerAlive(o: LockOwner): boolean {
  if (o.host !== hostname()) return true;
  const boot = bootId();
  if (o.bootId && boot && o.bootId !== boot) return false;
  if (!pidAlive(o.pid)) return false;
  if (o.startTicks !== null) {
    const now = processStartTicks(o.pid);
    if (now !== null && now !== o.startTicks) return false; // the pid was reused
  }
  return true;
}

function parseOwner(text: string | null): LockOwner | null {
  if (text === null) return null;
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (typeof o.pid !== 'number' || typeof o.host !== 'string') return null;
    return { pid: o.pid, host: o.host, bootId: o.bootId ?? null, startTicks: o.startTicks ?? null, command: String(o.command ?? ''), since: String(o.since ?? '') };
  } catch {
    return null;
  }
}

let heldLocks: RunLock[] = [];
let exitHook = false;

export class RunLock {
  private released = false;

  private constructor(readonly path: string, readonly text: string) {}

  /**
   * Take the lock of run folder `dir` (which must exist) for this process. Throws RunLockedError
   * naming the folder and the owner when a live process holds it; takes over a stale lock (its
   * owner is dead), calling `onStale` with that owner.
   */
  static acquire(dir: string, command: string, onStale?: (o: LockOwner) => void): RunLock {
    const path = join(dir, LOCK_FILE);
    const me: LockOwner = {
      pid: process.pid, host: hostname(), bootId: bootId(), startTicks: processStartTicks(process.pid), command, since: new Date().toISOString(),
    };
    const text = JSON.stringify(me) + '\n';
    for (let attempt = 0; attempt < 20; attempt++) {
      let fd: number | null = null;
      try {
        fd = openSync(path, 'wx');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw pathError('cannot write', path, e);
      }
      if (fd !== null) {
        try {
          writeSync(fd, text);
        } finally {
          closeSync(fd);
        }
        const lock = new RunLock(path, text);
        heldLocks.push(lock);
        if (!exitHook) {
          exitHook = true;
          process.on('exit', () => { for (const l of heldLocks) l.release(); });
        }
        return lock;
      }
      const seen = readText(path);
      if (seen === null) continue; // released in between: try again
      const owner = parseOwner(seen);
      // A lock file being written right now is empty for a moment: only an old unreadable one is stale.
      if (owner === null && seen.trim() === '' && attempt < 10) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); continue; }
      if (owner !== null && ownerAlive(owner)) {
        const where = owner.host === me.host ? `pid ${owner.pid}` : `pid ${owner.pid} on host ${owner.host}`;
        throw new RunLockedError(
          `run folder ${dir} is in use by ${where}${owner.command ? ` (${owner.command})` : ''}${owner.since ? ` since ${owner.since}` : ''}; ` +
          `wait for it to finish or stop it, or use another --out. (If that process is gone, delete ${path}.)`,
        );
      }
      // Stale: move it aside atomically; only one of several contenders succeeds.
      const aside = `${path}.stale.${process.pid}`;
      try {
        renameSync(path, aside);
      } catch {
        continue; // someone else took it first
      }
      if (readText(aside) !== seen) {
        // Between our read and the rename a new owner took the lock: put it back and look again.
        try { renameSync(aside, path); } catch { /* it will be found stale or live next round */ }
        continue;
      }
      rmSync(aside, { force: true });
      if (owner) onStale?.(owner);
    }
    throw new RunLockedError(`run folder ${dir}: could not take ${path} (it keeps changing hands)`);
  }

  /** Give the lock up (idempotent). Only removes the file while it still holds this owner. */
  release(): void {
    if (this.released) return;
    this.released = true;
    heldLocks = heldLocks.filter((l) => l !== this);
    if (readText(this.path) === this.text) rmSync(this.path, { force: true });
  }
}
