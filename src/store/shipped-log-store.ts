/**
 * The logs readers see: an attempt a remote worker ran has its log in the database
 * (shipped there while it runs); every other attempt has it in a file. Readers (the
 * dashboard, `baton logs -f`) ask the database first and fall back to the file, so the
 * local executor keeps writing straight to files at no cost.
 */
import { DEFAULT_LOG_READ_BYTES, type FileLogStore } from './file-log-store.ts';
import type { LogChunk, LogRef, LogStore } from './log-store.ts';
import type { Store } from './store.ts';

export class ShippedLogStore implements LogStore {
  readonly #store: Pick<Store, 'readLog'>;
  readonly #files: FileLogStore;

  constructor(store: Pick<Store, 'readLog'>, files: FileLogStore) {
    this.#store = store;
    this.#files = files;
  }

  pathFor(ref: LogRef): string {
    return this.#files.pathFor(ref);
  }

  async read(ref: LogRef, offset = 0, limitBytes = DEFAULT_LOG_READ_BYTES): Promise<LogChunk> {
    return (
      (await this.#store.readLog(ref, offset, limitBytes)) ??
      this.#files.read(ref, offset, limitBytes)
    );
  }
}
