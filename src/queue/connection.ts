/**
 * Connections to the queue's Redis server: the options BullMQ's Queue and Worker take, and a check
 * made before either is built, so that a wrong password or an unreachable server is one clear line
 * instead of a client that retries forever (docs/queue.md#connecting).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { QueueError, type QueueTarget } from './url.js';

/** The name of pdiff's collection queue (BullMQ keys are bull:<name>:...). */
export const QUEUE_NAME = 'pdiff-collect';

/** ioredis options for BullMQ: reconnect for ever (a Redis restart is waited out), no per-command retry limit. */
export function connectionOptions(t: QueueTarget): RedisOptions {
  return {
    host: t.host, port: t.port, db: t.db,
    ...(t.username ? { username: t.username } : {}),
    ...(t.password ? { password: t.password } : {}),
    ...(t.tls ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    // a restarted server is back within seconds: try every 0.5-2 s
    retryStrategy: (times: number) => Math.min(500 * times, 2000),
  };
}

/**
 * Connect once, authenticate and PING; resolve when the server answers.
 * @throws QueueError naming the URL (never the password): unreachable, refused password, or needs one.
 */
export async function checkQueue(t: QueueTarget, timeoutMs = 5000): Promise<void> {
  const client = new Redis({ ...connectionOptions(t), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs, enableOfflineQueue: false });
  // the server's own answer (a refused password) comes as an 'error' event; the awaited call then only says the connection closed
  let event: unknown = null;
  client.on('error', (e) => { event ??= e; });
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    throw new QueueError(describeFailure(t, /Connection is closed/.test((e as Error).message) && event !== null ? event : e));
  } finally {
    client.disconnect();
  }
}

/** One line for a failed connection. */
export function describeFailure(t: QueueTarget, e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: string }).code;
  if (/WRONGPASS|invalid password|invalid username-password/i.test(msg)) return `queue ${t.display}: the server refused the password (${t.password ? 'from the URL or PDIFF_REDIS_PASSWORD' : 'none was given'})`;
  if (/NOAUTH/i.test(msg)) return `queue ${t.display}: the server needs a password; give it in the URL (redis://:PASSWORD@HOST:PORT/DB) or in PDIFF_REDIS_PASSWORD`;
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(msg)) return `queue ${t.display}: cannot reach the server (connection refused; is redis-server running there? \`pdiff queue up\` starts one)`;
  if (code === 'ENOTFOUND' || /ENOTFOUND|EAI_AGAIN/.test(msg)) return `queue ${t.display}: cannot resolve the host ${t.host}`;
  if (/ETIMEDOUT|timed? ?out/i.test(msg)) return `queue ${t.display}: cannot reach the server (no answer within the timeout)`;
  return `queue ${t.display}: ${msg.split('\n')[0]}`;
}
