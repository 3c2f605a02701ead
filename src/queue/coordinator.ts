/**
 * The coordinator's side of a queued collection (docs/queue.md#the-coordinator): one job per seed
 * whose file is not up to date, under a job id derived from the run folder, the seed and its key,
 * so a restarted coordinator finds its jobs instead of queuing them twice; then a poll of their
 * states until every one is done, with one progress line across all workers. A finished job's
 * file is checked against the sha256 the job recorded in Redis before it is used; a file that
 * does not match is removed and its job run again. A job that failed all its attempts stops the
 * collection with its error, and no zoo is assembled.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Queue, type Job } from 'bullmq';
import { Progress } from '../util/progress.js';
import { PdiffError } from '../util/errors.js';
import { QUEUE_NAME, checkQueue, connectionOptions } from './connection.js';
import { parseQueueUrl } from './url.js';
import type { SeedJobResult } from '../run/seed-job.js';
import { sha256File } from '../util/atomic.js';

export interface SeedJobData {
  /** The run folder (absolute; the same path on every worker's machine). */
  run: string;
  seed: number;
  /** The seed's key (collect-seeds.ts seedKey): a job under another config is another job. */
  key: string;
}

/** Attempts per job before it counts as failed (BullMQ `attempts`), 2 s apart. */
export const JOB_ATTEMPTS = 3;

/** A collection whose jobs failed: exit status 1 with each failed seed's error. */
export class QueueJobsFailed extends PdiffError {}

export interface QueuedSeed {
  seed: number;
  key: string;
  /** The seed's file, relative to the run folder. */
  file: string;
}

export interface CollectQueueOptions {
  url: string;
  /** The run folder. */
  dir: string;
  seeds: QueuedSeed[];
  say: (line: string) => void;
  progress: boolean;
  /** Whether a seed's file is complete for this run (its key and shape): checked besides the hash. */
  usable: (s: QueuedSeed) => boolean;
  /** Called before a refused file's job is run again (remove the file and its state). */
  discard: (s: QueuedSeed) => void;
  /** Milliseconds between polls. Default 500. */
  pollMs?: number;
}

/** The job id of seed s of run folder `dir`: the same from any coordinator process. */
export function seedJobId(dir: string, s: QueuedSeed): string {
  const run = createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 12);
  return `run-${run}-seed-${s.seed}-${s.key.slice(0, 16)}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Queue a job for every seed (none for a seed whose job exists from an earlier coordinator, or
 * whose complete file no job wrote) and wait until every seed file is there and verified.
 */
export async function collectThroughQueue(o: CollectQueueOptions): Promise<void> {
  const target = parseQueueUrl(o.url, 'collect.queue');
  await checkQueue(target);
  const dir = resolve(o.dir);
  const queue = new Queue<SeedJobData, SeedJobResult>(QUEUE_NAME, { connection: connectionOptions(target) });
  queue.on('error', () => { /* a restarting server: the awaited calls wait for it */ });
  try {
    const ids = new Map(o.seeds.map((s) => [s.seed, seedJobId(dir, s)]));
    // finished jobs are kept: a restarted coordinator finds them, and their recorded hashes
    const addJob = (s: QueuedSeed) => queue.add('seed', { run: dir, seed: s.seed, key: s.key },
      { jobId: ids.get(s.seed)!, attempts: JOB_ATTEMPTS, backoff: { type: 'fixed', delay: 2000 }, removeOnComplete: false, removeOnFail: false });
    const verified = new Set<number>();
    let added = 0, found = 0;
    for (const s of o.seeds) {
      const id = ids.get(s.seed)!;
      const job = await queue.getJob(id);
      if (!job) {
        // a complete file that no job of this run wrote (collected locally before): used as a local run would
        if (o.usable(s)) { verified.add(s.seed); continue; }
        await addJob(s);
        added++;
        continue;
      }
      found++;
      if ((await job.getState()) === 'failed') {
        o.say(`[collect] seed ${s.seed}: its job failed in an earlier run (${job.failedReason}); queued again`);
        await job.retry('failed');
      }
    }
    o.say(`[collect] queue ${target.display}: ${o.seeds.length} seeds, ${added} jobs queued now, ${found} found from an earlier coordinator, ${verified.size} seed files already complete; start workers with \`pdiff worker --queue ${target.display}\``);

    const bar = new Progress({ label: 'collect queue', total: o.seeds.length, unit: 'seed', enabled: o.progress, start: verified.size });
    const failures: string[] = [];
    let last = '';
    while (verified.size + failures.length < o.seeds.length) {
      let running = 0, waiting = 0;
      for (const s of o.seeds) {
        if (verified.has(s.seed)) continue;
        const job: Job<SeedJobData, SeedJobResult> | undefined = await queue.getJob(ids.get(s.seed)!);
        if (!job) { // removed by someone: queue it again
          await addJob(s);
          waiting++;
          continue;
        }
        const state = await job.getState();
        if (state === 'completed') {
          const why = refusal(dir, s, job.returnvalue, o.usable);
          if (why === null) {
            verified.add(s.seed);
            bar.tick(1);
            continue;
          }
          o.say(`[collect] seed ${s.seed}: ${why}; running its job again`);
          o.discard(s);
          await job.retry('completed');
          waiting++;
        } else if (state === 'failed') {
          if (!failures.some((f) => f.startsWith(`seed ${s.seed}:`))) failures.push(`seed ${s.seed}: ${job.failedReason ?? 'failed'} (after ${job.attemptsMade} attempts)`);
        } else if (state === 'active') running++;
        else waiting++;
      }
      if (failures.length > 0) break;
      const line = `${verified.size}/${o.seeds.length} done, ${running} running, ${waiting} waiting, ${failures.length} failed`;
      bar.tick(0, { running, waiting, failed: failures.length });
      if (line !== last && !o.progress) o.say(`[collect] queue: ${line}`);
      last = line;
      if (verified.size < o.seeds.length) await sleep(o.pollMs ?? 500);
    }
    if (failures.length > 0) {
      bar.done();
      throw new QueueJobsFailed([`collect: ${failures.length} seed job${failures.length === 1 ? '' : 's'} failed on the queue ${target.display}; no zoo was assembled:`, ...failures.map((f) => `  ${f}`)].join('\n'));
    }
    bar.done();
  } finally {
    await queue.close();
  }
}

/** Why a finished job's file cannot be used (null: it can): missing, or not the bytes the job recorded. */
function refusal(dir: string, s: QueuedSeed, result: SeedJobResult | undefined, usable: (s: QueuedSeed) => boolean): string | null {
  const path = join(dir, s.file);
  if (!result || typeof result.sha256 !== 'string') return 'its job recorded no file hash';
  if (!existsSync(path)) return `${s.file} is missing`;
  if (sha256File(path) !== result.sha256) return `${s.file} does not have the sha256 its job recorded (changed or corrupted after it was written)`;
  if (!usable(s)) return `${s.file} is not a complete seed file for this run`;
  return null;
}
