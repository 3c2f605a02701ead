/**
 * Where the job queue lives: a Redis URL, redis://[user][:password@]host[:port][/db] (rediss:// for
 * TLS). The password comes from the URL or, when the URL has none, from PDIFF_REDIS_PASSWORD; it is
 * never printed nor written to a run folder: every message and the stored config name the URL
 * without it (docs/queue.md#connecting).
 */
import { ConfigError, PdiffError } from '../util/errors.js';

/** Environment variable read for the password when the URL has none. */
export const PASSWORD_ENV = 'PDIFF_REDIS_PASSWORD';

export interface QueueTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
  /** The URL without the password: what messages and run folders show. */
  display: string;
}

/** A queue that cannot be reached or refuses us: one line naming the URL (without the password). */
export class QueueError extends PdiffError {
  override readonly exitCode: number = 5;
}

/**
 * Parse a queue URL. `where` names the flag or key it came from, for the error.
 * @throws ConfigError naming `where` for anything but a redis:// or rediss:// URL with a valid port and db.
 */
export function parseQueueUrl(url: string, where = '--queue', env: NodeJS.ProcessEnv = process.env): QueueTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`${where}: expected a URL redis://HOST:PORT/DB, got "${redactQueueUrl(url)}"`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new ConfigError(`${where}: expected a redis:// or rediss:// URL, got "${redactQueueUrl(url)}"`);
  }
  if (!u.hostname) throw new ConfigError(`${where}: the URL names no host: "${redactQueueUrl(url)}"`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbPart = u.pathname.replace(/^\//, '');
  const db = dbPart === '' ? 0 : Number(dbPart);
  if (!(Number.isInteger(db) && db >= 0 && /^\d*$/.test(dbPart))) {
    throw new ConfigError(`${where}: the database (the URL's path) must be a non-negative integer, got "${dbPart}" in "${redactQueueUrl(url)}"`);
  }
  const password = u.password !== '' ? decodeURIComponent(u.password) : env[PASSWORD_ENV] || undefined;
  const username = u.username !== '' ? decodeURIComponent(u.username) : undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const display = `${u.protocol}//${username ? `${encodeURIComponent(username)}@` : ''}${u.host}/${db}`;
  return { host, port, db, tls: u.protocol === 'rediss:', display, ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/** The URL with any password replaced by nothing (for messages about a URL that may not even parse). */
export function redactQueueUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '';
    return u.toString().replace(/:@/, '@');
  } catch {
    // not a URL: drop whatever could be a password (":...@")
    return url.replace(/:[^@/\s]*@/g, '@');
  }
}

/** `text` (a command line) with the password of every redis:// URL in it removed. */
export function redactSecrets(text: string): string {
  return text.replace(/(rediss?:\/\/)([^:@/\s]*):[^@/\s]*@/g, (_m, scheme: string, user: string) => `${scheme}${user}${user ? '@' : ''}`);
}

/**
 * The config with collect.queue's password (if its URL has one) moved into PDIFF_REDIS_PASSWORD of
 * this process: what a run folder records (config.json, manifest.json, the report) names the queue
 * without it, and the coordinator still authenticates.
 */
export function withoutQueuePassword<C extends { collect: { queue: string | null } }>(cfg: C, env: NodeJS.ProcessEnv = process.env): C {
  const url = cfg.collect.queue;
  if (url === null) return cfg;
  let password = '';
  try { password = decodeURIComponent(new URL(url).password); } catch { return cfg; /* parseQueueUrl reports it */ }
  if (password === '') return cfg;
  env[PASSWORD_ENV] = password;
  return { ...cfg, collect: { ...cfg.collect, queue: redactQueueUrl(url) } };
}
