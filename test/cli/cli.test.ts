/** The CLI's exit codes, config errors, inspect output and help texts. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pdiff, root } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'pdiff-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));


describe('pdiff CLI', () => {
  it('rejects an unknown config key with exit code 2 and a suggestion', () => {
    const r = pdiff('config', 'print', '--set', 'ae.stepz=3');
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim(), 'pdiff: config: unknown key "ae.stepz" (did you mean "ae.steps"?)');
  });

  it('rejects a wrong type and a bad value naming the key', () => {
    let r = pdiff('config', 'print', '--set', 'ae.steps=abc');
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim(), 'pdiff: config: ae.steps: expected integer, got string "abc"');
    r = pdiff('config', 'print', '--set', 'diffusion.schedule=quadratic');
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim(), 'pdiff: config: diffusion.schedule: expected one of "linear", "cosine", got "quadratic"');
    r = pdiff('config', 'print', '--set', 'ae.steps');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /needs the form key=value/);
  });

  it('names the config file on invalid JSON', () => {
    const f = join(tmp, 'bad.json');
    writeFileSync(f, '{ "ae": ');
    const r = pdiff('config', 'print', '--config', f);
    assert.equal(r.status, 2);
    assert.ok(r.stderr.includes(f), r.stderr);
  });

  it('prints the resolved config with --set applied', () => {
    const r = pdiff('config', 'print', '--preset', 'fmnist-full', '--set', 'ae.steps=7');
    assert.equal(r.status, 0, r.stderr);
    const cfg = JSON.parse(r.stdout) as { ae: { steps: number }; collect: { mode: string } };
    assert.equal(cfg.ae.steps, 7);
    assert.equal(cfg.collect.mode, 'whole');
  });

  it('inspects a safetensors file (the PyTorch fixture)', () => {
    const r = pdiff('inspect', join(root, 'test/fixtures/cnn_s_torch.safetensors'), '--json');
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout) as { tensors: Array<{ name: string; dtype: string; shape: number[]; nanCount: number }> };
    assert.deepEqual(info.tensors.map((t) => t.name).slice(0, 3), ['conv1.weight', 'bn1.weight', 'bn1.bias']);
    assert.deepEqual(info.tensors[0]!.shape, [16, 1, 3, 3]);
    assert.equal(info.tensors[0]!.dtype, 'F32');
    const text = pdiff('inspect', join(root, 'test/fixtures/cnn_s_torch.safetensors'));
    assert.match(text.stdout, /conv1\.weight\tF32\t\[16,1,3,3\]/);
  });

  it('exits 3 with the file named for a file that is not safetensors', () => {
    const f = join(tmp, 'junk.safetensors');
    writeFileSync(f, 'this is not a safetensors file at all');
    const r = pdiff('inspect', f);
    assert.equal(r.status, 3);
    assert.ok(r.stderr.startsWith(`pdiff: ${f}: `), r.stderr);
  });

  it('exits non-zero for an unknown command and a missing file', () => {
    assert.notEqual(pdiff('frobnicate').status, 0);
    const r = pdiff('inspect', join(tmp, 'nope.safetensors'));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /nope\.safetensors/);
  });

  it('--help lists every command, and each command lists its options with defaults', () => {
    const top = pdiff('--help');
    assert.equal(top.status, 0);
    for (const c of ['run', 'collect', 'train-ae', 'train-diffusion', 'generate', 'evaluate', 'report', 'inspect', 'config']) assert.match(top.stdout, new RegExp(`\\n  ${c} `));
    const run = pdiff('run', '--help');
    for (const o of ['--preset', '--config', '--set', '--out', '--seed', '--backend', '--json', '--quiet', '--reconfigure']) assert.ok(run.stdout.includes(o), o);
    assert.match(run.stdout, /default\s+fmnist-bn\)/);
    assert.match(run.stdout, /continues it with its own config\.json/);
    const gen = pdiff('generate', '--help');
    assert.match(gen.stdout, /-n, --num <n>/);
  });
});
