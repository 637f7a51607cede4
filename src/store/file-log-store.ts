/**
 * Task logs as plain files under a root directory (`<project>/.baton/runs`), one per
 * attempt, flat in one folder per run: `<root>/<runId>/<taskId>[.<mapIndex>].<attempt>.log`.
 * Flat on purpose: a directory per attempt cost ~0.25 ms of mkdir per task on ext4, more
 * than the scheduler's whole share of a 10,000-task run's budget.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { BatonError } from '../spec/index.ts';
import type { LogChunk, LogRef, LogStore } from './log-store.ts';

/** What `read` returns at most when no limit is given: 1 MiB. */
export const DEFAULT_LOG_READ_BYTES = 1024 * 1024;

function segment(value: string, what: string): string {
  // Ids come from our own patterns; refuse anything that could leave the root.
  if (value === '' || value === '.' || value === '..' || /[/\\\0]/.test(value)) {
    throw new BatonError('internal', `invalid ${what} for a log path: ${JSON.stringify(value)}`);
  }
  return value;
}

/** The folder of one run's attempt files; created once per run. */
export function runDir(root: string, runId: string): string {
  return join(root, segment(runId, 'run id'));
}

/**
 * The files of one attempt, side by side in its run's folder: the log (stdout and
 * stderr) and the task's `$BATON_OUTPUT`. The map index is part of the name only for map
 * items (index ≥ 0).
 */
export function attemptFiles(root: string, ref: LogRef): { log: string; output: string } {
  const task = ref.mapIndex >= 0 ? `${ref.taskId}.${ref.mapIndex}` : ref.taskId;
  const base = join(
    runDir(root, ref.runId),
    `${segment(task, 'task id')}.${Math.trunc(ref.attempt)}`,
  );
  return { log: `${base}.log`, output: `${base}.out` };
}

/** `LogStore` on the local file system. Readers never load a whole file. */
export class FileLogStore implements LogStore {
  /** Absolute root directory, usually `<project>/.baton/runs`. */
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  pathFor(ref: LogRef): string {
    return attemptFiles(this.root, ref).log;
  }

  /**
   * Reads at most `limitBytes` (default 1 MiB) from byte `offset`. A chunk never ends in
   * the middle of a UTF-8 character: `nextOffset` stops before it, so tailing a live log
   * in chunks reassembles the exact text.
   */
  async read(ref: LogRef, offset = 0, limitBytes = DEFAULT_LOG_READ_BYTES): Promise<LogChunk> {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new RangeError(`log offset must be a non-negative integer, got ${offset}`);
    }
    if (!Number.isSafeInteger(limitBytes) || limitBytes < 0) {
      throw new RangeError(`log limit must be a non-negative integer, got ${limitBytes}`);
    }
    let file: Awaited<ReturnType<typeof open>>;
    try {
      file = await open(this.pathFor(ref), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { text: '', nextOffset: offset };
      throw e;
    }
    try {
      const buffer = Buffer.alloc(limitBytes);
      let length = 0;
      while (length < limitBytes) {
        const { bytesRead } = await file.read(buffer, length, limitBytes - length, offset + length);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      // Stop before a split character, but always make progress (tiny limits, bad bytes).
      const complete = completeUtf8Length(buffer, length);
      const end = complete > 0 ? complete : length;
      return { text: buffer.toString('utf8', 0, end), nextOffset: offset + end };
    } finally {
      await file.close();
    }
  }
}

/** Length of the longest prefix of `buffer[0, length)` that ends on a character boundary. */
export function completeUtf8Length(buffer: Buffer, length: number): number {
  // Look back at most 3 bytes for the lead byte of a multi-byte character.
  for (let i = length - 1; i >= 0 && i >= length - 4; i--) {
    const byte = buffer[i] ?? 0;
    if ((byte & 0b1100_0000) === 0b1000_0000) continue; // continuation byte
    const needed = byte >= 0b1111_0000 ? 4 : byte >= 0b1110_0000 ? 3 : byte >= 0b1100_0000 ? 2 : 1;
    return i + needed <= length ? length : i;
  }
  return length;
}
