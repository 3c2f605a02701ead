/**
 * The job queue (issue 19, docs/queue.md): a multi-seed zoo, and a task zoo, collected by `pdiff worker` processes
 * through a real Redis server (Debian's redis-server, started here on a free loopback port with
 * the append-only file on and a password), compared bit for bit with the same zoo collected
 * locally. Skipped, with the reason, where redis-server is not installed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { configHash, resolveConfig } from '../../src/config/index.js';
import { diffConfigs } from '../../src/config/diff.js';
import { QUEUE_NAME, checkQueue, connectionOptions } from '../../src/queue/connection.js';
import { freeLoopbackPort, queueDown, queueUp } from '../../src/queue/local.js';
import { QueueError, parseQueueUrl, redactQueueUrl, withoutQueuePassword } from '../../src/queue/url.js';
import { ConfigError } from '../../src/util/errors.js';
import { readSafetensors } from '../../src/zoo/safetensors.js';
import { root } from '../helpers/cli.js';
import { skipWithoutFashionMnist } from '../helpers/data.js';

const PASSWORD = 'pdiff-test-secret';
const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
const skipRedis: false | string = !hasRedis ? 'redis-server is not installed (apt-get install redis-server; .ci/run installs it)' : skipWithoutFashionMnist;

/** A tiny multi-seed zoo: 3 seeds of an MLP 784-8-10, 3 checkpoints each; a seed's job takes a few seconds. */
const ZOO_SETS = ['--preset', 'fmnist-seeds', '--set', 'data.limitTrain=600', '--set', 'data.valSize=100', '--set', 'data.limitTest=200',
  '--set', 'base.epochs=1', '--set', 'collect.k=3', '--set', 'collect.seeds=3', '--set', 'model.mlpHidden=[8]', '--set', 'eval.avgOf=2', '--backend', 'js'];

/** A tiny task zoo: 5 seen codes in 3 chunks of at most 2 (3 jobs), 2 checkpoints of a few steps each. */
const TASK_SETS = ['--preset', 'fmnist-tiny', '--set', 'data.limitTrain=600', '--set', 'data.valSize=100', '--set', 'data.limitTest=200', '--set', 'base.epochs=1',
  '--set', 'tasks.condition="task"', '--set', 'tasks.unseen=3', '--set', 'tasks.seen=5', '--set', 'tasks.evalSeen=2', '--set', 'tasks.chunkSize=2',
  '--set', 'tasks.recipe={"steps":6,"saveEvery":2,"k":2,"lr":0.01,"batchSize":16,"weightDecay":0.0005}', '--backend', 'js'];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** redis-server on 127.0.0.1:port, AOF on, data in dir, with the test password. */
class RedisServer {
  proc: ChildProcess | null = null;
  constructor(readonly port: number, readonly dir: string) {}
  get url(): string { return `redis://:${PASSWORD}@127.0.0.1:${this.port}/0`; }
  async start(): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir, '--save', '', '--requirepass', PASSWORD], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      try { await checkQueue(parseQueueUrl(this.url), 300); return; } catch { await sleep(100); }
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await done;
  }
}

interface Proc { child: ChildProcess; out: string; done: Promise<number | null> }

/** `pdiff ...` in its own process group (so a kill takes its job children too), output collected. */
function pdiffProc(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
    cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PDIFF_QUIET_BACKEND: '1', PDIFF_PROGRESS: '0', ...env },
  });
  const p: Proc = { child, out: '', done: new Promise((r) => child.once('exit', (code) => r(code))) };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => { p.out += s; });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { p.out += s; });
  return p;
}

function killGroup(p: Proc, signal: NodeJS.Signals = 'SIGKILL'): void {
  try { process.kill(-p.child.pid!, signal); } catch { /* gone */ }
}

async function waitFor(what: string, cond: () => boolean, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The zoo's tensors: the assembled checkpoint stack. */
function zooOf(dir: string, file = 'ckpts-whole.safetensors'): Map<string, Float32Array> {
  const f = readSafetensors(join(dir, file));
  return new Map([...f.tensors].map(([k, t]) => [k, t.data as Float32Array]));
}

describe('queue URLs and config', () => {
  it('takes the password from the URL or PDIFF_REDIS_PASSWORD and never shows it', () => {
    const t = parseQueueUrl('redis://:s3cret@example.org:6380/2', '--queue', {});
    assert.deepEqual([t.host, t.port, t.db, t.password, t.tls], ['example.org', 6380, 2, 's3cret', false]);
    assert.equal(t.display, 'redis://example.org:6380/2');
    const e = parseQueueUrl('redis://localhost', '--queue', { PDIFF_REDIS_PASSWORD: 'fromenv' });
    assert.deepEqual([e.port, e.db, e.password], [6379, 0, 'fromenv']);
    assert.equal(redactQueueUrl('redis://user:s3cret@h:1/0'), 'redis://user@h:1/0');
    assert.ok(!redactQueueUrl('redis://:s3cret@h:1/0').includes('s3cret'));
    for (const bad of ['http://h:1/0', 'redis://:pw@h:1/x', 'not a url :pw@']) {
      assert.throws(() => parseQueueUrl(bad, 'collect.queue', {}), (err: Error) => err instanceof ConfigError && err.message.startsWith('collect.queue:') && !err.message.includes('pw@'));
    }
  });

  it('collect.queue needs a multi-seed or task zoo, changes no hash and is no change of the run', () => {
    assert.throws(() => resolveConfig({ sets: ['collect.queue="redis://h:1/0"'] }), (e: Error) => e instanceof ConfigError && /collect\.queue/.test(e.message) && /collect\.seeds/.test(e.message));
    assert.throws(() => resolveConfig({ sets: ['tasks.condition="accuracy"', 'collect.queue="redis://h:1/0"'] }), (e: Error) => e instanceof ConfigError && /collect\.queue/.test(e.message));
    assert.equal(resolveConfig({ sets: ['tasks.condition="task"', 'collect.queue="redis://h:1/0"'] }).collect.queue, 'redis://h:1/0');
    const a = resolveConfig({ preset: 'fmnist-seeds' });
    const b = resolveConfig({ preset: 'fmnist-seeds', sets: ['collect.queue="redis://h:1/0"'] });
    assert.equal(configHash(a, ['collect']), configHash(b, ['collect']));
    assert.deepEqual(diffConfigs(a, b), []);
    const env: NodeJS.ProcessEnv = {};
    const c = withoutQueuePassword(resolveConfig({ preset: 'fmnist-seeds', sets: ['collect.queue="redis://:pw@h:1/0"'] }), env);
    assert.equal(c.collect.queue, 'redis://h:1/0');
    assert.equal(env.PDIFF_REDIS_PASSWORD, 'pw');
  });
});

describe('a multi-seed zoo on a Redis queue', { skip: skipRedis, concurrency: false }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pdiff-queue-'));
  let redis: RedisServer;
  let reference: Map<string, Float32Array>;
  const procs: Proc[] = [];
  const proc = (args: string[], env: NodeJS.ProcessEnv = {}): Proc => { const p = pdiffProc(args, env); procs.push(p); return p; };
  const workers = (n: number, env: NodeJS.ProcessEnv = {}): Proc[] => Array.from({ length: n }, () => proc(['worker', '--queue', redis.url], env));
  const stopAll = async (ps: Proc[]): Promise<void> => { for (const p of ps) killGroup(p, 'SIGTERM'); await Promise.all(ps.map((p) => p.done)); };
  /** The jobs Redis holds for run folder dir. */
  const jobsOf = async (dir: string): Promise<number> => {
    const q = new Queue(QUEUE_NAME, { connection: connectionOptions(parseQueueUrl(redis.url)) });
    try {
      const jobs = await q.getJobs(['completed', 'failed', 'active', 'waiting', 'delayed']);
      return jobs.filter((j) => j?.data?.run === dir).length;
    } finally { await q.close(); }
  };

  before(async () => {
    redis = new RedisServer(await freeLoopbackPort(), tmp);
    await redis.start();
    const local = join(tmp, 'local');
    const r = pdiffProc(['collect', '--out', local, ...ZOO_SETS]);
    assert.equal(await r.done, 0, r.out);
    reference = zooOf(local);
  });
  after(async () => {
    for (const p of procs) killGroup(p);
    await redis?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('3 workers build the zoo bit-identical to the local run; the run folder never holds the password', async () => {
    const dir = join(tmp, 'three');
    const ws = workers(3);
    const c = proc(['collect', '--out', dir, ...ZOO_SETS, '--queue', redis.url]);
    assert.equal(await c.done, 0, c.out);
    await stopAll(ws);
    assert.deepEqual(zooOf(dir), reference);
    for (const f of ['config.json', 'manifest.json', 'metrics.jsonl']) assert.ok(!readFileSync(join(dir, f), 'utf8').includes(PASSWORD), f);
    assert.ok(!c.out.includes(PASSWORD));
    assert.equal(await jobsOf(dir), 3);
    // the jobs were shared out (which worker takes which is BullMQ's business)
    assert.ok(ws.filter((w) => /started/.test(w.out)).length >= 2, ws.map((w) => w.out).join('\n---\n'));
  });

  it('a worker SIGKILLed in the middle of a job: the job is taken again after its lock runs out, and the zoo is the same', async () => {
    const dir = join(tmp, 'killed-worker');
    const env = { PDIFF_QUEUE_LOCK_MS: '1500' };
    const c = proc(['collect', '--out', dir, ...ZOO_SETS, '--queue', redis.url]);
    const [a] = workers(1, env);
    await waitFor('worker A to start a job', () => /started/.test(a!.out));
    await sleep(500);
    killGroup(a!); // the worker and its job's child
    await a!.done;
    assert.ok(!existsSync(join(dir, 'ckpts-whole.safetensors')));
    const bs = workers(2, env);
    assert.equal(await c.done, 0, c.out);
    await stopAll(bs);
    assert.deepEqual(zooOf(dir), reference);
    assert.equal(await jobsOf(dir), 3);
  });

  it('the coordinator SIGKILLed and restarted finds its jobs, queues nothing twice and loses nothing', async () => {
    const dir = join(tmp, 'killed-coordinator');
    const c1 = proc(['collect', '--out', dir, ...ZOO_SETS, '--queue', redis.url]);
    await waitFor('the jobs to be queued', () => /jobs queued now/.test(c1.out));
    const ws = workers(1);
    await waitFor('a first seed file', () => existsSync(join(dir, 'seeds')) && /done \(/.test(ws[0]!.out));
    killGroup(c1);
    await c1.done;
    const c2 = proc(['collect', '--out', dir, '--queue', redis.url]);
    assert.equal(await c2.done, 0, c2.out);
    assert.match(c2.out, /0 jobs queued now, 3 found from an earlier coordinator/);
    await stopAll(ws);
    assert.deepEqual(zooOf(dir), reference);
    assert.equal(await jobsOf(dir), 3);
  });

  it('Redis restarted during a run (append-only file on): the run completes', async () => {
    const dir = join(tmp, 'redis-restart');
    const c = proc(['collect', '--out', dir, ...ZOO_SETS, '--queue', redis.url]);
    const ws = workers(1);
    await waitFor('a first finished job', () => /done \(/.test(ws[0]!.out));
    await redis.stop();
    await sleep(1000);
    await redis.start();
    assert.equal(await c.done, 0, c.out);
    await stopAll(ws);
    assert.deepEqual(zooOf(dir), reference);
  });

  it('a seed file corrupted after its job wrote it is refused by its hash and its job runs again', async () => {
    const dir = join(tmp, 'three'); // the zoo of the first test: corrupt seed 1, then collect again
    const file = join(dir, 'seeds', 'seed-1.safetensors');
    const bytes = readFileSync(file);
    bytes[bytes.length - 3]! ^= 0x40; // a bit of the last checkpoint: the file still parses
    writeFileSync(file, bytes);
    rmSync(join(dir, 'stages', 'collect.json'));
    rmSync(join(dir, 'ckpts-whole.safetensors'));
    const ws = workers(1);
    const c = proc(['collect', '--out', dir, '--queue', redis.url]);
    assert.equal(await c.done, 0, c.out);
    await stopAll(ws);
    assert.match(c.out, /seed 1: seeds\/seed-1\.safetensors does not have the sha256 its job recorded/);
    assert.deepEqual(zooOf(dir), reference);
  });

  it('a job that fails every time ends as failed after its retries; the coordinator names the seed and exits non-zero with no zoo', async () => {
    const dir = join(tmp, 'failing');
    const ws = workers(2);
    const c = proc(['collect', '--out', dir, ...ZOO_SETS, '--set', 'collect.lr=1e38', '--queue', redis.url]);
    const code = await c.done;
    await stopAll(ws);
    assert.notEqual(code, 0, c.out);
    assert.match(c.out, /seed job[s]? failed on the queue redis:\/\/127\.0\.0\.1:\d+\/0; no zoo was assembled/);
    assert.match(c.out, /seed \d: .*after 3 attempts/);
    assert.ok(!existsSync(join(dir, 'ckpts-whole.safetensors')));
  });

  it('a wrong password or an unreachable server: one line naming the URL without the password, non-zero exit', async () => {
    const wrong = pdiffProc(['worker', '--queue', `redis://:not-it@127.0.0.1:${redis.port}/0`]);
    assert.equal(await wrong.done, 5);
    assert.equal(wrong.out.trim().split('\n').length, 1, wrong.out);
    assert.match(wrong.out, new RegExp(`queue redis://127\\.0\\.0\\.1:${redis.port}/0: the server refused the password`));
    assert.ok(!wrong.out.includes('not-it'));
    const port = await freeLoopbackPort();
    const none = pdiffProc(['worker', '--queue', `redis://:secret@127.0.0.1:${port}/0`]);
    assert.equal(await none.done, 5);
    assert.match(none.out.trim(), new RegExp(`^pdiff: queue redis://127\\.0\\.0\\.1:${port}/0: cannot reach the server`));
    assert.ok(!none.out.includes('secret'));
    await assert.rejects(checkQueue(parseQueueUrl(`redis://127.0.0.1:${redis.port}/0`, '--queue', {})), (e: Error) => e instanceof QueueError && /needs a password/.test(e.message));
  });
});

describe('a task zoo on a Redis queue', { skip: skipRedis, concurrency: false }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pdiff-queue-tasks-'));
  let redis: RedisServer;
  let reference: Map<string, Float32Array>;
  const procs: Proc[] = [];
  const proc = (args: string[]): Proc => { const p = pdiffProc(args); procs.push(p); return p; };
  const workers = (n: number): Proc[] => Array.from({ length: n }, () => proc(['worker', '--queue', redis.url]));
  const stopAll = async (ps: Proc[]): Promise<void> => { for (const p of ps) killGroup(p, 'SIGTERM'); await Promise.all(ps.map((p) => p.done)); };
  const tasksZoo = (dir: string) => zooOf(dir, 'ckpts-task.safetensors');

  before(async () => {
    redis = new RedisServer(await freeLoopbackPort(), tmp);
    await redis.start();
    const local = join(tmp, 'local');
    const r = pdiffProc(['collect', '--out', local, ...TASK_SETS]);
    assert.equal(await r.done, 0, r.out);
    reference = tasksZoo(local);
  });
  after(async () => {
    for (const p of procs) killGroup(p);
    await redis?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('2 workers train the chunks, bit-identical to the local run; a corrupted chunk file is refused by its hash and trained again', async () => {
    const dir = join(tmp, 'two');
    const ws = workers(2);
    const c = proc(['collect', '--out', dir, ...TASK_SETS, '--queue', redis.url]);
    assert.equal(await c.done, 0, c.out);
    assert.match(c.out, /3 task chunks, 3 jobs queued now/);
    assert.deepEqual(tasksZoo(dir), reference);
    assert.ok(!existsSync(join(dir, 'queue', 'task-features.safetensors')), 'the features for the jobs are removed once the zoo is in');
    assert.ok(ws.some((w) => /task chunk \d \(codes? [01]{10}/.test(w.out)), ws.map((w) => w.out).join('\n---\n'));

    const file = join(dir, 'tasks', 'tasks-0001.safetensors');
    const bytes = readFileSync(file);
    bytes[bytes.length - 3]! ^= 0x40; // a bit of the last checkpoint: the file still parses
    writeFileSync(file, bytes);
    rmSync(join(dir, 'stages', 'collect.json'));
    rmSync(join(dir, 'ckpts-task.safetensors'));
    const again = proc(['collect', '--out', dir, '--queue', redis.url]);
    assert.equal(await again.done, 0, again.out);
    await stopAll(ws);
    assert.match(again.out, /task chunk 1 \(codes [01]{10} to [01]{10}\): tasks\/tasks-0001\.safetensors does not have the sha256 its job recorded/);
    assert.deepEqual(tasksZoo(dir), reference);
  });

  it('a chunk whose training diverges every time: the coordinator names its codes and exits non-zero with no zoo', async () => {
    const dir = join(tmp, 'failing');
    const ws = workers(2);
    const c = proc(['collect', '--out', dir, ...TASK_SETS, '--set', 'tasks.recipe={"steps":6,"saveEvery":2,"k":2,"lr":1e38,"batchSize":16,"weightDecay":0.0005}', '--queue', redis.url]);
    const code = await c.done;
    await stopAll(ws);
    assert.notEqual(code, 0, c.out);
    assert.match(c.out, /task chunk jobs? failed on the queue redis:\/\/127\.0\.0\.1:\d+\/0; no zoo was assembled/);
    assert.match(c.out, /task chunk \d \(codes? [01]{10}.*\): trainTask [01]{10}: loss NaN .*\(after 3 attempts\)/);
    assert.ok(!existsSync(join(dir, 'ckpts-task.safetensors')));
  });
});

describe('pdiff queue up / down', { skip: hasRedis ? false : 'redis-server is not installed' }, () => {
  it('starts redis-server on loopback with the append-only file on, refuses a second one on the port, and stops it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdiff-queue-up-'));
    try {
      const port = await freeLoopbackPort();
      const r = await queueUp({ port, dir });
      assert.equal(r.url, `redis://127.0.0.1:${port}/0`);
      const t = parseQueueUrl(r.url, '--queue', {});
      const c = new Redis({ host: t.host, port: t.port, lazyConnect: true });
      await c.connect();
      assert.deepEqual(await c.config('GET', 'appendonly'), ['appendonly', 'yes']);
      assert.deepEqual(await c.config('GET', 'bind'), ['bind', '127.0.0.1']);
      c.disconnect();
      await assert.rejects(queueUp({ port, dir }), (e: Error) => e instanceof QueueError && /already answers/.test(e.message));
      await queueDown(r.url);
      await assert.rejects(checkQueue(t, 500), (e: Error) => e instanceof QueueError && /cannot reach/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
