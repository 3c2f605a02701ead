/**
 * JSON Lines logs (one JSON object per line), appended as a run goes so that a crash loses at
 * most the line being written. Non-finite numbers are written as null (JSON has no NaN).
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { FormatError } from './errors.js';
import { makeDir } from './fsdir.js';

/** An append-only JSONL file; the folder is created on construction. */
export class JsonlLog {
  constructor(readonly path: string) {
    makeDir(dirname(path));
  }

  /** Append `obj` as one line. */
  write(obj: object): void {
    appendFileSync(this.path, `${JSON.stringify(obj)}\n`);
  }
}

/**
 * All records of a JSONL file (empty lines skipped). A last line without its newline that does
 * not parse is the remains of a write cut short by a crash and is dropped; any other bad line is
 * a FormatError naming the line.
 */
export function readJsonl<T = unknown>(path: string): T[] {
  if (!existsSync(path)) throw new FormatError(path, 'file not found (expected a JSON Lines log)');
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const out: T[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch (e) {
      const unterminated = i === lines.length - 1;
      if (unterminated) break;
      throw new FormatError(path, `line ${i + 1} is not valid JSON (${(e as Error).message})`);
    }
  }
  return out;
}

/**
 * Read a JSON file written by pdiff (a manifest): its parsed value, unchecked.
 * @throws FormatError naming the file when it is missing or not JSON ("cannot read `what` (why)").
 */
export function readJsonFile<T>(path: string, what: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    throw new FormatError(path, `cannot read ${what} (${(e as Error).message})`);
  }
}
