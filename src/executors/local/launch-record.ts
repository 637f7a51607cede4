/**
 * What Node hands a launcher for one attempt: its token and the encoded record (see
 * launcher.ts for the protocol). Pure string building, run once per launch.
 */

import type { ResolvedTask } from '../executor.ts';
import { encodeRecord } from './launcher.ts';
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
 * The launcher record for `task`: where to run, what to log, and the snippet the task's
 * process execs (its environment, `BATON_ATTEMPT_TOKEN` included). Throws, with a message
 * for the user, on what no shell can carry (NUL bytes, invalid names, empty argv).
 */
export function launchRecord(task: ResolvedTask, token: string, bashEnv?: string): string {
  // bash would source BASH_ENV when the launcher starts, so the executor's own comes back
  // here, unless the task sets one.
  const bash = task.env.BASH_ENV ?? bashEnv;
  let exports =
    bash === undefined ? '' : `BASH_ENV=${quote(bash, 'environment variable BASH_ENV')} `;
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

function quote(value: string, what: string): string {
  try {
    return shellQuote(value);
  } catch (error) {
    throw new Error(`${what} ${(error as Error).message}`);
  }
}
