/**
 * Creating folders with a bounded walk and one clear error.
 *
 * Node's `mkdirSync(p, { recursive: true })` loops forever on some paths where mkdir answers ENOENT
 * for a parent that exists (procfs: `mkdir("/proc/x")` is ENOENT again and again), and its errors
 * name a syscall rather than the problem. `makeDir` finds the deepest existing ancestor once, then
 * creates each missing component with one plain mkdir, so it makes at most one call per path
 * component, and turns the errors a user can cause into one line that names the path.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PdiffError } from './errors.js';

/** A folder that cannot be created or written (permissions, read-only or special file system, a file in the way). */
export class PathError extends PdiffError {
  override readonly exitCode: number = 2;
}

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOTDIR: 'a part of the path is a file, not a folder',
  ENOENT: 'the file system does not allow creating it (or a parent vanished)',
  EEXIST: 'a file of that name is in the way',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENAMETOOLONG: 'the name is too long',
};

/** A PathError for an fs error at `path` (what: "cannot create folder", "cannot write"), or the error itself when it is not a user's problem. */
export function pathError(what: string, path: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const reason = code ? REASONS[code] : undefined;
  if (!reason) return e instanceof Error ? e : new Error(String(e));
  return new PathError(`${what} ${path}: ${reason} (${code})`);
}

function isDir(p: string): boolean | null {
  try {
    return statSync(p).isDirectory();
  } catch (e) {
    // ENOTDIR: a parent is a file; the walk up finds it and says so.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw pathError('cannot create folder', p, e);
  }
}

/**
 * Create `dir` and its missing parents (like `mkdir -p`), at most one mkdir per missing component.
 * Throws a PathError naming the path on EACCES, EPERM, EROFS, ENOTDIR, ENOENT, EEXIST (a file in
 * the way) and similar; returns quietly when the folder exists.
 */
export function makeDir(dir: string): void {
  const target = resolve(dir);
  const missing: string[] = [];
  let p = target;
  for (;;) {
    const d = isDir(p);
    if (d === true) break;
    if (d === false) throw new PathError(`cannot create folder ${dir}: ${p} is a file, not a folder`);
    missing.push(p);
    const up = dirname(p);
    if (up === p) break; // the root does not exist: mkdir below reports it
    p = up;
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    const m = missing[i]!;
    try {
      mkdirSync(m);
    } catch (e) {
      // Another process may have created it in between: that is fine when it is a folder now.
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && isDir(m) === true) continue;
      throw pathError('cannot create folder', dir === m ? dir : `${dir} (at ${m})`, e);
    }
  }
}
