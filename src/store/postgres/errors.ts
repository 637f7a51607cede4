/**
 * Classifies PostgreSQL and connection errors: which are worth re-running the whole
 * transaction for (the server restarted, a connection broke, a deadlock or serialisation
 * failure), and which become which `BatonError`.
 */
import { BatonError, ConflictError, NotFoundError } from '../../spec/index.ts';

interface PgLikeError {
  readonly code?: string;
  readonly message?: string;
  /** The server's DETAIL line, e.g. which key value already exists. */
  readonly detail?: string;
}

// Node's socket errors: the server is not there, or went away mid-conversation.
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

// SQLSTATEs after which the same transaction, run again, may well succeed.
const TRANSIENT_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '25P03', // idle_in_transaction_session_timeout: the session was ended, a new one is fine
  '57P05', // idle_session_timeout
  '53300', // too_many_connections
  '57P01', // admin_shutdown (pg_terminate_backend, fast shutdown)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, in recovery)
]);

/** True when re-running the whole transaction is the right answer to `e`. */
export function isTransient(e: unknown): boolean {
  const err = e as PgLikeError;
  const code = err?.code;
  if (code !== undefined && (SOCKET_CODES.has(code) || TRANSIENT_SQLSTATES.has(code))) return true;
  if (code?.startsWith('08')) return true; // connection_exception class
  // node-postgres reports a connection that died under a query without a code.
  const message = err?.message ?? '';
  return /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect/i.test(
    message,
  );
}

/** True when the server cannot be reached at all (as opposed to refusing what we sent). */
export function isUnreachable(e: unknown): boolean {
  const code = (e as PgLikeError)?.code;
  return (
    (code !== undefined && (SOCKET_CODES.has(code) || code === 'ENOTFOUND' || code === '57P03')) ||
    /timeout exceeded when trying to connect|Connection terminated/i.test(
      (e as PgLikeError)?.message ?? '',
    )
  );
}

/**
 * Turns a driver error into a `BatonError`: unique key → `store.conflict`, missing parent
 * → `store.not_found`, unreachable server → `store.unavailable`, bad credentials or
 * database → `store.url`, anything else → `store.database`.
 */
export function toPgStoreError(e: unknown, url: string, what: string): BatonError {
  if (e instanceof BatonError) return e;
  const err = e as PgLikeError;
  const code = err?.code;
  const text = [err?.message || String(e), err?.detail].filter(Boolean).join(': ');
  if (code === '23505') return new ConflictError(`${what}: already exists (${text})`, { url });
  if (code === '23503') {
    return new NotFoundError(`${what}: a row it refers to does not exist (${text})`, { url });
  }
  if (code === '28P01' || code === '28000' || code === '3D000' || code === 'ENOTFOUND') {
    return new BatonError(
      'store.url',
      `cannot connect to ${url}: ${text}; check the user, password, host and database in --db or BATON_DB`,
      { url, sqlstate: code },
      { cause: e },
    );
  }
  if (isUnreachable(e)) {
    return new BatonError(
      'store.unavailable',
      `cannot reach PostgreSQL at ${url} (${code ?? text}); is the server running, and is the host and port in --db or BATON_DB right?`,
      { url, code },
      { cause: e },
    );
  }
  const hint =
    code === '42P01' ? '; the database has no Baton schema yet: run `baton db migrate`' : '';
  return new BatonError(
    'store.database',
    `${what} failed on ${url}: ${text}${hint}`,
    { url, sqlstate: code },
    { cause: e },
  );
}
