/**
 * Caps a log file that a task writes directly (O_APPEND). Node never reads the stream, so
 * a task printing 300 MB costs Node nothing but this check: past the cap, the file is cut
 * back to the cap and one marker line appended. The task keeps appending at the new end,
 * so the cut is repeated on every check and a last time when the task ends.
 */

import { appendFileSync, statSync, truncateSync } from 'node:fs';

/** Default cap: 64 MiB, a log still worth opening in a browser. */
export const defaultLogCapBytes = 64 * 1024 * 1024;

/** The line appended where the log was cut. */
export function truncationMarker(capBytes: number): string {
  // Leading newline: the cut may fall mid-line.
  return `\n[baton] log truncated at ${capBytes} bytes; further output dropped\n`;
}

/**
 * Enforces the cap once (one stat, a truncate and an append only past the cap); returns
 * true once the file has been cut. Call it periodically while the task runs and once after.
 */
export function enforceLogCap(logPath: string, capBytes: number, alreadyCut: boolean): boolean {
  let size: number;
  try {
    size = statSync(logPath).size;
  } catch {
    return alreadyCut;
  }
  const marker = truncationMarker(capBytes);
  const cutSize = capBytes + Buffer.byteLength(marker);
  if (size <= capBytes) return alreadyCut;
  // Already cut and nothing appended since.
  if (alreadyCut && size === cutSize) return true;
  try {
    truncateSync(logPath, capBytes);
    appendFileSync(logPath, marker);
  } catch {
    // The log went away (attempt directory cleaned up): nothing left to cap.
  }
  return true;
}
