/**
 * The config schema as a tree (through its JSON Schema form, `z.toJSONSchema`: a stable public
 * view of types, ranges, defaults and descriptions) and the prose and compact type descriptions
 * that error messages and `pdiff config print --describe` use.
 */
import { z } from 'zod';
import { ConfigSchema } from './schema.js';

// ---------------------------------------------------------------------------------------------
// The schema as a tree

/** The subset of JSON Schema that `z.toJSONSchema` emits for ConfigSchema. */
export interface JsonSchema {
  type?: string;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  description?: string;
  default?: unknown;
}

let rootCache: JsonSchema | undefined;
export function root(): JsonSchema {
  rootCache ??= z.toJSONSchema(ConfigSchema, { io: 'input' }) as unknown as JsonSchema;
  return rootCache;
}

/** The object schema of a section (also through `object | null`), or undefined for a leaf. */
export function objectOf(node: JsonSchema): JsonSchema | undefined {
  if (node.properties) return node;
  return node.anyOf?.find((n) => n.properties !== undefined);
}

export function child(node: JsonSchema, seg: string | number): JsonSchema | undefined {
  if (typeof seg === 'number') {
    const arr = node.items ? node : node.anyOf?.find((n) => n.items !== undefined);
    return arr?.items;
  }
  const obj = objectOf(node);
  return obj?.properties && Object.hasOwn(obj.properties, seg) ? obj.properties[seg] : undefined;
}

export function nodeAt(path: readonly (string | number)[]): JsonSchema | undefined {
  let node: JsonSchema | undefined = root();
  for (const seg of path) {
    if (!node) return undefined;
    node = child(node, seg);
  }
  return node;
}

export interface Entry {
  key: string;
  node: JsonSchema;
  isSection: boolean;
}

/** Every key of the schema, depth first, sections before their children. */
export function entries(): Entry[] {
  const out: Entry[] = [];
  const walk = (node: JsonSchema, prefix: string): void => {
    const obj = objectOf(node);
    for (const [k, n] of Object.entries(obj?.properties ?? {})) {
      const key = prefix ? `${prefix}.${k}` : k;
      const isSection = objectOf(n) !== undefined;
      out.push({ key, node: n, isSection });
      if (isSection) walk(n, key);
    }
  };
  walk(root(), '');
  return out;
}

// ---------------------------------------------------------------------------------------------
// Type descriptions

export const SAFE = Number.MAX_SAFE_INTEGER;

/** `>= 1`, `> 0`, `in [0, 1)`, or '' when unbounded. */
export function rangeText(n: JsonSchema): string {
  const lo = n.exclusiveMinimum ?? (n.minimum !== undefined && n.minimum > -SAFE ? n.minimum : undefined);
  const hi = n.exclusiveMaximum ?? (n.maximum !== undefined && n.maximum < SAFE ? n.maximum : undefined);
  const loOpen = n.exclusiveMinimum !== undefined;
  const hiOpen = n.exclusiveMaximum !== undefined;
  if (lo !== undefined && hi !== undefined) return `in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}`;
  if (lo !== undefined) return `${loOpen ? '>' : '>='} ${lo}`;
  if (hi !== undefined) return `${hiOpen ? '<' : '<='} ${hi}`;
  return '';
}

export function enumText(values: readonly unknown[], sep: string): string {
  return values.map((v) => JSON.stringify(v)).join(sep);
}

export const PLURAL: Record<string, string> = {
  integer: 'integers',
  number: 'numbers',
  string: 'strings',
  boolean: 'booleans',
  object: 'objects',
};

/** Prose type for error messages: `integer`, `one of "a", "b"`, `array of strings`, `string or null`. */
export function typeProse(n: JsonSchema, ranged: boolean): string {
  if (n.anyOf) return n.anyOf.map((m) => typeProse(m, ranged)).join(' or ');
  if (n.enum) return n.enum.length === 1 ? enumText(n.enum, '') : `one of ${enumText(n.enum, ', ')}`;
  if (n.type === 'array') {
    const item = n.items ?? {};
    let text = item.enum
      ? `array of values from ${enumText(item.enum, ', ')}`
      : `array of ${PLURAL[item.type ?? ''] ?? 'values'}`;
    if (ranged) {
      const r = rangeText(item);
      if (r) text += ` ${r}`;
      text += lengthText(n, ' with ');
    }
    return text;
  }
  if (n.type === 'object') return 'object';
  const base = n.type ?? 'value';
  const r = ranged ? rangeText(n) : '';
  return r ? `${base} ${r}` : base;
}

/** ` with exactly 5 entries` / ` with at least 1 entry` / '' (prefix given). */
export function lengthText(n: JsonSchema, prefix: string): string {
  const { minItems: lo, maxItems: hi } = n;
  const entries = (k: number): string => `${k} ${k === 1 ? 'entry' : 'entries'}`;
  if (lo !== undefined && lo === hi) return `${prefix}exactly ${entries(lo)}`;
  if (lo !== undefined && hi !== undefined) return `${prefix}${lo} to ${hi} entries`;
  if (lo !== undefined) return `${prefix}at least ${entries(lo)}`;
  if (hi !== undefined) return `${prefix}at most ${entries(hi)}`;
  return '';
}

/** Compact type for `describeConfig`: `integer >= 1`, `"a" | "b"`, `integer[] (5 entries, each >= 1)`. */
export function typeCompact(n: JsonSchema): string {
  if (n.anyOf) return n.anyOf.map(typeCompact).join(' | ');
  if (n.enum) return enumText(n.enum, ' | ');
  if (n.type === 'array') {
    const item = n.items ?? {};
    const itemType = item.enum ? `(${enumText(item.enum, ' | ')})` : (item.type ?? 'unknown');
    const notes: string[] = [];
    const len = lengthText(n, '').replace('exactly ', '');
    if (len) notes.push(len);
    const r = rangeText(item);
    if (r) notes.push(`each ${r}`);
    return `${itemType}[]${notes.length ? ` (${notes.join(', ')})` : ''}`;
  }
  if (n.type === 'object') return 'object';
  const r = rangeText(n);
  return r ? `${n.type ?? 'unknown'} ${r}` : (n.type ?? 'unknown');
}

/** `string "abc"`, `number 1.5`, `null`, `array [1,2]` (long values shortened). */
export function gotTyped(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  const kind = Array.isArray(v) ? 'array' : typeof v;
  return `${kind} ${shortJson(v)}`;
}

export function shortJson(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
