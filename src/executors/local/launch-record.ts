/**
 * What Node hands a launcher for one attempt: its token and the encoded record (see
 * launcher.ts for the protocol). Pure string building, run once per launch.
 */

import type { ResolvedTask } from '../executor.ts';
import { encodeRecord, type LauncherKind } from './launcher.ts';
import { isEnvName, shellQuote } from './shell-quote.ts';

/**
 * The identity part of an attempt's token (see `tokenKey`): `<taskRunId>.<attempt>.<fingerprint>`, the
 * fingerprint (FNV-1a of flow, run, task and map index, 8 hex digits) telling apart two
 * databases' task runs with the same row id in one journal directory.
 */
export function attemptKey(task: ResolvedTask): string {
  let hash = 0x811c9dc5;
  const text = `${task.flow}\0${task.runId}\0${task.taskId}\0${task.mapIndex}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return `${task.taskRunId}.${task.attempt}.${(hash >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * The launcher record for `task`: where to run, what to log, and what the task's process
 * execs with which environment (`BATON_ATTEMPT_TOKEN` included), in the form `kind` reads.
 * Throws, with a message for the user, on what no process can carry (NUL bytes, invalid
 * names, empty argv).
 */
export function launchRecord(
  task: ResolvedTask,
  token: string,
  kind: LauncherKind,
  bashEnv?: string,
): string {
  // The executor's own BASH_ENV is kept from the launcher (bash would source it when the
  // launcher starts) and given back to the task, unless the task sets one.
  const bash = task.env.BASH_ENV ?? bashEnv;
  return kind === 'python3' ? jsonRecord(task, token, bash) : shellRecord(task, token, bash);
}

function jsonRecord(task: ResolvedTask, token: string, bashEnv: string | undefined): string {
  const { env, argv } = attemptCommand(task, token, bashEnv, noNul);
  return encodeRecord(
    JSON.stringify({
      i: task.taskRunId,
      k: token,
      w: noNul(task.workdir, 'workdir'),
      l: noNul(task.logPath, 'logPath'),
      e: Object.fromEntries(env),
      a: argv,
    }),
  );
}

function shellRecord(task: ResolvedTask, token: string, bashEnv: string | undefined): string {
  const { env, argv } = attemptCommand(task, token, bashEnv, quote);
  const exports = env.map(([key, value]) => `${key}=${value}`).join(' ');
  const body =
    `i=${task.taskRunId} l=${quote(task.logPath, 'logPath')} w=${quote(task.workdir, 'workdir')} ` +
    `k=${token} c=${shellQuote(`export ${exports}; exec -- ${argv.join(' ')}`)}`;
  return encodeRecord(body);
}

/**
 * What the task's process execs and the environment it adds, every value passed through
 * `encode` (which refuses what it cannot carry, naming `what`): the executor's BASH_ENV
 * unless the task sets one, the task's variables, its attempt token last.
 */
function attemptCommand(
  task: ResolvedTask,
  token: string,
  bashEnv: string | undefined,
  encode: (value: string, what: string) => string,
): { env: [string, string][]; argv: string[] } {
  const env: [string, string][] = [];
  if (bashEnv !== undefined)
    env.push(['BASH_ENV', encode(bashEnv, 'environment variable BASH_ENV')]);
  for (const key in task.env) {
    if (key === 'BASH_ENV' || key === 'BATON_ATTEMPT_TOKEN') continue;
    if (!isEnvName(key))
      throw new Error(`invalid environment variable name ${JSON.stringify(key)}`);
    env.push([key, encode(task.env[key] as string, `environment variable ${key}`)]);
  }
  env.push(['BATON_ATTEMPT_TOKEN', encode(token, 'the attempt token')]);
  // `/bin/sh` and `-c` need no quoting in either form.
  if (task.command.kind === 'shell')
    return { env, argv: ['/bin/sh', '-c', encode(task.command.script, 'the script')] };
  if (task.command.argv.length === 0) throw new Error('empty argv: nothing to run');
  return { env, argv: task.command.argv.map((arg, i) => encode(arg, `argv[${i}]`)) };
}

/**
 * `value`, refused with the message shellQuote gives when it holds a NUL byte; a lone
 * surrogate becomes U+FFFD, as shellQuote's UTF-8 encoding makes it.
 */
function noNul(value: string, what: string): string {
  if (value.includes('\0')) quote(value, what);
  return value.toWellFormed();
}

function quote(value: string, what: string): string {
  try {
    return shellQuote(value);
  } catch (error) {
    throw new Error(`${what} ${(error as Error).message}`);
  }
}
