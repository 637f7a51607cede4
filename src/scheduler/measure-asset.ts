/**
 * What Baton measures itself of a `produces` path after the task succeeded: `bytes`,
 * `files` and, for CSV and JSON-lines files, `rows`. Streaming: a file is read in fixed
 * chunks into one reused buffer and only newlines are counted, so a 40 GB file costs
 * 1 MiB of memory and the scheduler's event loop is never blocked by it.
 */
import { lstat, open, opendir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface AssetMeasurement {
  /** Total size of the regular files. */
  readonly bytes: number;
  /** How many regular files (1 for a file path). */
  readonly files: number;
  /** Data rows of the CSV (header excluded) and JSON-lines files; absent when there are none. */
  readonly rows?: number;
}

/** Which files have rows Baton counts: by extension. */
type RowFormat = 'csv' | 'jsonl';

const CHUNK_BYTES = 1024 * 1024;
const NEWLINE = 0x0a;
const QUOTE = 0x22;
const CR = 0x0d;

function rowFormat(name: string): RowFormat | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  return undefined;
}

/**
 * Measures a file or a folder (walked recursively; symbolic links inside it are not
 * followed, so a link cycle cannot make it endless). Rejects with ENOENT when the path
 * does not exist.
 */
export async function measureAsset(path: string): Promise<AssetMeasurement> {
  const info = await stat(path);
  if (!info.isDirectory()) {
    const format = rowFormat(path);
    const rows = format === undefined ? undefined : await countRows(path, format);
    return { bytes: info.size, files: 1, ...(rows !== undefined && { rows }) };
  }
  let bytes = 0;
  let files = 0;
  let rows: number | undefined;
  const dirs = [path];
  for (let dir = dirs.pop(); dir !== undefined; dir = dirs.pop()) {
    for await (const entry of await opendir(dir)) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) dirs.push(full);
      else if (entry.isFile()) {
        files++;
        bytes += (await lstat(full)).size;
        const format = rowFormat(entry.name);
        if (format !== undefined) rows = (rows ?? 0) + (await countRows(full, format));
      }
    }
  }
  return { bytes, files, ...(rows !== undefined && { rows }) };
}

/**
 * Counts the non-blank lines of a file, in chunks; a last line without a final newline
 * counts. CSV: newlines inside quoted fields do not end a row (RFC 4180 quoting: `""`
 * inside a quoted field toggles twice), and the header line is not a row.
 */
export async function countRows(path: string, format: RowFormat): Promise<number> {
  const file = await open(path, 'r');
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let lines = 0;
  let content = false; // the current line has something besides "\r"
  let quoted = false;
  try {
    for (;;) {
      const { bytesRead } = await file.read(buf, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      // Without quotes in play, memchr-speed search for newlines.
      const simple = format === 'jsonl' || (!quoted && chunk.indexOf(QUOTE) < 0);
      if (simple) {
        let at = 0;
        for (let nl = chunk.indexOf(NEWLINE, at); nl >= 0; nl = chunk.indexOf(NEWLINE, at)) {
          if (content || hasContent(chunk, at, nl)) lines++;
          content = false;
          at = nl + 1;
        }
        if (hasContent(chunk, at, bytesRead)) content = true;
        continue;
      }
      for (let i = 0; i < bytesRead; i++) {
        const c = chunk[i];
        if (c === QUOTE) {
          quoted = !quoted;
          content = true;
        } else if (c === NEWLINE && !quoted) {
          if (content) lines++;
          content = false;
        } else if (c !== CR) content = true;
      }
    }
  } finally {
    await file.close();
  }
  if (content) lines++;
  return format === 'csv' ? Math.max(0, lines - 1) : lines;
}

/** Whether bytes [from, to) hold anything but carriage returns. */
function hasContent(chunk: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (chunk[i] !== CR) return true;
  return false;
}
