/**
 * Resolving a config: preset < JSON file < programmatic overrides < `--set key=value`,
 * deep-merged, then validated as a whole. Every problem is reported (one per line, each
 * prefixed `config:`) in a single ConfigError, naming the key path and the expected type.
 *
 * The schema is walked as a tree (schema-tree.ts) for unknown-key suggestions and types.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../util/errors.js';
import { describeJsonError } from '../util/json-error.js';
import { DEFAULT_PRESET, PRESETS } from './presets.js';
import { CONDITIONAL_KEYS, ConfigSchema, type Config, type DeepPartial } from './schema.js';
import { type JsonSchema, root, objectOf, child, nodeAt, entries, typeProse, typeCompact, gotTyped, shortJson } from './schema-tree.js';

export interface ResolveOptions {
  /** Preset name (default 'fmnist-bn'). Ignored when `base` is given. */
  preset?: string;
  /**
   * Start from this config instead of a preset (e.g. a run folder's stored config.json, so that
   * `--set` changes one key of that run). `name` appears in error messages.
   */
  base?: { name: string; config: DeepPartial<Config> };
  /** Path of a JSON file holding a (partial) config. */
  file?: string;
  /** `key=value` strings with dotted keys; the value is JSON when it parses, else a string. */
  sets?: readonly string[];
  /** Programmatic overrides, applied after the file and before `sets`. */
  overrides?: DeepPartial<Config>;
}

export interface ConfigKeyInfo {
  /** Dotted key path, e.g. `ae.steps`. */
  key: string;
  /** Type with its constraints, e.g. `integer >= 1`, `"linear" | "cosine"`, `string | null`. */
  type: string;
  /** Default value (for keys inside a section whose default is null: the key's own default). */
  default: unknown;
  /** One-line description. */
  description: string;
}

// ---------------------------------------------------------------------------------------------
// Unknown keys and suggestions

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + cost);
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

function quoteList(items: readonly string[]): string {
  const q = items.map((s) => `"${s}"`);
  return q.length <= 1 ? (q[0] ?? '') : `${q.slice(0, -1).join(', ')} or ${q[q.length - 1]}`;
}

/** `unknown key "ae.stepz" (did you mean "ae.steps"?)` for key `name` inside section `parent`. */
function unknownKeyLine(parent: readonly (string | number)[], name: string): string {
  const parentKey = pathText(parent);
  const full = parentKey ? `${parentKey}.${name}` : name;
  const section = nodeAt(parent);
  const siblings = Object.keys((section && objectOf(section)?.properties) ?? {});
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const s of siblings) {
    const d = editDistance(lower, s.toLowerCase());
    if (d < bestD) [best, bestD] = [s, d];
  }
  if (best !== undefined && bestD <= (name.length <= 4 ? 1 : 2)) {
    return `unknown key "${full}" (did you mean "${parentKey ? `${parentKey}.${best}` : best}"?)`;
  }
  const elsewhere = entries()
    .map((e) => e.key)
    .filter((k) => k.split('.').pop()?.toLowerCase() === lower);
  if (elsewhere.length > 0) return `unknown key "${full}" (did you mean ${quoteList(elsewhere.slice(0, 4))}?)`;
  if (siblings.length === 0) return `unknown key "${full}" ("${parentKey}" is a setting, not a section)`;
  const where = parentKey ? `known keys in "${parentKey}"` : 'known top-level keys';
  return `unknown key "${full}" (${where}: ${siblings.join(', ')})`;
}

/**
 * Check a dotted key path against the schema. Returns the leaf or section node, or an error
 * line naming the first unknown segment.
 */
function checkPath(key: string): { node: JsonSchema } | { error: string } {
  const segs = key.split('.');
  let node: JsonSchema = root();
  const seen: string[] = [];
  for (const seg of segs) {
    const next = objectOf(node) ? child(node, seg) : undefined;
    if (!next) {
      if (!objectOf(node)) {
        return { error: `unknown key "${key}" ("${seen.join('.')}" is a setting, not a section)` };
      }
      return { error: unknownKeyLine(seen, seg) };
    }
    node = next;
    seen.push(seg);
  }
  return { node };
}

// ---------------------------------------------------------------------------------------------
// Merging, with a record of where each explicit value came from

type Obj = Record<string, unknown>;
type Source = { kind: 'preset' | 'base' | 'file' | 'overrides' | 'set'; name: string };

function isPlainObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function pathText(path: readonly PropertyKey[]): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else s += s ? `.${String(seg)}` : String(seg);
  }
  return s;
}

/**
 * Deep-merge `src` into `target`: objects merge key by key; anything else (arrays, null,
 * scalars) replaces. `prov` maps each replaced key path to the source that set it.
 */
function mergeInto(target: Obj, src: Obj, prefix: string, source: Source, prov: Map<string, Source>): void {
  for (const [k, v] of Object.entries(src)) {
    if (v === undefined) continue;
    const key = prefix ? `${prefix}.${k}` : k;
    const cur = Object.hasOwn(target, k) ? target[k] : undefined;
    if (isPlainObject(v) && isPlainObject(cur)) {
      mergeInto(cur, v, key, source, prov);
      continue;
    }
    // defineProperty: a key such as "__proto__" from a JSON file stays an (unknown) own key.
    Object.defineProperty(target, k, { value: structuredClone(v), enumerable: true, writable: true, configurable: true });
    for (const p of [...prov.keys()]) if (p.startsWith(`${key}.`)) prov.delete(p);
    prov.set(key, source);
  }
}

/** The source of the value at `path`: the path itself or the nearest ancestor set whole. */
function sourceOf(path: readonly PropertyKey[], prov: Map<string, Source>): Source | undefined {
  const segs = path.filter((s): s is string => typeof s === 'string');
  for (let n = segs.length; n > 0; n--) {
    const s = prov.get(segs.slice(0, n).join('.'));
    if (s) return s;
  }
  return undefined;
}

function sourceSuffix(src: Source | undefined): string {
  if (src?.kind === 'file') return ` (from file "${src.name}")`;
  if (src?.kind === 'preset') return ` (from preset "${src.name}")`;
  if (src?.kind === 'base') return ` (from ${src.name})`;
  return '';
}

// ---------------------------------------------------------------------------------------------
// Validation

/** One `config: ...` line per zod issue. */
function issueLines(issues: readonly z.core.$ZodIssue[], prov: Map<string, Source>): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
    const where = pathText(path);
    const at = where ? `${where}: ` : '';
    const node = nodeAt(path) ?? {};
    const input = (issue as { input?: unknown }).input;
    const suffix = sourceSuffix(sourceOf(path, prov));
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const k of issue.keys) lines.push(unknownKeyLine(path, k) + sourceSuffix(sourceOf([...path, k], prov)));
        break;
      case 'invalid_type':
      case 'invalid_union':
        lines.push(`${at}expected ${typeProse(node, false)}, got ${gotTyped(input)}${suffix}`);
        break;
      case 'invalid_value':
        lines.push(
          `${at}expected ${typeProse(node, false)}, got ${typeof input === 'string' ? JSON.stringify(input) : gotTyped(input)}${suffix}`,
        );
        break;
      case 'too_small':
      case 'too_big':
        if (Array.isArray(input)) {
          lines.push(`${at}expected ${typeProse(node, true)}, got ${input.length} ${input.length === 1 ? 'entry' : 'entries'}${suffix}`);
        } else if (typeof input === 'string') {
          lines.push(`${at}expected a non-empty string, got ""${suffix}`);
        } else {
          lines.push(`${at}expected ${typeProse(node, true)}, got ${shortJson(input)}${suffix}`);
        }
        break;
      case 'custom':
        lines.push(`${at}${issue.message}${suffix}`);
        break;
      default:
        lines.push(`${at}${issue.message}${suffix}`);
    }
  }
  return lines;
}

function fail(lines: readonly string[]): never {
  throw new ConfigError(lines.map((l) => `config: ${l}`).join('\n'));
}

function validate(raw: unknown, prov: Map<string, Source>, extra: readonly string[] = []): Config {
  const r = ConfigSchema.safeParse(raw, { reportInput: true });
  const lines = [...extra, ...(r.success ? noEffectLines(r.data, prov) : issueLines(r.error.issues, prov))];
  if (lines.length > 0 || !r.success) fail(lines.length > 0 ? lines : ['invalid configuration']);
  return r.data;
}

/** The value at a dotted key. */
function valueAtKey(obj: unknown, key: string): unknown {
  let cur: unknown = obj;
  for (const seg of key.split('.')) cur = isPlainObject(cur) ? cur[seg] : undefined;
  return cur;
}

/**
 * A key the user set (in a file, overrides or --set; presets and a run's own config are trusted)
 * to a non-default value although the setting it depends on makes it do nothing: an error naming
 * both keys, since the run would silently ignore it.
 */
function noEffectLines(cfg: Config, prov: Map<string, Source>): string[] {
  const defaults = defaultConfig();
  const lines: string[] = [];
  for (const rule of CONDITIONAL_KEYS) {
    const src = sourceOf(rule.key.split('.'), prov);
    if (!src || src.kind === 'preset' || src.kind === 'base') continue;
    if (rule.applies(cfg)) continue;
    if (canonicalJson(valueAtKey(cfg, rule.key)) === canonicalJson(valueAtKey(defaults, rule.key))) continue;
    const current = valueAtKey(cfg, rule.when);
    lines.push(`${rule.key} has no effect unless ${rule.when} is ${rule.needs} (${rule.when} is ${JSON.stringify(current)})${sourceSuffix(src)}; set ${rule.when} too, or leave ${rule.key} out`);
  }
  return lines;
}

/**
 * Validate a complete or partial config object (e.g. a run folder's stored config.json),
 * filling in defaults. `source` names the file in error messages.
 */
export function parseConfig(raw: unknown, source?: string): Config {
  const prov = new Map<string, Source>();
  // kind 'base': a stored config is trusted like a preset (no "has no effect" errors for its keys).
  if (source !== undefined && isPlainObject(raw)) for (const k of Object.keys(raw)) prov.set(k, { kind: 'base', name: `file "${source}"` });
  return validate(raw, prov);
}

/** The default config (the cpu recipe, bn mode). */
export function defaultConfig(): Config {
  return ConfigSchema.parse({});
}

// ---------------------------------------------------------------------------------------------
// --set

/** Parse one `key=value` (value as JSON when it parses, else the trimmed raw string). */
export function parseSet(text: string): { key: string; value: unknown } {
  const eq = text.indexOf('=');
  const key = eq < 0 ? '' : text.slice(0, eq).trim();
  if (eq < 0 || key === '') fail([`--set ${JSON.stringify(text)} needs the form key=value`]);
  const rawValue = text.slice(eq + 1).trim();
  let value: unknown;
  try {
    value = JSON.parse(rawValue);
  } catch {
    value = rawValue;
  }
  return { key, value };
}

/** True when the leaf accepts strings but no numbers/booleans: `out=2024` then means "2024". */
function wantsString(n: JsonSchema): boolean {
  const kinds = n.anyOf ? n.anyOf : [n];
  return kinds.some((k) => k.type === 'string') && !kinds.some((k) => ['number', 'integer', 'boolean'].includes(k.type ?? ''));
}

// ---------------------------------------------------------------------------------------------
// Public entry points

/**
 * Resolve a config: defaults < preset < JSON file < `overrides` < `sets`, then validate.
 * Throws a ConfigError listing every problem, one `config: ...` line each.
 */
export function resolveConfig(opts: ResolveOptions = {}): Config {
  const presetName = opts.preset ?? DEFAULT_PRESET;
  const preset = opts.base ? { overrides: opts.base.config } : Object.hasOwn(PRESETS, presetName) ? PRESETS[presetName] : undefined;
  if (!preset) {
    const names = Object.keys(PRESETS);
    const close = names.filter((n) => editDistance(n, presetName) <= 2);
    fail([
      `unknown preset "${presetName}" (${close.length ? `did you mean ${quoteList(close)}? ` : ''}known presets: ${names.join(', ')})`,
    ]);
  }

  const raw: Obj = {};
  const prov = new Map<string, Source>();
  mergeInto(raw, preset.overrides as Obj, '', opts.base ? { kind: 'base', name: opts.base.name } : { kind: 'preset', name: presetName }, prov);

  if (opts.file !== undefined) {
    const file = opts.file;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      fail([`cannot read config file "${file}": ${(e as Error).message}`]);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      // "line 3, column 7: ...": V8 gives a position at best, and for some errors none
      fail([`config file "${file}" is not valid JSON: ${describeJsonError(text, e)}`]);
    }
    if (!isPlainObject(data)) fail([`config file "${file}" must hold a JSON object, got ${gotTyped(data)}`]);
    mergeInto(raw, data, '', { kind: 'file', name: file }, prov);
  }

  if (opts.overrides !== undefined) {
    mergeInto(raw, opts.overrides as Obj, '', { kind: 'overrides', name: 'overrides' }, prov);
  }

  const setErrors: string[] = [];
  for (const text of opts.sets ?? []) {
    let parsed: { key: string; value: unknown };
    try {
      parsed = parseSet(text);
    } catch (e) {
      setErrors.push((e as Error).message.replace(/^config: /, ''));
      continue;
    }
    const checked = checkPath(parsed.key);
    if ('error' in checked) {
      setErrors.push(checked.error);
      continue;
    }
    let { value } = parsed;
    if ((typeof value === 'number' || typeof value === 'boolean') && wantsString(checked.node)) {
      value = text.slice(text.indexOf('=') + 1).trim();
    }
    const segs = parsed.key.split('.');
    let nested: unknown = value;
    for (let i = segs.length - 1; i >= 0; i--) nested = { [segs[i] ?? '']: nested };
    mergeInto(raw, nested as Obj, '', { kind: 'set', name: text }, prov);
  }

  return validate(raw, prov, setErrors);
}

/** Every key of the schema with its type, default and description (sections excluded, except nullable ones). */
export function describeConfig(): ConfigKeyInfo[] {
  const defaults = defaultConfig() as unknown as Obj;
  const valueAt = (key: string): { found: boolean; value: unknown } => {
    let cur: unknown = defaults;
    for (const seg of key.split('.')) {
      if (!isPlainObject(cur) || !Object.hasOwn(cur, seg)) return { found: false, value: undefined };
      cur = cur[seg];
    }
    return { found: true, value: cur };
  };
  const out: ConfigKeyInfo[] = [];
  for (const e of entries()) {
    const nullableSection = e.isSection && e.node.anyOf !== undefined;
    if (e.isSection && !nullableSection) continue;
    const d = valueAt(e.key);
    out.push({
      key: e.key,
      type: nullableSection ? 'object | null' : typeCompact(e.node),
      default: d.found ? d.value : e.node.default,
      description: e.node.description ?? '',
    });
  }
  return out;
}

/**
 * Canonical JSON: object keys sorted, no whitespace, undefined members dropped. Equal values
 * give equal strings whatever their key order. Non-finite numbers are rejected.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new ConfigError(`config: canonicalJson: expected a finite number, got ${value}`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
      const obj = value as Obj;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
    }
    default:
      throw new ConfigError(`config: canonicalJson: cannot encode a ${typeof value}`);
  }
}

/**
 * Keys added to the schema after run folders existed, with the value every earlier run had in
 * effect: configHash leaves a key out while it holds that value, so a folder made before the key
 * existed keeps its stage hashes (and is not retrained) under a newer pdiff.
 */
const LATER_KEYS: Readonly<Record<string, unknown>> = {
  'model.stem': 'auto',
  'model.dropout': null,
  'model.stochasticDepth': null,
  'model.vit': { patchSize: 4, layers: 6, heads: 4, hidden: 64, mlp: 128 },
  'collect.seeds': 1,
  'collect.align': 'none',
  'diffusion.condDropout': 0.1,
  'diffusion.kernel': 7,
  'generate.guidance': 1,
  'tasks.condition': 'none',
  'tasks.unseen': 50,
  'tasks.seen': null,
  'tasks.params': [],
  'tasks.recipe': { steps: 200, saveEvery: 10, k: 10, lr: 0.01, batchSize: 128, weightDecay: 5e-4 },
  'tasks.evalSeen': 20,
  'tasks.perCode': 10,
  'tasks.ridgeLambda': 1e-3,
  // tasks.accuracy whole (for a hash of the tasks section) and each key a stage hashes on its own
  'tasks.accuracy': {
    runs: 10, params: [], perPrompt: 5, nearest: 5, ridgeDegrees: [1, 5], ridgeLambda: 0,
    recipe: { steps: 4000, lr: 3e-4, warmupSteps: 0, batchSize: 128, weightDecay: 5e-4, candidates: 100, k: 40, bnMode: 'train', init: 'shared' },
    prompts: { inside: 12, from: null, above: 2, step: 1 },
  },
  'tasks.accuracy.runs': 10,
  'tasks.accuracy.params': [],
  'tasks.accuracy.recipe': { steps: 4000, lr: 3e-4, warmupSteps: 0, batchSize: 128, weightDecay: 5e-4, candidates: 100, k: 40, bnMode: 'train', init: 'shared' },
  'tasks.accuracy.prompts': { inside: 12, from: null, above: 2, step: 1 },
  'tasks.accuracy.perPrompt': 5,
  'tasks.accuracy.nearest': 5,
  'tasks.accuracy.ridgeDegrees': [1, 5],
  'tasks.accuracy.ridgeLambda': 0,
};

/** Keys that change no result (where the run is computed, not what): in no stage hash. config/diff.ts's RUN_LOCAL_KEYS lists them too. */
export const NO_HASH_KEYS: readonly string[] = ['collect.queue'];

/** A copy of `value` (the sub-tree at `key`) without the NO_HASH_KEYS directly under it. */
function withoutNoHashKeys(key: string, value: unknown): unknown {
  let out = value;
  for (const k of NO_HASH_KEYS) {
    if (!k.startsWith(`${key}.`) || !isPlainObject(out)) continue;
    const rest = k.slice(key.length + 1);
    if (rest.includes('.') || !Object.hasOwn(out, rest)) continue;
    const { [rest]: _dropped, ...kept } = out;
    out = kept;
  }
  return out;
}

/** A copy of `value` (the sub-tree at `key`) without the later keys under it that hold their old value. */
function withoutLaterDefaults(key: string, value: unknown): unknown {
  let out = value;
  for (const [later, old] of Object.entries(LATER_KEYS)) {
    if (!later.startsWith(`${key}.`) || !isPlainObject(out)) continue;
    const rest = later.slice(key.length + 1).split('.');
    if (rest.length !== 1) continue; // a deeper later key (tasks.accuracy.runs) is dropped by its parent's entry
    if (canonicalJson(out[rest[0]!] ?? null) === canonicalJson(old)) {
      const { [rest[0]!]: _dropped, ...kept } = out;
      out = kept;
    }
  }
  return out;
}

/**
 * sha256 (hex) of the canonical JSON of the given sub-trees, e.g. `configHash(cfg, ['data',
 * 'model', 'base', 'seed'])`: a pipeline stage can be skipped when the hash of what it depends
 * on is unchanged. The order of `keys` does not matter; an unknown key is a ConfigError.
 */
export function configHash(cfg: Config, keys: readonly string[]): string {
  const picked: Obj = {};
  const errors: string[] = [];
  for (const key of keys) {
    const checked = checkPath(key);
    if ('error' in checked) {
      errors.push(`configHash: ${checked.error}`);
      continue;
    }
    let cur: unknown = cfg;
    for (const seg of key.split('.')) cur = isPlainObject(cur) ? cur[seg] : undefined;
    // a later key named itself (a stage that depends on one key of a section) at its old value
    if (Object.hasOwn(LATER_KEYS, key) && canonicalJson(cur ?? null) === canonicalJson(LATER_KEYS[key])) continue;
    picked[key] = withoutNoHashKeys(key, withoutLaterDefaults(key, cur ?? null));
  }
  if (errors.length > 0) fail(errors);
  return createHash('sha256').update(canonicalJson(picked)).digest('hex');
}
