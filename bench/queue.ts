/**
 * Queue benchmark (issue 19, docs/queue.md#measured): on a local redis-server (append-only file on,
 * started here on a free port),
 * 1. the collect stage of one multi-seed zoo (default: the fmnist-seeds preset; a task preset such
 *    as fmnist-tasks queues its chunks) run locally, then
 *    through the queue with 1, 2, 3 ... `pdiff worker` processes; each queued zoo is checked bit for
 *    bit against the local one;
 * 2. the queue's own cost: many no-op jobs through BullMQ with 16 workers (in this process, each
 *    with its own connections): jobs per second, latency from enqueue to completion, and Redis
 *    commands and memory per job.
 *   npm run bench -- queue [--preset fmnist-seeds] [--workers 1,2,3] [--tiny-jobs 2000] [--tiny-workers 16] [--set key=value ...]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { connectionOptions } from '../src/queue/connection.js';
import { freeLoopbackPort, queueDown, queueUp } from '../src/queue/local.js';
import { parseQueueUrl } from '../src/queue/url.js';
import { readSafetensors } from '../src/zoo/safetensors.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const say = (l: string): void => { process.stderr.write(`${l}\n`); };

function pdiff(args: string[]): { done: Promise<number | null>; kill: () => void } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, PDIFF_PROGRESS: '0', PDIFF_QUIET_BACKEND: '1' } });
  return { done: new Promise((r) => child.once('exit', (c) => r(c))), kill: () => child.kill('SIGTERM') };
}

const collectSeconds = (dir: string): number => (JSON.parse(readFileSync(join(dir, 'stages', 'collect.json'), 'utf8')) as { seconds: number }).seconds;
/** The assembled zoo's tensors (ckpts-whole.safetensors, or ckpts-task.safetensors for a task zoo). */
function zoo(dir: string): Buffer[] {
  const file = readdirSync(dir).find((f) => /^ckpts-\w+\.safetensors$/.test(f));
  if (!file) throw new Error(`${dir}: no assembled zoo (ckpts-*.safetensors)`);
  return [...readSafetensors(join(dir, file)).tensors.values()].map((t) => Buffer.from((t.data as Float32Array).buffer));
}

async function redisStats(url: string): Promise<{ commands: number; memory: number }> {
  const t = parseQueueUrl(url, '--queue', {});
  const c = new Redis({ host: t.host, port: t.port, lazyConnect: true });
  await c.connect();
  const info = await c.info();
  c.disconnect();
  const num = (k: string): number => Number(new RegExp(`${k}:(\\d+)`).exec(info)?.[1] ?? NaN);
  return { commands: num('total_commands_processed'), memory: num('used_memory') };
}

export async function benchQueue(opts: { preset?: string; workers?: number[]; tinyJobs?: number; tinyWorkers?: number; sets?: string[] } = {}): Promise<Record<string, unknown>> {
  const preset = opts.preset ?? 'fmnist-seeds';
  const counts = opts.workers ?? [1, 2, 3];
  const tmp = mkdtempSync(join(tmpdir(), 'pdiff-bench-queue-'));
  const port = await freeLoopbackPort();
  const { url } = await queueUp({ port, dir: join(tmp, 'redis') });
  const setArgs = (opts.sets ?? []).flatMap((s) => ['--set', s]);
  const load0 = loadavg()[0]!;
  try {
    // 1. the zoo, locally and with n workers
    const local = join(tmp, 'local');
    say(`[bench queue] ${preset}: local collect`);
    if ((await pdiff(['collect', '--preset', preset, '--out', local, ...setArgs]).done) !== 0) throw new Error('the local collect failed');
    const localS = collectSeconds(local);
    const ref = zoo(local);
    const rows: Array<{ workers: number; collect_s: number; ratio_to_local: number; identical: boolean }> = [];
    for (const n of counts) {
      const dir = join(tmp, `q${n}`);
      say(`[bench queue] ${preset}: collect through the queue with ${n} worker${n === 1 ? '' : 's'}`);
      const ws = Array.from({ length: n }, () => pdiff(['worker', '--queue', url]));
      const c = pdiff(['collect', '--preset', preset, '--out', dir, '--queue', url, ...setArgs]);
      const code = await c.done;
      ws.forEach((w) => w.kill());
      await Promise.all(ws.map((w) => w.done));
      if (code !== 0) throw new Error(`the queued collect with ${n} workers failed`);
      const s = collectSeconds(dir);
      const z = zoo(dir);
      rows.push({ workers: n, collect_s: Number(s.toFixed(1)), ratio_to_local: Number((s / localS).toFixed(2)), identical: z.length === ref.length && z.every((b, i) => b.equals(ref[i]!)) });
      say(`[bench queue]   ${s.toFixed(1)} s (local ${localS.toFixed(1)} s)`);
    }

    // 2. the queue's own cost per job
    const N = opts.tinyJobs ?? 2000, W = opts.tinyWorkers ?? 16;
    const conn = connectionOptions(parseQueueUrl(url, '--queue', {}));
    const name = 'pdiff-bench-tiny';
    const q = new Queue(name, { connection: conn });
    const workers = Array.from({ length: W }, () => new Worker(name, async () => ({ ok: 1 }), { connection: conn, concurrency: 1, autorun: false }));
    const before = await redisStats(url);
    const t0 = performance.now();
    await q.addBulk(Array.from({ length: N }, (_, i) => ({ name: 'tiny', data: { i }, opts: { removeOnComplete: false } })));
    workers.forEach((w) => { void w.run(); });
    let done = 0;
    while (done < N) {
      await new Promise((r) => setTimeout(r, 50));
      done = (await q.getJobCounts('completed')).completed ?? 0;
    }
    const seconds = (performance.now() - t0) / 1000;
    const after = await redisStats(url);
    const jobs = await q.getJobs(['completed'], 0, N - 1);
    const lat = jobs.map((j) => (j.finishedOn ?? 0) - j.timestamp).sort((a, b) => a - b);
    await Promise.all(workers.map((w) => w.close()));
    await q.close();
    return {
      bench: 'queue', preset, load_before: Number(load0.toFixed(2)), local_collect_s: Number(localS.toFixed(1)), queued: rows,
      tiny: {
        jobs: N, workers: W, seconds: Number(seconds.toFixed(2)), jobs_per_s: Math.round(N / seconds), ms_per_job: Number((1000 * seconds / N).toFixed(2)),
        latency_ms_median: lat[Math.floor(lat.length / 2)], latency_ms_p95: lat[Math.floor(lat.length * 0.95)],
        redis_commands_per_job: Number(((after.commands - before.commands) / N).toFixed(1)), redis_bytes_per_job: Math.round((after.memory - before.memory) / N),
      },
    };
  } finally {
    await queueDown(url).catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
}
