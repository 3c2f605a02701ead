/**
 * The coordinator's side of a queued collection (docs/queue.md#the-coordinator): one job per zoo
 * member (a seed of a multi-seed zoo, or a chunk of a task zoo) whose file is not up to date,
 * under a job id derived from the run folder, the member and its key, so a restarted coordinator
 * finds its jobs instead of queuing them twice; then a poll of their states until every one is
 * done, with one progress line across all workers. A finished job's file is checked against the
 * sha256 the job recorded in Redis before it is used; a file that does not match is removed and
 * its job run again. A job that failed all its attempts stops the collection with its error, and
 * no zoo is assembled.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Queue, type Job } from 'bullmq';
import { Progress } from '../util/progress.js';
import { PdiffError } from '../util/errors.js';
import { QUEUE_NAME, checkQueue, connectionOptions } from './connection.js';
import { parseQueueUrl } from './url.js';
import { sha256File } from '../util/atomic.js';

/** What a job collects: one seed of a multi-seed zoo, or one chunk of a task zoo. */
export type QueueJobKind = 'seed' | 'tasks';

export interface QueueJobData {
  /** The run folder (absolute; the same path on every worker's machine). */
  run: string;
  kind: QueueJobKind;
  /** The seed, or the chunk's index. */
  index: number;
  /** The member's key (seed: collect-seeds.ts seedKey; tasks: task-job.ts taskChunkKey): a job under another config is another job. */
  key: string;
  /** How logs name the member: "seed 2", "task chunk 3 (codes 0011100000 to 1100000011)". */
  label: string;
}

/** A job's result, stored by BullMQ in Redis. */
export interface QueueJobResult {
  /** The member's file, relative to the run folder. */
  file: string;
  /** sha256 of its bytes as the job left it: the coordinator checks the file against it. */
  sha256: string;
}

/** Attempts per job before it counts as failed (BullMQ `attempts`), 2 s apart. */
export const JOB_ATTEMPTS = 3;

/** A collection whose jobs failed: exit status 1 with each failed member's error. */
export class QueueJobsFailed extends PdiffError {}

export interface QueuedMember {
  kind: QueueJobKind;
  index: number;
  key: string;
  /** The member's file, relative to the run folder. */
  file: string;
  label: string;
}

export interface CollectQueueOptions {
  url: string;
  /** The run folder. */
  dir: string;
  /** The zoo's members, all of one kind. */
  members: QueuedMember[];
  say: (line: string) => void;
  progress: boolean;
  /** Whether a member's file is complete for this run (its key and shape): checked besides the hash. */
  usable: (m: QueuedMember) => boolean;
  /** Called before a refused file's job is run again (remove the file and its state). */
  discard: (m: QueuedMember) => void;
  /** Milliseconds between polls. Default 500. */
  pollMs?: number;
}

/** The job id of member m of run folder `dir`: the same from any coordinator process. */
export function queueJobId(dir: string, m: Pick<QueuedMember, 'kind' | 'index' | 'key'>): string {
  const run = createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 12);
  return `run-${run}-${m.kind}-${m.index}-${m.key.slice(0, 16)}`;
}

/** How a count of members of a kind reads: "3 seeds", "1 task chunk". */
const count = (n: number, kind: QueueJobKind): string => `${n} ${kind === 'seed' ? 'seed' : 'task chunk'}${n === 1 ? '' : 's'}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Queue a job for every member (none for a member whose job exists from an earlier coordinator,
 * or whose complete file no job wrote) and wait until every member's file is there and verified.
 */
export async function collectThroughQueue(o: CollectQueueOptions): Promise<void> {
  const target = parseQueueUrl(o.url, 'collect.queue');
  await checkQueue(target);
  const dir = resolve(o.dir);
  const kind = o.members[0]?.kind ?? 'seed';
  const queue = new Queue<QueueJobData, QueueJobResult>(QUEUE_NAME, { connection: connectionOptions(target) });
  queue.on('error', () => { /* a restarting server: the awaited calls wait for it */ });
  try {
    const ids = new Map(o.members.map((m) => [m.index, queueJobId(dir, m)]));
    // finished jobs are kept: a restarted coordinator finds them, and their recorded hashes
    const addJob = (m: QueuedMember) => queue.add(m.kind, { run: dir, kind: m.kind, index: m.index, key: m.key, label: m.label },
      { jobId: ids.get(m.index)!, attempts: JOB_ATTEMPTS, backoff: { type: 'fixed', delay: 2000 }, removeOnComplete: false, removeOnFail: false });
    const verified = new Set<number>();
    let added = 0, found = 0;
    for (const m of o.members) {
      const job = await queue.getJob(ids.get(m.index)!);
      if (!job) {
        // a complete file that no job of this run wrote (collected locally before): used as a local run would
        if (o.usable(m)) { verified.add(m.index); continue; }
        await addJob(m);
        added++;
        continue;
      }
      found++;
      if ((await job.getState()) === 'failed') {
        o.say(`[collect] ${m.label}: its job failed in an earlier run (${job.failedReason}); queued again`);
        await job.retry('failed');
      }
    }
    o.say(`[collect] queue ${target.display}: ${count(o.members.length, kind)}, ${added} jobs queued now, ${found} found from an earlier coordinator, ${verified.size} files already complete; start workers with \`pdiff worker --queue ${target.display}\``);

    const bar = new Progress({ label: 'collect queue', total: o.members.length, unit: kind === 'seed' ? 'seed' : 'chunk', enabled: o.progress, start: verified.size });
    const failures: Array<{ index: number; line: string }> = [];
    let last = '';
    while (verified.size + failures.length < o.members.length) {
      let running = 0, waiting = 0;
      for (const m of o.members) {
        if (verified.has(m.index)) continue;
        const job: Job<QueueJobData, QueueJobResult> | undefined = await queue.getJob(ids.get(m.index)!);
        if (!job) { // removed by someone: queue it again
          await addJob(m);
          waiting++;
          continue;
        }
        const state = await job.getState();
        if (state === 'completed') {
          const why = refusal(dir, m, job.returnvalue, o.usable);
          if (why === null) {
            verified.add(m.index);
            bar.tick(1);
            continue;
          }
          o.say(`[collect] ${m.label}: ${why}; running its job again`);
          o.discard(m);
          await job.retry('completed');
          waiting++;
        } else if (state === 'failed') {
          if (!failures.some((f) => f.index === m.index)) failures.push({ index: m.index, line: `${m.label}: ${job.failedReason ?? 'failed'} (after ${job.attemptsMade} attempts)` });
        } else if (state === 'active') running++;
        else waiting++;
      }
      if (failures.length > 0) break;
      const line = `${verified.size}/${o.members.length} done, ${running} running, ${waiting} waiting, ${failures.length} failed`;
      bar.tick(0, { running, waiting, failed: failures.length });
      if (line !== last && !o.progress) o.say(`[collect] queue: ${line}`);
      last = line;
      if (verified.size < o.members.length) await sleep(o.pollMs ?? 500);
    }
    if (failures.length > 0) {
      bar.done();
      const what = `${kind === 'seed' ? 'seed' : 'task chunk'} job${failures.length === 1 ? '' : 's'}`;
      throw new QueueJobsFailed([`collect: ${failures.length} ${what} failed on the queue ${target.display}; no zoo was assembled:`, ...failures.map((f) => `  ${f.line}`)].join('\n'));
    }
    bar.done();
  } finally {
    await queue.close();
  }
}

/** Why a finished job's file cannot be used (null: it can): missing, or not the bytes the job recorded. */
function refusal(dir: string, m: QueuedMember, result: QueueJobResult | undefined, usable: (m: QueuedMember) => boolean): string | null {
  const path = join(dir, m.file);
  if (!result || typeof result.sha256 !== 'string') return 'its job recorded no file hash';
  if (!existsSync(path)) return `${m.file} is missing`;
  if (sha256File(path) !== result.sha256) return `${m.file} does not have the sha256 its job recorded (changed or corrupted after it was written)`;
  if (!usable(m)) return `${m.file} is not a complete ${m.kind === 'seed' ? 'seed' : 'task chunk'} file for this run`;
  return null;
}
