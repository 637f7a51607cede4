/**
 * The local executor: tasks run as processes on this machine, started by long-lived bash
 * launchers (see launcher.ts) so Node never forks per task, and surviving Node's death.
 * Linux only: adoption proves a pid is ours through /proc/<pid>/environ.
 */

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { EventQueue } from '../event-queue.ts';
import type {
  Adopted,
  AdoptRequest,
  Capacity,
  Executor,
  ExecutorEvent,
  FinishReason,
  Handle,
  ResolvedTask,
} from '../executor.ts';
import {
  decodeStatus,
  type ExitRecord,
  isOurProcess,
  readExitFile,
  readPidFile,
} from './attempt-files.ts';
import { encodeRecord, Launcher, type LauncherReports } from './launcher.ts';
import { defaultLogCapBytes, enforceLogCap } from './log-cap.ts';
import { isEnvName, shellQuote } from './shell-quote.ts';

/** Options of `createLocalExecutor`. */
export interface LocalExecutorOptions {
  /** Tasks at once. Default: `os.availableParallelism()`. */
  readonly slots?: number;
  /** SIGTERM → SIGKILL delay on cancel. Default 10,000 ms. */
  readonly killGraceMs?: number;
  /** Log size cap per attempt. Default 64 MiB. */
  readonly logCapBytes?: number;
  /** Executor name reported to the scheduler. Default `local`. */
  readonly name?: string;
  /** Environment the tasks start from (task env is added). Default `process.env`. */
  readonly baseEnv?: NodeJS.ProcessEnv;
}

type AttemptState = 'queued' | 'sent' | 'running' | 'watched';

interface Attempt {
  readonly task: ResolvedTask;
  token: string;
  state: AttemptState;
  launcher: Launcher | null;
  taskPid: number;
  launcherPid: number;
  cancelReason: 'timeout' | 'cancelled' | null;
  killTimer: NodeJS.Timeout | null;
  logCut: boolean;
  /** When a watched attempt was first seen without its process and without exit file. */
  missingSince: number | null;
}

// Watched attempts (adopted, or orphaned by a dead launcher) are polled: no parent of ours
// reports them. 200 ms keeps the added latency small at ~5 reads a second per attempt.
const pollMs = 200;
// Log sizes are checked every other poll (500 ms asked; 400 ms is what the poll gives).
const logCheckEvery = 2;
// A task whose process is gone but whose launcher has not yet written the exit file is
// given this long before it counts as lost (the write follows `wait` by microseconds).
const exitFileGraceMs = 1000;

/**
 * Creates the local executor: `slots` tasks at once as process groups of their own,
 * stdout+stderr appended to the attempt's log (capped), launches beyond `slots` queued in
 * order. Tasks keep running when this process dies and are adopted by the next one.
 */
export function createLocalExecutor(options: LocalExecutorOptions = {}): Executor {
  if (process.platform !== 'linux') {
    throw new Error(
      `the local executor needs Linux (/proc) to adopt tasks safely; this is ${process.platform}`,
    );
  }
  return new LocalExecutor(options);
}

class LocalExecutor implements Executor, LauncherReports {
  readonly name: string;
  readonly #slots: number;
  readonly #killGraceMs: number;
  readonly #logCapBytes: number;
  readonly #env: NodeJS.ProcessEnv;
  readonly #bashEnv: string | undefined;
  readonly #events = new EventQueue<ExecutorEvent>();
  readonly #attempts = new Map<number, Attempt>();
  #queue: number[] = [];
  #queueHead = 0;
  readonly #idle: Launcher[] = [];
  readonly #launchers = new Set<Launcher>();
  /** Attempts holding a slot: sent to a launcher, running or watched. */
  readonly #live = new Set<Attempt>();
  #timer: NodeJS.Timeout | null = null;
  #tick = 0;
  #closed = false;

  constructor(options: LocalExecutorOptions) {
    this.name = options.name ?? 'local';
    this.#slots = Math.max(1, options.slots ?? availableParallelism());
    this.#killGraceMs = options.killGraceMs ?? 10_000;
    this.#logCapBytes = options.logCapBytes ?? defaultLogCapBytes;
    const env = { ...(options.baseEnv ?? process.env) };
    // bash would source it at start; tasks get it back through their snippet.
    this.#bashEnv = env.BASH_ENV;
    delete env.BASH_ENV;
    this.#env = env;
  }

  async launch(task: ResolvedTask): Promise<void> {
    if (this.#closed) throw new Error('the executor is closed');
    if (this.#attempts.has(task.taskRunId)) return;
    const attempt: Attempt = {
      task,
      token: `${task.taskRunId}.${task.attempt}.${randomBytes(6).toString('hex')}`,
      state: 'queued',
      launcher: null,
      taskPid: 0,
      launcherPid: 0,
      cancelReason: null,
      killTimer: null,
      logCut: false,
      missingSince: null,
    };
    this.#attempts.set(task.taskRunId, attempt);
    try {
      // The scheduler normally creates the attempt directory; creating one costs ~80 µs on
      // the VM we measure on, so only a missing one is created.
      ensureDir(task.attemptDir);
      if (dirname(task.logPath) !== task.attemptDir) ensureDir(dirname(task.logPath));
    } catch (error) {
      this.#finish(attempt, {
        reason: 'launch_error',
        exitCode: null,
        message: `cannot create ${task.attemptDir}: ${(error as Error).message}`,
      });
      return;
    }
    // Intent before action: a pid file means a process (maybe a previous one) already
    // started this attempt. Report that attempt instead of running it twice.
    if (existsSync(join(task.attemptDir, 'pid'))) {
      this.#resume(attempt);
      return;
    }
    this.#queue.push(task.taskRunId);
    this.#pump();
  }

  async cancel(taskRunId: number, reason: 'timeout' | 'cancelled'): Promise<void> {
    const attempt = this.#attempts.get(taskRunId);
    if (!attempt || attempt.cancelReason) return;
    attempt.cancelReason = reason;
    if (attempt.state === 'queued') {
      this.#finish(attempt, {
        reason,
        exitCode: null,
        message: `${describe(reason)} before it started`,
      });
      return;
    }
    // 'sent': the signal goes out when the launcher reports the pid (see `started`).
    if (attempt.taskPid) this.#terminate(attempt);
  }

  async adopt(requests: readonly AdoptRequest[]): Promise<Adopted[]> {
    if (this.#closed) throw new Error('the executor is closed');
    return Promise.all(requests.map((request) => this.#adoptOne(request)));
  }

  events(): AsyncIterable<ExecutorEvent> {
    return this.#events;
  }

  capacity(): Capacity {
    return {
      freeSlots: Math.max(
        0,
        this.#slots - this.#live.size - (this.#queue.length - this.#queueHead),
      ),
      totalSlots: this.#slots,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const launcher of this.#launchers) launcher.detach();
    this.#launchers.clear();
    this.#idle.length = 0;
    for (const attempt of this.#attempts.values())
      if (attempt.killTimer) clearTimeout(attempt.killTimer);
    this.#attempts.clear();
    this.#live.clear();
    this.#stopTimer();
    this.#events.close();
  }

  // ---- launcher reports ----

  started(taskRunId: number, launcherPid: number, taskPid: number): void {
    const attempt = this.#attempts.get(taskRunId);
    if (attempt?.state !== 'sent') return;
    attempt.state = 'running';
    attempt.taskPid = taskPid;
    attempt.launcherPid = launcherPid;
    this.#events.push({
      type: 'started',
      taskRunId,
      handle: this.#handle(attempt),
      at: Date.now(),
    });
    if (attempt.cancelReason) this.#terminate(attempt);
  }

  finished(taskRunId: number, status: number): void {
    const attempt = this.#attempts.get(taskRunId);
    this.#release(attempt?.launcher ?? null);
    if (attempt) this.#finishWithExit(attempt, { kind: 'status', status });
    this.#pump();
  }

  launchFailed(taskRunId: number, what: 'cd' | 'log'): void {
    const attempt = this.#attempts.get(taskRunId);
    this.#release(attempt?.launcher ?? null);
    if (attempt) this.#finishWithExit(attempt, { kind: 'launch_error', what });
    this.#pump();
  }

  exited(launcher: Launcher): void {
    this.#launchers.delete(launcher);
    const at = this.#idle.indexOf(launcher);
    if (at !== -1) this.#idle.splice(at, 1);
    const attempt = launcher.busyWith === null ? undefined : this.#attempts.get(launcher.busyWith);
    if (attempt && attempt.launcher === launcher) {
      if (attempt.state === 'sent' && launcher.pid === 0) {
        this.#finish(attempt, {
          reason: 'launch_error',
          exitCode: null,
          message: 'cannot start bash for the launcher (is bash on PATH?)',
        });
      } else {
        // The task may outlive its launcher; follow it the way adoption does.
        attempt.state = 'watched';
        attempt.launcher = null;
        this.#ensureTimer();
      }
    }
    this.#pump();
  }

  // ---- internals ----

  #pump(): void {
    while (!this.#closed && this.#live.size < this.#slots && this.#queueHead < this.#queue.length) {
      const taskRunId = this.#queue[this.#queueHead++] as number;
      if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#queueHead);
        this.#queueHead = 0;
      }
      const attempt = this.#attempts.get(taskRunId);
      if (attempt?.state !== 'queued') continue;
      let record: string;
      try {
        record = this.#record(attempt);
      } catch (error) {
        this.#finish(attempt, {
          reason: 'launch_error',
          exitCode: null,
          message: (error as Error).message,
        });
        continue;
      }
      const launcher = this.#idle.pop() ?? this.#spawnLauncher();
      launcher.busyWith = taskRunId;
      attempt.launcher = launcher;
      attempt.state = 'sent';
      this.#live.add(attempt);
      this.#ensureTimer();
      launcher.send(record);
    }
  }

  #spawnLauncher(): Launcher {
    const launcher = new Launcher(this.#env, this);
    this.#launchers.add(launcher);
    return launcher;
  }

  #release(launcher: Launcher | null): void {
    if (!launcher) return;
    launcher.busyWith = null;
    if (launcher.alive && !this.#closed) this.#idle.push(launcher);
  }

  /** The launcher record: where to run, what to log, and the snippet the task execs. */
  #record(attempt: Attempt): string {
    const { task } = attempt;
    const env: Record<string, string> = {};
    if (this.#bashEnv !== undefined) env.BASH_ENV = this.#bashEnv;
    Object.assign(env, task.env, { BATON_ATTEMPT_TOKEN: attempt.token });
    const exports: string[] = [];
    for (const [key, value] of Object.entries(env)) {
      if (!isEnvName(key))
        throw new Error(`invalid environment variable name ${JSON.stringify(key)}`);
      exports.push(`${key}=${quote(value, `environment variable ${key}`)}`);
    }
    let command: string;
    if (task.command.kind === 'shell') {
      command = `exec /bin/sh -c ${quote(task.command.script, 'the script')}`;
    } else {
      if (task.command.argv.length === 0) throw new Error('empty argv: nothing to run');
      command = `exec -- ${task.command.argv.map((arg, i) => quote(arg, `argv[${i}]`)).join(' ')}`;
    }
    const body =
      `i=${task.taskRunId} d=${quote(task.attemptDir, 'attemptDir')} l=${quote(task.logPath, 'logPath')} ` +
      `w=${quote(task.workdir, 'workdir')} k=${attempt.token} c=${shellQuote(`export ${exports.join(' ')}; ${command}`)}`;
    return encodeRecord(body);
  }

  #handle(attempt: Attempt): Handle {
    return { pid: attempt.taskPid, launcherPid: attempt.launcherPid, token: attempt.token };
  }

  #terminate(attempt: Attempt): void {
    this.#signal(attempt, 'SIGTERM');
    attempt.killTimer = setTimeout(() => this.#signal(attempt, 'SIGKILL'), this.#killGraceMs);
  }

  /** Signals the task's process group, only while its leader provably is our attempt. */
  #signal(attempt: Attempt, signal: NodeJS.Signals): void {
    if (
      !this.#attempts.has(attempt.task.taskRunId) ||
      !isOurProcess(attempt.taskPid, attempt.token)
    )
      return;
    try {
      process.kill(-attempt.taskPid, signal);
    } catch {
      // Already gone: its launcher reports the end.
    }
  }

  #finishWithExit(attempt: Attempt, exit: ExitRecord): void {
    const { task } = attempt;
    if (exit.kind === 'launch_error') {
      const message =
        exit.what === 'cd'
          ? `working directory ${task.workdir} does not exist or is not accessible`
          : `cannot open the log file ${task.logPath} for appending`;
      this.#finish(attempt, { reason: 'launch_error', exitCode: null, message });
      return;
    }
    const { exitCode, signal } = decodeStatus(exit.status);
    const reason: FinishReason = attempt.cancelReason ?? (signal ? 'signal' : 'exit_code');
    let message: string | undefined;
    if (attempt.cancelReason)
      message = `${describe(attempt.cancelReason)}${signal ? ` (${signal})` : ''}`;
    else if (task.command.kind === 'argv' && exitCode === 127)
      message = `command not found: ${task.command.argv[0]}`;
    else if (task.command.kind === 'argv' && exitCode === 126)
      message = `command not executable: ${task.command.argv[0]}`;
    this.#finish(attempt, {
      reason,
      exitCode,
      ...(signal ? { signal } : {}),
      ...(message ? { message } : {}),
    });
  }

  #finish(
    attempt: Attempt,
    result: { reason: FinishReason; exitCode: number | null; signal?: string; message?: string },
  ): void {
    const { taskRunId } = attempt.task;
    if (this.#attempts.get(taskRunId) !== attempt) return;
    this.#attempts.delete(taskRunId);
    this.#live.delete(attempt);
    if (attempt.killTimer) clearTimeout(attempt.killTimer);
    if (attempt.state === 'running' || attempt.state === 'watched') {
      attempt.logCut = enforceLogCap(attempt.task.logPath, this.#logCapBytes, attempt.logCut);
    }
    this.#events.push({ type: 'finished', taskRunId, ...result, at: Date.now() });
    if (this.#live.size === 0) this.#stopTimer();
  }

  /** `launch` found a pid file: report the attempt that already exists. */
  #resume(attempt: Attempt): void {
    const { task } = attempt;
    const pid = readPidFile(task.attemptDir);
    attempt.state = 'watched';
    this.#live.add(attempt);
    if (pid) {
      attempt.taskPid = pid.taskPid;
      attempt.launcherPid = pid.launcherPid;
      attempt.token = pid.token;
    }
    this.#events.push({
      type: 'started',
      taskRunId: task.taskRunId,
      handle: this.#handle(attempt),
      at: Date.now(),
    });
    this.#poll(attempt, Date.now());
    this.#ensureTimer();
  }

  async #adoptOne(request: AdoptRequest): Promise<Adopted> {
    const { taskRunId, task } = request;
    if (this.#attempts.has(taskRunId)) return { taskRunId, status: 'running' };
    const fromHandle = handlePid(request.handle);
    const fromFile = readPidFile(task.attemptDir);
    const pid = fromHandle ?? fromFile;
    for (let waitedMs = 0; ; waitedMs += 50) {
      const exit = readExitFile(task.attemptDir);
      if (exit?.kind === 'status')
        return { taskRunId, status: 'finished', ...decodeStatus(exit.status) };
      if (exit)
        return {
          taskRunId,
          status: 'lost',
          message: `the attempt never started: ${exit.what === 'cd' ? 'working directory missing' : 'log not writable'}`,
        };
      if (pid && isOurProcess(pid.taskPid, pid.token)) break;
      // Gone without an exit file: its launcher may be writing it this very moment.
      if (!pid || !processExists(pid.launcherPid) || waitedMs >= 500) {
        const message = pid
          ? `process ${pid.taskPid} is not running attempt ${pid.token} and left no exit file`
          : `no pid file in ${task.attemptDir}: the attempt never started`;
        return { taskRunId, status: 'lost', message };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const attempt: Attempt = {
      task,
      token: pid.token,
      state: 'watched',
      launcher: null,
      taskPid: pid.taskPid,
      launcherPid: pid.launcherPid,
      cancelReason: null,
      killTimer: null,
      logCut: false,
      missingSince: null,
    };
    this.#attempts.set(taskRunId, attempt);
    this.#live.add(attempt);
    this.#ensureTimer();
    return { taskRunId, status: 'running' };
  }

  /** One look at a watched attempt: finished, still ours, or gone long enough to be lost. */
  #poll(attempt: Attempt, now: number): void {
    const exit = readExitFile(attempt.task.attemptDir);
    if (exit) {
      this.#finishWithExit(attempt, exit);
      return;
    }
    if (!attempt.taskPid) {
      const pid = readPidFile(attempt.task.attemptDir);
      if (pid && pid.token === attempt.token) {
        attempt.taskPid = pid.taskPid;
        attempt.launcherPid = pid.launcherPid;
      }
    }
    if (isOurProcess(attempt.taskPid, attempt.token)) {
      attempt.missingSince = null;
      return;
    }
    attempt.missingSince ??= now;
    if (now - attempt.missingSince >= exitFileGraceMs) {
      const message = attempt.taskPid
        ? `process ${attempt.taskPid} ended without an exit file (its launcher died)`
        : 'the launcher died before starting the task';
      this.#finish(attempt, { reason: 'lost', exitCode: null, message });
    }
  }

  #onTick(): void {
    const now = Date.now();
    const checkLogs = ++this.#tick % logCheckEvery === 0;
    for (const attempt of [...this.#live]) {
      if (attempt.state === 'watched') this.#poll(attempt, now);
      if (checkLogs && attempt.state !== 'sent' && this.#live.has(attempt)) {
        attempt.logCut = enforceLogCap(attempt.task.logPath, this.#logCapBytes, attempt.logCut);
      }
    }
  }

  #ensureTimer(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => this.#onTick(), pollMs);
  }

  #stopTimer(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}

function quote(value: string, what: string): string {
  try {
    return shellQuote(value);
  } catch (error) {
    throw new Error(`${what} ${(error as Error).message}`);
  }
}

function describe(reason: 'timeout' | 'cancelled'): string {
  return reason === 'timeout' ? 'timed out' : 'cancelled';
}

function handlePid(
  handle: Handle | null,
): { taskPid: number; launcherPid: number; token: string } | null {
  if (!handle) return null;
  const { pid, launcherPid, token } = handle;
  if (typeof pid !== 'number' || typeof token !== 'string') return null;
  return { taskPid: pid, launcherPid: typeof launcherPid === 'number' ? launcherPid : 0, token };
}

function ensureDir(path: string): void {
  if (!statSync(path, { throwIfNoEntry: false })?.isDirectory())
    mkdirSync(path, { recursive: true });
}

function processExists(pid: number): boolean {
  if (pid <= 1) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
