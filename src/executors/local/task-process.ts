/**
 * Facts about a task's process: what its shell status means, and whether a pid is still
 * the attempt's (adoption and signalling both depend on never mistaking a recycled pid).
 */

import { readFileSync } from 'node:fs';
import { constants } from 'node:os';

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

/** True while a process with this pid exists (ours or not; EPERM counts as existing). */
export function processExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
