/**
 * Where a JSON text is malformed, as "line L, column C: reason", for error messages about files a
 * person edits (a config). V8's messages give a character position for some errors ("... in JSON
 * at position 19"), none for others ("Unexpected token '}', "{"a": }" is not valid JSON"), so
 * the position comes from V8 where it gives one, else from a small syntax scan of our own.
 */

/** JSON's whitespace (RFC 8259): space, tab, line feed, carriage return. */
const WS = new Set([' ', '\t', '\n', '\r']);
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/**
 * Offset of the first syntax error in `text` (text.length when it ends too early), or -1 when it
 * is valid JSON. Checks syntax only, with the grammar of RFC 8259.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  // thrown to stop at the first error; caught below
  const fail = (): never => { throw new JsonStop(i); };
  const ws = (): void => { while (i < text.length && WS.has(text[i]!)) i++; };
  const expect = (c: string): void => { if (text[i] !== c) fail(); i++; };
  const string = (): void => {
    expect('"');
    while (i < text.length) {
      const c = text[i]!;
      if (c === '"') { i++; return; }
      if (c === '\\') {
        i++;
        if (text[i] === 'u') {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) { i += k; fail(); }
          i += 5;
        } else if (text[i] !== undefined && '"\\/bfnrt'.includes(text[i]!)) i++;
        else fail();
        continue;
      }
      if (c.charCodeAt(0) < 0x20) fail();
      i++;
    }
    fail();
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) { i++; return; }
      for (;;) {
        if (c === '{') { ws(); string(); ws(); expect(':'); }
        value();
        ws();
        if (text[i] === ',') { i++; continue; }
        expect(close);
        return;
      }
    }
    if (c === '"') return string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(text)) { i += c === '-' ? 1 : 0; fail(); }
      i = NUMBER.lastIndex;
      return;
    }
    for (const word of ['true', 'false', 'null']) {
      if (c !== word[0]) continue;
      for (const w of word) expect(w);
      return;
    }
    fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return -1;
  } catch (e) {
    if (e instanceof JsonStop) return Math.min(e.offset, text.length);
    throw e;
  }
}

class JsonStop {
  constructor(readonly offset: number) {}
}

/** 1-based line and column (in characters) of `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1, start = 0;
  for (let k = 0; k < offset && k < text.length; k++) if (text[k] === '\n') { line++; start = k + 1; }
  return { line, column: offset - start + 1 };
}

/**
 * "line 3, column 7: Expected ',' or '}' after property value" for the error `e` that
 * JSON.parse(text) threw: V8's reason without its position or its quote of the text.
 */
export function describeJsonError(text: string, e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  // "Unexpected token '}', "{"a": }" is not valid JSON": no position, and a quote of the text
  // (which may itself hold "at position")
  const quoted = /^(.*?), (?:\.\.\.)?".*is not valid JSON$/s.exec(message);
  const v8 = quoted ? null : /^(.*?)(?: in JSON)? at position (\d+)/s.exec(message);
  const offset = v8 ? Number(v8[2]) : jsonErrorOffset(text);
  const reason = (quoted?.[1] ?? v8?.[1] ?? message).trim();
  if (offset < 0) return reason;
  const { line, column } = lineColumn(text, offset);
  return `line ${line}, column ${column}: ${reason || 'invalid JSON'}`;
}
