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
  const env: Record<string, string> = {};
  if (bashEnv !== undefined) env.BASH_ENV = noNul(bashEnv, 'environment variable BASH_ENV');
  for (const key in task.env) {
    if (key === 'BASH_ENV' || key === 'BATON_ATTEMPT_TOKEN') continue;
    if (!isEnvName(key))
      throw new Error(`invalid environment variable name ${JSON.stringify(key)}`);
    env[key] = noNul(task.env[key] as string, `environment variable ${key}`);
  }
  env.BATON_ATTEMPT_TOKEN = token;
  let argv: string[];
  if (task.command.kind === 'shell') {
    argv = ['/bin/sh', '-c', noNul(task.command.script, 'the script')];
  } else {
    if (task.command.argv.length === 0) throw new Error('empty argv: nothing to run');
    argv = task.command.argv.map((arg, i) => noNul(arg, `argv[${i}]`));
  }
  return encodeRecord(
    JSON.stringify({
      i: task.taskRunId,
      k: token,
      w: noNul(task.workdir, 'workdir'),
      l: noNul(task.logPath, 'logPath'),
      e: env,
      a: argv,
    }),
  );
}

function shellRecord(task: ResolvedTask, token: string, bashEnv: string | undefined): string {
  let exports =
    bashEnv === undefined ? '' : `BASH_ENV=${quote(bashEnv, 'environment variable BASH_ENV')} `;
  for (const key in task.env) {
    if (key === 'BASH_ENV' || key === 'BATON_ATTEMPT_TOKEN') continue;
    if (!isEnvName(key))
      throw new Error(`invalid environment variable name ${JSON.stringify(key)}`);
    exports += `${key}=${quote(task.env[key] as string, `environment variable ${key}`)} `;
  }
  exports += `BATON_ATTEMPT_TOKEN=${token}`;
  let command: string;
  if (task.command.kind === 'shell') {
    command = `exec /bin/sh -c ${quote(task.command.script, 'the script')}`;
  } else {
    if (task.command.argv.length === 0) throw new Error('empty argv: nothing to run');
    command = 'exec --';
    for (let i = 0; i < task.command.argv.length; i++)
      command += ` ${quote(task.command.argv[i] as string, `argv[${i}]`)}`;
  }
  const body =
    `i=${task.taskRunId} l=${quote(task.logPath, 'logPath')} w=${quote(task.workdir, 'workdir')} ` +
    `k=${token} c=${shellQuote(`export ${exports}; ${command}`)}`;
  return encodeRecord(body);
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
