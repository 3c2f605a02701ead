/**
 * `pdiff worker`: takes collection jobs from the queue and runs each in a child process
 * (`pdiff queue-job`, the same code as a local collect), so that this process's event loop stays
 * free to renew the job's lock while the child computes (docs/queue.md#workers). A worker that
 * dies stops renewing; after the lock runs out, BullMQ's stalled-job check puts the job back in
 * the queue for another worker.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import { QUEUE_NAME, checkQueue, connectionOptions, describeFailure } from './connection.js';
import { parseQueueUrl } from './url.js';
import type { QueueJobData, QueueJobResult } from './coordinator.js';

/** The pdiff command (bin/pdiff.js: the sources in a checkout, dist/ in a package). */
const PDIFF_BIN = fileURLToPath(new URL('../../bin/pdiff.js', import.meta.url));

/** Milliseconds a job's lock lasts without renewal (BullMQ lockDuration); PDIFF_QUEUE_LOCK_MS overrides. Default 30 s. */
export function lockMs(): number {
  const v = Number(process.env.PDIFF_QUEUE_LOCK_MS);
  return Number.isFinite(v) && v >= 500 ? v : 30_000;
}

export interface WorkerOptions {
  /** redis://HOST:PORT/DB */
  url: string;
  /** Jobs this process runs at once (each in its own child). Default 1. */
  concurrency?: number;
  say?: (line: string) => void;
  /** Resolves when the worker should stop (default: SIGINT or SIGTERM). */
  until?: Promise<void>;
}

/** The young generation of a job's child, as bin/supervise.js gives a pipeline's (unless set already). */
const JOB_HEAP_FLAGS = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('--max-semi-space-size')) ? [] : ['--max-semi-space-size=64'];

/** Lines of a child's stderr kept for the job's error message. */
const TAIL_LINES = 5;

/** Run one job in a child process; resolve with its result, reject with the end of its stderr. */
function runChild(job: Job<QueueJobData>, say: (line: string) => void): Promise<QueueJobResult> {
  const d = job.data;
  const tag = `[worker] ${d.label}`;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, ...JOB_HEAP_FLAGS, PDIFF_BIN, 'queue-job', '--run', d.run, '--kind', d.kind, '--index', String(d.index), '--key', d.key], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PDIFF_PROGRESS: '0' },
    });
    let out = '';
    const tail: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    let partial = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      const lines = (partial + s).split('\n');
      partial = lines.pop()!;
      for (const l of lines) {
        if (l.trim() === '') continue;
        say(`${tag}: ${l}`);
        tail.push(l);
        if (tail.length > TAIL_LINES) tail.shift();
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (partial.trim() !== '') tail.push(partial);
      if (code === 0) {
        try {
          resolvePromise(JSON.parse(out.trim().split('\n').at(-1)!) as QueueJobResult);
        } catch {
          reject(new Error('the job printed no result'));
        }
        return;
      }
      const why = tail.filter((l) => !/^\s+at /.test(l)).at(-1)?.replace(/^pdiff: /, '') ?? (signal ? `killed by ${signal}` : `exit status ${code}`);
      reject(new Error(why));
    });
  });
}

/** Run a worker until `until` (or SIGINT / SIGTERM); jobs in progress are finished first. */
export async function runWorker(opts: WorkerOptions): Promise<void> {
  const say = opts.say ?? ((l: string) => process.stderr.write(`${l}\n`));
  const target = parseQueueUrl(opts.url);
  await checkQueue(target);
  const lock = lockMs();
  const worker = new Worker<QueueJobData, QueueJobResult>(QUEUE_NAME, (job) => runChild(job, say), {
    connection: connectionOptions(target),
    concurrency: opts.concurrency ?? 1,
    lockDuration: lock,
    stalledInterval: lock,
    // a job whose worker died is put back this many times before it counts as failed
    maxStalledCount: 3,
  });
  let lastError = '';
  worker.on('error', (e) => {
    const line = describeFailure(target, e);
    if (line !== lastError) say(`[worker] ${line}`);
    lastError = line;
  });
  worker.on('active', (job) => say(`[worker] ${job.data.label} of ${job.data.run}: started (attempt ${job.attemptsMade + 1})`));
  worker.on('completed', (job) => say(`[worker] ${job.data.label}: done (${job.returnvalue.file})`));
  worker.on('failed', (job, err) => { if (job) say(`[worker] ${job.data.label}: failed (attempt ${job.attemptsMade}): ${err.message}`); });
  say(`[worker] waiting for jobs on ${target.display} (${opts.concurrency ?? 1} at a time)`);
  await (opts.until ?? new Promise<void>((r) => { process.once('SIGINT', () => r()); process.once('SIGTERM', () => r()); }));
  say('[worker] stopping: finishing the jobs in progress');
  await worker.close();
}
