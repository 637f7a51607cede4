/**
 * The worker executor: attempts go to `baton worker` processes on any machine through the
 * database. `launch` writes a dispatch row (batched: one statement for every launch of a
 * tick); a worker wins it by compare-and-set and runs it as the local executor would; this
 * side turns dispatch changes (announced by NOTIFY, re-read by a slow poll as the safety
 * net) into `started` and `finished` events. It also notices workers that stopped
 * heartbeating and ends their attempts as `lost`, so the scheduler retries them by policy.
 */
import { writeFileSync } from 'node:fs';
import { formatBytes } from '../../spec/index.ts';
import { EventQueue } from '../event-queue.ts';
import type {
  Adopted,
  AdoptRequest,
  Capacity,
  Executor,
  ExecutorEvent,
  Fit,
  ResolvedTask,
} from '../executor.ts';
import {
  DISPATCH_CHANNEL,
  finishReason,
  type QueueDispatch,
  type QueueRequest,
  type QueueWorker,
  type WorkQueue,
} from './work-queue.ts';

/** Options of `createWorkerExecutor`. */
export interface WorkerExecutorOptions {
  readonly queue: WorkQueue;
  /** Most attempts handed to workers at once. Default: the live workers' slots, at least 16. */
  readonly slots?: number;
  /** A worker silent this long is lost, and its attempts with it. Default 30 s. */
  readonly lostAfterMs?: number;
  /** How often dispatches are re-read without a notification. Default 2 s. */
  readonly pollMs?: number;
}

interface Attempt {
  readonly task: ResolvedTask;
  started: boolean;
  /** When it was handed over (ms), and the reason last reported for its wait. */
  readonly since: number;
  waiting?: string;
}

// A dispatch queued this long gets a reason for its wait (once per change): shorter
// waits are the ordinary backlog, not worth a write each.
const EXPLAIN_AFTER_MS = 5000;

/** The queue a task is routed to when it names none. */
export const DEFAULT_QUEUE = 'default';

/** Creates the worker executor; fails at once when the database cannot carry a queue (SQLite). */
export async function createWorkerExecutor(options: WorkerExecutorOptions): Promise<Executor> {
  const executor = new WorkerExecutor(options);
  await executor.start();
  return executor;
}

class WorkerExecutor implements Executor {
  readonly name = 'worker';
  readonly #queue: WorkQueue;
  readonly #slots: number | undefined;
  readonly #lostAfterMs: number;
  readonly #pollMs: number;
  readonly #events = new EventQueue<ExecutorEvent>();
  readonly #attempts = new Map<number, Attempt>();
  #pending: QueueRequest[] = [];
  #flushing: Promise<void> | null = null;
  #liveSlots = 0;
  #subscription: { close(): Promise<void> } | null = null;
  #timers: NodeJS.Timeout[] = [];
  #reading = false;
  #readAgain = false;
  #closed = false;

  constructor(options: WorkerExecutorOptions) {
    this.#queue = options.queue;
    this.#slots = options.slots;
    this.#lostAfterMs = options.lostAfterMs ?? 30_000;
    this.#pollMs = options.pollMs ?? 2000;
  }

  async start(): Promise<void> {
    this.#subscription = await this.#queue.listen(DISPATCH_CHANNEL, () => this.#refresh());
    await this.#sweep();
    this.#timers.push(
      setInterval(() => this.#refresh(), this.#pollMs),
      // Lost workers are noticed within a third of the timeout after it passes.
      setInterval(() => void this.#sweep(), Math.max(250, Math.floor(this.#lostAfterMs / 3))),
    );
    for (const t of this.#timers) t.unref();
  }

  async launch(task: ResolvedTask): Promise<void> {
    if (this.#closed) throw new Error('the executor is closed');
    if (this.#attempts.has(task.taskRunId)) return;
    this.#attempts.set(task.taskRunId, { task, started: false, since: Date.now() });
    this.#pending.push({
      taskRunId: task.taskRunId,
      runId: task.runId,
      queue: task.queue ?? DEFAULT_QUEUE,
      cpu: task.resources.cpu ?? 1,
      memoryBytes: task.resources.memoryBytes ?? 0,
      task: task as unknown as Record<string, unknown>,
    });
    // Every launch of this tick goes in one statement.
    this.#flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      this.#flush(),
    );
    await this.#flushing;
  }

  async cancel(taskRunId: number, reason: 'timeout' | 'cancelled'): Promise<void> {
    if (!this.#attempts.has(taskRunId)) return;
    if (this.#flushing) await this.#flushing;
    await this.#queue.cancelDispatch(taskRunId, reason);
    this.#refresh();
  }

  async adopt(requests: readonly AdoptRequest[]): Promise<Adopted[]> {
    const found = new Map(
      (await this.#queue.readDispatches(requests.map((r) => r.taskRunId))).map((d) => [
        d.taskRunId,
        d,
      ]),
    );
    const adopted: Adopted[] = requests.map(({ taskRunId, task }) => {
      const dispatch = found.get(taskRunId);
      // Never written: the process that was to dispatch it died first.
      if (!dispatch) return { taskRunId, status: 'not_started' };
      // Queued, running or done: its events (with the full result) come through events().
      this.#attempts.set(taskRunId, {
        task,
        started: dispatch.state !== 'queued',
        since: Date.now(),
      });
      return { taskRunId, status: 'running' };
    });
    this.#refresh();
    return adopted;
  }

  events(): AsyncIterable<ExecutorEvent> {
    return this.#events;
  }

  /**
   * Always fits here: each worker takes only what fits its own slots and memory, and a
   * request no live worker could ever hold waits in the queue (see docs/workers.md).
   */
  fits(): Fit {
    return { fits: 'now' };
  }

  capacity(): Capacity {
    const totalSlots = this.#slots ?? Math.max(16, this.#liveSlots);
    return { totalSlots, freeSlots: Math.max(0, totalSlots - this.#attempts.size) };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    if (this.#flushing) await this.#flushing.catch(() => {});
    await this.#subscription?.close();
    this.#attempts.clear();
    this.#events.close();
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    this.#flushing = null;
    try {
      await this.#queue.enqueueDispatches(batch);
    } catch (error) {
      for (const request of batch) {
        if (!this.#attempts.delete(request.taskRunId)) continue;
        this.#events.push({
          type: 'finished',
          taskRunId: request.taskRunId,
          exitCode: null,
          reason: 'launch_error',
          message: `cannot hand the attempt to the workers: ${(error as Error).message}`,
          at: Date.now(),
        });
      }
    }
  }

  /** Re-reads the dispatches of every attempt in flight; calls that overlap coalesce. */
  #refresh(): void {
    if (this.#closed) return;
    if (this.#reading) {
      this.#readAgain = true;
      return;
    }
    if (this.#attempts.size === 0) return;
    this.#reading = true;
    this.#queue
      .readDispatches([...this.#attempts.keys()])
      .then((dispatches) => {
        for (const d of dispatches) this.#apply(d);
      })
      // A failed read is repeated by the next notification or poll.
      .catch(() => {})
      .finally(() => {
        this.#reading = false;
        if (this.#readAgain) {
          this.#readAgain = false;
          this.#refresh();
        }
      });
  }

  #apply(d: QueueDispatch): void {
    const attempt = this.#attempts.get(d.taskRunId);
    if (!attempt || this.#closed || d.state === 'queued') return;
    if (!attempt.started && d.workerId !== null) {
      attempt.started = true;
      this.#events.push({
        type: 'started',
        taskRunId: d.taskRunId,
        handle: { worker: d.workerId },
        at: d.claimedAt ?? Date.now(),
      });
    }
    if (d.state !== 'done' || !d.result) return;
    this.#attempts.delete(d.taskRunId);
    const r = d.result;
    let reason = finishReason(r.reason);
    let message = r.message;
    // The scheduler reads outputs where the local executor leaves them.
    if (r.output) {
      try {
        writeFileSync(attempt.task.outputPath, r.output);
      } catch (error) {
        reason = 'launch_error';
        message = `cannot write the task's output to ${attempt.task.outputPath}: ${(error as Error).message}`;
      }
    }
    this.#events.push({
      type: 'finished',
      taskRunId: d.taskRunId,
      exitCode: r.exitCode,
      reason,
      ...(r.signal ? { signal: r.signal } : {}),
      ...(message ? { message } : {}),
      at: Date.now(),
    });
  }

  /**
   * Says why attempts still wait in the queue after a while: no live worker serves their
   * queue, none could ever hold their request, or all that could are busy.
   */
  #explainWaits(live: readonly QueueWorker[]): void {
    const now = Date.now();
    for (const [taskRunId, attempt] of this.#attempts) {
      if (attempt.started || now - attempt.since < EXPLAIN_AFTER_MS) continue;
      const message = whyQueued(attempt.task, live);
      if (message === attempt.waiting) continue;
      attempt.waiting = message;
      this.#events.push({ type: 'waiting', taskRunId, message, at: now });
    }
  }

  async #sweep(): Promise<void> {
    try {
      if ((await this.#queue.expireWorkers(this.#lostAfterMs)) > 0) this.#refresh();
      const live = (await this.#queue.listWorkers()).filter((w) => w.stoppedAt === null);
      this.#liveSlots = live.reduce((sum, w) => sum + w.slots, 0);
      this.#explainWaits(live);
    } catch {
      // The next sweep tries again; a database outage is the store's to report.
    }
  }
}

/** Why a dispatched attempt is not running yet, given the live workers. */
export function whyQueued(task: ResolvedTask, live: readonly QueueWorker[]): string {
  const queue = task.queue ?? DEFAULT_QUEUE;
  const cpu = task.resources.cpu ?? 1;
  const memory = task.resources.memoryBytes ?? 0;
  const head = `queued for a worker of queue "${queue}"`;
  const serving = live.filter((w) => w.queues.includes(queue));
  if (serving.length === 0)
    return `${head}: no live worker serves it (start one: baton worker --queues ${queue})`;
  const able = serving.filter((w) => w.slots >= cpu && w.memoryBytes >= memory);
  const workers = (n: number) => `${n} live worker${n === 1 ? '' : 's'}`;
  if (able.length === 0) {
    const slots = Math.max(...serving.map((w) => w.slots));
    const bytes = Math.max(...serving.map((w) => w.memoryBytes));
    return (
      `${head}: none of its ${workers(serving.length)} can hold ${cpu} slot${cpu === 1 ? '' : 's'}` +
      `${memory > 0 ? ` and ${formatBytes(memory)}` : ''} (the largest has ${slots} slots and ${formatBytes(bytes)})`
    );
  }
  return `${head}: ${workers(able.length)} can take it, all busy`;
}
