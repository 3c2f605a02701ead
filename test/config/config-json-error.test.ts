/** A --config file with a JSON syntax error: the message names the file, the line and the column. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/util/errors.js';
import { describeJsonError, jsonErrorOffset, lineColumn } from '../../src/util/json-error.js';

const dir = mkdtempSync(join(tmpdir(), 'pdiff-cfg-json-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function configError(text: string): string {
  const file = join(dir, 'x.json');
  writeFileSync(file, text);
  let message = '';
  assert.throws(() => resolveConfig({ file }), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    message = e.message;
    return true;
  });
  return message.replace(file, 'x.json');
}

test('names the line and column of a syntax error in the config file', () => {
  // a missing comma: V8 gives a position
  assert.equal(configError('{\n  "seed": 1,\n  "ae": {"steps": 3}\n  "diffusion": {"steps": 5}\n}\n'),
    `config: config file "x.json" is not valid JSON: line 4, column 3: Expected ',' or '}' after property value`);
  // a trailing comma
  assert.equal(configError('{\n  "ae": {\n    "steps": 3,\n  }\n}'),
    `config: config file "x.json" is not valid JSON: line 4, column 3: Expected double-quoted property name`);
  // a misspelt literal: V8 gives no position ("Unexpected token '}', ... is not valid JSON")
  assert.equal(configError('{\n  "eval": {\n    "latency": tru }\n}'),
    `config: config file "x.json" is not valid JSON: line 3, column 19: Unexpected token ' '`);
  // cut short
  assert.equal(configError('{\n  "ae": {"steps": 3'),
    `config: config file "x.json" is not valid JSON: line 2, column 20: Expected ',' or '}' after property value`);
  assert.equal(configError(''), `config: config file "x.json" is not valid JSON: line 1, column 1: Unexpected end of JSON input`);
});

test('the own scan finds the offset V8 reports, where V8 reports one', () => {
  const cases = ['{"a": 1,}', '{"a" 1}', '{a: 1}', '[1, 2', '{"a": "x\ny"}', '{"a": "\\q"}', '{} x', '{"a": -x}', '{"a": 01}', '{"a": "\\u12g4"}'];
  for (const text of cases) {
    let v8 = -1;
    try { JSON.parse(text); } catch (e) { v8 = Number(/at position (\d+)/.exec((e as Error).message)?.[1] ?? -1); }
    if (v8 >= 0) assert.equal(jsonErrorOffset(text), v8, text);
  }
  for (const ok of ['{}', '[]', '{"a": [1, -2.5e3, {"b": null}], "c": true, "d": "\\u00e9\\n"}', ' 0 ']) assert.equal(jsonErrorOffset(ok), -1, ok);
  assert.equal(jsonErrorOffset('{"a": tru}'), 9);
  assert.equal(jsonErrorOffset('[1, 2,]'), 6);
  assert.deepEqual(lineColumn('ab\ncd\nef', 7), { line: 3, column: 2 });
  assert.equal(describeJsonError('[1, 2,]', new SyntaxError(`Unexpected token ']', "[1, 2,]" is not valid JSON`)), "line 1, column 7: Unexpected token ']'");
  // Node 22's form, with its own line and column after the position
  assert.equal(describeJsonError('{\n"a" 1}', new SyntaxError(`Expected ':' after property name in JSON at position 5 (line 2 column 4)`)), "line 2, column 4: Expected ':' after property name");
});
