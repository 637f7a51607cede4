/**
 * The local executor: tasks run as processes on this machine, started by long-lived bash
 * launchers (see launcher.ts) so Node never forks per task, and surviving Node's death.
 * Each launcher journals its attempts (journal.ts); nothing is created per attempt but
 * its log. Linux only: adoption proves a pid is ours through /proc/<pid>/environ.
 */

import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync, unlinkSync } from 'node:fs';
import { availableParallelism, constants, totalmem } from 'node:os';
import { formatBytes } from '../../spec/index.ts';
import { EndedAttempts, type FinishResult } from '../ended-attempts.ts';
import { EventQueue } from '../event-queue.ts';
import type {
  Adopted,
  AdoptRequest,
  Capacity,
  Executor,
  ExecutorEvent,
  FinishReason,
  Fit,
  Handle,
  ResolvedTask,
  ResourceRequest,
  Usage,
} from '../executor.ts';
import { type JournalEnd, type JournalEntry, JournalIndex } from './journal.ts';
import { attemptKey, launchRecord } from './launch-record.ts';
import { chooseLauncher, Launcher, type LauncherKind, type LauncherReports } from './launcher.ts';
import { defaultLogCapBytes, enforceLogCap } from './log-cap.ts';
import { type Reservation, ResourceBudget, reservationOf } from './resource-budget.ts';
import { TaskCgroups } from './task-cgroups.ts';
import { decodeStatus, isOurProcess, processExists } from './task-process.ts';

/** Options of `createLocalExecutor`. */
export interface LocalExecutorOptions {
  /**
   * Where launchers keep their journals (created once if missing), e.g.
   * `<project>/.baton/launchers`. Adoption reads it, so every process that may resume a
   * run of the project must use the same directory.
   */
  readonly journalDir: string;
  /**
   * CPU slots: a task takes as many as its `resources.cpu` asks (default 1), so this is
   * also how many default tasks run at once. Default: `os.availableParallelism()`.
   */
  readonly slots?: number;
  /**
   * Memory budget in bytes: tasks start only while the memory they request (`resources.memory`)
   * adds up to at most this. Default: `os.totalmem()`.
   */
  readonly memoryBytes?: number;
  /**
   * Run each launcher's tasks in a memory cgroup when the kernel allows (peak memory,
   * OOM kills, the memory request enforced as a limit). Default true; without a usable
   * cgroup the executor runs the same, without those three.
   */
  readonly cgroups?: boolean;
  /** SIGTERM → SIGKILL delay on cancel. Default 10,000 ms. */
  readonly killGraceMs?: number;
  /** Log size cap per attempt. Default 64 MiB. */
  readonly logCapBytes?: number;
  /** Executor name reported to the scheduler. Default `local`. */
  readonly name?: string;
  /** Environment the tasks start from (task env is added). Default `process.env`. */
  readonly baseEnv?: NodeJS.ProcessEnv;
  /**
   * The program that starts tasks (see launcher.ts): `python3` (posix_spawn: about a
   * third less CPU a task than bash), `bash` (fork), or `auto`. Default: `BATON_LAUNCHER`,
   * else `auto`, which takes python3 and falls back to bash when no python3 ≥ 3.8 with
   * its json module runs from PATH.
   */
  readonly launcher?: string;
}

type AttemptState = 'queued' | 'sent' | 'running' | 'watched';

interface Attempt {
  readonly task: ResolvedTask;
  readonly token: string;
  state: AttemptState;
  launcher: Launcher | null;
  /** The journal that records it ('' while unknown); polled once the attempt is watched. */
  journalPath: string;
  taskPid: number;
  launcherPid: number;
  handle: Handle | null;
  cancelReason: 'timeout' | 'cancelled' | null;
  killTimer: NodeJS.Timeout | null;
  logCut: boolean;
  /** When a watched attempt was first seen with neither its process nor an end line. */
  missingSince: number | null;
  /** Its launcher died while running it: the journal goes once the end is reported. */
  retireJournal: boolean;
  /** What it holds of the budget while it holds a slot (see `#live`). */
  readonly reservation: Reservation;
  /** Whether its launcher's cgroup could be limited to its memory request. */
  limited: boolean;
}

// Watched attempts (adopted, or orphaned by a dead launcher) are polled: no parent of ours
// reports them. 200 ms keeps the added latency small at ~5 reads a second per attempt.
const pollMs = 200;
// Log sizes are checked every other poll (500 ms asked; 400 ms is what the poll gives).
const logCheckEvery = 2;
// A task whose process is gone but whose launcher has not yet journaled the end is given
// this long before it counts as lost (the F line follows `wait` by microseconds), and so
// is a launcher that died with a record: its task's process journals S just before exec.
const endLineGraceMs = 1000;
// Adoption waits this long for a live launcher to journal the end of a task already gone.
const adoptGraceMs = 500;
// How long `close` waits for idle launchers to exit so that their cgroups can be removed.
const cgroupExitWaitMs = 300;

/**
 * Creates the local executor: `slots` tasks at once as process groups of their own,
 * stdout+stderr appended to the attempt's log (capped), launches beyond `slots` queued in
 * order. Tasks keep running when this process dies and are adopted by the next one.
 */
export function createLocalExecutor(options: LocalExecutorOptions): Executor {
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
  /** What attempts holding a slot hold: the executor starts only what fits beside them. */
  readonly #budget: ResourceBudget;
  /** What every attempt not yet ended holds or will: `fits` answers from it. */
  readonly #committed: ResourceBudget;
  readonly #cgroups: TaskCgroups | null;
  readonly #killGraceMs: number;
  readonly #logCapBytes: number;
  readonly #env: NodeJS.ProcessEnv;
  readonly #bashEnv: string | undefined;
  /** python3 until it proves missing or unusable and bash may stand in (`#fallback`). */
  #launcherKind: LauncherKind;
  readonly #fallback: boolean;
  readonly #journalDir: string;
  /** Journals of launchers of other processes (and of ours that died busy). */
  readonly #journals: JournalIndex;
  /** Our launchers' journals: adoption scans skip them (their attempts are in #attempts). */
  readonly #ownJournals = new Set<string>();
  /** Our journals to delete on close: every attempt in them ended and was reported. */
  readonly #retired: string[] = [];
  /** Unique part of tokens and journal names: random per executor, then a counter. */
  readonly #uniquePrefix = randomBytes(4).toString('hex');
  #uniqueSeq = 0;
  readonly #events = new EventQueue<ExecutorEvent>();
  readonly #attempts = new Map<number, Attempt>();
  /** Attempts this executor saw end (for one `baton run`): launched again, they are reported again. */
  readonly #ended = new EndedAttempts();
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
    const memoryBytes = options.memoryBytes ?? totalmem();
    this.#budget = new ResourceBudget(this.#slots, memoryBytes);
    this.#committed = new ResourceBudget(this.#slots, memoryBytes);
    this.#cgroups = options.cgroups === false ? null : TaskCgroups.open();
    this.#killGraceMs = options.killGraceMs ?? 10_000;
    this.#logCapBytes = options.logCapBytes ?? defaultLogCapBytes;
    const env = { ...(options.baseEnv ?? process.env) };
    // bash would source it at start; tasks get it back through their snippet.
    this.#bashEnv = env.BASH_ENV;
    delete env.BASH_ENV;
    this.#env = env;
    const launcher =
      options.launcher !== undefined
        ? chooseLauncher(options.launcher, "the local executor's launcher option")
        : chooseLauncher(process.env.BATON_LAUNCHER, 'BATON_LAUNCHER');
    this.#launcherKind = launcher.kind;
    this.#fallback = launcher.fallback;
    this.#journalDir = options.journalDir;
    mkdirSync(this.#journalDir, { recursive: true });
    this.#journals = new JournalIndex(this.#journalDir);
    // Once, so that launching an attempt some earlier process started reports it instead
    // of running it again, with no disk access per launch.
    this.#journals.scan();
  }

  async launch(task: ResolvedTask): Promise<void> {
    if (this.#closed) throw new Error('the executor is closed');
    const { taskRunId } = task;
    if (this.#attempts.has(taskRunId)) return;
    if (this.#ended.replay(taskRunId, this.#events)) return;
    const key = attemptKey(task);
    const known = this.#journals.byKey(key);
    const attempt = newAttempt(task, known?.token ?? `${key}.${this.#unique()}`);
    this.#track(attempt);
    // Intent before action: a journal line means a process (maybe an earlier one) already
    // launched this attempt. Report that attempt instead of running it twice.
    if (known) {
      this.#watch(attempt, known);
      if (attempt.taskPid) this.#reportStarted(attempt);
      this.#poll(attempt, Date.now());
      return;
    }
    const fit = this.#budget.fits(attempt.reservation);
    if (fit.fits === 'never') {
      this.#finish(attempt, { reason: 'unschedulable', exitCode: null, message: fit.message });
      return;
    }
    this.#queue.push(taskRunId);
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
    // One read of the journals for the whole batch (only what was appended since the last).
    this.#journals.scan(this.#ownJournals);
    return Promise.all(requests.map((request) => this.#adoptOne(request)));
  }

  events(): AsyncIterable<ExecutorEvent> {
    return this.#events;
  }

  fits(resources: ResourceRequest): Fit {
    return this.#committed.fits(reservationOf(resources));
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
    // An idle launcher gets EOF and exits without another line: its journal is complete and
    // every attempt in it was reported. A busy one's journal stays for whoever adopts.
    const spent = [...this.#retired];
    for (const launcher of this.#launchers) {
      if (launcher.busyWith === null && launcher.journalPath) spent.push(launcher.journalPath);
      launcher.cgroup?.close();
      launcher.detach();
    }
    spent.push(...this.#journals.takeSpent((pid) => !processExists(pid)));
    for (const path of spent) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
    }
    this.#launchers.clear();
    this.#idle.length = 0;
    for (const attempt of this.#attempts.values())
      if (attempt.killTimer) clearTimeout(attempt.killTimer);
    this.#attempts.clear();
    this.#ended.clear();
    this.#live.clear();
    this.#stopTimer();
    this.#events.close();
    await this.#cleanUpCgroups();
  }

  // ---- launcher reports ----

  started(taskRunId: number, launcherPid: number, taskPid: number): void {
    const attempt = this.#attempts.get(taskRunId);
    if (attempt?.state !== 'sent') return;
    attempt.state = 'running';
    attempt.taskPid = taskPid;
    attempt.launcherPid = launcherPid;
    this.#reportStarted(attempt);
    if (attempt.cancelReason) this.#terminate(attempt);
  }

  finished(taskRunId: number, status: number, cpuMs: number | undefined): void {
    const attempt = this.#attempts.get(taskRunId);
    // A finished task leaves nothing behind: its background children die with it, before
    // anyone hears it is over. (The group's leader was just reaped by the launcher; its
    // pid cannot have been reused in the microseconds since.)
    if (attempt?.taskPid) killGroup(attempt.taskPid);
    if (attempt) {
      const usage = this.#usage(attempt, cpuMs);
      const oom = status !== 0 && attempt.launcher?.cgroup?.oomKilledSinceLast() === true;
      this.#release(attempt.launcher);
      this.#finishWithEnd(attempt, status, usage, oom);
    }
    this.#pump();
  }

  launchFailed(taskRunId: number, what: 'cd' | 'log'): void {
    const attempt = this.#attempts.get(taskRunId);
    this.#release(attempt?.launcher ?? null);
    if (attempt) this.#finishWithEnd(attempt, what);
    this.#pump();
  }

  exited(launcher: Launcher): void {
    this.#launchers.delete(launcher);
    const at = this.#idle.indexOf(launcher);
    if (at !== -1) this.#idle.splice(at, 1);
    const attempt = launcher.busyWith === null ? undefined : this.#attempts.get(launcher.busyWith);
    if (launcher.unusable && launcher.kind === 'python3' && this.#fallback) {
      // No python3 that can run launcher.py: bash starts this attempt and every later one.
      this.#launcherKind = 'bash';
      if (attempt && attempt.launcher === launcher) this.#requeue(attempt);
    } else if (attempt && attempt.launcher === launcher) {
      if (attempt.state === 'sent' && !journalExists(launcher.journalPath)) {
        this.#finish(attempt, {
          reason: 'launch_error',
          exitCode: null,
          message: !launcher.unusable
            ? `the launcher cannot write its journal in ${this.#journalDir}`
            : launcher.kind === 'python3'
              ? 'python3 is not on PATH or cannot run the launcher (it needs Python 3.8 or newer with its json module); install it, or set BATON_LAUNCHER=bash'
              : `cannot start ${launcher.kind} for the launcher (is ${launcher.kind} on PATH?)`,
        });
      } else {
        // The task may outlive its launcher; follow it through the journal, the way
        // adoption does.
        attempt.state = 'watched';
        attempt.launcher = null;
        attempt.retireJournal = true;
        this.#ensureTimer();
      }
    } else if (launcher.journalPath) {
      this.#retired.push(launcher.journalPath);
    }
    this.#pump();
  }

  // ---- internals ----

  #unique(): string {
    return this.#uniquePrefix + (this.#uniqueSeq++).toString(36);
  }

  #pump(): void {
    while (!this.#closed && this.#queueHead < this.#queue.length) {
      const attempt = this.#attempts.get(this.#queue[this.#queueHead] as number);
      // In order: the first attempt that does not fit waits, and so does everything behind
      // it, so a large request is never starved by a stream of small ones.
      if (attempt?.state === 'queued' && this.#budget.fits(attempt.reservation).fits !== 'now')
        break;
      this.#queueHead++;
      if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#queueHead);
        this.#queueHead = 0;
      }
      if (attempt?.state !== 'queued') continue;
      const taskRunId = attempt.task.taskRunId;
      let record: string;
      try {
        record = launchRecord(attempt.task, attempt.token, this.#launcherKind, this.#bashEnv);
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
      attempt.journalPath = launcher.journalPath;
      attempt.state = 'sent';
      if (launcher.cgroup)
        attempt.limited = launcher.cgroup.prepare(attempt.task.resources.memoryBytes);
      this.#hold(attempt);
      this.#ensureTimer();
      launcher.send(record);
    }
  }

  #spawnLauncher(): Launcher {
    const id = this.#unique();
    const launcher = new Launcher(this.#launcherKind, this.#env, this.#journalDir, id, this);
    // Before any record is sent: the launcher's tasks are born in its cgroup.
    if (this.#cgroups && launcher.pid)
      launcher.cgroup = this.#cgroups.forLauncher(id, launcher.pid);
    this.#launchers.add(launcher);
    if (launcher.journalPath) this.#ownJournals.add(launcher.journalPath);
    return launcher;
  }

  /** Puts an attempt its launcher never started back at the head of the queue. */
  #requeue(attempt: Attempt): void {
    attempt.state = 'queued';
    attempt.launcher = null;
    attempt.journalPath = '';
    if (this.#live.delete(attempt)) this.#budget.give(attempt.reservation);
    this.#queue.splice(this.#queueHead, 0, attempt.task.taskRunId);
  }

  #release(launcher: Launcher | null): void {
    if (!launcher) return;
    launcher.busyWith = null;
    if (launcher.alive && !this.#closed) this.#idle.push(launcher);
  }

  #reportStarted(attempt: Attempt): void {
    attempt.handle = {
      pid: attempt.taskPid,
      launcherPid: attempt.launcherPid,
      token: attempt.token,
    };
    this.#events.push({
      type: 'started',
      taskRunId: attempt.task.taskRunId,
      handle: attempt.handle,
      at: Date.now(),
    });
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

  #finishWithEnd(attempt: Attempt, end: JournalEnd, usage?: Usage, oom = false): void {
    const { task } = attempt;
    if (typeof end !== 'number') {
      const message =
        end === 'cd'
          ? `working directory ${task.workdir} does not exist or is not accessible`
          : `cannot open the log file ${task.logPath} for appending`;
      this.#finish(attempt, { reason: 'launch_error', exitCode: null, message });
      return;
    }
    const { exitCode, signal } = decodeStatus(end);
    const reason: FinishReason =
      attempt.cancelReason ?? (oom ? 'oom_killed' : signal ? 'signal' : 'exit_code');
    let message: string | undefined;
    if (oom) message = oomMessage(attempt, signal, exitCode, usage);
    else if (attempt.cancelReason)
      message = `${describe(attempt.cancelReason)}${signal ? ` (${signal})` : ''}`;
    else if (task.command.kind === 'argv' && exitCode === 127)
      message = `command not found: ${task.command.argv[0]}`;
    else if (task.command.kind === 'argv' && exitCode === 126)
      message = `command not executable: ${task.command.argv[0]}`;
    const result: FinishResult = { reason, exitCode };
    if (signal) result.signal = signal;
    if (message) result.message = message;
    if (usage) result.usage = usage;
    this.#finish(attempt, result);
  }

  #finish(attempt: Attempt, result: FinishResult): void {
    const { taskRunId } = attempt.task;
    if (this.#attempts.get(taskRunId) !== attempt) return;
    this.#attempts.delete(taskRunId);
    this.#committed.give(attempt.reservation);
    if (this.#live.delete(attempt)) this.#budget.give(attempt.reservation);
    this.#ended.record(taskRunId, attempt.handle, result);
    if (attempt.killTimer) clearTimeout(attempt.killTimer);
    if (attempt.state === 'running' || attempt.state === 'watched') {
      // The last check: a task may write past the cap between two ticks.
      attempt.logCut = enforceLogCap(attempt.task.logPath, this.#logCapBytes, attempt.logCut);
    }
    if (attempt.state === 'watched') {
      const entry = this.#journals.byToken(attempt.token);
      if (entry) entry.delivered = true;
      if (attempt.retireJournal) this.#retired.push(attempt.journalPath);
    }
    this.#events.push({ type: 'finished', taskRunId, ...result, at: Date.now() });
  }

  /** Turns `attempt` into one followed through the journal `entry` is in. */
  #watch(attempt: Attempt, entry: JournalEntry): void {
    attempt.state = 'watched';
    attempt.journalPath = entry.path;
    attempt.taskPid = entry.taskPid;
    attempt.launcherPid = entry.launcherPid;
    this.#hold(attempt);
    this.#ensureTimer();
  }

  /** Counts a new attempt against `fits` until it ends. */
  #track(attempt: Attempt): void {
    this.#attempts.set(attempt.task.taskRunId, attempt);
    this.#committed.take(attempt.reservation);
  }

  /** The attempt takes a slot and its share of the budget (once). */
  #hold(attempt: Attempt): void {
    if (this.#live.has(attempt)) return;
    this.#live.add(attempt);
    this.#budget.take(attempt.reservation);
  }

  /** What the kernel accounted for the attempt that just ended in its launcher. */
  #usage(attempt: Attempt, cpuMs: number | undefined): Usage | undefined {
    const peakMemoryBytes = attempt.launcher?.cgroup?.peak();
    if (cpuMs === undefined && peakMemoryBytes === undefined) return undefined;
    return {
      ...(peakMemoryBytes !== undefined ? { peakMemoryBytes } : {}),
      ...(cpuMs !== undefined ? { cpuMs } : {}),
    };
  }

  /** Removes the cgroups of launchers that have exited (busy ones stay for their task). */
  async #cleanUpCgroups(): Promise<void> {
    if (!this.#cgroups) return;
    // Idle launchers exit on EOF within milliseconds; their cgroups can go once they have.
    // A busy one's stays until its task ends; the next executor here removes it.
    for (let waitedMs = 0; !this.#cgroups.cleanUp() && waitedMs < cgroupExitWaitMs; waitedMs += 20)
      await new Promise((resolve) => setTimeout(resolve, 20));
  }

  async #adoptOne(request: AdoptRequest): Promise<Adopted> {
    const { taskRunId, task, handle } = request;
    if (this.#attempts.has(taskRunId)) return { taskRunId, status: 'running' };
    const ended = this.#ended.result(taskRunId);
    if (ended)
      return ended.reason === 'launch_error' || ended.reason === 'lost'
        ? { taskRunId, status: 'lost', message: ended.message ?? ended.reason }
        : {
            taskRunId,
            status: 'finished',
            exitCode: ended.exitCode,
            ...(ended.signal ? { signal: ended.signal } : {}),
          };
    const token = typeof handle?.token === 'string' ? handle.token : undefined;
    const find = () =>
      (token === undefined ? undefined : this.#journals.byToken(token)) ??
      this.#journals.byKey(attemptKey(task));
    let entry = find();
    // The first line of an attempt (launcher.py's P, or launcher.sh's S from the task's
    // own process) comes as it starts, and a launcher that took the record before its
    // scheduler died may start it a moment later: on a busy machine the line can trail
    // the launcher's report (or the death) by a while. Look again for a short grace
    // before concluding the attempt never started or was lost.
    for (let waitedMs = 0; !entry && waitedMs < adoptGraceMs; waitedMs += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      this.#journals.scan(this.#ownJournals);
      entry = find();
    }
    if (!entry) {
      // No line at all: the task never started. With a handle, though, the
      // scheduler saw it start, so its journal is gone and nobody can tell.
      if (!handle) return { taskRunId, status: 'not_started' };
      return {
        taskRunId,
        status: 'lost',
        message: `no launcher journal in ${this.#journalDir} records attempt ${token ?? taskRunId}`,
      };
    }
    for (let waitedMs = 0; ; waitedMs += 50) {
      if (entry.end !== null) {
        entry.delivered = true;
        if (typeof entry.end === 'number')
          return { taskRunId, status: 'finished', ...decodeStatus(entry.end) };
        return {
          taskRunId,
          status: 'lost',
          message: `the attempt never started: ${entry.end === 'cd' ? 'working directory missing' : 'log not writable'}`,
        };
      }
      if (isOurProcess(entry.taskPid, entry.token)) break;
      // Gone without an F line: its launcher may be writing it this very moment.
      this.#journals.refresh(entry.path);
      if (entry.end !== null) continue;
      if (!processExists(entry.launcherPid) || waitedMs >= adoptGraceMs) {
        return {
          taskRunId,
          status: 'lost',
          message: entry.taskPid
            ? `process ${entry.taskPid} is not running attempt ${entry.token} and its launcher journaled no end`
            : `the launcher died while starting attempt ${entry.token}; it may have run, so it is not started again`,
        };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const attempt = newAttempt(task, entry.token);
    this.#track(attempt);
    this.#watch(attempt, entry);
    return { taskRunId, status: 'running' };
  }

  /** One look at a watched attempt: ended, still ours, or gone long enough to be lost. */
  #poll(attempt: Attempt, now: number): void {
    if (attempt.journalPath) this.#journals.refresh(attempt.journalPath);
    const entry = this.#journals.byToken(attempt.token);
    if (entry?.end != null) {
      this.#finishWithEnd(attempt, entry.end);
      return;
    }
    if (entry && !attempt.taskPid) {
      attempt.taskPid = entry.taskPid;
      attempt.launcherPid = entry.launcherPid;
    }
    if (isOurProcess(attempt.taskPid, attempt.token)) {
      attempt.missingSince = null;
      return;
    }
    attempt.missingSince ??= now;
    if (now - attempt.missingSince >= endLineGraceMs) {
      const message = attempt.taskPid
        ? `process ${attempt.taskPid} ended and its launcher journaled no end (the launcher died)`
        : 'the launcher died while starting the task; it may have run, so it is not started again';
      this.#finish(attempt, { reason: 'lost', exitCode: null, message });
    }
  }

  #onTick(): void {
    if (this.#live.size === 0) {
      // Stopped here rather than when the last attempt ends: between two short tasks the
      // executor is often empty for a moment, and re-arming per task costs more.
      this.#stopTimer();
      return;
    }
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

function newAttempt(task: ResolvedTask, token: string): Attempt {
  return {
    task,
    token,
    state: 'queued',
    launcher: null,
    journalPath: '',
    taskPid: 0,
    launcherPid: 0,
    handle: null,
    cancelReason: null,
    killTimer: null,
    logCut: false,
    missingSince: null,
    retireJournal: false,
    reservation: reservationOf(task.resources),
    limited: false,
  };
}

function oomMessage(
  attempt: Attempt,
  signal: string | undefined,
  exitCode: number | null,
  usage: Usage | undefined,
): string {
  const limit = attempt.task.resources.memoryBytes;
  const how = signal ? `killed (${signal})` : `ended with exit code ${exitCode}`;
  const peak =
    usage?.peakMemoryBytes === undefined ? '' : `, peak ${formatBytes(usage.peakMemoryBytes)}`;
  return limit !== undefined && attempt.limited
    ? `${how} by the kernel's OOM killer: the task's memory limit is its request, ${formatBytes(limit)}${peak}`
    : `${how} by the kernel's OOM killer: the machine ran out of memory${peak}`;
}

function describe(reason: 'timeout' | 'cancelled'): string {
  return reason === 'timeout' ? 'timed out' : 'cancelled';
}

function journalExists(path: string): boolean {
  return path !== '' && statSync(path, { throwIfNoEntry: false }) !== undefined;
}

/**
 * `process.kill`'s own binding: it returns the error number instead of throwing. An empty
 * group is the usual case after a task ends, and the exception `process.kill` builds for
 * it (a stack trace and a formatted message) cost ~1 ms of the scheduler's time per task
 * on 10,000 `true` tasks (1.2% of the samples, 2026-11-26); the kill itself is one syscall.
 */
const rawKill = (process as unknown as { _kill?: (pid: number, signal: number) => number })._kill;

/** SIGKILL to a process group; an empty group (the usual case) is not an error. */
function killGroup(pgid: number): void {
  if (typeof rawKill === 'function') {
    rawKill.call(process, -pgid, constants.signals.SIGKILL);
    return;
  }
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ESRCH: nothing was left.
  }
}
