/**
 * Reading something that is not a safetensors file says what it is (a folder, a missing file,
 * another kind of file with its first bytes), not a raw system error or a nonsense header length.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectSafetensors, readSafetensors, readSafetensorsHeader } from '../../src/zoo/safetensors.js';
import { FormatError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'pdiff-st-msg-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const root = new URL('../..', import.meta.url).pathname;

/** Every reader throws a FormatError (exit code 3) with exactly `message`. */
function throwsAll(path: string, message: string): void {
  for (const read of [readSafetensors, readSafetensorsHeader, inspectSafetensors]) {
    assert.throws(() => read(path), (e: unknown) => {
      assert.ok(e instanceof FormatError, `${read.name}: expected FormatError, got ${String(e)}`);
      assert.equal(e.message, message);
      assert.equal(e.exitCode, 3);
      return true;
    });
  }
}

test('a folder is named as a folder', () => {
  const folder = join(dir, 'runs', 'fmnist-bn');
  mkdirSync(folder, { recursive: true });
  throwsAll(folder, `${folder}: is a folder, not a safetensors file`);
});

test('a missing file is named as missing', () => {
  const p = join(dir, 'nope.safetensors');
  throwsAll(p, `${p}: no such file`);
});

test('another kind of file: "not a safetensors file" with its first 8 bytes in hex and as text', () => {
  const json = join(dir, 'config.json');
  writeFileSync(json, '{\n  "out": "runs/x",\n  "seed": 0\n}\n');
  throwsAll(json, `${json}: not a safetensors file (the first 8 bytes are 7b 0a 20 20 22 6f 75 74 / "{\\n  "out")`);
  const bin = join(dir, 'model.pt');
  writeFileSync(bin, Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0xff, 0x09, 0x0d, 0x41, 0x42]));
  throwsAll(bin, `${bin}: not a safetensors file (the first 8 bytes are 50 4b 03 04 00 ff 09 0d / "PK\\x03\\x04\\x00\\xff\\t\\r")`);
  const text = join(dir, 'eight.txt');
  writeFileSync(text, 'abcdefgh');
  throwsAll(text, `${text}: not a safetensors file (the first 8 bytes are 61 62 63 64 65 66 67 68 / "abcdefgh")`);
});

test('pdiff inspect prints one "pdiff: ..." line, no stack trace, and exits with 3', () => {
  const json = join(dir, 'package.json');
  writeFileSync(json, '{\n  "name": "x"\n}\n');
  for (const [arg, want] of [[dir, `pdiff: ${dir}: is a folder, not a safetensors file`], [json, `pdiff: ${json}: not a safetensors file (the first 8 bytes are 7b 0a 20 20 22 6e 61 6d / "{\\n  "nam")`]] as const) {
    const r = spawnSync(process.execPath, [join(root, 'bin/pdiff.js'), 'inspect', arg], { cwd: root, encoding: 'utf8', env: { ...process.env, PDIFF_DEBUG: '' }, timeout: 60_000 });
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stderr, `${want}\n`);
    assert.equal(r.stdout, '');
  }
});
