/**
 * The store's public surface: the `Store` interface and its row types, `openStore` for a
 * database URL, and the file-based log store. Other folders import only from here.
 */
export { type CopyReport, copyStore, isCopyable, TABLES } from './copy.ts';
export * from './dispatch.ts';
export { attemptFiles, DEFAULT_LOG_READ_BYTES, FileLogStore, runDir } from './file-log-store.ts';
export { droppedMarker } from './log-chunks.ts';
export type { LogChunk, LogRef, LogStore } from './log-store.ts';
export { type OpenStoreOptions, openStore, redactUrl, sqlitePath } from './open.ts';
// Types only: the PostgreSQL store (and `pg`, ~10 MB) loads when a URL asks for it.
export type { ConnectionEvent, PostgresStoreOptions } from './postgres/postgres-store.ts';
export { ShippedLogStore } from './shipped-log-store.ts';
export { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.ts';
export type { MigrationReport, Store, Subscription } from './store.ts';
export * from './types.ts';
