import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.js';
import { PACKAGE_ROOT, gatherProvenance, gitInfo, listRunFiles, packageVersion } from '../../src/report/provenance.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'pdiff-prov-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function put(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

test('gitInfo reads HEAD through a loose ref, packed-refs, or a detached commit', () => {
  withDir((root) => {
    assert.equal(gitInfo(root), null, 'no .git: not a checkout');
    put(join(root, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    assert.equal(gitInfo(root), null, 'a branch without commits has no commit');
    put(join(root, '.git', 'packed-refs'), `# pack-refs with: peeled fully-peeled sorted\n${B} refs/heads/main\n${C} refs/tags/v1\n^${A}\n`);
    assert.deepEqual(gitInfo(root), { commit: B, branch: 'main' });
    put(join(root, '.git', 'refs', 'heads', 'main'), `${A}\n`);
    assert.deepEqual(gitInfo(root), { commit: A, branch: 'main' }, 'a loose ref wins over packed-refs');
    put(join(root, '.git', 'HEAD'), `${C}\n`);
    assert.deepEqual(gitInfo(root), { commit: C, branch: null });
    put(join(root, '.git', 'HEAD'), 'garbage\n');
    assert.equal(gitInfo(root), null);
  });
});

test('gitInfo follows a worktree\'s .git file to its gitdir and the shared refs in commondir', () => {
  withDir((dir) => {
    const common = join(dir, 'repo', '.git');
    const wtGit = join(common, 'worktrees', 'wt');
    put(join(wtGit, 'HEAD'), 'ref: refs/heads/feature\n');
    put(join(wtGit, 'commondir'), '../..\n');
    put(join(common, 'refs', 'heads', 'feature'), `${B}\n`);
    const wt = join(dir, 'wt');
    put(join(wt, '.git'), `gitdir: ${wtGit}\n`);
    assert.deepEqual(gitInfo(wt), { commit: B, branch: 'feature' });
    // a relative gitdir (submodules write these) is resolved against the checkout
    put(join(wt, '.git'), 'gitdir: ../repo/.git/worktrees/wt\n');
    assert.deepEqual(gitInfo(wt), { commit: B, branch: 'feature' });
  });
});

test('gitInfo of this checkout, when it is one, agrees with .git/HEAD', () => {
  const info = gitInfo(PACKAGE_ROOT);
  let head: string | null = null;
  try {
    head = readFileSync(join(PACKAGE_ROOT, '.git', 'HEAD'), 'utf8').trim();
  } catch {
    // not a plain checkout (installed package, worktree): covered by the tests above
  }
  if (head === null) return;
  assert.ok(info, 'a checkout with .git/HEAD has a commit');
  assert.match(info.commit, /^[0-9a-f]{40}$/);
  if (head.startsWith('ref: refs/heads/')) assert.equal(info.branch, head.slice('ref: refs/heads/'.length));
});

test('listRunFiles lists the run folder sorted, without state/, hidden, temporary or lock files', () => {
  withDir((dir) => {
    for (const f of ['summary.json', 'config.json', 'eval/generated.json', 'eval/original.json', 'plots/a.svg', 'stages/ae.json',
      'state/ae.safetensors', '.config.json.1.2.tmp', 'eval/.x.tmp', 'run.lock', 'eval/deep/er/than/two.json', 'eval/deep/ok.json']) {
      put(join(dir, f), 'xyz');
    }
    const files = listRunFiles(dir);
    assert.deepEqual(files.map((f) => f.path), [
      'config.json', 'summary.json', 'eval/generated.json', 'eval/original.json', 'eval/deep/ok.json', 'plots/a.svg', 'stages/ae.json',
    ]);
    assert.ok(files.every((f) => f.bytes === 3));
    assert.deepEqual(listRunFiles(join(dir, 'missing')), []);
  });
});

test('gatherProvenance: version from package.json, Node, backend, command, and a config hash that ignores out', () => {
  const config = resolveConfig({ preset: 'fmnist-tiny', sets: ['out="runs/a"'] });
  const p = gatherProvenance({ config, command: 'pdiff run -o runs/a', backend: 'js', device: 'JavaScript, 1 thread' });
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(p.pdiffVersion, pkg.version);
  assert.equal(packageVersion(), pkg.version);
  assert.equal(p.node, process.version);
  assert.equal(p.backend, 'js');
  assert.equal(p.device, 'JavaScript, 1 thread');
  assert.equal(p.command, 'pdiff run -o runs/a');
  assert.match(p.configHash, /^[0-9a-f]{64}$/);
  const elsewhere = gatherProvenance({ config: resolveConfig({ preset: 'fmnist-tiny', sets: ['out="runs/b"'] }), command: '', backend: 'js', device: '' });
  assert.equal(elsewhere.configHash, p.configHash, 'the same experiment in another folder');
  const other = gatherProvenance({ config: resolveConfig({ preset: 'fmnist-tiny', sets: ['out="runs/a"', 'seed=1'] }), command: '', backend: 'js', device: '' });
  assert.notEqual(other.configHash, p.configHash);
  withDir((root) => {
    writeFileSync(join(root, 'package.json'), '{"version": "9.9.9"}');
    const q = gatherProvenance({ config, command: '', backend: 'js', device: '', root });
    assert.equal(q.pdiffVersion, '9.9.9');
    assert.equal(q.git, null, 'an installed package is not a git checkout');
  });
});
