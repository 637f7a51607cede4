/** Shared test helpers for executors: task factories, an event recorder, /proc probes. */

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Executor, ExecutorEvent, ResolvedTask } from '../../src/executors/index.ts';

export type Finished = Extract<ExecutorEvent, { type: 'finished' }>;
export type Started = Extract<ExecutorEvent, { type: 'started' }>;

/** A temp directory removed by `dispose()`. */
export function tempRoot(prefix: string): { path: string; dispose(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, dispose: () => rmSync(path, { recursive: true, force: true }) };
}

let nextId = 1;

/**
 * A resolved task under `root`, with the BATON_* contract env; ids are unique per process.
 * Its log and output are flat files in `root`, as the scheduler lays them out in a run's
 * directory.
 */
export function makeTask(
  root: string,
  command: ResolvedTask['command'],
  overrides: Partial<ResolvedTask> = {},
): ResolvedTask {
  const taskRunId = overrides.taskRunId ?? nextId++;
  const outputPath = join(root, `task-${taskRunId}.1.out`);
  return {
    taskRunId,
    runId: 'run-1',
    flow: 'flow-a',
    taskId: `task-${taskRunId}`,
    mapIndex: -1,
    attempt: 1,
    command,
    env: {
      BATON_RUN_ID: 'run-1',
      BATON_FLOW: 'flow-a',
      BATON_TASK: `task-${taskRunId}`,
      BATON_ATTEMPT: '1',
      BATON_PARAMS: '{"n":1}',
      BATON_OUTPUT: outputPath,
    },
    workdir: root,
    outputPath,
    logPath: join(root, `task-${taskRunId}.1.log`),
    resources: {},
    ...overrides,
  };
}

/** Shorthand for a `/bin/sh -c` command. */
export function sh(script: string): ResolvedTask['command'] {
  return { kind: 'shell', script };
}

/** Consumes `events()` once and lets tests await a task's started/finished event. */
export class EventRecorder {
  readonly events: ExecutorEvent[] = [];
  readonly #waiters: {
    match: (e: ExecutorEvent) => boolean;
    resolve: (e: ExecutorEvent) => void;
  }[] = [];

  constructor(executor: Executor) {
    void (async () => {
      for await (const event of executor.events()) {
        this.events.push(event);
        for (const waiter of this.#waiters.splice(0)) {
          if (waiter.match(event)) waiter.resolve(event);
          else this.#waiters.push(waiter);
        }
      }
    })();
  }

  #wait(match: (e: ExecutorEvent) => boolean): Promise<ExecutorEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  started(taskRunId: number): Promise<Started> {
    return this.#wait((e) => e.type === 'started' && e.taskRunId === taskRunId) as Promise<Started>;
  }

  /** Resolves once `n` finished events (of any attempts) have been seen. */
  async finishedCount(n: number): Promise<void> {
    let seen = 0;
    await this.#wait((e) => e.type === 'finished' && ++seen >= n);
  }

  finished(taskRunId: number): Promise<Finished> {
    return this.#wait(
      (e) => e.type === 'finished' && e.taskRunId === taskRunId,
    ) as Promise<Finished>;
  }
}

/** Pids of live processes whose environment carries `BATON_ATTEMPT_TOKEN=<token>`. */
export function processesWithToken(token: string): number[] {
  const needle = Buffer.from(`BATON_ATTEMPT_TOKEN=${token}\0`);
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`).includes(needle)) found.push(Number(entry));
    } catch {
      // Exited meanwhile, or not ours to read.
    }
  }
  return found;
}

/**
 * Polls `probe` until it returns true or `deadlineMs` passes; for states nothing signals
 * (a process disappearing from /proc, a file another process writes).
 */
export async function eventually(probe: () => boolean, deadlineMs = 3000): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (probe()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return probe();
}

/** The token of a started event's handle (local executor handles carry it). */
export function tokenOf(event: Started): string {
  const token = event.handle.token;
  if (typeof token !== 'string') throw new Error('handle has no token');
  return token;
}

/** The launcher journals in `dir` and their lines (`<launcherPid>.<id>.journal`). */
export function readJournals(dir: string): Map<string, string[]> {
  const journals = new Map<string, string[]>();
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.journal'))
      journals.set(name, readFileSync(join(dir, name), 'latin1').split('\n').filter(Boolean));
  }
  return journals;
}
