/**
 * Real `baton worker` and `baton scheduler --executor worker` processes on one test
 * database, for the worker tests and the benchmark.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { CLI } from '../helpers/cli.ts';

export interface BatonProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything it wrote on stderr so far (its JSON log lines). */
  readonly stderr: () => string;
}

function start(
  name: string,
  args: readonly string[],
  cwd: string,
  ready: RegExp,
): Promise<BatonProcess> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const proc: BatonProcess = { name, child, exited, stderr: () => stderr };
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      const before = stderr;
      stderr += d;
      if (!ready.test(before) && ready.test(stderr)) resolve(proc);
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${stderr}`)),
    );
  });
}

/** Starts `baton worker` and resolves once it has registered. */
export function startWorker(
  url: string,
  dir: string,
  name: string,
  extra: readonly string[] = [],
): Promise<BatonProcess> {
  return start(
    name,
    [
      'worker',
      '--db',
      url,
      '--name',
      name,
      '--state-dir',
      join(dir, `worker-${name}`),
      '--heartbeat',
      '500ms',
      ...extra,
    ],
    dir,
    /"worker started"/,
  );
}

/** Starts `baton scheduler --executor worker` and resolves once it drives runs. */
export function startScheduler(
  url: string,
  dir: string,
  extra: readonly string[] = [],
): Promise<BatonProcess> {
  return start(
    'scheduler',
    ['scheduler', '--db', url, '--executor', 'worker', '--poll', '200ms', ...extra],
    dir,
    /"scheduler started"/,
  );
}
