/**
 * A run folder is the user's record: a command without settings continues the folder's own run,
 * a different config is refused unless --reconfigure asks for it, one process works in a folder at
 * a time (a dead owner's lock is taken over), Ctrl-C says how to resume, and folders that cannot
 * be made are one clear line.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { skipWithoutFashionMnist } from '../helpers/data.js';
import { LOCK_FILE, RunLock, RunLockedError, processStartTicks, type LockOwner } from '../../src/run/lock.js';
import { PathError, makeDir, pathError } from '../../src/util/fsdir.js';

const root = new URL('../..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'pdiff-folder-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const MICRO = [
  'data.limitTrain=2000', 'data.limitTest=300', 'data.valSize=300', 'base.epochs=1', 'collect.k=6',
  'ae.steps=20', 'diffusion.steps=20', 'diffusion.timesteps=100', 'generate.n=4', 'generate.batchSize=4',
  'eval.baselineCount=2', 'eval.avgOf=3', 'eval.latency=false', 'report.png=false',
];
const microArgs = MICRO.flatMap((s) => ['--set', s]);
const cli = (args: string[]): string[] => ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args];
const ENV = { ...process.env, PDIFF_QUIET_BACKEND: '1' };

function pdiff(args: string[], env: Record<string, string> = {}, timeout = 300_000): { status: number | null; signal: string | null; stdout: string; stderr: string; ms: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, cli(args), { cwd: root, encoding: 'utf8', env: { ...ENV, ...env }, timeout });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function waitFor(cond: () => boolean, what: string, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface Stages { stages: Array<{ name: string; skipped: boolean }> }
const skippedOf = (stdout: string): string[] => (JSON.parse(stdout) as Stages).stages.filter((s) => s.skipped).map((s) => s.name);

describe('a run folder keeps its own config', { skip: skipWithoutFashionMnist }, () => {
  const x = join(tmp, 'x');
  const configText = (): string => readFileSync(join(x, 'config.json'), 'utf8');

  it('a command without settings continues the folder\'s run with its config; a differing config is refused, naming the keys', () => {
    let r = pdiff(['collect', '--preset', 'fmnist-tiny', '-o', x, '--quiet', ...microArgs]);
    assert.equal(r.status, 0, r.stderr);
    const before = configText();
    const markers = readFileSync(join(x, 'stages', 'base.json'), 'utf8');

    // No settings: the folder's own config (micro), every stage up to date, config.json untouched.
    r = pdiff(['collect', '-o', x, '--quiet', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(skippedOf(r.stdout), ['base', 'collect', 'eval-originals']);
    assert.equal(configText(), before);

    // `report` without settings goes on from there: it must not retrain the base model (killed where ae starts).
    r = pdiff(['report', '-o', x, '--quiet'], { PDIFF_KILL_AT: 'ae:0' });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    assert.equal(configText(), before);
    assert.equal(readFileSync(join(x, 'stages', 'base.json'), 'utf8'), markers);

    // A preset that differs is refused with the differing keys; nothing is touched.
    r = pdiff(['report', '--preset', 'fmnist-tiny', '-o', x, '--quiet']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /run folder .*x was made with another config/);
    assert.match(r.stderr, /ae\.steps: 20 -> 300/);
    assert.match(r.stderr, /collect\.k: 6 -> 20/);
    assert.match(r.stderr, /--reconfigure/);
    assert.equal(configText(), before);

    // --set on the folder's config: refused without --reconfigure, applied with it (only collect onwards redone).
    r = pdiff(['collect', '-o', x, '--quiet', '--set', 'collect.k=7']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /this key differs \(folder -> now\):\n {2}collect\.k: 6 -> 7/);
    r = pdiff(['collect', '-o', x, '--quiet', '--json', '--set', 'collect.k=7', '--reconfigure']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(skippedOf(r.stdout), ['base']);
    const cfg = JSON.parse(configText()) as { collect: { k: number }; ae: { steps: number } };
    assert.equal(cfg.collect.k, 7);
    assert.equal(cfg.ae.steps, 20, 'the other keys stay the folder\'s');
    assert.match(readFileSync(join(x, 'metrics.jsonl'), 'utf8'), /"event":"reconfigure".*"key":"collect.k","from":6,"to":7/);
  });

  it('a command other than run/collect does not start a run in a folder without one', () => {
    const empty = join(tmp, 'nothing-here');
    const r = pdiff(['report', '-o', empty, '--quiet']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /holds no pdiff run yet; start one with "pdiff run --out/);
    assert.ok(!existsSync(empty), 'no folder is created');
  });

  it('refuses a second process, says how to resume after Ctrl-C, and takes over a dead owner\'s lock', async () => {
    // A long-running first process on the folder (a long ae stage), started as the `pdiff` command
    // in a process group of its own, as a shell starts a job, so that Ctrl-C can reach the group.
    const first = spawn(process.execPath, [join(root, 'bin/pdiff.js'), 'run', '-o', x, '--quiet', '--set', 'ae.steps=1000000', '--reconfigure'],
      { cwd: root, env: ENV, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let firstErr = '';
    first.stderr.on('data', (d: Buffer) => { firstErr += d.toString(); });
    const exited = new Promise<{ code: number | null; signal: string | null }>((res) => first.on('exit', (code, signal) => res({ code, signal })));
    await waitFor(() => existsSync(join(x, LOCK_FILE)), 'the first process to lock the folder');
    await waitFor(() => readFileSync(join(x, 'config.json'), 'utf8').includes('1000000'), 'the first process to write its config');
    const owner = JSON.parse(readFileSync(join(x, LOCK_FILE), 'utf8')) as LockOwner;

    const second = pdiff(['run', '-o', x, '--seed', '1', '--reconfigure', '--quiet'], {}, 60_000);
    assert.equal(second.status, 5, second.stderr);
    assert.match(second.stderr, new RegExp(`run folder .*x is in use by pid ${owner.pid} \\(pdiff run -o .*x --quiet --set ae.steps=1000000 --reconfigure\\)`));
    assert.ok(second.ms < 20_000, `refused after ${second.ms} ms`);
    assert.equal((JSON.parse(readFileSync(join(x, 'config.json'), 'utf8')) as { seed: number }).seed, 0, 'the refused process changed nothing');

    process.kill(-first.pid!, 'SIGINT'); // Ctrl-C at a terminal: the whole foreground group
    const e = await exited;
    assert.equal(e.code, 130, firstErr);
    assert.match(firstErr, /interrupted; run the same command again to resume .*x where it stopped/);
    assert.ok(!existsSync(join(x, LOCK_FILE)), 'the lock is released on Ctrl-C');

    // SIGKILL leaves the lock behind; the next process finds its owner dead and takes it over.
    const killed = pdiff(['run', '-o', x, '--quiet'], { PDIFF_KILL_AT: 'ae:0' });
    assert.equal(killed.signal, 'SIGKILL');
    assert.ok(existsSync(join(x, LOCK_FILE)), 'a killed process leaves its lock');
    const r = pdiff(['collect', '-o', x]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /took over the lock of pid \d+, which is no longer running/);
    assert.ok(!existsSync(join(x, LOCK_FILE)));
  });
});

describe('RunLock', () => {
  const deadPid = (): number => {
    const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    return Number(r.stdout);
  };
  const writeLock = (dir: string, o: Partial<LockOwner>): void => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, host: hostname(), bootId: null, startTicks: null, command: 'test', since: '', ...o }));
  };

  it('refuses while the owner lives and releases only its own lock', () => {
    const d = join(tmp, 'lock-a');
    mkdirSync(d);
    const a = RunLock.acquire(d, 'first');
    assert.throws(() => RunLock.acquire(d, 'second'), (e: unknown) => e instanceof RunLockedError && new RegExp(`in use by pid ${process.pid} \\(first\\)`).test(e.message));
    a.release();
    assert.ok(!existsSync(join(d, LOCK_FILE)));
    const b = RunLock.acquire(d, 'second');
    a.release(); // idempotent, and not b's lock
    assert.ok(existsSync(join(d, LOCK_FILE)));
    b.release();
  });

  it('takes over a lock whose pid is dead, from another boot, or reused by another process', () => {
    const cases: Array<[string, Partial<LockOwner>]> = [
      ['dead pid', { pid: deadPid() }],
      ['another boot', { bootId: 'not-this-boot' }],
      ['reused pid', { startTicks: (processStartTicks(process.pid) ?? 0) + 1 }],
    ];
    for (const [what, o] of cases) {
      const d = join(tmp, `lock-${what.replace(' ', '-')}`);
      writeLock(d, o);
      if (what !== 'dead pid' && !existsSync('/proc/sys/kernel/random/boot_id')) continue;
      let stale: LockOwner | undefined;
      const l = RunLock.acquire(d, 'taker', (s) => { stale = s; });
      assert.ok(stale, `${what}: onStale was called`);
      assert.equal((JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8')) as LockOwner).command, 'taker');
      l.release();
    }
    // A live owner of this boot and start time is not stale.
    const d = join(tmp, 'lock-live');
    writeLock(d, { startTicks: processStartTicks(process.pid) });
    assert.throws(() => RunLock.acquire(d, 'x'), RunLockedError);
  });
});

describe('makeDir', () => {
  it('answers a procfs path within 2 seconds with one line naming it', () => {
    const t0 = performance.now();
    assert.throws(() => makeDir('/proc/x/y'), (e: unknown) => e instanceof PathError && /cannot create folder \/proc\/x\/y \(at \/proc\/x\): .*\(ENOENT\)/.test(e.message));
    assert.ok(performance.now() - t0 < 2000);
  });

  it('names EPERM, ENOTDIR and a file in the way; maps EACCES and EROFS', () => {
    if (existsSync('/sys/kernel')) assert.throws(() => makeDir('/sys/pdiff-x'), /cannot create folder \/sys\/pdiff-x: operation not permitted \(EPERM\)/);
    const f = join(tmp, 'a-file');
    writeFileSync(f, 'x');
    assert.throws(() => makeDir(join(f, 'sub')), (e: unknown) => e instanceof PathError && e.message.includes(`${f} is a file, not a folder`));
    assert.throws(() => makeDir(f), /is a file, not a folder/);
    const err = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });
    assert.equal(pathError('cannot write', '/x/y', err('EACCES')).message, 'cannot write /x/y: permission denied (EACCES)');
    assert.equal(pathError('cannot write', '/x/y', err('EROFS')).message, 'cannot write /x/y: read-only file system (EROFS)');
    const other = err('EIO');
    assert.equal(pathError('cannot write', '/x/y', other), other, 'other errors pass through');
  });

  it('creates missing parents and accepts an existing folder', () => {
    const d = join(tmp, 'p', 'q', 'r');
    makeDir(d);
    makeDir(d);
    assert.ok(existsSync(d));
  });

  it('the CLI says it in one line and exits 2 (procfs, a non-run folder)', () => {
    let r = pdiff(['run', '-o', '/proc/x', '--quiet'], {}, 30_000);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim(), 'pdiff: cannot create folder /proc/x: the file system does not allow creating it (or a parent vanished) (ENOENT)');
    r = pdiff(['run', '-o', join(root, 'src'), '--quiet'], {}, 30_000);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /is not empty and holds no pdiff run/);
  });
});
