/**
 * Maps `node:sqlite` errors to Baton's error codes. `node:sqlite` throws an Error with
 * `code: 'ERR_SQLITE_ERROR'` and the SQLite extended result code in `errcode`.
 */
import { BatonError, ConflictError, NotFoundError } from '../../spec/index.ts';

// SQLite result codes (https://sqlite.org/rescode.html); the low byte is the primary code.
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CONSTRAINT_FOREIGNKEY = 787;
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_UNIQUE = 2067;

function errcode(e: unknown): number | undefined {
  if (e instanceof Error && 'errcode' in e && typeof e.errcode === 'number') return e.errcode;
  return undefined;
}

/** True for "database is locked" in any flavour: worth re-running the whole transaction. */
export function isBusy(e: unknown): boolean {
  const code = errcode(e);
  if (code === undefined) return false;
  const primary = code & 0xff;
  return primary === SQLITE_BUSY || primary === SQLITE_LOCKED;
}

/**
 * Turns a SQLite error into a `BatonError` with a code: unique key → `store.conflict`,
 * missing parent row → `store.not_found`, anything else → `store.database`.
 * `what` names the operation for the message, e.g. `insert task run r1/extract[-1]#1`.
 */
export function toStoreError(e: unknown, url: string, what: string): BatonError {
  if (e instanceof BatonError) return e;
  const code = errcode(e);
  const sqlite = e instanceof Error ? e.message : String(e);
  if (code === SQLITE_CONSTRAINT_UNIQUE || code === SQLITE_CONSTRAINT_PRIMARYKEY) {
    return new ConflictError(`${what}: already exists (${sqlite})`, { url, sqlite });
  }
  if (code === SQLITE_CONSTRAINT_FOREIGNKEY) {
    return new NotFoundError(`${what}: a row it refers to does not exist (${sqlite})`, {
      url,
      sqlite,
    });
  }
  const hint = /no such table/.test(sqlite)
    ? '; the database has no Baton schema yet: run `baton db migrate`'
    : '';
  return new BatonError(
    'store.database',
    `${what} failed on ${url}: ${sqlite}${hint}`,
    { url, sqlite, errcode: code },
    { cause: e },
  );
}
