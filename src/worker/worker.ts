/**
 * `baton worker`: a process on any machine that runs attempts for the worker executor.
 * It meets the schedulers only in PostgreSQL: it claims queued dispatches of its queues
 * that fit its free slots and memory (woken by NOTIFY; a slow poll is the safety net),
 * runs each through the local executor (the same task contract, process groups, timeouts
 * and launchers as `baton run`), ships the log to the database while the task runs, and
 * records the result on the dispatch by compare-and-set under its own id. It heartbeats;
 * one that falls silent is declared lost by the schedulers, and its late results are
 * refused. It needs no inbound port and no flow files.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  createLocalExecutor,
  type Executor,
  type ExecutorEvent,
  type ResolvedTask,
  withTimeouts,
} from '../executors/index.ts';
import {
  type Dispatch,
  type DispatchResult,
  type LogRef,
  type SettledDispatches,
  type Store,
  type Subscription,
  WORK_CHANNEL,
} from '../store/index.ts';
import { Watchdog } from './watchdog.ts';

export type WorkerLog = (
  level: 'info' | 'warn' | 'error',
  msg: string,
  fields?: Readonly<Record<string, unknown>>,
) => void;

/** Options of `Worker`; parsed once by the CLI. */
export interface WorkerOptions {
  readonly store: Store;
  readonly name: string;
  /** Queues served. */
  readonly queues: readonly string[];
  /** Slots: the sum of `resources.cpu` (default 1 each) of what runs at once. */
  readonly slots: number;
  /** Memory budget: the sum of `resources.memory` of what runs at once. */
  readonly memoryBytes: number;
  /** Where attempts' local files and launcher journals live on this machine. */
  readonly stateDir: string;
  /** Working directory for a task whose own does not exist on this machine. */
  readonly fallbackWorkdir: string;
  /** Default 5 s. Keep it well under the schedulers' lost-worker timeout. */
  readonly heartbeatMs?: number;
  /** How long a stop waits for running attempts. Default 60 s. */
  readonly graceMs?: number;
  /** Log kept per attempt in the database (the tail). Default 64 MiB. */
  readonly logCapBytes?: number;
  /** Claims without a notification this often. Default 5 s. */
  readonly pollMs?: number;
  readonly log: WorkerLog;
}

interface Running {
  readonly dispatch: Dispatch;
  readonly task: ResolvedTask;
  readonly ref: LogRef;
  /** Bytes of the log already in the database. */
  shipped: number;
  /** Bytes of the local file already read (the file is emptied as it is shipped). */
  fileOffset: number;
  /** The log shipping in progress (one at a time per attempt). */
  shipping: Promise<void>;
  pid: number;
  /** Stopped because the worker stops: reported as lost, for a retry elsewhere. */
  abandoned: boolean;
}

// How often the logs of running attempts are shipped: a live tail within ~¼ s.
const SHIP_MS = 250;
// The local file is emptied once this much of it is shipped (keeps a flood off the disk).
const ROTATE_BYTES = 1024 * 1024;
// At most this much of a log is read and shipped per attempt per tick.
const SHIP_MAX_BYTES = 4 * 1024 * 1024;
// As the scheduler's output reader: one byte over its limit makes it say the file is too big.
const OUTPUT_LIMIT_BYTES = 1024 * 1024;

export class Worker {
  readonly id: string;
  readonly #o: WorkerOptions;
  readonly #local: Executor;
  readonly #watchdog = new Watchdog();
  readonly #running = new Map<number, Running>();
  readonly #attemptsDir: string;
  #subscription: Subscription | null = null;
  #timers: NodeJS.Timeout[] = [];
  /** Results of finished attempts not yet recorded (sent with the next claim). */
  #results: { readonly taskRunId: number; readonly result: DispatchResult }[] = [];
  /** The round trip in progress: results out, claims in (one at a time). */
  #syncing: Promise<void> | null = null;
  #syncAgain = false;
  /** Round trips begun: a claim may have committed unseen while it changed (see #adopt). */
  #syncs = 0;
  #stopping = false;
  #lost = false;
  #drained: (() => void) | null = null;
  #declareLost: (lost: boolean) => void = () => {};
  /** Resolves true if the schedulers declared this worker lost (it then stops its tasks). */
  readonly lost = new Promise<boolean>((resolve) => {
    this.#declareLost = resolve;
  });
  #pump: Promise<void> | null = null;

  constructor(options: WorkerOptions) {
    this.#o = options;
    this.id = `${options.name}.${randomBytes(4).toString('hex')}`;
    this.#attemptsDir = join(options.stateDir, 'attempts');
    mkdirSync(this.#attemptsDir, { recursive: true });
    this.#local = withTimeouts(
      createLocalExecutor({
        journalDir: join(options.stateDir, 'launchers'),
        // Fit is decided here (slots and memory); the local executor never queues.
        slots: 4096,
        name: 'worker',
      }),
    );
  }

  /** Registers, starts listening and claiming. */
  async start(): Promise<void> {
    const { store } = this.#o;
    await store.registerWorker({
      id: this.id,
      name: this.#o.name,
      host: hostname(),
      pid: process.pid,
      queues: this.#o.queues,
      slots: this.#o.slots,
      memoryBytes: this.#o.memoryBytes,
    });
    this.#pump = this.#pumpEvents();
    this.#subscription = await store.listen(WORK_CHANNEL, (payload) => this.#notified(payload));
    const every = (ms: number, work: () => void) => this.#timers.push(setInterval(work, ms));
    every(this.#o.heartbeatMs ?? 5000, () => void this.#heartbeat());
    every(this.#o.pollMs ?? 5000, () => this.#sync());
    every(SHIP_MS, () => {
      for (const r of this.#running.values()) this.#ship(r);
    });
    this.#o.log('info', 'worker started', {
      worker: this.id,
      queues: this.#o.queues,
      slots: this.#o.slots,
      memoryBytes: this.#o.memoryBytes,
    });
    this.#sync();
  }

  /** Attempts running now. */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Stops claiming, lets running attempts finish within the grace period (then stops them
   * and reports them lost, so they run again elsewhere), deregisters and returns.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    await this.#subscription?.close();
    // A claim in flight may still hand over attempts: they are run and drained too.
    await this.#syncing;
    const graceMs = this.#o.graceMs ?? 60_000;
    if (this.#running.size > 0 || this.#results.length > 0) {
      this.#o.log('info', 'stopping: waiting for running attempts', {
        running: this.#running.size,
        graceMs,
      });
      const drained = new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
      const timer = setTimeout(() => {
        for (const r of this.#running.values()) {
          r.abandoned = true;
          void this.#local.cancel(r.task.taskRunId, 'cancelled');
        }
        // Results the database would not take by now are left to the lost-worker sweep.
        if (this.#running.size === 0) this.#drained?.();
      }, graceMs);
      await drained;
      clearTimeout(timer);
    }
    for (const t of this.#timers) clearInterval(t);
    await this.#o.store.stopWorker(this.id).catch(() => {});
    await this.#local.close();
    await this.#pump;
    this.#watchdog.close();
    this.#o.log('info', 'worker stopped', { worker: this.id });
  }

  #notified(payload: string): void {
    if (payload === '' || payload === `cancel:${this.id}`) void this.#applyCancels();
    if (payload === '' || this.#o.queues.some((q) => payload === `queue:${q}`)) this.#sync();
  }

  #free(): { slots: number; memory: number } {
    let slots = this.#o.slots;
    let memory = this.#o.memoryBytes;
    for (const r of this.#running.values()) {
      slots -= r.dispatch.cpu;
      memory -= r.dispatch.memoryBytes;
    }
    return { slots, memory };
  }

  /**
   * Records finished attempts' results and claims what fits, in one transaction, again and
   * again while something was taken; overlapping calls coalesce. Results are recorded even
   * while stopping; nothing is claimed then.
   */
  #sync(): void {
    if (this.#lost) {
      // Its results would be refused: its attempts are already retried elsewhere.
      this.#results.length = 0;
      if (this.#running.size === 0) this.#drained?.();
      return;
    }
    if (this.#syncing) {
      this.#syncAgain = true;
      return;
    }
    // `.finally` runs after the assignment, even when the loop ends without waiting.
    this.#syncing = this.#syncLoop().finally(() => {
      this.#syncing = null;
    });
  }

  async #syncLoop(): Promise<void> {
    for (;;) {
      this.#syncAgain = false;
      const results = this.#results.splice(0);
      const free = this.#free();
      const claim =
        free.slots > 0 && !this.#stopping && !this.#lost
          ? {
              queues: this.#o.queues,
              freeSlots: free.slots,
              freeMemoryBytes: free.memory,
              limit: Math.max(1, Math.min(64, Math.ceil(free.slots))),
            }
          : null;
      if (results.length === 0 && claim === null) break;
      this.#syncs++;
      let settled: SettledDispatches;
      try {
        settled = await this.#o.store.settleDispatches({ workerId: this.id, results, claim });
      } catch (error) {
        // Kept for the next notification, poll or finish: a result is never dropped.
        this.#results.unshift(...results);
        this.#o.log(
          'warn',
          'cannot reach the database; retrying on the next notification or poll',
          {
            error: (error as Error).message,
          },
        );
        break;
      }
      const recorded = new Set(settled.recorded);
      for (const { taskRunId } of results) {
        if (!recorded.has(taskRunId))
          this.#o.log('warn', 'result refused: the attempt is no longer this worker’s', {
            taskRunId,
          });
      }
      for (const d of settled.claimed) await this.#launch(d);
      if (this.#running.size === 0 && this.#results.length === 0) this.#drained?.();
      if (settled.claimed.length === 0 && !this.#syncAgain && this.#results.length === 0) break;
    }
  }

  async #launch(d: Dispatch): Promise<void> {
    const original = d.task as unknown as ResolvedTask;
    const base = join(this.#attemptsDir, String(d.taskRunId));
    const logPath = `${base}.log`;
    const outputPath = `${base}.out`;
    rmSync(logPath, { force: true });
    rmSync(outputPath, { force: true });
    // Flows are not on this machine: the task's directory may not be either.
    const workdir = isDirectory(original.workdir) ? original.workdir : this.#o.fallbackWorkdir;
    const task: ResolvedTask = {
      ...original,
      workdir,
      logPath,
      outputPath,
      env: { ...original.env, BATON_OUTPUT: outputPath },
    };
    const running: Running = {
      dispatch: d,
      task,
      ref: {
        runId: original.runId,
        taskId: original.taskId,
        mapIndex: original.mapIndex,
        attempt: original.attempt,
      },
      shipped: 0,
      fileOffset: 0,
      shipping: Promise.resolve(),
      pid: 0,
      abandoned: false,
    };
    this.#running.set(d.taskRunId, running);
    await this.#local.launch(task);
  }

  async #pumpEvents(): Promise<void> {
    for await (const event of this.#local.events()) {
      const r = this.#running.get(event.taskRunId);
      if (!r) continue;
      if (event.type === 'started') {
        r.pid = Number(event.handle.pid) || 0;
        this.#watchdog.follow(r.pid, String(event.handle.token ?? ''));
        continue;
      }
      if (event.type === 'finished') void this.#finished(r, event);
    }
  }

  async #finished(r: Running, event: Extract<ExecutorEvent, { type: 'finished' }>): Promise<void> {
    this.#watchdog.forget(r.pid);
    this.#ship(r);
    await r.shipping;
    let result: DispatchResult = {
      reason: event.reason,
      exitCode: event.exitCode,
      ...(event.signal ? { signal: event.signal } : {}),
      ...(event.message ? { message: event.message } : {}),
      output: readOutput(r.task.outputPath),
    };
    if (r.abandoned) {
      result = {
        reason: 'lost',
        exitCode: null,
        message: `worker ${this.#o.name} stopped before the attempt ended (grace period over)`,
      };
    }
    const { taskRunId } = r.task;
    rmSync(r.task.logPath, { force: true });
    rmSync(r.task.outputPath, { force: true });
    // Its slots are free from now on; the result goes with the next claim, in one commit.
    this.#running.delete(taskRunId);
    this.#results.push({ taskRunId, result });
    this.#sync();
  }

  /** Ships what the attempt's log gained since the last time (queued behind any shipping). */
  #ship(r: Running): void {
    r.shipping = r.shipping
      .then(async () => {
        const size = statSync(r.task.logPath, { throwIfNoEntry: false })?.size ?? 0;
        if (size <= r.fileOffset) return;
        const length = Math.min(size - r.fileOffset, SHIP_MAX_BYTES);
        const buffer = Buffer.alloc(length);
        const file = await open(r.task.logPath, 'r');
        let read = 0;
        try {
          while (read < length) {
            const n = (await file.read(buffer, read, length - read, r.fileOffset + read)).bytesRead;
            if (n === 0) break;
            read += n;
          }
        } finally {
          await file.close();
        }
        await this.#o.store.appendLog(
          r.ref,
          r.shipped,
          buffer.subarray(0, read),
          this.#o.logCapBytes ?? 64 * 1024 * 1024,
        );
        r.shipped += read;
        r.fileOffset += read;
        // Empty the file once much of it is shipped, if nothing was appended meanwhile.
        if (
          r.fileOffset >= ROTATE_BYTES &&
          statSync(r.task.logPath, { throwIfNoEntry: false })?.size === r.fileOffset
        ) {
          truncateSync(r.task.logPath, 0);
          r.fileOffset = 0;
        }
      })
      .catch((error: unknown) => {
        this.#o.log('warn', 'cannot ship a log; retrying', {
          taskRunId: r.task.taskRunId,
          error: (error as Error).message,
        });
      });
  }

  async #heartbeat(): Promise<void> {
    try {
      const alive = await this.#o.store.workerHeartbeat(this.id, this.#running.size);
      if (!alive && !this.#stopping) {
        // Declared lost while alive (a pause, a network cut, an overloaded machine): its
        // attempts were retried elsewhere and their results will be refused. Stop them and
        // go; a supervisor starts a fresh worker.
        this.#lost = true;
        this.#o.log('error', 'declared lost by the schedulers (heartbeat too late): stopping', {
          worker: this.id,
        });
        for (const r of this.#running.values()) {
          r.abandoned = true;
          void this.#local.cancel(r.task.taskRunId, 'cancelled');
        }
        this.#declareLost(true);
        return;
      }
      await this.#applyCancels();
    } catch (error) {
      this.#o.log('warn', 'heartbeat failed', { error: (error as Error).message });
    }
  }

  /** Stops the attempts a scheduler asked to stop (cancel or timeout). */
  async #applyCancels(): Promise<void> {
    const syncs = this.#syncs;
    const quiet = this.#syncing === null;
    const mine = await this.#o.store.workerDispatches(this.id);
    for (const d of mine) {
      if (d.cancelReason && this.#running.has(d.taskRunId))
        await this.#local.cancel(d.taskRunId, d.cancelReason);
    }
    // A claim whose commit went unconfirmed (the connection died during COMMIT) came back
    // empty, yet may have taken attempts: they are this worker's, so it runs them now.
    // Only when no round trip ran meanwhile, whose claims would show up here too.
    if (!quiet || this.#syncing !== null || syncs !== this.#syncs || this.#stopping) return;
    const pending = new Set(this.#results.map((r) => r.taskRunId));
    for (const d of mine) {
      if (this.#running.has(d.taskRunId) || pending.has(d.taskRunId)) continue;
      this.#o.log('warn', 'running an attempt claimed by an unconfirmed commit', {
        taskRunId: d.taskRunId,
      });
      await this.#launch(d);
    }
  }
}

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/** The task's `$BATON_OUTPUT` text (at most one byte over the scheduler's limit), or null. */
function readOutput(path: string): string | null {
  try {
    const buffer = readFileSync(path);
    if (buffer.length === 0) return null;
    return buffer.subarray(0, OUTPUT_LIMIT_BYTES + 1).toString('utf8');
  } catch {
    return null;
  }
}
