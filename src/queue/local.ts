/**
 * `pdiff queue up` / `pdiff queue down`: a Redis server for users on one machine (Debian's
 * redis-server), bound to loopback, with the append-only file on so that a restart loses no job
 * (docs/queue.md#one-machine).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { makeDir } from '../util/fsdir.js';
import { checkQueue, connectionOptions } from './connection.js';
import { QueueError, parseQueueUrl } from './url.js';

export interface LocalRedis {
  url: string;
  dir: string;
  pid: number | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A TCP port on 127.0.0.1 that is free now (the system's choice): for a server started next, in tests and benchmarks. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

/** Start redis-server on 127.0.0.1:port with AOF in `dir` (its data, log and pid file), detached; resolve once it answers. */
export async function queueUp(opts: { port?: number; dir?: string; password?: string } = {}): Promise<LocalRedis> {
  const port = opts.port ?? 6379;
  const dir = resolve(opts.dir ?? '.pdiff-redis');
  const url = `redis://127.0.0.1:${port}/0`;
  makeDir(dir);
  const target = parseQueueUrl(url, '--port', opts.password ? { PDIFF_REDIS_PASSWORD: opts.password } : process.env);
  try {
    await checkQueue(target, 1000);
    throw new QueueError(`queue up: a Redis server already answers on ${url}; use it (pdiff worker --queue ${url}) or choose another --port`);
  } catch (e) {
    if (e instanceof QueueError && /already answers/.test(e.message)) throw e;
  }
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--dir', dir, '--daemonize', 'yes',
    '--pidfile', join(dir, 'redis.pid'), '--logfile', join(dir, 'redis.log'), '--save', '', ...(opts.password ? ['--requirepass', opts.password] : [])];
  const r = spawnSync('redis-server', args, { encoding: 'utf8' });
  if (r.error) throw new QueueError(`queue up: cannot start redis-server (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}); install it with "apt-get install redis-server"`);
  if (r.status !== 0) throw new QueueError(`queue up: redis-server exited with status ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').at(-1)}`);
  for (let i = 0; i < 50; i++) {
    try {
      await checkQueue(target, 500);
      const pidFile = join(dir, 'redis.pid');
      return { url, dir, pid: existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : null };
    } catch { await sleep(100); }
  }
  throw new QueueError(`queue up: redis-server did not answer on ${url} within 5 s; see ${join(dir, 'redis.log')}`);
}

/** Ask the server at `url` to save its append-only file and stop. */
export async function queueDown(url: string): Promise<void> {
  const t = parseQueueUrl(url);
  await checkQueue(t);
  const c = new Redis({ ...connectionOptions(t), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => { /* the server closes the connection as it stops */ });
  await c.connect();
  try { await c.shutdown(); } catch { /* the connection drops before a reply */ }
  c.disconnect();
}
