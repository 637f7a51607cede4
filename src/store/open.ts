/**
 * Turns a database URL (`--db`, `BATON_DB`) into a `Store`. The one place that knows
 * which URL means which backend.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { BatonError } from '../spec/index.ts';
import type { ConnectionEvent } from './postgres/postgres-store.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';
import type { Store } from './store.ts';

const ACCEPTED =
  'sqlite:path/to/baton.db (relative to the current directory), sqlite:/abs/baton.db, ' +
  'sqlite:///abs/baton.db, sqlite::memory:, or a bare path ending in .db';

/** Hides the password of a URL for messages: `postgres://u:***@host/db`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

/**
 * Where a SQLite URL points: an absolute path, or `:memory:`. Relative paths resolve
 * against `cwd`. Throws `store.url` for anything that is not a SQLite URL.
 */
export function sqlitePath(url: string, cwd: string = process.cwd()): string {
  if (url === 'sqlite::memory:') return ':memory:';
  let path: string | undefined;
  if (url.startsWith('sqlite:///')) path = url.slice('sqlite://'.length);
  else if (url.startsWith('sqlite://'))
    path = undefined; // sqlite://host/… names no file
  else if (url.startsWith('sqlite:')) path = url.slice('sqlite:'.length);
  else if (!/^[a-z][a-z0-9+.-]*:/i.test(url) && url.endsWith('.db')) path = url;
  if (path === undefined || path === '') {
    throw new BatonError(
      'store.url',
      `unsupported database URL "${redactUrl(url)}"; use ${ACCEPTED}`,
      { url: redactUrl(url) },
    );
  }
  return resolve(cwd, path);
}

export interface OpenStoreOptions {
  /** PostgreSQL: told when the server becomes unreachable and when it is back. */
  readonly onConnection?: (event: ConnectionEvent) => void;
  /** PostgreSQL: most connections of this process (default 4). */
  readonly poolSize?: number;
  /** PostgreSQL: a service waits for an unreachable server from the start (see PostgresStoreOptions). */
  readonly waitForServer?: boolean;
}

/**
 * Opens the store a URL names, creating a SQLite file's parent directory if needed.
 * Does not migrate: call `store.migrate()` once at start.
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(url)) {
    try {
      new URL(url);
    } catch {
      throw new BatonError(
        'store.url',
        `"${redactUrl(url)}" is not a valid PostgreSQL URL; use postgres://user:password@host:5432/database`,
        { url: redactUrl(url) },
      );
    }
    const { PostgresStore } = await import('./postgres/postgres-store.ts');
    return new PostgresStore(url, redactUrl(url), options);
  }
  const path = sqlitePath(url);
  if (path !== ':memory:') {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (e) {
      throw new BatonError(
        'store.url',
        `cannot create the directory for ${url}: ${(e as Error).message}`,
        { url },
        { cause: e },
      );
    }
  }
  return new SqliteStore(path);
}
