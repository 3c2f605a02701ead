/**
 * The keys in which two configs differ, for refusing (or recording) a change to a run folder's
 * config. Leaves are compared by canonical JSON; arrays are leaves.
 */
import { canonicalJson } from './load.js';
import type { Config } from './schema.js';

export interface ConfigChange {
  /** Dotted key, e.g. `ae.steps`. */
  key: string;
  /** The value before (undefined: absent). */
  from: unknown;
  /** The value after (undefined: absent). */
  to: unknown;
}

/**
 * Keys that may change between invocations on one run folder without changing what it records:
 * where it is, which backend computes and which job queue collects (configHash leaves them out).
 */
export const RUN_LOCAL_KEYS: readonly string[] = ['out', 'backend', 'collect.queue'];

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every leaf key where `a` and `b` differ, in key order, skipping `ignore` (and their children). */
export function diffConfigs(a: Config | Record<string, unknown>, b: Config | Record<string, unknown>, ignore: readonly string[] = RUN_LOCAL_KEYS): ConfigChange[] {
  const out: ConfigChange[] = [];
  const walk = (x: unknown, y: unknown, prefix: string): void => {
    if (ignore.includes(prefix)) return;
    if (isObj(x) && isObj(y)) {
      for (const k of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) walk(x[k], y[k], prefix ? `${prefix}.${k}` : k);
      return;
    }
    const cx = x === undefined ? undefined : canonicalJson(x);
    const cy = y === undefined ? undefined : canonicalJson(y);
    if (cx !== cy) out.push({ key: prefix, from: x, to: y });
  };
  walk(a, b, '');
  return out;
}

/** `ae.steps: 2000 -> 500` lines (long values shortened). */
export function changeLines(changes: readonly ConfigChange[]): string[] {
  const show = (v: unknown): string => {
    if (v === undefined) return '(absent)';
    const s = JSON.stringify(v);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  };
  return changes.map((c) => `${c.key}: ${show(c.from)} -> ${show(c.to)}`);
}
