/**
 * Task logs kept in the database as chunks (what remote workers ship): each chunk is a
 * slice of the attempt's byte stream at `start`; the oldest chunks are deleted once the
 * attempt passes its cap, so the tail is kept. Shared by both backends.
 */
import { completeUtf8Length } from './file-log-store.ts';
import type { LogChunk } from './log-store.ts';

/** A stored slice of an attempt's log. */
export interface StoredLogChunk {
  readonly start: number;
  readonly data: Uint8Array;
}

/** Most bytes per chunk a writer should send; larger appends are split by the store. */
export const LOG_CHUNK_BYTES = 256 * 1024;

/** The line shown where the oldest part of a capped log was dropped. */
export function droppedMarker(droppedBytes: number): string {
  return `[baton] the first ${droppedBytes} bytes of this log were dropped (log cap); the tail follows\n`;
}

/**
 * Reads `[offset, offset + limitBytes)` of a log from its chunks (ordered by start), never
 * ending inside a UTF-8 character. A reader behind the first kept chunk jumps to it, with
 * a marker line saying how much was dropped.
 */
export function readChunks(
  chunks: readonly StoredLogChunk[],
  offset: number,
  limitBytes: number,
): LogChunk {
  const first = chunks[0];
  if (!first) return { text: '', nextOffset: offset };
  let marker = '';
  let from = offset;
  if (first.start > offset) {
    marker = droppedMarker(first.start);
    from = first.start;
  }
  const parts: Buffer[] = [];
  let length = 0;
  for (const c of chunks) {
    const end = c.start + c.data.length;
    if (end <= from + length) continue;
    const skip = Math.max(0, from + length - c.start);
    const take = Math.min(c.data.length - skip, limitBytes - length);
    if (take <= 0) break;
    parts.push(Buffer.from(c.data.buffer, c.data.byteOffset + skip, take));
    length += take;
    if (length >= limitBytes) break;
  }
  const bytes = Buffer.concat(parts, length);
  const complete = completeUtf8Length(bytes, length);
  const used = complete > 0 ? complete : length;
  return { text: marker + bytes.toString('utf8', 0, used), nextOffset: from + used };
}
