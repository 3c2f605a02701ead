/**
 * What a run folder holds before a run starts in it: nothing (new or empty), a pdiff run (its
 * config.json), or something else, which pdiff refuses to write into.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type Config } from '../config/index.js';
import { ConfigError } from '../util/errors.js';
import { PathError } from '../util/fsdir.js';

export type FolderState =
  | { kind: 'new' }
  | { kind: 'empty' }
  | { kind: 'run'; config: Config }
  | { kind: 'other'; entries: string[] };

/** The state of folder `dir`; a run's config.json is validated (a ConfigError names the file). */
export function runFolderState(dir: string): FolderState {
  if (!existsSync(dir)) return { kind: 'new' };
  if (!statSync(dir).isDirectory()) throw new PathError(`run folder ${dir} is a file, not a folder`);
  const cfgPath = join(dir, 'config.json');
  if (existsSync(cfgPath)) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(cfgPath, 'utf8'));
    } catch (e) {
      throw new ConfigError(`config: ${cfgPath} (the run's own config) is not valid JSON: ${(e as Error).message}`);
    }
    return { kind: 'run', config: parseConfig(raw, cfgPath) };
  }
  const entries = readdirSync(dir).filter((e) => !e.startsWith('.'));
  // A run killed before it wrote config.json leaves only its bookkeeping folders and lock.
  const ours = new Set(['stages', 'state', 'run.lock', 'metrics.jsonl']);
  const foreign = entries.filter((e) => !ours.has(e));
  if (foreign.length === 0) return { kind: 'empty' };
  return { kind: 'other', entries: foreign };
}
