/**
 * What an attempt leaves in its directory, and how to tell whether a pid is still ours.
 * Shared by live tracking and adoption: both read the same files, so an attempt finished
 * while nobody watched reads back exactly like one we saw finish.
 *
 * Files (written by launcher.sh):
 * - `pid`:  `<launcherPid> <taskPid> <token>\n`, written right after the fork.
 * - `exit`: `<status>\n` (bash's `$?`: 128+n when signal n killed the task), or `E cd\n` /
 *           `E log\n` when the task never started. Complete only with its newline.
 */

import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';

/** The content of a complete exit file. */
export type ExitRecord =
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'launch_error'; readonly what: 'cd' | 'log' };

/** The content of a pid file. */
export interface PidRecord {
  readonly launcherPid: number;
  readonly taskPid: number;
  readonly token: string;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Reads `<attemptDir>/exit`; null while it is missing or not yet complete. */
export function readExitFile(attemptDir: string): ExitRecord | null {
  const text = readText(join(attemptDir, 'exit'));
  if (text === null || !text.endsWith('\n')) return null;
  const line = text.slice(0, -1);
  if (line === 'E cd' || line === 'E log')
    return { kind: 'launch_error', what: line === 'E cd' ? 'cd' : 'log' };
  if (!/^\d{1,3}$/.test(line)) return null;
  return { kind: 'status', status: Number(line) };
}

/** Reads `<attemptDir>/pid`; null when missing or malformed. */
export function readPidFile(attemptDir: string): PidRecord | null {
  const text = readText(join(attemptDir, 'pid'));
  const match = text?.match(/^(\d+) (\d+) (\S+)\n$/);
  if (!match) return null;
  return { launcherPid: Number(match[1]), taskPid: Number(match[2]), token: match[3] ?? '' };
}

const signalNames = new Map<number, string>(
  Object.entries(constants.signals).map(([name, n]) => [n, name]),
);

/**
 * Splits a shell status into an exit code or a signal. bash reports a task killed by
 * signal n as 128+n, so a task that itself exits 137 reads as SIGKILL: the shell's `wait`
 * cannot tell them apart.
 */
export function decodeStatus(status: number): { exitCode: number | null; signal?: string } {
  const signal = status > 128 ? signalNames.get(status - 128) : undefined;
  return signal ? { exitCode: null, signal } : { exitCode: status };
}

/**
 * True when `pid` runs with `BATON_ATTEMPT_TOKEN=<token>` in its environment: alive and
 * ours. A recycled pid belongs to someone else and has no such entry, so it is never
 * mistaken for the attempt (and never signalled). Zombies and other users' processes read
 * as empty or unreadable: not ours.
 */
export function isOurProcess(pid: number, token: string): boolean {
  if (!Number.isInteger(pid) || pid <= 1 || token === '') return false;
  let environ: Buffer;
  try {
    environ = readFileSync(`/proc/${pid}/environ`);
  } catch {
    return false;
  }
  const needle = Buffer.from(`BATON_ATTEMPT_TOKEN=${token}\0`);
  const at = environ.indexOf(needle);
  return at === 0 || (at > 0 && environ[at - 1] === 0);
}
